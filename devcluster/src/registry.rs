//! The API resources devcluster serves: the built-in kinds (with their k8s-openapi types) and the
//! resources of every established CustomResourceDefinition.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiext;
use parking_lot::RwLock;
use serde_json::{Value, json};

/// How `/scale` maps onto an object.
#[derive(Debug, Clone)]
pub struct ScaleSpec {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// The pieces of a built-in kind that need its Rust type.
#[derive(Clone, Copy)]
pub struct BuiltinType {
    /// Decode into the typed object and encode back: drops unknown fields, rejects wrong types.
    pub normalize: fn(Value) -> Result<Value, String>,
    /// Its OpenAPI schema (k8s-openapi's schemars output, see [`devcluster_schema::builtin_schema`]).
    pub schema: fn() -> Value,
}

impl std::fmt::Debug for BuiltinType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BuiltinType")
    }
}

/// One served version of a CustomResourceDefinition.
#[derive(Debug, Clone)]
pub struct CrdVersion {
    pub schema: Option<apiext::JSONSchemaProps>,
    pub printer_columns: Vec<apiext::CustomResourceColumnDefinition>,
    pub storage: bool,
    /// The compiled schema used for pruning, defaulting and validation.
    pub compiled: Arc<devcluster_schema::CrdSchema>,
}

/// A resource served at `/api[s]/{group}/{version}/.../{plural}`.
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub status_subresource: bool,
    pub scale: Option<ScaleSpec>,
    pub builtin: Option<BuiltinType>,
    pub crd: Option<CrdVersion>,
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage key prefix shared by every version of this resource.
    pub fn key_prefix(&self) -> String {
        format!("{}/{}/", self.group, self.plural)
    }

    /// The storage key of one object.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        format!("{}/{}/{}/{}", self.group, self.plural, namespace, name)
    }

    /// The storage prefix of a list in one namespace (or all, with `None`).
    pub fn list_prefix(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}/{}/{}/", self.group, self.plural, ns),
            _ => self.key_prefix(),
        }
    }

    pub fn verbs(&self) -> Vec<&'static str> {
        vec![
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ]
    }

    /// The `metav1.APIResource` entries of discovery (the resource and its subresources).
    pub fn discovery_entries(&self) -> Vec<Value> {
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs(),
            "shortNames": if self.short_names.is_empty() { Value::Null } else { json!(self.short_names) },
            "categories": if self.categories.is_empty() { Value::Null } else { json!(self.categories) },
            "storageVersionHash": storage_version_hash(&self.group, &self.version, &self.kind),
        })];
        if let Some(obj) = out[0].as_object_mut() {
            obj.retain(|_, v| !v.is_null());
        }
        if self.status_subresource {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if self.scale.is_some() {
            out.push(json!({
                "name": format!("{}/scale", self.plural),
                "singularName": "",
                "namespaced": self.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        if self.group.is_empty() && self.plural == "serviceaccounts" {
            out.push(json!({"name": "serviceaccounts/token", "singularName": "", "namespaced": true, "group": "authentication.k8s.io", "version": "v1", "kind": "TokenRequest", "verbs": ["create"]}));
        }
        if self.group.is_empty() && self.plural == "namespaces" {
            out.push(json!({"name": "namespaces/finalize", "singularName": "", "namespaced": false, "kind": "Namespace", "verbs": ["update"]}));
        }
        out
    }
}

/// A create-only resource that is not stored (a review answered by its handler), served in
/// discovery beside the stored resources.
#[derive(Debug, Clone, Copy)]
pub struct VirtualResource {
    pub group: &'static str,
    pub version: &'static str,
    pub plural: &'static str,
    pub kind: &'static str,
}

impl VirtualResource {
    pub fn discovery_entry(&self) -> Value {
        json!({"name": self.plural, "singularName": self.kind.to_lowercase(), "namespaced": false, "kind": self.kind, "verbs": ["create"]})
    }
}

/// The virtual resources devcluster serves.
pub const VIRTUAL_RESOURCES: &[VirtualResource] = &[
    VirtualResource {
        group: "authentication.k8s.io",
        version: "v1",
        plural: "selfsubjectreviews",
        kind: "SelfSubjectReview",
    },
    VirtualResource {
        group: "authentication.k8s.io",
        version: "v1",
        plural: "tokenreviews",
        kind: "TokenReview",
    },
];

fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{group}/{version}/{kind}"));
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

fn normalize_as<T>(value: Value) -> Result<Value, String>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T = serde_json::from_value(value).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

macro_rules! builtin {
    ($ty:ty, $group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, namespaced: $ns:expr,
     short: [$($short:expr),*], categories: [$($cat:expr),*], status: $status:expr, scale: $scale:expr) => {
        ResourceType {
            group: $group.to_string(),
            version: $version.to_string(),
            kind: $kind.to_string(),
            list_kind: format!("{}List", $kind),
            plural: $plural.to_string(),
            singular: $singular.to_string(),
            namespaced: $ns,
            short_names: vec![$($short.to_string()),*],
            categories: vec![$($cat.to_string()),*],
            status_subresource: $status,
            scale: $scale,
            builtin: Some(BuiltinType { normalize: normalize_as::<$ty>, schema: devcluster_schema::builtin_schema::<$ty> }),
            crd: None,
        }
    };
}

fn replicas_scale() -> Option<ScaleSpec> {
    Some(ScaleSpec {
        spec_replicas_path: ".spec.replicas".into(),
        status_replicas_path: ".status.replicas".into(),
        label_selector_path: Some(".status.selector".into()),
    })
}

/// Every built-in resource devcluster serves.
pub fn builtins() -> Vec<ResourceType> {
    use k8s_openapi::api::{
        admissionregistration::v1 as admission, apps::v1 as apps, batch::v1 as batch,
        coordination::v1 as coordination, core::v1 as core, events::v1 as events,
        networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
        scheduling::v1 as scheduling,
    };
    vec![
        builtin!(core::Namespace, "", "v1", "Namespace", "namespaces", "namespace", namespaced: false, short: ["ns"], categories: [], status: true, scale: None),
        builtin!(core::Secret, "", "v1", "Secret", "secrets", "secret", namespaced: true, short: [], categories: [], status: false, scale: None),
        builtin!(core::ConfigMap, "", "v1", "ConfigMap", "configmaps", "configmap", namespaced: true, short: ["cm"], categories: [], status: false, scale: None),
        builtin!(core::ServiceAccount, "", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", namespaced: true, short: ["sa"], categories: [], status: false, scale: None),
        builtin!(core::Service, "", "v1", "Service", "services", "service", namespaced: true, short: ["svc"], categories: ["all"], status: true, scale: None),
        builtin!(core::Endpoints, "", "v1", "Endpoints", "endpoints", "endpoints", namespaced: true, short: ["ep"], categories: [], status: false, scale: None),
        builtin!(core::Event, "", "v1", "Event", "events", "event", namespaced: true, short: ["ev"], categories: [], status: false, scale: None),
        builtin!(core::Node, "", "v1", "Node", "nodes", "node", namespaced: false, short: ["no"], categories: [], status: true, scale: None),
        builtin!(core::Pod, "", "v1", "Pod", "pods", "pod", namespaced: true, short: ["po"], categories: ["all"], status: true, scale: None),
        builtin!(events::Event, "events.k8s.io", "v1", "Event", "events", "event", namespaced: true, short: ["ev"], categories: [], status: false, scale: None),
        builtin!(apps::Deployment, "apps", "v1", "Deployment", "deployments", "deployment", namespaced: true, short: ["deploy"], categories: ["all"], status: true, scale: replicas_scale()),
        builtin!(apps::DaemonSet, "apps", "v1", "DaemonSet", "daemonsets", "daemonset", namespaced: true, short: ["ds"], categories: ["all"], status: true, scale: None),
        builtin!(apps::StatefulSet, "apps", "v1", "StatefulSet", "statefulsets", "statefulset", namespaced: true, short: ["sts"], categories: ["all"], status: true, scale: replicas_scale()),
        builtin!(apps::ReplicaSet, "apps", "v1", "ReplicaSet", "replicasets", "replicaset", namespaced: true, short: ["rs"], categories: ["all"], status: true, scale: replicas_scale()),
        builtin!(batch::Job, "batch", "v1", "Job", "jobs", "job", namespaced: true, short: [], categories: ["all"], status: true, scale: None),
        builtin!(batch::CronJob, "batch", "v1", "CronJob", "cronjobs", "cronjob", namespaced: true, short: ["cj"], categories: ["all"], status: true, scale: None),
        builtin!(coordination::Lease, "coordination.k8s.io", "v1", "Lease", "leases", "lease", namespaced: true, short: [], categories: [], status: false, scale: None),
        builtin!(apiext::CustomResourceDefinition, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", "customresourcedefinition", namespaced: false, short: ["crd", "crds"], categories: ["api-extensions"], status: true, scale: None),
        builtin!(rbac::Role, "rbac.authorization.k8s.io", "v1", "Role", "roles", "role", namespaced: true, short: [], categories: [], status: false, scale: None),
        builtin!(rbac::RoleBinding, "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", "rolebinding", namespaced: true, short: [], categories: [], status: false, scale: None),
        builtin!(rbac::ClusterRole, "rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", "clusterrole", namespaced: false, short: [], categories: [], status: false, scale: None),
        builtin!(rbac::ClusterRoleBinding, "rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", "clusterrolebinding", namespaced: false, short: [], categories: [], status: false, scale: None),
        builtin!(admission::ValidatingWebhookConfiguration, "admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations", "validatingwebhookconfiguration", namespaced: false, short: [], categories: ["api-extensions"], status: false, scale: None),
        builtin!(admission::MutatingWebhookConfiguration, "admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations", "mutatingwebhookconfiguration", namespaced: false, short: [], categories: ["api-extensions"], status: false, scale: None),
        builtin!(policy::PodDisruptionBudget, "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", "poddisruptionbudget", namespaced: true, short: ["pdb"], categories: [], status: true, scale: None),
        builtin!(scheduling::PriorityClass, "scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", "priorityclass", namespaced: false, short: ["pc"], categories: [], status: false, scale: None),
        builtin!(networking::NetworkPolicy, "networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", "networkpolicy", namespaced: true, short: ["netpol"], categories: [], status: false, scale: None),
    ]
}

/// The resource types of one CRD object (one per served version), or why it cannot be served.
pub fn crd_resource_types(crd: &apiext::CustomResourceDefinition) -> Vec<ResourceType> {
    let spec = &crd.spec;
    let names = &spec.names;
    spec.versions
        .iter()
        .filter(|v| v.served)
        .map(|v| {
            let sub = v.subresources.as_ref();
            ResourceType {
                group: spec.group.clone(),
                version: v.name.clone(),
                kind: names.kind.clone(),
                list_kind: names
                    .list_kind
                    .clone()
                    .unwrap_or_else(|| format!("{}List", names.kind)),
                plural: names.plural.clone(),
                singular: names
                    .singular
                    .clone()
                    .unwrap_or_else(|| names.kind.to_lowercase()),
                namespaced: spec.scope == "Namespaced",
                short_names: names.short_names.clone().unwrap_or_default(),
                categories: names.categories.clone().unwrap_or_default(),
                status_subresource: sub.is_some_and(|s| s.status.is_some()),
                scale: sub.and_then(|s| s.scale.as_ref()).map(|s| ScaleSpec {
                    spec_replicas_path: s.spec_replicas_path.clone(),
                    status_replicas_path: s.status_replicas_path.clone(),
                    label_selector_path: s.label_selector_path.clone(),
                }),
                builtin: None,
                crd: Some(CrdVersion {
                    schema: v.schema.as_ref().and_then(|s| s.open_api_v3_schema.clone()),
                    printer_columns: v.additional_printer_columns.clone().unwrap_or_default(),
                    storage: v.storage,
                    compiled: Arc::new(
                        match v
                            .schema
                            .as_ref()
                            .and_then(|s| s.open_api_v3_schema.as_ref())
                        {
                            Some(s) => devcluster_schema::CrdSchema::new(s),
                            None => devcluster_schema::CrdSchema::preserve_unknown_fields(),
                        },
                    ),
                }),
            }
        })
        .collect()
}

/// The served resources, keyed by group and version.
#[derive(Default)]
pub struct Registry {
    inner: RwLock<Inner>,
}

#[derive(Default, Clone)]
struct Inner {
    builtins: Vec<Arc<ResourceType>>,
    crds: BTreeMap<String, Vec<Arc<ResourceType>>>,
    /// Bumped on every change, for discovery and OpenAPI caches.
    generation: u64,
}

/// A served group with its versions in preference order.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub name: String,
    pub versions: Vec<String>,
}

impl Registry {
    pub fn new() -> Self {
        Registry {
            inner: RwLock::new(Inner {
                builtins: builtins().into_iter().map(Arc::new).collect(),
                crds: BTreeMap::new(),
                generation: 1,
            }),
        }
    }

    /// Replace the resources of one CRD (empty `types` removes it).
    pub fn set_crd(&self, crd_name: &str, types: Vec<ResourceType>) {
        let mut inner = self.inner.write();
        let types: Vec<Arc<ResourceType>> = types.into_iter().map(Arc::new).collect();
        let changed = match inner.crds.get(crd_name) {
            Some(old) => !same_types(old, &types),
            None => !types.is_empty(),
        };
        if !changed {
            return;
        }
        if types.is_empty() {
            inner.crds.remove(crd_name);
        } else {
            inner.crds.insert(crd_name.to_string(), types);
        }
        inner.generation += 1;
    }

    pub fn generation(&self) -> u64 {
        self.inner.read().generation
    }

    /// Every served resource type.
    pub fn all(&self) -> Vec<Arc<ResourceType>> {
        let inner = self.inner.read();
        inner
            .builtins
            .iter()
            .chain(inner.crds.values().flatten())
            .cloned()
            .collect()
    }

    /// The resource `plural` in `group`/`version`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<ResourceType>> {
        let inner = self.inner.read();
        inner
            .builtins
            .iter()
            .chain(inner.crds.values().flatten())
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    /// Any version of `group`/`plural` (storage prefix lookups by the API machinery).
    pub fn find_any_version(&self, group: &str, plural: &str) -> Option<Arc<ResourceType>> {
        let inner = self.inner.read();
        inner
            .builtins
            .iter()
            .chain(inner.crds.values().flatten())
            .filter(|r| r.group == group && r.plural == plural)
            .max_by_key(|r| r.crd.as_ref().is_some_and(|c| c.storage))
            .cloned()
    }

    /// The resources of one group version.
    pub fn group_version(&self, group: &str, version: &str) -> Vec<Arc<ResourceType>> {
        self.all()
            .into_iter()
            .filter(|r| r.group == group && r.version == version)
            .collect()
    }

    /// Served groups (core `""` excluded), each with its versions, preferred first.
    pub fn groups(&self) -> Vec<GroupInfo> {
        let mut out: Vec<GroupInfo> = Vec::new();
        let stored = self.all();
        let group_versions = stored
            .iter()
            .map(|r| (r.group.as_str(), r.version.as_str()))
            .chain(VIRTUAL_RESOURCES.iter().map(|v| (v.group, v.version)));
        for (group, version) in group_versions {
            if group.is_empty() {
                continue;
            }
            match out.iter_mut().find(|g| g.name == group) {
                Some(g) => {
                    if !g.versions.iter().any(|v| v == version) {
                        g.versions.push(version.to_string());
                    }
                }
                None => out.push(GroupInfo {
                    name: group.to_string(),
                    versions: vec![version.to_string()],
                }),
            }
        }
        for g in &mut out {
            g.versions
                .sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }
}

fn same_types(a: &[Arc<ResourceType>], b: &[Arc<ResourceType>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.version == y.version
                && x.plural == y.plural
                && x.kind == y.kind
                && x.namespaced == y.namespaced
                && x.status_subresource == y.status_subresource
                && x.short_names == y.short_names
                && x.categories == y.categories
                && x.scale.is_some() == y.scale.is_some()
                && x.crd
                    .as_ref()
                    .map(|c| (&c.schema, &c.printer_columns, c.storage))
                    == y.crd
                        .as_ref()
                        .map(|c| (&c.schema, &c.printer_columns, c.storage))
        })
}

/// Kubernetes version priority: GA > beta > alpha, then by number (v2 > v1, v1beta2 > v1beta1);
/// other names sort last.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let Ok(major) = digits.parse::<u32>() else {
        return (0, 0, 0);
    };
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    for (prefix, rank) in [("beta", 2), ("alpha", 1)] {
        if let Some(n) = tail.strip_prefix(prefix)
            && let Ok(minor) = n.parse::<u32>()
        {
            return (rank, major, minor);
        }
    }
    (0, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_priority_follows_kubernetes_order() {
        let mut v = vec!["v1alpha1", "v1", "v2beta1", "v1beta2", "v2", "foo"];
        v.sort_by_key(|x| std::cmp::Reverse(version_priority(x)));
        assert_eq!(v, vec!["v2", "v1", "v2beta1", "v1beta2", "v1alpha1", "foo"]);
    }

    #[test]
    fn builtins_normalize_and_drop_unknown_fields() {
        let registry = Registry::new();
        let cm = registry.find("", "v1", "configmaps").unwrap();
        let out = (cm.builtin.unwrap().normalize)(json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}, "bogus": 1
        }))
        .unwrap();
        assert_eq!(out["data"]["a"], "b");
        assert!(out.get("bogus").is_none());
        let err = (cm.builtin.unwrap().normalize)(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": 1}}),
        );
        assert!(err.is_err());
        let deploy = registry.find("apps", "v1", "deployments").unwrap();
        assert!(deploy.scale.is_some());
        assert_eq!(deploy.discovery_entries().len(), 3);
    }
}
