//! The composition of `aro local`: the management cluster (embedded devcluster or a kubeconfig),
//! Azure (the arm-emulator with the demo VNet, or real Azure), the frontend and controller replicas
//! with the local cluster runtime; and their orderly stop.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arm_emulator::{ArmEmulator, EmulatorConfig, EmulatorHandle, demo};
use aro_common::health::Health;
use aro_common::leader::LeaseConfig;
use aro_operator::azure::ArmSubnets;
use azure_clients::{AzureClients, AzureConfig, Credentials};
use devcluster::{Devcluster, DevclusterConfig};
use rp_controller::cluster_runtime::{ClusterRuntime, LocalRuntime};
use rp_controller::context::Settings;
use rp_controller::controller::{ControllerOptions, run_with};
use rp_frontend::{AuthMode, Frontend, FrontendConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::args::LocalConfig;
use crate::certs::{FrontendCerts, ensure_certs, fingerprint_of};
use crate::identity;
use crate::seed::seed_management_cluster;
use crate::{Error, LOCAL_LOCATION, LOCAL_PARENT_DOMAIN, Result, io, private};

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
    pub(crate) config: LocalConfig,
    /// The controller's client: authenticated by its ServiceAccount's token ([`identity`]).
    controller_client: kube::Client,
    /// Where the components' tokens are kept when there is no data dir (removed at drop).
    _token_dir: Option<tempfile::TempDir>,
    shutdown: CancellationToken,
    frontend: JoinHandle<()>,
    controller: Option<RunningController>,
}

/// How long [`RunningController::kill`] waits for the killed controller's clusters to stop.
const KILL_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// A controller replica's readiness and metrics, the token that stops it and its task.
pub type ControllerTask = (
    Health,
    CancellationToken,
    JoinHandle<rp_controller::Result<()>>,
);

/// A controller replica started by [`LocalSystem::start_controller`].
pub struct RunningController {
    /// Its runtime (its local clusters).
    pub runtime: Arc<LocalRuntime>,
    /// Its readiness and metrics registry.
    pub health: Health,
    token: CancellationToken,
    task: JoinHandle<rp_controller::Result<()>>,
}

impl RunningController {
    /// Stop gracefully (lease released, clusters stopped).
    pub async fn stop(self) -> Result<()> {
        self.token.cancel();
        self.task
            .await
            .map_err(|e| Error::System(format!("controller task: {e}")))??;
        Ok(())
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

/// The configuration of a kubeconfig (`origin` names it in errors).
async fn kube_config(kubeconfig: kube::config::Kubeconfig, origin: &str) -> Result<kube::Config> {
    kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| Error::Config(format!("{origin}: {e}")))
}

/// A management client as `aro controller` and `aro frontend` build one: every call but watches
/// bounded in time.
fn bounded(client: kube::Client) -> kube::Client {
    aro_common::kube_client::with_request_timeout(client, aro_common::kube_client::REQUEST_TIMEOUT)
}

impl LocalSystem {
    /// Start every piece.
    pub async fn start(config: LocalConfig) -> Result<Self> {
        let shutdown = CancellationToken::new();
        if let Some(dir) = &config.data_dir {
            aro_common::fs::create_private_dir(dir).map_err(private)?;
        }

        // Management cluster: `management` is its address, CA and admin credentials.
        let (devcluster, management, kubeconfig_path) = match &config.management_kubeconfig {
            Some(path) => {
                let kubeconfig = kube::config::Kubeconfig::read_from(path)
                    .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
                let origin = path.display().to_string();
                (
                    None,
                    kube_config(kubeconfig, &origin).await?,
                    Some(path.clone()),
                )
            }
            None => {
                let mut dc_config = match &config.data_dir {
                    Some(dir) => DevclusterConfig::durable(dir.join("management")),
                    None => DevclusterConfig::in_memory(),
                };
                dc_config.name = "aro-local".into();
                dc_config.record_access = config.record_access;
                let dc = Devcluster::start(dc_config)
                    .await
                    .map_err(|e| Error::System(format!("management devcluster: {e}")))?;
                let kubeconfig = kube::config::Kubeconfig::from_yaml(dc.kubeconfig_yaml())
                    .map_err(|e| Error::System(format!("management devcluster: {e}")))?;
                let management = kube_config(kubeconfig, "management devcluster").await?;
                let path = dc.kubeconfig_path.clone();
                (Some(dc), management, path)
            }
        };
        // The cluster admin's client: what an SRE installing the RP uses (CRDs, deploy/rp's RBAC,
        // the seed objects). The components run under their own ServiceAccounts.
        let client = bounded(kube::Client::try_from(management.clone())?);
        aro_common::crd::apply_crds(
            &client,
            &crds::management_crds(),
            rp_controller::controller::CRD_FIELD_MANAGER,
        )
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
                .map_err(|e| Error::System(format!("arm-emulator: {e}")))?;
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
        if config.azure.is_none() && settings.oidc_storage_account_id.is_empty() {
            settings.oidc_storage_account_id = demo::oidc_storage_account_id();
        }
        // What ARM and an SRE would have set up: a registered subscription and a default version.
        seed_management_cluster(&client).await?;

        // The components' identities: deploy/rp's ServiceAccounts and RBAC, and a token of each.
        identity::apply_rp_rbac(&client).await?;
        let (token_dir, temporary_token_dir) = match &config.data_dir {
            Some(dir) => {
                let tokens = dir.join("tokens");
                aro_common::fs::create_private_dir(&tokens).map_err(private)?;
                (tokens, None)
            }
            None => {
                let temporary = tempfile::Builder::new()
                    .prefix("aro-local-tokens-")
                    .tempdir()
                    .map_err(io("creating the token directory"))?;
                (temporary.path().to_path_buf(), Some(temporary))
            }
        };
        let service_account_client = |name: &'static str| {
            let (client, management, token_dir, shutdown) = (
                client.clone(),
                management.clone(),
                token_dir.clone(),
                shutdown.clone(),
            );
            async move {
                identity::service_account_client(
                    &client,
                    &management,
                    identity::RP_NAMESPACE,
                    name,
                    &token_dir,
                    shutdown,
                )
                .await
                .map(bounded)
            }
        };
        let frontend_client = service_account_client(identity::FRONTEND_SERVICE_ACCOUNT).await?;
        let controller_client =
            service_account_client(identity::CONTROLLER_SERVICE_ACCOUNT).await?;

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
        // The frontend checks a create against Azure with the RP's identity, as the controller
        // reaches Azure.
        frontend_config.azure = Some(AzureClients::new(azure.clone())?);
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
        let app = Frontend::with_health(frontend_client, frontend_config, frontend_health.clone());
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
            controller_client,
            _token_dir: temporary_token_dir,
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
        let mut runtime = LocalRuntime::new(self.clusters_dir.clone())
            .with_operator_resync(self.config.operator_resync)
            .with_subnets(Arc::new(ArmSubnets::new(azure.arm())));
        if self.config.record_access {
            runtime = runtime.with_access_recording();
        }
        let runtime = Arc::new(runtime);
        let (health, token, task) = self.spawn_controller(identity, azure, runtime.clone())?;
        Ok(RunningController {
            runtime,
            health,
            token,
            task,
        })
    }

    /// Start a controller replica on another cluster runtime (e2e runs the `hive` runtime this
    /// way); stop it by cancelling `stop` and awaiting the task.
    pub fn start_controller_with(
        &self,
        identity: &str,
        runtime: Arc<dyn ClusterRuntime>,
    ) -> Result<ControllerTask> {
        let azure = AzureClients::new(self.azure.clone())?;
        self.spawn_controller(identity, azure, runtime)
    }

    fn spawn_controller(
        &self,
        identity: &str,
        azure: AzureClients,
        runtime: Arc<dyn ClusterRuntime>,
    ) -> Result<ControllerTask> {
        let token = self.shutdown.child_token();
        let health = Health::new();
        let options = ControllerOptions {
            client: self.controller_client.clone(),
            azure,
            runtime,
            settings: self.settings.clone(),
            lease: LeaseConfig::new(
                identity::RP_NAMESPACE,
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
        Ok((health, token, task))
    }

    /// The management client the controllers use: authenticated as the controller's
    /// ServiceAccount (a cluster runtime that writes to the management cluster uses it too).
    pub fn controller_client(&self) -> &kube::Client {
        &self.controller_client
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
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

    #[test]
    fn local_data_keys_and_kubeconfigs_are_owner_only_under_a_permissive_umask() {
        use aro_common::fs::{mode_of, rerun_with_umask};
        if !rerun_with_umask(
            "system::tests::local_data_keys_and_kubeconfigs_are_owner_only_under_a_permissive_umask",
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
