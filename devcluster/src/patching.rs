//! PATCH requests: JSON merge patch, JSON patch, strategic merge patch (built-in kinds) and
//! server-side apply, on the main resource and its status and scale subresources.

use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::api::{Api, Outcome, WriteOptions};
use crate::error::{ApiError, Cause};
use crate::http::{Query, Target};
use crate::patch::{self, FieldManager, FieldPath, KindKey, PatchError};
use crate::registry::ResourceType;
use crate::store::WriteError;

/// Map a patch error onto a Status.
pub fn patch_error(e: PatchError, rt: &ResourceType, name: &str) -> ApiError {
    let causes: Vec<Cause> = e
        .causes()
        .into_iter()
        .map(|c| Cause::new(c.reason, c.field, c.message))
        .collect();
    let mut err = ApiError::new(e.code(), e.reason(), e.status_message()).with_causes(causes);
    if e.code() == 409 || e.code() == 422 {
        err = err.with_details(&rt.group, &rt.plural, name);
        err.causes = e
            .causes()
            .into_iter()
            .map(|c| Cause::new(c.reason, c.field, c.message))
            .collect();
    }
    err
}

fn kind_key(rt: &ResourceType) -> KindKey {
    KindKey::new(&rt.group, &rt.version, &rt.kind)
}

/// Paths whose ownership the endpoint does not track (reset by the endpoint).
pub fn ignored_fields(rt: &ResourceType, subresource: Option<&str>) -> Vec<FieldPath> {
    match subresource {
        Some("status") => ["spec", "metadata", "data", "rules", "subsets", "webhooks"]
            .iter()
            .map(|f| FieldPath::fields(&[f]))
            .collect(),
        None if rt.status_subresource => vec![FieldPath::fields(&["status"])],
        _ => Vec::new(),
    }
}

/// The schema of a kind for server-side apply.
pub fn list_info(rt: &ResourceType) -> Box<dyn patch::ListTypeInfo> {
    if let Some(info) = patch::builtin_list_type_info(&kind_key(rt)) {
        return Box::new(info);
    }
    match rt.crd.as_ref().and_then(|c| c.schema.clone()) {
        Some(schema) => Box::new(patch::CustomResourceListTypeInfo::new(
            &serde_json::to_value(&schema).unwrap_or_default(),
        )),
        None => Box::new(patch::UntypedListTypeInfo),
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Handle a PATCH request.
pub async fn patch(
    api: &Api,
    t: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
    opts: &WriteOptions,
) -> Result<Outcome, ApiError> {
    let rt = &t.rt;
    let name = t.name.as_deref().unwrap_or_default();
    let ns = if rt.namespaced {
        t.namespace.as_deref().unwrap_or_default()
    } else {
        ""
    };
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
    patch::check_patch_type(&kind_key(rt), &content_type).map_err(|e| patch_error(e, rt, name))?;
    let is_apply = content_type == patch::APPLY_PATCH;
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
    let subresource = t.sub.as_deref();
    for _ in 0..16 {
        let current = match api.read(rt, ns, name) {
            Ok(c) => Some(c),
            Err(e) if e.code == 404 && is_apply && subresource.is_none() => None,
            Err(e) => return Err(e),
        };
        let Some(current) = current else {
            // Server-side apply of a missing object creates it.
            let mut applied = document.clone();
            crate::http::ensure_object_identity(rt, ns, name, &mut applied)?;
            let created = apply_sync(rt, None, &applied, force, &opts.field_manager, subresource)?;
            let mut out = api
                .create_with_managed_fields(rt, ns, created, opts)
                .await?;
            out.code = 201;
            return Ok(out);
        };
        let old = Api::for_version(rt, current.value());
        let base = if subresource == Some("scale") {
            Api::scale_of(rt, &old)?
        } else {
            old.clone()
        };
        let mut patched = base.clone();
        let result = match content_type.as_str() {
            patch::MERGE_PATCH => patch::merge_patch(&mut patched, &document),
            patch::JSON_PATCH => patch::json_patch(&mut patched, &document),
            patch::STRATEGIC_MERGE_PATCH => {
                patch::strategic_merge_patch(&base, &document, &kind_key(rt)).map(|v| patched = v)
            }
            _ => {
                let mut applied = document.clone();
                crate::http::ensure_object_identity(rt, ns, name, &mut applied)?;
                patched = apply_sync(
                    rt,
                    Some(&base),
                    &applied,
                    force,
                    &opts.field_manager,
                    subresource,
                )?;
                Ok(())
            }
        };
        result.map_err(|e| patch_error(e, rt, name))?;
        // A resourceVersion in the patch is a precondition.
        let patched_rv = patched["metadata"]["resourceVersion"]
            .as_str()
            .map(str::to_string);
        let client_rv = patched_rv.filter(|rv| *rv != current.rev.to_string());
        if client_rv.is_some() {
            return Err(crate::api::storage_error(
                WriteError::Conflict {
                    current: current.rev,
                },
                rt,
                name,
            ));
        }
        if subresource == Some("scale") {
            let mut scale_opts = opts.clone();
            scale_opts.field_manager = opts.field_manager.clone();
            return api
                .update(rt, ns, name, Some("scale"), patched, &scale_opts)
                .await;
        }
        let warnings = api.admit(rt, ns, &mut patched, opts)?;
        let managed = if is_apply {
            patched["metadata"]["managedFields"].clone()
        } else {
            Value::Null
        };
        let mut new = api.merge_update(rt, &old, patched, subresource, opts)?;
        if is_apply {
            new["metadata"]["managedFields"] = managed;
        }
        match api.commit_update(rt, ns, name, &current, new, opts).await {
            Err(ApiError {
                code: 409,
                reason: "Conflict",
                ..
            }) => continue,
            Err(e) => return Err(e),
            Ok((body, code)) => {
                return Ok(Outcome {
                    body,
                    code,
                    warnings,
                });
            }
        }
    }
    Err(ApiError::conflict(
        &rt.group,
        &rt.plural,
        name,
        "too many concurrent writers; try again",
    ))
}

/// Server-side apply, kept out of async code (the schema view is not `Sync`).
fn apply_sync(
    rt: &ResourceType,
    live: Option<&Value>,
    applied: &Value,
    force: bool,
    manager: &str,
    subresource: Option<&str>,
) -> Result<Value, ApiError> {
    let schema = list_info(rt);
    let time = now();
    let ignored = ignored_fields(rt, subresource);
    let fm = FieldManager {
        manager,
        api_version: &rt.api_version(),
        subresource,
        time: &time,
        schema: schema.as_ref(),
        ignored_fields: &ignored,
    };
    let name = applied["metadata"]["name"].as_str().unwrap_or_default();
    patch::apply(live, applied, force, &fm)
        .map(|o| o.object)
        .map_err(|e| patch_error(e, rt, name))
}
