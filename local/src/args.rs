//! The flags of `aro local` and the configuration of a local system (which the e2e tests build
//! directly).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use arm_emulator::FaultConfig;
use azure_clients::{AzureArgs, AzureConfig};
use rp_controller::context::Settings;

use crate::Result;

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
    /// in [`crate::LocalSystem::frontend_health`]).
    pub frontend_metrics_listen: Option<SocketAddr>,
    /// Record what each identity was allowed and denied in the embedded management cluster
    /// (`LocalSystem::devcluster`'s access log) and in each local cluster
    /// (`LocalRuntime::access_log`): the least-privilege tests read them. In-process only (no
    /// flag).
    pub record_access: bool,
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
            record_access: false,
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
