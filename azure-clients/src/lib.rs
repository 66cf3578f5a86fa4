//! The Azure client layer: builds the Azure SDK clients (network, resources, compute,
//! authorization, DNS) and a generic JSON ARM client from configuration, with ARM retry
//! semantics, long-running operations as pollable handles, and errors classified as retryable or
//! terminal. Pointing at real Azure or at the arm-emulator differs only in configuration.

mod arm;
mod blob;
mod config;
mod error;
pub mod lro;
pub mod retry;
mod workload_identity;

pub use arm::{ArmClient, Precondition};
pub use aro_common::ResourceId;
pub use blob::{BLOB_SERVICE_VERSION, BlobClient, STORAGE_SCOPE};
pub use config::{AzureArgs, AzureConfig, Credentials, PUBLIC_ARM_ENDPOINT, PUBLIC_AUTHORITY_HOST};
pub use error::{CloudError, Error};
pub use lro::{OperationState, PendingOperation, Started};
pub use retry::{ArmRetryPolicy, RetrySettings};
pub use workload_identity::FederatedTokenFileCredential;

/// The SDK crates, re-exported so users need no direct dependency on them.
pub use azure_core;
pub use azure_identity;
pub use azure_mgmt_authorization;
pub use azure_mgmt_compute;
pub use azure_mgmt_dns;
pub use azure_mgmt_network;
pub use azure_mgmt_resources;

/// api-version of Microsoft.Network: the one of the SDK's network client (its `package-2024-03`),
/// and of every network call of the generic [`ArmClient`] (rp-controller's steps, aro-operator's
/// subnet reconciler), so both clients see the same resource shapes.
pub const NETWORK_API_VERSION: &str = "2024-03-01";

use azure_core::auth::TokenCredential;
use azure_core::{ClientOptions, HttpClient, RetryOptions, TransportOptions, Url};
use azure_identity::ClientSecretCredential;
use std::sync::Arc;

/// Factory of Azure clients sharing one credential, retry policy and transport.
#[derive(Clone, Debug)]
pub struct AzureClients {
    config: AzureConfig,
    credential: Arc<dyn TokenCredential>,
    options: ClientOptions,
}

impl AzureClients {
    /// Builds the credential and client options from configuration.
    pub fn new(config: AzureConfig) -> Result<Self, Error> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .connect_timeout(std::time::Duration::from_secs(10));
        if let Some(pem) = &config.extra_ca_pem {
            let ca = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| Error::InvalidConfig(format!("extra CA certificate: {e}")))?;
            builder = builder.add_root_certificate(ca);
        }
        let http: Arc<dyn HttpClient> = Arc::new(
            builder
                .build()
                .map_err(|e| Error::InvalidConfig(format!("HTTP client: {e}")))?,
        );
        let credential: Arc<dyn TokenCredential> = match &config.credentials {
            Credentials::ClientSecret {
                client_id,
                client_secret,
            } => Arc::new(ClientSecretCredential::new(
                http.clone(),
                config.authority_host.clone(),
                config.tenant_id.clone(),
                client_id.clone(),
                client_secret.expose().clone(),
            )),
            Credentials::WorkloadIdentity {
                client_id,
                token_file,
            } => {
                // Fail at start-up when the file is missing; it is read again at every token
                // request, as the kubelet rotates it.
                std::fs::metadata(token_file).map_err(|source| Error::FederatedToken {
                    path: token_file.display().to_string(),
                    source,
                })?;
                Arc::new(FederatedTokenFileCredential::new(
                    http.clone(),
                    config.authority_host.clone(),
                    config.tenant_id.clone(),
                    client_id.clone(),
                    token_file.clone(),
                ))
            }
        };
        let transport: Arc<dyn HttpClient> = Arc::new(arm::WireAuthorization(http));
        let mut options =
            ClientOptions::new(TransportOptions::new(transport)).retry(RetryOptions::none());
        options
            .per_retry_policies_mut()
            .push(Arc::new(ArmRetryPolicy::new(config.retry.clone())));
        Ok(Self {
            config,
            credential,
            options,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &AzureConfig {
        &self.config
    }

    /// The subscription the clients work in.
    pub fn subscription_id(&self) -> &str {
        &self.config.subscription_id
    }

    /// The shared credential.
    pub fn credential(&self) -> Arc<dyn TokenCredential> {
        self.credential.clone()
    }

    /// The object id of this identity: the `oid` claim of its ARM access token. ARO reads a
    /// service principal's object id the same way; the token is only decoded, not verified (the
    /// identity provider just issued it to us).
    pub async fn object_id(&self) -> Result<String, Error> {
        let scope = self.config.token_scope();
        let token = self.credential.get_token(&[scope.as_str()]).await?;
        token_claim(token.token.secret(), "oid").ok_or_else(|| {
            Error::Unexpected("the access token carries no object id (oid claim)".into())
        })
    }

    fn endpoint(&self) -> Url {
        self.config.arm_endpoint.clone()
    }

    fn scopes(&self) -> Vec<String> {
        vec![self.config.token_scope()]
    }

    /// Microsoft.Network (api-version [`NETWORK_API_VERSION`]).
    pub fn network(&self) -> azure_mgmt_network::Client {
        azure_mgmt_network::Client::new(
            self.endpoint(),
            self.credential(),
            self.scopes(),
            self.options.clone(),
        )
    }

    /// Microsoft.Resources (resource groups, providers, generic resources; 2021-04-01).
    pub fn resources(&self) -> azure_mgmt_resources::Client {
        azure_mgmt_resources::Client::new(
            self.endpoint(),
            self.credential(),
            self.scopes(),
            self.options.clone(),
        )
    }

    /// Microsoft.Compute (2024-07-01).
    pub fn compute(&self) -> azure_mgmt_compute::Client {
        azure_mgmt_compute::Client::new(
            self.endpoint(),
            self.credential(),
            self.scopes(),
            self.options.clone(),
        )
    }

    /// Microsoft.Authorization (role assignments, permissions; 2022-04-01).
    pub fn authorization(&self) -> azure_mgmt_authorization::Client {
        azure_mgmt_authorization::Client::new(
            self.endpoint(),
            self.credential(),
            self.scopes(),
            self.options.clone(),
        )
    }

    /// Microsoft.Network DNS zones and record sets (2018-05-01).
    pub fn dns(&self) -> azure_mgmt_dns::package_2018_05::Client {
        azure_mgmt_dns::package_2018_05::Client::new(
            self.endpoint(),
            self.credential(),
            self.scopes(),
            self.options.clone(),
        )
    }

    /// Blob service client (the data plane of storage accounts).
    pub fn blobs(&self) -> BlobClient {
        BlobClient::new(self.credential(), self.options.clone())
    }

    /// Generic JSON ARM client.
    pub fn arm(&self) -> ArmClient {
        ArmClient::new(
            self.endpoint(),
            self.credential(),
            self.scopes(),
            self.options.clone(),
        )
    }
}

/// A string claim of a JWT's payload (unverified).
pub fn token_claim(token: &str, claim: &str) -> Option<String> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get(claim)?.as_str().map(str::to_string)
}

#[cfg(test)]
mod token_tests {
    use super::token_claim;

    #[test]
    fn claims_are_read_from_the_payload() {
        // {"alg":"none"} . {"oid":"o-1","tid":"t"} . signature
        let token = "eyJhbGciOiJub25lIn0.eyJvaWQiOiJvLTEiLCJ0aWQiOiJ0In0.c2ln";
        assert_eq!(token_claim(token, "oid").as_deref(), Some("o-1"));
        assert_eq!(token_claim(token, "tid").as_deref(), Some("t"));
        assert_eq!(token_claim(token, "appid"), None);
        assert_eq!(token_claim("opaque", "oid"), None);
        assert_eq!(token_claim("a.!!!.c", "oid"), None);
    }
}
