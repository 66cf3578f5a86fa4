//! Runtime pieces every `aro` component shares: logging setup, graceful shutdown, the hardened
//! serve path every listener uses, the `/healthz`, `/readyz`, `/metrics` listener, request
//! timeouts of Kubernetes API clients, owner-only files for secrets, and the [`Secret`] wrapper of
//! secret values, and the parser of ARM resource ids.

pub mod fs;
pub mod health;
pub mod kube_client;
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
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
