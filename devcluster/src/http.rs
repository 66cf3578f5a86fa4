//! HTTP routing: authentication, discovery, resource paths, list and watch, tables, errors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures::FutureExt;
use serde_json::{Value, json};

use crate::api::{Api, DeleteOptions, FieldValidation, Propagation, WriteOptions};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector, builtin_selectable_fields};
use crate::store::{EventType, Stored};

/// Largest accepted request body (kube-apiserver's limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
}

/// What the TLS layer learned about the peer (a verified client certificate).
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity(pub Option<User>);

/// Everything a request handler needs.
pub struct Server {
    pub api: Arc<Api>,
    pub admin_token: aro_common::Secret,
    pub url: String,
    pub metrics: Metrics,
    pub openapi: crate::openapi_cache::OpenApiCache,
    /// Test-only fault injection (see `faults.rs`); inert unless a test pauses a user.
    pub faults: crate::faults::Faults,
}

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

/// Which response form the client asked for in `Accept`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Form {
    Object,
    Table,
    PartialMetadata,
}

fn form_of(headers: &HeaderMap) -> Form {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // The first acceptable media type wins, like content negotiation in apiserver.
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("as=Table") && p.contains("g=meta.k8s.io") {
            return Form::Table;
        }
        if (p.contains("as=PartialObjectMetadataList") || p.contains("as=PartialObjectMetadata"))
            && p.contains("g=meta.k8s.io")
        {
            return Form::PartialMetadata;
        }
        if p.starts_with("application/json")
            || p.starts_with("*/*")
            || p.starts_with("application/yaml")
        {
            return Form::Object;
        }
    }
    Form::Object
}

fn json_response(code: u16, body: &Value) -> Response {
    bytes_response(
        code,
        Bytes::from(serde_json::to_vec(body).unwrap_or_default()),
    )
}

fn bytes_response(code: u16, body: Bytes) -> Response {
    let mut resp = (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
    resp
}

/// Entry point of every request.
pub async fn handle(server: Arc<Server>, req: Request<Body>) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = std::panic::AssertUnwindSafe(route(server.clone(), req))
        .catch_unwind()
        .await;
    let (resp, verb, resource) = match result {
        Ok(Ok((resp, verb, resource))) => (resp, verb, resource),
        Ok(Err((e, verb, resource))) => (e.into_response(), verb, resource),
        Err(_) => {
            tracing::error!(%method, %path, "request handler panicked");
            (
                ApiError::internal("an internal error occurred while handling the request")
                    .into_response(),
                "unknown",
                String::new(),
            )
        }
    };
    server
        .metrics
        .observe(verb, &resource, resp.status().as_u16(), started.elapsed());
    tracing::debug!(%method, %path, code = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
    resp
}

type Routed = Result<(Response, &'static str, String), (ApiError, &'static str, String)>;

fn authenticate(server: &Server, req: &Request<Body>) -> Option<User> {
    if let Some(PeerIdentity(Some(user))) = req.extensions().get::<PeerIdentity>() {
        return Some(user.clone());
    }
    let auth = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?
        .trim();
    token_matches(token, server.admin_token.expose()).then(|| User {
        name: "devcluster-admin".into(),
        groups: vec!["system:masters".into()],
    })
}

/// Whether a presented bearer token is the expected one, in time independent of where they
/// differ: both are hashed (so lengths and common prefixes do not show) and the digests compared
/// without an early exit. An empty expected token matches nothing.
pub fn token_matches(presented: &str, expected: &str) -> bool {
    use sha2::{Digest, Sha256};
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    let difference = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | std::hint::black_box(x ^ y));
    std::hint::black_box(difference) == 0 && !expected.is_empty()
}

async fn route(server: Arc<Server>, req: Request<Body>) -> Routed {
    let path = req.uri().path().trim_end_matches('/').to_string();
    match path.as_str() {
        "/healthz" | "/livez" | "/readyz" => {
            return Ok((plain(200, "ok"), "health", String::new()));
        }
        "/version" => return Ok((json_response(200, &version()), "version", String::new())),
        _ => {}
    }
    if path.starts_with("/healthz/") || path.starts_with("/livez/") || path.starts_with("/readyz/")
    {
        return Ok((plain(200, "ok"), "health", String::new()));
    }
    let Some(user) = authenticate(&server, &req) else {
        return Err((ApiError::unauthorized(), "unauthenticated", String::new()));
    };
    tracing::trace!(user = %user.name, "authenticated");
    server.faults.hold(&user.name).await;
    match path.as_str() {
        "/metrics" => {
            return Ok((
                plain(200, &server.metrics.encode()),
                "metrics",
                String::new(),
            ));
        }
        "" => {
            return Ok((
                json_response(
                    200,
                    &json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/metrics", "/openapi/v2", "/openapi/v3", "/readyz", "/version"]}),
                ),
                "root",
                String::new(),
            ));
        }
        "/api" => {
            return Ok((
                json_response(200, &crate::discovery::api_versions(&server.url)),
                "discovery",
                String::new(),
            ));
        }
        "/apis" => {
            return Ok((
                json_response(200, &crate::discovery::api_groups(&server.api.registry)),
                "discovery",
                String::new(),
            ));
        }
        "/openapi/v2" => {
            let doc = server.openapi.v2(&server.api.registry);
            return Ok((bytes_response(200, doc), "openapi", String::new()));
        }
        "/openapi/v3" => {
            let doc = server.openapi.v3_index(&server.api.registry);
            return Ok((bytes_response(200, doc), "openapi", String::new()));
        }
        _ => {}
    }
    if let Some(gv) = path.strip_prefix("/openapi/v3/") {
        return match server.openapi.v3_group_version(&server.api.registry, gv) {
            Some(doc) => Ok((bytes_response(200, doc), "openapi", String::new())),
            None => Err((ApiError::not_found_path(), "openapi", String::new())),
        };
    }
    let segments: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let (group, version, rest) = match segments.first().map(String::as_str) {
        Some("api") if segments.len() >= 2 => (String::new(), segments[1].clone(), &segments[2..]),
        Some("apis") if segments.len() == 2 => {
            return match crate::discovery::api_group(&server.api.registry, &segments[1]) {
                Some(g) => Ok((json_response(200, &g), "discovery", String::new())),
                None => Err((ApiError::not_found_path(), "discovery", String::new())),
            };
        }
        Some("apis") if segments.len() >= 3 => {
            (segments[1].clone(), segments[2].clone(), &segments[3..])
        }
        _ => return Err((ApiError::not_found_path(), "unknown", String::new())),
    };
    if rest.is_empty() {
        return match crate::discovery::resource_list(&server.api.registry, &group, &version) {
            Some(list) => Ok((json_response(200, &list), "discovery", String::new())),
            None => Err((ApiError::not_found_path(), "discovery", String::new())),
        };
    }
    // /namespaces/{ns}/{resource}/... unless it is the namespace's own subresource.
    let (namespace, resource, name, sub) = if rest[0] == "namespaces"
        && rest.len() >= 3
        && !(rest.len() == 3 && (rest[2] == "status" || rest[2] == "finalize"))
    {
        (
            Some(rest[1].clone()),
            rest[2].clone(),
            rest.get(3).cloned(),
            rest.get(4).cloned(),
        )
    } else {
        (
            None,
            rest[0].clone(),
            rest.get(1).cloned(),
            rest.get(2).cloned(),
        )
    };
    if rest.len() > if namespace.is_some() { 5 } else { 3 } {
        return Err((ApiError::not_found_path(), "unknown", resource));
    }
    let Some(rt) = server.api.registry.find(&group, &version, &resource) else {
        return Err((ApiError::not_found_path(), "unknown", resource));
    };
    if namespace.is_some() && !rt.namespaced {
        return Err((ApiError::not_found_path(), "unknown", resource));
    }
    if let Some(s) = &sub {
        let ok = match s.as_str() {
            "status" => rt.status_subresource,
            "scale" => rt.scale.is_some(),
            "finalize" => rt.group.is_empty() && rt.plural == "namespaces",
            _ => false,
        };
        if !ok {
            return Err((ApiError::not_found_path(), "unknown", resource));
        }
    }
    let target = Target {
        rt: rt.clone(),
        namespace,
        name,
        sub,
    };
    let query = Query::parse(req.uri().query());
    let method = req.method().clone();
    let verb: &'static str = match (&method, target.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if query.flag("watch") => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => {
            return Err((
                ApiError::method_not_allowed(method.as_str(), &rt.plural),
                "unknown",
                rt.plural.clone(),
            ));
        }
    };
    let resource_label = rt.plural.clone();
    let headers = req.headers().clone();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return Err((e, verb, resource_label)),
    };
    match dispatch(&server, verb, &target, &query, &headers, body).await {
        Ok(r) => Ok((r, verb, resource_label)),
        Err(e) => Err((e, verb, resource_label)),
    }
}

fn plain(code: u16, body: &str) -> Response {
    let mut r = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        body.to_string(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn version() -> Value {
    json!({
        "major": "1", "minor": "33", "gitVersion": "v1.33.0-devcluster",
        "gitCommit": env!("CARGO_PKG_VERSION"), "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z", "goVersion": "rust", "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    })
}

async fn read_body(req: Request<Body>) -> Result<Bytes, ApiError> {
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > MAX_BODY
    {
        return Err(ApiError::too_large());
    }
    axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| ApiError::too_large())
}

/// A resource request's target.
pub struct Target {
    pub rt: Arc<ResourceType>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub sub: Option<String>,
}

impl Target {
    fn ns(&self) -> &str {
        if self.rt.namespaced {
            self.namespace.as_deref().unwrap_or_default()
        } else {
            ""
        }
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        })
        .unwrap_or_else(|| "application/json".into())
}

/// Decode a JSON or YAML request body.
pub fn decode_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = content_type(headers);
    let value: Value = match ct.as_str() {
        "application/json" | "" | "*/*" => serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("json: cannot decode request body: {e}")))?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_yaml::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("yaml: cannot decode request body: {e}")))?,
        crate::protobuf::CONTENT_TYPE => crate::protobuf::decode(body)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok(value)
}

fn write_options(query: &Query, headers: &HeaderMap) -> Result<WriteOptions, ApiError> {
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
                    vec![crate::error::Cause::new(
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
    })
}

async fn dispatch(
    server: &Arc<Server>,
    verb: &'static str,
    t: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let api = &server.api;
    let rt = &t.rt;
    let form = form_of(headers);
    match verb {
        "get" => {
            let name = t.name.as_deref().unwrap_or_default();
            let stored = api.read(rt, t.ns(), name)?;
            let obj = Api::for_version(rt, stored.value());
            let obj = if t.sub.as_deref() == Some("scale") {
                Api::scale_of(rt, &obj)?
            } else {
                obj
            };
            Ok(json_response(200, &render_one(rt, obj, form, query)))
        }
        "list" => list(server, t, query, form),
        "watch" => crate::watch::watch(server.clone(), t, query, form),
        "create" => {
            if t.sub.is_some() {
                return Err(ApiError::method_not_allowed("POST", &rt.plural));
            }
            let opts = write_options(query, headers)?;
            let obj = decode_body(headers, &body)?;
            let ns = t.ns().to_string();
            let out = api.create(rt, &ns, obj, &opts).await?;
            let created = out.body;
            if rt.group == "apiextensions.k8s.io" && !opts.dry_run {
                crate::controllers::register_crd(api, &created);
            }
            Ok(with_warnings(
                json_response(out.code, &Api::for_version(rt, created)),
                &out.warnings,
            ))
        }
        "update" => {
            let opts = write_options(query, headers)?;
            let obj = decode_body(headers, &body)?;
            let out = api
                .update(
                    rt,
                    t.ns(),
                    t.name.as_deref().unwrap_or_default(),
                    t.sub.as_deref(),
                    obj,
                    &opts,
                )
                .await?;
            if rt.group == "apiextensions.k8s.io" && !opts.dry_run {
                crate::controllers::register_crd(api, &out.body);
            }
            Ok(with_warnings(
                json_response(out.code, &out.body),
                &out.warnings,
            ))
        }
        "patch" => {
            let opts = write_options(query, headers)?;
            let out = crate::patching::patch(api, t, query, headers, &body, &opts).await?;
            if rt.group == "apiextensions.k8s.io" && !opts.dry_run {
                crate::controllers::register_crd(api, &out.body);
            }
            Ok(with_warnings(
                json_response(out.code, &out.body),
                &out.warnings,
            ))
        }
        "delete" => {
            let opts = delete_options(query, headers, &body)?;
            let out = api
                .delete(rt, t.ns(), t.name.as_deref().unwrap_or_default(), &opts)
                .await?;
            Ok(json_response(out.code, &out.body))
        }
        "deletecollection" => {
            let opts = delete_options(query, headers, &body)?;
            let (label, field) = selectors(rt, query)?;
            let prefix = rt.list_prefix(t.namespace.as_deref());
            let (items, _, _) = api
                .store
                .list(&prefix, None, |s| matches(s, &label, &field), None);
            let mut deleted = Vec::new();
            for item in items {
                match api.delete(rt, &item.namespace, &item.name, &opts).await {
                    Ok(_) => deleted.push(Api::for_version(rt, item.value())),
                    Err(e) if e.code == 404 => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(json_response(
                200,
                &json!({
                    "kind": rt.list_kind, "apiVersion": rt.api_version(),
                    "metadata": {"resourceVersion": api.store.revision().to_string()},
                    "items": deleted,
                }),
            ))
        }
        _ => Err(ApiError::method_not_allowed(verb, &rt.plural)),
    }
}

fn delete_options(
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

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    start: String,
}

fn list(server: &Arc<Server>, t: &Target, query: &Query, form: Form) -> Result<Response, ApiError> {
    let api = &server.api;
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
    check_list_rv(api, query)?;
    let prefix = rt.list_prefix(t.namespace.as_deref());
    // metadata.name pins a single key: skip the scan.
    let (items, rev, more) = match (field.pinned_name(), t.namespace.as_deref()) {
        (Some(name), ns) if rt.namespaced == ns.is_some() => {
            let key = rt.key(ns.unwrap_or_default(), name);
            let items: Vec<_> = api
                .store
                .get(&key)
                .into_iter()
                .filter(|s| matches(s, &label, &field))
                .collect();
            (items, api.store.revision(), false)
        }
        _ => api.store.list(
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
                .map(|s| Api::for_version(rt, s.value()))
                .collect();
            let include = query.get("includeObject").unwrap_or("Metadata");
            let mut table = crate::table::table(rt, &objects, include);
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
        Form::Object => {
            // Splice the stored JSON: no per-object parse for the common case.
            let expected = format!("{{\"apiVersion\":\"{}\",", rt.api_version());
            let mut out =
                Vec::with_capacity(items.iter().map(|s| s.raw.len() + 1).sum::<usize>() + 256);
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
                        &serde_json::to_vec(&Api::for_version(rt, s.value())).unwrap_or_default(),
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
            out.extend_from_slice(&serde_json::to_vec(&meta).unwrap_or_default());
            out.push(b'}');
            Ok(bytes_response(200, Bytes::from(out)))
        }
    }
}

fn check_list_rv(api: &Api, query: &Query) -> Result<(), ApiError> {
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
    let current = api.store.revision();
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

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"]})
}

/// One object as the requested form.
pub fn render_one(rt: &ResourceType, obj: Value, form: Form, query: &Query) -> Value {
    match form {
        Form::Object => obj,
        Form::PartialMetadata => partial_metadata(&obj),
        Form::Table => {
            let mut t = crate::table::table(
                rt,
                std::slice::from_ref(&obj),
                query.get("includeObject").unwrap_or("Metadata"),
            );
            t["metadata"] = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
            t
        }
    }
}

/// Encode one watch event line.
pub fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// Watch event type after applying a selector to the old and new state.
pub fn filtered_event(kind: EventType, old_match: bool, new_match: bool) -> Option<EventType> {
    match (kind, old_match, new_match) {
        (EventType::Added, _, true) => Some(EventType::Added),
        (EventType::Modified, true, true) => Some(EventType::Modified),
        (EventType::Modified, false, true) => Some(EventType::Added),
        (EventType::Modified, true, false) => Some(EventType::Deleted),
        (EventType::Deleted, _, true) => Some(EventType::Deleted),
        _ => None,
    }
}

/// How long a watch lasts when the client does not say: like apiserver, between 30 and 60 min.
pub fn default_watch_timeout() -> Duration {
    Duration::from_secs(1800 + rand::random_range(0..1800))
}

/// Fill in apiVersion, kind and name of a server-side apply body from the URL, rejecting
/// mismatches like apiserver.
pub fn ensure_object_identity(
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

#[cfg(test)]
mod tests {
    use super::token_matches;

    #[test]
    fn bearer_tokens_match_only_exactly() {
        let expected = "dG9rZW4tb2YtdGhlLWFkbWlu";
        assert!(token_matches(expected, expected));
        for wrong in [
            "",
            "d",
            "dG9rZW4tb2YtdGhlLWFkbWl",
            "dG9rZW4tb2YtdGhlLWFkbWlux",
            "xG9rZW4tb2YtdGhlLWFkbWlu",
            "DG9RZW4TB2YTDGHLLWFKBWLU",
        ] {
            assert!(!token_matches(wrong, expected), "{wrong:?}");
        }
        // An unset token authenticates nobody, not even an empty header value.
        assert!(!token_matches("", ""));
    }
}
