//! Subscription lifecycle (ARO-RP's pkg/backend subscription handling): when ARM reports a
//! subscription Deleted, every cluster of it is deleted. Terminal clusters move to Deleting (with
//! an operation record, as the frontend does); busy ones are retried later; the subscription's
//! status counts what remains.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use crds::management::naming::{self, LABEL_CLUSTER_NAME, LABEL_SUBSCRIPTION};
use crds::management::{
    AsyncOperation, AsyncOperationSpec, OpenShiftCluster, ProvisioningState, Subscription,
    SubscriptionState,
};
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use serde_json::json;

use crate::Result;
use crate::context::Context;
use crds::management::protocol;

/// Start deleting one terminal cluster: operation record first, then the status transition under
/// the resourceVersion read (a racing writer wins and the cluster is retried later).
pub async fn start_delete(ctx: &Context, cluster: &OpenShiftCluster) -> Result<bool> {
    let ns = cluster.namespace().unwrap_or_default();
    let status = cluster.status.clone().unwrap_or_default();
    let state = status
        .provisioning_state
        .unwrap_or(ProvisioningState::Succeeded);
    // Any claim, even one whose status is written and only its release is pending, means another
    // writer is mid-operation: leave the cluster to it.
    if !state.is_terminal() || protocol::pending_operation(cluster).is_some() {
        return Ok(false);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let ops: Api<AsyncOperation> = Api::namespaced(ctx.client.clone(), &ns);
    let mut op = AsyncOperation::new(
        &id,
        AsyncOperationSpec {
            operation_id: id.clone(),
            resource_id: cluster.spec.resource_id.clone(),
            cluster_name: cluster.name_any(),
            subscription_id: cluster.spec.subscription_id.clone(),
            location: cluster.spec.location.clone(),
            initial_status: ProvisioningState::Deleting,
            start_time: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            tenant_id: None,
        },
    );
    op.metadata.labels = Some(BTreeMap::from([
        (LABEL_CLUSTER_NAME.to_string(), cluster.name_any()),
        (
            LABEL_SUBSCRIPTION.to_string(),
            cluster.spec.subscription_id.clone(),
        ),
    ]));
    ops.create(&PostParams::default(), &op).await?;

    let mut next = status;
    next.last_provisioning_state = Some(state);
    next.provisioning_state = Some(ProvisioningState::Deleting);
    next.async_operation_id = Some(id.clone());
    next.failed_provisioning_state = None;
    next.progress = None;
    let mut updated = cluster.clone();
    updated.status = Some(next);
    let clusters: Api<OpenShiftCluster> = Api::namespaced(ctx.client.clone(), &ns);
    match clusters
        .replace_status(&cluster.name_any(), &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
            let _ = ops.delete(&id, &Default::default()).await;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// Reconcile one subscription.
pub async fn reconcile(sub: Arc<Subscription>, ctx: Arc<Context>) -> Result<Action> {
    if sub.spec.state != SubscriptionState::Deleted {
        return Ok(Action::await_change());
    }
    let ns = naming::subscription_namespace(&sub.name_any());
    let clusters: Api<OpenShiftCluster> = Api::namespaced(ctx.client.clone(), &ns);
    let list = clusters.list(&ListParams::default()).await?;
    let remaining = list.items.len();
    for cluster in &list.items {
        if start_delete(&ctx, cluster).await? {
            tracing::info!(
                cluster = cluster.name_any(),
                "deleting a cluster of a deleted subscription"
            );
        }
    }
    let status = json!({"status": {"deleting": true, "remainingClusters": remaining}});
    let subs: Api<Subscription> = Api::all(ctx.client.clone());
    if sub.status.as_ref().and_then(|s| s.remaining_clusters) != Some(remaining as i32)
        || !sub.status.as_ref().is_some_and(|s| s.deleting)
    {
        subs.patch_status(
            &sub.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&status),
        )
        .await?;
    }
    if remaining == 0 {
        Ok(Action::await_change())
    } else {
        // Clusters still being deleted (or busy with another operation): look again later.
        Ok(Action::requeue(ctx.settings.subscription_retry))
    }
}
