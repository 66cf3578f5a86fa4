//! Rolling upgrades keep what a newer replica wrote (docs/decisions/0002): an OpenShiftCluster
//! field this version does not know survives a customer PUT, a PATCH, an admin update and the
//! controller's status writes.
//!
//! The management CRD prunes unknown fields, so a newer replica's field is only stored once the
//! newer CRD declares it; the decision has the newest component install the CRDs first. The test
//! does the same: it installs this version's CRD with the newer fields added (one in the spec,
//! one in the status), writes them as that replica would (raw merge patches), then drives this
//! version's frontend and controller.

use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use crds::management::{OpenShiftCluster, naming};
use e2e::{Arm, cluster_body, demo_network};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);

/// The OpenShiftCluster CRD of a newer version: this one plus `spec.futureSettings` (an object)
/// and `status.futureProgress` (a string).
fn newer_crd() -> CustomResourceDefinition {
    let mut crd = OpenShiftCluster::crd();
    for version in &mut crd.spec.versions {
        let root = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
            .expect("a schema");
        let properties = root.properties.as_mut().expect("properties");
        let spec = properties.get_mut("spec").expect("spec");
        spec.properties.get_or_insert_default().insert(
            "futureSettings".into(),
            serde_json::from_value(json!({
                "type": "object",
                "properties": {"mode": {"type": "string"}, "level": {"type": "integer"}}
            }))
            .unwrap(),
        );
        let status = properties.get_mut("status").expect("status");
        status.properties.get_or_insert_default().insert(
            "futureProgress".into(),
            serde_json::from_value(json!({"type": "string"})).unwrap(),
        );
    }
    crd
}

/// The stored object as JSON, every field (not through this version's structs).
async fn stored(raw: &Api<DynamicObject>, object: &str) -> Value {
    serde_json::to_value(raw.get(object).await.unwrap()).unwrap()
}

fn assert_kept(object: &Value, after: &str) {
    assert_eq!(
        object["spec"]["futureSettings"],
        json!({"mode": "fast", "level": 3}),
        "the spec field is gone after {after}: {object}"
    );
    assert_eq!(
        object["status"]["futureProgress"], "phase-2",
        "the status field is gone after {after}: {object}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fields_a_newer_replica_wrote_survive_every_writer() {
    let system = LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let client = system.client.clone();
    let arm = Arm::new(&system.frontend_url);

    // The newer version's CRD goes in first, as at the start of a rollout.
    aro_common::crd::apply_crds(
        &client,
        &[newer_crd()],
        rp_controller::controller::CRD_FIELD_MANAGER,
    )
    .await
    .unwrap();

    let name = "future";
    let created = arm
        .put(name, &cluster_body(name, &demo_network()))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    arm.until_succeeded(name, T).await;

    // A newer replica writes its fields.
    let raw: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &naming::subscription_namespace(&arm.subscription),
        &ApiResource::erase::<OpenShiftCluster>(&()),
    );
    let object = naming::cluster_object_name(&arm.resource_group, name);
    raw.patch(
        &object,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"futureSettings": {"mode": "fast", "level": 3}}})),
    )
    .await
    .unwrap();
    raw.patch_status(
        &object,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"futureProgress": "phase-2"}})),
    )
    .await
    .unwrap();
    assert_kept(&stored(&raw, &object).await, "the newer replica's writes");

    // A customer PUT (an update: new tags), through the controller's status writes to Succeeded.
    let mut body = cluster_body(name, &demo_network());
    body["tags"] = json!({"owner": "put"});
    let updated = arm.put(name, &body).await.unwrap();
    assert!(matches!(updated.status, 200 | 201), "{}", updated.body);
    arm.until_succeeded(name, T).await;
    assert_kept(&stored(&raw, &object).await, "a PUT");

    // A customer PATCH.
    arm.patch_until_succeeded(name, &json!({"tags": {"owner": "patch"}}), T)
        .await;
    assert_kept(&stored(&raw, &object).await, "a PATCH");

    // An admin update that runs work, and one that only records a maintenance signal.
    let admin = arm
        .admin_patch(
            name,
            &json!({"properties": {"maintenanceTask": "SyncClusterObject"}}),
        )
        .await
        .unwrap();
    assert_eq!(admin.status, 200, "{}", admin.body);
    arm.until_succeeded(name, T).await;
    assert_kept(&stored(&raw, &object).await, "an admin update");
    let signal = arm
        .admin_patch(name, &json!({"properties": {"maintenanceTask": "Pending"}}))
        .await
        .unwrap();
    assert_eq!(signal.status, 200, "{}", signal.body);
    let object_now = stored(&raw, &object).await;
    assert_kept(&object_now, "an admin maintenance signal");
    // This version's own writes landed next to them.
    assert_eq!(object_now["spec"]["tags"], json!({"owner": "patch"}));
    system.stop().await.unwrap();
}
