//! The frontend's trust boundary over real TLS, as `aro frontend` starts it (flags, allow-list
//! files, serving certificate files, the internal metrics listener), against a devcluster:
//!
//! * every route kind x {no certificate, unknown, expired, not yet valid, serverAuth-only, ARM,
//!   admin} gives the right 200/400/401/403/404, including `//`, percent-encoded and upper-case
//!   spellings of `admin` and a duplicated `api-version`;
//! * every write attempt and every 401/403 leaves one audit line with the caller's identity and
//!   the outcome, never the body;
//! * random unauthenticated paths add no metrics series, and `/metrics` is not on the ARM port;
//! * the allow-list file and the serving certificate are reloaded without a restart; a file that
//!   does not parse keeps the previous lists; malformed fingerprints fail at start-up.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use clap::Parser;
use rcgen::ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
use rp_frontend::FrontendArgs;
use serde_json::{Value, json};
use support::SUB;
use tokio_util::sync::CancellationToken;

const NS: &str = "Microsoft.RedHatOpenShift";

// ------------------------------------------------------------------------ log capture (audit)

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line of this test process (JSON), from a subscriber installed once.
fn logs() -> &'static Buffer {
    static LOGS: OnceLock<Buffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .init();
        buffer
    })
}

/// The audit lines so far, by request id.
fn audit_lines() -> BTreeMap<String, Vec<Value>> {
    let text = String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned();
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["target"] == "audit" {
            let id = v["fields"]["request_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            out.entry(id).or_default().push(v["fields"].clone());
        }
    }
    out
}

// ------------------------------------------------------------------------------ certificates

/// A validity period: notBefore and notAfter dates (year, month, day).
type Validity = ((i32, u8, u8), (i32, u8, u8));

struct Identity {
    name: &'static str,
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Identity {
    fn new(
        name: &'static str,
        eku: &[rcgen::ExtendedKeyUsagePurpose],
        validity: Option<Validity>,
    ) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.extended_key_usages = eku.to_vec();
        if let Some(((y0, m0, d0), (y1, m1, d1))) = validity {
            params.not_before = rcgen::date_time_ymd(y0, m0, d0);
            params.not_after = rcgen::date_time_ymd(y1, m1, d1);
        }
        let cert = params.self_signed(&key).unwrap();
        Identity { name, cert, key }
    }

    fn fingerprint(&self) -> String {
        rp_frontend::server::auth::fingerprint(self.cert.der())
    }

    fn identity(&self) -> reqwest::Identity {
        let pem = format!("{}{}", self.cert.pem(), self.key.serialize_pem());
        reqwest::Identity::from_pem(pem.as_bytes()).unwrap()
    }
}

/// A fingerprint spelled as openssl prints it (upper case, colons): accepted all the same.
fn openssl_spelling(fp: &str) -> String {
    fp.as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":")
}

fn server_identity() -> (rcgen::Certificate, rcgen::KeyPair) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.extended_key_usages = vec![ServerAuth];
    (params.self_signed(&key).unwrap(), key)
}

// ---------------------------------------------------------------------------------- frontend

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: FrontendArgs,
}

struct Frontend {
    dc: devcluster::Devcluster,
    base: String,
    metrics: String,
    server_ca: reqwest::Certificate,
    dir: tempfile::TempDir,
    shutdown: CancellationToken,
}

impl Frontend {
    async fn start(arm_file_lines: &str, extra: &[String]) -> Frontend {
        logs();
        let (dc, client) = support::management_cluster().await;
        let dir = tempfile::tempdir().unwrap();
        let (server_cert, server_key) = server_identity();
        write(&dir.path().join("tls.crt"), &server_cert.pem());
        write(&dir.path().join("tls.key"), &server_key.serialize_pem());
        write(&dir.path().join("arm"), arm_file_lines);
        let path = |f: &str| dir.path().join(f).display().to_string();
        let mut argv = vec![
            "frontend".to_string(),
            "--listen=127.0.0.1:0".into(),
            "--metrics-listen=127.0.0.1:0".into(),
            "--location=eastus".into(),
            "--require-d2s-workers".into(),
            "--reload-interval-ms=20".into(),
            format!("--tls-cert={}", path("tls.crt")),
            format!("--tls-key={}", path("tls.key")),
            format!("--arm-client-certs-file={}", path("arm")),
        ];
        argv.extend(extra.iter().cloned());
        let cli = Cli::try_parse_from(argv).unwrap();
        let shutdown = CancellationToken::new();
        let running = rp_frontend::start(&cli.args, client, shutdown.clone())
            .await
            .unwrap();
        // As a rollout waits for readiness: the caches synced and the management API answered.
        for _ in 0..500 {
            if running.health.is_ready() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(running.health.is_ready(), "the frontend never became ready");
        Frontend {
            dc,
            base: format!("https://localhost:{}", running.listen.port()),
            metrics: format!("http://{}/metrics", running.metrics_listen),
            server_ca: reqwest::Certificate::from_pem(server_cert.pem().as_bytes()).unwrap(),
            dir,
            shutdown,
        }
    }

    fn client(&self, identity: Option<&Identity>) -> reqwest::Client {
        let mut b = reqwest::Client::builder()
            .add_root_certificate(self.server_ca.clone())
            .tls_built_in_root_certs(false)
            .use_rustls_tls();
        if let Some(id) = identity {
            b = b.identity(id.identity());
        }
        b.build().unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.dc.stop().await;
    }
}

fn write(path: &Path, content: &str) {
    // Replace, as a Secret volume does: a new file moved over the old one.
    let tmp = PathBuf::from(format!("{}.new", path.display()));
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

struct Answer {
    status: u16,
    code: String,
    request_id: String,
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http
        .request(method, format!("{base}{path_and_query}"))
        .header("x-ms-client-principal-name", "someone@example.com")
        .header(
            "x-ms-client-tenant-id",
            "11111111-2222-3333-4444-555555555555",
        );
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-ms-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        code: body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        request_id,
    }
}

fn cluster(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg/providers/{NS}/openShiftClusters/{name}")
}

fn cluster_body() -> Value {
    let subnet = |n: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/vnet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{n}"
        )
    };
    json!({
        "location": "eastus",
        "properties": {
            "clusterProfile": {"pullSecret": "{\"auths\":{}}", "domain": "matrix", "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-matrix")},
            "servicePrincipalProfile": {"clientId": "11111111-1111-1111-1111-111111111111", "clientSecret": "top-secret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master")},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D2s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

// ------------------------------------------------------------------------------------ matrix

/// Expected statuses for [none, unknown, expired, not yet valid, serverAuth-only, ARM, admin].
type Row = [u16; 7];

const fn arm(ok: u16) -> Row {
    [401, 401, 401, 401, 401, ok, 403]
}
const fn admin(ok: u16) -> Row {
    [401, 401, 401, 401, 401, 403, ok]
}
const PUBLIC: Row = [200; 7];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_identity_matrix_over_tls() {
    let unknown = Identity::new("unknown", &[ClientAuth], None);
    let expired = Identity::new("expired", &[ClientAuth], Some(((2000, 1, 1), (2001, 1, 1))));
    let future = Identity::new("future", &[ClientAuth], Some(((2090, 1, 1), (2091, 1, 1))));
    let server_only = Identity::new("server-only", &[ServerAuth], None);
    let arm_id = Identity::new("arm", &[ClientAuth], None);
    let admin_id = Identity::new("sre", &[ClientAuth], None);
    // Every invalid certificate is on an allow-list: only its own checks refuse it.
    let arm_file = format!(
        "# ARM\n{}\n{}  # expired\n{}\n",
        arm_id.fingerprint(),
        expired.fingerprint(),
        server_only.fingerprint()
    );
    let admin_flag = format!(
        "--admin-client-cert-sha256={},{},{}",
        openssl_spelling(&admin_id.fingerprint()),
        future.fingerprint(),
        server_only.fingerprint()
    );
    let fe = Frontend::start(&arm_file, &[admin_flag]).await;
    let _controller = support::spawn_controller_stand_in(fe.dc.client().await.unwrap());
    let clients: Vec<(Option<&Identity>, reqwest::Client)> = [
        None,
        Some(&unknown),
        Some(&expired),
        Some(&future),
        Some(&server_only),
        Some(&arm_id),
        Some(&admin_id),
    ]
    .into_iter()
    .map(|id| (id, fe.client(id)))
    .collect();
    let arm_http = &clients[5].1;

    // A registered subscription with one Succeeded cluster.
    let registered = json!({"state": "Registered", "properties": {"tenantId": "t"}});
    let sub = format!("/subscriptions/{SUB}?api-version=2.0");
    assert_eq!(
        call(arm_http, &fe.base, "PUT", &sub, Some(&registered))
            .await
            .status,
        200
    );
    let v = "api-version=2023-11-22";
    let c1 = cluster("c1");
    let created = call(
        arm_http,
        &fe.base,
        "PUT",
        &format!("{c1}?{v}"),
        Some(&cluster_body()),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.code);
    let mut succeeded = false;
    for _ in 0..500 {
        let r = arm_http
            .get(format!("{}{c1}?{v}", fe.base))
            .send()
            .await
            .unwrap();
        let b: Value = r.json().await.unwrap();
        if b["properties"]["provisioningState"] == "Succeeded" {
            succeeded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(succeeded, "the cluster never succeeded");

    let secret_marker = "body-secret-9f2c";
    let bad_put = json!({"location": "westus", "properties": {"servicePrincipalProfile": {"clientSecret": secret_marker}}});
    let version = json!({"version": "4.16.2", "openShiftPullspec": "quay.io/x@sha256:2", "installerPullspec": "quay.io/y:4.16", "enabled": false, "default": false});
    let deleted = json!({"state": "Deleted"});
    let admin_update = json!({"properties": {"maintenanceTask": "OperatorUpdate"}});
    let op = "/subscriptions/6f2c1b3a-1111-4222-8333-944445555666/providers/Microsoft.RedHatOpenShift/locations/eastus/operationsStatus/0b9e1a6c-0000-4000-8000-000000000001";
    let admin_c1 = format!("/admin{c1}?api-version=admin");
    let rows: Vec<(&str, String, Option<&Value>, Row)> = vec![
        // Public.
        ("GET", "/healthz".into(), None, PUBLIC),
        ("GET", "/healthz/ready".into(), None, PUBLIC),
        (
            "GET",
            format!("/providers/{NS}/operations?api-version=2023-11-22"),
            None,
            PUBLIC,
        ),
        ("GET", "/openapi/2023-11-22".into(), None, PUBLIC),
        // Customer API.
        ("GET", format!("{c1}?{v}"), None, arm(200)),
        ("GET", format!("{}?{v}", cluster("absent")), None, arm(404)),
        (
            "PUT",
            format!("{}?{v}", cluster("other")),
            Some(&bad_put),
            arm(400),
        ),
        (
            "DELETE",
            format!("{}?{v}", cluster("absent")),
            None,
            arm(204),
        ),
        ("POST", format!("{c1}/listCredentials?{v}"), None, arm(200)),
        (
            "POST",
            format!("{c1}/listAdminCredentials?{v}"),
            None,
            arm(200),
        ),
        ("PUT", sub.clone(), Some(&registered), arm(200)),
        ("GET", format!("{op}?{v}"), None, arm(404)),
        // api-version=admin on a customer route is an unsupported version, not admin access.
        ("GET", format!("{c1}?api-version=admin"), None, arm(400)),
        // The attack of issue 12: a second api-version must not switch the allow-list.
        (
            "POST",
            format!("{c1}/listAdminCredentials?{v}&api-version=admin"),
            None,
            arm(400),
        ),
        (
            "PUT",
            format!("/subscriptions/{SUB}?api-version=2.0&api-version=admin"),
            Some(&deleted),
            arm(400),
        ),
        (
            "DELETE",
            format!("{c1}?api-version=admin&{v}"),
            None,
            arm(400),
        ),
        ("GET", format!("{c1}?api-version="), None, arm(400)),
        // Admin API.
        ("GET", "/admin/versions".into(), None, admin(200)),
        (
            "PUT",
            "/admin/versions?api-version=admin".into(),
            Some(&version),
            admin(200),
        ),
        ("GET", admin_c1.clone(), None, admin(200)),
        ("GET", format!("/admin{c1}?{v}"), None, admin(400)),
        ("GET", "//admin/versions".into(), None, admin(200)),
        ("GET", "/%61dmin/versions".into(), None, admin(200)),
        ("GET", "/ADMIN/VERSIONS".into(), None, admin(200)),
        ("GET", "/admin/nowhere".into(), None, admin(404)),
        ("GET", "/%61dmin/nowhere".into(), None, admin(404)),
        // Not served here: metrics (internal listener), unknown paths.
        ("GET", "/metrics".into(), None, arm(404)),
        ("GET", "/nowhere?api-version=admin".into(), None, arm(404)),
        ("DELETE", "/subscriptions".into(), None, arm(404)),
        // Last: the admin update of the cluster (it changes the cluster's state).
        ("PATCH", admin_c1.clone(), Some(&admin_update), admin(200)),
    ];

    let mut failures = Vec::new();
    let mut audited = Vec::new();
    for (method, path, body, expected) in &rows {
        for ((identity, http), want) in clients.iter().zip(expected) {
            let a = call(http, &fe.base, method, path, *body).await;
            let who = identity.map(|i| i.name).unwrap_or("no certificate");
            if a.status != *want {
                failures.push(format!(
                    "{method} {path} as {who}: {} {} (want {want})",
                    a.status, a.code
                ));
            }
            let want_code = match a.status {
                401 => Some("Unauthorized"),
                403 => Some("Forbidden"),
                _ => None,
            };
            if let Some(code) = want_code
                && a.code != code
            {
                failures.push(format!(
                    "{method} {path} as {who}: code {} (want {code})",
                    a.code
                ));
            }
            audited.push((method.to_string(), a, identity.map(Identity::fingerprint)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The duplicated api-version is refused as ambiguous, with the ARM error code.
    let dup = call(
        arm_http,
        &fe.base,
        "POST",
        &format!("{c1}/listAdminCredentials?{v}&api-version=admin"),
        None,
    )
    .await;
    assert_eq!(
        (dup.status, dup.code.as_str()),
        (400, "InvalidApiVersionParameter")
    );
    // The subscription survived the attack.
    let r = arm_http
        .get(format!("{}{sub}", fe.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["state"], "Registered");

    // Audit: one line per write attempt and per 401/403, with who and how it ended.
    let lines = audit_lines();
    for (method, answer, fingerprint) in &audited {
        let write = method != "GET";
        let denied = matches!(answer.status, 401 | 403);
        let found = lines.get(&answer.request_id).cloned().unwrap_or_default();
        if !(write || denied) {
            assert!(
                found.is_empty(),
                "{method} {}: audited {found:?}",
                answer.status
            );
            continue;
        }
        assert_eq!(
            found.len(),
            1,
            "{method} {} {}: {found:?}",
            answer.status,
            answer.request_id
        );
        let line = &found[0];
        assert_eq!(line["status"], answer.status, "{line}");
        assert_eq!(line["method"], method.as_str(), "{line}");
        assert_eq!(
            line["cert_sha256"].as_str().unwrap_or_default(),
            fingerprint.clone().unwrap_or_default(),
            "{line}"
        );
        assert_eq!(line["principal_name"], "someone@example.com", "{line}");
        assert_eq!(
            line["tenant_id"], "11111111-2222-3333-4444-555555555555",
            "{line}"
        );
        assert!(
            line["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
            "{line}"
        );
        assert!(
            line["route"]
                .as_str()
                .is_some_and(|r| r.starts_with('/') || r == "other"),
            "{line}"
        );
        let outcome = match answer.status {
            401 => "unauthenticated",
            403 => "forbidden",
            200..=299 => "succeeded",
            _ => "rejected",
        };
        assert_eq!(line["outcome"], outcome, "{line}");
        if fingerprint.is_some() && answer.status != 401 {
            assert!(
                line["cert_subject"].as_str().unwrap().contains("CN="),
                "{line}"
            );
        }
        if answer.status == 401 {
            assert!(!line["reason"].as_str().unwrap().is_empty(), "{line}");
        }
    }
    let expired_lines: Vec<_> = lines
        .values()
        .flatten()
        .filter(|l| l["cert_sha256"] == expired.fingerprint())
        .collect();
    assert!(
        expired_lines
            .iter()
            .all(|l| l["reason"] == "certificate expired")
    );
    let everything = String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned();
    assert!(
        !everything.contains(secret_marker),
        "a request body reached the logs"
    );
    assert!(
        !everything.contains("top-secret"),
        "a request body reached the logs"
    );
    fe.stop().await;
}

// ----------------------------------------------------------------------------------- metrics

/// The series of an OpenMetrics text (names and labels, without values).
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_paths_add_no_metrics_series_and_metrics_are_internal() {
    use rand::Rng;
    let fe = Frontend::start("", &[]).await;
    let anonymous = fe.client(None);
    let plain = reqwest::Client::new();
    let methods = ["GET", "PUT", "POST", "DELETE", "PATCH", "BREW"];
    // Every label combination an unauthenticated caller can reach, once.
    for method in methods {
        for query in ["", "?api-version=2023-11-22", "?api-version=garbage"] {
            let a = call(
                &anonymous,
                &fe.base,
                method,
                &format!("/warm-up{query}"),
                None,
            )
            .await;
            assert_eq!(a.status, 401);
        }
    }
    let before = plain
        .get(&fe.metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(before.contains("frontend_http_requests_total"), "{before}");

    let mut rng = rand::rng();
    let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyzADMIN0123456789-._~%"
        .chars()
        .collect();
    let requests: Vec<(String, String)> = (0..10_000)
        .map(|_| {
            let depth = rng.random_range(1..12);
            let path: String = (0..depth)
                .map(|_| {
                    let len = rng.random_range(1..16);
                    let seg: String = (0..len)
                        .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                        .collect();
                    format!("/{seg}")
                })
                .collect();
            let path = path.replace('%', "%25");
            let version: String = (0..rng.random_range(1..20))
                .map(|_| alphabet[rng.random_range(0..36)])
                .collect();
            let query = match rng.random_range(0..3) {
                0 => String::new(),
                1 => "?api-version=2023-11-22".into(),
                _ => format!("?api-version={version}"),
            };
            let method = methods[rng.random_range(0..methods.len())].to_string();
            (method, format!("{path}{query}"))
        })
        .collect();
    use futures::StreamExt;
    let statuses: Vec<u16> = futures::stream::iter(requests)
        .map(|(method, path)| {
            let http = anonymous.clone();
            let base = fe.base.clone();
            async move { call(&http, &base, &method, &path, None).await.status }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 401), "only 401s expected");
    let after = plain
        .get(&fe.metrics)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let added: Vec<_> = series(&after)
        .difference(&series(&before))
        .cloned()
        .collect();
    assert!(added.is_empty(), "new series: {added:?}");

    // /metrics and the health routes on the internal listener; /metrics not on the ARM port.
    for path in ["/healthz", "/readyz"] {
        let url = fe.metrics.replace("/metrics", path);
        assert_eq!(plain.get(url).send().await.unwrap().status(), 200);
    }
    let on_arm_port = call(&anonymous, &fe.base, "GET", "/metrics", None).await;
    assert_eq!(on_arm_port.status, 401);
    fe.stop().await;
}

// ------------------------------------------------------------------------------------ reload

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_lists_and_serving_certificate_reload_without_restart() {
    let arm_id = Identity::new("arm", &[ClientAuth], None);
    let newcomer = Identity::new("newcomer", &[ClientAuth], None);
    let fe = Frontend::start(&format!("{}\n", arm_id.fingerprint()), &[]).await;
    let list = fe.dir.path().join("arm");
    let path = format!("{}?api-version=2023-11-22", cluster("absent"));
    let status_of = |id: &Identity| {
        let http = fe.client(Some(id));
        let base = fe.base.clone();
        let path = path.clone();
        async move { call(&http, &base, "GET", &path, None).await.status }
    };
    async fn wait_for<F, Fut>(what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..500 {
            if f().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{what} never happened");
    }

    // The newcomer's subscription is not registered: 400/404 once authenticated, 401 before.
    assert_eq!(status_of(&newcomer).await, 401);
    assert_ne!(status_of(&arm_id).await, 401);
    write(
        &list,
        &format!(
            "{}\n# added\n{}\n",
            arm_id.fingerprint(),
            newcomer.fingerprint()
        ),
    );
    wait_for("the newcomer's admission", || async {
        status_of(&newcomer).await != 401
    })
    .await;

    // A list that does not parse keeps the previous one.
    write(&list, "not-a-fingerprint\n");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_ne!(status_of(&newcomer).await, 401);
    assert_ne!(status_of(&arm_id).await, 401);
    // Removal takes effect too.
    write(&list, &format!("{}\n", arm_id.fingerprint()));
    wait_for("the newcomer's removal", || async {
        status_of(&newcomer).await == 401
    })
    .await;
    assert_ne!(status_of(&arm_id).await, 401);

    // The serving certificate: a client trusting only the new one connects once it is served.
    let (next_cert, next_key) = server_identity();
    let trusting_next = || {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(next_cert.pem().as_bytes()).unwrap(),
            )
            .tls_built_in_root_certs(false)
            .use_rustls_tls()
            .build()
            .unwrap()
    };
    let healthz = format!("{}/healthz", fe.base);
    assert!(trusting_next().get(&healthz).send().await.is_err());
    // A key that does not belong to the certificate is refused; the old pair stays.
    let (_, stray_key) = server_identity();
    write(&fe.dir.path().join("tls.crt"), &next_cert.pem());
    write(&fe.dir.path().join("tls.key"), &stray_key.serialize_pem());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(trusting_next().get(&healthz).send().await.is_err());
    assert_eq!(
        fe.client(None).get(&healthz).send().await.unwrap().status(),
        200,
        "the old certificate is still served"
    );
    write(&fe.dir.path().join("tls.key"), &next_key.serialize_pem());
    wait_for("the new serving certificate", || async {
        trusting_next().get(&healthz).send().await.is_ok()
    })
    .await;
    fe.stop().await;
}

#[test]
fn malformed_fingerprints_fail_at_start_up() {
    let parse = |extra: &str| {
        let argv = ["frontend", "--tls-cert=x", "--tls-key=y", extra];
        rp_frontend::config_from_args(&Cli::try_parse_from(argv).unwrap().args)
    };
    let good = "ab".repeat(32);
    let err = parse(&format!(
        "--arm-client-cert-sha256={good},{}",
        "c".repeat(63)
    ))
    .unwrap_err()
    .to_string();
    assert!(err.contains("--arm-client-cert-sha256: entry 2"), "{err}");
    let err = parse("--admin-client-cert-sha256=zz")
        .unwrap_err()
        .to_string();
    assert!(err.contains("--admin-client-cert-sha256: entry 1"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("admin");
    std::fs::write(&file, format!("{good}\n\n# c\nAB:CD\n")).unwrap();
    let err = parse(&format!("--admin-client-certs-file={}", file.display()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 4"), "{err}");
    let err = parse("--arm-client-certs-file=/nonexistent/list")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/nonexistent/list"), "{err}");
    assert!(
        parse(&format!(
            "--arm-client-cert-sha256={}",
            openssl_spelling(&good)
        ))
        .is_ok()
    );
}
