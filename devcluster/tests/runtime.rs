//! kube-runtime against devcluster: watcher with both initial-list strategies, reflector,
//! a Controller reconciling custom resources through the finalizer helper, and the event
//! Recorder.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{Event as FinalizerEvent, finalizer};
use kube::runtime::watcher::{self, Event as WatcherEvent};
use kube::runtime::{WatchStreamExt, reflector, wait::await_condition};
use kube::{Resource, ResourceExt};
use serde_json::json;

async fn watcher_sees_everything(strategy: watcher::Config) {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(&PostParams::default(), &cm("before", json!({})))
        .await
        .unwrap();
    let mut events = watcher::watcher(cms.clone(), strategy).boxed();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(5), events.try_next())
            .await
            .expect("watcher event within 5s")
            .unwrap()
            .expect("stream open")
    };
    assert!(matches!(next().await, WatcherEvent::Init));
    for name in ["before", "kube-root-ca.crt"] {
        match next().await {
            WatcherEvent::InitApply(o) => assert_eq!(o.name_any(), name),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(next().await, WatcherEvent::InitDone));
    cms.create(&PostParams::default(), &cm("after", json!({})))
        .await
        .unwrap();
    match next().await {
        WatcherEvent::Apply(o) => assert_eq!(o.name_any(), "after"),
        other => panic!("{other:?}"),
    }
    cms.patch(
        "after",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "v"}})),
    )
    .await
    .unwrap();
    match next().await {
        WatcherEvent::Apply(o) => assert_eq!(o.data.unwrap()["k"], "v"),
        other => panic!("{other:?}"),
    }
    cms.delete("before", &DeleteParams::default())
        .await
        .unwrap();
    match next().await {
        WatcherEvent::Delete(o) => assert_eq!(o.name_any(), "before"),
        other => panic!("{other:?}"),
    }
    dc.stop().await;
}

#[tokio::test]
async fn watcher_with_list_watch() {
    watcher_sees_everything(watcher::Config::default()).await;
}

#[tokio::test]
async fn watcher_with_streaming_list() {
    watcher_sees_everything(watcher::Config::default().streaming_lists()).await;
}

#[tokio::test]
async fn reflector_mirrors_the_collection() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    for i in 0..5 {
        cms.create(&PostParams::default(), &cm(&format!("c{i}"), json!({})))
            .await
            .unwrap();
    }
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher::watcher(cms.clone(), watcher::Config::default().page_size(2)),
    )
    .applied_objects();
    let driver = tokio::spawn(stream.for_each(|_| async {}));
    tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
        .await
        .expect("reflector ready")
        .unwrap();
    // c0..c4 and the namespace's kube-root-ca.crt.
    assert_eq!(reader.len(), 6);
    cms.delete("c0", &DeleteParams::default()).await.unwrap();
    cms.create(&PostParams::default(), &cm("c9", json!({})))
        .await
        .unwrap();
    eventually("reflector catches up", || {
        let reader = reader.clone();
        async move {
            let mut names: Vec<String> = reader.state().iter().map(|c| c.name_any()).collect();
            names.sort();
            (names == ["c1", "c2", "c3", "c4", "c9", "kube-root-ca.crt"]).then_some(())
        }
    })
    .await;
    driver.abort();
    dc.stop().await;
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ReconcileError(#[from] kube::Error);

struct Ctx {
    api: Api<DynamicObject>,
    client: kube::Client,
}

const FINALIZER: &str = "example.com/cleanup";

async fn reconcile(
    obj: Arc<DynamicObject>,
    ctx: Arc<Ctx>,
) -> Result<Action, kube::runtime::finalizer::Error<ReconcileError>> {
    let api = ctx.api.clone();
    let client = ctx.client.clone();
    finalizer(&ctx.api, FINALIZER, obj, |event| async move {
        match event {
            FinalizerEvent::Apply(w) => {
                let replicas = w.data["spec"]["replicas"].as_i64().unwrap_or(0);
                api.patch_status(
                    &w.name_any(),
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"ready": true, "replicas": replicas}})),
                )
                .await?;
                Ok(Action::await_change())
            }
            FinalizerEvent::Cleanup(w) => {
                // Leave a trace that cleanup ran.
                let cms: Api<ConfigMap> = Api::namespaced(client, "default");
                cms.create(
                    &PostParams::default(),
                    &cm(&format!("cleaned-{}", w.name_any()), json!({})),
                )
                .await?;
                Ok(Action::await_change())
            }
        }
    })
    .await
}

fn error_policy(
    _: Arc<DynamicObject>,
    _: &kube::runtime::finalizer::Error<ReconcileError>,
    _: Arc<Ctx>,
) -> Action {
    Action::requeue(Duration::from_millis(50))
}

#[tokio::test]
async fn controller_reconciles_with_the_finalizer_helper() {
    let (dc, client) = start().await;
    install_widgets(&client).await;
    let api = widgets(&client, "default");
    let ctx = Arc::new(Ctx {
        api: api.clone(),
        client: client.clone(),
    });
    let controller = Controller::new_with(
        api.clone(),
        watcher::Config::default(),
        widget_resource("v1"),
    )
    .run(reconcile, error_policy, ctx)
    .for_each(|_| async {});
    let driver = tokio::spawn(controller);

    api.create(
        &PostParams::default(),
        &widget("w", json!({"size": "small", "replicas": 2})),
    )
    .await
    .unwrap();
    let ready = |o: Option<&DynamicObject>| o.is_some_and(|o| o.data["status"]["ready"] == true);
    let w = tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(api.clone(), "w", ready),
    )
    .await
    .expect("reconciled within 10s")
    .unwrap()
    .unwrap();
    assert_eq!(w.data["status"]["replicas"], 2);
    assert_eq!(w.finalizers(), [FINALIZER]);

    // Deleting runs the cleanup, then the helper removes the finalizer and the object goes.
    let uid = w.uid().unwrap();
    api.delete("w", &DeleteParams::default()).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(
            api.clone(),
            "w",
            kube::runtime::wait::conditions::is_deleted(&uid),
        ),
    )
    .await
    .expect("deleted within 10s")
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.get("cleaned-w")
        .await
        .expect("cleanup ran before the finalizer was removed");
    driver.abort();
    dc.stop().await;
}

#[tokio::test]
async fn event_recorder_publishes_and_aggregates() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let c = cms
        .create(&PostParams::default(), &cm("subject", json!({})))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "conformance".into(),
            instance: Some("test-1".into()),
        },
    );
    let ev = Event {
        type_: EventType::Warning,
        reason: "Checked".into(),
        note: Some("checked the subject".into()),
        action: "Check".into(),
        secondary: None,
    };
    let reference = c.object_ref(&());
    recorder.publish(&ev, &reference).await.unwrap();
    recorder.publish(&ev, &reference).await.unwrap();
    let events: Api<K8sEvent> = Api::namespaced(client.clone(), "default");
    let list = events.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        list.items.len(),
        1,
        "the repeat is aggregated into a series"
    );
    let e = &list.items[0];
    assert_eq!(e.reason.as_deref(), Some("Checked"));
    assert_eq!(e.type_.as_deref(), Some("Warning"));
    assert_eq!(e.reporting_controller.as_deref(), Some("conformance"));
    assert_eq!(
        e.regarding.as_ref().unwrap().name.as_deref(),
        Some("subject")
    );
    assert_eq!(e.series.as_ref().map(|s| s.count), Some(2));
    dc.stop().await;
}
