//! The subnets controller against devcluster and arm-emulator through the real Azure client layer:
//! it attaches the cluster NSG and the service endpoints to the workers' subnet, repairs a detached
//! NSG, keeps the subnet's other properties, and stops when its flag is false.

mod support;

use std::sync::Arc;
use std::time::Duration;

use arm_emulator::{ArmEmulator, EmulatorConfig, Seed, SeedResource, demo};
use aro_operator::azure::{ArmSubnets, NETWORK_API_VERSION};
use azure_clients::azure_core::Url;
use azure_clients::{AzureClients, AzureConfig, Credentials, RetrySettings};
use serde_json::{Value, json};
use support::*;

const SUB: &str = "00000000-0000-0000-0000-000000000001";

fn subnet_id() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/worker"
    )
}

fn nsg_id() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/aro-demo/providers/Microsoft.Network/networkSecurityGroups/{INFRA_ID}-nsg"
    )
}

/// The VNet the test cluster's MachineSets name, and the cluster NSG.
fn seed() -> Seed {
    let group = |name: &str| SeedResource {
        id: format!("/subscriptions/{SUB}/resourceGroups/{name}"),
        body: json!({"location": "eastus"}),
    };
    Seed {
        resources: vec![
            group("vnet-rg"),
            group("aro-demo"),
            SeedResource {
                id: nsg_id(),
                body: json!({"location": "eastus", "properties": {}}),
            },
            SeedResource {
                id: format!(
                    "/subscriptions/{SUB}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/vnet"
                ),
                body: json!({
                    "location": "eastus",
                    "properties": {
                        "addressSpace": {"addressPrefixes": ["10.0.0.0/22"]},
                        "subnets": [{"name": "worker", "properties": {"addressPrefix": "10.0.2.0/23"}}],
                    },
                }),
            },
        ],
        ..Default::default()
    }
}

fn arm(base_url: &str) -> azure_clients::ArmClient {
    let base = Url::parse(base_url).unwrap();
    let mut config = AzureConfig::new(
        base.clone(),
        base,
        demo::TENANT,
        Credentials::ClientSecret {
            client_id: demo::RP_CLIENT_ID.into(),
            client_secret: demo::RP_CLIENT_SECRET.into(),
        },
        SUB,
    );
    config.retry = RetrySettings {
        max_retries: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(1),
    };
    AzureClients::new(config).unwrap().arm()
}

async fn subnet(arm: &azure_clients::ArmClient) -> Value {
    arm.get(&subnet_id(), NETWORK_API_VERSION)
        .await
        .unwrap()
        .expect("the subnet exists")
}

fn attached_nsg(subnet: &Value) -> Option<String> {
    subnet["properties"]["networkSecurityGroup"]["id"]
        .as_str()
        .map(str::to_ascii_lowercase)
}

async fn detach_nsg(arm: &azure_clients::ArmClient) {
    let mut body = subnet(arm).await;
    body["properties"]
        .as_object_mut()
        .unwrap()
        .remove("networkSecurityGroup");
    let started = arm
        .put(&subnet_id(), NETWORK_API_VERSION, &body)
        .await
        .unwrap();
    arm.wait(started, Duration::from_millis(50)).await.unwrap();
}

#[tokio::test]
async fn subnets_attach_nsg_and_service_endpoints_repair_drift_and_stop_when_disabled() {
    let emulator = ArmEmulator::start(EmulatorConfig {
        seeds: vec![demo::seed(), seed()],
        lro_delay: Duration::from_millis(20),
        lro_retry_after_secs: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let arm = arm(&emulator.base_url);
    let mut env = Env::new("4.15.35").await;
    env.start_operator_with_azure(Some(Arc::new(ArmSubnets::new(arm.clone()))));

    // Missing NSG and service endpoints are added; the rest of the subnet is kept.
    let repaired = wait_until(
        "the worker subnet to carry the NSG and endpoints",
        || async {
            let s = subnet(&arm).await;
            let services: Vec<&str> = s["properties"]["serviceEndpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["service"].as_str())
                .collect();
            (attached_nsg(&s) == Some(nsg_id().to_ascii_lowercase())
                && services.contains(&"Microsoft.ContainerRegistry")
                && services.contains(&"Microsoft.Storage"))
            .then_some(s)
        },
    )
    .await;
    assert_eq!(repaired["properties"]["addressPrefix"], "10.0.2.0/23");
    let annotated = wait_until("the reconcile timestamp annotation", || async {
        let cluster = env.cluster().await;
        cluster
            .metadata
            .annotations
            .unwrap_or_default()
            .get("aro.openshift.io/lastSubnetReconcileTimestamp")
            .cloned()
    })
    .await;
    assert!(!annotated.is_empty());

    // Drift: a detached NSG is attached again.
    detach_nsg(&arm).await;
    wait_until("the detached NSG to be repaired", || async {
        (attached_nsg(&subnet(&arm).await) == Some(nsg_id().to_ascii_lowercase())).then_some(())
    })
    .await;

    // Disabled: drift stays.
    env.set_flag("aro.azuresubnets.enabled", "false").await;
    env.wait_reconciled("subnets", 2).await;
    detach_nsg(&arm).await;
    env.wait_reconciled("subnets", 3).await;
    assert_eq!(attached_nsg(&subnet(&arm).await), None);

    env.stop().await;
    emulator.stop().await.unwrap();
}
