//! REST semantics through kube-rs: CRUD of built-ins, metadata rules, errors with Kubernetes'
//! reasons and codes, subresources, finalizers, dryRun and fieldValidation.

mod common;

use common::*;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn crud_of_builtins_and_initial_namespaces() {
    let (dc, client) = start().await;
    let nss: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = nss
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|n| n.metadata.name.unwrap())
        .collect();
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(names.contains(&ns.to_string()), "{names:?}");
    }

    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", json!({"k": "v"})))
        .await
        .unwrap();
    let meta = &created.metadata;
    assert!(meta.uid.is_some());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    let rv1: u64 = meta.resource_version.as_ref().unwrap().parse().unwrap();

    let mut updated = created.clone();
    updated.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = cms
        .replace("a", &PostParams::default(), &updated)
        .await
        .unwrap();
    let rv2: u64 = updated
        .metadata
        .resource_version
        .as_ref()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv1);
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(cms.get("a").await.unwrap().data.unwrap()["k"], "w");

    // Cluster-scoped and namespaced in another group.
    let ns = nss
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team"}})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ns.status.unwrap().phase.as_deref(), Some("Active"));
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "team");
    let d = deps
        .create(&PostParams::default(), &deployment("web", 2))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    assert_eq!(
        deps.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
    let all: Api<Deployment> = Api::all(client.clone());
    assert_eq!(
        all.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );

    cms.delete("a", &DeleteParams::default()).await.unwrap();
    let e = expect_err(cms.get("a").await);
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));
    assert_eq!(e.message, "configmaps \"a\" not found");

    // deletecollection
    for n in ["x1", "x2", "x3"] {
        let mut c = cm(n, json!({}));
        c.metadata.labels = Some([("set".to_string(), "x".to_string())].into());
        cms.create(&PostParams::default(), &c).await.unwrap();
    }
    cms.delete_collection(
        &DeleteParams::default(),
        &ListParams::default().labels("set=x"),
    )
    .await
    .unwrap();
    let left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["kube-root-ca.crt"]);
    dc.stop().await;
}

#[tokio::test]
async fn errors_carry_kubernetes_reasons_and_codes() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &cm("a", json!({})))
        .await
        .unwrap();

    let e = expect_err(
        cms.create(&PostParams::default(), &cm("a", json!({})))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(e.message, "configmaps \"a\" already exists");

    // Stale resourceVersion.
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"x": "1"}})),
    )
    .await
    .unwrap();
    let e = expect_err(cms.replace("a", &PostParams::default(), &created).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message.contains("the object has been modified"),
        "{}",
        e.message
    );

    // Invalid name: 422 with a field cause.
    let r = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some("application/json"),
        json_body(&json!({"metadata": {"name": "Bad_Name"}})),
    )
    .await;
    let v = assert_status(&r, 422, "Invalid");
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(v["details"]["kind"], "ConfigMap");

    // Malformed body: 400.
    let r = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some("application/json"),
        "{not json",
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    // Kind mismatch: 400.
    let r = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some("application/json"),
        json_body(&json!({"kind": "Secret", "apiVersion": "v1", "metadata": {"name": "s"}})),
    )
    .await;
    assert_status(&r, 400, "BadRequest");

    // Missing namespace: 404 NotFound on the namespace.
    let other: Api<ConfigMap> = Api::namespaced(client.clone(), "nowhere");
    let e = expect_err(
        other
            .create(&PostParams::default(), &cm("a", json!({})))
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (404, "NotFound"));

    // Unknown path: 404.
    let r = raw(&client, "GET", "/apis/nope.io/v1/things", None, "").await;
    assert_status(&r, 404, "NotFound");

    // Method not allowed: PUT on a collection, POST on a named object.
    let r = raw(
        &client,
        "PUT",
        "/api/v1/namespaces/default/configmaps",
        Some("application/json"),
        "{}",
    )
    .await;
    assert_status(&r, 405, "MethodNotAllowed");

    // Unsupported media type.
    let r = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some("text/plain"),
        "hello",
    )
    .await;
    assert_status(&r, 415, "UnsupportedMediaType");

    // Request entity too large.
    let big = json!({"metadata": {"name": "big"}, "data": {"k": "x".repeat(4 * 1024 * 1024)}});
    let r = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some("application/json"),
        json_body(&big),
    )
    .await;
    assert_status(&r, 413, "RequestEntityTooLarge");

    // Bad delete options.
    let r = raw(
        &client,
        "DELETE",
        "/api/v1/namespaces/default/configmaps/a?propagationPolicy=Sideways",
        None,
        "",
    )
    .await;
    assert_status(&r, 422, "Invalid");
    // Delete precondition mismatch.
    let dp = DeleteParams::default().preconditions(kube::api::Preconditions {
        uid: Some("not-the-uid".into()),
        resource_version: None,
    });
    let e = expect_err(cms.delete("a", &dp).await);
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));

    // No credentials: the anonymous user, who is granted nothing.
    let anon = anonymous_client(&dc).await;
    let anon_cms: Api<ConfigMap> = Api::namespaced(anon.clone(), "default");
    let e = expect_err(anon_cms.get("a").await);
    assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));
    // Health endpoints need no credentials.
    let r = raw(&anon, "GET", "/healthz", None, "").await;
    assert_eq!((r.code, r.text.as_str()), (200, "ok"));
    let r = raw(&client, "GET", "/version", None, "").await;
    assert_eq!(r.json()["major"], "1");
    dc.stop().await;
}

#[tokio::test]
async fn generation_generate_name_and_managed_fields() {
    let (dc, client) = start().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d = deps
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    // Metadata change: no bump.
    let d = deps
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    // Status change through the status subresource: no bump.
    let d = deps
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"observedGeneration": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    // Spec change: bump.
    let d = deps
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));

    // generateName
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut c = cm("", json!({}));
    c.metadata.name = None;
    c.metadata.generate_name = Some("gen-".into());
    let a = cms.create(&PostParams::default(), &c).await.unwrap();
    let b = cms.create(&PostParams::default(), &c).await.unwrap();
    let (an, bn) = (a.metadata.name.unwrap(), b.metadata.name.unwrap());
    assert!(an.starts_with("gen-") && an.len() == 9, "{an}");
    assert_ne!(an, bn);
    assert_eq!(a.metadata.generate_name.as_deref(), Some("gen-"));
    // Neither name nor generateName: 422.
    let mut c = cm("", json!({}));
    c.metadata.name = None;
    let e = expect_err(cms.create(&PostParams::default(), &c).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));

    // managedFields: the field manager of an update is recorded.
    let pp = PostParams {
        field_manager: Some("my-manager".into()),
        ..Default::default()
    };
    let created = cms
        .create(&pp, &cm("managed", json!({"a": "1"})))
        .await
        .unwrap();
    let mf = created.metadata.managed_fields.unwrap();
    assert_eq!(mf.len(), 1);
    assert_eq!(mf[0].manager.as_deref(), Some("my-manager"));
    assert_eq!(mf[0].operation.as_deref(), Some("Update"));
    let fields = serde_json::to_value(&mf[0].fields_v1).unwrap();
    assert!(fields["f:data"]["f:a"].is_object(), "{fields}");
    let patched = cms
        .patch(
            "managed",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "2"}})),
        )
        .await
        .unwrap();
    let managers: Vec<String> = patched
        .metadata
        .managed_fields
        .unwrap()
        .into_iter()
        .map(|m| m.manager.unwrap_or_default())
        .collect();
    assert!(managers.contains(&"my-manager".to_string()), "{managers:?}");
    assert_eq!(managers.len(), 2, "{managers:?}");
    dc.stop().await;
}

#[tokio::test]
async fn status_and_scale_subresources_ignore_the_other_part() {
    let (dc, client) = start().await;
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "default");
    deps.create(&PostParams::default(), &deployment("web", 1))
        .await
        .unwrap();
    // Writing status through the main resource is ignored.
    let d = deps
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 5}})),
        )
        .await
        .unwrap();
    assert_eq!(d.status.and_then(|s| s.replicas), None);
    // Writing spec through the status subresource is ignored.
    let d = deps
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 7}, "status": {"replicas": 1}})),
        )
        .await
        .unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(1));
    assert_eq!(d.status.unwrap().replicas, Some(1));
    // Status PUT.
    let mut cur = deps.get("web").await.unwrap();
    cur.status.as_mut().unwrap().ready_replicas = Some(1);
    cur.spec.as_mut().unwrap().replicas = Some(9);
    let d = deps
        .replace_status("web", &PostParams::default(), &cur)
        .await
        .unwrap();
    assert_eq!(d.status.unwrap().ready_replicas, Some(1));
    assert_eq!(d.spec.unwrap().replicas, Some(1));

    // Scale.
    let scale = deps.get_scale("web").await.unwrap();
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    assert_eq!(scale.status.as_ref().unwrap().replicas, 1);
    let scale = deps
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 4}})),
        )
        .await
        .unwrap();
    assert_eq!(scale.spec.as_ref().unwrap().replicas, Some(4));
    let d = deps.get("web").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(4));
    assert_eq!(d.metadata.generation, Some(2));
    assert_eq!(d.status.unwrap().ready_replicas, Some(1));
    // Scale with a stale resourceVersion.
    let mut stale = scale.clone();
    stale.metadata.resource_version = Some("1".into());
    let e = expect_err(
        deps.replace_scale("web", &PostParams::default(), &stale)
            .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    // Negative replicas: 422.
    let e = expect_err(
        deps.patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": -1}})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    // ConfigMaps have no status subresource.
    let r = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps/x/status",
        None,
        "",
    )
    .await;
    assert_status(&r, 404, "NotFound");
    dc.stop().await;
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let mut c = cm("held", json!({}));
    c.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    cms.create(&PostParams::default(), &c).await.unwrap();
    let deleted = cms.delete("held", &DeleteParams::default()).await.unwrap();
    let obj = deleted
        .left()
        .expect("a finalized object is returned, not a Status");
    assert!(obj.metadata.deletion_timestamp.is_some());
    let got = cms.get("held").await.unwrap();
    assert!(got.metadata.deletion_timestamp.is_some());
    // No new finalizers on a deleting object.
    let e = expect_err(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/more"]}}),
            ),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (403, "Forbidden"));
    // A finalizer that is not a qualified name is invalid.
    let mut bad = cm("bad", json!({}));
    bad.metadata.finalizers = Some(vec!["example.com/hold/extra".into()]);
    let e = expect_err(cms.create(&PostParams::default(), &bad).await);
    assert_eq!((e.code, e.reason.as_str()), (422, "Invalid"));
    // Removing the last finalizer completes the deletion.
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    let e = expect_err(cms.get("held").await);
    assert_eq!(e.code, 404);
    // A pod with grace period: deleted immediately (no kubelet), returned as Status/object.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}),
    )
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    pods.delete("p", &DeleteParams::default().grace_period(0))
        .await
        .unwrap();
    assert_eq!(expect_err(pods.get("p").await).code, 404);
    dc.stop().await;
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let (dc, client) = start().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let pp = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let out = cms
        .create(&pp, &cm("dry", json!({"a": "1"})))
        .await
        .unwrap();
    assert_eq!(out.metadata.name.as_deref(), Some("dry"));
    assert_eq!(expect_err(cms.get("dry").await).code, 404);

    let real = cms
        .create(&PostParams::default(), &cm("real", json!({"a": "1"})))
        .await
        .unwrap();
    let rv = real.metadata.resource_version.clone();
    let out = cms
        .patch(
            "real",
            &PatchParams::default().dry_run(),
            &Patch::Merge(json!({"data": {"a": "2"}})),
        )
        .await
        .unwrap();
    assert_eq!(out.data.unwrap()["a"], "2");
    let got = cms.get("real").await.unwrap();
    assert_eq!(got.data.unwrap()["a"], "1");
    assert_eq!(got.metadata.resource_version, rv);
    cms.delete("real", &DeleteParams::default().dry_run())
        .await
        .unwrap();
    assert!(cms.get("real").await.is_ok());
    // Unknown dryRun value: 400.
    let r = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps?dryRun=Some",
        Some("application/json"),
        json_body(&json!({"metadata": {"name": "x"}})),
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    dc.stop().await;
}

#[tokio::test]
async fn field_validation_ignore_warn_strict() {
    let (dc, client) = start().await;
    let body = json_body(&json!({"metadata": {"name": "fv"}, "data": {"a": "1"}, "bogus": 1}));
    let path = "/api/v1/namespaces/default/configmaps";
    let r = raw(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Strict"),
        Some("application/json"),
        body.clone(),
    )
    .await;
    let v = assert_status(&r, 400, "BadRequest");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("unknown field \"bogus\""),
        "{v}"
    );

    let r = raw(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Warn"),
        Some("application/json"),
        body.clone(),
    )
    .await;
    assert_eq!(r.code, 201, "{}", r.text);
    let w = r.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("299 - ") && w[0].contains("unknown field \\\"bogus\\\""),
        "{w:?}"
    );
    assert!(r.json().get("bogus").is_none());

    let r = raw(
        &client,
        "PUT",
        &format!("{path}/fv?fieldValidation=Ignore"),
        Some("application/json"),
        body.clone(),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert!(r.warnings().is_empty());
    // Default is Warn.
    let r = raw(
        &client,
        "PUT",
        &format!("{path}/fv"),
        Some("application/json"),
        body.clone(),
    )
    .await;
    assert_eq!(r.code, 200, "{}", r.text);
    assert_eq!(r.warnings().len(), 1);
    // Unknown value: 400.
    let r = raw(
        &client,
        "POST",
        &format!("{path}?fieldValidation=Loose"),
        Some("application/json"),
        body,
    )
    .await;
    assert_status(&r, 400, "BadRequest");
    // Typed patch params reach the server too.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let e = expect_err(
        cms.patch(
            "fv",
            &PatchParams::default().validation_strict(),
            &Patch::Merge(json!({"nope": 1})),
        )
        .await,
    );
    assert_eq!((e.code, e.reason.as_str()), (400, "BadRequest"));
    dc.stop().await;
}

#[tokio::test]
async fn secret_string_data_is_folded_into_data() {
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::Secret;
    let (dc, client) = start().await;
    let secrets: Api<Secret> = Api::namespaced(client, "default");
    let created = secrets
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "metadata": {"name": "s"},
                "data": {"kept": "a2VwdA==", "both": "b2xk"},
                "stringData": {"both": "new", "plain": "text"},
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let expected = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(created.string_data, None);
    assert_eq!(
        created.data.unwrap(),
        expected(&[("kept", "kept"), ("both", "new"), ("plain", "text")])
    );
    // A patch with stringData too.
    let patched = secrets
        .patch(
            "s",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"kept": "changed"}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.string_data, None);
    assert_eq!(
        patched.data.unwrap()["kept"],
        ByteString(b"changed".to_vec())
    );
    let stored = secrets.get("s").await.unwrap();
    assert_eq!(stored.string_data, None);
    dc.stop().await;
}

/// What kube-apiserver guarantees clients under concurrency (issue 15): a create with
/// `generateName` and a PUT without `resourceVersion` of a kind that allows unconditional
/// updates never answer 409, whatever the other writers do. 64 clients at once, no client-side
/// retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn generate_name_creates_and_unconditional_puts_never_conflict_at_64_clients() {
    const CLIENTS: usize = 64;
    const WRITES: usize = 20;
    let (dc, _) = start().await;
    let client = client_without_retry(&dc).await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(&PostParams::default(), &cm("shared", json!({"n": "0"})))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let cms = cms.clone();
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for w in 0..WRITES {
                let generated: ConfigMap = serde_json::from_value(json!({
                    "metadata": {"generateName": "gen-"},
                    "data": {"client": c.to_string()}
                }))
                .unwrap();
                if let Err(e) = cms.create(&PostParams::default(), &generated).await {
                    failures.push(format!("create: {e}"));
                }
                // No resourceVersion: last writer wins.
                let update = cm("shared", json!({"n": format!("{c}-{w}")}));
                if let Err(e) = cms.replace("shared", &PostParams::default(), &update).await {
                    failures.push(format!("put: {e}"));
                }
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for task in tasks {
        failures.extend(task.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let generated = cms
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|c| {
            c.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with("gen-"))
        })
        .count();
    assert_eq!(generated, CLIENTS * WRITES);
    dc.stop().await;
}
