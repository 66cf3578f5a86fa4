//! The `/healthz`, `/readyz` and `/metrics` listener every component runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio_util::sync::CancellationToken;

use crate::{Error, Result};

/// Readiness flag and metrics registry shared between a component and its health listener.
#[derive(Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
    registry: Arc<std::sync::Mutex<Registry>>,
}

impl Health {
    /// A new, not-yet-ready health state with an empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mark the component ready (or not) for `/readyz`.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Whether the component is ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// Register metrics with the shared registry.
    pub fn with_registry<R>(&self, f: impl FnOnce(&mut Registry) -> R) -> R {
        let mut registry = self
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut registry)
    }

    /// The OpenMetrics text of every registered metric.
    pub fn encode_metrics(&self) -> String {
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }

    /// Routes `/healthz`, `/livez`, `/readyz` and `/metrics`, to mount on any axum server.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/livez", get(|| async { "ok" }))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .with_state(self.clone())
    }
}

async fn readyz(State(health): State<Health>) -> impl IntoResponse {
    if health.is_ready() {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        health.encode_metrics(),
    )
}

/// Serve the health routes on `addr` until `shutdown` fires. Returns the bound address at once
/// (useful with port 0) and a task handle.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    shutdown: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    crate::serve::bind_and_serve(addr, health.router(), shutdown)
        .await
        .map_err(|source| Error::Listener {
            addr: addr.to_string(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;

    #[tokio::test]
    async fn serves_health_readiness_and_metrics() {
        let health = Health::new();
        let counter: Counter = Counter::default();
        health.with_registry(|r| r.register("requests", "Requests served", counter.clone()));
        counter.inc();
        let shutdown = CancellationToken::new();
        let (addr, task) = serve(
            "127.0.0.1:0".parse().unwrap(),
            health.clone(),
            shutdown.clone(),
        )
        .await
        .unwrap();
        let base = format!("http://{addr}");
        let client = reqwest::Client::new();

        let healthz = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(healthz.status(), 200);
        let readyz = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(readyz.status(), 503);
        health.set_ready(true);
        let readyz = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(readyz.status(), 200);
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(metrics.contains("requests_total 1"), "{metrics}");

        shutdown.cancel();
        task.await.unwrap();
    }
}
