//! Maintenance signals through the admin API, as ARO-RP's admin PATCH drives them: the
//! signal-only tasks (`Pending`, `CustomerActionNeeded`, `None`) record `maintenanceState` at once
//! and start no operation; a task that runs work shows the maintenance as ongoing (Planned after
//! a Pending signal, else Unplanned) and its success clears it to None. Every operation record
//! ends.

use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use crds::management::{AsyncOperation, naming};
use e2e::{Arm, cluster_body, demo_network};
use kube::api::{Api, ListParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(120);

async fn maintenance_state(arm: &Arm, name: &str) -> Value {
    let admin = arm.admin_get(name).await.unwrap();
    assert_eq!(admin.status, 200, "{}", admin.body);
    admin.body["properties"]["status"]["maintenanceState"].clone()
}

async fn operations(client: &kube::Client, arm: &Arm) -> Vec<AsyncOperation> {
    let api: Api<AsyncOperation> = Api::namespaced(
        client.clone(),
        &naming::subscription_namespace(&arm.subscription),
    );
    api.list(&ListParams::default()).await.unwrap().items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn maintenance_signals_follow_admin_updates_and_every_operation_ends() {
    let system = LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let client = system.client.clone();
    let arm = Arm::new(&system.frontend_url);
    let name = "maintained";
    let created = arm
        .put(name, &cluster_body(name, &demo_network()))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    arm.until_succeeded(name, T).await;
    let created_operations = operations(&client, &arm).await.len();

    // A signal only: recorded at once, no operation, the task not left behind.
    let signal = |task: &str| json!({"properties": {"maintenanceTask": task}});
    let pending = arm.admin_patch(name, &signal("Pending")).await.unwrap();
    assert_eq!(pending.status, 200, "{}", pending.body);
    assert_eq!(
        pending.async_operation, None,
        "a signal starts no operation"
    );
    assert_eq!(
        pending.body["properties"]["status"]["maintenanceState"],
        "Pending"
    );
    assert_eq!(
        pending.body["properties"]["status"]["provisioningState"],
        "Succeeded"
    );
    assert!(
        pending.body["properties"]["spec"]["maintenanceTask"].is_null(),
        "{}",
        pending.body
    );
    assert_eq!(maintenance_state(&arm, name).await, "Pending");
    assert_eq!(
        operations(&client, &arm).await.len(),
        created_operations,
        "a signal starts no operation"
    );

    // Work announced as pending runs as planned maintenance, and its success clears it.
    let planned = arm
        .admin_patch(name, &signal("SyncClusterObject"))
        .await
        .unwrap();
    assert_eq!(planned.status, 200, "{}", planned.body);
    assert_eq!(
        planned.body["properties"]["status"]["maintenanceState"],
        "Planned"
    );
    assert_eq!(
        planned.body["properties"]["status"]["provisioningState"],
        "AdminUpdating"
    );
    arm.until_succeeded(name, T).await;
    assert_eq!(maintenance_state(&arm, name).await, "None");

    // The customer must act; then work nobody announced runs as unplanned maintenance.
    let action = arm
        .admin_patch(name, &signal("CustomerActionNeeded"))
        .await
        .unwrap();
    assert_eq!(action.status, 200, "{}", action.body);
    assert_eq!(maintenance_state(&arm, name).await, "CustomerActionNeeded");
    let unplanned = arm.admin_patch(name, &json!({})).await.unwrap();
    assert_eq!(unplanned.status, 200, "{}", unplanned.body);
    assert_eq!(
        unplanned.body["properties"]["status"]["maintenanceState"],
        "Unplanned"
    );
    arm.until_succeeded(name, T).await;
    assert_eq!(maintenance_state(&arm, name).await, "None");

    // An SRE clears a signal by hand.
    arm.admin_patch(name, &signal("CustomerActionNeeded"))
        .await
        .unwrap();
    let cleared = arm.admin_patch(name, &signal("None")).await.unwrap();
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(maintenance_state(&arm, name).await, "None");

    // Only the create and the two updates that ran work made operations, and every one ended.
    let all = operations(&client, &arm).await;
    assert_eq!(all.len(), created_operations + 2);
    for op in &all {
        let status = op.status.clone().unwrap_or_default();
        assert!(
            status.end_time.is_some(),
            "operation {} never ended: {status:?}",
            op.spec.operation_id
        );
    }
    system.stop().await.unwrap();
}
