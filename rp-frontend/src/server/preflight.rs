//! ARM's deployment preflight (`POST deployments/{d}/preflight`): the static checks of every
//! cluster in a template, before ARM deploys it.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{AppState, Ctx, NAMESPACE, json_response};
use crate::api::ApiVersion;
use crate::api::convert::RESOURCE_TYPE;
use crate::error::Result;

/// POST deployments/{d}/preflight: always 200 with Succeeded or Failed; static checks of every
/// ARO resource in the deployment.
pub fn check(state: &AppState, ctx: &Ctx) -> Result<Response> {
    let body: Value = ctx.json()?;
    let resources = body["resources"].as_array().cloned().unwrap_or_default();
    for resource in resources {
        let type_ = resource["type"].as_str().unwrap_or_default();
        if !type_.eq_ignore_ascii_case(RESOURCE_TYPE) {
            continue;
        }
        let Some(version) = resource["apiVersion"].as_str().and_then(ApiVersion::parse) else {
            return Ok(preflight_failed(
                "InvalidResourceType",
                "The api version of the resource is not supported.",
            ));
        };
        let name = resource["name"].as_str().unwrap_or_default();
        let doc = match crate::api::parse_cluster(version, resource.to_string().as_bytes()) {
            Ok(doc) => doc,
            Err(e) => return Ok(preflight_failed("InvalidRequestContent", &e.to_string())),
        };
        let id = format!(
            "/subscriptions/{}/resourceGroups/{}/providers/{NAMESPACE}/openShiftClusters/{name}",
            ctx.segments[1], ctx.segments[3]
        );
        let vctx = crate::api::validate::ValidationContext {
            features: version.features(),
            resource_id: &id,
            subscription_id: &ctx.lower[1],
            resource_group: &ctx.segments[3],
            resource_name: name,
            location: &state.config.location,
            is_create: true,
            parent_domain: state.config.parent_domain.as_deref(),
            architecture_version: 2,
            require_d2s_workers: state.config.require_d2s_workers,
        };
        let mut doc = doc;
        doc.id = None;
        doc.type_ = None;
        if let Some(error) =
            crate::api::validate::to_arm_error(crate::api::validate::validate(&doc, &vctx))
        {
            return Ok(json_response(
                StatusCode::OK,
                &json!({"status": "Failed", "error": error}),
            ));
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"status": "Succeeded"}),
    ))
}

fn preflight_failed(code: &str, message: &str) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"status": "Failed", "error": {"code": code, "message": message}}),
    )
}
