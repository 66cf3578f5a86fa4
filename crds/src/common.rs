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

impl ArmError {
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
