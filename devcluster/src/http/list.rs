//! LIST: selectors, `limit` and `continue`, `resourceVersion` and `resourceVersionMatch`, and the
//! object, Table and PartialObjectMetadata forms of the list; DELETE of a collection, which
//! answers with a list.

use std::sync::Arc;

use axum::body::Bytes;
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::query::{Query, matches, selectors};
use super::{Form, Server, Target, bytes_response, json_response, partial_metadata, table};
use crate::error::ApiError;
use crate::registry::ResourceType;
use crate::rest::{DeleteOptions, Rest};
use crate::storage::Stored;

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    start: String,
}

pub(super) fn list(
    server: &Arc<Server>,
    t: &Target,
    query: &Query,
    form: Form,
) -> Result<Response, ApiError> {
    let rest = &server.rest;
    let rt = &t.rt;
    let (label, field) = selectors(rt, query)?;
    let limit = match query.get("limit") {
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return Err(ApiError::bad_request(format!("invalid limit {l:?}"))),
        },
        None => None,
    };
    let start = match query.get("continue") {
        Some(token) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token)
                .ok()
                .and_then(|b| serde_json::from_slice::<ContinueToken>(&b).ok())
                .ok_or_else(|| ApiError::bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
            if query.get("resourceVersion").is_some() {
                return Err(ApiError::bad_request(
                    "specifying resource version is not allowed when using continue",
                ));
            }
            Some(raw)
        }
        None => None,
    };
    check_list_rv(rest, query)?;
    let prefix = rt.list_prefix(t.namespace.as_deref());
    // metadata.name pins a single key: skip the scan.
    let (items, rev, more) = match (field.pinned_name(), t.namespace.as_deref()) {
        (Some(name), ns) if rt.namespaced == ns.is_some() => {
            let key = rt.key(ns.unwrap_or_default(), name);
            let items: Vec<_> = rest
                .store
                .get(&key)
                .into_iter()
                .filter(|s| matches(s, &label, &field))
                .collect();
            (items, rest.store.revision(), false)
        }
        _ => rest.store.list(
            &prefix,
            start.as_ref().map(|s| s.start.as_str()),
            |s| matches(s, &label, &field),
            limit,
        ),
    };
    let list_rev = start.as_ref().map(|s| s.rv).unwrap_or(rev);
    let mut meta = json!({"resourceVersion": list_rev.to_string()});
    if more && let Some(last) = items.last() {
        let token = serde_json::to_vec(&ContinueToken {
            rv: list_rev,
            start: last.key.clone(),
        })
        .unwrap_or_default();
        meta["continue"] = json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token));
    }
    match form {
        Form::Table => {
            let objects: Vec<Value> = items
                .iter()
                .map(|s| Rest::for_version(rt, s.value()))
                .collect();
            let include = query.get("includeObject").unwrap_or("Metadata");
            let mut table = table::table(rt, &objects, include);
            table["metadata"] = meta;
            Ok(json_response(200, &table))
        }
        Form::PartialMetadata => {
            let objects: Vec<Value> = items.iter().map(|s| partial_metadata(&s.value())).collect();
            Ok(json_response(
                200,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta, "items": objects}),
            ))
        }
        Form::Object => Ok(bytes_response(200, object_list(rt, &items, &meta))),
    }
}

/// A list of stored objects as JSON, spliced from their stored JSON (no per-object parse for
/// the common case).
fn object_list(rt: &ResourceType, items: &[Arc<Stored>], meta: &Value) -> Bytes {
    let expected = format!("{{\"apiVersion\":\"{}\",", rt.api_version());
    let mut out = Vec::with_capacity(items.iter().map(|s| s.raw.len() + 1).sum::<usize>() + 256);
    out.extend_from_slice(b"{\"apiVersion\":");
    out.extend_from_slice(
        serde_json::to_string(&rt.api_version())
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b",\"items\":[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if s.raw.starts_with(expected.as_bytes()) {
            out.extend_from_slice(&s.raw);
        } else {
            out.extend_from_slice(
                &serde_json::to_vec(&Rest::for_version(rt, s.value())).unwrap_or_default(),
            );
        }
    }
    out.extend_from_slice(b"],\"kind\":");
    out.extend_from_slice(
        serde_json::to_string(&rt.list_kind)
            .unwrap_or_default()
            .as_bytes(),
    );
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(&serde_json::to_vec(meta).unwrap_or_default());
    out.push(b'}');
    Bytes::from(out)
}

/// DELETE on a collection: every object matching the selectors is deleted as by its own DELETE,
/// and the answer lists them. The list is spliced from the stored JSON rather than built as one
/// JSON value, which for tens of thousands of objects would cost several times their size.
pub(super) async fn delete_collection(
    server: &Arc<Server>,
    t: &Target,
    query: &Query,
    opts: &DeleteOptions,
) -> Result<Response, ApiError> {
    let rest = &server.rest;
    let rt = &t.rt;
    let (label, field) = selectors(rt, query)?;
    let prefix = rt.list_prefix(t.namespace.as_deref());
    let (items, _, _) = rest
        .store
        .list(&prefix, None, |s| matches(s, &label, &field), None);
    let mut deleted = Vec::with_capacity(items.len());
    for item in items {
        match rest.delete(rt, &item.namespace, &item.name, opts).await {
            Ok(_) => deleted.push(item),
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let meta = json!({"resourceVersion": rest.store.revision().to_string()});
    Ok(bytes_response(200, object_list(rt, &deleted, &meta)))
}

fn check_list_rv(rest: &Rest, query: &Query) -> Result<(), ApiError> {
    let Some(rv) = query.get("resourceVersion") else {
        if query.get("resourceVersionMatch").is_some() {
            return Err(ApiError::bad_request(
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        return Ok(());
    };
    let n: u64 = rv
        .parse()
        .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?;
    let current = rest.store.revision();
    match query.get("resourceVersionMatch") {
        Some("Exact") if n != current => Err(ApiError::gone(format!(
            "too old resource version: {n} ({current})"
        ))),
        Some("NotOlderThan") | None if n > current => {
            let mut e = ApiError::new(
                504,
                "Timeout",
                format!("Too large resource version: {n}, current: {current}"),
            );
            e.retry_after_seconds = Some(1);
            Err(e)
        }
        Some("Exact") | Some("NotOlderThan") | None => Ok(()),
        Some(other) => Err(ApiError::bad_request(format!(
            "unknown resourceVersionMatch {other:?}"
        ))),
    }
}
