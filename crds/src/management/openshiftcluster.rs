//! `OpenShiftCluster`: one ARO cluster as ARM knows it.
//!
//! The spec is the RP's internal model: the superset of the properties of every supported ARM API
//! version that a customer or an SRE (admin API) can set. Everything the RP computes or observes
//! (provisioning state, URLs, IPs, install progress) lives in the status. Secrets (pull secret,
//! service principal secret, kubeconfigs, kubeadmin password, SSH key) are never stored here: they
//! live in Secrets referenced by name.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ArmError, SecretReference, SystemData};

/// Desired state of an ARO cluster: the RP's internal model of an ARM `openShiftClusters` resource.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "rp.aro.openshift.io",
    version = "v1",
    kind = "OpenShiftCluster",
    plural = "openshiftclusters",
    singular = "openshiftcluster",
    namespaced,
    status = "OpenShiftClusterStatus",
    derive = "PartialEq",
    derive = "Default",
    shortname = "osc",
    category = "aro",
    doc = "An Azure Red Hat OpenShift cluster (ARM resource Microsoft.RedHatOpenShift/openShiftClusters) managed by the resource provider.",
    printcolumn = r#"{"name":"Cluster","type":"string","description":"ARM resource name","jsonPath":".spec.name"}"#,
    printcolumn = r#"{"name":"Resource Group","type":"string","description":"ARM resource group","jsonPath":".spec.resourceGroup"}"#,
    printcolumn = r#"{"name":"State","type":"string","description":"ARM provisioning state","jsonPath":".status.provisioningState"}"#,
    printcolumn = r#"{"name":"Version","type":"string","description":"OpenShift version","jsonPath":".spec.clusterProfile.version"}"#,
    printcolumn = r#"{"name":"Location","type":"string","priority":1,"description":"Azure region","jsonPath":".spec.location"}"#,
    printcolumn = r#"{"name":"Step","type":"string","priority":1,"description":"Current lifecycle step","jsonPath":".status.progress.step"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftClusterSpec {
    /// ARM resource id as last written by the customer (original case preserved), e.g.
    /// `/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.RedHatOpenShift/openShiftClusters/<name>`.
    pub resource_id: String,
    /// Subscription id (lowercase UUID).
    pub subscription_id: String,
    /// Resource group name (original case).
    pub resource_group: String,
    /// Resource name (original case).
    pub name: String,
    /// Azure region of the cluster, e.g. `eastus`.
    pub location: String,
    /// ARM tags; a PATCH with `tags` replaces the whole map.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// ARM systemData as last reported by ARM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_data: Option<SystemData>,
    /// Managed identity of the cluster (workload identity clusters, API 2024-08-12-preview and later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<ManagedServiceIdentity>,
    /// Cluster architecture: 1 = three load balancers and two NSGs, 2 = two load balancers and one NSG.
    #[serde(default = "default_architecture_version")]
    pub architecture_version: i32,
    /// Cluster-wide settings: domain, version, cluster resource group, FIPS.
    #[serde(default)]
    pub cluster_profile: ClusterProfile,
    /// Service principal of the cluster (service principal clusters). The secret is in the Secret
    /// named by `secretsRef` under the key `servicePrincipalClientSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_profile: Option<ServicePrincipalProfile>,
    /// Platform workload identities (workload identity clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_workload_identity_profile: Option<PlatformWorkloadIdentityProfile>,
    /// Pod and service networks and outbound connectivity.
    #[serde(default)]
    pub network_profile: NetworkProfile,
    /// Control plane machines.
    #[serde(default)]
    pub master_profile: MasterProfile,
    /// Worker machine pools (exactly one named `worker` at creation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worker_profiles: Vec<WorkerProfile>,
    /// API server exposure.
    #[serde(default)]
    pub apiserver_profile: ApiServerProfile,
    /// Ingress controllers (exactly one named `default` at creation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_profiles: Vec<IngressProfile>,
    /// RP-side features of the cluster.
    #[serde(default)]
    pub feature_profile: FeatureProfile,
    /// Admin API: the maintenance task requested by an SRE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_task: Option<MaintenanceTask>,
    /// Admin API: flags of the in-cluster ARO operator (`aro.<controller>.enabled` and friends).
    /// Empty means the defaults.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operator_flags: BTreeMap<String, String>,
    /// Admin API: the ARO operator version to deploy instead of the RP's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_version: Option<String>,
    /// Secret holding what the customer supplied and the RP must keep: `pullSecret`,
    /// `servicePrincipalClientSecret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_ref: Option<SecretReference>,
}

fn default_architecture_version() -> i32 {
    2
}

/// Managed identity of a cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedServiceIdentity {
    /// Identity type; only `UserAssigned` is supported.
    #[serde(rename = "type")]
    pub type_: String,
    /// User-assigned identities by ARM resource id (exactly one).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub user_assigned_identities: BTreeMap<String, UserAssignedIdentity>,
    /// Principal id of a system-assigned identity (unused by ARO, kept for round trips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    /// Tenant id of the identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// Managed identity data-plane URL ARM passed in `x-ms-identity-url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_url: Option<String>,
}

/// A user-assigned identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserAssignedIdentity {
    /// Client (application) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Principal (object) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
}

/// Cluster-wide settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterProfile {
    /// Domain of the cluster: a single label (under the RP's parent domain) or a custom FQDN.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    /// OpenShift version, e.g. `4.15.35`. Empty at creation means the RP's default version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// ARM id of the cluster resource group the RP creates and manages.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_group_id: String,
    /// Whether FIPS-validated cryptography modules are used.
    #[serde(default)]
    pub fips_validated_modules: Toggle,
}

/// Service principal of a cluster; the secret is stored in a Secret.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipalProfile {
    /// Client (application) id of the service principal.
    pub client_id: String,
}

/// Platform workload identities of a workload identity cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentityProfile {
    /// Operator name -> user-assigned identity used by that operator.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platform_workload_identities: BTreeMap<String, PlatformWorkloadIdentity>,
    /// OpenShift version the customer has prepared identities for (upgrade gate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgradeable_to: Option<String>,
}

/// One platform workload identity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformWorkloadIdentity {
    /// ARM id of the user-assigned identity.
    pub resource_id: String,
    /// Client id of the identity (filled in by the RP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Object id of the identity (filled in by the RP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// Pod and service networks and outbound connectivity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkProfile {
    /// CIDR of the pod network, e.g. `10.128.0.0/14`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pod_cidr: String,
    /// CIDR of the service network, e.g. `172.30.0.0/16`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_cidr: String,
    /// Software defined network (2021-09-01-preview only): `OpenShiftSDN` or `OVNKubernetes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_defined_network: Option<String>,
    /// Outbound routing: through the cluster's load balancer or user-defined routes.
    #[serde(default)]
    pub outbound_type: OutboundType,
    /// Whether the customer brings their own NSGs on the subnets.
    #[serde(default, rename = "preconfiguredNSG")]
    pub preconfigured_nsg: Toggle,
    /// Public load balancer outbound settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_profile: Option<LoadBalancerProfile>,
}

/// Public load balancer outbound settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerProfile {
    /// RP-managed outbound public IPs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_outbound_ips: Option<ManagedOutboundIps>,
    /// Customer-provided outbound public IP ids (2023-07-01-preview).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound_ips: Vec<ResourceReference>,
    /// Customer-provided outbound public IP prefix ids (2023-07-01-preview).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outbound_ip_prefixes: Vec<ResourceReference>,
    /// SNAT ports per VM (2023-07-01-preview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocated_outbound_ports: Option<i32>,
}

/// Number of RP-managed outbound public IPs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedOutboundIps {
    /// Desired number of outbound IPs (1..20).
    pub count: i32,
}

/// A reference to an ARM resource by id.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceReference {
    /// ARM resource id.
    pub id: String,
}

/// Control plane machines.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MasterProfile {
    /// VM size, e.g. `Standard_D8s_v3`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vm_size: String,
    /// ARM id of the master subnet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet_id: String,
    /// Whether encryption at host is enabled.
    #[serde(default)]
    pub encryption_at_host: Toggle,
    /// ARM id of the disk encryption set, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_encryption_set_id: Option<String>,
}

/// A worker machine pool.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkerProfile {
    /// Pool name (`worker` at creation).
    pub name: String,
    /// VM size, e.g. `Standard_D4s_v3`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vm_size: String,
    /// OS disk size in GB (at least 128).
    #[serde(default, rename = "diskSizeGB")]
    pub disk_size_gb: i32,
    /// ARM id of the worker subnet.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subnet_id: String,
    /// Number of machines (2..50 at creation).
    #[serde(default)]
    pub count: i32,
    /// Whether encryption at host is enabled.
    #[serde(default)]
    pub encryption_at_host: Toggle,
    /// ARM id of the disk encryption set, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_encryption_set_id: Option<String>,
}

/// API server exposure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiServerProfile {
    /// Public or Private.
    #[serde(default)]
    pub visibility: Visibility,
}

/// An ingress controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressProfile {
    /// Ingress controller name (`default` at creation).
    pub name: String,
    /// Public or Private.
    #[serde(default)]
    pub visibility: Visibility,
}

/// RP-side features of a cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureProfile {
    /// Whether egress goes through the ARO gateway.
    #[serde(default)]
    pub gateway_enabled: bool,
}

/// Enabled or Disabled, as ARM spells it.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Toggle {
    /// The feature is on.
    Enabled,
    /// The feature is off (the default).
    #[default]
    Disabled,
}

/// Public or Private exposure.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum Visibility {
    /// Reachable from the internet.
    #[default]
    Public,
    /// Reachable only from the virtual network.
    Private,
}

/// How the cluster reaches the internet.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum OutboundType {
    /// Through the cluster's public load balancer (the default).
    #[default]
    Loadbalancer,
    /// Through the customer's route table (requires private API server and ingress).
    UserDefinedRouting,
}

/// ARM provisioning state of a cluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ProvisioningState {
    /// The RP is installing the cluster.
    #[default]
    Creating,
    /// The RP is applying a customer update.
    Updating,
    /// The RP is running an SRE maintenance task.
    AdminUpdating,
    /// The RP is deleting the cluster.
    Deleting,
    /// The last operation succeeded.
    Succeeded,
    /// The last operation failed; see failedProvisioningState.
    Failed,
    /// The last operation was canceled (never set by ARO).
    Canceled,
}

impl ProvisioningState {
    /// Terminal states accept new writes; non-terminal states are being worked on.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Canceled)
    }

    /// The ARM spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "Creating",
            Self::Updating => "Updating",
            Self::AdminUpdating => "AdminUpdating",
            Self::Deleting => "Deleting",
            Self::Succeeded => "Succeeded",
            Self::Failed => "Failed",
            Self::Canceled => "Canceled",
        }
    }
}

impl std::fmt::Display for ProvisioningState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is no provisioning state's ARM spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownProvisioningState(pub String);

impl std::fmt::Display for UnknownProvisioningState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown provisioning state {:?}", self.0)
    }
}

impl std::error::Error for UnknownProvisioningState {}

impl std::str::FromStr for ProvisioningState {
    type Err = UnknownProvisioningState;

    /// The ARM spelling, exactly (as the pending-state annotation records it).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        use ProvisioningState::*;
        [
            Creating,
            Updating,
            AdminUpdating,
            Deleting,
            Succeeded,
            Failed,
            Canceled,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
        .ok_or_else(|| UnknownProvisioningState(value.to_string()))
    }
}

/// An SRE maintenance task requested through the admin API.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum MaintenanceTask {
    /// Every fix-up, certificate renewal and operator update.
    Everything,
    /// Redeploy the ARO operator.
    OperatorUpdate,
    /// Renew the cluster's certificates.
    CertificatesRenewal,
    /// Refresh the in-cluster `Cluster` object.
    SyncClusterObject,
    /// Migrate to the current load balancer layout.
    MigrateLoadBalancer,
    /// Only record that maintenance is pending.
    Pending,
    /// Only record that no maintenance is pending.
    None,
    /// Only record that the customer must act.
    CustomerActionNeeded,
}

impl MaintenanceTask {
    /// Tasks that run work (and so move the cluster to AdminUpdating); the others only set
    /// maintenanceState.
    pub fn runs_work(self) -> bool {
        !matches!(
            self,
            Self::Pending | Self::None | Self::CustomerActionNeeded
        )
    }
}

/// Maintenance state shown to SREs.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum MaintenanceState {
    /// No maintenance.
    None,
    /// Maintenance is pending.
    Pending,
    /// Planned maintenance is running.
    Planned,
    /// Unplanned maintenance is running.
    Unplanned,
    /// The customer must act.
    CustomerActionNeeded,
}

/// Observed state of an ARO cluster: provisioning state machine, lifecycle progress and everything
/// the RP computed or discovered (URLs, IPs, infrastructure ids).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenShiftClusterStatus {
    /// Current ARM provisioning state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_state: Option<ProvisioningState>,
    /// Terminal state before the current non-terminal one (restored after AdminUpdating).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_provisioning_state: Option<ProvisioningState>,
    /// The non-terminal state that ended in Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_provisioning_state: Option<ProvisioningState>,
    /// Error of the last admin update, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_admin_update_error: Option<String>,
    /// Maintenance state shown to SREs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_state: Option<MaintenanceState>,
    /// Id of the async operation currently driving this cluster (AsyncOperation name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub async_operation_id: Option<String>,
    /// metadata.generation the status was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Standard conditions: Ready, Progressing, Degraded and one per lifecycle concern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Progress of the current lifecycle operation (install, update, admin update, delete).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<LifecycleProgress>,
    /// Customer-facing error of the last failed operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ArmError>,
    /// Details of the last operation's internal failure, for SREs (admin API only); customers see
    /// only the generic InternalServerError.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_error: Option<String>,
    /// When the RP accepted the create (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// RP version that accepted the create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// RP version that last provisioned the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_by: Option<String>,
    /// Infrastructure id of the cluster (prefix of its Azure resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infra_id: Option<String>,
    /// Random suffix of the cluster's storage accounts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_suffix: Option<String>,
    /// Availability zones the cluster's VM size offers in the region.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
    /// Object id of the cluster service principal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_principal_object_id: Option<String>,
    /// Platform workload identities as the RP last read them from Azure (operator name ->
    /// resource id, client id, object id): what its federated credentials, role assignments and
    /// deny assignment exclusions were made for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub platform_workload_identities: BTreeMap<String, PlatformWorkloadIdentity>,
    /// Resource ids of platform workload identities the cluster no longer uses whose federated
    /// credentials the RP has yet to delete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_workload_identities: Vec<String>,
    /// OpenShift console URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_url: Option<String>,
    /// API server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver_url: Option<String>,
    /// API server IP (public or private by visibility).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver_ip: Option<String>,
    /// Internal API server IP (api-int).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apiserver_int_ip: Option<String>,
    /// IPs of the ingress controllers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress_ips: Vec<IngressIp>,
    /// OIDC issuer URL (workload identity clusters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<String>,
    /// Worker pools as they exist in the cluster (read-only in the API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worker_profiles_status: Vec<WorkerProfile>,
    /// Outbound public IPs in use by the load balancer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effective_outbound_ips: Vec<ResourceReference>,
    /// MTU of the cluster network (1500 or 3900).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu_size: Option<i32>,
    /// IP of the RP's private endpoint into the cluster vnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_endpoint_ip: Option<String>,
    /// IP of the gateway private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_private_endpoint_ip: Option<String>,
    /// Id of the gateway private link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_private_link_id: Option<String>,
    /// Secret holding what the RP generated: `kubeadminPassword`, `adminKubeconfig`, `sshPrivateKey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_ref: Option<SecretReference>,
}

/// IP of an ingress controller.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngressIp {
    /// Ingress profile name.
    pub name: String,
    /// Its IP.
    pub ip: String,
}

/// Where the current lifecycle operation is, so a restarted controller resumes it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LifecycleProgress {
    /// Operation: Install, Update, AdminUpdate or Delete.
    pub operation: String,
    /// Install phase (Bootstrap or RemoveBootstrap), empty for other operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Name of the step being run.
    pub step: String,
    /// Steps finished so far in this operation, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub completed_steps: Vec<String>,
    /// Attempts of the current step so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the current step started (RFC 3339); waits time out from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<String>,
    /// Polling URL of an Azure long-running operation the step is waiting for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_operation_url: Option<String>,
    /// Last retryable error of the step, for SREs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
