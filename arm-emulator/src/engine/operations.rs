//! Long-running operations: started by PUT, DELETE and actions, polled through
//! `Azure-AsyncOperation` (status) and `Location` (result) URLs, and completed lazily once their
//! delay has passed, with their effect on the resources (provisioned, deleted, powered).

use super::Engine;
use crate::error::ApiError;
use crate::request::{ArmRequest, Reply};
use chrono::{DateTime, SecondsFormat, Utc};
use http::Method;
use serde::Serialize;
use serde_json::{Value, json};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub(super) enum OpStatus {
    InProgress,
    Succeeded,
    Failed,
}

/// What a completed operation does to the resources.
#[derive(Clone, Debug)]
pub(super) enum Effect {
    /// The resource (and children) reach Succeeded.
    Provisioned { key: String },
    /// The resource and everything within it disappear.
    Deleted { key: String },
    /// A resource reaches a power state.
    Power { key: String, state: String },
}

#[derive(Clone, Debug)]
pub(super) struct Operation {
    id: String,
    subscription: String,
    namespace: String,
    location: String,
    api_version: String,
    status: OpStatus,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    effect: Effect,
    error: Option<ApiError>,
}

impl Engine {
    /// Finishes every pending operation now.
    pub(super) fn complete_all(&mut self) {
        while let Some((_, id)) = self.pending.pop_first() {
            self.finish(&id);
        }
    }

    /// Completes the operations whose delay has passed.
    pub fn advance(&mut self) {
        let now = Instant::now();
        while let Some(first) = self.pending.first()
            && first.0 <= now
        {
            if let Some((_, id)) = self.pending.pop_first() {
                self.finish(&id);
            }
        }
    }

    fn finish(&mut self, op_id: &str) {
        let Some(op) = self.operations.get(op_id).cloned() else {
            return;
        };
        if op.error.is_some() {
            // A failed operation leaves its resource in place, Failed.
            let key = match &op.effect {
                Effect::Provisioned { key }
                | Effect::Deleted { key }
                | Effect::Power { key, .. } => key,
            };
            if let Some(mut r) = self.resources.get_mut(key)
                && r.body.get("properties").is_some_and(Value::is_object)
            {
                r.body["properties"]["provisioningState"] = "Failed".into();
            }
        }
        match &op.effect {
            _ if op.error.is_some() => {}
            Effect::Provisioned { key } => {
                let keys: Vec<String> =
                    self.resources.within(key).map(|(k, _)| k.clone()).collect();
                for k in keys {
                    if let Some(mut r) = self.resources.get_mut(&k)
                        && matches!(r.provisioning_state(), "Creating" | "Updating")
                    {
                        r.body["properties"]["provisioningState"] = "Succeeded".into();
                        // A new virtual machine (the only resources with a power state) runs
                        // once provisioned.
                        if r.power_state.as_deref() == Some("starting") {
                            r.power_state = Some("running".into());
                        }
                    }
                }
            }
            Effect::Deleted { key } => self.remove_within(key),
            Effect::Power { key, state } => {
                if let Some(mut r) = self.resources.get_mut(key) {
                    r.power_state = Some(state.clone());
                }
            }
        }
        if let Some(o) = self.operations.get_mut(op_id) {
            o.status = if o.error.is_some() {
                OpStatus::Failed
            } else {
                OpStatus::Succeeded
            };
            o.end = Some(Utc::now());
        }
    }

    /// Starts an operation of namespace `ns` in `location`; returns its id.
    pub(super) fn start_operation(
        &mut self,
        req: &ArmRequest<'_>,
        sub: &str,
        ns: &str,
        location: &str,
        effect: Effect,
    ) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let due = Instant::now() + self.settings.lro_delay;
        self.pending.insert((due, id.clone()));
        self.operations.insert(
            id.clone(),
            Operation {
                id: id.clone(),
                subscription: sub.to_string(),
                namespace: ns.to_string(),
                location: location.to_string(),
                api_version: req.api_version().to_string(),
                status: OpStatus::InProgress,
                start: Utc::now(),
                end: None,
                effect,
                error: req.fail_operation.then(|| {
                    ApiError::new(
                        500,
                        "InternalServerError",
                        "The operation failed: injected fault.",
                    )
                }),
            },
        );
        id
    }

    fn op_urls(&self, base: &str, op: &Operation) -> (String, String) {
        let prefix = format!(
            "{base}/subscriptions/{}/providers/{}/locations/{}",
            op.subscription, op.namespace, op.location
        );
        (
            format!(
                "{prefix}/operationStatuses/{}?api-version={}",
                op.id, op.api_version
            ),
            format!(
                "{prefix}/operationResults/{}?api-version={}",
                op.id, op.api_version
            ),
        )
    }

    /// Adds the polling headers of operation `op_id` to a reply.
    pub(super) fn async_headers(&self, reply: &mut Reply, req: &ArmRequest<'_>, op_id: &str) {
        if let Some(op) = self.operations.get(op_id) {
            let (status, result) = self.op_urls(req.base_url, op);
            reply.headers.push(("azure-asyncoperation", status));
            reply.headers.push(("location", result));
            reply.headers.push((
                "retry-after",
                self.settings.lro_retry_after_secs.to_string(),
            ));
        }
    }

    /// `…/operationStatuses/{id}`: the operation's status document.
    pub(super) fn operation_status(
        &mut self,
        req: &ArmRequest<'_>,
        op_id: &str,
    ) -> Result<Reply, ApiError> {
        let op = self.operations.get(op_id).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "OperationNotFound",
                format!("The operation '{op_id}' could not be found."),
            )
        })?;
        let mut body = json!({
            "id": req.path,
            "name": op.id,
            "status": op.status,
            "startTime": op.start.to_rfc3339_opts(SecondsFormat::Millis, true),
        });
        if let Some(end) = op.end {
            body["endTime"] = end.to_rfc3339_opts(SecondsFormat::Millis, true).into();
            body["percentComplete"] = 100.into();
        }
        if let Some(e) = &op.error {
            body["error"] = e.body()["error"].clone();
        }
        let mut reply = Reply::json(200, body);
        if op.status == OpStatus::InProgress {
            reply.headers.push((
                "retry-after",
                self.settings.lro_retry_after_secs.to_string(),
            ));
        }
        Ok(reply)
    }

    /// `…/operationResults/{id}`: 202 while running, then the result (or the error).
    pub(super) fn operation_result(
        &mut self,
        req: &ArmRequest<'_>,
        op_id: &str,
    ) -> Result<Reply, ApiError> {
        req.only(&[Method::GET])?;
        let op = self.operations.get(op_id).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "OperationNotFound",
                format!("The operation '{op_id}' could not be found."),
            )
        })?;
        match op.status {
            OpStatus::InProgress => {
                let mut reply = Reply::empty(202);
                let (_, result) = self.op_urls(req.base_url, &op);
                reply.headers.push(("location", result));
                reply.headers.push((
                    "retry-after",
                    self.settings.lro_retry_after_secs.to_string(),
                ));
                Ok(reply)
            }
            OpStatus::Failed => Err(op.error.unwrap_or_else(|| {
                ApiError::new(500, "InternalServerError", "The operation failed.")
            })),
            OpStatus::Succeeded => match &op.effect {
                Effect::Provisioned { key } => Ok(match self.render(key, false) {
                    Some(body) => Reply::json(200, body),
                    None => Reply::empty(204),
                }),
                Effect::Deleted { .. } => Ok(Reply::empty(204)),
                Effect::Power { .. } => Ok(Reply::empty(200)),
            },
        }
    }
}
