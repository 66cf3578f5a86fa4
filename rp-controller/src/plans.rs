//! The plans of the four lifecycle operations: which named steps run, in which order, and how long
//! each wait may take (ARO-RP's pkg/cluster install, update and delete steps, reduced to what this
//! RP does). Step names are recorded in status, so a released name must never change meaning.

use std::time::Duration;

use crds::management::MaintenanceTask;

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
            b(Step::action("validateResources")),
            b(Step::action("ensureInfraID")),
            b(Step::action("ensureSSHKey")),
            b(Step::action("ensureResourceGroup")),
            b(Step::action("ensureRoleAssignments")),
            b(Step::action("ensureNetworkSecurityGroup")),
            b(Step::action("ensureLoadBalancers")),
            b(Step::action("ensurePrivateLink")),
            b(Step::action("createAPIServerPrivateEndpoint")),
            b(Step::action("attachNSGs")),
            b(Step::action("createDNS")),
            b(Step::action("runInstaller")),
            b(Step::wait(
                "apiServersReady",
                30 * MINUTE,
                POLL,
                "ClusterAPIServerNotReady",
                "Timed out waiting for the cluster's Kubernetes API server to become ready.",
            )),
            b(Step::action("generateKubeconfigs")),
            b(Step::action("installAROOperator")),
            b(Step::wait(
                "aroDeploymentReady",
                20 * MINUTE,
                POLL,
                "ClusterOperatorNotReady",
                "Timed out waiting for the ARO operator to become ready.",
            )),
            r(Step::action("removeBootstrap")),
            r(Step::action("updateClusterData")),
            r(Step::action("finishInstallation")),
        ],
    }
}

/// Updating: re-validate, rotate credentials, reconcile the load balancer, refresh the operator.
pub fn update() -> Plan {
    Plan {
        operation: "Update",
        steps: vec![
            Step::action("validateResources"),
            Step::wait(
                "apiServersReady",
                30 * MINUTE,
                POLL,
                "ClusterAPIServerNotReady",
                "Timed out waiting for the cluster's Kubernetes API server to become ready.",
            ),
            Step::action("rotateCredentials"),
            Step::action("ensureRoleAssignments"),
            Step::action("reconcileLoadBalancerProfile"),
            Step::action("updateOperatorSecrets"),
            Step::action("updateClusterData"),
        ],
    }
}

/// AdminUpdating: the steps of a maintenance task.
pub fn admin_update(task: MaintenanceTask) -> Plan {
    let operator_update = [
        Step::action("installAROOperator"),
        Step::wait(
            "aroDeploymentReady",
            20 * MINUTE,
            POLL,
            "ClusterOperatorNotReady",
            "Timed out waiting for the ARO operator to become ready.",
        ),
        Step::action("syncClusterObject"),
    ];
    let steps: Vec<Step> = match task {
        MaintenanceTask::Everything => [
            Step::action("ensureResourceGroup"),
            Step::action("ensureNetworkSecurityGroup"),
            Step::action("attachNSGs"),
            Step::action("renewCertificates"),
        ]
        .into_iter()
        .chain(operator_update)
        .chain([Step::action("updateProvisionedBy")])
        .collect(),
        MaintenanceTask::OperatorUpdate => operator_update.into(),
        MaintenanceTask::CertificatesRenewal => vec![Step::action("renewCertificates")],
        MaintenanceTask::SyncClusterObject => vec![Step::action("syncClusterObject")],
        MaintenanceTask::MigrateLoadBalancer => vec![Step::action("ensureLoadBalancers")],
        // These only record a maintenance state; the frontend never starts an admin update for them.
        MaintenanceTask::Pending
        | MaintenanceTask::None
        | MaintenanceTask::CustomerActionNeeded => {
            vec![Step::action("updateMaintenanceState")]
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
            Step::action("removeDNS"),
            Step::action("removePrivateEndpoint"),
            Step::action("removeRoleAssignments"),
            Step::action("deleteClusterRuntime"),
            Step::action("detachNSGs"),
            Step::action("deleteResourceGroup"),
            Step::action("removeSecrets"),
            Step::action("releaseUniqueKeys"),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
            let names: BTreeSet<_> = plan.steps.iter().map(|s| s.name).collect();
            assert_eq!(
                names.len(),
                plan.steps.len(),
                "{} has duplicate step names",
                plan.operation
            );
        }
    }

    #[test]
    fn install_validates_first_and_phases_are_contiguous() {
        let plan = install();
        assert_eq!(plan.steps[0].name, "validateResources");
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
        let names: Vec<_> = admin_update(MaintenanceTask::OperatorUpdate)
            .steps
            .iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(
            names,
            vec![
                "installAROOperator",
                "aroDeploymentReady",
                "syncClusterObject"
            ]
        );
        let everything: Vec<_> = admin_update(MaintenanceTask::Everything)
            .steps
            .iter()
            .map(|s| s.name)
            .collect();
        assert!(
            everything.contains(&"renewCertificates") && everything.contains(&"syncClusterObject")
        );
    }
}
