//! ARM resource provider frontend for Microsoft.RedHatOpenShift/openShiftClusters.
//!
//! * [`api`]: the versioned ARM types, conversion to and from the internal model (the
//!   `OpenShiftCluster` CRD), static validation and OpenAPI documents.
//! * [`server`]: the ARM server over the management cluster (`kube::Client`).
//! * [`run`]: the `aro frontend` command.

pub mod api;
pub mod error;
pub mod server;
pub mod tls;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// PEM server certificate chain (TLS).
    #[arg(long, env = "ARO_FRONTEND_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM server private key (TLS).
    #[arg(long, env = "ARO_FRONTEND_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// SHA-256 fingerprints (hex) of ARM client certificates allowed on the customer API.
    #[arg(
        long = "arm-client-cert-sha256",
        env = "ARO_ARM_CLIENT_CERTS",
        value_delimiter = ','
    )]
    pub arm_client_certs: Vec<String>,
    /// SHA-256 fingerprints (hex) of SRE client certificates allowed on the admin API.
    #[arg(
        long = "admin-client-cert-sha256",
        env = "ARO_ADMIN_CLIENT_CERTS",
        value_delimiter = ','
    )]
    pub admin_client_certs: Vec<String>,
    /// Serve plain HTTP without authentication (loopback listeners only).
    #[arg(long, env = "ARO_FRONTEND_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Key signing $skipToken paging tokens (hex or text); random per process when absent, which
    /// breaks paging across replicas.
    #[arg(long, env = "ARO_SKIP_TOKEN_KEY")]
    pub skip_token_key: Option<String>,
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        context: format!("reading {}", path.display()),
        source,
    })
}

/// The frontend configuration the flags describe.
pub fn config_from_args(args: &FrontendArgs) -> Result<FrontendConfig> {
    let normalize = |list: &[String]| -> BTreeSet<String> {
        list.iter()
            .map(|f| f.replace(':', "").to_lowercase())
            .filter(|f| !f.is_empty())
            .collect()
    };
    let auth = if args.insecure_no_auth {
        if !args.listen.ip().is_loopback() {
            return Err(Error::Tls(format!(
                "--insecure-no-auth is only allowed on a loopback address, not {}",
                args.listen
            )));
        }
        AuthMode::None
    } else {
        AuthMode::ClientCertificates {
            arm: normalize(&args.arm_client_certs),
            admin: normalize(&args.admin_client_certs),
        }
    };
    Ok(FrontendConfig {
        location: args.location.to_lowercase(),
        parent_domain: args.parent_domain.clone(),
        require_d2s_workers: args.require_d2s_workers,
        skip_token_key: args
            .skip_token_key
            .as_ref()
            .map(|k| k.as_bytes().to_vec())
            .unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec()),
        auth,
        rp_version: env!("CARGO_PKG_VERSION").to_string(),
        mock_msi_headers: args.mock_msi_headers,
    })
}

/// Run the frontend until `shutdown` fires, against the management cluster of the ambient
/// kubeconfig (or in-cluster configuration).
pub async fn run(args: FrontendArgs, shutdown: CancellationToken) -> Result<()> {
    let config = config_from_args(&args)?;
    let client = aro_common::kube_client::with_request_timeout(
        kube::Client::try_default().await?,
        aro_common::kube_client::REQUEST_TIMEOUT,
    );
    let tls = match (&args.tls_cert, &args.tls_key, &config.auth) {
        (Some(cert), Some(key), _) => Some(tls::server_config(&read(cert)?, &read(key)?)?),
        (_, _, AuthMode::None) => None,
        _ => {
            return Err(Error::Tls(
                "--tls-cert and --tls-key are required unless --insecure-no-auth".into(),
            ));
        }
    };
    let app = Frontend::router(client, config);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| Error::Io {
            context: format!("binding {}", args.listen),
            source,
        })?;
    tracing::info!(listen = %args.listen, tls = tls.is_some(), "frontend listening");
    match tls {
        Some(config) => tls::serve_tls(listener, config, app, shutdown).await,
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await
                .map_err(|source| Error::Io {
                    context: "serving".into(),
                    source,
                })?;
        }
    }
    Ok(())
}
