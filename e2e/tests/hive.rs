//! The cluster lifecycle with the `hive` cluster runtime, as deploy/ runs the RP: the controller
//! writes ClusterDeployments to the management cluster (Hive's CRDs installed there) and a test
//! double plays Hive's part ([`e2e::hive::FakeHive`]: it installs each ClusterDeployment as a local
//! cluster and reports through Hive's API). Create, read, credentials, a credential rotation,
//! delete.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use e2e::hive::{FakeHive, cluster_deployments};
use e2e::{Arm, cluster_body, demo_network};
use k8s_openapi::api::core::v1::{Namespace, Node, Secret};
use kube::api::{Api, DynamicObject, ListParams};
use rp_controller::cluster_runtime::LocalRuntime;
use rp_controller::cluster_runtime::hive::{HiveConfig, HiveRuntime, hive_crds};

const T: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_hive_runtime_creates_updates_and_deletes_clusters_through_cluster_deployments() {
    let system = LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        lease_duration: Duration::from_secs(3),
        start_controller: false,
        record_access: true,
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let management = system.client.clone();
    aro_common::crd::apply_crds(&management, &hive_crds().unwrap(), "hive")
        .await
        .expect("Hive's CRDs");

    // Hive's part: it knows which version each release image installs.
    let versions: Api<crds::management::OpenShiftVersion> = Api::all(management.clone());
    let releases: BTreeMap<String, String> = versions
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|v| (v.spec.open_shift_pullspec, v.spec.version))
        .collect();
    let installed = Arc::new(LocalRuntime::new(None).with_operator_resync(Duration::from_secs(5)));
    let hive = FakeHive::start(management.clone(), installed.clone(), releases);

    // The RP's controller on the hive runtime, Hive running on the management cluster: the
    // runtime writes Hive's objects as the controller's ServiceAccount, as `aro controller
    // --cluster-runtime hive` without --hive-kubeconfig does.
    let runtime = Arc::new(HiveRuntime::new(
        system.controller_client().clone(),
        HiveConfig {
            poll_interval: Duration::from_millis(200),
            ..Default::default()
        },
    ));
    let (_health, stop, controller) = system.start_controller_with("hive-0", runtime).unwrap();

    let arm = Arm::new(&system.frontend_url);
    let created = arm
        .put("demo", &cluster_body("demo", &demo_network()))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    arm.until_succeeded("demo", T).await;
    e2e::least_privilege::print_denials(system.devcluster.as_ref().unwrap().access_log());

    // The ClusterDeployment the RP wrote, in the cluster's own namespace.
    let stored = e2e::stored_cluster(&management, "demo").await;
    let infra_id = stored.status.unwrap().infra_id.unwrap();
    let namespace = format!("aro-{infra_id}");
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(management.clone(), &namespace, &cluster_deployments());
    let cd = deployments.get("cluster").await.unwrap();
    assert_eq!(cd.data["spec"]["installed"], true);
    assert_eq!(cd.data["spec"]["installAttemptsLimit"], 1);
    assert_eq!(cd.data["spec"]["platform"]["azure"]["region"], "eastus");

    // listCredentials is the password Hive reported; listAdminCredentials reaches the cluster as
    // system:admin.
    let password_secret = cd.data["spec"]["clusterMetadata"]["adminPasswordSecretRef"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let hive_password = Api::<Secret>::namespaced(management.clone(), &namespace)
        .get(&password_secret)
        .await
        .unwrap()
        .data
        .unwrap()["password"]
        .clone();
    let creds = arm.action("demo", "listCredentials").await.unwrap();
    assert_eq!(creds.status, 200, "{}", creds.body);
    assert_eq!(
        creds.body["kubeadminPassword"].as_str().unwrap().as_bytes(),
        hive_password.0.as_slice()
    );
    let admin = arm.action("demo", "listAdminCredentials").await.unwrap();
    assert_eq!(admin.status, 200, "{}", admin.body);
    let kubeconfig =
        rp_controller::actions::decode_kubeconfig(admin.body["kubeconfig"].as_str().unwrap())
            .expect("a base64 kubeconfig");
    let cluster_client = e2e::kube_client_from(&kubeconfig).await.unwrap();
    assert_eq!(
        e2e::whoami(&cluster_client).await.username.as_deref(),
        Some("system:admin")
    );
    let nodes = Api::<Node>::all(cluster_client.clone())
        .list(&ListParams::default())
        .await
        .unwrap();
    assert_eq!(nodes.items.len(), 6);

    // A credential rotation reaches the cluster and its cloud-credential-operator.
    arm.patch_until_succeeded(
        "demo",
        &serde_json::json!({"properties": {"servicePrincipalProfile": {
            "clientId": arm_emulator::demo::ROTATED_CLIENT_ID,
            "clientSecret": arm_emulator::demo::ROTATED_CLIENT_SECRET,
        }}}),
        T,
    )
    .await;
    let credentials = Api::<Secret>::namespaced(cluster_client.clone(), "kube-system")
        .get("azure-credentials")
        .await
        .unwrap()
        .data
        .unwrap();
    assert_eq!(credentials.len(), 7, "{:?}", credentials.keys());
    assert_eq!(
        credentials["azure_client_id"].0,
        arm_emulator::demo::ROTATED_CLIENT_ID.as_bytes()
    );

    // Delete: through Hive's deprovision, then the namespace.
    let deleted = arm.delete("demo").await.unwrap();
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    arm.wait_gone("demo", T).await.unwrap();
    assert!(deployments.get_opt("cluster").await.unwrap().is_none());
    let namespaces: Api<Namespace> = Api::all(management.clone());
    assert!(
        namespaces
            .get_opt(&namespace)
            .await
            .unwrap()
            .is_none_or(|n| n.metadata.deletion_timestamp.is_some()),
        "the cluster's Hive namespace is deleted"
    );

    stop.cancel();
    controller.await.unwrap().unwrap();
    hive.stop().await;
    // Least privilege: the controller used its hive-runtime grants here (lifecycle.rs covers
    // the rest), and was denied nothing.
    use e2e::least_privilege::{exempt, paths};
    // A deleted subscription's busy clusters and the operation-record collector: e2e/tests/
    // grants.rs takes that path.
    let mut exempted = paths::deleted_subscription();
    exempted.extend([
        // A failed install's ClusterProvisions (rp-controller/tests/hive_runtime.rs lists
        // them as this ServiceAccount).
        exempt("list", "hive.openshift.io", "clusterprovisions"),
        // Workload identity clusters' role sets (e2e/tests/workload_identity.rs).
        exempt(
            "get",
            "rp.aro.openshift.io",
            "platformworkloadidentityrolesets",
        ),
    ]);
    e2e::least_privilege::assert_least_privilege(&system, "aro-rp-controller", &exempted).await;
}
