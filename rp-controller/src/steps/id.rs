//! The names of the lifecycle steps. A step's name is recorded in `status.progress.step` and
//! `completedSteps`, so a controller restarted (or upgraded) mid-operation resumes from it: every
//! name here parses back to its step, and a released name never changes spelling or meaning.
//!
//! Most names are ARO-RP's own (pkg/cluster's install, update and delete steps). A few are
//! aliases (another name for the same action, used by another plan) or no-ops (an ARO-RP step with
//! nothing to do in this RP); both are documented on their variant and kept so that stored
//! progress naming them still parses.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// Declares [`StepId`], its list of every step and its recorded names, from one table.
macro_rules! step_ids {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)+) => {
        /// A lifecycle step, by the name recorded in status.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum StepId {
            $($(#[$doc])* $variant,)+
        }

        impl StepId {
            /// Every step.
            pub const ALL: &'static [StepId] = &[$(StepId::$variant,)+];

            /// The name recorded in status (camelCase, stable).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(StepId::$variant => $name,)+
                }
            }
        }
    };
}

step_ids! {
    // ------------------------------------------------------------------------------- install
    /// Dynamic validation of the customer's network and permissions (and the service principal's
    /// object id).
    ValidateResources = "validateResources",
    /// The cluster's infrastructure id and storage suffix.
    EnsureInfraId = "ensureInfraID",
    /// The cluster's SSH key, in the credentials Secret.
    EnsureSshKey = "ensureSSHKey",
    /// Workload identity clusters: the platform workload identities (and the cluster's managed
    /// identity) read from Azure, their client and object ids recorded in status.
    PlatformWorkloadIdentityIds = "platformWorkloadIdentityIDs",
    /// The cluster resource group, managed by the cluster.
    EnsureResourceGroup = "ensureResourceGroup",
    /// Workload identity clusters: the OIDC issuer (signing key, discovery document and JWKS on
    /// the RP's OIDC storage account's static website) and `status.oidcIssuer`.
    CreateOidc = "createOIDC",
    /// Contributor for the cluster's service principal on the cluster resource group, or each
    /// platform workload identity's roles of the role set.
    EnsureRoleAssignments = "ensureRoleAssignments",
    /// Workload identity clusters: a federated identity credential per platform identity and
    /// ServiceAccount of its role.
    FederateIdentityCredentials = "federateIdentityCredentials",
    /// The deny assignment locking the cluster resource group to everyone but the RP and the
    /// cluster's identities.
    CreateOrUpdateDenyAssignment = "createOrUpdateDenyAssignment",
    /// The cluster's network security group.
    EnsureNetworkSecurityGroup = "ensureNetworkSecurityGroup",
    /// The internal and public load balancers, outbound and ingress addresses.
    EnsureLoadBalancers = "ensureLoadBalancers",
    /// The private link service in front of the API server.
    EnsurePrivateLink = "ensurePrivateLink",
    /// The RP's private endpoint into the cluster.
    CreateApiServerPrivateEndpoint = "createAPIServerPrivateEndpoint",
    /// The network security group on the cluster's subnets.
    AttachNsgs = "attachNSGs",
    /// The cluster's record sets in the RP's DNS zone.
    CreateDns = "createDNS",
    /// The cluster runtime brings the cluster up.
    RunInstaller = "runInstaller",
    /// Wait: the cluster's Kubernetes API server answers.
    ApiServersReady = "apiServersReady",
    /// The kubeadmin password and admin kubeconfig, in the credentials Secret.
    GenerateKubeconfigs = "generateKubeconfigs",
    /// Workload identity clusters: each platform identity's Secret in the cluster, where its
    /// operator reads it.
    DeployPlatformWorkloadIdentitySecrets = "deployPlatformWorkloadIdentitySecrets",
    /// Deploy (or refresh) the ARO operator and its Azure identity.
    InstallAroOperator = "installAROOperator",
    /// Wait: the ARO operator runs and reports.
    AroDeploymentReady = "aroDeploymentReady",
    /// No-op: ARO-RP deletes the bootstrap VM here, but the installer runtime's
    /// `openshift-install create cluster` removes its own bootstrap resources and the local runtime
    /// has none. Kept because it opens the `RemoveBootstrap` phase and stored progress names it.
    RemoveBootstrap = "removeBootstrap",
    /// The API server and console URLs, worker profiles and `provisionedBy` in status.
    UpdateClusterData = "updateClusterData",
    /// No-op: ARO-RP clears its install phase here; in this RP the operation's ending
    /// ([`crate::transitions::succeed`]) clears the progress. Kept so stored progress parses.
    FinishInstallation = "finishInstallation",

    // -------------------------------------------------------------------------------- update
    /// Hand the cluster the customer's current service principal: `kube-system/azure-credentials`
    /// with its seven keys (server-side apply), then restart the cloud-credential-operator
    /// (ARO-RP's `updateOpenShiftSecret`).
    RotateCredentials = "rotateCredentials",
    /// Alias of [`StepId::EnsureLoadBalancers`] (the same action): ARO-RP's name for it in the
    /// update plan, where it applies a changed outbound IP count.
    ReconcileLoadBalancerProfile = "reconcileLoadBalancerProfile",
    /// Alias of [`StepId::InstallAroOperator`] (the same action): ARO-RP's name for it in the
    /// update plan, where it refreshes the operator's identity after a credentials change.
    UpdateOperatorSecrets = "updateOperatorSecrets",

    /// The ARO operator's CredentialsRequest (`openshift-azure-operator`), through which the
    /// cloud-credential-operator hands the operator the cluster's credentials.
    EnsureCredentialsRequest = "ensureCredentialsRequest",
    /// Wait: the cloud-credential-operator synced the ARO operator's CredentialsRequest from the
    /// rotated `azure-credentials`.
    AroCredentialsRequestReconciled = "aroCredentialsRequestReconciled",

    // -------------------------------------------------------------------------- admin update
    /// Alias of [`StepId::InstallAroOperator`] (the same action): the operator update's last
    /// step, which rewrites the operator's Cluster object from the cluster document.
    SyncClusterObject = "syncClusterObject",
    /// Alias of [`StepId::GenerateKubeconfigs`] (the same action): the certificates renewal
    /// task's step, which re-issues the admin kubeconfig.
    RenewCertificates = "renewCertificates",
    /// Alias of [`StepId::UpdateClusterData`] (the same action): the Everything task's last
    /// step, recording this RP's version in `provisionedBy`.
    UpdateProvisionedBy = "updateProvisionedBy",
    /// No-op: the plan of the maintenance tasks that only record a maintenance state (Pending,
    /// None, CustomerActionNeeded); the operation's ending records it
    /// ([`crate::transitions::succeed`]). Kept so stored progress parses.
    UpdateMaintenanceState = "updateMaintenanceState",

    // -------------------------------------------------------------------------------- delete
    /// The cluster's record sets in the RP's DNS zone (only those it owns).
    RemoveDns = "removeDNS",
    /// The RP's private endpoint into the cluster (only when it is the cluster's).
    RemovePrivateEndpoint = "removePrivateEndpoint",
    /// The RP's role assignments at the cluster resource group.
    RemoveRoleAssignments = "removeRoleAssignments",
    /// Workload identity clusters: the federated credentials of the cluster's issuer.
    DeleteFederatedCredentials = "deleteFederatedCredentials",
    /// Workload identity clusters: the OIDC issuer's documents.
    DeleteOidc = "deleteOIDC",
    /// The cluster runtime tears the cluster down.
    DeleteClusterRuntime = "deleteClusterRuntime",
    /// The network security group off the customer's subnets.
    DetachNsgs = "detachNSGs",
    /// The cluster resource group (only when the cluster manages it).
    DeleteResourceGroup = "deleteResourceGroup",
    /// The cluster's Secrets in the management cluster.
    RemoveSecrets = "removeSecrets",
    /// The cluster's unique-key claims.
    ReleaseUniqueKeys = "releaseUniqueKeys",
}

impl FromStr for StepId {
    type Err = Error;

    /// The step a recorded name names (exact spelling: names are written only by this code).
    fn from_str(name: &str) -> Result<Self, Error> {
        StepId::ALL
            .iter()
            .copied()
            .find(|step| step.as_str() == name)
            .ok_or_else(|| Error::UnknownStepName(name.to_string()))
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_step_round_trips_through_its_recorded_name() {
        for step in StepId::ALL {
            assert_eq!(step.as_str().parse::<StepId>().unwrap(), *step);
            assert_eq!(step.to_string(), step.as_str());
        }
    }

    #[test]
    fn recorded_names_are_the_released_ones() {
        // The names stored in clusters' status today: changing one strands a cluster mid-operation.
        let released = [
            "validateResources",
            "ensureInfraID",
            "ensureSSHKey",
            "platformWorkloadIdentityIDs",
            "ensureResourceGroup",
            "createOIDC",
            "ensureRoleAssignments",
            "federateIdentityCredentials",
            "createOrUpdateDenyAssignment",
            "ensureNetworkSecurityGroup",
            "ensureLoadBalancers",
            "ensurePrivateLink",
            "createAPIServerPrivateEndpoint",
            "attachNSGs",
            "createDNS",
            "runInstaller",
            "apiServersReady",
            "generateKubeconfigs",
            "deployPlatformWorkloadIdentitySecrets",
            "installAROOperator",
            "aroDeploymentReady",
            "removeBootstrap",
            "updateClusterData",
            "finishInstallation",
            "rotateCredentials",
            "reconcileLoadBalancerProfile",
            "updateOperatorSecrets",
            "ensureCredentialsRequest",
            "aroCredentialsRequestReconciled",
            "syncClusterObject",
            "renewCertificates",
            "updateProvisionedBy",
            "updateMaintenanceState",
            "removeDNS",
            "removePrivateEndpoint",
            "removeRoleAssignments",
            "deleteFederatedCredentials",
            "deleteOIDC",
            "deleteClusterRuntime",
            "detachNSGs",
            "deleteResourceGroup",
            "removeSecrets",
            "releaseUniqueKeys",
        ];
        let names: Vec<_> = StepId::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, released);
        assert_eq!(
            names.iter().collect::<BTreeSet<_>>().len(),
            names.len(),
            "names are unique"
        );
    }

    #[test]
    fn unknown_and_misspelt_names_are_errors() {
        for bad in ["", "removed", "ValidateResources", "validateresources"] {
            assert!(
                matches!(bad.parse::<StepId>(), Err(Error::UnknownStepName(n)) if n == bad),
                "{bad}"
            );
        }
    }
}
