//! The cloud-credential-operator of a local cluster, in passthrough mode (what an ARO cluster's
//! CCO does with its service principal): every CredentialsRequest in
//! `openshift-cloud-credential-operator` gets its Secret (`spec.secretRef`) with the keys of the
//! root credential `kube-system/azure-credentials`, and its status records the sync
//! (`provisioned`, `lastSyncTimestamp`, `lastSyncCloudCredsSecretResourceVersion`). Like the real
//! operator it syncs when the root credential or a CredentialsRequest changes and when its pod is
//! restarted (deleted; its Deployment would start a new one, so it is recreated here).
//!
//! The RP's credential rotation relies on this behaviour (apply the root Secret, restart the CCO,
//! wait for the ARO operator's CredentialsRequest to be synced); a local cluster has no kubelet to
//! run the real operator, so the local runtime runs this next to the cluster's in-process ARO
//! operator.

use std::collections::BTreeMap;

use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::seed::{
    AZURE_CREDENTIALS_NAMESPACE, AZURE_CREDENTIALS_SECRET, CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
    CLOUD_CREDENTIAL_OPERATOR_SELECTOR,
};

/// The field manager of what this operator writes (the real operator's name).
const FIELD_MANAGER: &str = "cloud-credential-operator";
/// The pod recreated after a restart.
const POD_NAME: &str = "cloud-credential-operator-0";

fn credentials_requests() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("cloudcredential.openshift.io", "v1", "CredentialsRequest"),
        "credentialsrequests",
    )
}

/// Sync on every change of what the operator watches, until `stop`.
pub async fn run(client: kube::Client, stop: CancellationToken) {
    let requests: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
        &credentials_requests(),
    );
    let secrets: Api<Secret> = Api::namespaced(client.clone(), AZURE_CREDENTIALS_NAMESPACE);
    let pods: Api<Pod> = Api::namespaced(client.clone(), CLOUD_CREDENTIAL_OPERATOR_NAMESPACE);
    let changes = futures::stream::select_all([
        watcher(requests, watcher::Config::default())
            .default_backoff()
            .map(|_| ())
            .boxed(),
        watcher(
            secrets,
            watcher::Config::default().fields(&format!("metadata.name={AZURE_CREDENTIALS_SECRET}")),
        )
        .default_backoff()
        .map(|_| ())
        .boxed(),
        watcher(
            pods,
            watcher::Config::default().labels(CLOUD_CREDENTIAL_OPERATOR_SELECTOR),
        )
        .default_backoff()
        .map(|_| ())
        .boxed(),
    ]);
    futures::pin_mut!(changes);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            next = changes.next() => if next.is_none() { return },
        }
        // One sync for a burst of events.
        while let Some(Some(())) = changes.next().now_or_never() {}
        if let Err(error) = sync(&client).await {
            tracing::debug!(%error, "local cloud-credential-operator: sync failed");
        }
    }
}

/// What a CredentialsRequest needs written, given the root credential's version. Pure.
pub fn needs_sync(request: &Value, root_version: &str) -> bool {
    request["status"]["lastSyncCloudCredsSecretResourceVersion"].as_str() != Some(root_version)
        || request["status"]["provisioned"] != json!(true)
}

async fn sync(client: &kube::Client) -> Result<(), kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), CLOUD_CREDENTIAL_OPERATOR_NAMESPACE);
    let restarted = pods
        .list(&ListParams::default().labels(CLOUD_CREDENTIAL_OPERATOR_SELECTOR))
        .await?
        .items
        .is_empty();
    if restarted {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": POD_NAME, "labels": {"app": "cloud-credential-operator"}},
            "spec": {"containers": [{"name": "cloud-credential-operator", "image": "cloud-credential-operator"}]}
        }))
        .map_err(kube::Error::SerdeError)?;
        match pods.create(&PostParams::default(), &pod).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), AZURE_CREDENTIALS_NAMESPACE);
    let Some(root) = secrets.get_opt(AZURE_CREDENTIALS_SECRET).await? else {
        return Ok(());
    };
    let root_version = root.metadata.resource_version.clone().unwrap_or_default();
    let data: BTreeMap<String, Value> = root
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, serde_json::to_value(v).unwrap_or_default()))
        .collect();
    let requests: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
        &credentials_requests(),
    );
    for request in requests.list(&ListParams::default()).await?.items {
        let value = serde_json::to_value(&request).map_err(kube::Error::SerdeError)?;
        if !restarted && !needs_sync(&value, &root_version) {
            continue;
        }
        let (Some(name), Some(namespace)) = (
            value["spec"]["secretRef"]["name"].as_str(),
            value["spec"]["secretRef"]["namespace"].as_str(),
        ) else {
            continue;
        };
        let target: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace,
                         "annotations": {"cloudcredential.openshift.io/credentials-request":
                             format!("{CLOUD_CREDENTIAL_OPERATOR_NAMESPACE}/{}", request.metadata.name.clone().unwrap_or_default())}},
            "data": data,
        });
        if let Err(error) = target
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(secret),
            )
            .await
        {
            // The real operator reports a missing target namespace on the request and retries.
            tracing::debug!(%error, namespace, name, "local cloud-credential-operator: target Secret");
            continue;
        }
        requests
            .patch_status(
                &request.metadata.name.clone().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {
                    "provisioned": true,
                    "lastSyncTimestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "lastSyncCloudCredsSecretResourceVersion": root_version,
                    "lastSyncGeneration": request.metadata.generation.unwrap_or(0),
                }})),
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_needs_a_sync_until_it_saw_this_root_version() {
        assert!(needs_sync(&json!({}), "5"));
        assert!(needs_sync(
            &json!({"status": {"provisioned": true, "lastSyncCloudCredsSecretResourceVersion": "4"}}),
            "5"
        ));
        assert!(needs_sync(
            &json!({"status": {"provisioned": false, "lastSyncCloudCredsSecretResourceVersion": "5"}}),
            "5"
        ));
        assert!(!needs_sync(
            &json!({"status": {"provisioned": true, "lastSyncCloudCredsSecretResourceVersion": "5"}}),
            "5"
        ));
    }
}
