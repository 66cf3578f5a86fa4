//! Resilience of the lifecycle: controller crashes at many points of the install, ARM faults, and
//! two controller replicas at once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use arm_emulator::{EmulatorHandle, FaultConfig, FaultRule};
use aro_local::{LocalConfig, LocalSystem, RunningController};
use crds::management::{AsyncOperation, OpenShiftCluster, ProvisioningState, naming};
use e2e::{Arm, Network, cluster_body, seed_network};
use kube::api::{Api, ListParams};
use rp_controller::context::Settings;
use rp_controller::steps::RetryPolicy;

const T: Duration = Duration::from_secs(120);

/// A test that does not end in this long fails instead of holding up the whole run.
async fn within_limit(test: impl std::future::Future<Output = ()>) {
    // RUST_LOG=warn shows what the system logs while a test runs (captured unless it fails).
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    tokio::time::timeout(Duration::from_secs(600), test)
        .await
        .expect("the test did not end within 10 minutes");
}

fn settings() -> Settings {
    Settings {
        max_poll_interval: Duration::from_millis(200),
        retry: RetryPolicy {
            max_attempts: 20,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(1),
        },
        ..Default::default()
    }
}

fn config() -> LocalConfig {
    LocalConfig {
        settings: settings(),
        lease_duration: Duration::from_secs(3),
        ..Default::default()
    }
}

/// Create `count` clusters named `<prefix>-<i>`, each in its own seeded VNet.
async fn create_clusters(
    arm: &Arm,
    emulator: &EmulatorHandle,
    prefix: &str,
    first_octet: u8,
    count: u8,
) -> Vec<String> {
    let mut names = Vec::new();
    for i in 0..count {
        let name = format!("{prefix}-{i}");
        let network: Network =
            seed_network(emulator, &format!("{name}-vnet"), first_octet + i, true).unwrap();
        let answer = arm
            .put(&name, &cluster_body(&name, &network))
            .await
            .unwrap();
        assert_eq!(answer.status, 201, "{name}: {}", answer.body);
        names.push(name);
    }
    names
}

async fn assert_all_succeeded(client: &kube::Client, arm: &Arm, names: &[String]) {
    for name in names {
        let cluster = arm
            .wait_for_state(name, &["Succeeded", "Failed"], T)
            .await
            .unwrap();
        if cluster["properties"]["provisioningState"] != "Succeeded" {
            let ns = naming::subscription_namespace(&arm.subscription);
            let api: Api<OpenShiftCluster> = Api::namespaced(client.clone(), &ns);
            let status = api
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|c| &c.spec.name == name)
                .and_then(|c| c.status);
            panic!("{name} did not succeed: {status:?}");
        }
    }
}

/// ARM paths the emulator really created more than once (the answer may have been lost to an
/// injected fault; `processedStatus` is what happened).
fn duplicate_creations(emulator: &EmulatorHandle) -> BTreeMap<String, usize> {
    let mut creations: BTreeMap<String, usize> = BTreeMap::new();
    for request in emulator.requests() {
        if request.method == "PUT" && request.processed_status == Some(201) {
            *creations
                .entry(request.path.to_ascii_lowercase())
                .or_default() += 1;
        }
    }
    creations.retain(|_, n| *n > 1);
    creations
}

/// Every cluster's create operation record exists and ended Succeeded.
async fn assert_operations_succeeded(client: &kube::Client, arm: &Arm, names: &[String]) {
    let ns = naming::subscription_namespace(&arm.subscription);
    let clusters: Api<OpenShiftCluster> = Api::namespaced(client.clone(), &ns);
    let operations: Api<AsyncOperation> = Api::namespaced(client.clone(), &ns);
    let clusters = clusters.list(&ListParams::default()).await.unwrap().items;
    let operations = operations.list(&ListParams::default()).await.unwrap().items;
    for name in names {
        let object = clusters
            .iter()
            .find(|c| &c.spec.name == name)
            .unwrap_or_else(|| panic!("{name} has no OpenShiftCluster"));
        let object_name = object.metadata.name.clone().unwrap();
        let ops: Vec<_> = operations
            .iter()
            .filter(|o| o.spec.cluster_name == object_name)
            .collect();
        assert!(!ops.is_empty(), "{name}: its operation record is lost");
        for op in ops {
            let status = op.status.clone().unwrap_or_default();
            assert_eq!(
                status.status,
                Some(ProvisioningState::Succeeded),
                "{name}: {status:?}"
            );
        }
    }
}

/// The (cluster, step) pairs currently recorded in status, for clusters still installing.
async fn steps_in_progress(client: &kube::Client, ns: &str) -> BTreeSet<(String, String)> {
    let api: Api<OpenShiftCluster> = Api::namespaced(client.clone(), ns);
    let Ok(Ok(list)) =
        tokio::time::timeout(Duration::from_secs(10), api.list(&ListParams::default())).await
    else {
        return BTreeSet::new();
    };
    list.items
        .into_iter()
        .filter_map(|c| {
            let progress = c.status?.progress?;
            Some((c.spec.name, progress.step))
        })
        .collect()
}

async fn controller_killed_at_many_points_of_the_install_still_succeeds_without_duplicates_body() {
    let data = tempfile::tempdir().unwrap();
    let mut system = LocalSystem::start(LocalConfig {
        // Durable local clusters, so a restarted controller resumes the ones it brought up.
        data_dir: Some(data.path().to_path_buf()),
        ..config()
    })
    .await
    .unwrap();
    let mut controller: RunningController = system.take_controller().unwrap();
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();
    let names = create_clusters(&arm, emulator, "crash", 40, 3).await;
    let ns = naming::subscription_namespace(&arm.subscription);

    // Kill the controller each time a cluster enters a step it was not in before, then start a
    // new one (same identity: a restarted container of the same pod), until every step was hit
    // or the install finished.
    let mut seen = BTreeSet::new();
    let mut kills = 0;
    let started = Instant::now();
    let deadline = started + T;
    loop {
        let steps = steps_in_progress(&system.client, &ns).await;
        let new: Vec<_> = steps.difference(&seen).cloned().collect();
        if !new.is_empty() {
            eprintln!("{:?}: kill {} at {new:?}", started.elapsed(), kills + 1);
            seen.extend(new);
            controller.kill().await;
            kills += 1;
            controller = system.start_controller("local-0").unwrap();
        }
        let all_done = {
            let api: Api<OpenShiftCluster> = Api::namespaced(system.client.clone(), &ns);
            let list = api.list(&ListParams::default()).await.unwrap();
            list.items.len() == names.len()
                && list.items.iter().all(|c| {
                    c.status
                        .as_ref()
                        .and_then(|s| s.provisioning_state)
                        .is_some_and(|s| s.is_terminal())
                })
        };
        if all_done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "install never ended; kills: {kills}; steps now: {steps:?}; seen: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!("{:?}: install ended after {kills} kills", started.elapsed());
    assert!(kills >= 10, "only {kills} kill points: {seen:?}");
    assert_all_succeeded(&system.client, &arm, &names).await;
    assert_operations_succeeded(&system.client, &arm, &names).await;
    let duplicates = duplicate_creations(emulator);
    assert!(duplicates.is_empty(), "created twice: {duplicates:?}");
    system.set_controller(controller);
    eprintln!("{:?}: stopping the system", started.elapsed());
    system.stop().await.unwrap();
    eprintln!("{:?}: stopped", started.elapsed());
}

async fn ten_clusters_succeed_with_twenty_percent_arm_faults_body() {
    let system = LocalSystem::start(config()).await.unwrap();
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();
    // 10% throttling (429 with Retry-After) and 10% server errors on every ARM call, half of them
    // after the request took effect (the answer is lost: the worst case for idempotency).
    emulator
        .set_faults(FaultConfig {
            rules: vec![
                FaultRule {
                    throttle_rate: 0.1,
                    retry_after_secs: 1,
                    error_rate: 0.05,
                    error_status: 503,
                    ..Default::default()
                },
                FaultRule {
                    error_rate: 0.05 / 0.85,
                    error_status: 500,
                    after_processing: true,
                    ..Default::default()
                },
            ],
            seed: Some(7),
        })
        .unwrap();
    let names = create_clusters(&arm, emulator, "faults", 50, 10).await;
    assert_all_succeeded(&system.client, &arm, &names).await;
    let injected = emulator.requests().iter().filter(|r| r.injected).count();
    assert!(injected > 20, "only {injected} faults were injected");
    assert_operations_succeeded(&system.client, &arm, &names).await;
    let duplicates = duplicate_creations(emulator);
    assert!(duplicates.is_empty(), "created twice: {duplicates:?}");
    system.stop().await.unwrap();
}

async fn two_replicas_never_run_the_same_clusters_and_the_standby_takes_over_body() {
    let mut system = LocalSystem::start(LocalConfig {
        start_controller: false,
        ..config()
    })
    .await
    .unwrap();
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();
    let a = system.start_controller("replica-a").unwrap();
    let b = system.start_controller("replica-b").unwrap();

    let first = create_clusters(&arm, emulator, "ha", 60, 3).await;
    assert_all_succeeded(&system.client, &arm, &first).await;
    // Only the leader brought clusters up: each replica has its own runtime.
    let (leader, standby) = match (a.runtime.running(), b.runtime.running()) {
        (3, 0) => (a, b),
        (0, 3) => (b, a),
        other => panic!("both replicas ran clusters: {other:?}"),
    };

    // The leader dies without releasing its lease; the standby takes over once it expires and
    // finishes new clusters (and resumes serving the old ones).
    leader.kill().await;
    let second = create_clusters(&arm, emulator, "ha2", 70, 2).await;
    assert_all_succeeded(&system.client, &arm, &second).await;
    assert!(
        standby.runtime.running() >= 2,
        "the standby never took over"
    );
    assert!(!standby.is_finished());
    let duplicates = duplicate_creations(emulator);
    assert!(duplicates.is_empty(), "created twice: {duplicates:?}");
    system.set_controller(standby);
    system.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn controller_killed_at_many_points_of_the_install_still_succeeds_without_duplicates() {
    within_limit(
        controller_killed_at_many_points_of_the_install_still_succeeds_without_duplicates_body(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_clusters_succeed_with_twenty_percent_arm_faults() {
    within_limit(ten_clusters_succeed_with_twenty_percent_arm_faults_body()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_run_the_same_clusters_and_the_standby_takes_over() {
    within_limit(two_replicas_never_run_the_same_clusters_and_the_standby_takes_over_body()).await;
}
