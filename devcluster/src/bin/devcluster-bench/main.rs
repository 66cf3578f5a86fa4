//! `devcluster-bench`: measure an in-process devcluster through real HTTPS clients: create, get,
//! update, list and watch-delivery throughput and latency, and RSS with many small objects
//! (figures and how to run it: docs/benchmarks.md). A binary of its own, so the library carries
//! no benchmark code.

mod bench;
#[cfg(test)]
mod smoke_tests;

use clap::Parser;

/// Measure an in-process devcluster through real HTTPS clients: create, get, update, list and
/// watch-delivery throughput and latency, and RSS with many small objects.
#[derive(Parser, Debug)]
#[command(name = "devcluster-bench", version)]
struct Cli {
    #[command(flatten)]
    log: aro_common::telemetry::LogArgs,
    #[command(flatten)]
    bench: bench::BenchArgs,
}

/// Errors of the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Devcluster(#[from] devcluster::Error),
    /// The scratch data dir of a durable run cannot be made.
    #[error("data dir: {0}")]
    PrivateFile(aro_common::Error),
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("benchmark: {0}")]
    Bench(String),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    aro_common::telemetry::init(&cli.log)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(bench::run(cli.bench))?;
    Ok(())
}
