//! What the actions' unit tests share: an in-process arm-emulator (demo seed, random loopback
//! port) with the RP's identity, a management cluster (an in-memory devcluster, only for the
//! steps that use one), a cluster runtime that only records what it is asked, and a demo cluster.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use arm_emulator::{ArmEmulator, EmulatorConfig, EmulatorHandle, demo};
use aro_common::Secret as AroSecret;
use aro_operator::manifests::OperatorDeployValues;
use async_trait::async_trait;
use azure_clients::{AzureClients, AzureConfig, Credentials};
use crds::management::{OpenShiftCluster, OpenShiftClusterSpec, OpenShiftClusterStatus};
use serde_json::{Value, json};

use super::{StepEnv, run};
use crate::cluster_runtime::{ClusterAccess, ClusterRuntime, SeedInput};
use crate::context::{Context, Metrics, Settings};
use crate::steps::{Outcome, StepId};

/// Namespace of the demo cluster's object in the management cluster.
pub const NAMESPACE: &str = "default";

/// Id of the demo cluster's resource group (the customer's subscription).
pub fn cluster_resource_group_id() -> String {
    format!(
        "/subscriptions/{}/resourceGroups/aro-demo",
        demo::SUBSCRIPTION
    )
}

/// The RP's DNS resource group.
pub fn dns_resource_group_id() -> String {
    format!(
        "/subscriptions/{}/resourceGroups/aro-rp-dns",
        demo::SUBSCRIPTION
    )
}

/// The demo cluster: in the demo VNet, public API server and ingress.
pub fn cluster() -> OpenShiftCluster {
    let resource_id = format!(
        "{}/providers/Microsoft.RedHatOpenShift/openShiftClusters/demo",
        demo::resource_group_id()
    );
    let spec: OpenShiftClusterSpec = serde_json::from_value(json!({
        "resourceId": resource_id,
        "subscriptionId": demo::SUBSCRIPTION,
        "resourceGroup": demo::RESOURCE_GROUP,
        "name": "demo",
        "location": demo::LOCATION,
        "clusterProfile": {"domain": "demo", "version": "4.15.35", "resourceGroupId": cluster_resource_group_id()},
        "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
        "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": demo::subnet_id("master")},
        "workerProfiles": [{"name": "worker", "vmSize": "Standard_D4s_v3", "diskSizeGB": 128,
            "subnetId": demo::subnet_id("worker"), "count": 3}],
        "apiserverProfile": {"visibility": "Public"},
        "ingressProfiles": [{"name": "default", "visibility": "Public"}],
    }))
    .expect("a valid spec");
    let mut cluster = OpenShiftCluster::new("demo", spec);
    cluster.metadata.namespace = Some(NAMESPACE.into());
    cluster
}

/// The status an install has once it has an infrastructure id.
pub fn installing() -> OpenShiftClusterStatus {
    OpenShiftClusterStatus {
        infra_id: Some("demo-abcde".into()),
        ..Default::default()
    }
}

/// What the recording runtime was asked, in order.
#[derive(Clone, Debug)]
pub enum RuntimeCall {
    EnsureCluster(Box<SeedInput>),
    Resume,
    ApiReady,
    InstallOperator(Box<OperatorDeployValues>),
    OperatorReady,
    #[allow(dead_code)] // read through Debug in assertions
    UserAdminKubeconfig(std::time::Duration),
    Delete,
}

/// The kubeadmin password [`RecordingRuntime`] reports for its cluster.
pub const RECORDED_KUBEADMIN_PASSWORD: &str = "Runtm-Repor-Ted12-Passw";
/// The user-admin kubeconfig [`RecordingRuntime`] issues.
pub const RECORDED_USER_ADMIN_KUBECONFIG: &str =
    "apiVersion: v1\nkind: Config\nusers:\n- name: system:admin\n";

/// A cluster runtime that records its calls; its cluster's API is `client` (when given).
#[derive(Default)]
pub struct RecordingRuntime {
    pub calls: Mutex<Vec<RuntimeCall>>,
    pub ready: Mutex<bool>,
    pub client: Option<kube::Client>,
    /// The runtime's installer builds the cluster's network (as openshift-install does), so the
    /// RP does not.
    pub installer_builds_network: bool,
}

impl RecordingRuntime {
    fn record(&self, call: RuntimeCall) {
        self.calls.lock().unwrap().push(call);
    }

    fn access() -> ClusterAccess {
        ClusterAccess {
            api_url: "https://127.0.0.1:6443".into(),
            admin_kubeconfig: AroSecret::new("apiVersion: v1\nkind: Config\n".into()),
            kubeadmin_password: Some(AroSecret::new(RECORDED_KUBEADMIN_PASSWORD.into())),
        }
    }
}

#[async_trait]
impl ClusterRuntime for RecordingRuntime {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn rp_builds_network(&self) -> bool {
        !self.installer_builds_network
    }
    async fn ensure_cluster(&self, _: &str, seed: &SeedInput) -> crate::Result<ClusterAccess> {
        self.record(RuntimeCall::EnsureCluster(Box::new(seed.clone())));
        Ok(Self::access())
    }
    async fn resume(&self, _: &str) -> crate::Result<Option<ClusterAccess>> {
        self.record(RuntimeCall::Resume);
        Ok(Some(Self::access()))
    }
    async fn api_ready(&self, _: &str) -> crate::Result<bool> {
        self.record(RuntimeCall::ApiReady);
        Ok(*self.ready.lock().unwrap())
    }
    async fn install_operator(&self, _: &str, values: &OperatorDeployValues) -> crate::Result<()> {
        self.record(RuntimeCall::InstallOperator(Box::new(values.clone())));
        Ok(())
    }
    async fn operator_ready(&self, _: &str) -> crate::Result<bool> {
        self.record(RuntimeCall::OperatorReady);
        Ok(*self.ready.lock().unwrap())
    }
    async fn user_admin_kubeconfig(
        &self,
        _: &str,
        validity: std::time::Duration,
    ) -> crate::Result<Option<AroSecret>> {
        self.record(RuntimeCall::UserAdminKubeconfig(validity));
        Ok(Some(AroSecret::new(RECORDED_USER_ADMIN_KUBECONFIG.into())))
    }
    async fn client(&self, _: &str) -> crate::Result<Option<kube::Client>> {
        Ok(self.client.clone())
    }
    async fn delete(&self, _: &str) -> crate::Result<()> {
        self.record(RuntimeCall::Delete);
        Ok(())
    }
    async fn shutdown(&self) {}
}

/// An emulator, a context acting as the RP, and the recording runtime.
pub struct Harness {
    pub emulator: EmulatorHandle,
    pub ctx: Context,
    pub runtime: Arc<RecordingRuntime>,
    /// The management cluster, when the harness has one.
    _devcluster: Option<devcluster::Devcluster>,
}

impl Harness {
    /// ARM only: the management cluster's client points at a closed port (the steps under test
    /// must not use it).
    pub async fn arm_only() -> Self {
        Self::arm_only_with(RecordingRuntime::default()).await
    }

    /// ARM only, with this runtime (the management client likewise points at a closed port).
    pub async fn arm_only_with(runtime: RecordingRuntime) -> Self {
        Self::arm_only_lro(runtime, Duration::from_millis(20)).await
    }

    /// ARM only, with this runtime and Azure operations that take `lro_delay` to complete.
    pub async fn arm_only_lro(runtime: RecordingRuntime, lro_delay: Duration) -> Self {
        let client = kube::Client::try_from(kube::Config::new(
            "http://127.0.0.1:9".parse().expect("a URL"),
        ))
        .expect("a client");
        Self::start(client, None, runtime, lro_delay).await
    }

    /// ARM and an in-memory devcluster, which is both the management cluster and the cluster's
    /// own API (the runtime's client).
    pub async fn with_kube() -> Self {
        let devcluster = devcluster::Devcluster::start(devcluster::DevclusterConfig::in_memory())
            .await
            .expect("devcluster starts");
        let client = devcluster.client().await.expect("a devcluster client");
        let runtime = RecordingRuntime {
            client: Some(client.clone()),
            ..Default::default()
        };
        Self::start(client, Some(devcluster), runtime, Duration::from_millis(20)).await
    }

    async fn start(
        client: kube::Client,
        devcluster: Option<devcluster::Devcluster>,
        runtime: RecordingRuntime,
        lro_delay: Duration,
    ) -> Self {
        let emulator = ArmEmulator::start(EmulatorConfig {
            seeds: vec![demo::seed()],
            lro_delay,
            lro_retry_after_secs: 0,
            ..Default::default()
        })
        .await
        .expect("arm-emulator starts");
        let url = azure_clients::azure_core::Url::parse(&emulator.base_url).expect("a URL");
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
        .expect("Azure clients");
        let settings = Settings {
            parent_domain: "aro.example".into(),
            dns_resource_group_id: dns_resource_group_id(),
            rp_private_endpoint_subnet_id: demo::rp_private_endpoint_subnet_id(),
            oidc_storage_account_id: demo::oidc_storage_account_id(),
            max_poll_interval: Duration::from_millis(20),
            ..Default::default()
        };
        let runtime = Arc::new(runtime);
        let ctx = Context::new(client, azure, runtime.clone(), settings, Metrics::default());
        Self {
            emulator,
            ctx,
            runtime,
            _devcluster: devcluster,
        }
    }

    /// Run `step` once, with the Azure operation it started earlier (if any).
    pub async fn run_once(
        &self,
        step: StepId,
        cluster: &OpenShiftCluster,
        status: &mut OpenShiftClusterStatus,
        pending: Option<&str>,
    ) -> Outcome {
        let mut env = StepEnv {
            ctx: &self.ctx,
            cluster,
            status,
            pending,
        };
        run(step, &mut env).await
    }

    /// Run `step` as the reconciler would until it is no longer in progress (keeping its pending
    /// Azure operation between runs); the final outcome.
    pub async fn run(
        &self,
        step: StepId,
        cluster: &OpenShiftCluster,
        status: &mut OpenShiftClusterStatus,
    ) -> Outcome {
        let mut pending: Option<String> = None;
        for _ in 0..200 {
            match self
                .run_once(step, cluster, status, pending.as_deref())
                .await
            {
                Outcome::InProgress {
                    poll_after,
                    pending_operation_url,
                } => {
                    if pending_operation_url.is_some() {
                        pending = pending_operation_url;
                    }
                    tokio::time::sleep(poll_after.min(Duration::from_millis(20))).await;
                }
                done => return done,
            }
        }
        panic!("{step} never finished")
    }

    /// The stored resource `id` (ids compare case-insensitively), as GET renders it.
    pub fn resource(&self, id: &str) -> Option<Value> {
        self.emulator
            .resources()
            .into_iter()
            .find(|r| r["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
    }

    /// The ARM writes (PUT, DELETE) so far, as `METHOD path`.
    pub fn writes(&self) -> Vec<String> {
        self.emulator
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" || r.method == "DELETE")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

/// The names of the demo cluster's infrastructure (see [`installing`]).
pub fn names() -> crate::infra::InfraNames {
    crate::infra::InfraNames {
        infra_id: "demo-abcde".into(),
        subscription_id: demo::SUBSCRIPTION.into(),
        resource_group: "aro-demo".into(),
    }
}

/// Run `steps` in order, each to its end; panics unless each is done.
pub async fn run_all(
    harness: &Harness,
    steps: &[StepId],
    cluster: &OpenShiftCluster,
    status: &mut OpenShiftClusterStatus,
) {
    for step in steps {
        let outcome = harness.run(*step, cluster, status).await;
        assert_eq!(outcome, Outcome::Done, "{step}");
    }
}

impl Harness {
    /// The management cluster's client.
    pub fn kube(&self) -> kube::Client {
        self.ctx.client.clone()
    }

    /// Write the demo cluster's customer Secret (what the frontend stages at a PUT).
    pub async fn put_customer_secret(&self, data: &[(&str, &str)]) {
        use k8s_openapi::api::core::v1::Secret;
        let api: kube::Api<Secret> = kube::Api::namespaced(self.kube(), NAMESPACE);
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(super::customer_secret_name("demo")),
                ..Default::default()
            },
            string_data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..Default::default()
        };
        api.create(&Default::default(), &secret)
            .await
            .expect("the customer Secret is written");
    }

    /// The data of Secret `namespace/name` as strings, if it exists.
    pub async fn secret_data(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<std::collections::BTreeMap<String, String>> {
        use k8s_openapi::api::core::v1::Secret;
        let api: kube::Api<Secret> = kube::Api::namespaced(self.kube(), namespace);
        let secret = api.get_opt(name).await.expect("a readable Secret")?;
        Some(
            secret
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect(),
        )
    }

    /// What the runtime was asked so far.
    pub fn runtime_calls(&self) -> Vec<RuntimeCall> {
        self.runtime.calls.lock().unwrap().clone()
    }
}

impl Harness {
    /// Register custom resource `K` in the management cluster and wait until it is served.
    pub async fn install_crd<K>(&self)
    where
        K: kube::CustomResourceExt
            + kube::Resource<DynamicType = ()>
            + Clone
            + std::fmt::Debug
            + serde::de::DeserializeOwned,
    {
        use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
        let crds: kube::Api<CustomResourceDefinition> = kube::Api::all(self.kube());
        crds.create(&Default::default(), &K::crd())
            .await
            .expect("the CRD is created");
        let api: kube::Api<K> = kube::Api::all(self.kube());
        for _ in 0..100 {
            if api.list(&Default::default()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{} is never served", K::crd_name());
    }

    /// Register a schema-less namespaced custom resource (an OpenShift kind the cluster serves)
    /// and wait until it is established.
    pub async fn install_openshift_kind(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
    ) {
        let crd = serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{group}")},
            "spec": {
                "group": group,
                "names": {"kind": kind, "plural": plural, "listKind": format!("{kind}List"),
                          "singular": kind.to_ascii_lowercase()},
                "scope": "Namespaced",
                "versions": [{"name": version, "served": true, "storage": true,
                              "subresources": {"status": {}},
                              "schema": {"openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": true}}}],
            }
        });
        let crd = serde_json::from_value(crd).expect("a CRD");
        aro_common::crd::apply_crds(&self.kube(), &[crd], "test")
            .await
            .expect("the CRD is established");
    }

    /// Register the demo subscription in tenant `tenant` (what ARM's subscription PUT records).
    pub async fn register_subscription(&self, tenant: &str) {
        use crds::management::{Subscription, SubscriptionSpec};
        self.install_crd::<Subscription>().await;
        let api: kube::Api<Subscription> = kube::Api::all(self.kube());
        let subscription = Subscription::new(
            demo::SUBSCRIPTION,
            SubscriptionSpec {
                tenant_id: Some(tenant.into()),
                ..Default::default()
            },
        );
        api.create(&Default::default(), &subscription)
            .await
            .expect("the subscription is registered");
    }
}

/// The demo cluster with the demo cluster service principal.
pub fn cluster_with_service_principal() -> OpenShiftCluster {
    let mut cluster = cluster();
    cluster.spec.service_principal_profile = Some(
        serde_json::from_value(json!({"clientId": demo::CLUSTER_CLIENT_ID}))
            .expect("a service principal profile"),
    );
    cluster
}
