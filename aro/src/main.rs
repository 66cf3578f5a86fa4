//! `aro`: every component of the Azure Red Hat OpenShift resource provider in one binary.

mod crds_cmd;

use clap::{Parser, Subcommand};

/// Azure Red Hat OpenShift resource provider, Kubernetes-operator style.
///
/// Each subcommand runs one component; `aro <subcommand> --help` documents its flags.
#[derive(Parser, Debug)]
#[command(name = "aro", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    log: aro_common::telemetry::LogArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the CustomResourceDefinitions (management cluster and operator) as YAML, or write
    /// them to their committed locations.
    Crds(crds_cmd::CrdsArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        // Printing CRDs needs neither logging nor an async runtime.
        Command::Crds(args) => crds_cmd::run(args),
    }
}
