//! Prometheus request metrics by route template, method, api-version and status code, served on
//! the internal metrics listener (`--metrics-listen`), never on the ARM port.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template of the route table (`other` when none matched).
    pub route: &'static str,
    /// HTTP method (`other` when not a known one).
    pub method: &'static str,
    /// api-version (`none`, a served version, or `other`).
    pub api_version: &'static str,
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

    /// Record one request, after routing: every label comes from a fixed set, so no request
    /// can add a series a scrape would not already expect.
    pub fn observe(
        &self,
        route: &'static str,
        method: &'static str,
        api_version: &'static str,
        code: u16,
        took: Duration,
    ) {
        let labels = RequestLabels {
            route,
            method,
            api_version,
            code: code.to_string(),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }
}

/// The `method` label: a known method, else `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The `api_version` label: a version the frontend serves (or `admin`, `2.0`), `none` when
/// absent, else `other`.
pub fn api_version_label(api_version: Option<&str>) -> &'static str {
    match api_version {
        None => "none",
        Some("admin") => "admin",
        Some("2.0") => "2.0",
        Some(v) => crate::api::ApiVersion::parse(v)
            .map(crate::api::ApiVersion::as_str)
            .unwrap_or("other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(api_version_label(Some("2023-11-22")), "2023-11-22");
        assert_eq!(api_version_label(Some("2023-11-23")), "other");
        assert_eq!(api_version_label(None), "none");
        let odd = axum::http::Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
    }
}
