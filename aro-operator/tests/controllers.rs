//! Per-controller integration tests against a real Kubernetes API (an in-process devcluster): each
//! controller creates what is missing, repairs what drifted, leaves customer data alone and stops
//! when its flag is false.

mod support;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::*;

fn auths(config: &str) -> Value {
    serde_json::from_str::<Value>(config)
        .map(|v| v["auths"].clone())
        .unwrap_or(Value::Null)
}

async fn pull_secret(env: &Env) -> Option<Secret> {
    Api::<Secret>::namespaced(env.client.clone(), "openshift-config")
        .get_opt("pull-secret")
        .await
        .unwrap()
}

fn docker_config(secret: &Secret) -> String {
    secret
        .data
        .as_ref()
        .and_then(|d| d.get(".dockerconfigjson"))
        .map(|b| String::from_utf8_lossy(&b.0).into_owned())
        .unwrap_or_default()
}

/// The pull secret holds the ARO key and the customer's keys.
async fn wait_pull_secret_repaired(env: &Env) -> Secret {
    wait_until(
        "the pull secret to hold the ARO and customer keys",
        || async {
            let secret = pull_secret(env).await?;
            let a = auths(&docker_config(&secret));
            (secret.type_.as_deref() == Some("kubernetes.io/dockerconfigjson")
                && a["arosvc.azurecr.io"]["auth"] == "YXJvOnNlY3JldA=="
                && a["quay.io"]["email"] == "me@example.com"
                && a["registry.redhat.io"]["auth"] == "cmg=")
                .then_some(secret)
        },
    )
    .await
}

async fn write_pull_secret(env: &Env, config: &str) {
    let api = Api::<Secret>::namespaced(env.client.clone(), "openshift-config");
    api.patch(
        "pull-secret",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {".dockerconfigjson": k8s_openapi::ByteString(config.as_bytes().to_vec())}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn pullsecret_merges_repairs_recreates_and_stops_when_disabled() {
    let mut env = Env::new("4.15.35").await;
    env.start_operator();
    wait_pull_secret_repaired(&env).await;
    let keys = wait_until("redHatKeysPresent", || async {
        let status = env.cluster().await.status.unwrap_or_default();
        (!status.red_hat_keys_present.is_empty()).then_some(status.red_hat_keys_present)
    })
    .await;
    assert_eq!(keys, ["registry.redhat.io"]);

    // Corrupt: invalid JSON is dropped, the ARO key comes back (customer keys cannot be recovered
    // from garbage; ARO-RP drops them too).
    write_pull_secret(&env, "{corrupt").await;
    wait_until("the corrupt pull secret to be replaced", || async {
        let a = auths(&docker_config(&pull_secret(&env).await?));
        (a["arosvc.azurecr.io"]["auth"] == "YXJvOnNlY3JldA==").then_some(())
    })
    .await;

    // Deleted: recreated with the right type.
    write_pull_secret(&env, CUSTOMER_PULL_SECRET).await;
    wait_pull_secret_repaired(&env).await;
    let api = Api::<Secret>::namespaced(env.client.clone(), "openshift-config");
    api.delete("pull-secret", &DeleteParams::default())
        .await
        .unwrap();
    wait_until("the deleted pull secret to be recreated", || async {
        let a = auths(&docker_config(&pull_secret(&env).await?));
        (a["arosvc.azurecr.io"]["auth"] == "YXJvOnNlY3JldA==").then_some(())
    })
    .await;

    // Wrong type: recreated as kubernetes.io/dockerconfigjson, customer keys kept.
    let current = pull_secret(&env).await.unwrap();
    api.delete("pull-secret", &DeleteParams::default())
        .await
        .unwrap();
    let mut opaque: Secret = serde_json::from_value(json!({
        "metadata": {"name": "pull-secret", "namespace": "openshift-config"},
        "type": "Opaque",
    }))
    .unwrap();
    opaque.data = Some(std::collections::BTreeMap::from([(
        ".dockerconfigjson".to_string(),
        k8s_openapi::ByteString(CUSTOMER_PULL_SECRET.as_bytes().to_vec()),
    )]));
    // The operator may recreate it between the delete and this create; either way it must end right.
    let _ = api.create(&PostParams::default(), &opaque).await;
    drop(current);
    wait_pull_secret_repaired(&env).await;

    // Disabled: a corrupt pull secret stays corrupt.
    env.set_flag("aro.pullsecret.enabled", "false").await;
    env.wait_reconciled("pullsecret", 2).await;
    write_pull_secret(&env, "{corrupt").await;
    env.wait_reconciled("pullsecret", 2).await;
    assert_eq!(docker_config(&pull_secret(&env).await.unwrap()), "{corrupt");

    // Enabled but not managed: still left alone.
    env.set_flags(&[
        ("aro.pullsecret.enabled", "true"),
        ("aro.pullsecret.managed", "false"),
    ])
    .await;
    env.wait_reconciled("pullsecret", 2).await;
    assert_eq!(docker_config(&pull_secret(&env).await.unwrap()), "{corrupt");

    let cluster = env.cluster().await;
    let conditions = cluster.status.unwrap().conditions;
    let available = conditions
        .iter()
        .find(|c| c.type_ == "PullSecretControllerAvailable")
        .unwrap();
    assert_eq!(available.status, "True");
    env.stop().await;
}

async fn alertmanager_config(env: &Env) -> Value {
    let secret = get(
        &env.client,
        "v1",
        "Secret",
        Some("openshift-monitoring"),
        "alertmanager-main",
    )
    .await
    .unwrap();
    serde_yaml::from_str(&decode(&secret["data"]["alertmanager.yaml"])).unwrap()
}

#[tokio::test]
async fn alertwebhook_redirects_null_and_default_and_keeps_customer_receivers() {
    let mut env = Env::new("4.15.35").await;
    env.start_operator();
    let url = aro_operator::alertwebhook::WEBHOOK_URL;
    let config = wait_until("the receivers to point at the operator", || async {
        let c = alertmanager_config(&env).await;
        (c["receivers"][0]["webhook_configs"][0]["url"] == url).then_some(c)
    })
    .await;
    assert_eq!(
        config["receivers"][3],
        json!({"name": "null", "webhook_configs": [{"url": url}]})
    );
    assert_eq!(
        config["receivers"][2]["pagerduty_configs"][0]["routing_key"],
        "customer-key"
    );
    let secret = get(
        &env.client,
        "v1",
        "Secret",
        Some("openshift-monitoring"),
        "alertmanager-main",
    )
    .await
    .unwrap();
    let version = secret["metadata"]["resourceVersion"].clone();
    env.wait_reconciled("alertwebhook", 2).await;
    let again = get(
        &env.client,
        "v1",
        "Secret",
        Some("openshift-monitoring"),
        "alertmanager-main",
    )
    .await
    .unwrap();
    assert_eq!(
        again["metadata"]["resourceVersion"], version,
        "rewritten without a change"
    );

    // Disabled: the customer's redirect of Default stays.
    env.set_flag("aro.alertwebhook.enabled", "false").await;
    env.wait_reconciled("alertwebhook", 2).await;
    Api::<Secret>::namespaced(env.client.clone(), "openshift-monitoring")
        .patch(
            "alertmanager-main",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"alertmanager.yaml": k8s_openapi::ByteString(ALERTMANAGER_YAML.as_bytes().to_vec())}})),
        )
        .await
        .unwrap();
    env.wait_reconciled("alertwebhook", 2).await;
    assert_eq!(
        alertmanager_config(&env).await["receivers"][0],
        json!({"name": "Default"})
    );
    env.stop().await;
}

#[tokio::test]
async fn genevalogging_creates_repairs_and_stops_when_disabled() {
    let mut env = Env::new("4.15.35").await;
    env.start_operator();
    let ns = "openshift-azure-logging";
    let daemonsets = Api::<DaemonSet>::namespaced(env.client.clone(), ns);
    wait_until("the mdsd DaemonSet", || async {
        daemonsets.get_opt("mdsd").await.unwrap()
    })
    .await;
    for (api_version, kind, namespace, name) in [
        ("v1", "Namespace", None, ns),
        ("v1", "ServiceAccount", Some(ns), "geneva"),
        ("v1", "ConfigMap", Some(ns), "fluent-config"),
        ("v1", "Secret", Some(ns), "certificates"),
        (
            "security.openshift.io/v1",
            "SecurityContextConstraints",
            None,
            "privileged-genevalogging",
        ),
    ] {
        let obj = get(&env.client, api_version, kind, namespace, name)
            .await
            .unwrap_or_else(|| panic!("{kind} {name}"));
        assert_eq!(
            obj["metadata"]["ownerReferences"][0]["kind"], "Cluster",
            "{kind} {name}"
        );
    }
    let certs = get(&env.client, "v1", "Secret", Some(ns), "certificates")
        .await
        .unwrap();
    assert_eq!(decode(&certs["data"]["gcscert.pem"]), "gcs-cert");

    // Deleted DaemonSet comes back; a drifted ConfigMap is repaired.
    daemonsets
        .delete("mdsd", &DeleteParams::default())
        .await
        .unwrap();
    wait_until("the deleted DaemonSet to come back", || async {
        daemonsets
            .get_opt("mdsd")
            .await
            .unwrap()
            .filter(|d| d.metadata.deletion_timestamp.is_none())
    })
    .await;
    let configmaps = Api::<ConfigMap>::namespaced(env.client.clone(), ns);
    configmaps
        .patch(
            "fluent-config",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"journal.conf": "tampered"}})),
        )
        .await
        .unwrap();
    wait_until("the ConfigMap to be repaired", || async {
        let cm = configmaps.get("fluent-config").await.unwrap();
        (cm.data
            .unwrap_or_default()
            .get("journal.conf")
            .map(String::as_str)
            != Some("tampered"))
        .then_some(())
    })
    .await;

    // Disabled: a deleted DaemonSet stays deleted.
    env.set_flag("aro.genevalogging.enabled", "false").await;
    env.wait_reconciled("genevalogging", 2).await;
    daemonsets
        .delete("mdsd", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_reconciled("genevalogging", 2).await;
    assert!(daemonsets.get_opt("mdsd").await.unwrap().is_none());
    env.stop().await;
}

async fn replicas(env: &Env) -> Vec<i64> {
    let mut out = Vec::new();
    for zone in 1..=3 {
        let ms = get(
            &env.client,
            "machine.openshift.io/v1beta1",
            "MachineSet",
            Some("openshift-machine-api"),
            &format!("{INFRA_ID}-worker-eastus{zone}"),
        )
        .await
        .unwrap();
        out.push(ms["spec"]["replicas"].as_i64().unwrap_or(0));
    }
    out
}

async fn scale(env: &Env, zone: u32, n: i64) {
    aro_operator::apply::dynamic_api(
        &env.client,
        &aro_operator::kinds::MACHINE_SET,
        Some("openshift-machine-api"),
    )
    .patch(
        &format!("{INFRA_ID}-worker-eastus{zone}"),
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": n}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn machineset_keeps_two_worker_replicas_and_stops_when_disabled() {
    let mut env = Env::new("4.15.35").await;
    env.start_operator();
    env.wait_reconciled("machineset", 3).await;
    assert_eq!(
        replicas(&env).await,
        [1, 1, 1],
        "enough replicas are left alone"
    );

    for zone in 1..=3 {
        scale(&env, zone, 0).await;
    }
    let total = wait_until("the workers to be scaled back to 2", || async {
        let total: i64 = replicas(&env).await.iter().sum();
        (total >= 2).then_some(total)
    })
    .await;
    assert_eq!(total, 2);

    // A custom MachineSet stops the controller.
    support::create(&env.client, machineset("gpu-workers", 0)).await;
    env.wait_reconciled("machineset", 8).await;
    for zone in 1..=3 {
        scale(&env, zone, 0).await;
    }
    env.wait_reconciled("machineset", 8).await;
    assert_eq!(replicas(&env).await, [0, 0, 0]);
    aro_operator::apply::dynamic_api(
        &env.client,
        &aro_operator::kinds::MACHINE_SET,
        Some("openshift-machine-api"),
    )
    .delete("gpu-workers", &DeleteParams::default())
    .await
    .unwrap();
    wait_until("scaling once the custom MachineSet is gone", || async {
        (replicas(&env).await.iter().sum::<i64>() == 2).then_some(())
    })
    .await;

    // Disabled.
    env.set_flag("aro.machineset.enabled", "false").await;
    env.wait_reconciled("machineset", 6).await;
    for zone in 1..=3 {
        scale(&env, zone, 0).await;
    }
    env.wait_reconciled("machineset", 9).await;
    assert_eq!(replicas(&env).await, [0, 0, 0]);
    env.stop().await;
}

#[tokio::test]
async fn routefix_deploys_on_affected_versions_and_removes_on_fixed_ones() {
    let mut env = Env::new("4.6.20").await;
    env.start_operator();
    let ns = "openshift-azure-routefix";
    let daemonsets = Api::<DaemonSet>::namespaced(env.client.clone(), ns);
    wait_until("the routefix DaemonSet", || async {
        daemonsets.get_opt("routefix").await.unwrap()
    })
    .await;
    let crb = get(
        &env.client,
        "rbac.authorization.k8s.io/v1",
        "ClusterRoleBinding",
        None,
        "routefix",
    )
    .await
    .unwrap();
    assert_eq!(crb["roleRef"]["name"], "openshift-sdn-controller");
    assert!(
        get(&env.client, "v1", "ConfigMap", Some(ns), "add-iptables")
            .await
            .is_some()
    );
    assert!(
        get(
            &env.client,
            "security.openshift.io/v1",
            "SecurityContextConstraints",
            None,
            "privileged-routefix"
        )
        .await
        .is_some()
    );

    daemonsets
        .delete("routefix", &DeleteParams::default())
        .await
        .unwrap();
    wait_until("the deleted routefix DaemonSet to come back", || async {
        daemonsets
            .get_opt("routefix")
            .await
            .unwrap()
            .filter(|d| d.metadata.deletion_timestamp.is_none())
    })
    .await;

    // Upgraded to a fixed version: removed.
    let cv_api =
        aro_operator::apply::dynamic_api(&env.client, &aro_operator::kinds::CLUSTER_VERSION, None);
    cv_api
        .patch_status(
            "version",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"desired": {"version": "4.7.18"}}})),
        )
        .await
        .unwrap();
    wait_until("routefix to be removed", || async {
        let ns_gone = get(&env.client, "v1", "Namespace", None, ns)
            .await
            .is_none_or(|n| n["metadata"]["deletionTimestamp"].is_string());
        let crb_gone = get(
            &env.client,
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            None,
            "routefix",
        )
        .await
        .is_none();
        (ns_gone && crb_gone).then_some(())
    })
    .await;
    env.stop().await;
}

#[tokio::test]
async fn dnsmasq_writes_machine_configs_and_rewrites_only_when_allowed() {
    let mut env = Env::new("4.15.35").await;
    env.start_operator();
    let mcs =
        aro_operator::apply::dynamic_api(&env.client, &aro_operator::kinds::MACHINE_CONFIG, None);
    for pool in ["master", "worker"] {
        let name = format!("99-{pool}-aro-dns");
        let mc = wait_until(&name, || async { mcs.get_opt(&name).await.unwrap() }).await;
        let mc = serde_json::to_value(mc).unwrap();
        assert_eq!(
            mc["metadata"]["labels"]["machineconfiguration.openshift.io/role"],
            pool
        );
        assert_eq!(
            mc["metadata"]["ownerReferences"][0]["kind"],
            "MachineConfigPool"
        );
        assert_eq!(mc["spec"]["config"]["ignition"]["version"], "3.2.0");
    }

    // A changed MachineConfig is not rewritten outside an upgrade (it would reboot the pool) ...
    mcs.patch(
        "99-worker-aro-dns",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"config": {"storage": {"files": []}}}})),
    )
    .await
    .unwrap();
    env.wait_reconciled("dnsmasq", 2).await;
    let mc = serde_json::to_value(mcs.get("99-worker-aro-dns").await.unwrap()).unwrap();
    assert_eq!(mc["spec"]["config"]["storage"]["files"], json!([]));
    // ... but is with aro.forcereconciliation.
    env.set_flag("aro.forcereconciliation", "true").await;
    wait_until("the MachineConfig to be rewritten", || async {
        let mc = serde_json::to_value(mcs.get("99-worker-aro-dns").await.unwrap()).unwrap();
        (mc["spec"]["config"]["storage"]["files"]
            .as_array()
            .is_some_and(|f| f.len() == 2))
        .then_some(())
    })
    .await;

    // An invalid IP degrades the controller.
    Api::<crds::operator::Cluster>::all(env.client.clone())
        .patch(
            "cluster",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"apiIntIP": "not-an-ip"}})),
        )
        .await
        .unwrap();
    let degraded = wait_until("DnsmasqClusterControllerDegraded", || async {
        env.cluster()
            .await
            .status?
            .conditions
            .into_iter()
            .find(|c| c.type_ == "DnsmasqClusterControllerDegraded" && c.status == "True")
    })
    .await;
    assert!(
        degraded.message.contains("apiIntIP"),
        "{}",
        degraded.message
    );

    // Disabled: a deleted MachineConfig stays deleted.
    env.set_flag("aro.dnsmasq.enabled", "false").await;
    env.wait_reconciled("dnsmasq", 2).await;
    mcs.delete("99-master-aro-dns", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_reconciled("dnsmasq", 2).await;
    assert!(mcs.get_opt("99-master-aro-dns").await.unwrap().is_none());
    env.stop().await;
}

/// Controllers asked to stop before their first list completes still end (kube-runtime's runner
/// would wait for a store that never becomes ready): here the API server is gone, so no watch
/// ever lists.
#[tokio::test]
async fn controllers_stopped_before_their_first_list_end() {
    let dc = devcluster::Devcluster::start(devcluster::DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.in_process_client();
    dc.stop().await;
    let shutdown = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(aro_operator::run_controllers(
        client,
        aro_operator::Role::Master,
        Default::default(),
        shutdown.clone(),
    ));
    shutdown.cancel();
    // Generous: it ends at once; before the fix it never did.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(60), run).await;
    assert!(
        matches!(ended, Ok(Ok(Ok(())))),
        "the operator did not stop: {ended:?}"
    );
}
