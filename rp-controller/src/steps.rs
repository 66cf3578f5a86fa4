//! The step engine: an operation is a plan of named steps, each an action (do something idempotent)
//! or a wait (poll a condition until it holds or a timeout passes). Progress lives in
//! `status.progress`, so a restarted controller resumes at the step it was in, with its attempts and
//! its pending Azure long-running operation.
//!
//! Steps are named by [`StepId`], whose stable names are what progress records.
//!
//! Everything here is pure: the caller runs the step and hands the outcome to [`record`], which
//! returns the new progress and what to do next.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crds::ArmError;
use crds::management::LifecycleProgress;

use crate::{Error, Result};

mod id;

pub use id::StepId;

/// What a step does.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// An idempotent action (create-or-update, delete-if-present).
    Action,
    /// A condition polled until it holds; fails with `timeout_error` after `timeout`.
    Wait {
        /// How long the condition may take, measured from the step's start.
        timeout: Duration,
        /// How often to poll.
        poll_interval: Duration,
        /// ARM error code reported on timeout.
        timeout_code: &'static str,
        /// Customer-facing message reported on timeout.
        timeout_message: &'static str,
    },
}

/// A step of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// Which step; its name is recorded in status.
    pub id: StepId,
    /// Install phase the step belongs to (`Bootstrap`, `RemoveBootstrap`), if any.
    pub phase: Option<&'static str>,
    /// Action or wait.
    pub kind: StepKind,
}

impl Step {
    /// An action step.
    pub const fn action(id: StepId) -> Self {
        Self {
            id,
            phase: None,
            kind: StepKind::Action,
        }
    }

    /// A wait step.
    pub const fn wait(
        id: StepId,
        timeout: Duration,
        poll_interval: Duration,
        timeout_code: &'static str,
        timeout_message: &'static str,
    ) -> Self {
        Self {
            id,
            phase: None,
            kind: StepKind::Wait {
                timeout,
                poll_interval,
                timeout_code,
                timeout_message,
            },
        }
    }

    /// The same step, in an install phase.
    pub const fn in_phase(mut self, phase: &'static str) -> Self {
        self.phase = Some(phase);
        self
    }
}

/// An ordered list of steps for one operation (Install, Update, AdminUpdate, Delete).
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Operation name recorded in `status.progress.operation`.
    pub operation: &'static str,
    /// Steps in order.
    pub steps: Vec<Step>,
}

impl Plan {
    /// Where the step recorded as `name` is in the plan.
    fn index_of(&self, name: &str) -> Result<usize> {
        let unknown = || Error::UnknownStep {
            operation: self.operation.to_string(),
            step: name.to_string(),
        };
        let id: StepId = name.parse().map_err(|_| unknown())?;
        self.steps
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(unknown)
    }

    /// The step the progress points at.
    pub fn current<'a>(&'a self, progress: &LifecycleProgress) -> Result<&'a Step> {
        Ok(&self.steps[self.index_of(&progress.step)?])
    }
}

/// What running a step produced.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The step is complete.
    Done,
    /// Not complete yet, nothing wrong: a wait whose condition is false, or an Azure long-running
    /// operation still running (its polling URL is kept so a restart resumes polling it).
    InProgress {
        poll_after: Duration,
        pending_operation_url: Option<String>,
    },
    /// A transient failure (throttling, 5xx, conflict); retried with backoff.
    Retryable {
        error: ArmError,
        retry_after: Option<Duration>,
    },
    /// A failure retrying cannot fix (validation, permissions, quota).
    Failed(ArmError),
}

/// What the controller should do after recording an outcome.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Run the named step now.
    RunNow,
    /// Come back after this long (same or next step, as recorded in progress).
    RequeueAfter(Duration),
    /// Every step is done: the operation succeeded.
    Completed,
    /// The operation failed with this customer-facing error.
    Failed(ArmError),
}

/// Retry policy for retryable failures.
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts of one step before the operation fails.
    pub max_attempts: u32,
    /// Backoff after the first failed attempt; doubled per further attempt.
    pub initial_backoff: Duration,
    /// Cap of the backoff (Retry-After is honoured up to this too).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// Backoff before attempt `attempts + 1`, honouring the server's Retry-After when given.
    pub fn backoff(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        let exponential = self
            .initial_backoff
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        retry_after.unwrap_or(exponential).min(self.max_backoff)
    }
}

/// Progress at the start of an operation: its first step.
pub fn start(plan: &Plan, now: DateTime<Utc>) -> LifecycleProgress {
    let first = &plan.steps[0];
    LifecycleProgress {
        operation: plan.operation.to_string(),
        phase: first.phase.map(str::to_string),
        step: first.id.to_string(),
        completed_steps: Vec::new(),
        attempts: 0,
        step_started_at: Some(now.to_rfc3339()),
        pending_operation_url: None,
        last_error: None,
    }
}

/// Record the outcome of the current step and decide what comes next.
pub fn record(
    plan: &Plan,
    progress: &LifecycleProgress,
    outcome: Outcome,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
) -> Result<(LifecycleProgress, Decision)> {
    let index = plan.index_of(&progress.step)?;
    let step = &plan.steps[index];
    let mut next = progress.clone();
    match outcome {
        Outcome::Done => {
            next.completed_steps.push(step.id.to_string());
            next.attempts = 0;
            next.pending_operation_url = None;
            next.last_error = None;
            match plan.steps.get(index + 1) {
                Some(following) => {
                    next.step = following.id.to_string();
                    next.phase = following.phase.map(str::to_string);
                    next.step_started_at = Some(now.to_rfc3339());
                    Ok((next, Decision::RunNow))
                }
                None => Ok((next, Decision::Completed)),
            }
        }
        Outcome::InProgress {
            poll_after,
            pending_operation_url,
        } => {
            if let Some(error) = timed_out(step, progress, now)? {
                return Ok((next, Decision::Failed(error)));
            }
            if pending_operation_url.is_some() {
                next.pending_operation_url = pending_operation_url;
            }
            Ok((next, Decision::RequeueAfter(poll_after)))
        }
        Outcome::Retryable { error, retry_after } => {
            next.attempts = progress.attempts + 1;
            next.last_error = Some(format!("{}: {}", error.code, error.message));
            if next.attempts >= policy.max_attempts {
                return Ok((next, Decision::Failed(error)));
            }
            if let Some(timeout_error) = timed_out(step, progress, now)? {
                return Ok((next, Decision::Failed(timeout_error)));
            }
            Ok((
                next.clone(),
                Decision::RequeueAfter(policy.backoff(next.attempts, retry_after)),
            ))
        }
        Outcome::Failed(error) => {
            next.last_error = Some(format!("{}: {}", error.code, error.message));
            Ok((next, Decision::Failed(error)))
        }
    }
}

/// The timeout error of a wait step whose time is up.
fn timed_out(
    step: &Step,
    progress: &LifecycleProgress,
    now: DateTime<Utc>,
) -> Result<Option<ArmError>> {
    let StepKind::Wait {
        timeout,
        timeout_code,
        timeout_message,
        ..
    } = &step.kind
    else {
        return Ok(None);
    };
    let Some(started) = progress.step_started_at.as_deref() else {
        return Ok(None);
    };
    let started = DateTime::parse_from_rfc3339(started)
        .map_err(|source| Error::InvalidTimestamp {
            value: started.to_string(),
            source,
        })?
        .with_timezone(&Utc);
    let elapsed = (now - started).to_std().unwrap_or_default();
    Ok((elapsed >= *timeout).then(|| ArmError::new(*timeout_code, *timeout_message)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use pretty_assertions::assert_eq;

    fn plan() -> Plan {
        Plan {
            operation: "Install",
            steps: vec![
                Step::action(StepId::EnsureResourceGroup).in_phase("Bootstrap"),
                Step::wait(
                    StepId::ApiServersReady,
                    Duration::from_secs(1800),
                    Duration::from_secs(10),
                    "ClusterAPINotReady",
                    "Timed out waiting for the Kubernetes API server to become ready.",
                )
                .in_phase("Bootstrap"),
                Step::action(StepId::RemoveBootstrap).in_phase("RemoveBootstrap"),
            ],
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + secs, 0).unwrap()
    }

    fn throttled() -> ArmError {
        ArmError::new("TooManyRequests", "throttled")
    }

    #[test]
    fn runs_steps_in_order_across_phases() {
        let plan = plan();
        let policy = RetryPolicy::default();
        let p = start(&plan, t(0));
        assert_eq!(
            (p.step.as_str(), p.phase.as_deref()),
            ("ensureResourceGroup", Some("Bootstrap"))
        );
        let (p, d) = record(&plan, &p, Outcome::Done, t(1), &policy).unwrap();
        assert_eq!(d, Decision::RunNow);
        assert_eq!(p.step, "apiServersReady");
        let (p, d) = record(&plan, &p, Outcome::Done, t(2), &policy).unwrap();
        assert_eq!(d, Decision::RunNow);
        assert_eq!(
            (p.step.as_str(), p.phase.as_deref()),
            ("removeBootstrap", Some("RemoveBootstrap"))
        );
        let (p, d) = record(&plan, &p, Outcome::Done, t(3), &policy).unwrap();
        assert_eq!(d, Decision::Completed);
        assert_eq!(
            p.completed_steps,
            vec!["ensureResourceGroup", "apiServersReady", "removeBootstrap"]
        );
    }

    #[test]
    fn retryable_errors_back_off_and_honour_retry_after_then_fail() {
        let plan = plan();
        let policy = RetryPolicy {
            max_attempts: 3,
            ..Default::default()
        };
        let p = start(&plan, t(0));
        let outcome = Outcome::Retryable {
            error: throttled(),
            retry_after: None,
        };
        let (p, d) = record(&plan, &p, outcome, t(1), &policy).unwrap();
        assert_eq!(d, Decision::RequeueAfter(Duration::from_secs(1)));
        assert_eq!(p.attempts, 1);
        let outcome = Outcome::Retryable {
            error: throttled(),
            retry_after: Some(Duration::from_secs(17)),
        };
        let (p, d) = record(&plan, &p, outcome, t(2), &policy).unwrap();
        assert_eq!(d, Decision::RequeueAfter(Duration::from_secs(17)));
        assert_eq!(p.last_error.as_deref(), Some("TooManyRequests: throttled"));
        let outcome = Outcome::Retryable {
            error: throttled(),
            retry_after: None,
        };
        let (_, d) = record(&plan, &p, outcome, t(3), &policy).unwrap();
        assert_eq!(
            d,
            Decision::Failed(throttled()),
            "the last retryable error is what the customer sees"
        );
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, None), Duration::from_secs(1));
        assert_eq!(policy.backoff(2, None), Duration::from_secs(2));
        assert_eq!(policy.backoff(4, None), Duration::from_secs(8));
        assert_eq!(policy.backoff(30, None), Duration::from_secs(300));
        assert_eq!(
            policy.backoff(1, Some(Duration::from_secs(900))),
            Duration::from_secs(300)
        );
    }

    #[test]
    fn success_resets_attempts_and_pending_operation() {
        let plan = plan();
        let policy = RetryPolicy::default();
        let p = start(&plan, t(0));
        let outcome = Outcome::InProgress {
            poll_after: Duration::from_secs(5),
            pending_operation_url: Some("https://management/op/1".into()),
        };
        let (p, d) = record(&plan, &p, outcome, t(1), &policy).unwrap();
        assert_eq!(d, Decision::RequeueAfter(Duration::from_secs(5)));
        assert_eq!(
            p.pending_operation_url.as_deref(),
            Some("https://management/op/1")
        );
        let outcome = Outcome::Retryable {
            error: throttled(),
            retry_after: None,
        };
        let (p, _) = record(&plan, &p, outcome, t(2), &policy).unwrap();
        assert_eq!(
            p.pending_operation_url.as_deref(),
            Some("https://management/op/1"),
            "kept across retries"
        );
        let (p, _) = record(&plan, &p, Outcome::Done, t(3), &policy).unwrap();
        assert_eq!(
            (p.attempts, p.pending_operation_url, p.last_error),
            (0, None, None)
        );
    }

    #[test]
    fn waits_time_out_with_their_customer_facing_error() {
        let plan = plan();
        let policy = RetryPolicy::default();
        let (p, _) = record(&plan, &start(&plan, t(0)), Outcome::Done, t(0), &policy).unwrap();
        let waiting = Outcome::InProgress {
            poll_after: Duration::from_secs(10),
            pending_operation_url: None,
        };
        let (p, d) = record(&plan, &p, waiting.clone(), t(1799), &policy).unwrap();
        assert_eq!(d, Decision::RequeueAfter(Duration::from_secs(10)));
        let (_, d) = record(&plan, &p, waiting, t(1800), &policy).unwrap();
        let Decision::Failed(error) = d else {
            panic!("expected failure, got {d:?}")
        };
        assert_eq!(error.code, "ClusterAPINotReady");
        assert!(error.message.contains("API server"));
    }

    #[test]
    fn actions_never_time_out() {
        let plan = plan();
        let p = start(&plan, t(0));
        let outcome = Outcome::InProgress {
            poll_after: Duration::from_secs(1),
            pending_operation_url: None,
        };
        let (_, d) = record(&plan, &p, outcome, t(1_000_000), &RetryPolicy::default()).unwrap();
        assert_eq!(d, Decision::RequeueAfter(Duration::from_secs(1)));
    }

    #[test]
    fn terminal_failure_ends_the_operation_at_once() {
        let plan = plan();
        let error = ArmError::new("InvalidLinkedVNet", "bad vnet")
            .with_target("properties.masterProfile.subnetId");
        let (p, d) = record(
            &plan,
            &start(&plan, t(0)),
            Outcome::Failed(error.clone()),
            t(1),
            &RetryPolicy::default(),
        )
        .unwrap();
        assert_eq!(d, Decision::Failed(error));
        assert_eq!(p.step, "ensureResourceGroup");
    }

    #[test]
    fn unknown_steps_and_bad_timestamps_are_errors_not_panics() {
        let plan = plan();
        let mut p = start(&plan, t(0));
        // A name no step has, and a step of another plan.
        for name in ["removed", "releaseUniqueKeys"] {
            p.step = name.into();
            assert!(matches!(
                record(&plan, &p, Outcome::Done, t(1), &RetryPolicy::default()),
                Err(Error::UnknownStep { step, .. }) if step == name
            ));
        }
        let (mut p, _) = record(
            &plan,
            &start(&plan, t(0)),
            Outcome::Done,
            t(0),
            &RetryPolicy::default(),
        )
        .unwrap();
        p.step_started_at = Some("yesterday".into());
        let waiting = Outcome::InProgress {
            poll_after: Duration::from_secs(1),
            pending_operation_url: None,
        };
        assert!(matches!(
            record(&plan, &p, waiting, t(1), &RetryPolicy::default()),
            Err(Error::InvalidTimestamp { .. })
        ));
    }

    #[test]
    fn resuming_from_stored_progress_continues_where_it_stopped() {
        let plan = plan();
        let policy = RetryPolicy::default();
        let (p, _) = record(&plan, &start(&plan, t(0)), Outcome::Done, t(1), &policy).unwrap();
        // Round trip through JSON as the status would.
        let stored: LifecycleProgress =
            serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
        assert_eq!(plan.current(&stored).unwrap().id, StepId::ApiServersReady);
    }
}
