//! Network checks (ARO-RP's pkg/validate): the linked virtual network exists in the cluster's
//! region, the cluster subnets exist, are provisioned, big enough (/27 or larger), carry the right
//! network security group, and no two of master subnet, worker subnets, pod CIDR and service CIDR
//! overlap.

use std::collections::BTreeSet;

use crds::ArmError;
use crds::management::{OpenShiftClusterSpec, Toggle};
use ipnet::Ipv4Net;

const CODE: &str = "InvalidLinkedVNet";
const MAX_SUBNET_PREFIX: u8 = 27;

/// A virtual network as the network API returns it, reduced to what validation reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VirtualNetwork {
    /// ARM id.
    pub id: String,
    /// Region.
    pub location: String,
    /// Its subnets.
    pub subnets: Vec<Subnet>,
    /// Provisioning state (`Succeeded` when usable).
    pub provisioning_state: Option<String>,
}

/// A subnet, reduced to what validation reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Subnet {
    /// ARM id.
    pub id: String,
    /// Address prefixes (`addressPrefix` and `addressPrefixes` combined).
    pub address_prefixes: Vec<String>,
    /// Attached network security group id.
    pub network_security_group_id: Option<String>,
    /// Attached route table id.
    pub route_table_id: Option<String>,
    /// Attached NAT gateway id.
    pub nat_gateway_id: Option<String>,
    /// Provisioning state (`Succeeded` when usable).
    pub provisioning_state: Option<String>,
}

/// Azure's transient provisioning state of a network resource: an operation on it is running
/// (for example the cluster's own operator re-attaching its NSG), and it ends by itself.
pub const TRANSIENT_STATE: &str = "Updating";

/// The virtual network or one of `subnet_ids` in a transient provisioning state, named, when one
/// is: a validation failure then may only be the operation in flight, and is retried rather than
/// reported.
pub fn transient_state(vnet: &VirtualNetwork, subnet_ids: &[&str]) -> Option<String> {
    let transient = |state: &Option<String>| {
        state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(TRANSIENT_STATE))
    };
    if transient(&vnet.provisioning_state) {
        return Some(format!(
            "the virtual network '{}' is {TRANSIENT_STATE}",
            vnet.id
        ));
    }
    vnet.subnets
        .iter()
        .find(|s| {
            transient(&s.provisioning_state)
                && subnet_ids.iter().any(|id| id.eq_ignore_ascii_case(&s.id))
        })
        .map(|s| format!("the subnet '{}' is {TRANSIENT_STATE}", s.id))
}

/// What network validation looks at.
#[derive(Clone, Debug)]
pub struct NetworkFacts<'a> {
    /// The cluster's internal model.
    pub spec: &'a OpenShiftClusterSpec,
    /// True during install, false during update.
    pub creating: bool,
    /// The virtual network of the master subnet, or None when it does not exist.
    pub vnet: Option<&'a VirtualNetwork>,
    /// On update (without preconfigured NSGs): the NSG id the RP attached to the subnets.
    pub expected_nsg_id: Option<String>,
}

/// ARM id of the virtual network of a subnet id (`.../virtualNetworks/<vnet>/subnets/<subnet>`).
pub fn vnet_id_of(subnet_id: &str) -> Option<&str> {
    let lower = subnet_id.to_ascii_lowercase();
    let at = lower.rfind("/subnets/")?;
    lower
        .contains("/virtualnetworks/")
        .then_some(&subnet_id[..at])
}

/// Validate the customer's network; the first problem found is returned.
pub fn validate_network(facts: &NetworkFacts<'_>) -> Result<(), ArmError> {
    let spec = facts.spec;
    let master_subnet_id = spec.master_profile.subnet_id.as_str();
    let Some(vnet) = facts.vnet else {
        let vnet_id = vnet_id_of(master_subnet_id).unwrap_or(master_subnet_id);
        return Err(ArmError::new(
            CODE,
            format!("The vnet '{vnet_id}' could not be found."),
        ));
    };
    if !normalize_location(&vnet.location).eq(&normalize_location(&spec.location)) {
        return Err(ArmError::new(
            CODE,
            format!(
                "The vnet location '{}' must match the cluster location '{}'.",
                vnet.location, spec.location
            ),
        ));
    }

    let mut networks: Vec<(String, Ipv4Net)> = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, worker) in spec.worker_profiles.iter().enumerate() {
        if !seen.insert(worker.subnet_id.to_ascii_lowercase()) {
            continue;
        }
        let path = format!("properties.workerProfiles[{i}].subnetId");
        for net in validate_subnet(facts, vnet, &path, &worker.subnet_id)? {
            networks.push((worker.subnet_id.clone(), net));
        }
    }
    if seen.insert(master_subnet_id.to_ascii_lowercase()) {
        for net in validate_subnet(
            facts,
            vnet,
            "properties.masterProfile.subnetId",
            master_subnet_id,
        )? {
            networks.push((master_subnet_id.to_string(), net));
        }
    }
    for (name, cidr) in [
        ("podCidr", &spec.network_profile.pod_cidr),
        ("serviceCidr", &spec.network_profile.service_cidr),
    ] {
        let net: Ipv4Net = cidr.parse().map_err(|_| {
            ArmError::new(
                "InvalidNetworkAddress",
                format!("The provided {name} '{cidr}' is invalid."),
            )
            .with_target(format!("properties.networkProfile.{name}"))
        })?;
        networks.push((cidr.clone(), net));
    }
    for (i, (a_name, a)) in networks.iter().enumerate() {
        for (b_name, b) in &networks[i + 1..] {
            if a.contains(&b.network()) || b.contains(&a.network()) {
                return Err(ArmError::new(
                    CODE,
                    format!(
                        "The provided CIDRs must not overlap: '{a_name} ({a}) overlaps with {b_name} ({b})'."
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn validate_subnet(
    facts: &NetworkFacts<'_>,
    vnet: &VirtualNetwork,
    path: &str,
    subnet_id: &str,
) -> Result<Vec<Ipv4Net>, ArmError> {
    let invalid = |why: String| {
        ArmError::new(
            CODE,
            format!("The provided subnet '{subnet_id}' is invalid: {why}."),
        )
        .with_target(path)
    };
    let Some(subnet) = vnet
        .subnets
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(subnet_id))
    else {
        return Err(ArmError::new(
            CODE,
            format!("The provided subnet '{subnet_id}' could not be found."),
        )
        .with_target(path));
    };
    if let Some(state) = subnet.provisioning_state.as_deref()
        && !state.eq_ignore_ascii_case("Succeeded")
    {
        return Err(invalid(format!(
            "must be in the Succeeded provisioning state, not '{state}'"
        )));
    }
    let preconfigured = facts.spec.network_profile.preconfigured_nsg == Toggle::Enabled;
    let attached = subnet.network_security_group_id.as_deref();
    match (facts.creating, preconfigured, attached) {
        (true, false, Some(_)) => {
            return Err(invalid(
                "must not have a network security group attached".into(),
            ));
        }
        (_, true, None) => {
            return Err(invalid(
                "must have a network security group attached when preconfiguredNSG is Enabled"
                    .into(),
            ));
        }
        (false, false, attached) => {
            if let Some(expected) = facts.expected_nsg_id.as_deref()
                && !attached.is_some_and(|a| a.eq_ignore_ascii_case(expected))
            {
                return Err(invalid(format!(
                    "must have network security group '{expected}' attached"
                )));
            }
        }
        _ => {}
    }
    if subnet.address_prefixes.is_empty() {
        return Err(invalid("has no address prefix".into()));
    }
    let mut nets = Vec::new();
    for prefix in &subnet.address_prefixes {
        let net: Ipv4Net = prefix
            .parse()
            .map_err(|_| invalid(format!("address prefix '{prefix}' is not an IPv4 CIDR")))?;
        if net.prefix_len() > MAX_SUBNET_PREFIX {
            return Err(invalid("must be /27 or larger".into()));
        }
        nets.push(net);
    }
    Ok(nets)
}

fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::management::WorkerProfile;

    const VNET: &str =
        "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/vnet";

    fn subnet(name: &str, prefix: &str) -> Subnet {
        Subnet {
            id: format!("{VNET}/subnets/{name}"),
            address_prefixes: vec![prefix.into()],
            provisioning_state: Some("Succeeded".into()),
            ..Default::default()
        }
    }

    fn vnet() -> VirtualNetwork {
        VirtualNetwork {
            id: VNET.into(),
            location: "eastus".into(),
            subnets: vec![
                subnet("master", "10.0.0.0/23"),
                subnet("worker", "10.0.2.0/23"),
            ],
            provisioning_state: Some("Succeeded".into()),
        }
    }

    fn spec() -> OpenShiftClusterSpec {
        let mut spec = OpenShiftClusterSpec {
            location: "eastus".into(),
            ..Default::default()
        };
        spec.master_profile.subnet_id = format!("{VNET}/subnets/master");
        spec.worker_profiles = vec![WorkerProfile {
            name: "worker".into(),
            subnet_id: format!("{VNET}/subnets/Worker"),
            ..Default::default()
        }];
        spec.network_profile.pod_cidr = "10.128.0.0/14".into();
        spec.network_profile.service_cidr = "172.30.0.0/16".into();
        spec
    }

    fn check(
        spec: &OpenShiftClusterSpec,
        vnet: Option<&VirtualNetwork>,
        creating: bool,
    ) -> Result<(), ArmError> {
        validate_network(&NetworkFacts {
            spec,
            creating,
            vnet,
            expected_nsg_id: None,
        })
    }

    #[test]
    fn a_good_network_passes() {
        check(&spec(), Some(&vnet()), true).unwrap();
    }

    #[test]
    fn missing_vnet_and_subnet_are_reported_with_targets() {
        let err = check(&spec(), None, true).unwrap_err();
        assert_eq!(err.code, "InvalidLinkedVNet");
        assert_eq!(
            err.message,
            format!("The vnet '{VNET}' could not be found.")
        );

        let mut v = vnet();
        v.subnets.retain(|s| !s.id.ends_with("worker"));
        let err = check(&spec(), Some(&v), true).unwrap_err();
        assert_eq!(
            err.target.as_deref(),
            Some("properties.workerProfiles[0].subnetId")
        );
        assert!(
            err.message.contains("could not be found"),
            "{}",
            err.message
        );
    }

    #[test]
    fn location_must_match() {
        let mut v = vnet();
        v.location = "West Europe".into();
        let err = check(&spec(), Some(&v), true).unwrap_err();
        assert_eq!(
            err.message,
            "The vnet location 'West Europe' must match the cluster location 'eastus'."
        );
        v.location = "East US".into();
        check(&spec(), Some(&v), true).unwrap();
    }

    #[test]
    fn subnets_must_be_27_or_larger_and_provisioned() {
        let mut v = vnet();
        v.subnets[0].address_prefixes = vec!["10.0.0.0/28".into()];
        let err = check(&spec(), Some(&v), true).unwrap_err();
        assert_eq!(
            err.target.as_deref(),
            Some("properties.masterProfile.subnetId")
        );
        assert!(
            err.message.ends_with("is invalid: must be /27 or larger."),
            "{}",
            err.message
        );

        let mut v = vnet();
        v.subnets[1].provisioning_state = Some("Updating".into());
        let subnet_ids: Vec<String> = v.subnets.iter().map(|s| s.id.clone()).collect();
        let ids: Vec<&str> = subnet_ids.iter().map(String::as_str).collect();
        assert!(
            transient_state(&v, &ids).is_some_and(|w| w.contains("is Updating")),
            "an Updating subnet is transient"
        );
        assert_eq!(
            transient_state(&v, &[]),
            None,
            "only the cluster's subnets count"
        );
        let err = check(&spec(), Some(&v), true).unwrap_err();
        assert!(
            err.message.contains("Succeeded provisioning state"),
            "{}",
            err.message
        );
    }

    #[test]
    fn overlapping_cidrs_are_rejected() {
        let mut s = spec();
        s.network_profile.pod_cidr = "10.0.0.0/14".into();
        let err = check(&s, Some(&vnet()), true).unwrap_err();
        assert_eq!(err.code, "InvalidLinkedVNet");
        assert!(
            err.message
                .starts_with("The provided CIDRs must not overlap"),
            "{}",
            err.message
        );

        let mut v = vnet();
        v.subnets[1].address_prefixes = vec!["10.0.1.0/24".into()];
        let err = check(&spec(), Some(&v), true).unwrap_err();
        assert!(err.message.contains("overlaps"), "{}", err.message);
    }

    #[test]
    fn nsg_rules_depend_on_create_update_and_preconfigured() {
        let nsg = "/subscriptions/s/resourceGroups/aro-x/providers/Microsoft.Network/networkSecurityGroups/infra-nsg";
        let mut with_nsg = vnet();
        for s in &mut with_nsg.subnets {
            s.network_security_group_id = Some(nsg.into());
        }
        // Create: a foreign NSG is refused unless preconfigured.
        let err = check(&spec(), Some(&with_nsg), true).unwrap_err();
        assert!(
            err.message
                .contains("must not have a network security group attached"),
            "{}",
            err.message
        );
        let mut pre = spec();
        pre.network_profile.preconfigured_nsg = Toggle::Enabled;
        check(&pre, Some(&with_nsg), true).unwrap();
        let err = check(&pre, Some(&vnet()), true).unwrap_err();
        assert!(
            err.message.contains("when preconfiguredNSG is Enabled"),
            "{}",
            err.message
        );

        // Update: the RP's NSG must be attached.
        let s = spec();
        let facts = |v| NetworkFacts {
            spec: &s,
            creating: false,
            vnet: Some(v),
            expected_nsg_id: Some(nsg.to_uppercase()),
        };
        validate_network(&facts(&with_nsg)).unwrap();
        let err = validate_network(&facts(&vnet())).unwrap_err();
        assert!(
            err.message.contains("must have network security group"),
            "{}",
            err.message
        );
    }

    #[test]
    fn vnet_id_is_derived_from_subnet_ids() {
        assert_eq!(vnet_id_of(&format!("{VNET}/subnets/master")), Some(VNET));
        assert_eq!(vnet_id_of("/not/a/subnet"), None);
    }
}
