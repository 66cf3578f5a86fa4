//! What every reconcile shares: clients, the cluster runtime, settings and metrics.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_clients::AzureClients;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;

use crate::cluster_runtime::ClusterRuntime;
use crate::steps::RetryPolicy;

/// Settings of the lifecycle controllers.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Parent DNS domain: managed cluster domains are `<label>.<location>.<parent domain>`.
    pub parent_domain: String,
    /// ARM id of the resource group holding the RP's DNS zones (`<location>.<parent domain>`).
    pub dns_resource_group_id: String,
    /// Location of that resource group (created on first use when absent).
    pub dns_location: String,
    /// Subnet of the RP's own network where it creates a private endpoint into each cluster
    /// (empty: none).
    pub rp_private_endpoint_subnet_id: String,
    /// ARM id of the RP's storage account whose static website serves the OIDC issuers of
    /// workload identity clusters (made on first use; empty: none, and such clusters fail).
    pub oidc_storage_account_id: String,
    /// Retries of a failing step.
    pub retry: RetryPolicy,
    /// Longest wait between two polls of a wait step or an Azure operation.
    pub max_poll_interval: Duration,
    /// How long a frontend's claim on a cluster may stay unreleased before the controller completes
    /// it (the frontend died between its two writes).
    pub claim_grace: Duration,
    /// Version recorded in `status.provisionedBy`.
    pub rp_version: String,
    /// Records of finished operations are deleted this long after they end.
    pub operation_ttl: Duration,
    /// How often expired operation records are collected.
    pub gc_interval: Duration,
    /// How often a Deleted subscription with busy clusters is looked at again.
    pub subscription_retry: Duration,
    /// The frontend's ServiceAccount, `namespace/name`: bound in every subscription namespace to
    /// the ClusterRole [`crate::subscriptions::FRONTEND_SUBSCRIPTION_ROLE`] (its only access to
    /// Secrets). Empty: no binding is made (a frontend with cluster-wide grants).
    pub frontend_service_account: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            parent_domain: "aroapp.io".into(),
            dns_resource_group_id: String::new(),
            dns_location: "eastus".into(),
            rp_private_endpoint_subnet_id: String::new(),
            oidc_storage_account_id: String::new(),
            retry: RetryPolicy::default(),
            max_poll_interval: Duration::from_secs(10),
            claim_grace: Duration::from_secs(30),
            rp_version: env!("CARGO_PKG_VERSION").into(),
            operation_ttl: Duration::from_secs(7 * 24 * 3600),
            gc_interval: Duration::from_secs(3600),
            subscription_retry: Duration::from_secs(600),
            frontend_service_account: crate::subscriptions::DEFAULT_FRONTEND_SERVICE_ACCOUNT.into(),
        }
    }
}

type Labels = Vec<(String, String)>;

/// Prometheus metrics of the controllers.
#[derive(Clone)]
pub struct Metrics {
    /// Steps run, by operation, step and outcome.
    pub steps: Family<Labels, Counter>,
    /// Operations ended, by operation and result.
    pub operations: Family<Labels, Counter>,
    /// Step durations in seconds, by step.
    pub step_seconds: Family<Labels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::register(&mut prometheus_client::registry::Registry::default())
    }
}

impl Metrics {
    /// New metrics registered with `registry`.
    pub fn register(registry: &mut prometheus_client::registry::Registry) -> Self {
        let m = Self {
            steps: Family::default(),
            operations: Family::default(),
            step_seconds: Family::new_with_constructor(|| {
                Histogram::new([0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0])
            }),
        };
        registry.register(
            "rp_controller_steps",
            "Lifecycle steps run",
            m.steps.clone(),
        );
        registry.register(
            "rp_controller_operations",
            "Lifecycle operations ended",
            m.operations.clone(),
        );
        registry.register(
            "rp_controller_step_seconds",
            "Duration of lifecycle steps",
            m.step_seconds.clone(),
        );
        m
    }
}

/// Shared by every reconcile.
pub struct Context {
    /// Management cluster.
    pub client: kube::Client,
    /// Azure as the RP's own identity.
    pub azure: AzureClients,
    /// What brings clusters up.
    pub runtime: Arc<dyn ClusterRuntime>,
    /// Settings.
    pub settings: Settings,
    /// Metrics.
    pub metrics: Metrics,
    /// First sight of each unreleased frontend claim: (object key, operation) -> when.
    pub claims: std::sync::Mutex<HashMap<(String, String), Instant>>,
    /// Consecutive reconcile failures per object (the error policy's backoff).
    pub failures: crate::controller::ReconcileFailures,
}

impl Context {
    /// A context.
    pub fn new(
        client: kube::Client,
        azure: AzureClients,
        runtime: Arc<dyn ClusterRuntime>,
        settings: Settings,
        metrics: Metrics,
    ) -> Self {
        Self {
            client,
            azure,
            runtime,
            settings,
            metrics,
            claims: Default::default(),
            failures: Default::default(),
        }
    }
}
