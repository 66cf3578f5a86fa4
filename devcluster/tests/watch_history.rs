//! The watch history's bounds: events beyond the byte or age limit are dropped, a watch from a
//! resourceVersion before them gets kube-apiserver's 410 Gone (an ERROR event, which clients
//! answer by listing again), and a watch from a resourceVersion still inside gets every later
//! event in order.

mod common;

use std::time::Duration;

use common::*;
use devcluster::{Devcluster, DevclusterConfig, HistoryLimits};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use serde_json::json;

async fn start_with(history: HistoryLimits) -> (Devcluster, Api<ConfigMap>) {
    let dc = Devcluster::start(DevclusterConfig {
        watch_history: history,
        ..DevclusterConfig::in_memory()
    })
    .await
    .expect("devcluster starts");
    let client = dc.client().await.expect("admin client");
    (dc, Api::namespaced(client, "default"))
}

/// Create `name` with about `size` bytes of data; its resourceVersion.
async fn create(cms: &Api<ConfigMap>, name: &str, size: usize) -> u64 {
    cms.create(
        &PostParams::default(),
        &cm(name, json!({"payload": "x".repeat(size)})),
    )
    .await
    .unwrap()
    .metadata
    .resource_version
    .unwrap()
    .parse()
    .unwrap()
}

/// Every event of a watch from `rv` until its 1 s timeout.
async fn watch_from(cms: &Api<ConfigMap>, rv: u64) -> Vec<WatchEvent<ConfigMap>> {
    cms.watch(&WatchParams::default().timeout(1), &rv.to_string())
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

fn added_names(events: &[WatchEvent<ConfigMap>]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            WatchEvent::Added(c) => c.metadata.name.clone().unwrap(),
            other => panic!("expected only ADDED events, got {other:?}"),
        })
        .collect()
}

fn expect_gone(events: &[WatchEvent<ConfigMap>], rv: u64) {
    match events {
        [WatchEvent::Error(e)] => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"), "{e:?}");
            assert!(
                e.message
                    .starts_with(&format!("too old resource version: {rv} (")),
                "{}",
                e.message
            );
        }
        other => panic!("expected one 410 ERROR event, got {other:?}"),
    }
}

#[tokio::test]
async fn events_beyond_the_byte_limit_are_gone_and_later_ones_are_served_in_order() {
    // Room for about ten 1 KiB ConfigMaps' events.
    let (dc, cms) = start_with(HistoryLimits {
        events: 10_000,
        bytes: 16 << 10,
        age: Duration::from_secs(3600),
    })
    .await;
    let mut revs = Vec::new();
    for i in 0..40 {
        revs.push(create(&cms, &format!("cm-{i:02}"), 1000).await);
    }
    expect_gone(&watch_from(&cms, revs[0]).await, revs[0]);
    expect_gone(&watch_from(&cms, revs[20]).await, revs[20]);
    let events = watch_from(&cms, revs[35]).await;
    assert_eq!(
        added_names(&events),
        ["cm-36", "cm-37", "cm-38", "cm-39"],
        "every event after the resourceVersion, in order"
    );
    // A client told 410 lists again and watches from the list's resourceVersion.
    let list = cms.list(&Default::default()).await.unwrap();
    // The 40 and the namespace's kube-root-ca.crt.
    let ours = list.items.iter().filter(|c| {
        c.metadata
            .name
            .as_deref()
            .unwrap_or_default()
            .starts_with("cm-")
    });
    assert_eq!(ours.count(), 40);
    let rv: u64 = list.metadata.resource_version.unwrap().parse().unwrap();
    let mut live = cms
        .watch(&WatchParams::default().timeout(10), &rv.to_string())
        .await
        .unwrap()
        .boxed();
    create(&cms, "after", 10).await;
    let next = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .expect("an event within 5 s")
        .expect("stream open")
        .unwrap();
    assert!(matches!(next, WatchEvent::Added(c) if c.metadata.name.as_deref() == Some("after")));
    dc.stop().await;
}

#[tokio::test]
async fn events_beyond_the_age_limit_are_gone() {
    // Every event is older than the limit by the time anyone watches.
    let (dc, cms) = start_with(HistoryLimits {
        age: Duration::from_nanos(1),
        ..HistoryLimits::default()
    })
    .await;
    let first = create(&cms, "a", 10).await;
    let last = create(&cms, "b", 10).await;
    expect_gone(&watch_from(&cms, first).await, first);
    // Nothing after the newest resourceVersion is lost: resuming from it is not refused.
    assert!(watch_from(&cms, last).await.is_empty());
    dc.stop().await;
}
