//! What each step of [`crate::plans`] does, split by concern: `validate` (the customer's network
//! and permissions), `credentials` (the cluster's identity and its Secrets), `resource_group`,
//! `network`, `dns`, `access` (role and deny assignments, the RP's private endpoint), `cluster` (the
//! cluster runtime and what status says of the cluster), `operator` and `teardown` (what delete
//! removes from the management cluster).
//!
//! Every step is idempotent: it reads what exists and writes only what is missing, so running it
//! twice (after a crash, a conflict, a second replica) converges. A step records what it learnt in
//! the status it is given; the reconciler writes that status with optimistic concurrency.
//! [`run`] maps every [`StepId`] to its action with an exhaustive `match`: a step without an
//! implementation does not compile.

use aro_common::{ResourceId, Secret as AroSecret};
use std::time::Duration;

use azure_clients::ArmClient;
use crds::ArmError;
use crds::management::{OpenShiftCluster, OpenShiftClusterStatus};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use rand::Rng;

mod access;
mod cluster;
mod credentials;
mod dns;
mod network;
mod operator;
mod resource_group;
mod teardown;
#[cfg(test)]
mod testing;
mod validate;
mod workload_identity;

pub use access::{
    CONTRIBUTOR_ROLE, OWNER_TAG, endpoint_is_ours, private_endpoint_name, role_assignment_name,
};
pub use credentials::{OPERATOR_CREDENTIALS_SECRET, decode_kubeconfig};
pub use dns::{duplicate_domain, record_set_owned_by};
pub use validate::vnet_of;

use crate::azure::StepResult;
use crate::context::Context;
use crate::infra::{self, InfraNames};
use crate::steps::{Outcome, StepId};

pub use crds::management::protocol::{
    ADMIN_KUBECONFIG_KEY, CLIENT_SECRET_KEY, KUBEADMIN_PASSWORD_KEY, PULL_SECRET_KEY, SSH_KEY_KEY,
    USER_ADMIN_KUBECONFIG_KEY, credentials_secret_name, customer_secret_name,
};

/// What a step works on.
pub struct StepEnv<'a> {
    /// Shared clients and settings.
    pub ctx: &'a Context,
    /// The cluster as read at the start of the reconcile.
    pub cluster: &'a OpenShiftCluster,
    /// The status being built; written after the step.
    pub status: &'a mut OpenShiftClusterStatus,
    /// The Azure operation the step started earlier, if any (serialised).
    pub pending: Option<&'a str>,
}

impl StepEnv<'_> {
    fn arm(&self) -> ArmClient {
        self.ctx.azure.arm()
    }

    fn namespace(&self) -> String {
        self.cluster.namespace().unwrap_or_default()
    }

    fn poll(&self, d: Duration) -> Outcome {
        Outcome::InProgress {
            poll_after: d.min(self.ctx.settings.max_poll_interval),
            pending_operation_url: None,
        }
    }

    fn infra_id(&self) -> StepResult<String> {
        self.status.infra_id.clone().ok_or_else(|| {
            Outcome::Failed(ArmError::new(
                "InternalServerError",
                "The cluster has no infrastructure id yet.",
            ))
        })
    }

    /// A client of the cluster's API (the step polls again while the runtime has none yet).
    async fn cluster_client(&self, infra_id: &str) -> StepResult<kube::Client> {
        self.ctx
            .runtime
            .client(infra_id)
            .await
            .map_err(|e| runtime_outcome(&e))?
            .ok_or_else(|| self.poll(Duration::from_secs(1)))
    }

    fn names(&self) -> StepResult<InfraNames> {
        let (subscription_id, resource_group) =
            ResourceId::parse_resource_group(&self.cluster.spec.cluster_profile.resource_group_id)
                .map_err(|_| {
                    Outcome::Failed(
                        ArmError::new(
                            "InvalidParameter",
                            "The provided cluster resource group id is invalid.",
                        )
                        .with_target("properties.clusterProfile.resourceGroupId"),
                    )
                })?;
        Ok(InfraNames {
            infra_id: self.infra_id()?,
            subscription_id,
            resource_group,
        })
    }

    async fn secret_value(&self, name: &str, key: &str) -> StepResult<Option<AroSecret>> {
        let api: Api<Secret> = Api::namespaced(self.ctx.client.clone(), &self.namespace());
        let secret = api.get_opt(name).await.map_err(|e| kube_outcome(&e))?;
        Ok(secret.and_then(|s| s.data).and_then(|d| {
            d.get(key)
                .map(|v| AroSecret::new(String::from_utf8_lossy(&v.0).into_owned()))
        }))
    }

    async fn customer_secret(&self, key: &str) -> StepResult<Option<AroSecret>> {
        self.secret_value(&customer_secret_name(&self.cluster.name_any()), key)
            .await
    }

    /// The cluster's domain.
    fn fqdn(&self) -> String {
        infra::cluster_fqdn(&self.cluster.spec, &self.ctx.settings.parent_domain)
    }
}

/// The outcome of a failed management-cluster call: transient.
pub fn kube_outcome(e: &kube::Error) -> Outcome {
    Outcome::Retryable {
        error: ArmError::new(
            "InternalServerError",
            format!("The management cluster answered: {e}"),
        ),
        retry_after: None,
    }
}

/// The outcome of a cluster runtime call that did not succeed: a poll while the runtime's work
/// goes on elsewhere, a failure when provisioning failed for good, else transient.
fn runtime_outcome(e: &crate::Error) -> Outcome {
    match e {
        crate::Error::RuntimeInProgress { poll_after, .. } => Outcome::InProgress {
            poll_after: *poll_after,
            pending_operation_url: None,
        },
        crate::Error::ProvisionFailed(error) => Outcome::Failed(error.clone()),
        _ => Outcome::Retryable {
            error: ArmError::new("InternalServerError", format!("Cluster runtime: {e}")),
            retry_after: None,
        },
    }
}

/// The outcome of a step on the RP's own Azure resources (its DNS zone, its private endpoint),
/// which act with the RP's identity: an Azure error there (`AuthorizationFailed` naming the RP's
/// principal, a limit of the RP's subscription) is the RP's failure, not the customer's, so it
/// becomes an internal error (the customer sees `InternalServerError`, SREs the detail).
/// `DuplicateDomain` is the customer's to act on and stays.
fn rp_side(result: StepResult<()>) -> StepResult<()> {
    let internal = |e: ArmError| {
        if e.is_internal() || e.code == "DuplicateDomain" {
            e
        } else {
            ArmError::new(
                "InternalServerError",
                format!("On the RP's own resources: {}: {}", e.code, e.message),
            )
        }
    };
    result.map_err(|outcome| match outcome {
        Outcome::Failed(e) => Outcome::Failed(internal(e)),
        Outcome::Retryable { error, retry_after } => Outcome::Retryable {
            error: internal(error),
            retry_after,
        },
        other => other,
    })
}

/// Run a step.
pub async fn run(step: StepId, env: &mut StepEnv<'_>) -> Outcome {
    use StepId::*;
    let result = match step {
        ValidateResources => validate::validate_resources(env).await,
        EnsureInfraId => cluster::ensure_infra_id(env),
        EnsureSshKey => credentials::ensure_ssh_key(env).await,
        EnsureResourceGroup => resource_group::ensure_resource_group(env).await,
        EnsureNetworkSecurityGroup => network::ensure_nsg(env).await,
        // ReconcileLoadBalancerProfile: alias, the update plan's name.
        EnsureLoadBalancers | ReconcileLoadBalancerProfile => {
            network::ensure_load_balancers(env).await
        }
        EnsurePrivateLink => network::ensure_private_link(env).await,
        CreateApiServerPrivateEndpoint => rp_side(access::create_private_endpoint(env).await),
        EnsureRoleAssignments => access::ensure_role_assignments(env).await,
        PlatformWorkloadIdentityIds => workload_identity::platform_workload_identity_ids(env).await,
        CreateOidc => workload_identity::create_oidc(env).await,
        FederateIdentityCredentials => workload_identity::federate_identity_credentials(env).await,
        CreateOrUpdateDenyAssignment => access::ensure_deny_assignment(env).await,
        DeleteFederatedCredentials => workload_identity::delete_federated_credentials(env).await,
        DeleteOidc => workload_identity::delete_oidc(env).await,
        DeployPlatformWorkloadIdentitySecrets => {
            workload_identity::deploy_platform_workload_identity_secrets(env).await
        }
        AttachNsgs => network::attach_nsgs(env).await,
        CreateDns => rp_side(dns::create_dns(env).await),
        RunInstaller => cluster::run_installer(env).await,
        ApiServersReady => cluster::api_servers_ready(env).await,
        // RenewCertificates: alias, the certificates renewal task's name.
        GenerateKubeconfigs | RenewCertificates => credentials::generate_kubeconfigs(env).await,
        // UpdateOperatorSecrets, SyncClusterObject: aliases, the update and admin update names.
        InstallAroOperator | UpdateOperatorSecrets | SyncClusterObject => {
            operator::install_operator(env).await
        }
        AroDeploymentReady => operator::operator_ready(env).await,
        EnsureCredentialsRequest => credentials::ensure_credentials_request(env).await,
        RotateCredentials => credentials::update_openshift_secret(env).await,
        AroCredentialsRequestReconciled => credentials::credentials_request_reconciled(env).await,
        // No-ops, kept so stored progress parses (why: on each StepId variant).
        RemoveBootstrap | FinishInstallation | UpdateMaintenanceState => Ok(()),
        // UpdateProvisionedBy: alias, the Everything task's name.
        UpdateClusterData | UpdateProvisionedBy => cluster::update_cluster_data(env),
        RemoveDns => rp_side(dns::remove_dns(env).await),
        RemovePrivateEndpoint => rp_side(access::remove_private_endpoint(env).await),
        RemoveRoleAssignments => access::remove_role_assignments(env).await,
        DeleteClusterRuntime => cluster::delete_runtime(env).await,
        DetachNsgs => network::detach_nsgs(env).await,
        DeleteResourceGroup => resource_group::delete_resource_group(env).await,
        RemoveSecrets => teardown::remove_secrets(env).await,
        ReleaseUniqueKeys => teardown::release_unique_keys(env).await,
    };
    match result {
        Ok(()) => Outcome::Done,
        Err(outcome) => outcome,
    }
}

/// `len` random lowercase letters and digits (infra id and storage suffixes, passwords).
fn random_suffix(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dns::duplicate_domain;

    #[test]
    fn runtime_progress_polls_and_provisioning_failures_end_the_operation() {
        let poll_after = Duration::from_secs(10);
        assert_eq!(
            runtime_outcome(&crate::Error::RuntimeInProgress {
                what: "Hive is installing the cluster".into(),
                poll_after,
            }),
            Outcome::InProgress {
                poll_after,
                pending_operation_url: None
            }
        );
        let failed = ArmError::new("DeploymentFailed", "Deployment failed.");
        assert_eq!(
            runtime_outcome(&crate::Error::ProvisionFailed(failed.clone())),
            Outcome::Failed(failed)
        );
        assert!(matches!(
            runtime_outcome(&crate::Error::Runtime("boom".into())),
            Outcome::Retryable { error, .. } if error.is_internal() && error.message.contains("boom")
        ));
    }

    #[test]
    fn azure_errors_on_the_rps_own_resources_are_internal_and_duplicate_domains_stay() {
        let denied = ArmError::new(
            "AuthorizationFailed",
            "The client 'rp-principal' does not have authorization to perform action on the zone.",
        );
        let Err(Outcome::Failed(e)) = rp_side(Err(Outcome::Failed(denied))) else {
            panic!("still a failure");
        };
        assert!(e.is_internal(), "{e:?}");
        assert_eq!(e.for_customer(), ArmError::internal());
        assert!(
            e.message.contains("rp-principal"),
            "SREs keep the detail: {e:?}"
        );
        let Err(Outcome::Retryable { error, .. }) = rp_side(Err(Outcome::Retryable {
            error: ArmError::new("Conflict", "busy"),
            retry_after: None,
        })) else {
            panic!("still retryable");
        };
        assert!(error.is_internal(), "{error:?}");
        let duplicate = duplicate_domain("demo.eastus.aroapp.io");
        assert!(matches!(
            rp_side(Err(Outcome::Failed(duplicate.clone()))),
            Err(Outcome::Failed(e)) if e == duplicate
        ));
        assert!(rp_side(Ok(())).is_ok());
    }
}
