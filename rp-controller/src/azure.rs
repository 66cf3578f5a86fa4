//! Idempotent Azure operations for lifecycle steps, on the generic ARM client of `azure_clients`.
//!
//! Every step re-reads before it writes (GET, then PUT only what is missing or failed), so a step
//! re-run after a crash converges instead of duplicating. A PUT or DELETE that ARM accepts as a
//! long-running operation is not waited for: its [`PendingOperation`] is serialised into
//! `status.progress.pendingOperationUrl` and the next reconcile polls it once.

use std::time::Duration;

use azure_clients::{
    ArmClient, CloudError, OperationState, PendingOperation, Precondition, Started,
};
use crds::ArmError;
use serde_json::Value;

use crate::steps::Outcome;

/// api-version of Microsoft.Network.
pub use azure_clients::NETWORK_API_VERSION as NETWORK_API;
/// api-version of Microsoft.Resources resource groups.
pub const RESOURCES_API: &str = "2021-04-01";
/// api-version of the Authorization permissions API.
pub const AUTHORIZATION_API: &str = "2022-04-01";
/// api-version of public DNS zones and record sets.
pub const DNS_API: &str = "2018-05-01";

/// ARM codes of failed operations that a retry can fix.
const RETRYABLE_OPERATION_CODES: &[&str] = &[
    "InternalServerError",
    "RetryableError",
    "OperationPreempted",
    "TooManyRequests",
    "ServiceUnavailable",
];

/// Poll interval used when an in-progress resource gives no hint.
const DEFAULT_POLL: Duration = Duration::from_secs(2);

/// The customer-facing error of an ARM error.
pub fn arm_error(e: &CloudError) -> ArmError {
    let mut error = ArmError::new(
        if e.code.is_empty() {
            "InternalServerError"
        } else {
            e.code.as_str()
        },
        if e.message.is_empty() {
            format!("Azure answered {}.", e.status)
        } else {
            e.message.clone()
        },
    );
    error.target = e.target.clone();
    error
}

/// The outcome a failed Azure call gives its step: retried when Azure says so, else terminal with
/// Azure's own code, message and target.
pub fn outcome_of(e: &azure_clients::Error) -> Outcome {
    if e.is_retryable() {
        let error = match e.cloud_error() {
            Some(c) => arm_error(c),
            None => ArmError::new("InternalServerError", e.to_string()),
        };
        return Outcome::Retryable {
            error,
            retry_after: e.retry_after(),
        };
    }
    match e {
        azure_clients::Error::Credential(message) => Outcome::Retryable {
            error: ArmError::new("InternalServerError", message.clone()),
            retry_after: None,
        },
        _ => match e.cloud_error() {
            Some(c) if RETRYABLE_OPERATION_CODES.contains(&c.code.as_str()) => Outcome::Retryable {
                error: arm_error(c),
                retry_after: e.retry_after(),
            },
            Some(c) => Outcome::Failed(arm_error(c)),
            None => Outcome::Failed(ArmError::new("InternalServerError", e.to_string())),
        },
    }
}

/// Serialise a pending operation for `status.progress.pendingOperationUrl`.
pub fn encode_pending(op: &PendingOperation) -> String {
    serde_json::to_string(op).unwrap_or_default()
}

/// The pending operation kept in progress, if any (and readable).
pub fn decode_pending(stored: Option<&str>) -> Option<PendingOperation> {
    serde_json::from_str(stored?).ok()
}

fn provisioning_state(resource: &Value) -> &str {
    resource["properties"]["provisioningState"]
        .as_str()
        .unwrap_or("Succeeded")
}

fn in_progress(poll_after: Duration, pending: Option<&PendingOperation>) -> Outcome {
    Outcome::InProgress {
        poll_after,
        pending_operation_url: pending.map(encode_pending),
    }
}

/// Result of a helper: `Ok(value)` to continue the step, `Err(outcome)` to end it now.
pub type StepResult<T> = Result<T, Outcome>;

/// Poll the step's stored operation once. `Ok(())` when there is none or it is over (a failed
/// operation that a retry can fix is treated as over: the caller re-reads and re-issues it).
pub async fn poll_pending(arm: &ArmClient, stored: Option<&str>) -> StepResult<()> {
    let Some(op) = decode_pending(stored) else {
        return Ok(());
    };
    match arm.poll(&op).await {
        Ok(OperationState::InProgress { retry_after }) => Err(in_progress(retry_after, None)),
        Ok(OperationState::Succeeded { .. }) => Ok(()),
        Ok(OperationState::Failed(e)) => {
            if RETRYABLE_OPERATION_CODES.contains(&e.code.as_str()) || e.code.is_empty() {
                Ok(())
            } else {
                Err(Outcome::Failed(arm_error(&e)))
            }
        }
        // An operation record the server forgot is over; re-read the resource.
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(outcome_of(&e)),
    }
}

/// GET a resource; `None` when absent.
pub async fn get(arm: &ArmClient, id: &str, api_version: &str) -> StepResult<Option<Value>> {
    arm.get(id, api_version).await.map_err(|e| outcome_of(&e))
}

/// Make sure a resource exists and is provisioned: PUT `body` only when it is absent or failed.
/// `Ok(resource)` once it is Succeeded.
pub async fn ensure_resource(
    arm: &ArmClient,
    id: &str,
    api_version: &str,
    body: &Value,
) -> StepResult<Value> {
    if let Some(existing) = get(arm, id, api_version).await? {
        match provisioning_state(&existing) {
            "Succeeded" => return Ok(existing),
            "Failed" | "Canceled" => {}
            _ => return Err(in_progress(DEFAULT_POLL, None)),
        }
    }
    put(arm, id, api_version, body).await
}

/// PUT a resource now (create or replace) and report it once provisioned.
pub async fn put(arm: &ArmClient, id: &str, api_version: &str, body: &Value) -> StepResult<Value> {
    match arm
        .put(id, api_version, body)
        .await
        .map_err(|e| outcome_of(&e))?
    {
        Started::Done { body, .. } => Ok(body.unwrap_or_default()),
        Started::Pending { operation, .. } => {
            Err(in_progress(operation.initial_delay(), Some(&operation)))
        }
    }
}

/// Make sure a resource is gone. `Ok(())` once it is.
pub async fn ensure_deleted(arm: &ArmClient, id: &str, api_version: &str) -> StepResult<()> {
    let Some(existing) = get(arm, id, api_version).await? else {
        return Ok(());
    };
    if provisioning_state(&existing) == "Deleting" {
        return Err(in_progress(DEFAULT_POLL, None));
    }
    match arm.delete(id, api_version).await {
        Ok(Started::Done { .. }) => Ok(()),
        Ok(Started::Pending { operation, .. }) => {
            Err(in_progress(operation.initial_delay(), Some(&operation)))
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(outcome_of(&e)),
    }
}

/// The condition that a resource is still the one read: its etag (`*` when it carries none).
pub fn unchanged(read: &Value) -> Precondition {
    Precondition::Etag(read["etag"].as_str().unwrap_or("*").to_string())
}

/// Delete a resource as it was read (`read`), under its etag: one replaced since then is not
/// deleted, and the step runs again to re-read it and decide anew. `Ok(())` once it is gone.
pub async fn delete_read(
    arm: &ArmClient,
    id: &str,
    api_version: &str,
    read: &Value,
) -> StepResult<()> {
    if provisioning_state(read) == "Deleting" {
        return Err(in_progress(DEFAULT_POLL, None));
    }
    match arm.delete_if(id, api_version, &unchanged(read)).await {
        Ok(Started::Done { .. }) => Ok(()),
        Ok(Started::Pending { operation, .. }) => {
            Err(in_progress(operation.initial_delay(), Some(&operation)))
        }
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) if e.is_precondition_failed() => Err(in_progress(CHANGED_POLL, None)),
        Err(e) => Err(outcome_of(&e)),
    }
}

/// Wait before re-reading a resource that changed under a conditional request.
pub const CHANGED_POLL: Duration = Duration::from_millis(200);

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(status: u16, code: &str) -> azure_clients::Error {
        azure_clients::Error::Cloud(CloudError {
            status,
            code: code.into(),
            message: "m".into(),
            target: Some("t".into()),
            details: Vec::new(),
            retry_after_secs: Some(3),
        })
    }

    #[test]
    fn throttling_and_server_errors_are_retried_with_retry_after() {
        for status in [429, 500, 503] {
            match outcome_of(&cloud(status, "X")) {
                Outcome::Retryable { retry_after, .. } => {
                    assert_eq!(retry_after, Some(Duration::from_secs(3)))
                }
                other => panic!("{status}: {other:?}"),
            }
        }
    }

    #[test]
    fn client_errors_keep_azure_code_message_and_target() {
        let Outcome::Failed(e) = outcome_of(&cloud(400, "InvalidParameter")) else {
            panic!("terminal expected")
        };
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.target.as_deref()),
            ("InvalidParameter", "m", Some("t"))
        );
    }

    #[test]
    fn pending_operations_round_trip_and_garbage_is_ignored() {
        let op = PendingOperation {
            method: "PUT".into(),
            resource_url: Some("http://x/r".into()),
            async_operation_url: Some("http://x/op".into()),
            location_url: None,
            retry_after_secs: Some(1),
        };
        assert_eq!(decode_pending(Some(&encode_pending(&op))), Some(op));
        assert_eq!(decode_pending(Some("https://not-json")), None);
        assert_eq!(decode_pending(None), None);
    }
}
