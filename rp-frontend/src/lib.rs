//! ARM resource provider frontend for Microsoft.RedHatOpenShift/openShiftClusters.
//!
//! * [`api`]: the versioned ARM types, conversion to and from the internal model (the
//!   `OpenShiftCluster` CRD), static validation and OpenAPI documents.
//! * [`server`]: the ARM server over the management cluster (`kube::Client`).
//! * [`run`]: the `aro frontend` command.

pub mod api;
pub mod error;
pub mod reload;
pub mod server;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aro_common::Secret;

use tokio_util::sync::CancellationToken;

pub use error::{Error, Result};
pub use server::{AuthMode, Frontend, FrontendConfig};

/// Flags of `aro frontend`.
#[derive(clap::Args, Debug, Clone)]
pub struct FrontendArgs {
    /// Address of the ARM listener.
    #[arg(long, env = "ARO_FRONTEND_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Azure region the RP serves.
    #[arg(long, env = "ARO_LOCATION", default_value = "eastus")]
    pub location: String,
    /// Parent DNS domain of managed cluster domains (e.g. aroapp.io).
    #[arg(long, env = "ARO_PARENT_DOMAIN")]
    pub parent_domain: Option<String>,
    /// Development mode: workers must be Standard_D2s_v3..v5 (ARO's RequireD2sWorkers).
    #[arg(long, env = "ARO_REQUIRE_D2S_WORKERS")]
    pub require_d2s_workers: bool,
    /// Development mode: when a workload identity create lacks ARM's managed identity headers
    /// (x-ms-identity-url, x-ms-home-tenant-id), fill in placeholders instead of refusing it
    /// (ARO's local development mode does the same).
    #[arg(long, env = "ARO_MOCK_MSI_HEADERS")]
    pub mock_msi_headers: bool,
    /// Host suffix managed identity URLs (the x-ms-identity-url header ARM sends) must be under:
    /// the cloud's identity host.
    #[arg(
        long,
        env = "ARO_IDENTITY_URL_HOST_SUFFIX",
        default_value = server::workload_identity::DEFAULT_IDENTITY_HOST_SUFFIX
    )]
    pub identity_url_host_suffix: String,
    /// PEM server certificate chain (TLS).
    #[arg(long, env = "ARO_FRONTEND_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM server private key (TLS).
    #[arg(long, env = "ARO_FRONTEND_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// SHA-256 fingerprints (64 hex digits, colons allowed) of ARM client certificates allowed
    /// on the customer API.
    #[arg(
        long = "arm-client-cert-sha256",
        env = "ARO_ARM_CLIENT_CERTS",
        value_delimiter = ','
    )]
    pub arm_client_certs: Vec<String>,
    /// SHA-256 fingerprints (64 hex digits, colons allowed) of SRE client certificates allowed
    /// on the admin API.
    #[arg(
        long = "admin-client-cert-sha256",
        env = "ARO_ADMIN_CLIENT_CERTS",
        value_delimiter = ','
    )]
    pub admin_client_certs: Vec<String>,
    /// File of further ARM client certificate fingerprints (one or more per line, `#` comments),
    /// re-read when it changes.
    #[arg(long, env = "ARO_ARM_CLIENT_CERTS_FILE")]
    pub arm_client_certs_file: Option<PathBuf>,
    /// File of further SRE (admin API) client certificate fingerprints, re-read when it changes.
    #[arg(long, env = "ARO_ADMIN_CLIENT_CERTS_FILE")]
    pub admin_client_certs_file: Option<PathBuf>,
    /// How often the allow-list files and the serving certificate and key are checked for
    /// changes, in milliseconds.
    #[arg(long, env = "ARO_FRONTEND_RELOAD_INTERVAL_MS", default_value_t = 5000)]
    pub reload_interval_ms: u64,
    /// Address of the internal listener of `/metrics` (and `/healthz`, `/readyz`), plain HTTP;
    /// never the ARM port.
    #[arg(
        long,
        env = "ARO_FRONTEND_METRICS_LISTEN",
        default_value = "127.0.0.1:8444"
    )]
    pub metrics_listen: SocketAddr,
    /// Serve plain HTTP without authentication (loopback listeners only).
    #[arg(long, env = "ARO_FRONTEND_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// How long what a cluster reported for GET and list (version, ingress, worker profiles,
    /// client id) is reused before the cluster is read again, in milliseconds.
    #[arg(long, env = "ARO_CLUSTER_DATA_CACHE_TTL_MS", default_value_t = 10_000)]
    pub cluster_data_cache_ttl_ms: u64,
    /// Bound of reading the clusters for one GET or list, in milliseconds (ARO-RP's: 10 s); a
    /// cluster that does not answer in time is shown as stored.
    #[arg(long, env = "ARO_CLUSTER_DATA_TIMEOUT_MS", default_value_t = 10_000)]
    pub cluster_data_timeout_ms: u64,
    /// Key signing $skipToken paging tokens (hex or text); random per process when absent, which
    /// breaks paging across replicas.
    #[arg(long, env = "ARO_SKIP_TOKEN_KEY", hide_env_values = true)]
    pub skip_token_key: Option<Secret>,
    /// Azure endpoint and the RP's identity, for the create-time checks of the customer's
    /// subscription (SKUs, quota, provider registration); without `--azure-client-id` they are
    /// skipped.
    #[command(flatten)]
    pub azure: azure_clients::AzureArgs,
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}

/// Where the allow-lists of the flags come from (fingerprints validated: a malformed one is an
/// error naming the flag and the entry's position).
pub fn allow_list_sources(args: &FrontendArgs) -> Result<server::auth::AllowListSources> {
    use server::auth::parse_fingerprint_flag;
    Ok(server::auth::AllowListSources {
        arm: parse_fingerprint_flag("--arm-client-cert-sha256", &args.arm_client_certs)?,
        admin: parse_fingerprint_flag("--admin-client-cert-sha256", &args.admin_client_certs)?,
        arm_file: args.arm_client_certs_file.clone(),
        admin_file: args.admin_client_certs_file.clone(),
    })
}

/// The frontend configuration the flags describe.
pub fn config_from_args(args: &FrontendArgs) -> Result<FrontendConfig> {
    let auth = if args.insecure_no_auth {
        if !args.listen.ip().is_loopback() {
            return Err(Error::Tls(format!(
                "--insecure-no-auth is only allowed on a loopback address, not {}",
                args.listen
            )));
        }
        AuthMode::None
    } else {
        let lists = allow_list_sources(args)?.load()?;
        tracing::info!(
            arm = lists.arm.len(),
            admin = lists.admin.len(),
            "client certificate allow-lists loaded"
        );
        AuthMode::ClientCertificates(server::auth::AllowLists::new(lists))
    };
    let identity_host_suffix = args
        .identity_url_host_suffix
        .trim()
        .trim_start_matches('.')
        .to_ascii_lowercase();
    if identity_host_suffix.is_empty()
        || !identity_host_suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
    {
        return Err(Error::Config(format!(
            "--identity-url-host-suffix must be a DNS name such as identity.azure.net, not '{}'",
            args.identity_url_host_suffix
        )));
    }
    let azure = if args.azure.azure_client_id.is_some() {
        let config = args
            .azure
            .to_config()
            .map_err(|e| Error::Config(e.to_string()))?;
        Some(azure_clients::AzureClients::new(config).map_err(|e| Error::Config(e.to_string()))?)
    } else {
        tracing::warn!(
            "no Azure identity (--azure-client-id): creates skip the checks of the customer's subscription (SKUs, quota, provider registration)"
        );
        None
    };
    Ok(FrontendConfig {
        azure,
        location: args.location.to_lowercase(),
        parent_domain: args.parent_domain.clone(),
        require_d2s_workers: args.require_d2s_workers,
        skip_token_key: Secret::new(
            args.skip_token_key
                .as_ref()
                .map(|k| k.expose().as_bytes().to_vec())
                .unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec()),
        ),
        auth,
        rp_version: env!("CARGO_PKG_VERSION").to_string(),
        mock_msi_headers: args.mock_msi_headers,
        identity_host_suffix,
        cluster_data: server::cluster_data::ClusterDataConfig {
            timeout: Duration::from_millis(args.cluster_data_timeout_ms),
            cache_ttl: Duration::from_millis(args.cluster_data_cache_ttl_ms),
        },
    })
}

/// A started frontend.
pub struct Running {
    /// Address of the ARM listener.
    pub listen: SocketAddr,
    /// Address of the internal metrics listener.
    pub metrics_listen: SocketAddr,
    /// Readiness and metrics.
    pub health: aro_common::health::Health,
    task: tokio::task::JoinHandle<()>,
    metrics_task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Wait until the listeners stop (after the shutdown token fires).
    pub async fn wait(self) {
        let _ = self.task.await;
        let _ = self.metrics_task.await;
    }
}

/// Start `aro frontend` against the management cluster `client`: the ARM listener, the internal
/// metrics listener and the reloads of the allow-list files and the serving certificate.
pub async fn start(
    args: &FrontendArgs,
    client: kube::Client,
    shutdown: CancellationToken,
) -> Result<Running> {
    let config = config_from_args(args)?;
    let interval = Duration::from_millis(args.reload_interval_ms.max(10));
    let tls = match (&args.tls_cert, &args.tls_key, &config.auth) {
        (Some(cert), Some(key), _) => {
            let serving = Arc::new(tls::ServingCertificate::from_pem(
                &read(cert)?,
                &read(key)?,
            )?);
            let (cert, key, reloaded) = (cert.clone(), key.clone(), serving.clone());
            reload::watch(
                vec![cert.clone(), key.clone()],
                interval,
                shutdown.clone(),
                move || {
                    // Both files must parse and belong together, else the old pair stays.
                    let result = read(&cert)
                        .and_then(|c| Ok((c, read(&key)?)))
                        .and_then(|(c, k)| reloaded.replace_from_pem(&c, &k));
                    match result {
                        Ok(()) => {
                            tracing::info!(cert = %cert.display(), "serving certificate loaded")
                        }
                        Err(error) => {
                            tracing::error!(%error, "serving certificate not reloaded; keeping the previous one")
                        }
                    }
                },
            );
            Some(tls::server_config_with(serving)?)
        }
        (_, _, AuthMode::None) => None,
        _ => {
            return Err(Error::Tls(
                "--tls-cert and --tls-key are required unless --insecure-no-auth".into(),
            ));
        }
    };
    if let AuthMode::ClientCertificates(lists) = &config.auth {
        let sources = allow_list_sources(args)?;
        let files = sources.files();
        if !files.is_empty() {
            let lists = lists.clone();
            reload::watch(files, interval, shutdown.clone(), move || {
                match sources.load() {
                    Ok(loaded) => {
                        if *lists.current() != loaded {
                            tracing::info!(
                                arm = loaded.arm.len(),
                                admin = loaded.admin.len(),
                                "client certificate allow-lists reloaded"
                            );
                            lists.replace(loaded);
                        }
                    }
                    Err(error) => tracing::error!(
                        %error,
                        "client certificate allow-lists not reloaded; keeping the previous ones"
                    ),
                }
            });
        }
    }
    let health = aro_common::health::Health::new();
    let (metrics_listen, metrics_task) =
        aro_common::health::serve(args.metrics_listen, health.clone(), shutdown.clone())
            .await
            .map_err(|e| Error::Config(format!("--metrics-listen: {e}")))?;
    let app = Frontend::with_health(client, config, health.clone());
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| Error::Io {
            context: format!("binding {}", args.listen),
            source,
        })?;
    let listen = listener.local_addr().map_err(|source| Error::Io {
        context: format!("binding {}", args.listen),
        source,
    })?;
    tracing::info!(%listen, %metrics_listen, tls = tls.is_some(), "frontend listening");
    let task = match tls {
        Some(config) => tokio::spawn(tls::serve_tls(listener, config, app, shutdown)),
        None => tokio::spawn(aro_common::serve::serve(
            listener,
            aro_common::serve::Transport::Plain,
            app,
            aro_common::serve::ServeOptions::default(),
            shutdown,
        )),
    };
    Ok(Running {
        listen,
        metrics_listen,
        health,
        task,
        metrics_task,
    })
}

/// Run the frontend until `shutdown` fires, against the management cluster of the ambient
/// kubeconfig (or in-cluster configuration).
pub async fn run(args: FrontendArgs, shutdown: CancellationToken) -> Result<()> {
    let client = aro_common::kube_client::with_request_timeout(
        kube::Client::try_default().await?,
        aro_common::kube_client::REQUEST_TIMEOUT,
    );
    start(&args, client, shutdown).await?.wait().await;
    Ok(())
}
