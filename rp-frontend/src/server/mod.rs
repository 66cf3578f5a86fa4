//! The ARM server: request pipeline (request ids, authentication, request validation, body limits,
//! panics, metrics, logs) and routing onto the handlers, one module per resource: [`clusters`]
//! (clusters, their credentials and async operations; [`create_checks`] are a create's checks in
//! Azure), [`subscriptions`], [`versions`],
//! [`role_sets`], [`preflight`], [`provider_operations`], [`openapi`] and the admin API's global
//! routes ([`admin`]). [`management`] is their access to the management cluster;
//! [`availability`] what the frontend knows of that cluster's availability (cache freshness,
//! readiness); [`cluster_data`] what GET and list read from the clusters themselves.

pub mod admin;
pub mod auth;
pub mod availability;
pub mod cluster_data;
pub mod clusters;
pub mod create_checks;
pub mod management;
pub mod metrics;
pub mod openapi;
pub mod paging;
pub mod preflight;
pub mod provider_operations;
pub mod role_sets;
pub mod routes;
pub mod subscriptions;
pub mod versions;
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
    /// Host suffix managed identity URLs (`x-ms-identity-url`) must be under: the cloud's
    /// identity host (`identity.azure.net` in public Azure).
    pub identity_host_suffix: String,
    /// How GET and list read the live cluster (bound and cache).
    pub cluster_data: cluster_data::ClusterDataConfig,
    /// The RP's Azure identity, for the create-time checks of the customer's subscription
    /// ([`create_checks`]); `None` (a test setup without Azure) skips them.
    pub azure: Option<azure_clients::AzureClients>,
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
            identity_host_suffix: workload_identity::DEFAULT_IDENTITY_HOST_SUFFIX.to_string(),
            cluster_data: cluster_data::ClusterDataConfig::default(),
            azure: None,
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
    pub subscriptions: management::SubscriptionCache,
    /// Clusters as last watched: GETs read them without a round trip (read-your-writes kept).
    pub clusters: management::ClusterCache,
    /// What the clusters themselves report, cached per cluster: GET and list show it.
    pub cluster_data: cluster_data::ClusterData,
    /// Keeps [`AppState::health`]'s readiness (see [`availability::spawn_readiness`]).
    _readiness: tokio_util::task::AbortOnDropHandle<()>,
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
        let subscriptions = management::SubscriptionCache::start(client.clone());
        let clusters = management::ClusterCache::start(client.clone());
        let readiness = availability::spawn_readiness(
            client.clone(),
            vec![subscriptions.health().clone(), clusters.health().clone()],
            health.clone(),
        );
        let state = Arc::new(AppState {
            subscriptions,
            clusters,
            _readiness: readiness,
            cluster_data: cluster_data::ClusterData::new(config.cluster_data.clone()),
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
        ApiVersion::parse(raw).ok_or_else(|| unsupported_api_version(&self.lower, raw))
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

/// The `api-version` query parameter as the request gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiVersionParam {
    /// Not given.
    Absent,
    /// Given once, non-empty.
    One(String),
    /// Given once, empty.
    Empty,
    /// Given more than once (in any letter case): ambiguous.
    Repeated,
}

/// The query string, parsed once per request.
#[derive(Clone, Debug)]
pub struct Query {
    /// Every parameter, in order.
    pub pairs: Vec<(String, String)>,
    /// The `api-version` parameter.
    pub api_version: ApiVersionParam,
}

impl Query {
    /// Parse a query string.
    pub fn parse(query: Option<&str>) -> Query {
        let pairs = query_pairs(query);
        let mut versions = pairs
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("api-version"));
        let api_version = match (versions.next(), versions.next()) {
            (None, _) => ApiVersionParam::Absent,
            (Some(_), Some(_)) => ApiVersionParam::Repeated,
            (Some((_, v)), None) if v.is_empty() => ApiVersionParam::Empty,
            (Some((_, v)), None) => ApiVersionParam::One(v.clone()),
        };
        Query { pairs, api_version }
    }

    /// The single api-version, if one was given.
    pub fn api_version(&self) -> Option<&str> {
        match &self.api_version {
            ApiVersionParam::One(v) => Some(v),
            _ => None,
        }
    }

    /// 400 InvalidApiVersionParameter for an empty or repeated api-version.
    pub fn check(&self) -> Result<()> {
        let message = match self.api_version {
            ApiVersionParam::Absent | ApiVersionParam::One(_) => return Ok(()),
            ApiVersionParam::Empty => {
                "The api-version query parameter is empty; give exactly one supported api-version."
            }
            ApiVersionParam::Repeated => {
                "The api-version query parameter is given more than once; give exactly one."
            }
        };
        Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "InvalidApiVersionParameter",
            message,
        ))
    }
}

/// Entry point of every request: routing (path only), authentication, the middleware chain,
/// dispatch, then metrics, the request log and the audit log.
async fn entry(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    let request_id = request_id();
    let method = request.method().clone();
    let headers = request.headers().clone();
    let path = request.uri().path().to_string();
    let (segments, lower) = routes::split_path(&path);
    let route = routes::match_route(&lower);
    let query = Query::parse(request.uri().query());
    let now = chrono::Utc::now().timestamp();
    let caller = auth::Caller::identify(
        &state.config.auth,
        request.extensions().get::<PeerCertificate>(),
        now,
    );
    let peer = request
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "unknown".to_string());

    let routed = Routed {
        route,
        segments,
        lower,
        query: query.clone(),
        caller: caller.clone(),
    };
    let inner =
        std::panic::AssertUnwindSafe(handle(state.clone(), request, routed, request_id.clone()));
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
    let api_version = metrics::api_version_label(query.api_version());
    state.metrics.observe(
        route.template,
        metrics::method_label(&method),
        api_version,
        status,
        elapsed,
    );
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(log_safe)
            .unwrap_or_default()
    };
    tracing::info!(
        request_id,
        correlation_id = header_str("x-ms-correlation-request-id"),
        client_request_id = header_str("x-ms-client-request-id"),
        method = metrics::method_label(&method),
        route = route.template,
        api_version,
        status,
        latency_ms = elapsed.as_millis() as u64,
        "request"
    );
    let write = matches!(
        method,
        Method::PUT | Method::PATCH | Method::DELETE | Method::POST
    );
    if write || status == 401 || status == 403 {
        let outcome = match status {
            200..=399 => "succeeded",
            401 => "unauthenticated",
            403 => "forbidden",
            400..=499 => "rejected",
            _ => "failed",
        };
        // Who tried what and how it ended; never the body.
        tracing::info!(
            target: "audit",
            request_id,
            correlation_id = header_str("x-ms-correlation-request-id"),
            method = %log_safe(method.as_str()),
            route = route.template,
            path = %log_safe(&path),
            status,
            outcome,
            identity = caller.identity(),
            reason = caller.rejection.map(auth::Rejection::as_str).unwrap_or_default(),
            cert_sha256 = caller.fingerprint.as_deref().unwrap_or_default(),
            cert_subject = %caller.subject.as_deref().map(log_safe).unwrap_or_default(),
            principal_name = header_str("x-ms-client-principal-name"),
            principal_id = header_str("x-ms-client-principal-id"),
            object_id = header_str("x-ms-client-object-id"),
            tenant_id = header_str("x-ms-client-tenant-id"),
            peer,
            "audit"
        );
    }
    response
}

/// A caller-controlled value fit for a log line: at most 512 characters, control characters
/// replaced (no forged lines in plain-text logs).
fn log_safe(value: &str) -> String {
    value
        .chars()
        .take(512)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What the entry found before dispatch.
struct Routed {
    route: &'static routes::Route,
    segments: Vec<String>,
    lower: Vec<String>,
    query: Query,
    caller: auth::Caller,
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
    let mut response = json_response(status, &serde_json::json!({ "error": body }));
    if let Some(seconds) = e.retry_after() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
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

async fn handle(
    state: Arc<AppState>,
    request: Request,
    routed: Routed,
    request_id: String,
) -> Response {
    use tracing::Instrument;
    // Every log of the request, such as the details of an internal error the customer sees only
    // as `InternalServerError`, carries its request id.
    let span = tracing::error_span!("request", request_id = %request_id);
    match handle_inner(state, request, routed, request_id)
        .instrument(span.clone())
        .await
    {
        Ok(response) => response,
        Err(e) => span.in_scope(|| error_response(&e)),
    }
}

/// 400 InvalidResourceType for an api-version the route does not serve (as ARO-RP answers).
fn unsupported_api_version(lower: &[String], version: &str) -> Error {
    Error::arm(
        StatusCode::BAD_REQUEST,
        "InvalidResourceType",
        format!(
            "The resource type '{}' could not be found in the namespace '{NAMESPACE}' for api version '{version}'.",
            lower
                .get(6)
                .map(String::as_str)
                .unwrap_or("openshiftclusters")
        ),
    )
}

async fn handle_inner(
    state: Arc<AppState>,
    request: Request,
    routed: Routed,
    request_id: String,
) -> Result<Response> {
    use routes::RouteId;
    let Routed {
        route,
        mut segments,
        mut lower,
        query,
        caller,
    } = routed;
    let (mut parts, body) = request.into_parts();

    // Health needs no authentication (the load balancer probes it on this port).
    let health_path = match route.id {
        RouteId::Healthz => Some("/healthz"),
        RouteId::Livez => Some("/livez"),
        RouteId::Readyz | RouteId::HealthzReady => Some("/readyz"),
        _ => None,
    };
    if let Some(health_path) = health_path {
        parts.uri = http::Uri::from_static(health_path);
        let req = Request::from_parts(parts, Body::empty());
        return Ok(tower::ServiceExt::oneshot(state.health.router(), req)
            .await
            .unwrap_or_else(|never| match never {}));
    }

    // Authorization by the matched route's audience only; before anything that could tell an
    // unauthenticated client whether a path exists.
    caller.authorize(route.audience)?;
    query.check()?;
    if route.id == RouteId::Other {
        return Err(not_found_path(&segments));
    }
    if !route.allows(parts.method.as_str()) {
        return Ok(method_not_allowed(&parts.method, &segments, route));
    }
    // ARM refuses any request without an api-version before it reaches a provider; the
    // operations list accepts every version (ARO-RP does not check it: ARM fans the call out
    // to every service of the namespace), but not none.
    if route.id == RouteId::Operations && query.api_version == ApiVersionParam::Absent {
        return Err(Error::arm(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    // `admin` is the admin audience's api-version: on ARM routes it is an unsupported version,
    // on admin routes nothing else is accepted.
    match (route.audience, query.api_version()) {
        (auth::Audience::Arm, Some("admin")) => {
            return Err(unsupported_api_version(&lower, "admin"));
        }
        (auth::Audience::Admin, Some(v)) if v != "admin" => {
            return Err(unsupported_api_version(&lower, v));
        }
        _ => {}
    }
    let mut query_pairs = query.pairs;
    if route.id == RouteId::AdminCluster {
        // The admin view of a cluster: the cluster handlers see the ARM path and
        // `api-version=admin`.
        segments.remove(0);
        lower.remove(0);
        if query.api_version == ApiVersionParam::Absent {
            query_pairs.push(("api-version".into(), "admin".into()));
        }
    }

    if matches!(route.id, RouteId::OpenApi | RouteId::OpenApiIndex) {
        return openapi::get(&lower);
    }

    workload_identity::check_identity_headers(&parts.headers, &state.config.identity_host_suffix)?;

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

    let (base_url, referer) = polling_base(
        parts
            .headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok()),
        parts.extensions.get::<http::uri::Scheme>(),
        parts.uri.authority().map(|a| a.as_str()).or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
        }),
        &parts.uri,
    );
    let ctx = Ctx {
        method: parts.method,
        segments,
        lower,
        query: query_pairs,
        headers: parts.headers,
        body,
        base_url,
        referer,
        request_id,
    };
    dispatch(&state, &ctx, route.id).await
}

/// Where polling URLs (`Azure-AsyncOperation`, `Location`) point, and the Referer the request is
/// taken to have. ARM's front door sends the caller's URL as `Referer`, and the RP answers with
/// URLs on that host, as ARO-RP does. A client that reaches the frontend directly (the SDK or curl
/// against `aro local` or `aro frontend`) sends none: the URLs then lead back to this listener,
/// by the scheme the request came in on and the host it addressed (`:authority` or `Host`).
fn polling_base(
    referer: Option<&str>,
    scheme: Option<&http::uri::Scheme>,
    authority: Option<&str>,
    uri: &http::Uri,
) -> (String, String) {
    if let Some(referer) = referer
        && let Ok(parsed) = referer.parse::<http::Uri>()
        && let (Some(scheme), Some(authority)) = (parsed.scheme_str(), parsed.authority())
    {
        return (format!("{scheme}://{authority}"), referer.to_string());
    }
    let scheme = scheme.map_or("https", http::uri::Scheme::as_str);
    // A Host that is not a valid authority cannot be echoed into a URL; without one, the
    // frontend's default listener address is the best guess.
    let authority = authority
        .and_then(|a| a.parse::<http::uri::Authority>().ok())
        .map_or_else(|| "localhost:8443".to_string(), |a| a.to_string());
    let base = format!("{scheme}://{authority}");
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let referer = format!("{base}{path}");
    (base, referer)
}

/// 405 for a method the route does not define (the swagger's), with ARM's error body and the
/// `Allow` header of the methods it does.
fn method_not_allowed(method: &Method, segments: &[String], route: &routes::Route) -> Response {
    let allow = route.methods.join(", ");
    let mut response = error_response(&Error::arm(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "The method '{}' is not allowed on '/{}'. Allowed: {allow}.",
            log_safe(method.as_str()),
            segments.join("/")
        ),
    ));
    if let Ok(v) = HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, v);
    }
    response
}

fn not_found(ctx: &Ctx) -> Error {
    not_found_path(&ctx.segments)
}

fn not_found_path(segments: &[String]) -> Error {
    Error::arm(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "The requested path '/{}' could not be found.",
            segments.join("/")
        ),
    )
}

/// 400 InvalidResourceType for an endpoint that `version` does not have (as ARO-RP answers).
pub fn endpoint_not_in_version(version: ApiVersion) -> Error {
    Error::arm(
        StatusCode::BAD_REQUEST,
        "InvalidResourceType",
        format!(
            "The endpoint could not be found in the namespace '{NAMESPACE}' for api version '{version}'."
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

/// Dispatch a routed, authorized request onto its handler (the route table decided the shape
/// of the path; the handlers' own checks validate its values).
async fn dispatch(state: &AppState, ctx: &Ctx, id: routes::RouteId) -> Result<Response> {
    use routes::RouteId::*;
    let l: Vec<&str> = ctx.lower.iter().map(String::as_str).collect();
    let m = &ctx.method;
    match id {
        Operations if m == Method::GET => provider_operations::list(),
        Subscription if m == Method::PUT || m == Method::GET => {
            check_subscription_id(l[1])?;
            subscriptions::put_or_get(state, ctx, l[1]).await
        }
        OperationStatus | OperationResult | Versions | Version | RoleSets | RoleSet
            if m == Method::GET =>
        {
            let sub = l[1];
            check_subscription_id(sub)?;
            check_namespace_and_type(ctx, 3)?;
            check_location(state, l[5])?;
            match id {
                OperationStatus => {
                    check_operation_id(l[7])?;
                    clusters::operation_status(state, ctx, sub, l[7]).await
                }
                OperationResult => {
                    check_operation_id(l[7])?;
                    clusters::operation_result(state, ctx, sub, l[7]).await
                }
                Versions => versions::get(state, ctx, sub, None).await,
                Version => versions::get(state, ctx, sub, Some(l[7])).await,
                RoleSets => role_sets::get(state, ctx, sub, None).await,
                _ => role_sets::get(state, ctx, sub, Some(l[7])).await,
            }
        }
        SubscriptionClusters if m == Method::GET => {
            check_subscription_id(l[1])?;
            check_namespace_and_type(ctx, 3)?;
            check_type(ctx, l[4], 4)?;
            clusters::list(state, ctx, l[1], None).await
        }
        Preflight
        | ResourceGroupClusters
        | Cluster
        | ListCredentials
        | ListAdminCredentials
        | AdminCluster => {
            let sub = l[1];
            check_subscription_id(sub)?;
            if !valid_group_name(l[3]) {
                return Err(Error::arm(
                    StatusCode::BAD_REQUEST,
                    "ResourceGroupNotFound",
                    format!("Resource group '{}' could not be found.", ctx.segments[3]),
                ));
            }
            check_namespace_and_type(ctx, 5)?;
            match id {
                Preflight if m == Method::POST => preflight::check(state, ctx).await,
                ResourceGroupClusters if m == Method::GET => {
                    check_type(ctx, l[6], 6)?;
                    clusters::list(state, ctx, sub, Some(&ctx.segments[3])).await
                }
                Cluster | ListCredentials | ListAdminCredentials | AdminCluster => {
                    check_type(ctx, l[6], 6)?;
                    if !valid_group_name(l[7]) {
                        // 400 like ARO-RP's request validation (a valid name that does
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
                    let key = clusters::ResourceKey::from_ctx(ctx);
                    match (id, m) {
                        (Cluster | AdminCluster, &Method::GET) => {
                            clusters::get(state, ctx, &key).await
                        }
                        (Cluster | AdminCluster, &Method::PUT) => {
                            clusters::put_or_patch(state, ctx, &key, false).await
                        }
                        (Cluster | AdminCluster, &Method::PATCH) => {
                            clusters::put_or_patch(state, ctx, &key, true).await
                        }
                        (Cluster, &Method::DELETE) => clusters::delete(state, ctx, &key).await,
                        (ListCredentials, &Method::POST) => {
                            clusters::credentials(state, ctx, &key, false).await
                        }
                        (ListAdminCredentials, &Method::POST) => {
                            clusters::credentials(state, ctx, &key, true).await
                        }
                        _ => Err(not_found(ctx)),
                    }
                }
                _ => Err(not_found(ctx)),
            }
        }
        AdminVersions | AdminRoleSets | AdminClusters | AdminProviderClusters => {
            admin::handle(state, ctx).await
        }
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
    fn polling_urls_follow_the_referer_else_lead_back_to_this_listener() {
        let uri: http::Uri = "/subscriptions/s/resourceGroups/rg?api-version=2023-11-22"
            .parse()
            .unwrap();
        let https = http::uri::Scheme::HTTPS;
        let plain = http::uri::Scheme::HTTP;
        // ARM's front door: its Referer decides, whatever this listener is.
        let (base, referer) = polling_base(
            Some("https://management.azure.com/subscriptions/s?api-version=x"),
            Some(&plain),
            Some("10.0.0.5:8443"),
            &uri,
        );
        assert_eq!(base, "https://management.azure.com");
        assert_eq!(
            referer,
            "https://management.azure.com/subscriptions/s?api-version=x"
        );
        // Straight at the frontend: the request's own scheme and host.
        let (base, referer) = polling_base(None, Some(&plain), Some("127.0.0.1:40123"), &uri);
        assert_eq!(base, "http://127.0.0.1:40123");
        assert_eq!(
            referer,
            "http://127.0.0.1:40123/subscriptions/s/resourceGroups/rg?api-version=2023-11-22"
        );
        let (base, _) = polling_base(None, Some(&https), Some("rp.example:443"), &uri);
        assert_eq!(base, "https://rp.example:443");
        // A Referer without scheme or host is not a URL to build on.
        let (base, _) = polling_base(Some("/relative"), Some(&https), Some("h:1"), &uri);
        assert_eq!(base, "https://h:1");
        // No usable host: the default listener address, never the bad value echoed.
        let (base, _) = polling_base(None, Some(&https), Some("bad host/x"), &uri);
        assert_eq!(base, "https://localhost:8443");
        let (base, _) = polling_base(None, None, None, &uri);
        assert_eq!(base, "https://localhost:8443");
    }

    #[test]
    fn group_names() {
        assert!(valid_group_name("My-RG_(1).x"));
        assert!(!valid_group_name("ends-with-dot."));
        assert!(!valid_group_name(&"a".repeat(91)));
        assert!(!valid_group_name(""));
    }

    #[test]
    fn api_version_is_given_at_most_once() {
        let q = |s: &str| Query::parse(Some(s)).api_version;
        assert_eq!(
            q("api-version=2023-11-22"),
            ApiVersionParam::One("2023-11-22".into())
        );
        assert_eq!(q("a=b"), ApiVersionParam::Absent);
        assert_eq!(q("api-version="), ApiVersionParam::Empty);
        assert_eq!(q("api-version"), ApiVersionParam::Empty);
        for repeated in [
            "api-version=2023-11-22&api-version=admin",
            "api-version=admin&api-version=admin",
            "api-version=2023-11-22&API-Version=admin",
            "api-version=2023-11-22&api%2Dversion=admin",
        ] {
            assert_eq!(q(repeated), ApiVersionParam::Repeated, "{repeated}");
            let e = Query::parse(Some(repeated)).check().unwrap_err();
            let (status, body) = e.to_status_and_body();
            assert_eq!(
                (status.as_u16(), body.code.as_str()),
                (400, "InvalidApiVersionParameter")
            );
        }
        assert!(Query::parse(None).check().is_ok());
    }

    #[test]
    fn log_values_stay_on_one_line() {
        assert_eq!(log_safe("a\nb\r\u{1b}"), "a?b??");
        assert_eq!(log_safe(&"x".repeat(600)).len(), 512);
    }

    #[test]
    fn http_dates() {
        let t = chrono::DateTime::parse_from_rfc3339("2020-02-03T01:01:01Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(httpdate(t), "Mon, 03 Feb 2020 01:01:01 GMT");
    }
}
