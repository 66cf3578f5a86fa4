//! ARM's deployment preflight (`POST deployments/{d}/preflight`): every cluster in a template is
//! checked before ARM deploys it. A cluster that does not exist yet is checked as a create
//! (static validation, then the create-time checks in Azure of [`super::create_checks`]); one
//! that exists as an update (static validation against the stored cluster and immutability,
//! which is all an update checks).

use axum::http::StatusCode;
use axum::response::Response;
use crds::management::OpenShiftClusterSpec;
use crds::management::naming;
use serde_json::{Value, json};

use super::{AppState, Ctx, NAMESPACE, create_checks, json_response, management};
use crate::api::convert::{RESOURCE_TYPE, apply};
use crate::api::validate::{ValidationContext, to_arm_error, validate};
use crate::api::{ApiVersion, immutability};
use crate::error::Result;

/// POST deployments/{d}/preflight: always 200 with Succeeded or Failed (the first failing
/// resource's error); a failure reading the management cluster is the request's own error.
pub async fn check(state: &AppState, ctx: &Ctx) -> Result<Response> {
    let body: Value = ctx.json()?;
    let resources = body["resources"].as_array().cloned().unwrap_or_default();
    for resource in resources {
        let type_ = resource["type"].as_str().unwrap_or_default();
        if !type_.eq_ignore_ascii_case(RESOURCE_TYPE) {
            continue;
        }
        if let Some(error) = check_resource(state, ctx, &resource).await? {
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

/// The error body of one ARO resource of the template, `None` when it passes.
async fn check_resource(state: &AppState, ctx: &Ctx, resource: &Value) -> Result<Option<Value>> {
    let Some(version) = resource["apiVersion"].as_str().and_then(ApiVersion::parse) else {
        return Ok(Some(failed(
            "InvalidResourceType",
            "The api version of the resource is not supported.",
        )));
    };
    let name = resource["name"].as_str().unwrap_or_default();
    let mut doc = match crate::api::parse_cluster(version, resource.to_string().as_bytes()) {
        Ok(doc) => doc,
        Err(e) => return Ok(Some(failed("InvalidRequestContent", &e.to_string()))),
    };
    doc.id = None;
    doc.type_ = None;
    let subscription = &ctx.lower[1];
    let resource_group = &ctx.segments[3];
    let id = format!(
        "/subscriptions/{}/resourceGroups/{resource_group}/providers/{NAMESPACE}/openShiftClusters/{name}",
        ctx.segments[1]
    );
    let existing = if super::valid_group_name(name) {
        management::clusters(&state.client, subscription)
            .get_opt(&naming::cluster_object_name(resource_group, name))
            .await?
    } else {
        None
    };
    let features = version.features();
    let old_spec = existing.map(|c| c.spec);
    let mut spec = old_spec.clone().unwrap_or_default();
    let _secrets = apply(&doc, &features, &mut spec);
    let vctx = ValidationContext {
        features,
        resource_id: &id,
        subscription_id: subscription,
        resource_group,
        resource_name: name,
        location: &state.config.location,
        is_create: old_spec.is_none(),
        parent_domain: state.config.parent_domain.as_deref(),
        architecture_version: if old_spec.is_some() {
            spec.architecture_version
        } else {
            2
        },
        require_d2s_workers: state.config.require_d2s_workers,
    };
    let mut errors = validate(&doc, &vctx);
    if let Some(old) = &old_spec
        && let Some(e) = immutability::check(old, &spec, &features)
    {
        errors.push(e);
    }
    if let Some(error) = to_arm_error(errors) {
        return Ok(Some(serde_json::to_value(error)?));
    }
    if old_spec.is_none() {
        return Ok(create_time_error(state, subscription, &spec).await);
    }
    Ok(None)
}

/// The create-time checks' verdict as a preflight error body.
async fn create_time_error(
    state: &AppState,
    subscription: &str,
    spec: &OpenShiftClusterSpec,
) -> Option<Value> {
    let demand = create_checks::Demand::of(spec, &state.config.location);
    match create_checks::validate_new_cluster(state.config.azure.as_ref(), subscription, &demand)
        .await
    {
        Ok(()) => None,
        Err(e) => {
            let (status, error) = e.to_status_and_body();
            if status.is_server_error() {
                tracing::error!(error = %e, "preflight: create-time checks failed");
            }
            serde_json::to_value(error).ok()
        }
    }
}

fn failed(code: &str, message: &str) -> Value {
    json!({"code": code, "message": message})
}
