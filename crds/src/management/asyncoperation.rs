//! `AsyncOperation`: the record behind ARM's `operationsstatus` and `operationresults` endpoints.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::openshiftcluster::ProvisioningState;
use crate::common::ArmError;

/// One accepted PUT, PATCH or DELETE of a cluster. The frontend creates it; the controller completes
/// it when the cluster reaches a terminal state. Records expire 7 days after they end.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "rp.aro.openshift.io",
    version = "v1",
    kind = "AsyncOperation",
    plural = "asyncoperations",
    singular = "asyncoperation",
    namespaced,
    status = "AsyncOperationStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "asyncop",
    category = "aro",
    doc = "An ARM asynchronous operation on an OpenShiftCluster.",
    printcolumn = r#"{"name":"Cluster","type":"string","jsonPath":".spec.clusterName"}"#,
    printcolumn = r#"{"name":"Initial","type":"string","description":"Provisioning state the operation started","jsonPath":".spec.initialStatus"}"#,
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.status"}"#,
    printcolumn = r#"{"name":"Error","type":"string","priority":1,"jsonPath":".status.error.code"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AsyncOperationSpec {
    /// Operation id (a UUID; also the object name).
    pub operation_id: String,
    /// ARM id of the cluster the operation acts on (original case).
    pub resource_id: String,
    /// Kubernetes name of the OpenShiftCluster object in the same namespace.
    pub cluster_name: String,
    /// Subscription id (lowercase).
    pub subscription_id: String,
    /// Region of the operation (part of its polling URLs).
    pub location: String,
    /// Provisioning state the operation put the cluster in: Creating, Updating, AdminUpdating or
    /// Deleting.
    pub initial_status: ProvisioningState,
    /// When the frontend accepted the request (RFC 3339).
    pub start_time: String,
    /// Tenant id of the caller; operation results are shown only to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

/// Outcome of an async operation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AsyncOperationStatus {
    /// Final ARM status (Succeeded, Failed or Canceled); absent while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ProvisioningState>,
    /// When the operation ended (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Progress estimate 0..100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent_complete: Option<i32>,
    /// Customer-facing error when Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ArmError>,
    /// Whether the cluster was deleted (operationresults then answers 204).
    #[serde(default)]
    pub resource_deleted: bool,
}
