//! The platform workload identity role sets (`GET
//! locations/{l}/platformWorkloadIdentityRoleSets[/{minor}]`): the roles each OpenShift minor
//! version's operators need, from the RP's PlatformWorkloadIdentityRoleSet records.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::clusters::{READ_STATES, require_subscription};
use super::{AppState, Ctx, endpoint_not_in_version, json_response, management};
use crate::api::common::role_set_resource;
use crate::error::{Error, Result};

/// GET locations/{l}/platformWorkloadIdentityRoleSets[/{minor}].
pub async fn get(state: &AppState, ctx: &Ctx, sub: &str, one: Option<&str>) -> Result<Response> {
    let version = ctx.api_version()?;
    if !version.features().role_sets {
        return Err(endpoint_not_in_version(version));
    }
    require_subscription(state, sub, READ_STATES).await?;
    let sets = management::role_sets(&state.client).await?;
    let location = &state.config.location;
    match one {
        None => {
            let value: Vec<_> = sets
                .iter()
                .map(|s| role_set_resource(sub, location, s))
                .collect();
            Ok(json_response(StatusCode::OK, &json!({ "value": value })))
        }
        Some(minor) => {
            let s = sets.iter().find(|s| s.open_shift_version == *minor).ok_or_else(|| {
                Error::arm_target(StatusCode::BAD_REQUEST, "ResourceNotFound", "openShiftMinorVersion",
                    format!("The requested role set for OpenShift version '{minor}' is not available."))
            })?;
            Ok(json_response(
                StatusCode::OK,
                &role_set_resource(sub, location, s),
            ))
        }
    }
}
