//! Runtime pieces every `aro` component shares: logging setup, graceful shutdown, the hardened
//! serve path every listener uses, the `/healthz`, `/readyz`, `/metrics` listener, owner-only
//! files for secrets, the [`Secret`] wrapper of secret values and the parser of ARM resource ids;
//! and the Kubernetes helpers of the RP and the operator: request timeouts and error predicates of
//! API clients ([`kube_client`]), leader election on a Lease ([`leader`]), controller store
//! readiness ([`kube_client::store_ready`]), CRD installation ([`crd`]) and the drift comparison
//! that decides whether an object must be written ([`drift`]), writes of shared custom resources
//! as guarded merge patches of the changed fields ([`merge_patch`]), and the jittered
//! exponential backoff of retries ([`backoff`]).

pub mod backoff;
pub mod crd;
pub mod drift;
pub mod fs;
pub mod health;
pub mod kube_client;
pub mod leader;
pub mod manifests;
pub mod merge_patch;
pub mod resource_id;
pub mod secret;
pub mod serve;
pub mod shutdown;
pub mod telemetry;

pub use resource_id::ResourceId;
pub use secret::Secret;

/// Errors of the shared runtime pieces.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The log filter (`RUST_LOG` or `--log-level`) does not parse.
    #[error("invalid log filter {filter:?}: {source}")]
    LogFilter {
        filter: String,
        #[source]
        source: tracing_subscriber::filter::ParseError,
    },
    /// A global tracing subscriber was already installed.
    #[error("tracing was already initialised: {0}")]
    TracingInit(String),
    /// A listener could not bind or serve.
    #[error("health listener on {addr}: {source}")]
    Listener {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// A string is not an ARM resource id.
    #[error("'{0}' is not an ARM resource id")]
    InvalidResourceId(String),
    /// A private (owner-only) directory or file cannot be created, opened or written.
    #[error("{}: {reason}", path.display())]
    PrivatePath {
        path: std::path::PathBuf,
        reason: String,
    },
    /// A Kubernetes API call failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// An object could not be converted to or from JSON.
    #[error("serialization: {0}")]
    Serialization(#[from] serde_json::Error),
    /// Leader election could not proceed (lease lost, invalid timing or API unusable).
    #[error("leader election: {0}")]
    LeaderElection(String),
    /// A YAML manifest cannot be applied as it is written.
    #[error("{source_name}: {reason}")]
    InvalidManifest { source_name: String, reason: String },
    /// A CRD was written but the API server did not establish it in time.
    #[error("CRD {name} was not established within {timeout:?}")]
    CrdNotEstablished {
        name: String,
        timeout: std::time::Duration,
    },
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
