//! `aro local`: the whole system on one machine (and the harness of the e2e tests): devcluster as
//! the management cluster, arm-emulator seeded with the demo VNet, rp-frontend on loopback and
//! rp-controller with the local cluster runtime, all in this process. Each piece can be replaced by
//! a real one: a management cluster by kubeconfig, Azure by endpoint and credentials.
//!
//! * [`args`]: the flags of `aro local` and the configuration they describe.
//! * [`system`]: the composition: start every piece, controller replicas, stop.
//! * [`certs`]: the frontend's self-signed server and client certificates.
//! * [`identity`]: the RP's namespace, ServiceAccounts and RBAC from deploy/rp, and each
//!   component's client authenticated by a refreshed token of its ServiceAccount.
//! * [`seed`]: what ARM and an SRE would have set up in the management cluster (a registered
//!   subscription, the default OpenShift version, its workload identity role set).
//! * [`walkthrough`]: the ready-to-paste walkthrough `aro local` prints.

// Errors carry kube and ARM error bodies and are built once per failed start: their size does not
// matter, boxing them everywhere would (as in rp-controller).
#![allow(clippy::result_large_err)]

pub mod args;
pub mod certs;
pub mod identity;
pub mod seed;
pub mod system;
pub mod walkthrough;

pub use args::{LocalArgs, LocalConfig};
pub use certs::FrontendCerts;
pub use system::{LocalSystem, RunningController};
use tokio_util::sync::CancellationToken;

/// The OpenShift version local mode offers (and makes the default).
pub const LOCAL_VERSION: &str = "4.15.35";
/// Parent domain of local clusters.
pub const LOCAL_PARENT_DOMAIN: &str = "aro.local";
/// Region of local mode.
pub const LOCAL_LOCATION: &str = "eastus";

/// Errors of `aro local`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The controller (or its configuration) failed.
    #[error(transparent)]
    Controller(#[from] rp_controller::Error),
    /// A piece of the system (management devcluster, arm-emulator, frontend, certificates) failed.
    #[error("local system: {0}")]
    System(String),
    /// Invalid configuration.
    #[error("configuration: {0}")]
    Config(String),
    /// The management cluster answered with an error.
    #[error("management cluster: {0}")]
    Kube(#[from] kube::Error),
    /// Azure configuration or client failure.
    #[error("Azure: {0}")]
    Azure(#[from] azure_clients::Error),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `aro local`: start everything, print the walkthrough, run until `shutdown`.
pub async fn run(args: LocalArgs, shutdown: CancellationToken) -> Result<()> {
    let system = LocalSystem::start(LocalConfig::from_args(&args)?).await?;
    println!("{}", system.banner());
    system.run_until(shutdown).await
}

pub(crate) fn io(context: &str) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |e| Error::System(format!("{context}: {e}"))
}

pub(crate) fn private(e: aro_common::Error) -> Error {
    Error::System(e.to_string())
}
