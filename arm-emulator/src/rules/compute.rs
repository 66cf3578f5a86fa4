//! Microsoft.Compute: the VM size catalog, resource SKUs with their seeded restrictions, quota
//! usages, and virtual machines (size, restriction and quota checks on PUT, a `vmId`, power
//! states driven by the power actions, the instance view).

use super::network::check_links;
use super::{Children, Context, PowerChange, ProviderRules, Put, TypeTraits};
pub use crate::config::SkuRestriction;
use crate::error::ApiError;
use crate::path::{ProviderPath, is_within, key, normalize_location};
use crate::request::{ArmRequest, Reply, filter_location};
use http::Method;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const VIRTUAL_MACHINE: &str = "microsoft.compute/virtualmachines";

/// The rules of Microsoft.Compute.
pub(crate) struct Compute;

impl ProviderRules for Compute {
    fn traits(&self, type_lower: &str) -> TypeTraits {
        TypeTraits {
            initial_power_state: (type_lower == VIRTUAL_MACHINE).then_some("starting"),
            ..TypeTraits::default()
        }
    }

    fn prepare_put(
        &self,
        cx: &Context<'_>,
        put: &Put<'_>,
        body: &mut Value,
    ) -> Result<Children, ApiError> {
        if put.resource_type.eq_ignore_ascii_case(VIRTUAL_MACHINE) {
            check_vm(cx, put, body)?;
        }
        check_links(cx, &put.write_action(), put.id, body)?;
        Ok(Children::default())
    }

    fn complete(&self, put: &Put<'_>, stored: &mut Value) {
        if put.resource_type.eq_ignore_ascii_case(VIRTUAL_MACHINE) {
            let vm_id = put
                .existing
                .and_then(|e| e.body.pointer("/properties/vmId").cloned())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string().into());
            stored["properties"]["vmId"] = vm_id;
        }
    }

    fn action(&self, type_lower: &str, action_lower: &str) -> Option<PowerChange> {
        if type_lower != VIRTUAL_MACHINE {
            return None;
        }
        let (transient, target) = match action_lower {
            "start" | "restart" | "redeploy" | "reimage" => ("starting", "running"),
            "deallocate" => ("deallocating", "deallocated"),
            "poweroff" => ("stopping", "stopped"),
            _ => return None,
        };
        Some(PowerChange { transient, target })
    }

    fn render(
        &self,
        _resources: &crate::resources::Resources,
        _key: &str,
        resource: &crate::resources::Resource,
        body: &mut Value,
        expand_instance_view: bool,
    ) {
        if expand_instance_view && resource.type_lower() == VIRTUAL_MACHINE {
            body["properties"]["instanceView"] =
                instance_view(resource.power_state.as_deref().unwrap_or("running"));
        }
    }

    fn route(
        &self,
        cx: &Context<'_>,
        req: &ArmRequest<'_>,
        pp: &ProviderPath,
    ) -> Option<Result<Reply, ApiError>> {
        let types = pp.type_names();
        if pp.at_subscription() && pp.segments.len() == 1 && types == ["skus"] {
            return Some(skus(cx, req, pp));
        }
        // `…/virtualMachines/{vm}/instanceView`
        if *req.method == Method::GET
            && pp.segments.len() == 3
            && types == ["virtualmachines", "instanceview"]
        {
            return Some(vm_instance_view(cx, pp));
        }
        None
    }

    fn usages(&self, cx: &Context<'_>, subscription: &str, location: &str) -> Option<Vec<Value>> {
        let vms = vm_sizes_in(cx, subscription, location, "");
        Some(compute_usages(
            subscription,
            location,
            &vms,
            &cx.capacity.quotas,
        ))
    }
}

fn skus(cx: &Context<'_>, req: &ArmRequest<'_>, pp: &ProviderPath) -> Result<Reply, ApiError> {
    req.only(&[Method::GET])?;
    cx.authorize("Microsoft.Compute/skus/read", &pp.scope.path)?;
    let filter = req.query("$filter").and_then(filter_location);
    Ok(Reply::list(resource_skus(
        &cx.capacity.locations,
        &cx.capacity.sku_restrictions,
        filter.as_deref(),
    )))
}

fn vm_instance_view(cx: &Context<'_>, pp: &ProviderPath) -> Result<Reply, ApiError> {
    let vm = pp.id_of(pp.segments.len() - 1);
    cx.authorize("Microsoft.Compute/virtualMachines/instanceView/read", &vm)?;
    let r = cx
        .resources
        .get(&key(&vm))
        .ok_or_else(|| ApiError::not_found_at(pp, pp.segments.len() - 1))?;
    Ok(Reply::json(
        200,
        instance_view(r.power_state.as_deref().unwrap_or("running")),
    ))
}

/// The sizes of the VMs in a subscription and location, but the one with id `except`.
fn vm_sizes_in(cx: &Context<'_>, sub: &str, location: &str, except: &str) -> Vec<String> {
    let except = key(except);
    let subscription = key(&format!("/subscriptions/{sub}"));
    cx.resources
        .of_type(VIRTUAL_MACHINE)
        .filter(|(k, r)| {
            **k != except
                && is_within(k, &subscription)
                && r.location().as_deref() == Some(normalize_location(location).as_str())
        })
        .filter_map(|(_, r)| {
            r.body
                .pointer("/properties/hardwareProfile/vmSize")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// A VM's size must exist, be available in the location and, for a new VM, fit the quotas.
fn check_vm(cx: &Context<'_>, put: &Put<'_>, body: &Value) -> Result<(), ApiError> {
    let location = put.location.unwrap_or("eastus");
    let size_name = body
        .pointer("/properties/hardwareProfile/vmSize")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::bad_request(
                "InvalidParameter",
                "Required parameter 'hardwareProfile.vmSize' is missing (null).",
            )
            .with_target("hardwareProfile.vmSize")
        })?;
    let size = vm_size(size_name).ok_or_else(|| {
        ApiError::bad_request(
            "InvalidParameter",
            format!("The value {size_name} provided for the VM size is not valid."),
        )
        .with_target("vmSize")
    })?;
    if location_restricted(&cx.capacity.sku_restrictions, size.name, location) {
        return Err(ApiError::new(
            409,
            "SkuNotAvailable",
            format!(
                "The requested VM size for resource 'Following SKUs have failed for Capacity Restrictions: {}' is currently not available in location '{location}'. Please try another size or deploy to a different location or different zone.",
                size.name
            ),
        ));
    }
    if put.existing.is_none() {
        let existing = vm_sizes_in(cx, &put.path.scope.subscription, location, put.id);
        if let Some((name, current, limit)) = quota_exceeded(&existing, size, &cx.capacity.quotas) {
            return Err(ApiError::new(
                409,
                "OperationNotAllowed",
                format!(
                    "Operation could not be completed as it results in exceeding approved {name} quota. Location: {location}, Current Limit: {limit}, Current Usage: {current}, Additional Required: {}.",
                    size.vcpus
                ),
            ));
        }
    }
    Ok(())
}

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
                    {"name": "EncryptionAtHostSupported", "value": "True"},
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
    fn power_actions_of_virtual_machines() {
        let power = |action: &str| Compute.action(VIRTUAL_MACHINE, action);
        assert_eq!(
            power("restart"),
            Some(PowerChange {
                transient: "starting",
                target: "running"
            })
        );
        assert_eq!(power("deallocate").map(|p| p.target), Some("deallocated"));
        assert_eq!(power("poweroff").map(|p| p.transient), Some("stopping"));
        assert_eq!(power("capture"), None);
        assert_eq!(Compute.action("microsoft.compute/disks", "start"), None);
    }

    #[test]
    fn restrictions_show_on_the_sku() {
        let r = vec![SkuRestriction {
            name: "Standard_D8s_v3".into(),
            location: "East US".into(),
            zones: vec![],
            reason_code: "NotAvailableForSubscription".into(),
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
