//! The cluster service principal's access (its object id and its role on the cluster resource
//! group) and the RP's private endpoint into the cluster: created at install, refreshed by an
//! update, removed at delete (ARO-RP's pkg/cluster: deployBaseResourceTemplate's RBAC and
//! createAPIServerPrivateEndpoint at install, their removal at delete).

use aro_common::ResourceId;
use serde_json::{Value, json};

use super::StepEnv;
use super::network::derived_private_ip_in;
use crate::azure::{self, AUTHORIZATION_API, NETWORK_API, StepResult};
use crate::infra::InfraNames;
use crate::steps::Outcome;

/// The built-in Contributor role, which ARO gives the cluster's service principal on the cluster
/// resource group.
pub const CONTRIBUTOR_ROLE: &str = "b24988ac-6180-42a0-ab88-20f7382dd24c";

/// Name of the role assignment the RP makes for `principal` at `scope`: a name-based UUID, so a
/// retried or resumed step finds the one it made, and another principal's assignment made by
/// the RP is recognisable.
pub fn role_assignment_name(scope: &str, principal: &str) -> String {
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!(
            "aro-rp:{}:{}:{CONTRIBUTOR_ROLE}",
            scope.to_ascii_lowercase(),
            principal.to_ascii_lowercase()
        )
        .as_bytes(),
    )
    .to_string()
}

/// Body of that role assignment.
pub fn role_assignment_body(subscription: &str, principal: &str) -> Value {
    json!({"properties": {
        "roleDefinitionId": format!(
            "/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR_ROLE}"
        ),
        "principalId": principal,
        "principalType": "ServicePrincipal",
    }})
}

/// Whether `assignment` (as ARM lists it) is one the RP made at `scope`, and for whom.
pub fn made_by_rp(assignment: &Value, scope: &str) -> Option<String> {
    let props = &assignment["properties"];
    let principal = props["principalId"].as_str()?;
    let at_scope = props["scope"]
        .as_str()
        .is_some_and(|s| s.eq_ignore_ascii_case(scope));
    let name = assignment["name"].as_str().unwrap_or_default();
    (at_scope && name.eq_ignore_ascii_case(&role_assignment_name(scope, principal)))
        .then(|| principal.to_string())
}

fn resource_group_id(names: &InfraNames) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{}",
        names.subscription_id, names.resource_group
    )
}

/// The RP's role assignments at the cluster resource group (none when the group is gone).
async fn rp_assignments(env: &StepEnv<'_>, scope: &str) -> StepResult<Vec<(String, String)>> {
    let path = format!("{scope}/providers/Microsoft.Authorization/roleAssignments");
    let listed = match env.arm().list(&path, AUTHORIZATION_API).await {
        Ok(listed) => listed,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(azure::outcome_of(&e)),
    };
    Ok(listed
        .iter()
        .filter_map(|a| {
            let principal = made_by_rp(a, scope)?;
            Some((a["id"].as_str()?.to_string(), principal))
        })
        .collect())
}

/// Give the cluster's service principal Contributor on the cluster resource group, and take it
/// from a principal the cluster no longer uses (after a service principal change).
pub async fn ensure_role_assignments(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Some(principal) = env.status.service_principal_object_id.clone() else {
        return Ok(());
    };
    let names = env.names()?;
    let scope = resource_group_id(&names);
    let arm = env.arm();
    let id = format!(
        "{scope}/providers/Microsoft.Authorization/roleAssignments/{}",
        role_assignment_name(&scope, &principal)
    );
    if azure::get(&arm, &id, AUTHORIZATION_API).await?.is_none() {
        let body = role_assignment_body(&names.subscription_id, &principal);
        match arm.put(&id, AUTHORIZATION_API, &body).await {
            Ok(_) => {}
            // Someone else gave it the same role there: the access is in place.
            Err(azure_clients::Error::Cloud(e)) if e.code == "RoleAssignmentExists" => {}
            Err(e) => return Err(azure::outcome_of(&e)),
        }
    }
    for (other, other_principal) in rp_assignments(env, &scope).await? {
        if !other_principal.eq_ignore_ascii_case(&principal) {
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
        let ours = json!({"name": role_assignment_name(RG, "p1"),
            "properties": {"principalId": "p1", "scope": RG}});
        assert_eq!(made_by_rp(&ours, RG).as_deref(), Some("p1"));
        let foreign = json!({"name": "00000000-0000-0000-0000-000000000009",
            "properties": {"principalId": "p1", "scope": RG}});
        assert_eq!(made_by_rp(&foreign, RG), None);
        let elsewhere = json!({"name": role_assignment_name(RG, "p1"),
            "properties": {"principalId": "p1", "scope": format!("{RG}/providers/x/y/z")}});
        assert_eq!(made_by_rp(&elsewhere, RG), None);
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
