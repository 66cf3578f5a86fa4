//! machineset: the worker MachineSets (openshift-machine-api) keep at least two replicas in total.
//! When a MachineSet changes and the total is below two, that MachineSet is raised by the shortfall.
//! Nothing is done while any worker MachineSet is a custom one (its name lacks the infra id), as in
//! ARO-RP's pkg/operator/controllers.

use crds::operator::Cluster;
use kube::Client;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::apply::resource_version;
use crate::kinds::MACHINE_SET;
use crate::{FIELD_MANAGER, Result};

/// Name in conditions: `MachineSetController*`.
pub const NAME: &str = "MachineSet";
/// Flag gating the controller.
pub const FLAG_ENABLED: &str = "aro.machineset.enabled";
/// Namespace of the MachineSets.
pub const NAMESPACE: &str = "openshift-machine-api";
/// Supported minimum of worker replicas.
pub const MIN_WORKER_REPLICAS: i64 = 2;
/// Label giving a machine's role.
pub const ROLE_LABEL: &str = "machine.openshift.io/cluster-api-machine-role";

/// What the controller needs of a MachineSet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineSetReplicas {
    pub name: String,
    pub replicas: i64,
}

/// Whether a MachineSet (as JSON) is a worker one: role label `worker` on the MachineSet or, as the
/// installer also sets it, on its machine template.
pub fn is_worker(machineset: &Value) -> bool {
    let role = |labels: &Value| labels.get(ROLE_LABEL).and_then(Value::as_str) == Some("worker");
    role(&machineset["metadata"]["labels"])
        || role(&machineset["spec"]["template"]["metadata"]["labels"])
}

/// The replicas of a MachineSet (as JSON); an unset field counts as 0.
pub fn replicas_of(machineset: &Value) -> MachineSetReplicas {
    MachineSetReplicas {
        name: machineset["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        replicas: machineset["spec"]["replicas"].as_i64().unwrap_or(0),
    }
}

/// The new replica count of `changed` so that the worker MachineSets total at least
/// `MIN_WORKER_REPLICAS`, or `None` when nothing is to be done (enough replicas, or a custom
/// MachineSet whose name lacks the infra id).
pub fn desired_replicas(
    infra_id: &str,
    workers: &[MachineSetReplicas],
    changed: &MachineSetReplicas,
) -> Option<i64> {
    if workers.iter().any(|m| !m.name.contains(infra_id)) {
        return None;
    }
    let total: i64 = workers.iter().map(|m| m.replicas.max(0)).sum();
    if total >= MIN_WORKER_REPLICAS {
        return None;
    }
    Some(changed.replicas.max(0) + (MIN_WORKER_REPLICAS - total))
}

/// Reconcile a change of MachineSet `name`. Returns the replicas it set, if it scaled.
pub async fn reconcile(client: &Client, cluster: &Cluster, name: &str) -> Result<Option<i64>> {
    if !cluster.spec.flag_enabled(FLAG_ENABLED) {
        return Ok(None);
    }
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), NAMESPACE, &MACHINE_SET.api_resource());
    let Some(changed) = api.get_opt(name).await? else {
        return Ok(None);
    };
    let changed_json = serde_json::to_value(&changed)?;
    if !is_worker(&changed_json) {
        return Ok(None);
    }
    let workers: Vec<MachineSetReplicas> = api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?
        .iter()
        .filter(|m| is_worker(m))
        .map(replicas_of)
        .collect();
    let Some(replicas) = desired_replicas(
        &cluster.spec.infra_id,
        &workers,
        &replicas_of(&changed_json),
    ) else {
        return Ok(None);
    };
    let patch = json!({
        "metadata": {"resourceVersion": resource_version(&changed)?},
        "spec": {"replicas": replicas},
    });
    api.patch(
        name,
        &PatchParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        },
        &Patch::Merge(&patch),
    )
    .await?;
    tracing::info!(
        machineset = name,
        replicas,
        "fewer than {MIN_WORKER_REPLICAS} worker replicas: scaled up"
    );
    Ok(Some(replicas))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(name: &str, replicas: i64) -> MachineSetReplicas {
        MachineSetReplicas {
            name: name.into(),
            replicas,
        }
    }

    #[test]
    fn raises_the_changed_machineset_to_reach_two() {
        let sets = [
            ms("infra-worker-a1", 0),
            ms("infra-worker-a2", 0),
            ms("infra-worker-a3", 0),
        ];
        assert_eq!(desired_replicas("infra", &sets, &sets[1]), Some(2));
        let sets = [ms("infra-worker-a1", 1), ms("infra-worker-a2", 0)];
        assert_eq!(desired_replicas("infra", &sets, &sets[1]), Some(1));
        assert_eq!(desired_replicas("infra", &sets, &sets[0]), Some(2));
    }

    #[test]
    fn leaves_enough_replicas_alone() {
        let sets = [
            ms("infra-worker-a1", 1),
            ms("infra-worker-a2", 1),
            ms("infra-worker-a3", 0),
        ];
        assert_eq!(desired_replicas("infra", &sets, &sets[2]), None);
        let sets = [ms("infra-worker-a1", 5)];
        assert_eq!(desired_replicas("infra", &sets, &sets[0]), None);
    }

    #[test]
    fn custom_machinesets_stop_the_controller() {
        let sets = [ms("infra-worker-a1", 0), ms("my-gpu-workers", 0)];
        assert_eq!(desired_replicas("infra", &sets, &sets[0]), None);
    }

    #[test]
    fn negative_replicas_count_as_zero() {
        let sets = [ms("infra-worker-a1", -3)];
        assert_eq!(desired_replicas("infra", &sets, &sets[0]), Some(2));
    }

    #[test]
    fn worker_detection_reads_machineset_or_template_labels() {
        let on_set = json!({"metadata": {"labels": {ROLE_LABEL: "worker"}}});
        let on_template = json!({"metadata": {}, "spec": {"template": {"metadata": {"labels": {ROLE_LABEL: "worker"}}}}});
        let infra = json!({"metadata": {"labels": {ROLE_LABEL: "infra"}}});
        assert!(is_worker(&on_set));
        assert!(is_worker(&on_template));
        assert!(!is_worker(&infra));
        assert_eq!(
            replicas_of(&json!({"metadata": {"name": "x"}, "spec": {}})),
            ms("x", 0)
        );
    }
}
