//! The HTTP layer: authentication, routing (health, discovery, OpenAPI, resource paths),
//! request decoding, and the verbs' responses (list, watch, the patch handler, tables, partial
//! metadata), with request metrics and panics turned into a 500 Status. REST semantics live in
//! [`crate::rest`]; this layer turns requests into its calls and its results into responses.

mod discovery;
mod list;
mod metrics;
mod openapi;
mod patch;
mod protobuf;
mod query;
mod table;
mod watch;

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use serde_json::{Value, json};

use crate::auth::{
    AccessLog, Attributes, Authorizer, Decision, ResourceAttributes, UserInfo, reviews,
};
use crate::error::ApiError;
use crate::registry::ResourceType;
use crate::rest::{AdmissionCheck, Rest};

pub use metrics::Metrics;
pub use openapi::OpenApiCache;
pub use query::Query;
use query::{delete_options, write_options};

/// Largest accepted request body (kube-apiserver's limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// What the TLS layer learned about the peer (a verified client certificate).
#[derive(Debug, Clone, Default)]
pub struct PeerIdentity(pub Option<UserInfo>);

/// Everything a request handler needs.
pub struct Server {
    pub rest: Arc<Rest>,
    /// Certificates, bearer tokens and the anonymous user; ServiceAccount tokens.
    pub authenticator: crate::auth::Authenticator,
    pub url: String,
    pub metrics: Metrics,
    pub openapi: OpenApiCache,
    /// Test-only fault injection (see `faults.rs`); inert unless a test pauses a user.
    pub faults: crate::faults::Faults,
    pub authorizer: Authorizer,
    /// What each user was allowed to do (recorded only when a test asks for it).
    pub access_log: AccessLog,
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

fn authenticate(server: &Server, req: &Request<Body>) -> Result<UserInfo, ApiError> {
    let certificate_user = match req.extensions().get::<PeerIdentity>() {
        Some(PeerIdentity(Some(user))) => Some(user),
        _ => None,
    };
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    server
        .authenticator
        .authenticate(certificate_user, authorization)
}

/// A list's or watch's name, as kube-apiserver's `RequestInfo` takes it from a
/// `metadata.name=<name>` field selector (what resourceNames grants then match).
fn name_from_field_selector(query: &Query) -> Option<String> {
    query
        .get("fieldSelector")?
        .split(',')
        .find_map(|requirement| {
            let value = requirement
                .trim()
                .strip_prefix("metadata.name")?
                .trim_start();
            let value = value
                .strip_prefix("==")
                .or_else(|| value.strip_prefix('='))?;
            Some(value.trim().to_string()).filter(|v| !v.is_empty() && !v.contains('/'))
        })
}

/// Allow the request or give kube-apiserver's 403; an allowed request is recorded in the
/// access log.
fn authorize(server: &Server, user: &UserInfo, attributes: &Attributes) -> Result<(), ApiError> {
    match server.authorizer.authorize(user, attributes) {
        Decision::Allow => {
            server.access_log.record(user, attributes);
            Ok(())
        }
        Decision::Deny { reason } => {
            server.access_log.record_denied(user, attributes);
            Err(crate::auth::forbidden(user, attributes, &reason))
        }
    }
}

/// The attributes of a non-resource request (verb: the lower-case HTTP method, as
/// kube-apiserver's `RequestInfo`).
fn non_resource(method: &Method, path: &str) -> Attributes {
    Attributes {
        verb: method.as_str().to_ascii_lowercase(),
        resource: None,
        path: if path.is_empty() {
            "/".into()
        } else {
            path.into()
        },
    }
}

/// `kubectl auth whoami`: who the request authenticated as (kube-apiserver adds
/// `system:authenticated` to every authenticated user's groups).
fn self_subject_review(user: &UserInfo) -> serde_json::Value {
    serde_json::json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": crate::auth::user_json(user)},
    })
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
    let user = match authenticate(&server, &req) {
        Ok(user) => user,
        Err(e) => return Err((e, "unauthenticated", String::new())),
    };
    let user = user.with_authenticated_group();
    tracing::trace!(user = %user.name, groups = ?user.groups, "authenticated");
    let user =
        match crate::auth::impersonation::impersonate(&server.authorizer, user, req.headers()) {
            Ok(user) => user,
            Err(e) => return Err((e, "impersonate", String::new())),
        };
    server.faults.hold(&user.name).await;
    if let Some(review @ ("selfsubjectreviews" | "tokenreviews")) =
        path.strip_prefix("/apis/authentication.k8s.io/v1/")
        && req.method() == Method::POST
    {
        let attributes = Attributes {
            verb: "create".into(),
            resource: Some(ResourceAttributes {
                group: "authentication.k8s.io".into(),
                version: "v1".into(),
                resource: review.into(),
                ..Default::default()
            }),
            path: path.clone(),
        };
        let review = review.to_string();
        if let Err(e) = authorize(&server, &user, &attributes) {
            return Err((e, "create", review));
        }
        let body = if review == "tokenreviews" {
            let headers = req.headers().clone();
            let reviewed = match read_body(req).await {
                Ok(body) => decode_body(&headers, &body)
                    .and_then(|request| server.authenticator.token_review(request)),
                Err(e) => Err(e),
            };
            match reviewed {
                Ok(body) => body,
                Err(e) => return Err((e, "create", review)),
            }
        } else {
            self_subject_review(&user)
        };
        return Ok((json_response(201, &body), "create", review));
    }
    let is_resource_path = (path.starts_with("/api/") && path.split('/').count() > 3)
        || (path.starts_with("/apis/") && path.split('/').count() > 4);
    if !is_resource_path
        && let Err(e) = authorize(&server, &user, &non_resource(req.method(), &path))
    {
        return Err((e, "unknown", String::new()));
    }
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
                    &json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/metrics", "/openapi/v2", "/openapi/v3", "/openid/v1/jwks", "/readyz", "/version", "/.well-known/openid-configuration"]}),
                ),
                "root",
                String::new(),
            ));
        }
        "/api" => {
            return Ok((
                json_response(200, &discovery::api_versions(&server.url)),
                "discovery",
                String::new(),
            ));
        }
        "/apis" => {
            return Ok((
                json_response(200, &discovery::api_groups(&server.rest.registry)),
                "discovery",
                String::new(),
            ));
        }
        "/.well-known/openid-configuration" | "/openid/v1/jwks" => {
            let mut response = if path == "/openid/v1/jwks" {
                let mut response = json_response(200, &server.authenticator.jwks());
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/jwk-set+json"),
                );
                response
            } else {
                json_response(200, &server.authenticator.openid_configuration(&server.url))
            };
            // As kube-apiserver: relying parties may cache the documents for an hour.
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            return Ok((response, "discovery", String::new()));
        }
        "/openapi/v2" => {
            let doc = server.openapi.v2(&server.rest.registry);
            return Ok((bytes_response(200, doc), "openapi", String::new()));
        }
        "/openapi/v3" => {
            let doc = server.openapi.v3_index(&server.rest.registry);
            return Ok((bytes_response(200, doc), "openapi", String::new()));
        }
        _ => {}
    }
    if let Some(gv) = path.strip_prefix("/openapi/v3/") {
        return match server.openapi.v3_group_version(&server.rest.registry, gv) {
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
            return match discovery::api_group(&server.rest.registry, &segments[1]) {
                Some(g) => Ok((json_response(200, &g), "discovery", String::new())),
                None => Err((ApiError::not_found_path(), "discovery", String::new())),
            };
        }
        Some("apis") if segments.len() >= 3 => {
            (segments[1].clone(), segments[2].clone(), &segments[3..])
        }
        _ => return Err((ApiError::not_found_path(), "unknown", String::new())),
    };
    if group == reviews::GROUP && version == reviews::VERSION {
        if rest.is_empty() {
            return Ok((
                json_response(200, &reviews::resource_list()),
                "discovery",
                String::new(),
            ));
        }
        if let Some(target) = reviews::ReviewTarget::parse(rest) {
            return access_review(&server, &user, req, &path, target).await;
        }
        return Err((ApiError::not_found_path(), "unknown", String::new()));
    }
    if rest.is_empty() {
        return match discovery::resource_list(&server.rest.registry, &group, &version) {
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
    let Some(rt) = server.rest.registry.find(&group, &version, &resource) else {
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
            "token" => rt.group.is_empty() && rt.plural == "serviceaccounts",
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
    if target.sub.as_deref() == Some("token") && method != Method::POST {
        return Err((
            ApiError::method_not_allowed(method.as_str(), "serviceaccounts/token"),
            "unknown",
            rt.plural.clone(),
        ));
    }
    let verb: &'static str = match (&method, target.name.is_some()) {
        (&Method::GET, true) => "get",
        (&Method::GET, false) if query.flag("watch") => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        // A create-only subresource (serviceaccounts/token).
        (&Method::POST, true) if target.sub.as_deref() == Some("token") => "create",
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
    let name = match (&target.name, verb) {
        (Some(name), _) => name.clone(),
        (None, "list" | "watch") => name_from_field_selector(&query).unwrap_or_default(),
        (None, _) => String::new(),
    };
    let attributes = Attributes {
        verb: verb.into(),
        resource: Some(ResourceAttributes {
            group: rt.group.clone(),
            version: rt.version.clone(),
            resource: rt.plural.clone(),
            subresource: target.sub.clone().unwrap_or_default(),
            namespace: target.namespace.clone().unwrap_or_default(),
            name,
        }),
        path: path.clone(),
    };
    if let Err(e) = authorize(&server, &user, &attributes) {
        return Err((e, verb, resource_label));
    }
    // The RBAC REST storage's escalation check needs the requesting user.
    let admission = (crate::auth::escalation::is_checked(&rt) && !user.is_superuser()).then(|| {
        let server = server.clone();
        let user = user.clone();
        AdmissionCheck(Arc::new(
            move |rt: &ResourceType, namespace: &str, obj: &Value| {
                crate::auth::escalation::check(
                    &server.authorizer,
                    &server.access_log,
                    &user,
                    &attributes,
                    rt,
                    namespace,
                    obj,
                )
            },
        ))
    });
    let headers = req.headers().clone();
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return Err((e, verb, resource_label)),
    };
    match dispatch(&server, verb, &target, &query, &headers, body, admission).await {
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
        protobuf::CONTENT_TYPE => protobuf::decode(body)?,
        other => return Err(ApiError::unsupported_media_type(other)),
    };
    Ok(value)
}

/// Create an access review (authorization.k8s.io): authorized like any create, answered at
/// once, stored nowhere.
async fn access_review(
    server: &Server,
    user: &UserInfo,
    req: Request<Body>,
    path: &str,
    target: reviews::ReviewTarget,
) -> Routed {
    let label = target.plural.to_string();
    if req.method() != Method::POST {
        return Err((
            ApiError::method_not_allowed(req.method().as_str(), target.plural),
            "unknown",
            label,
        ));
    }
    let attributes = target.attributes(path);
    if let Err(e) = authorize(server, user, &attributes) {
        return Err((e, "create", label));
    }
    let headers = req.headers().clone();
    let answer = async {
        let body = read_body(req).await?;
        let obj = decode_body(&headers, &body)?;
        reviews::review(&server.authorizer, user, &target, obj)
    };
    match answer.await {
        Ok(review) => Ok((json_response(201, &review), "create", label)),
        Err(e) => Err((e, "create", label)),
    }
}

async fn dispatch(
    server: &Arc<Server>,
    verb: &'static str,
    t: &Target,
    query: &Query,
    headers: &HeaderMap,
    body: Bytes,
    admission: Option<AdmissionCheck>,
) -> Result<Response, ApiError> {
    let rest = &server.rest;
    let rt = &t.rt;
    let form = form_of(headers);
    match verb {
        "get" => {
            let name = t.name.as_deref().unwrap_or_default();
            let stored = rest.read(rt, t.ns(), name)?;
            let obj = Rest::for_version(rt, stored.value());
            let obj = if t.sub.as_deref() == Some("scale") {
                Rest::scale_of(rt, &obj)?
            } else {
                obj
            };
            Ok(json_response(200, &render_one(rt, obj, form, query)))
        }
        "list" => list::list(server, t, query, form),
        "watch" => watch::watch(server.clone(), t, query, form),
        "create" => {
            if t.sub.as_deref() == Some("token") {
                let request = decode_body(headers, &body)?;
                let name = t.name.as_deref().unwrap_or_default();
                let out = server.authenticator.token_request(t.ns(), name, request)?;
                return Ok(json_response(201, &out));
            }
            if t.sub.is_some() {
                return Err(ApiError::method_not_allowed("POST", &rt.plural));
            }
            let mut opts = write_options(query, headers)?;
            opts.admission = admission.clone();
            let obj = decode_body(headers, &body)?;
            let ns = t.ns().to_string();
            let out = rest.create(rt, &ns, obj, &opts).await?;
            Ok(with_warnings(
                json_response(out.code, &Rest::for_version(rt, out.body)),
                &out.warnings,
            ))
        }
        "update" => {
            let mut opts = write_options(query, headers)?;
            opts.admission = admission.clone();
            let obj = decode_body(headers, &body)?;
            let out = rest
                .update(
                    rt,
                    t.ns(),
                    t.name.as_deref().unwrap_or_default(),
                    t.sub.as_deref(),
                    obj,
                    &opts,
                )
                .await?;
            Ok(with_warnings(
                json_response(out.code, &out.body),
                &out.warnings,
            ))
        }
        "patch" => {
            let mut opts = write_options(query, headers)?;
            opts.admission = admission.clone();
            let out = patch::patch(rest, t, query, headers, &body, &opts).await?;
            Ok(with_warnings(
                json_response(out.code, &out.body),
                &out.warnings,
            ))
        }
        "delete" => {
            let opts = delete_options(query, headers, &body)?;
            let out = rest
                .delete(rt, t.ns(), t.name.as_deref().unwrap_or_default(), &opts)
                .await?;
            Ok(json_response(out.code, &out.body))
        }
        "deletecollection" => {
            let opts = delete_options(query, headers, &body)?;
            list::delete_collection(server, t, query, &opts).await
        }
        _ => Err(ApiError::method_not_allowed(verb, &rt.plural)),
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
            let mut t = table::table(
                rt,
                std::slice::from_ref(&obj),
                query.get("includeObject").unwrap_or("Metadata"),
            );
            t["metadata"] = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
            t
        }
    }
}
