//! `devcluster-bench`: measure an in-process devcluster through real HTTPS clients: create, get,
//! update, list and watch-delivery throughput and latency, and RSS with many small objects; or,
//! with `--churn`, a devcluster server process's memory while objects are created and deleted
//! (figures and how to run it: docs/benchmarks.md). A binary of its own, so the library carries
//! no benchmark code.

mod bench;
mod churn;
#[cfg(test)]
mod smoke_tests;

use clap::Parser;

/// `aro`'s allocator, so the churn measurement's server is what `aro devcluster` runs: glibc's
/// malloc keeps most of what a burst of objects freed (docs/benchmarks.md, "devcluster under
/// churn").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Measure an in-process devcluster through real HTTPS clients: create, get, update, list and
/// watch-delivery throughput and latency, and RSS with many small objects. With `--churn`:
/// the memory of a devcluster server process while objects are created and deleted.
#[derive(Parser, Debug)]
#[command(
    name = "devcluster-bench",
    version,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(flatten)]
    log: aro_common::telemetry::LogArgs,
    #[command(subcommand)]
    server: Option<Server>,
    #[command(flatten)]
    bench: bench::BenchArgs,
}

#[derive(clap::Subcommand, Debug)]
enum Server {
    /// Serve devcluster as `aro devcluster` does: the server process of `--churn`.
    #[command(hide = true)]
    Devcluster(devcluster::DevclusterArgs),
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
    match cli.server {
        Some(Server::Devcluster(args)) => runtime
            .block_on(async { devcluster::run(args, aro_common::shutdown::on_signal()).await })?,
        None => runtime.block_on(bench::run(cli.bench))?,
    }
    Ok(())
}
