//! Compute catalog: VM sizes, resource SKUs with restrictions, and quota usages.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A VM size the emulator offers.
pub struct VmSize {
    /// ARM size name, e.g. `Standard_D8s_v3`.
    pub name: &'static str,
    /// Quota family, e.g. `standardDSv3Family`.
    pub family: &'static str,
    /// vCPUs.
    pub vcpus: u64,
    /// Memory in GB.
    pub memory_gb: u64,
}

const fn size(name: &'static str, family: &'static str, vcpus: u64, memory_gb: u64) -> VmSize {
    VmSize {
        name,
        family,
        vcpus,
        memory_gb,
    }
}

/// Sizes ARO uses for masters and workers (the sizes static validation accepts,
/// `rp-frontend/src/api/validate.rs`), plus a few small ones.
pub const VM_SIZES: &[VmSize] = &[
    size("Standard_D2s_v3", "standardDSv3Family", 2, 8),
    size("Standard_D4s_v3", "standardDSv3Family", 4, 16),
    size("Standard_D8s_v3", "standardDSv3Family", 8, 32),
    size("Standard_D16s_v3", "standardDSv3Family", 16, 64),
    size("Standard_D32s_v3", "standardDSv3Family", 32, 128),
    size("Standard_D4s_v4", "standardDSv4Family", 4, 16),
    size("Standard_D8s_v4", "standardDSv4Family", 8, 32),
    size("Standard_D16s_v4", "standardDSv4Family", 16, 64),
    size("Standard_D32s_v4", "standardDSv4Family", 32, 128),
    size("Standard_D4s_v5", "standardDSv5Family", 4, 16),
    size("Standard_D8s_v5", "standardDSv5Family", 8, 32),
    size("Standard_D16s_v5", "standardDSv5Family", 16, 64),
    size("Standard_D32s_v5", "standardDSv5Family", 32, 128),
    size("Standard_D8as_v4", "standardDASv4Family", 8, 32),
    size("Standard_D8as_v5", "standardDASv5Family", 8, 32),
    size("Standard_E8s_v3", "standardESv3Family", 8, 64),
    size("Standard_E16s_v3", "standardESv3Family", 16, 128),
    size("Standard_E32s_v3", "standardESv3Family", 32, 256),
    size("Standard_F72s_v2", "standardFSv2Family", 72, 144),
    size("Standard_M128ms", "standardMSFamily", 128, 3892),
];

/// The size with this name (case-insensitive).
pub fn vm_size(name: &str) -> Option<&'static VmSize> {
    VM_SIZES.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// A restriction on a SKU, as seeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkuRestriction {
    /// SKU name, e.g. `Standard_D8s_v3`.
    pub name: String,
    /// Location the restriction applies to.
    pub location: String,
    /// Zones restricted (a `Zone` restriction); empty means the whole location.
    #[serde(default)]
    pub zones: Vec<String>,
    /// Azure's reason code.
    #[serde(default = "default_reason")]
    pub reason_code: String,
}

fn default_reason() -> String {
    "NotAvailableForSubscription".into()
}

/// Normalises a location the way ARM does ("East US" -> "eastus").
pub fn normalize_location(location: &str) -> String {
    location
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Whether a size is restricted for the whole location.
pub fn location_restricted(restrictions: &[SkuRestriction], name: &str, location: &str) -> bool {
    restrictions.iter().any(|r| {
        r.name.eq_ignore_ascii_case(name)
            && normalize_location(&r.location) == normalize_location(location)
            && r.zones.is_empty()
    })
}

/// The resource SKU list (`Microsoft.Compute/skus`), optionally filtered to one location.
pub fn resource_skus(
    locations: &[String],
    restrictions: &[SkuRestriction],
    only_location: Option<&str>,
) -> Vec<Value> {
    let mut out = Vec::new();
    for loc in locations {
        let loc = normalize_location(loc);
        if only_location.is_some_and(|o| normalize_location(o) != loc) {
            continue;
        }
        for s in VM_SIZES {
            let rs: Vec<Value> = restrictions
                .iter()
                .filter(|r| r.name.eq_ignore_ascii_case(s.name) && normalize_location(&r.location) == loc)
                .map(|r| {
                    if r.zones.is_empty() {
                        json!({"type": "Location", "values": [loc], "restrictionInfo": {"locations": [loc]}, "reasonCode": r.reason_code})
                    } else {
                        json!({"type": "Zone", "values": [loc], "restrictionInfo": {"locations": [loc], "zones": r.zones}, "reasonCode": r.reason_code})
                    }
                })
                .collect();
            out.push(json!({
                "resourceType": "virtualMachines",
                "name": s.name,
                "tier": "Standard",
                "size": s.name.trim_start_matches("Standard_"),
                "family": s.family,
                "locations": [loc],
                "locationInfo": [{"location": loc, "zones": ["1", "2", "3"], "zoneDetails": []}],
                "capabilities": [
                    {"name": "vCPUs", "value": s.vcpus.to_string()},
                    {"name": "MemoryGB", "value": s.memory_gb.to_string()},
                    {"name": "PremiumIO", "value": "True"},
                    {"name": "HyperVGenerations", "value": "V1,V2"},
                ],
                "restrictions": rs,
            }));
        }
    }
    out
}

/// Default quota limit of a compute usage name.
fn default_limit(name: &str) -> u64 {
    match name {
        "cores" => 1000,
        "virtualMachines" => 25000,
        _ => 350,
    }
}

/// Compute usages for a location: `cores`, `virtualMachines` and one entry per size family.
/// `vms` are the sizes of the VMs in that location and subscription.
pub fn compute_usages(
    subscription: &str,
    location: &str,
    vms: &[String],
    quotas: &BTreeMap<String, u64>,
) -> Vec<Value> {
    let mut current: BTreeMap<String, u64> = BTreeMap::new();
    current.insert("cores".into(), 0);
    current.insert("virtualMachines".into(), vms.len() as u64);
    for s in VM_SIZES {
        current.entry(s.family.to_string()).or_insert(0);
    }
    for vm in vms {
        if let Some(s) = vm_size(vm) {
            *current.entry("cores".into()).or_default() += s.vcpus;
            *current.entry(s.family.to_string()).or_default() += s.vcpus;
        }
    }
    let loc = normalize_location(location);
    current
        .into_iter()
        .map(|(name, value)| {
            let limit = quotas.get(&name).copied().unwrap_or_else(|| default_limit(&name));
            json!({
                "id": format!("/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{loc}/usages/{name}"),
                "unit": "Count",
                "currentValue": value,
                "limit": limit,
                "name": {"value": name, "localizedValue": localized(&name)},
            })
        })
        .collect()
}

fn localized(name: &str) -> String {
    match name {
        "cores" => "Total Regional vCPUs".into(),
        "virtualMachines" => "Virtual Machines".into(),
        family => format!("Standard {family} vCPUs"),
    }
}

/// Network usages for a location (public IP quota is what the RP checks).
pub fn network_usages(
    subscription: &str,
    location: &str,
    public_ips: u64,
    quotas: &BTreeMap<String, u64>,
) -> Vec<Value> {
    let loc = normalize_location(location);
    ["PublicIPAddresses", "StandardSkuPublicIpAddresses"]
        .into_iter()
        .map(|name| {
            json!({
                "id": format!("/subscriptions/{subscription}/providers/Microsoft.Network/locations/{loc}/usages/{name}"),
                "unit": "Count",
                "currentValue": public_ips,
                "limit": quotas.get(name).copied().unwrap_or(1000),
                "name": {"value": name, "localizedValue": name},
            })
        })
        .collect()
}

/// Quota check for a new VM: the first usage that would exceed its limit, as (name, current, limit).
pub fn quota_exceeded(
    existing: &[String],
    new_size: &VmSize,
    quotas: &BTreeMap<String, u64>,
) -> Option<(String, u64, u64)> {
    let mut sizes = existing.to_vec();
    sizes.push(new_size.name.to_string());
    let mut cores = 0;
    let mut family = 0;
    for s in sizes.iter().filter_map(|s| vm_size(s)) {
        cores += s.vcpus;
        if s.family == new_size.family {
            family += s.vcpus;
        }
    }
    let cores_limit = quotas
        .get("cores")
        .copied()
        .unwrap_or_else(|| default_limit("cores"));
    if cores > cores_limit {
        return Some(("cores".into(), cores - new_size.vcpus, cores_limit));
    }
    let family_limit = quotas
        .get(new_size.family)
        .copied()
        .unwrap_or_else(|| default_limit(new_size.family));
    if family > family_limit {
        return Some((
            new_size.family.into(),
            family - new_size.vcpus,
            family_limit,
        ));
    }
    None
}

/// Instance view of a VM in a power state.
pub fn instance_view(power_state: &str) -> Value {
    let display = match power_state {
        "running" => "VM running",
        "deallocated" => "VM deallocated",
        "stopped" => "VM stopped",
        "starting" => "VM starting",
        "deallocating" => "VM deallocating",
        other => other,
    };
    json!({
        "statuses": [
            {"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
            {"code": format!("PowerState/{power_state}"), "level": "Info", "displayStatus": display},
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_show_on_the_sku() {
        let r = vec![SkuRestriction {
            name: "Standard_D8s_v3".into(),
            location: "East US".into(),
            zones: vec![],
            reason_code: default_reason(),
        }];
        let skus = resource_skus(&["eastus".into(), "westus".into()], &r, Some("eastus"));
        assert_eq!(skus.len(), VM_SIZES.len());
        let d8 = skus
            .iter()
            .find(|s| s["name"] == "Standard_D8s_v3")
            .unwrap();
        assert_eq!(d8["restrictions"][0]["type"], "Location");
        assert!(location_restricted(&r, "standard_d8s_v3", "eastus"));
        assert!(!location_restricted(&r, "Standard_D8s_v3", "westus"));
    }

    #[test]
    fn usages_count_cores_per_family() {
        let vms = vec![
            "Standard_D8s_v3".to_string(),
            "Standard_D8s_v3".into(),
            "Standard_D4s_v5".into(),
        ];
        let u = compute_usages("s", "eastus", &vms, &BTreeMap::new());
        let get =
            |n: &str| u.iter().find(|x| x["name"]["value"] == n).unwrap()["currentValue"].as_u64();
        assert_eq!(get("cores"), Some(20));
        assert_eq!(get("standardDSv3Family"), Some(16));
        assert_eq!(get("virtualMachines"), Some(3));
    }

    #[test]
    fn quota_is_checked_per_family_and_total() {
        let mut q = BTreeMap::new();
        q.insert("standardDSv3Family".to_string(), 16);
        let d8 = vm_size("Standard_D8s_v3").unwrap();
        assert_eq!(quota_exceeded(&["Standard_D8s_v3".into()], d8, &q), None);
        assert_eq!(
            quota_exceeded(
                &["Standard_D8s_v3".into(), "Standard_D8s_v3".into()],
                d8,
                &q
            ),
            Some(("standardDSv3Family".into(), 16, 16))
        );
    }
}
