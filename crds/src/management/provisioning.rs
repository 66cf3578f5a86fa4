//! The provisioning state machine of a cluster (ARM's `provisioningState`), both halves side by
//! side: which request may start which operation from which state and what its claim writes (the
//! start rules, applied by rp-frontend as ARO-RP's pkg/frontend does), and how an operation ends
//! (the end rules, applied by rp-controller as ARO-RP's pkg/backend does). Pure functions of the
//! stored status; the writes that apply them are the callers'.
//!
//! Start ([`admit`], [`started_state`], [`admin_update_state`], [`claimed_status`]):
//! * Only a cluster in a terminal state (Succeeded, Failed, Canceled) accepts a write; its
//!   effective state counts a claim whose status is unwritten
//!   ([`super::protocol::effective_state`]).
//! * PUT of a new cluster starts Creating; PUT or PATCH of an existing one Updating, refused after
//!   a failed create or delete (only a delete helps then); DELETE (and the deletion of the
//!   subscription) Deleting.
//! * An admin update is admitted as an update; it starts AdminUpdating when its maintenance task
//!   runs work, else it only records the maintenance state and the state stays.
//! * listCredentials and listAdminCredentials are refused while the cluster is created or deleted,
//!   and after either failed ([`credentials_readable`]).
//! * The claim's status: the operation's state and id, the terminal state it leaves (an admin
//!   update returns to it), an earlier failure cleared, and for a create when and by whom.
//!
//! End ([`succeed`], [`fail`]):
//! * Creating / Updating: Succeeded, or Failed with failedProvisioningState = the operation.
//! * Deleting: the cluster object is removed, or Failed with failedProvisioningState Deleting.
//! * AdminUpdating: the terminal state from before the admin update is restored either way; a
//!   failure is kept in lastAdminUpdateError; success sets maintenanceState None; the requested
//!   maintenance task is cleared.
//!
//! Every ending clears asyncOperationId, lastProvisioningState and the lifecycle progress.

use chrono::{DateTime, Utc};

use super::openshiftcluster::{
    MaintenanceState, MaintenanceTask, OpenShiftCluster, OpenShiftClusterStatus, ProvisioningState,
};
use super::{AsyncOperationStatus, protocol};
use crate::ArmError;

/// A request that starts an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// PUT of a cluster that does not exist.
    Create,
    /// PUT or PATCH of an existing cluster.
    Update,
    /// PATCH with `api-version=admin`.
    AdminUpdate,
    /// DELETE, or the deletion of the cluster's subscription.
    Delete,
}

/// Why a request is refused (ARM code [`Refusal::CODE`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not allowed in the cluster's provisioning state.
    InState(ProvisioningState),
    /// The cluster's creation or deletion failed (in that state): only a delete is allowed.
    CreationOrDeletionFailed(ProvisioningState),
}

impl Refusal {
    /// The ARM error code of every refusal.
    pub const CODE: &'static str = "RequestNotAllowed";
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InState(state) => {
                write!(f, "Request is not allowed in provisioningState '{state}'.")
            }
            Self::CreationOrDeletionFailed(failed_in) => write!(
                f,
                "Request is not allowed on cluster whose creation or deletion failed. Delete the cluster (failed in provisioningState '{failed_in}')."
            ),
        }
    }
}

/// The facts of a stored cluster the start rules look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Standing {
    /// The effective provisioning state ([`protocol::effective_state`]).
    pub state: ProvisioningState,
    /// The state an operation failed in, if the last one failed.
    pub failed_in: Option<ProvisioningState>,
}

impl Standing {
    /// The standing of a stored cluster.
    pub fn of(cluster: &OpenShiftCluster) -> Self {
        Self {
            state: protocol::effective_state(cluster),
            failed_in: cluster
                .status
                .as_ref()
                .and_then(|s| s.failed_provisioning_state),
        }
    }

    fn failed_creating_or_deleting(self) -> Option<ProvisioningState> {
        (self.state == ProvisioningState::Failed)
            .then_some(self.failed_in)
            .flatten()
            .filter(|s| matches!(s, ProvisioningState::Creating | ProvisioningState::Deleting))
    }
}

/// Whether `request` may start its operation on a cluster that stands so (a create has no stored
/// cluster and is always admitted).
pub fn admit(request: Request, standing: Standing) -> Result<(), Refusal> {
    match request {
        Request::Create => Ok(()),
        _ if !standing.state.is_terminal() => Err(Refusal::InState(standing.state)),
        Request::Update | Request::AdminUpdate => match standing.failed_creating_or_deleting() {
            Some(failed_in) => Err(Refusal::CreationOrDeletionFailed(failed_in)),
            None => Ok(()),
        },
        Request::Delete => Ok(()),
    }
}

/// The provisioning state `request` starts. An admin update starts it only when its task runs
/// work: see [`admin_update_state`].
pub fn started_state(request: Request) -> ProvisioningState {
    match request {
        Request::Create => ProvisioningState::Creating,
        Request::Update => ProvisioningState::Updating,
        Request::AdminUpdate => ProvisioningState::AdminUpdating,
        Request::Delete => ProvisioningState::Deleting,
    }
}

/// The provisioning state an admin update with maintenance task `task` claims: AdminUpdating when
/// the task runs work, else `current` (the update only records a maintenance state).
pub fn admin_update_state(task: MaintenanceTask, current: ProvisioningState) -> ProvisioningState {
    if task.runs_work() {
        started_state(Request::AdminUpdate)
    } else {
        current
    }
}

/// Whether listCredentials and listAdminCredentials may read the cluster's credentials: not
/// while it is created or deleted, nor after either failed.
pub fn credentials_readable(standing: Standing) -> Result<(), Refusal> {
    let busy = matches!(
        standing.state,
        ProvisioningState::Creating | ProvisioningState::Deleting
    );
    if busy || standing.failed_creating_or_deleting().is_some() {
        return Err(Refusal::InState(standing.state));
    }
    Ok(())
}

/// The status the completion of a claim writes when operation `operation_id` starts `state`
/// (`now` and `rp_version` record a create). Whoever completes the claim writes the same: the
/// frontend that made it, the next write request, or the controller for a writer that died.
pub fn claimed_status(
    status: &OpenShiftClusterStatus,
    state: ProvisioningState,
    operation_id: &str,
    now: DateTime<Utc>,
    rp_version: &str,
) -> OpenShiftClusterStatus {
    let mut next = status.clone();
    // The terminal state an admin update returns to.
    if let Some(old) = next.provisioning_state.filter(|s| s.is_terminal()) {
        next.last_provisioning_state = Some(old);
    }
    next.provisioning_state = Some(state);
    next.async_operation_id = Some(operation_id.to_string());
    next.failed_provisioning_state = None;
    // The progress of an earlier operation never resumes in this one.
    next.progress = None;
    // An admin update does not change the customer's view of the cluster, but signals ongoing
    // maintenance: planned when it was announced (Pending), else unplanned (ARO-RP's
    // pkg/frontend adminUpdateProvisioningState).
    if state == ProvisioningState::AdminUpdating {
        next.maintenance_state = Some(match status.maintenance_state {
            Some(MaintenanceState::Pending) => MaintenanceState::Planned,
            _ => MaintenanceState::Unplanned,
        });
    } else {
        next.error = None;
    }
    if state == ProvisioningState::Creating {
        next.created_at.get_or_insert_with(|| now.to_rfc3339());
        next.created_by
            .get_or_insert_with(|| rp_version.to_string());
    }
    next
}

/// The maintenance state an admin update with a signal-only task records (ARO-RP's `Pending`,
/// `None` and `CustomerActionNeeded` tasks); `None` for a task that runs work (its claim signals
/// Planned or Unplanned, see [`claimed_status`], and its success None).
pub fn maintenance_signal(task: MaintenanceTask) -> Option<MaintenanceState> {
    match task {
        MaintenanceTask::Pending => Some(MaintenanceState::Pending),
        MaintenanceTask::None => Some(MaintenanceState::None),
        MaintenanceTask::CustomerActionNeeded => Some(MaintenanceState::CustomerActionNeeded),
        _ => None,
    }
}

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
    use crate::management::LifecycleProgress;
    use ProvisioningState::*;
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
        // What a failed management-cluster call gives a step after its last attempt (rp-controller's
        // transitions tests check that its steps give exactly such an error).
        let internal = ArmError::new(
            "InternalServerError",
            "The management cluster answered: etcdserver: request timed out on 10.1.2.3:2379",
        );
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
    fn maintenance_state_follows_signals_and_admin_updates() {
        use MaintenanceState as M;
        // Signal-only tasks record their state; tasks that run work signal when claimed.
        assert_eq!(
            maintenance_signal(MaintenanceTask::Pending),
            Some(M::Pending)
        );
        assert_eq!(maintenance_signal(MaintenanceTask::None), Some(M::None));
        assert_eq!(
            maintenance_signal(MaintenanceTask::CustomerActionNeeded),
            Some(M::CustomerActionNeeded)
        );
        assert_eq!(maintenance_signal(MaintenanceTask::Everything), None);
        // An announced (Pending) maintenance runs as Planned, any other as Unplanned.
        let mut status = running(Succeeded, None);
        status.maintenance_state = Some(M::Pending);
        let claimed = claimed_status(&status, AdminUpdating, "op-2", now(), "v");
        assert_eq!(claimed.maintenance_state, Some(M::Planned));
        for before in [None, Some(M::None), Some(M::CustomerActionNeeded)] {
            status.maintenance_state = before;
            let claimed = claimed_status(&status, AdminUpdating, "op-2", now(), "v");
            assert_eq!(claimed.maintenance_state, Some(M::Unplanned), "{before:?}");
        }
        // A customer update leaves the signal alone.
        status.maintenance_state = Some(M::Pending);
        let claimed = claimed_status(&status, Updating, "op-3", now(), "v");
        assert_eq!(claimed.maintenance_state, Some(M::Pending));
        // The admin update's end: None on success; still ongoing on failure (as ARO-RP).
        let mut ongoing = running(AdminUpdating, Some(Succeeded));
        ongoing.maintenance_state = Some(M::Planned);
        assert_eq!(
            succeed(&ongoing, now()).status.maintenance_state,
            Some(M::None)
        );
        assert_eq!(
            fail(&ongoing, error(), now()).status.maintenance_state,
            Some(M::Planned)
        );
    }

    #[test]
    fn admin_update_without_a_recorded_state_returns_to_succeeded() {
        let ending = succeed(&running(AdminUpdating, None), now());
        assert_eq!(ending.status.provisioning_state, Some(Succeeded));
    }

    fn standing(state: ProvisioningState, failed_in: Option<ProvisioningState>) -> Standing {
        Standing { state, failed_in }
    }

    #[test]
    fn writes_start_only_from_a_terminal_state() {
        for request in [Request::Update, Request::AdminUpdate, Request::Delete] {
            for busy in [Creating, Updating, AdminUpdating, Deleting] {
                assert_eq!(
                    admit(request, standing(busy, None)),
                    Err(Refusal::InState(busy)),
                    "{request:?} in {busy:?}"
                );
            }
            for done in [Succeeded, Failed, Canceled] {
                assert_eq!(admit(request, standing(done, None)), Ok(()));
            }
        }
        assert_eq!(admit(Request::Create, standing(Creating, None)), Ok(()));
        assert_eq!(
            Refusal::InState(Deleting).to_string(),
            "Request is not allowed in provisioningState 'Deleting'."
        );
    }

    #[test]
    fn after_a_failed_create_or_delete_only_a_delete_is_allowed() {
        for failed_in in [Creating, Deleting] {
            let failed = standing(Failed, Some(failed_in));
            for request in [Request::Update, Request::AdminUpdate] {
                assert_eq!(
                    admit(request, failed),
                    Err(Refusal::CreationOrDeletionFailed(failed_in))
                );
            }
            assert_eq!(admit(Request::Delete, failed), Ok(()));
        }
        assert_eq!(
            admit(Request::Update, standing(Failed, Some(Updating))),
            Ok(())
        );
        // The failure counts only while the cluster is still Failed.
        assert_eq!(
            admit(Request::Update, standing(Succeeded, Some(Creating))),
            Ok(())
        );
        assert_eq!(
            Refusal::CreationOrDeletionFailed(Creating).to_string(),
            "Request is not allowed on cluster whose creation or deletion failed. Delete the cluster (failed in provisioningState 'Creating')."
        );
    }

    #[test]
    fn each_request_starts_its_operation() {
        assert_eq!(started_state(Request::Create), Creating);
        assert_eq!(started_state(Request::Update), Updating);
        assert_eq!(started_state(Request::AdminUpdate), AdminUpdating);
        assert_eq!(started_state(Request::Delete), Deleting);
        assert_eq!(
            admin_update_state(MaintenanceTask::CertificatesRenewal, Failed),
            AdminUpdating
        );
        // A task that only records a maintenance state keeps the state.
        assert_eq!(admin_update_state(MaintenanceTask::Pending, Failed), Failed);
    }

    #[test]
    fn credentials_are_not_read_around_a_create_or_delete() {
        for state in [Creating, Deleting] {
            assert_eq!(
                credentials_readable(standing(state, None)),
                Err(Refusal::InState(state))
            );
            assert_eq!(
                credentials_readable(standing(Failed, Some(state))),
                Err(Refusal::InState(Failed))
            );
        }
        for state in [Updating, AdminUpdating, Succeeded, Canceled] {
            assert_eq!(credentials_readable(standing(state, None)), Ok(()));
        }
        assert_eq!(
            credentials_readable(standing(Failed, Some(Updating))),
            Ok(())
        );
    }

    #[test]
    fn a_claim_writes_the_operation_and_keeps_the_state_it_leaves() {
        let mut status = running(Failed, None);
        status.async_operation_id = None;
        status.failed_provisioning_state = Some(Updating);
        status.error = Some(error());
        let claimed = claimed_status(&status, Updating, "op-2", now(), "v1");
        assert_eq!(claimed.provisioning_state, Some(Updating));
        assert_eq!(claimed.async_operation_id.as_deref(), Some("op-2"));
        assert_eq!(claimed.last_provisioning_state, Some(Failed));
        assert_eq!(
            (claimed.failed_provisioning_state, claimed.error),
            (None, None)
        );
        assert_eq!(claimed.progress, None);
        assert_eq!((claimed.created_at, claimed.created_by), (None, None));

        // An admin update keeps the customer's error, for the state it returns to.
        let claimed = claimed_status(&status, AdminUpdating, "op-3", now(), "v1");
        assert_eq!(claimed.error, Some(error()));
        assert_eq!(claimed.last_provisioning_state, Some(Failed));

        // A non-terminal state is not one to return to.
        let busy = running(Updating, Some(Succeeded));
        let claimed = claimed_status(&busy, AdminUpdating, "op-4", now(), "v1");
        assert_eq!(claimed.last_provisioning_state, Some(Succeeded));
    }

    #[test]
    fn a_create_records_when_and_by_whom_once() {
        let claimed = claimed_status(
            &OpenShiftClusterStatus::default(),
            Creating,
            "op-1",
            now(),
            "v1",
        );
        assert_eq!(
            claimed.created_at.as_deref(),
            Some("2026-11-22T10:00:00+00:00")
        );
        assert_eq!(claimed.created_by.as_deref(), Some("v1"));
        let again = claimed_status(
            &claimed,
            Creating,
            "op-2",
            now() + chrono::TimeDelta::hours(1),
            "v2",
        );
        assert_eq!(again.created_at, claimed.created_at);
        assert_eq!(again.created_by, claimed.created_by);
    }
}
