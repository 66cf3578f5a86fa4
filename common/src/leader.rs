//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's safety rules: only one
//! replica of a role acts at a time, even when the leader's API calls stall.
//!
//! - A candidate takes the lease when it is free, expired or already its own, always through a
//!   create or a resourceVersion-checked replace, so two candidates can never both win one term.
//! - Expiry is measured from the moment THIS candidate observed the last change of the lease
//!   record, never from the holder's `renewTime` (another machine's clock).
//! - The leader counts its renew deadline from the start of its last successful renewal; the
//!   deadline is shorter than the lease duration ([`LeaseTiming::new`] refuses anything else), and
//!   every API call of the election runs under that deadline, so a stalled call cannot keep it
//!   past the deadline.
//! - When the deadline passes the leader gives up at once: [`lead`] cancels the leadership's token,
//!   drops the work, and fences the client it gave the work (every request, in flight or new,
//!   fails), all before any other candidate can consider the lease expired.
//!
//! Why this is safe: a renewal that started at `s` changes the record no earlier than `s`, so
//! every other candidate observes that change at `o >= s` and waits until `o + lease_duration`;
//! the leader stopped at `s + renew_deadline < s + lease_duration`.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::{Error, Result};

/// The three durations of leader election, validated together (client-go's rules):
/// `lease_duration > renew_deadline > 1.2 * retry_period > 0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    lease_duration: Duration,
    renew_deadline: Duration,
    retry_period: Duration,
}

impl LeaseTiming {
    /// The timing, or a clear error when it could leave two leaders (or cannot work at all).
    pub fn new(
        lease_duration: Duration,
        renew_deadline: Duration,
        retry_period: Duration,
    ) -> Result<Self> {
        if lease_duration.is_zero() {
            return Err(Error::LeaderElection(
                "the lease duration must be positive".into(),
            ));
        }
        if retry_period.is_zero() {
            return Err(Error::LeaderElection(
                "the retry period must be positive".into(),
            ));
        }
        if renew_deadline >= lease_duration {
            return Err(Error::LeaderElection(format!(
                "the renew deadline ({renew_deadline:?}) must be shorter than the lease duration \
                 ({lease_duration:?}): a leader that cannot renew must stop before others may \
                 take the lease over"
            )));
        }
        // client-go's JitterFactor: a deadline that fits no retry would give up on the first
        // slow attempt.
        if renew_deadline.as_secs_f64() <= 1.2 * retry_period.as_secs_f64() {
            return Err(Error::LeaderElection(format!(
                "the renew deadline ({renew_deadline:?}) must be longer than 1.2 x the retry \
                 period ({retry_period:?})"
            )));
        }
        Ok(LeaseTiming {
            lease_duration,
            renew_deadline,
            retry_period,
        })
    }

    /// client-go's default proportions (15 s / 10 s / 2 s) scaled to `lease_duration`.
    pub fn for_lease_duration(lease_duration: Duration) -> Result<Self> {
        Self::new(
            lease_duration,
            lease_duration * 2 / 3,
            lease_duration * 2 / 15,
        )
    }

    /// How long a lease stays valid, for others, after they observed its last change.
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// How long the leader may go without a successful renewal before it stops.
    pub fn renew_deadline(&self) -> Duration {
        self.renew_deadline
    }

    /// Pause between two attempts.
    pub fn retry_period(&self) -> Duration {
        self.retry_period
    }

    /// The lease duration as the record stores it: whole seconds, rounded up (others must never
    /// wait less than the leader assumes).
    pub fn lease_duration_seconds(&self) -> i32 {
        let ms = self.lease_duration.as_millis();
        i32::try_from(ms.div_ceil(1000)).unwrap_or(i32::MAX)
    }
}

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This candidate's identity (pod name, or host name and a random suffix).
    pub identity: String,
    /// Validated durations.
    pub timing: LeaseTiming,
}

impl LeaseConfig {
    /// Settings with the default proportions for `lease_duration`.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        identity: impl Into<String>,
        lease_duration: Duration,
    ) -> Result<Self> {
        Ok(LeaseConfig {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity.into(),
            timing: LeaseTiming::for_lease_duration(lease_duration)?,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Pure core: what a candidate observed, what it decides, when a leader must stop.
// ---------------------------------------------------------------------------------------------

/// The lease record as a candidate last saw it, and when (its own monotonic clock) it first saw
/// it in this form.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    resource_version: Option<String>,
    spec: Option<LeaseSpec>,
    /// When this candidate first saw this exact record.
    pub at: Instant,
}

/// The observation after reading `lease` at `now`: the time of the previous observation is kept
/// while the record is unchanged (same resourceVersion and spec), and reset to `now` otherwise.
pub fn observe(previous: Option<&Observation>, lease: Option<&Lease>, now: Instant) -> Observation {
    let resource_version = lease.and_then(|l| l.metadata.resource_version.clone());
    let spec = lease.and_then(|l| l.spec.clone());
    let at = match previous {
        Some(p) if p.resource_version == resource_version && p.spec == spec => p.at,
        _ => now,
    };
    Observation {
        resource_version,
        spec,
        at,
    }
}

/// What a candidate should do with the lease it observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// The lease is free or expired: take it (a new holder, so transitions + 1).
    Acquire,
    /// The lease is ours: renew it.
    Renew,
    /// Another holder's lease is valid: wait.
    Wait { holder: String },
}

/// The decision for `identity` at `now`, given its observation of the lease. Another holder's
/// lease expires `leaseDurationSeconds` (the holder's promise; `own_duration` when the record
/// has none) after this candidate observed the record change, whatever its times say.
pub fn decide(
    observed: &Observation,
    identity: &str,
    own_duration: Duration,
    now: Instant,
) -> Decision {
    let Some(spec) = observed.spec.as_ref() else {
        return Decision::Acquire;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder.is_empty() {
        return Decision::Acquire;
    }
    if holder == identity {
        return Decision::Renew;
    }
    let duration = match spec.lease_duration_seconds {
        Some(s) if s > 0 => Duration::from_secs(s as u64),
        _ => own_duration,
    };
    if now < observed.at + duration {
        Decision::Wait { holder }
    } else {
        Decision::Acquire
    }
}

/// When a leader whose last successful renewal STARTED at `renewal_started` must stop.
pub fn renew_deadline(renewal_started: Instant, timing: &LeaseTiming) -> Instant {
    renewal_started + timing.renew_deadline
}

/// The lease spec after `decision` by `identity` at `now` (wall clock, for humans and for
/// clients that still read `renewTime`).
pub fn next_spec(
    current: Option<&LeaseSpec>,
    decision: &Decision,
    identity: &str,
    timing: &LeaseTiming,
    now: Timestamp,
) -> Option<LeaseSpec> {
    let transitions = current.and_then(|s| s.lease_transitions).unwrap_or(0);
    let seconds = timing.lease_duration_seconds();
    match decision {
        Decision::Wait { .. } => None,
        Decision::Renew => Some(LeaseSpec {
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(seconds),
            ..current.cloned().unwrap_or_default()
        }),
        Decision::Acquire => Some(LeaseSpec {
            holder_identity: Some(identity.to_string()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(seconds),
            lease_transitions: Some(if current.is_some() {
                transitions + 1
            } else {
                0
            }),
            ..Default::default()
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// The elector: one candidate's view of one lease.
// ---------------------------------------------------------------------------------------------

/// One candidate for one lease. It remembers what it observed between attempts (expiry is
/// measured from its own observations), so keep one per candidate.
pub struct Elector {
    client: Client,
    config: LeaseConfig,
    observed: Option<Observation>,
    renewed: Option<Instant>,
}

impl Elector {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Elector {
            client,
            config,
            observed: None,
            renewed: None,
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    /// When the last successful acquire or renewal started.
    pub fn renewed_at(&self) -> Option<Instant> {
        self.renewed
    }

    /// One attempt to acquire or renew, bounded by the renew deadline (a stalled API call is an
    /// error, not a hang). Returns whether this candidate holds the lease afterwards.
    pub async fn try_acquire_or_renew(&mut self) -> Result<bool> {
        let started = Instant::now();
        let deadline = started + self.config.timing.renew_deadline;
        self.attempt_until(deadline).await
    }

    /// One attempt that gives up at `deadline`.
    async fn attempt_until(&mut self, deadline: Instant) -> Result<bool> {
        let started = Instant::now();
        let held = tokio::time::timeout_at(deadline, self.attempt())
            .await
            .map_err(|_| {
                Error::LeaderElection(format!(
                    "lease {}: the API server did not answer in time",
                    self.config.name
                ))
            })??;
        if held {
            self.renewed = Some(started);
        }
        Ok(held)
    }

    async fn attempt(&mut self) -> Result<bool> {
        let config = &self.config;
        let api = Api::<Lease>::namespaced(self.client.clone(), &config.namespace);
        let existing = api.get_opt(&config.name).await?;
        let now = Instant::now();
        let observed = observe(self.observed.as_ref(), existing.as_ref(), now);
        let decision = decide(
            &observed,
            &config.identity,
            config.timing.lease_duration,
            now,
        );
        self.observed = Some(observed);
        let current = existing.as_ref().and_then(|l| l.spec.as_ref());
        let Some(spec) = next_spec(
            current,
            &decision,
            &config.identity,
            &config.timing,
            Timestamp::now(),
        ) else {
            return Ok(false);
        };
        let result = match existing {
            None => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(config.name.clone()),
                        namespace: Some(config.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(spec),
                };
                api.create(&PostParams::default(), &lease).await
            }
            Some(mut lease) => {
                // The read resourceVersion stays in the object: a concurrent writer makes this a 409.
                lease.spec = Some(spec);
                api.replace(&config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(written) => {
                // Our own write is a change we observed now.
                self.observed = Some(observe(None, Some(&written), Instant::now()));
                if decision == Decision::Acquire {
                    tracing::info!(lease = %config.name, identity = %config.identity, "acquired leadership");
                }
                Ok(true)
            }
            Err(e) if crate::kube_client::is_conflict(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Wait until this candidate leads. Returns false if `shutdown` fired first.
    pub async fn acquire(&mut self, shutdown: &CancellationToken) -> Result<bool> {
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                attempt = self.try_acquire_or_renew() => match attempt {
                    Ok(true) => return Ok(true),
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%error, "leader election attempt failed"),
                },
            }
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(false),
                _ = tokio::time::sleep(self.config.timing.retry_period) => {}
            }
        }
    }

    /// Give the lease up so another candidate takes over at once (best effort, bounded by the
    /// renew deadline). Only call this once the work it guarded has stopped.
    pub async fn release(&self) {
        let config = &self.config;
        let api = Api::<Lease>::namespaced(self.client.clone(), &config.namespace);
        let release = async {
            let Some(mut lease) = api.get_opt(&config.name).await? else {
                return Ok(());
            };
            let ours = lease
                .spec
                .as_ref()
                .and_then(|s| s.holder_identity.as_deref())
                == Some(config.identity.as_str());
            if !ours {
                return Ok(());
            }
            if let Some(spec) = lease.spec.as_mut() {
                spec.holder_identity = None;
            }
            api.replace(&config.name, &PostParams::default(), &lease)
                .await
                .map(|_| ())
        };
        match tokio::time::timeout(config.timing.renew_deadline, release).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not release the lease"),
            Err(_) => tracing::warn!("releasing the lease timed out"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running work under leadership.
// ---------------------------------------------------------------------------------------------

/// What the work run by [`lead`] gets.
pub struct Leading {
    /// The API client for the work: fenced, so that every request (new or in flight) fails once
    /// leadership is lost.
    pub client: Client,
    /// Fires when the work should stop: shutdown (graceful, the lease is still renewed until the
    /// work returns) or loss.
    pub stop: CancellationToken,
    /// Fires the moment leadership is lost (before any other candidate may take over); the work
    /// future is dropped at the same time.
    pub lost: CancellationToken,
}

/// Lead, then run `work` while leading. The work is asked to stop (`stop`) on `shutdown` and
/// the lease is renewed until it returns, then released: `Ok(Some(output))`. When leadership is
/// lost (the lease was taken, or no renewal succeeded within the renew deadline) `lost` fires, the
/// work is dropped at once and its client refuses every request: `Err`. `Ok(None)` when
/// `shutdown` fired before this candidate led.
pub async fn lead<W, F>(
    client: &Client,
    config: &LeaseConfig,
    shutdown: &CancellationToken,
    work: W,
) -> Result<Option<F::Output>>
where
    W: FnOnce(Leading) -> F,
    F: Future,
{
    let mut elector = Elector::new(client.clone(), config.clone());
    if !elector.acquire(shutdown).await? {
        return Ok(None);
    }
    let lost = CancellationToken::new();
    let stop = lost.child_token();
    let started = elector
        .renewed_at()
        .expect("an acquired lease has a renewal time");
    // The renewals run in their own task: the moment the deadline passes `lost` fires, however
    // busy the work keeps this task.
    let mut renewing =
        AbortOnDropHandle::new(tokio::spawn(keep_renewing(elector, started, lost.clone())));
    // Boxed so that a loss can drop it (and every request it has in flight) right away.
    let mut work = Box::pin(work(Leading {
        client: fenced(client, lost.clone()),
        stop: stop.clone(),
        lost: lost.clone(),
    }));
    loop {
        tokio::select! {
            biased;
            _ = lost.cancelled() => break,
            _ = shutdown.cancelled(), if !stop.is_cancelled() => {
                tracing::info!(lease = %config.name, "stopping the work under leadership");
                stop.cancel();
            }
            output = &mut work => {
                // The work stopped while we still lead: stop renewing, then hand the lease over.
                renewing.abort();
                let _ = (&mut renewing).await;
                if lost.is_cancelled() {
                    break;
                }
                Elector::new(client.clone(), config.clone()).release().await;
                return Ok(Some(output));
            }
        }
    }
    // Lost: the work future is dropped here, with every request it had in flight.
    drop(work);
    let reason = match renewing.await {
        Ok(reason) => reason,
        Err(_) => "leadership lost".to_string(),
    };
    Err(Error::LeaderElection(format!(
        "lease {}: {reason}",
        config.name
    )))
}

/// Renew until the deadline passes or the lease is taken; then cancel `lost` and say why.
async fn keep_renewing(mut elector: Elector, started: Instant, lost: CancellationToken) -> String {
    let timing = elector.config.timing;
    let name = elector.config.name.clone();
    let mut deadline = renew_deadline(started, &timing);
    loop {
        if tokio::time::timeout_at(deadline, tokio::time::sleep(timing.retry_period))
            .await
            .is_err()
        {
            break;
        }
        match elector.attempt_until(deadline).await {
            Ok(true) => {
                let renewed = elector.renewed_at().unwrap_or(started);
                deadline = renew_deadline(renewed, &timing);
                if Instant::now() >= deadline {
                    break;
                }
            }
            Ok(false) => {
                tracing::error!(lease = %name, "the lease was taken by another candidate: leadership lost");
                lost.cancel();
                return "the lease was taken by another candidate".into();
            }
            Err(error) => {
                tracing::warn!(lease = %name, %error, "lease renewal failed");
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
    tracing::error!(lease = %name, renew_deadline = ?timing.renew_deadline, "no renewal succeeded within the renew deadline: leadership lost");
    lost.cancel();
    format!(
        "no renewal succeeded within the renew deadline ({:?})",
        timing.renew_deadline
    )
}

/// The error a fenced client returns once leadership is lost.
#[derive(Debug, thiserror::Error)]
#[error("leadership was lost: this replica no longer acts")]
pub struct LeadershipLost;

/// `client`, except that every request fails with [`LeadershipLost`] once `lost` fires, including
/// those already in flight (their futures are dropped, closing their connections).
pub fn fenced(client: &Client, lost: CancellationToken) -> Client {
    let namespace = client.default_namespace().to_string();
    let inner = client.clone();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let inner = inner.clone();
        let lost = lost.clone();
        async move {
            if lost.is_cancelled() {
                return Err(tower::BoxError::from(LeadershipLost));
            }
            tokio::select! {
                biased;
                _ = lost.cancelled() => Err(tower::BoxError::from(LeadershipLost)),
                response = inner.send(request) => response.map_err(tower::BoxError::from),
            }
        }
    });
    Client::new(service, namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> MicroTime {
        MicroTime(Timestamp::from_millisecond(ms).unwrap())
    }

    fn held(by: &str, renewed_ms: i64, duration_s: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            renew_time: Some(ts(renewed_ms)),
            lease_duration_seconds: Some(duration_s),
            lease_transitions: Some(3),
            ..Default::default()
        }
    }

    fn lease(rv: &str, spec: LeaseSpec) -> Lease {
        Lease {
            metadata: ObjectMeta {
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            spec: Some(spec),
        }
    }

    fn timing() -> LeaseTiming {
        LeaseTiming::new(
            Duration::from_secs(15),
            Duration::from_secs(10),
            Duration::from_secs(2),
        )
        .unwrap()
    }

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn timing_rules_are_enforced_with_clear_errors() {
        let err = |l, r, p| {
            LeaseTiming::new(S * l, S * r, S * p)
                .unwrap_err()
                .to_string()
        };
        assert!(err(10, 10, 2).contains("must be shorter than the lease duration"));
        assert!(err(10, 15, 2).contains("must be shorter than the lease duration"));
        assert!(err(15, 2, 2).contains("1.2 x the retry period"));
        assert!(err(15, 10, 0).contains("retry period must be positive"));
        let t = LeaseTiming::for_lease_duration(S * 15).unwrap();
        assert_eq!(
            (t.lease_duration(), t.renew_deadline(), t.retry_period()),
            (S * 15, S * 10, S * 2)
        );
        // Small durations keep the proportions; the record rounds up to whole seconds.
        let t = LeaseTiming::for_lease_duration(Duration::from_millis(1500)).unwrap();
        assert!(t.renew_deadline() < t.lease_duration());
        assert_eq!(t.lease_duration_seconds(), 2);
        assert!(
            LeaseTiming::for_lease_duration(Duration::ZERO)
                .unwrap_err()
                .to_string()
                .contains("lease duration must be positive")
        );
    }

    #[test]
    fn free_or_missing_lease_is_acquired() {
        let now = Instant::now();
        let missing = observe(None, None, now);
        assert_eq!(decide(&missing, "a", S * 15, now), Decision::Acquire);
        let free = observe(None, Some(&lease("1", LeaseSpec::default())), now);
        assert_eq!(decide(&free, "a", S * 15, now), Decision::Acquire);
    }

    #[test]
    fn expiry_counts_from_the_local_observation_not_the_holders_clock() {
        let t0 = Instant::now();
        // The holder's renewTime is far in the past (its clock is behind, or ours is ahead): it
        // does not matter, the lease is valid for 15 s after WE first saw this record.
        let record = lease("7", held("b", 0, 15));
        let first = observe(None, Some(&record), t0);
        assert_eq!(first.at, t0);
        assert_eq!(
            decide(&first, "a", S * 15, t0 + S * 14),
            Decision::Wait { holder: "b".into() }
        );
        // Reading the same record again keeps the first observation time.
        let again = observe(Some(&first), Some(&record), t0 + S * 14);
        assert_eq!(again.at, t0);
        assert_eq!(decide(&again, "a", S * 15, t0 + S * 15), Decision::Acquire);
        // A renewal (new resourceVersion) restarts the count, whatever its renewTime says
        // (here a renewTime in the far future: a holder clock ahead of ours gains nothing).
        let renewed = lease("8", held("b", i64::from(i32::MAX) * 1000, 15));
        let seen = observe(Some(&again), Some(&renewed), t0 + S * 14);
        assert_eq!(seen.at, t0 + S * 14);
        assert_eq!(
            decide(&seen, "a", S * 15, t0 + S * 28),
            Decision::Wait { holder: "b".into() }
        );
        assert_eq!(decide(&seen, "a", S * 15, t0 + S * 29), Decision::Acquire);
    }

    #[test]
    fn record_duration_is_the_holders_and_own_duration_fills_in() {
        let t0 = Instant::now();
        let short = observe(None, Some(&lease("1", held("b", 0, 3))), t0);
        assert_eq!(decide(&short, "a", S * 15, t0 + S * 3), Decision::Acquire);
        let no_duration = LeaseSpec {
            holder_identity: Some("b".into()),
            ..Default::default()
        };
        let seen = observe(None, Some(&lease("1", no_duration)), t0);
        assert_eq!(
            decide(&seen, "a", S * 15, t0 + S * 14),
            Decision::Wait { holder: "b".into() }
        );
        assert_eq!(decide(&seen, "a", S * 15, t0 + S * 15), Decision::Acquire);
    }

    #[test]
    fn own_lease_is_renewed_even_when_expired() {
        let t0 = Instant::now();
        let mine = observe(None, Some(&lease("1", held("a", 0, 15))), t0);
        assert_eq!(decide(&mine, "a", S * 15, t0 + S * 1000), Decision::Renew);
    }

    #[test]
    fn a_leader_stops_before_any_candidate_may_take_over() {
        // The leader's renewal starts at s; the server applies it at s + d (d >= 0, unknown); a
        // candidate observes it at o >= s + d. Whatever d and o, the leader's deadline comes
        // first, by lease_duration - renew_deadline.
        let timing = timing();
        let s = Instant::now();
        let stop = renew_deadline(s, &timing);
        for (d, late) in [(0, 0), (0, 3), (2, 0), (9, 1)] {
            let o = s + S * d + S * late;
            let record = lease("9", held("leader", 0, timing.lease_duration_seconds()));
            let seen = observe(None, Some(&record), o);
            let mut t = o;
            while decide(&seen, "candidate", timing.lease_duration, t) != Decision::Acquire {
                t += Duration::from_millis(100);
            }
            assert!(
                stop < t,
                "leader stops at {stop:?}, candidate takes over at {t:?}"
            );
            assert!(t - stop >= timing.lease_duration - timing.renew_deadline);
        }
    }

    #[test]
    fn next_spec_counts_transitions_and_keeps_acquire_time_on_renew() {
        let now = Timestamp::from_millisecond(50_000).unwrap();
        let t = timing();
        let current = held("b", 10_000, 15);
        let taken = next_spec(Some(&current), &Decision::Acquire, "a", &t, now).unwrap();
        assert_eq!(taken.holder_identity.as_deref(), Some("a"));
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        assert_eq!(taken.lease_duration_seconds, Some(15));
        let fresh = next_spec(None, &Decision::Acquire, "a", &t, now).unwrap();
        assert_eq!(fresh.lease_transitions, Some(0));
        let mine = LeaseSpec {
            acquire_time: Some(ts(1_000)),
            ..held("a", 10_000, 15)
        };
        let renewed = next_spec(Some(&mine), &Decision::Renew, "a", &t, now).unwrap();
        assert_eq!(renewed.acquire_time, Some(ts(1_000)));
        assert_eq!(renewed.renew_time, Some(MicroTime(now)));
        assert_eq!(renewed.lease_transitions, Some(3));
        assert_eq!(
            next_spec(
                Some(&current),
                &Decision::Wait { holder: "b".into() },
                "a",
                &t,
                now
            ),
            None
        );
    }
}
