//! The benchmark: throughput and latency of devcluster through real HTTPS clients.
//!
//! The server runs in this process (durable in a scratch directory unless `--in-memory`) and is
//! driven by kube clients, one per simulated client, each with its own keep-alive connection.
//! Every operation's latency is recorded and percentiles are computed exactly (nearest rank)
//! over all samples. Watch delivery is timed from just before a write is sent to the moment a
//! watcher has the event. RSS is the process's VmRSS: the server is in-process, so it includes
//! the benchmark clients, whose share is measured separately.

use std::collections::{BTreeMap, HashMap};
use std::fmt::{Display, Write as _};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api as KubeApi, ListParams, PostParams, WatchEvent, WatchParams};
use parking_lot::Mutex;
use serde::Serialize;

use devcluster::{Devcluster, DevclusterConfig};

use crate::Error;
use crate::churn::{ChurnArgs, ChurnReport};

/// The most simulated clients one phase may run (the load stays bounded).
pub const MAX_CLIENTS: usize = 1024;
/// Clients that create the objects of the RSS measurement and of the fixtures.
const LOADER_CLIENTS: usize = 8;
/// How long a watcher may take to receive the last events once the writers have stopped.
const WATCH_DRAIN: Duration = Duration::from_secs(5);

/// A phase of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Create small ConfigMaps (each a new name).
    Create,
    /// Get ConfigMaps by name, at random from the smallest list fixture.
    Get,
    /// Replace a ConfigMap (one per client, so no conflicts).
    Update,
    /// List a namespace holding each of `--list-sizes` ConfigMaps.
    List,
    /// Create ConfigMaps while a watcher on their namespace times each event's delivery.
    Watch,
}

/// What to measure: phases, client counts, storage, durations.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Concurrent clients of each phase, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    pub clients: Vec<usize>,
    /// How long each phase runs at each client count.
    #[arg(long, default_value_t = 5)]
    pub duration_secs: u64,
    /// Durable storage in a scratch directory (the default).
    #[arg(long, overrides_with = "in_memory")]
    pub durable: bool,
    /// In-memory storage.
    #[arg(long, overrides_with = "durable")]
    pub in_memory: bool,
    /// How many small ConfigMaps the RSS measurement creates.
    #[arg(long, default_value_t = 100_000)]
    pub rss_objects: usize,
    /// Skip the RSS measurement.
    #[arg(long)]
    pub skip_rss: bool,
    /// Number of objects in each listed namespace, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub list_sizes: Vec<usize>,
    /// Phases to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "create,get,update,list,watch"
    )]
    pub ops: Vec<Op>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Run only the churn measurement: a devcluster server in a child process (durable, in a
    /// scratch data dir); create `--churn-objects` ConfigMaps of about 1 KiB in steps at each of
    /// `--churn-clients`, delete all but `--churn-keep` by one deletecollection per namespace
    /// (a label selector), and report the server process's RSS (VmRSS after each part and after
    /// `--churn-settle-secs` idle, VmHWM as the peak) and the throughput.
    #[arg(long)]
    pub churn: bool,
    /// How many ConfigMaps the churn measurement creates.
    #[arg(long, default_value_t = 85_000)]
    pub churn_objects: usize,
    /// How many of them the deletecollection keeps.
    #[arg(long, default_value_t = 10_000)]
    pub churn_keep: usize,
    /// Concurrent clients of each create step of the churn measurement (the objects are split
    /// evenly over the steps), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "8,16,32,64")]
    pub churn_clients: Vec<usize>,
    /// Namespaces the churn objects are spread over (one deletecollection each, concurrently).
    #[arg(long, default_value_t = 8)]
    pub churn_namespaces: usize,
    /// How long the churn measurement leaves the server idle before reading its final RSS.
    #[arg(long, default_value_t = 15)]
    pub churn_settle_secs: u64,
    /// The executable serving devcluster in the churn measurement, run as `<it> devcluster
    /// --listen 127.0.0.1:0 --data-dir <scratch>`: `aro`, or by default this benchmark itself
    /// (its `devcluster` subcommand runs the same server as `aro devcluster`).
    #[arg(long)]
    pub churn_server: Option<PathBuf>,
}

/// What the benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub machine: Machine,
    /// `durable` or `in-memory`.
    pub storage: String,
    pub duration_secs: u64,
    pub phases: Vec<PhaseReport>,
    pub rss: Option<RssReport>,
    pub churn: Option<ChurnReport>,
    pub targets: Vec<TargetCheck>,
}

/// The machine the figures come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_mib: u64,
    /// The 1-minute load average when the benchmark started and ended: other work on the
    /// machine competes with the server and its clients for the CPUs.
    pub load_before: f64,
    pub load_after: f64,
}

/// One operation at one client count.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    /// `create`, `get`, `update`, `list-1k`, `list-10k`, `watch`, ...
    pub op: String,
    pub clients: usize,
    /// Successful operations (for `watch`: events delivered and timed).
    pub ops: u64,
    /// Failed operations (for `watch`: failed writes and events never delivered).
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed_secs: f64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Process memory around creating `objects` small ConfigMaps.
#[derive(Debug, Clone, Serialize)]
pub struct RssReport {
    pub objects: usize,
    /// VmRSS with the server started and no benchmark client.
    pub server_only_mib: f64,
    /// VmRSS once the loader clients are connected: their share is the difference.
    pub with_clients_mib: f64,
    /// VmRSS right after the last create, clients still connected.
    pub after_create_mib: f64,
    /// VmRSS after the clients are dropped and their connections closed.
    pub after_clients_dropped_mib: f64,
    /// `after_clients_dropped_mib - server_only_mib`: what the objects cost the server.
    pub objects_delta_mib: f64,
    /// VmHWM: the process's peak so far.
    pub peak_mib: f64,
    pub create_per_sec: f64,
    /// Size of the database file (durable storage only).
    pub db_file_mib: Option<f64>,
}

/// One of the performance targets, checked against the figures.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    pub name: String,
    pub target: String,
    pub actual: String,
    pub met: bool,
}

/// Latency samples and failures of one or more workers.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) samples: Vec<Duration>,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
}

impl Recorder {
    pub(crate) fn ok(&mut self, d: Duration) {
        self.samples.push(d);
    }

    pub(crate) fn fail(&mut self, e: impl Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }

    fn merge(&mut self, other: Recorder) {
        self.samples.extend(other.samples);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn report(mut self, op: &str, clients: usize, elapsed: Duration) -> PhaseReport {
        self.samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let secs = elapsed.as_secs_f64();
        PhaseReport {
            op: op.to_string(),
            clients,
            ops: self.samples.len() as u64,
            errors: self.errors,
            first_error: self.first_error,
            elapsed_secs: secs,
            per_sec: if secs > 0.0 {
                self.samples.len() as f64 / secs
            } else {
                0.0
            },
            p50_ms: ms(percentile(&self.samples, 50.0)),
            p99_ms: ms(percentile(&self.samples, 99.0)),
            max_ms: ms(self.samples.last().copied().unwrap_or_default()),
        }
    }
}

/// The nearest-rank percentile of sorted samples (zero when there are none).
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) fn bench_err(context: &str) -> impl Fn(kube::Error) -> Error + '_ {
    move |e| Error::Bench(format!("{context}: {e}"))
}

/// A directory removed when dropped.
pub(crate) struct ScratchDir(pub(crate) PathBuf);

impl ScratchDir {
    pub(crate) fn new(tag: &str) -> Result<Self, Error> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let path = std::env::temp_dir().join(format!(
            "devcluster-bench-{}-{nanos}-{tag}",
            std::process::id()
        ));
        aro_common::fs::create_private_dir(&path).map_err(Error::PrivateFile)?;
        Ok(ScratchDir(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A devcluster for one part of the benchmark, with its scratch directory.
struct Instance {
    dc: Devcluster,
    dir: Option<ScratchDir>,
}

impl Instance {
    async fn start(durable: bool, tag: &str) -> Result<Self, Error> {
        let dir = durable.then(|| ScratchDir::new(tag)).transpose()?;
        let config = match &dir {
            Some(d) => DevclusterConfig::durable(&d.0),
            None => DevclusterConfig::in_memory(),
        };
        let dc = Devcluster::start(config).await?;
        Ok(Instance { dc, dir })
    }

    /// `n` clients, each with an established connection.
    async fn connect(&self, n: usize) -> Result<Vec<kube::Client>, Error> {
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n {
            let client = self.dc.client().await?;
            KubeApi::<Namespace>::all(client.clone())
                .get("default")
                .await
                .map_err(bench_err("connecting a client"))?;
            clients.push(client);
        }
        Ok(clients)
    }

    async fn stop(self) {
        self.dc.stop().await;
        drop(self.dir);
    }
}

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("key".to_string(), value.to_string())])),
        ..Default::default()
    }
}

pub(crate) async fn ensure_namespace(client: &kube::Client, name: &str) -> Result<(), Error> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        ..Default::default()
    };
    match KubeApi::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 409 => Ok(()),
        Err(e) => Err(Error::Bench(format!("creating namespace {name}: {e}"))),
    }
}

/// Create `count` ConfigMaps named `{prefix}{index}` in `ns`, spread over `clients`.
async fn populate(
    clients: &[kube::Client],
    ns: &str,
    prefix: &str,
    count: usize,
) -> Result<(), Error> {
    let apis: Vec<KubeApi<ConfigMap>> = clients
        .iter()
        .map(|c| KubeApi::namespaced(c.clone(), ns))
        .collect();
    futures::stream::iter(0..count)
        .map(|i| {
            let api = apis[i % apis.len()].clone();
            let cm = config_map(&format!("{prefix}{i:06}"), "value");
            async move { api.create(&PostParams::default(), &cm).await.map(drop) }
        })
        .buffer_unordered(apis.len())
        .try_collect::<()>()
        .await
        .map_err(|e| Error::Bench(format!("populating {ns}: {e}")))
}

/// Run one worker per client until each returns; the elapsed time covers them all.
async fn run_workers<F, Fut>(
    clients: &[kube::Client],
    worker: F,
) -> Result<(Recorder, Duration), Error>
where
    F: Fn(usize, kube::Client) -> Fut,
    Fut: Future<Output = Recorder> + Send + 'static,
{
    let started = Instant::now();
    let handles: Vec<_> = clients
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, c)| tokio::spawn(worker(i, c)))
        .collect();
    let mut total = Recorder::default();
    for h in handles {
        total.merge(
            h.await
                .map_err(|e| Error::Bench(format!("benchmark worker failed: {e}")))?,
        );
    }
    Ok((total, started.elapsed()))
}

fn list_op_name(size: usize) -> String {
    if size >= 1000 && size.is_multiple_of(1000) {
        format!("list-{}k", size / 1000)
    } else {
        format!("list-{size}")
    }
}

/// The bench's ConfigMaps in a list (not the namespace's kube-root-ca.crt).
fn listed(list: &kube::api::ObjectList<ConfigMap>) -> usize {
    list.items
        .iter()
        .filter(|c| c.metadata.name.as_deref() != Some("kube-root-ca.crt"))
        .count()
}

fn list_namespace(size: usize) -> String {
    format!("bench-list-{size}")
}

const CREATE_NS: &str = "bench-create";
const UPDATE_NS: &str = "bench-update";
const WATCH_NS: &str = "bench-watch";

struct Phases {
    duration: Duration,
    list_sizes: Vec<usize>,
}

impl Phases {
    async fn create(&self, clients: &[kube::Client]) -> Result<PhaseReport, Error> {
        let n = clients.len();
        let deadline = Instant::now() + self.duration;
        let (rec, elapsed) = run_workers(clients, |w, client| async move {
            let api = KubeApi::<ConfigMap>::namespaced(client, CREATE_NS);
            let pp = PostParams::default();
            let mut rec = Recorder::default();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let cm = config_map(&format!("c{n}-w{w}-{seq}"), "value");
                seq += 1;
                let t0 = Instant::now();
                match api.create(&pp, &cm).await {
                    Ok(_) => rec.ok(t0.elapsed()),
                    Err(e) => rec.fail(e),
                }
            }
            rec
        })
        .await?;
        Ok(rec.report("create", n, elapsed))
    }

    async fn get(&self, clients: &[kube::Client]) -> Result<PhaseReport, Error> {
        let size = self.list_sizes.iter().copied().min().unwrap_or(1);
        let ns = list_namespace(size);
        let deadline = Instant::now() + self.duration;
        let (rec, elapsed) = run_workers(clients, |_, client| {
            let api = KubeApi::<ConfigMap>::namespaced(client, &ns);
            async move {
                let mut rec = Recorder::default();
                while Instant::now() < deadline {
                    let name = format!("item-{:06}", rand::random_range(0..size));
                    let t0 = Instant::now();
                    match api.get(&name).await {
                        Ok(_) => rec.ok(t0.elapsed()),
                        Err(e) => rec.fail(e),
                    }
                }
                rec
            }
        })
        .await?;
        Ok(rec.report("get", clients.len(), elapsed))
    }

    async fn update(&self, clients: &[kube::Client]) -> Result<PhaseReport, Error> {
        let n = clients.len();
        // Each client replaces its own object, so no update conflicts with another's.
        let mut objects = Vec::with_capacity(n);
        for (w, client) in clients.iter().enumerate() {
            let api = KubeApi::<ConfigMap>::namespaced(client.clone(), UPDATE_NS);
            let created = api
                .create(
                    &PostParams::default(),
                    &config_map(&format!("c{n}-w{w}"), "0"),
                )
                .await
                .map_err(bench_err("creating the objects to update"))?;
            objects.push(created);
        }
        let objects = Arc::new(Mutex::new(objects));
        let deadline = Instant::now() + self.duration;
        let (rec, elapsed) = run_workers(clients, |w, client| {
            let mut current = objects.lock()[w].clone();
            async move {
                let api = KubeApi::<ConfigMap>::namespaced(client, UPDATE_NS);
                let pp = PostParams::default();
                let name = current.metadata.name.clone().unwrap_or_default();
                let mut rec = Recorder::default();
                let mut seq = 0u64;
                while Instant::now() < deadline {
                    seq += 1;
                    current.data = Some(BTreeMap::from([("key".to_string(), seq.to_string())]));
                    let t0 = Instant::now();
                    match api.replace(&name, &pp, &current).await {
                        Ok(updated) => {
                            rec.ok(t0.elapsed());
                            current = updated;
                        }
                        Err(e) => {
                            rec.fail(e);
                            match api.get(&name).await {
                                Ok(fresh) => current = fresh,
                                Err(e) => rec.fail(e),
                            }
                        }
                    }
                }
                rec
            }
        })
        .await?;
        Ok(rec.report("update", n, elapsed))
    }

    async fn list(&self, clients: &[kube::Client], size: usize) -> Result<PhaseReport, Error> {
        let ns = list_namespace(size);
        let deadline = Instant::now() + self.duration;
        let (rec, elapsed) = run_workers(clients, |_, client| {
            let api = KubeApi::<ConfigMap>::namespaced(client, &ns);
            async move {
                let lp = ListParams::default();
                let mut rec = Recorder::default();
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    match api.list(&lp).await {
                        // Besides the namespace's kube-root-ca.crt.
                        Ok(list) if listed(&list) == size => rec.ok(t0.elapsed()),
                        Ok(list) => {
                            rec.fail(format!("listed {} objects, expected {size}", listed(&list)))
                        }
                        Err(e) => rec.fail(e),
                    }
                }
                rec
            }
        })
        .await?;
        Ok(rec.report(&list_op_name(size), clients.len(), elapsed))
    }

    /// `clients` write; `watcher` watches their namespace and times each event.
    async fn watch(
        &self,
        clients: &[kube::Client],
        watcher: &kube::Client,
    ) -> Result<PhaseReport, Error> {
        let n = clients.len();
        let watch_api = KubeApi::<ConfigMap>::namespaced(watcher.clone(), WATCH_NS);
        let rv = watch_api
            .list_metadata(&ListParams::default().limit(1))
            .await
            .map_err(bench_err("listing before the watch"))?
            .metadata
            .resource_version
            .unwrap_or_else(|| "0".into());
        let stream = watch_api
            .watch(&WatchParams::default().timeout(290), &rv)
            .await
            .map_err(bench_err("starting the watch"))?
            .boxed();
        // Names of writes sent and not yet seen by the watcher, with when they were sent.
        let pending: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let writers_done = Arc::new(AtomicBool::new(false));
        let watcher_task = tokio::spawn(receive_events(
            stream,
            pending.clone(),
            writers_done.clone(),
        ));
        let deadline = Instant::now() + self.duration;
        let (writes, elapsed) = run_workers(clients, |w, client| {
            let pending = pending.clone();
            async move {
                let api = KubeApi::<ConfigMap>::namespaced(client, WATCH_NS);
                let pp = PostParams::default();
                let mut rec = Recorder::default();
                let mut seq = 0u64;
                while Instant::now() < deadline {
                    let name = format!("c{n}-w{w}-{seq}");
                    seq += 1;
                    let cm = config_map(&name, "value");
                    pending.lock().insert(name.clone(), Instant::now());
                    if let Err(e) = api.create(&pp, &cm).await {
                        pending.lock().remove(&name);
                        rec.fail(e);
                    }
                }
                rec
            }
        })
        .await?;
        writers_done.store(true, Ordering::SeqCst);
        let mut delivered = watcher_task
            .await
            .map_err(|e| Error::Bench(format!("watcher failed: {e}")))?;
        // Failed writes count as errors; their latencies are not delivery latencies.
        delivered.errors += writes.errors;
        if delivered.first_error.is_none() {
            delivered.first_error = writes.first_error;
        }
        Ok(delivered.report("watch", n, elapsed))
    }
}

/// Time each ADDED event against its write's send time, until the writers are done and every
/// write was seen (or `WATCH_DRAIN` passed).
async fn receive_events(
    mut stream: futures::stream::BoxStream<'static, kube::Result<WatchEvent<ConfigMap>>>,
    pending: Arc<Mutex<HashMap<String, Instant>>>,
    writers_done: Arc<AtomicBool>,
) -> Recorder {
    let mut rec = Recorder::default();
    let mut drain_until: Option<Instant> = None;
    loop {
        if writers_done.load(Ordering::SeqCst) {
            if pending.lock().is_empty() {
                break;
            }
            let until = *drain_until.get_or_insert_with(|| Instant::now() + WATCH_DRAIN);
            if Instant::now() > until {
                break;
            }
        }
        match tokio::time::timeout(Duration::from_millis(50), stream.next()).await {
            Err(_) => {}
            Ok(Some(Ok(WatchEvent::Added(cm)))) => {
                let received = Instant::now();
                let sent = cm
                    .metadata
                    .name
                    .and_then(|name| pending.lock().remove(&name));
                if let Some(sent) = sent {
                    rec.ok(received.saturating_duration_since(sent));
                }
            }
            Ok(Some(Ok(WatchEvent::Error(e)))) => {
                rec.fail(format!("watch error event: {}", e.message));
                break;
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => {
                rec.fail(format!("watch stream: {e}"));
                break;
            }
            Ok(None) => {
                rec.fail("watch ended before the benchmark did");
                break;
            }
        }
    }
    let lost = pending.lock().len() as u64;
    if lost > 0 {
        rec.errors += lost;
        rec.first_error
            .get_or_insert_with(|| format!("{lost} written objects never reached the watcher"));
    }
    rec
}

/// A field (in KiB) of this process's `/proc/self/status`.
fn proc_status_kib(field: &str) -> Result<u64, Error> {
    status_file_kib("/proc/self/status", field)
}

/// A field (in KiB) of a `/proc/<pid>/status` file.
pub(crate) fn status_file_kib(path: &str, field: &str) -> Result<u64, Error> {
    let status = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.into(),
        source,
    })?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| Error::Bench(format!("no {field} in {path}")))
}

pub(crate) fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn machine(load_before: f64) -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == "model name").then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    Machine {
        cpus: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model,
        memory_mib: memory_kib / 1024,
        load_before,
        load_after: load_average(),
    }
}

/// Create `objects` small ConfigMaps in a fresh devcluster and read the process's RSS around it.
async fn measure_rss(durable: bool, objects: usize) -> Result<RssReport, Error> {
    let instance = Instance::start(durable, "rss").await?;
    let server_only = proc_status_kib("VmRSS")?;
    let clients = instance.connect(LOADER_CLIENTS).await?;
    let with_clients = proc_status_kib("VmRSS")?;
    ensure_namespace(&clients[0], "bench-rss").await?;
    eprintln!("bench: creating {objects} ConfigMaps for the RSS measurement");
    let started = Instant::now();
    populate(&clients, "bench-rss", "rss-", objects).await?;
    let create_secs = started.elapsed().as_secs_f64();
    let after_create = proc_status_kib("VmRSS")?;
    drop(clients);
    // Let the server notice the closed connections and free their buffers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_dropped = proc_status_kib("VmRSS")?;
    let peak = proc_status_kib("VmHWM")?;
    let db_file_mib = instance
        .dir
        .as_ref()
        .and_then(|d| std::fs::metadata(d.0.join("devcluster.redb")).ok())
        .map(|m| m.len() as f64 / (1024.0 * 1024.0));
    instance.stop().await;
    Ok(RssReport {
        objects,
        server_only_mib: mib(server_only),
        with_clients_mib: mib(with_clients),
        after_create_mib: mib(after_create),
        after_clients_dropped_mib: mib(after_dropped),
        objects_delta_mib: mib(after_dropped) - mib(server_only),
        peak_mib: mib(peak),
        create_per_sec: if create_secs > 0.0 {
            objects as f64 / create_secs
        } else {
            0.0
        },
        db_file_mib,
    })
}

fn validate(args: &BenchArgs) -> Result<(), Error> {
    if args.clients.is_empty() || args.clients.iter().any(|&c| c == 0 || c > MAX_CLIENTS) {
        return Err(Error::Bench(format!(
            "--clients must list counts between 1 and {MAX_CLIENTS}"
        )));
    }
    if args.duration_secs == 0 || args.duration_secs > 3600 {
        return Err(Error::Bench(
            "--duration-secs must be between 1 and 3600".into(),
        ));
    }
    if args.list_sizes.is_empty() || args.list_sizes.iter().any(|&s| s == 0 || s > 1_000_000) {
        return Err(Error::Bench(
            "--list-sizes must list sizes between 1 and 1000000".into(),
        ));
    }
    if args.churn
        && (args.churn_objects == 0
            || args.churn_objects > 10_000_000
            || args.churn_clients.is_empty()
            || args
                .churn_clients
                .iter()
                .any(|&c| c == 0 || c > MAX_CLIENTS)
            || args.churn_namespaces == 0
            || args.churn_namespaces > 1000
            || args.churn_settle_secs > 3600)
    {
        return Err(Error::Bench(format!(
            "--churn-objects must be between 1 and 10000000, --churn-clients list counts between \
             1 and {MAX_CLIENTS}, --churn-namespaces be between 1 and 1000 and \
             --churn-settle-secs at most 3600"
        )));
    }
    if !args.skip_rss && (args.rss_objects == 0 || args.rss_objects > 10_000_000) {
        return Err(Error::Bench(
            "--rss-objects must be between 1 and 10000000".into(),
        ));
    }
    Ok(())
}

/// Run the benchmark and return its figures.
pub async fn run_bench(args: &BenchArgs) -> Result<BenchReport, Error> {
    validate(args)?;
    let load_before = load_average();
    if args.churn {
        let churn = crate::churn::run(&ChurnArgs {
            objects: args.churn_objects,
            keep: args.churn_keep,
            clients: args.churn_clients.clone(),
            namespaces: args.churn_namespaces,
            settle: Duration::from_secs(args.churn_settle_secs),
            server: args.churn_server.clone(),
        })
        .await?;
        let mut report = BenchReport {
            machine: machine(load_before),
            storage: "durable".into(),
            duration_secs: 0,
            phases: Vec::new(),
            rss: None,
            churn: Some(churn),
            targets: Vec::new(),
        };
        report.targets = check_targets(&report);
        return Ok(report);
    }
    let durable = !args.in_memory;
    // RSS first, in a fresh devcluster, so earlier phases' garbage does not blur it.
    let rss = if args.skip_rss {
        None
    } else {
        Some(measure_rss(durable, args.rss_objects).await?)
    };
    let instance = Instance::start(durable, "phases").await?;
    let loaders = instance.connect(LOADER_CLIENTS).await?;
    for ns in [CREATE_NS, UPDATE_NS, WATCH_NS] {
        ensure_namespace(&loaders[0], ns).await?;
    }
    let mut list_sizes = args.list_sizes.clone();
    list_sizes.sort_unstable();
    list_sizes.dedup();
    let needs_fixtures = args.ops.iter().any(|o| matches!(o, Op::Get | Op::List));
    if needs_fixtures {
        for &size in &list_sizes {
            let ns = list_namespace(size);
            ensure_namespace(&loaders[0], &ns).await?;
            eprintln!("bench: creating {size} ConfigMaps in {ns}");
            populate(&loaders, &ns, "item-", size).await?;
        }
    }
    drop(loaders);
    let phases = Phases {
        duration: Duration::from_secs(args.duration_secs),
        list_sizes: list_sizes.clone(),
    };
    let mut reports = Vec::new();
    for &n in &args.clients {
        let clients = instance.connect(n).await?;
        for op in &args.ops {
            eprintln!("bench: {op:?} with {n} clients");
            match op {
                Op::Create => reports.push(phases.create(&clients).await?),
                Op::Get => reports.push(phases.get(&clients).await?),
                Op::Update => reports.push(phases.update(&clients).await?),
                Op::List => {
                    for &size in &list_sizes {
                        reports.push(phases.list(&clients, size).await?);
                    }
                }
                Op::Watch => {
                    let watcher = instance.connect(1).await?.remove(0);
                    reports.push(phases.watch(&clients, &watcher).await?);
                }
            }
        }
    }
    instance.stop().await;
    reports.sort_by_key(|r| (op_order(&r.op), r.clients));
    let mut report = BenchReport {
        machine: machine(load_before),
        storage: if durable { "durable" } else { "in-memory" }.into(),
        duration_secs: args.duration_secs,
        phases: reports,
        rss,
        churn: None,
        targets: Vec::new(),
    };
    report.targets = check_targets(&report);
    Ok(report)
}

fn op_order(op: &str) -> (u8, usize) {
    match op {
        "create" => (0, 0),
        "get" => (1, 0),
        "update" => (2, 0),
        "watch" => (4, 0),
        other => (
            3,
            other
                .strip_prefix("list-")
                .map(|s| match s.strip_suffix('k') {
                    Some(k) => k.parse::<usize>().unwrap_or(0) * 1000,
                    None => s.parse().unwrap_or(0),
                })
                .unwrap_or(0),
        ),
    }
}

/// The targets (2-core machine): at 8 clients >= 3,000 GETs/s and >= 1,000 durable
/// creates/s with p99 <= 10 ms; watch delivery p99 <= 5 ms; a 10k-object list <= 200 ms;
/// <= 300 MB RSS with 100k small objects.
fn check_targets(report: &BenchReport) -> Vec<TargetCheck> {
    let find = |op: &str, clients: usize| {
        report
            .phases
            .iter()
            .find(|p| p.op == op && p.clients == clients)
    };
    let mut out = Vec::new();
    let mut check = |name: &str, target: &str, actual: f64, unit: &str, met: bool| {
        out.push(TargetCheck {
            name: name.into(),
            target: target.into(),
            actual: format!("{actual:.1} {unit}"),
            met,
        });
    };
    if let Some(p) = find("get", 8) {
        check(
            "GET throughput, 8 clients",
            ">= 3000 /s",
            p.per_sec,
            "/s",
            p.per_sec >= 3000.0,
        );
        check(
            "GET p99, 8 clients",
            "<= 10 ms",
            p.p99_ms,
            "ms",
            p.p99_ms <= 10.0,
        );
    }
    if let Some(p) = find("create", 8) {
        if report.storage == "durable" {
            check(
                "durable create throughput, 8 clients",
                ">= 1000 /s",
                p.per_sec,
                "/s",
                p.per_sec >= 1000.0,
            );
        }
        check(
            "create p99, 8 clients",
            "<= 10 ms",
            p.p99_ms,
            "ms",
            p.p99_ms <= 10.0,
        );
    }
    if let Some(p) = find("watch", 8) {
        check(
            "watch delivery p99, 8 writers",
            "<= 5 ms",
            p.p99_ms,
            "ms",
            p.p99_ms <= 5.0 && p.errors == 0,
        );
    }
    if let Some(p) = find("list-10k", 1) {
        check(
            "10k-object list p99, 1 client",
            "<= 200 ms",
            p.p99_ms,
            "ms",
            p.p99_ms <= 200.0,
        );
    }
    if let Some(r) = &report.rss
        && r.objects == 100_000
    {
        // The MB are 10^6 bytes; VmRSS is in KiB.
        check(
            "RSS with 100k small objects",
            "<= 300 MB",
            r.after_create_mib,
            "MiB",
            r.after_create_mib * 1.048_576 <= 300.0,
        );
    }
    if let Some(c) = &report.churn
        && c.objects == 85_000
        && c.kept == 10_000
    {
        // Issue 15: a quarter of kube-apiserver + etcd's 943 MiB under the same workload.
        check(
            "server RSS after 85k creates and a deletecollection keeping 10k",
            "<= 240 MiB",
            c.final_mib,
            "MiB",
            c.final_mib <= 240.0,
        );
    }
    out
}

impl BenchReport {
    /// The report as a human-readable table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let m = &self.machine;
        let _ = writeln!(
            s,
            "devcluster bench: {} storage, {} s per phase, {} CPUs ({}), {} MiB RAM, \
             load average {:.2} before, {:.2} after",
            self.storage,
            self.duration_secs,
            m.cpus,
            m.cpu_model,
            m.memory_mib,
            m.load_before,
            m.load_after
        );
        if !self.phases.is_empty() {
            let _ = writeln!(
                s,
                "{:<10} {:>7} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9}",
                "op", "clients", "ops", "errors", "ops/s", "p50 ms", "p99 ms", "max ms"
            );
        }
        for p in &self.phases {
            let _ = writeln!(
                s,
                "{:<10} {:>7} {:>9} {:>7} {:>10.0} {:>9.2} {:>9.2} {:>9.2}",
                p.op, p.clients, p.ops, p.errors, p.per_sec, p.p50_ms, p.p99_ms, p.max_ms
            );
            if let Some(e) = &p.first_error {
                let _ = writeln!(s, "           first error: {e}");
            }
        }
        if let Some(r) = &self.rss {
            let _ = writeln!(
                s,
                "RSS with {} small ConfigMaps: {:.1} MiB (server alone before: {:.1} MiB; \
                 objects cost {:.1} MiB; {:.1} MiB after the clients left; peak {:.1} MiB)",
                r.objects,
                r.after_create_mib,
                r.server_only_mib,
                r.objects_delta_mib,
                r.after_clients_dropped_mib,
                r.peak_mib
            );
            let _ = writeln!(
                s,
                "  the {LOADER_CLIENTS} benchmark clients added {:.1} MiB; created at {:.0}/s{}",
                r.with_clients_mib - r.server_only_mib,
                r.create_per_sec,
                r.db_file_mib
                    .map(|d| format!("; database file {d:.1} MiB"))
                    .unwrap_or_default()
            );
        }
        if let Some(c) = &self.churn {
            let _ = writeln!(s, "churn: server {}", c.server);
            let _ = writeln!(
                s,
                "{:<10} {:>7} {:>9} {:>7} {:>10} {:>9} {:>9}",
                "op", "clients", "ops", "errors", "ops/s", "p50 ms", "p99 ms"
            );
            for step in &c.create_steps {
                let _ = writeln!(
                    s,
                    "{:<10} {:>7} {:>9} {:>7} {:>10.0} {:>9.2} {:>9.2}",
                    "create",
                    step.clients,
                    step.created,
                    step.errors,
                    step.per_sec,
                    step.p50_ms,
                    step.p99_ms
                );
                if let Some(e) = &step.first_error {
                    let _ = writeln!(s, "           first error: {e}");
                }
            }
            let _ = writeln!(
                s,
                "deleted {} by deletecollection in {:.1} s ({:.0}/s), {} kept; objects of {} bytes",
                c.deleted, c.delete_secs, c.deletes_per_sec, c.kept, c.object_bytes
            );
            let _ = writeln!(
                s,
                "server RSS: idle {:.1} MiB, after the creates {:.1} MiB, after the deletes \
                 {:.1} MiB, final {:.1} MiB ({} s idle), peak {:.1} MiB; database file {:.1} MiB",
                c.idle_mib,
                c.after_create_mib,
                c.after_delete_mib,
                c.final_mib,
                c.settle_secs,
                c.peak_mib,
                c.db_file_mib
            );
        }
        if !self.targets.is_empty() {
            let _ = writeln!(s, "targets:");
            for t in &self.targets {
                let _ = writeln!(
                    s,
                    "  [{}] {}: {} (target {})",
                    if t.met { "met" } else { "MISSED" },
                    t.name,
                    t.actual,
                    t.target
                );
            }
        }
        s
    }
}

/// Run the benchmark and print the report.
pub async fn run(args: BenchArgs) -> Result<(), Error> {
    let report = run_bench(&args).await?;
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Bench(format!("encoding the report: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", report.table());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(percentile(&samples, 50.0), ms(50));
        assert_eq!(percentile(&samples, 99.0), ms(99));
        assert_eq!(percentile(&samples, 100.0), ms(100));
        assert_eq!(percentile(&[ms(7)], 99.0), ms(7));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        let three = [ms(1), ms(2), ms(3)];
        assert_eq!(percentile(&three, 50.0), ms(2));
        assert_eq!(percentile(&three, 99.0), ms(3));
    }

    #[test]
    fn report_counts_throughput_and_errors() {
        let mut rec = Recorder::default();
        for n in [3, 1, 2, 4] {
            rec.ok(ms(n));
        }
        rec.fail("boom");
        rec.fail("second");
        let r = rec.report("get", 8, Duration::from_secs(2));
        assert_eq!((r.ops, r.errors), (4, 2));
        assert_eq!(r.first_error.as_deref(), Some("boom"));
        assert_eq!(r.per_sec, 2.0);
        assert_eq!((r.p50_ms, r.max_ms), (2.0, 4.0));
    }

    #[test]
    fn list_ops_are_named_and_ordered_by_size() {
        assert_eq!(list_op_name(1000), "list-1k");
        assert_eq!(list_op_name(10_000), "list-10k");
        assert_eq!(list_op_name(250), "list-250");
        let mut ops = vec!["watch", "list-10k", "create", "list-250", "list-1k", "get"];
        ops.sort_by_key(|o| op_order(o));
        assert_eq!(
            ops,
            ["create", "get", "list-250", "list-1k", "list-10k", "watch"]
        );
    }

    #[test]
    fn bad_arguments_are_refused() {
        let base = BenchArgs {
            clients: vec![1],
            duration_secs: 1,
            durable: false,
            in_memory: true,
            rss_objects: 10,
            skip_rss: true,
            list_sizes: vec![10],
            ops: vec![Op::Get],
            json: false,
            churn: false,
            churn_objects: 10,
            churn_keep: 5,
            churn_clients: vec![2],
            churn_namespaces: 2,
            churn_settle_secs: 0,
            churn_server: None,
        };
        assert!(validate(&base).is_ok());
        for bad in [
            BenchArgs {
                clients: vec![0],
                ..base.clone()
            },
            BenchArgs {
                clients: vec![],
                ..base.clone()
            },
            BenchArgs {
                duration_secs: 0,
                ..base.clone()
            },
            BenchArgs {
                list_sizes: vec![0],
                ..base.clone()
            },
            BenchArgs {
                skip_rss: false,
                rss_objects: 0,
                ..base.clone()
            },
            BenchArgs {
                churn: true,
                churn_clients: vec![8, 0],
                ..base.clone()
            },
            BenchArgs {
                churn: true,
                churn_namespaces: 0,
                ..base.clone()
            },
        ] {
            assert!(validate(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_are_checked_against_the_figures() {
        let phase = |op: &str, clients, per_sec, p99_ms| PhaseReport {
            op: op.into(),
            clients,
            ops: 1,
            errors: 0,
            first_error: None,
            elapsed_secs: 1.0,
            per_sec,
            p50_ms: 1.0,
            p99_ms,
            max_ms: p99_ms,
        };
        let report = BenchReport {
            machine: machine(0.0),
            storage: "durable".into(),
            duration_secs: 1,
            phases: vec![
                phase("get", 8, 5000.0, 2.0),
                phase("create", 8, 900.0, 12.0),
                phase("list-10k", 1, 10.0, 150.0),
            ],
            rss: None,
            churn: None,
            targets: Vec::new(),
        };
        let met: Vec<(String, bool)> = check_targets(&report)
            .into_iter()
            .map(|t| (t.name, t.met))
            .collect();
        assert_eq!(
            met,
            [
                ("GET throughput, 8 clients".to_string(), true),
                ("GET p99, 8 clients".to_string(), true),
                ("durable create throughput, 8 clients".to_string(), false),
                ("create p99, 8 clients".to_string(), false),
                ("10k-object list p99, 1 client".to_string(), true),
            ]
        );
    }
}
