//! The whole system on one machine (`aro local`, and the harness of the e2e tests): devcluster as
//! the management cluster, arm-emulator seeded with the demo VNet, rp-frontend on loopback and
//! rp-controller with the local cluster runtime, all in this process. Each piece can be replaced by
//! a real one: a management cluster by kubeconfig, Azure by endpoint and credentials.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arm_emulator::{ArmEmulator, EmulatorConfig, EmulatorHandle, FaultConfig, demo};
use aro_common::health::Health;
use aro_operator::azure::ArmSubnets;
use aro_operator::leader::LeaseConfig;
use azure_clients::{AzureArgs, AzureClients, AzureConfig, Credentials};
use crds::management::{
    OpenShiftVersion, OpenShiftVersionSpec, PlatformWorkloadIdentityRole,
    PlatformWorkloadIdentityRoleSet, PlatformWorkloadIdentityRoleSetSpec, Subscription,
    SubscriptionSpec,
};
use devcluster::{Devcluster, DevclusterConfig};
use kube::api::{Api, PostParams};
use rp_frontend::{AuthMode, Frontend, FrontendConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::context::Settings;
use crate::controller::{ControllerOptions, run_with};
use crate::runtime::{ClusterRuntime, LocalRuntime};
use crate::{Error, Result};

/// The OpenShift version local mode offers (and makes the default).
pub const LOCAL_VERSION: &str = "4.15.35";
/// Parent domain of local clusters.
pub const LOCAL_PARENT_DOMAIN: &str = "aro.local";
/// Region of local mode.
pub const LOCAL_LOCATION: &str = "eastus";

/// Flags of `aro local`.
#[derive(clap::Args, Debug, Clone)]
pub struct LocalArgs {
    /// Data directory (management cluster database, clusters, certificates).
    #[arg(long, env = "ARO_LOCAL_DATA_DIR", default_value = ".aro/local")]
    pub data_dir: PathBuf,
    /// Keep everything in memory (nothing survives the process).
    #[arg(long)]
    pub in_memory: bool,
    /// Address of the ARM frontend (HTTPS with client certificates).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub frontend_listen: SocketAddr,
    /// Serve the frontend over plain HTTP without authentication (loopback only).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Address of the frontend's metrics listener (plain HTTP, `/metrics`; never on the ARM port).
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub frontend_metrics_listen: SocketAddr,
    /// Address of the arm-emulator (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub arm_emulator_listen: SocketAddr,
    /// How long the emulator's long-running operations take, in milliseconds.
    #[arg(long, default_value_t = 200)]
    pub lro_delay_ms: u64,
    /// Use this management cluster instead of an embedded devcluster.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Use real Azure (the --azure-* flags) instead of the arm-emulator.
    #[arg(long)]
    pub real_azure: bool,
    /// Real Azure endpoint and identity (with --real-azure).
    #[command(flatten)]
    pub azure: AzureArgs,
    /// Clusters reconciled concurrently.
    #[arg(long, default_value_t = 32)]
    pub workers: u16,
    /// How often each local cluster's operator reconciles without a change to react to, in
    /// seconds (Azure drift, such as a subnet's detached NSG, is repaired then).
    #[arg(long, default_value_t = 30)]
    pub operator_resync_secs: u64,
}

/// What to start.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    /// Durable data directory; `None` keeps everything in memory.
    pub data_dir: Option<PathBuf>,
    /// Frontend address.
    pub frontend_listen: SocketAddr,
    /// Serve the frontend over TLS with client certificates (else plain HTTP, no auth).
    pub frontend_tls: bool,
    /// A real management cluster instead of the embedded devcluster.
    pub management_kubeconfig: Option<PathBuf>,
    /// Real Azure instead of the emulator.
    pub azure: Option<AzureConfig>,
    /// Emulator address.
    pub emulator_listen: SocketAddr,
    /// Emulator long-running operation delay.
    pub lro_delay: Duration,
    /// Emulator faults at start.
    pub faults: FaultConfig,
    /// Lifecycle settings (DNS and domain are filled in).
    pub settings: Settings,
    /// Controller workers.
    pub workers: u16,
    /// Start the controller (tests of several replicas start their own).
    pub start_controller: bool,
    /// Lease duration of the controller.
    pub lease_duration: Duration,
    /// Resync interval of the local clusters' operators.
    pub operator_resync: Duration,
    /// Key signing the frontend's `$skipToken`s (random when absent).
    pub frontend_skip_token_key: Option<aro_common::Secret<Vec<u8>>>,
    /// Address of the frontend's metrics listener (`None`: no listener; the registry is still
    /// in [`LocalSystem::frontend_health`]).
    pub frontend_metrics_listen: Option<SocketAddr>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            data_dir: None,
            frontend_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            frontend_tls: false,
            management_kubeconfig: None,
            azure: None,
            emulator_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            lro_delay: Duration::ZERO,
            faults: FaultConfig::default(),
            settings: Settings::default(),
            workers: 32,
            start_controller: true,
            lease_duration: Duration::from_secs(15),
            operator_resync: Duration::from_secs(30),
            frontend_skip_token_key: None,
            frontend_metrics_listen: None,
        }
    }
}

impl LocalConfig {
    /// The configuration `aro local` flags describe.
    pub fn from_args(args: &LocalArgs) -> Result<Self> {
        Ok(Self {
            data_dir: (!args.in_memory).then(|| args.data_dir.clone()),
            frontend_listen: args.frontend_listen,
            frontend_tls: !args.insecure_no_auth,
            frontend_metrics_listen: Some(args.frontend_metrics_listen),
            management_kubeconfig: args.kubeconfig.clone(),
            azure: if args.real_azure {
                Some(args.azure.to_config()?)
            } else {
                None
            },
            emulator_listen: args.arm_emulator_listen,
            lro_delay: Duration::from_millis(args.lro_delay_ms),
            workers: args.workers,
            operator_resync: Duration::from_secs(args.operator_resync_secs.max(1)),
            settings: Settings {
                max_poll_interval: Duration::from_secs(2),
                ..Default::default()
            },
            ..Default::default()
        })
    }
}

/// Paths of the frontend's certificates.
#[derive(Clone, Debug)]
pub struct FrontendCerts {
    /// Server certificate (also its own CA: self-signed).
    pub server_cert: PathBuf,
    /// Server key.
    pub server_key: PathBuf,
    /// Client certificate allowed on the customer and admin APIs.
    pub client_cert: PathBuf,
    /// Client key.
    pub client_key: PathBuf,
}

/// The running system.
pub struct LocalSystem {
    /// Embedded management cluster, if used.
    pub devcluster: Option<Devcluster>,
    /// Management cluster client.
    pub client: kube::Client,
    /// Kubeconfig file of the management cluster, when on disk.
    pub kubeconfig_path: Option<PathBuf>,
    /// Embedded ARM endpoint, if used.
    pub emulator: Option<EmulatorHandle>,
    /// Azure configuration of the RP identity.
    pub azure: AzureConfig,
    /// Frontend base URL.
    pub frontend_url: String,
    /// Frontend certificates (TLS mode).
    pub certs: Option<FrontendCerts>,
    /// Lifecycle settings in force.
    pub settings: Settings,
    /// The frontend's readiness and metrics registry.
    pub frontend_health: Health,
    /// URL of the frontend's metrics, when a listener serves them.
    pub frontend_metrics_url: Option<String>,
    /// Where local clusters live (`None`: in memory).
    pub clusters_dir: Option<PathBuf>,
    config: LocalConfig,
    shutdown: CancellationToken,
    frontend: JoinHandle<()>,
    controller: Option<RunningController>,
}

/// How long [`RunningController::kill`] waits for the killed controller's clusters to stop.
const KILL_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A controller replica started by [`LocalSystem::start_controller`].
pub struct RunningController {
    /// Its runtime (its local clusters).
    pub runtime: Arc<LocalRuntime>,
    /// Its readiness and metrics registry.
    pub health: Health,
    token: CancellationToken,
    task: JoinHandle<Result<()>>,
}

impl RunningController {
    /// Stop gracefully (lease released, clusters stopped).
    pub async fn stop(self) -> Result<()> {
        self.token.cancel();
        self.task
            .await
            .map_err(|e| Error::Runtime(format!("controller task: {e}")))?
    }

    /// Stop abruptly, as a crash would: the task is dropped at its current await point (the lease
    /// is not released), then the clusters it ran are stopped so a new replica can open them.
    pub async fn kill(self) {
        self.task.abort();
        // An aborted task ends at its next await; one that does not is blocked in a thread.
        if tokio::time::timeout(KILL_STOP_TIMEOUT, self.task)
            .await
            .is_err()
        {
            tracing::warn!("the killed controller's task did not end in time");
        }
        if tokio::time::timeout(KILL_STOP_TIMEOUT, self.runtime.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("the killed controller's clusters did not stop in time");
        }
    }

    /// Whether the controller task ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

fn io(context: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::Runtime(format!("{context}: {e}"))
}

fn private(e: aro_common::Error) -> Error {
    Error::Runtime(e.to_string())
}

/// Self-signed server and client certificates, created once in `dir` (owner-only: the keys).
fn ensure_certs(dir: &Path) -> Result<FrontendCerts> {
    aro_common::fs::create_private_dir(dir).map_err(private)?;
    let certs = FrontendCerts {
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server-key.pem"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client-key.pem"),
    };
    let make = |names: Vec<String>, cert: &Path, key: &Path| -> Result<()> {
        if cert.exists() && key.exists() {
            return Ok(());
        }
        let generated = rcgen::generate_simple_self_signed(names)
            .map_err(|e| Error::Runtime(format!("generating a certificate: {e}")))?;
        aro_common::fs::write_private_file(cert, generated.cert.pem().as_bytes())
            .map_err(private)?;
        aro_common::fs::write_private_file(key, generated.signing_key.serialize_pem().as_bytes())
            .map_err(private)?;
        Ok(())
    };
    make(
        vec!["localhost".into(), "127.0.0.1".into()],
        &certs.server_cert,
        &certs.server_key,
    )?;
    make(
        vec!["arm-client".into()],
        &certs.client_cert,
        &certs.client_key,
    )?;
    Ok(certs)
}

fn fingerprint_of(pem_path: &Path) -> Result<String> {
    let pem = std::fs::read(pem_path).map_err(io("reading the client certificate"))?;
    let der = rustls_pemfile_first_cert(&pem)?;
    Ok(rp_frontend::server::auth::fingerprint(&der))
}

fn rustls_pemfile_first_cert(pem: &[u8]) -> Result<Vec<u8>> {
    // PEM body between the markers, base64-decoded.
    use base64::Engine;
    let text = String::from_utf8_lossy(pem);
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END CERTIFICATE-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| Error::Runtime(format!("client certificate PEM: {e}")))
}

async fn kube_client(kubeconfig: &Path) -> Result<kube::Client> {
    let kc = kube::config::Kubeconfig::read_from(kubeconfig)
        .map_err(|e| Error::Config(format!("{}: {e}", kubeconfig.display())))?;
    let config = kube::Config::from_custom_kubeconfig(kc, &Default::default())
        .await
        .map_err(|e| Error::Config(format!("{}: {e}", kubeconfig.display())))?;
    Ok(kube::Client::try_from(config)?)
}

/// Create `object` unless an object of that name exists.
async fn create_absent<K>(api: &Api<K>, object: &K) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl LocalSystem {
    /// Start every piece.
    pub async fn start(config: LocalConfig) -> Result<Self> {
        let shutdown = CancellationToken::new();
        if let Some(dir) = &config.data_dir {
            aro_common::fs::create_private_dir(dir).map_err(private)?;
        }

        // Management cluster.
        let (devcluster, client, kubeconfig_path) = match &config.management_kubeconfig {
            Some(path) => (None, kube_client(path).await?, Some(path.clone())),
            None => {
                let mut dc_config = match &config.data_dir {
                    Some(dir) => DevclusterConfig::durable(dir.join("management")),
                    None => DevclusterConfig::in_memory(),
                };
                dc_config.name = "aro-local".into();
                let dc = Devcluster::start(dc_config)
                    .await
                    .map_err(|e| Error::Runtime(format!("management devcluster: {e}")))?;
                let client = dc
                    .client()
                    .await
                    .map_err(|e| Error::Runtime(format!("management devcluster: {e}")))?;
                let path = dc.kubeconfig_path.clone();
                (Some(dc), client, path)
            }
        };
        // A management client, as `aro controller` builds it: every call but watches bounded.
        let client = aro_common::kube_client::with_request_timeout(
            client,
            aro_common::kube_client::REQUEST_TIMEOUT,
        );
        aro_operator::manifests::apply_crds(&client, &crds::management_crds())
            .await
            .map_err(|e| Error::Config(format!("installing the management CRDs: {e}")))?;

        // Azure.
        let (emulator, azure) = match &config.azure {
            Some(azure) => (None, azure.clone()),
            None => {
                let emulator = ArmEmulator::start(EmulatorConfig {
                    listen: config.emulator_listen,
                    lro_delay: config.lro_delay,
                    lro_retry_after_secs: 0,
                    faults: config.faults.clone(),
                    seeds: vec![demo::seed()],
                    ..Default::default()
                })
                .await
                .map_err(|e| Error::Runtime(format!("arm-emulator: {e}")))?;
                let url = azure_clients::azure_core::Url::parse(&emulator.base_url)
                    .map_err(|e| Error::Config(e.to_string()))?;
                let mut azure = AzureConfig::new(
                    url.clone(),
                    url,
                    demo::TENANT,
                    Credentials::ClientSecret {
                        client_id: demo::RP_CLIENT_ID.into(),
                        client_secret: demo::RP_CLIENT_SECRET.into(),
                    },
                    demo::SUBSCRIPTION,
                );
                azure.retry.base_delay = Duration::from_millis(50);
                azure.retry.max_delay = Duration::from_secs(1);
                (Some(emulator), azure)
            }
        };

        let mut settings = config.settings.clone();
        settings.parent_domain = LOCAL_PARENT_DOMAIN.into();
        if settings.dns_resource_group_id.is_empty() {
            settings.dns_resource_group_id = format!(
                "/subscriptions/{}/resourceGroups/aro-rp-dns",
                azure.subscription_id
            );
        }
        settings.dns_location = LOCAL_LOCATION.into();
        if config.azure.is_none() && settings.rp_private_endpoint_subnet_id.is_empty() {
            settings.rp_private_endpoint_subnet_id = demo::rp_private_endpoint_subnet_id();
        }

        // What ARM and an SRE would have set up: a registered subscription and a default version.
        let subs: Api<Subscription> = Api::all(client.clone());
        create_absent(
            &subs,
            &Subscription::new(
                demo::SUBSCRIPTION,
                SubscriptionSpec {
                    tenant_id: Some(demo::TENANT.into()),
                    ..Default::default()
                },
            ),
        )
        .await?;
        let versions: Api<OpenShiftVersion> = Api::all(client.clone());
        create_absent(
            &versions,
            &OpenShiftVersion::new(
                LOCAL_VERSION,
                OpenShiftVersionSpec {
                    version: LOCAL_VERSION.into(),
                    open_shift_pullspec: format!(
                        "quay.io/openshift-release-dev/ocp-release:{LOCAL_VERSION}-x86_64"
                    ),
                    installer_pullspec: format!("arosvc.azurecr.io/aro-installer:{LOCAL_VERSION}"),
                    enabled: true,
                    default: true,
                },
            ),
        )
        .await?;

        let role_sets: Api<PlatformWorkloadIdentityRoleSet> = Api::all(client.clone());
        let role_set = local_role_set();
        create_absent(
            &role_sets,
            &PlatformWorkloadIdentityRoleSet::new(&role_set.open_shift_version, role_set.clone()),
        )
        .await?;

        // Frontend.
        let certs = match (&config.data_dir, config.frontend_tls) {
            (Some(dir), true) => Some(ensure_certs(&dir.join("frontend"))?),
            (None, true) => {
                return Err(Error::Config(
                    "a TLS frontend needs a data directory for its certificates".into(),
                ));
            }
            _ => None,
        };
        let mut frontend_config = FrontendConfig::insecure_for_loopback(LOCAL_LOCATION);
        frontend_config.parent_domain = Some(LOCAL_PARENT_DOMAIN.into());
        // Local clusters cost nothing: validate worker sizes like production, not like ARO's
        // development mode (which only allows D2s workers to save money).
        frontend_config.require_d2s_workers = false;
        // No ARM in front: fill in its managed identity headers for workload identity creates.
        frontend_config.mock_msi_headers = true;
        if let Some(certs) = &certs {
            let fp = fingerprint_of(&certs.client_cert)?;
            frontend_config.auth = AuthMode::client_certificates([fp.clone()], [fp])
                .map_err(|e| Error::Config(e.to_string()))?;
        } else if !config.frontend_listen.ip().is_loopback() {
            return Err(Error::Config(
                "an unauthenticated frontend may only listen on loopback".into(),
            ));
        }
        if let Some(key) = &config.frontend_skip_token_key {
            frontend_config.skip_token_key = key.clone();
        }
        let frontend_health = Health::new();
        let app = Frontend::with_health(client.clone(), frontend_config, frontend_health.clone());
        let frontend_metrics_url = match config.frontend_metrics_listen {
            Some(addr) => {
                let (bound, _task) =
                    aro_common::health::serve(addr, frontend_health.clone(), shutdown.clone())
                        .await
                        .map_err(|e| {
                            Error::Config(format!("the frontend's metrics listener: {e}"))
                        })?;
                Some(format!("http://{bound}/metrics"))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(config.frontend_listen)
            .await
            .map_err(io("binding the frontend"))?;
        let addr = listener.local_addr().map_err(io("frontend address"))?;
        let stop = shutdown.clone();
        let (frontend_url, frontend) = match &certs {
            Some(certs) => {
                let read = |p: &Path| std::fs::read(p).map_err(io("reading a certificate"));
                let tls = rp_frontend::tls::server_config(
                    &read(&certs.server_cert)?,
                    &read(&certs.server_key)?,
                )
                .map_err(|e| Error::Config(e.to_string()))?;
                let task = tokio::spawn(async move {
                    rp_frontend::tls::serve_tls(listener, tls, app, stop).await
                });
                (format!("https://localhost:{}", addr.port()), task)
            }
            None => {
                let task = tokio::spawn(aro_common::serve::serve(
                    listener,
                    aro_common::serve::Transport::Plain,
                    app,
                    aro_common::serve::ServeOptions::default(),
                    stop,
                ));
                (format!("http://{addr}"), task)
            }
        };

        let clusters_dir = config.data_dir.as_ref().map(|d| d.join("clusters"));
        let mut system = Self {
            devcluster,
            client,
            kubeconfig_path,
            emulator,
            azure,
            frontend_url,
            certs,
            settings,
            frontend_health,
            frontend_metrics_url,
            clusters_dir,
            config: config.clone(),
            shutdown,
            frontend,
            controller: None,
        };
        if config.start_controller {
            let controller = system.start_controller("local-0")?;
            system.controller = Some(controller);
        }
        Ok(system)
    }

    /// Start a controller replica with this identity (it leads once the Lease is free).
    pub fn start_controller(&self, identity: &str) -> Result<RunningController> {
        let azure = AzureClients::new(self.azure.clone())?;
        // The clusters' operators repair subnets with the RP's identity (a real cluster uses its
        // own service principal or workload identity).
        let runtime = Arc::new(
            LocalRuntime::new(self.clusters_dir.clone())
                .with_operator_resync(self.config.operator_resync)
                .with_subnets(Arc::new(ArmSubnets::new(azure.arm()))),
        );
        let token = self.shutdown.child_token();
        let health = Health::new();
        let options = ControllerOptions {
            client: self.client.clone(),
            azure,
            runtime: runtime.clone(),
            settings: self.settings.clone(),
            lease: LeaseConfig::new(
                "default",
                "aro-rp-controller",
                identity,
                self.config.lease_duration,
            )
            .map_err(|e| Error::Config(e.to_string()))?,
            workers: self.config.workers,
            shard_selector: None,
            health: health.clone(),
            install_crds: false,
        };
        let task = tokio::spawn(run_with(options, token.clone()));
        Ok(RunningController {
            runtime,
            health,
            token,
            task,
        })
    }

    /// The metrics registry of the system's own controller, while it has one.
    pub fn controller_health(&self) -> Option<&Health> {
        self.controller.as_ref().map(|c| &c.health)
    }

    /// The cluster runtime of the system's own controller, while it has one.
    pub fn controller_runtime(&self) -> Option<&Arc<LocalRuntime>> {
        self.controller.as_ref().map(|c| &c.runtime)
    }

    /// The controller started with the system, taken out (to kill or replace it).
    pub fn take_controller(&mut self) -> Option<RunningController> {
        self.controller.take()
    }

    /// Install a controller as the system's own (stopped with the system).
    pub fn set_controller(&mut self, controller: RunningController) {
        self.controller = Some(controller);
    }

    /// Wait until `shutdown` fires, then stop.
    pub async fn run_until(self, shutdown: CancellationToken) -> Result<()> {
        shutdown.cancelled().await;
        self.stop().await
    }

    /// Stop every piece.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(controller) = self.controller.take() {
            tracing::info!("stopping the controller");
            if let Err(error) = controller.stop().await {
                tracing::warn!(%error, "controller stopped with an error");
            }
        }
        tracing::info!("stopping the frontend");
        self.shutdown.cancel();
        let _ = self.frontend.await;
        if let Some(emulator) = self.emulator.take() {
            tracing::info!("stopping the arm-emulator");
            let _ = emulator.stop().await;
        }
        if let Some(dc) = self.devcluster.take() {
            tracing::info!("stopping the management devcluster");
            dc.stop().await;
        }
        tracing::info!("stopped");
        Ok(())
    }

    /// The ready-to-paste walkthrough `aro local` prints.
    pub fn banner(&self) -> String {
        let sub = demo::SUBSCRIPTION;
        let base = &self.frontend_url;
        let cluster = format!(
            "/subscriptions/{sub}/resourceGroups/demo-rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/demo"
        );
        let curl = match &self.certs {
            Some(c) => format!(
                "curl -sS --cacert {} --cert {} --key {}",
                c.server_cert.display(),
                c.client_cert.display(),
                c.client_key.display()
            ),
            None => "curl -sS".to_string(),
        };
        let kubeconfig = self
            .kubeconfig_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "(in memory)".into());
        let arm = self
            .emulator
            .as_ref()
            .map(|e| e.base_url.clone())
            .unwrap_or_else(|| self.azure.arm_endpoint.to_string());
        let api = "api-version=2023-11-22";
        let body = format!(
            r#"{{"location":"{LOCAL_LOCATION}","properties":{{"clusterProfile":{{"domain":"demo","resourceGroupId":"/subscriptions/{sub}/resourceGroups/aro-demo","pullSecret":"{{\"auths\":{{}}}}"}},"servicePrincipalProfile":{{"clientId":"{cid}","clientSecret":"{secret}"}},"networkProfile":{{"podCidr":"10.128.0.0/14","serviceCidr":"172.30.0.0/16"}},"masterProfile":{{"vmSize":"Standard_D8s_v3","subnetId":"{master}"}},"workerProfiles":[{{"name":"worker","vmSize":"Standard_D4s_v3","diskSizeGB":128,"subnetId":"{worker}","count":3}}],"apiserverProfile":{{"visibility":"Public"}},"ingressProfiles":[{{"name":"default","visibility":"Public"}}]}}}}"#,
            cid = demo::CLUSTER_CLIENT_ID,
            secret = demo::CLUSTER_CLIENT_SECRET,
            master = demo::subnet_id("master"),
            worker = demo::subnet_id("worker"),
        );
        format!(
            r#"aro local is running.

  ARM frontend:        {base}
  frontend metrics:    {metrics}
  arm-emulator:        {arm}
  management cluster:  {mgmt}
  kubeconfig:          {kubeconfig}
  data dir:            {data}

Create a cluster in the demo VNet:

  {curl} -X PUT -H 'Content-Type: application/json' \
    '{base}{cluster}?{api}' \
    -d '{body}'

Watch it (provisioningState goes Creating -> Succeeded):

  {curl} '{base}{cluster}?{api}' | grep -o '"provisioningState":"[A-Za-z]*"'
  kubectl --kubeconfig {kubeconfig} get openshiftclusters -A -o wide

Get its credentials and use them:

  {curl} -X POST '{base}{cluster}/listCredentials?{api}'
  {curl} -X POST '{base}{cluster}/listAdminCredentials?{api}' \
    | sed -e 's/.*"kubeconfig":"\([^"]*\)".*/\1/' | base64 -d > demo.kubeconfig
  kubectl --kubeconfig demo.kubeconfig get nodes,clusterversion

Delete it:

  {curl} -X DELETE '{base}{cluster}?{api}'
"#,
            mgmt = self
                .devcluster
                .as_ref()
                .map(|d| d.url.clone())
                .unwrap_or_else(|| "(from --kubeconfig)".into()),
            data = self
                .config
                .data_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_else(|| "(in memory)".into()),
            metrics = self
                .frontend_metrics_url
                .as_deref()
                .unwrap_or("(not served)"),
        )
    }
}

/// `aro local`: start everything, print the walkthrough, run until `shutdown`.
pub async fn run(args: LocalArgs, shutdown: CancellationToken) -> Result<()> {
    let system = LocalSystem::start(LocalConfig::from_args(&args)?).await?;
    println!("{}", system.banner());
    system.run_until(shutdown).await
}

/// The platform workload identity role set of the local OpenShift minor version: the operators
/// and built-in roles ARO publishes for 4.15, so workload identity clusters can be created locally.
fn local_role_set() -> PlatformWorkloadIdentityRoleSetSpec {
    let minor: String = LOCAL_VERSION
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    let role =
        |operator: &str, name: &str, guid: &str, accounts: &[&str]| PlatformWorkloadIdentityRole {
            operator_name: operator.into(),
            role_definition_name: format!("Azure Red Hat OpenShift {name} Role"),
            role_definition_id: format!(
                "/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            ),
            service_accounts: accounts
                .iter()
                .map(|a| format!("system:serviceaccount:{a}"))
                .collect(),
            secret_location: None,
        };
    PlatformWorkloadIdentityRoleSetSpec {
        open_shift_version: minor,
        platform_workload_identity_roles: vec![
            role(
                "CloudControllerManager",
                "Cloud Controller Manager",
                "a1f96423-95ce-4224-ab27-4e3dc72facd4",
                &["openshift-cloud-controller-manager:cloud-controller-manager"],
            ),
            role(
                "ClusterIngressOperator",
                "Cluster Ingress Operator",
                "0336e1d3-7a87-462b-b6db-342b63f7802c",
                &["openshift-ingress-operator:ingress-operator"],
            ),
            role(
                "MachineApiOperator",
                "Machine API Operator",
                "0358943c-7e01-48ba-8889-02cc51d78637",
                &["openshift-machine-api:machine-api-operator"],
            ),
            role(
                "StorageOperator",
                "Storage Operator",
                "5b7237c5-45e1-49d6-bc18-a1f62f400748",
                &[
                    "openshift-cluster-csi-drivers:azure-disk-csi-driver-operator",
                    "openshift-cluster-csi-drivers:azure-disk-csi-driver-controller-sa",
                ],
            ),
            role(
                "NetworkOperator",
                "Network Operator",
                "be7a6435-15ae-4171-8f30-4a343eff9e8f",
                &["openshift-cloud-network-config-controller:cloud-network-config-controller"],
            ),
            role(
                "ImageRegistryOperator",
                "Image Registry Operator",
                "8b32b316-c2f5-4ddf-b05b-83dacd2d08b5",
                &[
                    "openshift-image-registry:cluster-image-registry-operator",
                    "openshift-image-registry:registry",
                ],
            ),
            role(
                "AzureFilesStorageOperator",
                "Azure Files Storage Operator",
                "0d7aedc0-15fd-4a67-a412-efad370c947e",
                &[
                    "openshift-cluster-csi-drivers:azure-file-csi-driver-operator",
                    "openshift-cluster-csi-drivers:azure-file-csi-driver-controller-sa",
                    "openshift-cluster-csi-drivers:azure-file-csi-driver-node-sa",
                ],
            ),
            role(
                "ServiceOperator",
                "Service Operator",
                "4436bae4-7702-4c84-919b-c4069ff25ee2",
                &["openshift-azure-operator:aro-operator-master"],
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_data_keys_and_kubeconfigs_are_owner_only_under_a_permissive_umask() {
        use aro_common::fs::{mode_of, rerun_with_umask};
        if !rerun_with_umask(
            "local::tests::local_data_keys_and_kubeconfigs_are_owner_only_under_a_permissive_umask",
            0o000,
        ) {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join(".aro/local");
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let system = LocalSystem::start(LocalConfig {
                data_dir: Some(data.clone()),
                frontend_tls: true,
                start_controller: false,
                ..Default::default()
            })
            .await
            .unwrap();
            system.stop().await.unwrap();
        });
        for dir in [
            ".aro",
            ".aro/local",
            ".aro/local/management",
            ".aro/local/frontend",
        ] {
            assert_eq!(mode_of(&tmp.path().join(dir)), 0o700, "{dir}");
        }
        for dir in ["management", "frontend"] {
            for entry in std::fs::read_dir(data.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                assert_eq!(mode_of(&path), 0o600, "{}", path.display());
            }
        }
        assert_eq!(mode_of(&data.join("frontend/server-key.pem")), 0o600);
        assert_eq!(mode_of(&data.join("management/kubeconfig")), 0o600);
    }

    #[tokio::test]
    async fn the_frontends_metrics_are_served_on_their_own_listener() {
        let system = LocalSystem::start(LocalConfig {
            start_controller: false,
            frontend_metrics_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Default::default()
        })
        .await
        .unwrap();
        let client = reqwest::Client::new();
        // One request through the frontend, then its series on the metrics listener.
        let operations = format!(
            "{}/providers/Microsoft.RedHatOpenShift/operations?api-version=2023-11-22",
            system.frontend_url
        );
        assert_eq!(client.get(&operations).send().await.unwrap().status(), 200);
        let url = system.frontend_metrics_url.clone().unwrap();
        assert!(system.banner().contains(&url));
        let metrics = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(metrics.contains("frontend_http_requests"), "{metrics}");
        let on_arm_port = client
            .get(format!("{}/metrics", system.frontend_url))
            .send()
            .await
            .unwrap();
        assert_eq!(on_arm_port.status(), 404);
        system.stop().await.unwrap();
    }
}
