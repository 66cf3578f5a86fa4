//! The cluster's network in the customer's subscription: its network security group (and its
//! attachment to the customer's subnets), load balancers with their outbound and ingress
//! addresses, and the private link service in front of the API server (ARO-RP's pkg/cluster
//! deployBaseResourceTemplate and its network steps).

use crds::ArmError;
use crds::management::{IngressIp, OpenShiftCluster, OutboundType, Toggle, Visibility};
use serde_json::json;

use super::StepEnv;
use super::validate::subnet_of;
use crate::azure::{self, NETWORK_API, StepResult};
use crate::infra;
use crate::steps::Outcome;
use crate::validation;

pub(super) async fn ensure_nsg(env: &mut StepEnv<'_>) -> StepResult<()> {
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
pub(super) fn derived_private_ip_in(prefix: &str, id: &str) -> String {
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

pub(super) async fn ensure_load_balancers(env: &mut StepEnv<'_>) -> StepResult<()> {
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

pub(super) async fn ensure_private_link(env: &mut StepEnv<'_>) -> StepResult<()> {
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

pub(super) async fn attach_nsgs(env: &mut StepEnv<'_>) -> StepResult<()> {
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

pub(super) async fn detach_nsgs(env: &mut StepEnv<'_>) -> StepResult<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::testing::{Harness, cluster, installing, names, run_all};
    use crate::steps::StepId;
    use arm_emulator::demo;

    #[test]
    fn derived_addresses_are_stable_and_in_range() {
        assert_eq!(
            derived_private_ip("/s", &["10.0.0.0/23".to_string()]),
            "10.0.0.4"
        );
        let a = derived_public_ip("/x");
        assert_eq!(a, derived_public_ip("/X"));
        assert!(a.starts_with("20."));
        let b = derived_private_ip_in("10.0.4.0/24", "/pe");
        assert!(b.starts_with("10.0.4."), "{b}");
        assert_eq!(b, derived_private_ip_in("10.0.4.0/24", "/pe"));
    }

    #[tokio::test]
    async fn the_network_is_built_once_and_attached_to_the_clusters_subnets() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = installing();
        run_all(
            &h,
            &[
                StepId::EnsureResourceGroup,
                StepId::EnsureNetworkSecurityGroup,
            ],
            &cluster,
            &mut status,
        )
        .await;
        let names = names();
        assert!(h.resource(&names.nsg_id()).is_some());

        run_all(&h, &[StepId::AttachNsgs], &cluster, &mut status).await;
        for subnet in ["master", "worker"] {
            let subnet = h.resource(&demo::subnet_id(subnet)).unwrap();
            let attached = subnet["properties"]["networkSecurityGroup"]["id"]
                .as_str()
                .unwrap();
            assert!(attached.eq_ignore_ascii_case(&names.nsg_id()), "{subnet}");
        }
        // Idempotent: a second run writes nothing.
        h.emulator.clear_requests();
        run_all(
            &h,
            &[StepId::EnsureNetworkSecurityGroup, StepId::AttachNsgs],
            &cluster,
            &mut status,
        )
        .await;
        assert_eq!(h.writes(), Vec::<String>::new());

        run_all(&h, &[StepId::DetachNsgs], &cluster, &mut status).await;
        for subnet in ["master", "worker"] {
            let subnet = h.resource(&demo::subnet_id(subnet)).unwrap();
            assert!(
                subnet["properties"]["networkSecurityGroup"].is_null(),
                "{subnet}"
            );
        }
    }

    #[tokio::test]
    async fn a_preconfigured_nsg_is_neither_created_nor_attached() {
        let h = Harness::arm_only().await;
        let mut cluster = cluster();
        cluster.spec.network_profile.preconfigured_nsg = Toggle::Enabled;
        let mut status = installing();
        run_all(
            &h,
            &[StepId::EnsureNetworkSecurityGroup, StepId::AttachNsgs],
            &cluster,
            &mut status,
        )
        .await;
        assert_eq!(h.writes(), Vec::<String>::new());
    }

    #[tokio::test]
    async fn load_balancers_give_the_cluster_its_addresses_and_follow_the_outbound_ip_count() {
        let h = Harness::arm_only().await;
        let mut cluster = cluster();
        let mut status = installing();
        run_all(
            &h,
            &[StepId::EnsureResourceGroup, StepId::EnsureLoadBalancers],
            &cluster,
            &mut status,
        )
        .await;
        let names = names();
        assert!(h.resource(&names.internal_lb_id()).is_some());
        let internal_ip = status.apiserver_int_ip.clone().unwrap();
        assert!(internal_ip.starts_with("10.0."), "{internal_ip}");
        assert!(status.apiserver_ip.is_some());
        assert_ne!(status.apiserver_ip, status.apiserver_int_ip, "public API");
        assert_eq!(status.ingress_ips.len(), 1);
        assert_eq!(status.ingress_ips[0].name, "default");
        assert_eq!(status.effective_outbound_ips.len(), 1);

        // Two managed outbound IPs, then back to one: the extra address is removed.
        cluster.spec.network_profile.load_balancer_profile =
            Some(serde_json::from_value(json!({"managedOutboundIps": {"count": 2}})).unwrap());
        run_all(
            &h,
            &[StepId::ReconcileLoadBalancerProfile],
            &cluster,
            &mut status,
        )
        .await;
        assert_eq!(status.effective_outbound_ips.len(), 2);
        let second = status.effective_outbound_ips[1].id.clone();
        assert!(h.resource(&second).is_some());
        cluster.spec.network_profile.load_balancer_profile = None;
        run_all(
            &h,
            &[StepId::ReconcileLoadBalancerProfile],
            &cluster,
            &mut status,
        )
        .await;
        assert_eq!(status.effective_outbound_ips.len(), 1);
        assert!(h.resource(&second).is_none(), "{second} is gone");
    }

    #[tokio::test]
    async fn the_private_link_service_needs_the_master_subnets_policies_off() {
        let h = Harness::arm_only().await;
        let cluster = cluster();
        let mut status = installing();
        run_all(
            &h,
            &[
                StepId::EnsureResourceGroup,
                StepId::EnsureLoadBalancers,
                StepId::EnsurePrivateLink,
            ],
            &cluster,
            &mut status,
        )
        .await;
        let master = h.resource(&demo::subnet_id("master")).unwrap();
        assert_eq!(
            master["properties"]["privateLinkServiceNetworkPolicies"],
            "Disabled"
        );
        assert!(h.resource(&names().private_link_service_id()).is_some());
    }
}
