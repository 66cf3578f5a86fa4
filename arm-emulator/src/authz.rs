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
/// Type key of deny assignments.
pub(crate) const DENY_ASSIGNMENT: &str = "microsoft.authorization/denyassignments";
/// The principal id a deny assignment names to deny everyone (type `SystemDefined`).
pub const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

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
    // ARO's built-in roles for platform workload identities and the cluster identity (Azure's
    // GUIDs and names; the actions are the gist of Azure's, not every one of them).
    BuiltInRole {
        guid: "a1f96423-95ce-4224-ab27-4e3dc72facd4",
        name: "Azure Red Hat OpenShift Cloud Controller Manager",
        actions: &[
            "Microsoft.Compute/virtualMachines/read",
            "Microsoft.Network/loadBalancers/*",
            "Microsoft.Network/networkInterfaces/read",
            "Microsoft.Network/networkInterfaces/join/action",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/networkSecurityGroups/write",
            "Microsoft.Network/publicIPAddresses/*",
            "Microsoft.Network/virtualNetworks/subnets/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "0336e1d3-7a87-462b-b6db-342b63f7802c",
        name: "Azure Red Hat OpenShift Cluster Ingress Operator",
        actions: &[
            "Microsoft.Network/dnsZones/A/*",
            "Microsoft.Network/privateDnsZones/A/*",
            "Microsoft.Network/dnsZones/read",
            "Microsoft.Network/privateDnsZones/read",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "0358943c-7e01-48ba-8889-02cc51d78637",
        name: "Azure Red Hat OpenShift Machine API Operator",
        actions: &[
            "Microsoft.Compute/availabilitySets/*",
            "Microsoft.Compute/disks/*",
            "Microsoft.Compute/virtualMachines/*",
            "Microsoft.Network/loadBalancers/read",
            "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/virtualNetworks/subnets/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "5b7237c5-45e1-49d6-bc18-a1f62f400748",
        name: "Azure Red Hat OpenShift Disk Storage Operator",
        actions: &[
            "Microsoft.Compute/disks/*",
            "Microsoft.Compute/snapshots/*",
            "Microsoft.Compute/virtualMachines/read",
            "Microsoft.Compute/virtualMachines/write",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "be7a6435-15ae-4171-8f30-4a343eff9e8f",
        name: "Azure Red Hat OpenShift Network Operator",
        actions: &[
            "Microsoft.Network/networkInterfaces/*",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/subnets/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Compute/virtualMachines/read",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "8b32b316-c2f5-4ddf-b05b-83dacd2d08b5",
        name: "Azure Red Hat OpenShift Image Registry Operator",
        actions: &[
            "Microsoft.Storage/storageAccounts/*",
            "Microsoft.Network/privateEndpoints/*",
            "Microsoft.Network/virtualNetworks/subnets/read",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Resources/tags/write",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "0d7aedc0-15fd-4a67-a412-efad370c947e",
        name: "Azure Red Hat OpenShift File Storage Operator",
        actions: &[
            "Microsoft.Storage/storageAccounts/*",
            "Microsoft.Network/networkSecurityGroups/read",
            "Microsoft.Network/virtualNetworks/subnets/read",
            "Microsoft.Network/virtualNetworks/subnets/write",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "4436bae4-7702-4c84-919b-c4069ff25ee2",
        name: "Azure Red Hat OpenShift Service Operator",
        actions: &[
            "Microsoft.Network/networkSecurityGroups/*",
            "Microsoft.Network/virtualNetworks/read",
            "Microsoft.Network/virtualNetworks/subnets/read",
            "Microsoft.Network/virtualNetworks/subnets/write",
            "Microsoft.Network/virtualNetworks/subnets/join/action",
            "Microsoft.Network/routeTables/read",
            "Microsoft.Network/natGateways/read",
            "Microsoft.Compute/virtualMachines/read",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
        ],
        not_actions: &[],
    },
    BuiltInRole {
        guid: "ef318e2a-8334-4a05-9e4a-295a196c6a6e",
        name: "Azure Red Hat OpenShift Federated Credential",
        actions: &[
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/*",
            "Microsoft.ManagedIdentity/userAssignedIdentities/read",
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

/// 403 AuthorizationFailed unless `caller` may perform `action` at `scope`, and 403
/// DenyAssignmentAuthorizationFailed when a deny assignment at or above the scope denies it (deny
/// assignments win over every grant, an unrestricted caller's too; only the emulator's own
/// seeding is exempt).
pub(crate) fn authorize(
    resources: &Resources,
    caller: &Caller,
    action: &str,
    scope: &str,
) -> Result<(), ApiError> {
    if !allowed(&permissions(resources, caller, scope), action) {
        return Err(ApiError::new(
            403,
            "AuthorizationFailed",
            format!(
                "The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.",
                caller.client_id, caller.object_id
            ),
        ));
    }
    if *caller == Caller::system() {
        return Ok(());
    }
    match denying_assignment(resources, &caller.object_id, action, scope) {
        None => Ok(()),
        Some(deny) => {
            let props = &deny["properties"];
            Err(ApiError::new(
                403,
                "DenyAssignmentAuthorizationFailed",
                format!(
                    "The client '{}' with object id '{}' has permission to perform action '{action}' on scope '{scope}'; however, the access is denied because of the deny assignment with name '{}' and Id '{}' at scope '{}'.",
                    caller.client_id,
                    caller.object_id,
                    props["denyAssignmentName"]
                        .as_str()
                        .unwrap_or_else(|| deny["name"].as_str().unwrap_or_default()),
                    deny["name"].as_str().unwrap_or_default(),
                    props["scope"].as_str().unwrap_or_default(),
                ),
            ))
        }
    }
}

/// Whether a deny assignment's principal list names `principal` (or everyone).
fn names_principal(list: &Value, principal: &str) -> bool {
    list.as_array().into_iter().flatten().any(|p| {
        p["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(principal) || id == EVERYONE)
    })
}

/// The deny assignment (its stored body) that denies `principal` the `action` at `scope`, if any:
/// one whose scope contains `scope` (or equals it, with `doNotApplyToChildScopes`), whose
/// principals name the principal or everyone, whose excluded principals do not name it, and one
/// of whose permissions matches the action without excluding it in its `notActions`.
pub(crate) fn denying_assignment<'a>(
    resources: &'a Resources,
    principal: &str,
    action: &str,
    scope: &str,
) -> Option<&'a Value> {
    // Only the deny assignments stored at `scope` or one of its parent scopes can apply (an
    // assignment's id is `{its scope}/providers/Microsoft.Authorization/denyAssignments/{name}`):
    // a range lookup per parent scope, not a scan of every cluster's assignment per request.
    let scope_key = crate::path::key(scope);
    let parents: Vec<&str> = scope_key
        .match_indices('/')
        .map(|(i, _)| &scope_key[..i])
        .filter(|p| !p.is_empty())
        .chain(std::iter::once(scope_key.as_str()))
        .collect();
    let candidates = parents.into_iter().flat_map(|parent| {
        let at = format!("{parent}/providers/microsoft.authorization/denyassignments");
        resources
            .within(&at)
            .filter(|(_, r)| r.type_lower() == DENY_ASSIGNMENT)
            .collect::<Vec<_>>()
    });
    candidates.into_iter().find_map(|(_, r)| {
        let props = &r.body["properties"];
        let deny_scope = props["scope"].as_str().unwrap_or_default();
        let applies_here = if props["doNotApplyToChildScopes"].as_bool() == Some(true) {
            crate::path::key(scope) == crate::path::key(deny_scope)
        } else {
            is_within(scope, deny_scope)
        };
        let excluded = props["excludePrincipals"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| {
                p["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(principal))
            });
        let denied = definition_permissions(&r.body)
            .iter()
            .any(|p| allowed(std::slice::from_ref(p), action));
        (applies_here && !excluded && names_principal(&props["principals"], principal) && denied)
            .then_some(&r.body)
    })
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
