//! Types that are identical in every API version that has them. Version modules re-export the
//! ones their swagger defines.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use crds::SystemData;

/// ARM `tags`.
pub type Tags = BTreeMap<String, String>;

/// ConsoleProfile represents a console profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleProfile {
    /// The URL to access the cluster console (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// ServicePrincipalProfile represents a service principal profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalProfile {
    /// The client ID used for the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client secret used for the cluster (never returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// APIServerProfile represents an API server profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiServerProfile {
    /// API server visibility: Private or Public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Private", "Public"]))]
    pub visibility: Option<String>,
    /// The URL to access the cluster API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The IP of the cluster API server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// IngressProfile represents an ingress profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressProfile {
    /// The ingress profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Ingress visibility: Private or Public.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Private", "Public"]))]
    pub visibility: Option<String>,
    /// The IP of the ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// ManagedOutboundIPs represents the desired managed outbound IPs for the cluster public load
/// balancer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedOutboundIps {
    /// Count represents the desired number of IPv4 outbound IPs created and managed by Azure for
    /// the cluster public load balancer (1..20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
}

/// A reference to a public IP or public IP prefix by ARM id.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRef {
    /// The fully qualified Azure resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// OpenShiftClusterCredentials represents an OpenShift cluster's credentials.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftClusterCredentials {
    /// The username for the kubeadmin user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeadmin_username: Option<String>,
    /// The password for the kubeadmin user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeadmin_password: Option<String>,
}

/// OpenShiftClusterAdminKubeconfig represents an OpenShift cluster's admin kubeconfig.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftClusterAdminKubeconfig {
    /// The base64-encoded kubeconfig file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
}

/// Display represents the display details of an operation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Display {
    /// Friendly name of the resource provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Resource type on which the operation is performed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// Operation type: read, write, delete, listKeys/action, etc.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Friendly name of the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Operation represents an RP operation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Operation name: {provider}/{resource}/{operation}.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The object that describes the operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<Display>,
    /// Sources of requests to this operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Whether the operation is a data action (ARM contract; absent from the RP swagger).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_data_action: Option<bool>,
}

/// A page of a list.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    /// The items of this page.
    pub value: Vec<T>,
    /// The link to the next page, absent on the last one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
}

/// OpenShiftVersionProperties represents the properties of an OpenShiftVersion.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftVersionProperties {
    /// Version represents the version to create the cluster at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// OpenShiftVersion represents an OpenShift version that can be installed.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftVersion {
    /// Resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Resource type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The properties of the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<OpenShiftVersionProperties>,
}

/// PlatformWorkloadIdentityRole represents a role assignment for an operator.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentityRole {
    /// OperatorName represents the name of the operator that this role is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_name: Option<String>,
    /// RoleDefinitionName represents the name of the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_definition_name: Option<String>,
    /// RoleDefinitionID represents the resource ID of the role definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_definition_id: Option<String>,
}

/// PlatformWorkloadIdentityRoleSetProperties represents the properties of a role set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentityRoleSetProperties {
    /// OpenShiftVersion represents the version associated with this set of roles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_shift_version: Option<String>,
    /// The roles of the platform operators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_workload_identity_roles: Option<Vec<PlatformWorkloadIdentityRole>>,
}

/// PlatformWorkloadIdentityRoleSet represents the roles of an OpenShift minor version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentityRoleSet {
    /// Resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Resource type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The properties of the role set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<PlatformWorkloadIdentityRoleSetProperties>,
}

/// Convert an internal OpenShiftVersion to its ARM resource.
pub fn openshift_version_resource(
    subscription_id: &str,
    location: &str,
    version: &crds::management::OpenShiftVersionSpec,
) -> OpenShiftVersion {
    OpenShiftVersion {
        id: Some(format!(
            "/subscriptions/{subscription_id}/providers/Microsoft.RedHatOpenShift/locations/{location}/openShiftVersions/{}",
            version.version
        )),
        name: Some(version.version.clone()),
        type_: Some("Microsoft.RedHatOpenShift/openShiftVersions".to_string()),
        properties: Some(OpenShiftVersionProperties {
            version: Some(version.version.clone()),
        }),
    }
}

/// Convert an internal role set to its ARM resource.
pub fn role_set_resource(
    subscription_id: &str,
    location: &str,
    set: &crds::management::PlatformWorkloadIdentityRoleSetSpec,
) -> PlatformWorkloadIdentityRoleSet {
    PlatformWorkloadIdentityRoleSet {
        id: Some(format!(
            "/subscriptions/{subscription_id}/providers/Microsoft.RedHatOpenShift/locations/{location}/platformWorkloadIdentityRoleSets/{}",
            set.open_shift_version
        )),
        name: Some(set.open_shift_version.clone()),
        type_: Some("Microsoft.RedHatOpenShift/platformWorkloadIdentityRoleSets".to_string()),
        properties: Some(PlatformWorkloadIdentityRoleSetProperties {
            open_shift_version: Some(set.open_shift_version.clone()),
            platform_workload_identity_roles: Some(
                set.platform_workload_identity_roles
                    .iter()
                    .map(|r| PlatformWorkloadIdentityRole {
                        operator_name: Some(r.operator_name.clone()),
                        role_definition_name: Some(r.role_definition_name.clone()),
                        role_definition_id: Some(r.role_definition_id.clone()),
                    })
                    .collect(),
            ),
        }),
    }
}
