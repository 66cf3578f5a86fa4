//! Garbage collection of async operation records: a record is kept 7 days after its operation
//! ended (ARO's Cosmos TTL), then deleted. Records of operations still running are never touched.

use std::time::Duration;

use chrono::{DateTime, Utc};
use crds::management::AsyncOperation;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};
use tokio_util::sync::CancellationToken;

use crate::Result;

/// Whether a record has expired at `now`.
pub fn expired(op: &AsyncOperation, now: DateTime<Utc>, ttl: Duration) -> bool {
    let Some(end) = op.status.as_ref().and_then(|s| s.end_time.as_deref()) else {
        return false;
    };
    let Ok(end) = DateTime::parse_from_rfc3339(end) else {
        return false;
    };
    let ttl = chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    end.with_timezone(&Utc) + ttl <= now
}

/// Delete every expired record once; returns how many were deleted.
pub async fn collect(client: &kube::Client, ttl: Duration) -> Result<usize> {
    let api: Api<AsyncOperation> = Api::all(client.clone());
    let now = Utc::now();
    let mut deleted = 0;
    for op in api.list(&ListParams::default()).await?.items {
        if !expired(&op, now, ttl) {
            continue;
        }
        let ns: Api<AsyncOperation> =
            Api::namespaced(client.clone(), &op.namespace().unwrap_or_default());
        match ns.delete(&op.name_any(), &DeleteParams::default()).await {
            Ok(_) => deleted += 1,
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(deleted)
}

/// Collect every `interval` until `shutdown`.
pub async fn run(
    client: kube::Client,
    ttl: Duration,
    interval: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match collect(&client, ttl).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired operation records collected"),
            Err(error) => tracing::warn!(%error, "operation record collection failed"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::management::{AsyncOperationSpec, AsyncOperationStatus};

    fn op(end: Option<&str>) -> AsyncOperation {
        let mut op = AsyncOperation::new("x", AsyncOperationSpec::default());
        op.status = Some(AsyncOperationStatus {
            end_time: end.map(str::to_string),
            ..Default::default()
        });
        op
    }

    #[test]
    fn only_ended_records_past_their_ttl_expire() {
        let week = Duration::from_secs(7 * 24 * 3600);
        let now = DateTime::parse_from_rfc3339("2026-12-08T00:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(expired(&op(Some("2026-12-01T00:00:00Z")), now, week));
        assert!(!expired(&op(Some("2026-12-01T00:00:02Z")), now, week));
        assert!(!expired(&op(None), now, week), "running operations stay");
        assert!(!expired(&op(Some("garbage")), now, week));
    }
}
