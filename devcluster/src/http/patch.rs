//! The PATCH handler: the patch type from `Content-Type`, the document (JSON, or YAML for
//! server-side apply), `force` and the `fieldManager` apply requires; the patch itself is
//! [`Rest::patch`].

use axum::http::{HeaderMap, header};
use serde_json::Value;

use super::{Query, Target};
use crate::error::ApiError;
use crate::rest::{Outcome, PatchRequest, PatchType, Rest, WriteOptions, check_patch_type};

/// Handle a PATCH request.
pub(super) async fn patch(
    rest: &Rest,
    t: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
    opts: &WriteOptions,
) -> Result<Outcome, ApiError> {
    let rt = &t.rt;
    let name = t.name.as_deref().unwrap_or_default();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        })
        .unwrap_or_default();
    let patch_type = check_patch_type(rt, name, &content_type)?;
    let is_apply = patch_type == PatchType::Apply;
    let document: Value = if is_apply {
        serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?
    };
    let force = match query.get("force") {
        None => false,
        Some("true") => true,
        Some("false") => false,
        Some(other) => return Err(ApiError::bad_request(format!("invalid force {other:?}"))),
    };
    if is_apply && query.get("fieldManager").is_none() {
        return Err(ApiError::bad_request(
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    if !is_apply && force {
        return Err(ApiError::bad_request(
            "force is only allowed for apply patches",
        ));
    }
    let request = PatchRequest {
        patch_type,
        document,
        force,
    };
    rest.patch(rt, t.ns(), name, t.sub.as_deref(), request, opts)
        .await
}
