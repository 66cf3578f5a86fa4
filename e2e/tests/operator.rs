//! The in-cluster operator keeps a cluster created through the RP in shape: a corrupted pull
//! secret, a pull secret of the wrong type, a deleted genevalogging DaemonSet and a subnet whose
//! NSG was detached in Azure are all repaired; a disabled controller's objects are removed. The
//! operator runs under the chart's RBAC, and the run proves those grants least: every one used,
//! none missing.

use std::time::Duration;

use aro_local::{LocalConfig, LocalSystem};
use azure_clients::AzureClients;
use azure_clients::NETWORK_API_VERSION as NETWORK_API;
use base64::Engine;
use e2e::{Arm, cluster_body, seed_network};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::DynamicObject;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn admin_client(arm: &Arm, name: &str) -> kube::Client {
    let answer = arm.action(name, "listAdminCredentials").await.unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let kubeconfig = base64::engine::general_purpose::STANDARD
        .decode(answer.body["kubeconfig"].as_str().unwrap())
        .unwrap();
    e2e::kube_client_from(std::str::from_utf8(&kubeconfig).unwrap())
        .await
        .unwrap()
}

fn auths_of(secret: &Secret) -> Option<serde_json::Map<String, Value>> {
    let data = secret.data.as_ref()?.get(".dockerconfigjson")?;
    let config: Value = serde_json::from_slice(&data.0).ok()?;
    config["auths"].as_object().cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_repairs_pull_secret_genevalogging_and_subnet_nsg() {
    let system = LocalSystem::start(LocalConfig {
        operator_resync: Duration::from_secs(1),
        record_access: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let arm = Arm::new(&system.frontend_url);
    let emulator = system.emulator.as_ref().unwrap();
    let network = seed_network(emulator, "operator-vnet", 30, true).unwrap();
    let answer = arm.put("op", &cluster_body("op", &network)).await.unwrap();
    assert_eq!(answer.status, 201, "{}", answer.body);
    let cluster = arm
        .wait_for_state("op", &["Succeeded", "Failed"], T)
        .await
        .unwrap();
    assert_eq!(
        cluster["properties"]["provisioningState"], "Succeeded",
        "{cluster}"
    );
    let client = admin_client(&arm, "op").await;
    // What the operator did in its cluster (recorded since it started): a repair that never happens
    // names the request its grants denied.
    let infra_id = e2e::stored_cluster(&system.client, "op")
        .await
        .status
        .unwrap()
        .infra_id
        .unwrap();
    let log = system
        .controller_runtime()
        .unwrap()
        .access_log(&infra_id)
        .await
        .expect("the cluster runs");
    let denials = || e2e::least_privilege::denials(&log);

    // Pull secret: corrupt it; the operator rewrites it with the ARO registry credentials (those
    // of its own Secret, openshift-azure-operator/cluster).
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "openshift-config");
    let operator_secret: Api<Secret> = Api::namespaced(client.clone(), "openshift-azure-operator");
    let aro_keys: Vec<String> = auths_of(&operator_secret.get("cluster").await.unwrap())
        .unwrap_or_default()
        .keys()
        .cloned()
        .collect();
    secrets
        .patch(
            "pull-secret",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"data": {".dockerconfigjson": ByteString(b"{not json".to_vec())}}),
            ),
        )
        .await
        .unwrap();
    let repaired_in = e2e::until_explained(T, "the pull secret repair", denials, || async {
        secrets
            .get("pull-secret")
            .await
            .ok()
            .and_then(|s| auths_of(&s))
            .is_some_and(|a| aro_keys.iter().all(|k| a.contains_key(k)))
    })
    .await;
    println!("pull secret repaired in {:?}", repaired_in);

    // genevalogging: a deleted DaemonSet comes back.
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), "openshift-azure-logging");
    e2e::until_explained(T, "the genevalogging DaemonSet", denials, || async {
        daemonsets.get_opt("mdsd").await.ok().flatten().is_some()
    })
    .await;
    let old_uid = daemonsets.get("mdsd").await.unwrap().metadata.uid;
    daemonsets
        .delete("mdsd", &DeleteParams::default())
        .await
        .unwrap();
    e2e::until_explained(
        T,
        "the genevalogging DaemonSet to come back",
        denials,
        || async {
            daemonsets
                .get_opt("mdsd")
                .await
                .ok()
                .flatten()
                .is_some_and(|d| d.metadata.uid != old_uid)
        },
    )
    .await;

    // subnets: detach the NSG from the worker subnet in Azure; the operator attaches it again.
    let azure = AzureClients::new(system.azure.clone()).unwrap().arm();
    let subnet = azure
        .get(&network.worker, NETWORK_API)
        .await
        .unwrap()
        .unwrap();
    let nsg = subnet["properties"]["networkSecurityGroup"]["id"]
        .as_str()
        .expect("the install attached the cluster NSG")
        .to_string();
    let mut detached = subnet.clone();
    detached["properties"]
        .as_object_mut()
        .unwrap()
        .remove("networkSecurityGroup");
    let started = azure
        .put(&network.worker, NETWORK_API, &detached)
        .await
        .unwrap();
    azure
        .wait(started, Duration::from_millis(200))
        .await
        .unwrap();
    e2e::until_explained(T, "the worker subnet NSG repair", denials, || async {
        azure
            .get(&network.worker, NETWORK_API)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| {
                s["properties"]["networkSecurityGroup"]["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(&nsg))
            })
    })
    .await;
    // The rest of the subnet is as it was.
    let after = azure
        .get(&network.worker, NETWORK_API)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after["properties"]["addressPrefix"],
        subnet["properties"]["addressPrefix"]
    );

    // Pull secret of the wrong type (immutable in place): the operator deletes and recreates it.
    replace_pull_secret_with_opaque(&secrets).await;
    e2e::until_explained(
        T,
        "the pull secret recreated with its type",
        denials,
        || async {
            secrets
                .get_opt("pull-secret")
                .await
                .ok()
                .flatten()
                .is_some_and(|s| s.type_.as_deref() == Some("kubernetes.io/dockerconfigjson"))
        },
    )
    .await;

    // routefix: on a version with the ICMP bug (4.7.2) it is deployed (its namespace, SCC and a
    // ClusterRoleBinding to openshift-sdn-controller, which the operator may bind); once the
    // version is fixed again its namespace and binding are removed.
    let versions: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &aro_operator::kinds::CLUSTER_VERSION.api_resource(),
    );
    let version = versions.get("version").await.unwrap();
    let fixed_version = version.data["status"]["desired"]["version"]
        .as_str()
        .expect("the cluster reports its version")
        .to_string();
    let set_version = |v: String| {
        let versions = versions.clone();
        async move {
            versions
                .patch_status(
                    "version",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"status": {"desired": {"version": v}}})),
                )
                .await
                .unwrap();
        }
    };
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    set_version("4.7.2".into()).await;
    e2e::until_explained(T, "routefix deployed", denials, || async {
        bindings.get_opt("routefix").await.ok().flatten().is_some()
    })
    .await;
    set_version(fixed_version).await;
    e2e::until_explained(T, "routefix's objects removed", denials, || async {
        bindings.get_opt("routefix").await.ok().flatten().is_none()
            && namespaces
                .get_opt("openshift-azure-routefix")
                .await
                .ok()
                .flatten()
                .is_none_or(|n| n.metadata.deletion_timestamp.is_some())
    })
    .await;

    // machineset: every worker MachineSet scaled to 0; the operator raises one back to the
    // supported minimum of two workers.
    let machine_sets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        aro_operator::machineset::NAMESPACE,
        &aro_operator::kinds::MACHINE_SET.api_resource(),
    );
    let workers: Vec<String> = machine_sets
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|m| aro_operator::machineset::is_worker(&serde_json::to_value(m).unwrap()))
        .filter_map(|m| m.metadata.name.clone())
        .collect();
    assert!(!workers.is_empty(), "the cluster has worker MachineSets");
    for name in &workers {
        machine_sets
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": 0}})),
            )
            .await
            .unwrap();
    }
    e2e::until_explained(
        T,
        "the workers scaled back to the minimum",
        denials,
        || async {
            let total: i64 = machine_sets
                .list(&Default::default())
                .await
                .map(|l| {
                    l.items
                        .iter()
                        .map(|m| serde_json::to_value(m).unwrap())
                        .filter(aro_operator::machineset::is_worker)
                        .map(|m| aro_operator::machineset::replicas_of(&m).replicas)
                        .sum()
                })
                .unwrap_or(0);
            total >= aro_operator::machineset::MIN_WORKER_REPLICAS
        },
    )
    .await;

    // Least privilege: what the operator did in its cluster against the chart's grants.
    e2e::least_privilege::print_denials(&log);
    e2e::least_privilege::assert_account_least_privilege(
        &client,
        &log,
        aro_operator::OPERATOR_NAMESPACE,
        &aro_operator::manifests::service_account(aro_operator::Role::Master),
        &[
            // The leader-election Lease is taken by the operator's own process (`aro operator`),
            // not by the controllers the local runtime runs in-process; aro-operator's manager
            // tests cover it.
            e2e::least_privilege::exempt("get", "coordination.k8s.io", "leases"),
            e2e::least_privilege::exempt("create", "coordination.k8s.io", "leases"),
            e2e::least_privilege::exempt("update", "coordination.k8s.io", "leases"),
        ],
    )
    .await;
    system.stop().await.unwrap();
}

/// Replace the pull secret with an `Opaque` one holding the same data (a Secret's type cannot be
/// changed in place). The operator may recreate the deleted secret first; then try again.
async fn replace_pull_secret_with_opaque(secrets: &Api<Secret>) {
    let current = secrets.get("pull-secret").await.unwrap();
    for _ in 0..20 {
        secrets
            .delete("pull-secret", &DeleteParams::default())
            .await
            .ok();
        let opaque = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some("pull-secret".into()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: current.data.clone(),
            ..Default::default()
        };
        match secrets.create(&PostParams::default(), &opaque).await {
            Ok(_) => return,
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => panic!("creating the opaque pull secret: {e}"),
        }
    }
    panic!("the operator recreated the pull secret before every attempt");
}
