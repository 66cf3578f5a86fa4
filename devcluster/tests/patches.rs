//! Patches: JSON merge patch, JSON patch (with `test`), strategic merge patch on built-ins,
//! server-side apply with conflicts, force and removal of fields a manager stops applying.

mod common;

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

#[tokio::test]
async fn merge_and_json_patches() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &cm("c", json!({"a": "1", "b": "2"})),
    )
    .await
    .unwrap();
    let c = cms
        .patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"a": null, "c": "3"}})),
        )
        .await
        .unwrap();
    let data = c.data.unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data["c"], "3");

    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/b", "value": "2"},
        {"op": "replace", "path": "/data/b", "value": "20"},
        {"op": "add", "path": "/metadata/labels", "value": {"x": "y"}},
        {"op": "copy", "from": "/data/c", "path": "/data/d"},
        {"op": "remove", "path": "/data/c"}
    ]))
    .unwrap();
    let c = cms
        .patch("c", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .unwrap();
    let data = c.data.unwrap();
    assert_eq!(data["b"], "20");
    assert_eq!(data["d"], "3");
    assert!(!data.contains_key("c"));
    assert_eq!(c.metadata.labels.unwrap()["x"], "y");

    // A failing test op: 422, nothing changes.
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/b", "value": "nope"},
        {"op": "replace", "path": "/data/b", "value": "21"}
    ]))
    .unwrap();
    let e = expect_err(
        cms.patch("c", &PatchParams::default(), &Patch::<()>::Json(ops))
            .await,
    );
    assert_eq!(
        (e.code, e.reason.as_str()),
        (422, "Invalid"),
        "{}",
        e.message
    );
    assert_eq!(cms.get("c").await.unwrap().data.unwrap()["b"], "20");
    // A test for null on a missing path passes (what kube's finalizer helper relies on).
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers", "value": null},
        {"op": "add", "path": "/metadata/finalizers", "value": ["example.com/f"]}
    ]))
    .unwrap();
    let c = cms
        .patch("c", &PatchParams::default(), &Patch::<()>::Json(ops))
        .await
        .unwrap();
    assert_eq!(
        c.metadata.finalizers.unwrap(),
        vec!["example.com/f".to_string()]
    );

    // Malformed patches: 400.
    let r = raw(
        &client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/c",
        Some("application/json-patch+json"),
        "{\"op\": \"add\"}",
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    let r = raw(
        &client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/c",
        Some("application/merge-patch+json"),
        "{",
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    // A resourceVersion in a patch is a precondition.
    let e = expect_err(
        cms.patch(
            "c",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"resourceVersion": "1"}, "data": {"z": "1"}})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    // Patching a missing object: 404.
    let e = expect_err(
        cms.patch(
            "missing",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {}})),
        )
        .await,
    );
    assert_eq!(e.code, 404);
    dc.stop().await;
}

#[tokio::test]
async fn strategic_merge_patch_follows_merge_keys() {
    let (dc, client) = start().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 80}]},
                    {"name": "sidecar", "image": "side:1"}
                ]}
            }
        }
    }))
    .unwrap();
    deps.create(&PostParams::default(), &d).await.unwrap();
    let patch = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "app:2", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]},
        {"name": "sidecar", "$patch": "delete"}
    ]}}}});
    let d = deps
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .unwrap();
    let containers = d.spec.unwrap().template.spec.unwrap().containers;
    assert_eq!(containers.len(), 1);
    let app = &containers[0];
    assert_eq!(app.image.as_deref(), Some("app:2"));
    let env: Vec<(String, String)> = app
        .env
        .clone()
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert!(env.contains(&("A".into(), "1".into())), "{env:?}");
    assert!(env.contains(&("B".into(), "20".into())), "{env:?}");
    assert!(env.contains(&("C".into(), "3".into())), "{env:?}");
    assert_eq!(env.len(), 3);
    assert_eq!(
        app.ports.as_ref().unwrap()[0].container_port,
        80,
        "untouched lists stay"
    );
    // $retainKeys / replace directive on a map.
    let d = deps
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"metadata": {"labels": {"$patch": "replace", "app": "web", "v": "2"}}}}})),
        )
        .await
        .unwrap();
    assert_eq!(
        d.spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .labels
            .unwrap()
            .len(),
        2
    );
    dc.stop().await;
}

#[tokio::test]
async fn server_side_apply_conflicts_force_and_field_removal() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let apply = |data: serde_json::Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": data});
    // Apply creates.
    let c = cms
        .patch(
            "ssa",
            &PatchParams::apply("alice"),
            &Patch::Apply(apply(json!({"a": "1", "b": "2"}))),
        )
        .await
        .unwrap();
    let mf = c.metadata.managed_fields.unwrap();
    assert_eq!(mf.len(), 1);
    assert_eq!(mf[0].manager.as_deref(), Some("alice"));
    assert_eq!(mf[0].operation.as_deref(), Some("Apply"));

    // Another manager changing alice's field: 409 Conflict with causes.
    let e = expect_err(
        cms.patch(
            "ssa",
            &PatchParams::apply("bob"),
            &Patch::Apply(apply(json!({"a": "9"}))),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    let causes = e.details.unwrap().causes;
    assert_eq!(causes.len(), 1, "{causes:?}");
    assert_eq!(causes[0].reason, "FieldManagerConflict");
    assert_eq!(causes[0].field, ".data.a");
    assert!(e.message.contains("alice"), "{}", e.message);
    // Same value: shared ownership, no conflict.
    cms.patch(
        "ssa",
        &PatchParams::apply("bob"),
        &Patch::Apply(apply(json!({"b": "2"}))),
    )
    .await
    .unwrap();
    // Force: bob takes the field.
    let c = cms
        .patch(
            "ssa",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(apply(json!({"a": "9", "b": "2"}))),
        )
        .await
        .unwrap();
    assert_eq!(c.data.as_ref().unwrap()["a"], "9");
    // alice stops applying b: b is shared with bob, so it stays; alice stops applying a (bob
    // owns it now) - then bob stops applying b: nobody owns it, so it is removed.
    cms.patch(
        "ssa",
        &PatchParams::apply("alice"),
        &Patch::Apply(apply(json!({}))),
    )
    .await
    .unwrap();
    let c = cms.get("ssa").await.unwrap();
    assert_eq!(c.data.as_ref().unwrap()["b"], "2");
    let c = cms
        .patch(
            "ssa",
            &PatchParams::apply("bob"),
            &Patch::Apply(apply(json!({"a": "9"}))),
        )
        .await
        .unwrap();
    let data = c.data.unwrap();
    assert!(!data.contains_key("b"), "{data:?}");
    assert_eq!(data["a"], "9");
    // Apply without a field manager: 400.
    let r = raw(
        &client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/ssa",
        Some("application/apply-patch+yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\n",
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    // YAML apply body and a mismatched name: 400.
    let r = raw(
        &client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/ssa?fieldManager=carol",
        Some("application/apply-patch+yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    // Apply on a custom resource (list-map keyed by name from the schema).
    install_widgets(&client).await;
    let ws = widgets(&client, "default");
    let w = |ports: serde_json::Value| {
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
               "spec": {"size": "small", "ports": ports}})
    };
    ws.patch(
        "w",
        &PatchParams::apply("alice"),
        &Patch::Apply(w(json!([{"name": "http", "port": 80}]))),
    )
    .await
    .unwrap();
    let got = ws
        .patch("w", &PatchParams::apply("bob"), &Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {"ports": [{"name": "https", "port": 443}]}})))
        .await
        .unwrap();
    assert_eq!(
        got.data["spec"]["ports"].as_array().unwrap().len(),
        2,
        "{}",
        got.data
    );
    dc.stop().await;
}
