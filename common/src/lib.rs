//! Runtime pieces every `aro` component shares: logging setup, graceful shutdown, and the
//! `/healthz`, `/readyz`, `/metrics` listener, and request timeouts of Kubernetes API clients.

pub mod health;
pub mod kube_client;
pub mod shutdown;
pub mod telemetry;

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
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
