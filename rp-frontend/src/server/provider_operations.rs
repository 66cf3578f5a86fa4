//! The RP's operations list (`GET /providers/Microsoft.RedHatOpenShift/operations`): what ARM
//! shows as the actions of the provider. Not the async operations of a cluster (those are in
//! [`super::clusters`]).
//!
//! The names, resources and display texts are ARO-RP's (pkg/api's `AllOperations`), in its order,
//! except `openShiftClusters/detectors/read`: this RP serves no detectors, so it does not
//! advertise them.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{NAMESPACE, json_response};
use crate::error::Result;

/// Each operation as (name under the namespace, display resource, display operation).
pub const OPERATIONS: &[(&str, &str, &str)] = &[
    (
        "locations/operationresults/read",
        "locations/operationresults",
        "Read operation results",
    ),
    (
        "locations/operationsstatus/read",
        "locations/operationsstatus",
        "Read operations status",
    ),
    ("operations/read", "operations", "Read operations"),
    (
        "openShiftClusters/read",
        "openShiftClusters",
        "Read OpenShift cluster",
    ),
    (
        "openShiftClusters/write",
        "openShiftClusters",
        "Write OpenShift cluster",
    ),
    (
        "openShiftClusters/delete",
        "openShiftClusters",
        "Delete OpenShift cluster",
    ),
    (
        "openShiftClusters/listCredentials/action",
        "openShiftClusters",
        "List credentials of an OpenShift cluster",
    ),
    (
        "openShiftClusters/listAdminCredentials/action",
        "openShiftClusters",
        "List Admin Kubeconfig of an OpenShift cluster",
    ),
    (
        "locations/listPlatformWorkloadIdentityRoleSets/read",
        "listPlatformWorkloadIdentityRoleSets",
        "Lists all PlatformWorkloadIdentityRoleSets available in the specified location",
    ),
    (
        "locations/openshiftVersions/read",
        "openshiftVersions",
        "Lists all OpenShift versions available to install in the specified location",
    ),
];

/// The list's body.
pub fn body() -> Value {
    let value: Vec<Value> = OPERATIONS
        .iter()
        .map(|(name, resource, operation)| {
            json!({
                "name": format!("{NAMESPACE}/{name}"),
                "display": {"provider": "Azure Red Hat OpenShift", "resource": resource, "operation": operation},
                "origin": "user,system",
            })
        })
        .collect();
    json!({ "value": value })
}

/// GET /providers/Microsoft.RedHatOpenShift/operations.
pub fn list() -> Result<Response> {
    Ok(json_response(StatusCode::OK, &body()))
}
