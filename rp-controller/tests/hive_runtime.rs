//! The hive runtime against a devcluster with Hive's CRDs (deploy/hive/crds/) and a stand-in for
//! Hive that speaks Hive's interface: it reads the ClusterDeployment the RP wrote and writes what
//! Hive writes (its finalizer, `status.conditions`, `spec.installed`, `spec.clusterMetadata`, the
//! admin kubeconfig and password Secrets, ClusterProvisions with their install log, a
//! ClusterDeprovision). The "installed cluster" is a second devcluster that, as OpenShift does
//! with the install manifests, trusts the client CA the manifests Secret carries.

mod support;

use std::time::Duration;

use aro_operator::manifests::OperatorDeployValues;
use base64::Engine;
use crds::{ArmError, ArmErrorDetail};
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use rp_controller::Error;
use rp_controller::cluster_runtime::hive::{
    CLIENT_CA_CONFIGMAP_MANIFEST, HiveConfig, HiveRuntime, MANIFESTS_SECRET, generate_signer,
    hive_crds, hive_resource,
};
use rp_controller::cluster_runtime::installer::user_admin_kubeconfig;
use rp_controller::cluster_runtime::{ClusterRuntime, SeedInput, ServicePrincipalCredentials};
use serde_json::{Value, json};

const PULL_SECRET: &str = r#"{"auths":{"quay.io":{"auth":"c3VwZXItc2VjcmV0LXRva2Vu"}}}"#;
const RELEASE: &str = "quay.io/openshift-release-dev/ocp-release@sha256:0123";
const INSTALLER: &str = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:4567";
const KUBEADMIN_PASSWORD: &str = "Kubea-dminP-asswo-rd234";
/// How long the stand-in and the test wait for the server to show a change.
const WAIT: Duration = Duration::from_secs(20);
const DEPROVISION_FINALIZER: &str = "hive.openshift.io/deprovision";

fn seed(infra_id: &str) -> SeedInput {
    SeedInput {
        infra_id: infra_id.into(),
        pull_secret: PULL_SECRET.into(),
        release_pullspec: RELEASE.into(),
        installer_pullspec: INSTALLER.into(),
        service_principal: Some(ServicePrincipalCredentials {
            tenant_id: "tenant".into(),
            client_id: "client".into(),
            client_secret: "sp-secret".into(),
        }),
        ..SeedInput::example()
    }
}

/// A management cluster with Hive's CRDs and deploy/rp's RBAC: an admin client (Hive's part in
/// these tests) and a client of rp-controller's ServiceAccount, which the runtime writes as (so
/// its hive grants in deploy/rp are what it may do, as in production).
async fn hive_cluster() -> (Devcluster, kube::Client, kube::Client) {
    let devcluster = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .expect("devcluster starts");
    let client = devcluster.client().await.expect("a client");
    aro_common::crd::apply_crds(&client, &hive_crds().expect("Hive CRDs parse"), "test")
        .await
        .expect("the Hive CRDs apply");
    for (file, text) in [
        (
            "deploy/rp/namespace.yaml",
            include_str!("../../deploy/rp/namespace.yaml"),
        ),
        (
            "deploy/rp/controller-rbac.yaml",
            include_str!("../../deploy/rp/controller-rbac.yaml"),
        ),
    ] {
        aro_common::manifests::apply_yaml(&client, "test", file, text)
            .await
            .expect("deploy/rp applies");
    }
    let token = devcluster
        .service_account_token(
            "aro-rp",
            "aro-rp-controller",
            &[],
            Duration::from_secs(3600),
        )
        .expect("a token of the controller's ServiceAccount");
    let controller = kube_client(&devcluster.token_kubeconfig(&token)).await;
    (devcluster, client, controller)
}

fn runtime(client: &kube::Client) -> HiveRuntime {
    HiveRuntime::new(
        client.clone(),
        HiveConfig {
            poll_interval: Duration::from_secs(3),
            ..HiveConfig::default()
        },
    )
}

fn assert_in_progress(result: rp_controller::Result<impl std::fmt::Debug>, what: &str) {
    match result {
        Err(Error::RuntimeInProgress {
            what: said,
            poll_after,
        }) => {
            assert!(said.contains(what), "{said:?} does not say {what:?}");
            assert_eq!(poll_after, Duration::from_secs(3));
        }
        other => panic!("expected in progress ({what}), got {other:?}"),
    }
}

fn secret_text(secret: &Secret, key: &str) -> String {
    let bytes = &secret.data.as_ref().expect("data")[key].0;
    String::from_utf8(bytes.clone()).expect("UTF-8")
}

fn condition(type_: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
           "lastProbeTime": "2026-01-01T00:00:00Z", "lastTransitionTime": "2026-01-01T00:00:00Z"})
}

/// Plays Hive's part for the ClusterDeployment of one namespace.
struct FakeHive {
    client: kube::Client,
    namespace: String,
}

impl FakeHive {
    fn new(client: &kube::Client, infra_id: &str) -> Self {
        Self {
            client: client.clone(),
            namespace: format!("aro-{infra_id}"),
        }
    }

    fn api(&self, kind: &str, plural: &str) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            &self.namespace,
            &hive_resource(kind, plural),
        )
    }

    fn cluster_deployments(&self) -> Api<DynamicObject> {
        self.api("ClusterDeployment", "clusterdeployments")
    }

    fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn cluster_deployment(&self) -> Value {
        let cd = self.cluster_deployments().get("cluster").await.unwrap();
        serde_json::to_value(cd).unwrap()
    }

    async fn patch_status(&self, status: Value) {
        self.cluster_deployments()
            .patch_status(
                "cluster",
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await
            .unwrap();
    }

    async fn create(&self, kind: &str, plural: &str, object: Value) {
        let object: DynamicObject = serde_json::from_value(object).unwrap();
        self.api(kind, plural)
            .create(&PostParams::default(), &object)
            .await
            .unwrap();
    }

    /// The install attempt, with Hive's label naming its ClusterDeployment.
    async fn provision(&self, stage: &str, install_log: &str) {
        self.create(
            "ClusterProvision",
            "clusterprovisions",
            json!({
                "apiVersion": "hive.openshift.io/v1", "kind": "ClusterProvision",
                "metadata": {"name": "cluster-0-x7k2p", "namespace": self.namespace,
                             "labels": {"hive.openshift.io/cluster-deployment-name": "cluster"}},
                "spec": {"clusterDeploymentRef": {"name": "cluster"}, "podSpec": {"containers": []},
                         "attempt": 0, "stage": stage, "installLog": install_log},
            }),
        )
        .await;
    }

    /// What Hive does when it picks a ClusterDeployment up: its deprovision finalizer, and the
    /// provision under way.
    async fn start_install(&self) {
        self.cluster_deployments()
            .patch(
                "cluster",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": [DEPROVISION_FINALIZER]}})),
            )
            .await
            .unwrap();
        self.patch_status(json!({
            "installRestarts": 0,
            "conditions": [
                condition("Provisioned", "False", "Provisioning", "Cluster provision created"),
                condition("ProvisionFailed", "False", "AsExpected", ""),
                condition("ProvisionStopped", "False", "AsExpected", ""),
            ],
        }))
        .await;
    }

    /// A successful install: the installed cluster (a devcluster trusting the client CA of the
    /// install manifests, as OpenShift trusts `APIServer.spec.clientCA`), its admin Secrets,
    /// `spec.installed` and `spec.clusterMetadata`, and the readiness conditions.
    async fn complete_install(&self) -> Devcluster {
        let cd = self.cluster_deployment().await;
        let manifests_secret = cd["spec"]["provisioning"]["manifestsSecretRef"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(manifests_secret, MANIFESTS_SECRET);
        let manifests = self.secrets().get(&manifests_secret).await.unwrap();
        let configmap: Value =
            serde_yaml::from_str(&secret_text(&manifests, CLIENT_CA_CONFIGMAP_MANIFEST)).unwrap();
        let client_ca = configmap["data"]["ca-bundle.crt"].as_str().unwrap();
        let cluster = Devcluster::start(DevclusterConfig {
            extra_client_ca_pems: vec![client_ca.to_string()],
            ..DevclusterConfig::in_memory()
        })
        .await
        .expect("the installed cluster starts");
        support::create_openshift_namespaces(&cluster.client().await.unwrap()).await;
        let secret = |name: &str, data: Value| -> Secret {
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": self.namespace},
                "type": "Opaque", "stringData": data,
            }))
            .unwrap()
        };
        for s in [
            secret(
                "cluster-0-x7k2p-admin-kubeconfig",
                json!({"kubeconfig": cluster.kubeconfig_yaml(), "raw-kubeconfig": cluster.kubeconfig_yaml()}),
            ),
            secret(
                "cluster-0-x7k2p-admin-password",
                json!({"username": "kubeadmin", "password": KUBEADMIN_PASSWORD}),
            ),
        ] {
            self.secrets()
                .create(&PostParams::default(), &s)
                .await
                .unwrap();
        }
        self.provision("complete", "level=info msg=Install complete!")
            .await;
        self.cluster_deployments()
            .patch(
                "cluster",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {
                    "installed": true,
                    "clusterMetadata": {
                        "clusterID": "0b1d5c6e-6a4f-4b7e-9b5c-2f8f8e1f0a11",
                        "infraID": "demo-x7k2p",
                        "adminKubeconfigSecretRef": {"name": "cluster-0-x7k2p-admin-kubeconfig"},
                        "adminPasswordSecretRef": {"name": "cluster-0-x7k2p-admin-password"},
                        // From the installer's metadata.json: where the cluster was installed.
                        "platform": {"azure": {"resourceGroupName": "aro-demo"}},
                    },
                }})),
            )
            .await
            .unwrap();
        self.patch_status(json!({
            "installedTimestamp": "2026-01-01T00:40:00Z",
            "apiURL": cluster.url,
            "conditions": [
                condition("Provisioned", "True", "Provisioned", "Cluster is provisioned"),
                condition("ProvisionFailed", "False", "AsExpected", ""),
                condition("ProvisionStopped", "False", "AsExpected", ""),
                condition("ControlPlaneCertificateNotFound", "False", "AsExpected", ""),
                condition("Unreachable", "False", "ClusterReachable", "cluster is reachable"),
            ],
        }))
        .await;
        cluster
    }

    /// A failed install: Hive's ProvisionFailed with `reason`, the attempt's install log, and
    /// (installAttemptsLimit 1) provisioning stopped.
    async fn fail_install(&self, reason: &str, install_log: &str) {
        self.provision("failed", install_log).await;
        self.patch_status(json!({"conditions": [
            condition("Provisioned", "False", "ProvisionStopped", "Provisioning failed terminally (see the ProvisionStopped condition for details)"),
            condition("ProvisionFailed", "True", reason, "Install job failed"),
            condition("ProvisionStopped", "True", "InstallAttemptsLimitReached", "Install attempts limit reached"),
        ]}))
        .await;
    }

    /// Hive's part of deleting a ClusterDeployment: once it has a deletion timestamp, unless
    /// `preserveOnDelete`, a ClusterDeprovision for an installed cluster (which completes at
    /// once here), then the finalizer goes. Returns the ClusterDeprovision, if one was made.
    async fn deprovision(&self) -> Option<Value> {
        let deleting = |cd: Option<&DynamicObject>| {
            cd.is_some_and(|cd| cd.metadata.deletion_timestamp.is_some())
        };
        tokio::time::timeout(
            WAIT,
            await_condition(self.cluster_deployments(), "cluster", deleting),
        )
        .await
        .expect("the RP deletes the ClusterDeployment")
        .unwrap();
        let cd = self.cluster_deployment().await;
        let metadata = &cd["spec"]["clusterMetadata"];
        let mut deprovision = None;
        if cd["spec"]["preserveOnDelete"] != true && !metadata.is_null() {
            let request = json!({
                "apiVersion": "hive.openshift.io/v1", "kind": "ClusterDeprovision",
                "metadata": {"name": "cluster", "namespace": self.namespace},
                "spec": {
                    "infraID": metadata["infraID"], "clusterID": metadata["clusterID"],
                    "clusterName": cd["spec"]["clusterName"], "baseDomain": cd["spec"]["baseDomain"],
                    "platform": {"azure": {
                        "credentialsSecretRef": cd["spec"]["platform"]["azure"]["credentialsSecretRef"],
                        "resourceGroupName": metadata["platform"]["azure"]["resourceGroupName"],
                        "baseDomainResourceGroupName": cd["spec"]["platform"]["azure"]["baseDomainResourceGroupName"],
                    }},
                },
            });
            self.create("ClusterDeprovision", "clusterdeprovisions", request)
                .await;
            let api = self.api("ClusterDeprovision", "clusterdeprovisions");
            let done = api
                .patch_status(
                    "cluster",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"completed": true}})),
                )
                .await
                .unwrap();
            deprovision = Some(serde_json::to_value(done).unwrap());
        }
        self.cluster_deployments()
            .patch(
                "cluster",
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await
            .unwrap();
        deprovision
    }
}

/// Delete through the runtime until it is done: the ClusterDeployment goes (Hive's part runs
/// meanwhile), then the namespace.
async fn delete_through_hive(
    rt: &HiveRuntime,
    client: &kube::Client,
    hive: &FakeHive,
    infra_id: &str,
) -> Option<Value> {
    let cd = hive.cluster_deployment().await;
    let uid = cd["metadata"]["uid"].as_str().unwrap().to_string();
    assert_in_progress(rt.delete(infra_id).await, "deprovisioning");
    let deprovision = hive.deprovision().await;
    tokio::time::timeout(
        WAIT,
        await_condition(
            hive.cluster_deployments(),
            "cluster",
            conditions::is_deleted(&uid),
        ),
    )
    .await
    .expect("the ClusterDeployment goes once Hive lets go")
    .unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns_uid = namespaces
        .get(&hive.namespace)
        .await
        .unwrap()
        .metadata
        .uid
        .unwrap();
    assert_in_progress(rt.delete(infra_id).await, "being deleted");
    tokio::time::timeout(
        WAIT,
        await_condition(namespaces, &hive.namespace, conditions::is_deleted(&ns_uid)),
    )
    .await
    .expect("the namespace goes")
    .unwrap();
    rt.delete(infra_id).await.expect("nothing left to delete");
    deprovision
}

async fn kube_client(kubeconfig: &str) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .unwrap();
    kube::Client::try_from(config).unwrap()
}

#[tokio::test]
async fn hive_installs_the_cluster_and_deprovisions_it() {
    let (_management, client, controller) = hive_cluster().await;
    let rt = runtime(&controller);
    let infra_id = "demo-abcde";
    let hive = FakeHive::new(&client, infra_id);

    // Nothing yet.
    assert_eq!(rt.resume(infra_id).await.unwrap(), None);
    assert!(!rt.api_ready(infra_id).await.unwrap());
    assert!(rt.client(infra_id).await.unwrap().is_none());
    let year = Duration::from_secs(365 * 24 * 3600);
    assert!(
        rt.user_admin_kubeconfig(infra_id, year)
            .await
            .unwrap()
            .is_none()
    );

    // The RP writes the ClusterDeployment and what it names, then polls: it never waits for Hive.
    assert_in_progress(
        rt.ensure_cluster(infra_id, &seed(infra_id)).await,
        "installing",
    );
    let cd = hive.cluster_deployment().await;
    assert_eq!(cd["metadata"]["namespace"], "aro-demo-abcde");
    assert_eq!(
        cd["metadata"]["labels"]["kubernetes.azure.com/managedby"],
        "sub_00000000-0000-0000-0000-000000000001"
    );
    // What the RP applied survived Hive's schema (nothing pruned).
    assert_eq!(cd["spec"]["installAttemptsLimit"], 1);
    assert_eq!(cd["spec"]["platform"]["azure"]["region"], "eastus");
    assert_eq!(
        cd["spec"]["provisioning"]["imageSetRef"]["name"],
        "openshift-v4.15.35"
    );
    assert_eq!(
        cd["spec"]["provisioning"]["installerImageOverride"],
        INSTALLER
    );
    assert_eq!(
        cd["spec"]["provisioning"]["installConfigSecretRef"]["name"],
        "aro-installconfig"
    );
    assert_eq!(
        cd["spec"]["controlPlaneConfig"]["apiURLOverride"],
        "api-int.demo.eastus.aroapp.io:6443"
    );
    assert_eq!(cd["spec"]["pullSecretRef"]["name"], "aro-pullsecret");
    let image_sets: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &hive_resource("ClusterImageSet", "clusterimagesets"),
    );
    let image_set = image_sets.get("openshift-v4.15.35").await.unwrap();
    assert_eq!(image_set.data["spec"]["releaseImage"], RELEASE);
    let secrets = hive.secrets();
    let pull = secrets.get("aro-pullsecret").await.unwrap();
    assert_eq!(
        pull.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    assert!(secret_text(&pull, ".dockerconfigjson").contains("c3VwZXItc2VjcmV0LXRva2Vu"));
    let sp = secrets
        .get("cluster-service-principal-secret")
        .await
        .unwrap();
    let sp: Value = serde_json::from_str(&secret_text(&sp, "osServicePrincipal.json")).unwrap();
    assert_eq!(sp["clientSecret"], "sp-secret");
    assert_eq!(sp["subscriptionId"], "00000000-0000-0000-0000-000000000001");
    let install_config = secrets.get("aro-installconfig").await.unwrap();
    assert!(
        secret_text(&install_config, "install-config.yaml")
            .contains("baseDomain: eastus.aroapp.io")
    );
    let signer = secrets.get("aro-user-admin-signer").await.unwrap();
    assert_eq!(signer.type_.as_deref(), Some("kubernetes.io/tls"));

    // Polling again changes nothing while Hive works.
    let version = cd["metadata"]["resourceVersion"].clone();
    hive.start_install().await;
    assert_in_progress(
        rt.ensure_cluster(infra_id, &seed(infra_id)).await,
        "Provisioning",
    );
    let cd = hive.cluster_deployment().await;
    assert_ne!(cd["metadata"]["resourceVersion"], version, "Hive wrote");
    assert_eq!(
        cd["metadata"]["finalizers"],
        json!([DEPROVISION_FINALIZER]),
        "the RP's apply kept Hive's finalizer"
    );
    assert!(!rt.api_ready(infra_id).await.unwrap());

    // Hive reports the cluster installed.
    let cluster = hive.complete_install().await;
    let access = rt
        .ensure_cluster(infra_id, &seed(infra_id))
        .await
        .expect("installed");
    assert_eq!(access.api_url, cluster.url);
    assert_eq!(access.admin_kubeconfig.expose(), cluster.kubeconfig_yaml());
    assert_eq!(
        access.kubeadmin_password.as_ref().map(|p| p.expose_str()),
        Some(KUBEADMIN_PASSWORD),
        "the password Hive wrote"
    );
    assert_eq!(rt.resume(infra_id).await.unwrap(), Some(access.clone()));
    assert!(rt.api_ready(infra_id).await.unwrap());

    // The user-admin kubeconfig reaches the cluster as system:admin, signed by the signer whose
    // CA went to the cluster with the install manifests.
    let user_admin = rt
        .user_admin_kubeconfig(infra_id, year)
        .await
        .unwrap()
        .expect("installed");
    let parsed = kube::config::Kubeconfig::from_yaml(user_admin.expose()).unwrap();
    let user = parsed.auth_infos[0].auth_info.as_ref().unwrap();
    let cert_pem = base64::engine::general_purpose::STANDARD
        .decode(user.client_certificate_data.as_deref().unwrap())
        .unwrap();
    let (_, pem) = x509_parser::pem::parse_x509_pem(&cert_pem).unwrap();
    assert_eq!(
        pem.parse_x509().unwrap().subject().to_string(),
        "O=system:masters, CN=system:admin"
    );
    assert_ne!(user_admin.expose(), access.admin_kubeconfig.expose());
    let as_user_admin = kube_client(user_admin.expose()).await;
    let namespaces: Api<Namespace> = Api::all(as_user_admin);
    assert!(
        namespaces
            .list(&ListParams::default())
            .await
            .expect("system:admin lists namespaces")
            .items
            .iter()
            .any(|n| n.metadata.name.as_deref() == Some("kube-system"))
    );
    // A signer the cluster was not given is refused.
    let stranger = generate_signer("someone-else").unwrap();
    let foreign = user_admin_kubeconfig(cluster.kubeconfig_yaml(), &stranger, year).unwrap();
    let refused: Api<Namespace> = Api::all(kube_client(foreign.expose()).await);
    assert!(refused.list(&ListParams::default()).await.is_err());

    // The operator is deployed through the cluster's API (no kubelet runs it here).
    rt.install_operator(infra_id, &OperatorDeployValues::defaults())
        .await
        .unwrap();
    let cluster_client = rt.client(infra_id).await.unwrap().expect("installed");
    let deployments: Api<Deployment> =
        Api::namespaced(cluster_client, aro_operator::OPERATOR_NAMESPACE);
    assert!(
        deployments
            .get_opt("aro-operator-master")
            .await
            .unwrap()
            .is_some()
    );
    assert!(!rt.operator_ready(infra_id).await.unwrap());

    // A restarted controller (a new runtime) adopts the ClusterDeployment it finds.
    let restarted = runtime(&controller);
    assert_eq!(
        restarted.resume(infra_id).await.unwrap(),
        Some(access.clone())
    );
    assert_eq!(
        restarted
            .ensure_cluster(infra_id, &seed(infra_id))
            .await
            .unwrap(),
        access
    );
    assert!(restarted.api_ready(infra_id).await.unwrap());

    // Delete goes through Hive's deprovision, then the namespace goes.
    let deprovision = delete_through_hive(&rt, &client, &hive, infra_id)
        .await
        .expect("Hive deprovisions an installed cluster");
    assert_eq!(deprovision["spec"]["infraID"], "demo-x7k2p");
    assert_eq!(
        deprovision["spec"]["platform"]["azure"]["resourceGroupName"],
        "aro-demo"
    );
    assert_eq!(
        deprovision["spec"]["platform"]["azure"]["credentialsSecretRef"]["name"],
        "cluster-service-principal-secret"
    );
    rt.delete(infra_id).await.expect("idempotent");
    assert_eq!(rt.resume(infra_id).await.unwrap(), None);
    assert!(!restarted.api_ready(infra_id).await.unwrap());
    assert!(
        image_sets
            .get_opt("openshift-v4.15.35")
            .await
            .unwrap()
            .is_some(),
        "shared by the version's clusters"
    );
    cluster.stop().await;
}

const POLICY_LOG: &str = r#"level=info msg=Creating infrastructure resources...
level=error msg=400: DeploymentFailed: : Deployment failed. Details: : : {"code":"InvalidTemplateDeployment","message":"The template deployment 'x' is not valid according to the validation procedure.","details":[{"code":"RequestDisallowedByPolicy","target":"demo-x7k2p","message":"Resource 'demo-x7k2p' was disallowed by policy. Policy identifiers: 'deny-public-ip'."}]}
level=fatal msg=failed to fetch Cluster: failed to generate asset "Cluster"
"#;

#[tokio::test]
async fn hives_failure_reasons_become_the_customers_errors() {
    let (_management, client, controller) = hive_cluster().await;
    let rt = runtime(&controller);
    let wrapped_detail = vec![ArmErrorDetail {
        code: "RequestDisallowedByPolicy".into(),
        message:
            "Resource 'demo-x7k2p' was disallowed by policy. Policy identifiers: 'deny-public-ip'."
                .into(),
        target: Some("demo-x7k2p".into()),
    }];
    let wrapped = |message: &str| ArmError {
        details: wrapped_detail.clone(),
        ..ArmError::new("DeploymentFailed", message)
    };
    let cases = [
        (
            "fail-keyauth",
            "AzureKeyBasedAuthenticationNotPermitted",
            ArmError {
                details: vec![ArmErrorDetail {
                    code: String::new(),
                    message: "Cluster creation failed because key based authentication has been disabled on the ARO cluster storage account, most likely by an Azure Policy modify effect. Please ensure that any policies in your Azure subscription do not mutate this property on the storage accounts provisioned during ARO cluster deployment. See https://learn.microsoft.com/en-us/azure/governance/policy/concepts/effect-modify for more details.".into(),
                    target: None,
                }],
                ..ArmError::new(
                    "DeploymentFailed",
                    "Deployment failed with KeyBasedAuthenticationNotPermitted error. Please see details for more information.",
                )
            },
        ),
        (
            "fail-policy",
            "AzureRequestDisallowedByPolicy",
            wrapped("Deployment failed due to RequestDisallowedByPolicy. Please see details for more information."),
        ),
        (
            "fail-template",
            "AzureInvalidTemplateDeployment",
            wrapped("Deployment failed. Please see details for more information."),
        ),
        (
            "fail-zonal",
            "AzureZonalAllocationFailed",
            wrapped("Deployment failed. Please see details for more information."),
        ),
        (
            "fail-osprov",
            "AzureOSProvisioningTimedOut",
            wrapped("Deployment failed due to OSProvisioningTimedOut. The cluster's virtual machines failed to start up in time. Please check your network configuration."),
        ),
        (
            "fail-other",
            "KubeAPIWaitFailed",
            ArmError::new("InternalServerError", "Deployment failed."),
        ),
    ];
    for (infra_id, reason, expected) in cases {
        let hive = FakeHive::new(&client, infra_id);
        assert_in_progress(
            rt.ensure_cluster(infra_id, &seed(infra_id)).await,
            "installing",
        );
        hive.start_install().await;
        hive.fail_install(reason, POLICY_LOG).await;
        match rt.ensure_cluster(infra_id, &seed(infra_id)).await {
            Err(Error::ProvisionFailed(error)) => assert_eq!(error, expected, "{reason}"),
            other => panic!("{reason}: expected a provisioning failure, got {other:?}"),
        }
        assert_eq!(rt.resume(infra_id).await.unwrap(), None, "{reason}");
        assert!(!rt.api_ready(infra_id).await.unwrap());
        // Never installed: Hive has nothing to deprovision and lets the ClusterDeployment go.
        assert_eq!(
            delete_through_hive(&rt, &client, &hive, infra_id).await,
            None
        );
    }
    // What the customer sees of an internal one.
    assert_eq!(
        ArmError::new("InternalServerError", "Deployment failed.").for_customer(),
        ArmError::internal()
    );
}

#[tokio::test]
async fn exhausted_install_attempts_end_the_install() {
    let (_management, client, controller) = hive_cluster().await;
    let rt = runtime(&controller);
    let infra_id = "demo-stopd";
    let hive = FakeHive::new(&client, infra_id);
    assert_in_progress(
        rt.ensure_cluster(infra_id, &seed(infra_id)).await,
        "installing",
    );
    hive.start_install().await;
    // Hive gave up without a ProvisionFailed reason of its own (e.g. an install pod that kept
    // being evicted until the attempts ran out).
    hive.patch_status(json!({"conditions": [
        condition("Provisioned", "False", "ProvisionStopped", "Provisioning failed terminally"),
        condition("ProvisionFailed", "False", "AsExpected", ""),
        condition("ProvisionStopped", "True", "InstallAttemptsLimitReached", "Install attempts limit reached"),
    ]}))
    .await;
    match rt.ensure_cluster(infra_id, &seed(infra_id)).await {
        Err(Error::ProvisionFailed(error)) => {
            assert_eq!(
                error,
                ArmError::new("InternalServerError", "Deployment failed.")
            )
        }
        other => panic!("expected a provisioning failure, got {other:?}"),
    }
    assert_eq!(rt.resume(infra_id).await.unwrap(), None);
}
