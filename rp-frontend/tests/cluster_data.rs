//! GET and list show the live cluster (issue 14, point 6): the frontend reads each cluster's own
//! API through the admin kubeconfig of its credentials Secret. The cluster is a second in-process
//! devcluster with the OpenShift objects the enrichment reads (ClusterVersion, IngressController
//! and its router Service, MachineSets, `kube-system/azure-credentials`), written by the test.

mod support;

use std::time::{Duration, Instant};

use crds::management::OpenShiftCluster;
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Namespace, Secret, Service};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use reqwest::StatusCode;
use rp_frontend::server::cluster_data::ClusterDataConfig;
use rp_frontend::{Frontend, FrontendConfig};
use serde_json::{Value, json};
use support::SUB;

const VERSION: &str = "2023-11-22";
const NAME: &str = "live";
const STORED_CLIENT_ID: &str = "2b2b2b2b-1111-4222-8333-944445555666";
const CLUSTER_CLIENT_ID: &str = "3c3c3c3c-1111-4222-8333-944445555666";
/// Long enough for a GET to never wait for it in these tests.
const WAIT: Duration = Duration::from_secs(20);

fn path() -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/{NAME}"
    )
}

fn subnet(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{name}"
    )
}

fn body() -> Value {
    json!({
        "location": "eastus",
        "properties": {
            "clusterProfile": {"pullSecret": "{\"auths\":{}}", "domain": "livecluster", "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-live")},
            "servicePrincipalProfile": {"clientId": STORED_CLIENT_ID, "clientSecret": "top-secret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master")},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D2s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

/// A frontend over the management cluster reading clusters with `cache_ttl`.
async fn frontend(management: kube::Client, cache_ttl: Duration, timeout: Duration) -> String {
    let mut config = FrontendConfig::insecure_for_loopback("eastus");
    config.cluster_data = ClusterDataConfig { timeout, cache_ttl };
    let app = Frontend::router(management, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

async fn get(http: &reqwest::Client, base: &str, path: &str) -> (StatusCode, Value) {
    let resp = http
        .get(format!("{base}{path}?api-version={VERSION}"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// GET the cluster until `done` holds for its body; the last body.
async fn get_until(
    http: &reqwest::Client,
    base: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let (status, body) = get(http, base, &path()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if done(&body) {
            return body;
        }
        assert!(start.elapsed() < WAIT, "{what} never shows: {body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn cluster_version() -> ApiResource {
    resource(
        "config.openshift.io",
        "v1",
        "ClusterVersion",
        "clusterversions",
    )
}

fn machine_set() -> ApiResource {
    resource(
        "machine.openshift.io",
        "v1beta1",
        "MachineSet",
        "machinesets",
    )
}

fn ingress_controller() -> ApiResource {
    resource(
        "operator.openshift.io",
        "v1",
        "IngressController",
        "ingresscontrollers",
    )
}

/// Schema-less CRDs with a status subresource, as OpenShift serves these kinds (the local
/// runtime installs the same shape: rp-controller/src/cluster_runtime/local.rs).
fn crd(resource: &ApiResource, namespaced: bool) -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{}", resource.plural, resource.group)},
        "spec": {
            "group": resource.group,
            "names": {"kind": resource.kind, "plural": resource.plural,
                      "singular": resource.kind.to_lowercase(), "listKind": format!("{}List", resource.kind)},
            "scope": if namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": resource.version, "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                "subresources": {"status": {}},
            }],
        }
    }))
    .unwrap()
}

/// Create `object` and set its status.
async fn put_object(api: &Api<DynamicObject>, object: Value) {
    let name = object["metadata"]["name"].as_str().unwrap().to_string();
    let status = object["status"].clone();
    api.create(
        &PostParams::default(),
        &serde_json::from_value(object).unwrap(),
    )
    .await
    .unwrap();
    if !status.is_null() {
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .unwrap();
    }
}

fn machine_set_object(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "machine.openshift.io/v1beta1", "kind": "MachineSet",
        "metadata": {"name": name, "namespace": "openshift-machine-api"},
        "spec": {
            "replicas": replicas,
            "template": {"spec": {"providerSpec": {"value": {
                "apiVersion": "machine.openshift.io/v1beta1", "kind": "AzureMachineProviderSpec",
                "vmSize": "Standard_D4s_v3", "vnet": "vnet", "subnet": "worker",
                "networkResourceGroup": "vnet-rg",
                "osDisk": {"diskSizeGB": 256, "osType": "Linux", "managedDisk": {"storageAccountType": "Premium_LRS"}},
                "securityProfile": {"encryptionAtHost": true},
            }}}}
        },
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas}
    })
}

/// A devcluster with what an installed OpenShift cluster shows the enrichment.
async fn openshift_cluster(version: &str) -> (Devcluster, kube::Client) {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.client().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for (resource, namespaced) in [
        (cluster_version(), false),
        (machine_set(), true),
        (ingress_controller(), true),
    ] {
        crds.create(&PostParams::default(), &crd(&resource, namespaced))
            .await
            .unwrap();
    }
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in [
        "openshift-machine-api",
        "openshift-ingress-operator",
        "openshift-ingress",
        "kube-system",
    ] {
        let namespace: Namespace =
            serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap();
        match namespaces.create(&PostParams::default(), &namespace).await {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 409 => {}
            Err(e) => panic!("namespace {ns}: {e}"),
        }
    }
    // A CRD is served once a list of it succeeds.
    let versions: Api<DynamicObject> = Api::all_with(client.clone(), &cluster_version());
    let start = Instant::now();
    while versions.list(&ListParams::default()).await.is_err() {
        assert!(start.elapsed() < WAIT, "ClusterVersion is never served");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    put_object(
        &versions,
        json!({
            "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
            "metadata": {"name": "version"},
            "spec": {"clusterID": "00000000-0000-0000-0000-000000000000"},
            "status": {"desired": {"version": version, "image": ""}},
        }),
    )
    .await;
    let sets: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "openshift-machine-api", &machine_set());
    put_object(&sets, machine_set_object("live-worker-eastus2", 1)).await;
    put_object(&sets, machine_set_object("live-worker-eastus1", 2)).await;
    let controllers: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "openshift-ingress-operator",
        &ingress_controller(),
    );
    put_object(
        &controllers,
        json!({
            "apiVersion": "operator.openshift.io/v1", "kind": "IngressController",
            "metadata": {"name": "default", "namespace": "openshift-ingress-operator"},
            "spec": {"endpointPublishingStrategy": {"type": "LoadBalancerService", "loadBalancer": {"scope": "Internal"}}},
        }),
    )
    .await;
    let services: Api<Service> = Api::namespaced(client.clone(), "openshift-ingress");
    let router: Service = serde_json::from_value(json!({
        "metadata": {"name": "router-default", "namespace": "openshift-ingress", "labels": {
            "app": "router",
            "ingresscontroller.operator.openshift.io/owning-ingresscontroller": "default",
        }},
        "spec": {"type": "LoadBalancer", "ports": [{"name": "http", "port": 80}]},
    }))
    .unwrap();
    services
        .create(&PostParams::default(), &router)
        .await
        .unwrap();
    services
        .patch_status(
            "router-default",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.200"}]}}})),
        )
        .await
        .unwrap();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-system");
    let credentials: Secret = serde_json::from_value(json!({
        "metadata": {"name": "azure-credentials", "namespace": "kube-system"},
        "data": {"azure_client_id": ByteString(CLUSTER_CLIENT_ID.as_bytes().to_vec())},
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &credentials)
        .await
        .unwrap();
    (dc, client)
}

/// Point the stored cluster's credentials Secret at `kubeconfig` (what the controller stores as
/// the RP's admin kubeconfig).
async fn set_admin_kubeconfig(management: &kube::Client, kubeconfig: &str) {
    let clusters: Api<OpenShiftCluster> =
        Api::namespaced(management.clone(), &support::namespace());
    let cluster = clusters
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| c.spec.name == NAME)
        .unwrap();
    let name = cluster.status.unwrap().credentials_ref.unwrap().name;
    let secrets: Api<Secret> = Api::namespaced(management.clone(), &support::namespace());
    secrets
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"data": {"adminKubeconfig": ByteString(kubeconfig.as_bytes().to_vec())}}),
            ),
        )
        .await
        .unwrap();
}

/// Create the cluster through the API; the harness's stand-in controller installs it.
async fn create_cluster(http: &reqwest::Client, base: &str) {
    support::register_subscription(http, base).await;
    let resp = http
        .put(format!("{base}{}?api-version={VERSION}", path()))
        .json(&body())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "{}",
        resp.text().await.unwrap()
    );
    get_until(http, base, "Succeeded", |b| {
        b["properties"]["provisioningState"] == "Succeeded"
    })
    .await;
}

fn worker(name: &str, count: i64) -> Value {
    json!({
        "name": name, "vmSize": "Standard_D4s_v3", "diskSizeGB": 256, "subnetId": subnet("worker"),
        "count": count, "encryptionAtHost": "Enabled",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_list_show_the_live_cluster_and_the_stored_one_when_it_is_down() {
    let (_management_dc, management) = support::management_cluster().await;
    support::spawn_controller_stand_in(management.clone());
    let fast = frontend(
        management.clone(),
        Duration::from_millis(100),
        Duration::from_secs(5),
    )
    .await;
    let cached = frontend(
        management.clone(),
        Duration::from_secs(3600),
        Duration::from_secs(5),
    )
    .await;
    let http = reqwest::Client::new();
    create_cluster(&http, &fast).await;
    // The stand-in's kubeconfig reaches no cluster: GET shows the stored cluster.
    let (status, stored) = get(&http, &fast, &path()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["properties"]["clusterProfile"]["version"], "4.15.35");
    assert!(
        stored["properties"].get("workerProfilesStatus").is_none(),
        "{stored}"
    );

    let (first_dc, cluster) = openshift_cluster("4.15.40").await;
    set_admin_kubeconfig(&management, first_dc.kubeconfig_yaml()).await;
    let live = get_until(&http, &fast, "the live version", |b| {
        b["properties"]["clusterProfile"]["version"] == "4.15.40"
    })
    .await;
    let p = &live["properties"];
    assert_eq!(
        p["workerProfilesStatus"],
        json!([
            worker("live-worker-eastus1", 2),
            worker("live-worker-eastus2", 1)
        ]),
        "{live}"
    );
    assert_eq!(
        p["ingressProfiles"],
        json!([{"name": "default", "visibility": "Private", "ip": "10.0.0.200"}])
    );
    assert_eq!(p["servicePrincipalProfile"]["clientId"], CLUSTER_CLIENT_ID);
    assert!(p["servicePrincipalProfile"].get("clientSecret").is_none());
    // The stored spec is what the customer asked for: the frontend writes nothing back.
    assert_eq!(p["workerProfiles"][0]["count"], 3);
    // The list shows the same.
    let (status, list) = get(
        &http,
        &fast,
        &format!("/subscriptions/{SUB}/providers/Microsoft.RedHatOpenShift/openShiftClusters"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["value"][0]["properties"], *p, "{list}");

    // Scaling a MachineSet shows once the cache expires; a frontend that read the cluster
    // within its (long) TTL keeps what it read.
    let (_, before) = get(&http, &cached, &path()).await;
    assert_eq!(before["properties"]["workerProfilesStatus"][0]["count"], 2);
    let sets: Api<DynamicObject> =
        Api::namespaced_with(cluster.clone(), "openshift-machine-api", &machine_set());
    sets.patch(
        "live-worker-eastus1",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 4}})),
    )
    .await
    .unwrap();
    sets.patch_status(
        "live-worker-eastus1",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"replicas": 4, "readyReplicas": 4}})),
    )
    .await
    .unwrap();
    get_until(&http, &fast, "the scaled MachineSet", |b| {
        b["properties"]["workerProfilesStatus"][0] == worker("live-worker-eastus1", 4)
    })
    .await;
    let (_, still) = get(&http, &cached, &path()).await;
    assert_eq!(
        still["properties"]["workerProfilesStatus"][0]["count"], 2,
        "served from the cache"
    );

    // A new admin kubeconfig (here: of another cluster) makes a new client.
    let (second_dc, _) = openshift_cluster("4.16.1").await;
    set_admin_kubeconfig(&management, second_dc.kubeconfig_yaml()).await;
    get_until(&http, &fast, "the new kubeconfig's cluster", |b| {
        b["properties"]["clusterProfile"]["version"] == "4.16.1"
    })
    .await;
    first_dc.stop().await;

    // The cluster stops answering: GET is still 200, quickly, with the stored cluster.
    second_dc.stop().await;
    let start = Instant::now();
    let down = get_until(&http, &fast, "the stored cluster", |b| {
        b["properties"]["clusterProfile"]["version"] == "4.15.35"
    })
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let p = &down["properties"];
    assert!(p.get("workerProfilesStatus").is_none(), "{down}");
    assert_eq!(
        p["ingressProfiles"],
        json!([{"name": "default", "visibility": "Public"}])
    );
    assert_eq!(p["servicePrincipalProfile"]["clientId"], STORED_CLIENT_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_never_answers_costs_a_get_the_timeout_and_no_more() {
    let (_management_dc, management) = support::management_cluster().await;
    support::spawn_controller_stand_in(management.clone());
    let timeout = Duration::from_millis(500);
    // No cache: every GET reads the cluster.
    let base = frontend(management.clone(), Duration::ZERO, timeout).await;
    let http = reqwest::Client::new();
    create_cluster(&http, &base).await;
    // A server that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://{addr}\n    insecure-skip-tls-verify: true\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\nusers:\n- name: u\n  user:\n    token: t\n"
    );
    set_admin_kubeconfig(&management, &kubeconfig).await;
    for _ in 0..2 {
        let start = Instant::now();
        let (status, body) = get(&http, &base, &path()).await;
        let took = start.elapsed();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["properties"]["clusterProfile"]["version"], "4.15.35");
        // It waited for the cluster, and no longer than the bound.
        assert!(
            took >= timeout && took < timeout + Duration::from_secs(1),
            "{took:?}"
        );
    }
}
