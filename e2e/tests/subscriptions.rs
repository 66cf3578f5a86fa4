//! ARM's subscription lifecycle: ARM registers a new subscription; a subscription Deleted while
//! its cluster is busy has that cluster deleted by the controller once the cluster is idle (with
//! an operation record of its own, collected once expired). Both components run under their deploy/rp grants: nothing is
//! denied, and the grants only this path uses are used (lifecycle.rs exempts them for this run).

use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use crds::management::{AsyncOperation, OpenShiftCluster, naming};
use e2e::least_privilege::{Grant, service_account_user};
use e2e::{Arm, cluster_body, seed_network};
use kube::Api;

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
    e2e::until(T, "the cluster deleted", || async {
        clusters
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    })
    .await;

    // Every operation record of the subscription expires and is collected.
    let operations: Api<AsyncOperation> = Api::namespaced(system.client.clone(), &namespace);
    e2e::until(T, "the operation records collected", || async {
        operations
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .is_empty()
    })
    .await;

    // Least privilege on this path: nothing denied to either component, and the grants that
    // only this path needs were used.
    let log = system.devcluster.as_ref().unwrap().access_log();
    e2e::least_privilege::print_denials(log);
    let rp_namespace = aro_local::identity::RP_NAMESPACE;
    for (account, needed) in [
        (
            "aro-rp-controller",
            vec![
                grant("create", "asyncoperations"),
                grant("delete", "asyncoperations"),
                grant("patch", "subscriptions/status"),
            ],
        ),
        (
            "aro-rp-frontend",
            vec![
                grant("create", "subscriptions"),
                grant("update", "subscriptions"),
            ],
        ),
    ] {
        let user = service_account_user(rp_namespace, account);
        let denied = log.denied_to(&user);
        assert!(denied.is_empty(), "{account} was denied: {denied:?}");
        let allowed = log.of_user(&user);
        for grant in needed {
            assert!(
                allowed
                    .iter()
                    .any(|r| e2e::least_privilege::covers(&grant, r)),
                "{account} never used {grant}"
            );
        }
    }
    system.stop().await.unwrap();
}

fn grant(verb: &str, resource: &str) -> Grant {
    Grant::new(verb, "rp.aro.openshift.io", resource)
}
