//! Errors of the Azure client layer, classified as retryable or terminal, with ARM's code,
//! message and target kept for the customer-facing error.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An ARM error answer (`{"error":{"code","message","target","details"}}`) with its HTTP status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudError {
    /// HTTP status of the answer (0 when the error came from an operation status body).
    pub status: u16,
    /// PascalCase ARM error code.
    pub code: String,
    /// Message for humans.
    pub message: String,
    /// Offending element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Nested errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<CloudError>,
    /// `Retry-After` the server sent, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

#[derive(Deserialize)]
struct Envelope {
    error: Option<Inner>,
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    target: Option<String>,
    #[serde(default)]
    details: Vec<Inner>,
}

impl Inner {
    fn into_cloud(self, status: u16) -> CloudError {
        CloudError {
            status,
            code: self.code,
            message: self.message,
            target: self.target,
            details: self
                .details
                .into_iter()
                .map(|d| d.into_cloud(status))
                .collect(),
            retry_after_secs: None,
        }
    }
}

impl CloudError {
    /// Parses an error body; anything unparsable keeps the status and the raw text.
    pub fn from_body(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<Envelope>(body) {
            Ok(Envelope {
                error: Some(inner), ..
            }) => inner.into_cloud(status),
            Ok(Envelope {
                code: Some(code),
                message,
                ..
            }) => CloudError {
                status,
                code,
                message: message.unwrap_or_default(),
                ..Default::default()
            },
            _ => CloudError {
                status,
                code: default_code(status).into(),
                message: String::from_utf8_lossy(body).chars().take(512).collect(),
                ..Default::default()
            },
        }
    }

    /// Parses the `error` member of an operation status body.
    pub fn from_value(status: u16, error: &serde_json::Value) -> Self {
        serde_json::from_value::<Inner>(error.clone())
            .map(|i| i.into_cloud(status))
            .unwrap_or_else(|_| CloudError {
                status,
                code: "OperationFailed".into(),
                message: error.to_string(),
                ..Default::default()
            })
    }
}

impl std::fmt::Display for CloudError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)?;
        if let Some(t) = &self.target {
            write!(f, " (target {t})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CloudError {}

fn default_code(status: u16) -> &'static str {
    match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        _ => "InternalServerError",
    }
}

/// ARM codes that mean "try again later" even on a 4xx.
const RETRYABLE_CODES: &[&str] = &[
    "AnotherOperationInProgress",
    "RetryableError",
    "OperationPreempted",
];

/// Failures of the Azure client layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required setting is missing.
    #[error("missing Azure setting: {0}")]
    MissingConfig(&'static str),
    /// A setting is malformed.
    #[error("invalid Azure setting: {0}")]
    InvalidConfig(String),
    /// The federated token file cannot be read.
    #[error("cannot read federated token file {path}: {source}")]
    FederatedToken {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// ARM answered with an error.
    #[error("Azure answered {0}")]
    Cloud(CloudError),
    /// A long-running operation ended Failed or Canceled.
    #[error("Azure operation ended unsuccessfully: {0}")]
    OperationFailed(CloudError),
    /// No token could be obtained.
    #[error("Azure credential error: {0}")]
    Credential(String),
    /// The request never got an answer (connection, timeout).
    #[error("Azure transport error: {0}")]
    Transport(String),
    /// An answer could not be understood.
    #[error("unexpected Azure answer: {0}")]
    Unexpected(String),
}

impl Error {
    /// Whether trying the same call again later can succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Cloud(e) => {
                matches!(e.status, 408 | 429 | 500 | 502 | 503 | 504)
                    || RETRYABLE_CODES.contains(&e.code.as_str())
            }
            Error::Transport(_) => true,
            _ => false,
        }
    }

    /// How long the server asked to wait before trying again.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Cloud(e) => e.retry_after_secs.map(Duration::from_secs),
            _ => None,
        }
    }

    /// The ARM error (code, message, target) to surface to the customer, if ARM sent one.
    pub fn cloud_error(&self) -> Option<&CloudError> {
        match self {
            Error::Cloud(e) | Error::OperationFailed(e) => Some(e),
            _ => None,
        }
    }

    /// HTTP status ARM answered, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Cloud(e) => Some(e.status),
            _ => None,
        }
    }

    /// Whether ARM said the resource (or its group) does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// Whether ARM refused a conditional request (`If-Match`/`If-None-Match`): 412.
    pub fn is_precondition_failed(&self) -> bool {
        self.status() == Some(412)
    }

    /// Whether ARM refused the caller's permissions.
    pub fn is_authorization_failure(&self) -> bool {
        self.status() == Some(403)
    }
}

impl From<azure_core::Error> for Error {
    fn from(e: azure_core::Error) -> Self {
        use azure_core::error::ErrorKind;
        // The retry policy wraps ARM error answers in a `CloudError`; find it in the chain.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            if let Some(cloud) = s.downcast_ref::<CloudError>() {
                return Error::Cloud(cloud.clone());
            }
            source = s.source();
        }
        match e.kind() {
            ErrorKind::HttpResponse { status, error_code } => {
                let http = e.as_http_error();
                Error::Cloud(CloudError {
                    status: u16::from(*status),
                    code: error_code
                        .clone()
                        .unwrap_or_else(|| default_code(u16::from(*status)).into()),
                    message: http
                        .and_then(|h| h.error_message())
                        .unwrap_or_default()
                        .to_string(),
                    ..Default::default()
                })
            }
            ErrorKind::Io => Error::Transport(e.to_string()),
            ErrorKind::Credential => Error::Credential(format!("{e:#}")),
            _ => Error::Unexpected(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arm_error_bodies_keep_code_message_target() {
        let e = CloudError::from_body(400, br#"{"error":{"code":"InvalidResourceReference","message":"m","target":"t","details":[{"code":"X","message":"y"}]}}"#);
        assert_eq!(e.code, "InvalidResourceReference");
        assert_eq!(e.target.as_deref(), Some("t"));
        assert_eq!(e.details[0].code, "X");
        let e = CloudError::from_body(502, b"<html>bad gateway</html>");
        assert_eq!(e.code, "InternalServerError");
        assert!(e.message.contains("bad gateway"));
    }

    #[test]
    fn classification() {
        let cloud = |status: u16, code: &str| {
            Error::Cloud(CloudError {
                status,
                code: code.into(),
                ..Default::default()
            })
        };
        assert!(cloud(429, "TooManyRequests").is_retryable());
        assert!(cloud(503, "ServiceUnavailable").is_retryable());
        assert!(cloud(409, "AnotherOperationInProgress").is_retryable());
        assert!(!cloud(409, "RoleAssignmentExists").is_retryable());
        assert!(!cloud(403, "AuthorizationFailed").is_retryable());
        assert!(cloud(404, "ResourceNotFound").is_not_found());
        assert!(Error::Transport("reset".into()).is_retryable());
        assert!(!Error::OperationFailed(CloudError::default()).is_retryable());
    }
}
