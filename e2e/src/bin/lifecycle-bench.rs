//! `lifecycle-bench`: N clusters created at once in local mode, the whole system in this process
//! (management devcluster, arm-emulator with no long-running-operation delay, rp-frontend,
//! rp-controller and one local devcluster per cluster with its operator).
//!
//! Reports the time from the first PUT until every cluster is Succeeded, the process's CPU time and
//! peak RSS (everything above runs in it, the local clusters included), and the management API
//! requests per cluster (from the management devcluster's `apiserver_request` counters).
//!
//! ```sh
//! cargo run --release -p e2e --bin lifecycle-bench -- --clusters 100
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use aro_local::{LocalConfig, LocalSystem};
use clap::Parser;
use crds::management::{OpenShiftCluster, ProvisioningState};
use e2e::{Arm, cluster_body, seed_network_at};
use kube::api::{Api, ListParams};
use tokio::sync::Semaphore;

/// Create N clusters at once in local mode and measure how the system copes.
#[derive(Parser, Debug)]
#[command(name = "lifecycle-bench")]
struct Args {
    /// Clusters created at once.
    #[arg(long, default_value_t = 100)]
    clusters: u32,
    /// PUT requests in flight at a time.
    #[arg(long, default_value_t = 64)]
    concurrent_puts: usize,
    /// Controller workers (clusters reconciled concurrently).
    #[arg(long, default_value_t = 32)]
    workers: u16,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 3600)]
    timeout_secs: u64,
}

/// CPU seconds (user + system) this process used so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Field 14 is at index 11 after the state field (index 0 is field 3).
    (ticks(11) + ticks(12)) / 100.0
}

/// A `/proc/self/status` value in MiB (e.g. `VmHWM`, `VmRSS`).
fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Total requests the management API server answered, from its Prometheus counters.
async fn management_requests(client: &kube::Client) -> f64 {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(request).await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with("apiserver_request_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Clusters per provisioning state.
async fn states(client: &kube::Client) -> (usize, usize, usize) {
    let api: Api<OpenShiftCluster> = Api::all(client.clone());
    let Ok(list) = api.list(&ListParams::default()).await else {
        return (0, 0, 0);
    };
    let state = |c: &OpenShiftCluster| c.status.as_ref().and_then(|s| s.provisioning_state);
    let succeeded = list
        .items
        .iter()
        .filter(|c| state(c) == Some(ProvisioningState::Succeeded))
        .count();
    let failed = list
        .items
        .iter()
        .filter(|c| state(c) == Some(ProvisioningState::Failed))
        .count();
    (list.items.len(), succeeded, failed)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let system = LocalSystem::start(LocalConfig {
        lro_delay: Duration::ZERO,
        workers: args.workers,
        ..Default::default()
    })
    .await?;
    let emulator = system.emulator.as_ref().ok_or("no emulator")?;
    let arm = Arm::new(&system.frontend_url);
    let mut bodies = Vec::new();
    for i in 0..args.clusters {
        let name = format!("bench-{i}");
        let network = seed_network_at(emulator, &format!("{name}-vnet"), i, true)?;
        bodies.push((name.clone(), cluster_body(&name, &network)));
    }
    let requests_before = management_requests(&system.client).await;
    let cpu_before = cpu_seconds();
    let rss_before = status_mib("VmRSS");
    let started = Instant::now();

    let limit = Arc::new(Semaphore::new(args.concurrent_puts.max(1)));
    let mut puts = tokio::task::JoinSet::new();
    for (name, body) in bodies {
        let (arm, limit) = (arm.clone(), limit.clone());
        puts.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let answer = arm.put(&name, &body).await;
            (name, answer)
        });
    }
    while let Some(joined) = puts.join_next().await {
        let (name, answer) = joined?;
        let answer = answer?;
        if answer.status != 201 {
            return Err(format!("PUT {name}: {} {}", answer.status, answer.body).into());
        }
    }
    let accepted = started.elapsed();

    let deadline = started + Duration::from_secs(args.timeout_secs);
    let mut last_report = Instant::now();
    let (succeeded, failed) = loop {
        let (total, succeeded, failed) = states(&system.client).await;
        if succeeded + failed == args.clusters as usize && total == args.clusters as usize {
            break (succeeded, failed);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "timed out: {succeeded} Succeeded, {failed} Failed of {}",
                args.clusters
            )
            .into());
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "{:>6.1}s: {succeeded} Succeeded, {failed} Failed of {}",
                started.elapsed().as_secs_f64(),
                args.clusters
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let elapsed = started.elapsed();
    let cpu = cpu_seconds() - cpu_before;
    let requests = management_requests(&system.client).await - requests_before;
    let running = system
        .controller_runtime()
        .map(|r| r.running())
        .unwrap_or_default();

    println!("clusters created at once      {}", args.clusters);
    println!(
        "all PUTs answered 201 after   {:.2} s",
        accepted.as_secs_f64()
    );
    println!(
        "all terminal after            {:.2} s",
        elapsed.as_secs_f64()
    );
    println!("succeeded / failed            {succeeded} / {failed}");
    println!("local clusters running        {running}");
    println!("process CPU time              {cpu:.1} s");
    println!(
        "process peak RSS (VmHWM)      {:.0} MiB",
        status_mib("VmHWM")
    );
    println!(
        "RSS added per cluster         {:.1} MiB",
        (status_mib("VmRSS") - rss_before) / f64::from(args.clusters.max(1))
    );
    let fds = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    println!(
        "open file descriptors         {fds} ({:.0} per cluster)",
        fds as f64 / f64::from(args.clusters.max(1))
    );
    println!(
        "management API requests       {requests:.0} ({:.1} per cluster)",
        requests / f64::from(args.clusters.max(1))
    );
    system.stop().await?;
    if failed > 0 {
        return Err(format!("{failed} clusters failed").into());
    }
    Ok(())
}
