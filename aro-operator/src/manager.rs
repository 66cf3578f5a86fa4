//! The operator's controller manager, the operator process (`aro operator --role master|worker`):
//! it builds a Kubernetes client, serves `/healthz`, `/readyz`, `/metrics` and the Alertmanager
//! webhook sink on one listener (:8080, the port the alertwebhook controller points Alertmanager
//! at), takes the role's leader-election lease and runs the role's controllers with kube-runtime
//! until shutdown or loss of leadership.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aro_common::health::Health;
use aro_common::kube_client::store_ready;
use aro_common::leader::{self, LeaseConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use crds::operator::{Cluster, SINGLETON_NAME};
use futures::{Stream, StreamExt, future};
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, ServiceAccount};
use kube::api::{Api, DynamicObject};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Config};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;

use crate::conditions::{event, report};
use crate::kinds::{
    CLUSTER_VERSION, MACHINE, MACHINE_CONFIG, MACHINE_CONFIG_POOL, MACHINE_SET,
    SECURITY_CONTEXT_CONSTRAINTS,
};
use crate::role::Role;
use crate::subnets::SubnetsApi;
use crate::{
    Error, OPERATOR_NAMESPACE, Result, alertwebhook, dnsmasq, genevalogging, machineset,
    pullsecret, routefix, subnets,
};

/// Flags of `aro operator`.
#[derive(clap::Args, Clone, Debug)]
pub struct OperatorArgs {
    /// Deployment role: `master` runs every controller and the Alertmanager webhook sink.
    #[arg(long, value_enum, default_value = "master", env = "ARO_OPERATOR_ROLE")]
    pub role: Role,
    /// Namespace of the operator (its leader-election lease and its secret live there).
    #[arg(long, default_value = OPERATOR_NAMESPACE, env = "POD_NAMESPACE")]
    pub namespace: String,
    /// Kubeconfig of the cluster; without it, in-cluster configuration or the default kubeconfig.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Address of `/healthz`, `/readyz`, `/metrics` and the Alertmanager webhook sink.
    #[arg(long, default_value = "0.0.0.0:8080", env = "ARO_OPERATOR_LISTEN")]
    pub listen_address: SocketAddr,
    /// Name of the leader-election Lease; default `aro-operator-<role>`.
    #[arg(long)]
    pub lease_name: Option<String>,
    /// This replica's identity in the lease; default the pod name, else host name and process id.
    #[arg(long, env = "POD_NAME")]
    pub identity: Option<String>,
    /// Seconds a lease stays valid without renewal; the leader stops after two thirds of it
    /// without a successful renewal, and retries every two fifteenths.
    #[arg(long, default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// Seconds between periodic full reconciles (Azure state cannot be watched).
    #[arg(long, default_value_t = 300)]
    pub resync_seconds: u64,
    /// Azure identity of the subnets controller; without `--azure-client-id` that controller
    /// does not run.
    #[command(flatten)]
    pub azure: azure_clients::AzureArgs,
}

impl OperatorArgs {
    /// Defaults for `role`, as the chart's Deployments run it.
    pub fn for_role(role: Role) -> Self {
        Self {
            role,
            namespace: OPERATOR_NAMESPACE.into(),
            kubeconfig: None,
            listen_address: ([0, 0, 0, 0], 8080).into(),
            lease_name: None,
            identity: None,
            lease_duration_seconds: 15,
            resync_seconds: 300,
            azure: Default::default(),
        }
    }

    fn lease_config(&self) -> Result<LeaseConfig> {
        let identity = self.identity.clone().unwrap_or_else(|| {
            let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "aro-operator".into());
            format!("{host}-{}", std::process::id())
        });
        LeaseConfig::new(
            self.namespace.clone(),
            self.lease_name
                .clone()
                .unwrap_or_else(|| format!("aro-operator-{}", self.role.as_str())),
            identity,
            Duration::from_secs(self.lease_duration_seconds),
        )
        .map_err(Error::from)
    }
}

/// Options of the controllers beyond the Kubernetes client.
#[derive(Clone)]
pub struct ControllerOptions {
    /// The Azure network adapter; without it the subnets controller does not run.
    pub azure: Option<Arc<dyn SubnetsApi>>,
    /// Periodic reconcile interval.
    pub resync: Duration,
    /// Operator health state whose registry receives the controllers' metrics.
    pub health: Health,
    /// Identity reported on events.
    pub instance: Option<String>,
}

impl Default for ControllerOptions {
    fn default() -> Self {
        Self {
            azure: None,
            resync: Duration::from_secs(300),
            health: Health::new(),
            instance: None,
        }
    }
}

type Labels = Vec<(String, String)>;

/// Metrics of the controllers.
#[derive(Clone)]
struct Metrics {
    reconciles: Family<Labels, Counter>,
    duration: Family<Labels, Histogram>,
}

impl Metrics {
    fn register(health: &Health) -> Self {
        let metrics = Metrics {
            reconciles: Family::default(),
            duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 12))
            }),
        };
        health.with_registry(|r| {
            r.register(
                "aro_operator_reconciles",
                "Reconciles by controller and result",
                metrics.reconciles.clone(),
            );
            r.register(
                "aro_operator_reconcile_duration_seconds",
                "Reconcile latency by controller",
                metrics.duration.clone(),
            );
        });
        metrics
    }
}

/// Cluster-keyed controllers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClusterController {
    AlertWebhook,
    Dnsmasq,
    GenevaLogging,
    PullSecret,
    RouteFix,
    Subnets,
}

impl ClusterController {
    fn id(self) -> &'static str {
        match self {
            Self::AlertWebhook => "alertwebhook",
            Self::Dnsmasq => "dnsmasq",
            Self::GenevaLogging => "genevalogging",
            Self::PullSecret => "pullsecret",
            Self::RouteFix => "routefix",
            Self::Subnets => "subnets",
        }
    }

    /// The `<Name>Controller*` condition prefix, for controllers that report conditions.
    fn condition_name(self) -> Option<&'static str> {
        match self {
            Self::AlertWebhook => None,
            Self::Dnsmasq => Some(dnsmasq::NAME),
            Self::GenevaLogging => Some(genevalogging::NAME),
            Self::PullSecret => Some(pullsecret::NAME),
            Self::RouteFix => Some(routefix::NAME),
            Self::Subnets => Some(subnets::NAME),
        }
    }
}

struct Ctx {
    client: Client,
    recorder: Recorder,
    azure: Option<Arc<dyn SubnetsApi>>,
    resync: Duration,
    metrics: Metrics,
}

impl Ctx {
    fn observe(&self, controller: &str, started: Instant, ok: bool) {
        let labels = vec![
            ("controller".to_string(), controller.to_string()),
            (
                "result".to_string(),
                if ok { "success" } else { "error" }.to_string(),
            ),
        ];
        self.metrics.reconciles.get_or_create(&labels).inc();
        self.metrics
            .duration
            .get_or_create(&vec![("controller".to_string(), controller.to_string())])
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Run one reconcile of a cluster-keyed controller; returns a note when it changed something.
async fn run_cluster_controller(
    which: ClusterController,
    cluster: &Cluster,
    ctx: &Ctx,
) -> Result<Option<String>> {
    let client = &ctx.client;
    Ok(match which {
        ClusterController::AlertWebhook => alertwebhook::reconcile(client, cluster)
            .await?
            .then(|| "pointed the null and Default receivers at the operator".to_string()),
        ClusterController::Dnsmasq => {
            let written: Vec<String> = dnsmasq::reconcile(client, cluster)
                .await?
                .into_iter()
                .filter(|(_, a)| {
                    matches!(
                        a,
                        dnsmasq::MachineConfigAction::Create(_)
                            | dnsmasq::MachineConfigAction::Update(_)
                    )
                })
                .map(|(name, _)| name)
                .collect();
            (!written.is_empty()).then(|| format!("wrote MachineConfigs {}", written.join(", ")))
        }
        ClusterController::GenevaLogging => {
            let written = genevalogging::reconcile(client, cluster).await?;
            (written > 0).then(|| format!("applied {written} logging objects"))
        }
        ClusterController::PullSecret => match pullsecret::reconcile(client, cluster).await? {
            pullsecret::PullSecretAction::Keep => None,
            pullsecret::PullSecretAction::Create(_) => {
                Some("recreated the missing global pull secret".into())
            }
            pullsecret::PullSecretAction::Update(_) => {
                Some("merged the ARO registry into the global pull secret".into())
            }
            pullsecret::PullSecretAction::Recreate(_) => {
                Some("recreated the global pull secret with the right type".into())
            }
        },
        ClusterController::RouteFix => match routefix::reconcile(client, cluster).await? {
            routefix::RouteFixOutcome::Deployed(n) if n > 0 => {
                Some(format!("applied {n} routefix objects"))
            }
            routefix::RouteFixOutcome::Removed(true) => Some("removed routefix".into()),
            _ => None,
        },
        ClusterController::Subnets => {
            let azure = ctx
                .azure
                .as_deref()
                .ok_or_else(|| Error::Azure("no Azure network adapter configured".into()))?;
            let changes = subnets::reconcile(client, cluster, azure).await?;
            (!changes.is_empty()).then(|| format!("repaired {} subnets", changes.len()))
        }
    })
}

async fn reconcile_cluster(
    which: ClusterController,
    cluster: Arc<Cluster>,
    ctx: Arc<Ctx>,
) -> Result<Action> {
    if cluster.metadata.name.as_deref() != Some(SINGLETON_NAME) {
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let outcome = run_cluster_controller(which, &cluster, &ctx).await;
    ctx.observe(which.id(), started, outcome.is_ok());
    if let Some(name) = which.condition_name() {
        let text = outcome.as_ref().err().map(ToString::to_string);
        if let Err(error) = report(&ctx.client, name, text.as_deref().map_or(Ok(()), Err)).await {
            tracing::warn!(%error, controller = which.id(), "could not record conditions");
        }
    }
    match outcome {
        Ok(Some(note)) => {
            event(
                &ctx.recorder,
                &cluster,
                EventType::Normal,
                &format!("{}Reconciled", reason_prefix(which)),
                note,
            )
            .await;
            Ok(Action::requeue(ctx.resync))
        }
        Ok(None) => Ok(Action::requeue(ctx.resync)),
        Err(error) => {
            event(
                &ctx.recorder,
                &cluster,
                EventType::Warning,
                &format!("{}Failed", reason_prefix(which)),
                error.to_string(),
            )
            .await;
            Err(error)
        }
    }
}

fn reason_prefix(which: ClusterController) -> &'static str {
    which.condition_name().unwrap_or("AlertWebhook")
}

fn error_policy<K>(_obj: Arc<K>, error: &Error, _ctx: Arc<Ctx>) -> Action {
    tracing::warn!(%error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(10))
}

fn to_singleton<K>(_: K) -> Option<ObjectRef<Cluster>> {
    Some(ObjectRef::new(SINGLETON_NAME))
}

/// How long the operator's in-flight reconciles may take to finish once it is asked to stop.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Run a controller's stream in a task of its own that ends after `shutdown` (see
/// [`aro_common::shutdown::drive_controller`]), or at once when the handle is dropped (leadership
/// lost: the `run_controllers` future holding it is dropped).
fn spawn_controller<S, T, E, K>(
    name: &'static str,
    stream: S,
    store: kube::runtime::reflector::Store<K>,
    shutdown: &CancellationToken,
) -> AbortOnDropHandle<()>
where
    S: Stream<Item = std::result::Result<T, E>> + Send + 'static,
    E: std::fmt::Display,
    K: kube::Resource + Clone + Send + Sync + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone + Send + Sync,
{
    let shutdown = shutdown.clone();
    AbortOnDropHandle::new(tokio::spawn(async move {
        let drained = aro_common::shutdown::drive_controller(
            drain(name, stream),
            &shutdown,
            || store_ready(&store),
            SHUTDOWN_GRACE,
        )
        .await;
        if drained.is_none() {
            tracing::debug!(controller = name, "controller dropped at shutdown");
        }
    }))
}

async fn drain<S, T, E>(name: &'static str, stream: S)
where
    S: Stream<Item = std::result::Result<T, E>>,
    E: std::fmt::Display,
{
    stream
        .for_each(|result| {
            if let Err(error) = result {
                tracing::debug!(controller = name, %error, "controller event");
            }
            future::ready(())
        })
        .await;
}

/// A controller of the Cluster singleton. Status writes of the controllers also trigger it; that
/// converges because every controller writes only on change.
fn singleton_controller(client: &Client) -> Controller<Cluster> {
    Controller::new(
        Api::<Cluster>::all(client.clone()),
        watcher::Config::default(),
    )
}

fn cluster_controller(client: &Client, which: ClusterController) -> Controller<Cluster> {
    let wc = watcher::Config::default();
    let controller = singleton_controller(client);
    let ns = |n: &str| n.to_string();
    match which {
        ClusterController::AlertWebhook => controller.watches(
            Api::<Secret>::namespaced(client.clone(), alertwebhook::NAMESPACE),
            wc,
            to_singleton,
        ),
        ClusterController::Dnsmasq => controller
            .watches_with(
                Api::<DynamicObject>::all_with(client.clone(), &CLUSTER_VERSION.api_resource()),
                CLUSTER_VERSION.api_resource(),
                wc.clone(),
                to_singleton,
            )
            .watches_with(
                Api::<DynamicObject>::all_with(client.clone(), &MACHINE_CONFIG_POOL.api_resource()),
                MACHINE_CONFIG_POOL.api_resource(),
                wc.clone(),
                to_singleton,
            )
            .watches_with(
                Api::<DynamicObject>::all_with(client.clone(), &MACHINE_CONFIG.api_resource()),
                MACHINE_CONFIG.api_resource(),
                wc,
                to_singleton,
            ),
        ClusterController::GenevaLogging => {
            let n = ns(genevalogging::NAMESPACE);
            controller
                .watches(
                    Api::<DaemonSet>::namespaced(client.clone(), &n),
                    wc.clone(),
                    to_singleton,
                )
                .watches(
                    Api::<ConfigMap>::namespaced(client.clone(), &n),
                    wc.clone(),
                    to_singleton,
                )
                .watches(
                    Api::<Secret>::namespaced(client.clone(), &n),
                    wc.clone(),
                    to_singleton,
                )
                .watches(
                    Api::<ServiceAccount>::namespaced(client.clone(), &n),
                    wc.clone(),
                    to_singleton,
                )
                .watches_with(
                    Api::<DynamicObject>::all_with(
                        client.clone(),
                        &SECURITY_CONTEXT_CONSTRAINTS.api_resource(),
                    ),
                    SECURITY_CONTEXT_CONSTRAINTS.api_resource(),
                    wc,
                    to_singleton,
                )
        }
        ClusterController::PullSecret => controller
            .watches(
                Api::<Secret>::namespaced(client.clone(), pullsecret::PULL_SECRET_NAMESPACE),
                wc.clone(),
                to_singleton,
            )
            .watches(
                Api::<Secret>::namespaced(client.clone(), OPERATOR_NAMESPACE),
                wc,
                to_singleton,
            ),
        ClusterController::RouteFix => controller
            .watches_with(
                Api::<DynamicObject>::all_with(client.clone(), &CLUSTER_VERSION.api_resource()),
                CLUSTER_VERSION.api_resource(),
                wc.clone(),
                to_singleton,
            )
            .watches(
                Api::<DaemonSet>::namespaced(client.clone(), routefix::NAMESPACE),
                wc,
                to_singleton,
            ),
        ClusterController::Subnets => controller
            .watches_with(
                Api::<DynamicObject>::namespaced_with(
                    client.clone(),
                    subnets::MACHINE_NAMESPACE,
                    &MACHINE.api_resource(),
                ),
                MACHINE.api_resource(),
                wc.clone(),
                to_singleton,
            )
            .watches_with(
                Api::<DynamicObject>::namespaced_with(
                    client.clone(),
                    subnets::MACHINE_NAMESPACE,
                    &MACHINE_SET.api_resource(),
                ),
                MACHINE_SET.api_resource(),
                wc,
                to_singleton,
            ),
    }
}

/// Checker period: the internet path can change without any Kubernetes event.
const CHECKER_PERIOD: Duration = Duration::from_secs(60);

async fn reconcile_checker(role: Role, cluster: Arc<Cluster>, ctx: Arc<Ctx>) -> Result<Action> {
    if cluster.metadata.name.as_deref() != Some(SINGLETON_NAME) {
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let outcome = crate::checker::reconcile(&ctx.client, &cluster, role).await;
    ctx.observe("checker", started, outcome.is_ok());
    outcome?;
    Ok(Action::requeue(CHECKER_PERIOD.min(ctx.resync)))
}

async fn reconcile_machineset(machineset: Arc<DynamicObject>, ctx: Arc<Ctx>) -> Result<Action> {
    let started = Instant::now();
    let name = machineset.metadata.name.clone().unwrap_or_default();
    let outcome = async {
        let cluster = crate::conditions::get_cluster(&ctx.client).await?;
        let scaled = machineset::reconcile(&ctx.client, &cluster, &name).await?;
        Ok::<_, Error>((cluster, scaled))
    }
    .await;
    ctx.observe("machineset", started, outcome.is_ok());
    let text = outcome.as_ref().err().map(ToString::to_string);
    if !matches!(outcome, Err(Error::ClusterMissing(_)))
        && let Err(error) = report(
            &ctx.client,
            machineset::NAME,
            text.as_deref().map_or(Ok(()), Err),
        )
        .await
    {
        tracing::warn!(%error, "could not record MachineSet conditions");
    }
    match outcome {
        Ok((cluster, Some(replicas))) => {
            event(
                &ctx.recorder,
                &cluster,
                EventType::Normal,
                "MachineSetScaled",
                format!(
                    "fewer than {} worker replicas: set {name} to {replicas}",
                    machineset::MIN_WORKER_REPLICAS
                ),
            )
            .await;
            Ok(Action::requeue(ctx.resync))
        }
        Ok(_) => Ok(Action::requeue(ctx.resync)),
        Err(e) => Err(e),
    }
}

/// Run the controllers of `role` against `client` until `shutdown` fires. This is what the process
/// runs once it leads, and what the local cluster runtime calls to run the operator in-process
/// (there is no kubelet to run its Deployment).
pub async fn run_controllers(
    client: Client,
    role: Role,
    options: ControllerOptions,
    shutdown: CancellationToken,
) -> Result<()> {
    let metrics = Metrics::register(&options.health);
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "aro-operator".into(),
            instance: options.instance.clone(),
        },
    );
    let ctx = Arc::new(Ctx {
        client: client.clone(),
        recorder,
        azure: options.azure.clone(),
        resync: options.resync,
        metrics,
    });
    let mut tasks = Vec::new();
    let stop = shutdown.clone();
    let checker = Controller::new(
        Api::<Cluster>::all(client.clone()),
        watcher::Config::default(),
    );
    let store = checker.store();
    let checker = checker
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(
            move |cluster, ctx| reconcile_checker(role, cluster, ctx),
            error_policy,
            ctx.clone(),
        );
    tasks.push(spawn_controller("checker", checker, store, &shutdown));
    if role == Role::Worker {
        return join(tasks, &shutdown).await;
    }

    let mut which = vec![
        ClusterController::AlertWebhook,
        ClusterController::Dnsmasq,
        ClusterController::GenevaLogging,
        ClusterController::PullSecret,
        ClusterController::RouteFix,
    ];
    if ctx.azure.is_some() {
        which.push(ClusterController::Subnets);
    } else {
        tracing::warn!("no Azure network adapter: the subnets controller is not running");
    }
    for w in which {
        let stop = shutdown.clone();
        let controller = cluster_controller(&client, w);
        let store = controller.store();
        let stream = controller
            .graceful_shutdown_on(async move { stop.cancelled().await })
            .run(
                move |cluster, ctx| reconcile_cluster(w, cluster, ctx),
                error_policy,
                ctx.clone(),
            );
        tasks.push(spawn_controller(w.id(), stream, store, &shutdown));
    }

    let machinesets = Api::<DynamicObject>::namespaced_with(
        client.clone(),
        machineset::NAMESPACE,
        &MACHINE_SET.api_resource(),
    );
    let cluster_changes = watcher(
        Api::<Cluster>::all(client.clone()),
        watcher::Config::default(),
    )
    .filter_map(|event| future::ready(event.ok().map(|_| ())));
    let stop = shutdown.clone();
    let controller = Controller::new_with(
        machinesets,
        watcher::Config::default(),
        MACHINE_SET.api_resource(),
    )
    // One MachineSet at a time: concurrent reconciles of two MachineSets would each see the same
    // shortfall and both scale up (ARO-RP's controller-runtime default is one, too).
    .with_config(kube::runtime::controller::Config::default().concurrency(1));
    let store = controller.store();
    let stream = controller
        .reconcile_all_on(cluster_changes)
        .graceful_shutdown_on(async move { stop.cancelled().await })
        .run(reconcile_machineset, error_policy, ctx.clone());
    tasks.push(spawn_controller("machineset", stream, store, &shutdown));
    join(tasks, &shutdown).await
}

async fn join(tasks: Vec<AbortOnDropHandle<()>>, shutdown: &CancellationToken) -> Result<()> {
    for task in tasks {
        if let Err(error) = task.await {
            tracing::error!(%error, "controller task panicked");
        }
    }
    if shutdown.is_cancelled() {
        Ok(())
    } else {
        Err(Error::ControllerStopped("all"))
    }
}

/// Router of the operator's listener: health, readiness, metrics and the Alertmanager webhook sink.
pub fn router(health: &Health) -> Router {
    let received: Counter = Counter::default();
    health.with_registry(|r| {
        r.register(
            "aro_operator_alerts_received",
            "Alerts received by the Alertmanager webhook sink",
            received.clone(),
        )
    });
    health.router().merge(
        Router::new()
            .route("/healthz/ready", post(alert_sink).get(|| async { "ok" }))
            .with_state(received),
    )
}

/// Accepts Alertmanager webhook notifications (the `null` and `Default` receivers) and drops them.
async fn alert_sink(State(received): State<Counter>, body: Bytes) -> (StatusCode, String) {
    if body.is_empty() {
        return (StatusCode::OK, "ok".into());
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(notification) => {
            let alerts = notification["alerts"].as_array().map_or(0, Vec::len);
            received.inc_by(alerts as u64);
            (StatusCode::OK, "ok".into())
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            format!("not an Alertmanager webhook notification: {e}"),
        ),
    }
}

/// Bind the listener and serve `router` until `shutdown`. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    aro_common::serve::bind_and_serve(addr, router, shutdown)
        .await
        .map_err(|source| Error::Listener {
            addr: addr.to_string(),
            source,
        })
}

/// A client from `--kubeconfig`, else in-cluster configuration or the default kubeconfig.
pub async fn client_from(kubeconfig: Option<&std::path::Path>) -> Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| Error::KubeConfig(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| Error::KubeConfig(e.to_string()))?
        }
        None => Config::infer()
            .await
            .map_err(|e| Error::KubeConfig(e.to_string()))?,
    };
    Ok(aro_common::kube_client::with_request_timeout(
        Client::try_from(config)?,
        aro_common::kube_client::REQUEST_TIMEOUT,
    ))
}

/// `aro operator`: serve health and the webhook sink, lead, run the role's controllers.
pub async fn run(args: OperatorArgs, shutdown: CancellationToken) -> Result<()> {
    let azure: Option<Arc<dyn SubnetsApi>> = match &args.azure.azure_client_id {
        Some(_) => {
            let config = args
                .azure
                .to_config()
                .map_err(|e| Error::Azure(e.to_string()))?;
            let clients = azure_clients::AzureClients::new(config)
                .map_err(|e| Error::Azure(e.to_string()))?;
            Some(Arc::new(crate::azure::ArmSubnets::new(clients.arm())))
        }
        None => {
            tracing::info!("no --azure-client-id: the subnets controller does not run");
            None
        }
    };
    run_with(args, azure, shutdown).await
}

/// `run` with an Azure network adapter for the subnets controller.
pub async fn run_with(
    args: OperatorArgs,
    azure: Option<Arc<dyn SubnetsApi>>,
    shutdown: CancellationToken,
) -> Result<()> {
    let client = client_from(args.kubeconfig.as_deref()).await?;
    let health = Health::new();
    let (bound, listener) = serve(args.listen_address, router(&health), shutdown.clone()).await?;
    tracing::info!(%bound, role = args.role.as_str(), "operator listening");

    let lease = args.lease_config()?;
    // Every replica is ready once it can reach the API server; only the leader reconciles.
    client.apiserver_version().await.map_err(Error::from)?;
    health.set_ready(true);
    let options = ControllerOptions {
        azure,
        resync: Duration::from_secs(args.resync_seconds.max(1)),
        health: health.clone(),
        instance: Some(lease.identity.clone()),
    };
    let role = args.role;
    // The controllers run on the leadership's fenced client; losing the lease drops them (their
    // tasks are aborted with the `run_controllers` future) before another replica may lead.
    let led = leader::lead(&client, &lease, &shutdown, |leading| {
        run_controllers(leading.client, role, options, leading.stop)
    })
    .await;
    listener.abort();
    match led? {
        Some(controllers) => controllers,
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: OperatorArgs,
    }

    #[test]
    fn flags_parse_with_defaults() {
        let cli = Cli::try_parse_from(["aro-operator"]).unwrap();
        assert_eq!(cli.args.role, Role::Master);
        assert_eq!(cli.args.namespace, OPERATOR_NAMESPACE);
        assert_eq!(cli.args.listen_address.port(), 8080);
        assert_eq!(cli.args.lease_config().unwrap().name, "aro-operator-master");
        let cli = Cli::try_parse_from([
            "aro-operator",
            "--role",
            "worker",
            "--lease-name",
            "x",
            "--identity",
            "pod-1",
        ])
        .unwrap();
        assert_eq!(cli.args.role, Role::Worker);
        let lease = cli.args.lease_config().unwrap();
        assert_eq!(
            (lease.name.as_str(), lease.identity.as_str()),
            ("x", "pod-1")
        );
        assert_eq!(lease.timing.retry_period(), Duration::from_secs(2));
        assert_eq!(lease.timing.renew_deadline(), Duration::from_secs(10));
        let cli = Cli::try_parse_from(["aro-operator", "--lease-duration-seconds", "0"]).unwrap();
        assert!(cli.args.lease_config().is_err());
        assert!(Cli::try_parse_from(["aro-operator", "--role", "boss"]).is_err());
    }

    #[tokio::test]
    async fn listener_serves_health_metrics_and_the_alert_sink() {
        let health = Health::new();
        let shutdown = CancellationToken::new();
        let (addr, task) = serve(
            "127.0.0.1:0".parse().unwrap(),
            router(&health),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let base = format!("http://{addr}");
        let http = reqwest::Client::new();
        assert_eq!(
            http.get(format!("{base}/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        assert_eq!(
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            503
        );
        health.set_ready(true);
        assert_eq!(
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );

        let notification = serde_json::json!({
            "version": "4", "status": "firing", "receiver": "null",
            "alerts": [{"status": "firing", "labels": {"alertname": "InfoInhibitor"}}, {"status": "firing", "labels": {}}]
        });
        let sent = http
            .post(format!("{base}/healthz/ready"))
            .json(&notification)
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), 200);
        let bad = http
            .post(format!("{base}/healthz/ready"))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("aro_operator_alerts_received_total 2"),
            "{metrics}"
        );

        shutdown.cancel();
        task.await.unwrap();
    }
}
