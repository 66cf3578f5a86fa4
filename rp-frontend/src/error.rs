//! The crate's error type and ARM CloudError responses.

use axum::http::StatusCode;
use crds::{ArmError, ArmErrorDetail};

/// Everything that can go wrong in the frontend.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A customer-facing ARM error with its HTTP status.
    #[error("{status} {}: {}", .error.code, .error.message)]
    Arm {
        /// HTTP status.
        status: StatusCode,
        /// The CloudError body.
        error: ArmError,
    },
    /// The management cluster failed.
    #[error("management cluster: {0}")]
    Kube(#[from] kube::Error),
    /// JSON (de)serialization of our own objects failed.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
    /// Listener or TLS setup failed.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// TLS configuration is invalid.
    #[error("tls: {0}")]
    Tls(String),
    /// A flag or configuration file is invalid.
    #[error("configuration: {0}")]
    Config(String),
    /// A cluster's own API (read for GET's live data) failed; never reaches a response.
    #[error("cluster API: {0}")]
    ClusterApi(String),
    /// Azure failed a create-time check's read; the customer sees a 500 without internals.
    #[error("azure: {0}")]
    Azure(String),
    /// Optimistic concurrency gave up after retries.
    #[error("too many conflicting writes")]
    Conflict,
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An ARM error with status, code and message.
    pub fn arm(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Error::Arm {
            status,
            error: ArmError::new(code, message),
        }
    }

    /// An ARM error with a target.
    pub fn arm_target(
        status: StatusCode,
        code: &str,
        target: &str,
        message: impl Into<String>,
    ) -> Self {
        Error::Arm {
            status,
            error: ArmError::new(code, message).with_target(target),
        }
    }

    /// 400 from a validation detail.
    pub fn bad_request(detail: ArmErrorDetail) -> Self {
        Error::Arm {
            status: StatusCode::BAD_REQUEST,
            error: ArmError {
                code: detail.code,
                message: detail.message,
                target: detail.target,
                details: Vec::new(),
            },
        }
    }

    /// The `Retry-After` (seconds) of the response: set when the management cluster could not
    /// be reached or did not answer in time, so that ARM and clients retry instead of failing.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Kube(e) if is_unavailable(e) => Some(RETRY_AFTER_SECS),
            _ => None,
        }
    }

    /// HTTP status and CloudError body of this error. Internal failures become a 500
    /// `InternalServerError` without internals (those are logged); an unreachable, timed-out or
    /// throttling management cluster a 503 `ServiceUnavailable` (with [`Error::retry_after`]).
    pub fn to_status_and_body(&self) -> (StatusCode, ArmError) {
        match self {
            // A 5xx is the RP's own failure: never with internals, whatever the message says.
            Error::Arm { status, error } if status.is_server_error() && error.is_internal() => {
                (*status, ArmError::internal())
            }
            Error::Arm { status, error } => (*status, error.clone()),
            Error::Kube(e) if is_unavailable(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                ArmError::new(
                    "ServiceUnavailable",
                    "The service is temporarily unavailable; retry the request later.",
                ),
            ),
            Error::Conflict => (
                StatusCode::CONFLICT,
                ArmError::new(
                    "Conflict",
                    "The resource is being changed by another request; retry the request.",
                ),
            ),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, ArmError::internal()),
        }
    }
}

pub use aro_common::kube_client::{is_conflict, is_not_found, is_unavailable};

/// `Retry-After` of a 503 for an unreachable or busy management cluster: long enough for a
/// restarting API server or a leader election, short enough that ARM's retries catch up soon.
pub const RETRY_AFTER_SECS: u64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn management_cluster_failures_answer_a_generic_internal_server_error() {
        let mut status = kube::core::Status::failure(
            "etcdserver: leader changed (10.1.2.3:2379)",
            "InternalError",
        );
        status.code = 500;
        let internal = [
            Error::Kube(kube::Error::Api(status.boxed())),
            Error::Json(serde_json::from_str::<serde_json::Value>("{secret").unwrap_err()),
            Error::Tls("bad key /etc/rp/key.pem".into()),
            Error::arm(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "No default OpenShift version is configured.",
            ),
        ];
        for e in internal {
            let (status, body) = e.to_status_and_body();
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{e}");
            assert_eq!(body, ArmError::internal(), "{e}");
        }
        // Customer errors keep their code, message and target.
        let customer = Error::arm_target(
            StatusCode::BAD_REQUEST,
            "InvalidLinkedVNet",
            "properties.masterProfile.subnetId",
            "The provided subnet is invalid.",
        );
        let (status, body) = customer.to_status_and_body();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body.code, "InvalidLinkedVNet");
        assert_eq!(
            body.target.as_deref(),
            Some("properties.masterProfile.subnetId")
        );
    }

    #[test]
    fn an_unreachable_or_busy_management_cluster_is_a_503_with_retry_after() {
        let status = |code| {
            let mut s = kube::core::Status::failure("etcdserver: request timed out", "Timeout");
            s.code = code;
            Error::Kube(kube::Error::Api(s.boxed()))
        };
        let unavailable = [
            status(429),
            status(503),
            status(504),
            Error::Kube(kube::Error::Service(
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "10.0.0.1:6443").into(),
            )),
            Error::Kube(kube::Error::ReadEvents(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "reset",
            ))),
        ];
        for e in unavailable {
            let (status, body) = e.to_status_and_body();
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{e}");
            assert_eq!(body.code, "ServiceUnavailable", "{e}");
            // No internals (addresses, etcd's words) in the body.
            assert!(!body.message.contains("10.0.0.1"), "{}", body.message);
            assert!(!body.message.contains("etcd"), "{}", body.message);
            assert_eq!(e.retry_after(), Some(RETRY_AFTER_SECS), "{e}");
        }
        assert_eq!(status(500).retry_after(), None);
        assert_eq!(Error::Conflict.retry_after(), None);
    }
}
