//! What the frontend and the controller both read or write on the management cluster, in one
//! place:
//!
//! * the claim annotations of a transition ([`PENDING_OPERATION`], [`PENDING_STATE`]), how a
//!   claim is set ([`set_claim`]), read ([`pending_operation`], [`pending_state`]) and released
//!   ([`release_claim_patch`]), and the provisioning state a cluster counts as in while its claim's
//!   status is unwritten ([`effective_state`]);
//! * the cluster's customer Secret (what the customer gave: pull secret, service principal secret;
//!   written by the frontend) and its credentials Secret (what the RP made: kubeadmin password,
//!   admin kubeconfig, SSH key; written by the controller, read by listCredentials and
//!   listAdminCredentials).
//!
//! How a claim completes (staged secrets, their promotion) is in [`super::claim`]; which request
//! may start which operation, and how operations end, in [`super::provisioning`].

use kube::ResourceExt;

use super::openshiftcluster::{OpenShiftCluster, ProvisioningState};

/// Annotation: id of the operation that claimed the cluster and whose status write is pending.
pub const PENDING_OPERATION: &str = "rp.aro.openshift.io/pending-operation";
/// Annotation: provisioning state of that operation.
pub const PENDING_STATE: &str = "rp.aro.openshift.io/pending-state";

/// Put the claim of operation `operation_id` (starting `state`) on the cluster; written together
/// with the spec under a resourceVersion precondition, so two racing writers cannot both claim.
pub fn set_claim(cluster: &mut OpenShiftCluster, operation_id: &str, state: ProvisioningState) {
    let annotations = cluster.annotations_mut();
    annotations.insert(PENDING_OPERATION.into(), operation_id.into());
    annotations.insert(PENDING_STATE.into(), state.as_str().into());
}

/// The id of the operation that claimed the cluster, if a claim is on it.
pub fn pending_operation(cluster: &OpenShiftCluster) -> Option<&str> {
    cluster
        .annotations()
        .get(PENDING_OPERATION)
        .map(String::as_str)
}

/// The provisioning state the claim on the cluster starts, if a claim with a known state is on it.
pub fn pending_state(cluster: &OpenShiftCluster) -> Option<ProvisioningState> {
    cluster.annotations().get(PENDING_STATE)?.parse().ok()
}

/// The provisioning state a cluster is in, counting a claimed-but-unwritten transition.
pub fn effective_state(cluster: &OpenShiftCluster) -> ProvisioningState {
    let written = cluster
        .status
        .as_ref()
        .and_then(|s| s.async_operation_id.as_deref());
    // A claim whose status is written (only its release failed) no longer decides the state.
    if let Some(state) = pending_state(cluster)
        && pending_operation(cluster) != written
    {
        return state;
    }
    cluster
        .status
        .as_ref()
        .and_then(|s| s.provisioning_state)
        .unwrap_or(ProvisioningState::Succeeded)
}

/// The JSON patch that removes the claim annotations if they still name `operation_id`: guarded
/// by a `test`, so a claim someone else released (or replaced) is left alone; a failed test means
/// it is gone already.
pub fn release_claim_patch(operation_id: &str) -> serde_json::Value {
    let operation = annotation_pointer(PENDING_OPERATION);
    serde_json::json!([
        {"op": "test", "path": operation, "value": operation_id},
        {"op": "remove", "path": operation},
        {"op": "remove", "path": annotation_pointer(PENDING_STATE)},
    ])
}

/// The JSON pointer (RFC 6901: `~` is `~0`, `/` is `~1`) of an annotation.
fn annotation_pointer(name: &str) -> String {
    format!(
        "/metadata/annotations/{}",
        name.replace('~', "~0").replace('/', "~1")
    )
}

/// Key of the pull secret in the customer Secret.
pub const PULL_SECRET_KEY: &str = "pullSecret";
/// Key of the service principal secret in the customer Secret.
pub const CLIENT_SECRET_KEY: &str = "servicePrincipalClientSecret";
/// Key of the kubeadmin password in the credentials Secret (read by listCredentials).
pub const KUBEADMIN_PASSWORD_KEY: &str = "kubeadminPassword";
/// Key of the RP's own admin kubeconfig of the cluster in the credentials Secret (the RP's access
/// to the cluster; never handed to the customer).
pub const ADMIN_KUBECONFIG_KEY: &str = "adminKubeconfig";
/// Key of the user-admin kubeconfig in the credentials Secret (read by listAdminCredentials): a
/// client certificate for `system:admin` valid for one year, separate from the RP's own.
pub const USER_ADMIN_KUBECONFIG_KEY: &str = "userAdminKubeconfig";
/// Key of the cluster's SSH private key in the credentials Secret.
pub const SSH_KEY_KEY: &str = "sshPrivateKey";
/// Credentials Secret key: the private key (PKCS#8 PEM) signing the cluster's service account
/// tokens, whose public half the OIDC issuer publishes (workload identity clusters; ARO-RP's
/// `boundServiceAccountSigningKey`).
pub const BOUND_SA_SIGNING_KEY_KEY: &str = "boundServiceAccountSigningKey";

/// Name of a cluster's customer Secret (pull secret, service principal secret), from the
/// cluster's object name.
pub fn customer_secret_name(object_name: &str) -> String {
    format!("{object_name}-customer")
}

/// Name of a cluster's credentials Secret (kubeadmin password, admin kubeconfig, SSH key), from
/// the cluster's object name.
pub fn credentials_secret_name(object_name: &str) -> String {
    format!("{object_name}-credentials")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::management::{OpenShiftClusterSpec, OpenShiftClusterStatus};

    fn cluster(
        claim: Option<(&str, &str)>,
        written: Option<(ProvisioningState, &str)>,
    ) -> OpenShiftCluster {
        let mut cluster = OpenShiftCluster::new("c", OpenShiftClusterSpec::default());
        if let Some((op, state)) = claim {
            let annotations = cluster.annotations_mut();
            annotations.insert(PENDING_OPERATION.into(), op.into());
            annotations.insert(PENDING_STATE.into(), state.into());
        }
        cluster.status = written.map(|(state, op)| OpenShiftClusterStatus {
            provisioning_state: Some(state),
            async_operation_id: Some(op.into()),
            ..Default::default()
        });
        cluster
    }

    #[test]
    fn a_claim_is_read_back_as_set() {
        let mut c = cluster(None, None);
        assert_eq!((pending_operation(&c), pending_state(&c)), (None, None));
        set_claim(&mut c, "op-1", ProvisioningState::Deleting);
        assert_eq!(pending_operation(&c), Some("op-1"));
        assert_eq!(pending_state(&c), Some(ProvisioningState::Deleting));
    }

    #[test]
    fn claim_states_parse_from_their_arm_spelling_only() {
        let c = cluster(Some(("op-1", "Deleting")), None);
        assert_eq!(pending_state(&c), Some(ProvisioningState::Deleting));
        let c = cluster(Some(("op-1", "deleting")), None);
        assert_eq!(pending_state(&c), None);
    }

    #[test]
    fn an_unwritten_claim_decides_the_effective_state() {
        use ProvisioningState::*;
        // No status: a cluster counts as Succeeded.
        assert_eq!(effective_state(&cluster(None, None)), Succeeded);
        assert_eq!(
            effective_state(&cluster(None, Some((Failed, "op-0")))),
            Failed
        );
        // Claimed, status not yet written: the claim's state.
        assert_eq!(
            effective_state(&cluster(
                Some(("op-1", "Updating")),
                Some((Succeeded, "op-0"))
            )),
            Updating
        );
        // Claimed and written (only the release failed): the status.
        assert_eq!(
            effective_state(&cluster(Some(("op-1", "Updating")), Some((Failed, "op-1")))),
            Failed
        );
        // A claim with an unknown state does not decide.
        assert_eq!(
            effective_state(&cluster(Some(("op-1", "bogus")), Some((Failed, "op-0")))),
            Failed
        );
    }

    #[test]
    fn the_release_patch_tests_the_operation_and_escapes_the_annotation_names() {
        assert_eq!(
            release_claim_patch("op-1"),
            serde_json::json!([
                {"op": "test", "path": "/metadata/annotations/rp.aro.openshift.io~1pending-operation", "value": "op-1"},
                {"op": "remove", "path": "/metadata/annotations/rp.aro.openshift.io~1pending-operation"},
                {"op": "remove", "path": "/metadata/annotations/rp.aro.openshift.io~1pending-state"},
            ])
        );
        assert_eq!(annotation_pointer("a~b/c"), "/metadata/annotations/a~0b~1c");
    }

    #[test]
    fn secret_names_follow_the_cluster_object() {
        assert_eq!(customer_secret_name("osc-1"), "osc-1-customer");
        assert_eq!(credentials_secret_name("osc-1"), "osc-1-credentials");
    }

    #[test]
    fn provisioning_states_parse_from_their_arm_spelling_only() {
        use crate::management::openshiftcluster::ProvisioningState;
        for state in [
            ProvisioningState::Creating,
            ProvisioningState::Updating,
            ProvisioningState::AdminUpdating,
            ProvisioningState::Deleting,
            ProvisioningState::Succeeded,
            ProvisioningState::Failed,
            ProvisioningState::Canceled,
        ] {
            assert_eq!(state.as_str().parse::<ProvisioningState>(), Ok(state));
        }
        assert!("succeeded".parse::<ProvisioningState>().is_err());
        assert!("".parse::<ProvisioningState>().is_err());
    }
}
