//! The `local` cluster runtime: each cluster is a devcluster of its own (an embedded
//! Kubernetes-API-compatible server), seeded with what a freshly installed OpenShift cluster exposes,
//! with the ARO operator running in-process against it (there is no kubelet to run its Deployment).
//!
//! One server per cluster rather than one shared server with a namespace per cluster: OpenShift's
//! objects are mostly cluster-scoped (ClusterVersion, Nodes, MachineConfigPools, the operator's
//! `Cluster`), so clusters cannot share one API without rewriting what the operator reads. A
//! devcluster costs a listener, an in-memory or redb store and a few tasks; the controller and the
//! operator reach it in-process (no connection each); see docs/benchmarks.md.
//!
//! With a data dir, each cluster lives in `<data dir>/<infra id>` (database, PKI, the port it
//! listened on), so a restarted controller resumes the cluster at the same URL, and the admin
//! kubeconfig handed to the customer keeps working.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use aro_operator::manifests::OperatorDeployValues;
use aro_operator::subnets::SubnetsApi;
use async_trait::async_trait;
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::seed::{SeedInput, seed_objects};
use super::{ClusterAccess, ClusterRuntime};
use crate::{Error, Result};

/// A running local cluster.
struct LocalCluster {
    devcluster: Devcluster,
    client: kube::Client,
    operator: Option<CancellationToken>,
    /// The cluster's cloud-credential-operator ([`super::local_cco`]), once seeded.
    cloud_credential_operator: Option<CancellationToken>,
    /// The cluster's kubeadmin password, made when the cluster was first started (as the
    /// installer makes one) and kept with a durable cluster.
    kubeadmin_password: aro_common::Secret,
}

impl LocalCluster {
    fn access(&self) -> ClusterAccess {
        ClusterAccess {
            api_url: self.devcluster.url.clone(),
            admin_kubeconfig: self.devcluster.kubeconfig_yaml().into(),
            kubeadmin_password: Some(self.kubeadmin_password.clone()),
        }
    }
}

/// Where a durable local cluster keeps its kubeadmin password (owner-only).
const KUBEADMIN_PASSWORD_FILE: &str = "kubeadmin-password";

type Slot = Arc<tokio::sync::Mutex<Option<LocalCluster>>>;

/// How long stopping one local cluster may take at shutdown.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Clusters as devclusters in this process.
pub struct LocalRuntime {
    data_dir: Option<PathBuf>,
    operator_resync: std::time::Duration,
    subnets: Option<Arc<dyn SubnetsApi>>,
    clusters: std::sync::Mutex<HashMap<String, Slot>>,
    /// Shutdown tokens of the running servers, reachable without a slot's lock: a shutdown
    /// stops every server first, so a step holding a slot (mid-request) lets go at once.
    servers: std::sync::Mutex<HashMap<String, CancellationToken>>,
    /// Extra client CAs a cluster's API server trusts (what an install's manifests give
    /// OpenShift's `APIServer.spec.clientCA`), by infra id; set before the cluster starts.
    client_cas: std::sync::Mutex<HashMap<String, Vec<String>>>,
    /// Record what each identity does in each cluster's API (the least-privilege tests compare
    /// the operator's requests with the chart's grants).
    record_access: bool,
}

impl LocalRuntime {
    /// Clusters kept under `data_dir` (durable), or in memory when `None` (tests).
    pub fn new(data_dir: Option<PathBuf>) -> Self {
        Self {
            data_dir,
            operator_resync: std::time::Duration::from_secs(300),
            subnets: None,
            clusters: Default::default(),
            servers: Default::default(),
            client_cas: Default::default(),
            record_access: false,
        }
    }

    /// Record what each identity is allowed and denied in every cluster's API server
    /// ([`Self::access_log`]); for tests.
    pub fn with_access_recording(mut self) -> Self {
        self.record_access = true;
        self
    }

    /// What each identity did in the API of running cluster `infra_id` (empty unless
    /// [`Self::with_access_recording`]).
    pub async fn access_log(&self, infra_id: &str) -> Option<devcluster::AccessLog> {
        let slot = self.slot(infra_id);
        let guard = slot.lock().await;
        guard.as_ref().map(|c| c.devcluster.access_log().clone())
    }

    /// Make the API server of cluster `infra_id`, when it starts, trust these client CAs (PEM)
    /// besides its own: what an install manifest naming a client CA in OpenShift's
    /// `APIServer.spec.clientCA` does (a test double of a cluster installer uses it).
    pub fn trust_client_cas(&self, infra_id: &str, pems: Vec<String>) {
        self.client_cas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(infra_id.to_string(), pems);
    }

    /// The operators reach Azure through `subnets` (their subnets controller runs only with it).
    pub fn with_subnets(mut self, subnets: Arc<dyn SubnetsApi>) -> Self {
        self.subnets = Some(subnets);
        self
    }

    /// How often the operators reconcile without a change to react to (Azure state, such as a
    /// subnet's NSG, is only seen then).
    pub fn with_operator_resync(mut self, resync: std::time::Duration) -> Self {
        self.operator_resync = resync;
        self
    }

    /// Number of clusters running in this process.
    pub fn running(&self) -> usize {
        self.clusters
            .lock()
            .map(|m| {
                m.values()
                    .filter(|s| s.try_lock().is_ok_and(|g| g.is_some()))
                    .count()
            })
            .unwrap_or(0)
    }

    fn slot(&self, infra_id: &str) -> Slot {
        let mut map = self.clusters.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(infra_id.to_string()).or_default().clone()
    }

    fn dir_of(&self, infra_id: &str) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join(infra_id))
    }

    /// Start (or restart) the cluster's server; the same port as before when there was one.
    async fn start(&self, infra_id: &str) -> Result<LocalCluster> {
        let mut config = match self.dir_of(infra_id) {
            Some(dir) => DevclusterConfig::durable(dir),
            None => DevclusterConfig::in_memory(),
        };
        config.name = infra_id.to_string();
        config.record_access = self.record_access;
        config.extra_client_ca_pems = self
            .client_cas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(infra_id)
            .cloned()
            .unwrap_or_default();
        let port_file = self.dir_of(infra_id).map(|d| d.join("port"));
        let previous_port = port_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| s.trim().parse::<u16>().ok());
        let devcluster = match previous_port {
            Some(port) => {
                let mut at_port = config.clone();
                at_port.listen.set_port(port);
                match Devcluster::start(at_port).await {
                    Ok(dc) => dc,
                    Err(error) => {
                        tracing::warn!(%error, infra_id, port, "previous port unavailable, using a new one");
                        Devcluster::start(config).await.map_err(runtime_error)?
                    }
                }
            }
            None => Devcluster::start(config).await.map_err(runtime_error)?,
        };
        if let Some(file) = port_file {
            aro_common::fs::write_private_file(
                &file,
                devcluster.addr.port().to_string().as_bytes(),
            )
            .map_err(|e| Error::Runtime(e.to_string()))?;
        }
        let kubeadmin_password = match self
            .dir_of(infra_id)
            .map(|d| d.join(KUBEADMIN_PASSWORD_FILE))
        {
            Some(file) => match std::fs::read_to_string(&file) {
                Ok(kept) if !kept.trim().is_empty() => kept.trim().to_string().into(),
                _ => {
                    let password = super::generate_kubeadmin_password();
                    aro_common::fs::write_private_file(&file, password.expose().as_bytes())
                        .map_err(|e| Error::Runtime(e.to_string()))?;
                    password
                }
            },
            None => super::generate_kubeadmin_password(),
        };
        // The controller and the in-process operator call the server's handlers directly: a
        // cluster costs no connections, so hundreds fit in one process's open-file limit. The
        // customer's admin kubeconfig reaches the same API over HTTPS.
        let client = devcluster.in_process_client();
        self.servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(infra_id.to_string(), devcluster.shutdown_token());
        Ok(LocalCluster {
            devcluster,
            client,
            operator: None,
            cloud_credential_operator: None,
            kubeadmin_password,
        })
    }

    /// Run the ARO operator of a running cluster in this process, when it does not run yet: what
    /// a kubelet does for the operator's Deployment once something deployed it through the
    /// cluster's API (a test double of a cluster installer uses it; [`ClusterRuntime::install_operator`]
    /// does it itself).
    pub async fn run_operator(&self, infra_id: &str) -> Result<()> {
        let slot = self.slot(infra_id);
        let mut guard = slot.lock().await;
        let cluster = guard
            .as_mut()
            .ok_or_else(|| Error::Runtime(format!("local cluster {infra_id} is not running")))?;
        self.start_operator(cluster);
        Ok(())
    }

    fn start_cloud_credential_operator(cluster: &mut LocalCluster) {
        if cluster
            .cloud_credential_operator
            .as_ref()
            .is_some_and(|t| !t.is_cancelled())
        {
            return;
        }
        let token = cluster.devcluster.shutdown_token().child_token();
        tokio::spawn(super::local_cco::run(cluster.client.clone(), token.clone()));
        cluster.cloud_credential_operator = Some(token);
    }

    fn start_operator(&self, cluster: &mut LocalCluster) {
        if cluster.operator.as_ref().is_some_and(|t| !t.is_cancelled()) {
            return;
        }
        let token = cluster.devcluster.shutdown_token().child_token();
        // The operator runs as its Deployment's pod would: as the chart's ServiceAccount, so the
        // chart's RBAC (applied by the deploy step) is what it may do.
        let account = aro_operator::manifests::service_account(aro_operator::Role::Master);
        let client =
            cluster
                .devcluster
                .in_process_client_as(devcluster::UserInfo::service_account(
                    aro_operator::OPERATOR_NAMESPACE,
                    &account,
                ));
        let options = aro_operator::manager::ControllerOptions {
            resync: self.operator_resync,
            azure: self.subnets.clone(),
            ..Default::default()
        };
        let stop = token.clone();
        tokio::spawn(async move {
            if let Err(error) =
                aro_operator::run_controllers(client, aro_operator::Role::Master, options, stop)
                    .await
            {
                tracing::warn!(%error, "in-process aro-operator stopped");
            }
        });
        cluster.operator = Some(token);
    }
}

fn runtime_error(e: impl std::fmt::Display) -> Error {
    Error::Runtime(e.to_string())
}

/// Plural resource name of an OpenShift kind (what its CRD is called).
fn plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if lower.ends_with('s') {
        format!("{lower}es")
    } else {
        format!("{lower}s")
    }
}

fn api_resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), &plural(kind))
}

/// Schema-less CRDs (with a status subresource) for every non-built-in kind of `objects`, plus the
/// operator's OpenShift kinds.
pub fn openshift_crds(objects: &[Value]) -> Vec<CustomResourceDefinition> {
    let mut by_name: BTreeMap<String, CustomResourceDefinition> = BTreeMap::new();
    for crd in aro_operator::kinds::openshift_crds() {
        by_name.insert(crd.metadata.name.clone().unwrap_or_default(), crd);
    }
    for object in objects {
        let (Some(api_version), Some(kind)) =
            (object["apiVersion"].as_str(), object["kind"].as_str())
        else {
            continue;
        };
        let Some((group, version)) = api_version.split_once('/') else {
            continue;
        };
        if !group.contains('.') || group.ends_with(".k8s.io") {
            continue;
        }
        let name = format!("{}.{group}", plural(kind));
        if by_name.contains_key(&name) {
            continue;
        }
        let namespaced = object["metadata"]["namespace"].is_string();
        let crd = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": name},
            "spec": {
                "group": group,
                "names": {"kind": kind, "plural": plural(kind), "singular": kind.to_ascii_lowercase(),
                          "listKind": format!("{kind}List")},
                "scope": if namespaced { "Namespaced" } else { "Cluster" },
                "versions": [{
                    "name": version, "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                    "subresources": {"status": {}},
                }],
            }
        });
        if let Ok(crd) = serde_json::from_value(crd) {
            by_name.insert(name, crd);
        }
    }
    by_name.into_values().collect()
}

/// Create each object unless it exists, then set its status (status is a subresource).
async fn apply_seed(client: &kube::Client, objects: &[Value]) -> Result<()> {
    for object in objects {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let resource = api_resource(api_version, kind);
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let api: Api<DynamicObject> = match object["metadata"]["namespace"].as_str() {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        let dynamic: DynamicObject = serde_json::from_value(object.clone())?;
        match api.create(&PostParams::default(), &dynamic).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(status) = object.get("status").filter(|s| !s.is_null()) {
            api.patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "status": status })),
            )
            .await?;
        }
    }
    Ok(())
}

#[async_trait]
impl ClusterRuntime for LocalRuntime {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn ensure_cluster(&self, infra_id: &str, seed: &SeedInput) -> Result<ClusterAccess> {
        let slot = self.slot(infra_id);
        let mut guard = slot.lock().await;
        if guard.is_none() {
            *guard = Some(self.start(infra_id).await?);
        }
        let cluster = guard.as_ref().expect("just started");
        let objects = seed_objects(seed);
        aro_common::crd::apply_crds(
            &cluster.client,
            &openshift_crds(&objects),
            aro_operator::FIELD_MANAGER,
        )
        .await
        .map_err(runtime_error)?;
        apply_seed(&cluster.client, &objects).await?;
        let cluster = guard.as_mut().expect("just started");
        Self::start_cloud_credential_operator(cluster);
        Ok(cluster.access())
    }

    async fn resume(&self, infra_id: &str) -> Result<Option<ClusterAccess>> {
        let slot = self.slot(infra_id);
        let mut guard = slot.lock().await;
        if let Some(cluster) = guard.as_ref() {
            return Ok(Some(cluster.access()));
        }
        // Only a durable cluster that was started before can be resumed.
        let Some(dir) = self.dir_of(infra_id).filter(|d| d.join("port").exists()) else {
            return Ok(None);
        };
        tracing::info!(infra_id, dir = %dir.display(), "resuming local cluster");
        let mut cluster = self.start(infra_id).await?;
        Self::start_cloud_credential_operator(&mut cluster);
        let clusters: Api<DynamicObject> =
            Api::all_with(cluster.client.clone(), &operator_cluster_resource());
        if clusters
            .get_opt(crds::operator::SINGLETON_NAME)
            .await
            .ok()
            .flatten()
            .is_some()
        {
            self.start_operator(&mut cluster);
        }
        let access = cluster.access();
        *guard = Some(cluster);
        Ok(Some(access))
    }

    async fn api_ready(&self, infra_id: &str) -> Result<bool> {
        let slot = self.slot(infra_id);
        let guard = slot.lock().await;
        match guard.as_ref() {
            Some(c) => Ok(c.client.apiserver_version().await.is_ok()),
            None => Ok(false),
        }
    }

    async fn install_operator(&self, infra_id: &str, values: &OperatorDeployValues) -> Result<()> {
        let slot = self.slot(infra_id);
        let mut guard = slot.lock().await;
        let cluster = guard
            .as_mut()
            .ok_or_else(|| Error::Runtime(format!("local cluster {infra_id} is not running")))?;
        aro_operator::manifests::deploy(&cluster.client, values)
            .await
            .map_err(runtime_error)?;
        self.start_operator(cluster);
        Ok(())
    }

    async fn operator_ready(&self, infra_id: &str) -> Result<bool> {
        let slot = self.slot(infra_id);
        let guard = slot.lock().await;
        let Some(cluster) = guard.as_ref() else {
            return Ok(false);
        };
        if cluster.operator.as_ref().is_none_or(|t| t.is_cancelled()) {
            return Ok(false);
        }
        let api: Api<DynamicObject> =
            Api::all_with(cluster.client.clone(), &operator_cluster_resource());
        let Some(object) = api.get_opt(crds::operator::SINGLETON_NAME).await? else {
            return Ok(false);
        };
        // The operator reports on its Cluster object once its controllers run.
        Ok(object.data["status"]["conditions"]
            .as_array()
            .is_some_and(|c| !c.is_empty()))
    }

    async fn user_admin_kubeconfig(
        &self,
        infra_id: &str,
        validity: std::time::Duration,
    ) -> Result<Option<aro_common::Secret>> {
        let slot = self.slot(infra_id);
        let guard = slot.lock().await;
        let Some(cluster) = guard.as_ref() else {
            return Ok(None);
        };
        // Signed by the cluster's CA, which its API server trusts for client certificates.
        let kubeconfig = cluster
            .devcluster
            .client_certificate_kubeconfig(
                super::USER_ADMIN_USER,
                &[super::USER_ADMIN_GROUP],
                Some(validity),
            )
            .map_err(runtime_error)?;
        Ok(Some(kubeconfig.into()))
    }

    async fn client(&self, infra_id: &str) -> Result<Option<kube::Client>> {
        let slot = self.slot(infra_id);
        let guard = slot.lock().await;
        Ok(guard.as_ref().map(|c| c.client.clone()))
    }

    async fn delete(&self, infra_id: &str) -> Result<()> {
        let slot = self.slot(infra_id);
        let mut guard = slot.lock().await;
        if let Some(cluster) = guard.take() {
            if let Some(token) = &cluster.operator {
                token.cancel();
            }
            cluster.devcluster.stop().await;
        }
        if let Some(dir) = self.dir_of(infra_id).filter(|d| d.exists()) {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::Runtime(format!("removing {}: {e}", dir.display())))?;
        }
        drop(guard);
        self.clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(infra_id);
        self.servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(infra_id);
        Ok(())
    }

    async fn shutdown(&self) {
        for (_, server) in self
            .servers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            server.cancel();
        }
        let slots: Vec<Slot> = self
            .clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .map(|(_, s)| s)
            .collect();
        for slot in slots {
            if let Some(cluster) = slot.lock().await.take() {
                if let Some(token) = &cluster.operator {
                    token.cancel();
                }
                // A server whose tasks do not end in time is dropped, which cancels them.
                let url = cluster.devcluster.url.clone();
                if tokio::time::timeout(STOP_TIMEOUT, cluster.devcluster.stop())
                    .await
                    .is_err()
                {
                    tracing::warn!(%url, "local cluster did not stop in time");
                }
            }
        }
    }
}

fn operator_cluster_resource() -> ApiResource {
    ApiResource::erase::<crds::operator::Cluster>(&())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_of_openshift_kinds() {
        assert_eq!(plural("ClusterVersion"), "clusterversions");
        assert_eq!(plural("Ingress"), "ingresses");
        assert_eq!(plural("Infrastructure"), "infrastructures");
    }

    #[test]
    fn crds_cover_every_seeded_openshift_kind_once() {
        let objects = vec![
            json!({"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": {"name": "a"}}),
            json!({"apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator", "metadata": {"name": "b"}}),
            json!({"apiVersion": "machine.openshift.io/v1beta1", "kind": "Machine", "metadata": {"name": "m", "namespace": "x"}}),
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}),
        ];
        let crds = openshift_crds(&objects);
        let names: Vec<_> = crds
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        assert!(names.contains(&"clusteroperators.config.openshift.io".to_string()));
        assert!(names.contains(&"machines.machine.openshift.io".to_string()));
        assert!(names.contains(&"clusterversions.config.openshift.io".to_string()));
        assert_eq!(
            names
                .iter()
                .filter(|n| n.starts_with("clusteroperators."))
                .count(),
            1
        );
        assert!(!names.iter().any(|n| n.starts_with("nodes.")));
    }
}
