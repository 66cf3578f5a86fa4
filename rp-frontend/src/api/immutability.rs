//! Immutability on update: every field the caller's version shows must keep its stored value,
//! except the mutable ones. The comparison runs on the version's external view (without read-only
//! status fields), so the reported path is the caller's JSON path.

use crds::ArmErrorDetail;
use crds::management::OpenShiftClusterSpec;
use serde_json::Value;

use super::Features;
use super::convert::to_external;
use super::validate::codes;

/// Paths whose value may change on update (customer API).
const MUTABLE: &[&str] = &[
    "tags",
    "systemData",
    "properties.servicePrincipalProfile.clientId",
    "properties.servicePrincipalProfile.clientSecret",
    "properties.networkProfile.loadBalancerProfile.managedOutboundIps",
    "properties.platformWorkloadIdentityProfile.upgradeableTo",
    "identity.userAssignedIdentities",
];

/// Paths compared case-insensitively.
const CASE_INSENSITIVE: &[&str] = &[
    "id",
    "name",
    "type",
    "location",
    // Stored lowercased at creation (as ARO-RP's pkg/frontend PUT/PATCH handler).
    "properties.clusterProfile.resourceGroupId",
];

/// Compare the stored spec with the updated one as `f`'s version sees them; the first changed
/// immutable field gives `PropertyChangeNotAllowed`.
pub fn check(
    old: &OpenShiftClusterSpec,
    new: &OpenShiftClusterSpec,
    f: &Features,
) -> Option<ArmErrorDetail> {
    let old_v = serde_json::to_value(to_external(old, None, f)).unwrap_or(Value::Null);
    let new_v = serde_json::to_value(to_external(new, None, f)).unwrap_or(Value::Null);
    if let Some(path) = diff("", &old_v, &new_v) {
        return Some(change_not_allowed(&path));
    }
    // Platform workload identities may be added or re-pointed, but an existing operator's entry
    // may not be removed or renamed.
    if f.workload_identity {
        let old_names = old
            .platform_workload_identity_profile
            .as_ref()
            .map(|p| {
                p.platform_workload_identities
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let new_map = new
            .platform_workload_identity_profile
            .as_ref()
            .map(|p| p.platform_workload_identities.clone())
            .unwrap_or_default();
        for name in old_names {
            if !new_map.contains_key(&name) {
                return Some(change_not_allowed(&format!(
                    "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities.{name}"
                )));
            }
        }
    }
    None
}

/// `400 PropertyChangeNotAllowed` for `path`.
pub fn change_not_allowed(path: &str) -> ArmErrorDetail {
    ArmErrorDetail {
        code: codes::PROPERTY_CHANGE_NOT_ALLOWED.to_string(),
        message: format!("Changing property '{path}' is not allowed."),
        target: Some(path.to_string()),
    }
}

fn join(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

fn diff(path: &str, old: &Value, new: &Value) -> Option<String> {
    if MUTABLE.contains(&path)
        || path.starts_with("properties.platformWorkloadIdentityProfile.platformWorkloadIdentities")
    {
        return None;
    }
    if CASE_INSENSITIVE.contains(&path) {
        let same = match (old.as_str(), new.as_str()) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => old == new,
        };

        return (!same).then(|| path.to_string());
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = join(path, key);
                let av = a.get(key).unwrap_or(&Value::Null);
                let bv = b.get(key).unwrap_or(&Value::Null);
                if let Some(found) = diff(&child, av, bv) {
                    return Some(found);
                }
            }
            None
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| diff(&format!("{path}[{i}]"), x, y)),
        (a, b) if a == b => None,
        // A mutable child inside an object that appeared or vanished as a whole still counts.
        (Value::Object(a), Value::Null) | (Value::Null, Value::Object(a)) => {
            let empty = Value::Object(Default::default());
            let mut keys: Vec<&String> = a.keys().collect();
            keys.sort();
            keys.into_iter().find_map(|k| {
                let child = join(path, k);
                let v = a.get(k).unwrap_or(&Value::Null);
                if matches!(old, Value::Null) {
                    diff(&child, &Value::Null, v)
                } else {
                    diff(&child, v, &empty[k])
                }
            })
        }
        _ => Some(path.to_string()),
    }
}
