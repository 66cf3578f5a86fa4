//! Internet checker (ARO-RP's pkg/operator/controllers/checkers, the one also running on
//! workers): probes the URLs of `spec.internetChecker.urls` from the operator's pod and reports
//! `InternetReachableFromMaster` or `InternetReachableFromWorker` on the Cluster. It is what the
//! worker deployment runs, since the answer depends on the node's network path.

use std::time::Duration;

use crds::operator::{Cluster, OperatorCondition};
use kube::Client;

use crate::Result;
use crate::conditions::{merge_conditions, now_rfc3339, update_status};
use crate::role::Role;

/// Flag gating the checkers.
pub const FLAG_ENABLED: &str = "aro.checker.enabled";
/// How long one probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The condition type the `role` reports.
pub fn condition_type(role: Role) -> &'static str {
    match role {
        Role::Master => "InternetReachableFromMaster",
        Role::Worker => "InternetReachableFromWorker",
    }
}

/// The condition for probe results (`url`, error text if it failed).
pub fn condition(role: Role, results: &[(String, Option<String>)]) -> OperatorCondition {
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(url, error)| error.as_ref().map(|e| format!("{url}: {e}")))
        .collect();
    OperatorCondition {
        type_: condition_type(role).to_string(),
        status: if failures.is_empty() { "True" } else { "False" }.to_string(),
        last_transition_time: None,
        reason: if failures.is_empty() {
            "CheckDone"
        } else {
            "CheckFailed"
        }
        .to_string(),
        message: failures.join("\n"),
    }
}

/// Probe one URL: any HTTP answer means the internet path works.
async fn probe(http: &reqwest::Client, url: &str) -> Option<String> {
    match http.head(url).send().await {
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    }
}

/// Probe every URL and record the condition. Returns the condition written.
pub async fn reconcile(
    client: &Client,
    cluster: &Cluster,
    role: Role,
) -> Result<Option<OperatorCondition>> {
    if !cluster.spec.flag_enabled(FLAG_ENABLED) {
        return Ok(None);
    }
    let http = reqwest::Client::builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| crate::Error::invalid("checker", e.to_string()))?;
    let mut results = Vec::new();
    for url in &cluster.spec.internet_checker.urls {
        results.push((url.clone(), probe(&http, url).await));
    }
    let update = condition(role, &results);
    let now = now_rfc3339();
    update_status(client, |status| {
        status.conditions =
            merge_conditions(&status.conditions, std::slice::from_ref(&update), &now);
    })
    .await?;
    Ok(Some(update))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_reachable_is_true_and_failures_are_listed() {
        let ok = condition(Role::Worker, &[("https://a".into(), None)]);
        assert_eq!(ok.type_, "InternetReachableFromWorker");
        assert_eq!(
            (ok.status.as_str(), ok.reason.as_str()),
            ("True", "CheckDone")
        );
        let failed = condition(
            Role::Master,
            &[
                ("https://a".into(), None),
                ("https://b".into(), Some("timed out".into())),
            ],
        );
        assert_eq!(failed.type_, "InternetReachableFromMaster");
        assert_eq!(
            (failed.status.as_str(), failed.reason.as_str()),
            ("False", "CheckFailed")
        );
        assert_eq!(failed.message, "https://b: timed out");
        assert_eq!(condition(Role::Master, &[]).status, "True");
    }

    #[tokio::test]
    async fn probe_reports_answers_and_unreachable_hosts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                axum::Router::new().route("/", axum::routing::get(|| async { "ok" })),
            )
            .await
            .unwrap();
        });
        let http = reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            .build()
            .unwrap();
        assert_eq!(probe(&http, &format!("http://{addr}/")).await, None);
        server.abort();
        let _ = server.await;
        // Nothing listens there any more: connection refused.
        assert!(probe(&http, &format!("http://{addr}/")).await.is_some());
    }
}
