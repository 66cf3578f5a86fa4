//! Graceful shutdown: a cancellation token that fires on SIGTERM or SIGINT (Ctrl-C).

use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGTERM or SIGINT. Components watch it (or a child token) and
/// finish in-flight work before returning.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let signal = wait_for_signal().await;
        tracing::info!(signal, "shutdown requested");
        trigger.cancel();
    });
    token
}

async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the process");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// Drive `work` (a kube-runtime controller's stream, drained) to its end. Once `shutdown` fires,
/// in-flight reconciles get `grace` to finish (the controller's own graceful shutdown), then
/// `work` is dropped, which cancels them; when `started()` says no reconcile can be in flight
/// (the controller's store has not finished its first list) it is dropped at once.
///
/// The bound matters: kube-runtime's runner only ends once its store is ready, so a controller
/// asked to stop before its first list completes would otherwise never end. Returns `None` when
/// `work` was dropped.
pub async fn drive_controller<F: std::future::Future>(
    work: F,
    shutdown: &CancellationToken,
    started: impl Fn() -> bool,
    grace: std::time::Duration,
) -> Option<F::Output> {
    tokio::pin!(work);
    tokio::select! {
        output = &mut work => return Some(output),
        _ = shutdown.cancelled() => {}
    }
    if !started() {
        return None;
    }
    tokio::time::timeout(grace, work).await.ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn work_ends_by_itself_within_the_grace() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let out = drive_controller(async { 7 }, &shutdown, || true, Duration::from_secs(60)).await;
        assert_eq!(out, Some(7));
    }

    #[tokio::test]
    async fn stuck_work_is_dropped_after_the_grace_or_at_once_when_not_started() {
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let stuck = std::future::pending::<()>();
        assert_eq!(
            drive_controller(stuck, &shutdown, || true, Duration::from_millis(20)).await,
            None
        );
        // Not started: no grace at all (an hour would never end the test).
        let never_started = std::future::pending::<()>();
        assert_eq!(
            drive_controller(
                never_started,
                &shutdown,
                || false,
                Duration::from_secs(3600)
            )
            .await,
            None
        );
    }
}
