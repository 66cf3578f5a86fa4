//! API version 2024-08-12-preview: workload identity (cluster identity, platform workload
//! identities, OIDC issuer), platform workload identity role sets and single OpenShift version
//! GET; the retired child resources are gone.
//!
//! This module holds only the version's wire types; its rules live in the shared modules:
//! * what it knows: [`super::ApiVersion::features`], which turns on `workload_identity`,
//!   `canceled_state`, `openshift_version_get` and `role_sets`;
//! * parsing a body and rendering a response: [`super::parse_cluster`],
//!   [`super::parse_cluster_update`], [`super::render_cluster`];
//! * conversion to and from the stored cluster: [`super::convert`];
//! * static validation: [`super::validate`];
//! * the workload identity checks against role sets and ARM's identity headers:
//!   `crate::server::workload_identity`;
//! * what an update may change: [`super::immutability`];
//! * its OpenAPI document: [`super::openapi`].
//!
//! Its swagger is `rp-frontend/testdata/specs/redhatopenshift/2024-08-12-preview` and its examples,
//! which the tests replay, are `rp-frontend/testdata/examples/2024-08-12-preview`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::common::{
    ApiServerProfile, ConsoleProfile, IngressProfile, ManagedOutboundIps,
    OpenShiftClusterAdminKubeconfig, OpenShiftClusterCredentials, OpenShiftVersion,
    OpenShiftVersionProperties, Operation, PlatformWorkloadIdentityRole,
    PlatformWorkloadIdentityRoleSet, PlatformWorkloadIdentityRoleSetProperties, ResourceRef,
    ServicePrincipalProfile, SystemData, Tags,
};
pub use super::v2021_09_01_preview::{MasterProfile, WorkerProfile};
pub use super::v2023_11_22::{LoadBalancerProfile, NetworkProfile};

super::cluster_resource!(extra {
            /// Metadata pertaining to creation and last modification of the resource (read-only).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(extend("readOnly" = true))]
            pub system_data: Option<crate::api::common::SystemData>,
            /// The cluster's managed identity.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub identity: Option<ManagedServiceIdentity>,
});

/// OpenShiftClusterProperties represents an OpenShift cluster's properties.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftClusterProperties {
    /// The cluster provisioning state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["AdminUpdating", "Canceled", "Creating", "Deleting", "Failed", "Succeeded", "Updating"]))]
    pub provisioning_state: Option<String>,
    /// The cluster profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_profile: Option<ClusterProfile>,
    /// The console profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_profile: Option<ConsoleProfile>,
    /// The cluster service principal profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_profile: Option<ServicePrincipalProfile>,
    /// The workload identity profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_workload_identity_profile: Option<PlatformWorkloadIdentityProfile>,
    /// The cluster network profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_profile: Option<NetworkProfile>,
    /// The cluster master profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_profile: Option<MasterProfile>,
    /// The cluster worker profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_profiles: Option<Vec<WorkerProfile>>,
    /// The cluster worker profiles status (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub worker_profiles_status: Option<Vec<WorkerProfile>>,
    /// The cluster API server profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver_profile: Option<ApiServerProfile>,
    /// The cluster ingress profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_profiles: Option<Vec<IngressProfile>>,
}

/// ClusterProfile represents a cluster profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterProfile {
    /// The pull secret for the cluster (never returned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
    /// The domain for the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The version of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The ID of the cluster resource group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_group_id: Option<String>,
    /// If FIPS validated crypto modules are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Disabled", "Enabled"]))]
    pub fips_validated_modules: Option<String>,
    /// The URL of the managed OIDC issuer in a workload identity cluster (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub oidc_issuer: Option<String>,
}

/// ManagedServiceIdentity: the cluster's user-assigned identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedServiceIdentity {
    /// Type of managed service identity: only UserAssigned.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["None", "SystemAssigned", "UserAssigned", "SystemAssigned,UserAssigned"]))]
    pub type_: String,
    /// The user-assigned identities by ARM resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_assigned_identities: Option<BTreeMap<String, UserAssignedIdentity>>,
    /// The service principal ID of a system assigned identity (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub principal_id: Option<String>,
    /// The tenant ID of a system assigned identity (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub tenant_id: Option<String>,
}

/// UserAssignedIdentity: a user-assigned identity's ids (read-only).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentity {
    /// The client ID of the assigned identity (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub client_id: Option<String>,
    /// The principal ID of the assigned identity (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub principal_id: Option<String>,
}

/// PlatformWorkloadIdentityProfile encapsulates all information specific to workload identity
/// clusters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentityProfile {
    /// The OpenShift version the customer prepared identities for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgradeable_to: Option<String>,
    /// Operator name -> platform workload identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_workload_identities: Option<BTreeMap<String, PlatformWorkloadIdentity>>,
}

/// PlatformWorkloadIdentity stores information representing a single workload identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentity {
    /// The resource ID of the PlatformWorkloadIdentity resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// The ClientID of the PlatformWorkloadIdentity resource (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub client_id: Option<String>,
    /// The ObjectID of the PlatformWorkloadIdentity resource (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub object_id: Option<String>,
}
