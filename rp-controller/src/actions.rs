//! What each step of [`crate::plans`] does. Every step is idempotent: it reads what exists
//! and writes only what is missing, so running it twice (after a crash, a conflict, a second
//! replica) converges. A step records what it learnt in the status it is given; the reconciler
//! writes that status with optimistic concurrency.

use aro_common::Secret as AroSecret;
use std::collections::BTreeMap;
use std::time::Duration;

use azure_clients::{ArmClient, AzureClients, AzureConfig, Credentials};
use base64::Engine;
use crds::ArmError;
use crds::SecretReference;
use crds::management::{
    IngressIp, OpenShiftCluster, OpenShiftClusterStatus, OutboundType, Toggle, Visibility,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Resource, ResourceExt};
use rand::Rng;
use serde_json::{Value, json};

mod access;

pub use access::{
    CONTRIBUTOR_ROLE, OWNER_TAG, endpoint_is_ours, private_endpoint_name, role_assignment_name,
};

use crate::azure::{self, AUTHORIZATION_API, DNS_API, NETWORK_API, RESOURCES_API, StepResult};
use crate::context::Context;
use crate::infra::{self, InfraNames};
use crate::runtime::SeedInput;
use crate::steps::{Outcome, StepId};
use crate::validation::{
    self, LinkedResource, NetworkFacts, Permission, Principal, Subnet, VirtualNetwork,
};

pub use crds::management::protocol::{
    ADMIN_KUBECONFIG_KEY, CLIENT_SECRET_KEY, KUBEADMIN_PASSWORD_KEY, PULL_SECRET_KEY, SSH_KEY_KEY,
    credentials_secret_name, customer_secret_name,
};

/// What a step works on.
pub struct StepEnv<'a> {
    /// Shared clients and settings.
    pub ctx: &'a Context,
    /// The cluster as read at the start of the reconcile.
    pub cluster: &'a OpenShiftCluster,
    /// The status being built; written after the step.
    pub status: &'a mut OpenShiftClusterStatus,
    /// The Azure operation the step started earlier, if any (serialised).
    pub pending: Option<&'a str>,
}

impl StepEnv<'_> {
    fn arm(&self) -> ArmClient {
        self.ctx.azure.arm()
    }

    fn namespace(&self) -> String {
        self.cluster.namespace().unwrap_or_default()
    }

    fn poll(&self, d: Duration) -> Outcome {
        Outcome::InProgress {
            poll_after: d.min(self.ctx.settings.max_poll_interval),
            pending_operation_url: None,
        }
    }

    fn infra_id(&self) -> StepResult<String> {
        self.status.infra_id.clone().ok_or_else(|| {
            Outcome::Failed(ArmError::new(
                "InternalServerError",
                "The cluster has no infrastructure id yet.",
            ))
        })
    }

    /// A client of the cluster's API (the step polls again while the runtime has none yet).
    async fn cluster_client(&self, infra_id: &str) -> StepResult<kube::Client> {
        self.ctx
            .runtime
            .client(infra_id)
            .await
            .map_err(|e| runtime_outcome(&e))?
            .ok_or_else(|| self.poll(Duration::from_secs(1)))
    }

    fn names(&self) -> StepResult<InfraNames> {
        let (subscription_id, resource_group) =
            parse_resource_group_id(&self.cluster.spec.cluster_profile.resource_group_id)
                .ok_or_else(|| {
                    Outcome::Failed(
                        ArmError::new(
                            "InvalidParameter",
                            "The provided cluster resource group id is invalid.",
                        )
                        .with_target("properties.clusterProfile.resourceGroupId"),
                    )
                })?;
        Ok(InfraNames {
            infra_id: self.infra_id()?,
            subscription_id,
            resource_group,
        })
    }

    async fn secret_value(&self, name: &str, key: &str) -> StepResult<Option<AroSecret>> {
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &self.namespace());
        let secret = api.get_opt(name).await.map_err(|e| kube_outcome(&e))?;
        Ok(secret.and_then(|s| s.data).and_then(|d| {
            d.get(key)
                .map(|v| AroSecret::new(String::from_utf8_lossy(&v.0).into_owned()))
        }))
    }

    async fn customer_secret(&self, key: &str) -> StepResult<Option<AroSecret>> {
        self.secret_value(&customer_secret_name(&self.cluster.name_any()), key)
            .await
    }
}

/// `(subscription, resource group)` of a resource group id.
pub fn parse_resource_group_id(id: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = id.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [s, sub, r, rg]
            if s.eq_ignore_ascii_case("subscriptions")
                && r.eq_ignore_ascii_case("resourceGroups")
                && !sub.is_empty()
                && !rg.is_empty() =>
        {
            Some((sub.to_string(), rg.to_string()))
        }
        _ => None,
    }
}

/// The outcome of a failed management-cluster call: transient.
pub fn kube_outcome(e: &kube::Error) -> Outcome {
    Outcome::Retryable {
        error: ArmError::new(
            "InternalServerError",
            format!("The management cluster answered: {e}"),
        ),
        retry_after: None,
    }
}

fn runtime_outcome(e: &crate::Error) -> Outcome {
    Outcome::Retryable {
        error: ArmError::new("InternalServerError", format!("Cluster runtime: {e}")),
        retry_after: None,
    }
}

/// The outcome of a step on the RP's own Azure resources (its DNS zone, its private endpoint),
/// which act with the RP's identity: an Azure error there (`AuthorizationFailed` naming the RP's
/// principal, a limit of the RP's subscription) is the RP's failure, not the customer's, so it
/// becomes an internal error (the customer sees `InternalServerError`, SREs the detail).
/// `DuplicateDomain` is the customer's to act on and stays.
fn rp_side(result: StepResult<()>) -> StepResult<()> {
    let internal = |e: ArmError| {
        if e.is_internal() || e.code == "DuplicateDomain" {
            e
        } else {
            ArmError::new(
                "InternalServerError",
                format!("On the RP's own resources: {}: {}", e.code, e.message),
            )
        }
    };
    result.map_err(|outcome| match outcome {
        Outcome::Failed(e) => Outcome::Failed(internal(e)),
        Outcome::Retryable { error, retry_after } => Outcome::Retryable {
            error: internal(error),
            retry_after,
        },
        other => other,
    })
}

/// Run a step. The `match` is exhaustive: a step without an implementation does not compile.
pub async fn run(step: StepId, env: &mut StepEnv<'_>) -> Outcome {
    use StepId::*;
    let result = match step {
        ValidateResources => validate_resources(env).await,
        EnsureInfraId => ensure_infra_id(env),
        EnsureSshKey => ensure_ssh_key(env).await,
        EnsureResourceGroup => ensure_resource_group(env).await,
        EnsureNetworkSecurityGroup => ensure_nsg(env).await,
        // ReconcileLoadBalancerProfile: alias, the update plan's name.
        EnsureLoadBalancers | ReconcileLoadBalancerProfile => ensure_load_balancers(env).await,
        EnsurePrivateLink => ensure_private_link(env).await,
        CreateApiServerPrivateEndpoint => rp_side(access::create_private_endpoint(env).await),
        EnsureRoleAssignments => access::ensure_role_assignments(env).await,
        AttachNsgs => attach_nsgs(env).await,
        CreateDns => rp_side(create_dns(env).await),
        RunInstaller => run_installer(env).await,
        ApiServersReady => api_servers_ready(env).await,
        // RenewCertificates: alias, the certificates renewal task's name.
        GenerateKubeconfigs | RenewCertificates => generate_kubeconfigs(env).await,
        // UpdateOperatorSecrets, SyncClusterObject: aliases, the update and admin update names.
        InstallAroOperator | UpdateOperatorSecrets | SyncClusterObject => {
            install_operator(env).await
        }
        AroDeploymentReady => operator_ready(env).await,
        RotateCredentials => rotate_credentials(env).await,
        // No-ops, kept so stored progress parses (why: on each StepId variant).
        RemoveBootstrap | FinishInstallation | UpdateMaintenanceState => Ok(()),
        // UpdateProvisionedBy: alias, the Everything task's name.
        UpdateClusterData | UpdateProvisionedBy => update_cluster_data(env),
        RemoveDns => rp_side(remove_dns(env).await),
        RemovePrivateEndpoint => rp_side(access::remove_private_endpoint(env).await),
        RemoveRoleAssignments => access::remove_role_assignments(env).await,
        DeleteClusterRuntime => delete_runtime(env).await,
        DetachNsgs => detach_nsgs(env).await,
        DeleteResourceGroup => delete_resource_group(env).await,
        RemoveSecrets => remove_secrets(env).await,
        ReleaseUniqueKeys => release_unique_keys(env).await,
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(outcome) => outcome,
    }
}

// ------------------------------------------------------------------------------------- validation

fn subnet_of(value: &Value, vnet_id: &str) -> Subnet {
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

/// The tenant of the cluster's subscription as ARM registered it (the `Subscription`'s
/// `tenantId`): the customer's directory, where the cluster's service principal must live. The
/// RP's own tenant is never used for it: a principal of the RP's directory (or of a third one) is
/// not the customer's to hand to a cluster.
async fn customer_tenant(env: &StepEnv<'_>) -> StepResult<String> {
    use crds::management::Subscription;
    let subscription = env.cluster.spec.subscription_id.to_ascii_lowercase();
    let api: Api<Subscription> = Api::all(env.ctx.client.clone());
    let registered = api
        .get_opt(&subscription)
        .await
        .map_err(|e| kube_outcome(&e))?;
    registered
        .and_then(|s| s.spec.tenant_id)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| {
            tracing::error!(%subscription, "the subscription has no registered tenant");
            Outcome::Failed(ArmError::new(
                "InvalidSubscriptionState",
                format!(
                    "The subscription '{subscription}' has no registered tenant, so the cluster's service principal cannot be validated."
                ),
            ))
        })
}

/// Clients acting as the cluster's service principal, authenticating in `tenant_id` (the
/// customer's).
fn cluster_sp_clients(
    ctx: &Context,
    tenant_id: &str,
    client_id: &str,
    secret: &AroSecret,
) -> StepResult<AzureClients> {
    let base: &AzureConfig = ctx.azure.config();
    let mut config = AzureConfig::new(
        base.arm_endpoint.clone(),
        base.authority_host.clone(),
        tenant_id,
        Credentials::ClientSecret {
            client_id: client_id.to_string(),
            client_secret: secret.clone(),
        },
        base.subscription_id.clone(),
    );
    config.scope = base.scope.clone();
    config.retry = base.retry.clone();
    config.request_timeout = base.request_timeout;
    AzureClients::new(config).map_err(|e| azure::outcome_of(&e))
}

async fn validate_resources(env: &mut StepEnv<'_>) -> StepResult<()> {
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
    let expected_nsg_id = if creating || spec.network_profile.preconfigured_nsg == Toggle::Enabled {
        None
    } else {
        env.names().ok().map(|n| n.nsg_id())
    };
    validation::validate_network(&NetworkFacts {
        spec,
        creating,
        vnet: vnet.as_ref(),
        expected_nsg_id,
    })
    .map_err(Outcome::Failed)?;

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

// ------------------------------------------------------------------------------- install: Azure

fn random_suffix(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

fn ensure_infra_id(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.status.infra_id.is_none() {
        env.status.infra_id = Some(infra::infra_id(&env.cluster.spec.name, &random_suffix(5)));
    }
    if env.status.storage_suffix.is_none() {
        env.status.storage_suffix = Some(random_suffix(5));
    }
    Ok(())
}

/// Create the credentials Secret if needed and set the given keys (those in `only_if_absent`
/// are kept when already present).
async fn upsert_credentials(
    env: &mut StepEnv<'_>,
    values: Vec<(&str, AroSecret)>,
    only_if_absent: bool,
) -> StepResult<()> {
    let name = credentials_secret_name(&env.cluster.name_any());
    let ns = env.namespace();
    let api: Api<Secret> = Api::namespaced(env.ctx.client.clone(), &ns);
    for _ in 0..5 {
        let existing = api.get_opt(&name).await.map_err(|e| kube_outcome(&e))?;
        let mut secret = existing.clone().unwrap_or_else(|| Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.clone()),
                owner_references: env.cluster.controller_owner_ref(&()).map(|o| vec![o]),
                labels: Some(env.cluster.labels().clone()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            ..Default::default()
        });
        let data = secret.data.get_or_insert_with(BTreeMap::new);
        let mut changed = existing.is_none();
        for (key, value) in &values {
            if only_if_absent && data.contains_key(*key) {
                continue;
            }
            let bytes = ByteString(value.expose().clone().into_bytes());
            if data.get(*key) != Some(&bytes) {
                data.insert(key.to_string(), bytes);
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let result = if existing.is_some() {
            api.replace(&name, &PostParams::default(), &secret).await
        } else {
            api.create(&PostParams::default(), &secret).await
        };
        match result {
            Ok(_) => break,
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => return Err(kube_outcome(&e)),
        }
    }
    env.status.credentials_ref = Some(SecretReference { name });
    Ok(())
}

async fn ensure_ssh_key(env: &mut StepEnv<'_>) -> StepResult<()> {
    let key = rcgen::KeyPair::generate().map_err(|e| {
        Outcome::Failed(ArmError::new(
            "InternalServerError",
            format!("Generating the cluster's SSH key failed: {e}"),
        ))
    })?;
    upsert_credentials(env, vec![(SSH_KEY_KEY, key.serialize_pem().into())], true).await
}

async fn ensure_resource_group(env: &mut StepEnv<'_>) -> StepResult<()> {
    let rg_id = env.cluster.spec.cluster_profile.resource_group_id.clone();
    env.names()?;
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let cluster_id = env.cluster.spec.resource_id.clone();
    if let Some(existing) = azure::get(&arm, &rg_id, RESOURCES_API).await? {
        let managed_by = existing["managedBy"].as_str().unwrap_or_default();
        if !managed_by.eq_ignore_ascii_case(&cluster_id) {
            return Err(Outcome::Failed(ArmError::new(
                "ClusterResourceGroupAlreadyExists",
                format!("Resource group {rg_id} must not already exist."),
            )));
        }
        return Ok(());
    }
    let body = json!({
        "location": env.cluster.spec.location,
        "managedBy": cluster_id,
        "tags": env.cluster.spec.tags,
    });
    azure::put(&arm, &rg_id, RESOURCES_API, &body)
        .await
        .map(|_| ())
}

async fn ensure_nsg(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.cluster.spec.network_profile.preconfigured_nsg == Toggle::Enabled {
        return Ok(());
    }
    let names = env.names()?;
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let body = infra::nsg_body(
        &env.cluster.spec.location,
        env.cluster.spec.apiserver_profile.visibility,
    );
    azure::ensure_resource(&arm, &names.nsg_id(), NETWORK_API, &body)
        .await
        .map(|_| ())
}

/// A stable stand-in address when the Azure endpoint allocates none (arm-emulator): derived from
/// the resource id, in 20.0.0.0/8 for public and the subnet's range for private addresses.
fn derived_public_ip(id: &str) -> String {
    let h = crds::management::naming::short_hash(id);
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(1);
    format!("20.{}.{}.{}", byte(0), byte(2), byte(4).max(1))
}

/// A stand-in address for resource `id` in `prefix`: past the four addresses Azure reserves, and
/// spread by the id so that several resources of one subnet differ.
fn derived_private_ip_in(prefix: &str, id: &str) -> String {
    let Ok(net) = prefix.parse::<ipnet::Ipv4Net>() else {
        return derived_public_ip(id).replacen("20.", "10.", 1);
    };
    let hosts = (1u64 << (32 - u32::from(net.prefix_len())))
        .saturating_sub(5)
        .max(1);
    let h = crds::management::naming::short_hash(id);
    let spread = u64::from_str_radix(&h[..8.min(h.len())], 16).unwrap_or(0) % hosts;
    std::net::Ipv4Addr::from(u32::from(net.network()) + 4 + spread as u32).to_string()
}

fn derived_private_ip(subnet: &str, prefixes: &[String]) -> String {
    let net: Option<ipnet::Ipv4Net> = prefixes.first().and_then(|p| p.parse().ok());
    match net {
        // Azure reserves the first four addresses of a subnet; dynamic allocation starts at .4.
        Some(net) => std::net::Ipv4Addr::from(u32::from(net.network()) + 4).to_string(),
        None => derived_public_ip(subnet).replacen("20.", "10.", 1),
    }
}

async fn ensure_load_balancers(env: &mut StepEnv<'_>) -> StepResult<()> {
    let names = env.names()?;
    let spec = env.cluster.spec.clone();
    let location = spec.location.clone();
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;

    let internal = azure::ensure_resource(
        &arm,
        &names.internal_lb_id(),
        NETWORK_API,
        &infra::internal_lb_body(&names, &location, &spec.master_profile.subnet_id),
    )
    .await?;
    let internal_ip = match internal["properties"]["frontendIPConfigurations"][0]["properties"]
        ["privateIPAddress"]
        .as_str()
    {
        Some(ip) => ip.to_string(),
        None => {
            let subnet = azure::get(&arm, &spec.master_profile.subnet_id, NETWORK_API)
                .await?
                .unwrap_or_default();
            let vnet_id = validation::network::vnet_id_of(&spec.master_profile.subnet_id)
                .unwrap_or_default();
            derived_private_ip(
                &spec.master_profile.subnet_id,
                &subnet_of(&subnet, vnet_id).address_prefixes,
            )
        }
    };
    env.status.apiserver_int_ip = Some(internal_ip.clone());

    let api_public = spec.apiserver_profile.visibility == Visibility::Public;
    let mut api_ip = internal_ip.clone();
    if spec.network_profile.outbound_type == OutboundType::Loadbalancer {
        let count = spec
            .network_profile
            .load_balancer_profile
            .as_ref()
            .and_then(|p| p.managed_outbound_ips.as_ref())
            .map(|m| m.count)
            .unwrap_or(1);
        let ips = infra::outbound_ip_names(&names, count);
        let mut effective = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            let id = names.public_ip_id(ip);
            let pip =
                azure::ensure_resource(&arm, &id, NETWORK_API, &infra::public_ip_body(&location))
                    .await?;
            if i == 0 && api_public {
                api_ip = pip["properties"]["ipAddress"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| derived_public_ip(&id));
            }
            effective.push(crds::management::ResourceReference { id });
        }
        let lb_id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network/loadBalancers/{}",
            names.subscription_id,
            names.resource_group,
            names.public_lb()
        );
        let body =
            infra::public_lb_body(&names, &location, spec.apiserver_profile.visibility, &ips);
        let current = azure::ensure_resource(&arm, &lb_id, NETWORK_API, &body).await?;
        // An update of the outbound IP count replaces the frontends.
        if current["properties"]["frontendIPConfigurations"]
            .as_array()
            .map(Vec::len)
            != Some(ips.len())
        {
            azure::put(&arm, &lb_id, NETWORK_API, &body).await?;
        }
        // Extra outbound IPs no longer in the profile (numbered 1.. beyond the first).
        for n in ips.len() as u32..20 {
            let stale = names.public_ip_id(&names.outbound_ip(n));
            if azure::get(&arm, &stale, NETWORK_API).await?.is_none() {
                break;
            }
            azure::ensure_deleted(&arm, &stale, NETWORK_API).await?;
        }
        env.status.effective_outbound_ips = effective;
    }
    env.status.apiserver_ip = Some(api_ip);

    let mut ingress_ips = Vec::new();
    for profile in &spec.ingress_profiles {
        let ip = if profile.visibility == Visibility::Public {
            let id = names.public_ip_id(&format!("{}-{}-v4", names.infra_id, profile.name));
            let pip =
                azure::ensure_resource(&arm, &id, NETWORK_API, &infra::public_ip_body(&location))
                    .await?;
            pip["properties"]["ipAddress"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| derived_public_ip(&id))
        } else {
            internal_ip.clone()
        };
        ingress_ips.push(IngressIp {
            name: profile.name.clone(),
            ip,
        });
    }
    env.status.ingress_ips = ingress_ips;
    Ok(())
}

async fn ensure_private_link(env: &mut StepEnv<'_>) -> StepResult<()> {
    let names = env.names()?;
    let spec = env.cluster.spec.clone();
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    // A private link service needs its subnet's network policies off (setMasterSubnetPolicies).
    let subnet_id = spec.master_profile.subnet_id.clone();
    if let Some(subnet) = azure::get(&arm, &subnet_id, NETWORK_API).await?
        && subnet["properties"]["privateLinkServiceNetworkPolicies"].as_str() != Some("Disabled")
    {
        let mut desired = subnet.clone();
        desired["properties"]["privateLinkServiceNetworkPolicies"] = json!("Disabled");
        azure::put(&arm, &subnet_id, NETWORK_API, &desired).await?;
    }
    let id = names.private_link_service_id();
    let body = infra::private_link_service_body(&names, &spec.location, &subnet_id);
    azure::ensure_resource(&arm, &id, NETWORK_API, &body)
        .await
        .map(|_| ())
}

fn cluster_subnets(cluster: &OpenShiftCluster) -> Vec<String> {
    let mut subnets = vec![cluster.spec.master_profile.subnet_id.clone()];
    for w in &cluster.spec.worker_profiles {
        if !subnets.iter().any(|s| s.eq_ignore_ascii_case(&w.subnet_id)) {
            subnets.push(w.subnet_id.clone());
        }
    }
    subnets
}

async fn attach_nsgs(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.cluster.spec.network_profile.preconfigured_nsg == Toggle::Enabled {
        return Ok(());
    }
    let nsg_id = env.names()?.nsg_id();
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    for subnet_id in cluster_subnets(env.cluster) {
        let Some(subnet) = azure::get(&arm, &subnet_id, NETWORK_API).await? else {
            return Err(Outcome::Failed(ArmError::new(
                "InvalidLinkedVNet",
                format!("The subnet '{subnet_id}' could not be found."),
            )));
        };
        let attached = subnet["properties"]["networkSecurityGroup"]["id"]
            .as_str()
            .unwrap_or_default();
        if attached.eq_ignore_ascii_case(&nsg_id) {
            continue;
        }
        azure::put(
            &arm,
            &subnet_id,
            NETWORK_API,
            &infra::subnet_with_nsg(&subnet, &nsg_id),
        )
        .await?;
    }
    Ok(())
}

async fn detach_nsgs(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Ok(names) = env.names() else {
        return Ok(());
    };
    let nsg_id = names.nsg_id();
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    for subnet_id in cluster_subnets(env.cluster) {
        let Some(mut subnet) = azure::get(&arm, &subnet_id, NETWORK_API).await? else {
            continue;
        };
        let attached = subnet["properties"]["networkSecurityGroup"]["id"]
            .as_str()
            .unwrap_or_default();
        if !attached.eq_ignore_ascii_case(&nsg_id) {
            continue;
        }
        if let Some(p) = subnet["properties"].as_object_mut() {
            p.remove("networkSecurityGroup");
        }
        azure::put(&arm, &subnet_id, NETWORK_API, &subnet).await?;
    }
    Ok(())
}

fn dns_zone_id(env: &StepEnv<'_>) -> String {
    format!(
        "{}/providers/Microsoft.Network/dnszones/{}.{}",
        env.ctx.settings.dns_resource_group_id.trim_end_matches('/'),
        env.cluster.spec.location.to_ascii_lowercase(),
        env.ctx.settings.parent_domain
    )
}

async fn create_dns(env: &mut StepEnv<'_>) -> StepResult<()> {
    let api_ip = env.status.apiserver_ip.clone().unwrap_or_default();
    let ingress_ip = env
        .status
        .ingress_ips
        .first()
        .map(|i| i.ip.clone())
        .unwrap_or_else(|| api_ip.clone());
    let records = infra::dns_records(
        &env.cluster.spec,
        &env.ctx.settings.parent_domain,
        &api_ip,
        &ingress_ip,
    );
    if records.is_empty() || env.ctx.settings.dns_resource_group_id.is_empty() {
        return Ok(());
    }
    let arm = env.arm();
    let zone_id = dns_zone_id(env);
    if azure::get(&arm, &zone_id, DNS_API).await?.is_none() {
        // The RP's zone for this region: created on first use.
        let rg = env.ctx.settings.dns_resource_group_id.clone();
        azure::ensure_resource(
            &arm,
            &rg,
            RESOURCES_API,
            &json!({"location": env.ctx.settings.dns_location}),
        )
        .await?;
        azure::put(&arm, &zone_id, DNS_API, &json!({"location": "global"})).await?;
    }
    let owner = env.cluster.spec.resource_id.clone();
    for (name, ip) in records {
        let id = format!("{zone_id}/A/{name}");
        ensure_record_set(&arm, &id, &owner, &ip, &fqdn(env)).await?;
    }
    Ok(())
}

/// Whether a record set (as ARM returns it) carries `owner` as its owner.
pub fn record_set_owned_by(record_set: &Value, owner: &str) -> bool {
    record_set["properties"]["metadata"][access::OWNER_TAG]
        .as_str()
        .is_some_and(|o| o.eq_ignore_ascii_case(owner))
}

/// The customer-facing error of a domain whose record sets another cluster holds.
pub fn duplicate_domain(domain: &str) -> ArmError {
    ArmError::new(
        "DuplicateDomain",
        format!("The provided domain '{domain}' is already in use by a cluster."),
    )
    .with_target("properties.clusterProfile.domain")
}

/// Make record set `id` an A record to `ip` owned by `owner` (its metadata names the cluster's
/// resource id). A new one is created with `If-None-Match: *`, so another cluster's record set is
/// never overwritten, however close the race; one that exists is ours to update (under its etag)
/// only when its metadata names us, and another's fails the step as a duplicate domain. A step
/// re-run after a crash finds its own record set and accepts it.
async fn ensure_record_set(
    arm: &ArmClient,
    id: &str,
    owner: &str,
    ip: &str,
    domain: &str,
) -> StepResult<()> {
    let body = json!({"properties": {
        "TTL": 300,
        "metadata": {access::OWNER_TAG: owner},
        "ARecords": [{"ipv4Address": ip}],
    }});
    let current = azure::get(arm, id, DNS_API).await?;
    let condition = match &current {
        Some(c) if !record_set_owned_by(c, owner) => {
            tracing::warn!(record_set = %id, cluster = %owner, "the cluster's domain is held by another record set owner");
            return Err(Outcome::Failed(duplicate_domain(domain)));
        }
        Some(c) if c["properties"]["ARecords"][0]["ipv4Address"].as_str() == Some(ip) => {
            return Ok(());
        }
        Some(c) => azure::unchanged(c),
        None => azure_clients::Precondition::Absent,
    };
    match arm.put_if(id, DNS_API, &body, &condition).await {
        Ok(_) => Ok(()),
        // Created or replaced meanwhile: read it again and decide anew.
        Err(e) if e.is_precondition_failed() => Err(Outcome::InProgress {
            poll_after: azure::CHANGED_POLL,
            pending_operation_url: None,
        }),
        Err(e) => Err(azure::outcome_of(&e)),
    }
}

/// Delete: the cluster's record sets, only those whose metadata names it, each under the etag
/// read (a record set another cluster took over meanwhile is re-read, not deleted).
async fn remove_dns(env: &mut StepEnv<'_>) -> StepResult<()> {
    if env.ctx.settings.dns_resource_group_id.is_empty() {
        return Ok(());
    }
    let records = infra::dns_records(&env.cluster.spec, &env.ctx.settings.parent_domain, "", "");
    let arm = env.arm();
    let zone_id = dns_zone_id(env);
    let owner = env.cluster.spec.resource_id.clone();
    for (name, _) in records {
        let id = format!("{zone_id}/A/{name}");
        let Some(current) = azure::get(&arm, &id, DNS_API).await? else {
            continue;
        };
        if !record_set_owned_by(&current, &owner) {
            tracing::warn!(record_set = %id, cluster = %owner, "leaving another owner's record set alone");
            continue;
        }
        azure::delete_read(&arm, &id, DNS_API, &current).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------- install: cluster

fn last_segment(id: &str) -> String {
    id.rsplit('/').next().unwrap_or_default().to_string()
}

fn segment_after(id: &str, key: &str) -> String {
    let parts: Vec<&str> = id.split('/').collect();
    parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case(key))
        .and_then(|i| parts.get(i + 1))
        .map(|s| s.to_string())
        .unwrap_or_default()
}

fn fqdn(env: &StepEnv<'_>) -> String {
    infra::cluster_fqdn(&env.cluster.spec, &env.ctx.settings.parent_domain)
}

async fn seed_input(env: &StepEnv<'_>) -> StepResult<SeedInput> {
    let spec = &env.cluster.spec;
    let names = env.names()?;
    let worker = spec.worker_profiles.first().cloned().unwrap_or_default();
    Ok(SeedInput {
        infra_id: names.infra_id.clone(),
        version: spec.cluster_profile.version.clone(),
        location: spec.location.clone(),
        domain: fqdn(env),
        subscription_id: spec.subscription_id.clone(),
        cluster_resource_group: names.resource_group.clone(),
        vnet_resource_group: segment_after(&spec.master_profile.subnet_id, "resourceGroups"),
        vnet: segment_after(&spec.master_profile.subnet_id, "virtualNetworks"),
        master_subnet: last_segment(&spec.master_profile.subnet_id),
        worker_subnet: last_segment(&worker.subnet_id),
        master_vm_size: spec.master_profile.vm_size.clone(),
        worker_vm_size: worker.vm_size.clone(),
        worker_count: worker.count.max(0) as u32,
        worker_disk_size_gb: worker.disk_size_gb,
        pull_secret: env
            .customer_secret(PULL_SECRET_KEY)
            .await?
            .unwrap_or_default(),
    })
}

async fn run_installer(env: &mut StepEnv<'_>) -> StepResult<()> {
    let input = seed_input(env).await?;
    env.ctx
        .runtime
        .ensure_cluster(&input.infra_id, &input)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    Ok(())
}

async fn api_servers_ready(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    // After a process restart a durable local cluster is started again here.
    env.ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    match env.ctx.runtime.api_ready(&infra_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(env.poll(Duration::from_secs(1))),
        Err(e) => Err(runtime_outcome(&e)),
    }
}

async fn generate_kubeconfigs(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    let access = env
        .ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?
        .ok_or_else(|| env.poll(Duration::from_secs(1)))?;
    upsert_credentials(
        env,
        vec![(KUBEADMIN_PASSWORD_KEY, kubeadmin_password())],
        true,
    )
    .await?;
    upsert_credentials(
        env,
        vec![(ADMIN_KUBECONFIG_KEY, access.admin_kubeconfig)],
        false,
    )
    .await
}

/// A kubeadmin password like the installer's: 23 characters in four dash-separated groups.
fn kubeadmin_password() -> AroSecret {
    let raw = random_suffix(20);
    format!(
        "{}-{}-{}-{}",
        &raw[0..5],
        &raw[5..10],
        &raw[10..15],
        &raw[15..20]
    )
    .chars()
    .enumerate()
    .map(|(i, c)| {
        if i % 3 == 0 {
            c.to_ascii_uppercase()
        } else {
            c
        }
    })
    .collect::<String>()
    .into()
}

/// The operator chart values for this cluster.
fn operator_values(env: &StepEnv<'_>) -> StepResult<aro_operator::manifests::OperatorDeployValues> {
    let spec = &env.cluster.spec;
    let names = env.names()?;
    let vnet_id = validation::network::vnet_id_of(&spec.master_profile.subnet_id)
        .unwrap_or_default()
        .to_string();
    let mut cluster_spec = json!({
        "resourceId": spec.resource_id,
        "clusterResourceGroupId": spec.cluster_profile.resource_group_id,
        "domain": fqdn(env),
        "location": spec.location,
        "infraId": names.infra_id,
        "storageSuffix": env.status.storage_suffix.clone().unwrap_or_default(),
        "architectureVersion": spec.architecture_version,
        "vnetId": vnet_id,
        "apiIntIP": env.status.apiserver_int_ip.clone().unwrap_or_default(),
        "ingressIP": env.status.ingress_ips.first().map(|i| i.ip.clone()).unwrap_or_default(),
    });
    if !spec.operator_flags.is_empty() {
        cluster_spec["operatorflags"] = json!(spec.operator_flags);
    }
    let mut overrides = json!({"cluster": {"spec": cluster_spec}});
    if let Some(version) = &spec.operator_version {
        overrides["image"] = json!({"tag": version});
    }
    aro_operator::manifests::OperatorDeployValues::with_overrides(&overrides).map_err(|e| {
        Outcome::Failed(ArmError::new(
            "InternalServerError",
            format!("The operator values are invalid: {e}"),
        ))
    })
}

async fn install_operator(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    let mut values = operator_values(env)?;
    env.ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    // The master operator's subnets controller acts as the cluster's service principal; its
    // identity is in place before the Deployment that reads it.
    if let Some(sp) = env.cluster.spec.service_principal_profile.clone() {
        let secret = env
            .customer_secret(CLIENT_SECRET_KEY)
            .await?
            .unwrap_or_default();
        let tenant = customer_tenant(env).await?;
        let identity = operator_credentials(env, &tenant, &sp.client_id, &secret);
        let client = env.cluster_client(&infra_id).await?;
        put_operator_credentials(&client, identity).await?;
        values.master.azure_credentials_secret = OPERATOR_CREDENTIALS_SECRET.into();
    }
    env.ctx
        .runtime
        .install_operator(&infra_id, &values)
        .await
        .map_err(|e| runtime_outcome(&e))
}

async fn operator_ready(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    // A restarted controller brings the cluster (and its operator) back before asking.
    env.ctx
        .runtime
        .resume(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))?;
    match env.ctx.runtime.operator_ready(&infra_id).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(env.poll(Duration::from_millis(500))),
        Err(e) => Err(runtime_outcome(&e)),
    }
}

/// Update: hand the cluster the customer's current service principal secret (what the in-cluster
/// cloud provider and operators authenticate with).
async fn rotate_credentials(env: &mut StepEnv<'_>) -> StepResult<()> {
    let infra_id = env.infra_id()?;
    let Some(sp) = env.cluster.spec.service_principal_profile.clone() else {
        return Ok(());
    };
    let secret = env
        .customer_secret(CLIENT_SECRET_KEY)
        .await?
        .unwrap_or_default();
    let client = env.cluster_client(&infra_id).await?;
    let tenant = customer_tenant(env).await?;
    let operator_identity = operator_credentials(env, &tenant, &sp.client_id, &secret);
    let resource_group = env.names()?.resource_group;
    put_secret(
        &client,
        "kube-system",
        "azure-credentials",
        BTreeMap::from([
            ("azure_client_id".to_string(), sp.client_id),
            ("azure_client_secret".to_string(), secret.into_exposed()),
            ("azure_resourcegroup".to_string(), resource_group),
            (
                "azure_region".to_string(),
                env.cluster.spec.location.clone(),
            ),
        ]),
    )
    .await?;
    put_operator_credentials(&client, operator_identity).await
}

/// Name of the Secret in the operator's namespace holding its Azure identity (`AZURE_*`
/// variables, the master Deployment's `envFrom`).
pub const OPERATOR_CREDENTIALS_SECRET: &str = "aro-operator-azure-credentials";

/// The operator's Azure identity: the cluster's service principal in the customer's tenant,
/// against the RP's Azure endpoints.
fn operator_credentials(
    env: &StepEnv<'_>,
    tenant_id: &str,
    client_id: &str,
    client_secret: &AroSecret,
) -> BTreeMap<String, String> {
    let azure = env.ctx.azure.config();
    let subscription = parse_resource_group_id(&env.cluster.spec.cluster_profile.resource_group_id)
        .map(|(sub, _)| sub)
        .unwrap_or_else(|| azure.subscription_id.clone());
    BTreeMap::from([
        (
            "AZURE_ARM_ENDPOINT".to_string(),
            azure.arm_endpoint.to_string(),
        ),
        (
            "AZURE_AUTHORITY_HOST".to_string(),
            azure.authority_host.to_string(),
        ),
        ("AZURE_TENANT_ID".to_string(), tenant_id.to_string()),
        ("AZURE_SUBSCRIPTION_ID".to_string(), subscription),
        ("AZURE_CLIENT_ID".to_string(), client_id.to_string()),
        (
            "AZURE_CLIENT_SECRET".to_string(),
            client_secret.expose().clone(),
        ),
    ])
}

/// Write the operator's identity Secret (its namespace created if needed).
async fn put_operator_credentials(
    client: &kube::Client,
    identity: BTreeMap<String, String>,
) -> StepResult<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(aro_operator::OPERATOR_NAMESPACE.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    match namespaces.create(&PostParams::default(), &namespace).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(kube_outcome(&e)),
    }
    put_secret(
        client,
        aro_operator::OPERATOR_NAMESPACE,
        OPERATOR_CREDENTIALS_SECRET,
        identity,
    )
    .await
}

/// Create or replace a Secret with exactly `string_data`.
async fn put_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    string_data: BTreeMap<String, String>,
) -> StepResult<()> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let result = match api.get_opt(name).await.map_err(|e| kube_outcome(&e))? {
        Some(mut current) => {
            current.string_data = Some(string_data);
            current.data = None;
            api.replace(name, &PostParams::default(), &current).await
        }
        None => {
            let desired = Secret {
                metadata: ObjectMeta {
                    name: Some(name.into()),
                    namespace: Some(namespace.into()),
                    ..Default::default()
                },
                string_data: Some(string_data),
                ..Default::default()
            };
            api.create(&PostParams::default(), &desired).await
        }
    };
    result.map(|_| ()).map_err(|e| kube_outcome(&e))
}

fn update_cluster_data(env: &mut StepEnv<'_>) -> StepResult<()> {
    let fqdn = fqdn(env);
    env.status.apiserver_url = Some(infra::apiserver_url(&fqdn));
    env.status.console_url = Some(infra::console_url(&fqdn));
    env.status.worker_profiles_status = env.cluster.spec.worker_profiles.clone();
    env.status.provisioned_by = Some(env.ctx.settings.rp_version.clone());
    Ok(())
}

// ----------------------------------------------------------------------------------------- delete

async fn delete_runtime(env: &mut StepEnv<'_>) -> StepResult<()> {
    let Some(infra_id) = env.status.infra_id.clone() else {
        return Ok(());
    };
    env.ctx
        .runtime
        .delete(&infra_id)
        .await
        .map_err(|e| runtime_outcome(&e))
}

async fn delete_resource_group(env: &mut StepEnv<'_>) -> StepResult<()> {
    let rg_id = env.cluster.spec.cluster_profile.resource_group_id.clone();
    if parse_resource_group_id(&rg_id).is_none() {
        return Ok(());
    }
    let arm = env.arm();
    azure::poll_pending(&arm, env.pending).await?;
    let Some(existing) = azure::get(&arm, &rg_id, RESOURCES_API).await? else {
        return Ok(());
    };
    // Only a group this cluster manages is deleted: a foreign group that failed the install stays.
    let managed_by = existing["managedBy"].as_str().unwrap_or_default();
    if !managed_by.eq_ignore_ascii_case(&env.cluster.spec.resource_id) {
        return Ok(());
    }
    azure::ensure_deleted(&arm, &rg_id, RESOURCES_API).await
}

async fn remove_secrets(env: &mut StepEnv<'_>) -> StepResult<()> {
    let api: Api<Secret> = Api::namespaced(env.ctx.client.clone(), &env.namespace());
    let object = env.cluster.name_any();
    for name in [
        credentials_secret_name(&object),
        customer_secret_name(&object),
    ] {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(kube_outcome(&e)),
        }
    }
    env.status.credentials_ref = None;
    Ok(())
}

/// Delete: the cluster's unique-key claims (its cluster resource group, client ids and managed
/// domain label), so a new cluster may use them at once. A claim taken over meanwhile is not ours to delete: the delete
/// carries the resourceVersion we listed.
async fn release_unique_keys(env: &mut StepEnv<'_>) -> StepResult<()> {
    use crds::management::ClusterUniqueKey;
    use crds::management::naming::{LABEL_RESOURCE_ID_HASH, short_hash};
    use kube::api::{ListParams, Preconditions};
    let api: Api<ClusterUniqueKey> = Api::all(env.ctx.client.clone());
    let holder = env.cluster.spec.resource_id.to_lowercase();
    let selector = format!("{LABEL_RESOURCE_ID_HASH}={}", short_hash(&holder));
    let claims = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| kube_outcome(&e))?;
    for claim in claims
        .items
        .iter()
        .filter(|c| c.spec.cluster_resource_id == holder)
    {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                resource_version: claim.resource_version(),
                uid: None,
            }),
            ..Default::default()
        };
        match api.delete(&claim.name_any(), &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
            Err(e) => return Err(kube_outcome(&e)),
        }
    }
    Ok(())
}

/// Decode a base64 kubeconfig (as listAdminCredentials returns it).
pub fn decode_kubeconfig(b64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure_errors_on_the_rps_own_resources_are_internal_and_duplicate_domains_stay() {
        let denied = ArmError::new(
            "AuthorizationFailed",
            "The client 'rp-principal' does not have authorization to perform action on the zone.",
        );
        let Err(Outcome::Failed(e)) = rp_side(Err(Outcome::Failed(denied))) else {
            panic!("still a failure");
        };
        assert!(e.is_internal(), "{e:?}");
        assert_eq!(e.for_customer(), ArmError::internal());
        assert!(
            e.message.contains("rp-principal"),
            "SREs keep the detail: {e:?}"
        );
        let Err(Outcome::Retryable { error, .. }) = rp_side(Err(Outcome::Retryable {
            error: ArmError::new("Conflict", "busy"),
            retry_after: None,
        })) else {
            panic!("still retryable");
        };
        assert!(error.is_internal(), "{error:?}");
        let duplicate = duplicate_domain("demo.eastus.aroapp.io");
        assert!(matches!(
            rp_side(Err(Outcome::Failed(duplicate.clone()))),
            Err(Outcome::Failed(e)) if e == duplicate
        ));
        assert!(rp_side(Ok(())).is_ok());
    }

    #[test]
    fn resource_group_ids_parse_case_insensitively() {
        assert_eq!(
            parse_resource_group_id("/subscriptions/s/resourceGroups/aro-x"),
            Some(("s".into(), "aro-x".into()))
        );
        assert_eq!(
            parse_resource_group_id("/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/"),
            Some(("s".into(), "rg".into()))
        );
        assert_eq!(parse_resource_group_id("/subscriptions/s"), None);
        assert_eq!(parse_resource_group_id(""), None);
    }

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

    #[test]
    fn derived_addresses_are_stable_and_in_range() {
        assert_eq!(
            derived_private_ip("/s", &["10.0.0.0/23".to_string()]),
            "10.0.0.4"
        );
        let a = derived_public_ip("/x");
        assert_eq!(a, derived_public_ip("/X"));
        assert!(a.starts_with("20."));
    }

    #[test]
    fn a_record_set_is_owned_only_when_its_metadata_names_the_cluster() {
        let cluster = "/subscriptions/s/resourceGroups/r/providers/Microsoft.RedHatOpenShift/openShiftClusters/c";
        let owned = json!({"properties": {"metadata": {OWNER_TAG: cluster}}});
        assert!(record_set_owned_by(&owned, &cluster.to_uppercase()));
        let other = json!({"properties": {"metadata": {OWNER_TAG: "/subscriptions/t/x"}}});
        assert!(!record_set_owned_by(&other, cluster));
        // A record set without an owner (made by hand, or by another RP) is nobody's to take.
        assert!(!record_set_owned_by(&json!({"properties": {}}), cluster));
        let e = duplicate_domain("c.eastus.aroapp.io");
        assert_eq!(e.code, "DuplicateDomain");
        assert_eq!(
            e.target.as_deref(),
            Some("properties.clusterProfile.domain")
        );
        assert!(e.message.contains("'c.eastus.aroapp.io'"), "{}", e.message);
    }

    #[test]
    fn kubeadmin_passwords_have_the_installer_shape() {
        let p = kubeadmin_password();
        assert_eq!(p.expose().len(), 23);
        assert_eq!(p.expose().split('-').count(), 4);
        assert_ne!(p, kubeadmin_password());
    }
}
