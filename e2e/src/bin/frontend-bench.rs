//! `frontend-bench`: rp-frontend's GET, list and PUT throughput and latency, beside devcluster's own
//! GET of the same objects in the same run.
//!
//! In one process: the management devcluster (in memory), arm-emulator, and rp-frontend over plain
//! HTTP on loopback (no controller, so created clusters stay Creating). Phases, each at every
//! client count for `--duration-secs`:
//! * `devcluster-get`: kube-rs GET of an OpenShiftCluster object (HTTPS, the raw store);
//! * `frontend-get`: ARM GET of a cluster (the frontend reads the same object and converts it);
//! * `frontend-list`: ARM list of a resource group holding `--list-size` clusters (first page);
//! * `frontend-put`: ARM PUT creating a new cluster (validation, uniqueness checks, the
//!   AsyncOperation record, the object, its status and its Secret).
//!
//! ```sh
//! cargo run --release -p e2e --bin frontend-bench
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use crds::management::OpenShiftCluster;
use e2e::{Arm, Network, cluster_body, seed_network_at};
use kube::api::{Api, ListParams};

/// Measure rp-frontend against devcluster.
#[derive(Parser, Debug)]
#[command(name = "frontend-bench")]
struct Args {
    /// Concurrent clients of each phase, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
    clients: Vec<usize>,
    /// Seconds each phase runs at each client count.
    #[arg(long, default_value_t = 5)]
    duration_secs: u64,
    /// Clusters in the listed resource group (and read by the GET phases).
    #[arg(long, default_value_t = 100)]
    list_size: u32,
    /// Networks prepared for the PUT phases (each PUT creates a cluster in a network of its
    /// own); a PUT phase ends early when they run out.
    #[arg(long, default_value_t = 8000)]
    max_puts: u32,
}

struct Phase {
    op: &'static str,
    clients: usize,
    ops: usize,
    errors: u64,
    per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1000.0
}

/// Run `op` from `clients` concurrent workers for `duration`; `op(worker, i)` returns whether
/// it succeeded, or `None` when the worker has nothing left to do.
async fn phase<F, Fut>(name: &'static str, clients: usize, duration: Duration, op: F) -> Phase
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<bool>> + Send,
{
    let op = Arc::new(op);
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..clients {
        let (op, errors) = (op.clone(), errors.clone());
        workers.spawn(async move {
            let mut samples = Vec::new();
            let mut i = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                match op(worker, i).await {
                    Some(true) => samples.push(t.elapsed()),
                    Some(false) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    None => break,
                }
                i += 1;
            }
            samples
        });
    }
    let mut samples = Vec::new();
    while let Some(done) = workers.join_next().await {
        samples.extend(done.expect("benchmark worker"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    samples.sort();
    Phase {
        op: name,
        clients,
        ops: samples.len(),
        errors: errors.load(Ordering::Relaxed),
        per_sec: samples.len() as f64 / elapsed,
        p50_ms: percentile(&samples, 50.0),
        p99_ms: percentile(&samples, 99.0),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let duration = Duration::from_secs(args.duration_secs.max(1));
    let system = aro_local::LocalSystem::start(aro_local::LocalConfig {
        start_controller: false,
        ..Default::default()
    })
    .await?;
    let emulator = system.emulator.as_ref().ok_or("no emulator")?;
    let arm = Arm::new(&system.frontend_url);

    // The clusters the GET and list phases read.
    let mut names = Vec::new();
    for i in 0..args.list_size {
        let name = format!("read-{i}");
        let network = seed_network_at(emulator, &format!("{name}-vnet"), i, true)?;
        let answer = arm.put(&name, &cluster_body(&name, &network)).await?;
        if answer.status != 201 {
            return Err(format!("PUT {name}: {} {}", answer.status, answer.body).into());
        }
        names.push(name);
    }
    let names = Arc::new(names);
    let clusters: Api<OpenShiftCluster> = Api::all(system.client.clone());
    let objects: Arc<Vec<(String, String)>> = Arc::new(
        clusters
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .map(|c| {
                (
                    c.metadata.namespace.unwrap_or_default(),
                    c.metadata.name.unwrap_or_default(),
                )
            })
            .collect(),
    );
    // Networks for the PUT phase, seeded up front so the phase measures the frontend only.
    let put_networks = (args.max_puts as usize).min(8192 - args.list_size as usize);
    let mut networks: Vec<Network> = Vec::with_capacity(put_networks);
    for i in 0..put_networks {
        let index = args.list_size + i as u32;
        networks.push(seed_network_at(
            emulator,
            &format!("write-{index}-vnet"),
            index,
            true,
        )?);
    }
    let networks = Arc::new(networks);
    let next_network = Arc::new(AtomicU64::new(0));

    let mut phases = Vec::new();
    for &clients in &args.clients {
        let kube_clients: Vec<kube::Client> = (0..clients).map(|_| system.client.clone()).collect();
        let kube_clients = Arc::new(kube_clients);
        let objs = objects.clone();
        phases.push(
            phase("devcluster-get", clients, duration, move |w, i| {
                let (client, objs) = (kube_clients[w].clone(), objs.clone());
                async move {
                    let (ns, name) = &objs[(i as usize + w) % objs.len()];
                    let api: Api<OpenShiftCluster> = Api::namespaced(client, ns);
                    Some(api.get(name).await.is_ok())
                }
            })
            .await,
        );
        let (a, n) = (arm.clone(), names.clone());
        phases.push(
            phase("frontend-get", clients, duration, move |w, i| {
                let (arm, names) = (a.clone(), n.clone());
                async move {
                    let name = &names[(i as usize + w) % names.len()];
                    Some(arm.get(name).await.is_ok_and(|r| r.status == 200))
                }
            })
            .await,
        );
        let a = arm.clone();
        phases.push(
            phase("frontend-list", clients, duration, move |_, _| {
                let arm = a.clone();
                async move {
                    Some(
                        arm.list_resource_group()
                            .await
                            .is_ok_and(|r| r.status == 200),
                    )
                }
            })
            .await,
        );
        let (a, nets, next) = (arm.clone(), networks.clone(), next_network.clone());
        phases.push(
            phase("frontend-put", clients, duration, move |_, _| {
                let (arm, nets, next) = (a.clone(), nets.clone(), next.clone());
                async move {
                    let k = next.fetch_add(1, Ordering::Relaxed) as usize;
                    // Out of prepared networks: this worker stops.
                    let network = nets.get(k)?;
                    let name = format!("write-{k}");
                    Some(
                        arm.put(&name, &cluster_body(&name, network))
                            .await
                            .is_ok_and(|r| r.status == 201),
                    )
                }
            })
            .await,
        );
    }

    println!(
        "{:<16} {:>7} {:>9} {:>7} {:>10} {:>8} {:>8}",
        "op", "clients", "ops", "errors", "ops/s", "p50 ms", "p99 ms"
    );
    for p in &phases {
        println!(
            "{:<16} {:>7} {:>9} {:>7} {:>10.0} {:>8.2} {:>8.2}",
            p.op, p.clients, p.ops, p.errors, p.per_sec, p.p50_ms, p.p99_ms
        );
    }
    println!();
    for &clients in &args.clients {
        let rate = |op: &str| {
            phases
                .iter()
                .find(|p| p.op == op && p.clients == clients)
                .map(|p| p.per_sec)
                .unwrap_or(0.0)
        };
        println!(
            "{clients:>3} clients: frontend GET = {:.0}% of devcluster GET",
            100.0 * rate("frontend-get") / rate("devcluster-get").max(1.0)
        );
    }
    system.stop().await?;
    Ok(())
}
