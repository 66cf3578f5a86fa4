//! Create-time checks in Azure (ARO-RP's `ValidateNewCluster`: SKUs, quota, provider
//! registration) over real HTTP: the frontend reaches an in-process arm-emulator through the real
//! Azure SDK clients with the RP's identity. Each refusal is answered at PUT with ARO-RP's code,
//! message and target, and stores nothing (GET 404, no OpenShiftCluster, no AsyncOperation); the
//! deployment preflight gives the same error for a new cluster and validates an existing one as
//! an update.

mod support;

use std::time::Duration;

use arm_emulator::compute::SkuRestriction;
use arm_emulator::{ArmEmulator, EmulatorConfig, EmulatorHandle, ProviderRegistration, Seed, demo};
use azure_clients::azure_core::Url;
use azure_clients::{AzureClients, AzureConfig, Credentials};
use crds::management::{AsyncOperation, OpenShiftCluster};
use kube::api::{Api, ListParams};
use reqwest::StatusCode;
use rp_frontend::{Frontend, FrontendConfig};
use serde_json::{Value, json};
use support::SUB;

const NS: &str = "Microsoft.RedHatOpenShift";
const VERSION: &str = "2023-11-22";

struct Env {
    emulator: EmulatorHandle,
    client: kube::Client,
    base: String,
    http: reqwest::Client,
    _dc: devcluster::Devcluster,
}

/// The frontend over a devcluster, calling the emulator with the demo RP identity.
async fn start() -> Env {
    let (dc, client) = support::management_cluster().await;
    let emulator = ArmEmulator::start(EmulatorConfig {
        seeds: vec![demo::seed()],
        lro_delay: Duration::from_millis(20),
        lro_retry_after_secs: 0,
        ..Default::default()
    })
    .await
    .unwrap();
    let url = Url::parse(&emulator.base_url).unwrap();
    let azure = AzureClients::new(AzureConfig::new(
        url.clone(),
        url,
        demo::TENANT,
        Credentials::ClientSecret {
            client_id: demo::RP_CLIENT_ID.into(),
            client_secret: demo::RP_CLIENT_SECRET.into(),
        },
        demo::SUBSCRIPTION,
    ))
    .unwrap();
    let config = FrontendConfig {
        azure: Some(azure),
        ..FrontendConfig::insecure_for_loopback("eastus")
    };
    let app = Frontend::router(client.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    support::register_subscription(&http, &base).await;
    Env {
        emulator,
        client,
        base,
        http,
        _dc: dc,
    }
}

fn cluster_path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/{NS}/openShiftClusters/{name}")
}

fn body(name: &str) -> Value {
    let subnet = |n: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/vnet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{n}"
        )
    };
    json!({
        "location": "eastus",
        "properties": {
            "clusterProfile": {"pullSecret": "{\"auths\":{}}", "domain": format!("d{name}"), "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-{name}")},
            "servicePrincipalProfile": {"clientId": "2f3a4b5c-0000-4000-8000-00000000000a", "clientSecret": "top-secret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master")},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D2s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

impl Env {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}?api-version={VERSION}", self.base));
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn preflight(&self, name: &str, cluster: &Value) -> Value {
        let mut resource = cluster.clone();
        resource["type"] = json!(format!("{NS}/openShiftClusters"));
        resource["apiVersion"] = json!(VERSION);
        resource["name"] = json!(name);
        let path = format!(
            "/subscriptions/{SUB}/resourceGroups/rg/providers/{NS}/deployments/d/preflight"
        );
        let (status, b) = self
            .send(
                reqwest::Method::POST,
                &path,
                Some(&json!({"resources": [resource]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{b}");
        b
    }

    /// The emulator as the demo seed left it, plus `seed`.
    fn reseed(&self, seed: Seed) {
        self.emulator.reset(true).unwrap();
        self.emulator.seed(&seed).unwrap();
    }

    async fn stored_nothing(&self, name: &str) {
        let (status, b) = self
            .send(reqwest::Method::GET, &cluster_path(name), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}: {b}");
        let ns = support::namespace();
        let clusters: Api<OpenShiftCluster> = Api::namespaced(self.client.clone(), &ns);
        let ops: Api<AsyncOperation> = Api::namespaced(self.client.clone(), &ns);
        let lp = ListParams::default();
        assert!(
            clusters
                .list(&lp)
                .await
                .map(|l| l.items)
                .unwrap_or_default()
                .is_empty(),
            "{name}: a cluster stored"
        );
        assert!(
            ops.list(&lp)
                .await
                .map(|l| l.items)
                .unwrap_or_default()
                .is_empty(),
            "{name}: an operation stored"
        );
    }
}

fn restriction(name: &str, zones: &[&str]) -> SkuRestriction {
    SkuRestriction {
        name: name.into(),
        location: "eastus".into(),
        zones: zones.iter().map(|z| z.to_string()).collect(),
        reason_code: "NotAvailableForSubscription".into(),
    }
}

#[tokio::test]
async fn refused_creates_answer_aro_codes_and_store_nothing() {
    let env = start().await;
    // 4 master-size VMs (three masters and bootstrap) of 8 cores, 3 workers of 2: 38 DSv3 cores.
    let cases: Vec<(&str, Seed, &str, Option<&str>, &str)> = vec![
        (
            "family-quota",
            Seed {
                quotas: [("standardDSv3Family".to_string(), 30)].into(),
                ..Default::default()
            },
            "ResourceQuotaExceeded",
            None,
            "Resource quota of standardDSv3Family exceeded. Maximum allowed: 30, Current in use: 0, Additional requested: 38.",
        ),
        (
            "total-quota",
            Seed {
                quotas: [("cores".to_string(), 37)].into(),
                ..Default::default()
            },
            "ResourceQuotaExceeded",
            None,
            "Resource quota of cores exceeded. Maximum allowed: 37, Current in use: 0, Additional requested: 38.",
        ),
        (
            "ip-quota",
            Seed {
                quotas: [("PublicIPAddresses".to_string(), 2)].into(),
                ..Default::default()
            },
            "ResourceQuotaExceeded",
            None,
            "Resource quota of PublicIPAddresses exceeded. Maximum allowed: 2, Current in use: 0, Additional requested: 3.",
        ),
        (
            "region-sku",
            Seed {
                sku_restrictions: vec![restriction("Standard_D8s_v3", &[])],
                ..Default::default()
            },
            "InvalidParameter",
            Some("properties.masterProfile.VMSize"),
            "The selected SKU 'Standard_D8s_v3' is restricted in region 'eastus' for selected subscription",
        ),
        (
            "zone-sku",
            Seed {
                sku_restrictions: vec![restriction("Standard_D2s_v3", &["2"])],
                ..Default::default()
            },
            "InvalidParameter",
            Some("properties.workerProfiles[0].VMSize"),
            "The selected SKU 'Standard_D2s_v3' is restricted in region 'eastus' for selected subscription",
        ),
        (
            "provider",
            Seed {
                providers: vec![ProviderRegistration {
                    subscription: SUB.into(),
                    namespace: "Microsoft.Storage".into(),
                    registration_state: "NotRegistered".into(),
                }],
                ..Default::default()
            },
            "ResourceProviderNotRegistered",
            None,
            "The resource provider 'Microsoft.Storage' is not registered.",
        ),
    ];
    let mut failures = Vec::new();
    for (name, seed, code, target, message) in cases {
        env.reseed(seed);
        let cluster = body(name);
        let want = (
            code.to_string(),
            target.map(str::to_string),
            message.to_string(),
        );
        let (status, b) = env
            .send(reqwest::Method::PUT, &cluster_path(name), Some(&cluster))
            .await;
        let got = (
            b["error"]["code"].as_str().unwrap_or_default().to_string(),
            b["error"]["target"].as_str().map(str::to_string),
            b["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        if status != StatusCode::BAD_REQUEST || got != want {
            failures.push(format!("PUT {name}: {status} {b}"));
        }
        env.stored_nothing(name).await;
        let p = env.preflight(name, &cluster).await;
        let got = (
            p["error"]["code"].as_str().unwrap_or_default().to_string(),
            p["error"]["target"].as_str().map(str::to_string),
            p["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        if p["status"] != "Failed" || got != want {
            failures.push(format!("preflight {name}: {p}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn valid_create_succeeds_and_preflight_of_an_existing_cluster_checks_an_update() {
    let env = start().await;
    let cluster = body("ok");
    let p = env.preflight("ok", &cluster).await;
    assert_eq!(p["status"], "Succeeded", "{p}");
    let (status, b) = env
        .send(reqwest::Method::PUT, &cluster_path("ok"), Some(&cluster))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");

    // The same SKU restricted now: an update does not check SKUs, quota or registrations (as
    // ARO-RP), so the preflight of the existing cluster passes ...
    env.reseed(Seed {
        sku_restrictions: vec![restriction("Standard_D8s_v3", &[])],
        quotas: [("cores".to_string(), 1)].into(),
        ..Default::default()
    });
    let p = env.preflight("ok", &cluster).await;
    assert_eq!(p["status"], "Succeeded", "{p}");
    // ... while a new cluster of the same shape is refused.
    let p = env.preflight("new", &body("new")).await;
    assert_eq!(
        p["error"]["target"], "properties.masterProfile.VMSize",
        "{p}"
    );
    // An update's own rules apply: a changed immutable field.
    let mut changed = cluster.clone();
    changed["properties"]["networkProfile"]["podCidr"] = json!("10.132.0.0/14");
    let p = env.preflight("ok", &changed).await;
    assert_eq!(p["status"], "Failed", "{p}");
    assert_eq!(p["error"]["code"], "PropertyChangeNotAllowed", "{p}");
    assert_eq!(
        p["error"]["target"], "properties.networkProfile.podCidr",
        "{p}"
    );
}
