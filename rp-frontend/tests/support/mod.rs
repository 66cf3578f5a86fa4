//! Shared harness of the integration tests: an in-process devcluster with the management CRDs,
//! the frontend on a loopback port, and a stand-in for rp-controller that finishes operations.

#![allow(dead_code)]

pub mod faults;
pub mod swagger;

use std::time::Duration;

use crds::SecretReference;
use crds::management::naming::subscription_namespace;
use crds::management::{
    AsyncOperation, AsyncOperationStatus, ClusterUniqueKey, OpenShiftCluster, OpenShiftVersion,
    OpenShiftVersionSpec, ProvisioningState,
};
use devcluster::{Devcluster, DevclusterConfig};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use rp_frontend::{Frontend, FrontendConfig};

/// The subscription the tests register.
pub const SUB: &str = "6f2c1b3a-1111-4222-8333-944445555666";
/// The password the stand-in controller stores for every cluster.
pub const KUBEADMIN_PASSWORD: &str = "kubeadmin-password-from-driver";
/// The admin kubeconfig the stand-in controller stores for every cluster.
pub const USER_ADMIN_KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nclusters: []\n";
/// The RP's own admin kubeconfig of the cluster: never handed to the customer.
pub const RP_ADMIN_KUBECONFIG: &str = "apiVersion: v1\nkind: Config\nusers: [{name: rp}]\n";

/// A devcluster serving the management CRDs, with one enabled default OpenShift version.
pub async fn management_cluster() -> (Devcluster, kube::Client) {
    // Access recorded: a test running the frontend under its ServiceAccount checks what it used.
    let dc = Devcluster::start(DevclusterConfig {
        record_access: true,
        ..DevclusterConfig::in_memory()
    })
    .await
    .expect("devcluster starts");
    let client = dc.client().await.expect("devcluster client");
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds::management_crds() {
        crds.create(&PostParams::default(), &crd)
            .await
            .expect("CRD created");
    }
    // A CRD is served once a list of it succeeds.
    let clusters: Api<OpenShiftCluster> = Api::all(client.clone());
    let mut served = false;
    for _ in 0..200 {
        if clusters.list(&ListParams::default()).await.is_ok() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(served, "the OpenShiftCluster CRD is never served");
    let versions: Api<OpenShiftVersion> = Api::all(client.clone());
    versions
        .create(
            &PostParams::default(),
            &OpenShiftVersion::new(
                "4.15.35",
                OpenShiftVersionSpec {
                    version: "4.15.35".into(),
                    open_shift_pullspec: "quay.io/openshift-release-dev/ocp-release@sha256:1"
                        .into(),
                    installer_pullspec: "quay.io/aro/installer:4.15".into(),
                    enabled: true,
                    default: true,
                },
            ),
        )
        .await
        .expect("version created");
    (dc, client)
}

/// The frontend's ServiceAccount (deploy/rp/frontend-rbac.yaml).
pub const FRONTEND_ACCOUNT: (&str, &str) = ("aro-rp", "aro-rp-frontend");

/// Give the frontend its production identity in `dc`: deploy/rp's namespace and the frontend's
/// RBAC (the very files), and the binding rp-controller makes in the subscription's namespace
/// (ClusterRole `aro-rp-frontend-subscription`). Returns a kubeconfig with a token of the
/// frontend's ServiceAccount.
pub async fn frontend_identity(dc: &Devcluster, admin: &kube::Client) -> String {
    for (file, text) in [
        (
            "deploy/rp/namespace.yaml",
            include_str!("../../../deploy/rp/namespace.yaml"),
        ),
        (
            "deploy/rp/frontend-rbac.yaml",
            include_str!("../../../deploy/rp/frontend-rbac.yaml"),
        ),
    ] {
        aro_common::manifests::apply_yaml(admin, "rp-frontend-tests", file, text)
            .await
            .expect("deploy/rp applies");
    }
    let (namespace, account) = FRONTEND_ACCOUNT;
    let subscription_namespace = crds::management::naming::subscription_namespace(SUB);
    let namespace_object = serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": subscription_namespace},
    });
    let bound = serde_json::json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "aro-rp-frontend-subscription", "namespace": subscription_namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "aro-rp-frontend-subscription"},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    });
    let documents = format!(
        "{}\n---\n{}",
        serde_json::to_string(&namespace_object).unwrap(),
        serde_json::to_string(&bound).unwrap()
    );
    aro_common::manifests::apply_yaml(admin, "rp-controller", "subscription access", &documents)
        .await
        .expect("the subscription binding applies");
    let token = dc
        .service_account_token(namespace, account, &[], Duration::from_secs(3600))
        .expect("a token of the frontend's ServiceAccount");
    dc.token_kubeconfig(&token)
}

/// A client of `dc` as the frontend's ServiceAccount ([`frontend_identity`]).
pub async fn frontend_client(dc: &Devcluster, admin: &kube::Client) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(&frontend_identity(dc, admin).await)
        .expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// Serve the frontend over plain HTTP on a loopback port; returns its base URL.
pub async fn serve_http(client: kube::Client) -> String {
    let app = Frontend::router(client, FrontendConfig::insecure_for_loopback("eastus"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

/// Register the subscription as ARM does (PUT /subscriptions/{s}?api-version=2.0).
pub async fn register_subscription(http: &reqwest::Client, base: &str) {
    let resp = http
        .put(format!("{base}/subscriptions/{SUB}?api-version=2.0"))
        .json(&serde_json::json!({"state": "Registered", "properties": {"tenantId": "tenant"}}))
        .send()
        .await
        .expect("subscription PUT");
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
}

/// Stand-in for rp-controller: watches every OpenShiftCluster and, once the frontend's claim is
/// released, finishes the operation the way the controller does: Creating/Updating/AdminUpdating
/// end Succeeded with a credentials Secret, Deleting ends with the object gone, its unique keys
/// released and the AsyncOperation marked resourceDeleted.
pub fn spawn_controller_stand_in(client: kube::Client) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let api: Api<OpenShiftCluster> = Api::all(client.clone());
        let mut events = watcher(api, watcher::Config::default())
            .applied_objects()
            .boxed();
        while let Ok(Some(cluster)) = events.try_next().await {
            // A failed step (e.g. a conflict with the frontend's own write) is retried on the
            // object's next event.
            if let Err(e) = finish_operation(&client, &cluster).await {
                eprintln!("controller stand-in: {e}");
            }
        }
    })
}

async fn finish_operation(client: &kube::Client, cluster: &OpenShiftCluster) -> kube::Result<()> {
    if cluster
        .annotations()
        .contains_key(crds::management::protocol::PENDING_OPERATION)
    {
        return Ok(());
    }
    let Some(status) = cluster.status.clone() else {
        return Ok(());
    };
    let (Some(state), Some(op_id)) = (status.provisioning_state, status.async_operation_id.clone())
    else {
        return Ok(());
    };
    let ns = cluster.namespace().unwrap_or_default();
    let name = cluster.name_any();
    let clusters: Api<OpenShiftCluster> = Api::namespaced(client.clone(), &ns);
    let ops: Api<AsyncOperation> = Api::namespaced(client.clone(), &ns);
    let deleted = match state {
        ProvisioningState::Creating
        | ProvisioningState::Updating
        | ProvisioningState::AdminUpdating => {
            let secret_name = format!("{name}-credentials");
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(secret_name.clone()),
                    namespace: Some(ns.clone()),
                    ..Default::default()
                },
                data: Some(
                    [
                        ("kubeadminPassword", KUBEADMIN_PASSWORD),
                        ("adminKubeconfig", RP_ADMIN_KUBECONFIG),
                        ("userAdminKubeconfig", USER_ADMIN_KUBECONFIG),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
                ),
                ..Default::default()
            };
            let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
            secrets
                .patch(
                    &secret_name,
                    &PatchParams::apply("controller-stand-in").force(),
                    &Patch::Apply(&secret),
                )
                .await?;
            let mut updated = cluster.clone();
            let mut new_status = status.clone();
            new_status.last_provisioning_state = Some(state);
            new_status.provisioning_state = Some(ProvisioningState::Succeeded);
            new_status.credentials_ref = Some(SecretReference { name: secret_name });
            updated.status = Some(new_status);
            aro_common::merge_patch::write(
                &clusters,
                cluster,
                &updated,
                aro_common::merge_patch::Part::Status,
            )
            .await?;
            false
        }
        ProvisioningState::Deleting => true,
        _ => return Ok(()),
    };
    let read = ops.get(&op_id).await?;
    let mut op = read.clone();
    if op
        .status
        .as_ref()
        .and_then(|s| s.status)
        .is_some_and(|s| s.is_terminal())
    {
        return Ok(());
    }
    op.status = Some(AsyncOperationStatus {
        status: Some(ProvisioningState::Succeeded),
        end_time: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        percent_complete: Some(100),
        error: None,
        resource_deleted: deleted,
    });
    aro_common::merge_patch::write(&ops, &read, &op, aro_common::merge_patch::Part::Status).await?;
    if deleted {
        // The controller's releaseUniqueKeys: the cluster's unique keys are free again.
        let holder = cluster.spec.resource_id.to_lowercase();
        let keys: Api<ClusterUniqueKey> = Api::all(client.clone());
        for key in keys.list(&ListParams::default()).await?.items {
            if key.spec.cluster_resource_id == holder {
                keys.delete(&key.name_any(), &Default::default()).await?;
            }
        }
        clusters.delete(&name, &Default::default()).await?;
    }
    Ok(())
}

/// The namespace of the test subscription.
pub fn namespace() -> String {
    subscription_namespace(SUB)
}

/// The 4.15 platform workload identity role set with the cloud controller manager's role, its
/// operator named `operator_name`.
pub fn role_set_4_15(operator_name: &str) -> crds::management::PlatformWorkloadIdentityRoleSet {
    role_set("4.15", operator_name)
}

/// The role set of an OpenShift minor version with the cloud controller manager's role, its
/// operator named `operator_name`.
pub fn role_set(
    minor: &str,
    operator_name: &str,
) -> crds::management::PlatformWorkloadIdentityRoleSet {
    use crds::management::{
        PlatformWorkloadIdentityRole, PlatformWorkloadIdentityRoleSet,
        PlatformWorkloadIdentityRoleSetSpec,
    };
    PlatformWorkloadIdentityRoleSet::new(
        minor,
        PlatformWorkloadIdentityRoleSetSpec {
            open_shift_version: minor.into(),
            platform_workload_identity_roles: vec![PlatformWorkloadIdentityRole {
                operator_name: operator_name.into(),
                role_definition_name: "Azure Red Hat OpenShift Cloud Controller Manager".into(),
                role_definition_id: "/providers/Microsoft.Authorization/roleDefinitions/a1f96423-95ce-4224-ab27-4e3dc72facd4".into(),
                service_accounts: vec![
                    "system:serviceaccount:openshift-cloud-controller-manager:cloud-controller-manager".into(),
                ],
                secret_location: None,
            }],
        },
    )
}
