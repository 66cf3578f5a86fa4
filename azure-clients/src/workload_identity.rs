//! Workload identity whose federated token is a file that Kubernetes keeps rotating.
//!
//! A projected service-account token expires after about an hour and the kubelet rewrites the
//! file before then. The SDK's `WorkloadIdentityCredential` takes the token once, at
//! construction, so a long-running process starts failing an hour in. This credential reads the
//! file at every token request (that is, whenever no cached access token is still valid) and
//! caches access tokens only until shortly before their own expiry.

use azure_core::auth::{AccessToken, Secret, TokenCredential};
use azure_core::error::{Error as CoreError, ErrorKind, ResultExt};
use azure_core::{HttpClient, Method, Request, Url, content_type, headers};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Access tokens are renewed this long before they expire, so a request never leaves with a token
/// that expires on the way.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Client-credentials grant with a federated assertion read from a file at each token request.
pub struct FederatedTokenFileCredential {
    http: Arc<dyn HttpClient>,
    authority_host: Url,
    tenant_id: String,
    client_id: String,
    token_file: PathBuf,
    cache: tokio::sync::Mutex<HashMap<Vec<String>, AccessToken>>,
}

impl std::fmt::Debug for FederatedTokenFileCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederatedTokenFileCredential")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

#[derive(serde::Deserialize, Default)]
struct TokenRefusal {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

impl FederatedTokenFileCredential {
    /// A credential for `client_id` in `tenant_id` exchanging the token in `token_file`.
    pub fn new(
        http: Arc<dyn HttpClient>,
        authority_host: Url,
        tenant_id: String,
        client_id: String,
        token_file: PathBuf,
    ) -> Self {
        Self {
            http,
            authority_host,
            tenant_id,
            client_id,
            token_file,
            cache: Default::default(),
        }
    }

    async fn assertion(&self) -> azure_core::Result<String> {
        let text = tokio::fs::read_to_string(&self.token_file)
            .await
            .with_context(ErrorKind::Credential, || {
                format!(
                    "cannot read federated token file {}",
                    self.token_file.display()
                )
            })?;
        let token = text.trim();
        if token.is_empty() {
            return Err(CoreError::with_message(ErrorKind::Credential, || {
                format!(
                    "federated token file {} is empty",
                    self.token_file.display()
                )
            }));
        }
        Ok(token.to_string())
    }

    async fn request_token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let assertion = self.assertion().await?;
        let body = form_body(&[
            ("client_id", &self.client_id),
            ("scope", &scopes.join(" ")),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
            ("grant_type", "client_credentials"),
        ]);
        let url = self
            .authority_host
            .join(&format!("/{}/oauth2/v2.0/token", self.tenant_id))
            .with_context(ErrorKind::Credential, || {
                format!("tenant id {:?} does not fit in a URL", self.tenant_id)
            })?;
        let mut request = Request::new(url, Method::Post);
        request.insert_header(
            headers::CONTENT_TYPE,
            content_type::APPLICATION_X_WWW_FORM_URLENCODED,
        );
        request.set_body(body);
        let requested_at = SystemTime::now();
        let response = self
            .http
            .execute_request(&request)
            .await
            .context(ErrorKind::Credential, "token request failed")?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .context(ErrorKind::Credential, "reading the token answer")?;
        if !status.is_success() {
            // Entra's answer (`AADSTS...: why`) is what an operator needs; it names no secret.
            let refusal: TokenRefusal = serde_json::from_slice(&bytes).unwrap_or_default();
            return Err(CoreError::with_message(ErrorKind::Credential, || {
                format!(
                    "the identity provider refused the federated token from {} for client {} ({}): {} {}",
                    self.token_file.display(),
                    self.client_id,
                    u16::from(status),
                    refusal.error,
                    refusal.error_description
                )
            }));
        }
        let answer: TokenAnswer = serde_json::from_slice(&bytes)
            .context(ErrorKind::Credential, "unreadable token answer")?;
        Ok(AccessToken::new(
            Secret::new(answer.access_token),
            (requested_at + Duration::from_secs(answer.expires_in)).into(),
        ))
    }
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Whether a cached token is still good for a request leaving now.
fn fresh(token: &AccessToken) -> bool {
    token.expires_on > SystemTime::now() + EXPIRY_MARGIN
}

#[async_trait::async_trait]
impl TokenCredential for FederatedTokenFileCredential {
    async fn get_token(&self, scopes: &[&str]) -> azure_core::Result<AccessToken> {
        let key: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        // One request at a time: concurrent callers wait for the token the first one fetches.
        let mut cache = self.cache.lock().await;
        if let Some(token) = cache.get(&key).filter(|t| fresh(t)) {
            return Ok(token.clone());
        }
        let token = self.request_token(scopes).await?;
        cache.insert(key, token.clone());
        Ok(token)
    }

    async fn clear_cache(&self) -> azure_core::Result<()> {
        self.cache.lock().await.clear();
        Ok(())
    }
}
