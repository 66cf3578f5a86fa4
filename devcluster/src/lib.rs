//! devcluster: an embedded, Kubernetes-API-compatible server. It is the management cluster in
//! local mode and in tests, and the API of each locally "installed" cluster. Like envtest it runs
//! no pods, but it does run the API server's own machinery: CRD establishment, namespace
//! cleanup and garbage collection.
//!
//! Layers, each using only those before it: `storage` (objects, revisions, watch
//! events) <- `registry` (the served resources) <- `rest` (REST semantics: create, update, patch,
//! delete, names, managed fields, schema steps, CRD registration after a write) <- `controllers`
//! (the API machinery, writing through `rest`), `auth` (RBAC over the stored objects, access reviews,
//! impersonation) and `http` (routing, query, list, watch, the patch
//! handler, tables, protobuf) <- `server` (start, TLS, `aro devcluster`). The patch and schema
//! libraries are the `devcluster-patch` and `devcluster-schema` crates.

// ApiError is the response of a failed request and is built once per request: its size does not
// matter, boxing it everywhere would.
#![allow(clippy::result_large_err)]

mod auth;
mod certs;
mod controllers;
mod encryption;
mod error;
mod faults;
mod http;
mod registry;
mod rest;
mod selectors;
mod server;
mod storage;

pub use auth::{AccessLog, AccessRecord, UserInfo};
pub use error::Error;
pub use faults::Faults;
pub use server::{Devcluster, DevclusterArgs, DevclusterConfig, run};
pub use storage::HistoryLimits;
