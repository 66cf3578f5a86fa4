//! `aro operator` end to end against a real API server: client from a kubeconfig file with a
//! token of the role's ServiceAccount (so the chart's RBAC is what it may do), leader election,
//! the role's controllers, shutdown releasing the lease.

mod support;

use aro_operator::{OperatorArgs, Role, run};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::*;
use tokio_util::sync::CancellationToken;

/// Start `aro operator --role <role>` as the role's ServiceAccount and wait until it leads; a
/// request the chart's RBAC denies fails the test at once, naming it.
async fn start_leading(
    env: &Env,
    role: Role,
    dir: &std::path::Path,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<aro_operator::Result<()>>,
) {
    let account = aro_operator::manifests::service_account(role);
    let token = env
        .dc
        .service_account_token(
            aro_operator::OPERATOR_NAMESPACE,
            &account,
            &[],
            std::time::Duration::from_secs(3600),
        )
        .unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, env.dc.token_kubeconfig(&token)).unwrap();
    let mut args = OperatorArgs::for_role(role);
    args.kubeconfig = Some(kubeconfig);
    args.listen_address = "127.0.0.1:0".parse().unwrap();
    args.identity = Some("test-pod".into());
    let shutdown = CancellationToken::new();
    let process = tokio::spawn(run(args, shutdown.clone()));

    let leases = Api::<Lease>::namespaced(env.client.clone(), aro_operator::OPERATOR_NAMESPACE);
    wait_until("the operator to lead", || async {
        assert_nothing_denied(env, role);
        let lease = leases.get_opt(&account).await.unwrap()?;
        (lease.spec?.holder_identity.as_deref() == Some("test-pod")).then_some(())
    })
    .await;
    (shutdown, process)
}

/// Panics naming every request of the role's ServiceAccount that RBAC denied.
fn assert_nothing_denied(env: &Env, role: Role) {
    let user = devcluster::UserInfo::service_account(
        aro_operator::OPERATOR_NAMESPACE,
        &aro_operator::manifests::service_account(role),
    )
    .name;
    let denied = env.dc.access_log().denied_to(&user);
    assert!(
        denied.is_empty(),
        "the chart's RBAC denied {user}: {}",
        denied
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    );
}

#[tokio::test]
async fn operator_process_leads_and_repairs_the_pull_secret() {
    let env = Env::new("4.15.35").await;
    let dir = tempfile::tempdir().unwrap();
    let (shutdown, process) = start_leading(&env, Role::Master, dir.path()).await;
    let leases = Api::<Lease>::namespaced(env.client.clone(), aro_operator::OPERATOR_NAMESPACE);

    let corrupted_at = std::time::Instant::now();
    Api::<Secret>::namespaced(env.client.clone(), "openshift-config")
        .patch(
            "pull-secret",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {".dockerconfigjson": k8s_openapi::ByteString(b"{corrupt".to_vec())}})),
        )
        .await
        .unwrap();
    wait_until("the pull secret to be repaired", || async {
        let s = get(
            &env.client,
            "v1",
            "Secret",
            Some("openshift-config"),
            "pull-secret",
        )
        .await?;
        decode(&s["data"][".dockerconfigjson"])
            .contains("arosvc.azurecr.io")
            .then_some(())
    })
    .await;
    // Recorded for docs/benchmarks.md (run with --nocapture).
    eprintln!("pull-secret repair latency: {:?}", corrupted_at.elapsed());

    shutdown.cancel();
    process.await.unwrap().unwrap();
    assert_nothing_denied(&env, Role::Master);
    let lease = leases.get("aro-operator-master").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity,
        None,
        "the lease is released on shutdown"
    );
    env.stop().await;
}

/// The worker role under its own grants: it leads and its checker reports on the Cluster.
#[tokio::test]
async fn worker_process_leads_and_reports_its_check() {
    let env = Env::new("4.15.35").await;
    let dir = tempfile::tempdir().unwrap();
    let (shutdown, process) = start_leading(&env, Role::Worker, dir.path()).await;
    let condition = aro_operator::checker::condition_type(Role::Worker);
    wait_until("the worker's check on the Cluster", || async {
        assert_nothing_denied(&env, Role::Worker);
        let cluster = Api::<crds::operator::Cluster>::all(env.client.clone())
            .get("cluster")
            .await
            .ok()?;
        cluster
            .status?
            .conditions
            .iter()
            .any(|c| c.type_ == condition)
            .then_some(())
    })
    .await;
    shutdown.cancel();
    process.await.unwrap().unwrap();
    assert_nothing_denied(&env, Role::Worker);
    env.stop().await;
}
