//! The benchmark's code path end to end, on a tiny load: every phase runs and measures something.
//! No timing is asserted (figures belong in docs/benchmarks.md, from a release build).

use clap::Parser;

use super::bench::{BenchArgs, run_bench};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_every_phase_with_one_client() {
    let cli = Cli::try_parse_from([
        "bench",
        "--clients",
        "1",
        "--duration-secs",
        "1",
        "--in-memory",
        "--skip-rss",
        "--list-sizes",
        "5,20",
    ])
    .unwrap();
    let report = run_bench(&cli.bench).await.unwrap();
    assert_eq!(report.storage, "in-memory");
    let ops: Vec<&str> = report.phases.iter().map(|p| p.op.as_str()).collect();
    assert_eq!(
        ops,
        ["create", "get", "update", "list-5", "list-20", "watch"]
    );
    for p in &report.phases {
        assert_eq!(p.clients, 1);
        assert_eq!(p.errors, 0, "{}: {:?}", p.op, p.first_error);
        assert!(p.ops > 0 && p.per_sec > 0.0, "{} measured nothing", p.op);
        assert!(p.p50_ms <= p.p99_ms && p.p99_ms <= p.max_ms, "{p:?}");
    }
    assert!(report.rss.is_none());
    let table = report.table();
    assert!(table.contains("list-20"), "{table}");
}

#[tokio::test]
async fn rss_is_measured_around_the_objects() {
    let cli = Cli::try_parse_from([
        "bench",
        "--clients",
        "1",
        "--duration-secs",
        "1",
        "--in-memory",
        "--rss-objects",
        "50",
        "--ops",
        "get",
        "--list-sizes",
        "3",
    ])
    .unwrap();
    let report = run_bench(&cli.bench).await.unwrap();
    let rss = report.rss.expect("RSS measured");
    assert_eq!(rss.objects, 50);
    assert!(rss.server_only_mib > 0.0 && rss.peak_mib >= rss.after_create_mib);
    assert!(rss.create_per_sec > 0.0);
    assert_eq!(report.phases.len(), 1);
    assert!(report.phases[0].ops > 0);
}
