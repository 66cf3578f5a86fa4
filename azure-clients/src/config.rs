//! Where Azure is and who we are there.

use crate::error::Error;
use crate::retry::RetrySettings;
use aro_common::Secret;
use azure_core::Url;
use std::path::PathBuf;
use std::time::Duration;

/// Azure public cloud's Resource Manager.
pub const PUBLIC_ARM_ENDPOINT: &str = "https://management.azure.com";
/// Azure public cloud's Entra ID authority.
pub const PUBLIC_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

/// How the client proves who it is.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Service principal with a client secret.
    ClientSecret {
        /// Application (client) id.
        client_id: String,
        /// The secret.
        client_secret: Secret,
    },
    /// Workload identity: a federated token exchanged for an Entra token.
    WorkloadIdentity {
        /// Application (client) id.
        client_id: String,
        /// File holding the federated token (as projected by Kubernetes); read again at every
        /// token request, since the kubelet rotates it.
        token_file: PathBuf,
    },
}

impl std::fmt::Debug for Credentials {
    // Secrets never reach logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::ClientSecret { client_id, .. } => f
                .debug_struct("ClientSecret")
                .field("client_id", client_id)
                .finish_non_exhaustive(),
            Credentials::WorkloadIdentity {
                client_id,
                token_file,
            } => f
                .debug_struct("WorkloadIdentity")
                .field("client_id", client_id)
                .field("token_file", token_file)
                .finish(),
        }
    }
}

/// Everything needed to build clients.
#[derive(Clone, Debug)]
pub struct AzureConfig {
    /// Resource Manager endpoint (Azure, or the arm-emulator's base URL).
    pub arm_endpoint: Url,
    /// Entra ID authority host (Azure, or the arm-emulator's base URL).
    pub authority_host: Url,
    /// Tenant id.
    pub tenant_id: String,
    /// Credentials.
    pub credentials: Credentials,
    /// Subscription the clients work in.
    pub subscription_id: String,
    /// Token scope; defaults to `{arm_endpoint}/.default`.
    pub scope: Option<String>,
    /// Retry behaviour.
    pub retry: RetrySettings,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Extra CA certificate (PEM) to trust, e.g. the arm-emulator's with `--tls`.
    pub extra_ca_pem: Option<String>,
}

impl AzureConfig {
    /// A configuration with default retry and timeout.
    pub fn new(
        arm_endpoint: Url,
        authority_host: Url,
        tenant_id: impl Into<String>,
        credentials: Credentials,
        subscription_id: impl Into<String>,
    ) -> Self {
        Self {
            arm_endpoint,
            authority_host,
            tenant_id: tenant_id.into(),
            credentials,
            subscription_id: subscription_id.into(),
            scope: None,
            retry: RetrySettings::default(),
            request_timeout: Duration::from_secs(60),
            extra_ca_pem: None,
        }
    }

    /// The token scope in force.
    pub fn token_scope(&self) -> String {
        self.scope.clone().unwrap_or_else(|| {
            format!(
                "{}/.default",
                self.arm_endpoint.as_str().trim_end_matches('/')
            )
        })
    }
}

/// Azure flags, for components to flatten into their own arguments.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct AzureArgs {
    /// Azure Resource Manager endpoint (the arm-emulator's URL in local mode).
    #[arg(long, env = "AZURE_ARM_ENDPOINT", default_value = PUBLIC_ARM_ENDPOINT)]
    pub azure_arm_endpoint: String,
    /// Entra ID authority host (the arm-emulator's URL in local mode).
    #[arg(long, env = "AZURE_AUTHORITY_HOST", default_value = PUBLIC_AUTHORITY_HOST)]
    pub azure_authority_host: String,
    /// Tenant id.
    #[arg(long, env = "AZURE_TENANT_ID")]
    pub azure_tenant_id: Option<String>,
    /// Application (client) id.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub azure_client_id: Option<String>,
    /// Client secret (prefer the environment variable).
    #[arg(long, env = "AZURE_CLIENT_SECRET", hide_env_values = true)]
    pub azure_client_secret: Option<Secret>,
    /// Federated token file for workload identity (used when no client secret is given).
    #[arg(long, env = "AZURE_FEDERATED_TOKEN_FILE")]
    pub azure_federated_token_file: Option<PathBuf>,
    /// Subscription id.
    #[arg(long, env = "AZURE_SUBSCRIPTION_ID")]
    pub azure_subscription_id: Option<String>,
    /// Extra CA certificate file (PEM) to trust (the arm-emulator's `--tls-ca-out`).
    #[arg(long, env = "AZURE_CA_FILE")]
    pub azure_ca_file: Option<PathBuf>,
    /// Retries of a failed Azure request (429/5xx/connection errors).
    #[arg(long, default_value_t = 4)]
    pub azure_max_retries: u32,
}

fn parse_url(name: &'static str, value: &str) -> Result<Url, Error> {
    Url::parse(value).map_err(|e| Error::InvalidConfig(format!("{name} '{value}': {e}")))
}

impl AzureArgs {
    /// The configuration the flags describe.
    pub fn to_config(&self) -> Result<AzureConfig, Error> {
        let client_id = self
            .azure_client_id
            .clone()
            .ok_or(Error::MissingConfig("--azure-client-id / AZURE_CLIENT_ID"))?;
        let credentials = match (&self.azure_client_secret, &self.azure_federated_token_file) {
            (Some(secret), _) => Credentials::ClientSecret {
                client_id,
                client_secret: secret.clone(),
            },
            (None, Some(file)) => Credentials::WorkloadIdentity {
                client_id,
                token_file: file.clone(),
            },
            (None, None) => {
                return Err(Error::MissingConfig(
                    "--azure-client-secret or --azure-federated-token-file",
                ));
            }
        };
        let mut cfg = AzureConfig::new(
            parse_url("ARM endpoint", &self.azure_arm_endpoint)?,
            parse_url("authority host", &self.azure_authority_host)?,
            self.azure_tenant_id
                .clone()
                .ok_or(Error::MissingConfig("--azure-tenant-id / AZURE_TENANT_ID"))?,
            credentials,
            self.azure_subscription_id
                .clone()
                .ok_or(Error::MissingConfig(
                    "--azure-subscription-id / AZURE_SUBSCRIPTION_ID",
                ))?,
        );
        cfg.retry.max_retries = self.azure_max_retries;
        if let Some(path) = &self.azure_ca_file {
            cfg.extra_ca_pem =
                Some(std::fs::read_to_string(path).map_err(|e| {
                    Error::InvalidConfig(format!("CA file {}: {e}", path.display()))
                })?);
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_need_identity_and_subscription() {
        let mut a = AzureArgs {
            azure_arm_endpoint: "http://127.0.0.1:1".into(),
            azure_authority_host: "http://127.0.0.1:1".into(),
            ..Default::default()
        };
        assert!(matches!(a.to_config(), Err(Error::MissingConfig(_))));
        a.azure_client_id = Some("c".into());
        a.azure_client_secret = Some("super-secret-value".into());
        a.azure_tenant_id = Some("t".into());
        a.azure_subscription_id = Some("sub".into());
        let cfg = a.to_config().unwrap();
        assert_eq!(cfg.token_scope(), "http://127.0.0.1:1/.default");
        assert!(!format!("{cfg:?}").contains("super-secret-value"));
        a.azure_arm_endpoint = "not a url".into();
        assert!(matches!(a.to_config(), Err(Error::InvalidConfig(_))));
    }
}
