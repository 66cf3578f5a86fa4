//! Embedded Kubernetes-API-compatible server (management cluster in local mode and tests).

pub mod schema;
