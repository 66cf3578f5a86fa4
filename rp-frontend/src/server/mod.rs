//! The ARM server: request pipeline (request ids, authentication, request validation, body limits,
//! panics, metrics, logs) and routing onto the handlers.

pub mod auth;
pub mod clusters;
pub mod metrics;
pub mod misc;
pub mod paging;
pub mod store;
pub mod workload_identity;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use http_body_util::BodyExt;
use regex::Regex;
use std::sync::LazyLock;

use crate::api::ApiVersion;
use crate::error::{Error, Result};
pub use auth::{AuthMode, PeerCertificate};

/// The RP's namespace, as ARM spells it.
pub const NAMESPACE: &str = "Microsoft.RedHatOpenShift";
/// Largest accepted request body (ARO-RP: 1 MiB).
pub const MAX_BODY: usize = 1024 * 1024;

/// Settings of the frontend that are not Kubernetes objects.
#[derive(Clone, Debug)]
pub struct FrontendConfig {
    /// The RP's Azure region, e.g. `eastus`.
    pub location: String,
    /// Parent DNS domain of managed cluster domains (e.g. `aroapp.io`), if any.
    pub parent_domain: Option<String>,
    /// Development mode: workers must be Standard_D2s_v3..v5.
    pub require_d2s_workers: bool,
    /// Key that signs `$skipToken`s (tamper-proof paging).
    pub skip_token_key: aro_common::Secret<Vec<u8>>,
    /// Who may call.
    pub auth: AuthMode,
    /// RP version stamped into `createdBy`/`provisionedBy`.
    pub rp_version: String,
    /// Development: fill in ARM's managed identity headers (`x-ms-identity-url`,
    /// `x-ms-home-tenant-id`) when a workload identity create lacks them, as ARO's local
    /// development mode does; production refuses such a create.
    pub mock_msi_headers: bool,
}

impl FrontendConfig {
    /// A configuration for tests and local use: no authentication, random paging key.
    pub fn insecure_for_loopback(location: &str) -> Self {
        FrontendConfig {
            location: location.to_string(),
            parent_domain: None,
            require_d2s_workers: true,
            skip_token_key: aro_common::Secret::new(rand::random::<[u8; 32]>().to_vec()),
            auth: AuthMode::None,
            rp_version: env!("CARGO_PKG_VERSION").to_string(),
            mock_msi_headers: false,
        }
    }
}

/// State shared by every request.
pub struct AppState {
    /// Client of the management cluster.
    pub client: kube::Client,
    /// Configuration.
    pub config: FrontendConfig,
    /// Request metrics.
    pub metrics: metrics::Metrics,
    /// Readiness and the metrics registry.
    pub health: aro_common::health::Health,
    /// Subscriptions as last watched: reads skip a round trip when it shows an allowed state.
    pub subscriptions: store::SubscriptionCache,
    /// Clusters as last watched: GETs read them without a round trip (read-your-writes kept).
    pub clusters: store::ClusterCache,
}

/// The frontend as an axum router.
pub struct Frontend;

impl Frontend {
    /// The router serving the ARM API over `client`. Peer certificates reach it as a
    /// [`PeerCertificate`] request extension (the TLS listener adds it).
    pub fn router(client: kube::Client, config: FrontendConfig) -> Router {
        Self::with_health(client, config, aro_common::health::Health::new())
    }

    /// Same as [`Frontend::router`], registering metrics in `health`'s registry.
    pub fn with_health(
        client: kube::Client,
        config: FrontendConfig,
        health: aro_common::health::Health,
    ) -> Router {
        let metrics = metrics::Metrics::register(&health);
        health.set_ready(true);
        let state = Arc::new(AppState {
            subscriptions: store::SubscriptionCache::start(client.clone()),
            clusters: store::ClusterCache::start(client.clone()),
            client,
            config,
            metrics,
            health,
        });
        Router::new().fallback(entry).with_state(state)
    }
}

/// A parsed request as handlers see it.
pub struct Ctx {
    /// Method.
    pub method: Method,
    /// Original-case path segments.
    pub segments: Vec<String>,
    /// Lowercase path segments (routing).
    pub lower: Vec<String>,
    /// Query parameters.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// Scheme and host polling URLs are built from (the Referer's).
    pub base_url: String,
    /// Full Referer (or the faked one).
    pub referer: String,
    /// Our request id.
    pub request_id: String,
}

impl Ctx {
    /// A query parameter.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The `api-version` parameter parsed as a resource version (400 InvalidResourceType when
    /// unsupported, as ARO-RP answers).
    pub fn api_version(&self) -> Result<ApiVersion> {
        let raw = self.query("api-version").unwrap_or_default();
        ApiVersion::parse(raw).ok_or_else(|| {
            Error::arm(
                StatusCode::BAD_REQUEST,
                "InvalidResourceType",
                format!(
                    "The resource type '{}' could not be found in the namespace '{NAMESPACE}' for api version '{raw}'.",
                    self.lower.get(6).map(String::as_str).unwrap_or("openshiftclusters")
                ),
            )
        })
    }

    /// The body parsed as JSON, 400 InvalidRequestContent when malformed.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| invalid_request_content(&e))
    }
}

/// 400 InvalidRequestContent for a body that does not parse.
pub fn invalid_request_content(e: &serde_json::Error) -> Error {
    Error::arm(
        StatusCode::BAD_REQUEST,
        "InvalidRequestContent",
        format!("The request content was invalid and could not be deserialized: {e}."),
    )
}

static RESOURCE_GROUP: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[-a-z0-9_().]{0,89}[-a-z0-9_()]$").expect("valid regex"));

/// Whether `name` is a valid resource group (or, as ARO-RP checks, resource) name.
pub fn valid_group_name(name: &str) -> bool {
    RESOURCE_GROUP.is_match(&name.to_lowercase())
}

fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Entry point of every request: the middleware chain, then routing.
async fn entry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = request_id();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let path = request.uri().path().to_string();
    let api_version = query_pairs(request.uri().query())
        .into_iter()
        .find(|(k, _)| k == "api-version")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let route = metrics::route_label(&path);

    let inner = std::panic::AssertUnwindSafe(handle(state.clone(), request, request_id.clone()));
    let mut response = match inner.catch_unwind().await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(request_id, "handler panicked");
            error_response(&Error::arm(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalServerError",
                "Internal server error.",
            ))
        }
    };

    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-ms-request-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate(chrono::Utc::now())) {
        h.insert(header::DATE, v);
    }
    let echo = headers
        .get("x-ms-return-client-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if echo && let Some(v) = headers.get("x-ms-client-request-id") {
        h.insert("x-ms-client-request-id", v.clone());
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    state
        .metrics
        .observe(&route, method.as_str(), &api_version, status, elapsed);
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    tracing::info!(
        request_id,
        correlation_id = header_str("x-ms-correlation-request-id"),
        client_request_id = header_str("x-ms-client-request-id"),
        method = %method,
        route,
        api_version,
        status,
        latency_ms = elapsed.as_millis() as u64,
        "request"
    );
    if matches!(
        method,
        Method::PUT | Method::PATCH | Method::DELETE | Method::POST
    ) && status < 300
    {
        tracing::info!(
            target: "audit",
            request_id,
            correlation_id = header_str("x-ms-correlation-request-id"),
            method = %method,
            path,
            status,
            "audit"
        );
    }
    response
}

fn httpdate(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The CloudError response of an error.
pub fn error_response(e: &Error) -> Response {
    let (status, body) = e.to_status_and_body();
    if status.is_server_error() {
        tracing::error!(error = %e, "request failed");
    }
    json_response(status, &serde_json::json!({ "error": body }))
}

/// A JSON response.
pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(bytes),
    )
        .into_response()
}

async fn handle(state: Arc<AppState>, request: Request, request_id: String) -> Response {
    use tracing::Instrument;
    // Every log of the request, such as the details of an internal error the customer sees only
    // as `InternalServerError`, carries its request id.
    let span = tracing::error_span!("request", request_id = %request_id);
    match handle_inner(state, request, request_id)
        .instrument(span.clone())
        .await
    {
        Ok(response) => response,
        Err(e) => span.in_scope(|| error_response(&e)),
    }
}

async fn handle_inner(
    state: Arc<AppState>,
    request: Request,
    request_id: String,
) -> Result<Response> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    let lower_path = path.to_lowercase();

    // Health, metrics and OpenAPI documents need no authentication.
    match lower_path.as_str() {
        "/healthz" | "/livez" | "/healthz/ready" | "/readyz" | "/metrics" => {
            let req = Request::from_parts(parts, Body::empty());
            let router = state.health.router();
            return Ok(tower::ServiceExt::oneshot(router, rewrite_health(req))
                .await
                .unwrap_or_else(|never| match never {}));
        }
        _ => {}
    }

    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let lower: Vec<String> = segments.iter().map(|s| s.to_lowercase()).collect();
    let query = query_pairs(parts.uri.query());
    let is_admin = lower.first().is_some_and(|s| s == "admin")
        || query
            .iter()
            .any(|(k, v)| k == "api-version" && v == "admin");

    if lower.first().is_some_and(|s| s == "openapi") {
        return misc::openapi(&lower);
    }

    auth::authorize(&state.config.auth, &parts.extensions, is_admin)?;

    // Body: size cap, content type, JSON for writes.
    let has_body_method = matches!(parts.method, Method::PUT | Method::PATCH | Method::POST);
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let body = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(Error::arm(
                StatusCode::BAD_REQUEST,
                "InvalidResource",
                "The resource definition is invalid: the request body is larger than 1 MiB.",
            ));
        }
    };
    if has_body_method {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let json = content_type.is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
        if (content_type.is_some() || !body.is_empty()) && !json {
            return Err(Error::arm(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!(
                    "The content media type '{}' is not supported. Only 'application/json' is supported.",
                    content_type.unwrap_or_default()
                ),
            ));
        }
    }

    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost:8443")
        .to_string();
    let referer = parts
        .headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| format!("https://localhost:8443{}", parts.uri));
    let base_url = match referer.parse::<http::Uri>() {
        Ok(uri) if uri.scheme().is_some() && uri.authority().is_some() => format!(
            "{}://{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map(|a| a.as_str()).unwrap_or(&host)
        ),
        _ => "https://localhost:8443".to_string(),
    };
    let ctx = Ctx {
        method: parts.method,
        segments,
        lower,
        query,
        headers: parts.headers,
        body,
        base_url,
        referer,
        request_id,
    };
    route(&state, &ctx).await
}

fn rewrite_health(mut req: Request) -> Request {
    if req.uri().path().eq_ignore_ascii_case("/healthz/ready") {
        *req.uri_mut() = http::Uri::from_static("/readyz");
    }
    req
}

fn percent_decode(s: &str) -> String {
    percent_decode_str(s)
}

fn percent_decode_str(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn not_found(ctx: &Ctx) -> Error {
    Error::arm(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "The requested path '/{}' could not be found.",
            ctx.segments.join("/")
        ),
    )
}

/// Validate the common URL parts of `/subscriptions/{sub}/...`.
fn check_subscription_id(sub: &str) -> Result<()> {
    if !crate::api::validate::is_uuid(sub) {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "InvalidSubscriptionID",
            format!("The provided subscription identifier '{sub}' is malformed or invalid."),
        ));
    }
    Ok(())
}

fn check_namespace_and_type(ctx: &Ctx, ns_index: usize) -> Result<()> {
    let ns = &ctx.lower[ns_index];
    if ns != "microsoft.redhatopenshift" {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "InvalidResourceNamespace",
            format!(
                "The resource namespace '{}' is invalid.",
                ctx.segments[ns_index]
            ),
        ));
    }
    Ok(())
}

fn check_location(state: &AppState, location: &str) -> Result<()> {
    if !location.eq_ignore_ascii_case(&state.config.location) {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "InvalidLocation",
            format!(
                "The provided location '{location}' is not supported by the resource provider."
            ),
        ));
    }
    Ok(())
}

fn check_operation_id(id: &str) -> Result<()> {
    if !crate::api::validate::is_uuid(id) {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "InvalidOperationID",
            format!("The provided operation identifier '{id}' is malformed or invalid."),
        ));
    }
    Ok(())
}

async fn route(state: &AppState, ctx: &Ctx) -> Result<Response> {
    let l: Vec<&str> = ctx.lower.iter().map(String::as_str).collect();
    let m = &ctx.method;
    match l.as_slice() {
        ["providers", "microsoft.redhatopenshift", "operations"] if m == Method::GET => {
            misc::operations(ctx)
        }
        ["subscriptions", sub] if m == Method::PUT || m == Method::GET => {
            check_subscription_id(sub)?;
            misc::subscription(state, ctx, sub).await
        }
        [
            "subscriptions",
            sub,
            "providers",
            _,
            "locations",
            loc,
            rest @ ..,
        ] => {
            check_subscription_id(sub)?;
            check_namespace_and_type(ctx, 3)?;
            check_location(state, loc)?;
            match (rest, m) {
                (["operationsstatus", id], &Method::GET) => {
                    check_operation_id(id)?;
                    clusters::operation_status(state, ctx, sub, id).await
                }
                (["operationresults", id], &Method::GET) => {
                    check_operation_id(id)?;
                    clusters::operation_result(state, ctx, sub, id).await
                }
                (["openshiftversions"], &Method::GET) => {
                    misc::versions(state, ctx, sub, None).await
                }
                (["openshiftversions", v], &Method::GET) => {
                    misc::versions(state, ctx, sub, Some(v)).await
                }
                (["platformworkloadidentityrolesets"], &Method::GET) => {
                    misc::role_sets(state, ctx, sub, None).await
                }
                (["platformworkloadidentityrolesets", v], &Method::GET) => {
                    misc::role_sets(state, ctx, sub, Some(v)).await
                }
                _ => Err(not_found(ctx)),
            }
        }
        ["subscriptions", sub, "providers", _, type_] if m == Method::GET => {
            check_subscription_id(sub)?;
            check_namespace_and_type(ctx, 3)?;
            check_type(ctx, type_, 4)?;
            clusters::list(state, ctx, sub, None).await
        }
        [
            "subscriptions",
            sub,
            "resourcegroups",
            rg,
            "providers",
            _,
            rest @ ..,
        ] => {
            check_subscription_id(sub)?;
            if !valid_group_name(rg) {
                return Err(Error::arm(
                    StatusCode::BAD_REQUEST,
                    "ResourceGroupNotFound",
                    format!("Resource group '{}' could not be found.", ctx.segments[3]),
                ));
            }
            check_namespace_and_type(ctx, 5)?;
            match rest {
                ["deployments", _, "preflight"] if m == Method::POST => misc::preflight(state, ctx),
                [type_] if m == Method::GET => {
                    check_type(ctx, type_, 6)?;
                    clusters::list(state, ctx, sub, Some(&ctx.segments[3])).await
                }
                [type_, name, action @ ..] => {
                    check_type(ctx, type_, 6)?;
                    if !valid_group_name(name) {
                        // 400 like the reference's request validation (a valid name that does
                        // not exist is a 404).
                        return Err(Error::arm(
                            StatusCode::BAD_REQUEST,
                            "ResourceNotFound",
                            format!(
                                "The Resource '{NAMESPACE}/openShiftClusters/{}' under resource group '{}' was not found.",
                                ctx.segments[7], ctx.segments[3]
                            ),
                        ));
                    }
                    let id = clusters::ResourceKey::from_ctx(ctx);
                    match (action, m) {
                        ([], &Method::GET) => clusters::get(state, ctx, &id).await,
                        ([], &Method::PUT) => clusters::put_or_patch(state, ctx, &id, false).await,
                        ([], &Method::PATCH) => clusters::put_or_patch(state, ctx, &id, true).await,
                        ([], &Method::DELETE) => clusters::delete(state, ctx, &id).await,
                        (["listcredentials"], &Method::POST) => {
                            clusters::credentials(state, ctx, &id, false).await
                        }
                        (["listadmincredentials"], &Method::POST) => {
                            clusters::credentials(state, ctx, &id, true).await
                        }
                        _ => Err(not_found(ctx)),
                    }
                }
                _ => Err(not_found(ctx)),
            }
        }
        ["admin", ..] => misc::admin(state, ctx).await,
        _ => Err(not_found(ctx)),
    }
}

fn check_type(ctx: &Ctx, type_: &str, index: usize) -> Result<()> {
    if type_ != "openshiftclusters" {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "InvalidResourceType",
            format!(
                "The resource type '{}' could not be found in the namespace '{NAMESPACE}'.",
                ctx.segments[index]
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names() {
        assert!(valid_group_name("My-RG_(1).x"));
        assert!(!valid_group_name("ends-with-dot."));
        assert!(!valid_group_name(&"a".repeat(91)));
        assert!(!valid_group_name(""));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode_str("a%20b"), "a b");
        assert_eq!(percent_decode_str("bad%zz"), "bad%zz");
        assert_eq!(percent_decode_str("end%2"), "end%2");
    }

    #[test]
    fn http_dates() {
        let t = chrono::DateTime::parse_from_rfc3339("2020-02-03T01:01:01Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(httpdate(t), "Mon, 03 Feb 2020 01:01:01 GMT");
    }
}
