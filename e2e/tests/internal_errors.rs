//! Customer-facing errors carry no internals: when the RP itself fails (here its cluster runtime),
//! the customer sees only ARM's generic `InternalServerError`, and when its management cluster is
//! unreachable only ARM's `ServiceUnavailable`, while the details are in the logs (at error, with
//! the operation or request id) and in the admin view.

#[path = "support/logs.rs"]
mod logs;

use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use e2e::{Arm, cluster_body, demo_network};
use rp_controller::context::Settings;
use rp_controller::steps::RetryPolicy;
use serde_json::json;
use tracing_subscriber::filter::LevelFilter;

const T: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn internal_failures_reach_the_customer_as_a_generic_error_and_sres_get_the_details() {
    let logs = logs::capture(LevelFilter::INFO);
    let data = tempfile::tempdir().unwrap();
    let system = LocalSystem::start(LocalConfig {
        data_dir: Some(data.path().to_path_buf()),
        settings: Settings {
            max_poll_interval: Duration::from_millis(200),
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_millis(500),
            },
            ..Default::default()
        },
        lease_duration: Duration::from_secs(3),
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let arm = Arm::new(&system.frontend_url);

    // The runtime cannot create the cluster: where its clusters live is a file.
    let clusters = system.clusters_dir.clone().unwrap();
    if clusters.is_dir() {
        std::fs::remove_dir_all(&clusters).unwrap();
    }
    std::fs::write(&clusters, "not a directory").unwrap();

    let created = arm
        .put("broken", &cluster_body("broken", &demo_network()))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let cluster = arm
        .wait_for_state("broken", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Failed",
        "{cluster}"
    );

    // The customer: the generic error only, on the operation and on the cluster.
    let operation = arm
        .get_url(created.async_operation.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(operation.body["status"], "Failed", "{}", operation.body);
    assert_eq!(
        operation.body["error"],
        json!({"code": "InternalServerError", "message": "Internal server error."}),
        "{}",
        operation.body
    );
    let customer_view = cluster.to_string();
    let path = clusters.display().to_string();
    assert!(!customer_view.contains(&path), "{customer_view}");
    assert!(!customer_view.contains("runtime"), "{customer_view}");

    // The SRE: the details in the admin view...
    let admin = arm.admin_get("broken").await.unwrap();
    assert_eq!(admin.status, 200, "{}", admin.body);
    let status = &admin.body["properties"]["status"];
    assert_eq!(
        status["error"]["message"], "Internal server error.",
        "{status}"
    );
    let detail = status["internalError"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("InternalServerError: Cluster runtime"),
        "{status}"
    );
    // ... and in the controller's log, at error, with the operation id.
    let operation_id = created
        .async_operation
        .as_deref()
        .unwrap()
        .split('/')
        .next_back()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("operation failed with an internal error"))
        .unwrap_or_else(|| panic!("no error log of the failure:\n{text}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains(&operation_id), "{line}");
    assert!(line.contains("Cluster runtime"), "{line}");

    // The management cluster is gone from under the frontend: a 503 with Retry-After (ARM and
    // clients retry) and no internals, the details logged at error with the request id.
    let mut system = system;
    system.devcluster.take().unwrap().stop().await;
    let response = reqwest::Client::new()
        .put(format!(
            "{}{}?api-version={}",
            system.frontend_url,
            arm.cluster_id("other"),
            e2e::API_VERSION
        ))
        .json(&cluster_body("other", &demo_network()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let request_id = response
        .headers()
        .get("x-ms-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable; retry the request later."}})
    );
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("request failed") && l.contains(&request_id))
        .unwrap_or_else(|| panic!("no error log of request {request_id}:\n{text}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("management cluster"), "{line}");
    drop(system);
}
