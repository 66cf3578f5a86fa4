//! Microsoft.Authorization's resources: role assignments (validated against the role definitions,
//! unique per principal, role and scope, answered at once), the built-in role definitions at every
//! scope, the `permissions` of the caller, and role assignment listings filtered by principal.
//! Evaluating permissions for every request is the engine's, in `authz`.

use super::{Children, Context, ProviderRules, Put, TypeTraits};
use crate::authz::{self, DENY_ASSIGNMENT, ROLE_ASSIGNMENT, ROLE_DEFINITION};
use crate::error::ApiError;
use crate::path::{ProviderPath, is_within, key, last_segment};
use crate::request::{ArmRequest, Reply, filter_quoted};
use chrono::{SecondsFormat, Utc};
use http::Method;
use serde_json::Value;

/// The rules of Microsoft.Authorization.
pub(crate) struct Authorization;

impl ProviderRules for Authorization {
    fn traits(&self, _type_lower: &str) -> TypeTraits {
        TypeTraits {
            long_running: false,
            tracked: false,
            delete_answers_body: true,
            ..TypeTraits::default()
        }
    }

    fn prepare_put(
        &self,
        cx: &Context<'_>,
        put: &Put<'_>,
        body: &mut Value,
    ) -> Result<Children, ApiError> {
        if put.resource_type.eq_ignore_ascii_case(ROLE_ASSIGNMENT) {
            prepare_role_assignment(cx, put, body)?;
        }
        if put.resource_type.eq_ignore_ascii_case(DENY_ASSIGNMENT) {
            prepare_deny_assignment(put, body)?;
        }
        Ok(Children::default())
    }

    fn route(
        &self,
        cx: &Context<'_>,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Option<Result<Reply, ApiError>> {
        let types = pp.type_names();
        if pp.segments.len() == 1 && types == ["permissions"] {
            return Some(permissions(cx, req, pp));
        }
        if types.first().map(String::as_str) == Some("roledefinitions")
            && let Some(reply) = built_in_role_definitions(cx, req, pp)
        {
            return Some(Ok(reply));
        }
        if pp.segments.len() == 1 && types == ["roleassignments"] && *req.method == Method::GET {
            return Some(list_role_assignments(cx, req, pp));
        }
        None
    }
}

fn permissions(
    cx: &Context<'_>,
    req: &ArmRequest<'_>,
    pp: &ProviderPath,
) -> Result<Reply, ApiError> {
    req.only(&[Method::GET])?;
    cx.resources.scope_exists(pp)?;
    Ok(Reply::list(
        cx.permissions(&pp.scope.path)
            .into_iter()
            .map(|p| serde_json::to_value(p).unwrap_or_default())
            .collect(),
    ))
}

fn prepare_role_assignment(
    cx: &Context<'_>,
    put: &Put<'_>,
    body: &mut Value,
) -> Result<(), ApiError> {
    let props = &body["properties"];
    let role = props["roleDefinitionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let principal = props["principalId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if role.is_empty() || principal.is_empty() {
        return Err(ApiError::bad_request(
            "InvalidRoleAssignmentRequest",
            "A role assignment needs properties.roleDefinitionId and properties.principalId.",
        ));
    }
    if !authz::role_exists(cx.resources, &role) {
        return Err(ApiError::bad_request(
            "RoleDefinitionDoesNotExist",
            format!(
                "The specified role definition with ID '{}' does not exist.",
                last_segment(&role)
            ),
        ));
    }
    let scope = put.path.scope.path.clone();
    let own_key = key(put.id);
    let duplicate = cx.resources.of_type(ROLE_ASSIGNMENT).any(|(k, r)| {
        *k != own_key
            && r.body
                .pointer("/properties/principalId")
                .and_then(Value::as_str)
                .is_some_and(|p| p.eq_ignore_ascii_case(&principal))
            && r.body
                .pointer("/properties/roleDefinitionId")
                .and_then(Value::as_str)
                .is_some_and(|d| last_segment(d).eq_ignore_ascii_case(last_segment(&role)))
            && r.body
                .pointer("/properties/scope")
                .and_then(Value::as_str)
                .is_some_and(|s| key(s) == key(&scope))
    });
    if duplicate {
        return Err(ApiError::new(
            409,
            "RoleAssignmentExists",
            "The role assignment already exists.",
        ));
    }
    let created = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let p = &mut body["properties"];
    p["scope"] = scope.into();
    if p.get("principalType").is_none() {
        p["principalType"] = "ServicePrincipal".into();
    }
    p["createdOn"] = created.clone().into();
    p["updatedOn"] = created.into();
    Ok(())
}

/// A deny assignment (which Azure lets only its first-party services and managed applications
/// write; here any caller with `denyAssignments/write`): at least one permission with actions, at
/// least one principal, every principal and excluded principal with an id. Its scope is the path's.
fn prepare_deny_assignment(put: &Put<'_>, body: &mut Value) -> Result<(), ApiError> {
    let invalid = |message: &str| ApiError::bad_request("InvalidDenyAssignment", message);
    let props = &body["properties"];
    let permissions = authz::definition_permissions(body);
    if permissions.is_empty() || permissions.iter().all(|p| p.actions.is_empty()) {
        return Err(invalid(
            "A deny assignment needs properties.permissions with at least one action.",
        ));
    }
    let principals = props["principals"].as_array().cloned().unwrap_or_default();
    if principals.is_empty() {
        return Err(invalid("A deny assignment needs properties.principals."));
    }
    let excluded = props["excludePrincipals"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if principals
        .iter()
        .chain(&excluded)
        .any(|p| p["id"].as_str().is_none_or(str::is_empty))
    {
        return Err(invalid(
            "Every principal and excluded principal of a deny assignment needs an id.",
        ));
    }
    let name = last_segment(put.id).to_string();
    let p = &mut body["properties"];
    p["scope"] = put.path.scope.path.clone().into();
    if p.get("denyAssignmentName").is_none() {
        p["denyAssignmentName"] = name.into();
    }
    Ok(())
}

/// Role assignments at, above or below a scope, optionally of one principal
/// (`$filter=principalId eq '…'` or `assignedTo('…')`).
fn list_role_assignments(
    cx: &Context<'_>,
    req: &ArmRequest<'_>,
    pp: &ProviderPath,
) -> Result<Reply, ApiError> {
    cx.resources.scope_exists(pp)?;
    cx.authorize(
        "Microsoft.Authorization/roleAssignments/read",
        &pp.scope.path,
    )?;
    let filter = req.query("$filter").unwrap_or_default().to_string();
    let principal = filter_quoted(&filter, "principalId eq '")
        .or_else(|| filter_quoted(&filter, "assignedTo('"));
    let scope = pp.scope.path.clone();
    let keys: Vec<String> = cx
        .resources
        .of_type(ROLE_ASSIGNMENT)
        .filter(|(_, r)| {
            let s = r
                .body
                .pointer("/properties/scope")
                .and_then(Value::as_str)
                .unwrap_or_default();
            is_within(&scope, s) || is_within(s, &scope)
        })
        .filter(|(_, r)| {
            principal.as_ref().is_none_or(|p| {
                r.body
                    .pointer("/properties/principalId")
                    .and_then(Value::as_str)
                    .is_some_and(|x| x.eq_ignore_ascii_case(p))
            })
        })
        .map(|(k, _)| k.clone())
        .collect();
    Ok(Reply::list(
        keys.iter().filter_map(|k| cx.render(k, false)).collect(),
    ))
}

/// GET of a built-in role definition, or of the list (built-in plus stored ones); `None` for
/// anything else (stored definitions are generic resources).
fn built_in_role_definitions(
    cx: &Context<'_>,
    req: &ArmRequest<'_>,
    pp: &ProviderPath,
) -> Option<Reply> {
    if *req.method != Method::GET {
        return None;
    }
    if pp.segments.len() == 2 {
        let role = authz::built_in(&pp.segments[1])?;
        return Some(Reply::json(
            200,
            authz::built_in_definition_body(role, &pp.scope.path),
        ));
    }
    if pp.segments.len() == 1 {
        let mut list: Vec<Value> = authz::BUILT_IN_ROLES
            .iter()
            .map(|r| authz::built_in_definition_body(r, &pp.scope.path))
            .collect();
        list.extend(
            cx.resources
                .of_type(ROLE_DEFINITION)
                .map(|(_, r)| r.body.clone()),
        );
        return Some(Reply::list(list));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::{Route, parse};
    use crate::request::Caller;
    use crate::resources::Resources;
    use crate::rules::Capacity;
    use crate::rules::testing::store;
    use serde_json::json;

    const READER: &str = "acdd72a7-3385-48ef-bd42-f606fba81ae7";

    fn prepare(resources: &Resources, id: &str, body: &mut Value) -> Result<(), ApiError> {
        let Ok(Route::Provider(path)) = parse(id) else {
            panic!("{id}")
        };
        let (caller, capacity) = (Caller::system(), Capacity::default());
        let cx = Context {
            resources,
            caller: &caller,
            capacity: &capacity,
        };
        let resource_type = path.resource_type();
        let put = Put {
            path: &path,
            id,
            resource_type: &resource_type,
            existing: None,
            location: None,
            base_url: "http://arm.test",
            tenant_id: "t",
        };
        Authorization.prepare_put(&cx, &put, body).map(|_| ())
    }

    #[test]
    fn role_assignments_name_a_known_role_once_per_principal_and_scope() {
        let scope = "/subscriptions/s/resourceGroups/rg";
        let id = |n: &str| format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{n}");
        let body = |role: &str| json!({"properties": {"roleDefinitionId": format!("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{role}"), "principalId": "p1"}});
        let empty = store(&[]);
        let mut first = body(READER);
        prepare(&empty, &id("a"), &mut first).unwrap();
        assert_eq!(first["properties"]["scope"], json!(scope));
        assert_eq!(
            first["properties"]["principalType"],
            json!("ServicePrincipal")
        );

        let e = prepare(&empty, &id("b"), &mut body("no-such-role")).unwrap_err();
        assert_eq!(e.code, "RoleDefinitionDoesNotExist");

        let existing = store(&[(
            &id("a"),
            "Microsoft.Authorization/roleAssignments",
            first["properties"].clone(),
        )]);
        let e = prepare(&existing, &id("b"), &mut body(READER)).unwrap_err();
        assert_eq!(e.code, "RoleAssignmentExists");
        // Writing the same assignment again is no duplicate.
        assert!(prepare(&existing, &id("a"), &mut body(READER)).is_ok());
    }
}
