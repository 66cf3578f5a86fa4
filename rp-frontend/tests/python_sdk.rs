//! The official Python SDK (azure-mgmt-redhatopenshift, pinned in e2e/requirements.txt) drives the
//! frontend over TLS with an ARM client certificate through create, get, both lists, the
//! credentials, a tags update and delete, its LRO pollers completing against a stand-in
//! controller.

mod support;

use std::process::Stdio;

use rp_frontend::{AuthMode, Frontend, FrontendConfig};
use support::{KUBEADMIN_PASSWORD, SUB, USER_ADMIN_KUBECONFIG};

/// A CA, a server certificate for 127.0.0.1 signed by it, and a self-signed ARM client
/// certificate (PEM certificate + key in one file, as the SDK's `connection_cert` takes it).
struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
    client_pem_with_key: String,
    client_der: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rp-frontend test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let mut server_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    server_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "rp-frontend");
    let server = server_params.signed_by(&server_key, &ca).unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client = rcgen::CertificateParams::new(vec!["arm".to_string()])
        .unwrap()
        .self_signed(&client_key)
        .unwrap();
    Pki {
        ca_pem: ca.pem(),
        server_pem: server.pem(),
        server_key_pem: server_key.serialize_pem(),
        client_pem_with_key: format!("{}{}", client.pem(), client_key.serialize_pem()),
        client_der: client.der().to_vec(),
    }
}

/// How the SDK reaches the frontend.
enum Reach<'a> {
    /// TLS with the ARM client certificate: (CA file, client certificate + key file).
    Tls(&'a std::path::Path, &'a std::path::Path),
    /// Plain HTTP to a loopback frontend without client authentication.
    Plain,
}

/// Runs sdk_flow.py against `endpoint` and checks every step reported ok. Without `referer` the
/// SDK talks to the frontend directly, as without ARM's front door.
async fn run_sdk_flow(endpoint: &str, reach: Reach<'_>, referer: bool) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/sdk_flow.py");
    let mut command = tokio::process::Command::new("python3");
    command
        .arg(script)
        .arg(endpoint)
        .args(["--subscription", SUB])
        .args(["--kubeadmin-password", KUBEADMIN_PASSWORD])
        .args(["--admin-kubeconfig", USER_ADMIN_KUBECONFIG]);
    if let Reach::Tls(ca, client) = reach {
        command.arg("--ca").arg(ca).arg("--client-cert").arg(client);
    }
    if !referer {
        command.arg("--no-referer");
    }
    let run = command.stdin(Stdio::null()).kill_on_drop(true).output();
    // A poller that never sees a terminal state would spin forever: bound the run.
    let output = tokio::time::timeout(std::time::Duration::from_secs(300), run)
        .await
        .expect("sdk_flow.py finishes within 5 minutes")
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        output.status.success(),
        "sdk_flow.py against {endpoint} (referer: {referer}) failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    for step in ["create", "get", "list", "credentials", "update", "delete"] {
        assert!(
            stdout.contains(&format!("{step}: ok")),
            "step {step} did not report ok:\n{stdout}"
        );
    }
}

fn python3_missing() -> bool {
    let missing = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err();
    if missing {
        eprintln!("skipping: python3 is not installed");
    }
    missing
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_drives_the_cluster_lifecycle() {
    if python3_missing() {
        return;
    }
    let (_dc, client) = support::management_cluster().await;
    let _controller = support::spawn_controller_stand_in(client.clone());

    let pki = pki();
    let mut config = FrontendConfig::insecure_for_loopback("eastus");
    config.auth = AuthMode::client_certificates(
        [rp_frontend::server::auth::fingerprint(&pki.client_der)],
        [],
    )
    .unwrap();
    let app = Frontend::router(client.clone(), config);
    let tls =
        rp_frontend::tls::server_config(pki.server_pem.as_bytes(), pki.server_key_pem.as_bytes())
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(rp_frontend::tls::serve_tls(
        listener,
        tls,
        app,
        shutdown.clone(),
    ));
    let endpoint = format!("https://{addr}");

    // ARM registers the subscription before any cluster request.
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .identity(reqwest::Identity::from_pem(pki.client_pem_with_key.as_bytes()).unwrap())
        .build()
        .unwrap();
    support::register_subscription(&http, &endpoint).await;

    let dir = tempfile::tempdir().unwrap();
    let ca_path = dir.path().join("ca.pem");
    let client_path = dir.path().join("client.pem");
    std::fs::write(&ca_path, &pki.ca_pem).unwrap();
    std::fs::write(&client_path, &pki.client_pem_with_key).unwrap();

    // Through ARM's front door (Referer), then straight at the frontend on its random port.
    run_sdk_flow(&endpoint, Reach::Tls(&ca_path, &client_path), true).await;
    run_sdk_flow(&endpoint, Reach::Tls(&ca_path, &client_path), false).await;
    shutdown.cancel();
}

/// Plain HTTP on a random loopback port, no Referer: the SDK's pollers follow the frontend's
/// polling URLs back to it (`http://127.0.0.1:<port>`), not to a default address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_lifecycle_over_plain_http_without_a_front_door() {
    if python3_missing() {
        return;
    }
    let (_dc, client) = support::management_cluster().await;
    let _controller = support::spawn_controller_stand_in(client.clone());
    let app = Frontend::router(
        client.clone(),
        FrontendConfig::insecure_for_loopback("eastus"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(aro_common::serve::serve(
        listener,
        aro_common::serve::Transport::Plain,
        app,
        aro_common::serve::ServeOptions::default(),
        shutdown.clone(),
    ));
    support::register_subscription(&reqwest::Client::new(), &endpoint).await;
    run_sdk_flow(&endpoint, Reach::Plain, false).await;
    shutdown.cancel();
}
