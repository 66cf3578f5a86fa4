//! arm-emulator: an embedded Azure Resource Manager endpoint for local mode and tests.
//!
//! It serves, over real HTTP, the ARM REST surface the resource provider calls (resource groups,
//! networking, compute, authorization, provider registration) with ARM's wire behaviour:
//! long-running operations with `Azure-AsyncOperation`/`Location` polling, ARM error bodies,
//! throttling with `Retry-After`, and an AAD-style token endpoint so `azure_identity` credentials
//! work unmodified. Fault injection and a request log make idempotency testable.
//!
//! In-process use: [`ArmEmulator::start`] returns a handle with the base URL. Standalone use:
//! [`run`] with [`ArmEmulatorArgs`] (the `aro arm-emulator` subcommand).
//!
//! Layers, each using only those before it: `path`, `error`, `config` and `request` (URL shapes,
//! errors, settings, one request and its reply); `resources` (the indexed resource table); `authz`
//! (role-based access over the stored role assignments); `rules` (what each resource provider
//! does beyond generic ARM, one file per provider); `engine` (the ARM state machine: request
//! dispatch, resource groups, provider registration, generic resources, long-running
//! operations); `server` (HTTP, tokens, faults, admin API) and `blob` (the storage accounts' Blob
//! service and static websites).

pub mod authz;
mod blob;
pub mod config;
pub mod demo;
mod engine;
mod error;
pub mod path;
mod request;
mod resources;
mod rules;
mod server;
mod tls;

pub use rules::{compute, network};

pub use config::{
    DEFAULT_MAX_LOGGED_REQUESTS, DEFAULT_MAX_TOKENS, EmulatorConfig, FaultConfig, FaultRule,
    OpType, Principal, ProviderRegistration, Seed, SeedResource,
};
pub use error::{ApiError, Error};
pub use server::{LoggedRequest, LoggedTokenRequest};

use aro_common::serve::{ServeOptions, Transport, serve};
use engine::{Engine, EngineSettings};
use server::App;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Starts emulators.
pub struct ArmEmulator;

impl ArmEmulator {
    /// Binds the listen address, applies the seeds and serves until the handle is shut down.
    pub async fn start(config: EmulatorConfig) -> Result<EmulatorHandle, Error> {
        config.faults.validate().map_err(Error::InvalidFaults)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: config.listen.to_string(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(Error::Serve)?;
        let tls = if config.tls {
            Some(tls::generate(&[
                local_addr.ip().to_string(),
                "localhost".into(),
            ])?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{local_addr}");
        let engine = Engine::new(EngineSettings {
            lro_delay: config.lro_delay,
            lro_retry_after_secs: config.lro_retry_after_secs,
            locations: config.locations.clone(),
            subscriptions: config.subscriptions.clone(),
            tenant_id: config.tenant_id.clone(),
        });
        let app = Arc::new(App::new(
            engine,
            config.principals.clone(),
            config.faults.clone(),
            server::Limits {
                token_lifetime: config.token_lifetime,
                max_tokens: config.max_tokens.max(1),
                max_logged_requests: config.max_logged_requests.max(1),
            },
            config.seeds.clone(),
            base_url.clone(),
        ));
        for seed in &config.seeds {
            app.apply_seed(seed)?;
        }
        let shutdown = CancellationToken::new();
        let router = server::router(app.clone());
        let stop = shutdown.clone();
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let transport = match tls {
            Some(t) => Transport::Tls(Arc::new(t.server_config)),
            None => Transport::Plain,
        };
        let task = tokio::spawn(async move {
            serve(listener, transport, router, ServeOptions::default(), stop).await;
            Ok(())
        });
        tracing::info!(%base_url, "arm-emulator listening");
        Ok(EmulatorHandle {
            base_url,
            ca_pem,
            local_addr,
            shutdown,
            app,
            task,
        })
    }
}

/// A running emulator.
pub struct EmulatorHandle {
    /// `http(s)://127.0.0.1:<port>`: the ARM endpoint and the AAD authority host.
    pub base_url: String,
    /// With TLS: PEM of the CA that signed the serving certificate, for clients to trust.
    pub ca_pem: Option<String>,
    /// Bound address.
    pub local_addr: SocketAddr,
    /// Cancel to stop serving.
    pub shutdown: CancellationToken,
    app: Arc<App>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl EmulatorHandle {
    /// Adds principals and resources.
    pub fn seed(&self, seed: &Seed) -> Result<(), Error> {
        self.app.apply_seed(seed)
    }

    /// Adds one principal.
    pub fn add_principal(&self, principal: Principal) -> Result<(), Error> {
        self.app.apply_seed(&Seed {
            principals: vec![principal],
            ..Default::default()
        })
    }

    /// Rotates the federated credential of principal `client_id`: from now on the token endpoint
    /// accepts `assertion` as its `client_assertion` and refuses the previous one (access tokens
    /// already issued stay valid until they expire, as with Entra ID).
    pub fn set_federated_token(&self, client_id: &str, assertion: &str) -> Result<(), Error> {
        self.app.set_federated_token(client_id, assertion)
    }

    /// Replaces the fault configuration.
    pub fn set_faults(&self, faults: FaultConfig) -> Result<(), Error> {
        self.app.set_faults(faults)
    }

    /// The ARM request log, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.app.requests()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.app.clear_requests()
    }

    /// The token request log (tenant, client id, answer), oldest first.
    pub fn token_requests(&self) -> Vec<LoggedTokenRequest> {
        self.app.token_requests()
    }

    /// Every stored resource, rendered as GET would.
    pub fn resources(&self) -> Vec<serde_json::Value> {
        self.app.dump()
    }

    /// Names (`container/blob`) of the blobs stored in storage account `account`.
    pub fn blob_names(&self, account: &str) -> Vec<String> {
        self.app.blobs.lock().names(account)
    }

    /// Forgets everything; with `reseed`, re-applies the start-up seeds.
    pub fn reset(&self, reseed: bool) -> Result<(), Error> {
        self.app.reset(reseed)
    }

    /// Stops serving and waits for the server to finish.
    pub async fn stop(self) -> Result<(), Error> {
        self.shutdown.cancel();
        match self.task.await {
            Ok(result) => result.map_err(Error::Serve),
            Err(join) => Err(Error::Serve(std::io::Error::other(join.to_string()))),
        }
    }
}

/// Flags of `aro arm-emulator`.
#[derive(clap::Args, Debug, Clone)]
pub struct ArmEmulatorArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "ARM_EMULATOR_LISTEN", default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Seed files (JSON or YAML) applied at start, in order.
    #[arg(long = "seed", value_name = "FILE")]
    pub seeds: Vec<PathBuf>,
    /// Create the demo resource group, VNet, subnets, principals and permissions (docs/arm-emulator.md).
    #[arg(long)]
    pub seed_demo: bool,
    /// How long long-running operations stay in progress, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub lro_delay_ms: u64,
    /// `Retry-After` seconds sent while an operation is in progress.
    #[arg(long, default_value_t = 1)]
    pub lro_retry_after_secs: u64,
    /// Serve HTTPS with a certificate from a generated CA.
    #[arg(long)]
    pub tls: bool,
    /// Most access tokens remembered (the oldest are forgotten first).
    #[arg(long, default_value_t = DEFAULT_MAX_TOKENS)]
    pub max_tokens: usize,
    /// Most entries kept in the request log (the oldest drop first).
    #[arg(long, default_value_t = DEFAULT_MAX_LOGGED_REQUESTS)]
    pub max_logged_requests: usize,
    /// With --tls: write the CA certificate (PEM) here, for clients to trust.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_ca_out: Option<PathBuf>,
    /// Known subscriptions; when none are given every subscription id exists.
    #[arg(long = "subscription")]
    pub subscriptions: Vec<String>,
    /// Latency added to every ARM request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub fault_latency_ms: u64,
    /// Fraction (0..=1) of ARM requests answered with --fault-error-status.
    #[arg(long, default_value_t = 0.0)]
    pub fault_error_rate: f64,
    /// Status of injected errors: 500 or 503.
    #[arg(long, default_value_t = 500)]
    pub fault_error_status: u16,
    /// Fraction (0..=1) of ARM requests answered 429 Too Many Requests.
    #[arg(long, default_value_t = 0.0)]
    pub fault_throttle_rate: f64,
    /// Retry-After seconds on injected 429/503 answers.
    #[arg(long, default_value_t = 1)]
    pub fault_retry_after_secs: u64,
    /// Operation types faults apply to (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub fault_operations: Vec<OpType>,
    /// Seed of the fault random generator, for reproducible runs.
    #[arg(long)]
    pub fault_seed: Option<u64>,
}

impl ArmEmulatorArgs {
    /// The configuration these flags describe (reads seed files).
    pub fn to_config(&self) -> Result<EmulatorConfig, Error> {
        let mut seeds = Vec::new();
        if self.seed_demo {
            seeds.push(demo::seed());
        }
        for path in &self.seeds {
            let text = std::fs::read_to_string(path).map_err(|source| Error::SeedRead {
                path: path.display().to_string(),
                source,
            })?;
            seeds.push(Seed::parse(&text)?);
        }
        let mut faults = FaultConfig {
            rules: Vec::new(),
            seed: self.fault_seed,
        };
        if self.fault_latency_ms > 0
            || self.fault_error_rate > 0.0
            || self.fault_throttle_rate > 0.0
        {
            faults.rules.push(FaultRule {
                operations: self.fault_operations.clone(),
                latency_ms: self.fault_latency_ms,
                error_rate: self.fault_error_rate,
                error_status: self.fault_error_status,
                throttle_rate: self.fault_throttle_rate,
                retry_after_secs: self.fault_retry_after_secs,
                ..Default::default()
            });
        }
        faults.validate().map_err(Error::InvalidFaults)?;
        Ok(EmulatorConfig {
            listen: self.listen,
            lro_delay: Duration::from_millis(self.lro_delay_ms),
            lro_retry_after_secs: self.lro_retry_after_secs,
            faults,
            seeds,
            subscriptions: self.subscriptions.clone(),
            tls: self.tls,
            max_tokens: self.max_tokens,
            max_logged_requests: self.max_logged_requests,
            ..Default::default()
        })
    }
}

/// Runs the emulator until `shutdown` is cancelled.
pub async fn run(args: ArmEmulatorArgs, shutdown: CancellationToken) -> Result<(), Error> {
    let handle = ArmEmulator::start(args.to_config()?).await?;
    if let (Some(path), Some(pem)) = (&args.tls_ca_out, &handle.ca_pem) {
        aro_common::fs::write_private_file(path, pem.as_bytes())
            .map_err(|e| Error::Tls(e.to_string()))?;
    }
    println!("arm-emulator listening on {}", handle.base_url);
    shutdown.cancelled().await;
    handle.stop().await
}
