//! API version 2020-04-30: the first GA version.
//!
//! This module holds only the version's wire types; its rules live in the shared modules:
//! * what it knows: [`super::ApiVersion::features`], which turns on none of the optional features;
//! * parsing a body and rendering a response: [`super::parse_cluster`],
//!   [`super::parse_cluster_update`], [`super::render_cluster`];
//! * conversion to and from the stored cluster: [`super::convert`];
//! * static validation: [`super::validate`];
//! * what an update may change: [`super::immutability`];
//! * its OpenAPI document: [`super::openapi`].
//!
//! Its swagger is `rp-frontend/testdata/specs/redhatopenshift/2020-04-30`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::common::{
    ApiServerProfile, ConsoleProfile, IngressProfile, OpenShiftClusterCredentials, Operation,
    ServicePrincipalProfile, Tags,
};

/// The serde types of this version.
pub struct Types;

impl super::VersionTypes for Types {
    type Cluster = OpenShiftCluster;
    type ClusterUpdate = OpenShiftClusterUpdate;
}

/// OpenShiftCluster represents an Azure Red Hat OpenShift cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftCluster {
    /// Fully qualified resource id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The name of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The type of the resource.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// The geo-location where the resource lives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Resource tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// The cluster properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<OpenShiftClusterProperties>,
}

/// OpenShiftClusterUpdate represents an update to an OpenShift cluster (PATCH body).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftClusterUpdate {
    /// Resource tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// The cluster properties.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<OpenShiftClusterProperties>,
}

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
}

/// NetworkProfile represents a network profile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
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
}
