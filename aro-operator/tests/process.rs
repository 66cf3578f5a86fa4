//! `aro operator` end to end against a real API server: client from a kubeconfig file, leader
//! election, the master controllers, shutdown releasing the lease.

mod support;

use aro_operator::{OperatorArgs, Role, run};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use support::*;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn operator_process_leads_and_repairs_the_pull_secret() {
    let env = Env::new("4.15.35").await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, env.dc.kubeconfig_yaml()).unwrap();
    let mut args = OperatorArgs::for_role(Role::Master);
    args.kubeconfig = Some(kubeconfig);
    args.listen_address = "127.0.0.1:0".parse().unwrap();
    args.identity = Some("test-pod".into());
    let shutdown = CancellationToken::new();
    let process = tokio::spawn(run(args, shutdown.clone()));

    let leases = Api::<Lease>::namespaced(env.client.clone(), aro_operator::OPERATOR_NAMESPACE);
    wait_until("the operator to lead", || async {
        let lease = leases.get_opt("aro-operator-master").await.unwrap()?;
        (lease.spec?.holder_identity.as_deref() == Some("test-pod")).then_some(())
    })
    .await;

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
    let lease = leases.get("aro-operator-master").await.unwrap();
    assert_eq!(
        lease.spec.unwrap().holder_identity,
        None,
        "the lease is released on shutdown"
    );
    env.stop().await;
}
