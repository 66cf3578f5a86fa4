//! `aro`: every component of the Azure Red Hat OpenShift resource provider in one binary.

mod crds_cmd;

use clap::{Parser, Subcommand};

/// jemalloc with its background thread gives memory back to the system after a burst, which
/// glibc's malloc mostly keeps (docs/benchmarks.md, "devcluster under churn").
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

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
    /// Run devcluster, an embedded Kubernetes-API-compatible server (HTTPS, durable storage in
    /// its data dir, a kubeconfig for kubectl and kube clients).
    Devcluster(devcluster::DevclusterArgs),
    /// Run arm-emulator, an embedded Azure Resource Manager endpoint (resource groups, network,
    /// compute, authorization, AAD-style tokens, long-running operations, fault injection).
    ArmEmulator(arm_emulator::ArmEmulatorArgs),
    /// Run rp-frontend, the ARM resource provider API for Microsoft.RedHatOpenShift.
    Frontend(rp_frontend::FrontendArgs),
    /// Run aro-operator, the in-cluster operator (master or worker role).
    Operator(aro_operator::OperatorArgs),
    /// Run rp-controller, the controllers that drive every OpenShiftCluster of the management
    /// cluster to a terminal provisioning state (install, update, admin update, delete).
    Controller(Box<rp_controller::ControllerArgs>),
    /// Run the whole system on this machine: devcluster (management cluster), arm-emulator with a
    /// demo VNet, rp-frontend and rp-controller with local clusters; prints a walkthrough.
    Local(aro_local::LocalArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        // Printing CRDs needs neither logging nor an async runtime.
        Command::Crds(args) => crds_cmd::run(args),
        command => {
            aro_common::telemetry::init(&cli.log)?;
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(run(command))
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let shutdown = aro_common::shutdown::on_signal();
    match command {
        Command::Crds(_) => unreachable!("handled without a runtime"),
        Command::Devcluster(args) => devcluster::run(args, shutdown).await?,
        Command::ArmEmulator(args) => arm_emulator::run(args, shutdown).await?,
        Command::Frontend(args) => rp_frontend::run(args, shutdown).await?,
        Command::Operator(args) => aro_operator::run(args, shutdown).await?,
        Command::Controller(args) => rp_controller::run(*args, shutdown).await?,
        Command::Local(args) => aro_local::run(args, shutdown).await?,
    }
    Ok(())
}
