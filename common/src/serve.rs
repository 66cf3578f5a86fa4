//! The one way every `aro` listener serves HTTP (plain or TLS, HTTP/1.1 and HTTP/2): bounded
//! in every dimension a client controls, so a slow, idle or hostile client cannot hold the
//! server's connections, file descriptors or tasks.
//!
//! * TLS handshake timeout; HTTP/1 header-read timeout (hyper's, driven by [`TokioTimer`]);
//!   a connection that completes no request header within the header timeout is closed (this
//!   also covers a TCP connection that sends nothing, and HTTP/2);
//! * idle timeout: a connection with no request in flight for [`ServeOptions::idle_timeout`] is
//!   closed gracefully (HTTP/2 GOAWAY); HTTP/2 keep-alive pings find dead peers;
//! * a cap on concurrent connections: when full the accept loop stops accepting (connections
//!   wait in the kernel's backlog) instead of accepting and dropping;
//! * a per-request timeout answered with a clean response, except for requests the caller marks
//!   long-running (watches); the handler of a timed-out request runs on in the background, so a
//!   multi-step write is never cut in half;
//! * accept errors (EMFILE, ENFILE, ENOBUFS) back off with a growing delay and are logged at a
//!   bounded rate;
//! * graceful shutdown: stop accepting, let in-flight requests finish for
//!   [`ServeOptions::shutdown_grace`], then close what is left; `serve` returns once every task
//!   it started has ended.
//!
//! Every request carries the peer address ([`ConnectInfo<SocketAddr>`]), the scheme it came in
//! on ([`http::uri::Scheme`]: HTTPS under TLS, else HTTP) and, under TLS when the client sent one,
//! its leaf certificate ([`PeerCertificate`]) as extensions.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How often at most a run of accept errors is logged at warn.
const ACCEPT_ERROR_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Limits of a listener. [`Default`] holds the production values; tests shorten them.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Time a client has to complete the TLS handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// Time a client has to send a complete request header: the first one after the connection
    /// (or handshake) for every protocol, and every later one on an HTTP/1 connection. hyper
    /// starts this timer as soon as it waits for a request, so on HTTP/1 it also closes a
    /// keep-alive connection idle for longer. Default 10 s (ARO-RP's read timeout).
    pub header_read_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2: GOAWAY).
    /// Default 120 s (ARO-RP's idle timeout).
    pub idle_timeout: Duration,
    /// Time a handler has to produce the response head; `None`: unbounded. Requests for which
    /// [`Self::is_long_running`] is true are exempt. Default 60 s (kube-apiserver's
    /// `--request-timeout`).
    pub request_timeout: Option<Duration>,
    /// Requests exempt from [`Self::request_timeout`] (watches, streams). Default: none.
    pub is_long_running: fn(&Request) -> bool,
    /// The answer to a request that exceeded [`Self::request_timeout`]. Default:
    /// [`service_unavailable`] (503, ARM error body, `Retry-After`).
    pub timeout_response: fn(Duration) -> Response,
    /// Concurrent connections (including those still in the TLS handshake); when reached, the
    /// listener stops accepting until one closes. Default 4096.
    pub max_connections: usize,
    /// Interval of HTTP/2 keep-alive pings on a connection that received nothing; `None`: no
    /// pings. Default 30 s.
    pub http2_keepalive_interval: Option<Duration>,
    /// A keep-alive ping unanswered for this long closes the connection. Default 20 s.
    pub http2_keepalive_timeout: Duration,
    /// Concurrent HTTP/2 streams per connection. Default 250 (Go's and kube-apiserver's).
    pub http2_max_concurrent_streams: u32,
    /// First delay after an accept error that is not a single connection's (EMFILE, ENFILE,
    /// ENOBUFS); doubled after each further error, reset by a successful accept. Default 5 ms
    /// (Go's net/http).
    pub accept_error_backoff: Duration,
    /// Largest delay between accept attempts after errors. Default 1 s (Go's net/http).
    pub accept_error_backoff_max: Duration,
    /// After shutdown, how long in-flight requests may run before their connections are closed.
    /// Default 20 s, inside Kubernetes' default 30 s termination grace period.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            handshake_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            request_timeout: Some(Duration::from_secs(60)),
            is_long_running: |_| false,
            timeout_response: service_unavailable,
            max_connections: 4096,
            http2_keepalive_interval: Some(Duration::from_secs(30)),
            http2_keepalive_timeout: Duration::from_secs(20),
            http2_max_concurrent_streams: 250,
            accept_error_backoff: Duration::from_millis(5),
            accept_error_backoff_max: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// The default answer to a timed-out request: `503 Service Unavailable` with an ARM error body
/// and `Retry-After`, which ARM and its SDKs retry.
pub fn service_unavailable(limit: Duration) -> Response {
    let body = serde_json::json!({
        "error": {
            "code": "ServiceUnavailable",
            "message": format!(
                "The request did not complete within {} seconds. Retry the request.",
                limit.as_secs_f64()
            ),
        }
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        axum::Json(body),
    )
        .into_response()
}

/// Plain TCP or TLS.
#[derive(Clone, Debug)]
pub enum Transport {
    Plain,
    /// TLS with this configuration (its ALPN list decides whether HTTP/2 is offered).
    Tls(Arc<rustls::ServerConfig>),
}

/// The DER of the client's TLS leaf certificate, added to each request of a TLS connection on
/// which the client sent one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerCertificate(pub Vec<u8>);

impl PeerCertificate {
    /// Lowercase hex SHA-256 of the certificate.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.0)
    }
}

/// Lowercase hex SHA-256 of DER bytes.
pub fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Serve `app` on `listener` until `shutdown` fires, then shut down gracefully (see the module
/// documentation). Returns once every connection and task it started has ended.
pub async fn serve(
    listener: TcpListener,
    transport: Transport,
    app: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
) {
    serve_with(listener, transport, app, options, shutdown).await
}

/// Bind `addr` and serve `app` over plain HTTP with the default options until `shutdown` fires, on a
/// task of its own: the listener of the health, metrics and webhook endpoints. Returns the bound
/// address at once (useful with port 0) and the task.
pub async fn bind_and_serve(
    addr: SocketAddr,
    app: Router,
    shutdown: CancellationToken,
) -> io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(serve(
        listener,
        Transport::Plain,
        app,
        ServeOptions::default(),
        shutdown,
    ));
    Ok((bound, task))
}

/// Where connections come from: a [`TcpListener`], or in tests a source of injected errors.
pub(crate) trait Accept: Send + 'static {
    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send + '_;
}

impl Accept for TcpListener {
    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send + '_ {
        TcpListener::accept(self)
    }
}

/// What every connection task shares.
struct Shared {
    options: ServeOptions,
    app: Router,
    tls: Option<TlsAcceptor>,
    builder: Builder<Exec>,
    tracker: TaskTracker,
    /// Graceful shutdown: stop accepting, finish in-flight requests.
    shutdown: CancellationToken,
    /// The grace period is over: drop every connection and task.
    stop: CancellationToken,
}

pub(crate) async fn serve_with<L: Accept>(
    mut listener: L,
    transport: Transport,
    app: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    let stop = CancellationToken::new();
    let mut builder = Builder::new(Exec {
        tracker: tracker.clone(),
        stop: stop.clone(),
    });
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(options.http2_keepalive_interval)
        .keep_alive_timeout(options.http2_keepalive_timeout)
        .max_concurrent_streams(options.http2_max_concurrent_streams);
    let connections = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let mut backoff = AcceptBackoff::new(
        options.accept_error_backoff,
        options.accept_error_backoff_max,
    );
    let grace = options.shutdown_grace;
    let shared = Arc::new(Shared {
        options,
        app,
        tls: match transport {
            Transport::Plain => None,
            Transport::Tls(config) => Some(TlsAcceptor::from(config)),
        },
        builder,
        tracker: tracker.clone(),
        shutdown: shutdown.clone(),
        stop: stop.clone(),
    });

    loop {
        // A permit first: at the cap, connections wait in the kernel's backlog.
        let permit = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            permit = connections.clone().acquire_owned() => {
                permit.expect("the connection semaphore is never closed")
            }
        };
        let accepted = tokio::select! {
            biased;
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff.reset();
                tracker.spawn(connection(shared.clone(), stream, peer, permit));
            }
            // One connection's trouble (reset before it was accepted): nothing to wait for.
            Err(error) if is_connection_error(&error) => {
                tracing::debug!(%error, "accepting a connection failed");
            }
            Err(error) => {
                let delay = backoff.failed(&error);
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }

    // New connections are refused from here on.
    drop(listener);
    tracker.close();
    if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
        if grace.is_zero() {
            tracing::debug!(connections = tracker.len(), "closing the open connections");
        } else {
            tracing::warn!(
                tasks = tracker.len(),
                ?grace,
                "shutdown grace period over; closing the remaining connections"
            );
        }
    }
    stop.cancel();
    tracker.wait().await;
}

fn is_connection_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Growing delay after accept errors, and a log line at most every
/// [`ACCEPT_ERROR_LOG_INTERVAL`].
struct AcceptBackoff {
    initial: Duration,
    max: Duration,
    next: Duration,
    unlogged: u64,
    last_log: Option<Instant>,
}

impl AcceptBackoff {
    fn new(initial: Duration, max: Duration) -> Self {
        AcceptBackoff {
            initial,
            max,
            next: initial,
            unlogged: 0,
            last_log: None,
        }
    }

    fn reset(&mut self) {
        self.next = self.initial;
    }

    /// The delay before the next attempt.
    fn failed(&mut self, error: &io::Error) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max).max(self.initial);
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|at| now.duration_since(at) >= ACCEPT_ERROR_LOG_INTERVAL)
        {
            tracing::warn!(
                %error,
                failures = self.unlogged,
                retry_in = ?delay,
                "accepting connections failed; backing off"
            );
            self.last_log = Some(now);
            self.unlogged = 0;
        }
        delay
    }
}

/// Runs what hyper spawns (HTTP/2 streams) as tracked tasks that end at the hard stop.
#[derive(Clone)]
struct Exec {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl<F> hyper::rt::Executor<F> for Exec
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = future => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = &shared.tls else {
        return serve_io(&shared, stream, peer, None).await;
    };
    let handshake = tokio::select! {
        _ = shared.shutdown.cancelled() => return,
        handshake = tokio::time::timeout(shared.options.handshake_timeout, acceptor.accept(stream)) => handshake,
    };
    let tls = match handshake {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%error, %peer, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let certificate = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| PeerCertificate(leaf.as_ref().to_vec()));
    serve_io(&shared, tls, peer, certificate).await
}

/// Why the connection watchdog fired.
enum Inactive {
    /// No complete request header since the connection was ready.
    NoRequest,
    /// No request in flight for the idle timeout.
    Idle,
}

/// Requests in flight on one connection, and when the last one ended.
struct Activity {
    ready: Instant,
    in_flight: AtomicUsize,
    started: AtomicBool,
    last_end: Mutex<Instant>,
    /// Notified when a request starts or ends.
    changed: tokio::sync::Notify,
}

impl Activity {
    fn new() -> Arc<Self> {
        let now = Instant::now();
        Arc::new(Activity {
            ready: now,
            in_flight: AtomicUsize::new(0),
            started: AtomicBool::new(false),
            last_end: Mutex::new(now),
            changed: tokio::sync::Notify::new(),
        })
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.started.store(true, Ordering::SeqCst);
        self.changed.notify_waiters();
        InFlight(self.clone())
    }

    fn last_end(&self) -> Instant {
        *self.last_end.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves when the connection has carried no request for `idle` (or never completed a
    /// request header within `first_request`).
    async fn inactive(&self, first_request: Duration, idle: Duration) -> Inactive {
        loop {
            // Registered before the state is read, so a request starting or ending in between
            // still wakes this loop.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let now = Instant::now();
            let deadline = if !self.started.load(Ordering::SeqCst) {
                Some(self.ready + first_request)
            } else if self.in_flight.load(Ordering::SeqCst) == 0 {
                Some(self.last_end() + idle)
            } else {
                None
            };
            if let Some(deadline) = deadline
                && now >= deadline
            {
                return if self.started.load(Ordering::SeqCst) {
                    Inactive::Idle
                } else {
                    Inactive::NoRequest
                };
            }
            match deadline {
                Some(deadline) => tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => {}
                    _ = changed => {}
                },
                None => changed.await,
            }
        }
    }
}

/// A request in flight; held by its response body until the body ends or is dropped.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        // The end time first, so the watchdog never sees no request with a stale end time.
        *self.0.last_end.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.0.changed.notify_waiters();
    }
}

/// A response body that keeps its request in flight until it ends or is dropped.
struct Tracked {
    body: Body,
    _in_flight: InFlight,
}

impl hyper::body::Body for Tracked {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        hyper::body::Body::poll_frame(Pin::new(&mut self.body), cx)
    }

    fn is_end_stream(&self) -> bool {
        hyper::body::Body::is_end_stream(&self.body)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        hyper::body::Body::size_hint(&self.body)
    }
}

async fn serve_io<I>(
    shared: &Arc<Shared>,
    io: I,
    peer: SocketAddr,
    certificate: Option<PeerCertificate>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let scheme = if shared.tls.is_some() {
        http::uri::Scheme::HTTPS
    } else {
        http::uri::Scheme::HTTP
    };
    let service = {
        let shared = shared.clone();
        let activity = activity.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let in_flight = activity.begin();
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request.extensions_mut().insert(scheme.clone());
            if let Some(certificate) = &certificate {
                request.extensions_mut().insert(certificate.clone());
            }
            let shared = shared.clone();
            async move {
                let response = shared.call(request).await;
                Ok::<_, Infallible>(response.map(move |body| {
                    Body::new(Tracked {
                        body,
                        _in_flight: in_flight,
                    })
                }))
            }
        })
    };
    let options = &shared.options;
    let connection = shared
        .builder
        .serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            _ = shared.stop.cancelled() => return,
            _ = shared.shutdown.cancelled(), if !closing => {
                connection.as_mut().graceful_shutdown();
                closing = true;
            }
            inactive = activity.inactive(options.header_read_timeout, options.idle_timeout), if !closing => {
                match inactive {
                    Inactive::NoRequest => {
                        tracing::debug!(%peer, "no request header within the header timeout; closing");
                        return;
                    }
                    Inactive::Idle => {
                        tracing::debug!(%peer, "idle; closing");
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                    }
                }
            }
            // Closing, and nothing left in flight, but the peer keeps the connection open.
            _ = activity.inactive(options.header_read_timeout, options.header_read_timeout), if closing => {
                return;
            }
        }
    }
}

impl Shared {
    async fn call(&self, request: Request) -> Response {
        let limit = match self.options.request_timeout {
            Some(limit) if !(self.options.is_long_running)(&request) => limit,
            _ => {
                let Ok(response) = self.app.clone().oneshot(request).await;
                return response;
            }
        };
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let app = self.app.clone();
        let stop = self.stop.clone();
        // A task of its own, so a timeout (or the client going away) never cancels a handler
        // half-way through its writes.
        let mut handler = self.tracker.spawn(async move {
            tokio::select! {
                response = app.oneshot(request) => Some(response),
                _ = stop.cancelled() => None,
            }
        });
        match tokio::time::timeout(limit, &mut handler).await {
            Ok(Ok(Some(Ok(response)))) => response,
            Ok(Ok(None)) => (self.options.timeout_response)(limit),
            Ok(Err(error)) => {
                tracing::error!(%method, %path, %error, "request handler failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            Err(_) => {
                tracing::warn!(%method, %path, ?limit, "request timed out; its handler finishes in the background");
                (self.options.timeout_response)(limit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails `failures` times with EMFILE, then waits forever; records when it was called.
    struct Failing {
        failures: usize,
        calls: Arc<Mutex<Vec<Instant>>>,
        done: Arc<tokio::sync::Notify>,
    }

    impl Accept for Failing {
        async fn accept(&mut self) -> io::Result<(TcpStream, SocketAddr)> {
            let calls = {
                let mut calls = self.calls.lock().unwrap();
                calls.push(Instant::now());
                calls.len()
            };
            if calls <= self.failures {
                return Err(io::Error::from_raw_os_error(24)); // EMFILE
            }
            self.done.notify_one();
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn accept_errors_back_off_with_a_growing_delay() {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let done = Arc::new(tokio::sync::Notify::new());
        let listener = Failing {
            failures: 5,
            calls: calls.clone(),
            done: done.clone(),
        };
        let options = ServeOptions {
            accept_error_backoff: Duration::from_millis(20),
            accept_error_backoff_max: Duration::from_millis(80),
            ..Default::default()
        };
        let shutdown = CancellationToken::new();
        let server = tokio::spawn(serve_with(
            listener,
            Transport::Plain,
            Router::new(),
            options,
            shutdown.clone(),
        ));
        done.notified().await;
        let calls = calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 6, "one attempt per delay, no spinning");
        let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
        // tokio never wakes a sleep early: each gap is at least the delay scheduled for it.
        for (gap, least) in gaps.iter().zip([20, 40, 80, 80, 80]) {
            assert!(
                *gap >= Duration::from_millis(least),
                "gaps {gaps:?}: expected at least {least} ms"
            );
        }
        shutdown.cancel();
        server.await.unwrap();
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets_after_a_success() {
        let mut backoff = AcceptBackoff::new(Duration::from_millis(5), Duration::from_millis(30));
        let error = io::Error::from_raw_os_error(24);
        let delays: Vec<u128> = (0..5).map(|_| backoff.failed(&error).as_millis()).collect();
        assert_eq!(delays, [5, 10, 20, 30, 30]);
        backoff.reset();
        assert_eq!(backoff.failed(&error), Duration::from_millis(5));
    }

    #[test]
    fn fingerprint_is_lowercase_hex_sha256() {
        assert_eq!(
            PeerCertificate(b"abc".to_vec()).fingerprint(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
