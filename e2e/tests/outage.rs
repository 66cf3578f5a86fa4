//! A management API outage under load, handled as ARM expects: while the management cluster is
//! down, clients get 503 with `Retry-After` and ARM's error body (never a 500) and the frontend
//! reports not ready; once it is back (same address, same durable data), requests succeed again,
//! and no accepted cluster is lost or duplicated: each exists once and reaches Succeeded.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use devcluster::{Devcluster, DevclusterConfig};
use e2e::{Arm, cluster_body, seed_network_at};
use serde_json::Value;

const T: Duration = Duration::from_secs(180);
const CLIENTS: usize = 3;

/// What the clients saw.
#[derive(Default)]
struct Seen {
    /// Status of every answer.
    statuses: BTreeMap<u16, usize>,
    /// 503s without a `Retry-After` of whole seconds or without ARM's error body.
    bad_503s: Vec<String>,
    /// Clusters whose create was accepted (201), or answered 409 after a 503 (an earlier try's
    /// create landed although its answer was lost).
    accepted: BTreeSet<String>,
    /// Clients that got a 503 since the outage began.
    refused_in_outage: BTreeSet<usize>,
}

/// One request; `None` when the connection to the frontend itself failed (it never does here).
async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<&Value>,
    client: usize,
    seen: &Mutex<Seen>,
    outage: &tokio::sync::watch::Receiver<bool>,
) -> (u16, Value) {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the frontend answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let mut seen = seen.lock().unwrap();
    *seen.statuses.entry(status).or_default() += 1;
    if status == 503 {
        let whole_seconds = retry_after
            .as_deref()
            .and_then(|v| v.parse::<u64>().ok())
            .is_some_and(|s| s > 0);
        if !whole_seconds || body["error"]["code"] != "ServiceUnavailable" {
            seen.bad_503s.push(format!("{retry_after:?} {body}"));
        }
        if *outage.borrow() {
            seen.refused_in_outage.insert(client);
        }
    }
    (status, body)
}

/// A client: creates one cluster, reads it and lists until the outage begins, then creates
/// another, retrying 503s until the create is accepted.
async fn client(
    arm: Arm,
    base: String,
    index: usize,
    bodies: [Value; 2],
    seen: Arc<Mutex<Seen>>,
    mut outage: tokio::sync::watch::Receiver<bool>,
) {
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{base}{path}?api-version={}", e2e::API_VERSION);
    let list = url(&format!(
        "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.RedHatOpenShift/openShiftClusters",
        arm.subscription, arm.resource_group
    ));
    for (round, body) in bodies.iter().enumerate() {
        let name = format!("outage-{index}-{round}");
        let cluster = url(&arm.cluster_id(&name));
        let mut refused = false;
        loop {
            let (status, answer) = send(
                &http,
                reqwest::Method::PUT,
                &cluster,
                Some(body),
                index,
                &seen,
                &outage,
            )
            .await;
            match status {
                201 => break,
                503 => refused = true,
                409 if refused && answer["error"]["code"] == "RequestNotAllowed" => break,
                other => panic!("{name}: unexpected {other}: {answer}"),
            }
            // A client may retry sooner than Retry-After says; a quick retry finds the end of the
            // outage sooner.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        seen.lock().unwrap().accepted.insert(name.clone());
        if round == 0 {
            // Load until the outage begins and a while into it: reads of the cluster and lists.
            while !*outage.borrow() || !seen.lock().unwrap().refused_in_outage.contains(&index) {
                for target in [&cluster, &list] {
                    let (status, answer) = send(
                        &http,
                        reqwest::Method::GET,
                        target,
                        None,
                        index,
                        &seen,
                        &outage,
                    )
                    .await;
                    assert!(matches!(status, 200 | 503), "{status}: {answer}");
                }
                tokio::select! {
                    _ = outage.changed() => {}
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_management_api_outage_answers_503_then_recovers_and_loses_nothing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let data = tempfile::tempdir().unwrap();
    let mut system = LocalSystem::start(LocalConfig {
        data_dir: Some(data.path().to_path_buf()),
        settings: e2e::fast_settings(),
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();
    let base = system.frontend_url.clone();

    wait_until("the frontend is ready", || {
        system.frontend_health.is_ready()
    })
    .await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let (outage_tx, outage) = tokio::sync::watch::channel(false);
    let mut clients = Vec::new();
    for index in 0..CLIENTS {
        let body = |round: usize| {
            let name = format!("outage-{index}-{round}");
            let network = seed_network_at(
                emulator,
                &format!("{name}-vnet"),
                (index * 2 + round) as u32,
                true,
            )
            .unwrap();
            cluster_body(&name, &network)
        };
        let bodies = [body(0), body(1)];
        let (arm, seen, outage, base) = (arm.clone(), seen.clone(), outage.clone(), base.clone());
        clients.push(tokio::spawn(client(arm, base, index, bodies, seen, outage)));
    }

    // Every client's first create is in before the management API goes away.
    wait_until("every first create is accepted", || {
        seen.lock().unwrap().accepted.len() == CLIENTS
    })
    .await;
    let management = system.devcluster.take().unwrap();
    let address = management.addr;
    management.stop().await;
    outage_tx.send_replace(true);

    // Down: every client gets 503s, and the frontend says it is not ready.
    wait_until("every client is refused with a 503", || {
        seen.lock().unwrap().refused_in_outage.len() == CLIENTS
    })
    .await;
    wait_until("the frontend reports not ready", || {
        !system.frontend_health.is_ready()
    })
    .await;

    // Back, on the same address with the same data.
    let restarted = Devcluster::start(DevclusterConfig {
        listen: address,
        name: "aro-local".into(),
        ..DevclusterConfig::durable(data.path().join("management"))
    })
    .await
    .expect("the management API restarts");
    system.devcluster = Some(restarted);
    wait_until("the frontend is ready again", || {
        system.frontend_health.is_ready()
    })
    .await;
    for client in clients {
        tokio::time::timeout(T, client)
            .await
            .expect("every client's second create is accepted")
            .unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.bad_503s.is_empty(), "{:?}", seen.bad_503s);
    let server_errors: Vec<_> = seen
        .statuses
        .iter()
        .filter(|(status, _)| **status >= 500 && **status != 503)
        .collect();
    assert!(server_errors.is_empty(), "{:?}", seen.statuses);
    assert!(seen.statuses.get(&503).is_some_and(|n| *n > 0));

    // Nothing lost: every accepted create reaches Succeeded. Nothing duplicated: each exists once.
    assert_eq!(seen.accepted.len(), CLIENTS * 2, "{:?}", seen.accepted);
    for name in &seen.accepted {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            keep_a_controller(&mut system);
            let cluster = arm.get(name).await.unwrap();
            match cluster.body["properties"]["provisioningState"].as_str() {
                Some("Succeeded") => break,
                Some("Failed") => panic!("{name} failed: {}", cluster.body),
                _ => {}
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} never succeeded: {}",
                cluster.body
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let listed = arm.list_resource_group().await.unwrap();
    assert_eq!(listed.status, 200, "{}", listed.body);
    let mut names: Vec<String> = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let expected: Vec<String> = seen.accepted.iter().cloned().collect();
    assert_eq!(names, expected);
    system.stop().await.unwrap();
}

/// Poll `condition` until it holds (or [`T`] passes: then fail naming `what`).
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: never");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A controller that lost its lease during the outage (it could not renew it) ended, as its
/// process would; its Deployment starts another, as here.
fn keep_a_controller(system: &mut LocalSystem) {
    if let Some(controller) = system.take_controller() {
        if controller.is_finished() {
            let replacement = system.start_controller("local-1").unwrap();
            system.set_controller(replacement);
        } else {
            system.set_controller(controller);
        }
    }
}
