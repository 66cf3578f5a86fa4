//! Cluster runtimes: the pluggable step that brings an OpenShift cluster up, behind one interface.
//!
//! * `local` (feature `local-runtime`): a devcluster per cluster, seeded with [`seed`] objects, the
//!   operator in-process.
//! * [`installer`]: the production runtime: runs the OpenShift installer binary the way Hive does
//!   (install-config.yaml in; metadata.json, kubeconfig and kubeadmin password out) and deploys the
//!   operator into the installed cluster through its API.

pub mod installer;
#[cfg(feature = "local-runtime")]
pub mod local;
pub mod seed;

use aro_operator::manifests::OperatorDeployValues;
use async_trait::async_trait;

use crate::Result;
pub use installer::{InstallerConfig, InstallerRuntime};
#[cfg(feature = "local-runtime")]
pub use local::LocalRuntime;
pub use seed::SeedInput;

/// How to reach an installed cluster's API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterAccess {
    /// URL of the cluster's Kubernetes API.
    pub api_url: String,
    /// Admin kubeconfig (a secret: never logged).
    pub admin_kubeconfig: aro_common::Secret,
}

/// What brings clusters up, keyed by infra id. Every method is idempotent.
#[async_trait]
pub trait ClusterRuntime: Send + Sync {
    /// Runtime name for logs.
    fn name(&self) -> &'static str;
    /// Bring the cluster up (or find it up) with what a fresh install exposes.
    async fn ensure_cluster(&self, infra_id: &str, seed: &SeedInput) -> Result<ClusterAccess>;
    /// Access to a cluster installed earlier, restarting it after a process restart; `None` when
    /// this runtime never brought it up.
    async fn resume(&self, infra_id: &str) -> Result<Option<ClusterAccess>>;
    /// Whether the cluster's API server answers.
    async fn api_ready(&self, infra_id: &str) -> Result<bool>;
    /// Deploy (or refresh) the ARO operator into the cluster and make sure it runs.
    async fn install_operator(&self, infra_id: &str, values: &OperatorDeployValues) -> Result<()>;
    /// Whether the operator runs and reports on its Cluster object.
    async fn operator_ready(&self, infra_id: &str) -> Result<bool>;
    /// An admin client of the cluster's API, when it is up.
    async fn client(&self, infra_id: &str) -> Result<Option<kube::Client>>;
    /// Tear the cluster down and forget it.
    async fn delete(&self, infra_id: &str) -> Result<()>;
    /// Stop every cluster this process runs (process shutdown; durable clusters resume later).
    async fn shutdown(&self);
}
