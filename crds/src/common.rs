//! Types shared by several custom resources.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A customer-facing ARM error: the `error` object of an ARM CloudError body.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArmError {
    /// Invariant PascalCase error code, e.g. `InvalidLinkedVNet`.
    pub code: String,
    /// Human-readable message for the customer.
    pub message: String,
    /// JSON path or name of the element in error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Further errors reported together with this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ArmErrorDetail>,
}

/// One entry of `error.details` in an ARM CloudError body.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArmErrorDetail {
    /// Invariant PascalCase error code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// JSON path or name of the element in error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Code of the error a customer sees for a failure of the RP itself.
pub const INTERNAL_SERVER_ERROR: &str = "InternalServerError";
/// The only message a customer sees for a failure of the RP itself.
pub const INTERNAL_SERVER_ERROR_MESSAGE: &str = "Internal server error.";

impl ArmError {
    /// The generic error of a failure of the RP itself (management cluster, cluster runtime or
    /// installer, the RP's own identity): no internals, which go to logs and the admin view.
    pub fn internal() -> Self {
        Self::new(INTERNAL_SERVER_ERROR, INTERNAL_SERVER_ERROR_MESSAGE)
    }

    /// Whether this is a failure of the RP itself rather than something the customer can act on
    /// (an invalid subnet, quota, missing permissions on their network all have codes of their
    /// own): the `InternalServerError` code, or none.
    pub fn is_internal(&self) -> bool {
        self.code.is_empty() || self.code == INTERNAL_SERVER_ERROR
    }

    /// What the customer may see: internal errors become [`ArmError::internal`], others are kept.
    pub fn for_customer(&self) -> Self {
        if self.is_internal() {
            Self::internal()
        } else {
            self.clone()
        }
    }

    /// An error without target or details.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            target: None,
            details: Vec::new(),
        }
    }

    /// The same error with a target.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
}

/// A reference to a Secret in the same namespace as the referring object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Name of the Secret.
    pub name: String,
}

/// ARM `systemData`: who created and last modified the resource, as ARM reported it in the
/// `x-ms-arm-resource-system-data` header.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemData {
    /// Identity that created the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Type of that identity: User, Application, ManagedIdentity or Key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_type: Option<String>,
    /// Creation time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Identity that last modified the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<String>,
    /// Type of that identity: User, Application, ManagedIdentity or Key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by_type: Option<String>,
    /// Last modification time (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_at: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_become_generic_and_customer_errors_stay_specific() {
        for internal in [
            ArmError::new(
                "InternalServerError",
                "The management cluster answered: connection refused (10.0.0.4:6443)",
            ),
            ArmError::new(
                "InternalServerError",
                "Cluster runtime: installer exited 3: boom",
            ),
            ArmError::new("", "AADSTS7000215: Invalid client secret for app rp"),
        ] {
            assert!(internal.is_internal(), "{internal:?}");
            assert_eq!(internal.for_customer(), ArmError::internal());
        }
        assert_eq!(ArmError::internal().code, "InternalServerError");
        assert_eq!(ArmError::internal().message, "Internal server error.");
        for customer in [
            ArmError::new("InvalidLinkedVNet", "The provided subnet is invalid.")
                .with_target("properties.masterProfile.subnetId"),
            ArmError::new("ResourceQuotaExceeded", "Quota exceeded for Standard DSv3."),
            ArmError::new(
                "InvalidServicePrincipalPermissions",
                "The cluster service principal does not have Network Contributor on the vnet.",
            ),
            ArmError::new(
                "InvalidServicePrincipalCredentials",
                "The provided service principal credentials are invalid.",
            ),
        ] {
            assert!(!customer.is_internal(), "{customer:?}");
            assert_eq!(customer.for_customer(), customer);
        }
    }
}
