//! kube-apiserver's default RBAC policy (plugin/pkg/auth/authorizer/rbac/bootstrappolicy): the
//! ClusterRoles and ClusterRoleBindings every cluster starts with, reconciled at start as
//! kube-apiserver does (missing ones created, missing rules and subjects added unless the object
//! is annotated `rbac.authorization.kubernetes.io/autoupdate: "false"`), and ClusterRole
//! aggregation (kube-controller-manager's clusterrole-aggregation controller).
//!
//! Not every `system:controller:*` role is reproduced: devcluster runs no kube-controller-manager.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::rbac::{PolicyRule, RBAC_GROUP, covers};
use crate::error::{ApiError, Error};
use crate::registry::ResourceType;
use crate::rest::{Rest, WriteOptions};

pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";
const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";
const AGGREGATE_TO_ADMIN: &str = "rbac.authorization.k8s.io/aggregate-to-admin";
const AGGREGATE_TO_EDIT: &str = "rbac.authorization.k8s.io/aggregate-to-edit";
const AGGREGATE_TO_VIEW: &str = "rbac.authorization.k8s.io/aggregate-to-view";
/// The storage key prefix of ClusterRoles.
pub const CLUSTER_ROLES_PREFIX: &str = "rbac.authorization.k8s.io/clusterroles/";

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn rule(verbs: &[&str], groups: &[&str], resources: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        api_groups: strings(groups),
        resources: strings(resources),
        ..Default::default()
    }
}

fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: strings(verbs),
        non_resource_urls: strings(urls),
        ..Default::default()
    }
}

fn metadata(name: &str, labels: &[(&str, &str)]) -> Value {
    let mut all: BTreeMap<&str, &str> = labels.iter().copied().collect();
    all.insert(BOOTSTRAPPING_LABEL, "rbac-defaults");
    json!({"name": name, "labels": all, "annotations": {AUTOUPDATE_ANNOTATION: "true"}})
}

fn cluster_role(name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": metadata(name, labels), "rules": rules,
    })
}

fn aggregated(name: &str, labels: &[(&str, &str)], aggregate_label: &str) -> Value {
    let mut role = cluster_role(name, labels, Vec::new());
    role["aggregationRule"] =
        json!({"clusterRoleSelectors": [{"matchLabels": {aggregate_label: "true"}}]});
    role
}

fn binding(role: &str, subjects: &[(&str, &str)]) -> Value {
    let subjects: Vec<Value> = subjects
        .iter()
        .map(|(kind, name)| match *kind {
            "ServiceAccount" => {
                let (ns, sa) = name.split_once('/').unwrap_or_default();
                json!({"kind": kind, "name": sa, "namespace": ns})
            }
            _ => json!({"apiGroup": RBAC_GROUP, "kind": kind, "name": name}),
        })
        .collect();
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": metadata(role, &[]),
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
        "subjects": subjects,
    })
}

/// The default ClusterRoles (aggregated ones with empty rules; see [`default_policy`]).
fn cluster_roles() -> Vec<Value> {
    let core = "";
    vec![
        cluster_role(
            "cluster-admin",
            &[],
            vec![rule(&["*"], &["*"], &["*"]), urls(&["*"], &["*"])],
        ),
        cluster_role(
            "system:discovery",
            &[],
            vec![urls(
                &["get"],
                &[
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ],
            )],
        ),
        cluster_role(
            "system:basic-user",
            &[],
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                ),
                rule(
                    &["create"],
                    &["authentication.k8s.io"],
                    &["selfsubjectreviews"],
                ),
            ],
        ),
        cluster_role(
            "system:public-info-viewer",
            &[],
            vec![urls(
                &["get"],
                &["/healthz", "/livez", "/readyz", "/version", "/version/"],
            )],
        ),
        cluster_role(
            "system:service-account-issuer-discovery",
            &[],
            vec![urls(
                &["get"],
                &["/.well-known/openid-configuration", "/openid/v1/jwks"],
            )],
        ),
        cluster_role(
            "system:monitoring",
            &[],
            vec![urls(
                &["get"],
                &[
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/metrics",
                    "/metrics/slis",
                    "/readyz",
                    "/readyz/*",
                ],
            )],
        ),
        cluster_role(
            "system:auth-delegator",
            &[],
            vec![
                rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["subjectaccessreviews"],
                ),
            ],
        ),
        aggregated("admin", &[], AGGREGATE_TO_ADMIN),
        aggregated("edit", &[(AGGREGATE_TO_ADMIN, "true")], AGGREGATE_TO_EDIT),
        aggregated("view", &[(AGGREGATE_TO_EDIT, "true")], AGGREGATE_TO_VIEW),
        cluster_role(
            "system:aggregate-to-admin",
            &[(AGGREGATE_TO_ADMIN, "true")],
            vec![
                rule(
                    &["create"],
                    &["authorization.k8s.io"],
                    &["localsubjectaccessreviews"],
                ),
                rule(READ_WRITE, &[RBAC_GROUP], &["rolebindings", "roles"]),
            ],
        ),
        cluster_role(
            "system:aggregate-to-edit",
            &[(AGGREGATE_TO_EDIT, "true")],
            vec![
                rule(
                    READ,
                    &[core],
                    &[
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                        "secrets",
                        "services/proxy",
                    ],
                ),
                rule(&["impersonate"], &[core], &["serviceaccounts"]),
                rule(
                    WRITE,
                    &[core],
                    &[
                        "pods",
                        "pods/attach",
                        "pods/exec",
                        "pods/portforward",
                        "pods/proxy",
                    ],
                ),
                rule(
                    WRITE,
                    &[core],
                    &[
                        "configmaps",
                        "persistentvolumeclaims",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "secrets",
                        "serviceaccounts",
                        "services",
                        "services/proxy",
                    ],
                ),
                rule(
                    WRITE,
                    &["apps"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "replicasets",
                        "replicasets/scale",
                        "statefulsets",
                        "statefulsets/scale",
                    ],
                ),
                rule(WRITE, &["autoscaling"], &["horizontalpodautoscalers"]),
                rule(WRITE, &["batch"], &["cronjobs", "jobs"]),
                rule(
                    WRITE,
                    &["extensions"],
                    &[
                        "daemonsets",
                        "deployments",
                        "deployments/rollback",
                        "deployments/scale",
                        "ingresses",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicationcontrollers/scale",
                    ],
                ),
                rule(WRITE, &["policy"], &["poddisruptionbudgets"]),
                rule(
                    WRITE,
                    &["networking.k8s.io"],
                    &["ingresses", "networkpolicies"],
                ),
            ],
        ),
        cluster_role(
            "system:aggregate-to-view",
            &[(AGGREGATE_TO_VIEW, "true")],
            vec![
                rule(
                    READ,
                    &[core],
                    &[
                        "configmaps",
                        "endpoints",
                        "persistentvolumeclaims",
                        "persistentvolumeclaims/status",
                        "pods",
                        "replicationcontrollers",
                        "replicationcontrollers/scale",
                        "serviceaccounts",
                        "services",
                        "services/status",
                    ],
                ),
                rule(
                    READ,
                    &[core],
                    &[
                        "bindings",
                        "events",
                        "limitranges",
                        "namespaces/status",
                        "pods/log",
                        "pods/status",
                        "replicationcontrollers/status",
                        "resourcequotas",
                        "resourcequotas/status",
                    ],
                ),
                rule(READ, &[core], &["namespaces"]),
                rule(READ, &["discovery.k8s.io"], &["endpointslices"]),
                rule(
                    READ,
                    &["apps"],
                    &[
                        "controllerrevisions",
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "statefulsets",
                        "statefulsets/scale",
                        "statefulsets/status",
                    ],
                ),
                rule(
                    READ,
                    &["autoscaling"],
                    &[
                        "horizontalpodautoscalers",
                        "horizontalpodautoscalers/status",
                    ],
                ),
                rule(
                    READ,
                    &["batch"],
                    &["cronjobs", "cronjobs/status", "jobs", "jobs/status"],
                ),
                rule(
                    READ,
                    &["extensions"],
                    &[
                        "daemonsets",
                        "daemonsets/status",
                        "deployments",
                        "deployments/scale",
                        "deployments/status",
                        "ingresses",
                        "ingresses/status",
                        "networkpolicies",
                        "replicasets",
                        "replicasets/scale",
                        "replicasets/status",
                        "replicationcontrollers/scale",
                    ],
                ),
                rule(
                    READ,
                    &["policy"],
                    &["poddisruptionbudgets", "poddisruptionbudgets/status"],
                ),
                rule(
                    READ,
                    &["networking.k8s.io"],
                    &["ingresses", "ingresses/status", "networkpolicies"],
                ),
            ],
        ),
    ]
}

/// The default ClusterRoleBindings.
fn cluster_role_bindings() -> Vec<Value> {
    vec![
        binding("cluster-admin", &[("Group", "system:masters")]),
        binding("system:discovery", &[("Group", "system:authenticated")]),
        binding("system:basic-user", &[("Group", "system:authenticated")]),
        binding(
            "system:public-info-viewer",
            &[
                ("Group", "system:authenticated"),
                ("Group", "system:unauthenticated"),
            ],
        ),
        binding(
            "system:service-account-issuer-discovery",
            &[("Group", "system:serviceaccounts")],
        ),
        binding("system:monitoring", &[("Group", "system:monitoring")]),
    ]
}

/// [`default_policy`], computed once per process (devcluster starts hundreds of times in one).
static DEFAULT_POLICY: std::sync::LazyLock<(Vec<Value>, Vec<Value>)> =
    std::sync::LazyLock::new(default_policy);

/// The default ClusterRoles, aggregated ones with their aggregated rules, and the default
/// ClusterRoleBindings.
pub fn default_policy() -> (Vec<Value>, Vec<Value>) {
    let mut roles = cluster_roles();
    // Aggregated roles select each other (view into edit into admin): until nothing changes.
    for _ in 0..roles.len() {
        let mut changed = false;
        for i in 0..roles.len() {
            if let Some(rules) = aggregated_rules(&roles[i], &roles)
                && rules_of(&roles[i]) != rules
            {
                roles[i]["rules"] = json!(rules);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    (roles, cluster_role_bindings())
}

fn rules_of(role: &Value) -> Vec<PolicyRule> {
    serde_json::from_value(role["rules"].clone()).unwrap_or_default()
}

/// Whether `labels` match a `metav1.LabelSelector` (an empty selector matches everything).
fn selector_matches(selector: &Value, labels: &serde_json::Map<String, Value>) -> bool {
    let label = |k: &str| labels.get(k).and_then(Value::as_str);
    let by_label = selector["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| label(k) == v.as_str()));
    let by_expression = selector["matchExpressions"].as_array().is_none_or(|exprs| {
        exprs.iter().all(|e| {
            let key = e["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = e["values"]
                .as_array()
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            match e["operator"].as_str().unwrap_or_default() {
                "In" => label(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => label(key).is_some(),
                "DoesNotExist" => label(key).is_none(),
                _ => false,
            }
        })
    });
    by_label && by_expression
}

/// kube's clusterrole-aggregation controller: the rules of an aggregated ClusterRole (`None`
/// when it has no aggregationRule) are those of the ClusterRoles its selectors select, selector
/// by selector, by name, each rule once.
pub fn aggregated_rules(role: &Value, all: &[Value]) -> Option<Vec<PolicyRule>> {
    let selectors = role["aggregationRule"]["clusterRoleSelectors"].as_array();
    if role["aggregationRule"].is_null() {
        return None;
    }
    let name = role["metadata"]["name"].as_str().unwrap_or_default();
    let mut by_name: Vec<&Value> = all.iter().collect();
    by_name.sort_by_key(|r| r["metadata"]["name"].as_str().unwrap_or_default());
    let empty = serde_json::Map::new();
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in selectors.into_iter().flatten() {
        for other in &by_name {
            if other["metadata"]["name"].as_str() == Some(name) {
                continue;
            }
            let labels = other["metadata"]["labels"].as_object().unwrap_or(&empty);
            if !selector_matches(selector, labels) {
                continue;
            }
            for r in rules_of(other) {
                if !rules.contains(&r) {
                    rules.push(r);
                }
            }
        }
    }
    Some(rules)
}

fn cluster_role_types(rest: &Rest) -> (std::sync::Arc<ResourceType>, std::sync::Arc<ResourceType>) {
    let find = |plural| {
        rest.registry
            .find(RBAC_GROUP, "v1", plural)
            .expect("RBAC resources are built in")
    };
    (find("clusterroles"), find("clusterrolebindings"))
}

fn options() -> WriteOptions {
    WriteOptions {
        field_manager: "kube-apiserver".into(),
        ..Default::default()
    }
}

fn auto_updated(existing: &Value) -> bool {
    existing["metadata"]["annotations"][AUTOUPDATE_ANNOTATION].as_str() != Some("false")
}

/// kube-apiserver's reconcile of the default policy at start: creates what is missing (all of
/// it, concurrently, on a new store: the writes share one commit), and adds missing rules,
/// aggregation selectors and subjects to the defaults not annotated `autoupdate: "false"`.
pub async fn reconcile(rest: &Rest) -> Result<(), Error> {
    let (role_rt, binding_rt) = cluster_role_types(rest);
    let (roles, bindings) = DEFAULT_POLICY.clone();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    for (rt, expected) in roles
        .into_iter()
        .map(|r| (&role_rt, r))
        .chain(bindings.into_iter().map(|b| (&binding_rt, b)))
    {
        let name = expected["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match rest.store.get(&rt.key("", &name)) {
            None => creates.push((rt, expected)),
            Some(stored) => {
                let existing = stored.value();
                if auto_updated(&existing)
                    && let Some(updated) = reconciled(rt, &existing, &expected)
                {
                    updates.push((rt, name, updated));
                }
            }
        }
    }
    let opts = options();
    let created = futures::future::join_all(
        creates
            .iter()
            .map(|(rt, obj)| rest.create(rt, "", obj.clone(), &opts)),
    )
    .await;
    for result in created {
        match result {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => {
                return Err(Error::Storage(format!(
                    "creating the default RBAC policy: {e}"
                )));
            }
        }
    }
    for (rt, name, obj) in updates {
        match rest.update(rt, "", &name, None, obj, &opts).await {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(Error::Storage(format!("reconciling {name}: {e}"))),
        }
    }
    Ok(())
}

/// The existing default with what kube's reconcile adds (missing rules, selectors, subjects),
/// or `None` when nothing is missing.
fn reconciled(rt: &ResourceType, existing: &Value, expected: &Value) -> Option<Value> {
    let mut updated = existing.clone();
    let mut changed = false;
    if rt.plural == "clusterroles" {
        if expected["aggregationRule"].is_object() {
            let have = existing["aggregationRule"]["clusterRoleSelectors"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut selectors = have.clone();
            for s in expected["aggregationRule"]["clusterRoleSelectors"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if !selectors.contains(s) {
                    selectors.push(s.clone());
                }
            }
            if selectors != have {
                updated["aggregationRule"] = json!({"clusterRoleSelectors": selectors});
                changed = true;
            }
        } else {
            let mut rules = rules_of(existing);
            let (covered, missing) = covers(&rules, &rules_of(expected));
            if !covered {
                rules.extend(missing);
                updated["rules"] = json!(rules);
                changed = true;
            }
        }
    } else {
        let mut subjects = existing["subjects"].as_array().cloned().unwrap_or_default();
        for s in expected["subjects"].as_array().into_iter().flatten() {
            let same = |e: &Value| {
                e["kind"] == s["kind"] && e["name"] == s["name"] && e["namespace"] == s["namespace"]
            };
            if !subjects.iter().any(same) {
                subjects.push(s.clone());
                changed = true;
            }
        }
        updated["subjects"] = json!(subjects);
    }
    changed.then_some(updated)
}

/// One pass of the clusterrole-aggregation controller: every aggregated ClusterRole whose
/// selected rules changed is updated (conditionally: a concurrent change brings another pass).
pub async fn aggregate(rest: &Rest) {
    let (role_rt, _) = cluster_role_types(rest);
    let (stored, _, _) = rest.store.list(CLUSTER_ROLES_PREFIX, None, |_| true, None);
    let all: Vec<Value> = stored.iter().map(|s| s.value()).collect();
    for role in &all {
        let Some(rules) = aggregated_rules(role, &all) else {
            continue;
        };
        if rules_of(role) == rules {
            continue;
        }
        let mut updated = role.clone();
        updated["rules"] = json!(rules);
        let name = role["metadata"]["name"].as_str().unwrap_or_default();
        match rest
            .update(&role_rt, "", name, None, updated, &options())
            .await
        {
            Ok(_) => {}
            Err(ApiError {
                code: 409 | 404, ..
            }) => {}
            Err(e) => {
                tracing::warn!(clusterrole = name, error = %e, "aggregating ClusterRole rules")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role<'a>(roles: &'a [Value], name: &str) -> &'a Value {
        roles
            .iter()
            .find(|r| r["metadata"]["name"] == name)
            .unwrap()
    }

    #[test]
    fn admin_edit_and_view_aggregate_their_parts() {
        let (roles, bindings) = default_policy();
        let view = rules_of(role(&roles, "view"));
        let edit = rules_of(role(&roles, "edit"));
        let admin = rules_of(role(&roles, "admin"));
        assert_eq!(view, rules_of(role(&roles, "system:aggregate-to-view")));
        // edit has view's rules and its own; admin has edit's and its own.
        assert!(covers(&edit, &view).0 && !covers(&view, &edit).0);
        assert!(covers(&admin, &edit).0 && !covers(&edit, &admin).0);
        assert!(covers(&admin, &rules_of(role(&roles, "system:aggregate-to-admin"))).0);
        for r in roles.iter().chain(&bindings) {
            assert_eq!(r["metadata"]["annotations"][AUTOUPDATE_ANNOTATION], "true");
            assert_eq!(
                r["metadata"]["labels"][BOOTSTRAPPING_LABEL],
                "rbac-defaults"
            );
        }
    }

    #[test]
    fn aggregation_selects_by_labels_and_expressions_and_keeps_rules_once() {
        let part = |name: &str, labels: Value, verb: &str| json!({"metadata": {"name": name, "labels": labels}, "rules": [{"verbs": [verb], "apiGroups": [""], "resources": ["pods"]}]});
        let all = vec![
            json!({"metadata": {"name": "agg", "labels": {"x": "1"}}, "aggregationRule": {"clusterRoleSelectors": [
                {"matchLabels": {"x": "1"}},
                {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}]},
            ]}}),
            part("b", json!({"x": "1"}), "list"),
            part("a", json!({"x": "1"}), "get"),
            part("c", json!({"tier": "b", "x": "1"}), "get"),
            part("d", json!({"tier": "c"}), "delete"),
        ];
        let rules = aggregated_rules(&all[0], &all).unwrap();
        let verbs: Vec<&str> = rules.iter().map(|r| r.verbs[0].as_str()).collect();
        assert_eq!(verbs, vec!["get", "list"]);
        assert!(aggregated_rules(&all[1], &all).is_none());
        let no_selectors = json!({"metadata": {"name": "e"}, "aggregationRule": {}});
        assert_eq!(aggregated_rules(&no_selectors, &all), Some(vec![]));
    }

    #[test]
    fn reconcile_adds_missing_rules_and_subjects_only() {
        let roles = crate::registry::builtins();
        let role_rt = roles.iter().find(|r| r.plural == "clusterroles").unwrap();
        let binding_rt = roles
            .iter()
            .find(|r| r.plural == "clusterrolebindings")
            .unwrap();
        let (defaults, bindings) = default_policy();
        let expected = role(&defaults, "system:basic-user");
        let mut existing = expected.clone();
        existing["rules"] = json!([{"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews"]},
                                   {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}]);
        let updated = reconciled(role_rt, &existing, expected).unwrap();
        let rules = rules_of(&updated);
        assert_eq!(rules.len(), 4, "{rules:?}");
        assert!(covers(&rules, &rules_of(expected)).0);
        assert!(reconciled(role_rt, expected, expected).is_none());
        let expected = &bindings[0];
        let mut existing = expected.clone();
        existing["subjects"] = json!([{"kind": "User", "name": "root"}]);
        let updated = reconciled(binding_rt, &existing, expected).unwrap();
        assert_eq!(updated["subjects"].as_array().unwrap().len(), 2);
    }
}
