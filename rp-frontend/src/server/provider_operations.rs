//! The RP's operations list (`GET /providers/Microsoft.RedHatOpenShift/operations`): what ARM
//! shows as the actions of the provider. Not the async operations of a cluster (those are in
//! [`super::clusters`]).

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{NAMESPACE, json_response};
use crate::error::Result;

/// GET /providers/Microsoft.RedHatOpenShift/operations.
pub fn list() -> Result<Response> {
    let op = |name: &str, resource: &str, operation: &str, description: &str| {
        json!({
            "name": format!("{NAMESPACE}/{name}"),
            "display": {"provider": "Azure Red Hat OpenShift", "resource": resource, "operation": operation, "description": description},
            "origin": "user,system",
        })
    };
    let value = vec![
        op(
            "openShiftClusters/read",
            "openShiftClusters",
            "Read OpenShift cluster",
            "Reads an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/write",
            "openShiftClusters",
            "Write OpenShift cluster",
            "Creates or updates an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/delete",
            "openShiftClusters",
            "Delete OpenShift cluster",
            "Deletes an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/listCredentials/action",
            "openShiftClusters",
            "List credentials of an OpenShift cluster",
            "Lists credentials of an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/listAdminCredentials/action",
            "openShiftClusters",
            "List Admin Kubeconfig of an OpenShift cluster",
            "Lists the admin kubeconfig of an OpenShift cluster.",
        ),
        op(
            "openShiftClusters/detectors/read",
            "openShiftClusters",
            "Get OpenShift Cluster Detector",
            "Gets the detectors of an OpenShift cluster.",
        ),
        op(
            "operations/read",
            "operations",
            "Read operations",
            "Lists operations available on the Microsoft.RedHatOpenShift resource provider.",
        ),
        op(
            "locations/operationresults/read",
            "locations/operationresults",
            "Read operation results",
            "Reads operation results.",
        ),
        op(
            "locations/operationsstatus/read",
            "locations/operationsstatus",
            "Read operations status",
            "Reads operations status.",
        ),
        op(
            "locations/openShiftVersions/read",
            "locations/openShiftVersions",
            "Lists OpenShift versions",
            "Lists the installable OpenShift versions.",
        ),
        op(
            "locations/platformWorkloadIdentityRoleSets/read",
            "locations/platformWorkloadIdentityRoleSets",
            "Lists role sets",
            "Lists the platform workload identity role sets.",
        ),
        op(
            "register/action",
            "register",
            "Register",
            "Registers the subscription with the resource provider.",
        ),
    ];
    Ok(json_response(StatusCode::OK, &json!({ "value": value })))
}
