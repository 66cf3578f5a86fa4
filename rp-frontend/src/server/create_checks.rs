//! Create-time checks against the customer's subscription in Azure, as ARO-RP's
//! `ValidateNewCluster` (pkg/frontend) runs them after static validation: VM SKU availability and
//! restrictions in the region (sku_validation.go, pkg/util/computeskus), compute and network
//! quota (quota_validation.go) and the registration of the resource providers the install uses
//! (providers_validation.go). A PUT that creates a cluster and a deployment preflight of a new
//! cluster run them; updates do not (as in ARO-RP).
//!
//! The four reads are independent, so they run concurrently; the verdict is the first failure in
//! ARO-RP's order (SKUs, quota, providers), whatever finished first. The RP calls Azure with its
//! own identity (the [`AzureClients`] of the frontend's configuration), as ARO-RP uses its
//! first-party identity for the customer's subscription. Without an Azure configuration the
//! checks are skipped (logged); `docs/api.md` says so.
//!
//! The verdicts are pure functions of what Azure answered, unit-tested below.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use azure_clients::AzureClients;
use crds::management::{OpenShiftClusterSpec, Toggle};
use serde_json::Value;

use crate::error::{Error, Result};

/// Resource providers a cluster install needs registered in the customer's subscription
/// (ARO-RP's `requiredResourceProviders`).
pub const REQUIRED_PROVIDERS: &[&str] = &[
    "Microsoft.Authorization",
    "Microsoft.Compute",
    "Microsoft.Network",
    "Microsoft.Storage",
];

/// Public IPs an install needs: two for the ARM template, one for kube-controller-manager
/// (ARO-RP's quota_validation.go).
pub const REQUIRED_PUBLIC_IPS: i64 = 3;

/// VMs of the master size an install creates: three masters and the bootstrap VM (ARO-RP counts
/// four).
const MASTER_SIZE_VMS: i64 = 4;

/// Quota family and vCPUs of the VM sizes ARO-RP knows (pkg/api's `VMSizeStruct`s): the quota
/// check needs both.
const VM_SIZES: &[(&str, &str, i64)] = &[
    ("Standard_D2s_v3", "standardDSv3Family", 2),
    ("Standard_D4s_v3", "standardDSv3Family", 4),
    ("Standard_D8s_v3", "standardDSv3Family", 8),
    ("Standard_D16s_v3", "standardDSv3Family", 16),
    ("Standard_D32s_v3", "standardDSv3Family", 32),
    ("Standard_D64s_v3", "standardDSv3Family", 64),
    ("Standard_D2s_v4", "standardDSv4Family", 2),
    ("Standard_D4s_v4", "standardDSv4Family", 4),
    ("Standard_D8s_v4", "standardDSv4Family", 8),
    ("Standard_D16s_v4", "standardDSv4Family", 16),
    ("Standard_D32s_v4", "standardDSv4Family", 32),
    ("Standard_D64s_v4", "standardDSv4Family", 64),
    ("Standard_D2s_v5", "standardDSv5Family", 2),
    ("Standard_D4s_v5", "standardDSv5Family", 4),
    ("Standard_D8s_v5", "standardDSv5Family", 8),
    ("Standard_D16s_v5", "standardDSv5Family", 16),
    ("Standard_D32s_v5", "standardDSv5Family", 32),
    ("Standard_D48s_v5", "standardDSv5Family", 48),
    ("Standard_D64s_v5", "standardDSv5Family", 64),
    ("Standard_D96s_v5", "standardDSv5Family", 96),
    ("Standard_D4as_v4", "standardDASv4Family", 4),
    ("Standard_D8as_v4", "standardDASv4Family", 8),
    ("Standard_D16as_v4", "standardDASv4Family", 16),
    ("Standard_D32as_v4", "standardDASv4Family", 32),
    ("Standard_D64as_v4", "standardDASv4Family", 64),
    ("Standard_D96as_v4", "standardDASv4Family", 96),
    ("Standard_D4as_v5", "standardDASv5Family", 4),
    ("Standard_D8as_v5", "standardDASv5Family", 8),
    ("Standard_D16as_v5", "standardDASv5Family", 16),
    ("Standard_D32as_v5", "standardDASv5Family", 32),
    ("Standard_D64as_v5", "standardDASv5Family", 64),
    ("Standard_D96as_v5", "standardDASv5Family", 96),
    ("Standard_D4ds_v5", "standardDDSv5Family", 4),
    ("Standard_D8ds_v5", "standardDDSv5Family", 8),
    ("Standard_D16ds_v5", "standardDDSv5Family", 16),
    ("Standard_D32ds_v5", "standardDDSv5Family", 32),
    ("Standard_D48ds_v5", "standardDDSv5Family", 48),
    ("Standard_D64ds_v5", "standardDDSv5Family", 64),
    ("Standard_D96ds_v5", "standardDDSv5Family", 96),
    ("Standard_D4ads_v5", "standardDADSv5Family", 4),
    ("Standard_D8ads_v5", "standardDADSv5Family", 8),
    ("Standard_D16ads_v5", "standardDADSv5Family", 16),
    ("Standard_D32ads_v5", "standardDADSv5Family", 32),
    ("Standard_D4s_v6", "standardDSv6Family", 4),
    ("Standard_D8s_v6", "standardDSv6Family", 8),
    ("Standard_D16s_v6", "standardDSv6Family", 16),
    ("Standard_D32s_v6", "standardDSv6Family", 32),
    ("Standard_D48s_v6", "standardDSv6Family", 48),
    ("Standard_D64s_v6", "standardDSv6Family", 64),
    ("Standard_D96s_v6", "standardDSv6Family", 96),
    ("Standard_D4ds_v6", "standardDDSv6Family", 4),
    ("Standard_D8ds_v6", "standardDDSv6Family", 8),
    ("Standard_D16ds_v6", "standardDDSv6Family", 16),
    ("Standard_D32ds_v6", "standardDDSv6Family", 32),
    ("Standard_D48ds_v6", "standardDDSv6Family", 48),
    ("Standard_D64ds_v6", "standardDDSv6Family", 64),
    ("Standard_D96ds_v6", "standardDDSv6Family", 96),
    ("Standard_E4s_v3", "standardESv3Family", 4),
    ("Standard_E8s_v3", "standardESv3Family", 8),
    ("Standard_E16s_v3", "standardESv3Family", 16),
    ("Standard_E32s_v3", "standardESv3Family", 32),
    ("Standard_E64is_v3", "standardESv3Family", 64),
    ("Standard_E2s_v4", "standardESv4Family", 2),
    ("Standard_E4s_v4", "standardESv4Family", 4),
    ("Standard_E8s_v4", "standardESv4Family", 8),
    ("Standard_E16s_v4", "standardESv4Family", 16),
    ("Standard_E20s_v4", "standardESv4Family", 20),
    ("Standard_E32s_v4", "standardESv4Family", 32),
    ("Standard_E48s_v4", "standardESv4Family", 48),
    ("Standard_E64s_v4", "standardESv4Family", 64),
    ("Standard_E2s_v5", "standardESv5Family", 2),
    ("Standard_E4s_v5", "standardESv5Family", 4),
    ("Standard_E8s_v5", "standardESv5Family", 8),
    ("Standard_E16s_v5", "standardESv5Family", 16),
    ("Standard_E20s_v5", "standardESv5Family", 20),
    ("Standard_E32s_v5", "standardESv5Family", 32),
    ("Standard_E48s_v5", "standardESv5Family", 48),
    ("Standard_E64s_v5", "standardESv5Family", 64),
    ("Standard_E96s_v5", "standardESv5Family", 96),
    ("Standard_E4as_v4", "standardEASv4Family", 4),
    ("Standard_E8as_v4", "standardEASv4Family", 8),
    ("Standard_E16as_v4", "standardEASv4Family", 16),
    ("Standard_E20as_v4", "standardEASv4Family", 20),
    ("Standard_E32as_v4", "standardEASv4Family", 32),
    ("Standard_E48as_v4", "standardEASv4Family", 48),
    ("Standard_E64as_v4", "standardEASv4Family", 64),
    ("Standard_E96as_v4", "standardEASv4Family", 96),
    ("Standard_E4as_v5", "standardEASv5Family", 4),
    ("Standard_E8as_v5", "standardEASv5Family", 8),
    ("Standard_E16as_v5", "standardEASv5Family", 16),
    ("Standard_E20as_v5", "standardEASv5Family", 20),
    ("Standard_E32as_v5", "standardEASv5Family", 32),
    ("Standard_E48as_v5", "standardEASv5Family", 48),
    ("Standard_E64as_v5", "standardEASv5Family", 64),
    ("Standard_E96as_v5", "standardEASv5Family", 96),
    ("Standard_E80is_v4", "standardEISv4Family", 80),
    ("Standard_E80ids_v4", "standardEIDSv4Family", 80),
    ("Standard_E96ds_v5", "standardEDSv5Family", 96),
    ("Standard_E104is_v5", "standardEISv5Family", 104),
    ("Standard_E104ids_v5", "standardEIDSv5Family", 104),
    ("Standard_E8s_v6", "standardESv6Family", 8),
    ("Standard_E16s_v6", "standardESv6Family", 16),
    ("Standard_E32s_v6", "standardESv6Family", 32),
    ("Standard_E4s_v6", "standardESv6Family", 4),
    ("Standard_F4s_v2", "standardFSv2Family", 4),
    ("Standard_F8s_v2", "standardFSv2Family", 8),
    ("Standard_F16s_v2", "standardFSv2Family", 16),
    ("Standard_F32s_v2", "standardFSv2Family", 32),
    ("Standard_F72s_v2", "standardFSv2Family", 72),
    ("Standard_M128ms", "standardMSFamily", 128),
    ("Standard_L4s", "standardLsv2Family", 4),
    ("Standard_L8s", "standardLsv2Family", 8),
    ("Standard_L16s", "standardLsv2Family", 16),
    ("Standard_L32s", "standardLsv2Family", 32),
    ("Standard_L8s_v2", "standardLsv2Family", 8),
    ("Standard_L16s_v2", "standardLsv2Family", 16),
    ("Standard_L32s_v2", "standardLsv2Family", 32),
    ("Standard_L48s_v2", "standardLsv2Family", 48),
    ("Standard_L64s_v2", "standardLsv2Family", 64),
    ("Standard_NC4as_T4_v3", "Standard NCASv3_T4 Family", 4),
    ("Standard_NC8as_T4_v3", "Standard NCASv3_T4 Family", 8),
    ("Standard_NC16as_T4_v3", "Standard NCASv3_T4 Family", 16),
    ("Standard_NC64as_T4_v3", "Standard NCASv3_T4 Family", 64),
];

/// Quota family and vCPUs of a VM size.
pub fn vm_size(name: &str) -> Option<(&'static str, i64)> {
    VM_SIZES
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, family, cores)| (*family, *cores))
}

/// What a new cluster asks of Azure, as the checks read it from the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Demand {
    /// Region.
    pub location: String,
    /// Each VM size with the JSON path that chose it (ARO-RP's targets), its count and whether
    /// it asks for encryption at host; the master first.
    pub machines: Vec<Machines>,
}

/// One profile's VMs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machines {
    /// `properties.masterProfile` or `properties.workerProfiles[i]`.
    pub path: String,
    /// VM size.
    pub vm_size: String,
    /// How many.
    pub count: i64,
    /// Encryption at host asked for.
    pub encryption_at_host: bool,
}

impl Demand {
    /// The demand of a cluster about to be created in `location`.
    pub fn of(spec: &OpenShiftClusterSpec, location: &str) -> Demand {
        let mut machines = vec![Machines {
            path: "properties.masterProfile".into(),
            vm_size: spec.master_profile.vm_size.clone(),
            count: MASTER_SIZE_VMS,
            encryption_at_host: spec.master_profile.encryption_at_host == Toggle::Enabled,
        }];
        for (i, w) in spec.worker_profiles.iter().enumerate() {
            machines.push(Machines {
                path: format!("properties.workerProfiles[{i}]"),
                vm_size: w.vm_size.clone(),
                count: i64::from(w.count),
                encryption_at_host: w.encryption_at_host == Toggle::Enabled,
            });
        }
        Demand {
            location: location.to_string(),
            machines,
        }
    }
}

fn invalid_parameter(target: &str, message: String) -> Error {
    Error::arm_target(StatusCode::BAD_REQUEST, "InvalidParameter", target, message)
}

fn same_location(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    norm(a) == norm(b)
}

/// SKU verdict (ARO-RP's `validateVMSku`): every size must be a virtual machine SKU offered in the
/// region, not restricted there for the subscription, and support encryption at host when asked.
/// `skus` are the resource SKUs Azure listed for the region.
pub fn check_skus(demand: &Demand, skus: &[Value]) -> Result<()> {
    let location = &demand.location;
    let find = |size: &str| {
        skus.iter().find(|sku| {
            sku["resourceType"] == "virtualMachines"
                && sku["name"].as_str() == Some(size)
                && sku["locationInfo"]
                    .as_array()
                    .is_some_and(|l| !l.is_empty())
                && sku["locations"].as_array().is_some_and(|l| {
                    l.iter()
                        .any(|x| x.as_str().is_some_and(|x| same_location(x, location)))
                })
        })
    };
    for m in &demand.machines {
        let target = format!("{}.VMSize", m.path);
        let Some(sku) = find(&m.vm_size) else {
            return Err(invalid_parameter(
                &target,
                format!(
                    "The selected SKU '{}' is unavailable in region '{location}'",
                    m.vm_size
                ),
            ));
        };
        // computeskus.IsRestricted: any restriction naming the region, a zone restriction
        // included (Azure lists the region in its restrictionInfo too).
        let restricted = sku["restrictions"].as_array().is_some_and(|rs| {
            rs.iter().any(|r| {
                r["restrictionInfo"]["locations"]
                    .as_array()
                    .is_some_and(|l| {
                        l.iter()
                            .any(|x| x.as_str().is_some_and(|x| same_location(x, location)))
                    })
            })
        });
        if restricted {
            return Err(invalid_parameter(
                &target,
                format!(
                    "The selected SKU '{}' is restricted in region '{location}' for selected subscription",
                    m.vm_size
                ),
            ));
        }
        let encryption_supported = sku["capabilities"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["name"] == "EncryptionAtHostSupported" && c["value"] == "True")
        });
        if m.encryption_at_host && !encryption_supported {
            return Err(invalid_parameter(
                &format!("{}.encryptionAtHost", m.path),
                format!(
                    "The selected SKU '{}' does not support encryption at host.",
                    m.vm_size
                ),
            ));
        }
    }
    Ok(())
}

/// What the cluster needs of each usage (ARO-RP's `addRequiredResources`): VMs, premium disks,
/// cores per family and in total, and public IPs. A size without a known family and core count
/// is refused, as ARO-RP does.
pub fn required_resources(demand: &Demand) -> Result<BTreeMap<String, i64>> {
    let mut required = BTreeMap::new();
    for m in &demand.machines {
        let Some((family, cores)) = vm_size(&m.vm_size) else {
            return Err(Error::arm(
                StatusCode::BAD_REQUEST,
                "InvalidParameter",
                format!("The provided VM SKU {} is not supported.", m.vm_size),
            ));
        };
        *required.entry("virtualMachines".into()).or_default() += m.count;
        *required.entry("PremiumDiskCount".into()).or_default() += m.count;
        *required.entry(family.to_string()).or_default() += cores * m.count;
        *required.entry("cores".into()).or_default() += cores * m.count;
    }
    required.insert("PublicIPAddresses".into(), REQUIRED_PUBLIC_IPS);
    Ok(required)
}

/// Quota verdict (ARO-RP's `validateQuota`): the first usage Azure reports, in its order, whose
/// free amount is less than what the cluster needs. Usages Azure does not report are not limited.
pub fn check_quota(required: &BTreeMap<String, i64>, usages: &[Value]) -> Result<()> {
    for usage in usages {
        let Some(name) = usage["name"]["value"].as_str() else {
            continue;
        };
        let Some(&needed) = required.get(name) else {
            continue;
        };
        let limit = usage["limit"].as_i64().unwrap_or(i64::MAX);
        let current = usage["currentValue"].as_i64().unwrap_or(0);
        if needed > limit.saturating_sub(current) {
            return Err(Error::arm(
                StatusCode::BAD_REQUEST,
                "ResourceQuotaExceeded",
                format!(
                    "Resource quota of {name} exceeded. Maximum allowed: {limit}, Current in use: {current}, Additional requested: {needed}."
                ),
            ));
        }
    }
    Ok(())
}

/// Registration verdict (ARO-RP's `validateProviders`): each required provider is `Registered`.
pub fn check_providers(providers: &[Value]) -> Result<()> {
    for required in REQUIRED_PROVIDERS {
        let registered = providers.iter().any(|p| {
            p["namespace"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(required))
                && p["registrationState"] == "Registered"
        });
        if !registered {
            return Err(Error::arm(
                StatusCode::BAD_REQUEST,
                "ResourceProviderNotRegistered",
                format!("The resource provider '{required}' is not registered."),
            ));
        }
    }
    Ok(())
}

fn azure_failed(what: &str, e: azure_clients::Error) -> Error {
    Error::Azure(format!("{what}: {e}"))
}

/// API versions of the reads (those of the Azure SDK packages the workspace pins).
const SKUS_API_VERSION: &str = "2021-07-01";
const COMPUTE_API_VERSION: &str = "2024-07-01";
const RESOURCES_API_VERSION: &str = "2021-04-01";

/// Run the create-time checks of a new cluster in `subscription` (ARO-RP's `ValidateNewCluster`
/// after static validation): `Ok` when Azure can take it, else ARO-RP's error. Without Azure
/// clients, skipped.
pub async fn validate_new_cluster(
    azure: Option<&AzureClients>,
    subscription: &str,
    demand: &Demand,
) -> Result<()> {
    let Some(azure) = azure else {
        tracing::info!(
            "create-time Azure checks (SKU, quota, provider registration) skipped: the frontend has no Azure configuration"
        );
        return Ok(());
    };
    // Through the JSON ARM client: it keeps the bearer token out of azure_core's DEBUG request
    // log (azure-clients/src/arm.rs), which the generated SDK clients would print.
    let arm = azure.arm();
    let list = |what: &'static str, path: String, api_version: &'static str| {
        let arm = arm.clone();
        async move {
            arm.list(&path, api_version)
                .await
                .map_err(|e| azure_failed(what, e))
        }
    };
    let location = &demand.location;
    let mut skus_url = arm
        .url(
            &format!("/subscriptions/{subscription}/providers/Microsoft.Compute/skus"),
            Some(SKUS_API_VERSION),
        )
        .map_err(|e| azure_failed("listing resource SKUs", e))?;
    skus_url
        .query_pairs_mut()
        .append_pair("$filter", &format!("location eq '{location}'"));
    let (skus, compute_usages, network_usages, providers) = futures::join!(
        list(
            "listing resource SKUs",
            skus_url.to_string(),
            SKUS_API_VERSION
        ),
        list(
            "listing compute usages",
            format!(
                "/subscriptions/{subscription}/providers/Microsoft.Compute/locations/{location}/usages"
            ),
            COMPUTE_API_VERSION,
        ),
        list(
            "listing network usages",
            format!(
                "/subscriptions/{subscription}/providers/Microsoft.Network/locations/{location}/usages"
            ),
            azure_clients::NETWORK_API_VERSION,
        ),
        list(
            "listing resource providers",
            format!("/subscriptions/{subscription}/providers"),
            RESOURCES_API_VERSION,
        ),
    );
    // ARO-RP's order, whichever read finished first.
    check_skus(demand, &skus?)?;
    let required = required_resources(demand)?;
    check_quota(&required, &compute_usages?)?;
    check_quota(&required, &network_usages?)?;
    check_providers(&providers?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn demand(master: &str, worker: &str, workers: i64, encryption: bool) -> Demand {
        Demand {
            location: "eastus".into(),
            machines: vec![
                Machines {
                    path: "properties.masterProfile".into(),
                    vm_size: master.into(),
                    count: 4,
                    encryption_at_host: encryption,
                },
                Machines {
                    path: "properties.workerProfiles[0]".into(),
                    vm_size: worker.into(),
                    count: workers,
                    encryption_at_host: false,
                },
            ],
        }
    }

    fn sku(name: &str, restrictions: Value, encryption: bool) -> Value {
        json!({
            "resourceType": "virtualMachines", "name": name, "locations": ["eastus"],
            "locationInfo": [{"location": "eastus", "zones": ["1", "2", "3"]}],
            "capabilities": [{"name": "EncryptionAtHostSupported", "value": if encryption { "True" } else { "False" }}],
            "restrictions": restrictions,
        })
    }

    fn code_and_target(r: Result<()>) -> (String, Option<String>, String) {
        match r {
            Err(Error::Arm { error, .. }) => (error.code, error.target, error.message),
            other => panic!("expected an ARM error, got {other:?}"),
        }
    }

    #[test]
    fn masters_count_four_with_bootstrap_and_workers_as_asked() {
        let mut spec = OpenShiftClusterSpec::default();
        spec.master_profile.vm_size = "Standard_D8s_v3".into();
        spec.worker_profiles.push(crds::management::WorkerProfile {
            vm_size: "Standard_D4s_v3".into(),
            count: 5,
            ..Default::default()
        });
        let d = Demand::of(&spec, "eastus");
        assert_eq!(d.machines[0].count, 4);
        assert_eq!(d.machines[1].path, "properties.workerProfiles[0]");
        let required = required_resources(&d).unwrap();
        assert_eq!(required["standardDSv3Family"], 4 * 8 + 5 * 4);
        assert_eq!(required["cores"], 52);
        assert_eq!(required["virtualMachines"], 9);
        assert_eq!(required["PublicIPAddresses"], 3);
    }

    #[test]
    fn skus_must_be_offered_unrestricted_and_capable() {
        let ok = [
            sku("Standard_D8s_v3", json!([]), true),
            sku("Standard_D4s_v3", json!([]), false),
        ];
        assert!(check_skus(&demand("Standard_D8s_v3", "Standard_D4s_v3", 3, true), &ok).is_ok());

        let (code, target, message) = code_and_target(check_skus(
            &demand("Standard_D16s_v3", "Standard_D4s_v3", 3, false),
            &ok,
        ));
        assert_eq!(code, "InvalidParameter");
        assert_eq!(target.as_deref(), Some("properties.masterProfile.VMSize"));
        assert_eq!(
            message,
            "The selected SKU 'Standard_D16s_v3' is unavailable in region 'eastus'"
        );

        let zone = json!([{"type": "Zone", "values": ["eastus"], "restrictionInfo": {"locations": ["eastus"], "zones": ["1"]}, "reasonCode": "NotAvailableForSubscription"}]);
        let restricted = [
            sku("Standard_D8s_v3", json!([]), true),
            sku("Standard_D4s_v3", zone, false),
        ];
        let (code, target, message) = code_and_target(check_skus(
            &demand("Standard_D8s_v3", "Standard_D4s_v3", 3, false),
            &restricted,
        ));
        assert_eq!(code, "InvalidParameter");
        assert_eq!(
            target.as_deref(),
            Some("properties.workerProfiles[0].VMSize")
        );
        assert!(
            message.contains("is restricted in region 'eastus'"),
            "{message}"
        );

        let no_encryption = [
            sku("Standard_D8s_v3", json!([]), false),
            sku("Standard_D4s_v3", json!([]), false),
        ];
        let (_, target, _) = code_and_target(check_skus(
            &demand("Standard_D8s_v3", "Standard_D4s_v3", 3, true),
            &no_encryption,
        ));
        assert_eq!(
            target.as_deref(),
            Some("properties.masterProfile.encryptionAtHost")
        );
    }

    #[test]
    fn quota_is_free_amount_against_need_in_azure_order() {
        let required =
            required_resources(&demand("Standard_D8s_v3", "Standard_D4s_v3", 3, false)).unwrap();
        let usage = |name: &str, current: i64, limit: i64| json!({"name": {"value": name}, "currentValue": current, "limit": limit});
        // 44 DSv3 cores needed: exactly enough is enough.
        assert!(
            check_quota(
                &required,
                &[usage("standardDSv3Family", 6, 50), usage("Unknown", 0, 0)]
            )
            .is_ok()
        );
        let (code, target, message) = code_and_target(check_quota(
            &required,
            &[
                usage("cores", 0, 1000),
                usage("standardDSv3Family", 7, 50),
                usage("PublicIPAddresses", 9, 10),
            ],
        ));
        assert_eq!((code.as_str(), target), ("ResourceQuotaExceeded", None));
        assert_eq!(
            message,
            "Resource quota of standardDSv3Family exceeded. Maximum allowed: 50, Current in use: 7, Additional requested: 44."
        );
        let (_, _, message) =
            code_and_target(check_quota(&required, &[usage("PublicIPAddresses", 8, 10)]));
        assert!(
            message.starts_with("Resource quota of PublicIPAddresses exceeded."),
            "{message}"
        );
        // A size ARO-RP does not know cannot be counted.
        let (code, _, _) = code_and_target(
            required_resources(&demand("Standard_X1", "Standard_D4s_v3", 3, false)).map(|_| ()),
        );
        assert_eq!(code, "InvalidParameter");
    }

    #[test]
    fn providers_must_be_registered() {
        let all: Vec<Value> = REQUIRED_PROVIDERS
            .iter()
            .map(|n| json!({"namespace": n, "registrationState": "Registered"}))
            .collect();
        assert!(check_providers(&all).is_ok());
        let mut storage_missing = all.clone();
        storage_missing[3]["registrationState"] = json!("NotRegistered");
        let (code, target, message) = code_and_target(check_providers(&storage_missing));
        assert_eq!(
            (code.as_str(), target),
            ("ResourceProviderNotRegistered", None)
        );
        assert_eq!(
            message,
            "The resource provider 'Microsoft.Storage' is not registered."
        );
        let (_, _, message) = code_and_target(check_providers(&all[1..]));
        assert!(message.contains("Microsoft.Authorization"), "{message}");
    }
}
