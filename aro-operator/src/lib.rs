//! The in-cluster ARO operator (ARO-RP's pkg/operator): the controllers that keep an OpenShift
//! cluster in the shape ARO supports, their manager (leader election, health, metrics, the
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
pub mod machineset;
pub mod manager;
pub mod manifests;
pub mod pullsecret;
pub mod role;
pub mod routefix;
pub mod subnets;

pub use manager::{OperatorArgs, run, run_controllers};
pub use role::Role;

/// The `.enabled` operator flag of each controller this operator has: the default flags
/// (`crds::operator::default_operator_flags`) turn on these and no other.
pub const CONTROLLER_FLAGS: &[&str] = &[
    alertwebhook::FLAG_ENABLED,
    checker::FLAG_ENABLED,
    dnsmasq::FLAG_ENABLED,
    genevalogging::FLAG_ENABLED,
    machineset::FLAG_ENABLED,
    pullsecret::FLAG_ENABLED,
    routefix::FLAG_ENABLED,
    subnets::FLAG_ENABLED,
];

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
    /// Another failure of a shared Kubernetes helper.
    #[error(transparent)]
    Common(aro_common::Error),
}

/// The shared helpers' errors as the operator's own kinds (a kube error stays a kube error, so
/// [`Error::is_conflict`] sees it).
impl From<aro_common::Error> for Error {
    fn from(error: aro_common::Error) -> Self {
        match error {
            aro_common::Error::Kube(e) => Error::Kube(e),
            aro_common::Error::Serialization(e) => Error::Serialization(e),
            aro_common::Error::LeaderElection(message) => Error::LeaderElection(message),
            e @ aro_common::Error::CrdNotEstablished { .. } => {
                Error::invalid("manifests", e.to_string())
            }
            other => Error::Common(other),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_flags_enable_exactly_the_controllers_that_exist() {
        let defaults = crds::operator::default_operator_flags();
        let on: std::collections::BTreeSet<&str> = defaults
            .iter()
            .filter(|(flag, value)| flag.ends_with(".enabled") && value.as_str() == "true")
            .map(|(flag, _)| flag.as_str())
            .collect();
        let controllers: std::collections::BTreeSet<&str> =
            CONTROLLER_FLAGS.iter().copied().collect();
        assert_eq!(on, controllers);
    }
}
