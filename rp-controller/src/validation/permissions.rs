//! Permission checks on the customer's network resources, per principal.
//!
//! Azure's `permissions` API lists, for the calling principal on a scope, the granted `actions` and
//! `notActions` of every role assignment; an action is allowed when some permission's actions match
//! it (with `*` wildcards, case-insensitively) and that same permission's notActions do not.

use crds::ArmError;

/// One entry of Azure's permissions list.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// Allowed actions, possibly with wildcards.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Excluded actions, possibly with wildcards.
    #[serde(default)]
    pub not_actions: Vec<String>,
}

/// Whose permissions are checked; decides the error code and wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The cluster's service principal.
    ClusterServicePrincipal,
    /// The RP's own (first-party) identity.
    ResourceProvider,
    /// A platform workload identity of a workload identity cluster.
    WorkloadIdentity,
}

impl Principal {
    fn code(self) -> &'static str {
        match self {
            Self::ClusterServicePrincipal => "InvalidServicePrincipalPermissions",
            Self::ResourceProvider => "InvalidResourceProviderPermissions",
            Self::WorkloadIdentity => "InvalidWorkloadIdentityPermissions",
        }
    }

    fn described(self) -> &'static str {
        match self {
            Self::ClusterServicePrincipal => "cluster service principal",
            Self::ResourceProvider => "resource provider service principal",
            Self::WorkloadIdentity => "platform workload identity",
        }
    }
}

/// Kinds of linked network resources and the actions the cluster identity needs on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkedResource {
    /// The virtual network (and its subnets).
    VirtualNetwork,
    /// A route table attached to a cluster subnet.
    RouteTable,
    /// A NAT gateway attached to a cluster subnet.
    NatGateway,
}

impl LinkedResource {
    /// Actions a principal needs. The RP's own identity needs less than the cluster's (ARO-RP's
    /// pkg/validate: vnet read; route table join/read; NAT gateway join).
    pub fn required_actions(self, principal: Principal) -> &'static [&'static str] {
        match (self, principal) {
            (Self::VirtualNetwork, Principal::ResourceProvider) => {
                &["Microsoft.Network/virtualNetworks/read"]
            }
            (Self::VirtualNetwork, _) => &[
                "Microsoft.Network/virtualNetworks/join/action",
                "Microsoft.Network/virtualNetworks/read",
                "Microsoft.Network/virtualNetworks/write",
                "Microsoft.Network/virtualNetworks/subnets/join/action",
                "Microsoft.Network/virtualNetworks/subnets/read",
                "Microsoft.Network/virtualNetworks/subnets/write",
            ],
            (Self::RouteTable, Principal::ResourceProvider) => &[
                "Microsoft.Network/routeTables/join/action",
                "Microsoft.Network/routeTables/read",
            ],
            (Self::RouteTable, _) => &[
                "Microsoft.Network/routeTables/join/action",
                "Microsoft.Network/routeTables/read",
                "Microsoft.Network/routeTables/write",
            ],
            (Self::NatGateway, Principal::ResourceProvider) => {
                &["Microsoft.Network/natGateways/join/action"]
            }
            (Self::NatGateway, _) => &[
                "Microsoft.Network/natGateways/join/action",
                "Microsoft.Network/natGateways/read",
                "Microsoft.Network/natGateways/write",
            ],
        }
    }

    fn described(self) -> &'static str {
        match self {
            Self::VirtualNetwork => "vnet",
            Self::RouteTable => "route table",
            Self::NatGateway => "nat gateway",
        }
    }
}

/// Whether `permissions` allow `action`.
pub fn can_do_action(permissions: &[Permission], action: &str) -> bool {
    permissions.iter().any(|p| {
        p.actions.iter().any(|a| wildcard_match(a, action))
            && !p.not_actions.iter().any(|n| wildcard_match(n, action))
    })
}

/// Check that `principal` holds every action it needs on a linked resource.
pub fn validate_network_permissions(
    principal: Principal,
    resource: LinkedResource,
    resource_id: &str,
    permissions: &[Permission],
) -> Result<(), ArmError> {
    let missing: Vec<&str> = resource
        .required_actions(principal)
        .iter()
        .copied()
        .filter(|action| !can_do_action(permissions, action))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(ArmError::new(
        principal.code(),
        format!(
            "The {} does not have Network Contributor permission on {} '{}' (missing: {}).",
            principal.described(),
            resource.described(),
            resource_id,
            missing.join(", ")
        ),
    ))
}

/// Case-insensitive match of an Azure action pattern where `*` matches any run of characters.
fn wildcard_match(pattern: &str, action: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let action = action.to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == action;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !action.starts_with(first)
        || action.len() < first.len() + last.len()
        || !action.ends_with(last)
    {
        return false;
    }
    let mut rest = &action[first.len()..action.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn perm(actions: &[&str], not_actions: &[&str]) -> Permission {
        Permission {
            actions: actions.iter().map(|s| s.to_string()).collect(),
            not_actions: not_actions.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn wildcards_match_like_azure() {
        assert!(wildcard_match(
            "*",
            "Microsoft.Network/virtualNetworks/read"
        ));
        assert!(wildcard_match(
            "Microsoft.Network/*",
            "microsoft.network/virtualNetworks/read"
        ));
        assert!(wildcard_match(
            "Microsoft.Network/*/read",
            "Microsoft.Network/virtualNetworks/read"
        ));
        assert!(wildcard_match(
            "*/read",
            "Microsoft.Network/routeTables/read"
        ));
        assert!(!wildcard_match(
            "*/read",
            "Microsoft.Network/routeTables/write"
        ));
        assert!(!wildcard_match(
            "Microsoft.Compute/*",
            "Microsoft.Network/virtualNetworks/read"
        ));
        assert!(!wildcard_match(
            "Microsoft.Network/*/join/action/*",
            "Microsoft.Network/x/join/action"
        ));
        assert!(wildcard_match(
            "Microsoft.Network/virtualNetworks/read",
            "MICROSOFT.NETWORK/VIRTUALNETWORKS/READ"
        ));
    }

    #[test]
    fn not_actions_subtract_within_the_same_permission() {
        let contributor_without_network_writes = perm(&["*"], &["Microsoft.Network/*/write"]);
        let perms = [contributor_without_network_writes];
        assert!(can_do_action(
            &perms,
            "Microsoft.Network/virtualNetworks/read"
        ));
        assert!(!can_do_action(
            &perms,
            "Microsoft.Network/virtualNetworks/write"
        ));
        // A second assignment granting the write wins.
        let perms = [
            perms[0].clone(),
            perm(&["Microsoft.Network/virtualNetworks/write"], &[]),
        ];
        assert!(can_do_action(
            &perms,
            "Microsoft.Network/virtualNetworks/write"
        ));
    }

    #[test]
    fn network_contributor_passes_reader_fails_with_principal_specific_codes() {
        let network_contributor = [perm(&["Microsoft.Network/*"], &[])];
        let reader = [perm(&["*/read"], &[])];
        for resource in [
            LinkedResource::VirtualNetwork,
            LinkedResource::RouteTable,
            LinkedResource::NatGateway,
        ] {
            validate_network_permissions(
                Principal::ClusterServicePrincipal,
                resource,
                "/id",
                &network_contributor,
            )
            .unwrap();
        }
        let err = validate_network_permissions(
            Principal::ClusterServicePrincipal,
            LinkedResource::VirtualNetwork,
            "/vnet",
            &reader,
        )
        .unwrap_err();
        assert_eq!(err.code, "InvalidServicePrincipalPermissions");
        assert!(err.message.starts_with("The cluster service principal does not have Network Contributor permission on vnet '/vnet'"), "{}", err.message);
        assert!(
            err.message
                .contains("Microsoft.Network/virtualNetworks/join/action")
        );

        // The RP only needs read on the vnet.
        validate_network_permissions(
            Principal::ResourceProvider,
            LinkedResource::VirtualNetwork,
            "/vnet",
            &reader,
        )
        .unwrap();
        let err = validate_network_permissions(
            Principal::ResourceProvider,
            LinkedResource::RouteTable,
            "/rt",
            &reader,
        )
        .unwrap_err();
        assert_eq!(err.code, "InvalidResourceProviderPermissions");
        let err = validate_network_permissions(
            Principal::WorkloadIdentity,
            LinkedResource::NatGateway,
            "/ng",
            &[],
        )
        .unwrap_err();
        assert_eq!(err.code, "InvalidWorkloadIdentityPermissions");
    }
}
