//! `aro controller`: the lifecycle, subscription and operation-record controllers, behind leader
//! election on a Lease so that several replicas are safe (one leads, the others wait).
//!
//! Horizontal scale: `--shard-selector` restricts a replica set to the clusters whose labels match
//! (for example `rp.aro.openshift.io/shard=1` set by an admission policy or by the frontend), and
//! each shard elects its own leader on its own Lease (`--lease-name`). Shards must not overlap.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aro_common::health::Health;
use aro_common::kube_client::store_ready;
use aro_common::leader::{self, LeaseConfig};
use aro_common::shutdown::drive_controller;
use azure_clients::{AzureArgs, AzureClients};
use crds::management::{OpenShiftCluster, Subscription};
use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio_util::sync::CancellationToken;

use crate::cluster_runtime::ClusterRuntime;
use crate::context::{Context, Metrics, Settings};
use crate::steps::RetryPolicy;
use crate::{Error, Result, gc, lifecycle, subscriptions};

/// Flags of `aro controller`.
#[derive(clap::Args, Debug, Clone)]
pub struct ControllerArgs {
    /// Kubeconfig of the management cluster; without it, in-cluster configuration or the default
    /// kubeconfig.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Azure endpoint and the RP's identity.
    #[command(flatten)]
    pub azure: AzureArgs,
    /// Parent DNS domain of managed cluster domains.
    #[arg(long, env = "ARO_PARENT_DOMAIN", default_value = "aroapp.io")]
    pub parent_domain: String,
    /// ARM id of the resource group of the RP's DNS zones (`<location>.<parent domain>`); without
    /// it no DNS records are managed.
    #[arg(long, env = "ARO_DNS_RESOURCE_GROUP_ID")]
    pub dns_resource_group_id: Option<String>,
    /// Region of the DNS resource group when the controller has to create it.
    #[arg(long, default_value = "eastus")]
    pub dns_location: String,
    /// ARM id of a subnet of the RP's own network: each cluster gets a private endpoint there,
    /// connected to its private link service (as ARO reaches private API servers); without it no
    /// endpoint is made.
    #[arg(long, env = "ARO_RP_PRIVATE_ENDPOINT_SUBNET_ID")]
    pub rp_private_endpoint_subnet_id: Option<String>,
    /// ARM id of the RP's storage account whose static website (its `$web` container) serves
    /// the OIDC issuers of workload identity clusters; created on first use. Without it, workload
    /// identity clusters fail to install.
    #[arg(long, env = "ARO_OIDC_STORAGE_ACCOUNT_ID")]
    pub oidc_storage_account_id: Option<String>,
    /// What creates the clusters: `hive` (ClusterDeployments for the Hive operator, as ARO-RP's
    /// hive mode; production), `installer` (runs openshift-install in this process's host), or
    /// `local` (each cluster an embedded API server in this process: for `aro local` and tests
    /// only, never production).
    #[arg(long, env = "ARO_CLUSTER_RUNTIME", value_enum)]
    pub cluster_runtime: RuntimeKind,
    /// `local` runtime: directory of the clusters (durable across restarts); in memory when
    /// absent.
    #[arg(long, env = "ARO_LOCAL_CLUSTERS_DIR")]
    pub local_clusters_dir: Option<PathBuf>,
    /// `installer` runtime: the openshift-install binary (a path, or a name looked up in PATH).
    #[arg(
        long,
        env = "ARO_INSTALLER_BINARY",
        default_value = "openshift-install"
    )]
    pub installer_binary: PathBuf,
    /// `installer` runtime: where each cluster's install directory is kept (durable: it holds what
    /// `destroy cluster` needs). Required with `--cluster-runtime=installer`.
    #[arg(long, env = "ARO_INSTALLER_WORK_DIR")]
    pub installer_work_dir: Option<PathBuf>,
    /// `installer` runtime: per-version binaries, `<dir>/<version>/openshift-install`, each
    /// extracted from its version's installer image; without it `--installer-binary` installs
    /// every version (with the version's release image as override).
    #[arg(long, env = "ARO_INSTALLER_BINARIES_DIR")]
    pub installer_binaries_dir: Option<PathBuf>,
    /// The frontend's ServiceAccount (`namespace/name`), which the controller binds in each
    /// subscription namespace to the ClusterRole aro-rp-frontend-subscription (deploy/rp): the
    /// frontend's only access to Secrets. Empty: no bindings (the frontend's grants cover it).
    #[arg(
        long,
        env = "ARO_FRONTEND_SERVICE_ACCOUNT",
        default_value = crate::subscriptions::DEFAULT_FRONTEND_SERVICE_ACCOUNT
    )]
    pub frontend_service_account: String,
    /// `hive` runtime: kubeconfig of the cluster Hive runs on; without it, the management cluster.
    #[arg(long, env = "ARO_HIVE_KUBECONFIG")]
    pub hive_kubeconfig: Option<PathBuf>,
    /// `hive` runtime: prefix of each cluster's namespace on the Hive cluster
    /// (`<prefix><infra id>`).
    #[arg(long, default_value = crate::cluster_runtime::hive::DEFAULT_NAMESPACE_PREFIX)]
    pub hive_namespace_prefix: String,
    /// `installer` runtime: how long one `create cluster` or `destroy cluster` may run, in minutes.
    #[arg(long, default_value_t = 60)]
    pub installer_timeout_minutes: u64,
    /// Clusters reconciled concurrently.
    #[arg(long, default_value_t = 32)]
    pub workers: u16,
    /// Only reconcile clusters whose labels match this selector (sharding).
    #[arg(long, env = "ARO_SHARD_SELECTOR")]
    pub shard_selector: Option<String>,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "aro-rp-controller")]
    pub lease_name: String,
    /// This replica's identity in the Lease; default the pod name, else host name and process id.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Seconds a Lease stays valid without renewal; the leader stops after two thirds of it
    /// without a successful renewal, and retries every two fifteenths.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, env = "ARO_CONTROLLER_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,
    /// Attempts of a failing step before the operation fails.
    #[arg(long, default_value_t = 10)]
    pub max_attempts: u32,
    /// Longest wait between two polls, in seconds.
    #[arg(long, default_value_t = 10)]
    pub max_poll_seconds: u64,
    /// Create or update the management CRDs at start.
    #[arg(long)]
    pub install_crds: bool,
}

/// The cluster runtimes `aro controller` can run (see docs/architecture.md).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeKind {
    /// Each cluster an embedded API server in this process (aro local and tests only).
    Local,
    /// openshift-install run by this process.
    Installer,
    /// ClusterDeployments reconciled by Hive.
    Hive,
}

impl ControllerArgs {
    /// The cluster runtime these flags choose, built on the management cluster's `client`.
    pub async fn cluster_runtime(&self, client: &kube::Client) -> Result<Arc<dyn ClusterRuntime>> {
        match self.cluster_runtime {
            RuntimeKind::Local => self.local_runtime(),
            RuntimeKind::Installer => {
                let work_dir = self.installer_work_dir.clone().ok_or_else(|| {
                    Error::Config(
                        "--cluster-runtime=installer needs --installer-work-dir (where install directories are kept)".into(),
                    )
                })?;
                let mut config = crate::cluster_runtime::InstallerConfig::new(
                    self.installer_binary.clone(),
                    work_dir,
                );
                config.timeout = Duration::from_secs(self.installer_timeout_minutes.max(1) * 60);
                config.binaries_dir = self.installer_binaries_dir.clone();
                tracing::info!(binary = %config.binary.display(), work_dir = %config.work_dir.display(), "cluster runtime: installer");
                Ok(Arc::new(crate::cluster_runtime::InstallerRuntime::new(
                    config,
                )))
            }
            RuntimeKind::Hive => {
                let hive = match &self.hive_kubeconfig {
                    Some(path) => {
                        let yaml = std::fs::read_to_string(path)
                            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                        crate::cluster_runtime::remote::client_from_kubeconfig(&yaml)
                            .await
                            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
                    }
                    None => client.clone(),
                };
                let config = crate::cluster_runtime::hive::HiveConfig {
                    namespace_prefix: self.hive_namespace_prefix.clone(),
                    poll_interval: Duration::from_secs(self.max_poll_seconds.max(1)),
                };
                tracing::info!(
                    hive_cluster = if self.hive_kubeconfig.is_some() {
                        "from --hive-kubeconfig"
                    } else {
                        "the management cluster"
                    },
                    namespace_prefix = config.namespace_prefix,
                    "cluster runtime: hive"
                );
                Ok(Arc::new(crate::cluster_runtime::hive::HiveRuntime::new(
                    hive, config,
                )))
            }
        }
    }

    #[cfg(feature = "local-runtime")]
    fn local_runtime(&self) -> Result<Arc<dyn ClusterRuntime>> {
        tracing::warn!(
            clusters_dir = ?self.local_clusters_dir,
            "cluster runtime: local. Clusters are embedded API servers in this process, for `aro local` and tests only: never use it in production (--cluster-runtime=hive or installer)"
        );
        Ok(Arc::new(crate::cluster_runtime::LocalRuntime::new(
            self.local_clusters_dir.clone(),
        )))
    }

    #[cfg(not(feature = "local-runtime"))]
    fn local_runtime(&self) -> Result<Arc<dyn ClusterRuntime>> {
        Err(Error::Config(
            "--cluster-runtime=local: this build has no local runtime (feature local-runtime)"
                .into(),
        ))
    }

    /// The lifecycle settings these flags describe.
    pub fn settings(&self) -> Settings {
        Settings {
            parent_domain: self.parent_domain.clone(),
            dns_resource_group_id: self.dns_resource_group_id.clone().unwrap_or_default(),
            dns_location: self.dns_location.clone(),
            rp_private_endpoint_subnet_id: self
                .rp_private_endpoint_subnet_id
                .clone()
                .unwrap_or_default(),
            oidc_storage_account_id: self.oidc_storage_account_id.clone().unwrap_or_default(),
            retry: RetryPolicy {
                max_attempts: self.max_attempts.max(1),
                ..Default::default()
            },
            max_poll_interval: Duration::from_secs(self.max_poll_seconds.max(1)),
            frontend_service_account: self.frontend_service_account.clone(),
            ..Default::default()
        }
    }

    /// The Lease these flags describe.
    pub fn lease(&self) -> Result<LeaseConfig> {
        let identity = self.identity.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "aro-rp-controller".into());
            format!("{host}-{}", std::process::id())
        });
        LeaseConfig::new(
            self.lease_namespace.clone(),
            self.lease_name.clone(),
            identity,
            Duration::from_secs(self.lease_duration_seconds),
        )
        .map_err(|e| Error::Config(e.to_string()))
    }
}

/// Everything an in-process controller needs.
pub struct ControllerOptions {
    /// Management cluster.
    pub client: kube::Client,
    /// Azure as the RP's identity.
    pub azure: AzureClients,
    /// Cluster runtime.
    pub runtime: Arc<dyn ClusterRuntime>,
    /// Lifecycle settings.
    pub settings: Settings,
    /// Leader election.
    pub lease: LeaseConfig,
    /// Concurrent reconciles.
    pub workers: u16,
    /// Sharding label selector.
    pub shard_selector: Option<String>,
    /// Health and metrics.
    pub health: Health,
    /// Apply the management CRDs first.
    pub install_crds: bool,
}

/// `aro controller`: the lifecycle controllers on the cluster runtime the flags choose.
pub async fn run(args: ControllerArgs, shutdown: CancellationToken) -> Result<()> {
    let client = match &args.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
            kube::Client::try_from(config)?
        }
        None => kube::Client::try_default().await?,
    };
    let client = aro_common::kube_client::with_request_timeout(
        client,
        aro_common::kube_client::REQUEST_TIMEOUT,
    );
    crate::subscriptions::subscription_access("", &args.frontend_service_account)
        .map_err(|e| Error::Config(format!("--frontend-service-account: {e}")))?;
    let azure = AzureClients::new(args.azure.to_config()?)?;
    let runtime = args.cluster_runtime(&client).await?;
    let health = Health::new();
    let (bound, _listener) =
        aro_common::health::serve(args.listen, health.clone(), shutdown.clone())
            .await
            .map_err(|e| Error::Config(e.to_string()))?;
    tracing::info!(%bound, "controller health listener");
    run_with(
        ControllerOptions {
            client,
            azure,
            runtime,
            settings: args.settings(),
            lease: args.lease()?,
            workers: args.workers,
            shard_selector: args.shard_selector.clone(),
            health,
            install_crds: args.install_crds,
        },
        shutdown,
    )
    .await
}

/// Field manager of the management CRDs: the one they were always applied with (a new one would
/// move their ownership).
pub const CRD_FIELD_MANAGER: &str = aro_operator::FIELD_MANAGER;

/// How long in-flight reconciles may take to finish once the controller is asked to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Consecutive failed reconciles of each object (`kind/namespace/name`): the error policy backs
/// off per object, so one object failing again and again neither hammers the management API or
/// Azure nor delays the others.
#[derive(Debug, Default)]
pub struct ReconcileFailures(std::sync::Mutex<std::collections::HashMap<String, u32>>);

impl ReconcileFailures {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, u32>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a failure of `key`; returns how many in a row.
    pub fn failed(&self, key: &str) -> u32 {
        let mut failures = self.lock();
        let count = failures.entry(key.to_string()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    /// `key` reconciled: its next failure starts the backoff over.
    pub fn succeeded(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The key of `object` in [`ReconcileFailures`].
fn failure_key<K: kube::Resource<DynamicType = ()>>(object: &K) -> String {
    let meta = object.meta();
    format!(
        "{}/{}/{}",
        K::kind(&()),
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default()
    )
}

/// When to retry an object whose reconcile failed: exponential per object (the settings' retry
/// policy's initial and maximum backoff), with jitter so that objects failing together (a
/// management API outage) do not all retry at once.
fn error_policy<K: kube::Resource<DynamicType = ()>>(
    object: Arc<K>,
    error: &Error,
    ctx: Arc<Context>,
) -> Action {
    let key = failure_key(object.as_ref());
    let failures = ctx.failures.failed(&key);
    let retry = &ctx.settings.retry;
    let delay = aro_common::backoff::exponential_with_jitter(
        failures,
        retry.initial_backoff,
        retry.max_backoff,
    );
    tracing::warn!(%error, object = key, failures, delay_ms = delay.as_millis() as u64, "reconcile failed; retrying");
    Action::requeue(delay)
}

/// `reconcile` that clears the object's failure count when it succeeds.
async fn counting_failures<K, F, Fut>(
    object: Arc<K>,
    ctx: Arc<Context>,
    reconcile: F,
) -> Result<Action>
where
    K: kube::Resource<DynamicType = ()>,
    F: FnOnce(Arc<K>, Arc<Context>) -> Fut,
    Fut: std::future::Future<Output = Result<Action>>,
{
    let key = failure_key(object.as_ref());
    let result = reconcile(object, ctx.clone()).await;
    if result.is_ok() {
        ctx.failures.succeeded(&key);
    }
    result
}

/// Lead, then run the controllers until `shutdown` (Ok) or until leadership is lost (Err).
pub async fn run_with(options: ControllerOptions, shutdown: CancellationToken) -> Result<()> {
    let client = options.client.clone();
    if options.install_crds {
        aro_common::crd::apply_crds(&client, &crds::management_crds(), CRD_FIELD_MANAGER)
            .await
            .map_err(|e| Error::Config(format!("installing the management CRDs: {e}")))?;
    }
    client.apiserver_version().await?;
    options.health.set_ready(true);
    let metrics = options.health.with_registry(Metrics::register);
    let lease = options.lease.clone();
    let runtime = options.runtime.clone();
    // The controllers get the leadership's fenced client: once the lease is lost (or cannot be
    // renewed within the renew deadline) every request they make fails and their futures (with
    // the steps in flight) are dropped, before another replica may lead. The lease is released
    // only after the controllers and the cluster runtime stopped.
    let led = leader::lead(&client, &lease, &shutdown, |leading| {
        let runtime = runtime.clone();
        let (name, identity) = (lease.name.clone(), lease.identity.clone());
        async move {
            tracing::info!(lease = name, identity, "leading");
            run_controllers(options, metrics, leading.client, leading.stop).await;
            tracing::info!("controllers stopped; stopping the cluster runtime");
            runtime.shutdown().await;
            tracing::info!("cluster runtime stopped; releasing the lease");
        }
    })
    .await;
    if led.is_err() {
        tracing::error!("leadership lost: controllers dropped; stopping the cluster runtime");
        runtime.shutdown().await;
    }
    led.map(|_| ())
        .map_err(|e| Error::Leadership(e.to_string()))
}

/// The lifecycle and subscription controllers and the operation-record collector, on `client`,
/// until `stop`.
async fn run_controllers(
    options: ControllerOptions,
    metrics: Metrics,
    client: kube::Client,
    stop: CancellationToken,
) {
    let ctx = Arc::new(Context::new(
        client.clone(),
        options.azure,
        options.runtime,
        options.settings.clone(),
        metrics,
    ));

    let mut clusters_watch = watcher::Config::default();
    if let Some(selector) = &options.shard_selector {
        clusters_watch = clusters_watch.labels(selector);
    }
    let s = stop.clone();
    let lifecycle = Controller::new(
        Api::<OpenShiftCluster>::all(client.clone()),
        clusters_watch.clone(),
    )
    .with_config(controller::Config::default().concurrency(options.workers.max(1)));
    let lifecycle_store = lifecycle.store();
    let lifecycle_controller = drive_controller(
        lifecycle
            .graceful_shutdown_on(async move { s.cancelled().await })
            .run(
                |cluster, ctx| counting_failures(cluster, ctx, lifecycle::reconcile),
                error_policy,
                ctx.clone(),
            )
            .for_each(|_| futures::future::ready(())),
        &stop,
        move || store_ready(&lifecycle_store),
        SHUTDOWN_GRACE,
    );

    let s = stop.clone();
    let subscriptions = Controller::new(
        Api::<Subscription>::all(client.clone()),
        watcher::Config::default(),
    )
    .watches(
        Api::<OpenShiftCluster>::all(client.clone()),
        clusters_watch,
        |c: OpenShiftCluster| {
            Some(ObjectRef::<Subscription>::new(
                &c.spec.subscription_id.to_ascii_lowercase(),
            ))
        },
    );
    let subscriptions_store = subscriptions.store();
    let subscription_controller = drive_controller(
        subscriptions
            .graceful_shutdown_on(async move { s.cancelled().await })
            .run(
                |subscription, ctx| counting_failures(subscription, ctx, subscriptions::reconcile),
                error_policy,
                ctx.clone(),
            )
            .for_each(|_| futures::future::ready(())),
        &stop,
        move || store_ready(&subscriptions_store),
        SHUTDOWN_GRACE,
    );

    let collector = gc::run(
        client.clone(),
        options.settings.operation_ttl,
        options.settings.gc_interval,
        stop.clone(),
    );
    tokio::join!(lifecycle_controller, subscription_controller, collector);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::management::OpenShiftClusterSpec;

    #[test]
    fn failures_count_per_object_and_reset_on_success() {
        let failures = ReconcileFailures::default();
        let mut a = OpenShiftCluster::new("a", OpenShiftClusterSpec::default());
        a.metadata.namespace = Some("sub-1".into());
        let mut b = a.clone();
        b.metadata.name = Some("b".into());
        let (a, b) = (failure_key(&a), failure_key(&b));
        assert_eq!(a, "OpenShiftCluster/sub-1/a");
        assert_eq!(failures.failed(&a), 1);
        assert_eq!(failures.failed(&a), 2);
        assert_eq!(failures.failed(&b), 1, "another object has its own count");
        assert_eq!(failures.failed(&a), 3);
        failures.succeeded(&a);
        assert_eq!(failures.failed(&a), 1, "a success starts over");
        assert_eq!(failures.failed(&b), 2);
    }
}
