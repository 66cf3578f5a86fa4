//! What the runtimes whose clusters run elsewhere (`installer`, `hive`) share: an admin client
//! from the cluster's admin kubeconfig, a probe of its API server, and the ARO operator deployed
//! through that API as Deployments (no operator runs in this process).

use std::time::Duration;

use aro_operator::manifests::OperatorDeployValues;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;

use crate::{Error, Result};

/// How long an API probe waits for the cluster's API server to answer.
pub const API_PROBE_TIMEOUT: Duration = Duration::from_secs(30);

/// An admin client of a cluster from its admin kubeconfig (YAML).
pub async fn client_from_kubeconfig(kubeconfig_yaml: &str) -> Result<kube::Client> {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig_yaml)
        .map_err(|e| Error::Runtime(format!("admin kubeconfig: {e}")))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .map_err(|e| Error::Runtime(format!("admin kubeconfig: {e}")))?;
    kube::Client::try_from(config).map_err(|e| Error::Runtime(format!("admin client: {e}")))
}

/// Whether the cluster's API server answers within [`API_PROBE_TIMEOUT`].
pub async fn api_answers(client: &kube::Client) -> bool {
    let probe = tokio::time::timeout(API_PROBE_TIMEOUT, client.apiserver_version()).await;
    matches!(probe, Ok(Ok(_)))
}

/// Deploy (or refresh) the ARO operator into the cluster through its API.
pub async fn deploy_operator(client: &kube::Client, values: &OperatorDeployValues) -> Result<()> {
    aro_operator::manifests::deploy(client, values)
        .await
        .map_err(|e| Error::Runtime(e.to_string()))?;
    Ok(())
}

/// Whether the operator's Deployments rolled out and it reports on its Cluster object.
pub async fn operator_ready(client: &kube::Client) -> Result<bool> {
    let deployments: Api<Deployment> =
        Api::namespaced(client.clone(), aro_operator::OPERATOR_NAMESPACE);
    let Some(master) = deployments.get_opt("aro-operator-master").await? else {
        return Ok(false);
    };
    if !deployment_ready(&master) {
        return Ok(false);
    }
    if let Some(worker) = deployments.get_opt("aro-operator-worker").await?
        && !deployment_ready(&worker)
    {
        return Ok(false);
    }
    let clusters: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::erase::<crds::operator::Cluster>(&()),
    );
    let Some(object) = clusters.get_opt(crds::operator::SINGLETON_NAME).await? else {
        return Ok(false);
    };
    // The operator reports on its Cluster object once its controllers run.
    Ok(object.data["status"]["conditions"]
        .as_array()
        .is_some_and(|c| !c.is_empty()))
}

/// Whether a Deployment rolled out: every replica updated and available, its generation observed.
fn deployment_ready(deployment: &Deployment) -> bool {
    let (Some(spec), Some(status)) = (&deployment.spec, &deployment.status) else {
        return false;
    };
    let replicas = spec.replicas.unwrap_or(1);
    status.observed_generation >= deployment.metadata.generation
        && status.updated_replicas.unwrap_or(0) == replicas
        && status.available_replicas.unwrap_or(0) == replicas
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployments_are_ready_once_rolled_out() {
        let mut d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "aro-operator-master", "generation": 2},
            "spec": {"replicas": 1, "selector": {}, "template": {}},
            "status": {"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 1}
        }))
        .unwrap();
        assert!(deployment_ready(&d));
        d.metadata.generation = Some(3);
        assert!(!deployment_ready(&d));
        d.metadata.generation = Some(2);
        d.status.as_mut().unwrap().available_replicas = Some(0);
        assert!(!deployment_ready(&d));
        d.status = None;
        assert!(!deployment_ready(&d));
    }
}
