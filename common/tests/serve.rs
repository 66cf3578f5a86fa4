//! The hardened serve path against real sockets on 127.0.0.1: timeouts close slow and idle
//! connections, the connection cap holds, request timeouts answer, shutdown is graceful.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aro_common::serve::{PeerCertificate, ServeOptions, Transport, serve};
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::routing::get;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Far beyond every timeout the tests configure: only reached when the server does not close.
const BOUND: Duration = Duration::from_secs(5);

fn short() -> ServeOptions {
    ServeOptions {
        handshake_timeout: Duration::from_millis(200),
        header_read_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(60),
        request_timeout: None,
        ..Default::default()
    }
}

fn app() -> Router {
    Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/peer",
            get(|request: Request| async move {
                let ConnectInfo(peer) = request
                    .extensions()
                    .get::<ConnectInfo<SocketAddr>>()
                    .expect("peer address");
                let certificate = request
                    .extensions()
                    .get::<PeerCertificate>()
                    .map(PeerCertificate::fingerprint)
                    .unwrap_or_else(|| "none".into());
                format!("{peer} {certificate} {:?}", request.version())
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "slow"
            }),
        )
        .route(
            "/watch/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(600)).await;
                "watched"
            }),
        )
        .route("/forever", get(std::future::pending::<&'static str>))
}

struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(transport: Transport, options: ServeOptions) -> Server {
        Self::start_with(app(), transport, options).await
    }

    async fn start_with(app: Router, transport: Transport, options: ServeOptions) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(serve(listener, transport, app, options, shutdown.clone()));
        Server {
            addr,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(BOUND, self.task)
            .await
            .expect("serve returns after shutdown")
            .unwrap();
    }
}

/// Reads until the server closes the connection (EOF or reset); panics after [`BOUND`].
async fn closed_by_server(stream: &mut (impl AsyncRead + Unpin)) {
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(BOUND, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
}

/// One HTTP/1.1 response: status line and body (with Content-Length).
async fn response(stream: &mut (impl AsyncRead + Unpin)) -> (u16, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                return (status, body);
            }
        }
        let n = tokio::time::timeout(BOUND, stream.read(&mut buf))
            .await
            .expect("a response in time")
            .unwrap();
        assert!(n > 0, "connection closed before the response");
        data.extend_from_slice(&buf[..n]);
    }
}

async fn get_on(stream: &mut (impl AsyncRead + AsyncWrite + Unpin), path: &str) -> (u16, String) {
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .unwrap();
    response(stream).await
}

#[tokio::test]
async fn a_half_sent_header_is_closed_after_the_header_timeout() {
    let server = Server::start(Transport::Plain, short()).await;

    // On a fresh connection.
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(b"GET /ok HTTP/1.1\r\nHost: te")
        .await
        .unwrap();
    closed_by_server(&mut first).await;

    // On a keep-alive connection after a complete request.
    let mut later = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut later, "/ok").await, (200, "ok".into()));
    later.write_all(b"GET /ok HTTP/1.1\r\n").await.unwrap();
    closed_by_server(&mut later).await;

    server.stop().await;
}

#[tokio::test]
async fn an_idle_tcp_connection_that_sends_nothing_is_closed() {
    let server = Server::start(Transport::Plain, short()).await;
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    closed_by_server(&mut idle).await;
    server.stop().await;
}

#[tokio::test]
async fn a_connection_idle_after_its_requests_is_closed() {
    let options = ServeOptions {
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_millis(200),
        ..short()
    };
    let server = Server::start(Transport::Plain, options).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut stream, "/ok").await, (200, "ok".into()));
    closed_by_server(&mut stream).await;
    server.stop().await;
}

#[tokio::test]
async fn a_tls_client_that_never_finishes_the_handshake_is_dropped() {
    let pki = Pki::new();
    let server = Server::start(Transport::Tls(pki.server_config()), short()).await;

    // Says nothing at all.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    closed_by_server(&mut silent).await;

    // Starts a ClientHello record and stops.
    let mut partial = TcpStream::connect(server.addr).await.unwrap();
    partial
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        .await
        .unwrap();
    closed_by_server(&mut partial).await;

    // A real client still gets through.
    let mut tls = pki.connect(server.addr, b"http/1.1", false).await;
    assert_eq!(get_on(&mut tls, "/ok").await, (200, "ok".into()));

    server.stop().await;
}

#[tokio::test]
async fn the_connection_cap_holds_until_a_connection_closes() {
    let options = ServeOptions {
        max_connections: 1,
        header_read_timeout: Duration::from_secs(30),
        ..short()
    };
    let server = Server::start(Transport::Plain, options).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut first, "/ok").await, (200, "ok".into()));

    // The second connection completes in the kernel's backlog but is not served...
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    second
        .write_all(b"GET /ok HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(Duration::from_millis(500), second.read(&mut byte)).await;
    assert!(early.is_err(), "served beyond the cap: {early:?}");

    // ...until the first one closes.
    drop(first);
    assert_eq!(response(&mut second).await, (200, "ok".into()));
    server.stop().await;
}

#[tokio::test]
async fn a_request_timeout_answers_and_spares_long_running_requests() {
    let options = ServeOptions {
        request_timeout: Some(Duration::from_millis(200)),
        is_long_running: |request| request.uri().path().starts_with("/watch/"),
        header_read_timeout: Duration::from_secs(30),
        ..short()
    };
    let server = Server::start(Transport::Plain, options).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();

    let (status, body) = get_on(&mut stream, "/slow").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"ServiceUnavailable\""), "{body}");
    // The connection stays usable: a clean answer, not a dropped connection.
    assert_eq!(get_on(&mut stream, "/ok").await, (200, "ok".into()));
    // Exempt requests run as long as they need.
    assert_eq!(
        get_on(&mut stream, "/watch/slow").await,
        (200, "watched".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn handlers_see_the_peer_address_and_certificate_over_http1_and_http2() {
    let pki = Pki::new();
    let server = Server::start(Transport::Tls(pki.server_config()), short()).await;

    let mut h1 = pki.connect(server.addr, b"http/1.1", true).await;
    let local = h1.get_ref().0.local_addr().unwrap();
    let (status, body) = get_on(&mut h1, "/peer").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        format!(
            "{local} {} HTTP/1.1",
            aro_common::serve::fingerprint(&pki.client_der)
        )
    );

    // HTTP/2 chosen by ALPN, without a client certificate.
    let h2 = pki.connect(server.addr, b"h2", false).await;
    let local = h2.get_ref().0.local_addr().unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(h2),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(connection);
    let request = http::Request::get(format!("https://{}/peer", server.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(body, format!("{local} none HTTP/2.0").as_bytes());
    drop(sender);
    let _ = tokio::time::timeout(BOUND, driver).await;

    server.stop().await;
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let pki = Pki::new();
    let options = ServeOptions {
        idle_timeout: Duration::from_millis(200),
        ..short()
    };
    let server = Server::start(Transport::Tls(pki.server_config()), options).await;
    let h2 = pki.connect(server.addr, b"h2", false).await;
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(h2),
    )
    .await
    .unwrap();
    let driver = tokio::spawn(connection);
    let request = http::Request::get(format!("https://{}/ok", server.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    assert_eq!(sender.send_request(request).await.unwrap().status(), 200);
    // The client keeps its side open; the server's GOAWAY ends the connection.
    let ended = tokio::time::timeout(BOUND, driver).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection stayed open");
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_then_refuses_connections() {
    let started = Arc::new(tokio::sync::Notify::new());
    let app = {
        let started = started.clone();
        Router::new().route(
            "/slow",
            get(move || async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                "finished"
            }),
        )
    };
    let options = ServeOptions {
        header_read_timeout: Duration::from_secs(30),
        ..short()
    };
    let server = Server::start_with(app, Transport::Plain, options).await;
    let addr = server.addr;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    started.notified().await;
    server.shutdown.cancel();
    assert_eq!(response(&mut stream).await, (200, "finished".into()));
    tokio::time::timeout(BOUND, server.task)
        .await
        .expect("serve returns once the request finished")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}

#[tokio::test]
async fn shutdown_closes_what_outlives_the_grace_period() {
    let options = ServeOptions {
        shutdown_grace: Duration::from_millis(200),
        header_read_timeout: Duration::from_secs(30),
        ..short()
    };
    let server = Server::start(Transport::Plain, options).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /forever HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    // The request is in flight once the server answers a second connection.
    let mut other = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut other, "/ok").await, (200, "ok".into()));
    server.stop().await;
    closed_by_server(&mut stream).await;
}

/// A CA, a serving certificate for 127.0.0.1 and a client certificate.
struct Pki {
    ca_der: CertificateDer<'static>,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
    client_der: Vec<u8>,
    client_key: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name.push(DnType::CommonName, "test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);

        let server_key = KeyPair::generate().unwrap();
        let mut server = CertificateParams::new(Vec::<String>::new()).unwrap();
        server
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();

        let client_key = KeyPair::generate().unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client.distinguished_name.push(DnType::CommonName, "client");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client.signed_by(&client_key, &issuer).unwrap();

        Pki {
            ca_der: ca_cert.der().clone(),
            server_der: server_cert.der().clone(),
            server_key: server_key.serialize_der(),
            client_der: client_cert.der().to_vec(),
            client_key: client_key.serialize_der(),
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    fn roots(&self) -> Arc<rustls::RootCertStore> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).unwrap();
        Arc::new(roots)
    }

    /// Client certificates requested, not required; HTTP/2 and HTTP/1.1 by ALPN.
    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            self.roots(),
            Self::provider(),
        )
        .allow_unauthenticated()
        .build()
        .unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.server_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone())),
            )
            .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }

    async fn connect(
        &self,
        addr: SocketAddr,
        alpn: &[u8],
        with_certificate: bool,
    ) -> tokio_rustls::client::TlsStream<TcpStream> {
        let builder = rustls::ClientConfig::builder_with_provider(Self::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots());
        let mut config = if with_certificate {
            builder
                .with_client_auth_cert(
                    vec![CertificateDer::from(self.client_der.clone())],
                    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key.clone())),
                )
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        config.alpn_protocols = vec![alpn.to_vec()];
        let tcp = TcpStream::connect(addr).await.unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::IpAddress(addr.ip().into()), tcp)
            .await
            .unwrap()
    }
}
