//! devcluster: an embedded, Kubernetes-API-compatible server. It is the management cluster in
//! local mode and in tests, and the API of each locally "installed" cluster. Like envtest it runs
//! no pods, but it does run the API server's own machinery: CRD establishment, namespace
//! cleanup and garbage collection.

// ApiError is the response of a failed request and is built once per request: its size does not
// matter, boxing it everywhere would.
#![allow(clippy::result_large_err)]

pub mod api;
pub mod bench;
pub mod certs;
pub mod controllers;
pub mod discovery;
pub mod error;
pub mod faults;
pub mod hooks;
pub mod http;
pub mod managed;
pub mod metrics;
pub mod openapi_cache;
pub mod patch;
pub mod patching;
pub mod protobuf;
pub mod registry;
pub mod schema;
pub mod selectors;
pub mod server;
pub mod store;
pub mod table;
pub mod watch;

pub use error::{ApiError, Error};
pub use server::{Devcluster, DevclusterArgs, DevclusterConfig, run};
