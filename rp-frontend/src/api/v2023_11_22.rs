//! API version 2023-11-22: the managed load balancer profile (managed and effective outbound
//! IPs). The stored swagger snapshot omits `loadBalancerProfile` while its own examples and the
//! ARO RP use it; we follow the RP (docs/api.md).
//!
//! This module holds only the version's wire types; its rules live in the shared modules:
//! * what it knows: [`super::ApiVersion::features`], which turns on the managed load balancer
//!   profile (`LoadBalancerShape::Managed`);
//! * parsing a body and rendering a response: [`super::parse_cluster`],
//!   [`super::parse_cluster_update`], [`super::render_cluster`];
//! * conversion to and from the stored cluster: [`super::convert`];
//! * static validation: [`super::validate`];
//! * what an update may change: [`super::immutability`];
//! * its OpenAPI document: [`super::openapi`].
//!
//! Its swagger is `rp-frontend/testdata/specs/redhatopenshift/2023-11-22` and its examples, which
//! the tests replay, are `rp-frontend/testdata/examples/2023-11-22`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::common::{
    ApiServerProfile, ConsoleProfile, IngressProfile, ManagedOutboundIps,
    OpenShiftClusterAdminKubeconfig, OpenShiftClusterCredentials, OpenShiftVersion,
    OpenShiftVersionProperties, Operation, ResourceRef, ServicePrincipalProfile, SystemData, Tags,
};
pub use super::v2021_09_01_preview::{MasterProfile, WorkerProfile};
pub use super::v2022_04_01::ClusterProfile;

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
    /// The OutboundType used for egress traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Loadbalancer", "UserDefinedRouting"]))]
    pub outbound_type: Option<String>,
    /// The cluster load balancer profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_profile: Option<LoadBalancerProfile>,
    /// Specifies whether subnets are pre-attached with an NSG.
    #[serde(
        default,
        rename = "preconfiguredNSG",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(extend("enum" = ["Disabled", "Enabled"]))]
    pub preconfigured_nsg: Option<String>,
}

/// LoadBalancerProfile represents the profile of the cluster public load balancer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerProfile {
    /// The desired managed outbound IPs for the cluster public load balancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_outbound_ips: Option<ManagedOutboundIps>,
    /// The list of effective outbound IP addresses of the public load balancer (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("readOnly" = true))]
    pub effective_outbound_ips: Option<Vec<ResourceRef>>,
}
