//! `Cluster` (`aro.openshift.io/v1alpha1`): the in-cluster singleton (named `cluster`) through which
//! the RP tells the ARO operator about its cluster, and through which the operator reports back.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Name of the singleton Cluster object.
pub const SINGLETON_NAME: &str = "cluster";

/// What the ARO operator needs to know about its cluster. Set by the RP at install and refreshed by
/// the SyncClusterObject maintenance task.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "aro.openshift.io",
    version = "v1alpha1",
    kind = "Cluster",
    plural = "clusters",
    singular = "cluster",
    status = "ClusterStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Cluster is the singleton (named `cluster`) configuring the Azure Red Hat OpenShift operator.",
    printcolumn = r#"{"name":"Operator Version","type":"string","jsonPath":".status.operatorVersion"}"#,
    printcolumn = r#"{"name":"Location","type":"string","jsonPath":".spec.location"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterSpec {
    /// ARM id of the cluster.
    #[serde(default, rename = "resourceId")]
    pub resource_id: String,
    /// Cluster domain.
    #[serde(default)]
    pub domain: String,
    /// Domain of the ARO container registry.
    #[serde(default, rename = "acrDomain")]
    pub acr_domain: String,
    /// Azure cloud name, e.g. `AzurePublicCloud`.
    #[serde(default, rename = "azEnvironment")]
    pub az_environment: String,
    /// Azure region.
    #[serde(default)]
    pub location: String,
    /// Infrastructure id (prefix of the cluster's Azure resources).
    #[serde(default, rename = "infraId")]
    pub infra_id: String,
    /// Storage account suffix.
    #[serde(default, rename = "storageSuffix")]
    pub storage_suffix: String,
    /// 1 or 2; see the RP's architecture versions.
    #[serde(default, rename = "architectureVersion")]
    pub architecture_version: i32,
    /// Geneva logging configuration.
    #[serde(default, rename = "genevalogging")]
    pub geneva_logging: GenevaLoggingSpec,
    /// URLs the internet checker probes.
    #[serde(default, rename = "internetChecker")]
    pub internet_checker: InternetCheckerSpec,
    /// ARM id of the cluster's virtual network.
    #[serde(default, rename = "vnetId")]
    pub vnet_id: String,
    /// Internal API server IP (api-int).
    #[serde(default, rename = "apiIntIP")]
    pub api_int_ip: String,
    /// Default ingress controller IP.
    #[serde(default, rename = "ingressIP")]
    pub ingress_ip: String,
    /// Domains reached through the ARO gateway.
    #[serde(
        default,
        rename = "gatewayDomains",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub gateway_domains: Vec<String>,
    /// Gateway telemetry domain.
    #[serde(
        default,
        rename = "gatewayTelemetryDomain",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway_telemetry_domain: String,
    /// Gateway private endpoint IP.
    #[serde(
        default,
        rename = "gatewayPrivateEndpointIP",
        skip_serializing_if = "String::is_empty"
    )]
    pub gateway_private_endpoint_ip: String,
    /// Console banner.
    #[serde(default)]
    pub banner: Banner,
    /// ARM id of the cluster resource group.
    #[serde(default, rename = "clusterResourceGroupId")]
    pub cluster_resource_group_id: String,
    /// Subnets (ARM ids) whose service endpoints the operator manages.
    #[serde(
        default,
        rename = "serviceSubnets",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub service_subnets: Vec<String>,
    /// Feature flags of the operator's controllers; a flag is on only if its value is "true"
    /// (case-insensitive). See `default_operator_flags()`.
    #[serde(default, rename = "operatorflags")]
    pub operator_flags: BTreeMap<String, String>,
}

/// Geneva logging configuration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenevaLoggingSpec {
    /// Geneva configuration version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub config_version: String,
    /// Geneva monitoring GCS account.
    #[serde(
        default,
        rename = "monitoringGCSAccount",
        skip_serializing_if = "String::is_empty"
    )]
    pub monitoring_gcs_account: String,
    /// Geneva monitoring GCS environment.
    #[serde(
        default,
        rename = "monitoringGCSEnvironment",
        skip_serializing_if = "String::is_empty"
    )]
    pub monitoring_gcs_environment: String,
    /// Geneva monitoring GCS namespace.
    #[serde(
        default,
        rename = "monitoringGCSNamespace",
        skip_serializing_if = "String::is_empty"
    )]
    pub monitoring_gcs_namespace: String,
}

/// Internet checker configuration.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct InternetCheckerSpec {
    /// URLs to probe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// Console banner.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Banner {
    /// Empty or `ContactSupport`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content: String,
}

/// What the operator reports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterStatus {
    /// Version of the running operator.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub operator_version: String,
    /// Operator conditions: `<Name>ControllerAvailable/Progressing/Degraded` and the checkers'.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<OperatorCondition>,
    /// Red Hat registries present in the cluster pull secret (subset of registry.redhat.io,
    /// cloud.openshift.com, registry.connect.redhat.com).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub red_hat_keys_present: Vec<String>,
}

/// An OpenShift operator condition (`operator.openshift.io/v1` OperatorCondition).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorCondition {
    /// Condition type, e.g. `PullSecretControllerDegraded`.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: String,
    /// Last time the status changed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Machine-readable reason.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

impl ClusterSpec {
    /// Whether the operator flag `name` is on: present and "true" in any case.
    pub fn flag_enabled(&self, name: &str) -> bool {
        self.operator_flags
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}
