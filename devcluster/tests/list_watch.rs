//! List and watch: label selectors (every operator), field selectors, limit/continue paging,
//! resourceVersion and resourceVersionMatch, watch events, selector transitions, bookmarks,
//! timeouts and streaming lists.

mod common;

use std::time::Duration;

use common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, VersionMatch, WatchEvent,
    WatchParams,
};
use serde_json::json;

type Events = futures::stream::BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>;

async fn next(s: &mut Events) -> WatchEvent<ConfigMap> {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("event within 5s")
        .expect("stream open")
        .unwrap()
}

fn labelled(name: &str, labels: &[(&str, &str)]) -> ConfigMap {
    let mut c = cm(name, json!({}));
    c.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    c
}

async fn names(api: &Api<ConfigMap>, lp: &ListParams) -> Vec<String> {
    let mut n: Vec<String> = api
        .list(lp)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.metadata.name.unwrap())
        .collect();
    n.sort();
    n
}

#[tokio::test]
async fn label_and_field_selectors() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for c in [
        labelled("a", &[("env", "prod"), ("tier", "web")]),
        labelled("b", &[("env", "dev"), ("tier", "web")]),
        labelled("c", &[("env", "test")]),
        labelled("d", &[]),
    ] {
        cms.create(&PostParams::default(), &c).await.unwrap();
    }
    // Every namespace also holds the unlabelled kube-root-ca.crt (root-ca-cert-publisher).
    let cases: &[(&str, &[&str])] = &[
        ("env=prod", &["a"]),
        ("env==prod", &["a"]),
        ("env!=prod", &["b", "c", "d", "kube-root-ca.crt"]),
        ("env in (prod,dev)", &["a", "b"]),
        ("env notin (prod,dev)", &["c", "d", "kube-root-ca.crt"]),
        ("tier", &["a", "b"]),
        ("!tier", &["c", "d", "kube-root-ca.crt"]),
        ("tier=web,env!=dev", &["a"]),
        ("env in (test),!tier", &["c"]),
        ("env=nope", &[]),
    ];
    for (sel, want) in cases {
        assert_eq!(
            names(&cms, &ListParams::default().labels(sel)).await,
            *want,
            "{sel}"
        );
    }
    // Invalid selector: 400.
    let e = expect_err(cms.list(&ListParams::default().labels("env in prod")).await);
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));

    // Field selectors.
    assert_eq!(
        names(&cms, &ListParams::default().fields("metadata.name=b")).await,
        ["b"]
    );
    assert_eq!(
        names(
            &cms,
            &ListParams::default().fields("metadata.name!=b,metadata.namespace=default")
        )
        .await,
        ["a", "c", "d", "kube-root-ca.crt"]
    );
    let all: Api<ConfigMap> = Api::all(client.clone());
    assert_eq!(
        names(
            &all,
            &ListParams::default().fields("metadata.namespace=kube-system")
        )
        .await,
        ["kube-root-ca.crt"]
    );
    let e = expect_err(cms.list(&ListParams::default().fields("data.x=1")).await);
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    // Selectable fields of pods.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    for (n, node) in [("p1", "n1"), ("p2", "n2")] {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": n}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "i"}]}})).unwrap();
        pods.create(&PostParams::default(), &p).await.unwrap();
    }
    let got = pods
        .list(&ListParams::default().fields("spec.nodeName=n2"))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 1);
    assert_eq!(got.items[0].metadata.name.as_deref(), Some("p2"));
    let got = pods
        .list(&ListParams::default().fields("status.phase=Pending"))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 2);
    // Custom resources only select on metadata.name and metadata.namespace.
    install_widgets(&client).await;
    let ws = widgets(&client, "default");
    ws.create(
        &PostParams::default(),
        &widget("w", json!({"size": "small"})),
    )
    .await
    .unwrap();
    assert_eq!(
        ws.list(&ListParams::default().fields("metadata.name=w"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    let e = expect_err(
        ws.list(&ListParams::default().fields("spec.size=small"))
            .await,
    );
    assert_eq!(e.code, 400);
    dc.stop().await;
}

#[tokio::test]
async fn limit_and_continue_paging() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..7 {
        cms.create(
            &PostParams::default(),
            &labelled(&format!("c{i}"), &[("i", &i.to_string())]),
        )
        .await
        .unwrap();
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut first_rv = None;
    loop {
        let mut lp = ListParams::default().limit(3);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = cms.list(&lp).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 3);
        let rv = page.metadata.resource_version.clone();
        assert_eq!(
            *first_rv.get_or_insert(rv.clone()),
            rv,
            "pages share the list's revision"
        );
        seen.extend(page.items.into_iter().map(|c| c.metadata.name.unwrap()));
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "kube-root-ca.crt"]
    );
    // Limit with a selector.
    let page = cms
        .list(&ListParams::default().labels("i in (1,3,5)").limit(2))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    assert!(page.metadata.continue_.is_some());
    // kube's paginated helper.
    let all: Vec<ConfigMap> = kube::runtime::watcher::watcher(
        cms.clone(),
        kube::runtime::watcher::Config::default().page_size(2),
    )
    .take_while(|e| {
        futures::future::ready(!matches!(e, Ok(kube::runtime::watcher::Event::InitDone)))
    })
    .try_filter_map(|e| async move {
        Ok(match e {
            kube::runtime::watcher::Event::InitApply(o) => Some(o),
            _ => None,
        })
    })
    .try_collect()
    .await
    .unwrap();
    assert_eq!(all.len(), 8);
    // Garbage continue token: 400; continue with a resourceVersion: 400.
    let e = expect_err(
        cms.list(&ListParams::default().continue_token("garbage"))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    dc.stop().await;
}

#[tokio::test]
async fn resource_version_semantics() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();
    // "a" and the namespace's kube-root-ca.crt.
    let list = cms.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    // Any / NotOlderThan / Exact at the current revision.
    assert_eq!(
        cms.list(&ListParams::default().match_any())
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    assert_eq!(
        cms.list(
            &ListParams::default()
                .at(&rv)
                .matching(VersionMatch::NotOlderThan)
        )
        .await
        .unwrap()
        .items
        .len(),
        2
    );
    assert_eq!(
        cms.list(&ListParams::default().at(&rv).matching(VersionMatch::Exact))
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    // resourceVersionMatch without resourceVersion: 400.
    let r = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps?resourceVersionMatch=Exact",
        None,
        "",
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    // A revision from the future: 504 Timeout with Retry-After.
    let once = client_without_retry(&dc).await;
    let r = raw(&once, "GET", "/api/v1/namespaces/default/configmaps?resourceVersion=999999&resourceVersionMatch=NotOlderThan", None, "").await;
    assert_eq!(
        r.headers.get("retry-after").map(|v| v.to_str().unwrap()),
        Some("1")
    );
    let v = assert_status(&r, 504, "Timeout");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Too large resource version"),
        "{v}"
    );
    // Not a number: 400.
    let r = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps?resourceVersion=abc",
        None,
        "",
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    // The list's resourceVersion tracks the global revision.
    cms.create(&PostParams::default(), &cm("b", json!({})))
        .await
        .unwrap();
    let rv2: u64 = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv.parse::<u64>().unwrap());
    dc.stop().await;
}

#[tokio::test]
async fn watch_events_from_a_resource_version() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let rv = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let stream = cms
        .watch(&WatchParams::default().timeout(10), &rv)
        .await
        .unwrap();
    let mut stream = stream.boxed();
    cms.create(&PostParams::default(), &cm("w", json!({"a": "1"})))
        .await
        .unwrap();
    cms.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"a": "2"}})),
    )
    .await
    .unwrap();
    cms.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    let mut last_rv = 0u64;
    while kinds.len() < 3 {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("event within 5s")
            .expect("stream open")
            .unwrap();
        let (kind, obj) = match ev {
            WatchEvent::Added(o) => ("ADDED", o),
            WatchEvent::Modified(o) => ("MODIFIED", o),
            WatchEvent::Deleted(o) => ("DELETED", o),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        };
        let this: u64 = obj.metadata.resource_version.unwrap().parse().unwrap();
        assert!(this > last_rv, "resourceVersions increase");
        last_rv = this;
        kinds.push(kind);
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);

    // Replay: watching from the first revision again yields the same history.
    let replay: Vec<_> = cms
        .watch(&WatchParams::default().timeout(1), &rv)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let kinds: Vec<&str> = replay
        .iter()
        .filter_map(|e| match e {
            WatchEvent::Added(_) => Some("ADDED"),
            WatchEvent::Modified(_) => Some("MODIFIED"),
            WatchEvent::Deleted(_) => Some("DELETED"),
            _ => None,
        })
        .collect();
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
    dc.stop().await;
}

#[tokio::test]
async fn watch_selector_transitions_timeout_and_initial_state() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &labelled("pre", &[("app", "x")]))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &labelled("other", &[("app", "y")]))
        .await
        .unwrap();
    // rv "0": synthetic ADDED for the current state, then live events.
    let mut stream = cms
        .watch(&WatchParams::default().labels("app=x").timeout(10), "0")
        .await
        .unwrap()
        .boxed();
    match next(&mut stream).await {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("pre")),
        other => panic!("{other:?}"),
    }
    // Relabelled into the selector: ADDED; out of it: DELETED.
    cms.patch(
        "other",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "x"}}})),
    )
    .await
    .unwrap();
    match next(&mut stream).await {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("other")),
        other => panic!("{other:?}"),
    }
    cms.patch(
        "pre",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "z"}}})),
    )
    .await
    .unwrap();
    match next(&mut stream).await {
        WatchEvent::Deleted(o) => assert_eq!(o.metadata.name.as_deref(), Some("pre")),
        other => panic!("{other:?}"),
    }
    drop(stream);

    // timeoutSeconds ends the stream.
    let started = std::time::Instant::now();
    let events: Vec<_> = tokio::time::timeout(
        Duration::from_secs(5),
        cms.watch(
            &WatchParams::default().timeout(1),
            &cms.list(&ListParams::default())
                .await
                .unwrap()
                .metadata
                .resource_version
                .unwrap(),
        )
        .await
        .unwrap()
        .collect::<Vec<_>>(),
    )
    .await
    .expect("the watch ends by itself");
    assert!(events.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900));

    // Streaming list: initial ADDED events then a bookmark marking their end.
    let mut stream = cms
        .watch(&WatchParams::streaming_lists().timeout(10), "0")
        .await
        .unwrap()
        .boxed();
    let mut initial = Vec::new();
    loop {
        match next(&mut stream).await {
            WatchEvent::Added(o) => initial.push(o.metadata.name.unwrap()),
            WatchEvent::Bookmark(b) => {
                assert_eq!(
                    b.metadata
                        .annotations
                        .get("k8s.io/initial-events-end")
                        .map(String::as_str),
                    Some("true")
                );
                assert!(!b.metadata.resource_version.is_empty());
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    initial.sort();
    assert_eq!(initial, ["kube-root-ca.crt", "other", "pre"]);
    cms.create(&PostParams::default(), &cm("later", json!({})))
        .await
        .unwrap();
    match next(&mut stream).await {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("later")),
        other => panic!("{other:?}"),
    }
    // sendInitialEvents without resourceVersionMatch=NotOlderThan: 422.
    let r = raw(&client, "GET", "/api/v1/namespaces/default/configmaps?watch=1&sendInitialEvents=true&allowWatchBookmarks=true", None, "").await;
    assert_status(&r, 422, "Invalid");
    dc.stop().await;
}
