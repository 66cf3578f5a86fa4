//! Leader election on a `coordination.k8s.io/v1` Lease with optimistic concurrency: only one
//! replica of a role runs its controllers. A candidate takes the lease when it is free, expired or
//! already its own, always through a create or a resourceVersion-checked replace, so two candidates
//! can never both win. The leader renews it; if renewing fails for a whole lease duration it steps
//! down (its controllers stop) rather than risk running beside a new leader.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// Leader election settings.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub namespace: String,
    pub name: String,
    /// This candidate's identity (pod name, or host name and a random suffix).
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How often the leader renews and candidates retry.
    pub retry_period: Duration,
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

/// The decision for `identity` given the lease spec it read, at `now_ms` (Unix milliseconds).
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now_ms: i64) -> Decision {
    let Some(spec) = spec else {
        return Decision::Acquire;
    };
    let holder = spec.holder_identity.clone().unwrap_or_default();
    if holder.is_empty() {
        return Decision::Acquire;
    }
    if holder == identity {
        return Decision::Renew;
    }
    let duration_ms = i64::from(spec.lease_duration_seconds.unwrap_or(0).max(0)) * 1000;
    let renewed_ms = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0.as_millisecond());
    match renewed_ms {
        Some(renewed) if renewed + duration_ms > now_ms => Decision::Wait { holder },
        _ => Decision::Acquire,
    }
}

/// The lease spec after `decision` by `identity` at `now`.
pub fn next_spec(
    current: Option<&LeaseSpec>,
    decision: &Decision,
    identity: &str,
    lease_duration: Duration,
    now: Timestamp,
) -> Option<LeaseSpec> {
    let transitions = current.and_then(|s| s.lease_transitions).unwrap_or(0);
    match decision {
        Decision::Wait { .. } => None,
        Decision::Renew => Some(LeaseSpec {
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(lease_duration.as_secs() as i32),
            ..current.cloned().unwrap_or_default()
        }),
        Decision::Acquire => Some(LeaseSpec {
            holder_identity: Some(identity.to_string()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(lease_duration.as_secs() as i32),
            lease_transitions: Some(if current.is_some() {
                transitions + 1
            } else {
                0
            }),
            ..Default::default()
        }),
    }
}

/// One attempt to acquire or renew. Returns whether this candidate holds the lease afterwards.
pub async fn try_acquire_or_renew(client: &Client, config: &LeaseConfig) -> Result<bool> {
    let api = Api::<Lease>::namespaced(client.clone(), &config.namespace);
    let now = Timestamp::now();
    let existing = api.get_opt(&config.name).await?;
    let current = existing.as_ref().and_then(|l| l.spec.as_ref());
    let decision = decide(current, &config.identity, now.as_millisecond());
    let Some(spec) = next_spec(
        current,
        &decision,
        &config.identity,
        config.lease_duration,
        now,
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
        Ok(_) => {
            if decision == Decision::Acquire {
                tracing::info!(lease = %config.name, identity = %config.identity, "acquired leadership");
            }
            Ok(true)
        }
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Wait until this candidate leads. Returns false if `shutdown` fired first.
pub async fn acquire(
    client: &Client,
    config: &LeaseConfig,
    shutdown: &CancellationToken,
) -> Result<bool> {
    loop {
        match try_acquire_or_renew(client, config).await {
            Ok(true) => return Ok(true),
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "leader election attempt failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(false),
            _ = tokio::time::sleep(config.retry_period) => {}
        }
    }
}

/// Keep renewing until `shutdown` fires (then release the lease) or leadership is lost (then return
/// an error after cancelling `lost`).
pub async fn keep_renewing(
    client: Client,
    config: LeaseConfig,
    shutdown: CancellationToken,
    lost: CancellationToken,
) -> Result<()> {
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => {
                release(&client, &config).await;
                return Ok(());
            }
            _ = tokio::time::sleep(config.retry_period) => {}
        }
        match try_acquire_or_renew(&client, &config).await {
            Ok(true) => last_renewal = tokio::time::Instant::now(),
            Ok(false) => {
                lost.cancel();
                return Err(Error::LeaderElection(format!(
                    "lease {} was taken by another candidate",
                    config.name
                )));
            }
            Err(error) => {
                tracing::warn!(%error, "lease renewal failed");
                if last_renewal.elapsed() >= config.lease_duration {
                    lost.cancel();
                    return Err(Error::LeaderElection(format!(
                        "could not renew lease {} for {:?}",
                        config.name, config.lease_duration
                    )));
                }
            }
        }
    }
}

/// Give the lease up so another candidate takes over at once (best effort).
pub async fn release(client: &Client, config: &LeaseConfig) {
    let api = Api::<Lease>::namespaced(client.clone(), &config.namespace);
    let Ok(Some(mut lease)) = api.get_opt(&config.name).await else {
        return;
    };
    let ours = lease
        .spec
        .as_ref()
        .and_then(|s| s.holder_identity.as_deref())
        == Some(config.identity.as_str());
    if !ours {
        return;
    }
    if let Some(spec) = lease.spec.as_mut() {
        spec.holder_identity = None;
    }
    if let Err(error) = api
        .replace(&config.name, &PostParams::default(), &lease)
        .await
    {
        tracing::warn!(%error, "could not release the lease");
    }
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

    #[test]
    fn free_or_missing_lease_is_acquired() {
        assert_eq!(decide(None, "a", 0), Decision::Acquire);
        assert_eq!(
            decide(Some(&LeaseSpec::default()), "a", 0),
            Decision::Acquire
        );
    }

    #[test]
    fn valid_lease_of_another_holder_means_wait() {
        let spec = held("b", 10_000, 15);
        assert_eq!(
            decide(Some(&spec), "a", 24_999),
            Decision::Wait { holder: "b".into() }
        );
        assert_eq!(decide(Some(&spec), "a", 25_000), Decision::Acquire);
    }

    #[test]
    fn own_lease_is_renewed_even_when_expired() {
        assert_eq!(
            decide(Some(&held("a", 0, 15)), "a", 1_000_000),
            Decision::Renew
        );
    }

    #[test]
    fn lease_without_times_is_expired() {
        let spec = LeaseSpec {
            holder_identity: Some("b".into()),
            ..Default::default()
        };
        assert_eq!(decide(Some(&spec), "a", 0), Decision::Acquire);
    }

    #[test]
    fn next_spec_counts_transitions_and_keeps_acquire_time_on_renew() {
        let now = Timestamp::from_millisecond(50_000).unwrap();
        let current = held("b", 10_000, 15);
        let taken = next_spec(
            Some(&current),
            &Decision::Acquire,
            "a",
            Duration::from_secs(15),
            now,
        )
        .unwrap();
        assert_eq!(taken.holder_identity.as_deref(), Some("a"));
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        let fresh = next_spec(None, &Decision::Acquire, "a", Duration::from_secs(15), now).unwrap();
        assert_eq!(fresh.lease_transitions, Some(0));
        let mine = LeaseSpec {
            acquire_time: Some(ts(1_000)),
            ..held("a", 10_000, 15)
        };
        let renewed = next_spec(
            Some(&mine),
            &Decision::Renew,
            "a",
            Duration::from_secs(15),
            now,
        )
        .unwrap();
        assert_eq!(renewed.acquire_time, Some(ts(1_000)));
        assert_eq!(renewed.renew_time, Some(MicroTime(now)));
        assert_eq!(renewed.lease_transitions, Some(3));
        assert_eq!(
            next_spec(
                Some(&current),
                &Decision::Wait { holder: "b".into() },
                "a",
                Duration::from_secs(15),
                now
            ),
            None
        );
    }
}
