//! `aro devcluster` as a real process: every acknowledged write survives `kill -9` and a restart,
//! resourceVersions keep increasing after it, and a watcher connected across the restart ends up
//! with exactly the objects that exist (it resumes, or gets 410 Gone and relists).
#![cfg(unix)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};

const T: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start `aro devcluster` on `port` with its data in `dir`.
fn start(dir: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_aro"))
        .args(["devcluster", "--data-dir"])
        .arg(dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aro devcluster starts")
}

/// A client from the data dir's kubeconfig, once the server answers.
async fn client(dir: &Path) -> kube::Client {
    let deadline = Instant::now() + T;
    loop {
        if let Ok(yaml) = std::fs::read_to_string(dir.join("kubeconfig"))
            && let Ok(kubeconfig) = kube::config::Kubeconfig::from_yaml(&yaml)
            && let Ok(config) =
                kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await
            && let Ok(client) = kube::Client::try_from(config)
            && client.apiserver_version().await.is_ok()
        {
            return client;
        }
        assert!(Instant::now() < deadline, "devcluster never answered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn config_map(name: &str, label: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("test".to_string(), label.to_string())])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), name.to_string())])),
        ..Default::default()
    }
}

fn rv(cm: &ConfigMap) -> u64 {
    cm.metadata
        .resource_version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("numeric resourceVersion")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_and_revisions_keep_increasing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port);
    let api: Api<ConfigMap> = Api::namespaced(client(dir.path()).await, "default");

    // Eight writers create objects until the server dies under them.
    let acknowledged = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let (api, acknowledged) = (api.clone(), acknowledged.clone());
        writers.spawn(async move {
            for n in 0.. {
                let name = format!("w{w}-{n}");
                match api
                    .create(&PostParams::default(), &config_map(&name, "durability"))
                    .await
                {
                    Ok(created) => {
                        acknowledged.lock().unwrap().insert(name, rv(&created));
                    }
                    Err(_) => return,
                }
            }
        });
    }
    let deadline = Instant::now() + T;
    while acknowledged.lock().unwrap().len() < 500 {
        assert!(Instant::now() < deadline, "writes too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    server.wait().unwrap();
    while writers.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();

    let mut server = start(dir.path(), port);
    let api: Api<ConfigMap> = Api::namespaced(client(dir.path()).await, "default");
    let stored: BTreeMap<String, u64> = api
        .list(&ListParams::default().labels("test=durability"))
        .await
        .unwrap()
        .items
        .iter()
        .map(|cm| (cm.metadata.name.clone().unwrap(), rv(cm)))
        .collect();
    for (name, revision) in &acknowledged {
        assert_eq!(
            stored.get(name),
            Some(revision),
            "acknowledged {name}@{revision} lost or changed"
        );
    }
    let newest = acknowledged.values().max().copied().unwrap();
    let after = api
        .create(
            &PostParams::default(),
            &config_map("after-restart", "durability"),
        )
        .await
        .unwrap();
    assert!(
        rv(&after) > newest,
        "resourceVersion went back: {} after {newest}",
        rv(&after)
    );
    server.kill().unwrap();
    server.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watcher_across_a_restart_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = start(dir.path(), port);
    let client = client(dir.path()).await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let (store, writer) = reflector::store();
    let watch = reflector(
        writer,
        watcher(api.clone(), watcher::Config::default().labels("test=watch")),
    )
    .default_backoff()
    .for_each(|_| futures::future::ready(()));
    let watch = tokio::spawn(watch);
    let names = |store: &reflector::Store<ConfigMap>| {
        let mut names: Vec<String> = store
            .state()
            .iter()
            .filter_map(|cm| cm.metadata.name.clone())
            .collect();
        names.sort();
        names
    };
    let wait_for = |expected: Vec<String>| {
        let store = store.clone();
        async move {
            let deadline = Instant::now() + T;
            while names(&store) != expected {
                assert!(
                    Instant::now() < deadline,
                    "the watcher has {:?}, expected {expected:?}",
                    names(&store)
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    let mut expected = Vec::new();
    for n in 0..20 {
        let name = format!("before-{n:02}");
        api.create(&PostParams::default(), &config_map(&name, "watch"))
            .await
            .unwrap();
        expected.push(name);
    }
    expected.sort();
    wait_for(expected.clone()).await;

    server.kill().unwrap();
    server.wait().unwrap();
    let mut server = start(dir.path(), port);
    // The same CA and admin token after the restart: the old client (and the watcher) keep working.
    let api: Api<ConfigMap> = Api::namespaced(self::client(dir.path()).await, "default");
    for n in 0..20 {
        let name = format!("after-{n:02}");
        api.create(&PostParams::default(), &config_map(&name, "watch"))
            .await
            .unwrap();
        expected.push(name);
    }
    for n in 0..5 {
        let name = format!("before-{n:02}");
        api.delete(&name, &DeleteParams::default()).await.unwrap();
        expected.retain(|e| e != &name);
    }
    expected.sort();
    wait_for(expected).await;

    watch.abort();
    server.kill().unwrap();
    server.wait().unwrap();
}
