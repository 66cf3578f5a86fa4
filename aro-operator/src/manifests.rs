//! The objects that deploy the operator, from the same values as the Helm chart
//! (`charts/aro-operator`): the RP applies [`render`] instead of running Helm, and a test proves that
//! Helm's rendering of the chart and [`render`] are the same objects for the same values. Defaults
//! come from the chart's own `values.yaml`, so there is one source of truth for them.

use std::collections::BTreeMap;

use base64::Engine;
use crds::operator::ClusterSpec;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Error, OPERATOR_NAMESPACE, Result};

/// The chart's `values.yaml`, embedded.
pub const CHART_VALUES_YAML: &str = include_str!("../../charts/aro-operator/values.yaml");

/// Values of the chart, field for field (unknown fields are rejected like the chart's schema does).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorDeployValues {
    pub image: ImageValues,
    pub log_level: String,
    pub master: MasterValues,
    pub worker: WorkerValues,
    pub operator_secret: OperatorSecretValues,
    pub cluster: ClusterValues,
}

/// `image`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageValues {
    pub repository: String,
    pub tag: String,
    pub pull_policy: String,
}

/// `master`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MasterValues {
    pub replicas: i32,
    /// A ResourceRequirements object.
    pub resources: Value,
    pub node_selector: BTreeMap<String, String>,
    /// Toleration objects.
    pub tolerations: Vec<Value>,
    /// Secret whose keys become the master's environment (the `AZURE_*` variables of the
    /// subnets controller's identity); empty: none, and the subnets controller does not run.
    pub azure_credentials_secret: String,
}

/// `worker`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkerValues {
    pub enabled: bool,
    pub replicas: i32,
    pub resources: Value,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Value>,
}

/// `operatorSecret`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorSecretValues {
    pub create: bool,
    /// The ARO registries' pull secret.
    #[serde(serialize_with = "aro_common::secret::serialize_exposed")]
    pub pull_secret: aro_common::Secret,
    pub gcs_cert: String,
    /// The Geneva logging certificate's private key.
    #[serde(serialize_with = "aro_common::secret::serialize_exposed")]
    pub gcs_key: aro_common::Secret,
}

/// `cluster`. The spec is kept as given (it is rendered verbatim, like the chart's `toYaml`) and
/// checked to be a valid `ClusterSpec`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterValues {
    pub create: bool,
    pub spec: Value,
}

/// Merge `overlay` into `base` like Helm coalesces values: maps merge recursively, anything else
/// replaces, `null` removes the key.
pub fn merge_values(base: &mut Value, overlay: &Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            for (key, value) in o {
                if value.is_null() {
                    b.remove(key);
                } else {
                    match b.get_mut(key) {
                        Some(existing) if existing.is_object() && value.is_object() => {
                            merge_values(existing, value)
                        }
                        _ => {
                            b.insert(key.clone(), value.clone());
                        }
                    }
                }
            }
        }
        (base, overlay) => *base = overlay.clone(),
    }
}

impl OperatorDeployValues {
    /// The chart's defaults.
    pub fn defaults() -> Self {
        Self::with_overrides(&json!({})).expect("the chart's values.yaml is valid")
    }

    /// The chart's defaults with `overrides` merged in (what `helm install -f overrides` uses).
    pub fn with_overrides(overrides: &Value) -> Result<Self> {
        let mut values: Value = serde_yaml::from_str(CHART_VALUES_YAML)
            .map_err(|e| Error::invalid("manifests", format!("values.yaml: {e}")))?;
        merge_values(&mut values, overrides);
        let parsed: Self = serde_json::from_value(values)
            .map_err(|e| Error::invalid("manifests", format!("values: {e}")))?;
        parsed.cluster_spec()?;
        Ok(parsed)
    }

    /// The Cluster spec as its typed form.
    pub fn cluster_spec(&self) -> Result<ClusterSpec> {
        serde_json::from_value(self.cluster.spec.clone())
            .map_err(|e| Error::invalid("manifests", format!("cluster.spec: {e}")))
    }
}

fn labels(component: &str) -> Value {
    json!({
        "app.kubernetes.io/name": "aro-operator",
        "app.kubernetes.io/part-of": "aro",
        "app.kubernetes.io/component": component,
    })
}

fn name_of(role: &str) -> String {
    format!("aro-operator-{role}")
}

/// The ServiceAccount (in [`OPERATOR_NAMESPACE`]) the operator of `role` runs as.
pub fn service_account(role: crate::Role) -> String {
    name_of(match role {
        crate::Role::Master => "master",
        crate::Role::Worker => "worker",
    })
}

fn container(v: &OperatorDeployValues, role: &str, resources: &Value) -> Value {
    let mut container = json!({
        "name": "aro-operator",
        "image": format!("{}:{}", v.image.repository, v.image.tag),
        "imagePullPolicy": v.image.pull_policy,
        "command": ["aro"],
        "args": ["operator", "--role", role],
        "env": [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "RUST_LOG", "value": v.log_level},
        ],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"}, "initialDelaySeconds": 10, "periodSeconds": 10},
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": "http"}, "periodSeconds": 5},
        "resources": resources,
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    });
    if role == "master" && !v.master.azure_credentials_secret.is_empty() {
        container["envFrom"] = json!([{"secretRef": {"name": v.master.azure_credentials_secret}}]);
    }
    container
}

fn deployment(
    v: &OperatorDeployValues,
    role: &str,
    replicas: i32,
    resources: &Value,
    node_selector: &BTreeMap<String, String>,
    tolerations: &[Value],
) -> Value {
    let name = name_of(role);
    let mut pod_labels = labels(role);
    pod_labels["app"] = json!(name);
    let mut pod = json!({
        "serviceAccountName": name,
        "priorityClassName": if role == "master" { "system-cluster-critical" } else { "system-node-critical" },
        "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [container(v, role, resources)],
    });
    if !node_selector.is_empty() {
        pod["nodeSelector"] = json!(node_selector);
    }
    if !tolerations.is_empty() {
        pod["tolerations"] = json!(tolerations);
    }
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": OPERATOR_NAMESPACE, "labels": labels(role)},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        },
    })
}

fn with(extra: &[&'static str]) -> Vec<&'static str> {
    ["get", "list", "watch"]
        .iter()
        .chain(extra)
        .copied()
        .collect()
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "verbs": verbs})
}

/// A rule limited to the objects named `names`.
fn named_rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> Value {
    json!({"apiGroups": groups, "resources": resources, "resourceNames": names, "verbs": verbs})
}

/// The master's ClusterRole rules: only what the master controllers use. Objects are created and
/// repaired by server-side apply (`patch`, which creates a missing object), so no rule grants
/// `create`; cluster-scoped objects the operator owns by name are granted by name; Secrets are
/// granted per namespace ([`master_secret_grants`]).
pub fn master_rules() -> Vec<Value> {
    const READ: &[&str] = &["get", "list", "watch"];
    // Read only through informers (never one by name).
    const LIST_WATCH: &[&str] = &["list", "watch"];
    use crate::{genevalogging, routefix};
    vec![
        rule(&["aro.openshift.io"], &["clusters"], &with(&["patch"])),
        // Status is read with the object and written with an update.
        rule(&["aro.openshift.io"], &["clusters/status"], &["update"]),
        named_rule(
            &[""],
            &["namespaces"],
            &["get", "patch"],
            &[genevalogging::NAMESPACE, routefix::NAMESPACE],
        ),
        named_rule(&[""], &["namespaces"], &["delete"], &[routefix::NAMESPACE]),
        rule(&[""], &["configmaps", "serviceaccounts"], &with(&["patch"])),
        rule(&["apps"], &["daemonsets"], &with(&["patch"])),
        named_rule(
            &["rbac.authorization.k8s.io"],
            &["clusterrolebindings"],
            &["get", "patch", "delete"],
            &[routefix::WORKLOAD_NAME],
        ),
        named_rule(
            &["rbac.authorization.k8s.io"],
            &["clusterroles"],
            &["bind"],
            &[routefix::SDN_CLUSTER_ROLE],
        ),
        rule(
            &["security.openshift.io"],
            &["securitycontextconstraints"],
            READ,
        ),
        named_rule(
            &["security.openshift.io"],
            &["securitycontextconstraints"],
            &["patch"],
            &[genevalogging::SCC_NAME, routefix::SCC_NAME],
        ),
        rule(
            &["machineconfiguration.openshift.io"],
            &["machineconfigs"],
            &with(&["patch"]),
        ),
        rule(
            &["machineconfiguration.openshift.io"],
            &["machineconfigpools"],
            LIST_WATCH,
        ),
        rule(&["config.openshift.io"], &["clusterversions"], READ),
        rule(
            &["machine.openshift.io"],
            &["machinesets"],
            &with(&["patch"]),
        ),
        rule(&["machine.openshift.io"], &["machines"], LIST_WATCH),
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
    ]
}

/// Name of the master's namespaced Secret Roles ([`master_secret_grants`]).
pub const MASTER_SECRETS_ROLE: &str = "aro-operator-master-secrets";

/// The master's Secrets, by namespace: a Role in each namespace where a controller reads or
/// writes them, so the operator holds no cluster-wide Secrets (none to read elsewhere, and no
/// ServiceAccount-token Secret to mint outside these namespaces).
pub fn master_secret_grants() -> Vec<(&'static str, &'static [&'static str])> {
    use crate::{alertwebhook, genevalogging, pullsecret};
    vec![
        // Its own Secret `cluster` (registry credentials, Geneva certificates): read only.
        (OPERATOR_NAMESPACE, &["get", "list", "watch"]),
        // The global pull secret: repaired in place, created when missing, deleted and
        // recreated when its type is wrong.
        (
            pullsecret::PULL_SECRET_NAMESPACE,
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        // Alertmanager's configuration.
        (alertwebhook::NAMESPACE, &["get", "list", "watch", "patch"]),
        // genevalogging's certificates (server-side apply creates them).
        (genevalogging::NAMESPACE, &["get", "list", "watch", "patch"]),
    ]
}

fn master_secret_roles() -> Vec<Value> {
    let subjects = json!([{"kind": "ServiceAccount", "name": name_of("master"), "namespace": OPERATOR_NAMESPACE}]);
    let mut objects = Vec::new();
    for (namespace, verbs) in master_secret_grants() {
        objects.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": MASTER_SECRETS_ROLE, "namespace": namespace, "labels": labels("master")},
            "rules": [rule(&[""], &["secrets"], verbs)]}));
        objects.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": MASTER_SECRETS_ROLE, "namespace": namespace, "labels": labels("master")},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": MASTER_SECRETS_ROLE},
            "subjects": subjects}));
    }
    objects
}

/// The worker's ClusterRole rules.
pub fn worker_rules() -> Vec<Value> {
    vec![
        rule(
            &["aro.openshift.io"],
            &["clusters"],
            &["get", "list", "watch"],
        ),
        // Status is read with the object and written with an update.
        rule(&["aro.openshift.io"], &["clusters/status"], &["update"]),
        rule(&["events.k8s.io"], &["events"], &["create", "patch"]),
    ]
}

fn rbac(role: &str, rules: Vec<Value>) -> Vec<Value> {
    let name = name_of(role);
    let subjects =
        json!([{"kind": "ServiceAccount", "name": name, "namespace": OPERATOR_NAMESPACE}]);
    vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": name, "labels": labels(role)}, "rules": rules}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": name, "labels": labels(role)},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
               "subjects": subjects}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": name, "namespace": OPERATOR_NAMESPACE, "labels": labels(role)},
               "rules": [rule(&["coordination.k8s.io"], &["leases"], &["get", "create", "update"])]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": name, "namespace": OPERATOR_NAMESPACE, "labels": labels(role)},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
               "subjects": subjects}),
    ]
}

/// The operator namespace's NetworkPolicies (templates/networkpolicies.yaml): deny by default;
/// the master takes Alertmanager's webhook calls and Prometheus's scrapes on 8080 from
/// openshift-monitoring; every operator pod may resolve names (OpenShift's DNS pods listen on
/// 5353 behind the service's 53, and policies see the pod's port) and reach the API server
/// (443 service, 6443 endpoints), Azure and the internet checker's URLs (443).
fn network_policies(roles: &[&str]) -> Vec<Value> {
    let policy = |name: &str, component: Option<&str>, spec: Value| {
        let labels = match component {
            Some(component) => labels(component),
            None => {
                json!({"app.kubernetes.io/name": "aro-operator", "app.kubernetes.io/part-of": "aro"})
            }
        };
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": OPERATOR_NAMESPACE, "labels": labels},
               "spec": spec})
    };
    let port = |protocol: &str, port: u16| json!({"protocol": protocol, "port": port});
    let mut policies = vec![
        policy(
            "default-deny",
            None,
            json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        ),
        policy(
            "allow-dns",
            None,
            json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-dns"}}}],
                "ports": [port("UDP", 53), port("TCP", 53), port("UDP", 5353), port("TCP", 5353)],
            }]}),
        ),
    ];
    for role in roles {
        let mut spec = json!({
            "podSelector": {"matchLabels": {"app": name_of(role)}},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [{"ports": [port("TCP", 443), port("TCP", 6443)]}],
        });
        if *role == "master" {
            spec["ingress"] = json!([{
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openshift-monitoring"}}}],
                "ports": [port("TCP", 8080)],
            }]);
        }
        policies.push(policy(&name_of(role), Some(role), spec));
    }
    policies
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Every object the chart's templates render for `v` (CRDs excluded: see [`crds`]), namespace first.
pub fn render(v: &OperatorDeployValues) -> Vec<Value> {
    let mut objects = vec![json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": OPERATOR_NAMESPACE, "labels": {
            "app.kubernetes.io/name": "aro-operator",
            "app.kubernetes.io/part-of": "aro",
            "openshift.io/cluster-monitoring": "true",
        }},
    })];
    let roles: Vec<&str> = if v.worker.enabled {
        vec!["master", "worker"]
    } else {
        vec!["master"]
    };
    for role in &roles {
        objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount",
                            "metadata": {"name": name_of(role), "namespace": OPERATOR_NAMESPACE, "labels": labels(role)}}));
    }
    // genevalogging's namespace exists before the operator runs, so the Role for its Secrets
    // can be bound there (the operator still applies the namespace's own fields).
    objects.push(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": crate::genevalogging::NAMESPACE, "labels": {
            "app.kubernetes.io/name": "aro-operator",
            "app.kubernetes.io/part-of": "aro",
        }},
    }));
    objects.extend(rbac("master", master_rules()));
    objects.extend(master_secret_roles());
    if v.worker.enabled {
        objects.extend(rbac("worker", worker_rules()));
    }
    objects.push(deployment(
        v,
        "master",
        v.master.replicas,
        &v.master.resources,
        &v.master.node_selector,
        &v.master.tolerations,
    ));
    if v.worker.enabled {
        objects.push(deployment(
            v,
            "worker",
            v.worker.replicas,
            &v.worker.resources,
            &v.worker.node_selector,
            &v.worker.tolerations,
        ));
    }
    objects.extend(network_policies(&roles));
    objects.push(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "aro-operator-master", "namespace": OPERATOR_NAMESPACE, "labels": labels("master")},
        "spec": {"selector": {"app": "aro-operator-master"},
                 "ports": [{"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"}]},
    }));
    if v.operator_secret.create {
        objects.push(json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": crate::pullsecret::OPERATOR_SECRET_NAME, "namespace": OPERATOR_NAMESPACE, "labels": labels("master")},
            "data": {
                crate::pullsecret::DOCKER_CONFIG_KEY: b64(v.operator_secret.pull_secret.expose()),
                "gcscert.pem": b64(&v.operator_secret.gcs_cert),
                "gcskey.pem": b64(v.operator_secret.gcs_key.expose()),
            },
        }));
    }
    if v.cluster.create {
        objects.push(json!({
            "apiVersion": "aro.openshift.io/v1alpha1", "kind": "Cluster",
            "metadata": {"name": crds::operator::SINGLETON_NAME, "labels": {
                "app.kubernetes.io/name": "aro-operator",
                "app.kubernetes.io/part-of": "aro",
            }},
            "spec": v.cluster.spec,
        }));
    }
    objects
}

/// The CRDs of the chart's `crds/` folder.
pub fn crds() -> Vec<CustomResourceDefinition> {
    crds::operator_crds()
}

/// Deploy the operator the way `helm install` of the chart would, without Helm: the CRDs first
/// (waiting until each is established), then every rendered object, each created or repaired with
/// server-side apply and written only when it differs. Returns how many objects were written.
/// This is what the RP runs at install and OperatorUpdate, and the local cluster runtime too.
pub async fn deploy(client: &kube::Client, values: &OperatorDeployValues) -> Result<usize> {
    let written = aro_common::crd::apply_crds(client, &crds(), crate::FIELD_MANAGER).await?;
    Ok(written + crate::apply::ensure_all(client, &render(values)).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_chart_and_its_flags_are_the_rp_defaults() {
        let v = OperatorDeployValues::defaults();
        assert_eq!(v.master.replicas, 1);
        assert!(v.worker.enabled);
        let spec = v.cluster_spec().unwrap();
        assert_eq!(
            spec.operator_flags,
            crds::operator::default_operator_flags()
        );
        assert_eq!(spec.architecture_version, 2);
    }

    #[test]
    fn overrides_merge_like_helm_and_unknown_fields_are_rejected() {
        let v = OperatorDeployValues::with_overrides(&json!({
            "image": {"tag": "v2"}, "worker": {"enabled": false},
            "cluster": {"spec": {"operatorflags": {"aro.pullsecret.managed": "false"}}}
        }))
        .unwrap();
        assert_eq!(v.image.tag, "v2");
        assert_eq!(v.image.repository, "arosvc.azurecr.io/aro");
        let spec = v.cluster_spec().unwrap();
        assert!(!spec.flag_enabled("aro.pullsecret.managed"));
        assert!(spec.flag_enabled("aro.pullsecret.enabled"));
        assert!(OperatorDeployValues::with_overrides(&json!({"imagee": {}})).is_err());
        assert!(
            OperatorDeployValues::with_overrides(&json!({"master": {"replicas": "two"}})).is_err()
        );
        assert!(
            OperatorDeployValues::with_overrides(
                &json!({"cluster": {"spec": {"architectureVersion": "x"}}})
            )
            .is_err()
        );
        let mut base = json!({"a": {"b": 1, "c": 2}});
        merge_values(&mut base, &json!({"a": {"b": null, "d": 3}}));
        assert_eq!(base, json!({"a": {"c": 2, "d": 3}}));
    }

    #[test]
    fn render_without_worker_drops_its_objects() {
        let v =
            OperatorDeployValues::with_overrides(&json!({"worker": {"enabled": false}})).unwrap();
        let objects = render(&v);
        assert!(
            objects
                .iter()
                .all(|o| !o["metadata"]["name"].as_str().unwrap().contains("worker"))
        );
        let all = render(&OperatorDeployValues::defaults());
        // Service account, four RBAC objects, the Deployment and the NetworkPolicy.
        assert_eq!(all.len(), objects.len() + 7);
        for o in &all {
            crate::apply::object_id(o).unwrap();
        }
    }

    #[test]
    fn master_rules_cover_every_kind_the_controllers_write() {
        let rules = master_rules();
        let allows = |group: &str, resource: &str, verb: &str| {
            rules.iter().any(|r| {
                r["apiGroups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|g| g == group)
                    && r["resources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x == resource)
                    && r["verbs"].as_array().unwrap().iter().any(|x| x == verb)
            })
        };
        for (group, resource, verb) in [
            ("apps", "daemonsets", "patch"),
            (
                "security.openshift.io",
                "securitycontextconstraints",
                "patch",
            ),
            (
                "machineconfiguration.openshift.io",
                "machineconfigs",
                "patch",
            ),
            ("machine.openshift.io", "machinesets", "patch"),
            ("aro.openshift.io", "clusters/status", "update"),
            ("events.k8s.io", "events", "create"),
        ] {
            assert!(allows(group, resource, verb), "{group}/{resource} {verb}");
        }
        assert!(!allows("machine.openshift.io", "machines", "delete"));
        // Server-side apply creates: nothing cluster-wide takes a create. Secrets are granted
        // only in the namespaces where controllers use them.
        assert!(!allows("", "namespaces", "create"));
        assert!(!allows("", "secrets", "get"));
        let secrets: BTreeMap<_, _> = master_secret_grants().into_iter().collect();
        assert!(secrets[crate::pullsecret::PULL_SECRET_NAMESPACE].contains(&"delete"));
        assert!(
            secrets
                .iter()
                .filter(|(_, verbs)| verbs.contains(&"create"))
                .count()
                == 1
        );
        assert!(!allows("apps", "daemonsets", "create"));
        // Cluster-scoped objects the operator owns are granted by name.
        let names_of = |resource: &str| -> Vec<Vec<Value>> {
            rules
                .iter()
                .filter(|r| {
                    r["resources"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|x| x == resource)
                })
                .filter(|r| {
                    r["verbs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|v| v == "patch" || v == "delete")
                })
                .map(|r| r["resourceNames"].as_array().cloned().unwrap_or_default())
                .collect()
        };
        for resource in [
            "namespaces",
            "clusterrolebindings",
            "securitycontextconstraints",
        ] {
            assert!(
                names_of(resource).iter().all(|names| !names.is_empty()),
                "{resource}"
            );
        }
        assert!(!allows("", "pods", "get"));
    }
}
