//! Errors: the crate's error enum and the ARM error answers the emulator sends.

use crate::path::ProviderPath;
use serde_json::{Value, json};

/// Failures starting or configuring the emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address asked for.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The server stopped with an I/O error.
    #[error("server error: {0}")]
    Serve(std::io::Error),
    /// A seed file could not be read.
    #[error("cannot read seed file {path}: {source}")]
    SeedRead {
        /// File path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A seed document is not valid JSON/YAML of the seed format.
    #[error("invalid seed document: {0}")]
    SeedParse(String),
    /// A seeded resource was refused.
    #[error("seeding {id} failed: {code}: {message}")]
    SeedRejected {
        /// Resource id.
        id: String,
        /// ARM error code.
        code: String,
        /// ARM error message.
        message: String,
    },
    /// TLS material could not be generated or written.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A fault configuration flag is out of range.
    #[error("invalid fault configuration: {0}")]
    InvalidFaults(String),
    /// No principal has this client id.
    #[error("no principal with client id {0}")]
    UnknownPrincipal(String),
}

/// An ARM error answer: status plus `{"error":{"code","message","target"}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// PascalCase ARM error code.
    pub code: String,
    /// Message for humans.
    pub message: String,
    /// Offending element, if any.
    pub target: Option<String>,
    /// Seconds a client should wait before retrying (sent as `Retry-After`).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    /// An error with status, code and message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            target: None,
            retry_after_secs: None,
        }
    }

    /// A 400.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// The same error with a target.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// The ARM error body.
    pub fn body(&self) -> Value {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(t) = &self.target {
            error["target"] = t.clone().into();
        }
        json!({ "error": error })
    }

    /// 404 ResourceGroupNotFound.
    pub fn group_not_found(name: &str) -> Self {
        Self::new(
            404,
            "ResourceGroupNotFound",
            format!("Resource group '{name}' could not be found."),
        )
    }

    /// 404 ResourceNotFound.
    pub fn resource_not_found(resource_type: &str, name: &str, group: Option<&str>) -> Self {
        let under = group
            .map(|g| format!(" under resource group '{g}'"))
            .unwrap_or_default();
        Self::new(
            404,
            "ResourceNotFound",
            format!(
                "The Resource '{resource_type}/{name}'{under} was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"
            ),
        )
    }

    /// 404 ResourceNotFound for the instance made of the first `len` segments of a provider path.
    pub fn not_found_at(path: &ProviderPath, len: usize) -> Self {
        let name: Vec<&str> = path.segments[..len]
            .iter()
            .skip(1)
            .step_by(2)
            .map(String::as_str)
            .collect();
        Self::resource_not_found(
            &path.type_of(len),
            &name.join("/"),
            path.scope.resource_group.as_deref(),
        )
    }
}
