//! Escalation prevention of kube-apiserver's RBAC REST storage (pkg/registry/rbac): a user may
//! create or update a Role or ClusterRole only with every permission it grants (in that
//! namespace) or the `escalate` verb on it, and a RoleBinding or ClusterRoleBinding only with
//! every permission of the role it refers to or the `bind` verb on that role. Members of
//! `system:masters` are exempt.

use serde_json::Value;

use super::rbac::{PolicyRule, RBAC_GROUP, RoleRef, compact, compact_string, covers, go_quoted};
use super::{AccessLog, Attributes, Authorizer, Decision, ResourceAttributes, UserInfo};
use crate::error::ApiError;
use crate::registry::ResourceType;

/// Whether an object of `rt` is one whose writes are checked here.
pub fn is_checked(rt: &ResourceType) -> bool {
    rt.group == RBAC_GROUP
        && matches!(
            rt.plural.as_str(),
            "roles" | "clusterroles" | "rolebindings" | "clusterrolebindings"
        )
}

/// Whether `user` may `verb` the resource; an allowed `bind` or `escalate` is recorded in `log`
/// as the user's access (the grant was used, though by no request of its own).
fn allowed(
    authorizer: &Authorizer,
    log: &AccessLog,
    user: &UserInfo,
    verb: &str,
    resource: ResourceAttributes,
) -> bool {
    let attributes = Attributes {
        verb: verb.into(),
        resource: Some(resource),
        path: String::new(),
    };
    let allow = authorizer.authorize(user, &attributes) == Decision::Allow;
    if allow {
        log.record(user, &attributes);
    }
    allow
}

/// kube's `ConfirmNoEscalation`: the user's rules in `namespace` cover `rules`, or the message
/// of the 403 that says which are missing.
fn confirm_no_escalation(
    authorizer: &Authorizer,
    user: &UserInfo,
    namespace: &str,
    rules: &[PolicyRule],
) -> Result<(), String> {
    let (owned, resolution_error) = authorizer.rules_for(user, namespace);
    let (covered, missing) = covers(&owned, rules);
    if covered {
        return Ok(());
    }
    let mut described: Vec<String> = compact(missing).iter().map(compact_string).collect();
    described.sort();
    described.dedup();
    let mut message = format!(
        "user \"{}\" (groups={}) is attempting to grant RBAC permissions not currently held:\n{}",
        user.name,
        go_quoted(&user.groups),
        described.join("\n")
    );
    if let Some(e) = resolution_error {
        message.push_str(&format!("; resolution errors: [{e}]"));
    }
    Err(message)
}

fn forbidden(rt: &ResourceType, name: &str, message: &str) -> ApiError {
    ApiError::forbidden(format!(
        "{} \"{name}\" is forbidden: {message}",
        crate::error::qualified(&rt.group, &rt.plural)
    ))
    .with_details(&rt.group, &rt.plural, name)
}

/// Check the final object of a create or update of an RBAC object by `user`; `request` is the
/// request's own attributes (its name is what an `escalate` grant's resourceNames match).
pub fn check(
    authorizer: &Authorizer,
    log: &AccessLog,
    user: &UserInfo,
    request: &Attributes,
    rt: &ResourceType,
    namespace: &str,
    object: &Value,
) -> Result<(), ApiError> {
    if user.is_superuser() || !is_checked(rt) {
        return Ok(());
    }
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = if rt.namespaced { namespace } else { "" };
    match rt.plural.as_str() {
        "roles" | "clusterroles" => {
            let request_name = request
                .resource
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default();
            let escalate = ResourceAttributes {
                group: rt.group.clone(),
                version: "*".into(),
                resource: rt.plural.clone(),
                subresource: String::new(),
                namespace: namespace.into(),
                name: request_name,
            };
            if allowed(authorizer, log, user, "escalate", escalate) {
                return Ok(());
            }
            let rules: Vec<PolicyRule> =
                serde_json::from_value(object["rules"].clone()).unwrap_or_default();
            confirm_no_escalation(authorizer, user, namespace, &rules)
                .map_err(|m| forbidden(rt, name, &m))?;
            if rt.plural == "clusterroles" && object["aggregationRule"].is_object() {
                let full_authority = [
                    PolicyRule {
                        verbs: vec!["*".into()],
                        api_groups: vec!["*".into()],
                        resources: vec!["*".into()],
                        ..Default::default()
                    },
                    PolicyRule {
                        verbs: vec!["*".into()],
                        non_resource_urls: vec!["*".into()],
                        ..Default::default()
                    },
                ];
                confirm_no_escalation(authorizer, user, namespace, &full_authority).map_err(
                    |_| {
                        forbidden(
                            rt,
                            name,
                            "must have cluster-admin privileges to use the aggregationRule",
                        )
                    },
                )?;
            }
            Ok(())
        }
        _ => {
            let role_ref: RoleRef =
                serde_json::from_value(object["roleRef"].clone()).unwrap_or_default();
            let resource = match role_ref.kind.as_str() {
                "ClusterRole" => Some("clusterroles"),
                "Role" => Some("roles"),
                _ => None,
            };
            if let Some(resource) = resource {
                let bind = ResourceAttributes {
                    group: role_ref.api_group.clone(),
                    version: String::new(),
                    resource: resource.into(),
                    subresource: String::new(),
                    namespace: namespace.into(),
                    name: role_ref.name.clone(),
                };
                if allowed(authorizer, log, user, "bind", bind) {
                    return Ok(());
                }
            }
            let rules = authorizer
                .snapshot()
                .roles()
                .rules_of(&role_ref, namespace)
                .map_err(|message| {
                    let singular = if role_ref.kind == "Role" {
                        "role"
                    } else {
                        "clusterrole"
                    };
                    ApiError::new(404, "NotFound", message).with_details(
                        RBAC_GROUP,
                        singular,
                        &role_ref.name,
                    )
                })?;
            confirm_no_escalation(authorizer, user, namespace, &rules)
                .map_err(|m| forbidden(rt, name, &m))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::storage::{Expect, Store, WriteOp};

    fn types() -> Vec<ResourceType> {
        crate::registry::builtins()
            .into_iter()
            .filter(is_checked)
            .collect()
    }

    async fn put(store: &Store, key: &str, object: Value) {
        store
            .write(WriteOp::Put {
                key: key.into(),
                object,
                expect: Expect::Absent,
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn grants_need_held_permissions_or_escalate_and_bind() {
        let store = Store::in_memory(Default::default());
        put(&store, "rbac.authorization.k8s.io/roles/ns/mgr", json!({"metadata": {"name": "mgr", "namespace": "ns"}, "rules": [
            {"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]},
            {"verbs": ["bind"], "apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "resourceNames": ["view"]},
        ]})).await;
        put(
            &store,
            "rbac.authorization.k8s.io/rolebindings/ns/mgr",
            json!({"metadata": {"name": "mgr", "namespace": "ns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mgr"},
            "subjects": [{"kind": "User", "name": "bob"}]}),
        )
        .await;
        put(
            &store,
            "rbac.authorization.k8s.io/clusterroles//edit",
            json!({"metadata": {"name": "edit"}, "rules": [
            {"verbs": ["delete"], "apiGroups": [""], "resources": ["secrets"]}]}),
        )
        .await;
        let authorizer = Authorizer::new(Arc::clone(&store));
        let bob = UserInfo::new("bob", vec!["system:authenticated".into()]);
        let all = types();
        let rt = |plural: &str| all.iter().find(|t| t.plural == plural).unwrap();
        let create = Attributes {
            verb: "create".into(),
            resource: None,
            path: String::new(),
        };
        let log = AccessLog::new(true);
        let check = |plural: &str, ns: &str, obj: Value| {
            check(&authorizer, &log, &bob, &create, rt(plural), ns, &obj)
        };
        let getter = json!({"metadata": {"name": "r"}, "rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["configmaps"]}]});
        assert!(check("roles", "ns", getter.clone()).is_ok());
        // The same rules outside the namespace where bob holds them.
        let e = check("roles", "other", getter).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "roles.rbac.authorization.k8s.io \"r\" is forbidden: user \"bob\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[\"\"], Resources:[\"configmaps\"], Verbs:[\"get\"]}"
        );
        let aggregating =
            json!({"metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": []}});
        assert_eq!(
            check("clusterroles", "", aggregating).unwrap_err().message,
            "clusterroles.rbac.authorization.k8s.io \"agg\" is forbidden: must have cluster-admin privileges to use the aggregationRule"
        );
        let to = |kind: &str, name: &str| json!({"metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name}});
        // `bind` on view (resourceNames) though bob does not hold view's rules (none stored).
        assert!(check("rolebindings", "ns", to("ClusterRole", "view")).is_ok());
        // The bind grant counts as used (the least-privilege tests read the log).
        assert!(
            log.of_user("bob")
                .contains(&super::super::AccessRecord::resource(
                    "bind",
                    RBAC_GROUP,
                    "clusterroles",
                    "",
                    "ns",
                    "view"
                ))
        );
        assert!(check("rolebindings", "ns", to("Role", "mgr")).is_ok());
        let e = check("rolebindings", "ns", to("ClusterRole", "edit")).unwrap_err();
        assert_eq!(e.code, 403);
        assert!(
            e.message
                .ends_with("{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"delete\"]}"),
            "{}",
            e.message
        );
        let e = check("rolebindings", "ns", to("ClusterRole", "ghost")).unwrap_err();
        assert_eq!(
            (e.code, e.message.as_str()),
            (
                404,
                "clusterrole.rbac.authorization.k8s.io \"ghost\" not found"
            )
        );
        // system:masters is never checked.
        let root = UserInfo::new("root", vec!["system:masters".into()]);
        assert!(
            super::check(
                &authorizer,
                &AccessLog::default(),
                &root,
                &create,
                rt("clusterrolebindings"),
                "",
                &to("ClusterRole", "ghost")
            )
            .is_ok()
        );
    }
}
