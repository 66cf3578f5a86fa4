//! Names and keys the frontend and the controller both read or write: the cluster's customer
//! Secret (what the customer gave: pull secret, service principal secret; written by the frontend)
//! and its credentials Secret (what the RP made: kubeadmin password, admin kubeconfig, SSH key;
//! written by the controller, read by listCredentials and listAdminCredentials). The claim of a
//! transition is in [`super::claim`].

/// Key of the pull secret in the customer Secret.
pub const PULL_SECRET_KEY: &str = "pullSecret";
/// Key of the service principal secret in the customer Secret.
pub const CLIENT_SECRET_KEY: &str = "servicePrincipalClientSecret";
/// Key of the kubeadmin password in the credentials Secret (read by listCredentials).
pub const KUBEADMIN_PASSWORD_KEY: &str = "kubeadminPassword";
/// Key of the admin kubeconfig in the credentials Secret (read by listAdminCredentials).
pub const ADMIN_KUBECONFIG_KEY: &str = "adminKubeconfig";
/// Key of the cluster's SSH private key in the credentials Secret.
pub const SSH_KEY_KEY: &str = "sshPrivateKey";

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
