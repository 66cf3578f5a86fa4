//! Starting devcluster: data dir, PKI, storage, the API machinery, and HTTPS serving with
//! bearer-token and client-certificate authentication over HTTP/1.1 and HTTP/2.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aro_common::serve::{PeerCertificate, ServeOptions, Transport};
use axum::body::Body;
use futures::StreamExt;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::auth::{
    AccessLog, Authenticator, Authorizer, ServiceAccountController, ServiceAccountTokens,
    SigningKey, StaticTokens, UserInfo,
};
use crate::certs::{Pki, identity_of};
use crate::error::{ApiError, Error};
use crate::faults::Faults;
use crate::http::{Metrics, OpenApiCache, PeerIdentity, Query, Server};
use crate::registry::Registry;
use crate::rest::{Rest, WriteOptions};
use crate::storage::{HistoryLimits, Store};

/// Namespaces that exist from the start, like in a fresh cluster.
pub const INITIAL_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

/// `aro devcluster`: run an embedded Kubernetes-API-compatible server.
#[derive(Debug, Clone, clap::Args)]
pub struct DevclusterArgs {
    /// Address to serve HTTPS on (port 0 picks a free port).
    #[arg(long, env = "DEVCLUSTER_LISTEN", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Directory for the database, certificates, admin token and kubeconfig.
    #[arg(long, env = "DEVCLUSTER_DATA_DIR", default_value = ".aro/devcluster")]
    pub data_dir: PathBuf,
    /// Keep everything in memory (nothing is written to disk; no kubeconfig file).
    #[arg(long)]
    pub in_memory: bool,
    /// Cluster and context name in the kubeconfig.
    #[arg(long, default_value = "devcluster")]
    pub name: String,
    /// kube-apiserver's `EncryptionConfiguration` for Secrets at rest (an `aesgcm` provider
    /// first; its first key encrypts, every key decrypts). Without it the data dir gets its own
    /// (`encryption-config.yaml`, one random key).
    #[arg(long, env = "DEVCLUSTER_ENCRYPTION_PROVIDER_CONFIG")]
    pub encryption_provider_config: Option<PathBuf>,
    /// Static bearer tokens, kube-apiserver's CSV format: one `token,user,uid,"group1,group2"`
    /// a line (the groups column is optional).
    #[arg(long, env = "DEVCLUSTER_TOKEN_AUTH_FILE")]
    pub token_auth_file: Option<PathBuf>,
    /// The issuer (`iss`) of the ServiceAccount tokens this server issues and accepts, and of
    /// its discovery document (`/.well-known/openid-configuration`).
    #[arg(long, default_value = crate::auth::service_accounts::DEFAULT_ISSUER)]
    pub service_account_issuer: String,
    /// The audiences the API server identifies as (comma-separated): tokens must be valid for
    /// one of them, and TokenRequests without audiences get them. Default: the issuer.
    #[arg(long, value_delimiter = ',')]
    pub api_audiences: Vec<String>,
}

/// How to start a devcluster in-process.
#[derive(Debug, Clone)]
pub struct DevclusterConfig {
    pub listen: SocketAddr,
    /// `None`: in-memory (tests).
    pub data_dir: Option<PathBuf>,
    pub name: String,
    /// CA certificates (PEM) whose client certificates the server accepts besides its own CA's,
    /// as an API server given extra client CAs (OpenShift's `APIServer.spec.clientCA`).
    pub extra_client_ca_pems: Vec<String>,
    /// The encryption-at-rest configuration of a durable server; `None`: the data dir's own.
    pub encryption_provider_config: Option<PathBuf>,
    /// Record what each user was allowed to do ([`Devcluster::access_log`]); tests only.
    pub record_access: bool,
    /// `--token-auth-file`: static bearer tokens.
    pub token_auth_file: Option<PathBuf>,
    /// `--service-account-issuer`.
    pub service_account_issuer: String,
    /// `--api-audiences` (empty: the issuer).
    pub api_audiences: Vec<String>,
    /// How much past the watch history keeps (older resourceVersions get 410 Gone).
    pub watch_history: HistoryLimits,
}

impl DevclusterConfig {
    /// In memory, on a free loopback port: what tests use.
    pub fn in_memory() -> Self {
        DevclusterConfig {
            listen: "127.0.0.1:0".parse().expect("valid address"),
            data_dir: None,
            name: "devcluster".into(),
            extra_client_ca_pems: Vec::new(),
            encryption_provider_config: None,
            record_access: false,
            token_auth_file: None,
            service_account_issuer: crate::auth::service_accounts::DEFAULT_ISSUER.into(),
            api_audiences: Vec::new(),
            watch_history: HistoryLimits::default(),
        }
    }

    /// Durable in `dir`, on a free loopback port.
    pub fn durable(dir: impl Into<PathBuf>) -> Self {
        DevclusterConfig {
            data_dir: Some(dir.into()),
            ..Self::in_memory()
        }
    }
}

impl From<&DevclusterArgs> for DevclusterConfig {
    fn from(a: &DevclusterArgs) -> Self {
        DevclusterConfig {
            listen: a.listen,
            data_dir: (!a.in_memory).then(|| a.data_dir.clone()),
            name: a.name.clone(),
            extra_client_ca_pems: Vec::new(),
            encryption_provider_config: a.encryption_provider_config.clone(),
            record_access: false,
            token_auth_file: a.token_auth_file.clone(),
            service_account_issuer: a.service_account_issuer.clone(),
            api_audiences: a.api_audiences.clone(),
            watch_history: HistoryLimits::default(),
        }
    }
}

/// A running devcluster.
pub struct Devcluster {
    pub addr: SocketAddr,
    pub url: String,
    pki: Pki,
    kubeconfig: String,
    pub kubeconfig_path: Option<PathBuf>,
    rest: Arc<Rest>,
    server: Arc<Server>,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Devcluster {
    /// Start serving; returns once the server accepts connections.
    pub async fn start(config: DevclusterConfig) -> Result<Devcluster, Error> {
        if let Some(dir) = &config.data_dir {
            aro_common::fs::create_private_dir(dir).map_err(Error::PrivateFile)?;
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: config.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Listen {
            addr: config.listen.to_string(),
            source,
        })?;
        let mut hosts = vec![
            "localhost".to_string(),
            "127.0.0.1".to_string(),
            "::1".to_string(),
        ];
        if !addr.ip().is_unspecified() && !hosts.contains(&addr.ip().to_string()) {
            hosts.push(addr.ip().to_string());
        }
        let pki = Pki::load_or_create(config.data_dir.as_deref(), &hosts)?;
        let static_tokens = match &config.token_auth_file {
            Some(path) => StaticTokens::load(path)?,
            None => StaticTokens::default(),
        };
        let service_accounts = Arc::new(ServiceAccountTokens::new(
            SigningKey::load_or_create(config.data_dir.as_deref())?,
            config.service_account_issuer.clone(),
            config.api_audiences.clone(),
        ));
        let store = match &config.data_dir {
            Some(dir) => {
                let encryption = crate::encryption::Encryption::load_or_create(
                    dir,
                    config.encryption_provider_config.as_deref(),
                )?;
                open_durable(dir, Arc::new(encryption), config.watch_history).await?
            }
            None => Store::in_memory(config.watch_history),
        };
        let rest = Arc::new(Rest {
            store,
            registry: Arc::new(Registry::new()),
        });
        rest.register_stored_crds();
        ensure_initial_namespaces(&rest).await?;
        // The initial namespaces are complete before the first request, as in a cluster whose
        // controllers have run: later namespaces are populated by the controller.
        let accounts = Arc::new(ServiceAccountController::new(
            service_accounts.clone(),
            pki.ca_cert_pem.clone(),
        ));
        // Concurrently, so that a durable store commits them in few transactions.
        futures::future::join_all(
            INITIAL_NAMESPACES
                .iter()
                .map(|ns| accounts.populate_namespace(&rest, ns)),
        )
        .await;
        crate::auth::bootstrap::reconcile(&rest).await?;
        let host = if addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else {
            addr.ip().to_string()
        };
        let url = if addr.is_ipv6() {
            format!("https://[{host}]:{}", addr.port())
        } else {
            format!("https://{host}:{}", addr.port())
        };
        let kubeconfig = pki.kubeconfig(&url, &config.name);
        let kubeconfig_path = match &config.data_dir {
            Some(dir) => {
                let path = dir.join("kubeconfig");
                aro_common::fs::write_private_file(&path, kubeconfig.as_bytes())
                    .map_err(Error::PrivateFile)?;
                Some(path)
            }
            None => None,
        };
        let shutdown = CancellationToken::new();
        let server = Arc::new(Server {
            rest: rest.clone(),
            authenticator: Authenticator::new(
                pki.admin_token.clone(),
                static_tokens,
                service_accounts.clone(),
                rest.store.clone(),
            ),
            url: url.clone(),
            metrics: Metrics::new(),
            openapi: OpenApiCache::default(),
            faults: Default::default(),
            authorizer: Authorizer::new(rest.store.clone()),
            access_log: AccessLog::new(config.record_access),
        });
        let tls = tls_config(&pki, &config.extra_client_ca_pems)?;
        let tasks = vec![
            tokio::spawn(crate::controllers::run(
                rest.clone(),
                accounts,
                shutdown.clone(),
            )),
            tokio::spawn(serve(listener, tls, server.clone(), shutdown.clone())),
        ];
        tracing::info!(%url, durable = rest.store.is_durable(), "devcluster serving");
        Ok(Devcluster {
            addr,
            url,
            pki,
            kubeconfig,
            kubeconfig_path,
            rest,
            server,
            shutdown,
            tasks,
        })
    }

    /// The kubeconfig (admin token user as current context; `<name>-cert` uses the client cert).
    pub fn kubeconfig_yaml(&self) -> &str {
        &self.kubeconfig
    }

    /// A kube client authenticated as the admin.
    pub async fn client(&self) -> Result<kube::Client, Error> {
        client_of(&self.kubeconfig).await
    }

    /// A one-context kubeconfig for this server with `user` (the YAML of a kubeconfig user's
    /// fields).
    fn kubeconfig_for_user(&self, user: &str) -> String {
        use base64::Engine;
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n",
            url = self.url,
            ca = base64::engine::general_purpose::STANDARD.encode(self.pki.ca_cert_pem.as_bytes()),
        )
    }

    /// A kubeconfig for this server authenticating `user` in `groups` by a client certificate of
    /// the cluster CA, valid for `validity` (`None`: the far future).
    pub fn client_certificate_kubeconfig(
        &self,
        user: &str,
        groups: &[&str],
        validity: Option<std::time::Duration>,
    ) -> Result<String, Error> {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        let (cert, key) = match validity {
            Some(validity) => self.pki.issue_client_valid_for(user, groups, validity)?,
            None => self.pki.issue_client(user, groups)?,
        };
        Ok(self.kubeconfig_for_user(&format!(
            "    client-certificate-data: {}\n    client-key-data: {}\n",
            b64(&cert),
            b64(&key)
        )))
    }

    /// A token of the ServiceAccount `namespace/name` for `audiences` (empty: the API
    /// audiences), valid for `expiration`: what a TokenRequest returns (same checks: the
    /// ServiceAccount must exist, at least 10 minutes).
    pub fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        audiences: &[&str],
        expiration: std::time::Duration,
    ) -> Result<String, Error> {
        let request = json!({"spec": {
            "audiences": audiences,
            "expirationSeconds": expiration.as_secs(),
        }});
        let response = self
            .server
            .authenticator
            .token_request(namespace, name, request)
            .map_err(|e| Error::ServiceAccountToken(e.message))?;
        Ok(response["status"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// A kubeconfig for this server authenticating with the bearer `token`.
    pub fn token_kubeconfig(&self, token: &str) -> String {
        self.kubeconfig_for_user(&format!("    token: {token}\n"))
    }

    /// A kube client authenticating with the bearer `token`.
    pub async fn client_with_token(&self, token: &str) -> Result<kube::Client, Error> {
        client_of(&self.token_kubeconfig(token)).await
    }

    /// A kube client authenticated as `user` in `groups` by a client certificate of the cluster
    /// CA; what it may do is what RBAC grants it (everything in `system:masters`).
    pub async fn client_as(&self, user: &str, groups: &[&str]) -> Result<kube::Client, Error> {
        client_of(&self.client_certificate_kubeconfig(user, groups, None)?).await
    }

    /// A kube client (as the admin) that calls this server's handlers in-process: the same API,
    /// without a socket, TLS or HTTP framing. What a component embedded next to the server
    /// uses when connections are the scarce resource (the local cluster runtime runs hundreds of
    /// servers and their operators in one process). Requests fail, and open watches end, once
    /// the server stops.
    pub fn in_process_client(&self) -> kube::Client {
        self.in_process_client_as(UserInfo::admin())
    }

    /// Like [`Devcluster::in_process_client`], authenticated as `user` (as a verified client
    /// certificate would authenticate it).
    pub fn in_process_client_as(&self, user: UserInfo) -> kube::Client {
        let server = self.server.clone();
        let shutdown = self.shutdown.clone();
        let identity = PeerIdentity(Some(user));
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let server = server.clone();
            let shutdown = shutdown.clone();
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(identity.clone());
            async move {
                if shutdown.is_cancelled() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionRefused,
                        "devcluster stopped",
                    ));
                }
                let (parts, body) = crate::http::handle(server, request).await.into_parts();
                let frames =
                    http_body_util::BodyStream::new(body).take_until(shutdown.cancelled_owned());
                Ok(http::Response::from_parts(
                    parts,
                    Body::new(http_body_util::StreamBody::new(frames)),
                ))
            }
        });
        kube::Client::new(service, "default")
    }

    /// Stop serving and the controllers; returns once the database file is closed.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        self.rest.store.close().await;
    }

    /// What each user was allowed to do, when [`DevclusterConfig::record_access`] is set.
    pub fn access_log(&self) -> &AccessLog {
        &self.server.access_log
    }

    /// Test-only fault injection: stall the requests of one user (see [`Faults`]).
    pub fn faults(&self) -> &Faults {
        &self.server.faults
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// A kube client of a kubeconfig's current context.
async fn client_of(kubeconfig_yaml: &str) -> Result<kube::Client, Error> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml)
        .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    kube::Client::try_from(config).map_err(|e| Error::Kubeconfig(e.to_string()))
}

/// A server dropped without [`Devcluster::stop`] (its owner's task was aborted) still shuts down,
/// releasing its port and its database for a successor.
impl Drop for Devcluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.rest.store.close_soon();
    }
}

/// How long a starting server waits for a predecessor (stopping, or dropped mid-start) to
/// release the database file.
const STORAGE_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn open_durable(
    dir: &std::path::Path,
    encryption: Arc<crate::encryption::Encryption>,
    history: HistoryLimits,
) -> Result<Arc<Store>, Error> {
    let deadline = tokio::time::Instant::now() + STORAGE_RELEASE_WAIT;
    loop {
        match Store::open(dir, encryption.clone(), history) {
            Err(Error::StorageInUse(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            result => return result,
        }
    }
}

async fn ensure_initial_namespaces(rest: &Rest) -> Result<(), Error> {
    let rt = rest
        .registry
        .find("", "v1", "namespaces")
        .expect("namespaces are built in");
    for ns in INITIAL_NAMESPACES {
        if rest.store.get(&rt.key("", ns)).is_some() {
            continue;
        }
        let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let opts = WriteOptions {
            field_manager: "devcluster".into(),
            ..Default::default()
        };
        match rest.create(&rt, "", obj, &opts).await {
            Ok(_) => {}
            Err(e) if e.code == 409 => {}
            Err(e) => return Err(Error::Storage(format!("creating namespace {ns}: {e}"))),
        }
    }
    Ok(())
}

fn tls_config(
    pki: &Pki,
    extra_client_ca_pems: &[String],
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let cert_err = |e: &dyn std::fmt::Display| Error::Certificates(e.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut pki.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| cert_err(&e))?;
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut pki.server_key_pem.as_bytes())
            .map_err(|e| cert_err(&e))?
            .ok_or_else(|| Error::Certificates("no serving key".into()))?;
    let mut roots = rustls::RootCertStore::empty();
    let client_cas = std::iter::once(pki.ca_cert_pem.as_str())
        .chain(extra_client_ca_pems.iter().map(String::as_str));
    for pem in client_cas {
        for ca in rustls_pemfile::certs(&mut pem.as_bytes()) {
            roots
                .add(ca.map_err(|e| cert_err(&e))?)
                .map_err(|e| cert_err(&e))?;
        }
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()
        .map_err(|e| cert_err(&e))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| cert_err(&e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| cert_err(&e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The serve path's limits for an API server: kube-apiserver's request timeout, with watches
/// exempt (they run until their own `timeoutSeconds`); no shutdown grace, so a stopped server
/// holds no storage a successor needs.
fn serve_options() -> ServeOptions {
    ServeOptions {
        request_timeout: Some(REQUEST_TIMEOUT),
        is_long_running,
        timeout_response: request_timed_out,
        shutdown_grace: std::time::Duration::ZERO,
        ..ServeOptions::default()
    }
}

/// kube-apiserver's default `--request-timeout`.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Watches stream for as long as the client asked; they are not cut by the request timeout.
fn is_long_running(request: &axum::extract::Request) -> bool {
    request.method() == http::Method::GET && Query::parse(request.uri().query()).flag("watch")
}

/// What kube-apiserver answers when a request outlives the request timeout.
fn request_timed_out(_limit: std::time::Duration) -> axum::response::Response {
    let mut error = ApiError::new(
        504,
        "Timeout",
        "Timeout: request did not complete within the allotted timeout",
    );
    error.retry_after_seconds = Some(1);
    axum::response::IntoResponse::into_response(error)
}

async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    server: Arc<Server>,
    shutdown: CancellationToken,
) {
    // The client certificate was verified against the cluster CA during the handshake; the
    // identity it names is what the handlers authenticate.
    let app = axum::Router::new().fallback(move |mut request: axum::extract::Request| {
        let server = server.clone();
        async move {
            let identity = PeerIdentity(
                request
                    .extensions()
                    .get::<PeerCertificate>()
                    .and_then(|certificate| identity_of(&certificate.0))
                    .map(|(name, groups)| UserInfo::new(name, groups)),
            );
            request.extensions_mut().insert(identity);
            crate::http::handle(server, request).await
        }
    });
    aro_common::serve::serve(
        listener,
        Transport::Tls(tls),
        app,
        serve_options(),
        shutdown,
    )
    .await
}

/// `aro devcluster`: serve until `shutdown`.
pub async fn run(args: DevclusterArgs, shutdown: CancellationToken) -> Result<(), Error> {
    let config = DevclusterConfig::from(&args);
    let dc = Devcluster::start(config).await?;
    match &dc.kubeconfig_path {
        Some(p) => println!(
            "devcluster serving at {}\nkubeconfig: {}\n  export KUBECONFIG={}",
            dc.url,
            p.display(),
            p.display()
        ),
        None => println!(
            "devcluster serving at {} (in memory)\n{}",
            dc.url,
            dc.kubeconfig_yaml()
        ),
    }
    shutdown.cancelled().await;
    dc.stop().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, uri: &str) -> axum::extract::Request {
        http::Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn only_watches_are_exempt_from_the_request_timeout() {
        for uri in [
            "/api/v1/namespaces/default/configmaps?watch=true",
            "/api/v1/pods?watch=1&resourceVersion=5",
            "/apis/apps/v1/deployments?watch",
        ] {
            assert!(is_long_running(&request("GET", uri)), "{uri}");
        }
        for (method, uri) in [
            ("GET", "/api/v1/namespaces/default/configmaps"),
            ("GET", "/api/v1/pods?watch=false"),
            ("POST", "/api/v1/namespaces/default/configmaps?watch=true"),
        ] {
            assert!(!is_long_running(&request(method, uri)), "{method} {uri}");
        }
    }

    #[test]
    fn authentication_flags_reach_the_config() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: DevclusterArgs,
        }
        let cli = Cli::try_parse_from([
            "devcluster",
            "--token-auth-file",
            "/etc/tokens.csv",
            "--service-account-issuer",
            "https://issuer.example",
            "--api-audiences",
            "api,https://issuer.example",
        ])
        .unwrap();
        let config = DevclusterConfig::from(&cli.args);
        assert_eq!(config.token_auth_file, Some("/etc/tokens.csv".into()));
        assert_eq!(config.service_account_issuer, "https://issuer.example");
        assert_eq!(config.api_audiences, ["api", "https://issuer.example"]);
        let defaults = DevclusterConfig::from(&Cli::try_parse_from(["devcluster"]).unwrap().args);
        assert_eq!(
            defaults.service_account_issuer,
            crate::auth::service_accounts::DEFAULT_ISSUER
        );
        assert!(defaults.api_audiences.is_empty());
        let help = <Cli as clap::CommandFactory>::command()
            .render_long_help()
            .to_string();
        for flag in [
            "--token-auth-file",
            "--service-account-issuer",
            "--api-audiences",
        ] {
            assert!(help.contains(flag), "{flag} in {help}");
        }
    }

    #[test]
    fn a_timed_out_request_gets_a_kubernetes_status() {
        let response = request_timed_out(REQUEST_TIMEOUT);
        assert_eq!(response.status(), 504);
        assert_eq!(response.headers()["retry-after"], "1");
    }
}
