//! HTTP layer: the AAD token endpoint, ARM requests (authentication, fault injection, request log),
//! and the admin API.

use crate::config::{FaultConfig, OpType, Principal, Seed};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::request::{ArmRequest, Caller, Reply};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use chrono::{SecondsFormat, Utc};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One logged ARM request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    /// Sequence number, from 1.
    pub seq: u64,
    /// RFC 3339 time the answer was sent.
    pub time: String,
    /// HTTP method.
    pub method: String,
    /// Decoded path (no query).
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Status answered.
    pub status: u16,
    /// Status the emulator's own processing produced, when the request was processed. Differs
    /// from `status` when an injected fault replaced the answer after the request took effect;
    /// `processedStatus == 201` counts real creations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processed_status: Option<u16>,
    /// Operation type.
    pub operation: OpType,
    /// Object id of the caller, when authenticated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// Whether fault injection produced (or replaced) the answer.
    pub injected: bool,
    /// Milliseconds spent answering.
    pub duration_ms: u64,
}

/// One logged token request: which tenant it went to, for which client, and the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedTokenRequest {
    /// Sequence number, from 1.
    pub seq: u64,
    /// RFC 3339 time the answer was sent.
    pub time: String,
    /// Tenant of the token path (`/{tenant}/oauth2/...`).
    pub tenant: String,
    /// `client_id` of the request.
    pub client_id: String,
    /// Status answered.
    pub status: u16,
    /// The AADSTS error, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Token requests kept (the oldest are dropped first).
const TOKEN_LOG_CAPACITY: usize = 1024;

struct Token {
    caller: Caller,
    expires: Instant,
}

/// Issued access tokens, bounded: all share one lifetime, so issue order is expiry order and the
/// front of `order` is always the next to expire (or the oldest to forget when full).
struct Tokens {
    by_value: HashMap<String, Token>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Tokens {
    fn new(capacity: usize) -> Self {
        Self {
            by_value: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn insert(&mut self, value: String, token: Token) {
        let now = Instant::now();
        while let Some(oldest) = self.order.front() {
            let expired = self.by_value.get(oldest).is_none_or(|t| t.expires <= now);
            if !expired && self.order.len() < self.capacity {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.by_value.remove(&oldest);
            }
        }
        self.order.push_back(value.clone());
        self.by_value.insert(value, token);
    }

    fn get(&self, value: &str) -> Option<&Token> {
        self.by_value.get(value)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_value.len()
    }
}

/// The request log, a ring buffer: the oldest entries drop once `capacity` is reached; sequence
/// numbers keep counting (from 1 after a clear).
/// A bounded log (ring buffer) whose entries are numbered from 1: the request log and the token
/// request log. The oldest entries are dropped first; numbers keep counting.
struct SeqLog<T> {
    entries: VecDeque<T>,
    next_seq: u64,
    capacity: usize,
}

/// An entry of a [`SeqLog`]: it carries its own sequence number.
trait Sequenced {
    fn set_seq(&mut self, seq: u64);
}

impl Sequenced for LoggedRequest {
    fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }
}

impl Sequenced for LoggedTokenRequest {
    fn set_seq(&mut self, seq: u64) {
        self.seq = seq;
    }
}

impl<T: Sequenced> SeqLog<T> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            next_seq: 1,
            capacity,
        }
    }

    fn push(&mut self, mut entry: T) -> u64 {
        entry.set_seq(self.next_seq);
        self.next_seq += 1;
        while self.entries.len() >= self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(entry);
        self.next_seq - 1
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.next_seq = 1;
    }
}

/// Bounds and lifetimes of what the emulator remembers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub token_lifetime: Duration,
    pub max_tokens: usize,
    pub max_logged_requests: usize,
}

struct Faults {
    config: FaultConfig,
    rng: StdRng,
    /// Errors injected so far, per rule.
    fired: Vec<u64>,
}

impl Faults {
    fn new(config: FaultConfig) -> Self {
        let rng = match config.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        };
        let fired = vec![0; config.rules.len()];
        Self { config, rng, fired }
    }
}

/// What fault injection decided for one request.
struct FaultDecision {
    latency: Duration,
    error: Option<(ApiError, bool)>,
    fail_operation: bool,
}

/// Shared state of a running emulator.
pub struct App {
    pub(crate) engine: Mutex<Engine>,
    principals: Mutex<Vec<Principal>>,
    tokens: Mutex<Tokens>,
    faults: Mutex<Faults>,
    log: Mutex<SeqLog<LoggedRequest>>,
    token_log: Mutex<SeqLog<LoggedTokenRequest>>,
    token_lifetime: Duration,
    initial_seeds: Vec<Seed>,
    pub(crate) base_url: String,
    /// The blobs of the emulated storage accounts (`blob`).
    pub(crate) blobs: Mutex<crate::blob::BlobStore>,
}

impl App {
    pub(crate) fn new(
        engine: Engine,
        principals: Vec<Principal>,
        faults: FaultConfig,
        limits: Limits,
        initial_seeds: Vec<Seed>,
        base_url: String,
    ) -> Self {
        Self {
            engine: Mutex::new(engine),
            principals: Mutex::new(principals),
            tokens: Mutex::new(Tokens::new(limits.max_tokens)),
            faults: Mutex::new(Faults::new(faults)),
            log: Mutex::new(SeqLog::new(limits.max_logged_requests)),
            token_log: Mutex::new(SeqLog::new(TOKEN_LOG_CAPACITY)),
            token_lifetime: limits.token_lifetime,
            initial_seeds,
            base_url,
            blobs: Mutex::new(Default::default()),
        }
    }

    /// Applies a seed: principals, then everything else.
    pub fn apply_seed(&self, seed: &Seed) -> Result<(), crate::Error> {
        {
            let mut principals = self.principals.lock();
            for p in &seed.principals {
                principals.retain(|q| !q.client_id.eq_ignore_ascii_case(&p.client_id));
                principals.push(p.clone());
            }
        }
        self.engine.lock().apply_seed(seed)
    }

    /// Makes principal `client_id` accept `assertion` (and no longer the previous one) as its
    /// federated credential.
    pub fn set_federated_token(
        &self,
        client_id: &str,
        assertion: &str,
    ) -> Result<(), crate::Error> {
        let mut principals = self.principals.lock();
        let principal = principals
            .iter_mut()
            .find(|p| p.client_id.eq_ignore_ascii_case(client_id))
            .ok_or_else(|| crate::Error::UnknownPrincipal(client_id.to_string()))?;
        principal.federated_token = Some(assertion.into());
        tracing::info!(client_id, "federated credential rotated");
        Ok(())
    }

    /// Replaces the fault configuration.
    pub fn set_faults(&self, config: FaultConfig) -> Result<(), crate::Error> {
        config.validate().map_err(crate::Error::InvalidFaults)?;
        *self.faults.lock() = Faults::new(config);
        Ok(())
    }

    /// The fault configuration in force.
    pub fn faults(&self) -> FaultConfig {
        self.faults.lock().config.clone()
    }

    /// The request log (oldest first).
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.lock().entries.iter().cloned().collect()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.log.lock().clear();
    }

    /// The token request log (oldest first; the last [`TOKEN_LOG_CAPACITY`] requests).
    pub fn token_requests(&self) -> Vec<LoggedTokenRequest> {
        self.token_log.lock().entries.iter().cloned().collect()
    }

    fn log_token_request(&self, tenant: &str, client_id: &str, status: u16, error: Option<&str>) {
        self.token_log.lock().push(LoggedTokenRequest {
            seq: 0,
            time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            tenant: tenant.to_string(),
            client_id: client_id.to_string(),
            status,
            error: error.map(str::to_string),
        });
    }

    /// Forgets all resources, operations and log entries (principals and issued tokens stay, so
    /// clients with cached tokens keep working); optionally re-applies the start-up seeds.
    pub fn reset(&self, reseed: bool) -> Result<(), crate::Error> {
        self.engine.lock().reset();
        self.blobs.lock().clear();
        self.log.lock().clear();
        if reseed {
            for s in &self.initial_seeds {
                self.apply_seed(s)?;
            }
        }
        Ok(())
    }

    /// Every resource, rendered.
    pub fn dump(&self) -> Vec<Value> {
        self.engine.lock().dump()
    }

    fn decide_faults(&self, op: OpType, path: &str) -> FaultDecision {
        let mut faults = self.faults.lock();
        let Faults { config, rng, fired } = &mut *faults;
        let mut latency = Duration::ZERO;
        let mut error = None;
        let mut fail_operation = false;
        for (index, rule) in config
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.matches(op, path))
        {
            latency += Duration::from_millis(rule.latency_ms);
            let exhausted = rule.max_faults.is_some_and(|max| fired[index] >= max);
            if !exhausted && !fail_operation && rule.operation_failure_rate > 0.0 {
                let roll: f64 = rng.random();
                if roll < rule.operation_failure_rate {
                    fail_operation = true;
                    fired[index] += 1;
                    continue;
                }
            }
            if error.is_some() || exhausted || (rule.error_rate == 0.0 && rule.throttle_rate == 0.0)
            {
                continue;
            }
            let roll: f64 = rng.random();
            if roll < rule.throttle_rate + rule.error_rate {
                fired[index] += 1;
            }
            if roll < rule.throttle_rate {
                let mut e = ApiError::new(
                    429,
                    "TooManyRequests",
                    format!(
                        "The request is being throttled as the limit has been reached for operation type - {op:?}. Please retry after {} seconds.",
                        rule.retry_after_secs
                    ),
                );
                e.retry_after_secs = Some(rule.retry_after_secs);
                error = Some((e, rule.after_processing));
            } else if roll < rule.throttle_rate + rule.error_rate {
                let mut e = if rule.error_status == 503 {
                    ApiError::new(
                        503,
                        "ServiceUnavailable",
                        "The service is temporarily unavailable. Please retry later.",
                    )
                } else {
                    ApiError::new(
                        rule.error_status,
                        "InternalServerError",
                        "Encountered internal server error. Diagnostic information: injected fault.",
                    )
                };
                if rule.error_status == 503 {
                    e.retry_after_secs = Some(rule.retry_after_secs);
                }
                error = Some((e, rule.after_processing));
            }
        }
        FaultDecision {
            latency,
            error,
            fail_operation,
        }
    }

    pub(crate) fn caller_for(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Err(ApiError::new(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            ));
        };
        let value = value.to_str().unwrap_or_default();
        let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        else {
            return Err(ApiError::new(
                401,
                "AuthenticationFailedInvalidHeader",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            ));
        };
        let tokens = self.tokens.lock();
        match tokens.get(token.trim()) {
            Some(t) if t.expires > Instant::now() => Ok(t.caller.clone()),
            Some(_) => Err(ApiError::new(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )),
            None => Err(ApiError::new(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            )),
        }
    }
}

/// The router of the whole emulator.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(|| async { "ok" }))
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/{tenant}/oauth2/token", post(token))
        .merge(admin_router())
        .merge(crate::blob::router())
        .fallback(arm)
        .layer(axum::extract::DefaultBodyLimit::max(4 * 1024 * 1024))
        .with_state(app)
}

/// The admin API: it rewrites the emulated world and reads what callers sent, so only processes
/// of this machine (loopback peers) may call it, even when the emulator listens on all addresses.
fn admin_router() -> Router<Arc<App>> {
    Router::new()
        .route("/_admin/faults", get(get_faults).put(put_faults))
        .route(
            "/_admin/requests",
            get(get_requests).delete(delete_requests),
        )
        .route("/_admin/token-requests", get(get_token_requests))
        .route("/_admin/seed", post(post_seed))
        .route("/_admin/reset", post(post_reset))
        .route("/_admin/state", get(get_state))
        .route(
            "/_admin/principals/{client_id}/federatedToken",
            put(put_federated_token),
        )
        .route_layer(axum::middleware::from_fn(loopback_only))
}

/// Whether a peer may call the admin API: a loopback address (IPv4-mapped ones too). Without a
/// known peer the answer is no.
pub(crate) fn admin_peer_allowed(peer: Option<SocketAddr>) -> bool {
    peer.is_some_and(|p| p.ip().to_canonical().is_loopback())
}

async fn loopback_only(request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if !admin_peer_allowed(peer) {
        let peer = peer
            .map(|p| p.to_string())
            .unwrap_or_else(|| "unknown".into());
        tracing::warn!(%peer, path = request.uri().path(), "admin request from a non-loopback peer refused");
        return admin_error(
            StatusCode::FORBIDDEN,
            format!("the admin API only answers loopback clients; peer {peer} refused"),
        );
    }
    next.run(request).await
}

// ------------------------------------------------------------------ token endpoint

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description, "error_codes": [], "timestamp": Utc::now().to_rfc3339()}))).into_response()
}

/// An access token shaped like Entra ID's: a JWT whose claims name the principal (`oid`, `appid`,
/// `tid`), which clients such as the RP read without verifying it. The emulator itself looks the
/// whole token up; its third part is random, not a signature.
fn access_token(principal: &Principal, tenant: &str, lifetime: Duration) -> String {
    use base64::Engine;
    let encode = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = Utc::now().timestamp();
    let header = json!({"typ": "JWT", "alg": "none"});
    let claims = json!({
        "aud": "https://management.azure.com/",
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "iat": now,
        "nbf": now,
        "exp": now + lifetime.as_secs() as i64,
        "appid": principal.client_id,
        "oid": principal.object_id,
        "sub": principal.object_id,
        "tid": principal.tenant_id.as_deref().unwrap_or(tenant),
        "idtyp": "app",
    });
    format!(
        "{}.{}.{}",
        encode(&header),
        encode(&claims),
        uuid::Uuid::new_v4().simple()
    )
}

async fn token(State(app): State<Arc<App>>, Path(tenant): Path<String>, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let (response, error) = issue_token(&app, &tenant, &form);
    let client_id = form
        .get("client_id")
        .map(String::as_str)
        .unwrap_or_default();
    app.log_token_request(
        &tenant,
        client_id,
        response.status().as_u16(),
        error.as_deref(),
    );
    response
}

/// The token endpoint's answer, and the AADSTS error when it refused.
fn issue_token(
    app: &App,
    tenant: &str,
    form: &HashMap<String, String>,
) -> (Response, Option<String>) {
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            oauth_error(status, error, description),
            Some(description.to_string()),
        )
    };
    let grant = form
        .get("grant_type")
        .map(String::as_str)
        .unwrap_or_default();
    if grant != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type; only client_credentials is emulated.",
        );
    }
    let Some(client_id) = form.get("client_id") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        );
    };
    let principal = app
        .principals
        .lock()
        .iter()
        .find(|p| p.client_id.eq_ignore_ascii_case(client_id))
        .cloned();
    let Some(principal) = principal else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    // A principal lives in one tenant: asking another tenant for its token is refused as Entra
    // ID refuses an application unknown to that directory.
    if let Some(t) = &principal.tenant_id
        && !t.eq_ignore_ascii_case(tenant)
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant."
            ),
        );
    }
    let secret_ok = principal.client_secret.is_some()
        && form.get("client_secret") == principal.client_secret.as_ref().map(|s| s.expose());
    let assertion_ok = principal.federated_token.is_some()
        && form.get("client_assertion_type").map(String::as_str)
            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        && form.get("client_assertion") == principal.federated_token.as_ref().map(|s| s.expose());
    if !secret_ok && !assertion_ok && form.contains_key("client_assertion") {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!(
                "AADSTS700213: No matching federated identity record found for presented assertion of app '{client_id}'."
            ),
        );
    }
    if !secret_ok && !assertion_ok {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!(
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value for app '{client_id}'."
            ),
        );
    }
    let access_token = access_token(&principal, tenant, app.token_lifetime);
    app.tokens.lock().insert(
        access_token.clone(),
        Token {
            caller: Caller {
                client_id: principal.client_id.clone(),
                object_id: principal.object_id.clone(),
                restricted: principal.restricted,
            },
            expires: Instant::now() + app.token_lifetime,
        },
    );
    let secs = app.token_lifetime.as_secs();
    (
        axum::Json(json!({"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": access_token})).into_response(),
        None,
    )
}

// ------------------------------------------------------------------ ARM requests

fn header_text(headers: &HeaderMap, name: http::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn arm_response(reply: Result<Reply, ApiError>) -> Response {
    let (status, body, headers) = match reply {
        Ok(r) => (r.status, r.body, r.headers),
        Err(e) => {
            let mut headers = Vec::new();
            if let Some(s) = e.retry_after_secs {
                headers.push(("retry-after", s.to_string()));
            }
            (e.status, Some(e.body()), headers)
        }
    };
    let mut response = match body {
        Some(b) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            axum::Json(b),
        )
            .into_response(),
        None => StatusCode::from_u16(status)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response(),
    };
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    response
}

async fn arm(
    State(app): State<Arc<App>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let raw_path = uri.path();
    // ARM tolerates repeated slashes (SDKs build `/{scope}/...` and `{parent}/{type}` paths that
    // double them when a part is empty or starts with a slash).
    let mut path = percent_encoding::percent_decode_str(raw_path)
        .decode_utf8_lossy()
        .to_string();
    while path.contains("//") {
        path = path.replace("//", "/");
    }
    let query_string = uri.query().unwrap_or_default().to_string();
    let query: Vec<(String, String)> = form_urlencoded::parse(query_string.as_bytes())
        .into_owned()
        .collect();
    let op = OpType::of(&method);

    let decision = app.decide_faults(op, &path);
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let caller = app.caller_for(&headers);
    let principal = caller.as_ref().ok().map(|c| c.object_id.clone());
    let mut injected = false;
    let mut processed_status = None;
    let result = match caller {
        Err(e) => Err(e),
        Ok(caller) => match decision.error {
            Some((e, false)) => {
                injected = true;
                Err(e)
            }
            after => {
                let parsed_body = if body.is_empty() {
                    Ok(None)
                } else {
                    serde_json::from_slice::<Value>(&body).map(Some).map_err(|e| {
                        ApiError::bad_request("InvalidRequestContent", format!("The request content was invalid and could not be deserialized: {e}."))
                    })
                };
                let result = parsed_body.and_then(|parsed| {
                    let req = ArmRequest {
                        method: &method,
                        path: &path,
                        query: &query,
                        body: parsed,
                        base_url: &app.base_url,
                        caller: &caller,
                        fail_operation: decision.fail_operation,
                        if_match: header_text(&headers, http::header::IF_MATCH),
                        if_none_match: header_text(&headers, http::header::IF_NONE_MATCH),
                    };
                    app.engine.lock().handle(&req)
                });
                processed_status = Some(match &result {
                    Ok(r) => r.status,
                    Err(e) => e.status,
                });
                match after {
                    Some((e, true)) => {
                        injected = true;
                        Err(e)
                    }
                    _ => result,
                }
            }
        },
    };
    let status = match &result {
        Ok(r) => r.status,
        Err(e) => e.status,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let correlation = headers
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| request_id.clone());
    let mut response = arm_response(result);
    if status == 401 {
        response.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\""),
        );
    }
    for (name, value) in [
        ("x-ms-request-id", request_id.clone()),
        ("x-ms-correlation-request-id", correlation),
        ("x-ms-routing-request-id", format!("LOCAL:{request_id}")),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
    let seq = app.log.lock().push(LoggedRequest {
        seq: 0,
        time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        method: method.to_string(),
        path,
        query: query_string,
        status,
        processed_status,
        operation: op,
        principal,
        injected,
        duration_ms: started.elapsed().as_millis() as u64,
    });
    tracing::debug!(%method, status, seq, "arm request");
    response
}

// ------------------------------------------------------------------ admin API

fn admin_error(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": "InvalidAdminRequest", "message": message}})),
    )
        .into_response()
}

async fn get_faults(State(app): State<Arc<App>>) -> Response {
    axum::Json(app.faults()).into_response()
}

async fn put_faults(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match serde_yaml::from_str::<FaultConfig>(&text) {
        Ok(cfg) => match app.set_faults(cfg) {
            Ok(()) => axum::Json(app.faults()).into_response(),
            Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
        },
        Err(e) => admin_error(
            StatusCode::BAD_REQUEST,
            format!("invalid fault configuration: {e}"),
        ),
    }
}

#[derive(Deserialize)]
struct RequestsQuery {
    since: Option<u64>,
}

async fn get_requests(State(app): State<Arc<App>>, Query(q): Query<RequestsQuery>) -> Response {
    let since = q.since.unwrap_or(0);
    let list: Vec<LoggedRequest> = app
        .requests()
        .into_iter()
        .filter(|r| r.seq > since)
        .collect();
    axum::Json(json!({ "value": list })).into_response()
}

async fn get_token_requests(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!({ "value": app.token_requests() })).into_response()
}

async fn delete_requests(State(app): State<Arc<App>>) -> Response {
    app.clear_requests();
    StatusCode::NO_CONTENT.into_response()
}

async fn post_seed(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let seed = match Seed::parse(&String::from_utf8_lossy(&body)) {
        Ok(s) => s,
        Err(e) => return admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    match app.apply_seed(&seed) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(Deserialize)]
struct ResetQuery {
    reseed: Option<bool>,
}

async fn post_reset(State(app): State<Arc<App>>, Query(q): Query<ResetQuery>) -> Response {
    match app.reset(q.reseed.unwrap_or(false)) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FederatedTokenBody {
    federated_token: String,
}

async fn put_federated_token(
    State(app): State<Arc<App>>,
    Path(client_id): Path<String>,
    body: Bytes,
) -> Response {
    let body: FederatedTokenBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return admin_error(
                StatusCode::BAD_REQUEST,
                format!("expected {{\"federatedToken\": \"...\"}}: {e}"),
            );
        }
    };
    if body.federated_token.is_empty() {
        return admin_error(StatusCode::BAD_REQUEST, "federatedToken is empty".into());
    }
    match app.set_federated_token(&client_id, &body.federated_token) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => admin_error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn get_state(State(app): State<Arc<App>>) -> Response {
    axum::Json(json!({ "value": app.dump() })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineSettings;
    use tower::ServiceExt;

    fn caller() -> Caller {
        Caller {
            client_id: "c".into(),
            object_id: "o".into(),
            restricted: false,
        }
    }

    fn app(limits: Limits) -> Arc<App> {
        let config = crate::EmulatorConfig::default();
        Arc::new(App::new(
            Engine::new(EngineSettings {
                lro_delay: config.lro_delay,
                lro_retry_after_secs: 0,
                locations: config.locations,
                subscriptions: Vec::new(),
                tenant_id: config.tenant_id,
            }),
            Vec::new(),
            FaultConfig::default(),
            limits,
            Vec::new(),
            "http://127.0.0.1:1".into(),
        ))
    }

    const LIMITS: Limits = Limits {
        token_lifetime: Duration::from_secs(3600),
        max_tokens: 3,
        max_logged_requests: 4,
    };

    #[test]
    fn the_token_map_forgets_the_oldest_beyond_its_capacity() {
        let mut tokens = Tokens::new(3);
        let later = Instant::now() + Duration::from_secs(3600);
        for i in 0..10 {
            tokens.insert(
                format!("t{i}"),
                Token {
                    caller: caller(),
                    expires: later,
                },
            );
            assert!(tokens.len() <= 3);
        }
        assert_eq!(tokens.len(), 3);
        assert!(tokens.get("t6").is_none());
        assert!(["t7", "t8", "t9"].iter().all(|t| tokens.get(t).is_some()));
    }

    #[test]
    fn expired_tokens_are_forgotten() {
        let mut tokens = Tokens::new(100);
        for i in 0..50 {
            tokens.insert(
                format!("old{i}"),
                Token {
                    caller: caller(),
                    expires: Instant::now(),
                },
            );
        }
        tokens.insert(
            "fresh".into(),
            Token {
                caller: caller(),
                expires: Instant::now() + Duration::from_secs(60),
            },
        );
        assert_eq!(tokens.len(), 1);
        assert!(tokens.get("fresh").is_some());
    }

    #[test]
    fn the_request_log_is_a_ring_buffer() {
        let app = app(LIMITS);
        let entry = |path: &str| LoggedRequest {
            seq: 0,
            time: String::new(),
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            status: 200,
            processed_status: None,
            operation: OpType::Read,
            principal: None,
            injected: false,
            duration_ms: 0,
        };
        for i in 1..=10 {
            assert_eq!(app.log.lock().push(entry(&format!("/{i}"))), i);
        }
        let seqs: Vec<u64> = app.requests().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [7, 8, 9, 10]);
        assert_eq!(app.requests()[0].path, "/7");
        app.clear_requests();
        assert!(app.requests().is_empty());
        assert_eq!(app.log.lock().push(entry("/again")), 1);
    }

    #[test]
    fn only_loopback_peers_are_admins() {
        let peer = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
        assert!(admin_peer_allowed(peer("127.0.0.1:5000")));
        assert!(admin_peer_allowed(peer("127.8.9.10:5000")));
        assert!(admin_peer_allowed(peer("[::1]:5000")));
        assert!(admin_peer_allowed(peer("[::ffff:127.0.0.1]:5000")));
        assert!(!admin_peer_allowed(peer("10.0.0.5:5000")));
        assert!(!admin_peer_allowed(peer("0.0.0.0:5000")));
        assert!(!admin_peer_allowed(peer("[::ffff:10.0.0.5]:5000")));
        assert!(!admin_peer_allowed(peer("[fe80::1]:5000")));
        assert!(!admin_peer_allowed(None));
    }

    #[tokio::test]
    async fn admin_routes_refuse_unknown_and_remote_peers() {
        let router = router(app(LIMITS));
        let call = |method: &str, path: &str, peer: Option<&str>| {
            let mut request = axum::http::Request::builder()
                .method(method)
                .uri(path)
                .body(axum::body::Body::from("{\"federatedToken\": \"x\"}"))
                .unwrap();
            if let Some(p) = peer {
                request
                    .extensions_mut()
                    .insert(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
            }
            let router = router.clone();
            async move { router.oneshot(request).await.unwrap().status().as_u16() }
        };
        for (method, path) in [
            ("GET", "/_admin/faults"),
            ("PUT", "/_admin/faults"),
            ("GET", "/_admin/requests"),
            ("DELETE", "/_admin/requests"),
            ("POST", "/_admin/seed"),
            ("POST", "/_admin/reset"),
            ("GET", "/_admin/state"),
            ("PUT", "/_admin/principals/c/federatedToken"),
        ] {
            assert_eq!(
                call(method, path, None).await,
                403,
                "{method} {path} without a peer"
            );
            assert_eq!(
                call(method, path, Some("192.0.2.7:40000")).await,
                403,
                "{method} {path} from a remote peer"
            );
        }
        assert_eq!(
            call("GET", "/_admin/state", Some("127.0.0.1:40000")).await,
            200
        );
        assert_eq!(
            call("GET", "/_admin/faults", Some("[::1]:40000")).await,
            200
        );
        // The rotation call: unknown principal is a 404, from loopback.
        assert_eq!(
            call(
                "PUT",
                "/_admin/principals/c/federatedToken",
                Some("127.0.0.1:1")
            )
            .await,
            404
        );
        // Health and the token endpoint do not need a loopback peer.
        assert_eq!(call("GET", "/healthz", Some("192.0.2.7:40000")).await, 200);
    }
}
