//! Role-based access: built-in role definitions, Azure's action matching, and the permissions a
//! caller holds at a scope from the stored role assignments. The engine authorizes every request
//! with it; the Microsoft.Authorization provider's own resources behave as `rules::authorization`
//! says.

use crate::error::ApiError;
use crate::path::{is_within, last_segment};
use crate::request::Caller;
use crate::resources::Resources;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Type key of role assignments.
pub(crate) const ROLE_ASSIGNMENT: &str = "microsoft.authorization/roleassignments";
/// Type key of (custom) role definitions.
pub(crate) const ROLE_DEFINITION: &str = "microsoft.authorization/roledefinitions";

/// One entry of a role definition's `permissions` (and of the `permissions` API).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// Allowed actions, `*` wildcards allowed.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Actions removed from `actions`.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Data-plane actions (kept for the wire shape; not evaluated).
    #[serde(default)]
    pub data_actions: Vec<String>,
    /// Data-plane exclusions (kept for the wire shape; not evaluated).
    #[serde(default)]
    pub not_data_actions: Vec<String>,
}

impl Permission {
    fn of(actions: &[&str], not_actions: &[&str]) -> Self {
        Self {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }
}

/// A built-in role: well-known GUID, name and permissions.
pub struct BuiltInRole {
    /// Role definition GUID (the same in every subscription).
    pub guid: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Allowed actions.
    pub actions: &'static [&'static str],
    /// Excluded actions.
    pub not_actions: &'static [&'static str],
}

/// The built-in roles the emulator knows (a subset of Azure's, with Azure's GUIDs).
pub const BUILT_IN_ROLES: &[BuiltInRole] = &[
    BuiltInRole {
        guid: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        name: "Owner",
        actions: &["*"],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "b24988ac-6180-42a0-ab88-20f7382dd24c",
        name: "Contributor",
        actions: &["*"],
        not_actions: &[
            "Microsoft.Authorization/*/Delete",
            "Microsoft.Authorization/*/Write",
            "Microsoft.Authorization/elevateAccess/Action",
        ],
    },
    BuiltInRole {
        guid: "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        name: "Reader",
        actions: &["*/read"],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "4d97b98b-1d4f-4787-a291-c67834d212e7",
        name: "Network Contributor",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Network/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",
        name: "User Access Administrator",
        actions: &["*/read", "Microsoft.Authorization/*"],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
        name: "Virtual Machine Contributor",
        actions: &[
            "Microsoft.Authorization/*/read",
            "Microsoft.Compute/*",
            "Microsoft.Network/*/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions: &[],
    },
];

/// The built-in role with this GUID.
pub fn built_in(guid: &str) -> Option<&'static BuiltInRole> {
    BUILT_IN_ROLES
        .iter()
        .find(|r| r.guid.eq_ignore_ascii_case(guid))
}

/// Permissions of a built-in role.
pub fn built_in_permissions(role: &BuiltInRole) -> Permission {
    Permission::of(role.actions, role.not_actions)
}

/// ARM body of a built-in role definition at a scope.
pub fn built_in_definition_body(role: &BuiltInRole, scope: &str) -> Value {
    json!({
        "id": format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/{}", role.guid),
        "name": role.guid,
        "type": "Microsoft.Authorization/roleDefinitions",
        "properties": {
            "roleName": role.name,
            "type": "BuiltInRole",
            "description": format!("{} (built-in role)", role.name),
            "assignableScopes": ["/"],
            "permissions": [built_in_permissions(role)],
        }
    })
}

/// The permissions of a role definition body (`properties.permissions`).
pub fn definition_permissions(body: &Value) -> Vec<Permission> {
    body.pointer("/properties/permissions")
        .and_then(|p| serde_json::from_value(p.clone()).ok())
        .unwrap_or_default()
}

/// Azure's action pattern match: case-insensitive, `*` matches any run of characters.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let p = pattern.to_ascii_lowercase();
    let a = action.to_ascii_lowercase();
    glob(p.as_bytes(), a.as_bytes())
}

fn glob(p: &[u8], a: &[u8]) -> bool {
    match p.split_first() {
        None => a.is_empty(),
        Some((b'*', rest)) => (0..=a.len()).any(|i| glob(rest, &a[i..])),
        Some((c, rest)) => a.first() == Some(c) && glob(rest, &a[1..]),
    }
}

/// Whether some permission allows `action` without the same permission excluding it.
pub fn allowed(permissions: &[Permission], action: &str) -> bool {
    permissions.iter().any(|p| {
        p.actions.iter().any(|a| action_matches(a, action))
            && !p.not_actions.iter().any(|n| action_matches(n, action))
    })
}

/// The permissions `caller` holds at `scope`: everything when unrestricted, otherwise those of the
/// roles assigned to it at the scope or above.
pub(crate) fn permissions(resources: &Resources, caller: &Caller, scope: &str) -> Vec<Permission> {
    if !caller.restricted {
        return vec![Permission {
            actions: vec!["*".into()],
            ..Default::default()
        }];
    }
    let mut out = Vec::new();
    for (_, r) in resources.of_type(ROLE_ASSIGNMENT) {
        let props = &r.body["properties"];
        let principal = props["principalId"].as_str().unwrap_or_default();
        let assignment_scope = props["scope"].as_str().unwrap_or_default();
        if !principal.eq_ignore_ascii_case(&caller.object_id) || !is_within(scope, assignment_scope)
        {
            continue;
        }
        let role = props["roleDefinitionId"].as_str().unwrap_or_default();
        out.extend(role_permissions(resources, role));
    }
    out
}

fn role_permissions(resources: &Resources, role_definition_id: &str) -> Vec<Permission> {
    let guid = last_segment(role_definition_id);
    if let Some((_, def)) = resources
        .of_type(ROLE_DEFINITION)
        .find(|(_, r)| last_segment(&r.id).eq_ignore_ascii_case(guid))
    {
        return definition_permissions(&def.body);
    }
    built_in(guid)
        .map(|r| vec![built_in_permissions(r)])
        .unwrap_or_default()
}

/// Whether a role definition (built-in or stored) with this id's GUID exists.
pub(crate) fn role_exists(resources: &Resources, role_definition_id: &str) -> bool {
    let guid = last_segment(role_definition_id);
    built_in(guid).is_some()
        || resources
            .of_type(ROLE_DEFINITION)
            .any(|(_, r)| last_segment(&r.id).eq_ignore_ascii_case(guid))
}

/// 403 AuthorizationFailed unless `caller` may perform `action` at `scope`.
pub(crate) fn authorize(
    resources: &Resources,
    caller: &Caller,
    action: &str,
    scope: &str,
) -> Result<(), ApiError> {
    if allowed(&permissions(resources, caller, scope), action) {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            "AuthorizationFailed",
            format!(
                "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                caller.client_id, caller.object_id
            ),
        ))
    }
}

/// 403 LinkedAuthorizationFailed unless `caller`, writing `id` with `write_action`, may also
/// perform `join_action` on the `linked` resource its body refers to.
pub(crate) fn authorize_linked(
    resources: &Resources,
    caller: &Caller,
    write_action: &str,
    id: &str,
    join_action: &str,
    linked: &str,
) -> Result<(), ApiError> {
    if allowed(&permissions(resources, caller, linked), join_action) {
        Ok(())
    } else {
        Err(ApiError::new(
            403,
            "LinkedAuthorizationFailed",
            format!(
                "The client '{}' with object id '{}' has permission to perform action '{write_action}' on scope '{id}'; however, it does not have permission to perform action(s) '{join_action}' on the linked scope(s) '{linked}' (respectively) or the linked scope(s) are invalid.",
                caller.client_id, caller.object_id
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_and_case() {
        assert!(action_matches(
            "*",
            "Microsoft.Network/virtualNetworks/read"
        ));
        assert!(action_matches(
            "*/read",
            "microsoft.network/virtualnetworks/READ"
        ));
        assert!(action_matches(
            "Microsoft.Network/*",
            "Microsoft.Network/virtualNetworks/subnets/join/action"
        ));
        assert!(!action_matches(
            "Microsoft.Network/*",
            "Microsoft.Compute/virtualMachines/read"
        ));
        assert!(!action_matches(
            "*/read",
            "Microsoft.Network/virtualNetworks/write"
        ));
    }

    #[test]
    fn not_actions_only_subtract_from_their_own_permission() {
        let contributor =
            built_in_permissions(built_in("b24988ac-6180-42a0-ab88-20f7382dd24c").unwrap());
        assert!(allowed(
            std::slice::from_ref(&contributor),
            "Microsoft.Network/virtualNetworks/write"
        ));
        assert!(!allowed(
            std::slice::from_ref(&contributor),
            "Microsoft.Authorization/roleAssignments/write"
        ));
        let uaa = built_in_permissions(built_in("18d7d88d-d35e-4fb5-a5c3-7773c20a72d9").unwrap());
        assert!(allowed(
            &[contributor, uaa],
            "Microsoft.Authorization/roleAssignments/write"
        ));
        assert!(!allowed(&[], "Microsoft.Network/virtualNetworks/read"));
    }
}
