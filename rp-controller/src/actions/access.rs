//! The cluster identities' access (the service principal's or each platform workload identity's
//! roles on the cluster resource group), the deny assignment locking that group to everyone else,
//! and the RP's private endpoint into the cluster: created at install, refreshed by an update,
//! removed at delete (ARO-RP's pkg/cluster: deployBaseResourceTemplate's RBAC,
//! createOrUpdateDenyAssignment and createAPIServerPrivateEndpoint at install, their removal at
//! delete; the deny assignment goes with the group).

use std::collections::BTreeSet;

use aro_common::ResourceId;
use serde_json::{Value, json};

use super::StepEnv;
use super::network::derived_private_ip_in;
use super::workload_identity::{roles_by_operator, uses_workload_identity};
use crate::azure::{self, AUTHORIZATION_API, NETWORK_API, StepResult};
use crate::infra::InfraNames;
use crate::steps::Outcome;

/// The built-in Contributor role, which ARO gives the cluster's service principal on the cluster
/// resource group.
pub const CONTRIBUTOR_ROLE: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

/// Name of the Contributor assignment the RP makes for `principal` at `scope` (see
/// [`role_assignment_name_for`]).
pub fn role_assignment_name(scope: &str, principal: &str) -> String {
    role_assignment_name_for(scope, principal, CONTRIBUTOR_ROLE)
}

/// Name of the role assignment the RP makes for `principal` with role `role` (a GUID) at `scope`:
/// a name-based UUID, so a retried or resumed step finds the one it made, and another principal's
/// assignment made by the RP is recognisable.
pub fn role_assignment_name_for(scope: &str, principal: &str, role: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!(
            "aro-rp:{}:{}:{}",
            scope.to_ascii_lowercase(),
            principal.to_ascii_lowercase(),
            role.to_ascii_lowercase()
        )
        .as_bytes(),
    )
    .to_string()
}

/// Body of a role assignment of `role` (a GUID) to `principal`.
pub fn role_assignment_body(subscription: &str, principal: &str, role: &str) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!(
            "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{role}"
        ),
        "principalId": principal,
        "principalType": "ServicePrincipal",
    }})
}

/// One role assignment the RP wants or made: principal and role GUID (lowercase).
type Grant = (String, String);

/// Whether `assignment` (as ARM lists it) is one the RP made at `scope`, and what it grants.
pub fn made_by_rp(assignment: &Value, scope: &str) -> Option<Grant> {
    let props = &assignment["properties"];
    let principal = props["principalId"].as_str()?;
    let role = props["roleDefinitionId"].as_str()?.rsplit('/').next()?;
    let at_scope = props["scope"]
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case(scope));
    let name = assignment["name"].as_str().unwrap_or_default();
    (at_scope && name.eq_ignore_ascii_case(&role_assignment_name_for(scope, principal, role)))
        .then(|| (principal.to_ascii_lowercase(), role.to_ascii_lowercase()))
}

fn resource_group_id(names: &InfraNames) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}",
        names.subscription_id, names.resource_group
    )
}

/// The RP's role assignments at the cluster resource group (none when the group is gone).
async fn rp_assignments(env: &StepEnv<'_>, scope: &str) -> StepResult<Vec<(String, Grant)>> {
    let path = format!("{scope}/providers/Microsoft.Authorization/roleAssignments");
    let listed = match env.arm().list(&path, AUTHORIZATION_API).await {
        Ok(listed) => listed,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(azure::outcome_of(&e)),
    };
    Ok(listed
        .iter()
        .filter_map(|a| {
            let grant = made_by_rp(a, scope)?;
            Some((a["id"].as_str()?.to_string(), grant))
        })
        .collect())
}

/// What the cluster's identities get on the cluster resource group: Contributor for its service
/// principal, or for a workload identity cluster each platform identity's roles of the role set
/// (ARO-RP's clusterServicePrincipalRBAC and platformWorkloadIdentityRBAC).
async fn wanted_grants(env: &StepEnv<'_>) -> StepResult<BTreeSet<Grant>> {
    let mut wanted = BTreeSet::new();
    if let Some(principal) = &env.status.service_principal_object_id {
        wanted.insert((principal.to_ascii_lowercase(), CONTRIBUTOR_ROLE.into()));
    }
    if uses_workload_identity(&env.cluster.spec) {
        let roles = roles_by_operator(env).await?;
        for (operator, identity) in &env.status.platform_workload_identities {
            let Some(object_id) = &identity.object_id else {
                continue;
            };
            for role in roles.get(operator).into_iter().flatten() {
                let guid = role
                    .role_definition_id
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                wanted.insert((object_id.to_ascii_lowercase(), guid.to_ascii_lowercase()));
            }
        }
    }
    Ok(wanted)
}

/// Give the cluster's identities their roles on the cluster resource group, and take the RP's
/// grants from principals (or roles) the cluster no longer uses (after a service principal or
/// identity change, or a role set's change).
pub async fn ensure_role_assignments(env: &mut StepEnv<'_>) -> StepResult<()> {
    let wanted = wanted_grants(env).await?;
    if wanted.is_empty() && !uses_workload_identity(&env.cluster.spec) {
        return Ok(());
    }
    let names = env.names()?;
    let scope = resource_group_id(&names);
    let arm = env.arm();
    for (principal, role) in &wanted {
        let id = format!(
            "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
            role_assignment_name_for(&scope, principal, role)
        );
        if azure::get(&arm, &id, AUTHORIZATION_API).await?.is_none() {
            let body = role_assignment_body(&names.subscription_id, principal, role);
            match arm.put(&id, AUTHORIZATION_API, &body).await {
                Ok(_) => {}
                // Someone else gave it the same role there: the access is in place.
                Err(azure_clients::Error::Cloud(e)) if e.code == "RoleAssignmentExists" => {}
                Err(e) => return Err(azure::outcome_of(&e)),
            }
        }
    }
    for (other, grant) in rp_assignments(env, &scope).await? {
        if !wanted.contains(&grant) {
            azure::ensure_deleted(&arm, &other, AUTHORIZATION_API).await?;
        }
    }
    Ok(())
}

/// Delete: the RP's role assignments at the cluster resource group (Azure keeps assignments whose
/// scope is deleted, as orphans).
pub async fn remove_role_assignments(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Ok(names) = env.names() else {
        return Ok(());
    };
    let scope = resource_group_id(&names);
    let arm = env.arm();
    for (id, _) in rp_assignments(env, &scope).await? {
        azure::ensure_deleted(&arm, &id, AUTHORIZATION_API).await?;
    }
    Ok(())
}

/// The principal id a deny assignment names to deny everyone.
pub const EVERYONE: &str = "00000000-0000-0000-0000-000000000000";

/// Name of the cluster resource group's deny assignment: ARO-RP's
/// `guid(resourceGroup().id, 'ARO cluster resource group deny assignment')`, as a name-based UUID.
pub fn deny_assignment_name(scope: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!(
            "{}:ARO cluster resource group deny assignment",
            scope.to_ascii_lowercase()
        )
        .as_bytes(),
    )
    .to_string()
}

/// The deny assignment locking the cluster resource group (ARO-RP's denyAssignment): everyone is
/// denied every write, delete and action there except the few ARO leaves to customers (disk and
/// snapshot access, alerts, tags, NSG joins, remediations); `excluded` (the RP and the cluster's
/// identities) are not denied anything.
pub fn deny_assignment_body(scope: &str, excluded: &BTreeSet<String>) -> Value {
    json!({"properties": {
        "denyAssignmentName": deny_assignment_name(scope),
        "description": "ARO cluster resource group deny assignment",
        "permissions": [{
            "actions": ["*/action", "*/delete", "*/write"],
            "notActions": [
                "Microsoft.Compute/disks/beginGetAccess/action",
                "Microsoft.Compute/disks/endGetAccess/action",
                "Microsoft.Compute/disks/write",
                "Microsoft.Insights/ActionGroups/write",
                "Microsoft.Insights/ActionGroups/delete",
                "Microsoft.Insights/MetricAlerts/write",
                "Microsoft.Insights/MetricAlerts/delete",
                "Microsoft.Insights/ActivityLogAlerts/write",
                "Microsoft.Insights/ActivityLogAlerts/delete",
                "Microsoft.Compute/snapshots/beginGetAccess/action",
                "Microsoft.Compute/snapshots/delete",
                "Microsoft.Compute/snapshots/endGetAccess/action",
                "Microsoft.Compute/snapshots/write",
                "Microsoft.Network/networkInterfaces/effectiveRouteTable/action",
                "Microsoft.Network/networkSecurityGroups/join/action",
                "Microsoft.Resources/tags/*",
                "Microsoft.PolicyInsights/remediations/write",
                "Microsoft.PolicyInsights/remediations/delete",
            ],
        }],
        "scope": scope,
        "principals": [{"id": EVERYONE, "type": "SystemDefined"}],
        "excludePrincipals": excluded
            .iter()
            .map(|id| json!({"id": id, "type": "ServicePrincipal"}))
            .collect::<Vec<_>>(),
        "isSystemProtected": true,
    }})
}

/// The principals a deny assignment excludes, as ARM lists it (lowercase).
pub fn excluded_principals(deny: &Value) -> BTreeSet<String> {
    deny["properties"]["excludePrincipals"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(str::to_ascii_lowercase))
        .collect()
}

/// Install and update: the deny assignment on the cluster resource group, excluding the RP
/// (which builds and deletes what is in the group) and the cluster's identities (its service
/// principal, or its platform workload identities); rewritten when they change.
pub async fn ensure_deny_assignment(env: &mut StepEnv<'_>) -> StepResult<()> {
    let names = env.names()?;
    let scope = resource_group_id(&names);
    let rp = env
        .ctx
        .azure
        .object_id()
        .await
        .map_err(|e| Outcome::Retryable {
            error: crds::ArmError::new(
                "InternalServerError",
                format!("The RP's own object id is unknown: {e}"),
            ),
            retry_after: None,
        })?;
    let mut excluded: BTreeSet<String> = [rp.to_ascii_lowercase()].into();
    excluded.extend(
        env.status
            .service_principal_object_id
            .iter()
            .map(|p| p.to_ascii_lowercase()),
    );
    if uses_workload_identity(&env.cluster.spec) {
        for (operator, identity) in &env.status.platform_workload_identities {
            let Some(object_id) = &identity.object_id else {
                return Err(Outcome::Failed(crds::ArmError::new(
                    "InternalServerError",
                    format!("The object id of platform workload identity '{operator}' is unknown."),
                )));
            };
            excluded.insert(object_id.to_ascii_lowercase());
        }
    }
    let id = format!(
        "{scope}/providers/Microsoft.Authorization/denyAssignments/{}",
        deny_assignment_name(&scope)
    );
    let arm = env.arm();
    if let Some(existing) = azure::get(&arm, &id, AUTHORIZATION_API).await?
        && excluded_principals(&existing) == excluded
    {
        return Ok(());
    }
    azure::put(
        &arm,
        &id,
        AUTHORIZATION_API,
        &deny_assignment_body(&scope, &excluded),
    )
    .await
    .map(|_| ())
}

/// Tag naming the cluster (its ARM resource id) on the Azure resources the RP creates for it
/// outside the customer's cluster resource group (and metadata key of its DNS record sets).
pub const OWNER_TAG: &str = "aroClusterResourceId";

/// Name of the RP's private endpoint into a cluster: a name-based UUID of the cluster's ARM id. The
/// RP's resource group is shared by every tenant's clusters and the ARM id (subscription, group,
/// name) is unique across them, so two clusters never reach for the same endpoint; one found
/// under the name is still verified before it is adopted or deleted.
pub fn private_endpoint_name(cluster_resource_id: &str) -> String {
    let id = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!(
            "aro-rp:private-endpoint:{}",
            cluster_resource_id.to_ascii_lowercase()
        )
        .as_bytes(),
    );
    format!("aro-pe-{id}")
}

/// Id of the RP's private endpoint into the cluster: in the resource group of the RP's subnet
/// (`None` without a subnet id).
pub fn private_endpoint_id(rp_subnet_id: &str, cluster_resource_id: &str) -> Option<String> {
    let subnet = ResourceId::parse(rp_subnet_id).ok()?;
    Some(format!(
        "{}/providers/Microsoft.Network/privateEndpoints/{}",
        subnet.resource_group_id(),
        private_endpoint_name(cluster_resource_id)
    ))
}

/// Body of the RP's private endpoint, connected to the cluster's private link service and tagged
/// with the cluster it serves.
pub fn private_endpoint_body(
    location: &str,
    rp_subnet_id: &str,
    pls_id: &str,
    cluster_resource_id: &str,
) -> Value {
    json!({
        "location": location,
        "tags": {OWNER_TAG: cluster_resource_id},
        "properties": {
            "subnet": {"id": rp_subnet_id},
            "manualPrivateLinkServiceConnections": [{
                "name": "rp-plsconnection",
                "properties": {"privateLinkServiceId": pls_id},
            }],
        },
    })
}

/// Whether an existing private endpoint is this cluster's: tagged with its resource id and
/// connected to its private link service only. `Err` says what differs (for the log).
pub fn endpoint_is_ours(
    endpoint: &Value,
    cluster_resource_id: &str,
    pls_id: &str,
) -> Result<(), String> {
    let owner = endpoint["tags"][OWNER_TAG].as_str().unwrap_or_default();
    if !owner.eq_ignore_ascii_case(cluster_resource_id) {
        return Err(format!(
            "it is tagged for '{owner}', not for '{cluster_resource_id}'"
        ));
    }
    let props = &endpoint["properties"];
    let targets: Vec<&str> = [
        "manualPrivateLinkServiceConnections",
        "privateLinkServiceConnections",
    ]
    .iter()
    .flat_map(|k| props[*k].as_array().into_iter().flatten())
    .filter_map(|c| c["properties"]["privateLinkServiceId"].as_str())
    .collect();
    if targets.is_empty() || targets.iter().any(|t| !t.eq_ignore_ascii_case(pls_id)) {
        return Err(format!(
            "it connects to [{}], not to '{pls_id}'",
            targets.join(", ")
        ));
    }
    Ok(())
}

/// The endpoint's address as Azure reports it (its DNS configuration).
fn private_endpoint_ip(endpoint: &Value) -> Option<String> {
    endpoint["properties"]["customDnsConfigs"][0]["ipAddresses"][0]
        .as_str()
        .map(str::to_string)
}

/// Install: the RP's private endpoint to the cluster's private link service (the RP reaches a
/// private API server through it); its address goes into `status.privateEndpointIp`. An endpoint
/// found under its name is adopted only when it is this cluster's (tag and target).
pub async fn create_private_endpoint(env: &mut StepEnv<'_>) -> StepResult<()> {
    let names = env.names()?;
    let rp_subnet = env.ctx.settings.rp_private_endpoint_subnet_id.clone();
    let cluster_id = env.cluster.spec.resource_id.clone();
    let Some(id) = private_endpoint_id(&rp_subnet, &cluster_id) else {
        if rp_subnet.is_empty() {
            return Ok(());
        }
        return Err(Outcome::Failed(crds::ArmError::new(
            "InternalServerError",
            format!("The RP's private endpoint subnet '{rp_subnet}' is not a subnet id."),
        )));
    };
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let pls_id = names.private_link_service_id();
    if let Some(existing) = azure::get(&arm, &id, NETWORK_API).await?
        && let Err(why) = endpoint_is_ours(&existing, &cluster_id, &pls_id)
    {
        tracing::error!(endpoint = %id, cluster = %cluster_id, "refusing to adopt a private endpoint: {why}");
        return Err(Outcome::Failed(crds::ArmError::new(
            "InternalServerError",
            "The resource provider could not create its private endpoint to the cluster: one of that name exists and does not belong to this cluster.",
        )));
    }
    let body = private_endpoint_body(&env.cluster.spec.location, &rp_subnet, &pls_id, &cluster_id);
    let endpoint = azure::ensure_resource(&arm, &id, NETWORK_API, &body).await?;
    let ip = match private_endpoint_ip(&endpoint) {
        Some(ip) => ip,
        None => {
            let subnet = azure::get(&arm, &rp_subnet, NETWORK_API)
                .await?
                .ok_or_else(|| {
                    Outcome::Failed(crds::ArmError::new(
                        "InternalServerError",
                        format!("The RP's private endpoint subnet '{rp_subnet}' does not exist."),
                    ))
                })?;
            let prefix = subnet["properties"]["addressPrefix"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            derived_private_ip_in(&prefix, &id)
        }
    };
    env.status.private_endpoint_ip = Some(ip);
    Ok(())
}

/// Delete: the RP's private endpoint (it is outside the cluster resource group), only when it is
/// this cluster's (tag and target), and under the etag read so that a replacement made meanwhile
/// is not deleted. Another's endpoint is left alone and logged.
pub async fn remove_private_endpoint(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Ok(names) = env.names() else {
        return Ok(());
    };
    let cluster_id = env.cluster.spec.resource_id.clone();
    let Some(id) =
        private_endpoint_id(&env.ctx.settings.rp_private_endpoint_subnet_id, &cluster_id)
    else {
        return Ok(());
    };
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let pls_id = names.private_link_service_id();
    let Some(existing) = azure::get(&arm, &id, NETWORK_API).await? else {
        return Ok(());
    };
    if let Err(why) = endpoint_is_ours(&existing, &cluster_id, &pls_id) {
        tracing::warn!(endpoint = %id, cluster = %cluster_id, "leaving a private endpoint alone: {why}");
        return Ok(());
    }
    azure::delete_read(&arm, &id, NETWORK_API, &existing).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{
        Harness, cluster, cluster_resource_group_id, installing, run_all,
    };
    use crate::steps::StepId;
    use arm_emulator::demo;

    const RG: &str = "/subscriptions/s/resourceGroups/aro-x";

    #[test]
    fn assignment_names_are_stable_and_per_principal() {
        let a = role_assignment_name(RG, "P1");
        assert_eq!(a, role_assignment_name(&RG.to_uppercase(), "p1"));
        assert_ne!(a, role_assignment_name(RG, "p2"));
        assert!(uuid::Uuid::parse_str(&a).is_ok());
    }

    #[test]
    fn only_the_rps_own_assignments_at_the_scope_are_recognised() {
        let role = format!("/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR_ROLE}");
        let ours = json!({"name": role_assignment_name(RG, "p1"),
            "properties": {"principalId": "p1", "scope": RG, "roleDefinitionId": role}});
        assert_eq!(
            made_by_rp(&ours, RG),
            Some(("p1".to_string(), CONTRIBUTOR_ROLE.to_string()))
        );
        let foreign = json!({"name": "00000000-0000-0000-0000-000000000009",
            "properties": {"principalId": "p1", "scope": RG, "roleDefinitionId": role}});
        assert_eq!(made_by_rp(&foreign, RG), None);
        let elsewhere = json!({"name": role_assignment_name(RG, "p1"),
            "properties": {"principalId": "p1", "scope": format!("{RG}/providers/x/y/z"), "roleDefinitionId": role}});
        assert_eq!(made_by_rp(&elsewhere, RG), None);
        let other_role = json!({"name": role_assignment_name(RG, "p1"),
            "properties": {"principalId": "p1", "scope": RG, "roleDefinitionId": "/x/acdd72a7-3385-48ef-bd42-f606fba81ae7"}});
        assert_eq!(made_by_rp(&other_role, RG), None);
    }

    #[test]
    fn the_private_endpoint_lives_with_the_rp_subnet() {
        let subnet = "/subscriptions/rp/resourceGroups/aro-rp/providers/Microsoft.Network/virtualNetworks/rp-vnet/subnets/rp-pe";
        let cluster = "/subscriptions/s/resourceGroups/r/providers/Microsoft.RedHatOpenShift/openShiftClusters/c";
        let id = private_endpoint_id(subnet, cluster).unwrap();
        assert!(
            id.starts_with(
                "/subscriptions/rp/resourceGroups/aro-rp/providers/Microsoft.Network/privateEndpoints/aro-pe-"
            ),
            "{id}"
        );
        assert_eq!(private_endpoint_id("", cluster), None);
        let body = private_endpoint_body("eastus", subnet, "pls", cluster);
        assert_eq!(
            body["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]["privateLinkServiceId"],
            "pls"
        );
        assert_eq!(body["tags"][OWNER_TAG], cluster);
    }

    #[test]
    fn endpoint_names_are_unique_per_cluster_id() {
        let a = "/subscriptions/s1/resourceGroups/r/providers/Microsoft.RedHatOpenShift/openShiftClusters/c";
        let b = "/subscriptions/s2/resourceGroups/r/providers/Microsoft.RedHatOpenShift/openShiftClusters/c";
        let name = private_endpoint_name(a);
        assert_eq!(name, private_endpoint_name(&a.to_uppercase()));
        // The same group and cluster name in another subscription (another tenant): another name.
        assert_ne!(name, private_endpoint_name(b));
        assert!(name.len() <= 80, "{name}");
    }

    #[test]
    fn only_an_endpoint_tagged_for_the_cluster_and_connected_to_its_service_is_ours() {
        let cluster = "/subscriptions/s/resourceGroups/r/providers/Microsoft.RedHatOpenShift/openShiftClusters/c";
        let ours = private_endpoint_body("eastus", "/sub", "/pls", cluster);
        assert!(endpoint_is_ours(&ours, &cluster.to_uppercase(), "/PLS").is_ok());
        let other_owner = private_endpoint_body("eastus", "/sub", "/pls", "/other");
        assert!(endpoint_is_ours(&other_owner, cluster, "/pls").is_err());
        let other_target = private_endpoint_body("eastus", "/sub", "/other-pls", cluster);
        assert!(endpoint_is_ours(&other_target, cluster, "/pls").is_err());
        let untagged = json!({"properties": {"manualPrivateLinkServiceConnections": [
            {"properties": {"privateLinkServiceId": "/pls"}}]}});
        assert!(endpoint_is_ours(&untagged, cluster, "/pls").is_err());
        let mut extra = ours.clone();
        extra["properties"]["privateLinkServiceConnections"] =
            json!([{"properties": {"privateLinkServiceId": "/elsewhere"}}]);
        assert!(endpoint_is_ours(&extra, cluster, "/pls").is_err());
        let no_target = json!({"tags": {OWNER_TAG: cluster}, "properties": {}});
        assert!(endpoint_is_ours(&no_target, cluster, "/pls").is_err());
    }

    fn assignment_id(principal: &str) -> String {
        let rg = cluster_resource_group_id();
        format!(
            "{rg}/providers/Microsoft.Authorization/roleAssignments/{}",
            role_assignment_name(&rg, principal)
        )
    }

    #[tokio::test]
    async fn the_service_principal_gets_contributor_and_a_replaced_one_loses_it() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = installing();
        status.service_principal_object_id = Some(demo::CLUSTER_OBJECT_ID.into());
        run_all(
            &h,
            &[StepId::EnsureResourceGroup, StepId::EnsureRoleAssignments],
            &cluster,
            &mut status,
        )
        .await;
        let first = h.resource(&assignment_id(demo::CLUSTER_OBJECT_ID)).unwrap();
        assert_eq!(first["properties"]["principalId"], demo::CLUSTER_OBJECT_ID);
        assert!(
            first["properties"]["roleDefinitionId"]
                .as_str()
                .unwrap()
                .ends_with(CONTRIBUTOR_ROLE)
        );

        // Update with another service principal: its assignment replaces the first.
        status.service_principal_object_id = Some(demo::ROTATED_OBJECT_ID.into());
        run_all(&h, &[StepId::EnsureRoleAssignments], &cluster, &mut status).await;
        assert!(
            h.resource(&assignment_id(demo::ROTATED_OBJECT_ID))
                .is_some()
        );
        assert!(
            h.resource(&assignment_id(demo::CLUSTER_OBJECT_ID))
                .is_none()
        );

        run_all(&h, &[StepId::RemoveRoleAssignments], &cluster, &mut status).await;
        assert!(
            h.resource(&assignment_id(demo::ROTATED_OBJECT_ID))
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_rps_private_endpoint_is_created_for_the_cluster_and_removed_with_it() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = installing();
        run_all(
            &h,
            &[
                StepId::EnsureResourceGroup,
                StepId::EnsureLoadBalancers,
                StepId::EnsurePrivateLink,
                StepId::CreateApiServerPrivateEndpoint,
            ],
            &cluster,
            &mut status,
        )
        .await;
        let id = private_endpoint_id(
            &demo::rp_private_endpoint_subnet_id(),
            &cluster.spec.resource_id,
        )
        .unwrap();
        let endpoint = h.resource(&id).unwrap();
        let pls = crate::actions::testing::names().private_link_service_id();
        assert!(endpoint_is_ours(&endpoint, &cluster.spec.resource_id, &pls).is_ok());
        assert!(status.private_endpoint_ip.is_some());

        // Another cluster's delete leaves it alone; the cluster's own removes it.
        let mut other = cluster.clone();
        other.spec.resource_id = other.spec.resource_id.replace("/demo", "/other");
        run_all(&h, &[StepId::RemovePrivateEndpoint], &other, &mut status).await;
        assert!(h.resource(&id).is_some());
        run_all(&h, &[StepId::RemovePrivateEndpoint], &cluster, &mut status).await;
        assert!(h.resource(&id).is_none());
    }

    #[tokio::test]
    async fn without_an_rp_subnet_there_is_no_endpoint_and_a_malformed_one_is_an_internal_error() {
        let mut h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = installing();
        h.ctx.settings.rp_private_endpoint_subnet_id = String::new();
        for step in [
            StepId::CreateApiServerPrivateEndpoint,
            StepId::RemovePrivateEndpoint,
        ] {
            assert_eq!(h.run(step, &cluster, &mut status).await, Outcome::Done);
        }
        assert!(h.emulator.requests().is_empty());
        h.ctx.settings.rp_private_endpoint_subnet_id = "/subscriptions/rp/subnets".into();
        let Outcome::Failed(e) = h
            .run(
                StepId::CreateApiServerPrivateEndpoint,
                &cluster,
                &mut status,
            )
            .await
        else {
            panic!("a malformed setting fails the step");
        };
        assert!(e.is_internal(), "{e:?}");
    }
}
