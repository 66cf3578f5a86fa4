//! The `hive` cluster runtime: ARO-RP's hive mode. Clusters are installed by Hive running on a
//! management cluster (the "Hive cluster"): per cluster the runtime writes, with server-side
//! apply, a namespace `<prefix><infra id>` (deterministic, so a restarted controller finds it
//! again), the Secrets Hive reads (Azure credentials, pull secret, install-config, extra install
//! manifests), a cluster-scoped `ClusterImageSet` per OpenShift version and a `ClusterDeployment`
//! named `cluster`, as ARO-RP's pkg/hive does. Hive runs the installer; the runtime only reads
//! what Hive reports on the ClusterDeployment (Hive's apis/hive/v1):
//!
//! * `spec.installed` with `spec.clusterMetadata`: installed; the admin kubeconfig and the
//!   kubeadmin password come from the Secrets `clusterMetadata` names.
//! * condition `ProvisionFailed=True`: failed; the reason is mapped to a customer-facing error as
//!   ARO-RP's pkg/hive/failure does, with the ARM error taken from the latest `ClusterProvision`'s
//!   install log ([`provision_failed_error`]).
//! * condition `ProvisionStopped=True` (Hive gave up, e.g. `InstallAttemptsLimitReached`): failed.
//! * anything else: still installing. The runtime never waits for Hive: it answers
//!   [`Error::RuntimeInProgress`] and the step polls.
//!
//! Delete goes through the ClusterDeployment: deleting it makes Hive deprovision the cluster
//! (Hive's finalizer holds the object until its `ClusterDeprovision` finished); once it is gone
//! the namespace is deleted.
//!
//! Hive does not hand out the install's admin kubeconfig signer, which the customer's user-admin
//! kubeconfig needs. So the runtime makes a client-certificate signer per cluster (kept in the
//! cluster's Hive namespace) and ships its CA to the cluster as install manifests: a ConfigMap in
//! `openshift-config` and the `APIServer` `cluster` naming it in `spec.clientCA`, OpenShift's
//! way of trusting an additional client CA.

use std::collections::HashMap;
use std::time::Duration;

use aro_operator::manifests::OperatorDeployValues;
use async_trait::async_trait;
use base64::Engine;
use crds::{ArmError, ArmErrorDetail};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

use super::installer::{SignerPem, api_url_of, install_config, user_admin_kubeconfig};
use super::seed::SeedInput;
use super::{ClusterAccess, ClusterRuntime, remote};
use crate::{Error, Result};

/// Hive's API group.
pub const HIVE_GROUP: &str = "hive.openshift.io";
/// Hive's API version.
pub const HIVE_VERSION: &str = "v1";
/// The ClusterDeployment of every cluster namespace (ARO-RP's `ClusterDeploymentName`).
pub const CLUSTER_DEPLOYMENT_NAME: &str = "cluster";
/// Azure credentials Hive installs and deprovisions with.
pub const SERVICE_PRINCIPAL_SECRET: &str = "cluster-service-principal-secret";
/// Key of [`SERVICE_PRINCIPAL_SECRET`]: `{"subscriptionId","clientId","clientSecret","tenantId"}`
/// (what openshift-install reads as `osServicePrincipal.json`).
pub const SERVICE_PRINCIPAL_KEY: &str = "osServicePrincipal.json";
/// The pull secret (`spec.pullSecretRef`).
pub const PULL_SECRET_SECRET: &str = "aro-pullsecret";
/// Key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// The install config (`spec.provisioning.installConfigSecretRef`).
pub const INSTALL_CONFIG_SECRET: &str = "aro-installconfig";
/// Key of [`INSTALL_CONFIG_SECRET`].
pub const INSTALL_CONFIG_KEY: &str = "install-config.yaml";
/// Extra install manifests (`spec.provisioning.manifestsSecretRef`).
pub const MANIFESTS_SECRET: &str = "cluster-manifests-secret";
/// The per-cluster signer of user-admin client certificates (`kubernetes.io/tls`).
pub const USER_ADMIN_SIGNER_SECRET: &str = "aro-user-admin-signer";
/// The ConfigMap in `openshift-config` holding the signer's CA (`ca-bundle.crt`), which the
/// cluster's `APIServer` names in `spec.clientCA`.
pub const USER_ADMIN_CLIENT_CA_CONFIGMAP: &str = "aro-user-admin-client-ca";
/// Key of a CA bundle ConfigMap that `APIServer.spec.clientCA` names.
pub const CA_BUNDLE_KEY: &str = "ca-bundle.crt";
/// Manifest file (a key of [`MANIFESTS_SECRET`]) of the client CA ConfigMap.
pub const CLIENT_CA_CONFIGMAP_MANIFEST: &str = "aro-user-admin-client-ca-configmap.yaml";
/// Manifest file (a key of [`MANIFESTS_SECRET`]) of the `APIServer` trusting it.
pub const CLIENT_CA_APISERVER_MANIFEST: &str = "aro-user-admin-client-ca-apiserver.yaml";
/// Label Hive sets on a ClusterProvision: the name of its ClusterDeployment.
pub const CLUSTER_DEPLOYMENT_NAME_LABEL: &str = "hive.openshift.io/cluster-deployment-name";
/// Keys of Hive's admin kubeconfig Secret: with the CAs Hive adds, and as the installer wrote it.
pub const ADMIN_KUBECONFIG_KEYS: [&str; 2] = ["kubeconfig", "raw-kubeconfig"];
/// Key of Hive's admin password Secret.
pub const ADMIN_PASSWORD_KEY: &str = "password";
/// Field manager of everything the runtime applies.
pub const FIELD_MANAGER: &str = "aro-rp-hive";
/// The default namespace prefix (ARO-RP: `aro-<uuid>`; here `aro-<infra id>`).
pub const DEFAULT_NAMESPACE_PREFIX: &str = "aro-";
/// How often a step asks again while Hive works (ARO-RP polls Hive every 10 s).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(10);
/// How long the user-admin signer is valid (as openshift-install's admin kubeconfig signer).
const SIGNER_VALIDITY: time::Duration = time::Duration::days(3650);

/// Customer-facing message of a failed install Hive gives no known reason for (ARO-RP's
/// pkg/hive/failure `genericErr`, code `InternalServerError`).
pub const GENERIC_FAILURE_MESSAGE: &str = "Deployment failed.";
/// The line of the installer's log carrying the ARM error of a failed template deployment;
/// the error's JSON follows it (ARO-RP's pkg/hive/failure `parseDeploymentFailedJson`).
const DEPLOYMENT_FAILED_LOG_MARKER: &str =
    "level=error msg=400: DeploymentFailed: : Deployment failed. Details: : : ";
/// Detail of ARO-RP's `AzureKeyBasedAuthenticationNotPermitted` error.
const KEY_BASED_AUTHENTICATION_DETAIL: &str = "Cluster creation failed because key based authentication has been disabled on the ARO cluster storage account, most likely by an Azure Policy modify effect. Please ensure that any policies in your Azure subscription do not mutate this property on the storage accounts provisioned during ARO cluster deployment. See https://learn.microsoft.com/en-us/azure/governance/policy/concepts/effect-modify for more details.";

/// Hive's ProvisionFailed reasons ARO-RP maps to a customer-facing error, and the message of
/// each (ARO-RP's pkg/hive/failure `Reasons`). The first takes its error as it is; the others
/// wrap the ARM error of the install log.
const KEY_BASED_AUTHENTICATION_REASON: (&str, &str) = (
    "AzureKeyBasedAuthenticationNotPermitted",
    "Deployment failed with KeyBasedAuthenticationNotPermitted error. Please see details for more information.",
);
const WRAPPED_ARM_ERROR_REASONS: [(&str, &str); 4] = [
    (
        "AzureRequestDisallowedByPolicy",
        "Deployment failed due to RequestDisallowedByPolicy. Please see details for more information.",
    ),
    (
        "AzureInvalidTemplateDeployment",
        "Deployment failed. Please see details for more information.",
    ),
    (
        "AzureZonalAllocationFailed",
        "Deployment failed. Please see details for more information.",
    ),
    (
        "AzureOSProvisioningTimedOut",
        "Deployment failed due to OSProvisioningTimedOut. The cluster's virtual machines failed to start up in time. Please check your network configuration.",
    ),
];

/// Hive's API as this runtime uses it (deploy/hive/crds/, see its README): for a management
/// cluster without Hive (tests, local runs). A real Hive installation brings its own CRDs.
const HIVE_CRD_YAMLS: [&str; 4] = [
    include_str!("../../../deploy/hive/crds/clusterdeployments.hive.openshift.io.yaml"),
    include_str!("../../../deploy/hive/crds/clusterimagesets.hive.openshift.io.yaml"),
    include_str!("../../../deploy/hive/crds/clusterprovisions.hive.openshift.io.yaml"),
    include_str!("../../../deploy/hive/crds/clusterdeprovisions.hive.openshift.io.yaml"),
];

/// The CRDs of deploy/hive/crds/, parsed.
pub fn hive_crds() -> Result<Vec<CustomResourceDefinition>> {
    HIVE_CRD_YAMLS
        .iter()
        .map(|yaml| {
            serde_yaml::from_str(yaml).map_err(|e| Error::Runtime(format!("Hive CRD: {e}")))
        })
        .collect()
}

/// A Hive kind of [`HIVE_GROUP`]/[`HIVE_VERSION`].
pub fn hive_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(HIVE_GROUP, HIVE_VERSION, kind),
        plural,
    )
}

fn cluster_deployments() -> ApiResource {
    hive_resource("ClusterDeployment", "clusterdeployments")
}

fn cluster_image_sets() -> ApiResource {
    hive_resource("ClusterImageSet", "clusterimagesets")
}

fn cluster_provisions() -> ApiResource {
    hive_resource("ClusterProvision", "clusterprovisions")
}

/// Configuration of the hive runtime (the Hive cluster's client is given to
/// [`HiveRuntime::new`] beside it).
#[derive(Clone, Debug)]
pub struct HiveConfig {
    /// Prefix of each cluster's namespace in the Hive cluster: `<prefix><infra id>`.
    pub namespace_prefix: String,
    /// How long a step waits before asking again while Hive installs or deprovisions.
    pub poll_interval: Duration,
}

impl Default for HiveConfig {
    /// [`DEFAULT_NAMESPACE_PREFIX`] and [`DEFAULT_POLL_INTERVAL`].
    fn default() -> Self {
        Self {
            namespace_prefix: DEFAULT_NAMESPACE_PREFIX.into(),
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

/// Where the objects of one cluster live in the Hive cluster.
pub fn namespace_of(prefix: &str, infra_id: &str) -> Result<String> {
    let name = format!("{prefix}{infra_id}");
    let valid = !infra_id.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if valid {
        Ok(name)
    } else {
        Err(Error::Runtime(format!(
            "infra id {infra_id:?} gives no valid namespace name {name:?}"
        )))
    }
}

/// The ClusterImageSet of an OpenShift version (cluster-scoped, shared by the clusters of that
/// version): `openshift-v<version>`.
pub fn image_set_name(version: &str) -> String {
    let version: String = version
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("openshift-v{version}")
}

/// Everything the runtime writes to the Hive cluster for one cluster, in the order it is applied
/// (the ClusterDeployment last: once it exists, everything it references does).
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObjects {
    /// The cluster's namespace.
    pub namespace: Value,
    /// Azure credentials, pull secret, install config and manifests Secrets.
    pub secrets: Vec<Value>,
    /// The version's ClusterImageSet.
    pub image_set: Value,
    /// The ClusterDeployment.
    pub cluster_deployment: Value,
}

fn b64(data: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(data.as_bytes())
}

fn secret_object(namespace: &str, name: &str, type_: &str, data: &[(&str, String)]) -> Value {
    let data: serde_json::Map<String, Value> = data
        .iter()
        .map(|(k, v)| ((*k).to_string(), Value::String(b64(v))))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": type_,
        "data": data,
    })
}

/// The install manifests that make the cluster's API server trust `client_ca_pem` for client
/// certificates: (file name, YAML).
pub fn client_ca_manifests(client_ca_pem: &str) -> Result<Vec<(&'static str, String)>> {
    let configmap = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": USER_ADMIN_CLIENT_CA_CONFIGMAP, "namespace": "openshift-config"},
        "data": {CA_BUNDLE_KEY: client_ca_pem},
    });
    let apiserver = json!({
        "apiVersion": "config.openshift.io/v1",
        "kind": "APIServer",
        "metadata": {"name": "cluster"},
        "spec": {"clientCA": {"name": USER_ADMIN_CLIENT_CA_CONFIGMAP}},
    });
    let yaml = |v: &Value| {
        serde_yaml::to_string(v).map_err(|e| Error::Runtime(format!("install manifest: {e}")))
    };
    Ok(vec![
        (CLIENT_CA_CONFIGMAP_MANIFEST, yaml(&configmap)?),
        (CLIENT_CA_APISERVER_MANIFEST, yaml(&apiserver)?),
    ])
}

/// What the runtime writes for a cluster (pure): `namespace` is [`namespace_of`] the infra id,
/// `client_ca_pem` the CA of the cluster's user-admin signer.
pub fn desired_objects(
    namespace: &str,
    seed: &SeedInput,
    client_ca_pem: &str,
) -> Result<DesiredObjects> {
    if seed.release_pullspec.is_empty() {
        // Hive cannot install without a release image: the RP lacks the version's OpenShiftVersion.
        return Err(Error::ProvisionFailed(ArmError::new(
            crds::common::INTERNAL_SERVER_ERROR,
            format!(
                "The OpenShift version {:?} has no release image (no OpenShiftVersion of that name).",
                seed.version
            ),
        )));
    }
    let config = install_config(seed);
    let install_config_yaml = serde_yaml::to_string(&config)
        .map_err(|e| Error::Runtime(format!("install-config.yaml: {e}")))?;
    // The install's pull secret as the install config carries it (the RP's choice of registries).
    let pull_secret = config["pullSecret"]
        .as_str()
        .unwrap_or(r#"{"auths":{}}"#)
        .to_string();
    let service_principal = match &seed.service_principal {
        Some(sp) => vec![(
            SERVICE_PRINCIPAL_KEY,
            json!({
                "subscriptionId": seed.subscription_id,
                "clientId": sp.client_id,
                "clientSecret": sp.client_secret.expose(),
                "tenantId": sp.tenant_id,
            })
            .to_string(),
        )],
        // A workload-identity cluster has no service principal (ARO-RP leaves the Secret empty).
        None => Vec::new(),
    };
    let manifests = client_ca_manifests(client_ca_pem)?;
    let secrets = vec![
        secret_object(
            namespace,
            SERVICE_PRINCIPAL_SECRET,
            "Opaque",
            &service_principal,
        ),
        secret_object(
            namespace,
            PULL_SECRET_SECRET,
            "kubernetes.io/dockerconfigjson",
            &[(DOCKER_CONFIG_JSON_KEY, pull_secret)],
        ),
        secret_object(
            namespace,
            INSTALL_CONFIG_SECRET,
            "Opaque",
            &[(INSTALL_CONFIG_KEY, install_config_yaml)],
        ),
        secret_object(namespace, MANIFESTS_SECRET, "Opaque", &manifests),
    ];
    let image_set = image_set_name(&seed.version);
    let location = seed.location.to_ascii_lowercase();
    let (cluster_name, base_domain) = seed.domain.split_once('.').unwrap_or((&seed.domain, ""));
    let mut provisioning = json!({
        "installConfigSecretRef": {"name": INSTALL_CONFIG_SECRET},
        "manifestsSecretRef": {"name": MANIFESTS_SECRET},
        "imageSetRef": {"name": image_set},
    });
    if !seed.installer_pullspec.is_empty() {
        provisioning["installerImageOverride"] = json!(seed.installer_pullspec);
    }
    let cluster_deployment = json!({
        "apiVersion": format!("{HIVE_GROUP}/{HIVE_VERSION}"),
        "kind": "ClusterDeployment",
        "metadata": {
            "name": CLUSTER_DEPLOYMENT_NAME,
            "namespace": namespace,
            "labels": {
                "hive.openshift.io/cluster-platform": "azure",
                "hive.openshift.io/cluster-region": location,
                "aro-created-by-Hive": "true",
                "kubernetes.azure.com/managedby": format!("sub_{}", seed.subscription_id),
            },
            "annotations": {
                // Hive pulls no release and CLI images of its own (ARO-RP sets the same).
                "hive.openshift.io/minimal-install-mode": "true",
                // No hibernation controller for ARO clusters.
                "hive.openshift.io/infra-disabled": "true",
            },
        },
        "spec": {
            "clusterName": cluster_name,
            "baseDomain": base_domain,
            "platform": {"azure": {
                "baseDomainResourceGroupName": format!(
                    "/subscriptions/{}/resourceGroups/{}",
                    seed.subscription_id, seed.cluster_resource_group
                ),
                "region": location,
                "credentialsSecretRef": {"name": SERVICE_PRINCIPAL_SECRET},
            }},
            "controlPlaneConfig": {"apiURLOverride": format!("api-int.{}:6443", seed.domain)},
            "installAttemptsLimit": 1,
            "pullSecretRef": {"name": PULL_SECRET_SECRET},
            "provisioning": provisioning,
            // Unlike ARO-RP (which removes the cluster's resource group itself and sets it true),
            // deleting the ClusterDeployment deprovisions the cluster through Hive.
            "preserveOnDelete": false,
            "manageDNS": false,
        },
    });
    Ok(DesiredObjects {
        namespace: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        secrets,
        image_set: json!({
            "apiVersion": format!("{HIVE_GROUP}/{HIVE_VERSION}"),
            "kind": "ClusterImageSet",
            "metadata": {"name": image_set},
            "spec": {"releaseImage": seed.release_pullspec},
        }),
        cluster_deployment,
    })
}

/// Where the Secrets of an installed cluster are (the ClusterDeployment's
/// `spec.clusterMetadata`, written by Hive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstalledMetadata {
    /// The installer's infra id.
    pub infra_id: String,
    /// The cluster's id.
    pub cluster_id: String,
    /// Secret of the admin kubeconfig.
    pub admin_kubeconfig_secret: String,
    /// Secret of the kubeadmin user's name and password.
    pub admin_password_secret: Option<String>,
}

/// What a ClusterDeployment says of its install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstallState {
    /// Hive is installing (or has not started yet): what its conditions say.
    Installing(String),
    /// Installed.
    Installed(InstalledMetadata),
    /// `ProvisionFailed=True`: the condition's reason and message.
    ProvisionFailed { reason: String, message: String },
    /// `ProvisionStopped=True` (no further attempt): the condition's reason and message.
    ProvisionStopped { reason: String, message: String },
}

fn condition<'a>(cd: &'a Value, type_: &str) -> Option<&'a Value> {
    cd["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

fn condition_is(cd: &Value, type_: &str, status: &str) -> bool {
    condition(cd, type_).is_some_and(|c| c["status"] == status)
}

fn reason_and_message(cd: &Value, type_: &str) -> (String, String) {
    let c = condition(cd, type_);
    let text = |key: &str| {
        c.and_then(|c| c[key].as_str())
            .unwrap_or_default()
            .to_string()
    };
    (text("reason"), text("message"))
}

/// The install state of a ClusterDeployment (pure), in ARO-RP's order
/// (`IsClusterInstallationComplete`): installed, then ProvisionFailed, then ProvisionStopped.
pub fn install_state(cd: &Value) -> Result<InstallState> {
    let spec = &cd["spec"];
    if spec["installed"] == true {
        let metadata = &spec["clusterMetadata"];
        let admin_kubeconfig_secret = metadata["adminKubeconfigSecretRef"]["name"]
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                Error::Runtime(
                    "the ClusterDeployment is installed but names no admin kubeconfig Secret"
                        .into(),
                )
            })?;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        return Ok(InstallState::Installed(InstalledMetadata {
            infra_id: text(&metadata["infraID"]),
            cluster_id: text(&metadata["clusterID"]),
            admin_kubeconfig_secret: admin_kubeconfig_secret.to_string(),
            admin_password_secret: metadata["adminPasswordSecretRef"]["name"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }));
    }
    if condition_is(cd, "ProvisionFailed", "True") {
        let (reason, message) = reason_and_message(cd, "ProvisionFailed");
        return Ok(InstallState::ProvisionFailed { reason, message });
    }
    if condition_is(cd, "ProvisionStopped", "True") {
        let (reason, message) = reason_and_message(cd, "ProvisionStopped");
        return Ok(InstallState::ProvisionStopped { reason, message });
    }
    let provisioned = condition(cd, "Provisioned")
        .and_then(|c| c["reason"].as_str())
        .unwrap_or("not started");
    Ok(InstallState::Installing(format!(
        "Hive is installing the cluster (Provisioned: {provisioned})"
    )))
}

/// Whether Hive reports an installed cluster as reachable (ARO-RP's `IsClusterDeploymentReady`):
/// some conditions, and none of Provisioned, ControlPlaneCertificateNotFound and Unreachable
/// other than True, False and False.
pub fn deployment_ready(cd: &Value) -> bool {
    let Some(conditions) = cd["status"]["conditions"].as_array() else {
        return false;
    };
    let expected = |type_: &str| match type_ {
        "Provisioned" => Some("True"),
        "ControlPlaneCertificateNotFound" | "Unreachable" => Some("False"),
        _ => None,
    };
    !conditions.is_empty()
        && conditions.iter().all(|c| {
            expected(c["type"].as_str().unwrap_or_default()).is_none_or(|want| c["status"] == want)
        })
}

/// The customer-facing error of a `ProvisionFailed=True` condition (ARO-RP's pkg/hive/failure
/// `HandleProvisionFailed`): `install_log` is the latest install attempt's log.
pub fn provision_failed_error(reason: &str, install_log: Option<&str>) -> ArmError {
    if reason == KEY_BASED_AUTHENTICATION_REASON.0 {
        return ArmError {
            details: vec![ArmErrorDetail {
                code: String::new(),
                message: KEY_BASED_AUTHENTICATION_DETAIL.into(),
                target: None,
            }],
            ..ArmError::new("DeploymentFailed", KEY_BASED_AUTHENTICATION_REASON.1)
        };
    }
    let wrapped = WRAPPED_ARM_ERROR_REASONS
        .iter()
        .find(|(known, _)| *known == reason)
        .and_then(|(_, message)| {
            let details = install_log.and_then(deployment_failed_details)?;
            Some(ArmError {
                details,
                ..ArmError::new("DeploymentFailed", *message)
            })
        });
    // ARO-RP fails with an internal error too when the log holds no ARM error to wrap.
    wrapped.unwrap_or_else(|| {
        ArmError::new(crds::common::INTERNAL_SERVER_ERROR, GENERIC_FAILURE_MESSAGE)
    })
}

/// The details of the ARM error the installer logged for a failed template deployment: the JSON
/// after [`DEPLOYMENT_FAILED_LOG_MARKER`], from `{` to the line's last `}`, as ARO-RP's regular
/// expression takes it. `None` when the log has no such line or its JSON does not parse.
pub fn deployment_failed_details(install_log: &str) -> Option<Vec<ArmErrorDetail>> {
    let json_text = install_log
        .match_indices(DEPLOYMENT_FAILED_LOG_MARKER)
        .find_map(|(at, marker)| {
            let rest = &install_log[at + marker.len()..];
            let line = rest.split('\n').next().unwrap_or_default();
            let end = line.rfind('}')?;
            line.starts_with('{').then(|| &line[..=end])
        })?;
    let error: Value = serde_json::from_str(json_text).ok()?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Some(
        error["details"]
            .as_array()
            .map(|details| {
                details
                    .iter()
                    .map(|d| ArmErrorDetail {
                        code: text(&d["code"]),
                        message: text(&d["message"]),
                        target: d["target"].as_str().map(str::to_string),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// The install log of the latest attempt among a ClusterDeployment's ClusterProvisions (highest
/// `spec.attempt`).
pub fn latest_install_log(provisions: &[Value]) -> Option<String> {
    provisions
        .iter()
        .max_by_key(|p| p["spec"]["attempt"].as_i64().unwrap_or(-1))
        .and_then(|p| p["spec"]["installLog"].as_str())
        .map(str::to_string)
}

/// A new client-certificate signer (a CA): the user-admin kubeconfigs of one cluster.
pub fn generate_signer(infra_id: &str) -> Result<SignerPem> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let cert_error = |e: rcgen::Error| Error::Runtime(format!("user-admin signer: {e}"));
    let key = KeyPair::generate().map_err(cert_error)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    let mut subject = DistinguishedName::new();
    subject.push(DnType::OrganizationalUnitName, "aro");
    subject.push(
        DnType::CommonName,
        format!("aro-user-admin-signer-{infra_id}"),
    );
    params.distinguished_name = subject;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + SIGNER_VALIDITY;
    let cert = params.self_signed(&key).map_err(cert_error)?;
    Ok(SignerPem {
        cert: cert.pem(),
        key: key.serialize_pem().into(),
    })
}

fn secret_text(secret: &Secret, key: &str) -> Option<String> {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .filter(|s| !s.trim().is_empty())
}

/// Clusters installed by Hive on a Hive (management) cluster.
pub struct HiveRuntime {
    hive: kube::Client,
    config: HiveConfig,
    /// Admin clients of installed clusters, built from their admin kubeconfigs.
    clients: std::sync::Mutex<HashMap<String, kube::Client>>,
}

impl HiveRuntime {
    /// A runtime writing to the Hive cluster `hive` reaches (the management cluster itself when
    /// Hive runs there) with the identity of that client; see deploy/rp/controller-rbac.yaml for
    /// what it needs.
    pub fn new(hive: kube::Client, config: HiveConfig) -> Self {
        Self {
            hive,
            config,
            clients: Default::default(),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &HiveConfig {
        &self.config
    }

    /// The Hive namespace of a cluster.
    pub fn namespace(&self, infra_id: &str) -> Result<String> {
        namespace_of(&self.config.namespace_prefix, infra_id)
    }

    fn in_progress(&self, what: String) -> Error {
        Error::RuntimeInProgress {
            what,
            poll_after: self.config.poll_interval,
        }
    }

    fn cluster_deployments(&self, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.hive.clone(), namespace, &cluster_deployments())
    }

    fn secrets(&self, namespace: &str) -> Api<Secret> {
        Api::namespaced(self.hive.clone(), namespace)
    }

    /// The cluster's ClusterDeployment as JSON, when it exists.
    async fn cluster_deployment(&self, namespace: &str) -> Result<Option<Value>> {
        let cd = self
            .cluster_deployments(namespace)
            .get_opt(CLUSTER_DEPLOYMENT_NAME)
            .await?;
        cd.map(|cd| serde_json::to_value(cd).map_err(Error::from))
            .transpose()
    }

    /// The install log of the ClusterDeployment's latest ClusterProvision.
    async fn install_log(&self, namespace: &str) -> Result<Option<String>> {
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.hive.clone(), namespace, &cluster_provisions());
        let selector = format!("{CLUSTER_DEPLOYMENT_NAME_LABEL}={CLUSTER_DEPLOYMENT_NAME}");
        let provisions = api.list(&ListParams::default().labels(&selector)).await?;
        let provisions: Vec<Value> = provisions
            .items
            .into_iter()
            .map(serde_json::to_value)
            .collect::<std::result::Result<_, _>>()?;
        Ok(latest_install_log(&provisions))
    }

    /// The installed cluster's metadata, or the error or progress that keeps it from being so.
    async fn installed(&self, namespace: &str, cd: &Value) -> Result<InstalledMetadata> {
        match install_state(cd)? {
            InstallState::Installed(metadata) => Ok(metadata),
            InstallState::Installing(what) => Err(self.in_progress(what)),
            InstallState::ProvisionFailed { reason, message } => {
                let log = self.install_log(namespace).await?;
                let error = provision_failed_error(&reason, log.as_deref());
                tracing::warn!(
                    namespace,
                    reason,
                    message,
                    code = error.code,
                    "Hive failed to provision the cluster"
                );
                Err(Error::ProvisionFailed(error))
            }
            InstallState::ProvisionStopped { reason, message } => {
                tracing::warn!(
                    namespace,
                    reason,
                    message,
                    "Hive stopped provisioning the cluster"
                );
                Err(Error::ProvisionFailed(ArmError::new(
                    crds::common::INTERNAL_SERVER_ERROR,
                    GENERIC_FAILURE_MESSAGE,
                )))
            }
        }
    }

    async fn admin_kubeconfig(
        &self,
        namespace: &str,
        metadata: &InstalledMetadata,
    ) -> Result<String> {
        let secret = self
            .secrets(namespace)
            .get_opt(&metadata.admin_kubeconfig_secret)
            .await?
            .ok_or_else(|| {
                Error::Runtime(format!(
                    "Hive's admin kubeconfig Secret {namespace}/{} does not exist",
                    metadata.admin_kubeconfig_secret
                ))
            })?;
        ADMIN_KUBECONFIG_KEYS
            .iter()
            .find_map(|key| secret_text(&secret, key))
            .ok_or_else(|| {
                Error::Runtime(format!(
                    "Hive's admin kubeconfig Secret {namespace}/{} has no kubeconfig",
                    metadata.admin_kubeconfig_secret
                ))
            })
    }

    async fn access(&self, namespace: &str, metadata: &InstalledMetadata) -> Result<ClusterAccess> {
        let admin_kubeconfig = self.admin_kubeconfig(namespace, metadata).await?;
        let kubeadmin_password = match &metadata.admin_password_secret {
            Some(name) => self
                .secrets(namespace)
                .get_opt(name)
                .await?
                .and_then(|s| secret_text(&s, ADMIN_PASSWORD_KEY))
                .map(|p| p.trim().to_string().into()),
            None => None,
        };
        Ok(ClusterAccess {
            api_url: api_url_of(&admin_kubeconfig)?,
            admin_kubeconfig: admin_kubeconfig.into(),
            kubeadmin_password,
        })
    }

    /// The installed cluster's metadata; `None` while it is not installed (or not there).
    async fn installed_metadata(&self, namespace: &str) -> Result<Option<InstalledMetadata>> {
        let Some(cd) = self.cluster_deployment(namespace).await? else {
            return Ok(None);
        };
        match install_state(&cd)? {
            InstallState::Installed(metadata) => Ok(Some(metadata)),
            _ => Ok(None),
        }
    }

    /// The signer of the cluster's user-admin kubeconfigs, made once and kept in its namespace.
    async fn ensure_signer(&self, namespace: &str, infra_id: &str) -> Result<SignerPem> {
        let api = self.secrets(namespace);
        if let Some(existing) = api.get_opt(USER_ADMIN_SIGNER_SECRET).await? {
            return signer_of(&existing);
        }
        let signer = generate_signer(infra_id)?;
        let secret: Secret = serde_json::from_value(secret_object(
            namespace,
            USER_ADMIN_SIGNER_SECRET,
            "kubernetes.io/tls",
            &[
                ("tls.crt", signer.cert.clone()),
                ("tls.key", signer.key.expose().clone()),
            ],
        ))?;
        let params = PostParams {
            field_manager: Some(FIELD_MANAGER.into()),
            ..Default::default()
        };
        match api.create(&params, &secret).await {
            Ok(_) => Ok(signer),
            // Another replica made it first: use theirs, it may be in the manifests already.
            Err(kube::Error::Api(e)) if e.code == 409 => {
                signer_of(&api.get(USER_ADMIN_SIGNER_SECRET).await?)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn apply(&self, object: &Value) -> Result<()> {
        let api_version = object["apiVersion"].as_str().unwrap_or_default();
        let kind = object["kind"].as_str().unwrap_or_default();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let patch = Patch::Apply(object);
        match (api_version, kind) {
            ("v1", "Namespace") => {
                Api::<Namespace>::all(self.hive.clone())
                    .patch(name, &params, &patch)
                    .await?;
            }
            ("v1", "Secret") => {
                let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
                self.secrets(namespace).patch(name, &params, &patch).await?;
            }
            (_, "ClusterImageSet") => {
                Api::<DynamicObject>::all_with(self.hive.clone(), &cluster_image_sets())
                    .patch(name, &params, &patch)
                    .await?;
            }
            (_, "ClusterDeployment") => {
                let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
                self.cluster_deployments(namespace)
                    .patch(name, &params, &patch)
                    .await?;
            }
            _ => {
                return Err(Error::Runtime(format!(
                    "cannot apply a {api_version} {kind}"
                )));
            }
        }
        Ok(())
    }

    fn forget_client(&self, infra_id: &str) {
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(infra_id);
    }

    /// The installed cluster's admin client (cached), `None` until Hive installed it.
    async fn cluster_client(&self, infra_id: &str) -> Result<Option<kube::Client>> {
        if let Some(client) = self
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(infra_id)
        {
            return Ok(Some(client.clone()));
        }
        let namespace = self.namespace(infra_id)?;
        let Some(metadata) = self.installed_metadata(&namespace).await? else {
            return Ok(None);
        };
        let kubeconfig = self.admin_kubeconfig(&namespace, &metadata).await?;
        let client = remote::client_from_kubeconfig(&kubeconfig).await?;
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(infra_id.to_string(), client.clone());
        Ok(Some(client))
    }
}

fn signer_of(secret: &Secret) -> Result<SignerPem> {
    match (
        secret_text(secret, "tls.crt"),
        secret_text(secret, "tls.key"),
    ) {
        (Some(cert), Some(key)) => Ok(SignerPem {
            cert,
            key: key.into(),
        }),
        _ => Err(Error::Runtime(format!(
            "the user-admin signer Secret {USER_ADMIN_SIGNER_SECRET} lacks tls.crt or tls.key"
        ))),
    }
}

#[async_trait]
impl ClusterRuntime for HiveRuntime {
    fn name(&self) -> &'static str {
        "hive"
    }

    fn rp_builds_network(&self) -> bool {
        // Hive runs openshift-install with the install-config the installer runtime writes: the
        // installer creates the network and DNS records itself, into an empty resource group.
        false
    }

    async fn ensure_cluster(&self, infra_id: &str, seed: &SeedInput) -> Result<ClusterAccess> {
        let namespace = self.namespace(infra_id)?;
        // The ClusterDeployment is applied last: once it exists everything it names does, and
        // Hive owns the install from there.
        if let Some(cd) = self.cluster_deployment(&namespace).await? {
            let metadata = self.installed(&namespace, &cd).await?;
            return self.access(&namespace, &metadata).await;
        }
        // Hive runs openshift-install: what it cannot install is refused before anything is made.
        super::installer::check_installable(seed)?;
        let namespace_object =
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}});
        self.apply(&namespace_object).await?;
        let signer = self.ensure_signer(&namespace, infra_id).await?;
        let desired = desired_objects(&namespace, seed, &signer.cert)?;
        for secret in &desired.secrets {
            self.apply(secret).await?;
        }
        self.apply(&desired.image_set).await?;
        self.apply(&desired.cluster_deployment).await?;
        tracing::info!(
            infra_id,
            namespace,
            "ClusterDeployment created; Hive installs the cluster"
        );
        Err(self.in_progress("Hive is installing the cluster".into()))
    }

    async fn resume(&self, infra_id: &str) -> Result<Option<ClusterAccess>> {
        let namespace = self.namespace(infra_id)?;
        match self.installed_metadata(&namespace).await? {
            Some(metadata) => self.access(&namespace, &metadata).await.map(Some),
            None => Ok(None),
        }
    }

    async fn api_ready(&self, infra_id: &str) -> Result<bool> {
        let namespace = self.namespace(infra_id)?;
        let Some(cd) = self.cluster_deployment(&namespace).await? else {
            return Ok(false);
        };
        if !matches!(install_state(&cd)?, InstallState::Installed(_)) || !deployment_ready(&cd) {
            return Ok(false);
        }
        match self.cluster_client(infra_id).await? {
            Some(client) => Ok(remote::api_answers(&client).await),
            None => Ok(false),
        }
    }

    async fn install_operator(&self, infra_id: &str, values: &OperatorDeployValues) -> Result<()> {
        let client = self.cluster_client(infra_id).await?.ok_or_else(|| {
            Error::Runtime(format!(
                "cluster {infra_id} is not installed (hive runtime)"
            ))
        })?;
        remote::deploy_operator(&client, values).await
    }

    async fn operator_ready(&self, infra_id: &str) -> Result<bool> {
        match self.cluster_client(infra_id).await? {
            Some(client) => remote::operator_ready(&client).await,
            None => Ok(false),
        }
    }

    async fn user_admin_kubeconfig(
        &self,
        infra_id: &str,
        validity: Duration,
    ) -> Result<Option<aro_common::Secret>> {
        let namespace = self.namespace(infra_id)?;
        let Some(metadata) = self.installed_metadata(&namespace).await? else {
            return Ok(None);
        };
        let secret = self
            .secrets(&namespace)
            .get_opt(USER_ADMIN_SIGNER_SECRET)
            .await?
            .ok_or_else(|| {
                Error::Runtime(format!(
                    "{namespace} has no user-admin signer (the cluster was not installed by this runtime)"
                ))
            })?;
        let signer = signer_of(&secret)?;
        let admin = self.admin_kubeconfig(&namespace, &metadata).await?;
        user_admin_kubeconfig(&admin, &signer, validity).map(Some)
    }

    async fn client(&self, infra_id: &str) -> Result<Option<kube::Client>> {
        self.cluster_client(infra_id).await
    }

    async fn delete(&self, infra_id: &str) -> Result<()> {
        let namespace = self.namespace(infra_id)?;
        self.forget_client(infra_id);
        if let Some(cd) = self.cluster_deployment(&namespace).await? {
            if cd["metadata"]["deletionTimestamp"].is_null() {
                match self
                    .cluster_deployments(&namespace)
                    .delete(CLUSTER_DEPLOYMENT_NAME, &DeleteParams::background())
                    .await
                {
                    Ok(_) => {
                        tracing::info!(
                            infra_id,
                            namespace,
                            "ClusterDeployment deleted; Hive deprovisions the cluster"
                        )
                    }
                    Err(kube::Error::Api(e)) if e.code == 404 => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Err(self.in_progress("Hive is deprovisioning the cluster".into()));
        }
        let namespaces: Api<Namespace> = Api::all(self.hive.clone());
        let Some(existing) = namespaces.get_opt(&namespace).await? else {
            return Ok(());
        };
        if existing.metadata.deletion_timestamp.is_none() {
            match namespaces
                .delete(&namespace, &DeleteParams::background())
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(self.in_progress(format!("namespace {namespace} is being deleted")))
    }

    async fn shutdown(&self) {
        // Nothing runs in this process: Hive goes on installing, and a restarted controller finds
        // each cluster's ClusterDeployment again.
        self.clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster_runtime::ServicePrincipalCredentials;

    fn seed() -> SeedInput {
        SeedInput {
            location: "EastUS".into(),
            subscription_id: "0000-sub".into(),
            pull_secret: r#"{"auths":{"quay.io":{"auth":"cXVheQ=="}}}"#.into(),
            release_pullspec: "quay.io/openshift-release-dev/ocp-release@sha256:abc".into(),
            installer_pullspec: "quay.io/openshift-release-dev/installer@sha256:def".into(),
            service_principal: Some(ServicePrincipalCredentials {
                tenant_id: "tenant".into(),
                client_id: "client".into(),
                client_secret: "hunter2".into(),
            }),
            ..SeedInput::example()
        }
    }

    fn secret_data<'a>(objects: &'a DesiredObjects, name: &str) -> &'a Value {
        let secret = objects
            .secrets
            .iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no Secret {name}"));
        assert_eq!(secret["metadata"]["namespace"], "aro-demo-abcde");
        secret
    }

    fn decoded(secret: &Value, key: &str) -> String {
        let encoded = secret["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key}"));
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn namespaces_follow_the_infra_id() {
        assert_eq!(
            namespace_of("aro-", "demo-abcde").unwrap(),
            "aro-demo-abcde"
        );
        for bad in ["", "Demo-x", "a/b", "x_y", &"a".repeat(60), "demo-"] {
            assert!(namespace_of("aro-", bad).is_err(), "{bad:?}");
        }
        assert_eq!(image_set_name("4.15.35"), "openshift-v4.15.35");
        assert_eq!(image_set_name("4.16.0+RC_1"), "openshift-v4.16.0-rc-1");
    }

    #[test]
    fn the_cluster_deployment_is_aro_rps() {
        let objects = desired_objects("aro-demo-abcde", &seed(), "CA PEM").unwrap();
        let cd = &objects.cluster_deployment;
        assert_eq!(cd["apiVersion"], "hive.openshift.io/v1");
        assert_eq!(cd["metadata"]["name"], "cluster");
        assert_eq!(cd["metadata"]["namespace"], "aro-demo-abcde");
        let labels = &cd["metadata"]["labels"];
        assert_eq!(labels["hive.openshift.io/cluster-platform"], "azure");
        assert_eq!(labels["hive.openshift.io/cluster-region"], "eastus");
        assert_eq!(labels["aro-created-by-Hive"], "true");
        assert_eq!(labels["kubernetes.azure.com/managedby"], "sub_0000-sub");
        let annotations = &cd["metadata"]["annotations"];
        assert_eq!(
            annotations["hive.openshift.io/minimal-install-mode"],
            "true"
        );
        assert_eq!(annotations["hive.openshift.io/infra-disabled"], "true");
        let spec = &cd["spec"];
        assert_eq!(spec["clusterName"], "demo");
        assert_eq!(spec["baseDomain"], "eastus.aroapp.io");
        assert_eq!(
            spec["platform"]["azure"],
            json!({"baseDomainResourceGroupName": "/subscriptions/0000-sub/resourceGroups/aro-demo",
                   "region": "eastus", "credentialsSecretRef": {"name": "cluster-service-principal-secret"}})
        );
        assert_eq!(
            spec["controlPlaneConfig"]["apiURLOverride"],
            "api-int.demo.eastus.aroapp.io:6443"
        );
        assert_eq!(spec["installAttemptsLimit"], 1);
        assert_eq!(spec["pullSecretRef"]["name"], "aro-pullsecret");
        assert_eq!(
            spec["provisioning"],
            json!({
                "installConfigSecretRef": {"name": "aro-installconfig"},
                "manifestsSecretRef": {"name": "cluster-manifests-secret"},
                "imageSetRef": {"name": "openshift-v4.15.35"},
                "installerImageOverride": "quay.io/openshift-release-dev/installer@sha256:def",
            })
        );
        assert_eq!(spec["preserveOnDelete"], false);
        assert_eq!(spec["manageDNS"], false);
        // Hive writes these; the RP never applies them.
        assert!(spec.get("installed").is_none());
        assert!(spec.get("clusterMetadata").is_none());
        assert_eq!(
            objects.image_set,
            json!({"apiVersion": "hive.openshift.io/v1", "kind": "ClusterImageSet",
                   "metadata": {"name": "openshift-v4.15.35"},
                   "spec": {"releaseImage": "quay.io/openshift-release-dev/ocp-release@sha256:abc"}})
        );
        assert_eq!(objects.namespace["metadata"]["name"], "aro-demo-abcde");
    }

    #[test]
    fn the_secrets_carry_what_hive_and_the_installer_read() {
        let objects = desired_objects("aro-demo-abcde", &seed(), "CA PEM").unwrap();
        let sp = secret_data(&objects, SERVICE_PRINCIPAL_SECRET);
        let sp: Value = serde_json::from_str(&decoded(sp, "osServicePrincipal.json")).unwrap();
        assert_eq!(
            sp,
            json!({"subscriptionId": "0000-sub", "clientId": "client", "clientSecret": "hunter2", "tenantId": "tenant"})
        );
        let pull = secret_data(&objects, PULL_SECRET_SECRET);
        assert_eq!(pull["type"], "kubernetes.io/dockerconfigjson");
        let pull: Value = serde_json::from_str(&decoded(pull, ".dockerconfigjson")).unwrap();
        assert_eq!(pull["auths"]["quay.io"]["auth"], "cXVheQ==");
        let install = secret_data(&objects, INSTALL_CONFIG_SECRET);
        let install: Value =
            serde_yaml::from_str(&decoded(install, "install-config.yaml")).unwrap();
        assert_eq!(install, install_config(&seed()));
        let manifests = secret_data(&objects, MANIFESTS_SECRET);
        let configmap: Value =
            serde_yaml::from_str(&decoded(manifests, CLIENT_CA_CONFIGMAP_MANIFEST)).unwrap();
        assert_eq!(configmap["kind"], "ConfigMap");
        assert_eq!(configmap["metadata"]["namespace"], "openshift-config");
        assert_eq!(
            configmap["metadata"]["name"],
            USER_ADMIN_CLIENT_CA_CONFIGMAP
        );
        assert_eq!(configmap["data"]["ca-bundle.crt"], "CA PEM");
        let apiserver: Value =
            serde_yaml::from_str(&decoded(manifests, CLIENT_CA_APISERVER_MANIFEST)).unwrap();
        assert_eq!(apiserver["apiVersion"], "config.openshift.io/v1");
        assert_eq!(apiserver["kind"], "APIServer");
        assert_eq!(apiserver["metadata"]["name"], "cluster");
        assert_eq!(
            apiserver["spec"]["clientCA"]["name"],
            USER_ADMIN_CLIENT_CA_CONFIGMAP
        );

        // Workload identity: no service principal to hand Hive.
        let mut s = seed();
        s.service_principal = None;
        s.installer_pullspec = String::new();
        let objects = desired_objects("aro-demo-abcde", &s, "CA PEM").unwrap();
        assert_eq!(
            secret_data(&objects, SERVICE_PRINCIPAL_SECRET)["data"],
            json!({})
        );
        assert!(
            objects.cluster_deployment["spec"]["provisioning"]
                .get("installerImageOverride")
                .is_none()
        );
        // No release image: nothing Hive could install.
        s.release_pullspec = String::new();
        assert!(matches!(
            desired_objects("aro-demo-abcde", &s, "CA PEM"),
            Err(Error::ProvisionFailed(e)) if e.is_internal()
        ));
    }

    fn cd_with(installed: bool, conditions: Value) -> Value {
        json!({"spec": {"installed": installed, "clusterMetadata": {
            "clusterID": "id", "infraID": "demo-x7k2p",
            "adminKubeconfigSecretRef": {"name": "cluster-0-admin-kubeconfig"},
            "adminPasswordSecretRef": {"name": "cluster-0-admin-password"}}},
            "status": {"conditions": conditions}})
    }

    fn cond(type_: &str, status: &str, reason: &str) -> Value {
        json!({"type": type_, "status": status, "reason": reason, "message": format!("{type_} says {reason}")})
    }

    #[test]
    fn install_state_follows_aro_rps_order() {
        let installed = install_state(&cd_with(true, json!([]))).unwrap();
        assert_eq!(
            installed,
            InstallState::Installed(InstalledMetadata {
                infra_id: "demo-x7k2p".into(),
                cluster_id: "id".into(),
                admin_kubeconfig_secret: "cluster-0-admin-kubeconfig".into(),
                admin_password_secret: Some("cluster-0-admin-password".into()),
            })
        );
        // Installed wins over a stale failure condition.
        assert!(matches!(
            install_state(&cd_with(
                true,
                json!([cond("ProvisionFailed", "True", "X")])
            ))
            .unwrap(),
            InstallState::Installed(_)
        ));
        assert!(install_state(&json!({"spec": {"installed": true}})).is_err());
        let failed = cd_with(
            false,
            json!([
                cond("ProvisionStopped", "True", "InstallAttemptsLimitReached"),
                cond("ProvisionFailed", "True", "AzureZonalAllocationFailed")
            ]),
        );
        assert_eq!(
            install_state(&failed).unwrap(),
            InstallState::ProvisionFailed {
                reason: "AzureZonalAllocationFailed".into(),
                message: "ProvisionFailed says AzureZonalAllocationFailed".into()
            }
        );
        let stopped = cd_with(
            false,
            json!([
                cond("ProvisionFailed", "False", "x"),
                cond("ProvisionStopped", "True", "InstallAttemptsLimitReached")
            ]),
        );
        assert!(matches!(
            install_state(&stopped).unwrap(),
            InstallState::ProvisionStopped { reason, .. } if reason == "InstallAttemptsLimitReached"
        ));
        let installing = cd_with(false, json!([cond("Provisioned", "False", "Provisioning")]));
        assert!(matches!(
            install_state(&installing).unwrap(),
            InstallState::Installing(what) if what.contains("Provisioning")
        ));
        assert!(matches!(
            install_state(&json!({"spec": {}})).unwrap(),
            InstallState::Installing(_)
        ));
    }

    #[test]
    fn readiness_is_aro_rps() {
        assert!(!deployment_ready(&cd_with(true, json!([]))));
        let ready = json!([
            cond("Provisioned", "True", "Provisioned"),
            cond("ControlPlaneCertificateNotFound", "False", "x"),
            cond("Unreachable", "False", "x"),
            cond("Hibernating", "True", "whatever")
        ]);
        assert!(deployment_ready(&cd_with(true, ready)));
        for (type_, bad) in [
            ("Provisioned", "False"),
            ("ControlPlaneCertificateNotFound", "True"),
            ("Unreachable", "True"),
            ("Unreachable", "Unknown"),
        ] {
            let conditions = if type_ == "Provisioned" {
                json!([cond(type_, bad, "x")])
            } else {
                json!([
                    cond("Provisioned", "True", "Provisioned"),
                    cond(type_, bad, "x")
                ])
            };
            assert!(
                !deployment_ready(&cd_with(true, conditions)),
                "{type_}={bad}"
            );
        }
    }

    const ARM_ERROR_LOG: &str = r#"level=info msg=Creating infrastructure resources...
level=error msg=400: DeploymentFailed: : Deployment failed. Details: : : {"code":"InvalidTemplateDeployment","message":"The template deployment failed.","details":[{"code":"RequestDisallowedByPolicy","message":"Resource 'x' was disallowed by policy.","target":"x"},{"code":"Other","message":"second"}]}
level=fatal msg=failed to fetch Cluster
"#;

    #[test]
    fn provision_failures_map_to_aro_rps_errors() {
        let key = provision_failed_error("AzureKeyBasedAuthenticationNotPermitted", None);
        assert_eq!(key.code, "DeploymentFailed");
        assert_eq!(
            key.message,
            "Deployment failed with KeyBasedAuthenticationNotPermitted error. Please see details for more information."
        );
        assert_eq!(key.details.len(), 1);
        assert!(key.details[0].message.starts_with(
            "Cluster creation failed because key based authentication has been disabled"
        ));

        for (reason, message) in WRAPPED_ARM_ERROR_REASONS {
            let e = provision_failed_error(reason, Some(ARM_ERROR_LOG));
            assert_eq!(e.code, "DeploymentFailed", "{reason}");
            assert_eq!(e.message, message);
            assert_eq!(
                e.details,
                vec![
                    ArmErrorDetail {
                        code: "RequestDisallowedByPolicy".into(),
                        message: "Resource 'x' was disallowed by policy.".into(),
                        target: Some("x".into())
                    },
                    ArmErrorDetail {
                        code: "Other".into(),
                        message: "second".into(),
                        target: None
                    },
                ]
            );
            // Without the ARM error in the log there is nothing to wrap.
            let e = provision_failed_error(reason, Some("level=fatal msg=boom"));
            assert_eq!(
                e,
                ArmError::new("InternalServerError", "Deployment failed.")
            );
            assert_eq!(
                provision_failed_error(reason, None),
                ArmError::new("InternalServerError", "Deployment failed.")
            );
        }
        assert_eq!(
            provision_failed_error("KubeAPIWaitFailed", Some(ARM_ERROR_LOG)),
            ArmError::new("InternalServerError", "Deployment failed.")
        );
    }

    #[test]
    fn the_arm_error_is_the_first_marked_line_json() {
        assert!(deployment_failed_details("").is_none());
        let broken =
            "level=error msg=400: DeploymentFailed: : Deployment failed. Details: : : {not json}\n";
        assert!(deployment_failed_details(broken).is_none());
        let no_details = "level=error msg=400: DeploymentFailed: : Deployment failed. Details: : : {\"code\":\"X\"} trailing\n";
        assert_eq!(deployment_failed_details(no_details), Some(vec![]));
        let two = format!(
            "level=error msg=400: DeploymentFailed: : Deployment failed. Details: : : nothing here\n{ARM_ERROR_LOG}"
        );
        assert_eq!(deployment_failed_details(&two).unwrap().len(), 2);
    }

    #[test]
    fn the_latest_attempts_log_is_read() {
        let provision =
            |attempt: i64, log: &str| json!({"spec": {"attempt": attempt, "installLog": log}});
        assert_eq!(
            latest_install_log(&[
                provision(0, "first"),
                provision(2, "third"),
                provision(1, "second")
            ]),
            Some("third".into())
        );
        assert_eq!(latest_install_log(&[]), None);
    }

    #[test]
    fn the_signer_is_a_ca() {
        let signer = generate_signer("demo-abcde").unwrap();
        let (_, pem) = x509_parser::pem::parse_x509_pem(signer.cert.as_bytes()).unwrap();
        let cert = pem.parse_x509().unwrap();
        assert!(cert.is_ca());
        assert_eq!(
            cert.subject().to_string(),
            "OU=aro, CN=aro-user-admin-signer-demo-abcde"
        );
        assert!(signer.key.expose().contains("PRIVATE KEY"));
    }

    #[test]
    fn the_hive_crds_parse() {
        let crds = hive_crds().unwrap();
        let names: Vec<_> = crds
            .iter()
            .filter_map(|c| c.metadata.name.clone())
            .collect();
        assert_eq!(
            names,
            [
                "clusterdeployments.hive.openshift.io",
                "clusterimagesets.hive.openshift.io",
                "clusterprovisions.hive.openshift.io",
                "clusterdeprovisions.hive.openshift.io"
            ]
        );
        for (crd, resource) in crds.iter().zip([
            cluster_deployments(),
            cluster_image_sets(),
            cluster_provisions(),
        ]) {
            assert_eq!(crd.spec.names.kind, resource.kind);
            assert_eq!(crd.spec.names.plural, resource.plural);
        }
    }
}
