//! `PlatformWorkloadIdentityRoleSet`: the operator identities and roles an OpenShift minor version
//! needs on a workload identity cluster.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Roles of the platform workload identities for one OpenShift minor version. Object name: the
/// minor version, e.g. `4.15`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "rp.aro.openshift.io",
    version = "v1",
    kind = "PlatformWorkloadIdentityRoleSet",
    plural = "platformworkloadidentityrolesets",
    singular = "platformworkloadidentityroleset",
    derive = "PartialEq",
    derive = "Default",
    shortname = "pwirs",
    category = "aro",
    doc = "Platform workload identity roles required by an OpenShift minor version.",
    printcolumn = r#"{"name":"Version","type":"string","jsonPath":".spec.openShiftVersion"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentityRoleSetSpec {
    /// OpenShift minor version, e.g. `4.15`.
    pub open_shift_version: String,
    /// One entry per platform operator.
    #[serde(default)]
    pub platform_workload_identity_roles: Vec<PlatformWorkloadIdentityRole>,
}

/// The role one platform operator needs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentityRole {
    /// Operator name, e.g. `CloudControllerManager`.
    pub operator_name: String,
    /// Built-in role name, e.g. `Azure Red Hat OpenShift Cloud Controller Manager`.
    pub role_definition_name: String,
    /// Built-in role id (GUID).
    pub role_definition_id: String,
    /// Service accounts federated with the identity (`system:serviceaccount:<ns>:<name>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<String>,
    /// Where the operator expects its credentials Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_location: Option<SecretLocation>,
}

/// Namespace and name of a Secret inside the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretLocation {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}
