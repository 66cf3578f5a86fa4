//! The emulator over real HTTP, the way curl or any ARM client sees it.

use arm_emulator::{
    ArmEmulator, ArmEmulatorArgs, EmulatorConfig, EmulatorHandle, FaultConfig, FaultRule, OpType,
    demo,
};
use clap::Parser;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ArmEmulatorArgs,
}

async fn demo_emulator() -> EmulatorHandle {
    let cli = Cli::parse_from([
        "arm-emulator",
        "--seed-demo",
        "--listen",
        "127.0.0.1:0",
        "--lro-delay-ms",
        "30",
        "--lro-retry-after-secs",
        "0",
    ]);
    ArmEmulator::start(cli.args.to_config().unwrap())
        .await
        .unwrap()
}

async fn token(base: &str, client_id: &str, secret: &str) -> String {
    let rsp: Value = reqwest::Client::new()
        .post(format!("{base}/{}/oauth2/v2.0/token", demo::TENANT))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", &format!("{base}/.default")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rsp["token_type"], "Bearer");
    assert!(rsp["expires_in"].as_u64().unwrap() > 0);
    assert!(rsp["ext_expires_in"].as_u64().unwrap() > 0);
    let token = rsp["access_token"].as_str().unwrap().to_string();
    // Shaped like Entra ID's: a JWT naming the principal.
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["appid"], client_id);
    assert!(claims["oid"].as_str().is_some_and(|o| !o.is_empty()));
    assert_eq!(claims["tid"], demo::TENANT);
    token
}

struct Arm {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Arm {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}{sep}api-version=2024-03-01", self.base)
        };
        let mut req = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let rsp = req.send().await.unwrap();
        let status = rsp.status().as_u16();
        let headers = rsp.headers().clone();
        let text = rsp.text().await.unwrap();
        (
            status,
            headers,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    async fn wait(&self, headers: &reqwest::header::HeaderMap) -> Value {
        let url = headers["azure-asyncoperation"]
            .to_str()
            .unwrap()
            .to_string();
        for _ in 0..200 {
            let (status, _, body) = self.call(reqwest::Method::GET, &url, None).await;
            assert_eq!(status, 200);
            if body["status"] != "InProgress" {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("operation never finished");
    }
}

#[tokio::test]
async fn seed_demo_answers_curl_with_arm_json() {
    let emu = demo_emulator().await;
    let base = emu.base_url.clone();
    // Without a token: 401 with an ARM error body.
    let rsp = reqwest::get(format!("{base}{}?api-version=2024-03-01", demo::vnet_id()))
        .await
        .unwrap();
    assert_eq!(rsp.status(), 401);
    assert!(rsp.headers().contains_key("www-authenticate"));
    let body: Value = rsp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");

    let arm = Arm {
        token: token(&base, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await,
        base,
        http: reqwest::Client::new(),
    };
    let (status, headers, vnet) = arm.call(reqwest::Method::GET, &demo::vnet_id(), None).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-ms-request-id"));
    assert_eq!(vnet["name"], "demo-vnet");
    assert_eq!(vnet["type"], "Microsoft.Network/virtualNetworks");
    assert_eq!(
        vnet["properties"]["addressSpace"]["addressPrefixes"],
        json!(["10.0.0.0/22"])
    );
    assert_eq!(vnet["properties"]["provisioningState"], "Succeeded");
    let subnets = vnet["properties"]["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 2);
    assert_eq!(subnets[0]["properties"]["addressPrefix"], "10.0.0.0/23");
    assert_eq!(subnets[1]["properties"]["addressPrefix"], "10.0.2.0/23");

    let (status, _, group) = arm
        .call(reqwest::Method::GET, &demo::resource_group_id(), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(group["location"], "eastus");

    // Missing api-version is ARM's 400.
    let rsp = arm
        .http
        .get(format!("{}{}", arm.base, demo::vnet_id()))
        .bearer_auth(&arm.token)
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 400);
    assert_eq!(
        rsp.json::<Value>().await.unwrap()["error"]["code"],
        "MissingApiVersionParameter"
    );

    // The cluster principal holds Network Contributor on the vnet only.
    let cluster = Arm {
        token: token(
            &arm.base,
            demo::CLUSTER_CLIENT_ID,
            demo::CLUSTER_CLIENT_SECRET,
        )
        .await,
        base: arm.base.clone(),
        http: reqwest::Client::new(),
    };
    let (status, _, perms) = cluster
        .call(
            reqwest::Method::GET,
            &format!(
                "{}/providers/Microsoft.Authorization/permissions",
                demo::vnet_id()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        perms["value"][0]["actions"]
            .as_array()
            .unwrap()
            .contains(&json!("Microsoft.Network/*"))
    );
    let (status, _, _) = cluster
        .call(reqwest::Method::GET, &demo::subnet_id("master"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _, err) = cluster
        .call(
            reqwest::Method::PUT,
            &format!(
                "{}/providers/Microsoft.Network/routeTables/rt",
                demo::resource_group_id()
            ),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(err["error"]["code"], "AuthorizationFailed");
    emu.stop().await.unwrap();
}

#[tokio::test]
async fn bad_credentials_are_refused_by_the_token_endpoint() {
    let emu = demo_emulator().await;
    let rsp = reqwest::Client::new()
        .post(format!("{}/t/oauth2/v2.0/token", emu.base_url))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", demo::RP_CLIENT_ID),
            ("client_secret", "wrong"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 401);
    assert_eq!(
        rsp.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let rsp = reqwest::Client::new()
        .get(format!(
            "{}/subscriptions/s/resourcegroups?api-version=2021-04-01",
            emu.base_url
        ))
        .bearer_auth("made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 401);
    assert_eq!(
        rsp.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidAuthenticationToken"
    );
}

#[tokio::test]
async fn long_running_put_and_delete_with_polling_urls() {
    let emu = demo_emulator().await;
    let arm = Arm {
        token: token(&emu.base_url, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await,
        base: emu.base_url.clone(),
        http: reqwest::Client::new(),
    };
    let nsg = format!(
        "{}/providers/Microsoft.Network/networkSecurityGroups/nsg1",
        demo::resource_group_id()
    );
    let (status, headers, body) = arm
        .call(
            reqwest::Method::PUT,
            &nsg,
            Some(json!({"location": "East US"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(body["properties"]["provisioningState"], "Updating");
    assert_eq!(body["location"], "eastus");
    assert!(
        headers["azure-asyncoperation"]
            .to_str()
            .unwrap()
            .starts_with(&emu.base_url)
    );
    assert!(headers.contains_key("location"));
    let op = arm.wait(&headers).await;
    assert_eq!(op["status"], "Succeeded");
    assert!(op["endTime"].is_string());
    let (_, _, body) = arm.call(reqwest::Method::GET, &nsg, None).await;
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");

    let (status, headers, body) = arm
        .call(
            reqwest::Method::PUT,
            &nsg,
            Some(json!({"location": "eastus", "tags": {"a": "b"}})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["properties"]["provisioningState"], "Updating");
    arm.wait(&headers).await;

    // Location can't move.
    let (status, _, err) = arm
        .call(
            reqwest::Method::PUT,
            &nsg,
            Some(json!({"location": "westus2"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "InvalidResourceLocation");

    // DELETE: 202, the Location URL answers 202 then 204; a second DELETE of the absent resource is 204.
    let (status, headers, _) = arm.call(reqwest::Method::DELETE, &nsg, None).await;
    assert_eq!(status, 202);
    let location = headers["location"].to_str().unwrap().to_string();
    let mut last = 0;
    for _ in 0..200 {
        let (s, _, _) = arm.call(reqwest::Method::GET, &location, None).await;
        last = s;
        if s != 202 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(last, 204);
    let (status, _, err) = arm.call(reqwest::Method::GET, &nsg, None).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "ResourceNotFound");
    let (status, _, _) = arm.call(reqwest::Method::DELETE, &nsg, None).await;
    assert_eq!(status, 204);

    // Missing group: ResourceGroupNotFound.
    let (status, _, err) = arm
        .call(
            reqwest::Method::PUT,
            &format!(
                "/subscriptions/{}/resourceGroups/nope/providers/Microsoft.Network/routeTables/rt",
                demo::SUBSCRIPTION
            ),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "ResourceGroupNotFound");
}

#[tokio::test]
async fn admin_api_sets_faults_and_exposes_the_request_log() {
    let emu = demo_emulator().await;
    let http = reqwest::Client::new();
    let faults = FaultConfig {
        rules: vec![FaultRule {
            operations: vec![OpType::Read],
            throttle_rate: 1.0,
            retry_after_secs: 7,
            ..Default::default()
        }],
        seed: Some(1),
    };
    let rsp = http
        .put(format!("{}/_admin/faults", emu.base_url))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 200);
    let arm = Arm {
        token: token(&emu.base_url, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await,
        base: emu.base_url.clone(),
        http: http.clone(),
    };
    let (status, headers, err) = arm.call(reqwest::Method::GET, &demo::vnet_id(), None).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(err["error"]["code"], "TooManyRequests");
    // Writes are not covered by the rule.
    let (status, _, _) = arm
        .call(
            reqwest::Method::PUT,
            &format!(
                "{}/providers/Microsoft.Network/routeTables/rt",
                demo::resource_group_id()
            ),
            Some(json!({"location": "eastus"})),
        )
        .await;
    assert_eq!(status, 201);

    let bad = http
        .put(format!("{}/_admin/faults", emu.base_url))
        .body(r#"{"rules":[{"errorRate":2}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let log: Value = http
        .get(format!("{}/_admin/requests", emu.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = log["value"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["method"], "GET");
    assert_eq!(entries[0]["status"], 429);
    assert_eq!(entries[0]["injected"], true);
    assert_eq!(entries[1]["method"], "PUT");
    assert_eq!(entries[1]["status"], 201);

    // Seeding over the admin API (YAML), then reset.
    let seed = format!(
        "resources:\n- id: /subscriptions/{}/resourceGroups/other\n  body: {{location: westus2}}\n",
        demo::SUBSCRIPTION
    );
    let rsp = http
        .post(format!("{}/_admin/seed", emu.base_url))
        .body(seed)
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 204);
    assert!(emu.resources().iter().any(|r| r["name"] == "other"));
    let rsp = http
        .post(format!("{}/_admin/reset?reseed=true", emu.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 204);
    assert!(!emu.resources().iter().any(|r| r["name"] == "other"));
    assert!(emu.resources().iter().any(|r| r["name"] == "demo-vnet"));
    assert!(emu.requests().is_empty());
}

#[tokio::test]
async fn subnet_references_and_in_use_protection() {
    let emu = ArmEmulator::start(EmulatorConfig {
        seeds: vec![demo::seed()],
        ..Default::default()
    })
    .await
    .unwrap();
    let arm = Arm {
        token: token(&emu.base_url, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await,
        base: emu.base_url.clone(),
        http: reqwest::Client::new(),
    };
    let rg = demo::resource_group_id();
    let rt = format!("{rg}/providers/Microsoft.Network/routeTables/missing");
    let (status, _, err) = arm
        .call(
            reqwest::Method::PUT,
            &demo::subnet_id("master"),
            Some(json!({"properties": {"addressPrefix": "10.0.0.0/23", "routeTable": {"id": rt}}})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "InvalidResourceReference");
    let (status, _, err) = arm
        .call(
            reqwest::Method::PUT,
            &demo::subnet_id("extra"),
            Some(json!({"properties": {"addressPrefix": "10.0.1.0/24"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "NetcfgSubnetRangesOverlap");

    let nic = format!("{rg}/providers/Microsoft.Network/networkInterfaces/nic1");
    let (status, headers, _) = arm.call(reqwest::Method::PUT, &nic, Some(json!({"location": "eastus", "properties": {"ipConfigurations": [{"name": "ip", "properties": {"subnet": {"id": demo::subnet_id("worker")}}}]}}))).await;
    assert_eq!(status, 201);
    arm.wait(&headers).await;
    let (status, _, err) = arm
        .call(reqwest::Method::DELETE, &demo::subnet_id("worker"), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "InUseSubnetCannotBeDeleted");
    let (status, _, err) = arm
        .call(reqwest::Method::DELETE, &demo::vnet_id(), None)
        .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "InUseSubnetCannotBeDeleted");
    let (_, _, subnet) = arm
        .call(reqwest::Method::GET, &demo::subnet_id("worker"), None)
        .await;
    assert_eq!(subnet["properties"]["ipConfigurations"][0]["id"], nic);
}

#[tokio::test]
async fn run_serves_the_demo_until_cancelled() {
    // `run` is what `aro arm-emulator` calls; pick a free port for it first.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cli = Cli::parse_from([
        "arm-emulator",
        "--seed-demo",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ]);
    let stop = tokio_util::sync::CancellationToken::new();
    let server = tokio::spawn(arm_emulator::run(cli.args, stop.clone()));
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if reqwest::get(format!("{base}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ready, "emulator did not come up");
    let arm = Arm {
        token: token(&base, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await,
        base: base.clone(),
        http: reqwest::Client::new(),
    };
    let (status, _, list) = arm
        .call(
            reqwest::Method::GET,
            &format!("/subscriptions/{}/resourcegroups", demo::SUBSCRIPTION),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let groups: Vec<&str> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(groups.contains(&"demo-rg"), "{groups:?}");
    assert!(groups.contains(&demo::RP_RESOURCE_GROUP), "{groups:?}");
    stop.cancel();
    server.await.unwrap().unwrap();
}

/// A non-loopback IPv4 address of this machine: the source address the kernel picks for an
/// outside destination (no packet is sent), else the first global address `ip` lists.
fn non_loopback_address() -> Option<std::net::IpAddr> {
    for target in ["192.0.2.1:9", "10.255.255.254:9", "8.8.8.8:53"] {
        if let Ok(socket) = std::net::UdpSocket::bind("0.0.0.0:0")
            && socket.connect(target).is_ok()
            && let Ok(local) = socket.local_addr()
            && !local.ip().is_loopback()
            && !local.ip().is_unspecified()
        {
            return Some(local.ip());
        }
    }
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next()?.parse().ok())
}

#[tokio::test]
async fn the_admin_api_answers_only_loopback_peers() {
    let Some(ip) = non_loopback_address() else {
        println!("skipped: this machine has no non-loopback IPv4 address");
        return;
    };
    for tls in [false, true] {
        let emu = ArmEmulator::start(EmulatorConfig {
            listen: "0.0.0.0:0".parse().unwrap(),
            seeds: vec![demo::seed()],
            tls,
            ..Default::default()
        })
        .await
        .unwrap();
        let scheme = if tls { "https" } else { "http" };
        let port = emu.local_addr.port();
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        let get = |host: String, path: &str| {
            let request = client.get(format!("{scheme}://{host}:{port}{path}"));
            async move { request.send().await.unwrap() }
        };
        let remote = get(ip.to_string(), "/_admin/state").await;
        assert_eq!(remote.status(), 403, "tls={tls}: admin from {ip}");
        let body: Value = remote.json().await.unwrap();
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("loopback"),
            "{body}"
        );
        let rsp = client
            .put(format!("{scheme}://{ip}:{port}/_admin/faults"))
            .body("rules: [{errorRate: 1}]")
            .send()
            .await
            .unwrap();
        assert_eq!(rsp.status(), 403, "tls={tls}: faults from {ip}");
        assert!(emu.requests().is_empty() && emu.resources().len() > 1);
        // The rest of the emulator serves every peer; the admin API serves loopback.
        assert_eq!(get(ip.to_string(), "/healthz").await.status(), 200);
        assert_eq!(
            get("127.0.0.1".into(), "/_admin/state").await.status(),
            200,
            "tls={tls}: admin from loopback"
        );
        emu.stop().await.unwrap();
    }
}

#[tokio::test]
async fn a_rotated_federated_credential_refuses_the_old_assertion() {
    let emu = demo_emulator().await;
    emu.add_principal(arm_emulator::Principal {
        client_id: "wi".into(),
        client_secret: None,
        federated_token: Some("assertion-1".into()),
        object_id: "wi-object".into(),
        tenant_id: None,
        restricted: false,
    })
    .unwrap();
    let exchange = |assertion: &'static str| {
        let url = format!("{}/{}/oauth2/v2.0/token", emu.base_url, demo::TENANT);
        async move {
            let rsp = reqwest::Client::new()
                .post(url)
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", "wi"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", assertion),
                ])
                .send()
                .await
                .unwrap();
            (rsp.status().as_u16(), rsp.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(exchange("assertion-1").await.0, 200);
    let rsp = reqwest::Client::new()
        .put(format!(
            "{}/_admin/principals/wi/federatedToken",
            emu.base_url
        ))
        .json(&json!({"federatedToken": "assertion-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 204);
    let (status, body) = exchange("assertion-1").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"], "invalid_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700213"),
        "{body}"
    );
    assert_eq!(exchange("assertion-2").await.0, 200);
    // Unknown principals and malformed bodies are 4xx.
    let rsp = reqwest::Client::new()
        .put(format!(
            "{}/_admin/principals/nobody/federatedToken",
            emu.base_url
        ))
        .json(&json!({"federatedToken": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 404);
    let rsp = reqwest::Client::new()
        .put(format!(
            "{}/_admin/principals/wi/federatedToken",
            emu.base_url
        ))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(rsp.status(), 400);
}

#[tokio::test]
async fn issued_tokens_and_the_request_log_are_bounded() {
    let emu = ArmEmulator::start(EmulatorConfig {
        seeds: vec![demo::seed()],
        max_tokens: 2,
        max_logged_requests: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(token(&emu.base_url, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await);
    }
    let list = |token: String| {
        let url = format!(
            "{}/subscriptions/{}/resourcegroups?api-version=2021-04-01",
            emu.base_url,
            demo::SUBSCRIPTION
        );
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The two oldest tokens were forgotten; the two newest work.
    assert_eq!(list(tokens[0].clone()).await, 401);
    assert_eq!(list(tokens[1].clone()).await, 401);
    assert_eq!(list(tokens[2].clone()).await, 200);
    assert_eq!(list(tokens[3].clone()).await, 200);
    for _ in 0..5 {
        list(tokens[3].clone()).await;
    }
    let seqs: Vec<u64> = emu.requests().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [7, 8, 9]);
}
/// A DNS record set write or delete with conditional headers.
async fn conditional(
    arm: &Arm,
    method: reqwest::Method,
    path: &str,
    header: Option<(&str, &str)>,
    body: Option<Value>,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let url = format!("{}{path}?api-version=2018-05-01", arm.base);
    let mut req = arm.http.request(method, url).bearer_auth(&arm.token);
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let rsp = req.send().await.unwrap();
    let status = rsp.status().as_u16();
    let headers = rsp.headers().clone();
    let text = rsp.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, headers, body)
}

#[tokio::test]
async fn record_sets_honour_if_none_match_and_if_match_and_keep_their_metadata() {
    let emu = demo_emulator().await;
    let base = emu.base_url.clone();
    let arm = Arm {
        token: token(&base, demo::RP_CLIENT_ID, demo::RP_CLIENT_SECRET).await,
        base,
        http: reqwest::Client::new(),
    };
    let rg = format!("/subscriptions/{}/resourceGroups/dns", demo::SUBSCRIPTION);
    let (status, _, _) = conditional(
        &arm,
        reqwest::Method::PUT,
        &rg,
        None,
        Some(json!({"location": "eastus"})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status}");
    let zone = format!("{rg}/providers/Microsoft.Network/dnszones/eastus.example.com");
    let (status, headers, _) = conditional(
        &arm,
        reqwest::Method::PUT,
        &zone,
        None,
        Some(json!({"location": "global"})),
    )
    .await;
    assert!(status == 200 || status == 201, "{status}");
    if let Some(op) = headers.get("azure-asyncoperation") {
        let _ = op;
        arm.wait(&headers).await;
    }
    let record = format!("{zone}/A/api.demo");
    let owned_by = |owner: &str, ip: &str| json!({"properties": {"TTL": 300, "metadata": {"owner": owner}, "ARecords": [{"ipv4Address": ip}]}});

    // Create-only: the first create wins, the second is 412 and changes nothing.
    let (status, headers, created) = conditional(
        &arm,
        reqwest::Method::PUT,
        &record,
        Some(("if-none-match", "*")),
        Some(owned_by("a", "1.1.1.1")),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let etag = created["etag"].as_str().unwrap().to_string();
    assert_eq!(headers["etag"].to_str().unwrap(), etag);
    assert_eq!(created["properties"]["metadata"]["owner"], "a");
    let (status, _, refused) = conditional(
        &arm,
        reqwest::Method::PUT,
        &record,
        Some(("if-none-match", "*")),
        Some(owned_by("b", "2.2.2.2")),
    )
    .await;
    assert_eq!(status, 412, "{refused}");
    assert_eq!(refused["error"]["code"], "PreconditionFailed");
    let (_, headers, current) = conditional(&arm, reqwest::Method::GET, &record, None, None).await;
    assert_eq!(current["properties"]["metadata"]["owner"], "a");
    assert_eq!(
        current["properties"]["ARecords"][0]["ipv4Address"],
        "1.1.1.1"
    );
    assert_eq!(headers["etag"].to_str().unwrap(), etag);

    // If-Match: a stale etag neither replaces nor deletes; the current one does.
    let (status, _, replaced) = conditional(
        &arm,
        reqwest::Method::PUT,
        &record,
        Some(("if-match", &etag)),
        Some(owned_by("a", "3.3.3.3")),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    let new_etag = replaced["etag"].as_str().unwrap().to_string();
    assert_ne!(new_etag, etag);
    let (status, _, stale) = conditional(
        &arm,
        reqwest::Method::DELETE,
        &record,
        Some(("if-match", &etag)),
        None,
    )
    .await;
    assert_eq!(status, 412, "{stale}");
    let (status, _, _) = conditional(&arm, reqwest::Method::GET, &record, None, None).await;
    assert_eq!(status, 200);
    let (status, _, _) = conditional(
        &arm,
        reqwest::Method::DELETE,
        &record,
        Some(("if-match", &new_etag)),
        None,
    )
    .await;
    assert!(status == 200 || status == 204, "{status}");
    let (status, _, _) = conditional(&arm, reqwest::Method::GET, &record, None, None).await;
    assert_eq!(status, 404);
    // Absent: an If-Match PUT is 412, an If-Match DELETE 204.
    let (status, _, _) = conditional(
        &arm,
        reqwest::Method::PUT,
        &record,
        Some(("if-match", &new_etag)),
        Some(owned_by("a", "1.1.1.1")),
    )
    .await;
    assert_eq!(status, 412);
    let (status, _, _) = conditional(
        &arm,
        reqwest::Method::DELETE,
        &record,
        Some(("if-match", &new_etag)),
        None,
    )
    .await;
    assert_eq!(status, 204);
}

#[tokio::test]
async fn a_principal_gets_tokens_only_from_its_own_tenant_and_token_requests_are_logged() {
    let emu = demo_emulator().await;
    let tenant_a = "00000000-0000-0000-0000-0000000000aa";
    emu.add_principal(arm_emulator::Principal {
        client_id: "00000000-0000-0000-0000-0000000000a1".into(),
        client_secret: Some("secret-a".into()),
        federated_token: None,
        object_id: "00000000-0000-0000-0000-0000000000a2".into(),
        tenant_id: Some(tenant_a.into()),
        restricted: true,
    })
    .unwrap();
    let ask = |tenant: &str| {
        reqwest::Client::new()
            .post(format!("{}/{tenant}/oauth2/v2.0/token", emu.base_url))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "00000000-0000-0000-0000-0000000000a1"),
                ("client_secret", "secret-a"),
            ])
            .send()
    };
    let refused = ask(demo::TENANT).await.unwrap();
    assert_eq!(refused.status(), 400);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized_client");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS700016"),
        "{body}"
    );
    let issued = ask(tenant_a).await.unwrap();
    assert_eq!(issued.status(), 200);

    let log = emu.token_requests();
    let seen: Vec<(&str, u16)> = log.iter().map(|r| (r.tenant.as_str(), r.status)).collect();
    assert_eq!(seen, vec![(demo::TENANT, 400), (tenant_a, 200)]);
    assert!(log[0].error.as_deref().unwrap().contains("AADSTS700016"));
    assert!(log.iter().all(|r| r.client_id.ends_with("a1")));
    // Also over the admin API.
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/_admin/token-requests", emu.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["value"][1]["tenant"], tenant_a);
}
