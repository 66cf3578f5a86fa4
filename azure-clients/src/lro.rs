//! Long-running operations as pollable handles.
//!
//! Starting an operation returns a [`PendingOperation`]: plain data (serialisable, so a controller
//! can keep it in status and resume after a restart) holding the URLs ARM gave for polling. Each
//! [`crate::ArmClient::poll`] makes one request and reports [`OperationState`], so no worker is held
//! while Azure works. The SDK's own `IntoFuture` pollers block until the end, and the 0.21 crates'
//! `Location` pollers expect a status body ARM does not send; use `send()` plus these helpers.

use crate::error::CloudError;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where and how to follow an accepted operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    /// Method of the request that started it (`PUT`, `PATCH`, `DELETE`, `POST`).
    pub method: String,
    /// URL of the request that started it; PUT/PATCH results are read from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_url: Option<String>,
    /// The `Azure-AsyncOperation` status URL, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub async_operation_url: Option<String>,
    /// The `Location` result URL, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_url: Option<String>,
    /// `Retry-After` of the accepting answer, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_secs: Option<u64>,
}

/// How long to wait between polls when the server does not say.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);

impl PendingOperation {
    /// The pending operation an answer describes, or `None` when the answer is final: no
    /// polling headers, or a PUT/PATCH body already in a terminal provisioning state.
    pub fn from_response(
        method: &str,
        resource_url: Option<&str>,
        response: &azure_core::Response,
    ) -> Option<Self> {
        use azure_core::headers::HeaderName;
        let headers = response.headers();
        let get = |name: &'static str| headers.get_optional_string(&HeaderName::from_static(name));
        let async_operation_url = get("azure-asyncoperation");
        let location_url = get("location").filter(|_| {
            u16::from(response.status()) == 202
                || !is_put(method)
                || get("azure-asyncoperation").is_some()
        });
        if async_operation_url.is_none() && location_url.is_none() {
            return None;
        }
        Some(Self {
            method: method.to_ascii_uppercase(),
            resource_url: resource_url.map(str::to_string),
            async_operation_url,
            location_url,
            retry_after_secs: crate::retry::retry_after(headers).map(|d| d.as_secs()),
        })
    }

    /// Delay before the first poll.
    pub fn initial_delay(&self) -> Duration {
        self.retry_after_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_POLL_INTERVAL)
    }
}

fn is_put(method: &str) -> bool {
    method.eq_ignore_ascii_case("PUT") || method.eq_ignore_ascii_case("PATCH")
}

/// One poll's view of an operation.
#[derive(Clone, Debug, PartialEq)]
pub enum OperationState {
    /// Still running; poll again after `retry_after`.
    InProgress {
        /// Delay the server asked for (or the default).
        retry_after: Duration,
    },
    /// Done; the final resource (PUT/PATCH) or result (POST), if any.
    Succeeded {
        /// Final body.
        body: Option<serde_json::Value>,
    },
    /// Ended Failed or Canceled, with ARM's error.
    Failed(CloudError),
}

/// The outcome of a call that may start a long-running operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Started {
    /// The answer was final.
    Done {
        /// HTTP status.
        status: u16,
        /// Body, if any.
        body: Option<serde_json::Value>,
    },
    /// Accepted; follow the pending operation.
    Pending {
        /// The accepting answer's status (201, 200 or 202).
        status: u16,
        /// The accepting answer's body (PUT bodies carry the non-terminal resource).
        body: Option<serde_json::Value>,
        /// How to follow it.
        operation: PendingOperation,
    },
}

impl Started {
    /// The operation to follow, if any.
    pub fn pending(&self) -> Option<&PendingOperation> {
        match self {
            Started::Pending { operation, .. } => Some(operation),
            Started::Done { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::headers::Headers;

    fn response(
        status: azure_core::StatusCode,
        headers: &[(&'static str, &str)],
    ) -> azure_core::Response {
        let mut h = Headers::new();
        for (k, v) in headers {
            h.insert(*k, v.to_string());
        }
        azure_core::Response::new(status, h, Box::pin(futures::stream::empty()))
    }

    #[test]
    fn accepted_answers_become_pending_operations() {
        let rsp = response(
            azure_core::StatusCode::Accepted,
            &[
                ("location", "http://x/opresult"),
                ("azure-asyncoperation", "http://x/opstatus"),
                ("retry-after", "3"),
            ],
        );
        let op = PendingOperation::from_response("delete", None, &rsp).unwrap();
        assert_eq!(op.method, "DELETE");
        assert_eq!(op.async_operation_url.as_deref(), Some("http://x/opstatus"));
        assert_eq!(op.location_url.as_deref(), Some("http://x/opresult"));
        assert_eq!(op.initial_delay(), Duration::from_secs(3));
        let json = serde_json::to_string(&op).unwrap();
        assert_eq!(serde_json::from_str::<PendingOperation>(&json).unwrap(), op);
    }

    #[test]
    fn final_answers_are_not_pending() {
        let rsp = response(azure_core::StatusCode::Ok, &[]);
        assert_eq!(PendingOperation::from_response("PUT", None, &rsp), None);
        // A 201 Location on a PUT names the created resource, not a poller.
        let rsp = response(
            azure_core::StatusCode::Created,
            &[("location", "http://x/resource")],
        );
        assert_eq!(PendingOperation::from_response("PUT", None, &rsp), None);
    }
}
