//! Cluster runtimes: the pluggable step that brings an OpenShift cluster up, behind one interface.
//!
//! * `local` (feature `local-runtime`): a devcluster per cluster, seeded with [`seed`] objects, the
//!   operator in-process.
//! * [`installer`]: a production runtime: runs the OpenShift installer binary the way Hive does
//!   (install-config.yaml in; metadata.json, kubeconfig and kubeadmin password out) and deploys the
//!   operator into the installed cluster through its API.
//! * [`hive`]: a production runtime, ARO-RP's hive mode: a ClusterDeployment per cluster on a
//!   Hive cluster; Hive installs and deprovisions, the runtime reads its status.
//!
//! [`remote`] holds what the runtimes whose clusters run elsewhere share.

pub mod hive;
pub mod installer;
#[cfg(feature = "local-runtime")]
pub mod local;
#[cfg(feature = "local-runtime")]
mod local_cco;
pub mod remote;
pub mod seed;

use aro_operator::manifests::OperatorDeployValues;
use async_trait::async_trait;

use crate::Result;
pub use hive::{HiveConfig, HiveRuntime};
pub use installer::{InstallerConfig, InstallerRuntime};
#[cfg(feature = "local-runtime")]
pub use local::LocalRuntime;
pub use seed::{SeedInput, ServicePrincipalCredentials, WorkerPool};

/// How to reach an installed cluster's API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterAccess {
    /// URL of the cluster's Kubernetes API.
    pub api_url: String,
    /// Admin kubeconfig (a secret: never logged): the RP's own access to the cluster.
    pub admin_kubeconfig: aro_common::Secret,
    /// The `kubeadmin` user's password as the install generated it (listCredentials hands it to
    /// the customer); `None` when the runtime cannot tell it yet.
    pub kubeadmin_password: Option<aro_common::Secret>,
}

/// How long the user-admin kubeconfig handed out by listAdminCredentials is valid (ARO-RP's
/// `installer.OneYear`).
pub const USER_ADMIN_KUBECONFIG_VALIDITY: std::time::Duration =
    std::time::Duration::from_secs(365 * 24 * 3600);

/// The user a user-admin kubeconfig authenticates as, and its group (the installer's admin
/// kubeconfig names the same).
pub const USER_ADMIN_USER: &str = "system:admin";
/// Group of [`USER_ADMIN_USER`].
pub const USER_ADMIN_GROUP: &str = "system:masters";

/// What brings clusters up, keyed by infra id. Every method is idempotent.
#[async_trait]
pub trait ClusterRuntime: Send + Sync {
    /// Runtime name for logs.
    fn name(&self) -> &'static str;
    /// Whether the RP builds the cluster's network infrastructure in the cluster resource group
    /// before the cluster comes up (network security group, load balancers, private link service,
    /// its private endpoint, the NSG on the subnets) and creates its DNS records: the local
    /// runtime needs them made for it, as ARO-RP's installer fork does. A runtime that runs
    /// upstream openshift-install (installer, Hive) says no: the installer creates these itself
    /// and refuses a cluster resource group that is not empty.
    fn rp_builds_network(&self) -> bool {
        true
    }
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
    /// A new kubeconfig for the customer's break-glass access (listAdminCredentials): a client
    /// certificate for [`USER_ADMIN_USER`] in [`USER_ADMIN_GROUP`], valid for `validity`, signed by
    /// a signer the cluster's API server trusts; distinct from the RP's own admin kubeconfig.
    /// `None` until the cluster is installed.
    async fn user_admin_kubeconfig(
        &self,
        infra_id: &str,
        validity: std::time::Duration,
    ) -> Result<Option<aro_common::Secret>>;
    /// An admin client of the cluster's API, when it is up.
    async fn client(&self, infra_id: &str) -> Result<Option<kube::Client>>;
    /// Tear the cluster down and forget it.
    async fn delete(&self, infra_id: &str) -> Result<()>;
    /// Stop every cluster this process runs (process shutdown; durable clusters resume later).
    async fn shutdown(&self);
}

/// A kubeadmin password as openshift-install generates one (its `password` asset): 20 characters
/// from lower- and upper-case letters and digits without look-alikes, at least one of each class,
/// in four dash-separated groups of five (23 characters). For runtimes that stand the cluster up
/// themselves; an installed cluster's password is the installer's.
pub fn generate_kubeadmin_password() -> aro_common::Secret {
    use rand::Rng;
    use rand::seq::SliceRandom;
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::rng();
    let all: Vec<u8> = [LOWER, UPPER, DIGITS].concat();
    let mut chars: Vec<u8> = [LOWER, UPPER, DIGITS]
        .iter()
        .map(|class| class[rng.random_range(0..class.len())])
        .collect();
    while chars.len() < 20 {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    let groups: Vec<String> = chars
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    groups.join("-").into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeadmin_passwords_look_like_the_installers() {
        for _ in 0..50 {
            let password = generate_kubeadmin_password();
            let p = password.expose();
            assert_eq!(p.len(), 23, "{p}");
            let groups: Vec<&str> = p.split('-').collect();
            assert_eq!(groups.len(), 4);
            assert!(groups.iter().all(|g| g.len() == 5));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(!p.contains(['l', 'O', '0', '1']));
        }
        assert_ne!(
            generate_kubeadmin_password().expose(),
            generate_kubeadmin_password().expose()
        );
    }
}
