//! CustomResourceDefinitions: establishment, discovery, schema validation with field causes,
//! defaulting, pruning, subresources, multiple versions, Table output and cleanup on deletion.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{Value, json};

#[tokio::test]
async fn crd_is_established_served_and_discoverable() {
    let (dc, client) = start().await;
    let crd = install_crd(&client, widget_crd()).await;
    let status = crd.status.unwrap();
    let conds: BTreeMap<String, String> = status
        .conditions
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, c.status))
        .collect();
    assert_eq!(conds["Established"], "True");
    assert_eq!(conds["NamesAccepted"], "True");
    assert_eq!(status.accepted_names.unwrap().kind, "Widget");
    assert_eq!(status.stored_versions, Some(vec!["v1".to_string()]));
    // The cleanup finalizer is set.
    assert!(
        crd.metadata
            .finalizers
            .unwrap()
            .contains(&"customresourcecleanup.apiextensions.k8s.io".to_string())
    );

    let r = raw(&client, "GET", "/apis/example.com/v1", None, "").await;
    let v = r.json();
    let res: Vec<&Value> = v["resources"].as_array().unwrap().iter().collect();
    let widgets = res
        .iter()
        .find(|r| r["name"] == "widgets")
        .expect("widgets listed");
    assert_eq!(widgets["kind"], "Widget");
    assert_eq!(widgets["namespaced"], true);
    assert_eq!(widgets["shortNames"], json!(["wd"]));
    assert!(res.iter().any(|r| r["name"] == "widgets/status"));
    assert!(res.iter().any(|r| r["name"] == "widgets/scale"));
    let groups = raw(&client, "GET", "/apis", None, "").await.json();
    let g = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "example.com")
        .expect("group listed");
    // Kubernetes version priority: v2 outranks v1 whatever the storage version.
    assert_eq!(g["preferredVersion"]["version"], "v2");

    // kube's discovery sees it too.
    let discovery = kube::discovery::Discovery::new(client.clone())
        .run()
        .await
        .unwrap();
    assert!(discovery.has_group("example.com"));
    // A CRD whose name does not match its names: 422.
    let mut bad = widget_crd();
    bad["metadata"]["name"] = json!("gadgets.example.com");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let e = expect_err(
        crds.create(
            &PostParams::default(),
            &serde_json::from_value(bad).unwrap(),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    dc.stop().await;
}

#[tokio::test]
async fn custom_resource_crud_validation_defaulting_pruning() {
    let (dc, client) = start().await;
    install_widgets(&client).await;
    let api = widgets(&client, "default");
    let mut w = widget(
        "w1",
        json!({"size": "small", "replicas": 1, "unknown": 1, "extra": {"free": {"form": true}}, "port": "http", "nick": null}),
    );
    w.metadata.labels = Some([("app".to_string(), "w".to_string())].into());
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert_eq!(created.data["spec"]["color"], "blue", "defaulted");
    assert!(created.data["spec"].get("unknown").is_none(), "pruned");
    assert_eq!(
        created.data["spec"]["extra"]["free"]["form"], true,
        "preserved"
    );
    assert_eq!(created.data["spec"]["port"], "http");
    assert_eq!(created.metadata.generation, Some(1));
    let got = api.get("w1").await.unwrap();
    assert_eq!(got.data["spec"]["size"], "small");
    // int-or-string takes an integer as well.
    api.patch(
        "w1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"port": 80}})),
    )
    .await
    .unwrap();

    // Schema violations: 422 with one cause per field.
    let bad = widget(
        "bad",
        json!({"size": "huge", "replicas": 11, "name": "ABC", "tags": ["a", "b", "c"], "color": 3}),
    );
    let e = expect_err(api.create(&PostParams::default(), &bad).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    assert!(
        e.message
            .starts_with("Widget.example.com \"bad\" is invalid: "),
        "{}",
        e.message
    );
    let causes: BTreeMap<String, String> = e
        .details
        .unwrap()
        .causes
        .into_iter()
        .map(|c| (c.field, c.reason))
        .collect();
    assert_eq!(causes["spec.size"], "FieldValueNotSupported", "{causes:?}");
    assert_eq!(causes["spec.replicas"], "FieldValueInvalid", "{causes:?}");
    assert_eq!(causes["spec.name"], "FieldValueInvalid", "{causes:?}");
    assert_eq!(causes["spec.tags"], "FieldValueTooMany", "{causes:?}");
    assert_eq!(causes["spec.color"], "FieldValueTypeInvalid", "{causes:?}");
    // Required.
    let e = expect_err(
        api.create(&PostParams::default(), &widget("req", json!({})))
            .await,
    );
    assert_eq!(e.code, 422);
    let cause = &e.details.unwrap().causes[0];
    assert_eq!(
        (cause.field.as_str(), cause.reason.as_str()),
        ("spec.size", "FieldValueRequired")
    );
    // maxLength
    let e = expect_err(
        api.create(
            &PostParams::default(),
            &widget("long", json!({"size": "small", "name": "abcdefghij"})),
        )
        .await,
    );
    assert_eq!(e.details.unwrap().causes[0].reason, "FieldValueTooLong");
    // Updates are validated too.
    let e = expect_err(
        api.patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": -1}})),
        )
        .await,
    );
    assert_eq!(e.code, 422);

    // Strict field validation rejects unknown fields of a custom resource.
    let r = raw(
        &client,
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets?fieldValidation=Strict",
        Some("application/json"),
        json_body(&json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "s"}, "spec": {"size": "small", "nope": 1}})),
    )
    .await;
    let v = assert_status(&r, 400, "BadRequest");
    assert!(v["message"].as_str().unwrap().contains("spec.nope"), "{v}");
    // Warn: created with a Warning header.
    let r = raw(
        &client,
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets?fieldValidation=Warn",
        Some("application/json"),
        json_body(&json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "s"}, "spec": {"size": "small", "nope": 1}})),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    assert!(
        r.warnings().iter().any(|w| w.contains("spec.nope")),
        "{:?}",
        r.warnings()
    );

    // Strategic merge patch is not supported for custom resources: 415.
    let r = raw(
        &client,
        "PATCH",
        "/apis/example.com/v1/namespaces/default/widgets/w1",
        Some("application/strategic-merge-patch+json"),
        json_body(&json!({"spec": {"replicas": 2}})),
    )
    .await;
    assert_status(&r, 415, "UnsupportedMediaType");

    // Generation: bumped on spec changes only.
    let before = api.get("w1").await.unwrap().metadata.generation.unwrap();
    let after = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"a": "b"}}})),
        )
        .await
        .unwrap();
    assert_eq!(after.metadata.generation, Some(before));
    let after = api
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}})),
        )
        .await
        .unwrap();
    assert_eq!(after.metadata.generation, Some(before + 1));

    api.delete("w1", &DeleteParams::default()).await.unwrap();
    assert_eq!(expect_err(api.get("w1").await).code, 404);
    dc.stop().await;
}

#[tokio::test]
async fn custom_resource_status_and_scale() {
    let (dc, client) = start().await;
    install_widgets(&client).await;
    let api = widgets(&client, "default");
    let mut w = widget("w", json!({"size": "small", "replicas": 1}));
    w.data["status"] = json!({"ready": true});
    let created = api.create(&PostParams::default(), &w).await.unwrap();
    assert!(
        created.data.get("status").is_none(),
        "status is dropped on create"
    );
    let s = api
        .patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}, "status": {"ready": true, "replicas": 1, "selector": "app=w"}})),
        )
        .await
        .unwrap();
    assert_eq!(s.data["status"]["ready"], true);
    assert_eq!(s.data["spec"]["replicas"], 1, "spec ignored on status");
    assert_eq!(s.metadata.generation, Some(1));
    let m = api
        .patch(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": false}})),
        )
        .await
        .unwrap();
    assert_eq!(
        m.data["status"]["ready"], true,
        "status ignored on the main resource"
    );
    // Status is validated against the schema.
    let e = expect_err(
        api.patch_status(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"ready": "yes"}})),
        )
        .await,
    );
    assert_eq!(e.code, 422);

    let scale = api.get_scale("w").await.unwrap();
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(1));
    assert_eq!(scale.status.as_ref().unwrap().replicas, 1);
    assert_eq!(
        scale.status.as_ref().unwrap().selector.as_deref(),
        Some("app=w")
    );
    let scale = api
        .patch_scale(
            "w",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(3));
    let w = api.get("w").await.unwrap();
    assert_eq!(w.data["spec"]["replicas"], 3);
    assert_eq!(w.data["status"]["ready"], true);
    dc.stop().await;
}

#[tokio::test]
async fn multiple_versions_share_storage() {
    let (dc, client) = start().await;
    install_widgets(&client).await;
    let v1 = widgets(&client, "default");
    let v2: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &widget_resource("v2"));
    v1.create(
        &PostParams::default(),
        &widget("a", json!({"size": "small"})),
    )
    .await
    .unwrap();
    let got = v2.get("a").await.unwrap();
    assert_eq!(got.types.unwrap().api_version, "example.com/v2");
    assert_eq!(got.data["spec"]["size"], "small");
    let mut b = widget("b", json!({"size": "large"}));
    b.types.as_mut().unwrap().api_version = "example.com/v2".into();
    v2.create(&PostParams::default(), &b).await.unwrap();
    let list = v1.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 2);
    assert!(
        list.items
            .iter()
            .all(|i| i.types.as_ref().unwrap().api_version == "example.com/v1")
    );
    // A version that is not served: 404.
    let r = raw(
        &client,
        "GET",
        "/apis/example.com/v3/namespaces/default/widgets",
        None,
        "",
    )
    .await;
    assert_status(&r, 404, "NotFound");
    dc.stop().await;
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_objects() {
    let (dc, client) = start().await;
    install_widgets(&client).await;
    let api = widgets(&client, "default");
    for n in ["a", "b", "c"] {
        api.create(&PostParams::default(), &widget(n, json!({"size": "small"})))
            .await
            .unwrap();
    }
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let uid = crds
        .get("widgets.example.com")
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .unwrap();
    tokio::time::timeout(
        Duration::from_secs(10),
        await_condition(
            crds.clone(),
            "widgets.example.com",
            conditions::is_deleted(&uid),
        ),
    )
    .await
    .expect("CRD deleted within 10s")
    .unwrap();
    let r = raw(
        &client,
        "GET",
        "/apis/example.com/v1/namespaces/default/widgets",
        None,
        "",
    )
    .await;
    assert_status(&r, 404, "NotFound");
    // Re-creating it serves an empty collection: the objects are gone.
    install_widgets(&client).await;
    assert!(
        api.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    dc.stop().await;
}

#[tokio::test]
async fn table_output_for_builtins_and_printer_columns() {
    let (dc, client) = start().await;
    install_widgets(&client).await;
    let api = widgets(&client, "default");
    api.create(
        &PostParams::default(),
        &widget("w", json!({"size": "large", "replicas": 2})),
    )
    .await
    .unwrap();
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let r = raw_with(
        &client,
        "GET",
        "/apis/example.com/v1/namespaces/default/widgets",
        None,
        &[("accept", accept)],
        "",
    )
    .await;
    let t = r.json();
    assert_eq!(t["kind"], "Table", "{t}");
    assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Size", "Replicas", "Age"]);
    let row = &t["rows"][0];
    assert_eq!(row["cells"][0], "w");
    assert_eq!(row["cells"][1], "large");
    assert_eq!(row["cells"][2], 2);
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");

    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "default");
    cms.create(
        &PostParams::default(),
        &cm("c", json!({"a": "1", "b": "2"})),
    )
    .await
    .unwrap();
    let r = raw_with(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps/c",
        None,
        &[("accept", accept)],
        "",
    )
    .await;
    let t = r.json();
    assert_eq!(t["kind"], "Table");
    let cols: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(cols, ["Name", "Data", "Age"]);
    assert_eq!(t["rows"][0]["cells"][1], 2);
    dc.stop().await;
}
