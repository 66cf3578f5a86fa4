//! The RP's own identities in the management cluster, as deploy/ gives them in production: the
//! namespace `aro-rp`, the ServiceAccounts `aro-rp-frontend` and `aro-rp-controller` and their RBAC
//! (the very files of deploy/rp, applied by the local composition as a cluster admin applies
//! them), and for each component a client that authenticates with a token of its ServiceAccount.
//!
//! The token is what a pod gets: a TokenRequest token (one hour) in a private file, requested
//! again at 80% of its lifetime, as the kubelet refreshes a projected token; kube-rs re-reads
//! the file every minute (its `tokenFile` handling). So a missing grant in deploy/ fails here
//! exactly as it would in a cluster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use tokio_util::sync::CancellationToken;

use crate::{Error, Result, private};

/// The RP's namespace (deploy/rp/namespace.yaml).
pub const RP_NAMESPACE: &str = "aro-rp";
/// The frontend's ServiceAccount (deploy/rp/frontend-rbac.yaml).
pub const FRONTEND_SERVICE_ACCOUNT: &str = "aro-rp-frontend";
/// The controller's ServiceAccount (deploy/rp/controller-rbac.yaml).
pub const CONTROLLER_SERVICE_ACCOUNT: &str = "aro-rp-controller";

/// deploy/rp's namespace and RBAC, applied as they are deployed.
const RP_MANIFESTS: [(&str, &str); 3] = [
    (
        "deploy/rp/namespace.yaml",
        include_str!("../../deploy/rp/namespace.yaml"),
    ),
    (
        "deploy/rp/frontend-rbac.yaml",
        include_str!("../../deploy/rp/frontend-rbac.yaml"),
    ),
    (
        "deploy/rp/controller-rbac.yaml",
        include_str!("../../deploy/rp/controller-rbac.yaml"),
    ),
];

/// Field manager of what the local composition applies.
const FIELD_MANAGER: &str = "aro-local";

/// Lifetime of a component's token (kube-apiserver's default for TokenRequest).
const TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// How often a failed token refresh is retried.
const TOKEN_RETRY: Duration = Duration::from_secs(10);

/// Apply deploy/rp's namespace, ServiceAccounts, roles and bindings (server-side apply, so a
/// restart re-applies them idempotently and an edited file takes effect).
pub async fn apply_rp_rbac(admin: &kube::Client) -> Result<()> {
    for (file, text) in RP_MANIFESTS {
        aro_common::manifests::apply_yaml(admin, FIELD_MANAGER, file, text)
            .await
            .map_err(|e| Error::Config(e.to_string()))?;
    }
    Ok(())
}

/// A client of the management cluster authenticated as ServiceAccount `namespace/name`: `base`
/// (the cluster's address and CA) with the credentials replaced by a token file in `token_dir`,
/// which a task refreshes until `shutdown`. `admin` requests the tokens.
pub async fn service_account_client(
    admin: &kube::Client,
    base: &kube::Config,
    namespace: &str,
    name: &str,
    token_dir: &Path,
    shutdown: CancellationToken,
) -> Result<kube::Client> {
    let path = token_dir.join(format!("{namespace}.{name}.token"));
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), namespace);
    let expires_in = project_token(&accounts, name, &path).await?;
    tokio::spawn(refresh_token(
        accounts,
        name.to_string(),
        path.clone(),
        expires_in,
        shutdown,
    ));
    let mut config = base.clone();
    config.auth_info = kube::config::AuthInfo {
        token_file: Some(path.to_string_lossy().into_owned()),
        ..Default::default()
    };
    Ok(kube::Client::try_from(config)?)
}

/// Request a token of ServiceAccount `name` and write it to `path` (0600, replaced atomically);
/// returns how long it is valid.
async fn project_token(
    accounts: &Api<ServiceAccount>,
    name: &str,
    path: &Path,
) -> Result<Duration> {
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(TOKEN_LIFETIME.as_secs() as i64),
            ..Default::default()
        },
        ..Default::default()
    };
    let granted = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await?;
    let status = granted
        .status
        .ok_or_else(|| Error::System(format!("the TokenRequest of {name} returned no token")))?;
    aro_common::fs::write_private_file(path, status.token.as_bytes()).map_err(private)?;
    let remaining = status
        .expiration_timestamp
        .0
        .duration_since(k8s_openapi::jiff::Timestamp::now());
    Ok(Duration::try_from(remaining).unwrap_or(TOKEN_LIFETIME))
}

/// Request a new token at 80% of the current one's lifetime, as the kubelet does; retry failures
/// every [`TOKEN_RETRY`] (the old token stays in the file and keeps working until it expires).
async fn refresh_token(
    accounts: Api<ServiceAccount>,
    name: String,
    path: PathBuf,
    mut expires_in: Duration,
    shutdown: CancellationToken,
) {
    let mut wait = expires_in.mul_f64(0.8);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        match project_token(&accounts, &name, &path).await {
            Ok(lifetime) => {
                expires_in = lifetime;
                wait = expires_in.mul_f64(0.8);
            }
            Err(error) => {
                tracing::warn!(service_account = %name, %error, "refreshing the token failed; retrying");
                wait = TOKEN_RETRY;
            }
        }
    }
}
