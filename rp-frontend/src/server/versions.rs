//! The installable OpenShift versions (`GET locations/{l}/openShiftVersions[/{version}]`): the
//! enabled ones of the RP's OpenShiftVersion records.

use axum::http::StatusCode;
use axum::response::Response;
use crds::management::OpenShiftVersionSpec;
use serde_json::json;

use super::clusters::{READ_STATES, require_subscription};
use super::{AppState, Ctx, endpoint_not_in_version, json_response, management};
use crate::api::common::openshift_version_resource;
use crate::error::{Error, Result};

/// GET locations/{l}/openShiftVersions[/{v}].
pub async fn get(state: &AppState, ctx: &Ctx, sub: &str, one: Option<&str>) -> Result<Response> {
    let version = ctx.api_version()?;
    let f = version.features();
    if !f.openshift_versions || (one.is_some() && !f.openshift_version_get) {
        return Err(endpoint_not_in_version(version));
    }
    require_subscription(state, sub, READ_STATES).await?;
    let mut enabled: Vec<OpenShiftVersionSpec> = management::openshift_versions(&state.client)
        .await?
        .into_iter()
        .filter(|v| v.enabled)
        .collect();
    enabled.sort_by(|a, b| a.version.cmp(&b.version));
    let location = &state.config.location;
    match one {
        None => {
            let value: Vec<_> = enabled
                .iter()
                .map(|v| openshift_version_resource(sub, location, v))
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        Some(wanted) => {
            let v = enabled
                .iter()
                .find(|v| v.version == *wanted)
                .ok_or_else(|| {
                    Error::arm_target(
                        StatusCode::BAD_REQUEST,
                        "ResourceNotFound",
                        "openShiftVersion",
                        format!("The requested OpenShift version '{wanted}' is not available."),
                    )
                })?;
            Ok(json_response(
                StatusCode::OK,
                &openshift_version_resource(sub, location, v),
            ))
        }
    }
}
