//! GET and list show the live cluster: the stored cluster enriched with what the cluster itself
//! reports, as ARO-RP's pkg/util/clusterdata enrichers do (the version from ClusterVersion,
//! ingress profiles from IngressControllers and their router Services, `workerProfilesStatus`
//! from MachineSets, the service principal's client id from `kube-system/azure-credentials`).
//!
//! Read ([`ClusterData::enriched`]: the cluster's objects, through the RP's admin kubeconfig from
//! the cluster's credentials Secret, bounded by a deadline and cached per cluster) -> [`enrich`]
//! (pure: stored cluster + [`ClusterFacts`] -> the cluster as GET shows it). Enrichment is best
//! effort: a cluster that does not answer, or answers only in part, leaves the stored fields it
//! did not answer for as they are, and never fails the request. Nothing is written back: the
//! stored cluster stays the RP's record, and PUT/PATCH responses show it unenriched (as ARO-RP's).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aro_common::resource_id::ResourceId;
use crds::management::{
    IngressIp, IngressProfile, OpenShiftCluster, ProvisioningState, Toggle, Visibility,
    WorkerProfile, protocol,
};
use k8s_openapi::api::core::v1::{Secret, Service};
use kube::ResourceExt;
use kube::api::{Api, DynamicObject, ListParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use super::management;
use crate::error::{Error, Result};

/// How long enriching one GET or list may take: ARO-RP's bound (pkg/frontend's
/// openshiftcluster_get.go and openshiftcluster_list.go give the enrichers 10 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long what a cluster reported is reused: short, so a change in the cluster shows soon,
/// while a list of many clusters does not read every cluster on every request.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(10);

/// Settings of the enrichment.
#[derive(Clone, Debug)]
pub struct ClusterDataConfig {
    /// Bound of the enrichment of one request (every cluster of a list read in parallel).
    pub timeout: Duration,
    /// How long one read of a cluster (or its failure) is reused.
    pub cache_ttl: Duration,
}

impl Default for ClusterDataConfig {
    fn default() -> Self {
        ClusterDataConfig {
            timeout: DEFAULT_TIMEOUT,
            cache_ttl: DEFAULT_CACHE_TTL,
        }
    }
}

/// Namespace of the IngressControllers (OpenShift's ingress operator).
const INGRESS_OPERATOR_NAMESPACE: &str = "openshift-ingress-operator";
/// Namespace of the router Services.
const INGRESS_NAMESPACE: &str = "openshift-ingress";
/// Label naming the IngressController a router Service belongs to.
const OWNING_INGRESS_CONTROLLER: &str =
    "ingresscontroller.operator.openshift.io/owning-ingresscontroller";
/// Namespace of the MachineSets.
const MACHINE_API_NAMESPACE: &str = "openshift-machine-api";

/// What one read of a cluster found: each part `None` when its read failed, as each of ARO-RP's
/// enrichers fails alone. The objects are kept as the cluster served them; [`enrich`] reads them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterFacts {
    /// The ClusterVersion `version`.
    pub cluster_version: Option<Value>,
    /// The IngressControllers and router Services.
    pub ingress: Option<IngressFacts>,
    /// The MachineSets of `openshift-machine-api`.
    pub machine_sets: Option<Vec<Value>>,
    /// `azure_client_id` of `kube-system/azure-credentials` (service principal clusters only).
    pub azure_client_id: Option<String>,
}

/// IngressControllers and the Services of their routers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngressFacts {
    /// IngressControllers of `openshift-ingress-operator`.
    pub controllers: Vec<Value>,
    /// Services of `openshift-ingress` labelled `app=router`.
    pub router_services: Vec<Service>,
}

impl ClusterFacts {
    fn answered(&self) -> bool {
        self.cluster_version.is_some()
            || self.ingress.is_some()
            || self.machine_sets.is_some()
            || self.azure_client_id.is_some()
    }
}

/// Whether GET enriches `cluster`: as ARO-RP, never while it is being created or deleted (nor a
/// create or delete that failed: the cluster may be partly there); and only once the RP has its
/// admin kubeconfig.
pub fn enrichable(cluster: &OpenShiftCluster) -> bool {
    let Some(status) = cluster.status.as_ref() else {
        return false;
    };
    let in_lifecycle_edge = match protocol::effective_state(cluster) {
        ProvisioningState::Creating | ProvisioningState::Deleting => true,
        ProvisioningState::Failed => matches!(
            status.failed_provisioning_state,
            Some(ProvisioningState::Creating | ProvisioningState::Deleting)
        ),
        _ => false,
    };
    !in_lifecycle_edge && status.credentials_ref.is_some()
}

/// The stored cluster as GET shows it, given what the cluster reported (pure).
///
/// As ARO-RP's enrichers: the version is the ClusterVersion's desired version; the ingress
/// profiles are the IngressControllers (by name, sorted), Private for an internal load balancer
/// scope, Public for an external one or no endpoint publishing strategy, with the IP of their
/// router Service; `workerProfilesStatus` is one profile per MachineSet (sorted by name): count
/// from its replicas (1 when unset) and, once it has ready machines, VM size, disk size, subnet,
/// encryption at host and disk encryption set from its provider spec; the service principal's
/// client id is the one the cluster uses. Where ARO-RP would blank a stored value the cluster does
/// not report, the stored one stays: no IngressController at all keeps the stored profiles, a
/// router without an IP keeps the stored IP, a scope that says nothing keeps the stored visibility.
pub fn enrich(stored: &OpenShiftCluster, facts: &ClusterFacts) -> OpenShiftCluster {
    let mut cluster = stored.clone();
    if let Some(version) = facts
        .cluster_version
        .as_ref()
        .and_then(|cv| cv["status"]["desired"]["version"].as_str())
        .filter(|v| !v.is_empty())
    {
        cluster.spec.cluster_profile.version = version.to_string();
    }
    if let Some(ingress) = facts.ingress.as_ref().filter(|i| !i.controllers.is_empty()) {
        let ips = router_ips(&ingress.router_services);
        let mut profiles: Vec<IngressProfile> = ingress
            .controllers
            .iter()
            .filter_map(|controller| {
                let name = controller["metadata"]["name"].as_str()?;
                let visibility = ingress_visibility(controller)
                    .or_else(|| {
                        stored
                            .spec
                            .ingress_profiles
                            .iter()
                            .find(|p| p.name == name)
                            .map(|p| p.visibility)
                    })
                    .unwrap_or_default();
                Some(IngressProfile {
                    name: name.to_string(),
                    visibility,
                })
            })
            .collect();
        profiles.sort_by(|a, b| a.name.cmp(&b.name));
        let status = cluster.status.get_or_insert_default();
        for profile in &profiles {
            let Some(ip) = ips.get(profile.name.as_str()) else {
                continue;
            };
            match status
                .ingress_ips
                .iter_mut()
                .find(|i| i.name == profile.name)
            {
                Some(known) => known.ip = ip.to_string(),
                None => status.ingress_ips.push(IngressIp {
                    name: profile.name.clone(),
                    ip: ip.to_string(),
                }),
            }
        }
        cluster.spec.ingress_profiles = profiles;
    }
    if let Some(sets) = &facts.machine_sets {
        // ARO-RP builds the subnet id in the cluster's own subscription (its resource id's case).
        let subscription = ResourceId::parse(&stored.spec.resource_id)
            .map(|id| id.subscription)
            .unwrap_or_else(|_| stored.spec.subscription_id.clone());
        let mut workers: Vec<WorkerProfile> = sets
            .iter()
            .filter_map(|set| worker_profile(set, &subscription))
            .collect();
        workers.sort_by(|a, b| a.name.cmp(&b.name));
        cluster
            .status
            .get_or_insert_default()
            .worker_profiles_status = workers;
    }
    if let (Some(client_id), Some(profile)) = (
        facts.azure_client_id.as_deref().filter(|c| !c.is_empty()),
        cluster.spec.service_principal_profile.as_mut(),
    ) {
        profile.client_id = client_id.to_string();
    }
    cluster
}

/// Router IP by IngressController: the first load balancer ingress IP of each router Service.
fn router_ips(services: &[Service]) -> HashMap<&str, &str> {
    services
        .iter()
        .filter_map(|service| {
            let owner = service.labels().get(OWNING_INGRESS_CONTROLLER)?;
            let ip = service
                .status
                .as_ref()?
                .load_balancer
                .as_ref()?
                .ingress
                .as_ref()?
                .first()?
                .ip
                .as_deref()
                .filter(|ip| !ip.is_empty())?;
            Some((owner.as_str(), ip))
        })
        .collect()
}

/// An IngressController's visibility (`None`: its strategy does not say).
fn ingress_visibility(controller: &Value) -> Option<Visibility> {
    let strategy = &controller["spec"]["endpointPublishingStrategy"];
    if strategy.is_null() {
        // Azure's default: a load balancer service with external scope.
        return Some(Visibility::Public);
    }
    match strategy["loadBalancer"]["scope"].as_str() {
        Some("Internal") => Some(Visibility::Private),
        Some("External") => Some(Visibility::Public),
        _ => None,
    }
}

/// A MachineSet as a worker profile.
fn worker_profile(set: &Value, subscription: &str) -> Option<WorkerProfile> {
    let name = set["metadata"]["name"].as_str()?;
    let mut profile = WorkerProfile {
        name: name.to_string(),
        count: set["spec"]["replicas"]
            .as_i64()
            .and_then(|r| i32::try_from(r).ok())
            .unwrap_or(1),
        ..Default::default()
    };
    // As ARO-RP: the machines' shape only from a MachineSet with ready machines.
    let spec = &set["spec"]["template"]["spec"]["providerSpec"]["value"];
    if set["status"]["readyReplicas"].as_i64().unwrap_or(0) == 0 || !spec.is_object() {
        return Some(profile);
    }
    profile.vm_size = spec["vmSize"].as_str().unwrap_or_default().to_string();
    // YAML may have made a number of it, or a string.
    let disk = &spec["osDisk"]["diskSizeGB"];
    profile.disk_size_gb = disk
        .as_i64()
        .or_else(|| disk.as_str().and_then(|d| d.parse().ok()))
        .and_then(|d| i32::try_from(d).ok())
        .unwrap_or(0);
    profile.subnet_id = format!(
        "/subscriptions/{subscription}/resourceGroups/{}/providers/Microsoft.Network/virtualNetworks/{}/subnets/{}",
        spec["networkResourceGroup"].as_str().unwrap_or_default(),
        spec["vnet"].as_str().unwrap_or_default(),
        spec["subnet"].as_str().unwrap_or_default(),
    );
    profile.encryption_at_host =
        if spec["securityProfile"]["encryptionAtHost"].as_bool() == Some(true) {
            Toggle::Enabled
        } else {
            Toggle::Disabled
        };
    profile.disk_encryption_set_id = spec["osDisk"]["managedDisk"]["diskEncryptionSet"]["id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string);
    Some(profile)
}

/// Reads of the clusters' own APIs, cached per cluster, with a client per cluster.
pub struct ClusterData {
    config: ClusterDataConfig,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
}

/// What is kept of one cluster. Its lock is held while the cluster is read, so concurrent
/// requests for one cluster read it once.
#[derive(Default)]
struct Slot {
    /// The client and the hash of the kubeconfig it was made from: a rotated kubeconfig makes a
    /// new client.
    client: Option<(String, kube::Client)>,
    read: Option<Read>,
}

struct Read {
    at: Instant,
    /// The stored cluster's resourceVersion when read: a change of the stored cluster (an
    /// operation moved on, e.g. a credentials rotation ended) reads the cluster again.
    resource_version: Option<String>,
    facts: Option<Arc<ClusterFacts>>,
}

impl ClusterData {
    /// An empty cache.
    pub fn new(config: ClusterDataConfig) -> Self {
        ClusterData {
            config,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// When the enrichment of a request that starts now must end.
    pub fn deadline(&self) -> Instant {
        Instant::now() + self.config.timeout
    }

    /// The cluster as GET shows it: enriched when [`enrichable`] and the cluster answers by
    /// `deadline`, else as stored.
    pub async fn enriched(
        &self,
        management: &kube::Client,
        cluster: Arc<OpenShiftCluster>,
        deadline: Instant,
    ) -> Arc<OpenShiftCluster> {
        if !enrichable(&cluster) {
            return cluster;
        }
        match self.facts(management, &cluster, deadline).await {
            Some(facts) => Arc::new(enrich(&cluster, &facts)),
            None => cluster,
        }
    }

    /// The slot of a cluster; forgets clusters not read for a while when a new one comes.
    fn slot(&self, key: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = slots.get(key) {
            return slot.clone();
        }
        let forget_after = self.config.cache_ttl * 10;
        slots.retain(|_, slot| {
            slot.try_lock().map_or(true, |s| {
                s.read
                    .as_ref()
                    .is_some_and(|r| r.at.elapsed() < forget_after)
            })
        });
        slots.entry(key.to_string()).or_default().clone()
    }

    async fn facts(
        &self,
        management: &kube::Client,
        cluster: &OpenShiftCluster,
        deadline: Instant,
    ) -> Option<Arc<ClusterFacts>> {
        let namespace = cluster.namespace().unwrap_or_default();
        let name = cluster.name_any();
        let slot = self.slot(&format!("{namespace}/{name}"));
        let mut slot = tokio::time::timeout_at(deadline, slot.lock()).await.ok()?;
        if let Some(read) = &slot.read
            && read.at.elapsed() < self.config.cache_ttl
            && read.resource_version == cluster.metadata.resource_version
        {
            return read.facts.clone();
        }
        let facts = match tokio::time::timeout_at(
            deadline,
            self.read(management, cluster, &mut slot.client, deadline),
        )
        .await
        {
            Ok(Ok(facts)) => Some(Arc::new(facts)),
            Ok(Err(error)) => {
                tracing::warn!(%error, namespace, name, "the cluster's live data is unavailable: GET shows the stored cluster");
                None
            }
            Err(_) => {
                tracing::warn!(
                    namespace,
                    name,
                    timeout = ?self.config.timeout,
                    "the cluster did not answer in time: GET shows the stored cluster"
                );
                None
            }
        };
        slot.read = Some(Read {
            at: Instant::now(),
            resource_version: cluster.metadata.resource_version.clone(),
            facts: facts.clone(),
        });
        facts
    }

    /// Read the cluster: its kubeconfig from the management cluster, then its objects in
    /// parallel, each read on its own (one that fails or runs out of time is left out).
    async fn read(
        &self,
        management: &kube::Client,
        cluster: &OpenShiftCluster,
        client_slot: &mut Option<(String, kube::Client)>,
        deadline: Instant,
    ) -> Result<ClusterFacts> {
        let namespace = cluster.namespace().unwrap_or_default();
        let secret_name = cluster
            .status
            .as_ref()
            .and_then(|s| s.credentials_ref.as_ref())
            .map(|r| r.name.clone())
            .ok_or_else(|| Error::ClusterApi("no credentials Secret".into()))?;
        let kubeconfig = management::read_secret_key(
            management,
            &namespace,
            &secret_name,
            protocol::ADMIN_KUBECONFIG_KEY,
        )
        .await?
        .ok_or_else(|| Error::ClusterApi("no admin kubeconfig".into()))?;
        let hash = hex(&Sha256::digest(kubeconfig.expose()));
        let client = match client_slot {
            Some((known, client)) if *known == hash => client.clone(),
            _ => {
                let client = client_from(kubeconfig.expose(), self.config.timeout).await?;
                *client_slot = Some((hash, client.clone()));
                client
            }
        };
        let service_principal = cluster.spec.service_principal_profile.is_some();
        let (cluster_version, ingress, machine_sets, azure_client_id) = tokio::join!(
            bounded(deadline, "ClusterVersion", read_cluster_version(&client)),
            bounded(deadline, "IngressControllers", read_ingress(&client)),
            bounded(deadline, "MachineSets", read_machine_sets(&client)),
            // Workload identity clusters have no service principal (ARO-RP skips them too).
            async {
                if service_principal {
                    bounded(deadline, "azure-credentials", read_azure_client_id(&client))
                        .await
                        .map(Some)
                } else {
                    Ok(None)
                }
            },
        );
        let mut failed = Vec::new();
        let facts = ClusterFacts {
            cluster_version: kept(cluster_version, &mut failed),
            ingress: kept(ingress, &mut failed),
            machine_sets: kept(machine_sets, &mut failed),
            azure_client_id: kept(azure_client_id, &mut failed).flatten(),
        };
        if !facts.answered() && !failed.is_empty() {
            return Err(Error::ClusterApi(failed.join("; ")));
        }
        for error in &failed {
            tracing::debug!(
                namespace,
                name = cluster.name_any(),
                error,
                "a part of the cluster's live data is unavailable"
            );
        }
        Ok(facts)
    }
}

/// One read of a cluster, bounded by `deadline`; its error says what was read.
async fn bounded<T>(
    deadline: Instant,
    what: &'static str,
    read: impl Future<Output = kube::Result<T>>,
) -> std::result::Result<T, String> {
    match tokio::time::timeout_at(deadline, read).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(format!("{what}: {error}")),
        Err(_) => Err(format!("{what}: timed out")),
    }
}

/// The value of a read that succeeded; the error of one that failed goes to `failed`.
fn kept<T>(read: std::result::Result<T, String>, failed: &mut Vec<String>) -> Option<T> {
    read.map_err(|e| failed.push(e)).ok()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A client of a cluster from its admin kubeconfig: requests bounded by `timeout`, no retries
/// (the read is best effort and bounded as a whole). Errors never quote the kubeconfig.
async fn client_from(kubeconfig: &[u8], timeout: Duration) -> Result<kube::Client> {
    let unusable = |why: &str| Error::ClusterApi(format!("the admin kubeconfig {why}"));
    let text = std::str::from_utf8(kubeconfig).map_err(|_| unusable("is not UTF-8"))?;
    let parsed =
        kube::config::Kubeconfig::from_yaml(text).map_err(|_| unusable("does not parse"))?;
    // The RP's kubeconfigs carry certificates or tokens; a command to run (exec, auth provider)
    // is never the frontend's to run.
    if parsed.auth_infos.iter().any(|a| {
        a.auth_info
            .as_ref()
            .is_some_and(|i| i.exec.is_some() || i.auth_provider.is_some())
    }) {
        return Err(unusable("names a credential plugin"));
    }
    let mut config = kube::Config::from_custom_kubeconfig(parsed, &Default::default())
        .await
        .map_err(|_| unusable("is incomplete"))?;
    config.connect_timeout = Some(timeout);
    config.read_timeout = Some(timeout);
    config.write_timeout = Some(timeout);
    config.default_retry = false;
    kube::Client::try_from(config).map_err(|e| Error::ClusterApi(format!("no client: {e}")))
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

async fn read_cluster_version(client: &kube::Client) -> kube::Result<Value> {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &resource(
            "config.openshift.io",
            "v1",
            "ClusterVersion",
            "clusterversions",
        ),
    );
    Ok(serde_json::to_value(api.get("version").await?).unwrap_or_default())
}

async fn read_ingress(client: &kube::Client) -> kube::Result<IngressFacts> {
    let controllers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        INGRESS_OPERATOR_NAMESPACE,
        &resource(
            "operator.openshift.io",
            "v1",
            "IngressController",
            "ingresscontrollers",
        ),
    );
    let services: Api<Service> = Api::namespaced(client.clone(), INGRESS_NAMESPACE);
    let all = ListParams::default();
    let routers = ListParams::default().labels("app=router");
    let (controllers, services) = tokio::join!(controllers.list(&all), services.list(&routers));
    Ok(IngressFacts {
        controllers: controllers?
            .items
            .into_iter()
            .filter_map(|c| serde_json::to_value(c).ok())
            .collect(),
        router_services: services?.items,
    })
}

async fn read_machine_sets(client: &kube::Client) -> kube::Result<Vec<Value>> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        MACHINE_API_NAMESPACE,
        &resource(
            "machine.openshift.io",
            "v1beta1",
            "MachineSet",
            "machinesets",
        ),
    );
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter_map(|s| serde_json::to_value(s).ok())
        .collect())
}

async fn read_azure_client_id(client: &kube::Client) -> kube::Result<String> {
    let api: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let secret = api.get("azure-credentials").await?;
    Ok(secret
        .data
        .and_then(|d| d.get("azure_client_id").map(|v| v.0.clone()))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crds::SecretReference;
    use crds::management::{OpenShiftClusterSpec, OpenShiftClusterStatus, ServicePrincipalProfile};
    use k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, ServiceStatus};
    use serde_json::json;

    const SUB: &str = "6F2C1B3A-1111-4222-8333-944445555666";

    fn stored() -> OpenShiftCluster {
        let mut cluster = OpenShiftCluster::new(
            "c",
            OpenShiftClusterSpec {
                resource_id: format!(
                    "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/c"
                ),
                subscription_id: SUB.to_lowercase(),
                ..Default::default()
            },
        );
        cluster.spec.cluster_profile.version = "4.15.35".into();
        cluster.spec.service_principal_profile = Some(ServicePrincipalProfile {
            client_id: "stored-client".into(),
        });
        cluster.spec.ingress_profiles = vec![IngressProfile {
            name: "default".into(),
            visibility: Visibility::Private,
        }];
        cluster.status = Some(OpenShiftClusterStatus {
            provisioning_state: Some(ProvisioningState::Succeeded),
            credentials_ref: Some(SecretReference {
                name: "c-credentials".into(),
            }),
            ingress_ips: vec![IngressIp {
                name: "default".into(),
                ip: "10.0.0.9".into(),
            }],
            ..Default::default()
        });
        cluster
    }

    fn machine_set(name: &str, replicas: Option<i64>, ready: i64) -> Value {
        let mut set = json!({
            "metadata": {"name": name, "namespace": MACHINE_API_NAMESPACE},
            "spec": {"template": {"spec": {"providerSpec": {"value": {
                "vmSize": "Standard_D4s_v3",
                "vnet": "vnet",
                "subnet": "worker",
                "networkResourceGroup": "vnet-rg",
                "osDisk": {"diskSizeGB": 128, "managedDisk": {"diskEncryptionSet": {"id": "/des"}}},
                "securityProfile": {"encryptionAtHost": true},
            }}}}},
            "status": {"readyReplicas": ready},
        });
        if let Some(replicas) = replicas {
            set["spec"]["replicas"] = json!(replicas);
        }
        set
    }

    fn router(owner: &str, ip: &str) -> Service {
        let mut service = Service::default();
        service
            .labels_mut()
            .insert(OWNING_INGRESS_CONTROLLER.into(), owner.into());
        service.status = Some(ServiceStatus {
            load_balancer: Some(LoadBalancerStatus {
                ingress: Some(vec![LoadBalancerIngress {
                    ip: Some(ip.into()),
                    ..Default::default()
                }]),
            }),
            ..Default::default()
        });
        service
    }

    #[test]
    fn no_facts_leave_the_stored_cluster_as_it_is() {
        assert_eq!(enrich(&stored(), &ClusterFacts::default()), stored());
    }

    #[test]
    fn the_version_is_the_cluster_versions_desired_version() {
        let facts = ClusterFacts {
            cluster_version: Some(json!({"status": {"desired": {"version": "4.16.2"}}})),
            ..Default::default()
        };
        assert_eq!(
            enrich(&stored(), &facts).spec.cluster_profile.version,
            "4.16.2"
        );
        let empty = ClusterFacts {
            cluster_version: Some(json!({"status": {}})),
            ..Default::default()
        };
        assert_eq!(
            enrich(&stored(), &empty).spec.cluster_profile.version,
            "4.15.35"
        );
    }

    #[test]
    fn worker_profiles_status_is_one_profile_per_machine_set() {
        let facts = ClusterFacts {
            machine_sets: Some(vec![
                machine_set("c-worker-eastus2", Some(2), 2),
                machine_set("c-worker-eastus1", None, 1),
                machine_set("c-worker-eastus3", Some(0), 0),
            ]),
            ..Default::default()
        };
        let workers = enrich(&stored(), &facts)
            .status
            .unwrap()
            .worker_profiles_status;
        let full = |name: &str, count| WorkerProfile {
            name: name.into(),
            vm_size: "Standard_D4s_v3".into(),
            disk_size_gb: 128,
            subnet_id: format!(
                "/subscriptions/{SUB}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/worker"
            ),
            count,
            encryption_at_host: Toggle::Enabled,
            disk_encryption_set_id: Some("/des".into()),
        };
        assert_eq!(
            workers,
            vec![
                // Replicas unset count as one (as ARO-RP).
                full("c-worker-eastus1", 1),
                full("c-worker-eastus2", 2),
                // No ready machines: name and count only.
                WorkerProfile {
                    name: "c-worker-eastus3".into(),
                    count: 0,
                    ..Default::default()
                },
            ]
        );
    }

    #[test]
    fn a_provider_spec_without_security_profile_has_encryption_at_host_disabled() {
        let mut set = machine_set("w", Some(3), 3);
        let spec = &mut set["spec"]["template"]["spec"]["providerSpec"]["value"];
        spec.as_object_mut().unwrap().remove("securityProfile");
        spec["osDisk"] = json!({"diskSizeGB": "256"});
        let profile = worker_profile(&set, SUB).unwrap();
        assert_eq!(profile.encryption_at_host, Toggle::Disabled);
        assert_eq!(profile.disk_size_gb, 256);
        assert_eq!(profile.disk_encryption_set_id, None);
    }

    #[test]
    fn ingress_profiles_are_the_ingress_controllers_with_their_router_ips() {
        let facts = ClusterFacts {
            ingress: Some(IngressFacts {
                controllers: vec![
                    json!({"metadata": {"name": "default"}, "spec": {"endpointPublishingStrategy":
                        {"type": "LoadBalancerService", "loadBalancer": {"scope": "External"}}}}),
                    json!({"metadata": {"name": "apps2"}, "spec": {"endpointPublishingStrategy":
                        {"type": "LoadBalancerService", "loadBalancer": {"scope": "Internal"}}}}),
                    json!({"metadata": {"name": "plain"}, "spec": {}}),
                ],
                router_services: vec![router("default", "20.1.2.3"), router("apps2", "10.0.0.5")],
            }),
            ..Default::default()
        };
        let cluster = enrich(&stored(), &facts);
        assert_eq!(
            cluster.spec.ingress_profiles,
            vec![
                IngressProfile {
                    name: "apps2".into(),
                    visibility: Visibility::Private
                },
                IngressProfile {
                    name: "default".into(),
                    visibility: Visibility::Public
                },
                IngressProfile {
                    name: "plain".into(),
                    visibility: Visibility::Public
                },
            ]
        );
        let mut ips = cluster.status.unwrap().ingress_ips;
        ips.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(
            ips,
            vec![
                IngressIp {
                    name: "apps2".into(),
                    ip: "10.0.0.5".into()
                },
                IngressIp {
                    name: "default".into(),
                    ip: "20.1.2.3".into()
                },
            ]
        );
    }

    #[test]
    fn what_the_cluster_does_not_say_keeps_the_stored_ingress() {
        // No IngressController at all: the stored profiles stay.
        let none = ClusterFacts {
            ingress: Some(IngressFacts::default()),
            ..Default::default()
        };
        assert_eq!(enrich(&stored(), &none), stored());
        // A strategy without a scope keeps the stored visibility; no router IP keeps the stored IP.
        let vague = ClusterFacts {
            ingress: Some(IngressFacts {
                controllers: vec![json!({"metadata": {"name": "default"}, "spec":
                    {"endpointPublishingStrategy": {"type": "HostNetwork"}}})],
                router_services: vec![],
            }),
            ..Default::default()
        };
        assert_eq!(enrich(&stored(), &vague), stored());
    }

    #[test]
    fn the_client_id_is_the_clusters_for_service_principal_clusters_only() {
        let facts = ClusterFacts {
            azure_client_id: Some("cluster-client".into()),
            ..Default::default()
        };
        assert_eq!(
            enrich(&stored(), &facts)
                .spec
                .service_principal_profile
                .unwrap()
                .client_id,
            "cluster-client"
        );
        let mut workload_identity = stored();
        workload_identity.spec.service_principal_profile = None;
        assert_eq!(
            enrich(&workload_identity, &facts)
                .spec
                .service_principal_profile,
            None
        );
    }

    #[test]
    fn only_installed_clusters_with_a_kubeconfig_are_enriched() {
        let with = |state, failed: Option<ProvisioningState>| {
            let mut cluster = stored();
            let status = cluster.status.as_mut().unwrap();
            status.provisioning_state = Some(state);
            status.failed_provisioning_state = failed;
            cluster
        };
        use ProvisioningState::*;
        assert!(enrichable(&with(Succeeded, None)));
        assert!(enrichable(&with(Updating, None)));
        assert!(enrichable(&with(AdminUpdating, None)));
        assert!(enrichable(&with(Failed, Some(Updating))));
        assert!(!enrichable(&with(Creating, None)));
        assert!(!enrichable(&with(Deleting, None)));
        assert!(!enrichable(&with(Failed, Some(Creating))));
        assert!(!enrichable(&with(Failed, Some(Deleting))));
        // A claimed delete counts as Deleting before its status is written.
        let mut claimed = with(Succeeded, None);
        protocol::set_claim(&mut claimed, "op", Deleting);
        assert!(!enrichable(&claimed));
        let mut no_kubeconfig = with(Succeeded, None);
        no_kubeconfig.status.as_mut().unwrap().credentials_ref = None;
        assert!(!enrichable(&no_kubeconfig));
    }

    #[tokio::test]
    async fn kubeconfigs_with_credential_plugins_are_refused() {
        let kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/false\n";
        let error = client_from(kubeconfig.as_bytes(), DEFAULT_TIMEOUT)
            .await
            .err()
            .unwrap();
        assert!(error.to_string().contains("credential plugin"), "{error}");
        let error = client_from(b"secret-material: [", DEFAULT_TIMEOUT)
            .await
            .err()
            .unwrap();
        assert!(!error.to_string().contains("secret-material"), "{error}");
    }
}
