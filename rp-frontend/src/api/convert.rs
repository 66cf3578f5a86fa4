//! Conversion between the version-neutral external model and the internal model (the
//! `OpenShiftCluster` CRD). External -> internal is applied onto the stored spec and only touches
//! what the version's [`Features`] know; internal -> external never carries secrets.

use aro_common::Secret;
use std::collections::BTreeMap;

use crds::management::{
    IngressProfile, LoadBalancerProfile, ManagedOutboundIps, ManagedServiceIdentity,
    OpenShiftClusterSpec, OpenShiftClusterStatus, OutboundType, PlatformWorkloadIdentity,
    PlatformWorkloadIdentityProfile, ProvisioningState, ResourceReference, ServicePrincipalProfile,
    Toggle, UserAssignedIdentity, Visibility, WorkerProfile,
};

use super::external as ext;
use super::{Features, LoadBalancerShape};

/// ARM resource type of a cluster as the RP spells it in responses.
pub const RESOURCE_TYPE: &str = "Microsoft.RedHatOpenShift/openShiftClusters";

/// Secrets the customer sent in a body; they go to a Secret, never to the spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerSecrets {
    /// `properties.clusterProfile.pullSecret`, when given and non-empty.
    pub pull_secret: Option<Secret>,
    /// `properties.servicePrincipalProfile.clientSecret`, when given and non-empty.
    pub client_secret: Option<Secret>,
}

/// Parse `Enabled`/`Disabled` (already validated), defaulting to Disabled.
pub fn toggle(value: Option<&str>) -> Toggle {
    match value {
        Some("Enabled") => Toggle::Enabled,
        _ => Toggle::Disabled,
    }
}

fn toggle_str(value: Toggle) -> String {
    match value {
        Toggle::Enabled => "Enabled".into(),
        Toggle::Disabled => "Disabled".into(),
    }
}

/// Parse `Public`/`Private` (already validated), defaulting to Public.
pub fn visibility(value: Option<&str>) -> Visibility {
    match value {
        Some("Private") => Visibility::Private,
        _ => Visibility::Public,
    }
}

fn visibility_str(value: Visibility) -> String {
    match value {
        Visibility::Public => "Public".into(),
        Visibility::Private => "Private".into(),
    }
}

/// Parse an outbound type (already validated), defaulting to Loadbalancer.
pub fn outbound_type(value: Option<&str>) -> OutboundType {
    match value {
        Some("UserDefinedRouting") => OutboundType::UserDefinedRouting,
        _ => OutboundType::Loadbalancer,
    }
}

fn outbound_type_str(value: OutboundType) -> String {
    match value {
        OutboundType::Loadbalancer => "Loadbalancer".into(),
        OutboundType::UserDefinedRouting => "UserDefinedRouting".into(),
    }
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_ref().filter(|v| !v.is_empty()).cloned()
}

fn non_empty_secret(value: &Option<Secret>) -> Option<Secret> {
    value.as_ref().filter(|v| !v.expose().is_empty()).cloned()
}

/// Apply a full external document (a PUT body, or a PATCH merged onto the current document) onto
/// the stored spec. Fields of the version are replaced (absent ones reset to their default, except
/// the OpenShift version and secrets, which are kept when omitted); fields the version does not
/// know are left as they are. Read-only fields are ignored. Returns the secrets the body carried.
pub fn apply(
    cluster: &ext::Cluster,
    f: &Features,
    spec: &mut OpenShiftClusterSpec,
) -> CustomerSecrets {
    let mut secrets = CustomerSecrets::default();
    if let Some(location) = &cluster.location {
        spec.location = location.clone();
    }
    spec.tags = cluster.tags.clone().unwrap_or_default();

    let props = cluster.properties.clone().unwrap_or_default();

    let cp = props.cluster_profile.unwrap_or_default();
    secrets.pull_secret = non_empty_secret(&cp.pull_secret);
    spec.cluster_profile.domain = cp.domain.unwrap_or_default();
    if let Some(version) = non_empty(&cp.version) {
        spec.cluster_profile.version = version;
    }
    spec.cluster_profile.resource_group_id = cp.resource_group_id.unwrap_or_default();
    if f.fips {
        spec.cluster_profile.fips_validated_modules = toggle(cp.fips_validated_modules.as_deref());
    }

    spec.service_principal_profile = props.service_principal_profile.map(|sp| {
        secrets.client_secret = non_empty_secret(&sp.client_secret);
        ServicePrincipalProfile {
            client_id: sp.client_id.unwrap_or_default(),
        }
    });

    if f.workload_identity {
        apply_workload_identity(cluster, &props.platform_workload_identity_profile, spec);
    }

    let np = props.network_profile.unwrap_or_default();
    spec.network_profile.pod_cidr = np.pod_cidr.unwrap_or_default();
    spec.network_profile.service_cidr = np.service_cidr.unwrap_or_default();
    if f.software_defined_network {
        spec.network_profile.software_defined_network = np.software_defined_network.clone();
    }
    if f.outbound_type {
        spec.network_profile.outbound_type = outbound_type(np.outbound_type.as_deref());
    }
    if f.preconfigured_nsg {
        spec.network_profile.preconfigured_nsg = toggle(np.preconfigured_nsg.as_deref());
    }
    if f.load_balancer != LoadBalancerShape::Absent {
        let mut lb = spec
            .network_profile
            .load_balancer_profile
            .take()
            .unwrap_or_default();
        let ext_lb = np.load_balancer_profile.unwrap_or_default();
        lb.managed_outbound_ips = ext_lb.managed_outbound_ips.map(|m| ManagedOutboundIps {
            count: m
                .count
                .unwrap_or_default()
                .clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        });
        if f.load_balancer == LoadBalancerShape::Full {
            lb.outbound_ips = refs(&ext_lb.outbound_ips);
            lb.outbound_ip_prefixes = refs(&ext_lb.outbound_ip_prefixes);
            lb.allocated_outbound_ports = ext_lb
                .allocated_outbound_ports
                .map(|p| p.clamp(i32::MIN as i64, i32::MAX as i64) as i32);
        }
        spec.network_profile.load_balancer_profile =
            (lb != LoadBalancerProfile::default()).then_some(lb);
    }

    let mp = props.master_profile.unwrap_or_default();
    spec.master_profile.vm_size = mp.vm_size.unwrap_or_default();
    spec.master_profile.subnet_id = mp.subnet_id.unwrap_or_default();
    if f.disk_encryption {
        spec.master_profile.encryption_at_host = toggle(mp.encryption_at_host.as_deref());
        spec.master_profile.disk_encryption_set_id = non_empty(&mp.disk_encryption_set_id);
    }

    let old_workers = std::mem::take(&mut spec.worker_profiles);
    spec.worker_profiles = props
        .worker_profiles
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(index, w)| {
            let name = w.name.unwrap_or_default();
            // A version without disk encryption keeps what the stored pool of that name has.
            let old = old_workers
                .iter()
                .find(|o| o.name == name)
                .or_else(|| old_workers.get(index));
            let (encryption_at_host, disk_encryption_set_id) = if f.disk_encryption {
                (
                    toggle(w.encryption_at_host.as_deref()),
                    non_empty(&w.disk_encryption_set_id),
                )
            } else {
                old.map(|o| (o.encryption_at_host, o.disk_encryption_set_id.clone()))
                    .unwrap_or_default()
            };
            WorkerProfile {
                name,
                vm_size: w.vm_size.unwrap_or_default(),
                disk_size_gb: clamp_i32(w.disk_size_gb),
                subnet_id: w.subnet_id.unwrap_or_default(),
                count: clamp_i32(w.count),
                encryption_at_host,
                disk_encryption_set_id,
            }
        })
        .collect();

    spec.apiserver_profile.visibility = visibility(
        props
            .apiserver_profile
            .as_ref()
            .and_then(|a| a.visibility.as_deref()),
    );
    spec.ingress_profiles = props
        .ingress_profiles
        .unwrap_or_default()
        .into_iter()
        .map(|i| IngressProfile {
            name: i.name.unwrap_or_default(),
            visibility: visibility(i.visibility.as_deref()),
        })
        .collect();
    secrets
}

fn clamp_i32(value: Option<i64>) -> i32 {
    value
        .unwrap_or_default()
        .clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

fn refs(list: &Option<Vec<ext::ResourceRef>>) -> Vec<ResourceReference> {
    list.iter()
        .flatten()
        .map(|r| ResourceReference {
            id: r.id.clone().unwrap_or_default(),
        })
        .collect()
}

fn apply_workload_identity(
    cluster: &ext::Cluster,
    profile: &Option<ext::PlatformWorkloadIdentityProfile>,
    spec: &mut OpenShiftClusterSpec,
) {
    let old_identity = spec.identity.take();
    spec.identity = cluster.identity.as_ref().map(|identity| {
        let old_uais = old_identity
            .as_ref()
            .map(|o| o.user_assigned_identities.clone())
            .unwrap_or_default();
        ManagedServiceIdentity {
            type_: identity.type_.clone().unwrap_or_default(),
            user_assigned_identities: identity
                .user_assigned_identities
                .clone()
                .unwrap_or_default()
                .into_keys()
                .map(|key| {
                    // client and principal ids are read-only: kept from the stored identity.
                    let kept = old_uais
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&key))
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    (key, kept)
                })
                .collect(),
            principal_id: old_identity.as_ref().and_then(|o| o.principal_id.clone()),
            tenant_id: old_identity.as_ref().and_then(|o| o.tenant_id.clone()),
            identity_url: old_identity.as_ref().and_then(|o| o.identity_url.clone()),
        }
    });
    let old_profile = spec.platform_workload_identity_profile.take();
    spec.platform_workload_identity_profile = profile.as_ref().map(|p| {
        let old = old_profile
            .as_ref()
            .map(|o| o.platform_workload_identities.clone())
            .unwrap_or_default();
        PlatformWorkloadIdentityProfile {
            upgradeable_to: non_empty(&p.upgradeable_to),
            platform_workload_identities: p
                .platform_workload_identities
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(name, identity)| {
                    let resource_id = identity.resource_id.unwrap_or_default();
                    // client and object ids are read-only: kept while the identity is the same.
                    let kept = old
                        .get(&name)
                        .filter(|o| o.resource_id.eq_ignore_ascii_case(&resource_id));
                    let value = PlatformWorkloadIdentity {
                        client_id: kept.and_then(|o| o.client_id.clone()),
                        object_id: kept.and_then(|o| o.object_id.clone()),
                        resource_id,
                    };
                    (name, value)
                })
                .collect(),
        }
    });
}

/// The external view of a cluster for version features `f`: no secrets; status-derived read-only
/// fields only when `status` is given (immutability checks compare without them).
pub fn to_external(
    spec: &OpenShiftClusterSpec,
    status: Option<&OpenShiftClusterStatus>,
    f: &Features,
) -> ext::Cluster {
    let provisioning_state = status.map(|s| {
        let state = s.provisioning_state.unwrap_or(ProvisioningState::Succeeded);
        if state == ProvisioningState::Canceled && !f.canceled_state {
            "Failed".to_string()
        } else {
            state.as_str().to_string()
        }
    });
    let cluster_profile = ext::ClusterProfile {
        pull_secret: None,
        domain: Some(spec.cluster_profile.domain.clone()),
        version: Some(spec.cluster_profile.version.clone()),
        resource_group_id: Some(spec.cluster_profile.resource_group_id.clone()),
        fips_validated_modules: f
            .fips
            .then(|| toggle_str(spec.cluster_profile.fips_validated_modules)),
        oidc_issuer: if f.workload_identity {
            status.and_then(|s| s.oidc_issuer.clone())
        } else {
            None
        },
    };
    let np = &spec.network_profile;
    let load_balancer_profile = match f.load_balancer {
        LoadBalancerShape::Absent => None,
        shape => np.load_balancer_profile.as_ref().map(|lb| {
            let full = shape == LoadBalancerShape::Full;
            ext::LoadBalancerProfile {
                managed_outbound_ips: lb.managed_outbound_ips.as_ref().map(|m| {
                    ext::ManagedOutboundIps {
                        count: Some(m.count as i64),
                    }
                }),
                effective_outbound_ips: status
                    .filter(|s| !s.effective_outbound_ips.is_empty())
                    .map(|s| ext_refs(&s.effective_outbound_ips)),
                outbound_ips: (full && !lb.outbound_ips.is_empty())
                    .then(|| ext_refs(&lb.outbound_ips)),
                outbound_ip_prefixes: (full && !lb.outbound_ip_prefixes.is_empty())
                    .then(|| ext_refs(&lb.outbound_ip_prefixes)),
                allocated_outbound_ports: if full {
                    lb.allocated_outbound_ports.map(i64::from)
                } else {
                    None
                },
            }
        }),
    };
    let network_profile = ext::NetworkProfile {
        software_defined_network: if f.software_defined_network {
            np.software_defined_network.clone()
        } else {
            None
        },
        pod_cidr: Some(np.pod_cidr.clone()),
        service_cidr: Some(np.service_cidr.clone()),
        outbound_type: f.outbound_type.then(|| outbound_type_str(np.outbound_type)),
        load_balancer_profile,
        preconfigured_nsg: f
            .preconfigured_nsg
            .then(|| toggle_str(np.preconfigured_nsg)),
    };
    let mp = &spec.master_profile;
    let master_profile = ext::MasterProfile {
        vm_size: Some(mp.vm_size.clone()),
        subnet_id: Some(mp.subnet_id.clone()),
        encryption_at_host: f.disk_encryption.then(|| toggle_str(mp.encryption_at_host)),
        disk_encryption_set_id: if f.disk_encryption {
            mp.disk_encryption_set_id.clone()
        } else {
            None
        },
    };
    let worker = |w: &WorkerProfile| ext::WorkerProfile {
        name: Some(w.name.clone()),
        vm_size: Some(w.vm_size.clone()),
        disk_size_gb: Some(w.disk_size_gb as i64),
        subnet_id: Some(w.subnet_id.clone()),
        count: Some(w.count as i64),
        encryption_at_host: f.disk_encryption.then(|| toggle_str(w.encryption_at_host)),
        disk_encryption_set_id: if f.disk_encryption {
            w.disk_encryption_set_id.clone()
        } else {
            None
        },
    };
    let ingress_ips: BTreeMap<&str, &str> = status
        .map(|s| {
            s.ingress_ips
                .iter()
                .map(|i| (i.name.as_str(), i.ip.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let properties = ext::Properties {
        provisioning_state,
        cluster_profile: Some(cluster_profile),
        console_profile: Some(ext::ConsoleProfile {
            url: status.and_then(|s| s.console_url.clone()),
        }),
        service_principal_profile: spec.service_principal_profile.as_ref().map(|sp| {
            ext::ServicePrincipalProfile {
                client_id: Some(sp.client_id.clone()),
                client_secret: None,
            }
        }),
        platform_workload_identity_profile: if f.workload_identity {
            spec.platform_workload_identity_profile.as_ref().map(|p| {
                ext::PlatformWorkloadIdentityProfile {
                    upgradeable_to: p.upgradeable_to.clone(),
                    platform_workload_identities: Some(
                        p.platform_workload_identities
                            .iter()
                            .map(|(name, i)| {
                                // The ids the RP read from Azure for this very identity (a
                                // re-pointed one shows none until read again).
                                let read = status
                                    .and_then(|s| s.platform_workload_identities.get(name))
                                    .filter(|r| r.resource_id.eq_ignore_ascii_case(&i.resource_id));
                                let id_of = |spec: &Option<String>, read: Option<&String>| {
                                    status.and(spec.clone().or_else(|| read.cloned()))
                                };
                                (
                                    name.clone(),
                                    ext::PlatformWorkloadIdentity {
                                        resource_id: Some(i.resource_id.clone()),
                                        client_id: id_of(
                                            &i.client_id,
                                            read.and_then(|r| r.client_id.as_ref()),
                                        ),
                                        object_id: id_of(
                                            &i.object_id,
                                            read.and_then(|r| r.object_id.as_ref()),
                                        ),
                                    },
                                )
                            })
                            .collect(),
                    ),
                }
            })
        } else {
            None
        },
        network_profile: Some(network_profile),
        master_profile: Some(master_profile),
        worker_profiles: Some(spec.worker_profiles.iter().map(worker).collect()),
        worker_profiles_status: if f.worker_profiles_status {
            status
                .filter(|s| !s.worker_profiles_status.is_empty())
                .map(|s| s.worker_profiles_status.iter().map(worker).collect())
        } else {
            None
        },
        apiserver_profile: Some(ext::ApiServerProfile {
            visibility: Some(visibility_str(spec.apiserver_profile.visibility)),
            url: status.and_then(|s| s.apiserver_url.clone()),
            ip: status.and_then(|s| s.apiserver_ip.clone()),
        }),
        ingress_profiles: Some(
            spec.ingress_profiles
                .iter()
                .map(|i| ext::IngressProfile {
                    name: Some(i.name.clone()),
                    visibility: Some(visibility_str(i.visibility)),
                    ip: ingress_ips.get(i.name.as_str()).map(|ip| ip.to_string()),
                })
                .collect(),
        ),
    };
    ext::Cluster {
        id: Some(spec.resource_id.clone()),
        name: Some(spec.name.clone()),
        type_: Some(RESOURCE_TYPE.to_string()),
        location: Some(spec.location.clone()),
        tags: (!spec.tags.is_empty()).then(|| spec.tags.clone()),
        system_data: if f.system_data {
            spec.system_data.clone()
        } else {
            None
        },
        identity: if f.workload_identity {
            spec.identity.as_ref().map(|i| ext::Identity {
                type_: Some(i.type_.clone()),
                user_assigned_identities: Some(
                    i.user_assigned_identities
                        .iter()
                        .map(|(k, v): (&String, &UserAssignedIdentity)| {
                            (
                                k.clone(),
                                ext::UserAssignedIdentity {
                                    client_id: status.and(v.client_id.clone()),
                                    principal_id: status.and(v.principal_id.clone()),
                                },
                            )
                        })
                        .collect(),
                ),
                principal_id: status.and(i.principal_id.clone()),
                tenant_id: status.and(i.tenant_id.clone()),
            })
        } else {
            None
        },
        properties: Some(properties),
    }
}

fn ext_refs(list: &[ResourceReference]) -> Vec<ext::ResourceRef> {
    list.iter()
        .map(|r| ext::ResourceRef {
            id: Some(r.id.clone()),
        })
        .collect()
}
