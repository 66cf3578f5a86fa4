//! The API server's own machinery: ownerReference garbage collection with background,
//! foreground and orphan propagation, and namespace deletion.

mod common;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::json;

fn owned_by(name: &str, owner: &ConfigMap, block: bool) -> ConfigMap {
    let mut c = cm(name, json!({}));
    c.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        name: owner.metadata.name.clone().unwrap(),
        uid: owner.metadata.uid.clone().unwrap(),
        block_owner_deletion: Some(block),
        controller: Some(true),
    }]);
    c
}

async fn gone(api: &Api<ConfigMap>, name: &str) {
    let uid = match api.get(name).await {
        Ok(o) => o.metadata.uid.unwrap(),
        Err(_) => return,
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        await_condition(api.clone(), name, conditions::is_deleted(&uid)),
    )
    .await
    .unwrap_or_else(|_| panic!("{name} deleted within 10s"))
    .unwrap();
}

#[tokio::test]
async fn background_propagation_deletes_dependents() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner = cms
        .create(&PostParams::default(), &cm("owner", json!({})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &owned_by("dep1", &owner, false))
        .await
        .unwrap();
    let dep1 = cms.get("dep1").await.unwrap();
    cms.create(&PostParams::default(), &owned_by("dep2", &dep1, false))
        .await
        .unwrap();
    cms.delete("owner", &DeleteParams::background())
        .await
        .unwrap();
    assert_eq!(
        expect_err(cms.get("owner").await).code,
        404,
        "owner goes at once"
    );
    gone(&cms, "dep1").await;
    gone(&cms, "dep2").await;
    dc.stop().await;
}

#[tokio::test]
async fn foreground_propagation_waits_for_dependents() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner = cms
        .create(&PostParams::default(), &cm("owner", json!({})))
        .await
        .unwrap();
    // A dependent held by a finalizer keeps the owner in foreground deletion.
    let mut dep = owned_by("dep", &owner, true);
    dep.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &dep).await.unwrap();
    let out = cms
        .delete("owner", &DeleteParams::foreground())
        .await
        .unwrap();
    let o = out.left().expect("owner is returned while deleting");
    assert!(o.metadata.deletion_timestamp.is_some());
    assert!(
        o.metadata
            .finalizers
            .unwrap()
            .contains(&"foregroundDeletion".to_string())
    );
    let dep = eventually("dependent marked for deletion", || {
        let cms = cms.clone();
        async move {
            let d = cms.get("dep").await.ok()?;
            d.metadata.deletion_timestamp.is_some().then_some(d)
        }
    })
    .await;
    assert!(dep.metadata.deletion_timestamp.is_some());
    assert!(
        cms.get("owner").await.is_ok(),
        "owner waits for its dependent"
    );
    // Release the dependent: both go.
    cms.patch(
        "dep",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    gone(&cms, "dep").await;
    gone(&cms, "owner").await;
    dc.stop().await;
}

#[tokio::test]
async fn orphan_propagation_keeps_dependents() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let owner = cms
        .create(&PostParams::default(), &cm("owner", json!({})))
        .await
        .unwrap();
    cms.create(&PostParams::default(), &owned_by("dep", &owner, false))
        .await
        .unwrap();
    cms.delete("owner", &DeleteParams::orphan()).await.unwrap();
    gone(&cms, "owner").await;
    let dep = eventually("owner reference removed", || {
        let cms = cms.clone();
        async move {
            let d = cms.get("dep").await.ok()?;
            d.metadata.owner_references.is_none().then_some(d)
        }
    })
    .await;
    assert!(dep.metadata.deletion_timestamp.is_none());
    // A dependent whose owner never existed is collected.
    let ghost = ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some("ghost-owner".into()),
            uid: Some("00000000-0000-0000-0000-000000000000".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    cms.create(&PostParams::default(), &owned_by("orphaned", &ghost, false))
        .await
        .unwrap();
    gone(&cms, "orphaned").await;
    dc.stop().await;
}

#[tokio::test]
async fn namespace_deletion_terminates_then_empties() {
    let (dc, client) = start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    nss.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": "doomed"}})).unwrap(),
    )
    .await
    .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "doomed");
    let mut held = cm("held", json!({}));
    held.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &held).await.unwrap();
    cms.create(&PostParams::default(), &cm("free", json!({})))
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "doomed");
    secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "s"}})).unwrap(),
        )
        .await
        .unwrap();
    nss.delete("doomed", &DeleteParams::default())
        .await
        .unwrap();
    let ns = nss.get("doomed").await.unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Terminating"));
    assert!(ns.metadata.deletion_timestamp.is_some());
    // Creating in a terminating namespace is forbidden.
    let e = expect_err(
        cms.create(&PostParams::default(), &cm("late", json!({})))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));
    assert!(
        e.message.contains("because it is being terminated"),
        "{}",
        e.message
    );
    // Content without finalizers goes; the namespace waits for the held object.
    gone(&cms, "free").await;
    eventually("secret removed", || {
        let secrets = secrets.clone();
        async move {
            secrets
                .list(&ListParams::default())
                .await
                .ok()?
                .items
                .is_empty()
                .then_some(())
        }
    })
    .await;
    assert!(nss.get("doomed").await.is_ok());
    cms.patch(
        "held",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    let uid = nss.get("doomed").await.map(|n| n.metadata.uid.unwrap());
    if let Ok(uid) = uid {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            await_condition(nss.clone(), "doomed", conditions::is_deleted(&uid)),
        )
        .await
        .expect("namespace deleted")
        .unwrap();
    }
    assert_eq!(expect_err(nss.get("doomed").await).code, 404);
    dc.stop().await;
}
