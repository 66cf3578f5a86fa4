//! The OpenShiftCluster lifecycle reconciler: one step of the cluster's current operation per
//! reconcile, progress written to status under a resourceVersion precondition, and the operation
//! ended through [`crate::transitions`] with its AsyncOperation record completed.
//!
//! Order of writes when an operation ends (crash-safe): the AsyncOperation record first, then the
//! cluster (status, or deletion). A crash in between re-runs the last (idempotent) step and writes
//! the same ending again; the record is never left incomplete once the cluster is terminal.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aro_common::kube_client::{is_conflict, is_not_found};
use aro_common::merge_patch;
use chrono::Utc;
use crds::management::{
    AsyncOperation, AsyncOperationStatus, OpenShiftCluster, OpenShiftClusterStatus,
    ProvisioningState, protocol, provisioning,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::actions::{self, StepEnv};
use crate::context::Context;
use crate::steps::{self, Decision, Plan};
use crate::transitions::{self, Ending};
use crate::{Error, Result, plans};

/// The plan that drives a cluster in a non-terminal state; `rp_builds_network` is the cluster
/// runtime's [`crate::cluster_runtime::ClusterRuntime::rp_builds_network`].
pub fn plan_for(
    cluster: &OpenShiftCluster,
    state: ProvisioningState,
    rp_builds_network: bool,
) -> Option<Plan> {
    match state {
        ProvisioningState::Creating => Some(plans::install(rp_builds_network)),
        ProvisioningState::Updating => Some(plans::update(rp_builds_network)),
        ProvisioningState::AdminUpdating => Some(plans::admin_update(
            cluster.spec.effective_maintenance_task(),
            rp_builds_network,
        )),
        ProvisioningState::Deleting => Some(plans::delete()),
        _ => None,
    }
}

/// Reconcile one cluster.
pub async fn reconcile(cluster: Arc<OpenShiftCluster>, ctx: Arc<Context>) -> Result<Action> {
    let ns = cluster.namespace().unwrap_or_default();
    let name = cluster.name_any();
    if cluster.meta().deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    let status = cluster.status.clone().unwrap_or_default();

    // A frontend transition whose status write has not landed yet: wait for it, and finish it
    // ourselves if the frontend died between its two writes.
    if let Some(op) = protocol::pending_operation(&cluster) {
        if status.async_operation_id.as_deref() != Some(op) {
            return wait_for_claim(&ctx, &cluster, op).await;
        }
        // Its status is written and only the release failed: release it before any work, so the
        // operation never ends (clearing asyncOperationId) under a claim that would restart it.
        release_claim(&ctx, &cluster, op).await?;
        return Ok(Action::requeue(Duration::ZERO));
    }

    let Some(state) = status.provisioning_state else {
        return Ok(Action::await_change());
    };
    let Some(plan) = plan_for(&cluster, state, ctx.runtime.rp_builds_network()) else {
        resume_terminal(&ctx, &cluster, &status).await;
        return Ok(Action::await_change());
    };

    let now = Utc::now();
    let progress = match &status.progress {
        Some(p) if p.operation == plan.operation && plan.current(p).is_ok() => p.clone(),
        _ => steps::start(&plan, now),
    };
    let step = plan.current(&progress)?.clone();
    let mut next = status.clone();
    let started = Instant::now();
    let outcome = {
        let mut env = StepEnv {
            ctx: &ctx,
            cluster: &cluster,
            status: &mut next,
            pending: progress.pending_operation_url.as_deref(),
        };
        actions::run(step.id, &mut env).await
    };
    let outcome_label = match &outcome {
        steps::Outcome::Done => "done",
        steps::Outcome::InProgress { .. } => "in_progress",
        steps::Outcome::Retryable { .. } => "retryable",
        steps::Outcome::Failed(_) => "failed",
    };
    ctx.metrics
        .steps
        .get_or_create(&vec![
            ("operation".into(), plan.operation.into()),
            ("step".into(), step.id.as_str().into()),
            ("outcome".into(), outcome_label.into()),
        ])
        .inc();
    ctx.metrics
        .step_seconds
        .get_or_create(&vec![("step".into(), step.id.as_str().into())])
        .observe(started.elapsed().as_secs_f64());
    tracing::debug!(
        namespace = ns,
        name,
        step = step.id.as_str(),
        outcome = outcome_label,
        "step ran"
    );
    if let steps::Outcome::Retryable { error, .. } = &outcome {
        tracing::warn!(namespace = ns, name, step = step.id.as_str(), code = %error.code, message = %error.message, "step failed; retrying");
    }

    let (progress, decision) =
        steps::record(&plan, &progress, outcome, Utc::now(), &ctx.settings.retry)?;
    next.progress = Some(progress);
    match decision {
        Decision::RunNow => {
            write_status(&ctx, &cluster, next, Action::requeue(Duration::ZERO)).await
        }
        Decision::RequeueAfter(after) => {
            let after = after.min(ctx.settings.max_poll_interval);
            write_status(&ctx, &cluster, next, Action::requeue(after)).await
        }
        Decision::Completed => {
            finish(
                &ctx,
                &cluster,
                plan.operation,
                transitions::succeed(&next, Utc::now()),
            )
            .await
        }
        Decision::Failed(error) => {
            let operation_id = status.async_operation_id.as_deref().unwrap_or_default();
            if error.is_internal() {
                // The customer sees only the generic error: the details are here and in
                // status.internalError.
                tracing::error!(namespace = ns, name, operation_id, step = step.id.as_str(), code = %error.code, message = %error.message, "operation failed with an internal error");
            } else {
                tracing::info!(namespace = ns, name, operation_id, step = step.id.as_str(), code = %error.code, "operation failed");
            }
            finish(
                &ctx,
                &cluster,
                plan.operation,
                transitions::fail(&next, error, Utc::now()),
            )
            .await
        }
    }
}

/// Write the status if it changed, under the resourceVersion the reconcile read.
async fn write_status(
    ctx: &Context,
    cluster: &OpenShiftCluster,
    status: OpenShiftClusterStatus,
    then: Action,
) -> Result<Action> {
    if cluster.status.as_ref() == Some(&status) {
        return Ok(then);
    }
    let api: Api<OpenShiftCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let mut updated = cluster.clone();
    updated.status = Some(status);
    // Only the changed status fields, under the read resourceVersion (docs/decisions/0002).
    match merge_patch::write(&api, cluster, &updated, merge_patch::Part::Status).await {
        Ok(_) => Ok(then),
        // Someone else wrote first (the frontend, or another replica): read again and redo.
        Err(e) if is_conflict(&e) || is_not_found(&e) => Ok(Action::requeue(Duration::ZERO)),
        Err(e) => Err(e.into()),
    }
}

/// End the current operation: complete its record, then write the cluster (or delete it).
async fn finish(
    ctx: &Context,
    cluster: &OpenShiftCluster,
    operation: &str,
    ending: Ending,
) -> Result<Action> {
    let ns = cluster.namespace().unwrap_or_default();
    let name = cluster.name_any();
    let operation_id = cluster
        .status
        .as_ref()
        .and_then(|s| s.async_operation_id.clone());
    if let Some(id) = &operation_id {
        complete_operation(ctx, &ns, id, &ending.operation).await?;
    }
    let result = match ending.operation.status {
        Some(ProvisioningState::Succeeded) => "succeeded",
        _ => "failed",
    };
    ctx.metrics
        .operations
        .get_or_create(&vec![
            ("operation".into(), operation.into()),
            ("result".into(), result.into()),
        ])
        .inc();
    let api: Api<OpenShiftCluster> = Api::namespaced(ctx.client.clone(), &ns);
    if ending.delete_cluster {
        // The Secrets are owned by the cluster; remove them now rather than waiting for GC.
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
        for secret in [
            actions::credentials_secret_name(&name),
            actions::customer_secret_name(&name),
        ] {
            match secrets.delete(&secret, &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: cluster.uid(),
                resource_version: cluster.resource_version(),
            }),
            ..Default::default()
        };
        return match api.delete(&name, &params).await {
            Ok(_) => {
                tracing::info!(namespace = ns, name, "cluster deleted");
                Ok(Action::await_change())
            }
            Err(e) if is_not_found(&e) => Ok(Action::await_change()),
            Err(e) if is_conflict(&e) => Ok(Action::requeue(Duration::ZERO)),
            Err(e) => Err(e.into()),
        };
    }
    tracing::info!(
        namespace = ns,
        name,
        operation,
        state = ?ending.status.provisioning_state,
        "operation ended"
    );
    let action = write_status(ctx, cluster, ending.status, Action::await_change()).await?;
    if ending.clear_maintenance_task && cluster.spec.maintenance_task.is_some() {
        let patch = json!({"spec": {"maintenanceTask": null}});
        match api
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => {}
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(action)
}

/// Write the outcome into an AsyncOperation record (idempotent; a missing record is only logged:
/// it may have been garbage-collected).
pub async fn complete_operation(
    ctx: &Context,
    namespace: &str,
    id: &str,
    outcome: &AsyncOperationStatus,
) -> Result<()> {
    let api: Api<AsyncOperation> = Api::namespaced(ctx.client.clone(), namespace);
    let patch = json!({ "status": outcome });
    match api
        .patch_status(id, &PatchParams::default(), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => {
            tracing::warn!(
                namespace,
                id,
                "operation record not found; cannot complete it"
            );
            Ok(())
        }
        Err(e) => Err(Error::Kube(e)),
    }
}

/// A frontend claim (annotations without the matching status) is normally released within
/// milliseconds. One older than `claim_grace` belongs to a frontend that died between its two
/// writes: complete it as the frontend would have (the status of
/// [`provisioning::claimed_status`], claim removed).
async fn wait_for_claim(ctx: &Context, cluster: &OpenShiftCluster, op: &str) -> Result<Action> {
    let key = (
        format!(
            "{}/{}",
            cluster.namespace().unwrap_or_default(),
            cluster.name_any()
        ),
        op.to_string(),
    );
    let first_seen = {
        let mut claims = ctx.claims.lock().unwrap_or_else(|p| p.into_inner());
        *claims.entry(key.clone()).or_insert_with(Instant::now)
    };
    if first_seen.elapsed() < ctx.settings.claim_grace {
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    let Some(state) = protocol::pending_state(cluster) else {
        return Ok(Action::requeue(ctx.settings.claim_grace));
    };
    tracing::warn!(name = %key.0, op, "completing a stale frontend claim");
    let api: Api<OpenShiftCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    // The secrets the claim staged land before the status names the operation (the first step
    // reads them).
    crds::management::claim::promote_staged_secrets(
        &ctx.client,
        cluster,
        &actions::customer_secret_name(&cluster.name_any()),
        op,
    )
    .await?;
    let mut updated = cluster.clone();
    updated.status = Some(provisioning::claimed_status(
        &cluster.status.clone().unwrap_or_default(),
        state,
        op,
        Utc::now(),
        &ctx.settings.rp_version,
    ));
    match merge_patch::write(&api, cluster, &updated, merge_patch::Part::Status).await {
        Ok(_) => {}
        Err(e) if is_conflict(&e) || is_not_found(&e) => {
            return Ok(Action::requeue(Duration::ZERO));
        }
        Err(e) => return Err(e.into()),
    }
    if let Err(error) = release_claim(ctx, cluster, op).await {
        // The next reconcile releases it before any work.
        tracing::warn!(%error, "could not release a stale claim");
    }
    ctx.claims
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&key);
    Ok(Action::requeue(Duration::ZERO))
}

/// Remove a frontend claim whose status is written, if it still names `op` (a JSON patch guarded
/// by a `test` op; a failed test means it is gone already).
async fn release_claim(ctx: &Context, cluster: &OpenShiftCluster, op: &str) -> Result<()> {
    let api: Api<OpenShiftCluster> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let patch: json_patch::Patch = serde_json::from_value(protocol::release_claim_patch(op))?;
    match api
        .patch(
            &cluster.name_any(),
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if (400..500).contains(&e.code) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// A terminal cluster this process has not seen yet: restart its runtime (a durable local cluster
/// after a restart) and keep the admin kubeconfig in step with where it now listens.
async fn resume_terminal(
    ctx: &Context,
    cluster: &OpenShiftCluster,
    status: &OpenShiftClusterStatus,
) {
    let (Some(infra_id), Some(credentials)) = (&status.infra_id, &status.credentials_ref) else {
        return;
    };
    let access = match ctx.runtime.resume(infra_id).await {
        Ok(Some(access)) => access,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, infra_id, "could not resume the cluster runtime");
            return;
        }
    };
    let api: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &cluster.namespace().unwrap_or_default());
    let Ok(Some(secret)) = api.get_opt(&credentials.name).await else {
        return;
    };
    let current = secret
        .data
        .as_ref()
        .and_then(|d| d.get(actions::ADMIN_KUBECONFIG_KEY))
        .map(|v| v.0.clone());
    if current.is_none() || current.as_deref() == Some(access.admin_kubeconfig.expose().as_bytes())
    {
        return;
    }
    let patch =
        json!({"stringData": {actions::ADMIN_KUBECONFIG_KEY: access.admin_kubeconfig.expose()}});
    if let Err(error) = api
        .patch(
            &credentials.name,
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
    {
        tracing::warn!(%error, "could not refresh the admin kubeconfig");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::management::{MaintenanceTask, OpenShiftClusterSpec};

    #[test]
    fn each_non_terminal_state_has_its_plan() {
        let mut c = OpenShiftCluster::new("c", OpenShiftClusterSpec::default());
        assert_eq!(
            plan_for(&c, ProvisioningState::Creating, true)
                .unwrap()
                .operation,
            "Install"
        );
        assert_eq!(
            plan_for(&c, ProvisioningState::Updating, true)
                .unwrap()
                .operation,
            "Update"
        );
        assert_eq!(
            plan_for(&c, ProvisioningState::Deleting, true)
                .unwrap()
                .operation,
            "Delete"
        );
        c.spec.maintenance_task = Some(MaintenanceTask::CertificatesRenewal);
        let admin = plan_for(&c, ProvisioningState::AdminUpdating, true).unwrap();
        assert_eq!(admin.steps.len(), 1);
        assert!(plan_for(&c, ProvisioningState::Succeeded, true).is_none());
        assert!(plan_for(&c, ProvisioningState::Failed, false).is_none());
        // The runtime decides whether the RP builds the network.
        let installer = plan_for(&c, ProvisioningState::Creating, false).unwrap();
        assert!(
            !installer
                .steps
                .iter()
                .any(|s| s.id == crate::steps::StepId::EnsureLoadBalancers)
        );
    }
}
