//! PATCH semantics: JSON merge patch, JSON patch, strategic merge patch (built-in kinds) and
//! server-side apply, on the main resource and its status and scale subresources. The patch is
//! applied to the stored object, and the result is written like an update (admission, metadata
//! rules, resourceVersion precondition, managed fields), retried on conflicts.

use devcluster_patch::{self as patch, FieldManager, PatchError};
use serde_json::{Value, json};

use super::managed_fields::{ignored_fields, kind_key, list_info};
use super::{Outcome, Rest, WriteOptions, storage_error};
use crate::error::{ApiError, Cause};
use crate::registry::ResourceType;
use crate::storage::WriteError;

/// The kind of patch, named by the request's `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json`
    Merge,
    /// `application/json-patch+json`
    Json,
    /// `application/strategic-merge-patch+json` (built-in kinds only)
    Strategic,
    /// `application/apply-patch+yaml`: server-side apply
    Apply,
}

/// A decoded PATCH.
#[derive(Debug)]
pub struct PatchRequest {
    pub patch_type: PatchType,
    pub document: Value,
    /// Server-side apply takes over the conflicting fields.
    pub force: bool,
}

/// The patch type of a `Content-Type` (its media type, lower case) for this kind, or the 415
/// kube-apiserver answers (unknown type; strategic merge patch of a custom resource).
pub fn check_patch_type(
    rt: &ResourceType,
    name: &str,
    content_type: &str,
) -> Result<PatchType, ApiError> {
    patch::check_patch_type(&kind_key(rt), content_type).map_err(|e| patch_error(e, rt, name))?;
    Ok(match content_type {
        patch::MERGE_PATCH => PatchType::Merge,
        patch::JSON_PATCH => PatchType::Json,
        patch::STRATEGIC_MERGE_PATCH => PatchType::Strategic,
        _ => PatchType::Apply,
    })
}

/// Map a patch error onto a Status.
fn patch_error(e: PatchError, rt: &ResourceType, name: &str) -> ApiError {
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

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl Rest {
    /// PATCH an object (or its status or scale); server-side apply of a missing object creates it.
    pub async fn patch(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        request: PatchRequest,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        let out = self
            .patch_object(rt, namespace, name, subresource, &request, opts)
            .await?;
        self.after_write(rt, &out, opts);
        Ok(out)
    }

    async fn patch_object(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        subresource: Option<&str>,
        request: &PatchRequest,
        opts: &WriteOptions,
    ) -> Result<Outcome, ApiError> {
        let ns = if rt.namespaced { namespace } else { "" };
        let is_apply = request.patch_type == PatchType::Apply;
        let force = request.force;
        let document = &request.document;
        for _ in 0..16 {
            let current = match self.read(rt, ns, name) {
                Ok(c) => Some(c),
                Err(e) if e.code == 404 && is_apply && subresource.is_none() => None,
                Err(e) => return Err(e),
            };
            let Some(current) = current else {
                // Server-side apply of a missing object creates it.
                let mut applied = document.clone();
                ensure_object_identity(rt, ns, name, &mut applied)?;
                let created =
                    apply_sync(rt, None, &applied, force, &opts.field_manager, subresource)?;
                let mut out = self.create_object(rt, ns, created, opts, true).await?;
                out.code = 201;
                return Ok(out);
            };
            let old = Self::for_version(rt, current.value());
            let base = if subresource == Some("scale") {
                Self::scale_of(rt, &old)?
            } else {
                old.clone()
            };
            let mut patched = base.clone();
            let result = match request.patch_type {
                PatchType::Merge => patch::merge_patch(&mut patched, document),
                PatchType::Json => patch::json_patch(&mut patched, document),
                PatchType::Strategic => {
                    patch::strategic_merge_patch(&base, document, &kind_key(rt))
                        .map(|v| patched = v)
                }
                PatchType::Apply => {
                    let mut applied = document.clone();
                    ensure_object_identity(rt, ns, name, &mut applied)?;
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
                return Err(storage_error(
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
                return self
                    .update_object(rt, ns, name, Some("scale"), patched, &scale_opts)
                    .await;
            }
            let warnings = self.admit(rt, ns, &mut patched, opts)?;
            let managed = if is_apply {
                patched["metadata"]["managedFields"].clone()
            } else {
                Value::Null
            };
            let mut new = self.merge_update(rt, &old, patched, subresource, opts)?;
            if is_apply {
                new["metadata"]["managedFields"] = managed;
            }
            match self.commit_update(rt, ns, name, &current, new, opts).await {
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

/// Fill in apiVersion, kind and name of a server-side apply body from the URL, rejecting
/// mismatches like apiserver.
fn ensure_object_identity(
    rt: &ResourceType,
    namespace: &str,
    name: &str,
    obj: &mut Value,
) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the request body must be a JSON or YAML object",
        ));
    }
    match obj["metadata"]["name"].as_str() {
        Some(n) if n != name => {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        _ => obj["metadata"]["name"] = json!(name),
    }
    if rt.namespaced {
        match obj["metadata"]["namespace"].as_str() {
            Some(n) if n != namespace => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => obj["metadata"]["namespace"] = json!(namespace),
        }
    }
    if obj.get("apiVersion").is_none() || obj.get("kind").is_none() {
        return Err(ApiError::bad_request(
            "Object 'Kind' is missing in request body; apiVersion and kind are required for apply",
        ));
    }
    Ok(())
}
