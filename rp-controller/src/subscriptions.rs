//! Subscription lifecycle (ARO-RP's pkg/backend subscription handling): when ARM reports a
//! subscription Deleted, every cluster of it is deleted. Terminal clusters move to Deleting (with
//! an operation record, as the frontend does); busy ones are retried later; the subscription's
//! status counts what remains.
//!
//! While a subscription is not Deleted, its namespace exists and holds the RoleBinding that lets
//! the frontend read and write the Secrets there ([`subscription_access`]): the internet-facing
//! frontend has no cluster-wide access to Secrets, so a compromised frontend reaches only the
//! subscription namespaces' Secrets, never those of the RP or the cluster.

use std::collections::BTreeMap;
use std::sync::Arc;

use aro_common::merge_patch;
use chrono::Utc;
use crds::management::naming::{self, LABEL_CLUSTER_NAME, LABEL_SUBSCRIPTION};
use crds::management::{
    AsyncOperation, AsyncOperationSpec, OpenShiftCluster, ProvisioningState, Subscription,
    SubscriptionState,
};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
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
    match merge_patch::write(&clusters, cluster, &updated, merge_patch::Part::Status).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 || e.code == 404 => {
            let _ = ops.delete(&id, &Default::default()).await;
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// The ClusterRole (deploy/rp/frontend-rbac.yaml) bound to the frontend in each subscription
/// namespace.
pub const FRONTEND_SUBSCRIPTION_ROLE: &str = "aro-rp-frontend-subscription";
/// The frontend's ServiceAccount as deploy/rp names it.
pub const DEFAULT_FRONTEND_SERVICE_ACCOUNT: &str = "aro-rp/aro-rp-frontend";
/// Field manager of the subscription namespace and its RoleBinding.
const FIELD_MANAGER: &str = "aro-rp-controller";

/// The subscription namespace and the RoleBinding of the frontend's ServiceAccount
/// (`namespace/name`) in it, or `None` when `frontend` is empty; an error names a malformed one.
pub fn subscription_access(
    subscription_id: &str,
    frontend: &str,
) -> std::result::Result<Option<(Namespace, RoleBinding)>, String> {
    if frontend.is_empty() {
        return Ok(None);
    }
    let Some((sa_namespace, sa_name)) = frontend
        .split_once('/')
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty() && !name.contains('/'))
    else {
        return Err(format!(
            "the frontend's ServiceAccount {frontend:?} is not namespace/name"
        ));
    };
    let namespace = naming::subscription_namespace(subscription_id);
    let labels = BTreeMap::from([(
        "app.kubernetes.io/part-of".to_string(),
        "aro-rp".to_string(),
    )]);
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(namespace.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(FRONTEND_SUBSCRIPTION_ROLE.into()),
            namespace: Some(namespace),
            labels: Some(labels),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: FRONTEND_SUBSCRIPTION_ROLE.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa_name.into(),
            namespace: Some(sa_namespace.into()),
            ..Default::default()
        }]),
    };
    Ok(Some((ns, binding)))
}

/// Server-side apply the subscription's namespace and the frontend's RoleBinding in it.
async fn provide_frontend_access(ctx: &Context, subscription_id: &str) -> Result<()> {
    let Some((namespace, binding)) =
        subscription_access(subscription_id, &ctx.settings.frontend_service_account)
            .map_err(crate::Error::Config)?
    else {
        return Ok(());
    };
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let name = namespace.name_any();
    Api::<Namespace>::all(ctx.client.clone())
        .patch(&name, &params, &Patch::Apply(&namespace))
        .await?;
    Api::<RoleBinding>::namespaced(ctx.client.clone(), &name)
        .patch(FRONTEND_SUBSCRIPTION_ROLE, &params, &Patch::Apply(&binding))
        .await?;
    Ok(())
}

/// Reconcile one subscription.
pub async fn reconcile(sub: Arc<Subscription>, ctx: Arc<Context>) -> Result<Action> {
    if sub.spec.state != SubscriptionState::Deleted {
        provide_frontend_access(&ctx, &sub.name_any()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frontend_is_bound_in_the_subscription_namespace_only() {
        let (namespace, binding) = subscription_access(
            "00000000-0000-0000-0000-00000000000A",
            DEFAULT_FRONTEND_SERVICE_ACCOUNT,
        )
        .unwrap()
        .unwrap();
        let expected = naming::subscription_namespace("00000000-0000-0000-0000-00000000000a");
        assert_eq!(namespace.metadata.name.as_deref(), Some(expected.as_str()));
        assert_eq!(
            binding.metadata.namespace.as_deref(),
            Some(expected.as_str())
        );
        assert_eq!(binding.role_ref.kind, "ClusterRole");
        assert_eq!(binding.role_ref.name, FRONTEND_SUBSCRIPTION_ROLE);
        let subjects = binding.subjects.unwrap();
        assert_eq!(subjects.len(), 1);
        assert_eq!(subjects[0].kind, "ServiceAccount");
        assert_eq!(subjects[0].namespace.as_deref(), Some("aro-rp"));
        assert_eq!(subjects[0].name, "aro-rp-frontend");
    }

    #[test]
    fn no_binding_without_a_frontend_account_and_a_clear_error_for_a_bad_one() {
        assert!(subscription_access("s", "").unwrap().is_none());
        for bad in ["aro-rp", "/x", "x/", "a/b/c"] {
            let error = subscription_access("s", bad).unwrap_err();
            assert!(error.contains("namespace/name"), "{bad}: {error}");
        }
    }
}
