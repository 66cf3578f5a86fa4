//! API version 2022-04-01: FIPS validated modules; no software defined network.
//!
//! This module holds only the version's wire types; its rules live in the shared modules:
//! * what it knows: [`super::ApiVersion::features`], which turns on `fips`, and turns
//!   `software_defined_network` off;
//! * parsing a body and rendering a response: [`super::parse_cluster`],
//!   [`super::parse_cluster_update`], [`super::render_cluster`];
//! * conversion to and from the stored cluster: [`super::convert`];
//! * static validation: [`super::validate`];
//! * what an update may change: [`super::immutability`];
//! * its OpenAPI document: [`super::openapi`].
//!
//! Its swagger is `rp-frontend/testdata/specs/redhatopenshift/2022-04-01`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::common::{
    ApiServerProfile, ConsoleProfile, IngressProfile, OpenShiftClusterAdminKubeconfig,
    OpenShiftClusterCredentials, Operation, ServicePrincipalProfile, SystemData, Tags,
};
pub use super::v2020_04_30::NetworkProfile;
pub use super::v2021_09_01_preview::{MasterProfile, WorkerProfile};

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
}
