//! What ARM and an SRE would have set up in the management cluster before the first cluster: the
//! demo subscription registered, the local OpenShift version (the default) and its platform
//! workload identity role set.

use arm_emulator::demo;
use crds::management::{
    OpenShiftVersion, OpenShiftVersionSpec, PlatformWorkloadIdentityRole,
    PlatformWorkloadIdentityRoleSet, PlatformWorkloadIdentityRoleSetSpec, SecretLocation,
    Subscription, SubscriptionSpec,
};
use kube::api::{Api, PostParams};

use crate::{LOCAL_VERSION, Result};

/// Create the seed objects that do not exist yet (existing ones are left as they are).
pub async fn seed_management_cluster(client: &kube::Client) -> Result<()> {
    let subs: Api<Subscription> = Api::all(client.clone());
    create_absent(
        &subs,
        &Subscription::new(
            demo::SUBSCRIPTION,
            SubscriptionSpec {
                tenant_id: Some(demo::TENANT.into()),
                ..Default::default()
            },
        ),
    )
    .await?;
    let versions: Api<OpenShiftVersion> = Api::all(client.clone());
    create_absent(
        &versions,
        &OpenShiftVersion::new(
            LOCAL_VERSION,
            OpenShiftVersionSpec {
                version: LOCAL_VERSION.into(),
                open_shift_pullspec: format!(
                    "quay.io/openshift-release-dev/ocp-release:{LOCAL_VERSION}-x86_64"
                ),
                installer_pullspec: format!("arosvc.azurecr.io/aro-installer:{LOCAL_VERSION}"),
                enabled: true,
                default: true,
            },
        ),
    )
    .await?;

    let role_sets: Api<PlatformWorkloadIdentityRoleSet> = Api::all(client.clone());
    let role_set = local_role_set();
    create_absent(
        &role_sets,
        &PlatformWorkloadIdentityRoleSet::new(&role_set.open_shift_version, role_set.clone()),
    )
    .await?;
    Ok(())
}

/// Create `object` unless an object of that name exists.
async fn create_absent<K>(api: &Api<K>, object: &K) -> Result<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(_) => Ok(()),
        Err(e) if aro_common::kube_client::is_conflict(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The platform workload identity role set of the local OpenShift minor version: the operators
/// and built-in roles ARO publishes for 4.15, so workload identity clusters can be created locally.
fn local_role_set() -> PlatformWorkloadIdentityRoleSetSpec {
    let minor: String = LOCAL_VERSION
        .splitn(3, '.')
        .take(2)
        .collect::<Vec<_>>()
        .join(".");
    // ARO's secret locations: where each operator reads its identity's Secret.
    let secret_location = |operator: &str| {
        let (namespace, name) = match operator {
            "CloudControllerManager" => (
                "openshift-cloud-controller-manager",
                "azure-cloud-credentials",
            ),
            "ClusterIngressOperator" => ("openshift-ingress-operator", "cloud-credentials"),
            "MachineApiOperator" => ("openshift-machine-api", "azure-cloud-credentials"),
            "StorageOperator" => ("openshift-cluster-csi-drivers", "azure-disk-credentials"),
            "NetworkOperator" => (
                "openshift-cloud-network-config-controller",
                "cloud-credentials",
            ),
            "ImageRegistryOperator" => ("openshift-image-registry", "installer-cloud-credentials"),
            "AzureFilesStorageOperator" => {
                ("openshift-cluster-csi-drivers", "azure-file-credentials")
            }
            _ => ("openshift-azure-operator", "azure-cloud-credentials"),
        };
        Some(SecretLocation {
            namespace: namespace.into(),
            name: name.into(),
        })
    };
    let role =
        |operator: &str, name: &str, guid: &str, accounts: &[&str]| PlatformWorkloadIdentityRole {
            operator_name: operator.into(),
            role_definition_name: format!("Azure Red Hat OpenShift {name} Role"),
            role_definition_id: format!(
                "/providers/Microsoft.Authorization/roleDefinitions/{guid}"
            ),
            service_accounts: accounts
                .iter()
                .map(|a| format!("system:serviceaccount:{a}"))
                .collect(),
            secret_location: secret_location(operator),
        };
    PlatformWorkloadIdentityRoleSetSpec {
        open_shift_version: minor,
        platform_workload_identity_roles: vec![
            role(
                "CloudControllerManager",
                "Cloud Controller Manager",
                "a1f96423-95ce-4224-ab27-4e3dc72facd4",
                &["openshift-cloud-controller-manager:cloud-controller-manager"],
            ),
            role(
                "ClusterIngressOperator",
                "Cluster Ingress Operator",
                "0336e1d3-7a87-462b-b6db-342b63f7802c",
                &["openshift-ingress-operator:ingress-operator"],
            ),
            role(
                "MachineApiOperator",
                "Machine API Operator",
                "0358943c-7e01-48ba-8889-02cc51d78637",
                &["openshift-machine-api:machine-api-operator"],
            ),
            role(
                "StorageOperator",
                "Storage Operator",
                "5b7237c5-45e1-49d6-bc18-a1f62f400748",
                &[
                    "openshift-cluster-csi-drivers:azure-disk-csi-driver-operator",
                    "openshift-cluster-csi-drivers:azure-disk-csi-driver-controller-sa",
                ],
            ),
            role(
                "NetworkOperator",
                "Network Operator",
                "be7a6435-15ae-4171-8f30-4a343eff9e8f",
                &["openshift-cloud-network-config-controller:cloud-network-config-controller"],
            ),
            role(
                "ImageRegistryOperator",
                "Image Registry Operator",
                "8b32b316-c2f5-4ddf-b05b-83dacd2d08b5",
                &[
                    "openshift-image-registry:cluster-image-registry-operator",
                    "openshift-image-registry:registry",
                ],
            ),
            role(
                "AzureFilesStorageOperator",
                "Azure Files Storage Operator",
                "0d7aedc0-15fd-4a67-a412-efad370c947e",
                &[
                    "openshift-cluster-csi-drivers:azure-file-csi-driver-operator",
                    "openshift-cluster-csi-drivers:azure-file-csi-driver-controller-sa",
                    "openshift-cluster-csi-drivers:azure-file-csi-driver-node-sa",
                ],
            ),
            role(
                "ServiceOperator",
                "Service Operator",
                "4436bae4-7702-4c84-919b-c4069ff25ee2",
                &["openshift-azure-operator:aro-operator-master"],
            ),
        ],
    }
}
