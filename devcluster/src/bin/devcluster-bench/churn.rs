//! The churn measurement: memory of a devcluster server process while many objects are created
//! and most of them deleted again.
//!
//! The server runs alone in a child process (`<server> devcluster --data-dir <scratch>`, by
//! default this binary's own `devcluster` subcommand, which is what `aro devcluster` runs), so
//! its VmRSS and VmHWM from `/proc/<pid>/status` are the server's only, as an API server's and
//! etcd's would be measured. Clients create `--churn-objects` ConfigMaps (about 1 KiB each,
//! spread over `--churn-namespaces` namespaces) in steps at each of `--churn-clients` concurrent
//! clients, then delete all but `--churn-keep` of them with one deletecollection per namespace
//! (a label selector), check that exactly the kept ones are left, and read the server's RSS after
//! the deletes and again after `--churn-settle-secs` without load.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api as KubeApi, DeleteParams, ListParams, PostParams};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::Error;
use crate::bench::{Recorder, ScratchDir, bench_err, ensure_namespace, mib, percentile};

/// The label that tells the objects to keep from those deleted by the deletecollection.
const KEEP_LABEL: &str = "churn.devcluster-bench/keep";
/// How long the server may take to start serving.
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);

/// What the churn measurement does (see the module documentation).
#[derive(Debug, Clone)]
pub struct ChurnArgs {
    pub objects: usize,
    pub keep: usize,
    pub clients: Vec<usize>,
    pub namespaces: usize,
    pub settle: Duration,
    /// The executable serving devcluster as `<server> devcluster ...`; `None`: this binary.
    pub server: Option<PathBuf>,
}

/// What the churn measurement found; memory figures are the server process's.
#[derive(Debug, Clone, Serialize)]
pub struct ChurnReport {
    /// The command line of the server process.
    pub server: String,
    pub objects: usize,
    pub kept: usize,
    /// Average size of one created ConfigMap as sent (JSON bytes).
    pub object_bytes: usize,
    pub create_steps: Vec<CreateStep>,
    pub delete_secs: f64,
    pub deleted: usize,
    pub deletes_per_sec: f64,
    /// VmRSS once serving, before any load.
    pub idle_mib: f64,
    /// VmRSS right after the last create.
    pub after_create_mib: f64,
    /// VmRSS right after the deletecollections returned.
    pub after_delete_mib: f64,
    /// VmRSS after the settle time without load (clients disconnected).
    pub final_mib: f64,
    pub settle_secs: u64,
    /// VmHWM: the server's peak.
    pub peak_mib: f64,
    /// Size of the database file at the end.
    pub db_file_mib: f64,
}

/// Creates at one client count.
#[derive(Debug, Clone, Serialize)]
pub struct CreateStep {
    pub clients: usize,
    pub created: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// The server child process; killed when dropped.
struct ServerProcess {
    child: tokio::process::Child,
    pid: u32,
    kubeconfig: PathBuf,
    command: String,
}

impl ServerProcess {
    async fn start(server: Option<&PathBuf>, dir: &ScratchDir) -> Result<Self, Error> {
        let exe = match server {
            Some(path) => path.clone(),
            None => std::env::current_exe().map_err(|source| Error::Read {
                path: "the benchmark's own executable".into(),
                source,
            })?,
        };
        let args = [
            "devcluster".to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--data-dir".into(),
            dir.0.display().to_string(),
        ];
        let command = format!("{} {}", exe.display(), args.join(" "));
        let mut child = tokio::process::Command::new(&exe)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::Bench(format!("starting {command}: {e}")))?;
        let pid = child
            .id()
            .ok_or_else(|| Error::Bench(format!("{command} exited at once")))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        // `devcluster::run` prints the kubeconfig's path once it serves.
        let mut lines = BufReader::new(stdout).lines();
        let kubeconfig = tokio::time::timeout(SERVER_START_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(path) = line.strip_prefix("kubeconfig: ") {
                    return Some(PathBuf::from(path.trim()));
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .ok_or_else(|| Error::Bench(format!("{command} did not start serving")))?;
        // Keep draining its stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess {
            child,
            pid,
            kubeconfig,
            command,
        })
    }

    async fn client(&self) -> Result<kube::Client, Error> {
        let kc = kube::config::Kubeconfig::read_from(&self.kubeconfig)
            .map_err(|e| Error::Bench(format!("reading the server's kubeconfig: {e}")))?;
        let config =
            kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| Error::Bench(format!("the server's kubeconfig: {e}")))?;
        kube::Client::try_from(config).map_err(|e| Error::Bench(format!("a client: {e}")))
    }

    /// `n` clients, each with its own established connection.
    async fn connect(&self, n: usize) -> Result<Vec<kube::Client>, Error> {
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            let client = self.client().await?;
            KubeApi::<Namespace>::all(client.clone())
                .get("default")
                .await
                .map_err(bench_err("connecting a client"))?;
            clients.push(client);
        }
        Ok(clients)
    }

    fn status_kib(&self, field: &str) -> Result<u64, Error> {
        crate::bench::status_file_kib(&format!("/proc/{}/status", self.pid), field)
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn churn_namespace(i: usize) -> String {
    format!("churn-{i}")
}

/// The `i`th ConfigMap: about 1 KiB of JSON, like a small application's configuration, with
/// labels an operator would set.
fn churn_config_map(i: usize, keep: bool) -> ConfigMap {
    let config = format!(
        "server:\n  port: {}\n  workers: {}\nlogging:\n  level: info\n  format: json\n\
         upstreams:\n  - https://backend-{}.internal.example:8443\n  - https://backend-{}.internal.example:8443\n\
         features:\n  rollout: canary\n  canaryPercent: {}\n  cacheTTLSeconds: {}\n",
        8000 + i % 1000,
        1 + i % 16,
        i % 97,
        (i + 1) % 97,
        i % 100,
        30 + i % 600,
    );
    let checksum = format!(
        "{:016x}{:016x}",
        i.wrapping_mul(0x9E37_79B9),
        i ^ 0x5bd1_e995
    );
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(format!("churn-{i:07}")),
            labels: Some(BTreeMap::from([
                ("app.kubernetes.io/name".to_string(), "churn".to_string()),
                (
                    "app.kubernetes.io/instance".to_string(),
                    format!("churn-{}", i % 64),
                ),
                (KEEP_LABEL.to_string(), keep.to_string()),
            ])),
            annotations: Some(BTreeMap::from([(
                "churn.devcluster-bench/checksum".to_string(),
                checksum.clone(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            ("config.yaml".to_string(), config),
            ("checksum".to_string(), checksum),
            (
                "description".to_string(),
                format!(
                    "Configuration {i} of the churn benchmark: created in a burst, most of it \
                     deleted again by one deletecollection per namespace."
                ),
            ),
        ])),
        ..Default::default()
    }
}

/// How many of `total` objects each of `steps` creates (the first steps take the remainder).
fn split(total: usize, steps: usize) -> Vec<usize> {
    (0..steps)
        .map(|s| total / steps + usize::from(s < total % steps))
        .collect()
}

/// Run the churn measurement.
pub async fn run(args: &ChurnArgs) -> Result<ChurnReport, Error> {
    let dir = ScratchDir::new("churn")?;
    let server = ServerProcess::start(args.server.as_ref(), &dir).await?;
    let result = measure(args, &server, &dir).await;
    server.stop().await;
    result
}

async fn measure(
    args: &ChurnArgs,
    server: &ServerProcess,
    dir: &ScratchDir,
) -> Result<ChurnReport, Error> {
    let idle = server.status_kib("VmRSS")?;
    let admin = server.connect(1).await?.remove(0);
    for ns in 0..args.namespaces {
        ensure_namespace(&admin, &churn_namespace(ns)).await?;
    }
    let object_bytes = serde_json::to_vec(&churn_config_map(args.objects / 2, false))
        .map(|v| v.len())
        .unwrap_or_default();
    let mut create_steps = Vec::new();
    let mut next = 0usize;
    for (&n, count) in args
        .clients
        .iter()
        .zip(split(args.objects, args.clients.len()))
    {
        let clients = server.connect(n).await?;
        eprintln!("bench: churn: creating {count} ConfigMaps with {n} clients");
        create_steps.push(create(&clients, args, next..next + count).await);
        next += count;
    }
    let after_create = server.status_kib("VmRSS")?;

    eprintln!(
        "bench: churn: deleting all but {} ConfigMaps (deletecollection)",
        args.keep
    );
    let started = Instant::now();
    let deletes = (0..args.namespaces).map(|ns| {
        let api = KubeApi::<ConfigMap>::namespaced(admin.clone(), &churn_namespace(ns));
        async move {
            let selector = format!("{KEEP_LABEL}=false");
            api.delete_collection(
                &DeleteParams::default(),
                &ListParams::default().labels(&selector),
            )
            .await
            .map(|out| out.left().map(|list| list.items.len()).unwrap_or_default())
        }
    });
    let deleted: usize = futures::future::try_join_all(deletes)
        .await
        .map_err(bench_err("deletecollection"))?
        .into_iter()
        .sum();
    let delete_secs = started.elapsed().as_secs_f64();
    let after_delete = server.status_kib("VmRSS")?;

    let mut left = 0;
    for ns in 0..args.namespaces {
        left += KubeApi::<ConfigMap>::namespaced(admin.clone(), &churn_namespace(ns))
            // Only the benchmark's own (every namespace also holds kube-root-ca.crt).
            .list_metadata(&ListParams::default().labels("app.kubernetes.io/name=churn"))
            .await
            .map_err(bench_err("listing what is left"))?
            .items
            .len();
    }
    let kept = args.keep.min(args.objects);
    let created: u64 = create_steps.iter().map(|s| s.created).sum();
    if created as usize == args.objects && (left != kept || deleted != args.objects - kept) {
        return Err(Error::Bench(format!(
            "after the deletecollection {left} ConfigMaps are left and {deleted} were deleted \
             (expected {kept} and {})",
            args.objects - kept
        )));
    }
    drop(admin);
    eprintln!("bench: churn: {} s without load", args.settle.as_secs());
    tokio::time::sleep(args.settle).await;
    let final_kib = server.status_kib("VmRSS")?;
    let peak = server.status_kib("VmHWM")?;
    let db_file_mib = std::fs::metadata(dir.0.join("devcluster.redb"))
        .map(|m| m.len() as f64 / (1024.0 * 1024.0))
        .unwrap_or_default();
    Ok(ChurnReport {
        server: server.command.clone(),
        objects: args.objects,
        kept: left,
        object_bytes,
        create_steps,
        delete_secs,
        deleted,
        deletes_per_sec: if delete_secs > 0.0 {
            deleted as f64 / delete_secs
        } else {
            0.0
        },
        idle_mib: mib(idle),
        after_create_mib: mib(after_create),
        after_delete_mib: mib(after_delete),
        final_mib: mib(final_kib),
        settle_secs: args.settle.as_secs(),
        peak_mib: mib(peak),
        db_file_mib,
    })
}

/// Create the objects `range` with `clients`, each client one request at a time.
async fn create(
    clients: &[kube::Client],
    args: &ChurnArgs,
    range: std::ops::Range<usize>,
) -> CreateStep {
    let apis: Vec<Vec<KubeApi<ConfigMap>>> = clients
        .iter()
        .map(|c| {
            (0..args.namespaces)
                .map(|ns| KubeApi::namespaced(c.clone(), &churn_namespace(ns)))
                .collect()
        })
        .collect();
    let started = Instant::now();
    let results: Vec<Result<Duration, kube::Error>> = futures::stream::iter(range)
        .map(|i| {
            let api = apis[i % apis.len()][i % args.namespaces].clone();
            let cm = churn_config_map(i, i < args.keep);
            async move {
                let t0 = Instant::now();
                api.create(&PostParams::default(), &cm)
                    .await
                    .map(|_| t0.elapsed())
            }
        })
        .buffer_unordered(clients.len())
        .collect()
        .await;
    let elapsed = started.elapsed();
    let mut rec = Recorder::default();
    for r in results {
        match r {
            Ok(d) => rec.ok(d),
            Err(e) => rec.fail(e),
        }
    }
    rec.samples.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    CreateStep {
        clients: clients.len(),
        created: rec.samples.len() as u64,
        errors: rec.errors,
        first_error: rec.first_error,
        per_sec: rec.samples.len() as f64 / elapsed.as_secs_f64().max(f64::EPSILON),
        p50_ms: ms(percentile(&rec.samples, 50.0)),
        p99_ms: ms(percentile(&rec.samples, 99.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_split_over_the_steps() {
        assert_eq!(split(85_000, 4), [21_250; 4]);
        assert_eq!(split(10, 3), [4, 3, 3]);
        assert_eq!(split(2, 3), [1, 1, 0]);
    }

    #[test]
    fn churn_objects_are_about_one_kib() {
        for i in [0, 42_500, 84_999] {
            let len = serde_json::to_vec(&churn_config_map(i, false))
                .unwrap()
                .len();
            assert!((600..=1100).contains(&len), "{len} bytes");
        }
        let keep = churn_config_map(1, true);
        assert_eq!(keep.metadata.labels.unwrap()[KEEP_LABEL], "true");
    }
}
