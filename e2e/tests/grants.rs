//! The paths lifecycle.rs does not take, each proving the deploy/rp grants only it uses (the
//! lifecycle test exempts them from its "every grant used" check and names this file):
//! - ARM's subscription lifecycle: ARM registers a new subscription; a subscription Deleted while
//!   its cluster is busy has that cluster deleted by the controller once the cluster is idle
//!   (with an operation record of its own, collected once expired);
//! - the admin API's catalogue: OpenShift versions and workload identity role sets created and
//!   updated, and the role sets customers list.
//!
//! Each component runs under its deploy/rp grants: nothing is denied, and the grants the path
//! needs are used.

use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use crds::management::{
    AsyncOperation, OpenShiftCluster, OpenShiftVersionSpec, PlatformWorkloadIdentityRole,
    PlatformWorkloadIdentityRoleSetSpec, naming,
};
use e2e::least_privilege::{assert_used, paths};
use e2e::{Arm, cluster_body, seed_network};
use kube::Api;
use reqwest::Method;
use serde_json::json;

const T: Duration = Duration::from_secs(60);

/// The subscription this test registers itself (the seed registers demo's).
const NEW_SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000000d5";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_subscriptions_clusters_are_deleted_under_least_privilege() {
    let mut settings = e2e::fast_settings();
    // Operation records expire at once, so the collector's delete runs in this test.
    settings.operation_ttl = Duration::from_secs(1);
    settings.gc_interval = Duration::from_millis(500);
    // The Deleted subscription's busy cluster is looked at again soon.
    settings.subscription_retry = Duration::from_millis(500);
    let system = LocalSystem::start(LocalConfig {
        settings,
        record_access: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let arm = Arm::new(&system.frontend_url);

    // ARM registers a new subscription (the frontend creates its record).
    let registered = arm
        .put_subscription(NEW_SUBSCRIPTION, "Registered")
        .await
        .unwrap();
    assert_eq!(registered.status, 200, "{}", registered.body);

    let emulator = system.emulator.as_ref().unwrap();
    let network = seed_network(emulator, "subs-vnet", 40, true).unwrap();
    let created = arm
        .put("subs", &cluster_body("subs", &network))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);

    // ARM deletes the subscription while the cluster is still being created: the frontend leaves
    // the busy cluster to the controller, which deletes it (an operation of its own) once the
    // create ends.
    let deleted = arm
        .put_subscription(&arm.subscription, "Deleted")
        .await
        .unwrap();
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    // (ARM answers nothing but InvalidSubscriptionState for a Deleted subscription's resources:
    // watch the management cluster.)
    let namespace = naming::subscription_namespace(&arm.subscription.to_lowercase());
    let clusters: Api<OpenShiftCluster> = Api::namespaced(system.client.clone(), &namespace);
    until_none_left(&clusters, "the cluster deleted").await;
    // Every operation record of the subscription expires and is collected.
    let operations: Api<AsyncOperation> = Api::namespaced(system.client.clone(), &namespace);
    until_none_left(&operations, "the operation records collected").await;

    // Least privilege on this path: nothing denied, and the grants only it needs were used.
    assert_used(&system, "aro-rp-controller", &paths::deleted_subscription());
    assert_used(&system, "aro-rp-frontend", &paths::subscription_lifecycle());
    system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_catalogue_is_upserted_and_listed_under_least_privilege() {
    let system = LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        record_access: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let arm = Arm::new(&system.frontend_url);
    let mut version = OpenShiftVersionSpec {
        version: "4.99.1".into(),
        open_shift_pullspec: "quay.io/openshift-release-dev/ocp-release@sha256:99".into(),
        installer_pullspec: "arointsvc.azurecr.io/aro-installer:4.99".into(),
        enabled: false,
        ..Default::default()
    };
    let mut role_set = PlatformWorkloadIdentityRoleSetSpec {
        open_shift_version: "4.99".into(),
        platform_workload_identity_roles: vec![PlatformWorkloadIdentityRole {
            operator_name: "CloudControllerManager".into(),
            role_definition_name: "Azure Red Hat OpenShift Cloud Controller Manager".into(),
            role_definition_id: "a1f96423-95ce-4224-ab27-4e3dc72facd4".into(),
            service_accounts: vec![
                "system:serviceaccount:openshift-cloud-controller-manager:cloud-controller-manager"
                    .into(),
            ],
            ..Default::default()
        }],
    };
    // Each is created, then updated.
    for enabled in [false, true] {
        version.enabled = enabled;
        let answer = arm
            .admin(Method::PUT, "/admin/versions", Some(&json!(version)))
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        role_set.platform_workload_identity_roles[0].role_definition_name =
            format!("role, enabled {enabled}");
        let answer = arm
            .admin(
                Method::PUT,
                "/admin/platformworkloadidentityrolesets",
                Some(&json!(role_set)),
            )
            .await
            .unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let listed = arm
        .admin(Method::GET, "/admin/platformworkloadidentityrolesets", None)
        .await
        .unwrap();
    assert!(
        listed.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["openShiftVersion"] == "4.99"
                && r["platformWorkloadIdentityRoles"][0]["roleDefinitionName"]
                    == "role, enabled true"),
        "{}",
        listed.body
    );
    // The enabled version is installable.
    let versions = arm
        .get_url(&format!(
            "{}/subscriptions/{}/providers/Microsoft.RedHatOpenShift/locations/eastus/openShiftVersions?api-version=2023-11-22",
            system.frontend_url, arm.subscription
        ))
        .await
        .unwrap();
    assert!(
        versions.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["properties"]["version"] == "4.99.1"),
        "{}",
        versions.body
    );

    assert_used(&system, "aro-rp-frontend", &paths::admin_catalogue());
    system.stop().await.unwrap();
}

/// Wait until `api` lists nothing.
async fn until_none_left<K>(api: &Api<K>, what: &str)
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    e2e::until(T, what, || async {
        api.list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    })
    .await;
}
