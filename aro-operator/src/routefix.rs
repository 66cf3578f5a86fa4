//! routefix: on OpenShift versions with the SDN MTU-probing bug (before 4.6.37, and 4.7 before
//! 4.7.18) a DaemonSet drops spoofed ICMP "fragmentation needed" packets; on every other version its
//! namespace and ClusterRoleBinding are removed (ARO-RP's pkg/operator/controllers).

use crds::operator::Cluster;
use kube::Client;
use kube::api::{Api, DynamicObject};
use semver::Version;
use serde_json::{Value, json};

use crate::apply::{ensure_absent, ensure_all};
use crate::genevalogging::{owner_reference, privileged_scc};
use crate::kinds::{CLUSTER_VERSION, lookup};
use crate::{Error, Result};

/// Name in conditions: `RouteFixController*`.
pub const NAME: &str = "RouteFix";
/// Flag gating the controller.
pub const FLAG_ENABLED: &str = "aro.routefix.enabled";
/// Namespace of the routefix workload.
pub const NAMESPACE: &str = "openshift-azure-routefix";
/// Service account, ClusterRoleBinding and DaemonSet name.
pub const WORKLOAD_NAME: &str = "routefix";
/// SCC name.
pub const SCC_NAME: &str = "privileged-routefix";
/// ConfigMap with the iptables script.
pub const CONFIGMAP_NAME: &str = "add-iptables";
/// ClusterRole the service account is bound to.
pub const SDN_CLUSTER_ROLE: &str = "openshift-sdn-controller";

/// Whether OpenShift `version` needs the routefix workload.
pub fn is_required(version: &Version) -> bool {
    let fixed_46 = Version::new(4, 6, 37);
    let fixed_47 = Version::new(4, 7, 18);
    let release = Version::new(version.major, version.minor, version.patch);
    release < fixed_46 || (version.major == 4 && version.minor == 7 && release < fixed_47)
}

/// The cluster's OpenShift version from a ClusterVersion (as JSON): the desired version, else the
/// most recent completed one in history.
pub fn cluster_version(cv: &Value) -> Result<Version> {
    let desired = cv["status"]["desired"]["version"].as_str();
    let history = cv["status"]["history"]
        .as_array()
        .and_then(|h| {
            h.iter()
                .find(|e| e["state"] == "Completed")
                .or_else(|| h.first())
        })
        .and_then(|e| e["version"].as_str());
    let text = desired
        .filter(|v| !v.is_empty())
        .or(history)
        .ok_or_else(|| Error::invalid("routefix", "ClusterVersion has no version"))?;
    Version::parse(text)
        .map_err(|e| Error::invalid("routefix", format!("version {text:?} does not parse: {e}")))
}

const ADD_IPTABLES_SH: &str = r#"#!/bin/sh
# Called by `oc observe` for every SDN pod: allow ICMP fragmentation-needed only from cluster nodes.
echo "I$(date "+%m%d %H:%M:%S.%N") - add iptables rule for host $1"
iptables -C CHECK_ICMP_SOURCE -p icmp -s "$1" -j ICMP_ACTION || iptables -A CHECK_ICMP_SOURCE -p icmp -s "$1" -j ICMP_ACTION
"#;

const DROP_ICMP_SH: &str = r#"set -xe
echo "I$(date "+%m%d %H:%M:%S.%N") - drop-icmp - start drop-icmp ${K8S_NODE}"
iptables -X CHECK_ICMP_SOURCE || true
iptables -N CHECK_ICMP_SOURCE || true
iptables -F CHECK_ICMP_SOURCE
iptables -D INPUT -p icmp --icmp-type fragmentation-needed -j CHECK_ICMP_SOURCE || true
iptables -I INPUT -p icmp --icmp-type fragmentation-needed -j CHECK_ICMP_SOURCE
iptables -N ICMP_ACTION || true
iptables -F ICMP_ACTION
iptables -A ICMP_ACTION -j LOG
iptables -A ICMP_ACTION -j DROP
oc observe pods -n openshift-sdn -l app=sdn -a '{ .status.hostIP }' -- /tmp/add_iptables.sh
"#;

const DETECT_SH: &str = r#"set -xe
echo "I$(date "+%m%d %H:%M:%S.%N") - detect - start ${K8S_NODE}"
while true; do
  iptables -nvL ICMP_ACTION >/dev/null 2>&1 || { echo "ICMP_ACTION chain missing"; exit 1; }
  sleep 60
done
"#;

/// The objects of the routefix workload for `cluster` (image from its ACR domain).
pub fn desired_objects(cluster: &Cluster) -> Vec<Value> {
    let owner = owner_reference(cluster);
    let image = format!("{}/aro:latest", cluster.spec.acr_domain);
    let container = |name: &str, script: &str| {
        json!({
            "name": name,
            "image": image,
            "command": ["sh", "-c", script],
            "securityContext": {"privileged": true},
            "env": [{"name": "K8S_NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "resources": {"requests": {"cpu": "10m", "memory": "50Mi"}},
            "volumeMounts": [{"name": CONFIGMAP_NAME, "mountPath": "/tmp/add_iptables.sh", "subPath": "add_iptables.sh"}],
        })
    };
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": NAMESPACE, "annotations": {"openshift.io/node-selector": ""}, "ownerReferences": [owner]}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": WORKLOAD_NAME, "namespace": NAMESPACE, "ownerReferences": [owner]}}),
        privileged_scc(SCC_NAME, NAMESPACE, WORKLOAD_NAME, &owner),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": WORKLOAD_NAME, "ownerReferences": [owner]},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": SDN_CLUSTER_ROLE},
               "subjects": [{"kind": "ServiceAccount", "name": WORKLOAD_NAME, "namespace": NAMESPACE}]}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": CONFIGMAP_NAME, "namespace": NAMESPACE, "ownerReferences": [owner]},
               "data": {"add_iptables.sh": ADD_IPTABLES_SH}}),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": WORKLOAD_NAME, "namespace": NAMESPACE, "ownerReferences": [owner]},
        "spec": {
            "selector": {"matchLabels": {"app": WORKLOAD_NAME}},
            "template": {
                "metadata": {"labels": {"app": WORKLOAD_NAME}},
                "spec": {
                    "serviceAccountName": WORKLOAD_NAME,
                    "hostNetwork": true,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"operator": "Exists"}],
                    "containers": [container("drop-icmp", DROP_ICMP_SH), container("detect", DETECT_SH)],
                    "volumes": [{"name": CONFIGMAP_NAME, "configMap": {"name": CONFIGMAP_NAME, "defaultMode": 0o555}}],
                }
            }
        }}),
    ]
}

/// What routefix did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteFixOutcome {
    Disabled,
    /// Deployed; number of objects written.
    Deployed(usize),
    /// Not needed on this version; whether anything was deleted.
    Removed(bool),
}

/// Reconcile once.
pub async fn reconcile(client: &Client, cluster: &Cluster) -> Result<RouteFixOutcome> {
    if !cluster.spec.flag_enabled(FLAG_ENABLED) {
        return Ok(RouteFixOutcome::Disabled);
    }
    let cv = Api::<DynamicObject>::all_with(client.clone(), &CLUSTER_VERSION.api_resource())
        .get("version")
        .await?;
    let version = cluster_version(&serde_json::to_value(&cv)?)?;
    if is_required(&version) {
        let written = ensure_all(client, &desired_objects(cluster)).await?;
        return Ok(RouteFixOutcome::Deployed(written));
    }
    let ns = lookup("v1", "Namespace").expect("Namespace is a known kind");
    let crb = lookup("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")
        .expect("ClusterRoleBinding is a known kind");
    let a = ensure_absent(client, &ns, None, NAMESPACE).await?;
    let b = ensure_absent(client, &crb, None, WORKLOAD_NAME).await?;
    Ok(RouteFixOutcome::Removed(a || b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn required_only_on_affected_versions() {
        for affected in [
            "4.5.40",
            "4.6.0",
            "4.6.36",
            "4.7.0",
            "4.7.17",
            "4.6.36-rc.1",
        ] {
            assert!(is_required(&v(affected)), "{affected}");
        }
        for fixed in ["4.6.37", "4.6.50", "4.7.18", "4.8.0", "4.15.35", "5.0.0"] {
            assert!(!is_required(&v(fixed)), "{fixed}");
        }
    }

    #[test]
    fn version_comes_from_desired_then_history() {
        let cv = json!({"status": {"desired": {"version": "4.7.2"}, "history": [{"state": "Completed", "version": "4.6.1"}]}});
        assert_eq!(cluster_version(&cv).unwrap(), v("4.7.2"));
        let cv = json!({"status": {"history": [{"state": "Partial", "version": "4.8.1"}, {"state": "Completed", "version": "4.7.30"}]}});
        assert_eq!(cluster_version(&cv).unwrap(), v("4.7.30"));
        let cv = json!({"status": {"history": [{"state": "Partial", "version": "4.8.1"}]}});
        assert_eq!(cluster_version(&cv).unwrap(), v("4.8.1"));
        assert!(cluster_version(&json!({"status": {}})).is_err());
        assert!(cluster_version(&json!({"status": {"desired": {"version": "four"}}})).is_err());
    }

    #[test]
    fn desired_objects_follow_the_reference_names() {
        let mut cluster = Cluster::new("cluster", Default::default());
        cluster.spec.acr_domain = "arosvc.azurecr.io".into();
        let objects = desired_objects(&cluster);
        let names: Vec<(String, String)> = objects
            .iter()
            .map(|o| {
                (
                    o["kind"].as_str().unwrap().to_string(),
                    o["metadata"]["name"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let expected = [
            ("Namespace", NAMESPACE),
            ("ServiceAccount", "routefix"),
            ("SecurityContextConstraints", "privileged-routefix"),
            ("ClusterRoleBinding", "routefix"),
            ("ConfigMap", "add-iptables"),
            ("DaemonSet", "routefix"),
        ];
        assert_eq!(
            names,
            expected
                .iter()
                .map(|(k, n)| (k.to_string(), n.to_string()))
                .collect::<Vec<_>>()
        );
        let crb = &objects[3];
        assert_eq!(crb["roleRef"]["name"], SDN_CLUSTER_ROLE);
        assert_eq!(crb["subjects"][0]["namespace"], NAMESPACE);
        let ds = &objects[5];
        let containers = ds["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        assert_eq!(containers[0]["name"], "drop-icmp");
        assert_eq!(containers[1]["name"], "detect");
        assert_eq!(containers[0]["image"], "arosvc.azurecr.io/aro:latest");
        assert_eq!(
            objects[2]["users"][0],
            "system:serviceaccount:openshift-azure-routefix:routefix"
        );
        for o in &objects {
            crate::apply::object_id(o).unwrap();
        }
    }
}
