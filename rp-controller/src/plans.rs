//! The plans of the four lifecycle operations: which named steps run, in which order, and how long
//! each wait may take (ARO-RP's pkg/cluster install, update and delete steps, reduced to what this
//! RP does). Steps are [`StepId`](crate::steps::StepId)s, whose names are recorded in status.
//! Aliases (another name for an action, kept from ARO-RP's plans) and no-ops are marked where they
//! are planned; why each exists is on its `StepId` variant.
//!
//! The plans depend on the cluster runtime: `rp_builds_network` is
//! [`ClusterRuntime::rp_builds_network`](crate::cluster_runtime::ClusterRuntime::rp_builds_network).
//! When it is false (openshift-install, directly or through Hive) the steps that build the
//! cluster's network in the cluster resource group and the RP's DNS records are not planned:
//! openshift-install refuses a resource group that is not empty, and creates the load balancers,
//! NSG and DNS records itself. Step names stay what they are either way, so stored progress parses.

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

/// Install steps that build the cluster's network before the cluster comes up: the RP's
/// pre-created infrastructure in the cluster resource group (and its private endpoint to it), and
/// the RP's DNS records pointing at it. With openshift-install the installer creates all of this:
/// given `baseDomainResourceGroupName` it writes the `api` and `*.apps` records into the zone
/// itself (and `destroy cluster` removes them), so the RP's createDNS would only collide with
/// the installer's records, and it would have no addresses to point them at before the install.
pub const RP_NETWORK_STEPS: [crate::steps::StepId; 6] = [
    EnsureNetworkSecurityGroup,
    EnsureLoadBalancers,
    EnsurePrivateLink,
    CreateApiServerPrivateEndpoint,
    AttachNsgs,
    CreateDns,
];

/// Creating: validate, build the Azure infrastructure (when the RP builds it), bring the cluster
/// up, deploy the operator.
pub fn install(rp_builds_network: bool) -> Plan {
    let b = |s: Step| s.in_phase(PHASE_BOOTSTRAP);
    let r = |s: Step| s.in_phase(PHASE_REMOVE_BOOTSTRAP);
    let network = RP_NETWORK_STEPS
        .into_iter()
        .filter(|_| rp_builds_network)
        .map(|id| b(Step::action(id)));
    Plan {
        operation: "Install",
        steps: [
            b(Step::action(ValidateResources)),
            b(Step::action(PlatformWorkloadIdentityIds)),
            b(Step::action(EnsureInfraId)),
            b(Step::action(EnsureSshKey)),
            b(Step::action(EnsureResourceGroup)),
            b(Step::action(CreateOidc)),
            b(Step::action(EnsureRoleAssignments)),
            b(Step::action(FederateIdentityCredentials)),
            b(Step::action(CreateOrUpdateDenyAssignment)),
        ]
        .into_iter()
        .chain(network)
        .chain([
            // A runtime that installs in the background (Hive) answers "in progress" until the
            // cluster is up: bounded like ARO-RP's hive install (60 minutes).
            b(Step::wait(
                RunInstaller,
                60 * MINUTE,
                POLL,
                "InternalServerError",
                "Timed out waiting for the cluster installation to complete.",
            )),
            b(Step::wait(
                ApiServersReady,
                30 * MINUTE,
                POLL,
                "ClusterAPIServerNotReady",
                "Timed out waiting for the cluster's Kubernetes API server to become ready.",
            )),
            b(Step::action(GenerateKubeconfigs)),
            b(Step::action(DeployPlatformWorkloadIdentitySecrets)),
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
        ])
        .collect(),
    }
}

/// Updating: re-validate, rotate credentials (ARO-RP's `ensureCredentialsRequest`,
/// `updateOpenShiftSecret`, `aroCredentialsRequestReconciled`), reconcile the load balancer (the
/// RP's, when it built it), refresh the operator.
pub fn update(rp_builds_network: bool) -> Plan {
    Plan {
        operation: "Update",
        steps: vec![
            Step::action(ValidateResources),
            Step::action(PlatformWorkloadIdentityIds),
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
            Step::action(FederateIdentityCredentials),
            Step::action(DeployPlatformWorkloadIdentitySecrets),
            Step::action(CreateOrUpdateDenyAssignment),
            Step::action(ReconcileLoadBalancerProfile), // alias of EnsureLoadBalancers
            Step::action(UpdateOperatorSecrets),        // alias of InstallAroOperator
            Step::action(UpdateClusterData),
        ]
        .into_iter()
        // The installer's load balancers are the cluster's own: the RP has none to reconcile.
        .filter(|s| rp_builds_network || s.id != ReconcileLoadBalancerProfile)
        .collect(),
    }
}

/// AdminUpdating: the steps of a maintenance task (without the RP's network steps when the RP
/// did not build the network).
pub fn admin_update(task: MaintenanceTask, rp_builds_network: bool) -> Plan {
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
        .filter(|s| rp_builds_network || !RP_NETWORK_STEPS.contains(&s.id))
        .chain(operator_update)
        .chain([Step::action(UpdateProvisionedBy)]) // alias of UpdateClusterData
        .collect(),
        MaintenanceTask::OperatorUpdate => operator_update.into(),
        MaintenanceTask::CertificatesRenewal => vec![Step::action(RenewCertificates)], // alias
        MaintenanceTask::SyncClusterObject => vec![Step::action(SyncClusterObject)],   // alias
        MaintenanceTask::MigrateLoadBalancer if rp_builds_network => {
            vec![Step::action(EnsureLoadBalancers)]
        }
        // The installer's load balancers are not the RP's to migrate: the task only records
        // the maintenance state (a no-op step, as below).
        MaintenanceTask::MigrateLoadBalancer => vec![Step::action(UpdateMaintenanceState)],
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
            Step::action(DeleteFederatedCredentials),
            Step::action(DeleteOidc),
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
        for plan in [true, false].into_iter().flat_map(all_plans) {
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
        let planned: BTreeSet<StepId> = all_plans(true)
            .iter()
            .flat_map(|p| p.steps.iter().map(|s| s.id))
            .collect();
        let all: BTreeSet<StepId> = StepId::ALL.iter().copied().collect();
        assert_eq!(planned, all, "a step no plan runs is dead code");
    }

    /// Every plan, for a runtime that does or does not have the RP build the network.
    fn all_plans(rp_builds_network: bool) -> Vec<Plan> {
        let mut plans = vec![
            install(rp_builds_network),
            update(rp_builds_network),
            delete(),
        ];
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
            plans.push(admin_update(task, rp_builds_network));
        }
        plans
    }

    fn ids(plan: &Plan) -> Vec<StepId> {
        plan.steps.iter().map(|s| s.id).collect()
    }

    #[test]
    fn a_background_install_is_waited_for_an_hour_at_most() {
        for rp_builds_network in [true, false] {
            let plan = install(rp_builds_network);
            let step = plan.steps.iter().find(|s| s.id == RunInstaller).unwrap();
            assert!(
                matches!(step.kind, crate::steps::StepKind::Wait { timeout, .. } if timeout == 60 * MINUTE),
                "{step:?}"
            );
        }
    }

    #[test]
    fn the_rp_builds_the_network_only_for_runtimes_that_need_it() {
        // Local runtime: the RP's network and DNS steps run before the cluster comes up.
        let local = ids(&install(true));
        let run = local.iter().position(|s| *s == RunInstaller).unwrap();
        for step in RP_NETWORK_STEPS {
            let at = local.iter().position(|s| *s == step);
            assert!(at.is_some_and(|at| at < run), "{step} before runInstaller");
        }
        // openshift-install: none of them, anywhere; the rest of the plan is the same, in order.
        let installer = ids(&install(false));
        let expected: Vec<StepId> = local
            .iter()
            .copied()
            .filter(|s| !RP_NETWORK_STEPS.contains(s))
            .collect();
        assert_eq!(installer, expected);
        for plan in all_plans(false) {
            let ids = ids(&plan);
            for step in RP_NETWORK_STEPS
                .into_iter()
                .chain([ReconcileLoadBalancerProfile])
            {
                assert!(!ids.contains(&step), "{} plans {step}", plan.operation);
            }
            assert!(!plan.steps.is_empty(), "{}", plan.operation);
        }
        assert!(ids(&update(true)).contains(&ReconcileLoadBalancerProfile));
        assert_eq!(
            ids(&admin_update(MaintenanceTask::MigrateLoadBalancer, false)),
            vec![UpdateMaintenanceState]
        );
    }

    #[test]
    fn install_validates_first_and_phases_are_contiguous() {
        for plan in [install(true), install(false)] {
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
    }

    #[test]
    fn operator_update_deploys_waits_and_syncs() {
        let ids: Vec<_> = admin_update(MaintenanceTask::OperatorUpdate, true)
            .steps
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            ids,
            vec![InstallAroOperator, AroDeploymentReady, SyncClusterObject]
        );
        let everything: Vec<_> = admin_update(MaintenanceTask::Everything, true)
            .steps
            .iter()
            .map(|s| s.id)
            .collect();
        assert!(everything.contains(&RenewCertificates) && everything.contains(&SyncClusterObject));
    }
}
