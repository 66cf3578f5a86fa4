//! Prometheus request metrics by route, method, api-version and status code.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template (ids replaced by placeholders).
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// api-version query value.
    pub api_version: String,
    /// HTTP status code.
    pub code: String,
}

/// Request counter and latency histogram.
#[derive(Clone)]
pub struct Metrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<RequestLabels, Histogram>,
}

impl Metrics {
    /// Create and register the metrics.
    pub fn register(health: &aro_common::health::Health) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 14))
        });
        health.with_registry(|r| {
            r.register(
                "frontend_http_requests",
                "ARM requests served by the frontend",
                requests.clone(),
            );
            r.register(
                "frontend_http_request_duration_seconds",
                "Latency of ARM requests served by the frontend",
                latency.clone(),
            );
        });
        Metrics { requests, latency }
    }

    /// Record one request.
    pub fn observe(&self, route: &str, method: &str, api_version: &str, code: u16, took: Duration) {
        let labels = RequestLabels {
            route: route.to_string(),
            method: method.to_string(),
            api_version: api_version.chars().take(32).collect(),
            code: code.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

/// Route template of a path: names and ids replaced by `{}` so labels stay few.
pub fn route_label(path: &str) -> String {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut out = Vec::new();
    let mut previous = "";
    for s in &segments {
        let templated = matches!(
            previous,
            "subscriptions"
                | "resourcegroups"
                | "openshiftclusters"
                | "locations"
                | "operationsstatus"
                | "operationresults"
                | "deployments"
                | "openshiftversions"
                | "platformworkloadidentityrolesets"
        );
        out.push(if templated { "{}" } else { s.as_str() });
        previous = s;
    }
    // Unknown paths must not create unbounded label values.
    if out.len() > 12 {
        return "/other".to_string();
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_hide_names() {
        assert_eq!(
            route_label(
                "/subscriptions/abc/resourceGroups/RG/providers/Microsoft.RedHatOpenShift/openShiftClusters/x"
            ),
            "/subscriptions/{}/resourcegroups/{}/providers/microsoft.redhatopenshift/openshiftclusters/{}"
        );
    }
}
