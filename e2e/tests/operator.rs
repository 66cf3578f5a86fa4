//! The in-cluster operator keeps a cluster created through the RP in shape: a corrupted pull
//! secret, a deleted genevalogging DaemonSet and a subnet whose NSG was detached in Azure are all
//! repaired.

use std::time::{Duration, Instant};

use aro_local::{LocalConfig, LocalSystem};
use azure_clients::AzureClients;
use azure_clients::NETWORK_API_VERSION as NETWORK_API;
use base64::Engine;
use e2e::{Arm, cluster_body, seed_network};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn admin_client(arm: &Arm, name: &str) -> kube::Client {
    let answer = arm.action(name, "listAdminCredentials").await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let kubeconfig = base64::engine::general_purpose::STANDARD
        .decode(answer.body["kubeconfig"].as_str().unwrap())
        .unwrap();
    e2e::kube_client_from(std::str::from_utf8(&kubeconfig).unwrap())
        .await
        .unwrap()
}

/// Poll `check` until it holds; returns how long that took.
async fn until<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < T, "{what} never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

fn auths_of(secret: &Secret) -> Option<serde_json::Map<String, Value>> {
    let data = secret.data.as_ref()?.get(".dockerconfigjson")?;
    let config: Value = serde_json::from_slice(&data.0).ok()?;
    config["auths"].as_object().cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_repairs_pull_secret_genevalogging_and_subnet_nsg() {
    let system = LocalSystem::start(LocalConfig {
        operator_resync: Duration::from_secs(1),
        ..Default::default()
    })
    .await
    .unwrap();
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();
    let network = seed_network(emulator, "operator-vnet", 30, true).unwrap();
    let answer = arm.put("op", &cluster_body("op", &network)).await.unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    let cluster = arm
        .wait_for_state("op", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    let client = admin_client(&arm, "op").await;

    // Pull secret: corrupt it; the operator rewrites it with the ARO registry credentials (those
    // of its own Secret, openshift-azure-operator/cluster).
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "openshift-config");
    let operator_secret: Api<Secret> = Api::namespaced(client.clone(), "openshift-azure-operator");
    let aro_keys: Vec<String> = auths_of(&operator_secret.get("cluster").await.unwrap())
        .unwrap_or_default()
        .keys()
        .cloned()
        .collect();
    secrets
        .patch(
            "pull-secret",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"data": {".dockerconfigjson": ByteString(b"{not json".to_vec())}}),
            ),
        )
        .await
        .unwrap();
    let repaired_in = until("the pull secret repair", || async {
        secrets
            .get("pull-secret")
            .await
            .ok()
            .and_then(|s| auths_of(&s))
            .is_some_and(|a| aro_keys.iter().all(|k| a.contains_key(k)))
    })
    .await;
    println!("pull secret repaired in {:?}", repaired_in);

    // genevalogging: a deleted DaemonSet comes back.
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "openshift-azure-logging");
    until("the genevalogging DaemonSet", || async {
        daemonsets.get_opt("mdsd").await.ok().flatten().is_some()
    })
    .await;
    let old_uid = daemonsets.get("mdsd").await.unwrap().metadata.uid;
    daemonsets
        .delete("mdsd", &DeleteParams::default())
        .await
        .unwrap();
    until("the genevalogging DaemonSet to come back", || async {
        daemonsets
            .get_opt("mdsd")
            .await
            .ok()
            .flatten()
            .is_some_and(|d| d.metadata.uid != old_uid)
    })
    .await;

    // subnets: detach the NSG from the worker subnet in Azure; the operator attaches it again.
    let azure = AzureClients::new(system.azure.clone()).unwrap().arm();
    let subnet = azure
        .get(&network.worker, NETWORK_API)
        .await
        .unwrap()
        .unwrap();
    let nsg = subnet["properties"]["networkSecurityGroup"]["id"]
        .as_str()
        .expect("the install attached the cluster NSG")
        .to_string();
    let mut detached = subnet.clone();
    detached["properties"]
        .as_object_mut()
        .unwrap()
        .remove("networkSecurityGroup");
    let started = azure
        .put(&network.worker, NETWORK_API, &detached)
        .await
        .unwrap();
    azure
        .wait(started, Duration::from_millis(200))
        .await
        .unwrap();
    until("the worker subnet NSG repair", || async {
        azure
            .get(&network.worker, NETWORK_API)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| {
                s["properties"]["networkSecurityGroup"]["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(&nsg))
            })
    })
    .await;
    // The rest of the subnet is as it was.
    let after = azure
        .get(&network.worker, NETWORK_API)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after["properties"]["addressPrefix"],
        subnet["properties"]["addressPrefix"]
    );
    system.stop().await.unwrap();
}
