//! The query string of a request and what it selects: write options (`dryRun`,
//! `fieldValidation`, `fieldManager`), delete options (body or query), label and field selectors.

use std::collections::HashMap;

use axum::http::{HeaderMap, header};

use super::decode_body;
use crate::error::{ApiError, Cause};
use crate::registry::ResourceType;
use crate::rest::{DeleteOptions, FieldValidation, Propagation, WriteOptions};
use crate::selectors::{FieldSelector, LabelSelector, builtin_selectable_fields};
use crate::storage::Stored;

/// Parsed query string.
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(q: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(q.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn flag(&self, k: &str) -> bool {
        matches!(
            self.0.get(k).map(String::as_str),
            Some("1" | "true" | "True" | "")
        ) && self.0.contains_key(k)
    }
}

/// The options of a create, update or patch; the field manager defaults to the User-Agent up to
/// its first `/`.
pub(super) fn write_options(query: &Query, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
    let dry_run = match query.get("dryRun") {
        None => false,
        Some("All") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid dry run value: {other}: supported values: \"All\""
            )));
        }
    };
    let field_validation = match query.get("fieldValidation") {
        None | Some("Warn") => FieldValidation::Warn,
        Some("Ignore") => FieldValidation::Ignore,
        Some("Strict") => FieldValidation::Strict,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "fieldValidation parameter unsupported value: {other:?}; supported values: \"Ignore\", \"Warn\", \"Strict\""
            )));
        }
    };
    let field_manager = match query.get("fieldManager") {
        Some(m) => {
            if m.len() > 128 {
                return Err(ApiError::invalid(
                    "",
                    "",
                    "",
                    vec![Cause::new(
                        "FieldValueTooLong",
                        "fieldManager",
                        "Too long: must have at most 128 bytes",
                    )],
                ));
            }
            m.to_string()
        }
        None => headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.split('/').next().unwrap_or(ua).to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".into()),
    };
    Ok(WriteOptions {
        dry_run,
        field_manager,
        field_validation,
        admission: None,
    })
}

/// The options of a delete or deletecollection: the body's `DeleteOptions`, then the query's.
pub(super) fn delete_options(
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DeleteOptions, ApiError> {
    let mut opts = DeleteOptions::default();
    if !body.iter().all(u8::is_ascii_whitespace) {
        let v = decode_body(headers, body)?;
        if let Some(p) = v["propagationPolicy"].as_str() {
            opts.propagation = Some(Propagation::parse(p)?);
        }
        if let Some(o) = v["orphanDependents"].as_bool() {
            opts.propagation.get_or_insert(if o {
                Propagation::Orphan
            } else {
                Propagation::Background
            });
        }
        opts.grace_period_seconds = v["gracePeriodSeconds"].as_i64();
        opts.precondition_uid = v["preconditions"]["uid"].as_str().map(str::to_string);
        opts.precondition_resource_version = v["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_string);
        if let Some(d) = v["dryRun"].as_array() {
            opts.dry_run = d.iter().any(|x| x == "All");
        }
    }
    if let Some(p) = query.get("propagationPolicy") {
        opts.propagation = Some(Propagation::parse(p)?);
    }
    if let Some(g) = query.get("gracePeriodSeconds") {
        opts.grace_period_seconds = Some(
            g.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid gracePeriodSeconds {g:?}")))?,
        );
    }
    if query.get("dryRun") == Some("All") {
        opts.dry_run = true;
    }
    Ok(opts)
}

/// The label and field selectors of a list, watch or deletecollection.
pub fn selectors(
    rt: &ResourceType,
    query: &Query,
) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let label = LabelSelector::parse(query.get("labelSelector").unwrap_or_default())
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let supported: Vec<String> = if rt.crd.is_some() {
        Vec::new()
    } else {
        builtin_selectable_fields(&rt.group, &rt.plural)
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let field = FieldSelector::parse(query.get("fieldSelector").unwrap_or_default(), &supported)
        .map_err(ApiError::bad_request)?;
    Ok((label, field))
}

pub fn matches(s: &Stored, label: &LabelSelector, field: &FieldSelector) -> bool {
    (label.is_empty() || label.matches(&s.labels))
        && (field.is_empty() || field.matches(&s.name, &s.namespace, || s.value()))
}
