//! subnets (AzureSubnets): the subnets the cluster's machines use (from master Machines and worker
//! MachineSets' provider specs) carry the cluster's network security group, and, when the cluster has
//! no gateway domains, the service endpoints Microsoft.ContainerRegistry and Microsoft.Storage
//! (locations `*`). A repair stamps the Cluster with `aro.openshift.io/lastSubnetReconcileTimestamp`.
//! Subnets that no longer exist are skipped (ARO-RP's pkg/operator/controllers).
//!
//! Azure is reached through [`SubnetsApi`], the adapter boundary to the Azure network API: the lead
//! implements it over the `azure-clients` crate (GET and PUT of
//! `Microsoft.Network/virtualNetworks/subnets`). Everything else here is pure and unit-tested.

use aro_common::ResourceId;
use crds::operator::{Cluster, SINGLETON_NAME};
use futures::future::BoxFuture;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::kinds::{MACHINE, MACHINE_SET};
use crate::machineset::is_worker;
use crate::{Error, FIELD_MANAGER, Result};

/// Name in conditions: `AzureSubnetsController*`.
pub const NAME: &str = "AzureSubnets";
/// Flag gating the controller.
pub const FLAG_ENABLED: &str = "aro.azuresubnets.enabled";
/// Flag allowing the controller to fix subnets' NSG.
pub const FLAG_NSG_MANAGED: &str = "aro.azuresubnets.nsg.managed";
/// Flag allowing the controller to add service endpoints.
pub const FLAG_SERVICE_ENDPOINT_MANAGED: &str = "aro.azuresubnets.serviceendpoint.managed";
/// Cluster annotation recording the last repair.
pub const RECONCILE_TIMESTAMP_ANNOTATION: &str = "aro.openshift.io/lastSubnetReconcileTimestamp";
/// Service endpoints every machine subnet needs when egress does not go through the gateway.
pub const SERVICE_ENDPOINTS: &[&str] = &["Microsoft.ContainerRegistry", "Microsoft.Storage"];
/// Namespace of Machines and MachineSets.
pub const MACHINE_NAMESPACE: &str = "openshift-machine-api";

/// A subnet used by the cluster's machines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineSubnet {
    /// ARM id of the subnet.
    pub resource_id: String,
    /// Whether masters use it (selects the NSG of architecture version 1).
    pub is_master: bool,
}

/// A subnet's service endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEndpoint {
    pub service: String,
    pub locations: Vec<String>,
    /// ARM provisioning state; `None` for an endpoint being added.
    pub provisioning_state: Option<String>,
}

/// What the controller reads and writes of a subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetState {
    /// ARM id of the subnet's NSG, if any.
    pub network_security_group_id: Option<String>,
    pub service_endpoints: Vec<ServiceEndpoint>,
}

/// Changes one subnet needs; `None` fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubnetChange {
    /// The NSG id to attach.
    pub network_security_group_id: Option<String>,
    /// The complete new list of service endpoints.
    pub service_endpoints: Option<Vec<ServiceEndpoint>>,
}

impl SubnetChange {
    /// Whether nothing is to be changed.
    pub fn is_empty(&self) -> bool {
        self.network_security_group_id.is_none() && self.service_endpoints.is_none()
    }
}

/// Adapter to the Azure network API. Implementations must keep every subnet property they do not
/// change (address prefixes, route table, delegations, ...): `update` is a GET-modify-PUT of the
/// subnet with ETag/If-Match or an equivalent precondition.
pub trait SubnetsApi: Send + Sync {
    /// The subnet with ARM id `id`, or `None` when it does not exist (404).
    fn get<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SubnetState>>>;
    /// Apply `change` to subnet `id`, waiting for the long-running PUT to finish.
    fn update<'a>(&'a self, id: &'a str, change: &'a SubnetChange) -> BoxFuture<'a, Result<()>>;
}

/// The subscription of a resource's ARM id (`/subscriptions/<sub>/resourceGroups/...`).
pub fn subscription_of(arm_id: &str) -> Option<String> {
    ResourceId::parse(arm_id).ok().map(|id| id.subscription)
}

/// The ARM id of the NSG every machine subnet of `cluster` must carry: `<infraID>-nsg` in the
/// cluster resource group (architecture version 1: `-controlplane-nsg` for masters, `-node-nsg` for
/// workers).
pub fn expected_nsg_id(cluster: &Cluster, is_master: bool) -> Result<String> {
    let spec = &cluster.spec;
    if spec.infra_id.is_empty() || spec.cluster_resource_group_id.is_empty() {
        return Err(Error::invalid(
            "subnets",
            "spec.infraId and spec.clusterResourceGroupId are required",
        ));
    }
    let suffix = match (spec.architecture_version, is_master) {
        (0 | 1, true) => "-controlplane-nsg",
        (0 | 1, false) => "-node-nsg",
        _ => "-nsg",
    };
    Ok(format!(
        "{}/providers/Microsoft.Network/networkSecurityGroups/{}{suffix}",
        spec.cluster_resource_group_id.trim_end_matches('/'),
        spec.infra_id
    ))
}

/// The subnet ARM id of an Azure machine provider spec (as JSON) in `subscription`.
pub fn subnet_id_of(subscription: &str, provider_spec: &Value) -> Result<String> {
    let field = |name: &str| {
        provider_spec[name]
            .as_str()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::invalid("subnets", format!("provider spec has no {name}")))
    };
    Ok(format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}/subnets/{}",
        field("networkResourceGroup")?,
        field("vnet")?,
        field("subnet")?
    ))
}

/// The distinct subnets of the master Machines and worker MachineSets (as JSON), masters first;
/// ARM ids compare case-insensitively.
pub fn machine_subnets(
    subscription: &str,
    master_machines: &[Value],
    worker_machinesets: &[Value],
) -> Result<Vec<MachineSubnet>> {
    let mut subnets: Vec<MachineSubnet> = Vec::new();
    let specs = master_machines
        .iter()
        .map(|m| (&m["spec"]["providerSpec"]["value"], true))
        .chain(worker_machinesets.iter().map(|m| {
            (
                &m["spec"]["template"]["spec"]["providerSpec"]["value"],
                false,
            )
        }));
    for (spec, is_master) in specs {
        let id = subnet_id_of(subscription, spec)?;
        if !subnets
            .iter()
            .any(|s| s.resource_id.eq_ignore_ascii_case(&id))
        {
            subnets.push(MachineSubnet {
                resource_id: id,
                is_master,
            });
        }
    }
    Ok(subnets)
}

/// What one subnet needs: the expected NSG (when `manage_nsg`) and the missing service endpoints
/// (when `manage_endpoints`). An endpoint counts as present only when its provisioning succeeded.
pub fn plan_subnet(
    current: &SubnetState,
    expected_nsg: &str,
    manage_nsg: bool,
    manage_endpoints: bool,
) -> SubnetChange {
    let mut change = SubnetChange::default();
    if manage_nsg
        && !current
            .network_security_group_id
            .as_deref()
            .is_some_and(|id| id.eq_ignore_ascii_case(expected_nsg))
    {
        change.network_security_group_id = Some(expected_nsg.to_string());
    }
    if manage_endpoints {
        let mut endpoints = current.service_endpoints.clone();
        let mut changed = false;
        for service in SERVICE_ENDPOINTS {
            let present = current.service_endpoints.iter().any(|e| {
                e.service.eq_ignore_ascii_case(service)
                    && e.provisioning_state.as_deref() == Some("Succeeded")
            });
            if !present {
                endpoints.retain(|e| !e.service.eq_ignore_ascii_case(service));
                endpoints.push(ServiceEndpoint {
                    service: service.to_string(),
                    locations: vec!["*".into()],
                    provisioning_state: None,
                });
                changed = true;
            }
        }
        if changed {
            change.service_endpoints = Some(endpoints);
        }
    }
    change
}

/// Reconcile once through `azure`. Returns the changes applied, per subnet id.
pub async fn reconcile(
    client: &Client,
    cluster: &Cluster,
    azure: &dyn SubnetsApi,
) -> Result<Vec<(String, SubnetChange)>> {
    let spec = &cluster.spec;
    let manage_nsg = spec.flag_enabled(FLAG_NSG_MANAGED);
    let manage_endpoints =
        spec.flag_enabled(FLAG_SERVICE_ENDPOINT_MANAGED) && spec.gateway_domains.is_empty();
    if !spec.flag_enabled(FLAG_ENABLED) || !(manage_nsg || manage_endpoints) {
        return Ok(Vec::new());
    }
    let subscription = subscription_of(&spec.resource_id)
        .ok_or_else(|| Error::invalid("subnets", "spec.resourceId has no subscription"))?;

    let machines: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), MACHINE_NAMESPACE, &MACHINE.api_resource());
    let masters: Vec<Value> = machines
        .list(&ListParams::default().labels("machine.openshift.io/cluster-api-machine-role=master"))
        .await?
        .items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()?;
    let machinesets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        MACHINE_NAMESPACE,
        &MACHINE_SET.api_resource(),
    );
    let workers: Vec<Value> = machinesets
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(is_worker)
        .collect();

    let mut applied = Vec::new();
    let mut errors = Vec::new();
    for subnet in machine_subnets(&subscription, &masters, &workers)? {
        let outcome: Result<Option<SubnetChange>> = async {
            let Some(current) = azure.get(&subnet.resource_id).await? else {
                tracing::info!(subnet = %subnet.resource_id, "subnet not found, skipping");
                return Ok(None);
            };
            let expected = expected_nsg_id(cluster, subnet.is_master)?;
            let change = plan_subnet(&current, &expected, manage_nsg, manage_endpoints);
            if change.is_empty() {
                return Ok(None);
            }
            azure.update(&subnet.resource_id, &change).await?;
            tracing::info!(subnet = %subnet.resource_id, ?change, "repaired subnet");
            Ok(Some(change))
        }
        .await;
        match outcome {
            Ok(Some(change)) => applied.push((subnet.resource_id, change)),
            Ok(None) => {}
            Err(e) => errors.push(format!("{}: {e}", subnet.resource_id)),
        }
    }
    if !applied.is_empty() {
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let patch = json!({"metadata": {"annotations": {RECONCILE_TIMESTAMP_ANNOTATION: now}}});
        Api::<Cluster>::all(client.clone())
            .patch(
                SINGLETON_NAME,
                &PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..Default::default()
                },
                &Patch::Merge(&patch),
            )
            .await?;
    }
    if !errors.is_empty() {
        return Err(Error::Azure(errors.join("; ")));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(arch: i32) -> Cluster {
        let mut c = Cluster::new("cluster", Default::default());
        c.spec.infra_id = "demo-x7k2p".into();
        c.spec.architecture_version = arch;
        c.spec.cluster_resource_group_id = "/subscriptions/SUB/resourceGroups/aro-demo".into();
        c.spec.resource_id = "/subscriptions/SUB/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/demo".into();
        c
    }

    fn spec(subnet: &str) -> Value {
        json!({"vnet": "vnet", "subnet": subnet, "networkResourceGroup": "vnet-rg"})
    }

    fn state(nsg: Option<&str>, endpoints: &[(&str, &str)]) -> SubnetState {
        SubnetState {
            network_security_group_id: nsg.map(str::to_string),
            service_endpoints: endpoints
                .iter()
                .map(|(s, p)| ServiceEndpoint {
                    service: s.to_string(),
                    locations: vec!["*".into()],
                    provisioning_state: Some(p.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn expected_nsg_depends_on_architecture_and_role() {
        assert_eq!(
            expected_nsg_id(&cluster(2), true).unwrap(),
            "/subscriptions/SUB/resourceGroups/aro-demo/providers/Microsoft.Network/networkSecurityGroups/demo-x7k2p-nsg"
        );
        assert_eq!(
            expected_nsg_id(&cluster(2), false).unwrap(),
            expected_nsg_id(&cluster(2), true).unwrap()
        );
        assert!(
            expected_nsg_id(&cluster(1), true)
                .unwrap()
                .ends_with("/demo-x7k2p-controlplane-nsg")
        );
        assert!(
            expected_nsg_id(&cluster(1), false)
                .unwrap()
                .ends_with("/demo-x7k2p-node-nsg")
        );
        let mut c = cluster(2);
        c.spec.infra_id.clear();
        assert!(expected_nsg_id(&c, true).is_err());
    }

    #[test]
    fn subscription_is_read_from_arm_ids() {
        let cluster = "/providers/Microsoft.RedHatOpenShift/openShiftClusters/demo";
        assert_eq!(
            subscription_of(&format!("/subscriptions/abc/resourceGroups/x{cluster}")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            subscription_of(&format!("/SUBSCRIPTIONS/abc/resourceGroups/x{cluster}")).as_deref(),
            Some("abc")
        );
        assert_eq!(
            subscription_of(&format!("/resourceGroups/x{cluster}")),
            None
        );
        assert_eq!(subscription_of(""), None);
    }

    #[test]
    fn machine_subnets_are_distinct_and_masters_come_first() {
        let masters = vec![
            json!({"spec": {"providerSpec": {"value": spec("master")}}}),
            json!({"spec": {"providerSpec": {"value": spec("master")}}}),
        ];
        let workers = vec![
            json!({"spec": {"template": {"spec": {"providerSpec": {"value": spec("worker")}}}}}),
            json!({"spec": {"template": {"spec": {"providerSpec": {"value": spec("WORKER")}}}}}),
        ];
        let subnets = machine_subnets("SUB", &masters, &workers).unwrap();
        assert_eq!(
            subnets,
            [
                MachineSubnet {
                    resource_id: "/subscriptions/SUB/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/master".into(),
                    is_master: true
                },
                MachineSubnet {
                    resource_id: "/subscriptions/SUB/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/worker".into(),
                    is_master: false
                },
            ]
        );
    }

    #[test]
    fn inconsistent_provider_specs_are_errors() {
        let masters =
            vec![json!({"spec": {"providerSpec": {"value": {"vnet": "v", "subnet": "s"}}}})];
        let err = machine_subnets("SUB", &masters, &[]).unwrap_err();
        assert!(err.to_string().contains("networkResourceGroup"), "{err}");
    }

    #[test]
    fn detached_or_wrong_nsg_is_reattached() {
        let expected = expected_nsg_id(&cluster(2), true).unwrap();
        let change = plan_subnet(&state(None, &[]), &expected, true, false);
        assert_eq!(
            change.network_security_group_id.as_deref(),
            Some(expected.as_str())
        );
        let change = plan_subnet(
            &state(Some("/subscriptions/x/other-nsg"), &[]),
            &expected,
            true,
            false,
        );
        assert_eq!(
            change.network_security_group_id.as_deref(),
            Some(expected.as_str())
        );
        let same_in_other_case = expected.to_uppercase();
        assert!(
            plan_subnet(
                &state(Some(&same_in_other_case), &[]),
                &expected,
                true,
                false
            )
            .is_empty()
        );
        // Not managed: left alone.
        assert!(plan_subnet(&state(None, &[]), &expected, false, false).is_empty());
    }

    #[test]
    fn missing_or_failed_service_endpoints_are_added_and_others_kept() {
        let current = state(
            Some("nsg"),
            &[
                ("Microsoft.Storage", "Failed"),
                ("Microsoft.KeyVault", "Succeeded"),
            ],
        );
        let change = plan_subnet(&current, "nsg", false, true);
        let endpoints = change.service_endpoints.unwrap();
        let services: Vec<_> = endpoints.iter().map(|e| e.service.as_str()).collect();
        assert_eq!(
            services,
            [
                "Microsoft.KeyVault",
                "Microsoft.ContainerRegistry",
                "Microsoft.Storage"
            ]
        );
        assert!(endpoints[1..].iter().all(|e| e.locations == ["*"]));
        let complete = state(
            Some("nsg"),
            &[
                ("microsoft.containerregistry", "Succeeded"),
                ("Microsoft.Storage", "Succeeded"),
            ],
        );
        assert!(plan_subnet(&complete, "nsg", true, true).is_empty());
    }
}
