//! How an operation ends (ARO-RP's pkg/backend): the cluster's new provisioning state and the
//! outcome written to its async operation record.
//!
//! * Creating / Updating: Succeeded, or Failed with failedProvisioningState = the operation.
//! * Deleting: the cluster object is removed, or Failed with failedProvisioningState Deleting.
//! * AdminUpdating: the terminal state from before the admin update is restored either way; a
//!   failure is kept in lastAdminUpdateError; success sets maintenanceState None; the requested
//!   maintenance task is cleared.
//!
//! Every ending clears asyncOperationId, lastProvisioningState and the lifecycle progress.

use chrono::{DateTime, Utc};
use crds::ArmError;
use crds::management::{
    AsyncOperationStatus, MaintenanceState, OpenShiftClusterStatus, ProvisioningState,
};

/// Result of ending an operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Ending {
    /// The cluster's status after the operation.
    pub status: OpenShiftClusterStatus,
    /// What the async operation record says.
    pub operation: AsyncOperationStatus,
    /// Whether the cluster object (and its Secrets) must now be removed.
    pub delete_cluster: bool,
    /// Whether `spec.maintenanceTask` must be cleared.
    pub clear_maintenance_task: bool,
}

/// The operation in progress succeeded.
pub fn succeed(status: &OpenShiftClusterStatus, now: DateTime<Utc>) -> Ending {
    let running = status
        .provisioning_state
        .unwrap_or(ProvisioningState::Creating);
    let mut next = cleared(status);
    let mut ending = Ending {
        status: OpenShiftClusterStatus::default(),
        operation: finished(ProvisioningState::Succeeded, None, now),
        delete_cluster: false,
        clear_maintenance_task: false,
    };
    match running {
        ProvisioningState::AdminUpdating => {
            next.provisioning_state = Some(restored_state(status));
            next.last_admin_update_error = None;
            next.maintenance_state = Some(MaintenanceState::None);
            ending.clear_maintenance_task = true;
        }
        ProvisioningState::Deleting => {
            ending.delete_cluster = true;
            ending.operation.resource_deleted = true;
            next.provisioning_state = Some(ProvisioningState::Deleting);
        }
        _ => {
            next.provisioning_state = Some(ProvisioningState::Succeeded);
            next.failed_provisioning_state = None;
            next.error = None;
            next.internal_error = None;
        }
    }
    ending.status = next;
    ending
}

/// The operation in progress failed. An internal error (management cluster, runtime or installer
/// output, the RP's own identity) reaches the customer as the generic `InternalServerError`; its
/// details stay in `status.internalError` (admin view) and the controller's log.
pub fn fail(status: &OpenShiftClusterStatus, error: ArmError, now: DateTime<Utc>) -> Ending {
    let running = status
        .provisioning_state
        .unwrap_or(ProvisioningState::Creating);
    let mut next = cleared(status);
    let detail = format!("{}: {}", error.code, error.message);
    let customer = error.for_customer();
    next.internal_error = error.is_internal().then(|| detail.clone());
    let mut clear_maintenance_task = false;
    match running {
        ProvisioningState::AdminUpdating => {
            next.provisioning_state = Some(restored_state(status));
            // Admin view only: the details, as for SREs.
            next.last_admin_update_error = Some(detail);
            clear_maintenance_task = true;
        }
        running => {
            next.provisioning_state = Some(ProvisioningState::Failed);
            next.failed_provisioning_state = Some(running);
            next.error = Some(customer.clone());
        }
    }
    Ending {
        status: next,
        operation: finished(ProvisioningState::Failed, Some(customer), now),
        delete_cluster: false,
        clear_maintenance_task,
    }
}

/// The terminal state an admin update returns to.
fn restored_state(status: &OpenShiftClusterStatus) -> ProvisioningState {
    status
        .last_provisioning_state
        .filter(|s| s.is_terminal())
        .unwrap_or(ProvisioningState::Succeeded)
}

fn cleared(status: &OpenShiftClusterStatus) -> OpenShiftClusterStatus {
    let mut next = status.clone();
    next.async_operation_id = None;
    next.last_provisioning_state = None;
    next.progress = None;
    next
}

fn finished(
    status: ProvisioningState,
    error: Option<ArmError>,
    now: DateTime<Utc>,
) -> AsyncOperationStatus {
    AsyncOperationStatus {
        status: Some(status),
        end_time: Some(now.to_rfc3339()),
        percent_complete: Some(100),
        error,
        resource_deleted: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProvisioningState::*;
    use crds::management::LifecycleProgress;
    use pretty_assertions::assert_eq;

    fn running(
        state: ProvisioningState,
        last: Option<ProvisioningState>,
    ) -> OpenShiftClusterStatus {
        OpenShiftClusterStatus {
            provisioning_state: Some(state),
            last_provisioning_state: last,
            async_operation_id: Some("op-1".into()),
            progress: Some(LifecycleProgress {
                operation: "X".into(),
                step: "s".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn error() -> ArmError {
        ArmError::new("InvalidLinkedVNet", "The vnet is gone.")
    }

    #[test]
    fn create_and_update_succeed_and_clear_the_operation() {
        for state in [Creating, Updating] {
            let ending = succeed(&running(state, Some(Succeeded)), now());
            assert_eq!(ending.status.provisioning_state, Some(Succeeded));
            assert_eq!(ending.status.async_operation_id, None);
            assert_eq!(ending.status.last_provisioning_state, None);
            assert_eq!(ending.status.progress, None);
            assert_eq!(ending.operation.status, Some(Succeeded));
            assert_eq!(
                ending.operation.end_time.as_deref(),
                Some("2026-11-22T10:00:00+00:00")
            );
            assert!(!ending.delete_cluster);
        }
    }

    #[test]
    fn a_later_success_clears_an_earlier_failure() {
        let mut status = running(Updating, Some(Failed));
        status.failed_provisioning_state = Some(Updating);
        status.error = Some(error());
        let ending = succeed(&status, now());
        assert_eq!(
            (ending.status.failed_provisioning_state, ending.status.error),
            (None, None)
        );
    }

    #[test]
    fn failures_record_the_failed_state_and_error() {
        for state in [Creating, Updating, Deleting] {
            let ending = fail(&running(state, None), error(), now());
            assert_eq!(ending.status.provisioning_state, Some(Failed));
            assert_eq!(ending.status.failed_provisioning_state, Some(state));
            assert_eq!(ending.status.error, Some(error()));
            assert_eq!(ending.operation.status, Some(Failed));
            assert_eq!(ending.operation.error, Some(error()));
            assert!(!ending.delete_cluster);
        }
    }

    #[test]
    fn internal_failures_reach_the_customer_as_a_generic_error_with_details_for_sres() {
        // What a failed management-cluster call gives a step after its last attempt.
        let mut status = kube::core::Status::failure(
            "etcdserver: request timed out on 10.1.2.3:2379",
            "InternalError",
        );
        status.code = 500;
        let outcome = crate::actions::kube_outcome(&kube::Error::Api(status.boxed()));
        let crate::steps::Outcome::Retryable {
            error: internal, ..
        } = outcome
        else {
            panic!("a kube error is retryable: {outcome:?}");
        };
        for state in [Creating, Updating, Deleting] {
            let ending = fail(&running(state, None), internal.clone(), now());
            assert_eq!(ending.status.error, Some(ArmError::internal()));
            assert_eq!(ending.operation.error, Some(ArmError::internal()));
            let detail = ending.status.internal_error.unwrap();
            assert!(detail.contains("etcdserver: request timed out"), "{detail}");
            let shown = serde_json::to_string(&ending.operation).unwrap();
            assert!(!shown.contains("10.1.2.3"), "{shown}");
        }
        // A customer-caused failure stays specific and leaves no internal detail.
        let ending = fail(&running(Creating, None), error(), now());
        assert_eq!(ending.operation.error, Some(error()));
        assert_eq!(ending.status.internal_error, None);
        // A later success clears the detail.
        let mut failed = running(Updating, Some(Failed));
        failed.internal_error = Some("x".into());
        assert_eq!(succeed(&failed, now()).status.internal_error, None);
    }

    #[test]
    fn delete_success_removes_the_cluster() {
        let ending = succeed(&running(Deleting, Some(Succeeded)), now());
        assert!(ending.delete_cluster);
        assert!(ending.operation.resource_deleted);
        assert_eq!(ending.operation.status, Some(Succeeded));
    }

    #[test]
    fn admin_update_restores_the_previous_terminal_state() {
        let mut status = running(AdminUpdating, Some(Failed));
        status.failed_provisioning_state = Some(Updating);
        status.maintenance_state = Some(MaintenanceState::Unplanned);
        let ending = succeed(&status, now());
        assert_eq!(ending.status.provisioning_state, Some(Failed));
        assert_eq!(
            ending.status.failed_provisioning_state,
            Some(Updating),
            "the earlier failure is kept"
        );
        assert_eq!(
            ending.status.maintenance_state,
            Some(MaintenanceState::None)
        );
        assert!(ending.clear_maintenance_task);

        let ending = fail(&running(AdminUpdating, Some(Succeeded)), error(), now());
        assert_eq!(ending.status.provisioning_state, Some(Succeeded));
        assert_eq!(
            ending.status.last_admin_update_error.as_deref(),
            Some("InvalidLinkedVNet: The vnet is gone.")
        );
        assert_eq!(
            ending.status.error, None,
            "an admin failure is not a customer-facing cluster failure"
        );
        assert_eq!(ending.operation.status, Some(Failed));
        assert!(ending.clear_maintenance_task);
    }

    #[test]
    fn admin_update_without_a_recorded_state_returns_to_succeeded() {
        let ending = succeed(&running(AdminUpdating, None), now());
        assert_eq!(ending.status.provisioning_state, Some(Succeeded));
    }
}
