//! API version 2021-09-01-preview: systemData, encryption at host, disk encryption sets,
//! software defined network and listAdminCredentials.
//!
//! This module holds only the version's wire types; its rules live in the shared modules:
//! * what it knows: [`super::ApiVersion::features`], which turns on `system_data`,
//!   `disk_encryption`, `software_defined_network` and `list_admin_credentials`;
//! * parsing a body and rendering a response: [`super::parse_cluster`],
//!   [`super::parse_cluster_update`], [`super::render_cluster`];
//! * conversion to and from the stored cluster: [`super::convert`];
//! * static validation: [`super::validate`];
//! * what an update may change: [`super::immutability`];
//! * its OpenAPI document: [`super::openapi`].
//!
//! Its swagger is `rp-frontend/testdata/specs/redhatopenshift/2021-09-01-preview`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::common::{
    ApiServerProfile, ConsoleProfile, IngressProfile, OpenShiftClusterAdminKubeconfig,
    OpenShiftClusterCredentials, Operation, ServicePrincipalProfile, SystemData, Tags,
};
pub use super::v2020_04_30::ClusterProfile;

super::cluster_resource!(extra {
            /// Metadata pertaining to creation and last modification of the resource (read-only).
            #[serde(default, skip_serializing_if = "Option::is_none")]
            #[schemars(extend("readOnly" = true))]
            pub system_data: Option<crate::api::common::SystemData>,
});

/// OpenShiftClusterProperties represents an OpenShift cluster's properties.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftClusterProperties {
    /// The cluster provisioning state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["AdminUpdating", "Creating", "Deleting", "Failed", "Succeeded", "Updating"]))]
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
    /// The cluster network profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_profile: Option<NetworkProfile>,
    /// The cluster master profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_profile: Option<MasterProfile>,
    /// The cluster worker profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_profiles: Option<Vec<WorkerProfile>>,
    /// The cluster API server profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver_profile: Option<ApiServerProfile>,
    /// The cluster ingress profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_profiles: Option<Vec<IngressProfile>>,
}

/// NetworkProfile represents a network profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
    /// The software defined network (SDN) to use when installing the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["OVNKubernetes", "OpenShiftSDN"]))]
    pub software_defined_network: Option<String>,
    /// The CIDR used for OpenShift/Kubernetes Pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_cidr: Option<String>,
    /// The CIDR used for OpenShift/Kubernetes Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_cidr: Option<String>,
}

/// MasterProfile represents a master profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MasterProfile {
    /// The size of the master VMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    /// The Azure resource ID of the master subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// Whether master virtual machines are encrypted at host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Disabled", "Enabled"]))]
    pub encryption_at_host: Option<String>,
    /// The resource ID of an associated DiskEncryptionSet, if applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_encryption_set_id: Option<String>,
}

/// WorkerProfile represents a worker profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerProfile {
    /// The worker profile name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The size of the worker VMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vm_size: Option<String>,
    /// The disk size of the worker VMs.
    #[serde(
        default,
        rename = "diskSizeGB",
        skip_serializing_if = "Option::is_none"
    )]
    pub disk_size_gb: Option<i32>,
    /// The Azure resource ID of the worker subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    /// The number of worker VMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// Whether worker virtual machines are encrypted at host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Disabled", "Enabled"]))]
    pub encryption_at_host: Option<String>,
    /// The resource ID of an associated DiskEncryptionSet, if applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_encryption_set_id: Option<String>,
}
