//! Embedded Kubernetes-API-compatible server (management cluster in local mode and tests).

pub mod certs;
pub mod error;
pub mod patch;
pub mod registry;
pub mod schema;
pub mod selectors;
pub mod store;
