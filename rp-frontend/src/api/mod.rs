//! The ARM API of `Microsoft.RedHatOpenShift/openShiftClusters`, one module per API version.
//!
//! Every version module holds that version's exact serde types (what its swagger defines). The
//! conversion and validation code is shared: a version's body is parsed into its own types (so a
//! type error is reported per version), re-read into the version-neutral [`external::Cluster`] (a
//! superset of every version, all fields optional) and then validated and applied onto the internal
//! model with that version's [`Features`]: a field the version does not know is never touched.
//! Responses go the other way: internal -> [`external::Cluster`] (gated by [`Features`], without
//! secrets) -> the version's own types, which drop anything the version does not define.

/// Define a version's `OpenShiftCluster`, `OpenShiftClusterUpdate` and `Types` around its own
/// `OpenShiftClusterProperties`; `extra` lists the resource-level fields beyond the tracked
/// resource ones (`systemData`, `identity`) in that version.
macro_rules! cluster_resource {
    (extra { $($extra:tt)* }) => {
        /// The serde types of this version.
        pub struct Types;

        impl $crate::api::VersionTypes for Types {
            type Cluster = OpenShiftCluster;
            type ClusterUpdate = OpenShiftClusterUpdate;
        }

        /// OpenShiftCluster represents an Azure Red Hat OpenShift cluster.
        #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
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
            pub tags: Option<$crate::api::common::Tags>,
            /// The cluster properties.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub properties: Option<OpenShiftClusterProperties>,
            $($extra)*
        }

        /// OpenShiftClusterUpdate represents an update to an OpenShift cluster (PATCH body).
        #[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct OpenShiftClusterUpdate {
            /// Resource tags.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub tags: Option<$crate::api::common::Tags>,
            /// The cluster properties.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub properties: Option<OpenShiftClusterProperties>,
            $($extra)*
        }
    };
}
pub(crate) use cluster_resource;

pub mod admin;
pub mod common;
pub mod convert;
pub mod external;
pub mod immutability;
pub mod openapi;
pub mod validate;

pub mod v2020_04_30;
pub mod v2021_09_01_preview;
pub mod v2022_04_01;
pub mod v2022_09_04;
pub mod v2023_04_01;
pub mod v2023_07_01_preview;
pub mod v2023_09_04;
pub mod v2023_11_22;
pub mod v2024_08_12_preview;
pub mod v2025_07_25;

#[cfg(test)]
mod examples_tests;
#[cfg(test)]
mod tests;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Which load balancer profile shape a version has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadBalancerShape {
    /// No `networkProfile.loadBalancerProfile`.
    Absent,
    /// `managedOutboundIps` and read-only `effectiveOutboundIps`.
    Managed,
    /// Also customer `outboundIps`, `outboundIpPrefixes` and `allocatedOutboundPorts`
    /// (2023-07-01-preview only).
    Full,
}

/// What one API version knows. Conversion, validation and immutability checks consult it so a
/// version never reads or writes a field it does not define.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// `systemData` on the resource.
    pub system_data: bool,
    /// `encryptionAtHost` and `diskEncryptionSetId` on master and worker profiles.
    pub disk_encryption: bool,
    /// `networkProfile.softwareDefinedNetwork` (2021-09-01-preview only).
    pub software_defined_network: bool,
    /// `clusterProfile.fipsValidatedModules`.
    pub fips: bool,
    /// `networkProfile.outboundType`.
    pub outbound_type: bool,
    /// `networkProfile.loadBalancerProfile`.
    pub load_balancer: LoadBalancerShape,
    /// `networkProfile.preconfiguredNSG`.
    pub preconfigured_nsg: bool,
    /// Read-only `properties.workerProfilesStatus`.
    pub worker_profiles_status: bool,
    /// `identity`, `platformWorkloadIdentityProfile` and `clusterProfile.oidcIssuer`.
    pub workload_identity: bool,
    /// `Canceled` in the provisioning state enum.
    pub canceled_state: bool,
    /// POST `listAdminCredentials`.
    pub list_admin_credentials: bool,
    /// GET `locations/{l}/openShiftVersions`.
    pub openshift_versions: bool,
    /// GET `locations/{l}/openShiftVersions/{version}`.
    pub openshift_version_get: bool,
    /// GET `locations/{l}/platformWorkloadIdentityRoleSets[/{minor}]`.
    pub role_sets: bool,
}

const BASE: Features = Features {
    system_data: false,
    disk_encryption: false,
    software_defined_network: false,
    fips: false,
    outbound_type: false,
    load_balancer: LoadBalancerShape::Absent,
    preconfigured_nsg: false,
    worker_profiles_status: false,
    workload_identity: false,
    canceled_state: false,
    list_admin_credentials: false,
    openshift_versions: false,
    openshift_version_get: false,
    role_sets: false,
};

/// A supported ARM API version of the cluster resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiVersion {
    /// 2020-04-30
    V2020_04_30,
    /// 2021-09-01-preview
    V2021_09_01Preview,
    /// 2022-04-01
    V2022_04_01,
    /// 2022-09-04
    V2022_09_04,
    /// 2023-04-01
    V2023_04_01,
    /// 2023-07-01-preview
    V2023_07_01Preview,
    /// 2023-09-04
    V2023_09_04,
    /// 2023-11-22
    V2023_11_22,
    /// 2024-08-12-preview
    V2024_08_12Preview,
    /// 2025-07-25
    V2025_07_25,
}

impl ApiVersion {
    /// Every supported version, oldest first.
    pub const ALL: [ApiVersion; 10] = [
        Self::V2020_04_30,
        Self::V2021_09_01Preview,
        Self::V2022_04_01,
        Self::V2022_09_04,
        Self::V2023_04_01,
        Self::V2023_07_01Preview,
        Self::V2023_09_04,
        Self::V2023_11_22,
        Self::V2024_08_12Preview,
        Self::V2025_07_25,
    ];

    /// The `api-version` query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2020_04_30 => "2020-04-30",
            Self::V2021_09_01Preview => "2021-09-01-preview",
            Self::V2022_04_01 => "2022-04-01",
            Self::V2022_09_04 => "2022-09-04",
            Self::V2023_04_01 => "2023-04-01",
            Self::V2023_07_01Preview => "2023-07-01-preview",
            Self::V2023_09_04 => "2023-09-04",
            Self::V2023_11_22 => "2023-11-22",
            Self::V2024_08_12Preview => "2024-08-12-preview",
            Self::V2025_07_25 => "2025-07-25",
        }
    }

    /// Parse an `api-version` query value (exact match, as ARM sends it).
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == value)
    }

    /// What this version knows.
    pub fn features(self) -> Features {
        let v2021 = Features {
            system_data: true,
            disk_encryption: true,
            software_defined_network: true,
            list_admin_credentials: true,
            ..BASE
        };
        let v2022 = Features {
            software_defined_network: false,
            fips: true,
            ..v2021
        };
        let v2022_09 = Features {
            openshift_versions: true,
            ..v2022
        };
        let v2023_04 = Features {
            outbound_type: true,
            ..v2022_09
        };
        let v2023_09 = Features {
            preconfigured_nsg: true,
            worker_profiles_status: true,
            ..v2023_04
        };
        let v2023_11 = Features {
            load_balancer: LoadBalancerShape::Managed,
            ..v2023_09
        };
        let v2024 = Features {
            workload_identity: true,
            canceled_state: true,
            openshift_version_get: true,
            role_sets: true,
            ..v2023_11
        };
        match self {
            Self::V2020_04_30 => BASE,
            Self::V2021_09_01Preview => v2021,
            Self::V2022_04_01 => v2022,
            Self::V2022_09_04 => v2022_09,
            Self::V2023_04_01 => v2023_04,
            Self::V2023_07_01Preview => Features {
                load_balancer: LoadBalancerShape::Full,
                ..v2023_04
            },
            Self::V2023_09_04 => v2023_09,
            Self::V2023_11_22 => v2023_11,
            Self::V2024_08_12Preview | Self::V2025_07_25 => v2024,
        }
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The serde types of one API version's cluster resource.
pub trait VersionTypes {
    /// `OpenShiftCluster` (PUT body and every response).
    type Cluster: Serialize + DeserializeOwned + schemars::JsonSchema;
    /// `OpenShiftClusterUpdate` (PATCH body).
    type ClusterUpdate: Serialize + DeserializeOwned + schemars::JsonSchema;
}

/// Run `$body` with `$T` bound to the `Types` of `$version`'s module.
#[macro_export]
#[doc(hidden)]
macro_rules! with_version_types {
    ($version:expr, $T:ident => $body:expr) => {{
        use $crate::api::ApiVersion as V;
        match $version {
            V::V2020_04_30 => {
                type $T = $crate::api::v2020_04_30::Types;
                $body
            }
            V::V2021_09_01Preview => {
                type $T = $crate::api::v2021_09_01_preview::Types;
                $body
            }
            V::V2022_04_01 => {
                type $T = $crate::api::v2022_04_01::Types;
                $body
            }
            V::V2022_09_04 => {
                type $T = $crate::api::v2022_09_04::Types;
                $body
            }
            V::V2023_04_01 => {
                type $T = $crate::api::v2023_04_01::Types;
                $body
            }
            V::V2023_07_01Preview => {
                type $T = $crate::api::v2023_07_01_preview::Types;
                $body
            }
            V::V2023_09_04 => {
                type $T = $crate::api::v2023_09_04::Types;
                $body
            }
            V::V2023_11_22 => {
                type $T = $crate::api::v2023_11_22::Types;
                $body
            }
            V::V2024_08_12Preview => {
                type $T = $crate::api::v2024_08_12_preview::Types;
                $body
            }
            V::V2025_07_25 => {
                type $T = $crate::api::v2025_07_25::Types;
                $body
            }
        }
    }};
}

/// Reshape a JSON value through type `T`: parse it as `T` (type errors surface) and serialize it
/// back, which drops every field `T` does not define.
pub fn reshape<T: Serialize + DeserializeOwned>(
    value: serde_json::Value,
) -> Result<serde_json::Value, serde_json::Error> {
    let typed: T = serde_json::from_value(value)?;
    serde_json::to_value(typed)
}

/// Parse a PUT body of `version` into the version-neutral model.
pub fn parse_cluster(
    version: ApiVersion,
    body: &[u8],
) -> Result<external::Cluster, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    // serde accepts a JSON array for a struct (fields by position); a resource body is an object.
    if !value.is_object() {
        return Err(serde::de::Error::custom("expected a JSON object"));
    }
    let shaped = with_version_types!(version, T => reshape::<<T as VersionTypes>::Cluster>(value))?;
    serde_json::from_value(shaped)
}

/// Parse a PATCH body of `version` as a JSON value, checked against that version's update type.
pub fn parse_cluster_update(
    version: ApiVersion,
    body: &[u8],
) -> Result<serde_json::Value, serde_json::Error> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    if !value.is_object() {
        return Err(serde::de::Error::custom("expected a JSON object"));
    }
    with_version_types!(version, T => reshape::<<T as VersionTypes>::ClusterUpdate>(value.clone()))?;
    Ok(value)
}

/// Render the version-neutral model as `version`'s `OpenShiftCluster` JSON.
pub fn render_cluster(version: ApiVersion, cluster: &external::Cluster) -> serde_json::Value {
    let value = serde_json::to_value(cluster).unwrap_or(serde_json::Value::Null);
    // Every field of the neutral model has the same JSON type in every version, so reshaping
    // cannot fail; fall back to the neutral JSON if it ever did.
    with_version_types!(version, T => reshape::<<T as VersionTypes>::Cluster>(value.clone()))
        .unwrap_or(value)
}
