//! Secrets never leave their Secrets: a full lifecycle (create, listCredentials,
//! listAdminCredentials, a rejected and an accepted service principal rotation, admin update,
//! delete) with distinctive secret values, then none of those values (nor their base64 forms) may
//! appear in anything the RP shows or records outside a Kubernetes Secret: every log line of the
//! process, the OpenShiftCluster / AsyncOperation objects (statuses and operation errors) and the
//! operator's Cluster object, the frontend's and the controller's metrics, and the arm-emulator's
//! request log.
//!
//! The logs are captured at DEBUG for every target, dependencies included (kube, hyper, reqwest,
//! rustls, the Azure SDK): that is the most an operator turns on in production (`--log-level
//! debug`) when chasing a problem, so a leak at that level is a leak. TRACE is left out: it is a
//! development level that also logs HTTP/2 frames and would make this test too slow for CI.

#[path = "support/logs.rs"]
mod logs;

use std::time::Duration;

use arm_emulator::{Principal, Seed, SeedResource, demo};
use aro_local::{LocalConfig, LocalSystem};
use base64::Engine;
use e2e::{Arm, Network, cluster_body};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, ListParams, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};
use tracing_subscriber::filter::LevelFilter;

const T: Duration = Duration::from_secs(60);

const PULL_PASSWORD: &str = "LeakTest-PullPassword-8c41e2";
const QUAY_TOKEN: &str = "LeakTest-QuayToken-a9f03d";
const CLIENT_SECRET: &str = "LeakTest-ClientSecret-One-4b8e1f";
const ROTATED_SECRET: &str = "LeakTest-ClientSecret-Two-9d2c7a";
const WRONG_SECRET: &str = "LeakTest-WrongSecret-77aa31";
const SKIP_TOKEN_KEY: &str = "LeakTest-SkipTokenKey-5e7d1a93";
const CLIENT_ID: &str = "00000000-0000-0000-00d1-000000000001";
const OBJECT_ID: &str = "00000000-0000-0000-00d2-000000000001";
const ROTATED_CLIENT_ID: &str = "00000000-0000-0000-00d1-000000000002";
const ROTATED_OBJECT_ID: &str = "00000000-0000-0000-00d2-000000000002";

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A secret value under a name (for the failure message), and every form it may leak in.
struct Needle {
    name: String,
    forms: Vec<String>,
}

impl Needle {
    fn new(name: impl Into<String>, value: &str) -> Self {
        assert!(value.len() >= 8, "too short to search for: {value:?}");
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let mut forms = vec![value.to_string()];
        for engine in engines {
            let encoded = engine.encode(value);
            // A padded form may be cut short inside a longer encoding: search without padding.
            forms.push(encoded.trim_end_matches('=').to_string());
        }
        forms.dedup();
        Self {
            name: name.into(),
            forms,
        }
    }

    /// A value known only by a distinctive prefix (the header of every emulator access token).
    fn prefix(name: impl Into<String>, prefix: &str) -> Self {
        Self {
            name: name.into(),
            forms: vec![prefix.to_string()],
        }
    }
}

fn assert_no_leak(place: &str, text: &str, needles: &[Needle]) {
    assert!(!text.is_empty(), "{place}: nothing was captured");
    for needle in needles {
        for form in &needle.forms {
            if let Some(at) = text.find(form.as_str()) {
                let start = text[..at]
                    .char_indices()
                    .rev()
                    .nth(200)
                    .map_or(0, |(i, _)| i);
                let end = (at + form.len() + 200).min(text.len());
                let end = (end..=text.len())
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(text.len());
                panic!(
                    "{place} leaks {} (as {form:?}):\n...{}...",
                    needle.name,
                    &text[start..end]
                );
            }
        }
    }
}

/// Two cluster service principals with distinctive secrets, Network Contributor on the demo VNet.
fn seed_principals(emulator: &arm_emulator::EmulatorHandle) {
    let principal = |client_id: &str, secret: &str, object_id: &str| Principal {
        client_id: client_id.into(),
        client_secret: Some(secret.into()),
        federated_token: None,
        object_id: object_id.into(),
        tenant_id: None,
        restricted: true,
    };
    let grant = |object_id: &str| SeedResource {
        id: format!(
            "{}/providers/Microsoft.Authorization/roleAssignments/{}",
            demo::vnet_id(),
            uuid::Uuid::new_v4()
        ),
        body: json!({"properties": {
            "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}", demo::SUBSCRIPTION, demo::NETWORK_CONTRIBUTOR),
            "principalId": object_id,
            "principalType": "ServicePrincipal",
        }}),
    };
    emulator
        .seed(&Seed {
            principals: vec![
                principal(CLIENT_ID, CLIENT_SECRET, OBJECT_ID),
                principal(ROTATED_CLIENT_ID, ROTATED_SECRET, ROTATED_OBJECT_ID),
            ],
            resources: vec![grant(OBJECT_ID), grant(ROTATED_OBJECT_ID)],
            ..Default::default()
        })
        .unwrap();
}

/// The access token the emulator issues the RP's identity (every token shares its header).
async fn emulator_token(base_url: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            base_url.trim_end_matches('/'),
            demo::TENANT
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", demo::RP_CLIENT_ID),
            ("client_secret", demo::RP_CLIENT_SECRET),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_string()
}

/// The secret values in a kubeconfig: tokens and private keys.
fn kubeconfig_secrets(kubeconfig: &str) -> Vec<String> {
    kubeconfig
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            ["token:", "client-key-data:"]
                .iter()
                .find_map(|k| l.strip_prefix(k))
                .map(|v| v.trim().to_string())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// Every management object a customer's request leads to, as JSON text: the clusters (spec and
/// status) and the async operation records (with their errors).
async fn management_objects(client: &kube::Client) -> String {
    let clusters: Api<crds::management::OpenShiftCluster> = Api::all(client.clone());
    let operations: Api<crds::management::AsyncOperation> = Api::all(client.clone());
    let mut text = String::new();
    for c in clusters.list(&ListParams::default()).await.unwrap().items {
        text.push_str(&serde_json::to_string(&c).unwrap());
    }
    for o in operations.list(&ListParams::default()).await.unwrap().items {
        text.push_str(&serde_json::to_string(&o).unwrap());
    }
    text
}

async fn wait_ended(arm: &Arm, name: &str) -> Value {
    arm.wait_for_state(name, &["Succeeded", "Failed"], T)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_reaches_logs_statuses_errors_metrics_or_the_arm_request_log() {
    let logs = logs::capture(LevelFilter::DEBUG);
    let system = LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        lease_duration: Duration::from_secs(3),
        operator_resync: Duration::from_secs(1),
        frontend_skip_token_key: Some(aro_common::Secret::new(SKIP_TOKEN_KEY.as_bytes().to_vec())),
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let emulator = system.emulator.as_ref().unwrap();
    seed_principals(emulator);
    let arm = Arm::new(&system.frontend_url);
    let mut objects = String::new();

    // Create with a distinctive pull secret and client secret.
    let pull_auth = b64(&format!("leakuser:{PULL_PASSWORD}"));
    let quay_auth = b64(&format!("quayuser:{QUAY_TOKEN}"));
    let pull_secret = json!({"auths": {
        "registry.redhat.io": {"auth": pull_auth, "email": "leak@example.com"},
        "quay.io": {"auth": quay_auth},
    }})
    .to_string();
    let network = Network {
        vnet_id: demo::vnet_id(),
        master: demo::subnet_id("master"),
        worker: demo::subnet_id("worker"),
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
    };
    let mut body = cluster_body("leaks", &network);
    body["properties"]["clusterProfile"]["pullSecret"] = json!(pull_secret);
    let created = arm.put("leaks", &body).await.unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let cluster = wait_ended(&arm, "leaks").await;
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    objects.push_str(&management_objects(&system.client).await);

    // Credentials.
    let creds = arm.action("leaks", "listCredentials").await.unwrap();
    assert_eq!(creds.status, 200, "{}", creds.body);
    let password = creds.body["kubeadminPassword"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = arm.action("leaks", "listAdminCredentials").await.unwrap();
    assert_eq!(admin.status, 200, "{}", admin.body);
    let kubeconfig_b64 = admin.body["kubeconfig"].as_str().unwrap().to_string();
    let kubeconfig = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(&kubeconfig_b64)
            .unwrap(),
    )
    .unwrap();
    let mut kubeconfig_material = kubeconfig_secrets(&kubeconfig);
    assert!(
        !kubeconfig_material.is_empty(),
        "the user-admin kubeconfig's client key"
    );
    // The RP's own admin kubeconfig of the cluster (a token and a key) must not leak either.
    let stored = e2e::stored_cluster(&system.client, "leaks").await;
    let credentials: Api<Secret> = Api::namespaced(
        system.client.clone(),
        &stored.metadata.namespace.clone().unwrap(),
    );
    let rp_kubeconfig = credentials
        .get(&stored.status.unwrap().credentials_ref.unwrap().name)
        .await
        .unwrap()
        .data
        .unwrap()[rp_controller::actions::ADMIN_KUBECONFIG_KEY]
        .clone();
    let rp_material = kubeconfig_secrets(&String::from_utf8(rp_kubeconfig.0).unwrap());
    assert!(rp_material.len() >= 2, "a token and a key");
    kubeconfig_material.extend(rp_material);
    let cluster_client = e2e::kube_client_from(&kubeconfig).await.unwrap();

    // The operator repairs the cluster's pull secret (given the wrong type, it recreates it with
    // the customer's registries merged in): the merged secret passes through its reconcile.
    let pull_secrets: Api<Secret> = Api::namespaced(cluster_client.clone(), "openshift-config");
    let mut wrong_type = pull_secrets.get("pull-secret").await.unwrap();
    wrong_type.type_ = Some("Opaque".into());
    pull_secrets
        .replace("pull-secret", &PostParams::default(), &wrong_type)
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + T;
    while pull_secrets
        .get_opt("pull-secret")
        .await
        .unwrap()
        .and_then(|s| s.type_)
        .as_deref()
        != Some("kubernetes.io/dockerconfigjson")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the operator never repaired the pull secret"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A rotation to a wrong secret fails (a customer error, specific), then a good one succeeds.
    let rejected = arm
        .patch(
            "leaks",
            &json!({"properties": {"servicePrincipalProfile": {
                "clientId": ROTATED_CLIENT_ID, "clientSecret": WRONG_SECRET,
            }}}),
        )
        .await
        .unwrap();
    assert!(matches!(rejected.status, 200 | 202), "{}", rejected.body);
    let failed = wait_ended(&arm, "leaks").await;
    assert_eq!(
        failed["properties"]["provisioningState"], "Failed",
        "{failed}"
    );
    let operation = arm
        .get_url(rejected.async_operation.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        operation.body["error"]["code"], "InvalidServicePrincipalCredentials",
        "{}",
        operation.body
    );
    let mut answers = operation.body.to_string();
    let rotated = arm
        .patch(
            "leaks",
            &json!({"properties": {"servicePrincipalProfile": {
                "clientId": ROTATED_CLIENT_ID, "clientSecret": ROTATED_SECRET,
            }}}),
        )
        .await
        .unwrap();
    assert!(matches!(rotated.status, 200 | 202), "{}", rotated.body);
    let cluster = wait_ended(&arm, "leaks").await;
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    answers.push_str(&cluster.to_string());
    objects.push_str(&management_objects(&system.client).await);

    // Admin update.
    let admin_update = arm
        .admin_patch(
            "leaks",
            &json!({"properties": {"maintenanceTask": "OperatorUpdate"}}),
        )
        .await
        .unwrap();
    assert!(
        matches!(admin_update.status, 200 | 202),
        "{}",
        admin_update.body
    );
    let deadline = std::time::Instant::now() + T;
    loop {
        let answer = arm.admin_get("leaks").await.unwrap();
        if answer.body["properties"]["status"]["provisioningState"] != "AdminUpdating" {
            answers.push_str(&answer.body.to_string());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "admin update never ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    objects.push_str(&management_objects(&system.client).await);

    // The operator's Cluster object (it merged the customer's pull secret into the cluster's).
    let operator_cluster = ApiResource::erase::<crds::operator::Cluster>(&());
    let aro: Api<DynamicObject> = Api::all_with(cluster_client.clone(), &operator_cluster);
    let aro = aro.get("cluster").await.unwrap();
    assert!(
        aro.data["status"]["redHatKeysPresent"]
            .as_array()
            .is_some_and(|k| !k.is_empty()),
        "the pull secret controller ran: {:?}",
        aro.data
    );
    objects.push_str(&serde_json::to_string(&aro).unwrap());

    // Delete.
    let deleted = arm.delete("leaks").await.unwrap();
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    arm.wait_gone("leaks", T).await.unwrap();
    objects.push_str(&management_objects(&system.client).await);

    // What may not leak, in any form.
    let token = emulator_token(&emulator.base_url).await;
    let token_header = format!("{}.", token.split('.').next().unwrap());
    let mut needles = vec![
        Needle::new("the pull secret", &pull_secret),
        Needle::new("a pull secret auth", &pull_auth),
        Needle::new("a pull secret auth", &quay_auth),
        Needle::new("a registry password", PULL_PASSWORD),
        Needle::new("a registry token", QUAY_TOKEN),
        Needle::new("the client secret", CLIENT_SECRET),
        Needle::new("the rotated client secret", ROTATED_SECRET),
        Needle::new("the rejected client secret", WRONG_SECRET),
        Needle::new("the RP's client secret", demo::RP_CLIENT_SECRET),
        Needle::new("the skip-token key", SKIP_TOKEN_KEY),
        Needle::new("the kubeadmin password", &password),
        Needle::new("the admin kubeconfig", &kubeconfig_b64),
        Needle::new("an emulator access token", &token),
        Needle::prefix("an emulator access token", &token_header),
    ];
    for material in &kubeconfig_material {
        needles.push(Needle::new("the kubeconfig's token or key", material));
        if let Ok(pem) = base64::engine::general_purpose::STANDARD.decode(material) {
            let pem = String::from_utf8_lossy(&pem).into_owned();
            if let Some(line) = pem.lines().nth(1) {
                needles.push(Needle::new("the kubeconfig's private key", line));
            }
        }
    }

    assert_no_leak("the management objects", &objects, &needles);
    assert_no_leak("the answers and operation errors", &answers, &needles);
    assert_no_leak(
        "the frontend's metrics",
        &system.frontend_health.encode_metrics(),
        &needles,
    );
    assert_no_leak(
        "the controller's metrics",
        &system.controller_health().unwrap().encode_metrics(),
        &needles,
    );
    let requests = reqwest::get(format!(
        "{}/_admin/requests",
        emulator.base_url.trim_end_matches('/')
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(requests.contains("roleAssignments"), "{requests}");
    assert_no_leak("the arm-emulator's request log", &requests, &needles);

    system.stop().await.unwrap();
    let logs = logs.text();
    // The capture works: the debug logs of the lifecycle (and of dependencies) are there.
    assert!(logs.contains("DEBUG"), "{logs}");
    assert!(
        logs.contains("repaired the global pull secret"),
        "the operator ran"
    );
    assert_no_leak("the logs", &logs, &needles);
}
