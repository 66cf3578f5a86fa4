//! The cluster lifecycle through the ARM API: create, read, credentials, update, admin update,
//! delete, and dynamic validation failures.

use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use e2e::{Arm, cluster_body, cluster_resources, demo_network, seed_network};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Secret};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use rp_controller::cluster_runtime::ClusterRuntime;
use rp_controller::context::Settings;

const T: Duration = Duration::from_secs(60);

async fn system() -> LocalSystem {
    LocalSystem::start(LocalConfig {
        settings: e2e::fast_settings(),
        lease_duration: Duration::from_secs(3),
        record_access: true,
        ..Default::default()
    })
    .await
    .expect("the local system starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_lifecycle_create_read_credentials_update_admin_update_delete() {
    let system = system().await;
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();

    // Create -> Succeeded.
    let created = arm
        .put("demo", &cluster_body("demo", &demo_network()))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["properties"]["provisioningState"], "Creating");
    let operation_url = created
        .async_operation
        .clone()
        .expect("Azure-AsyncOperation");
    let cluster = arm
        .wait_for_state("demo", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    e2e::least_privilege::print_denials(system.devcluster.as_ref().unwrap().access_log());
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    let operation = arm.get_url(&operation_url).await.unwrap();
    assert_eq!(operation.body["status"], "Succeeded", "{}", operation.body);
    assert!(operation.body["endTime"].is_string());

    // GET shows what the install computed.
    let p = &cluster["properties"];
    assert_eq!(
        p["apiserverProfile"]["url"],
        "https://api.demo.eastus.aro.local:6443/"
    );
    assert_eq!(
        p["consoleProfile"]["url"],
        "https://console-openshift-console.apps.demo.eastus.aro.local/"
    );
    assert!(
        p["apiserverProfile"]["ip"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty()),
        "{p}"
    );
    assert!(
        p["ingressProfiles"][0]["ip"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty()),
        "{p}"
    );
    assert_eq!(p["clusterProfile"]["version"], "4.15.35");

    // Azure: the resource group is managed by the cluster; the NSG is on both subnets; DNS records.
    let resources = cluster_resources(emulator, "demo");
    assert!(
        resources
            .iter()
            .any(|id| id.ends_with("/resourceGroups/aro-demo")),
        "{resources:?}"
    );
    assert!(
        resources
            .iter()
            .any(|id| id.contains("networkSecurityGroups")),
        "{resources:?}"
    );
    assert!(
        resources.iter().any(|id| id.contains("loadBalancers")),
        "{resources:?}"
    );
    assert!(
        resources.iter().any(|id| id.contains("/A/api.demo")),
        "{resources:?}"
    );
    // The cluster's service principal is Contributor on its resource group; the RP has a private
    // endpoint in its own network connected to the cluster's private link service.
    let dump = emulator.resources();
    let assignment = dump
        .iter()
        .find(|r| {
            r["id"].as_str().is_some_and(|id| {
                id.starts_with("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/aro-demo/providers/Microsoft.Authorization/roleAssignments/")
            })
        })
        .unwrap_or_else(|| panic!("no role assignment: {resources:?}"));
    assert_eq!(
        assignment["properties"]["principalId"],
        arm_emulator::demo::CLUSTER_OBJECT_ID
    );
    assert!(
        assignment["properties"]["roleDefinitionId"]
            .as_str()
            .unwrap()
            .ends_with(rp_controller::actions::CONTRIBUTOR_ROLE)
    );
    let endpoint = dump
        .iter()
        .find(|r| {
            r["id"].as_str().is_some_and(|id| {
                id.to_ascii_lowercase().contains(
                    "/resourcegroups/aro-rp/providers/microsoft.network/privateendpoints/aro-pe-",
                )
            }) && r["tags"][rp_controller::actions::OWNER_TAG] == arm.cluster_id("demo")
        })
        .unwrap_or_else(|| panic!("no RP private endpoint"));
    assert!(
        endpoint["properties"]["manualPrivateLinkServiceConnections"][0]["properties"]
            ["privateLinkServiceId"]
            .as_str()
            .unwrap()
            .ends_with("-pls")
    );
    let stored: Api<crds::management::OpenShiftCluster> = Api::namespaced(
        system.client.clone(),
        &crds::management::naming::subscription_namespace(&arm.subscription),
    );
    let status = stored
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.spec.name == "demo")
        .and_then(|c| c.status)
        .unwrap();
    assert_eq!(
        status.service_principal_object_id.as_deref(),
        Some(arm_emulator::demo::CLUSTER_OBJECT_ID)
    );
    assert!(
        status
            .private_endpoint_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("10.255.")),
        "{status:?}"
    );
    let group = dump
        .iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.ends_with("/resourceGroups/aro-demo"))
        })
        .unwrap();
    assert!(
        group["managedBy"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case(&arm.cluster_id("demo"))
    );
    for subnet in ["master", "worker"] {
        let s = dump
            .iter()
            .find(|r| r["id"].as_str() == Some(demo_network_subnet(subnet).as_str()))
            .unwrap();
        assert!(
            s["properties"]["networkSecurityGroup"]["id"]
                .as_str()
                .is_some_and(|id| id.contains("aro-demo")),
            "{s}"
        );
    }

    // Credentials.
    let creds = arm.action("demo", "listCredentials").await.unwrap();
    assert_eq!(creds.status, 200, "{}", creds.body);
    assert_eq!(creds.body["kubeadminUsername"], "kubeadmin");
    assert_eq!(creds.body["kubeadminPassword"].as_str().unwrap().len(), 23);
    let admin = arm.action("demo", "listAdminCredentials").await.unwrap();
    assert_eq!(admin.status, 200, "{}", admin.body);
    let kubeconfig =
        rp_controller::actions::decode_kubeconfig(admin.body["kubeconfig"].as_str().unwrap())
            .expect("a base64 kubeconfig");
    let cluster_client = e2e::kube_client_from(&kubeconfig)
        .await
        .expect("a usable kubeconfig");
    // The customer's kubeconfig is the user-admin one: system:admin, by a client certificate.
    let user = e2e::whoami(&cluster_client).await;
    assert_eq!(user.username.as_deref(), Some("system:admin"));
    assert!(user.groups.unwrap().iter().any(|g| g == "system:masters"));
    // listCredentials hands out the password the cluster runtime reported.
    let stored = e2e::stored_cluster(&system.client, "demo").await;
    let infra_id = stored.status.unwrap().infra_id.unwrap();
    let access = system
        .controller_runtime()
        .unwrap()
        .resume(&infra_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        creds.body["kubeadminPassword"].as_str(),
        access.kubeadmin_password.as_ref().map(|p| p.expose_str())
    );
    let nodes: Api<Node> = Api::all(cluster_client.clone());
    assert_eq!(
        nodes
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .len(),
        6
    );
    let cv = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("config.openshift.io", "v1", "ClusterVersion"),
        "clusterversions",
    );
    let versions: Api<DynamicObject> = Api::all_with(cluster_client.clone(), &cv);
    let version = versions.get("version").await.unwrap();
    assert_eq!(version.data["status"]["desired"]["version"], "4.15.35");
    // The operator runs against the cluster: its Cluster object and the pull secret it manages.
    let operator_cluster = ApiResource::erase::<crds::operator::Cluster>(&());
    let clusters: Api<DynamicObject> = Api::all_with(cluster_client.clone(), &operator_cluster);
    let aro = clusters.get("cluster").await.unwrap();
    assert_eq!(aro.data["spec"]["domain"], "demo.eastus.aro.local");
    // Its master Deployment takes the cluster's service principal as its Azure identity.
    let operator_secrets: Api<Secret> =
        Api::namespaced(cluster_client.clone(), aro_operator::OPERATOR_NAMESPACE);
    let identity = operator_secrets
        .get(rp_controller::actions::OPERATOR_CREDENTIALS_SECRET)
        .await
        .unwrap();
    let identity = identity.data.unwrap_or_default();
    assert_eq!(
        identity.get("AZURE_CLIENT_ID").map(|v| v.0.as_slice()),
        Some(demo_network().client_id.as_bytes())
    );
    assert!(identity.contains_key("AZURE_CLIENT_SECRET"));
    let deployments: Api<Deployment> =
        Api::namespaced(cluster_client.clone(), aro_operator::OPERATOR_NAMESPACE);
    let master = deployments.get("aro-operator-master").await.unwrap();
    let env_from =
        serde_json::to_value(&master.spec.unwrap().template.spec.unwrap().containers[0].env_from)
            .unwrap();
    assert_eq!(
        env_from[0]["secretRef"]["name"],
        rp_controller::actions::OPERATOR_CREDENTIALS_SECRET
    );

    // GET shows the live cluster: a scaled MachineSet and a changed ClusterVersion show in the
    // ARM GET once the frontend's per-cluster cache expires (docs/api.md).
    let machine_sets = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("machine.openshift.io", "v1beta1", "MachineSet"),
        "machinesets",
    );
    let sets: Api<DynamicObject> = Api::namespaced_with(
        cluster_client.clone(),
        "openshift-machine-api",
        &machine_sets,
    );
    let (set, replicas) = sets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|s| Some((s.metadata.name?, s.data["spec"]["replicas"].clone())))
        .min_by(|a, b| a.0.cmp(&b.0))
        .unwrap();
    set_live_cluster(&sets, &versions, &set, &serde_json::json!(5), "4.15.36").await;
    let started = std::time::Instant::now();
    loop {
        let live = arm.get("demo").await.unwrap();
        assert_eq!(live.status, 200, "{}", live.body);
        let p = &live.body["properties"];
        let scaled = p["workerProfilesStatus"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w["name"] == set && w["count"] == 5));
        if scaled && p["clusterProfile"]["version"] == "4.15.36" {
            // The MachineSet's shape comes from its provider spec.
            assert!(
                p["workerProfilesStatus"][0]["vmSize"]
                    .as_str()
                    .is_some_and(|v| !v.is_empty()),
                "{p}"
            );
            break;
        }
        assert!(started.elapsed() < T, "the live cluster never shows: {p}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Back as installed, for the steps below.
    set_live_cluster(&sets, &versions, &set, &replicas, "4.15.35").await;

    // Update (tags) -> Succeeded.
    let cluster = arm
        .patch_until_succeeded("demo", &serde_json::json!({"tags": {"env": "test"}}), T)
        .await;
    assert_eq!(cluster["tags"]["env"], "test");
    let secrets: Api<Secret> = Api::namespaced(cluster_client.clone(), "kube-system");
    let secret_value = |secret: &Secret, key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|v| String::from_utf8_lossy(&v.0).into_owned())
    };
    let credentials = secrets.get("azure-credentials").await.unwrap();
    assert_eq!(
        secret_value(&credentials, "azure_client_id").as_deref(),
        Some(arm_emulator::demo::CLUSTER_CLIENT_ID)
    );

    // Service principal rotation (az aro update --client-id --client-secret) -> Succeeded: the
    // cluster and its operator get the new credentials, the new principal gets Contributor on the
    // cluster resource group and the old one loses the RP's grant.
    let cluster = arm
        .patch_until_succeeded(
            "demo",
            &serde_json::json!({"properties": {"servicePrincipalProfile": {
                "clientId": arm_emulator::demo::ROTATED_CLIENT_ID,
                "clientSecret": arm_emulator::demo::ROTATED_CLIENT_SECRET,
            }}}),
            T,
        )
        .await;
    assert_eq!(
        cluster["properties"]["servicePrincipalProfile"]["clientId"],
        arm_emulator::demo::ROTATED_CLIENT_ID
    );
    let credentials = secrets.get("azure-credentials").await.unwrap();
    assert_eq!(
        secret_value(&credentials, "azure_client_id").as_deref(),
        Some(arm_emulator::demo::ROTATED_CLIENT_ID)
    );
    // All seven keys ARO-RP keeps, and the ARO operator's CredentialsRequest was synced from them.
    for key in [
        "azure_subscription_id",
        "azure_tenant_id",
        "azure_resource_prefix",
        "azure_resourcegroup",
        "azure_region",
        "azure_client_id",
        "azure_client_secret",
    ] {
        assert!(
            secret_value(&credentials, key).is_some_and(|v| !v.is_empty()),
            "azure-credentials lacks {key}"
        );
    }
    assert_eq!(
        secret_value(&credentials, "azure_resource_prefix").as_deref(),
        Some(infra_id.as_str())
    );
    let synced: Api<Secret> = Api::namespaced(cluster_client.clone(), "openshift-azure-operator");
    let synced = synced.get("azure-cloud-credentials").await.unwrap();
    assert_eq!(
        secret_value(&synced, "azure_client_secret").as_deref(),
        Some(arm_emulator::demo::ROTATED_CLIENT_SECRET)
    );
    assert_eq!(
        secret_value(&credentials, "azure_client_secret").as_deref(),
        Some(arm_emulator::demo::ROTATED_CLIENT_SECRET)
    );
    let operator_identity: Api<Secret> =
        Api::namespaced(cluster_client.clone(), "openshift-azure-operator");
    let operator_identity = operator_identity
        .get(rp_controller::actions::OPERATOR_CREDENTIALS_SECRET)
        .await
        .unwrap();
    assert_eq!(
        secret_value(&operator_identity, "AZURE_CLIENT_ID").as_deref(),
        Some(arm_emulator::demo::ROTATED_CLIENT_ID)
    );
    let principals: Vec<String> = emulator
        .resources()
        .iter()
        .filter(|r| {
            r["id"].as_str().is_some_and(|id| {
                id.starts_with("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/aro-demo/providers/Microsoft.Authorization/roleAssignments/")
            })
        })
        .filter_map(|r| r["properties"]["principalId"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        principals,
        vec![arm_emulator::demo::ROTATED_OBJECT_ID.to_string()]
    );

    // Admin update -> back to the previous state, maintenance task cleared.
    let admin_update = arm
        .admin_patch(
            "demo",
            &serde_json::json!({"properties": {"maintenanceTask": "OperatorUpdate"}}),
        )
        .await
        .unwrap();
    assert!(
        matches!(admin_update.status, 200 | 202),
        "{}",
        admin_update.body
    );
    let admin_view = wait_admin_done(&arm, "demo").await;
    assert_eq!(
        admin_view["properties"]["provisioningState"], "Succeeded",
        "{admin_view}"
    );

    // The cluster holds the unique keys of its resource group, of both client ids it used and of
    // its managed domain label.
    let claims: Api<crds::management::ClusterUniqueKey> = Api::all(system.client.clone());
    let claim_kinds = || async {
        let mut kinds: Vec<String> = claims
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|c| c.spec.cluster_resource_id == arm.cluster_id("demo").to_lowercase())
            .map(|c| c.spec.kind)
            .collect();
        kinds.sort();
        kinds
    };
    assert_eq!(
        claim_kinds().await,
        ["clientid", "clientid", "clusterresourcegroup", "domain"]
    );

    // Delete -> gone; Secrets and unique keys gone; no Azure resource of the cluster left.
    let deleted = arm.delete("demo").await.unwrap();
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    arm.wait_gone("demo", T).await.unwrap();
    let ns = crds::management::naming::subscription_namespace(&arm.subscription);
    let mgmt_secrets: Api<Secret> = Api::namespaced(system.client.clone(), &ns);
    let left: Vec<String> = mgmt_secrets
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|s| s.metadata.name)
        .filter(|n| n.starts_with("demo-"))
        .collect();
    assert!(left.is_empty(), "secrets left: {left:?}");
    assert!(claim_kinds().await.is_empty());
    let resources = cluster_resources(emulator, "demo");
    assert!(resources.is_empty(), "resources left: {resources:?}");
    for subnet in ["master", "worker"] {
        let s = emulator
            .resources()
            .into_iter()
            .find(|r| r["id"].as_str() == Some(demo_network_subnet(subnet).as_str()))
            .unwrap();
        assert!(s["properties"]["networkSecurityGroup"].is_null(), "{s}");
    }
    assert!(
        nodes.list(&ListParams::default()).await.is_err(),
        "the cluster API is down"
    );

    // Least privilege, proven: the frontend and the controller ran under their deploy/rp
    // ServiceAccounts (and the operator under the chart's); nothing was denied, and every grant
    // was used except those only other paths take (each named with the path).
    use e2e::least_privilege::{assert_least_privilege, exempt, paths};
    // ARM's subscription lifecycle PUT (the seed registered this subscription) and the admin
    // API's catalogue: e2e/tests/grants.rs takes those paths.
    let mut frontend_exempt = paths::subscription_lifecycle();
    frontend_exempt.extend(paths::admin_catalogue());
    frontend_exempt.extend([
        // A PUT whose writes fail or that loses its race: its operation record, staged
        // Secret and unique-key claims go (rp-frontend/tests/write_faults.rs uses these).
        exempt("delete", "rp.aro.openshift.io", "asyncoperations"),
        exempt("delete", "", "secrets"),
        exempt("delete", "rp.aro.openshift.io", "clusteruniquekeys"),
        // Taking over a stale unique-key claim, and the first PUT of a subscription the
        // controller has not provisioned yet (rp-frontend/tests/validation.rs uses these
        // under deploy/rp's grants).
        exempt("patch", "rp.aro.openshift.io", "clusteruniquekeys"),
        exempt("create", "", "namespaces"),
    ]);
    assert_least_privilege(&system, "aro-rp-frontend", &frontend_exempt).await;
    // A deleted subscription's busy clusters and the operation-record collector: e2e/tests/
    // grants.rs takes that path.
    let mut controller_exempt = paths::deleted_subscription();
    controller_exempt.extend([
        // The hive runtime (e2e/tests/hive.rs).
        exempt("get", "", "namespaces"),
        exempt("delete", "", "namespaces"),
        exempt("patch", "", "secrets"),
        exempt("get", "hive.openshift.io", "clusterdeployments"),
        exempt("patch", "hive.openshift.io", "clusterdeployments"),
        exempt("delete", "hive.openshift.io", "clusterdeployments"),
        exempt("patch", "hive.openshift.io", "clusterimagesets"),
        exempt("list", "hive.openshift.io", "clusterprovisions"),
        // Workload identity clusters' role sets (e2e/tests/workload_identity.rs).
        exempt(
            "get",
            "rp.aro.openshift.io",
            "platformworkloadidentityrolesets",
        ),
    ]);
    assert_least_privilege(&system, "aro-rp-controller", &controller_exempt).await;
    system.stop().await.unwrap();
}

/// What the cluster's own controllers would do: scale the MachineSet `set` (spec and status) and
/// report ClusterVersion `version`.
async fn set_live_cluster(
    sets: &Api<DynamicObject>,
    versions: &Api<DynamicObject>,
    set: &str,
    replicas: &serde_json::Value,
    version: &str,
) {
    let merge = |value| Patch::Merge(value);
    sets.patch(
        set,
        &PatchParams::default(),
        &merge(serde_json::json!({"spec": {"replicas": replicas}})),
    )
    .await
    .unwrap();
    sets.patch_status(
        set,
        &PatchParams::default(),
        &merge(serde_json::json!({"status": {"replicas": replicas, "readyReplicas": replicas}})),
    )
    .await
    .unwrap();
    versions
        .patch_status(
            "version",
            &PatchParams::default(),
            &merge(serde_json::json!({"status": {"desired": {"version": version}}})),
        )
        .await
        .unwrap();
}

fn demo_network_subnet(name: &str) -> String {
    arm_emulator::demo::subnet_id(name)
}

async fn wait_admin_done(arm: &Arm, name: &str) -> serde_json::Value {
    let deadline = std::time::Instant::now() + T;
    loop {
        let answer = arm.get(name).await.unwrap();
        if answer.body["properties"]["provisioningState"] != "AdminUpdating" {
            return answer.body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "admin update never ended"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invalid_networks_fail_with_specific_codes() {
    let system = system().await;
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();

    // A subnet that does not exist.
    let mut missing = demo_network();
    missing.worker = format!("{}/subnets/nope", missing.vnet_id);
    // A pod CIDR overlapping the master subnet.
    let overlap_net = seed_network(emulator, "overlap-vnet", 20, true).unwrap();
    // A VNet the cluster service principal has no role on.
    let denied_net = seed_network(emulator, "denied-vnet", 21, false).unwrap();

    let mut overlap = cluster_body("overlap", &overlap_net);
    overlap["properties"]["networkProfile"]["podCidr"] = "10.20.0.0/14".into();
    let cases = [
        (
            "missing",
            cluster_body("missing", &missing),
            "InvalidLinkedVNet",
            Some("properties.workerProfiles[0].subnetId"),
        ),
        ("overlap", overlap, "InvalidLinkedVNet", None),
        (
            "denied",
            cluster_body("denied", &denied_net),
            "InvalidServicePrincipalPermissions",
            None,
        ),
    ];
    for (name, body, _, _) in &cases {
        let answer = arm.put(name, body).await.unwrap();
        assert_eq!(answer.status, 201, "{name}: {}", answer.body);
    }
    for (name, _, code, target) in &cases {
        let cluster = arm
            .wait_for_state(name, &["Succeeded", "Failed"], T)
            .await
            .unwrap();
        assert_eq!(
            cluster["properties"]["provisioningState"], "Failed",
            "{name}: {cluster}"
        );
        let ns = crds::management::naming::subscription_namespace(&arm.subscription);
        let api: Api<crds::management::OpenShiftCluster> =
            Api::namespaced(system.client.clone(), &ns);
        let object = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|c| c.spec.name == *name)
            .unwrap();
        let status = object.status.unwrap();
        assert_eq!(
            status.failed_provisioning_state,
            Some(crds::management::ProvisioningState::Creating)
        );
        let error = status.error.unwrap();
        assert_eq!(error.code, *code, "{name}: {error:?}");
        if let Some(target) = target {
            assert_eq!(error.target.as_deref(), Some(*target), "{name}");
        }
        if *name == "overlap" {
            assert!(error.message.contains("overlap"), "{error:?}");
        }
        // The operation record carries the same error.
        let ops: Api<crds::management::AsyncOperation> =
            Api::namespaced(system.client.clone(), &ns);
        let op = ops
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|o| o.spec.cluster_name == object.metadata.name.clone().unwrap())
            .unwrap();
        assert_eq!(op.status.unwrap().error.unwrap().code, *code);
        // Nothing was created in Azure for a cluster that failed validation.
        assert!(cluster_resources(emulator, name).is_empty(), "{name}");
    }
    // A failed create can be deleted.
    arm.delete("missing").await.unwrap();
    arm.wait_gone("missing", T).await.unwrap();
    system.stop().await.unwrap();
}

/// A frontend that died right after claiming an update (its operation record and staged secrets
/// written, the claim on the cluster, no status): the controller completes the claim after its
/// grace period with the staged secrets in place, runs the update and reports it in the record.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_controller_completes_a_claim_whose_writer_died_with_its_secrets() {
    use crds::management::claim::staged_secret_key;
    use crds::management::protocol::{PENDING_OPERATION, PENDING_STATE};
    use crds::management::{
        AsyncOperation, AsyncOperationSpec, OpenShiftCluster, ProvisioningState,
    };
    use kube::ResourceExt;
    use kube::api::{Patch, PatchParams, PostParams};

    let system = LocalSystem::start(LocalConfig {
        settings: Settings {
            claim_grace: Duration::from_millis(300),
            ..e2e::fast_settings()
        },
        lease_duration: Duration::from_secs(3),
        ..Default::default()
    })
    .await
    .expect("the local system starts");
    let arm = Arm::new(&system.frontend_url);
    let created = arm
        .put("stale", &cluster_body("stale", &demo_network()))
        .await
        .unwrap();
    assert_eq!(created.status, 201, "{}", created.body);
    let cluster = arm
        .wait_for_state("stale", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );

    let ns = crds::management::naming::subscription_namespace(&arm.subscription);
    let clusters: Api<OpenShiftCluster> = Api::namespaced(system.client.clone(), &ns);
    let stored = clusters
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.spec.name == "stale")
        .expect("the cluster object");
    let object = stored.name_any();
    let op = uuid::Uuid::new_v4().to_string();
    // What the frontend writes before its claim: the operation record and the staged secret.
    let ops: Api<AsyncOperation> = Api::namespaced(system.client.clone(), &ns);
    let mut record = AsyncOperation::new(
        &op,
        AsyncOperationSpec {
            operation_id: op.clone(),
            resource_id: stored.spec.resource_id.clone(),
            cluster_name: object.clone(),
            subscription_id: stored.spec.subscription_id.clone(),
            location: stored.spec.location.clone(),
            initial_status: ProvisioningState::Updating,
            start_time: "2026-01-01T00:00:00Z".into(),
            tenant_id: None,
        },
    );
    record.metadata.namespace = Some(ns.clone());
    ops.create(&PostParams::default(), &record).await.unwrap();
    let pull_secret = r#"{"auths":{"staged.example.com":{"auth":"c3RhZ2VkOnNlY3JldA=="}}}"#;
    let secrets: Api<Secret> = Api::namespaced(system.client.clone(), &ns);
    let customer = format!("{object}-customer");
    secrets
        .patch(
            &customer,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({
                "stringData": {staged_secret_key(&op, "pullSecret"): pull_secret}
            })),
        )
        .await
        .unwrap();
    // The claim, and then the writer is gone.
    clusters
        .patch(
            &object,
            &PatchParams::default(),
            &Patch::Merge(&serde_json::json!({"metadata": {"annotations": {
                PENDING_OPERATION: op, PENDING_STATE: "Updating"
            }}})),
        )
        .await
        .unwrap();

    // Completed: the update runs under the claimed operation and ends Succeeded, and the record
    // says so.
    let deadline = std::time::Instant::now() + T;
    let finished = loop {
        let record = ops.get(&op).await.unwrap();
        if record
            .status
            .as_ref()
            .and_then(|s| s.status)
            .is_some_and(|s| s.is_terminal())
        {
            break record;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the claim is never completed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        finished.status.and_then(|s| s.status),
        Some(ProvisioningState::Succeeded)
    );
    let cluster = arm
        .wait_for_state("stale", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    let stored = clusters.get(&object).await.unwrap();
    assert!(!stored.annotations().contains_key(PENDING_OPERATION));
    // The staged secret was promoted before the update ran.
    let data = secrets
        .get(&customer)
        .await
        .unwrap()
        .data
        .unwrap_or_default();
    assert_eq!(
        data.get("pullSecret").map(|v| v.0.as_slice()),
        Some(pull_secret.as_bytes())
    );
    assert!(
        data.keys().all(|k| !k.starts_with("pending.")),
        "{:?}",
        data.keys()
    );

    system.stop().await.unwrap();
}
