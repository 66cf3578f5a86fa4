//! `devcluster-bench --churn` end to end on a small load: the server runs as a child process
//! (the benchmark's own `devcluster` subcommand), the creates and the deletecollection happen,
//! exactly the kept objects are left, and the server's memory is read. No figure is asserted
//! beyond being measured (figures belong in docs/benchmarks.md, from a release build).

use serde_json::Value;

#[test]
fn churn_measures_a_server_process() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_devcluster-bench"))
        .args([
            "--churn",
            "--churn-objects",
            "120",
            "--churn-keep",
            "30",
            "--churn-clients",
            "2,4",
            "--churn-namespaces",
            "3",
            "--churn-settle-secs",
            "0",
            "--json",
        ])
        .output()
        .expect("running devcluster-bench");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    let churn = &report["churn"];
    assert_eq!(churn["objects"], 120, "{churn}");
    assert_eq!(churn["kept"], 30, "{churn}");
    assert_eq!(churn["deleted"], 90, "{churn}");
    let steps = churn["create_steps"].as_array().unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| (
                s["clients"].as_u64().unwrap(),
                s["created"].as_u64().unwrap()
            ))
            .collect::<Vec<_>>(),
        [(2, 60), (4, 60)]
    );
    assert!(steps.iter().all(|s| s["errors"] == 0), "{churn}");
    let mib = |field: &str| churn[field].as_f64().unwrap();
    assert!(mib("idle_mib") > 0.0 && mib("final_mib") > 0.0, "{churn}");
    assert!(mib("peak_mib") >= mib("after_create_mib"), "{churn}");
    assert!(
        churn["server"]
            .as_str()
            .unwrap()
            .contains(" devcluster --listen 127.0.0.1:0"),
        "{churn}"
    );
    assert!(report["phases"].as_array().unwrap().is_empty());
}
