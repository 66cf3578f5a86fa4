//! Escalation prevention of kube-apiserver's RBAC REST storage (pkg/registry/rbac): a user may
//! create or update a Role or ClusterRole only with every permission it grants (in that
//! namespace) or the `escalate` verb on it, and a RoleBinding or ClusterRoleBinding only with
//! every permission of the role it refers to or the `bind` verb on that role. Members of
//! `system:masters` are exempt.

use serde_json::Value;

use super::rbac::{PolicyRule, RBAC_GROUP, RoleRef, compact, compact_string, covers, go_quoted};
use super::{Attributes, Authorizer, Decision, ResourceAttributes, UserInfo};
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

fn allowed(
    authorizer: &Authorizer,
    user: &UserInfo,
    verb: &str,
    resource: ResourceAttributes,
) -> bool {
    let attributes = Attributes {
        verb: verb.into(),
        resource: Some(resource),
        path: String::new(),
    };
    authorizer.authorize(user, &attributes) == Decision::Allow
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
            if allowed(authorizer, user, "escalate", escalate) {
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
                if allowed(authorizer, user, "bind", bind) {
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
