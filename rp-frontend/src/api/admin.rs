//! The `admin` API version: the internal view of a cluster for SREs plus the admin-only writable
//! fields (maintenanceTask, operatorFlags with merge/reset, operatorVersion).

use std::collections::BTreeMap;

use crds::ArmErrorDetail;
use crds::management::{MaintenanceTask, OpenShiftCluster, OpenShiftClusterSpec};
use serde::{Deserialize, Serialize};

use super::validate::codes;

/// The admin PATCH body: only these fields are writable through `api-version=admin`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminUpdate {
    #[serde(default)]
    pub properties: AdminProperties,
    /// How `properties.operatorFlags` combine with the cluster's: `merge` (the default) or
    /// `reset`. At the top level of the body, where ARO-RP's pkg/api/admin reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_flags_merge_strategy: Option<String>,
}

/// Writable admin properties.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_task: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_flags: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_version: Option<String>,
}

const TASKS: &[(&str, MaintenanceTask)] = &[
    ("Everything", MaintenanceTask::Everything),
    ("OperatorUpdate", MaintenanceTask::OperatorUpdate),
    ("CertificatesRenewal", MaintenanceTask::CertificatesRenewal),
    ("SyncClusterObject", MaintenanceTask::SyncClusterObject),
    ("MigrateLoadBalancer", MaintenanceTask::MigrateLoadBalancer),
    ("Pending", MaintenanceTask::Pending),
    ("None", MaintenanceTask::None),
    (
        "CustomerActionNeeded",
        MaintenanceTask::CustomerActionNeeded,
    ),
];

/// Apply an admin PATCH onto the spec. An empty task means Everything (as ARO-RP's admin update).
pub fn apply(update: &AdminUpdate, spec: &mut OpenShiftClusterSpec) -> Result<(), ArmErrorDetail> {
    let p = &update.properties;
    spec.maintenance_task = match p.maintenance_task.as_deref() {
        None | Some("") => None,
        Some(task) => Some(
            TASKS
                .iter()
                .find(|(name, _)| *name == task)
                .map(|(_, t)| *t)
                .ok_or_else(|| ArmErrorDetail {
                    code: codes::INVALID_PARAMETER.into(),
                    message: format!("Invalid enum parameter: {task}"),
                    target: Some("properties.maintenanceTask".into()),
                })?,
        ),
    };
    match update.operator_flags_merge_strategy.as_deref() {
        None | Some("") | Some("merge") => {
            if let Some(flags) = &p.operator_flags {
                spec.operator_flags.extend(flags.clone());
            }
        }
        Some("reset") => {
            spec.operator_flags = crds::operator::default_operator_flags();
            if let Some(flags) = &p.operator_flags {
                spec.operator_flags.extend(flags.clone());
            }
        }
        Some(other) => {
            return Err(ArmErrorDetail {
                code: codes::INVALID_PARAMETER.into(),
                message: format!(
                    "invalid operatorFlagsMergeStrategy '{other}', can only be 'merge' or 'reset'"
                ),
                target: Some("operatorFlagsMergeStrategy".into()),
            });
        }
    }
    if let Some(version) = &p.operator_version {
        spec.operator_version = (!version.is_empty()).then(|| version.clone());
    }
    Ok(())
}

/// The admin view: the whole internal object (spec and status, never secrets: they are not in it).
pub fn render(cluster: &OpenShiftCluster) -> serde_json::Value {
    serde_json::json!({
        "id": cluster.spec.resource_id,
        "name": cluster.spec.name,
        "type": super::convert::RESOURCE_TYPE,
        "location": cluster.spec.location,
        "tags": cluster.spec.tags,
        "properties": {
            "spec": cluster.spec,
            "status": cluster.status,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn updated(body: serde_json::Value) -> Result<OpenShiftClusterSpec, ArmErrorDetail> {
        let mut spec = OpenShiftClusterSpec {
            operator_flags: crds::operator::default_operator_flags(),
            ..Default::default()
        };
        spec.operator_flags
            .insert("aro.routefix.enabled".into(), "false".into());
        apply(&serde_json::from_value(body).unwrap(), &mut spec).map(|()| spec)
    }

    #[test]
    fn the_merge_strategy_is_read_at_the_top_level_of_the_body() {
        let flags = json!({"aro.banner.enabled": "true"});
        // merge (the default): the given flags over the cluster's.
        let merged = updated(json!({"properties": {"operatorFlags": flags}})).unwrap();
        assert_eq!(merged.operator_flags["aro.routefix.enabled"], "false");
        assert_eq!(merged.operator_flags["aro.banner.enabled"], "true");
        // reset: the given flags over the defaults.
        let reset = updated(json!({
            "operatorFlagsMergeStrategy": "reset",
            "properties": {"operatorFlags": flags}
        }))
        .unwrap();
        assert_eq!(reset.operator_flags["aro.routefix.enabled"], "true");
        assert_eq!(reset.operator_flags["aro.banner.enabled"], "true");
        // Under properties it is not ARO's field: ignored, as ARO-RP ignores it.
        let ignored = updated(json!({
            "properties": {"operatorFlagsMergeStrategy": "reset", "operatorFlags": flags}
        }))
        .unwrap();
        assert_eq!(ignored.operator_flags["aro.routefix.enabled"], "false");
        let bad = updated(json!({"operatorFlagsMergeStrategy": "replace"})).unwrap_err();
        assert_eq!(bad.code, codes::INVALID_PARAMETER);
        assert_eq!(bad.target.as_deref(), Some("operatorFlagsMergeStrategy"));
    }
}
