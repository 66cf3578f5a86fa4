//! kube-apiserver's RBAC authorizer (plugin/pkg/auth/authorizer/rbac and pkg/registry/rbac/
//! validation): the rules of the Roles and ClusterRoles bound to a user, and whether one of them
//! allows a request.
//!
//! It runs on every request, so the stored RBAC objects are compiled once into a [`Snapshot`]
//! (bindings resolved to their roles' rules, indexed by user and group name) and compiled again
//! only when an RBAC object changed (the store's [`Store::rbac_revision`]), never per request.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Deserializer, Serialize};

use super::{Attributes, UserInfo};
use crate::storage::{RBAC_KEY_PREFIX, Store};

/// The API group of Roles, ClusterRoles and their bindings.
pub const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
/// The prefix of a ServiceAccount's user name (`system:serviceaccount:<ns>:<name>`).
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// One rule of a Role or ClusterRole (rbac/v1 `PolicyRule`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyRule {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub verbs: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub api_groups: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resources: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub resource_names: Vec<String>,
    #[serde(
        default,
        rename = "nonResourceURLs",
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<String>,
}

fn has(set: &[String], value: &str) -> bool {
    set.iter().any(|s| s == value)
}

impl PolicyRule {
    /// kube's `RuleAllows`: every field of the rule matches the request.
    pub fn allows(&self, attributes: &Attributes) -> bool {
        let verb = attributes.verb.as_str();
        if !has(&self.verbs, "*") && !has(&self.verbs, verb) {
            return false;
        }
        let Some(r) = &attributes.resource else {
            return self.non_resource_url_matches(&attributes.path);
        };
        (has(&self.api_groups, "*") || has(&self.api_groups, &r.group))
            && self.resource_matches(&r.resource, &r.subresource)
            // A rule naming resources never matches a request without a name (list, create).
            && (self.resource_names.is_empty() || has(&self.resource_names, &r.name))
    }

    fn resource_matches(&self, resource: &str, subresource: &str) -> bool {
        self.resources.iter().any(|rule| {
            if rule == "*" {
                return true;
            }
            if subresource.is_empty() {
                return rule == resource;
            }
            // `resource/subresource` exactly, or `*/subresource`.
            match rule.split_once('/') {
                Some((r, s)) => s == subresource && (r == resource || r == "*"),
                None => false,
            }
        })
    }

    fn non_resource_url_matches(&self, path: &str) -> bool {
        self.non_resource_urls.iter().any(|url| {
            url == "*"
                || url == path
                || (url.ends_with('*') && path.starts_with(url.trim_end_matches('*')))
        })
    }
}

/// A binding's subject (rbac/v1 `Subject`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Subject {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

/// What a binding grants (rbac/v1 `RoleRef`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleRef {
    #[serde(default)]
    pub api_group: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
}

#[derive(Debug, Deserialize)]
struct RoleObject {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    rules: Option<Vec<PolicyRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BindingObject {
    #[serde(default)]
    metadata: Meta,
    #[serde(default)]
    subjects: Option<Vec<Subject>>,
    #[serde(default)]
    role_ref: RoleRef,
}

/// The rules of the Roles and ClusterRoles, by namespace (`""` for ClusterRoles) and name.
#[derive(Default)]
pub struct RoleIndex {
    roles: HashMap<(String, String), Arc<[PolicyRule]>>,
}

impl RoleIndex {
    /// kube's `GetRoleReferenceRules`: the rules a binding in `namespace` (`""` for a
    /// ClusterRoleBinding) refers to, or the error kube-apiserver reports.
    pub fn rules_of(
        &self,
        role_ref: &RoleRef,
        namespace: &str,
    ) -> Result<Arc<[PolicyRule]>, String> {
        let (scope, singular) = match role_ref.kind.as_str() {
            "Role" => (namespace, "role"),
            "ClusterRole" => ("", "clusterrole"),
            other => return Err(format!("unsupported role reference kind: \"{other}\"")),
        };
        self.roles
            .get(&(scope.to_string(), role_ref.name.clone()))
            .cloned()
            .ok_or_else(|| format!("{singular}.{RBAC_GROUP} \"{}\" not found", role_ref.name))
    }

    fn insert(&mut self, namespace: &str, name: &str, rules: Vec<PolicyRule>) {
        self.roles
            .insert((namespace.to_string(), name.to_string()), rules.into());
    }
}

/// One binding as it applies to one of its subjects.
#[derive(Debug)]
struct Grant {
    /// The binding's place in kube's visiting order: ClusterRoleBindings first.
    binding: usize,
    /// The subject's index in the binding (kube describes the first subject that applies).
    subject: usize,
    /// `None` for a ClusterRoleBinding (everywhere), else the RoleBinding's namespace.
    namespace: Option<Arc<str>>,
    rules: Result<Arc<[PolicyRule]>, Arc<str>>,
    /// kube's description of the binding and subject (a SubjectAccessReview's allow reason).
    source: Arc<str>,
}

impl Grant {
    fn applies_in(&self, namespace: &str) -> bool {
        match &self.namespace {
            None => true,
            Some(ns) => !namespace.is_empty() && **ns == *namespace,
        }
    }
}

/// The compiled RBAC objects at one RBAC revision.
#[derive(Default)]
pub struct Snapshot {
    revision: u64,
    roles: RoleIndex,
    users: HashMap<String, Vec<Grant>>,
    groups: HashMap<String, Vec<Grant>>,
}

/// The answer to a request, with kube's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub allowed: bool,
    pub reason: String,
}

fn aggregate(errors: &[Arc<str>]) -> String {
    match errors {
        [] => String::new(),
        [one] => one.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn describe_subject(subject: &Subject, binding_namespace: &str) -> String {
    match subject.kind.as_str() {
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            format!("ServiceAccount \"{}/{ns}\"", subject.name)
        }
        kind => format!("{kind} \"{}\"", subject.name),
    }
}

impl Snapshot {
    /// Compile the stored RBAC objects.
    pub fn from_store(store: &Store, revision: u64) -> Self {
        let (objects, _, _) = store.list(RBAC_KEY_PREFIX, None, |_| true, None);
        let mut by_kind: HashMap<&str, Vec<&[u8]>> = HashMap::new();
        for o in &objects {
            let kind = o.key[RBAC_KEY_PREFIX.len()..]
                .split('/')
                .next()
                .unwrap_or_default();
            by_kind.entry(kind).or_default().push(&o.raw);
        }
        let parse = |kind: &str| -> Vec<serde_json::Value> {
            by_kind
                .get(kind)
                .map(|raws| {
                    raws.iter()
                        .filter_map(|r| serde_json::from_slice(r).ok())
                        .collect()
                })
                .unwrap_or_default()
        };
        Self::build(
            revision,
            &parse("roles"),
            &parse("clusterroles"),
            &parse("rolebindings"),
            &parse("clusterrolebindings"),
        )
    }

    /// Compile RBAC objects given as JSON (bindings in the order kube lists them).
    pub fn build(
        revision: u64,
        roles: &[serde_json::Value],
        cluster_roles: &[serde_json::Value],
        role_bindings: &[serde_json::Value],
        cluster_role_bindings: &[serde_json::Value],
    ) -> Self {
        let mut index = RoleIndex::default();
        for (objects, cluster) in [(roles, false), (cluster_roles, true)] {
            for o in objects {
                let Ok(role) = RoleObject::deserialize(o) else {
                    continue;
                };
                let ns = if cluster {
                    ""
                } else {
                    &role.metadata.namespace
                };
                index.insert(ns, &role.metadata.name, role.rules.unwrap_or_default());
            }
        }
        let mut snapshot = Snapshot {
            revision,
            roles: index,
            ..Default::default()
        };
        let bindings = cluster_role_bindings
            .iter()
            .map(|b| (b, true))
            .chain(role_bindings.iter().map(|b| (b, false)));
        for (position, (object, cluster)) in bindings.enumerate() {
            let Ok(binding) = BindingObject::deserialize(object) else {
                continue;
            };
            let binding_ns = if cluster {
                ""
            } else {
                binding.metadata.namespace.as_str()
            };
            let rules = snapshot
                .roles
                .rules_of(&binding.role_ref, binding_ns)
                .map_err(Arc::from);
            let namespace: Option<Arc<str>> = (!cluster).then(|| Arc::from(binding_ns));
            for (i, subject) in binding.subjects.iter().flatten().enumerate() {
                let (map, key) = match subject.kind.as_str() {
                    "User" => (&mut snapshot.users, subject.name.clone()),
                    "Group" => (&mut snapshot.groups, subject.name.clone()),
                    "ServiceAccount" => {
                        let ns = subject
                            .namespace
                            .as_deref()
                            .filter(|n| !n.is_empty())
                            .unwrap_or(binding_ns);
                        if ns.is_empty() {
                            continue;
                        }
                        (
                            &mut snapshot.users,
                            format!("{SERVICE_ACCOUNT_PREFIX}{ns}:{}", subject.name),
                        )
                    }
                    _ => continue,
                };
                let source = if cluster {
                    format!(
                        "ClusterRoleBinding \"{}\" of {} \"{}\" to {}",
                        binding.metadata.name,
                        binding.role_ref.kind,
                        binding.role_ref.name,
                        describe_subject(subject, "")
                    )
                } else {
                    format!(
                        "RoleBinding \"{}/{binding_ns}\" of {} \"{}\" to {}",
                        binding.metadata.name,
                        binding.role_ref.kind,
                        binding.role_ref.name,
                        describe_subject(subject, binding_ns)
                    )
                };
                map.entry(key).or_default().push(Grant {
                    binding: position,
                    subject: i,
                    namespace: namespace.clone(),
                    rules: rules.clone(),
                    source: source.into(),
                });
            }
        }
        snapshot
    }

    /// The roles' rules, for escalation checks of bindings.
    pub fn roles(&self) -> &RoleIndex {
        &self.roles
    }

    fn candidates<'a>(&'a self, user: &'a UserInfo) -> impl Iterator<Item = &'a Grant> + 'a {
        self.users.get(&user.name).into_iter().flatten().chain(
            user.groups
                .iter()
                .filter_map(|g| self.groups.get(g))
                .flatten(),
        )
    }

    /// The bindings that apply to `user` in `namespace`, once each, in kube's visiting order.
    fn applicable<'a>(&'a self, user: &'a UserInfo, namespace: &str) -> Vec<&'a Grant> {
        let mut grants: Vec<&Grant> = self
            .candidates(user)
            .filter(|g| g.applies_in(namespace))
            .collect();
        grants.sort_by_key(|g| (g.binding, g.subject));
        grants.dedup_by_key(|g| g.binding);
        grants
    }

    /// Whether any rule bound to `user` allows the request (the per-request fast path).
    pub fn allows(&self, user: &UserInfo, attributes: &Attributes) -> bool {
        let namespace = attributes
            .resource
            .as_ref()
            .map(|r| r.namespace.as_str())
            .unwrap_or_default();
        self.candidates(user).any(|g| {
            g.applies_in(namespace)
                && g.rules
                    .as_ref()
                    .is_ok_and(|rules| rules.iter().any(|r| r.allows(attributes)))
        })
    }

    /// kube's RBAC `Authorize`: allowed with the binding that allows it as the reason, or not,
    /// with the bindings that could not be resolved as the reason.
    pub fn evaluate(&self, user: &UserInfo, attributes: &Attributes) -> Evaluation {
        let namespace = attributes
            .resource
            .as_ref()
            .map(|r| r.namespace.as_str())
            .unwrap_or_default();
        let mut errors = Vec::new();
        for grant in self.applicable(user, namespace) {
            match &grant.rules {
                Ok(rules) if rules.iter().any(|r| r.allows(attributes)) => {
                    return Evaluation {
                        allowed: true,
                        reason: format!("RBAC: allowed by {}", grant.source),
                    };
                }
                Ok(_) => {}
                Err(e) => errors.push(e.clone()),
            }
        }
        Evaluation {
            allowed: false,
            reason: if errors.is_empty() {
                String::new()
            } else {
                format!("RBAC: {}", aggregate(&errors))
            },
        }
    }

    /// kube's `RulesFor`: every rule bound to `user` in `namespace` (ClusterRoleBindings' and,
    /// with a namespace, its RoleBindings'), and the resolution errors, aggregated.
    pub fn rules_for(&self, user: &UserInfo, namespace: &str) -> (Vec<PolicyRule>, Option<String>) {
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for grant in self.applicable(user, namespace) {
            match &grant.rules {
                Ok(r) => rules.extend(r.iter().cloned()),
                Err(e) => errors.push(e.clone()),
            }
        }
        let error = (!errors.is_empty()).then(|| aggregate(&errors));
        (rules, error)
    }
}

/// The compiled RBAC objects of one store, compiled again when an RBAC object changes.
pub struct RbacCache {
    store: Arc<Store>,
    current: RwLock<Arc<Snapshot>>,
    rebuilding: Mutex<()>,
}

impl RbacCache {
    pub fn new(store: Arc<Store>) -> Self {
        RbacCache {
            store,
            current: RwLock::new(Arc::new(Snapshot {
                // Never a store's RBAC revision: the first request compiles.
                revision: u64::MAX,
                ..Default::default()
            })),
            rebuilding: Mutex::new(()),
        }
    }

    /// The snapshot at the store's current RBAC revision.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let revision = self.store.rbac_revision();
        {
            let current = self.current.read();
            if current.revision == revision {
                return current.clone();
            }
        }
        // One request compiles; the others wait for it rather than compile the same again.
        let _one = self.rebuilding.lock();
        let revision = self.store.rbac_revision();
        {
            let current = self.current.read();
            if current.revision == revision {
                return current.clone();
            }
        }
        let snapshot = Arc::new(Snapshot::from_store(&self.store, revision));
        *self.current.write() = snapshot.clone();
        snapshot
    }
}

/// kube's `Covers` (component-helpers auth/rbac/validation): whether `owner` rules grant
/// everything `servant` rules do; if not, the atomic rules not covered.
pub fn covers(owner: &[PolicyRule], servant: &[PolicyRule]) -> (bool, Vec<PolicyRule>) {
    let uncovered: Vec<PolicyRule> = servant
        .iter()
        .flat_map(breakdown)
        .filter(|sub| !owner.iter().any(|o| rule_covers(o, sub)))
        .collect();
    (uncovered.is_empty(), uncovered)
}

/// One rule per group, resource, verb and name (and per URL and verb).
fn breakdown(rule: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| vec![s.clone()];
    let mut out = Vec::new();
    for group in &rule.api_groups {
        for resource in &rule.resources {
            for verb in &rule.verbs {
                let base = PolicyRule {
                    api_groups: one(group),
                    resources: one(resource),
                    verbs: one(verb),
                    ..Default::default()
                };
                if rule.resource_names.is_empty() {
                    out.push(base);
                } else {
                    for name in &rule.resource_names {
                        out.push(PolicyRule {
                            resource_names: one(name),
                            ..base.clone()
                        });
                    }
                }
            }
        }
    }
    for url in &rule.non_resource_urls {
        for verb in &rule.verbs {
            out.push(PolicyRule {
                non_resource_urls: one(url),
                verbs: one(verb),
                ..Default::default()
            });
        }
    }
    out
}

fn has_all(set: &[String], wanted: &[String]) -> bool {
    wanted.iter().all(|w| has(set, w))
}

fn rule_covers(owner: &PolicyRule, sub: &PolicyRule) -> bool {
    let verbs = has(&owner.verbs, "*") || has_all(&owner.verbs, &sub.verbs);
    let groups = has(&owner.api_groups, "*") || has_all(&owner.api_groups, &sub.api_groups);
    let resources = has(&owner.resources, "*")
        || sub.resources.iter().all(|path| {
            has(&owner.resources, path)
                || path
                    .split_once('/')
                    .is_some_and(|(_, s)| has(&owner.resources, &format!("*/{s}")))
        });
    let urls = sub.non_resource_urls.iter().all(|path| {
        owner
            .non_resource_urls
            .iter()
            .any(|o| o == path || (o.ends_with('*') && path.starts_with(o.trim_end_matches('*'))))
    });
    let names = owner.resource_names.is_empty()
        || (!sub.resource_names.is_empty() && has_all(&owner.resource_names, &sub.resource_names));
    verbs && groups && resources && names && urls
}

/// kube's `CompactRules`: simple rules (one group, one resource, at most one name) that differ
/// only by verb become one rule.
pub fn compact(rules: Vec<PolicyRule>) -> Vec<PolicyRule> {
    let mut out: Vec<PolicyRule> = Vec::new();
    let mut simple: Vec<PolicyRule> = Vec::new();
    for rule in rules {
        let is_simple = rule.resource_names.len() <= 1
            && rule.non_resource_urls.is_empty()
            && rule.api_groups.len() == 1
            && rule.resources.len() == 1;
        if !is_simple {
            out.push(rule);
            continue;
        }
        match simple.iter_mut().find(|s| {
            s.api_groups == rule.api_groups
                && s.resources == rule.resources
                && s.resource_names == rule.resource_names
        }) {
            Some(existing) => existing.verbs.extend(rule.verbs),
            None => simple.push(rule),
        }
    }
    out.extend(simple);
    out
}

/// Go's `%q` of a string slice: `["a" "b"]`.
pub fn go_quoted(values: &[String]) -> String {
    let quoted: Vec<String> = values
        .iter()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
        .collect();
    format!("[{}]", quoted.join(" "))
}

/// kube's `CompactString` of a rule, as escalation errors list missing rules.
pub fn compact_string(rule: &PolicyRule) -> String {
    let mut parts = Vec::new();
    for (name, values) in [
        ("APIGroups", &rule.api_groups),
        ("Resources", &rule.resources),
        ("NonResourceURLs", &rule.non_resource_urls),
        ("ResourceNames", &rule.resource_names),
        ("Verbs", &rule.verbs),
    ] {
        if !values.is_empty() {
            parts.push(format!("{name}:{}", go_quoted(values)));
        }
    }
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::auth::ResourceAttributes;

    fn rule(v: serde_json::Value) -> PolicyRule {
        serde_json::from_value(v).unwrap()
    }

    fn request(
        verb: &str,
        group: &str,
        resource: &str,
        sub: &str,
        ns: &str,
        name: &str,
    ) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource: Some(ResourceAttributes {
                group: group.into(),
                version: "v1".into(),
                resource: resource.into(),
                subresource: sub.into(),
                namespace: ns.into(),
                name: name.into(),
            }),
            path: String::new(),
        }
    }

    fn path(verb: &str, path: &str) -> Attributes {
        Attributes {
            verb: verb.into(),
            resource: None,
            path: path.into(),
        }
    }

    #[test]
    fn verbs_groups_and_resources_match_exactly_or_by_star() {
        let r = rule(
            json!({"verbs": ["get", "list"], "apiGroups": ["", "apps"], "resources": ["pods", "deployments"]}),
        );
        assert!(r.allows(&request("get", "", "pods", "", "ns", "p")));
        assert!(r.allows(&request("list", "apps", "deployments", "", "ns", "")));
        assert!(!r.allows(&request("watch", "", "pods", "", "ns", "")));
        assert!(!r.allows(&request("get", "batch", "pods", "", "ns", "p")));
        assert!(!r.allows(&request("get", "", "services", "", "ns", "s")));
        // A resource does not grant its subresources.
        assert!(!r.allows(&request("get", "", "pods", "log", "ns", "p")));
        let all = rule(json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
        assert!(all.allows(&request("escalate", "x.io", "things", "status", "", "t")));
        // Resource rules never match non-resource requests, and the other way round.
        assert!(!all.allows(&path("get", "/metrics")));
        let urls = rule(json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
        assert!(!urls.allows(&request("get", "", "pods", "", "ns", "p")));
    }

    #[test]
    fn subresources_match_exactly_or_by_star_slash() {
        let r = rule(
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log", "*/status"]}),
        );
        assert!(r.allows(&request("get", "", "pods", "log", "ns", "p")));
        assert!(!r.allows(&request("get", "", "pods", "", "ns", "p")));
        assert!(!r.allows(&request("get", "", "services", "log", "ns", "p")));
        assert!(r.allows(&request("get", "", "services", "status", "ns", "s")));
        assert!(r.allows(&request("get", "", "pods", "status", "ns", "s")));
        assert!(!r.allows(&request("get", "", "pods", "statuses", "ns", "s")));
        // `*/status` is not a resource named `*`.
        assert!(!r.allows(&request("get", "", "status", "", "ns", "s")));
    }

    #[test]
    fn resource_names_never_match_requests_without_a_name() {
        let r = rule(
            json!({"verbs": ["get", "list", "create", "update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a", "b"]}),
        );
        assert!(r.allows(&request("get", "", "configmaps", "", "ns", "a")));
        assert!(r.allows(&request("update", "", "configmaps", "", "ns", "b")));
        assert!(!r.allows(&request("get", "", "configmaps", "", "ns", "c")));
        assert!(!r.allows(&request("list", "", "configmaps", "", "ns", "")));
        assert!(!r.allows(&request("create", "", "configmaps", "", "ns", "")));
        // An empty list is no restriction.
        let any = rule(
            json!({"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": []}),
        );
        assert!(any.allows(&request("list", "", "configmaps", "", "ns", "")));
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_trailing_star() {
        let r = rule(
            json!({"verbs": ["get"], "nonResourceURLs": ["/healthz", "/apis/*", "/openapi*"]}),
        );
        assert!(r.allows(&path("get", "/healthz")));
        assert!(!r.allows(&path("get", "/healthz/etcd")));
        assert!(!r.allows(&path("post", "/healthz")));
        assert!(r.allows(&path("get", "/apis/apps")));
        assert!(r.allows(&path("get", "/apis/")));
        assert!(!r.allows(&path("get", "/apis")));
        assert!(r.allows(&path("get", "/openapi/v2")));
        assert!(r.allows(&path("get", "/openapi")));
        assert!(!r.allows(&path("get", "/metrics")));
    }

    fn snapshot() -> Snapshot {
        Snapshot::build(
            1,
            &[
                json!({"metadata": {"name": "cm-reader", "namespace": "team"}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]}),
            ],
            &[
                json!({"metadata": {"name": "pod-reader"}, "rules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}]}),
                json!({"metadata": {"name": "node-reader"}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["nodes"]}]}),
            ],
            &[
                json!({"metadata": {"name": "rb", "namespace": "team"}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "cm-reader"},
                       "subjects": [{"kind": "User", "name": "bob"}, {"kind": "ServiceAccount", "name": "sa"}]}),
                json!({"metadata": {"name": "pods", "namespace": "team"}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "pod-reader"},
                       "subjects": [{"kind": "Group", "name": "devs"}]}),
                json!({"metadata": {"name": "broken", "namespace": "team"}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "Role", "name": "missing"},
                       "subjects": [{"kind": "User", "name": "bob"}]}),
            ],
            &[
                json!({"metadata": {"name": "nodes"}, "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "node-reader"},
                     "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": "infra"}, {"kind": "ServiceAccount", "name": "nons"}]}),
            ],
        )
    }

    #[test]
    fn bindings_apply_to_their_subjects_in_their_namespace() {
        let s = snapshot();
        let bob = UserInfo::new("bob", vec![]);
        let dev = UserInfo::new("carol", vec!["devs".into()]);
        let sa = UserInfo::new("system:serviceaccount:team:sa", vec![]);
        let agent = UserInfo::new("system:serviceaccount:infra:agent", vec![]);
        assert!(s.allows(&bob, &request("get", "", "configmaps", "", "team", "c")));
        assert!(!s.allows(&bob, &request("get", "", "configmaps", "", "other", "c")));
        assert!(!s.allows(&bob, &request("list", "", "configmaps", "", "", "")));
        // A RoleBinding to a ClusterRole grants it in the binding's namespace only.
        assert!(s.allows(&dev, &request("list", "", "pods", "", "team", "")));
        assert!(!s.allows(&dev, &request("list", "", "pods", "", "", "")));
        assert!(!s.allows(&dev, &request("list", "", "pods", "", "other", "")));
        // A ServiceAccount subject without namespace is the binding's namespace's.
        assert!(s.allows(&sa, &request("get", "", "configmaps", "", "team", "c")));
        assert!(s.allows(&agent, &request("get", "", "nodes", "", "", "n")));
        // ...and in a ClusterRoleBinding it names nobody.
        let nons = UserInfo::new("system:serviceaccount::nons", vec![]);
        assert!(!s.allows(&nons, &request("get", "", "nodes", "", "", "n")));
        assert!(!s.allows(
            &UserInfo::new("devs", vec![]),
            &request("list", "", "pods", "", "team", "")
        ));
    }

    #[test]
    fn evaluation_gives_kubes_reasons() {
        let s = snapshot();
        let bob = UserInfo::new("bob", vec![]);
        assert_eq!(
            s.evaluate(&bob, &request("get", "", "configmaps", "", "team", "c")),
            Evaluation {
                allowed: true,
                reason:
                    "RBAC: allowed by RoleBinding \"rb/team\" of Role \"cm-reader\" to User \"bob\""
                        .into()
            }
        );
        assert_eq!(
            s.evaluate(&bob, &request("get", "", "secrets", "", "team", "c")),
            Evaluation {
                allowed: false,
                reason: "RBAC: role.rbac.authorization.k8s.io \"missing\" not found".into()
            }
        );
        // The broken binding is not visited outside its namespace.
        assert_eq!(
            s.evaluate(&bob, &request("get", "", "secrets", "", "other", "c"))
                .reason,
            ""
        );
        let agent = UserInfo::new("system:serviceaccount:infra:agent", vec![]);
        assert_eq!(
            s.evaluate(&agent, &request("get", "", "nodes", "", "", "n"))
                .reason,
            "RBAC: allowed by ClusterRoleBinding \"nodes\" of ClusterRole \"node-reader\" to ServiceAccount \"agent/infra\""
        );
        let (rules, error) = s.rules_for(&bob, "team");
        assert_eq!(rules.len(), 1);
        assert_eq!(
            error.as_deref(),
            Some("role.rbac.authorization.k8s.io \"missing\" not found")
        );
    }

    #[test]
    fn covers_breaks_rules_down_and_honours_names_and_subresources() {
        let owner = vec![
            rule(
                json!({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "*/status"]}),
            ),
            rule(
                json!({"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}),
            ),
            rule(json!({"verbs": ["get"], "nonResourceURLs": ["/apis/*"]})),
        ];
        let ok = |servant: serde_json::Value| covers(&owner, &[rule(servant)]).0;
        assert!(ok(
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]})
        ));
        assert!(ok(
            json!({"verbs": ["list"], "apiGroups": [""], "resources": ["services/status"]})
        ));
        assert!(!ok(
            json!({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]})
        ));
        assert!(ok(
            json!({"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]})
        ));
        assert!(!ok(
            json!({"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"]})
        ));
        assert!(!ok(
            json!({"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a", "b"]})
        ));
        assert!(ok(
            json!({"verbs": ["get"], "nonResourceURLs": ["/apis/apps"]})
        ));
        assert!(!ok(json!({"verbs": ["get"], "nonResourceURLs": ["/api"]})));
        assert!(!ok(
            json!({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]})
        ));
        let (covered, missing) = covers(
            &owner,
            &[rule(
                json!({"verbs": ["get", "delete", "watch"], "apiGroups": ["", "apps"], "resources": ["pods"]}),
            )],
        );
        assert!(!covered);
        let described: Vec<String> = compact(missing).iter().map(compact_string).collect();
        assert_eq!(
            described,
            vec![
                "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\" \"watch\"]}",
                "{APIGroups:[\"apps\"], Resources:[\"pods\"], Verbs:[\"get\" \"delete\" \"watch\"]}",
            ]
        );
    }
}
