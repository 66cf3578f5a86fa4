//! A test double of Hive (and of the cluster it installs), for the e2e run of the RP's `hive`
//! cluster runtime. It speaks Hive's real interface on the management cluster: it watches
//! `ClusterDeployment`s (`hive.openshift.io/v1`), reads what a ClusterDeployment points at (the
//! install-config Secret, the pull secret, the Azure credentials Secret, the ClusterImageSet, the
//! extra manifests), "installs" the cluster, then writes what Hive writes: the admin kubeconfig and
//! admin password Secrets, `spec.clusterMetadata`, `spec.installed`, the status conditions, and the
//! deprovision finalizer it removes when the ClusterDeployment is deleted.
//!
//! The installed cluster is a local cluster ([`LocalRuntime`]: a devcluster seeded with what a
//! fresh OpenShift cluster exposes, its cloud-credential-operator running), built from the
//! install-config as openshift-install would read it. The double also plays the cluster's kubelet
//! for the ARO operator: once the RP deployed the operator through the cluster's API, the operator
//! runs in-process and its Deployments report rolled out.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use rp_controller::cluster_runtime::{
    ClusterRuntime, LocalRuntime, SeedInput, ServicePrincipalCredentials,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The finalizer Hive puts on a ClusterDeployment until its deprovision is done.
pub const DEPROVISION_FINALIZER: &str = "hive.openshift.io/deprovision";
/// What the double writes with.
const FIELD_MANAGER: &str = "hive";

fn resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("hive.openshift.io", "v1", kind),
        plural,
    )
}

/// `hive.openshift.io/v1` ClusterDeployments.
pub fn cluster_deployments() -> ApiResource {
    resource("ClusterDeployment", "clusterdeployments")
}

/// `hive.openshift.io/v1` ClusterImageSets (cluster-scoped).
pub fn cluster_image_sets() -> ApiResource {
    resource("ClusterImageSet", "clusterimagesets")
}

/// A running double.
pub struct FakeHive {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    management: kube::Client,
    clusters: Arc<LocalRuntime>,
    releases: BTreeMap<String, String>,
    /// Kubelet tasks of installed clusters, by infra id.
    kubelets: tokio::sync::Mutex<BTreeMap<String, CancellationToken>>,
    stop: CancellationToken,
}

impl FakeHive {
    /// Reconcile every ClusterDeployment of `management`, installing clusters into `clusters`;
    /// `releases` maps release image pull specs to the versions they install.
    pub fn start(
        management: kube::Client,
        clusters: Arc<LocalRuntime>,
        releases: BTreeMap<String, String>,
    ) -> Self {
        let stop = CancellationToken::new();
        let state = Arc::new(State {
            management,
            clusters,
            releases,
            kubelets: Default::default(),
            stop: stop.clone(),
        });
        let task = tokio::spawn(run(state));
        Self { stop, task }
    }

    /// Stop reconciling and stop the installed clusters.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn run(state: Arc<State>) {
    let api: Api<DynamicObject> = Api::all_with(state.management.clone(), &cluster_deployments());
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .applied_objects();
    futures::pin_mut!(events);
    loop {
        let next = tokio::select! {
            _ = state.stop.cancelled() => break,
            next = events.next() => next,
        };
        let Some(event) = next else { break };
        let Ok(cd) = event else { continue };
        if let Err(error) = reconcile(&state, &cd).await {
            tracing::warn!(%error, name = ?cd.metadata.name, namespace = ?cd.metadata.namespace, "fake hive: reconcile failed");
        }
    }
    state.clusters.shutdown().await;
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

async fn reconcile(state: &State, cd: &DynamicObject) -> Result<(), Failure> {
    let namespace = cd.metadata.namespace.clone().unwrap_or_default();
    let name = cd.metadata.name.clone().unwrap_or_default();
    let api: Api<DynamicObject> =
        Api::namespaced_with(state.management.clone(), &namespace, &cluster_deployments());
    let finalizers = cd.metadata.finalizers.clone().unwrap_or_default();
    if cd.metadata.deletion_timestamp.is_some() {
        // Deprovision: with preserveOnDelete the cloud resources stay (the RP deletes the
        // resource group); the cluster is gone either way here.
        if let Some(infra_id) = cd.data["spec"]["clusterMetadata"]["infraID"].as_str() {
            if let Some(kubelet) = state.kubelets.lock().await.remove(infra_id) {
                kubelet.cancel();
            }
            state.clusters.delete(infra_id).await?;
        }
        if finalizers.iter().any(|f| f == DEPROVISION_FINALIZER) {
            let remaining: Vec<&String> = finalizers
                .iter()
                .filter(|f| *f != DEPROVISION_FINALIZER)
                .collect();
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {
                    "finalizers": remaining,
                    "resourceVersion": cd.metadata.resource_version,
                }})),
            )
            .await?;
        }
        return Ok(());
    }
    if !finalizers.iter().any(|f| f == DEPROVISION_FINALIZER) {
        let mut with = finalizers.clone();
        with.push(DEPROVISION_FINALIZER.to_string());
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {
                "finalizers": with,
                "resourceVersion": cd.metadata.resource_version,
            }})),
        )
        .await?;
        // The update comes back as an event.
        return Ok(());
    }
    if cd.data["spec"]["installed"] == json!(true) {
        let infra_id = cd.data["spec"]["clusterMetadata"]["infraID"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // After a restart of the double the cluster is started again.
        if state.clusters.resume(&infra_id).await?.is_some() {
            start_kubelet(state, &infra_id).await;
        }
        return Ok(());
    }
    provision(state, &api, cd, &namespace, &name).await
}

/// Read the install's inputs the way Hive hands them to openshift-install, install, and report.
async fn provision(
    state: &State,
    api: &Api<DynamicObject>,
    cd: &DynamicObject,
    namespace: &str,
    name: &str,
) -> Result<(), Failure> {
    let spec = &cd.data["spec"];
    let secrets: Api<Secret> = Api::namespaced(state.management.clone(), namespace);
    let secret_key = |secret: Option<Secret>, key: &str| -> Result<String, Failure> {
        let secret = secret.ok_or_else(|| format!("a Secret of {namespace}/{name} is missing"))?;
        let bytes = secret
            .data
            .and_then(|d| d.get(key).cloned())
            .ok_or_else(|| format!("Secret {:?} has no {key}", secret.metadata.name))?;
        Ok(String::from_utf8(bytes.0)?)
    };
    let install_config_ref = spec["provisioning"]["installConfigSecretRef"]["name"]
        .as_str()
        .ok_or("no provisioning.installConfigSecretRef")?;
    let install_config: Value = serde_yaml::from_str(&secret_key(
        secrets.get_opt(install_config_ref).await?,
        "install-config.yaml",
    )?)?;
    let pull_secret_ref = spec["pullSecretRef"]["name"]
        .as_str()
        .ok_or("no pullSecretRef")?;
    let pull_secret = secret_key(secrets.get_opt(pull_secret_ref).await?, ".dockerconfigjson")?;
    let credentials_ref = spec["platform"]["azure"]["credentialsSecretRef"]["name"]
        .as_str()
        .ok_or("no platform.azure.credentialsSecretRef")?;
    let credentials: Value = serde_json::from_str(&secret_key(
        secrets.get_opt(credentials_ref).await?,
        "osServicePrincipal.json",
    )?)?;
    let image_set = spec["provisioning"]["imageSetRef"]["name"]
        .as_str()
        .ok_or("no provisioning.imageSetRef")?;
    let image_sets: Api<DynamicObject> =
        Api::all_with(state.management.clone(), &cluster_image_sets());
    let release = image_sets.get(image_set).await?.data["spec"]["releaseImage"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let version = state
        .releases
        .get(&release)
        .ok_or_else(|| format!("unknown release image {release:?}"))?
        .clone();

    let cluster_name = install_config["metadata"]["name"].as_str().unwrap_or(name);
    // Derived from the ClusterDeployment's uid, so a second reconcile that starts before the
    // first one's `spec.installed` is visible installs the same cluster again (idempotent, with
    // the same password) instead of a new one, as Hive keeps one infraID per ClusterDeployment.
    let uid = cd.metadata.uid.clone().unwrap_or_default().replace('-', "");
    let suffix: String = uid.chars().take(5).collect();
    let infra_id = format!("{cluster_name}-{suffix}");
    let seed = seed_input(
        &install_config,
        &credentials,
        &infra_id,
        &version,
        pull_secret,
    );
    if let Some(manifests) = spec["provisioning"]["manifestsSecretRef"]["name"].as_str() {
        let manifests = secrets.get(manifests).await?;
        state
            .clusters
            .trust_client_cas(&infra_id, client_cas(&manifests)?);
    }
    let access = state.clusters.ensure_cluster(&infra_id, &seed).await?;

    let kubeconfig_secret = format!("{name}-admin-kubeconfig");
    let password_secret = format!("{name}-admin-password");
    let kubeconfig = access.admin_kubeconfig.expose_str().to_string();
    let password = access
        .kubeadmin_password
        .map(|p| p.expose_str().to_string())
        .unwrap_or_default();
    for (secret, data) in [
        (
            &kubeconfig_secret,
            json!({"kubeconfig": kubeconfig, "raw-kubeconfig": kubeconfig}),
        ),
        (
            &password_secret,
            json!({"username": "kubeadmin", "password": password}),
        ),
    ] {
        secrets
            .patch(
                secret,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": secret, "namespace": namespace},
                    "stringData": data,
                })),
            )
            .await?;
    }
    let now = "2026-01-01T00:00:00Z";
    let condition = |type_: &str, status: &str, reason: &str| {
        json!({"type": type_, "status": status, "reason": reason, "message": reason,
               "lastTransitionTime": now, "lastProbeTime": now})
    };
    let domain = format!(
        "{}.{}",
        cluster_name,
        install_config["baseDomain"].as_str().unwrap_or_default()
    );
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {
            "apiURL": access.api_url,
            "webConsoleURL": format!("https://console-openshift-console.apps.{domain}"),
            "installedTimestamp": now,
            "installRestarts": 0,
            "conditions": [
                condition("Provisioned", "True", "ProvisionedSuccessfully"),
                condition("ProvisionFailed", "False", "NoFailures"),
                condition("ProvisionStopped", "False", "NotStopped"),
                condition("ControlPlaneCertificateNotFound", "False", "CertificatesFound"),
                condition("Unreachable", "False", "ClusterReachable"),
            ],
        }})),
    )
    .await?;
    api.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {
            "installed": true,
            "clusterMetadata": {
                "clusterID": uuid::Uuid::new_v4().to_string(),
                "infraID": infra_id,
                "adminKubeconfigSecretRef": {"name": kubeconfig_secret},
                "adminPasswordSecretRef": {"name": password_secret},
            },
        }})),
    )
    .await?;
    start_kubelet(state, &infra_id).await;
    Ok(())
}

/// The client CAs install manifests make the API server trust, as OpenShift reads them: the
/// `APIServer` `cluster`'s `spec.clientCA.name` names a ConfigMap of `openshift-config` whose
/// `ca-bundle.crt` holds them.
fn client_cas(manifests: &Secret) -> Result<Vec<String>, Failure> {
    let mut objects = Vec::new();
    for bytes in manifests.data.iter().flat_map(|d| d.values()) {
        let text = String::from_utf8(bytes.0.clone())?;
        for document in serde_yaml::Deserializer::from_str(&text) {
            let value: Value = serde::Deserialize::deserialize(document)?;
            objects.push(value);
        }
    }
    let named = objects
        .iter()
        .filter(|o| o["kind"] == "APIServer" && o["metadata"]["name"] == "cluster")
        .filter_map(|o| o["spec"]["clientCA"]["name"].as_str());
    let mut pems = Vec::new();
    for name in named {
        let bundle = objects.iter().find(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["namespace"] == "openshift-config"
                && o["metadata"]["name"] == name
        });
        if let Some(pem) = bundle.and_then(|c| c["data"]["ca-bundle.crt"].as_str()) {
            pems.push(pem.to_string());
        }
    }
    Ok(pems)
}

/// What openshift-install would build from the install-config (and the credentials file it
/// reads), as the local runtime's seed.
fn seed_input(
    install_config: &Value,
    credentials: &Value,
    infra_id: &str,
    version: &str,
    pull_secret: String,
) -> SeedInput {
    let azure = &install_config["platform"]["azure"];
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let compute = &install_config["compute"][0];
    let cluster_name = text(&install_config["metadata"]["name"]);
    SeedInput {
        infra_id: infra_id.to_string(),
        version: version.to_string(),
        location: text(&azure["region"]),
        domain: format!("{cluster_name}.{}", text(&install_config["baseDomain"])),
        subscription_id: text(&credentials["subscriptionId"]),
        cluster_resource_group: text(&azure["resourceGroupName"]),
        vnet_resource_group: text(&azure["networkResourceGroupName"]),
        vnet: text(&azure["virtualNetwork"]),
        master_subnet: text(&azure["controlPlaneSubnet"]),
        worker_subnet: text(&azure["computeSubnet"]),
        master_vm_size: text(&install_config["controlPlane"]["platform"]["azure"]["type"]),
        worker_vm_size: text(&compute["platform"]["azure"]["type"]),
        worker_count: compute["replicas"].as_u64().unwrap_or(3) as u32,
        worker_disk_size_gb: compute["platform"]["azure"]["osDisk"]["diskSizeGB"]
            .as_i64()
            .unwrap_or(128) as i32,
        pull_secret: pull_secret.into(),
        release_pullspec: String::new(),
        installer_pullspec: String::new(),
        service_principal: Some(ServicePrincipalCredentials {
            tenant_id: text(&credentials["tenantId"]),
            client_id: text(&credentials["clientId"]),
            client_secret: text(&credentials["clientSecret"]).into(),
        }),
        pod_cidr: text(&install_config["networking"]["clusterNetwork"][0]["cidr"]),
        service_cidr: text(&install_config["networking"]["serviceNetwork"][0]),
        network_type: text(&install_config["networking"]["networkType"]),
        fips: install_config["fips"] == json!(true),
        ..Default::default()
    }
}

/// The cluster's kubelet and deployment controller, for the ARO operator only: once its
/// Deployments exist, run the operator in-process and report them rolled out.
async fn start_kubelet(state: &State, infra_id: &str) {
    let mut kubelets = state.kubelets.lock().await;
    if kubelets.get(infra_id).is_some_and(|t| !t.is_cancelled()) {
        return;
    }
    let Ok(Some(client)) = state.clusters.client(infra_id).await else {
        return;
    };
    let token = state.stop.child_token();
    kubelets.insert(infra_id.to_string(), token.clone());
    let clusters = state.clusters.clone();
    let infra_id = infra_id.to_string();
    tokio::spawn(async move {
        let deployments: Api<Deployment> =
            Api::namespaced(client, aro_operator::OPERATOR_NAMESPACE);
        let events = watcher(deployments.clone(), watcher::Config::default())
            .default_backoff()
            .applied_objects();
        futures::pin_mut!(events);
        loop {
            let next = tokio::select! {
                _ = token.cancelled() => return,
                next = events.next() => next,
            };
            let Some(Ok(deployment)) = next else {
                if next.is_none() {
                    return;
                }
                continue;
            };
            if let Err(error) = clusters.run_operator(&infra_id).await {
                tracing::warn!(%error, infra_id, "fake hive: the operator does not run");
                continue;
            }
            let replicas = deployment
                .spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1);
            let generation = deployment.metadata.generation.unwrap_or(1);
            let rolled_out = deployment.status.as_ref().is_some_and(|s| {
                s.observed_generation == Some(generation)
                    && s.available_replicas == Some(replicas)
                    && s.updated_replicas == Some(replicas)
            });
            if rolled_out {
                continue;
            }
            let name = deployment.metadata.name.clone().unwrap_or_default();
            let _ = deployments
                .patch_status(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {
                        "observedGeneration": generation,
                        "replicas": replicas,
                        "updatedReplicas": replicas,
                        "readyReplicas": replicas,
                        "availableReplicas": replicas,
                    }})),
                )
                .await;
        }
    });
}
