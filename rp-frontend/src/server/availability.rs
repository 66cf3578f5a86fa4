//! What the frontend knows of the management cluster's availability, so that an outage is handled
//! as ARM expects: stores kept by a watch that say whether they can still be trusted
//! ([`watch_store`], [`WatchHealth`]), and readiness (`/readyz`, `/healthz/ready`) that follows
//! those stores' sync and a recent successful round trip to the management API
//! ([`spawn_readiness`]).
//!
//! A watch that breaks (the API server went away, the connection was reset) is not resumed: its
//! store is relisted after a jittered backoff, and until the relist is done the store is stale.
//! Readers may still use it for [`STALE_AFTER`] (a blip costs no round trips), then they read
//! through to the API, which answers (or fails with a 503) rather than serve old data.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::Resource;
use kube::api::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher;
use tokio::time::Instant;
use tokio_util::task::AbortOnDropHandle;

/// How long a store whose watch broke is still served before readers go to the API.
pub const STALE_AFTER: Duration = Duration::from_secs(3);
/// How often readiness probes the management API.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(2);
/// How often readiness is re-evaluated (a cache that synced or broke shows within this).
const READINESS_INTERVAL: Duration = Duration::from_millis(250);
/// How recent the last successful probe must be for the frontend to be ready.
pub const ROUND_TRIP_FRESH: Duration = Duration::from_secs(6);
/// Bound of one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Backoff of relists after a broken watch.
const RELIST_INITIAL: Duration = Duration::from_millis(200);
const RELIST_MAX: Duration = Duration::from_secs(10);

/// Whether a watched store is synced and its watch unbroken.
#[derive(Debug, Default)]
pub struct WatchHealth {
    state: Mutex<WatchState>,
}

#[derive(Debug, Default)]
struct WatchState {
    /// A list has completed at least once.
    synced: bool,
    /// When the watch broke, until the relist after it completes.
    broken_since: Option<Instant>,
}

impl WatchHealth {
    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A list (the first, or a relist after a break) is complete: the store is current.
    pub fn listed(&self) {
        let mut state = self.lock();
        state.synced = true;
        state.broken_since = None;
    }

    /// The watch broke (kept at its first break until the next complete list).
    pub fn broke(&self) {
        self.broke_at(Instant::now());
    }

    fn broke_at(&self, at: Instant) {
        self.lock().broken_since.get_or_insert(at);
    }

    /// Whether the store finished a list and is not broken now.
    pub fn is_current(&self) -> bool {
        let state = self.lock();
        state.synced && state.broken_since.is_none()
    }

    /// Whether readers may use the store: it finished a list and its watch is unbroken, or
    /// broken for less than [`STALE_AFTER`].
    pub fn is_usable(&self) -> bool {
        self.usable_at(Instant::now())
    }

    fn usable_at(&self, now: Instant) -> bool {
        let state = self.lock();
        state.synced
            && state
                .broken_since
                .is_none_or(|since| now.saturating_duration_since(since) < STALE_AFTER)
    }
}

/// A store of `api`'s objects kept by a watch, its health, and the task keeping it (ends with the
/// handle). `on_event` sees every event after the store applied it.
pub fn watch_store<K>(
    api: Api<K>,
    config: watcher::Config,
    mut on_event: impl FnMut(&watcher::Event<K>) + Send + 'static,
) -> (Store<K>, Arc<WatchHealth>, AbortOnDropHandle<()>)
where
    K: Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
    K::DynamicType: Default + Eq + std::hash::Hash + Clone + Send + Sync,
{
    let (store, mut writer) = reflector::store();
    let health = Arc::new(WatchHealth::default());
    let watched = health.clone();
    let task = tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            let events = watcher(api.clone(), config.clone());
            futures::pin_mut!(events);
            while let Some(event) = events.next().await {
                match event {
                    Ok(event) => {
                        writer.apply_watcher_event(&event);
                        if matches!(event, watcher::Event::InitDone) {
                            watched.listed();
                            failures = 0;
                        }
                        on_event(&event);
                    }
                    Err(error) => {
                        watched.broke();
                        failures = failures.saturating_add(1);
                        tracing::warn!(%error, kind = %K::kind(&Default::default()), "management watch broken; relisting");
                        break;
                    }
                }
            }
            tokio::time::sleep(aro_common::backoff::exponential_with_jitter(
                failures.max(1),
                RELIST_INITIAL,
                RELIST_MAX,
            ))
            .await;
        }
    });
    (store, health, AbortOnDropHandle::new(task))
}

/// Whether the frontend is ready: every watched store is current and the management API
/// answered within [`ROUND_TRIP_FRESH`] (`last_round_trip`).
pub fn ready(watches: &[&WatchHealth], last_round_trip: Option<Instant>, now: Instant) -> bool {
    watches.iter().all(|w| w.is_current())
        && last_round_trip.is_some_and(|t| now.saturating_duration_since(t) < ROUND_TRIP_FRESH)
}

/// Keep `health`'s readiness: probe the management API every [`PROBE_INTERVAL`] and mark the
/// frontend ready while [`ready`] holds (re-evaluated every 250 ms). Ends with the handle.
pub fn spawn_readiness(
    client: kube::Client,
    watches: Vec<Arc<WatchHealth>>,
    health: aro_common::health::Health,
) -> AbortOnDropHandle<()> {
    let task = tokio::spawn(async move {
        let mut last_round_trip = None;
        let mut last_probe: Option<Instant> = None;
        let mut ticks = tokio::time::interval(READINESS_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if last_probe.is_none_or(|t| t.elapsed() >= PROBE_INTERVAL) {
                last_probe = Some(Instant::now());
                match tokio::time::timeout(PROBE_TIMEOUT, client.apiserver_version()).await {
                    Ok(Ok(_)) => last_round_trip = Some(Instant::now()),
                    Ok(Err(error)) => tracing::warn!(%error, "management API probe failed"),
                    Err(_) => tracing::warn!("management API probe timed out"),
                }
            }
            let watches: Vec<&WatchHealth> = watches.iter().map(Arc::as_ref).collect();
            let now_ready = ready(&watches, last_round_trip, Instant::now());
            if now_ready != health.is_ready() {
                tracing::info!(ready = now_ready, "frontend readiness changed");
            }
            health.set_ready(now_ready);
        }
    });
    AbortOnDropHandle::new(task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_watch_is_served_for_a_few_seconds_then_bypassed() {
        let health = WatchHealth::default();
        let start = Instant::now();
        assert!(!health.usable_at(start), "not listed yet");
        health.listed();
        assert!(health.usable_at(start) && health.is_current());
        health.broke_at(start);
        assert!(health.usable_at(start) && !health.is_current());
        // A second error does not restart the clock.
        health.broke_at(start + STALE_AFTER / 2);
        assert!(health.usable_at(start + STALE_AFTER / 2));
        assert!(!health.usable_at(start + STALE_AFTER));
        health.listed();
        assert!(health.usable_at(start + STALE_AFTER) && health.is_current());
    }

    #[test]
    fn ready_needs_current_stores_and_a_recent_round_trip() {
        let (a, b) = (WatchHealth::default(), WatchHealth::default());
        let now = Instant::now();
        a.listed();
        assert!(!ready(&[&a, &b], Some(now), now), "b not synced");
        b.listed();
        assert!(ready(&[&a, &b], Some(now), now));
        assert!(!ready(&[&a, &b], None, now), "no round trip yet");
        assert!(!ready(&[&a, &b], Some(now), now + ROUND_TRIP_FRESH));
        b.broke();
        assert!(!ready(&[&a, &b], Some(now), now), "b broken");
    }
}
