//! genevalogging: the cluster's log shipping to Geneva (ARO-RP's pkg/operator/controllers).
//! Namespace `openshift-azure-logging` with service account `geneva`, SCC
//! `privileged-genevalogging`, the fluent-bit configuration, the Geneva client certificates and the
//! logging DaemonSet, all kept equal to the desired spec and owned by the Cluster.
//!
//! Form chosen: the mdsd form (DaemonSet `mdsd` running fluent-bit and mdsd, ConfigMap
//! `fluent-config`, Secret `certificates`). The newer OTel form (DaemonSets
//! `otel-exporter-master`/`-worker`, ConfigMap `otel-config`) needs the OTel exporter image and
//! configuration profiles (`aro.genevalogging.otel.profile`) this project does not ship; the mdsd form
//! keeps every object name, owner and repair behaviour the controller is tested for.

use crds::operator::Cluster;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::{Client, Resource};
use serde_json::{Value, json};

use crate::apply::ensure_all;
use crate::{Error, OPERATOR_NAMESPACE, Result};

/// Name in conditions: `GenevaLoggingController*`.
pub const NAME: &str = "GenevaLogging";
/// Flag gating the controller.
pub const FLAG_ENABLED: &str = "aro.genevalogging.enabled";
/// Namespace of the logging workload.
pub const NAMESPACE: &str = "openshift-azure-logging";
/// Service account of the DaemonSet.
pub const SERVICE_ACCOUNT: &str = "geneva";
/// SCC letting the DaemonSet read host logs.
pub const SCC_NAME: &str = "privileged-genevalogging";
/// The logging DaemonSet.
pub const DAEMONSET_NAME: &str = "mdsd";
/// fluent-bit configuration.
pub const CONFIGMAP_NAME: &str = "fluent-config";
/// Geneva client certificate and key.
pub const CERTIFICATES_SECRET: &str = "certificates";
/// Keys of the Geneva certificate and key, in the operator secret and in `certificates`.
pub const CERT_KEYS: [&str; 2] = ["gcscert.pem", "gcskey.pem"];
/// fluent-bit image (path and tag under the ARO registry).
pub const FLUENTBIT_IMAGE: &str = "fluentbit:1.9.10-cm20240628";
/// mdsd image (path and tag under the ARO registry).
pub const MDSD_IMAGE: &str = "genevamdsd:mariner_20240807.1";

/// The controller owner reference to the Cluster singleton set on every object it manages.
pub fn owner_reference(cluster: &Cluster) -> Value {
    json!({
        "apiVersion": Cluster::api_version(&()),
        "kind": Cluster::kind(&()),
        "name": cluster.metadata.name.clone().unwrap_or_default(),
        "uid": cluster.metadata.uid.clone().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// A privileged SCC named `name` granted to service account `namespace/sa` (ARO-RP copies
/// OpenShift's `privileged` SCC this way).
pub fn privileged_scc(name: &str, namespace: &str, sa: &str, owner: &Value) -> Value {
    json!({
        "apiVersion": "security.openshift.io/v1",
        "kind": "SecurityContextConstraints",
        "metadata": {"name": name, "ownerReferences": [owner]},
        "allowHostDirVolumePlugin": true,
        "allowHostIPC": true,
        "allowHostNetwork": true,
        "allowHostPID": true,
        "allowHostPorts": true,
        "allowPrivilegeEscalation": true,
        "allowPrivilegedContainer": true,
        "allowedCapabilities": ["*"],
        "allowedUnsafeSysctls": ["*"],
        "defaultAddCapabilities": [],
        "fsGroup": {"type": "RunAsAny"},
        "groups": [],
        "readOnlyRootFilesystem": false,
        "requiredDropCapabilities": [],
        "runAsUser": {"type": "RunAsAny"},
        "seLinuxContext": {"type": "RunAsAny"},
        "seccompProfiles": ["*"],
        "supplementalGroups": {"type": "RunAsAny"},
        "users": [format!("system:serviceaccount:{namespace}:{sa}")],
        "volumes": ["*"],
    })
}

const PARSERS_CONF: &str = r#"[PARSER]
    Name audit
    Format json
    Time_Key stageTimestamp
    Time_Format %Y-%m-%dT%H:%M:%S.%L

[PARSER]
    Name containerpath
    Format regex
    Regex ^/var/log/containers/(?<POD>[^_]+)_(?<NAMESPACE>[^_]+)_(?<CONTAINER>.+)-(?<CONTAINER_ID>[0-9a-f]{64})\.log$

[PARSER]
    Name crio
    Format regex
    Regex ^(?<TIMESTAMP>[^ ]+) [^ ]+ [^ ]+ (?<MESSAGE>.*)$
    Time_Key TIMESTAMP
    Time_Format %Y-%m-%dT%H:%M:%S.%L
"#;

const JOURNAL_CONF: &str = r#"[SERVICE]
    Parsers_File /etc/td-agent-bit/parsers.conf

[INPUT]
    Name systemd
    Tag journald
    DB /var/lib/fluent/journald

[FILTER]
    Name modify
    Match journald
    Remove_wildcard _
    Remove TIMESTAMP

[OUTPUT]
    Name forward
    Match *
    Port 24224
"#;

const CONTAINERS_CONF: &str = r#"[SERVICE]
    Parsers_File /etc/td-agent-bit/parsers.conf

[INPUT]
    Name tail
    Path /var/log/containers/*
    Path_Key path
    Tag containers
    DB /var/lib/fluent/containers
    Parser crio

[FILTER]
    Name parser
    Match containers
    Key_Name path
    Parser containerpath
    Reserve_Data true

[OUTPUT]
    Name forward
    Match *
    Port 24224
"#;

const AUDIT_CONF: &str = r#"[SERVICE]
    Parsers_File /etc/td-agent-bit/parsers.conf

[INPUT]
    Name tail
    Path /var/log/kube-apiserver/audit.log
    Tag audit
    DB /var/lib/fluent/audit
    Parser audit

[OUTPUT]
    Name forward
    Match *
    Port 24224
"#;

/// The logging objects for `cluster`, given the Geneva certificate and key (base64, as stored in the
/// operator secret's data).
pub fn desired_objects(cluster: &Cluster, gcs_cert_b64: &str, gcs_key_b64: &str) -> Vec<Value> {
    let owner = owner_reference(cluster);
    let spec = &cluster.spec;
    let geneva = &spec.geneva_logging;
    let env = |name: &str, value: &str| json!({"name": name, "value": value});
    vec![
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": NAMESPACE, "annotations": {"openshift.io/node-selector": ""}, "ownerReferences": [owner]}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": CONFIGMAP_NAME, "namespace": NAMESPACE, "ownerReferences": [owner]},
               "data": {"audit.conf": AUDIT_CONF, "containers.conf": CONTAINERS_CONF,
                        "journal.conf": JOURNAL_CONF, "parsers.conf": PARSERS_CONF}}),
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
               "metadata": {"name": CERTIFICATES_SECRET, "namespace": NAMESPACE, "ownerReferences": [owner]},
               "data": {CERT_KEYS[0]: gcs_cert_b64, CERT_KEYS[1]: gcs_key_b64}}),
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": SERVICE_ACCOUNT, "namespace": NAMESPACE, "ownerReferences": [owner]}}),
        privileged_scc(SCC_NAME, NAMESPACE, SERVICE_ACCOUNT, &owner),
        json!({"apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": DAEMONSET_NAME, "namespace": NAMESPACE, "ownerReferences": [owner]},
        "spec": {
            "selector": {"matchLabels": {"app": DAEMONSET_NAME}},
            "template": {
                "metadata": {"labels": {"app": DAEMONSET_NAME}},
                "spec": {
                    "serviceAccountName": SERVICE_ACCOUNT,
                    "priorityClassName": "system-node-critical",
                    "tolerations": [{"effect": "NoExecute", "operator": "Exists"},
                                    {"effect": "NoSchedule", "operator": "Exists"}],
                    "volumes": [
                        {"name": "log", "hostPath": {"path": "/var/log"}},
                        {"name": "fluent", "hostPath": {"path": "/var/lib/fluent"}},
                        {"name": "fluent-config", "configMap": {"name": CONFIGMAP_NAME}},
                        {"name": "machine-id", "hostPath": {"path": "/etc/machine-id"}},
                        {"name": "certificates", "secret": {"secretName": CERTIFICATES_SECRET}},
                    ],
                    "containers": [
                        {
                            "name": "fluentbit",
                            "image": format!("{}/{FLUENTBIT_IMAGE}", spec.acr_domain),
                            "command": ["/opt/td-agent-bit/bin/td-agent-bit"],
                            "args": ["-c", "/etc/td-agent-bit/journal.conf"],
                            "securityContext": {"privileged": true, "runAsUser": 0},
                            "resources": {"limits": {"cpu": "200m", "memory": "500Mi"},
                                          "requests": {"cpu": "10m", "memory": "50Mi"}},
                            "volumeMounts": [
                                {"name": "fluent-config", "mountPath": "/etc/td-agent-bit", "readOnly": true},
                                {"name": "machine-id", "mountPath": "/etc/machine-id", "readOnly": true},
                                {"name": "log", "mountPath": "/var/log", "readOnly": true},
                                {"name": "fluent", "mountPath": "/var/lib/fluent"},
                            ],
                        },
                        {
                            "name": "mdsd",
                            "image": format!("{}/{MDSD_IMAGE}", spec.acr_domain),
                            "command": ["/usr/sbin/mdsd"],
                            "args": ["-A", "-D", "-f", "24224", "-r", "/var/run/mdsd/default"],
                            "env": [
                                env("MONITORING_GCS_ENVIRONMENT", &geneva.monitoring_gcs_environment),
                                env("MONITORING_GCS_ACCOUNT", &geneva.monitoring_gcs_account),
                                env("MONITORING_GCS_REGION", &spec.location),
                                env("MONITORING_GCS_CERT_CERTFILE", "/etc/mdsd.d/secret/gcscert.pem"),
                                env("MONITORING_GCS_CERT_KEYFILE", "/etc/mdsd.d/secret/gcskey.pem"),
                                env("MONITORING_GCS_NAMESPACE", &geneva.monitoring_gcs_namespace),
                                env("MONITORING_CONFIG_VERSION", &geneva.config_version),
                                env("MONITORING_USE_GENEVA_CONFIG_SERVICE", "true"),
                                env("MONITORING_TENANT", &spec.location),
                                env("MONITORING_ROLE", "cluster"),
                                {"name": "MONITORING_ROLE_INSTANCE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                                env("RESOURCE_ID", &spec.resource_id.to_lowercase()),
                            ],
                            "resources": {"limits": {"cpu": "200m", "memory": "1000Mi"},
                                          "requests": {"cpu": "10m", "memory": "100Mi"}},
                            "volumeMounts": [
                                {"name": "certificates", "mountPath": "/etc/mdsd.d/secret", "readOnly": true},
                            ],
                        },
                    ],
                }
            }
        }}),
    ]
}

/// Reconcile once. Returns how many objects it wrote.
pub async fn reconcile(client: &Client, cluster: &Cluster) -> Result<usize> {
    if !cluster.spec.flag_enabled(FLAG_ENABLED) {
        return Ok(0);
    }
    let operator_secret = Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE)
        .get_opt(crate::pullsecret::OPERATOR_SECRET_NAME)
        .await?
        .ok_or_else(|| {
            Error::invalid(
                "genevalogging",
                format!("secret {OPERATOR_NAMESPACE}/cluster is missing"),
            )
        })?;
    let data = operator_secret.data.unwrap_or_default();
    let b64 = |key: &str| -> Result<String> {
        use base64::Engine;
        data.get(key)
            .map(|v| base64::engine::general_purpose::STANDARD.encode(&v.0))
            .ok_or_else(|| {
                Error::invalid(
                    "genevalogging",
                    format!("secret {OPERATOR_NAMESPACE}/cluster has no {key}"),
                )
            })
    };
    let objects = desired_objects(cluster, &b64(CERT_KEYS[0])?, &b64(CERT_KEYS[1])?);
    ensure_all(client, &objects).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::object_id;
    use aro_common::drift::is_subset;

    fn cluster() -> Cluster {
        let mut c = Cluster::new("cluster", Default::default());
        c.metadata.uid = Some("uid-1".into());
        c.spec.acr_domain = "arosvc.azurecr.io".into();
        c.spec.location = "eastus".into();
        c.spec.resource_id = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.RedHatOpenShift/openShiftClusters/C".into();
        c.spec.geneva_logging.monitoring_gcs_account = "AROClusterLogs".into();
        c.spec.geneva_logging.monitoring_gcs_environment = "DiagnosticsProd".into();
        c.spec.geneva_logging.monitoring_gcs_namespace = "AROClusterLogs".into();
        c.spec.geneva_logging.config_version = "4.4".into();
        c
    }

    #[test]
    fn objects_carry_reference_names_and_cluster_owner() {
        let objects = desired_objects(&cluster(), "Y2VydA==", "a2V5");
        let ids: Vec<_> = objects.iter().map(|o| object_id(o).unwrap()).collect();
        let names: Vec<_> = ids
            .iter()
            .map(|i| (i.kind.kind, i.namespace.as_deref(), i.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("Namespace", None, NAMESPACE),
                ("ConfigMap", Some(NAMESPACE), "fluent-config"),
                ("Secret", Some(NAMESPACE), "certificates"),
                ("ServiceAccount", Some(NAMESPACE), "geneva"),
                (
                    "SecurityContextConstraints",
                    None,
                    "privileged-genevalogging"
                ),
                ("DaemonSet", Some(NAMESPACE), "mdsd"),
            ]
        );
        for o in &objects {
            let owner = &o["metadata"]["ownerReferences"][0];
            assert_eq!(owner["kind"], "Cluster");
            assert_eq!(owner["apiVersion"], "aro.openshift.io/v1alpha1");
            assert_eq!(owner["uid"], "uid-1");
            assert_eq!(owner["controller"], true);
        }
        assert_eq!(
            objects[4]["users"][0],
            "system:serviceaccount:openshift-azure-logging:geneva"
        );
        assert_eq!(objects[2]["data"]["gcscert.pem"], "Y2VydA==");
        assert_eq!(objects[2]["data"]["gcskey.pem"], "a2V5");
    }

    #[test]
    fn daemonset_runs_fluentbit_and_mdsd_with_cluster_settings() {
        let objects = desired_objects(&cluster(), "", "");
        let pod = &objects[5]["spec"]["template"]["spec"];
        assert_eq!(pod["serviceAccountName"], "geneva");
        let containers = pod["containers"].as_array().unwrap();
        assert_eq!(
            containers[0]["image"],
            "arosvc.azurecr.io/fluentbit:1.9.10-cm20240628"
        );
        assert_eq!(
            containers[1]["image"],
            "arosvc.azurecr.io/genevamdsd:mariner_20240807.1"
        );
        let env = |name: &str| {
            containers[1]["env"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["name"] == name)
                .unwrap()["value"]
                .clone()
        };
        assert_eq!(env("MONITORING_GCS_ACCOUNT"), "AROClusterLogs");
        assert_eq!(env("MONITORING_GCS_REGION"), "eastus");
        assert_eq!(env("MONITORING_CONFIG_VERSION"), "4.4");
        assert_eq!(
            env("RESOURCE_ID"),
            "/subscriptions/s/resourcegroups/rg/providers/microsoft.redhatopenshift/openshiftclusters/c"
        );
    }

    #[test]
    fn desired_objects_are_stable_and_detect_drift() {
        let a = desired_objects(&cluster(), "x", "y");
        assert_eq!(a, desired_objects(&cluster(), "x", "y"));
        let mut drifted = a[5].clone();
        drifted["spec"]["template"]["spec"]["containers"][1]["image"] = json!("evil/mdsd:1");
        assert!(!is_subset(&a[5], &drifted));
        assert!(is_subset(&a[5], &a[5]));
    }
}
