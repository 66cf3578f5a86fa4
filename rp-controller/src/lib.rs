//! rp-controller: drives every `OpenShiftCluster` from a non-terminal provisioning state to a terminal
//! one through named, idempotent steps whose progress is recorded in status.
//!
//! Pure logic (unit-tested without any server):
//! * [`steps`]: the step engine: plans of actions and waits, attempts, backoff honouring Retry-After,
//!   wait timeouts with customer-facing messages, resumable progress.
//! * [`transitions`]: the provisioning state machine of ARO-RP's pkg/backend and the async
//!   operation outcome written when an operation ends.
//! * [`plans`]: the named steps of install, update, admin update (per maintenance task) and delete.
//! * [`infra`]: names and desired ARM bodies of the resources an install creates, and DNS names.
//! * [`cluster_runtime`]: what brings clusters up; pure parts: the objects a fresh cluster exposes,
//!   the installer's inputs and outputs, and the Hive objects of a cluster and what Hive's status
//!   says.
//! * [`validation`]: dynamic validation of the customer's network and permissions (ARO-RP's
//!   pkg/validate).
//!
//! Against servers: [`actions`] (what each step does through ARM and the cluster runtime),
//! [`lifecycle`] and [`subscriptions`] (the reconcilers), [`controller`] (`aro controller`: leader
//! election, sharding, health), [`gc`] (expired operation records) and [`cluster_runtime`] (the
//! `installer` and `hive` cluster runtimes, and with the `local-runtime` feature the `local` one,
//! which runs each cluster as an embedded devcluster). `aro local`, the whole system in one process, is the
//! aro-local crate.

// Errors carry kube and ARM error bodies and are built once per failed call: their size does not
// matter, boxing them everywhere would.
#![allow(clippy::result_large_err)]

pub mod actions;
pub mod azure;
pub mod cluster_runtime;
pub mod context;
pub mod controller;
pub mod gc;
pub mod infra;
pub mod lifecycle;
pub mod plans;
pub mod steps;
pub mod subscriptions;
pub mod transitions;
pub mod validation;

#[cfg(feature = "local-runtime")]
pub use controller::run;
pub use controller::{ControllerArgs, ControllerOptions, RuntimeKind, run_with};

/// Errors of rp-controller.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cluster's progress names a step its operation's plan does not have (for example after a
    /// downgrade removed a step).
    #[error("step {step:?} is not part of the {operation} plan")]
    UnknownStep { operation: String, step: String },
    /// A name that is no step of this controller (see [`steps::StepId`]).
    #[error("{0:?} is not a lifecycle step")]
    UnknownStepName(String),
    /// A stored timestamp does not parse.
    #[error("invalid timestamp {value:?} in status: {source}")]
    InvalidTimestamp {
        value: String,
        #[source]
        source: chrono::ParseError,
    },
    /// The management cluster answered with an error.
    #[error("management cluster: {0}")]
    Kube(#[from] kube::Error),
    /// A document did not (de)serialise.
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// Azure configuration or client failure.
    #[error("Azure: {0}")]
    Azure(#[from] azure_clients::Error),
    /// The cluster runtime failed.
    #[error("cluster runtime: {0}")]
    Runtime(String),
    /// The cluster runtime's work goes on elsewhere (Hive installing or deprovisioning the
    /// cluster): nothing failed, ask again after `poll_after`.
    #[error("cluster runtime: {what} (in progress)")]
    RuntimeInProgress {
        /// What is still going on, for logs and status.
        what: String,
        /// When to ask again.
        poll_after: std::time::Duration,
    },
    /// The cluster's provisioning failed for good (Hive's ProvisionFailed, or its install attempts
    /// exhausted): the operation fails with this error (customer-facing unless internal).
    #[error("cluster provisioning failed: {}: {}", .0.code, .0.message)]
    ProvisionFailed(crds::ArmError),
    /// Leader election failed or leadership was lost.
    #[error("leader election: {0}")]
    Leadership(String),
    /// Invalid configuration.
    #[error("configuration: {0}")]
    Config(String),
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
