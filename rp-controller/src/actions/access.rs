//! The cluster service principal's access (its object id and its role on the cluster resource
//! group) and the RP's private endpoint into the cluster: created at install, refreshed by an
//! update, removed at delete (reference 5.3 deployBaseResourceTemplate's RBAC and
//! createAPIServerPrivateEndpoint, 5.4 delete).

use serde_json::{Value, json};

use super::{StepEnv, derived_private_ip_in, segment_after};
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

/// Id of the RP's private endpoint into the cluster: in the resource group of the RP's subnet.
pub fn private_endpoint_id(rp_subnet_id: &str, names: &InfraNames) -> Option<String> {
    if rp_subnet_id.is_empty() {
        return None;
    }
    Some(format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/privateEndpoints/{}",
        segment_after(rp_subnet_id, "subscriptions"),
        segment_after(rp_subnet_id, "resourceGroups"),
        names.private_endpoint()
    ))
}

/// Body of the RP's private endpoint, connected to the cluster's private link service.
pub fn private_endpoint_body(location: &str, rp_subnet_id: &str, pls_id: &str) -> Value {
    json!({
        "location": location,
        "properties": {
            "subnet": {"id": rp_subnet_id},
            "manualPrivateLinkServiceConnections": [{
                "name": "rp-plsconnection",
                "properties": {"privateLinkServiceId": pls_id},
            }],
        },
    })
}

/// The endpoint's address as Azure reports it (its DNS configuration).
fn private_endpoint_ip(endpoint: &Value) -> Option<String> {
    endpoint["properties"]["customDnsConfigs"][0]["ipAddresses"][0]
        .as_str()
        .map(str::to_string)
}

/// Install: the RP's private endpoint to the cluster's private link service (the RP reaches a
/// private API server through it); its address goes into `status.privateEndpointIp`.
pub async fn create_private_endpoint(env: &mut StepEnv<'_>) -> StepResult<()> {
    let names = env.names()?;
    let rp_subnet = env.ctx.settings.rp_private_endpoint_subnet_id.clone();
    let Some(id) = private_endpoint_id(&rp_subnet, &names) else {
        return Ok(());
    };
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let pls_id = names.private_link_service_id();
    let body = private_endpoint_body(&env.cluster.spec.location, &rp_subnet, &pls_id);
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

/// Delete: the RP's private endpoint (it is outside the cluster resource group).
pub async fn remove_private_endpoint(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Ok(names) = env.names() else {
        return Ok(());
    };
    let Some(id) = private_endpoint_id(&env.ctx.settings.rp_private_endpoint_subnet_id, &names)
    else {
        return Ok(());
    };
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    azure::ensure_deleted(&arm, &id, NETWORK_API).await
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let names = InfraNames {
            infra_id: "c-abcde".into(),
            subscription_id: "s".into(),
            resource_group: "aro-x".into(),
        };
        let subnet = "/subscriptions/rp/resourceGroups/aro-rp/providers/Microsoft.Network/virtualNetworks/rp-vnet/subnets/rp-pe";
        assert_eq!(
            private_endpoint_id(subnet, &names).as_deref(),
            Some(
                "/subscriptions/rp/resourceGroups/aro-rp/providers/Microsoft.Network/privateEndpoints/c-abcde-pe"
            )
        );
        assert_eq!(private_endpoint_id("", &names), None);
        let body = private_endpoint_body("eastus", subnet, "pls");
        assert_eq!(
            body["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]["privateLinkServiceId"],
            "pls"
        );
    }
}
