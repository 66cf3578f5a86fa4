//! Leader election against a real API server: exactly one candidate leads, a valid lease is
//! respected, a released lease is taken over at once, and a leader whose API calls stall stops
//! acting before a standby takes over.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aro_common::leader::{Elector, Leading, LeaseConfig, LeaseTiming, lead};
use devcluster::{Devcluster, DevclusterConfig};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, WatchEvent, WatchParams};
use tokio_util::sync::CancellationToken;

const LEASE: &str = "aro-operator-master";

fn config(identity: &str, timing: LeaseTiming) -> LeaseConfig {
    LeaseConfig {
        namespace: "default".into(),
        name: LEASE.into(),
        identity: identity.into(),
        timing,
    }
}

#[tokio::test]
async fn one_leader_at_a_time_and_release_hands_over() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.client().await.unwrap();
    let timing = LeaseTiming::for_lease_duration(Duration::from_secs(60)).unwrap();
    let mut a = Elector::new(client.clone(), config("a", timing));
    let mut b = Elector::new(client.clone(), config("b", timing));

    // Both race for the free lease: optimistic concurrency lets exactly one win.
    let (ra, rb) = tokio::join!(a.try_acquire_or_renew(), b.try_acquire_or_renew());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra ^ rb, "exactly one leader: a={ra} b={rb}");
    let (leader, other) = if ra {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    assert!(
        leader.try_acquire_or_renew().await.unwrap(),
        "the leader renews"
    );
    assert!(
        !other.try_acquire_or_renew().await.unwrap(),
        "a valid lease is respected"
    );

    leader.release().await;
    assert!(
        other.try_acquire_or_renew().await.unwrap(),
        "a released lease is taken over"
    );
    assert!(!leader.try_acquire_or_renew().await.unwrap());
    dc.stop().await;
}

/// What the two electors did, in the order it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    /// Its work started: it leads.
    Acquired(&'static str),
    /// Its leadership's `lost` token fired.
    Stopped(&'static str),
    /// Its work returned (graceful stop).
    Ended(&'static str),
    /// A write of its work (or of a stray task it left behind) succeeded.
    Acted(&'static str),
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Event>>>);

impl Log {
    fn push(&self, e: Event) {
        self.0.lock().unwrap().push(e);
    }
    fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
    fn position(&self, e: &Event) -> Option<usize> {
        self.events().iter().position(|x| x == e)
    }
    async fn wait_for(&self, what: &str, done: impl Fn(&[Event]) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !done(&self.events()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never happened: {what}; events: {:?}",
                self.events()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Every write gets a number when it is issued, so the server's history tells a write issued
/// before its leader stopped (in flight during the stall: it may still land, as on a real network)
/// from one issued after (which the fence must prevent).
static ISSUED: AtomicU64 = AtomicU64::new(0);
/// `ISSUED` at the moment each elector's `lost` token fired.
static ISSUED_AT_STOP: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

async fn write(client: &kube::Client, writer: &str, n: u64) -> bool {
    let cms = Api::<ConfigMap>::namespaced(client.clone(), "default");
    let issued = ISSUED.fetch_add(1, Ordering::SeqCst) + 1;
    let body = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "work"},
        "data": {"writer": writer, "n": n.to_string(), "issued": issued.to_string()}
    });
    cms.patch(
        "work",
        &PatchParams::apply(writer).force(),
        &Patch::Apply(&body),
    )
    .await
    .is_ok()
}

/// The work of a leader: write the ConfigMap `work` until asked to stop. It also leaves a stray
/// task behind that keeps writing with the leadership's client: only the fence can stop that one.
async fn work(who: &'static str, leading: Leading, log: Log) {
    log.push(Event::Acquired(who));
    let lost = leading.lost.clone();
    let stopped = log.clone();
    tokio::spawn(async move {
        lost.cancelled().await;
        ISSUED_AT_STOP
            .lock()
            .unwrap()
            .insert(who, ISSUED.load(Ordering::SeqCst));
        stopped.push(Event::Stopped(who));
    });
    let (stray_client, stray_log, stray_stop, stray_lost) = (
        leading.client.clone(),
        log.clone(),
        leading.stop.clone(),
        leading.lost.clone(),
    );
    let stray = tokio::spawn(async move {
        // Ends with a graceful stop; after a loss it keeps trying for the rest of the test.
        for n in 0..400 {
            if write(&stray_client, who, n).await {
                stray_log.push(Event::Acted(who));
            }
            if stray_stop.is_cancelled() && !stray_lost.is_cancelled() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let mut n = 0;
    while !leading.stop.is_cancelled() {
        n += 1;
        if write(&leading.client, who, n).await {
            log.push(Event::Acted(who));
        }
        tokio::select! {
            _ = leading.stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
    }
    // A graceful stop waits for the stray task (a loss drops this future before).
    let _ = stray.await;
    log.push(Event::Ended(who));
}

/// An elector that, like a restarted replica, becomes a candidate again after losing.
fn elector(
    client: kube::Client,
    config: LeaseConfig,
    who: &'static str,
    log: Log,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let log = log.clone();
            match lead(&client, &config, &shutdown, |leading| {
                work(who, leading, log)
            })
            .await
            {
                Ok(_) => return,
                Err(error) => eprintln!("{who}: {error}"),
            }
        }
    })
}

/// The server's history of the lease holder and of the writers of `work`, by resourceVersion
/// (devcluster has one global revision counter, like etcd).
#[derive(Clone, Default)]
struct History(Arc<Mutex<BTreeMap<u64, String>>>);

impl History {
    fn record(&self, rv: Option<&String>, what: String) {
        if let Some(rv) = rv.and_then(|rv| rv.parse().ok()) {
            self.0.lock().unwrap().insert(rv, what);
        }
    }
    fn entries(&self) -> Vec<(u64, String)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect()
    }
}

fn watch_history(client: &kube::Client, history: &History) {
    let leases = Api::<Lease>::namespaced(client.clone(), "default");
    let cms = Api::<ConfigMap>::namespaced(client.clone(), "default");
    let h = history.clone();
    tokio::spawn(async move {
        let mut events = leases
            .watch(&WatchParams::default(), "0")
            .await
            .unwrap()
            .boxed();
        while let Some(Ok(event)) = events.next().await {
            if let WatchEvent::Added(l) | WatchEvent::Modified(l) = event {
                let holder = l.spec.as_ref().and_then(|s| s.holder_identity.clone());
                h.record(
                    l.metadata.resource_version.as_ref(),
                    format!("holder={}", holder.unwrap_or_default()),
                );
            }
        }
    });
    let h = history.clone();
    tokio::spawn(async move {
        let mut events = cms
            .watch(&WatchParams::default(), "0")
            .await
            .unwrap()
            .boxed();
        while let Some(Ok(event)) = events.next().await {
            if let WatchEvent::Added(c) | WatchEvent::Modified(c) = event
                && c.metadata.name.as_deref() == Some("work")
            {
                let data = c.data.unwrap_or_default();
                let writer = data.get("writer").cloned().unwrap_or_default();
                let issued = data.get("issued").cloned().unwrap_or_default();
                h.record(
                    c.metadata.resource_version.as_ref(),
                    format!("writer={writer} issued={issued}"),
                );
            }
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stalled_leader_stops_acting_before_the_standby_takes_over() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let admin = dc.client().await.unwrap();
    let history = History::default();
    watch_history(&admin, &history);
    // A short lease, so the test is quick; the 2 s between the leader's deadline and the
    // earliest takeover absorb a slow, shared test machine.
    let timing = LeaseTiming::new(
        Duration::from_secs(3),
        Duration::from_secs(1),
        Duration::from_millis(200),
    )
    .unwrap();
    let log = Log::default();
    let client_a = dc
        .client_as("elector-a", &["system:masters"])
        .await
        .unwrap();
    let client_b = dc
        .client_as("elector-b", &["system:masters"])
        .await
        .unwrap();
    let (stop_a, stop_b) = (CancellationToken::new(), CancellationToken::new());
    let a = elector(
        client_a,
        config("elector-a", timing),
        "a",
        log.clone(),
        stop_a.clone(),
    );
    log.wait_for("a leads and acts", |e| e.contains(&Event::Acted("a")))
        .await;
    let b = elector(
        client_b,
        config("elector-b", timing),
        "b",
        log.clone(),
        stop_b.clone(),
    );
    // b is a candidate now (it observed a's lease); then a's API calls stall.
    tokio::time::sleep(timing.retry_period() * 3).await;
    assert!(!log.events().contains(&Event::Acquired("b")));
    dc.faults().pause("elector-a");

    log.wait_for("b takes over", |e| e.contains(&Event::Acquired("b")))
        .await;
    let stopped_a = log.position(&Event::Stopped("a")).unwrap_or_else(|| {
        panic!(
            "b leads but a never stopped: two leaders; events: {:?}",
            log.events()
        )
    });
    let acquired_b = log.position(&Event::Acquired("b")).unwrap();
    assert!(
        stopped_a < acquired_b,
        "a stopped after b acquired: {:?}",
        log.events()
    );

    // The pause ends: a's stalled calls (and its stray task) reach the server again, and a is
    // a candidate again. It must not act while b leads.
    dc.faults().release("elector-a");
    let acted_b = |e: &[Event]| e.iter().filter(|x| **x == Event::Acted("b")).count();
    let before = acted_b(&log.events());
    log.wait_for("b acts after the release", |e| acted_b(e) >= before + 10)
        .await;
    let events = log.events();
    assert!(
        !events[stopped_a..].contains(&Event::Acted("a"))
            && !events[stopped_a..].contains(&Event::Acquired("a")),
        "a acted after it stopped: {events:?}"
    );

    // b steps down gracefully: a re-acquires, and only then acts again.
    stop_b.cancel();
    b.await.unwrap();
    log.wait_for("a leads again", |e| {
        e[stopped_a..].contains(&Event::Acted("a"))
    })
    .await;
    let events = log.events();
    let again = stopped_a
        + events[stopped_a..]
            .iter()
            .position(|e| *e == Event::Acquired("a"))
            .expect("a re-acquired");
    let first_act = stopped_a
        + events[stopped_a..]
            .iter()
            .position(|e| *e == Event::Acted("a"))
            .unwrap();
    let b_ended = events.iter().position(|e| *e == Event::Ended("b")).unwrap();
    assert!(b_ended < again && again < first_act, "{events:?}");
    stop_a.cancel();
    a.await.unwrap();

    // The server agrees: between b's acquisition and a's re-acquisition, every write to `work`
    // is b's, or one of a's issued before a stopped (sent into the stall; a write already sent
    // cannot be recalled, which is what the lease - renew deadline margin is for); b wrote
    // nothing after a re-acquired.
    let a_stopped_at = ISSUED_AT_STOP.lock().unwrap()["a"];
    let issued = |what: &str| -> u64 {
        what.rsplit("issued=")
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX)
    };
    let entries = history.entries();
    let takeover = entries
        .iter()
        .position(|(_, w)| w == "holder=elector-b")
        .expect("b's acquisition is in the history");
    let reacquired = takeover
        + entries[takeover..]
            .iter()
            .position(|(_, w)| w == "holder=elector-a")
            .expect("a's re-acquisition is in the history");
    for (rv, what) in &entries[takeover..reacquired] {
        assert!(
            !what.starts_with("writer=a ") || issued(what) <= a_stopped_at,
            "a wrote at revision {rv} while b led, issued after it stopped (at {a_stopped_at}): {entries:?}"
        );
    }
    for (rv, what) in &entries[reacquired..] {
        assert!(
            !what.starts_with("writer=b "),
            "b wrote at revision {rv} after a re-acquired: {entries:?}"
        );
    }
    assert!(
        entries[takeover..reacquired]
            .iter()
            .any(|(_, w)| w.starts_with("writer=b "))
    );
    dc.stop().await;
}
