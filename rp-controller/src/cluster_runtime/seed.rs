//! What a freshly installed OpenShift cluster exposes to the RP and the ARO operator, as Kubernetes
//! objects: the local cluster runtime writes these into the cluster's API server (a devcluster) so the
//! operator and the RP's later steps find what they would find on a real cluster.

use crds::management::{OutboundType, Visibility};
use serde_json::{Value, json};

/// What the seed depends on: the cluster as the install knows it (the local runtime's seed and
/// the installer's install-config are both built from it).
#[derive(Clone, Debug, Default)]
pub struct SeedInput {
    /// Infrastructure id (prefix of node and machine names).
    pub infra_id: String,
    /// OpenShift version, e.g. `4.15.35`.
    pub version: String,
    /// Azure region.
    pub location: String,
    /// Cluster domain (FQDN).
    pub domain: String,
    /// Subscription of the customer's virtual network.
    pub subscription_id: String,
    /// Cluster resource group name.
    pub cluster_resource_group: String,
    /// Resource group of the virtual network.
    pub vnet_resource_group: String,
    /// Virtual network name.
    pub vnet: String,
    /// Master subnet name.
    pub master_subnet: String,
    /// Worker subnet name.
    pub worker_subnet: String,
    /// Master VM size.
    pub master_vm_size: String,
    /// Worker VM size.
    pub worker_vm_size: String,
    /// Number of workers.
    pub worker_count: u32,
    /// Worker OS disk size.
    pub worker_disk_size_gb: i32,
    /// The customer's pull secret (`{"auths":{...}}`), empty for none.
    pub pull_secret: aro_common::Secret,
    /// The version's release image (its `OpenShiftVersion`'s `openShiftPullspec`); empty when the
    /// management cluster has no such version (the local runtime needs none).
    pub release_pullspec: String,
    /// The version's installer image (`installerPullspec`); empty likewise.
    pub installer_pullspec: String,
    /// The cluster's service principal, as the installer authenticates to Azure; `None` for a
    /// workload-identity cluster.
    pub service_principal: Option<ServicePrincipalCredentials>,
    /// Pod network CIDR (`networkProfile.podCidr`); empty for the default.
    pub pod_cidr: String,
    /// Service network CIDR (`networkProfile.serviceCidr`); empty for the default.
    pub service_cidr: String,
    /// Cluster network plugin (`networkProfile.softwareDefinedNetwork`); empty for the default.
    pub network_type: String,
    /// How the cluster reaches the internet.
    pub outbound_type: OutboundType,
    /// API server visibility.
    pub apiserver_visibility: Visibility,
    /// Visibility of the default ingress controller (the first ingress profile).
    pub ingress_visibility: Visibility,
    /// FIPS-validated cryptography modules (`clusterProfile.fipsValidatedModules`).
    pub fips: bool,
    /// Encryption at host on the control plane machines.
    pub master_encryption_at_host: bool,
    /// ARM id of the control plane OS disks' disk encryption set.
    pub master_disk_encryption_set_id: Option<String>,
    /// Every worker profile, in spec order. Empty means one pool from the `worker_*` fields.
    pub worker_pools: Vec<WorkerPool>,
    /// The cluster's SSH public key, an OpenSSH line (`ecdsa-sha2-nistp256 AAAA...`); empty
    /// for none.
    pub ssh_public_key: String,
    /// Resource group of the DNS zone the cluster's domain is under, when the RP manages it (the
    /// installer's `baseDomainResourceGroupName`); empty for a custom domain.
    pub base_domain_resource_group: String,
}

/// A worker machine pool (a worker profile).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerPool {
    /// Pool name.
    pub name: String,
    /// VM size.
    pub vm_size: String,
    /// OS disk size in GB.
    pub disk_size_gb: i32,
    /// Number of machines.
    pub count: u32,
    /// Subnet name (in the cluster's virtual network).
    pub subnet: String,
    /// Encryption at host.
    pub encryption_at_host: bool,
    /// ARM id of the OS disks' disk encryption set.
    pub disk_encryption_set_id: Option<String>,
}

impl SeedInput {
    /// A complete cluster with demo values (`demo` in `eastus`, infra id `demo-abcde`, the
    /// `demo-vnet` subnets, three `Standard_D4s_v3` workers), no secrets: the base of the tests'
    /// clusters, which override what they are about.
    pub fn example() -> Self {
        Self {
            infra_id: "demo-abcde".into(),
            version: "4.15.35".into(),
            location: "eastus".into(),
            domain: "demo.eastus.aroapp.io".into(),
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            cluster_resource_group: "aro-demo".into(),
            vnet_resource_group: "demo-rg".into(),
            vnet: "demo-vnet".into(),
            master_subnet: "master".into(),
            worker_subnet: "worker".into(),
            master_vm_size: "Standard_D8s_v3".into(),
            worker_vm_size: "Standard_D4s_v3".into(),
            worker_count: 3,
            worker_disk_size_gb: 128,
            ..Default::default()
        }
    }
}

/// A service principal's credentials in its tenant (the customer's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePrincipalCredentials {
    /// The customer's tenant.
    pub tenant_id: String,
    /// The application (client) id.
    pub client_id: String,
    /// The client secret (never logged).
    pub client_secret: aro_common::Secret,
}

/// Namespaces every OpenShift cluster has that the RP and the operator use.
pub const NAMESPACES: &[&str] = &[
    "openshift-config",
    "openshift-config-managed",
    "openshift-machine-api",
    "openshift-machine-config-operator",
    "openshift-monitoring",
    "openshift-ingress",
    "openshift-ingress-operator",
    "openshift-console",
    "openshift-sdn",
    "openshift-etcd",
    "openshift-kube-apiserver",
    CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
];

/// Where the installer leaves the cluster's root Azure credential, which the
/// cloud-credential-operator passes through to the CredentialsRequests' Secrets.
pub const AZURE_CREDENTIALS_NAMESPACE: &str = "kube-system";
/// Name of that Secret.
pub const AZURE_CREDENTIALS_SECRET: &str = "azure-credentials";
/// Namespace of the cloud-credential-operator and of the CredentialsRequests.
pub const CLOUD_CREDENTIAL_OPERATOR_NAMESPACE: &str = "openshift-cloud-credential-operator";
/// Label selector of the cloud-credential-operator's pods (deleted to restart it).
pub const CLOUD_CREDENTIAL_OPERATOR_SELECTOR: &str = "app=cloud-credential-operator";

/// What `kube-system/azure-credentials` says: the seven keys the installer writes and ARO-RP
/// keeps (its `updateOpenShiftSecret`).
#[derive(Clone, Debug)]
pub struct AzureCredentials<'a> {
    /// The cluster's subscription.
    pub subscription_id: &'a str,
    /// The customer's tenant.
    pub tenant_id: &'a str,
    /// The prefix of the cluster's Azure resources (the infra id).
    pub resource_prefix: &'a str,
    /// The cluster resource group's name.
    pub resource_group: &'a str,
    /// The cluster's region.
    pub region: &'a str,
    /// The cluster's service principal.
    pub client_id: &'a str,
    /// Its secret.
    pub client_secret: &'a str,
}

impl AzureCredentials<'_> {
    /// The Secret's data.
    pub fn data(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("azure_subscription_id", self.subscription_id),
            ("azure_tenant_id", self.tenant_id),
            ("azure_resource_prefix", self.resource_prefix),
            ("azure_resourcegroup", self.resource_group),
            ("azure_region", self.region),
            ("azure_client_id", self.client_id),
            ("azure_client_secret", self.client_secret),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// The Secret `kube-system/azure-credentials` with that data (base64, as `data` holds it).
    pub fn secret(&self) -> Value {
        let data: serde_json::Map<String, Value> = self
            .data()
            .into_iter()
            .map(|(k, v)| (k, Value::String(b64(&v))))
            .collect();
        json!({
            "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": AZURE_CREDENTIALS_SECRET, "namespace": AZURE_CREDENTIALS_NAMESPACE},
            "data": data
        })
    }
}

/// Cluster operators reported by ClusterVersion (a subset, enough for readiness checks).
pub const CLUSTER_OPERATORS: &[&str] = &[
    "authentication",
    "console",
    "dns",
    "etcd",
    "ingress",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "machine-api",
    "machine-config",
    "monitoring",
    "network",
    "openshift-apiserver",
];

/// OpenShift's default Alertmanager configuration (what the alertwebhook controller edits).
pub const DEFAULT_ALERTMANAGER_YAML: &str = r#"global:
  resolve_timeout: 5m
inhibit_rules:
- equal:
  - namespace
  - alertname
  source_matchers:
  - severity = critical
  target_matchers:
  - severity =~ warning|info
receivers:
- name: Default
- name: Watchdog
- name: Critical
- name: "null"
route:
  group_by:
  - namespace
  group_interval: 5m
  group_wait: 30s
  receiver: Default
  repeat_interval: 12h
  routes:
  - matchers:
    - alertname = Watchdog
    receiver: Watchdog
  - matchers:
    - alertname = InfoInhibitor
    receiver: "null"
  - matchers:
    - severity = critical
    receiver: Critical
"#;

fn b64(data: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn condition(type_: &str, status: &str) -> Value {
    json!({"type": type_, "status": status, "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

/// Worker MachineSets are spread over three zones like the installer does: `<infra>-worker-<location><n>`.
fn worker_machineset_names(input: &SeedInput) -> Vec<String> {
    (1..=3)
        .map(|zone| format!("{}-worker-{}{zone}", input.infra_id, input.location))
        .collect()
}

/// Replicas per MachineSet: the worker count split over the three MachineSets, extras first.
fn replicas_per_machineset(count: u32) -> [u32; 3] {
    let base = count / 3;
    let extra = count % 3;
    [0, 1, 2].map(|i| base + u32::from(i < extra))
}

fn provider_spec(input: &SeedInput, role: &str, zone: u32) -> Value {
    let (vm_size, subnet, disk) = match role {
        "master" => (&input.master_vm_size, &input.master_subnet, 1024),
        _ => (
            &input.worker_vm_size,
            &input.worker_subnet,
            input.worker_disk_size_gb,
        ),
    };
    json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "AzureMachineProviderSpec",
        "location": input.location,
        "zone": zone.to_string(),
        "vmSize": vm_size,
        "vnet": input.vnet,
        "subnet": subnet,
        "networkResourceGroup": input.vnet_resource_group,
        "resourceGroup": input.cluster_resource_group,
        "publicIP": false,
        "osDisk": {"diskSizeGB": disk, "osType": "Linux", "managedDisk": {"storageAccountType": "Premium_LRS"}},
        "image": {"resourceID": "", "offer": "aro4", "publisher": "azureopenshift", "sku": "aro_415", "version": "415.92.20240301"}
    })
}

fn node(name: &str, role: &str, zone: u32, input: &SeedInput) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                format!("node-role.kubernetes.io/{role}"): "",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "topology.kubernetes.io/region": input.location,
                "topology.kubernetes.io/zone": format!("{}-{zone}", input.location),
                "node.kubernetes.io/instance-type": if role == "master" { &input.master_vm_size } else { &input.worker_vm_size },
            }
        },
        "spec": {"providerID": format!(
            "azure:///subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{name}",
            input.subscription_id, input.cluster_resource_group
        )},
        "status": {
            "conditions": [condition("Ready", "True")],
            "nodeInfo": {"kubeletVersion": "v1.28.0", "osImage": "Red Hat Enterprise Linux CoreOS", "architecture": "amd64",
                         "containerRuntimeVersion": "cri-o://1.28.0", "kernelVersion": "5.14.0", "operatingSystem": "linux",
                         "bootID": "", "machineID": "", "systemUUID": "", "kubeProxyVersion": ""}
        }
    })
}

fn machine(name: &str, role: &str, zone: u32, input: &SeedInput) -> Value {
    json!({
        "apiVersion": "machine.openshift.io/v1beta1",
        "kind": "Machine",
        "metadata": {
            "name": name,
            "namespace": "openshift-machine-api",
            "labels": {
                "machine.openshift.io/cluster-api-cluster": input.infra_id,
                "machine.openshift.io/cluster-api-machine-role": role,
                "machine.openshift.io/cluster-api-machine-type": role,
            }
        },
        "spec": {"providerSpec": {"value": provider_spec(input, role, zone)}},
        "status": {"phase": "Running", "nodeRef": {"kind": "Node", "name": name}}
    })
}

/// Every seeded object, in an order that can be applied one by one (namespaces first).
pub fn seed_objects(input: &SeedInput) -> Vec<Value> {
    let mut objects: Vec<Value> = NAMESPACES
        .iter()
        .map(|ns| json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .collect();

    let pull_secret = if input.pull_secret.is_blank() {
        r#"{"auths":{}}"#
    } else {
        input.pull_secret.expose_str()
    };
    objects.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": "pull-secret", "namespace": "openshift-config"},
        "data": {".dockerconfigjson": b64(pull_secret)}
    }));
    if let Some(sp) = &input.service_principal {
        let credentials = AzureCredentials {
            subscription_id: &input.subscription_id,
            tenant_id: &sp.tenant_id,
            resource_prefix: &input.infra_id,
            resource_group: &input.cluster_resource_group,
            region: &input.location,
            client_id: &sp.client_id,
            client_secret: sp.client_secret.expose_str(),
        };
        objects.push(credentials.secret());
    }
    // The cloud-credential-operator's pod (what ARO-RP deletes to restart it) and one of the
    // CredentialsRequests a cluster is installed with.
    objects.push(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "cloud-credential-operator-0", "namespace": CLOUD_CREDENTIAL_OPERATOR_NAMESPACE,
                     "labels": {"app": "cloud-credential-operator"}},
        "spec": {"containers": [{"name": "cloud-credential-operator", "image": "cloud-credential-operator"}]}
    }));
    objects.push(json!({
        "apiVersion": "cloudcredential.openshift.io/v1", "kind": "CredentialsRequest",
        "metadata": {"name": "openshift-machine-api-azure", "namespace": CLOUD_CREDENTIAL_OPERATOR_NAMESPACE},
        "spec": {
            "providerSpec": {"apiVersion": "cloudcredential.openshift.io/v1", "kind": "AzureProviderSpec",
                             "roleBindings": [{"role": "Contributor"}]},
            "secretRef": {"name": "azure-cloud-credentials", "namespace": "openshift-machine-api"},
            "serviceAccountNames": ["machine-api-controllers"]
        }
    }));
    objects.push(json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "alertmanager-main", "namespace": "openshift-monitoring"},
        "data": {"alertmanager.yaml": b64(DEFAULT_ALERTMANAGER_YAML)}
    }));

    let history = json!([{"state": "Completed", "version": input.version, "image": "",
                          "startedTime": "2026-01-01T00:00:00Z", "completionTime": "2026-01-01T00:00:00Z", "verified": false}]);
    objects.push(json!({
        "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
        "metadata": {"name": "version"},
        "spec": {"clusterID": "00000000-0000-0000-0000-000000000000", "channel": format!("stable-{}", minor(&input.version))},
        "status": {
            "desired": {"version": input.version, "image": ""},
            "history": history,
            "observedGeneration": 1,
            "versionHash": "",
            "availableUpdates": null,
            "conditions": [condition("Available", "True"), condition("Progressing", "False"), condition("Failing", "False")]
        }
    }));
    for name in CLUSTER_OPERATORS {
        objects.push(json!({
            "apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator",
            "metadata": {"name": name},
            "status": {
                "conditions": [condition("Available", "True"), condition("Progressing", "False"), condition("Degraded", "False")],
                "versions": [{"name": "operator", "version": input.version}]
            }
        }));
    }
    objects.push(json!({
        "apiVersion": "config.openshift.io/v1", "kind": "Infrastructure",
        "metadata": {"name": "cluster"},
        "spec": {"platformSpec": {"type": "Azure"}},
        "status": {
            "infrastructureName": input.infra_id,
            "apiServerURL": format!("https://api.{}:6443", input.domain),
            "apiServerInternalURI": format!("https://api-int.{}:6443", input.domain),
            "platform": "Azure",
            "platformStatus": {"type": "Azure", "azure": {"resourceGroupName": input.cluster_resource_group,
                                                         "networkResourceGroupName": input.vnet_resource_group,
                                                         "cloudName": "AzurePublicCloud"}}
        }
    }));
    objects.push(json!({
        "apiVersion": "config.openshift.io/v1", "kind": "Ingress",
        "metadata": {"name": "cluster"},
        "spec": {"domain": format!("apps.{}", input.domain)}
    }));

    for pool in ["master", "worker"] {
        objects.push(json!({
            "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
            "metadata": {"name": pool, "labels": {format!("pools.operator.machineconfiguration.openshift.io/{pool}"): ""}},
            "spec": {
                "machineConfigSelector": {"matchLabels": {"machineconfiguration.openshift.io/role": pool}},
                "nodeSelector": {"matchLabels": {format!("node-role.kubernetes.io/{pool}"): ""}}
            },
            "status": {"conditions": [condition("Updated", "True"), condition("Updating", "False"), condition("Degraded", "False")]}
        }));
    }

    for i in 0..3u32 {
        let name = format!("{}-master-{i}", input.infra_id);
        objects.push(machine(&name, "master", i + 1, input));
        objects.push(node(&name, "master", i + 1, input));
    }
    for (zone, (set, replicas)) in worker_machineset_names(input)
        .into_iter()
        .zip(replicas_per_machineset(input.worker_count))
        .enumerate()
    {
        let zone = zone as u32 + 1;
        let labels = json!({
            "machine.openshift.io/cluster-api-cluster": input.infra_id,
            "machine.openshift.io/cluster-api-machineset": set,
        });
        objects.push(json!({
            "apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet",
            "metadata": {"name": set, "namespace": "openshift-machine-api",
                         "labels": {"machine.openshift.io/cluster-api-cluster": input.infra_id}},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": {
                        "machine.openshift.io/cluster-api-cluster": input.infra_id,
                        "machine.openshift.io/cluster-api-machine-role": "worker",
                        "machine.openshift.io/cluster-api-machine-type": "worker",
                        "machine.openshift.io/cluster-api-machineset": set,
                    }},
                    "spec": {"providerSpec": {"value": provider_spec(input, "worker", zone)}}
                }
            },
            "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
        }));
        for n in 0..replicas {
            let name = format!("{set}-w{n}");
            objects.push(machine(&name, "worker", zone, input));
            objects.push(node(&name, "worker", zone, input));
        }
    }
    objects
}

fn minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(workers: u32) -> SeedInput {
        SeedInput {
            subscription_id: "sub".into(),
            worker_count: workers,
            ..SeedInput::example()
        }
    }

    fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
        objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    #[test]
    fn workers_are_spread_over_three_machinesets() {
        assert_eq!(replicas_per_machineset(3), [1, 1, 1]);
        assert_eq!(replicas_per_machineset(5), [2, 2, 1]);
        assert_eq!(replicas_per_machineset(2), [1, 1, 0]);
        let objects = seed_objects(&input(5));
        let sets = of_kind(&objects, "MachineSet");
        assert_eq!(sets.len(), 3);
        let total: u64 = sets
            .iter()
            .map(|s| s["spec"]["replicas"].as_u64().unwrap())
            .sum();
        assert_eq!(total, 5);
        assert!(sets.iter().all(|s| {
            s["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("demo-abcde-worker-eastus")
        }));
        assert_eq!(of_kind(&objects, "Node").len(), 3 + 5);
        assert_eq!(of_kind(&objects, "Machine").len(), 3 + 5);
    }

    #[test]
    fn namespaces_come_before_namespaced_objects() {
        let objects = seed_objects(&input(3));
        let last_namespace = objects
            .iter()
            .rposition(|o| o["kind"] == "Namespace")
            .unwrap();
        let first_namespaced = objects
            .iter()
            .position(|o| o["metadata"].get("namespace").is_some())
            .unwrap();
        assert!(last_namespace < first_namespaced);
        for o in &objects {
            if let Some(ns) = o["metadata"]["namespace"].as_str() {
                assert!(NAMESPACES.contains(&ns), "{ns} is not seeded");
            }
        }
    }

    #[test]
    fn secrets_carry_pull_secret_and_default_alertmanager_config() {
        use base64::Engine;
        let mut i = input(3);
        i.pull_secret = r#"{"auths":{"cloud.openshift.com":{"auth":"eA=="}}}"#.into();
        let objects = seed_objects(&i);
        let secrets = of_kind(&objects, "Secret");
        let decode = |v: &Value| {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap())
                    .unwrap(),
            )
            .unwrap()
        };
        let pull = secrets
            .iter()
            .find(|s| s["metadata"]["name"] == "pull-secret")
            .unwrap();
        assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
        assert_eq!(
            decode(&pull["data"][".dockerconfigjson"]),
            *i.pull_secret.expose()
        );
        let am = secrets
            .iter()
            .find(|s| s["metadata"]["name"] == "alertmanager-main")
            .unwrap();
        assert!(decode(&am["data"]["alertmanager.yaml"]).contains("name: \"null\""));

        let empty = seed_objects(&input(3));
        let pull = of_kind(&empty, "Secret")
            .into_iter()
            .find(|s| s["metadata"]["name"] == "pull-secret")
            .unwrap();
        assert_eq!(
            decode(&pull["data"][".dockerconfigjson"]),
            r#"{"auths":{}}"#
        );
    }

    #[test]
    fn cluster_version_reports_the_installed_version() {
        let objects = seed_objects(&input(3));
        let cv = of_kind(&objects, "ClusterVersion")[0];
        assert_eq!(cv["status"]["desired"]["version"], "4.15.35");
        assert_eq!(cv["spec"]["channel"], "stable-4.15");
        assert_eq!(cv["status"]["history"][0]["state"], "Completed");
        assert_eq!(
            of_kind(&objects, "ClusterOperator").len(),
            CLUSTER_OPERATORS.len()
        );
        assert_eq!(of_kind(&objects, "MachineConfigPool").len(), 2);
    }
}
