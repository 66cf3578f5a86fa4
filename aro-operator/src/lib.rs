//! The in-cluster ARO operator (ARO-RP's pkg/operator): the controllers that keep an OpenShift
//! cluster in the shape ARO supports, their runtime (leader election, health, metrics, the
//! Alertmanager webhook sink) and the manifests that deploy it (the same objects as
//! `charts/aro-operator`).
//!
//! Every controller module has the same shape: a pure function from the objects it observed to the
//! objects (or changes) it wants, unit-tested without a server, and a thin async `apply` step that
//! writes only what differs, using optimistic concurrency.

pub mod alertwebhook;
pub mod apply;
pub mod azure;
pub mod checker;
pub mod conditions;
pub mod dnsmasq;
pub mod genevalogging;
pub mod kinds;
pub mod leader;
pub mod machineset;
pub mod manifests;
pub mod pullsecret;
pub mod routefix;
pub mod runtime;
pub mod subnets;

pub use runtime::{OperatorArgs, Role, run, run_controllers};

/// Namespace the operator runs in.
pub const OPERATOR_NAMESPACE: &str = "openshift-azure-operator";
/// Field manager of every server-side apply and update the operator makes.
pub const FIELD_MANAGER: &str = "aro-operator";

/// Errors of the ARO operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// No kubeconfig or in-cluster configuration could be loaded.
    #[error("kubernetes client configuration: {0}")]
    KubeConfig(String),
    /// An object could not be converted to or from JSON.
    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),
    /// The `Cluster` singleton does not exist (yet).
    #[error("the Cluster object {0:?} does not exist")]
    ClusterMissing(String),
    /// Something the controller reads is invalid (bad IP, unparsable config, missing field).
    #[error("{controller}: {message}")]
    Invalid {
        controller: &'static str,
        message: String,
    },
    /// An Azure call made through the subnets adapter failed.
    #[error("azure: {0}")]
    Azure(String),
    /// A listener could not bind or serve.
    #[error("listener on {addr}: {source}")]
    Listener {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// Leader election could not proceed (lease lost or API unusable).
    #[error("leader election: {0}")]
    LeaderElection(String),
    /// A controller stopped unexpectedly.
    #[error("controller {0} stopped unexpectedly")]
    ControllerStopped(&'static str),
}

/// Result with the operator's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An invalid-input error of `controller`.
    pub fn invalid(controller: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            controller,
            message: message.into(),
        }
    }

    /// Whether this is a Kubernetes 409 Conflict (stale resourceVersion).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Kube(e) if aro_common::kube_client::is_conflict(e))
    }
}

pub(crate) use aro_common::kube_client::is_not_found;
