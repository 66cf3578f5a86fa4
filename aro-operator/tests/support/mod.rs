//! A devcluster with the OpenShift kinds the operator works on, seeded like a fresh cluster, the
//! operator deployed into it (CRDs, namespace, secret, Cluster) and its master controllers running
//! in-process, plus polling helpers (no fixed sleeps).

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use aro_common::crd::apply_crds;
use aro_common::health::Health;
use aro_operator::Role;
use aro_operator::kinds::{self, Kind};
use aro_operator::manager::{ControllerOptions, run_controllers};
use aro_operator::manifests::{OperatorDeployValues, deploy};
use crds::operator::{Cluster, SINGLETON_NAME};
use devcluster::{Devcluster, DevclusterConfig};
use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const INFRA_ID: &str = "demo-x7k2p";
pub const ARO_PULL_SECRET: &str = r#"{"auths":{"arosvc.azurecr.io":{"auth":"YXJvOnNlY3JldA=="}}}"#;
pub const CUSTOMER_PULL_SECRET: &str = r#"{"auths":{"registry.redhat.io":{"auth":"cmg="},"quay.io":{"auth":"cQ==","email":"me@example.com"}}}"#;
pub const ALERTMANAGER_YAML: &str = "global:\n  resolve_timeout: 5m\nreceivers:\n- name: Default\n- name: Watchdog\n- name: Critical\n  pagerduty_configs:\n  - routing_key: customer-key\n- name: \"null\"\nroute:\n  receiver: Default\n";
/// Periodic reconcile in the tests: short, so "nothing happens while disabled" can be observed
/// through completed reconciles instead of waiting a fixed time.
pub const RESYNC: Duration = Duration::from_millis(500);

pub struct Env {
    pub dc: Devcluster,
    pub client: Client,
    pub health: Health,
    stop: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The chart values of the test cluster.
pub fn values() -> OperatorDeployValues {
    OperatorDeployValues::with_overrides(&json!({
        "operatorSecret": {"pullSecret": ARO_PULL_SECRET, "gcsCert": "gcs-cert", "gcsKey": "gcs-key"},
        "cluster": {"spec": {
            "resourceId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/demo",
            "clusterResourceGroupId": "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/aro-demo",
            "domain": "demo.eastus.aroapp.io",
            "location": "eastus",
            "infraId": INFRA_ID,
            "apiIntIP": "10.0.0.4",
            "ingressIP": "20.1.2.3",
        }}
    }))
    .expect("test values are valid")
}

fn dynamic(client: &Client, kind: &Kind, namespace: Option<&str>) -> Api<DynamicObject> {
    aro_operator::apply::dynamic_api(client, kind, namespace)
}

/// Create `obj` (JSON), then set its status when it has one (status is ignored on create).
pub async fn create(client: &Client, obj: Value) {
    let id = aro_operator::apply::object_id(&obj).unwrap();
    let api = dynamic(client, &id.kind, id.namespace.as_deref());
    let dynobj: DynamicObject = serde_json::from_value(obj.clone()).unwrap();
    let created = api.create(&PostParams::default(), &dynobj).await.unwrap();
    if let Some(status) = obj.get("status") {
        let mut with_status = created;
        with_status.data["status"] = status.clone();
        api.replace_status(&id.name, &PostParams::default(), &with_status)
            .await
            .unwrap();
    }
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

pub fn machineset(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet",
        "metadata": {"name": name, "namespace": "openshift-machine-api",
                     "labels": {"machine.openshift.io/cluster-api-cluster": INFRA_ID}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"machine.openshift.io/cluster-api-machineset": name}},
            "template": {
                "metadata": {"labels": {"machine.openshift.io/cluster-api-machine-role": "worker",
                                        "machine.openshift.io/cluster-api-machineset": name}},
                "spec": {"providerSpec": {"value": {"vnet": "vnet", "subnet": "worker", "networkResourceGroup": "vnet-rg"}}}
            }
        }
    })
}

/// OpenShift's namespaces: they exist before the operator is deployed (the chart binds its
/// Secret Roles in two of them).
pub async fn seed_namespaces(client: &Client) {
    for ns in [
        "openshift-config",
        "openshift-monitoring",
        "openshift-machine-api",
    ] {
        create(
            client,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await;
    }
}

/// What a freshly installed cluster has that the controllers read (after [`seed_namespaces`]).
pub async fn seed(client: &Client, version: &str) {
    create(
        client,
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "pull-secret", "namespace": "openshift-config"},
            "data": {".dockerconfigjson": b64(CUSTOMER_PULL_SECRET)}
        }),
    )
    .await;
    create(
        client,
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": "alertmanager-main", "namespace": "openshift-monitoring"},
            "data": {"alertmanager.yaml": b64(ALERTMANAGER_YAML)}
        }),
    )
    .await;
    create(client, json!({
        "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": {"name": "version"},
        "spec": {"clusterID": "00000000-0000-0000-0000-000000000000"},
        "status": {"desired": {"version": version},
                   "history": [{"state": "Completed", "version": version}],
                   "conditions": [{"type": "Progressing", "status": "False"}]}
    }))
    .await;
    for pool in ["master", "worker"] {
        create(client, json!({
            "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
            "metadata": {"name": pool},
            "spec": {"machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": pool}}}
        }))
        .await;
    }
    for zone in 1..=3 {
        create(
            client,
            machineset(&format!("{INFRA_ID}-worker-eastus{zone}"), 1),
        )
        .await;
    }
}

impl Env {
    /// A seeded cluster on OpenShift `version` with the operator deployed but not running.
    pub async fn new(version: &str) -> Env {
        // `RUST_LOG=aro_operator=debug cargo test ...` shows what the controllers do.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        // Access recorded: a test running the operator as its ServiceAccount names what RBAC
        // denied it.
        let dc = Devcluster::start(DevclusterConfig {
            record_access: true,
            ..DevclusterConfig::in_memory()
        })
        .await
        .unwrap();
        let client = dc.client().await.unwrap();
        apply_crds(
            &client,
            &kinds::openshift_crds(),
            aro_operator::FIELD_MANAGER,
        )
        .await
        .unwrap();
        seed_namespaces(&client).await;
        deploy(&client, &values()).await.unwrap();
        seed(&client, version).await;
        Env {
            dc,
            client,
            health: Health::new(),
            stop: CancellationToken::new(),
            task: None,
        }
    }

    /// Start the master controllers in-process (what the local cluster runtime does).
    pub fn start_operator(&mut self) {
        self.start_operator_with_azure(None);
    }

    /// [`Env::start_operator`] with an Azure network adapter (the subnets controller runs).
    pub fn start_operator_with_azure(
        &mut self,
        azure: Option<std::sync::Arc<dyn aro_operator::subnets::SubnetsApi>>,
    ) {
        let options = ControllerOptions {
            resync: RESYNC,
            health: self.health.clone(),
            azure,
            ..Default::default()
        };
        let (client, stop) = (self.client.clone(), self.stop.clone());
        self.task = Some(tokio::spawn(async move {
            run_controllers(client, Role::Master, options, stop)
                .await
                .unwrap();
        }));
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
        self.dc.stop().await;
    }

    pub async fn cluster(&self) -> Cluster {
        Api::<Cluster>::all(self.client.clone())
            .get(SINGLETON_NAME)
            .await
            .unwrap()
    }

    /// Set operator flag `key` on the Cluster.
    pub async fn set_flag(&self, key: &str, value: &str) {
        self.set_flags(&[(key, value)]).await;
    }

    /// Set several operator flags in one write.
    pub async fn set_flags(&self, flags: &[(&str, &str)]) {
        let flags: serde_json::Map<String, Value> = flags
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        Api::<Cluster>::all(self.client.clone())
            .patch(
                SINGLETON_NAME,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"operatorflags": flags}})),
            )
            .await
            .unwrap();
    }

    /// Completed reconciles of `controller` so far (from the operator's metrics).
    pub fn reconciles(&self, controller: &str) -> u64 {
        let metrics = self.health.encode_metrics();
        metrics
            .lines()
            .filter(|l| {
                l.starts_with("aro_operator_reconciles_total{")
                    && l.contains(&format!("controller=\"{controller}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// Wait until `controller` has completed `rounds` more reconciles than now: with the short
    /// resync, a reconcile that started after everything done before this call has finished.
    pub async fn wait_reconciled(&self, controller: &str, rounds: u64) {
        let target = self.reconciles(controller) + rounds;
        wait_until(&format!("{rounds} reconciles of {controller}"), || async {
            (self.reconciles(controller) >= target).then_some(())
        })
        .await;
    }
}

/// Poll `check` every 50 ms until it yields a value; panic after 30 s naming `what`.
pub async fn wait_until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An object as JSON, or None when it does not exist.
pub async fn get(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> Option<Value> {
    let kind = kinds::lookup(api_version, kind).expect("known kind");
    dynamic(client, &kind, namespace)
        .get_opt(name)
        .await
        .unwrap()
        .map(|o| serde_json::to_value(o).unwrap())
}

/// Decode a base64 Secret data value.
pub fn decode(v: &Value) -> String {
    use base64::Engine;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap(),
    )
    .unwrap()
}
