//! `validateResources`: dynamic validation of the customer's network and of the permissions the
//! cluster's service principal and the RP hold on it (ARO-RP's pkg/validate/dynamic), as ARM
//! answers for them; the rules themselves are [`crate::validation`]'s.

use std::time::Duration;

use azure_clients::ArmClient;
use crds::ArmError;
use crds::management::Toggle;
use serde_json::Value;

use super::credentials::{cluster_sp_clients, customer_tenant};
use super::{CLIENT_SECRET_KEY, StepEnv};
use crate::azure::{self, AUTHORIZATION_API, NETWORK_API, StepResult};
use crate::steps::Outcome;
use crate::validation::{
    self, LinkedResource, NetworkFacts, Permission, Principal, Subnet, VirtualNetwork,
};

pub(super) fn subnet_of(value: &Value, vnet_id: &str) -> Subnet {
    let p = &value["properties"];
    let mut prefixes: Vec<String> = p["addressPrefixes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if let Some(prefix) = p["addressPrefix"].as_str() {
        prefixes.insert(0, prefix.to_string());
    }
    let id = value["id"].as_str().map(str::to_string).unwrap_or_else(|| {
        format!(
            "{vnet_id}/subnets/{}",
            value["name"].as_str().unwrap_or_default()
        )
    });
    let reference = |name: &str| p[name]["id"].as_str().map(str::to_string);
    Subnet {
        id,
        address_prefixes: prefixes,
        network_security_group_id: reference("networkSecurityGroup"),
        route_table_id: reference("routeTable"),
        nat_gateway_id: reference("natGateway"),
        provisioning_state: p["provisioningState"].as_str().map(str::to_string),
    }
}

/// The validation view of a virtual network as ARM returns it.
pub fn vnet_of(value: &Value) -> VirtualNetwork {
    let id = value["id"].as_str().unwrap_or_default().to_string();
    VirtualNetwork {
        location: value["location"].as_str().unwrap_or_default().to_string(),
        provisioning_state: value["properties"]["provisioningState"]
            .as_str()
            .map(str::to_string),
        subnets: value["properties"]["subnets"]
            .as_array()
            .map(|a| a.iter().map(|s| subnet_of(s, &id)).collect())
            .unwrap_or_default(),
        id,
    }
}

async fn permissions(
    arm: &ArmClient,
    scope: &str,
) -> Result<Vec<Permission>, azure_clients::Error> {
    let path = format!("{scope}/providers/Microsoft.Authorization/permissions");
    let values = arm.list(&path, AUTHORIZATION_API).await?;
    Ok(values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

async fn check_permissions(
    arm: &ArmClient,
    principal: Principal,
    linked: &[(LinkedResource, String)],
) -> StepResult<()> {
    for (resource, id) in linked {
        let granted = match permissions(arm, id).await {
            Ok(p) => p,
            Err(azure_clients::Error::Credential(message)) => {
                return Err(Outcome::Failed(invalid_credentials(principal, &message)));
            }
            Err(e) if e.is_authorization_failure() => Vec::new(),
            Err(e) => return Err(azure::outcome_of(&e)),
        };
        validation::validate_network_permissions(principal, *resource, id, &granted)
            .map_err(Outcome::Failed)?;
    }
    Ok(())
}

fn invalid_credentials(principal: Principal, message: &str) -> ArmError {
    match principal {
        Principal::ClusterServicePrincipal => ArmError::new(
            "InvalidServicePrincipalCredentials",
            "The provided service principal credentials are invalid.",
        )
        .with_target("properties.servicePrincipalProfile"),
        _ => ArmError::new(
            "InternalServerError",
            format!("The resource provider could not authenticate: {message}"),
        ),
    }
}

/// How long a validation held up by a network operation in flight waits before it looks again.
const TRANSIENT_RETRY: Duration = Duration::from_secs(5);

/// A network validation failure: retried (within the step's attempts) while the virtual network
/// or a cluster subnet is in a transient state, since the operation in flight may be all that is
/// wrong; reported at once otherwise. Pure.
fn network_failure(error: ArmError, transient: Option<String>) -> Outcome {
    match transient {
        Some(why) => {
            tracing::info!(%why, code = %error.code, "network validation waits out an operation in flight");
            Outcome::Retryable {
                error,
                retry_after: Some(TRANSIENT_RETRY),
            }
        }
        None => Outcome::Failed(error),
    }
}

pub(super) async fn validate_resources(env: &mut StepEnv<'_>) -> StepResult<()> {
    let spec = &env.cluster.spec;
    let creating =
        env.status.provisioning_state == Some(crds::management::ProvisioningState::Creating);
    let master_subnet = spec.master_profile.subnet_id.clone();
    let vnet_id = validation::network::vnet_id_of(&master_subnet)
        .unwrap_or(&master_subnet)
        .to_string();
    let arm = env.arm();
    let vnet = azure::get(&arm, &vnet_id, NETWORK_API)
        .await?
        .map(|v| vnet_of(&v));
    // The cluster's NSG on its subnets is the RP's doing (AttachNSGs) only when the RP builds the
    // network; a runtime whose installer builds it owns the subnets' NSG.
    let expected_nsg_id = if creating
        || spec.network_profile.preconfigured_nsg == Toggle::Enabled
        || !env.ctx.runtime.rp_builds_network()
    {
        None
    } else {
        env.names().ok().map(|n| n.nsg_id())
    };
    let cluster_subnet_ids: Vec<&str> = std::iter::once(spec.master_profile.subnet_id.as_str())
        .chain(spec.worker_profiles.iter().map(|w| w.subnet_id.as_str()))
        .collect();
    validation::validate_network(&NetworkFacts {
        spec,
        creating,
        vnet: vnet.as_ref(),
        expected_nsg_id,
    })
    .map_err(|error| {
        network_failure(
            error,
            vnet.as_ref()
                .and_then(|v| validation::network::transient_state(v, &cluster_subnet_ids)),
        )
    })?;

    // Linked resources: the virtual network and what is attached to the cluster's subnets.
    let mut linked = vec![(LinkedResource::VirtualNetwork, vnet_id.clone())];
    let cluster_subnets: Vec<String> = std::iter::once(master_subnet.to_ascii_lowercase())
        .chain(
            spec.worker_profiles
                .iter()
                .map(|w| w.subnet_id.to_ascii_lowercase()),
        )
        .collect();
    for subnet in vnet.iter().flat_map(|v| v.subnets.iter()) {
        if !cluster_subnets.contains(&subnet.id.to_ascii_lowercase()) {
            continue;
        }
        if let Some(rt) = &subnet.route_table_id {
            linked.push((LinkedResource::RouteTable, rt.clone()));
        }
        if let Some(nat) = &subnet.nat_gateway_id {
            linked.push((LinkedResource::NatGateway, nat.clone()));
        }
    }
    linked.dedup();

    if let Some(sp) = &spec.service_principal_profile {
        let secret = env
            .customer_secret(CLIENT_SECRET_KEY)
            .await?
            .ok_or_else(|| {
                Outcome::Failed(
                    ArmError::new(
                        "InvalidServicePrincipalCredentials",
                        "The cluster's service principal secret is missing.",
                    )
                    .with_target("properties.servicePrincipalProfile.clientSecret"),
                )
            })?;
        let tenant = customer_tenant(env).await?;
        let sp_clients = cluster_sp_clients(env.ctx, &tenant, &sp.client_id, &secret)?;
        check_permissions(
            &sp_clients.arm(),
            Principal::ClusterServicePrincipal,
            &linked,
        )
        .await?;
        // Its object id: the principal of its role assignments.
        let object_id = match sp_clients.object_id().await {
            Ok(id) => id,
            Err(azure_clients::Error::Credential(message)) => {
                return Err(Outcome::Failed(invalid_credentials(
                    Principal::ClusterServicePrincipal,
                    &message,
                )));
            }
            Err(e) => return Err(azure::outcome_of(&e)),
        };
        env.status.service_principal_object_id = Some(object_id);
    }
    check_permissions(&arm, Principal::ResourceProvider, &linked).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{Harness, cluster, cluster_with_service_principal, installing};
    use crate::steps::StepId;
    use arm_emulator::demo;
    use crds::management::ProvisioningState;
    use serde_json::json;

    #[test]
    fn vnets_convert_with_prefixes_and_attachments() {
        let v = json!({"id": "/v", "location": "eastus", "properties": {"subnets": [
            {"id": "/v/subnets/a", "name": "a", "properties": {"addressPrefix": "10.0.0.0/24",
             "networkSecurityGroup": {"id": "/nsg"}, "routeTable": {"id": "/rt"}, "provisioningState": "Succeeded"}},
            {"name": "b", "properties": {"addressPrefixes": ["10.0.1.0/24"]}}]}});
        let vnet = vnet_of(&v);
        assert_eq!(vnet.subnets[0].address_prefixes, vec!["10.0.0.0/24"]);
        assert_eq!(
            vnet.subnets[0].network_security_group_id.as_deref(),
            Some("/nsg")
        );
        assert_eq!(vnet.subnets[0].route_table_id.as_deref(), Some("/rt"));
        assert_eq!(vnet.subnets[1].id, "/v/subnets/b");
        assert_eq!(vnet.subnets[1].address_prefixes, vec!["10.0.1.0/24"]);
    }

    fn creating() -> crds::management::OpenShiftClusterStatus {
        crds::management::OpenShiftClusterStatus {
            provisioning_state: Some(ProvisioningState::Creating),
            ..installing()
        }
    }

    #[tokio::test]
    async fn the_demo_network_validates_for_the_rp() {
        let h = Harness::arm_only().await;
        let mut status = creating();
        assert_eq!(
            h.run(StepId::ValidateResources, &cluster(), &mut status)
                .await,
            Outcome::Done
        );
        // Validation only reads.
        assert_eq!(h.writes(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn an_installed_clusters_subnets_need_its_nsg_only_when_the_rp_attached_it() {
        let updating = || crds::management::OpenShiftClusterStatus {
            provisioning_state: Some(ProvisioningState::Updating),
            ..installing()
        };
        // The demo subnets carry no NSG of this cluster.
        let h = Harness::arm_only().await;
        let Outcome::Failed(e) = h
            .run(StepId::ValidateResources, &cluster(), &mut updating())
            .await
        else {
            panic!("the RP's NSG is missing from the subnets");
        };
        assert_eq!(e.code, "InvalidLinkedVNet");
        assert!(
            e.message.contains("must have network security group"),
            "{}",
            e.message
        );
        // openshift-install (installer or Hive runtime) owns the subnets' NSG.
        let h = Harness::arm_only_with(crate::actions::testing::RecordingRuntime {
            installer_builds_network: true,
            ..Default::default()
        })
        .await;
        assert_eq!(
            h.run(StepId::ValidateResources, &cluster(), &mut updating())
                .await,
            Outcome::Done
        );
    }

    #[tokio::test]
    async fn a_subnet_in_an_operation_is_waited_out_not_failed() {
        let h = Harness::arm_only_lro(
            crate::actions::testing::RecordingRuntime::default(),
            Duration::from_secs(600),
        )
        .await;
        let arm = h.ctx.azure.arm();
        let worker = cluster().spec.worker_profiles[0].subnet_id.clone();
        let body = arm.get(&worker, NETWORK_API).await.unwrap().unwrap();
        // Someone (the cluster's operator re-attaching its NSG) updates the subnet: Updating.
        arm.put(&worker, NETWORK_API, &body).await.unwrap();
        let outcome = h
            .run_once(StepId::ValidateResources, &cluster(), &mut creating(), None)
            .await;
        let Outcome::Retryable { error, retry_after } = outcome else {
            panic!("an Updating subnet is retried: {outcome:?}");
        };
        assert_eq!(error.code, "InvalidLinkedVNet");
        assert_eq!(retry_after, Some(TRANSIENT_RETRY));
        // A bad state that is not transient is the customer's error at once.
        assert!(matches!(
            network_failure(ArmError::new("InvalidLinkedVNet", "x"), None),
            Outcome::Failed(_)
        ));
    }

    #[tokio::test]
    async fn a_missing_virtual_network_is_the_customers_error() {
        let h = Harness::arm_only().await;
        let mut cluster = cluster();
        let missing = demo::vnet_id().replace(demo::VNET, "missing-vnet");
        cluster.spec.master_profile.subnet_id = format!("{missing}/subnets/master");
        let Outcome::Failed(e) = h
            .run(StepId::ValidateResources, &cluster, &mut creating())
            .await
        else {
            panic!("a missing VNet fails validation");
        };
        assert_eq!(e.code, "InvalidLinkedVNet");
        assert!(e.message.contains("missing-vnet"), "{}", e.message);
    }

    #[tokio::test]
    async fn the_service_principal_is_checked_in_the_customers_tenant_and_its_object_id_kept() {
        let h = Harness::with_kube().await;
        h.register_subscription(demo::TENANT).await;
        let cluster = cluster_with_service_principal();

        // Its secret is not staged: the customer's error.
        let Outcome::Failed(e) = h
            .run(StepId::ValidateResources, &cluster, &mut creating())
            .await
        else {
            panic!("no secret, no validation");
        };
        assert_eq!(
            (e.code.as_str(), e.target.as_deref()),
            (
                "InvalidServicePrincipalCredentials",
                Some("properties.servicePrincipalProfile.clientSecret")
            )
        );

        h.put_customer_secret(&[(super::CLIENT_SECRET_KEY, demo::CLUSTER_CLIENT_SECRET)])
            .await;
        let mut status = creating();
        assert_eq!(
            h.run(StepId::ValidateResources, &cluster, &mut status)
                .await,
            Outcome::Done
        );
        assert_eq!(
            status.service_principal_object_id.as_deref(),
            Some(demo::CLUSTER_OBJECT_ID)
        );
    }

    #[tokio::test]
    async fn a_wrong_service_principal_secret_is_invalid_credentials() {
        let h = Harness::with_kube().await;
        h.register_subscription(demo::TENANT).await;
        h.put_customer_secret(&[(super::CLIENT_SECRET_KEY, "not-the-secret")])
            .await;
        let Outcome::Failed(e) = h
            .run(
                StepId::ValidateResources,
                &cluster_with_service_principal(),
                &mut creating(),
            )
            .await
        else {
            panic!("wrong credentials fail validation");
        };
        assert_eq!(e.code, "InvalidServicePrincipalCredentials");
        assert_eq!(
            e.target.as_deref(),
            Some("properties.servicePrincipalProfile")
        );
    }
}
