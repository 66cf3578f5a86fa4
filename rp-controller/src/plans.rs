//! The plans of the four lifecycle operations: which named steps run, in which order, and how long
//! each wait may take (ARO-RP's pkg/cluster install, update and delete steps, reduced to what this
//! RP does). Steps are [`StepId`](crate::steps::StepId)s, whose names are recorded in status.
//! Aliases (another name for an action, kept from ARO-RP's plans) and no-ops are marked where they
//! are planned; why each exists is on its `StepId` variant.

use std::time::Duration;

use crds::management::MaintenanceTask;

use crate::steps::StepId::*;
use crate::steps::{Plan, Step};

const MINUTE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_secs(10);

/// Install phases, as recorded in `status.progress.phase`.
pub const PHASE_BOOTSTRAP: &str = "Bootstrap";
/// Second install phase.
pub const PHASE_REMOVE_BOOTSTRAP: &str = "RemoveBootstrap";

/// Creating: validate, build the Azure infrastructure, bring the cluster up, deploy the operator.
pub fn install() -> Plan {
    let b = |s: Step| s.in_phase(PHASE_BOOTSTRAP);
    let r = |s: Step| s.in_phase(PHASE_REMOVE_BOOTSTRAP);
    Plan {
        operation: "Install",
        steps: vec![
            b(Step::action(ValidateResources)),
            b(Step::action(EnsureInfraId)),
            b(Step::action(EnsureSshKey)),
            b(Step::action(EnsureResourceGroup)),
            b(Step::action(EnsureRoleAssignments)),
            b(Step::action(EnsureNetworkSecurityGroup)),
            b(Step::action(EnsureLoadBalancers)),
            b(Step::action(EnsurePrivateLink)),
            b(Step::action(CreateApiServerPrivateEndpoint)),
            b(Step::action(AttachNsgs)),
            b(Step::action(CreateDns)),
            b(Step::action(RunInstaller)),
            b(Step::wait(
                ApiServersReady,
                30 * MINUTE,
                POLL,
                "ClusterAPIServerNotReady",
                "Timed out waiting for the cluster's Kubernetes API server to become ready.",
            )),
            b(Step::action(GenerateKubeconfigs)),
            b(Step::action(InstallAroOperator)),
            b(Step::wait(
                AroDeploymentReady,
                20 * MINUTE,
                POLL,
                "ClusterOperatorNotReady",
                "Timed out waiting for the ARO operator to become ready.",
            )),
            r(Step::action(RemoveBootstrap)), // no-op: opens the RemoveBootstrap phase
            r(Step::action(UpdateClusterData)),
            r(Step::action(FinishInstallation)), // no-op: the ending clears the progress
        ],
    }
}

/// Updating: re-validate, rotate credentials (ARO-RP's `ensureCredentialsRequest`,
/// `updateOpenShiftSecret`, `aroCredentialsRequestReconciled`), reconcile the load balancer,
/// refresh the operator.
pub fn update() -> Plan {
    Plan {
        operation: "Update",
        steps: vec![
            Step::action(ValidateResources),
            Step::wait(
                ApiServersReady,
                30 * MINUTE,
                POLL,
                "ClusterAPIServerNotReady",
                "Timed out waiting for the cluster's Kubernetes API server to become ready.",
            ),
            Step::action(EnsureCredentialsRequest),
            Step::action(RotateCredentials),
            Step::wait(
                AroCredentialsRequestReconciled,
                3 * MINUTE,
                POLL,
                "InternalServerError",
                "Timed out waiting for the cloud-credential-operator to sync the ARO operator's credentials.",
            ),
            Step::action(EnsureRoleAssignments),
            Step::action(ReconcileLoadBalancerProfile), // alias of EnsureLoadBalancers
            Step::action(UpdateOperatorSecrets),        // alias of InstallAroOperator
            Step::action(UpdateClusterData),
        ],
    }
}

/// AdminUpdating: the steps of a maintenance task.
pub fn admin_update(task: MaintenanceTask) -> Plan {
    let operator_update = [
        Step::action(InstallAroOperator),
        Step::wait(
            AroDeploymentReady,
            20 * MINUTE,
            POLL,
            "ClusterOperatorNotReady",
            "Timed out waiting for the ARO operator to become ready.",
        ),
        Step::action(SyncClusterObject), // alias of InstallAroOperator
    ];
    let steps: Vec<Step> = match task {
        MaintenanceTask::Everything => [
            Step::action(EnsureResourceGroup),
            Step::action(EnsureNetworkSecurityGroup),
            Step::action(AttachNsgs),
            Step::action(RenewCertificates), // alias of GenerateKubeconfigs
        ]
        .into_iter()
        .chain(operator_update)
        .chain([Step::action(UpdateProvisionedBy)]) // alias of UpdateClusterData
        .collect(),
        MaintenanceTask::OperatorUpdate => operator_update.into(),
        MaintenanceTask::CertificatesRenewal => vec![Step::action(RenewCertificates)], // alias
        MaintenanceTask::SyncClusterObject => vec![Step::action(SyncClusterObject)],   // alias
        MaintenanceTask::MigrateLoadBalancer => vec![Step::action(EnsureLoadBalancers)],
        // These only record a maintenance state; the frontend never starts an admin update for them
        // (a no-op step: the ending records the state).
        MaintenanceTask::Pending
        | MaintenanceTask::None
        | MaintenanceTask::CustomerActionNeeded => {
            vec![Step::action(UpdateMaintenanceState)]
        }
    };
    Plan {
        operation: "AdminUpdate",
        steps,
    }
}

/// Deleting: remove what the RP created, tolerating anything already gone.
pub fn delete() -> Plan {
    Plan {
        operation: "Delete",
        steps: vec![
            Step::action(RemoveDns),
            Step::action(RemovePrivateEndpoint),
            Step::action(RemoveRoleAssignments),
            Step::action(DeleteClusterRuntime),
            Step::action(DetachNsgs),
            Step::action(DeleteResourceGroup),
            Step::action(RemoveSecrets),
            Step::action(ReleaseUniqueKeys),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::steps::StepId;
    use std::collections::BTreeSet;

    #[test]
    fn step_names_are_unique_within_each_plan() {
        let mut plans = vec![install(), update(), delete()];
        for task in [
            MaintenanceTask::Everything,
            MaintenanceTask::OperatorUpdate,
            MaintenanceTask::CertificatesRenewal,
            MaintenanceTask::SyncClusterObject,
            MaintenanceTask::MigrateLoadBalancer,
            MaintenanceTask::Pending,
        ] {
            plans.push(admin_update(task));
        }
        for plan in plans {
            assert!(!plan.steps.is_empty(), "{}", plan.operation);
            let ids: BTreeSet<_> = plan.steps.iter().map(|s| s.id).collect();
            assert_eq!(
                ids.len(),
                plan.steps.len(),
                "{} has duplicate step names",
                plan.operation
            );
        }
    }

    #[test]
    fn every_step_is_planned_somewhere() {
        let mut plans = vec![install(), update(), delete()];
        for task in [
            MaintenanceTask::Everything,
            MaintenanceTask::OperatorUpdate,
            MaintenanceTask::CertificatesRenewal,
            MaintenanceTask::SyncClusterObject,
            MaintenanceTask::MigrateLoadBalancer,
            MaintenanceTask::Pending,
            MaintenanceTask::None,
            MaintenanceTask::CustomerActionNeeded,
        ] {
            plans.push(admin_update(task));
        }
        let planned: BTreeSet<StepId> = plans
            .iter()
            .flat_map(|p| p.steps.iter().map(|s| s.id))
            .collect();
        let all: BTreeSet<StepId> = StepId::ALL.iter().copied().collect();
        assert_eq!(planned, all, "a step no plan runs is dead code");
    }

    #[test]
    fn install_validates_first_and_phases_are_contiguous() {
        let plan = install();
        assert_eq!(plan.steps[0].id, ValidateResources);
        let phases: Vec<_> = plan.steps.iter().map(|s| s.phase.unwrap()).collect();
        let switch = phases
            .iter()
            .position(|p| *p == PHASE_REMOVE_BOOTSTRAP)
            .unwrap();
        assert!(phases[..switch].iter().all(|p| *p == PHASE_BOOTSTRAP));
        assert!(
            phases[switch..]
                .iter()
                .all(|p| *p == PHASE_REMOVE_BOOTSTRAP)
        );
    }

    #[test]
    fn operator_update_deploys_waits_and_syncs() {
        let ids: Vec<_> = admin_update(MaintenanceTask::OperatorUpdate)
            .steps
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            ids,
            vec![InstallAroOperator, AroDeploymentReady, SyncClusterObject]
        );
        let everything: Vec<_> = admin_update(MaintenanceTask::Everything)
            .steps
            .iter()
            .map(|s| s.id)
            .collect();
        assert!(everything.contains(&RenewCertificates) && everything.contains(&SyncClusterObject));
    }
}
