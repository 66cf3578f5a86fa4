//! End-to-end tests of the whole system: devcluster, arm-emulator, rp-frontend and rp-controller
//! started in-process ([`aro_local::LocalSystem`]) and driven over HTTP like ARM.
//!
//! This library holds the ARM-side client the tests use ([`Arm`]), request bodies, and helpers that
//! seed the emulator with per-cluster networks (two clusters may not share subnets).

pub mod hive;
pub mod least_privilege;

use std::time::{Duration, Instant};

use arm_emulator::{EmulatorHandle, Principal, Seed, SeedResource, demo};
use serde_json::{Value, json};

/// API version the tests speak.
pub const API_VERSION: &str = "2023-11-22";

/// The stored `OpenShiftCluster` of the cluster named `name` (its ARM name), from the management
/// cluster; panics when there is none (a test's precondition).
pub async fn stored_cluster(
    management: &kube::Client,
    name: &str,
) -> crds::management::OpenShiftCluster {
    let clusters: kube::Api<crds::management::OpenShiftCluster> =
        kube::Api::all(management.clone());
    clusters
        .list(&Default::default())
        .await
        .expect("the clusters are listed")
        .items
        .into_iter()
        .find(|c| c.spec.name == name)
        .unwrap_or_else(|| panic!("no stored cluster {name}"))
}

/// Who a client authenticates as in its cluster (a SelfSubjectReview, `kubectl auth whoami`).
pub async fn whoami(client: &kube::Client) -> k8s_openapi::api::authentication::v1::UserInfo {
    kube::Api::<k8s_openapi::api::authentication::v1::SelfSubjectReview>::all(client.clone())
        .create(&Default::default(), &Default::default())
        .await
        .expect("the client authenticates")
        .status
        .and_then(|s| s.user_info)
        .expect("a user")
}

/// Failures of the e2e helpers.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// HTTP failure.
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    /// A condition did not hold in time.
    #[error("timed out after {0:?}: {1}")]
    Timeout(Duration, String),
    /// Unexpected answer.
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    /// Emulator failure.
    #[error("arm-emulator: {0}")]
    Emulator(String),
}

/// Result with the helpers' error.
pub type Result<T> = std::result::Result<T, Error>;

/// An answer: status and JSON body (Null when empty).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Value,
    /// `Azure-AsyncOperation` header, if any.
    pub async_operation: Option<String>,
}

/// ARM as the frontend sees it.
#[derive(Clone)]
pub struct Arm {
    http: reqwest::Client,
    base: String,
    /// Subscription of the clusters.
    pub subscription: String,
    /// Resource group of the clusters.
    pub resource_group: String,
}

impl Arm {
    /// A client of the frontend at `base` (plain HTTP, no client certificate).
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            subscription: demo::SUBSCRIPTION.into(),
            resource_group: demo::RESOURCE_GROUP.into(),
        }
    }

    /// ARM id of a cluster.
    pub fn cluster_id(&self, name: &str) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.RedHatOpenShift/openShiftClusters/{name}",
            self.subscription, self.resource_group
        )
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Answer> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version={api_version}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .header("Referer", format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let async_operation = response
            .headers()
            .get("azure-asyncoperation")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok(Answer {
            status,
            body,
            async_operation,
        })
    }

    /// PUT a cluster with another api-version.
    pub async fn put_version(&self, name: &str, body: &Value, api_version: &str) -> Result<Answer> {
        self.send(
            reqwest::Method::PUT,
            &self.cluster_id(name),
            api_version,
            Some(body),
        )
        .await
    }

    /// PATCH a cluster with another api-version.
    pub async fn patch_version(
        &self,
        name: &str,
        body: &Value,
        api_version: &str,
    ) -> Result<Answer> {
        self.send(
            reqwest::Method::PATCH,
            &self.cluster_id(name),
            api_version,
            Some(body),
        )
        .await
    }

    /// GET a cluster with another api-version.
    pub async fn get_version(&self, name: &str, api_version: &str) -> Result<Answer> {
        self.send(
            reqwest::Method::GET,
            &self.cluster_id(name),
            api_version,
            None,
        )
        .await
    }

    /// List the clusters of the resource group (first page).
    pub async fn list_resource_group(&self) -> Result<Answer> {
        let path = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.RedHatOpenShift/openShiftClusters",
            self.subscription, self.resource_group
        );
        self.send(reqwest::Method::GET, &path, API_VERSION, None)
            .await
    }

    /// PUT a cluster.
    pub async fn put(&self, name: &str, body: &Value) -> Result<Answer> {
        self.send(
            reqwest::Method::PUT,
            &self.cluster_id(name),
            API_VERSION,
            Some(body),
        )
        .await
    }

    /// PATCH a cluster.
    pub async fn patch(&self, name: &str, body: &Value) -> Result<Answer> {
        self.send(
            reqwest::Method::PATCH,
            &self.cluster_id(name),
            API_VERSION,
            Some(body),
        )
        .await
    }

    /// Admin PATCH of a cluster (maintenance tasks): the admin API's route, `/admin` + the id.
    pub async fn admin_patch(&self, name: &str, body: &Value) -> Result<Answer> {
        self.send(
            reqwest::Method::PATCH,
            &format!("/admin{}", self.cluster_id(name)),
            "admin",
            Some(body),
        )
        .await
    }

    /// A request to an admin route (`/admin/...`, `api-version=admin`).
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer> {
        self.send(method, path, "admin", body).await
    }

    /// Admin GET of a cluster (the internal view SREs see).
    pub async fn admin_get(&self, name: &str) -> Result<Answer> {
        self.send(
            reqwest::Method::GET,
            &format!("/admin{}", self.cluster_id(name)),
            "admin",
            None,
        )
        .await
    }

    /// GET a cluster.
    pub async fn get(&self, name: &str) -> Result<Answer> {
        self.send(
            reqwest::Method::GET,
            &self.cluster_id(name),
            API_VERSION,
            None,
        )
        .await
    }

    /// DELETE a cluster.
    pub async fn delete(&self, name: &str) -> Result<Answer> {
        self.send(
            reqwest::Method::DELETE,
            &self.cluster_id(name),
            API_VERSION,
            None,
        )
        .await
    }

    /// POST a cluster action (`listCredentials`, `listAdminCredentials`).
    pub async fn action(&self, name: &str, action: &str) -> Result<Answer> {
        let path = format!("{}/{action}", self.cluster_id(name));
        self.send(reqwest::Method::POST, &path, API_VERSION, None)
            .await
    }

    /// GET an absolute URL from an `Azure-AsyncOperation` header.
    pub async fn get_url(&self, url: &str) -> Result<Answer> {
        let response = self.http.get(url).send().await?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok(Answer {
            status,
            body,
            async_operation: None,
        })
    }

    /// Poll GET until the cluster's provisioningState is one of `states`.
    pub async fn wait_for_state(
        &self,
        name: &str,
        states: &[&str],
        timeout: Duration,
    ) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            let answer = self.get(name).await?;
            if answer.status == 200 {
                let state = answer.body["properties"]["provisioningState"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                if states.contains(&state.as_str()) {
                    return Ok(answer.body);
                }
            }
            last = answer.body;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::Timeout(
            timeout,
            format!("{name} never reached {states:?}; last: {last}"),
        ))
    }

    /// PATCH a cluster and wait for the update to end; it must end Succeeded (else a panic with
    /// the admin view, which carries the internal error). The final GET.
    pub async fn patch_until_succeeded(
        &self,
        name: &str,
        body: &Value,
        timeout: Duration,
    ) -> Value {
        let accepted = self.patch(name, body).await.unwrap();
        assert!(matches!(accepted.status, 200 | 202), "{}", accepted.body);
        self.until_succeeded(name, timeout).await
    }

    /// Wait for the cluster's operation to end; it must end Succeeded (else a panic with the
    /// admin view). The final GET.
    pub async fn until_succeeded(&self, name: &str, timeout: Duration) -> Value {
        let cluster = self
            .wait_for_state(name, &["Succeeded", "Failed"], timeout)
            .await
            .unwrap();
        if cluster["properties"]["provisioningState"] != "Succeeded" {
            let admin = self
                .admin_get(name)
                .await
                .map(|a| a.body)
                .unwrap_or_default();
            panic!("{name} did not succeed: {cluster}\nadmin view: {admin}");
        }
        cluster
    }

    /// ARM's subscription lifecycle call: `PUT /subscriptions/{subscription}?api-version=2.0`
    /// with `state` (`Registered`, `Warned`, `Suspended`, `Deleted`, `Unregistered`).
    pub async fn put_subscription(&self, subscription: &str, state: &str) -> Result<Answer> {
        let body = json!({
            "state": state,
            "registrationDate": "2026-01-01T00:00:00Z",
            "properties": {"tenantId": demo::TENANT, "registeredFeatures": []},
        });
        self.send(
            reqwest::Method::PUT,
            &format!("/subscriptions/{subscription}"),
            "2.0",
            Some(&body),
        )
        .await
    }

    /// Poll GET until the cluster is gone (404).
    pub async fn wait_gone(&self, name: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.get(name).await?.status == 404 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::Timeout(timeout, format!("{name} was never deleted")))
    }
}

/// Poll `check` every 50 ms until it holds; after `timeout`, panics naming `what`. Returns how
/// long that took.
pub async fn until<F, Fut>(timeout: Duration, what: &str, check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    until_explained(timeout, what, String::new, check).await
}

/// [`until`], and the panic adds what `explain` says then (for example the requests the API
/// server denied: the cause, not only the consequence).
pub async fn until_explained<F, Fut>(
    timeout: Duration,
    what: &str,
    explain: impl Fn() -> String,
    mut check: F,
) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < timeout,
            "{what} never happened{}",
            explain()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

/// A kube client from a kubeconfig document (a cluster's admin kubeconfig).
pub async fn kube_client_from(kubeconfig: &str) -> Result<kube::Client> {
    let unusable = |e: &dyn std::fmt::Display| Error::Unexpected(format!("kubeconfig: {e}"));
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig).map_err(|e| unusable(&e))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| unusable(&e))?;
    kube::Client::try_from(config).map_err(|e| unusable(&e))
}

/// A network for one cluster: master and worker subnet ids, and the cluster service principal
/// (two clusters of a subscription may not share one: DuplicateClientID).
#[derive(Clone, Debug)]
pub struct Network {
    /// VNet id.
    pub vnet_id: String,
    /// Master subnet id.
    pub master: String,
    /// Worker subnet id.
    pub worker: String,
    /// Cluster service principal client id.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
}

/// The demo VNet and cluster service principal the emulator is seeded with.
pub fn demo_network() -> Network {
    Network {
        vnet_id: demo::vnet_id(),
        master: demo::subnet_id("master"),
        worker: demo::subnet_id("worker"),
        client_id: demo::CLUSTER_CLIENT_ID.into(),
        client_secret: demo::CLUSTER_CLIENT_SECRET.into(),
    }
}

/// Seed a VNet `name` (10.<octet>.0.0/22) in the demo resource group and a restricted cluster
/// service principal of its own; with `grant`, that principal and the RP get Network Contributor
/// on the VNet like on the demo VNet.
pub fn seed_network(
    emulator: &EmulatorHandle,
    name: &str,
    octet: u8,
    grant: bool,
) -> Result<Network> {
    seed_network_at(emulator, name, u32::from(octet) * 64, grant)
}

/// [`seed_network`] for the `index`-th network of up to 8,192: a /22 of its own below
/// 10.128.0.0 (the default pod CIDR) and a service principal of its own.
pub fn seed_network_at(
    emulator: &EmulatorHandle,
    name: &str,
    index: u32,
    grant: bool,
) -> Result<Network> {
    if index >= 8192 {
        return Err(Error::Unexpected(format!(
            "network index {index}: at most 8,192 networks fit below 10.128.0.0"
        )));
    }
    let (second, third) = (index / 64, (index % 64) * 4);
    let client_id = format!("00000000-0000-0000-00c1-{index:012}");
    let object_id = format!("00000000-0000-0000-00c2-{index:012}");
    let client_secret = format!("secret-{name}");
    let vnet_id = format!(
        "{}/providers/Microsoft.Network/virtualNetworks/{name}",
        demo::resource_group_id()
    );
    let mut resources = vec![SeedResource {
        id: vnet_id.clone(),
        body: json!({
            "location": demo::LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": [format!("10.{second}.{third}.0/22")]},
                "subnets": [
                    {"name": "master", "properties": {"addressPrefix": format!("10.{second}.{third}.0/23")}},
                    {"name": "worker", "properties": {"addressPrefix": format!("10.{second}.{}.0/23", third + 2)}},
                ],
            },
        }),
    }];
    if grant {
        for principal in [object_id.as_str(), demo::RP_OBJECT_ID] {
            resources.push(SeedResource {
                id: format!(
                    "{vnet_id}/providers/Microsoft.Authorization/roleAssignments/{}",
                    uuid::Uuid::new_v4()
                ),
                body: json!({"properties": {
                    "roleDefinitionId": format!("/subscriptions/{}/providers/Microsoft.Authorization/roleDefinitions/{}", demo::SUBSCRIPTION, demo::NETWORK_CONTRIBUTOR),
                    "principalId": principal,
                    "principalType": "ServicePrincipal",
                }}),
            });
        }
    }
    emulator
        .seed(&Seed {
            principals: vec![Principal {
                client_id: client_id.clone(),
                client_secret: Some(client_secret.clone().into()),
                federated_token: None,
                object_id,
                tenant_id: None,
                restricted: true,
            }],
            resources,
            ..Default::default()
        })
        .map_err(|e| Error::Emulator(e.to_string()))?;
    Ok(Network {
        master: format!("{vnet_id}/subnets/master"),
        worker: format!("{vnet_id}/subnets/worker"),
        vnet_id,
        client_id,
        client_secret,
    })
}

/// The ARM id of the cluster resource group a test cluster gets.
pub fn cluster_resource_group_id(name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/aro-{name}",
        demo::SUBSCRIPTION
    )
}

/// A create body for cluster `name` in `network`.
pub fn cluster_body(name: &str, network: &Network) -> Value {
    json!({
        "location": demo::LOCATION,
        "tags": {"purpose": "e2e"},
        "properties": {
            "clusterProfile": {
                "domain": name,
                "resourceGroupId": cluster_resource_group_id(name),
                "pullSecret": "{\"auths\":{\"registry.redhat.io\":{\"auth\":\"dXNlcjpwYXNz\"}}}",
                "fipsValidatedModules": "Disabled"
            },
            "servicePrincipalProfile": {
                "clientId": network.client_id,
                "clientSecret": network.client_secret
            },
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": network.master},
            "workerProfiles": [{
                "name": "worker", "vmSize": "Standard_D4s_v3", "diskSizeGB": 128,
                "subnetId": network.worker, "count": 3
            }],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}]
        }
    })
}

/// Resources the emulator holds that belong to a cluster: anything in its resource group, its
/// DNS records, and the RP's private endpoint tagged for it.
pub fn cluster_resources(emulator: &EmulatorHandle, name: &str) -> Vec<String> {
    let group = cluster_resource_group_id(name).to_ascii_lowercase();
    let cluster_suffix = format!(
        "/providers/microsoft.redhatopenshift/openshiftclusters/{}",
        name.to_ascii_lowercase()
    );
    emulator
        .resources()
        .iter()
        .filter(|r| {
            let lower = r["id"].as_str().unwrap_or_default().to_ascii_lowercase();
            let tagged_for = r["tags"][rp_controller::actions::OWNER_TAG]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            lower == group
                || lower.starts_with(&format!("{group}/"))
                || lower.contains(&format!("/a/api.{}", name.to_ascii_lowercase()))
                || lower.contains(&format!("/a/*.apps.{}", name.to_ascii_lowercase()))
                || (lower.contains("/providers/microsoft.network/privateendpoints/")
                    && tagged_for.ends_with(&cluster_suffix))
        })
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

/// Lifecycle settings for tests: polls at most every 200 ms and quick retries, so a lifecycle
/// takes seconds.
pub fn fast_settings() -> rp_controller::context::Settings {
    rp_controller::context::Settings {
        max_poll_interval: Duration::from_millis(200),
        retry: rp_controller::steps::RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        },
        ..Default::default()
    }
}
