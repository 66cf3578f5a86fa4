//! Integration tests: the frontend over real HTTP against an in-process devcluster.

use std::time::Duration;

use crds::management::{
    AsyncOperation, AsyncOperationStatus, OpenShiftCluster, OpenShiftVersion, OpenShiftVersionSpec,
    ProvisioningState,
};
use devcluster::{Devcluster, DevclusterConfig};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, PostParams};
use reqwest::StatusCode;
use rp_frontend::{Frontend, FrontendConfig};
use serde_json::{Value, json};

const SUB: &str = "6f2c1b3a-1111-4222-8333-944445555666";
const NS: &str = "Microsoft.RedHatOpenShift";

struct Env {
    dc: Devcluster,
    client: kube::Client,
    base: String,
    http: reqwest::Client,
}

async fn start() -> Env {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.client().await.unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in crds::management_crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    // The CRDs are served once a list succeeds.
    let clusters: Api<OpenShiftCluster> = Api::all(client.clone());
    for _ in 0..100 {
        if clusters.list(&ListParams::default()).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let versions: Api<OpenShiftVersion> = Api::all(client.clone());
    versions
        .create(
            &PostParams::default(),
            &OpenShiftVersion::new(
                "4.15.35",
                OpenShiftVersionSpec {
                    version: "4.15.35".into(),
                    open_shift_pullspec: "quay.io/x".into(),
                    installer_pullspec: "quay.io/y".into(),
                    enabled: true,
                    default: true,
                },
            ),
        )
        .await
        .unwrap();
    let app = Frontend::router(
        client.clone(),
        FrontendConfig::insecure_for_loopback("eastus"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Env {
        dc,
        client,
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

fn cluster_path(rg: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/{NS}/openShiftClusters/{name}")
}

fn body(rg_suffix: &str, client_id: &str) -> Value {
    let subnet = |n: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/vnet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{n}"
        )
    };
    json!({
        "location": "eastus",
        "tags": {"a": "1"},
        "properties": {
            "clusterProfile": {"pullSecret": "{\"auths\":{}}", "domain": format!("c{rg_suffix}{}", &client_id[..8]), "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-{rg_suffix}")},
            "servicePrincipalProfile": {"clientId": client_id, "clientSecret": "top-secret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master")},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D2s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

impl Env {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        version: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version={version}", self.base);
        let mut req = self
            .http
            .request(method, &url)
            .header("referer", format!("https://arm.example.com{path}"));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn register(&self) {
        let (s, _, _) = self
            .send(
                reqwest::Method::PUT,
                &format!("/subscriptions/{SUB}"),
                "2.0",
                Some(json!({"state": "Registered", "properties": {"tenantId": "t"}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }

    /// Play the controller: finish the cluster's current operation.
    async fn finish(&self, rg: &str, name: &str, deleted: bool) {
        let ns = crds::management::naming::subscription_namespace(SUB);
        let clusters: Api<OpenShiftCluster> = Api::namespaced(self.client.clone(), &ns);
        let obj = crds::management::naming::cluster_object_name(rg, name);
        let mut c = clusters.get(&obj).await.unwrap();
        let op_id = c
            .status
            .as_ref()
            .unwrap()
            .async_operation_id
            .clone()
            .unwrap();
        let mut status = c.status.clone().unwrap();
        status.provisioning_state = Some(ProvisioningState::Succeeded);
        c.status = Some(status);
        clusters
            .replace_status(&obj, &PostParams::default(), &c)
            .await
            .unwrap();
        let ops: Api<AsyncOperation> = Api::namespaced(self.client.clone(), &ns);
        let mut op = ops.get(&op_id).await.unwrap();
        op.status = Some(AsyncOperationStatus {
            status: Some(ProvisioningState::Succeeded),
            end_time: Some("2026-01-01T00:00:00Z".into()),
            percent_complete: Some(100),
            error: None,
            resource_deleted: deleted,
        });
        ops.replace_status(&op_id, &PostParams::default(), &op)
            .await
            .unwrap();
        if deleted {
            clusters.delete(&obj, &Default::default()).await.unwrap();
        }
    }
}

fn header(h: &reqwest::header::HeaderMap, name: &str) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn cluster_lifecycle_over_http() {
    use reqwest::Method;
    let env = start().await;
    let path = cluster_path("My-RG", "Cluster1");
    let v = "2023-11-22";

    // Unregistered subscription.
    let (s, _, b) = env
        .send(
            Method::PUT,
            &path,
            v,
            Some(body("a", "11111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("InvalidSubscriptionState"))
    );
    env.register().await;

    // Create.
    let (s, h, b) = env
        .send(
            Method::PUT,
            &path,
            v,
            Some(body("a", "11111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let async_op = header(&h, "azure-asyncoperation");
    assert!(async_op.starts_with(&format!("https://arm.example.com/subscriptions/{SUB}/providers/{NS}/locations/eastus/operationsStatus/")), "{async_op}");
    assert!(!header(&h, "x-ms-request-id").is_empty());
    assert_eq!(b["properties"]["provisioningState"], "Creating");
    assert_eq!(b["properties"]["clusterProfile"]["version"], "4.15.35");
    assert!(!b.to_string().contains("top-secret") && !b.to_string().contains("auths"));
    assert_eq!(b["id"], path);

    // Read-your-writes, case-insensitive ids.
    let (s, _, b) = env
        .send(
            Method::GET,
            &path.to_uppercase().replace("PROVIDERS", "providers"),
            v,
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["properties"]["provisioningState"], "Creating");
    assert_eq!(b["name"], "Cluster1");

    // Busy.
    let (s, _, b) = env
        .send(
            Method::PUT,
            &path,
            v,
            Some(body("a", "11111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(b["error"]["code"], "RequestNotAllowed", "{s} {b}");

    // Operation status and result while running.
    let op_path = async_op
        .trim_start_matches("https://arm.example.com")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let (s, _, b) = env.send(Method::GET, &op_path, v, None).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("Creating")),
        "{b}"
    );
    let result_path = op_path.replace("operationsStatus", "operationResults");
    let (s, h, _) = env.send(Method::GET, &result_path, v, None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(header(&h, "location").starts_with("https://arm.example.com/"));

    env.finish("My-RG", "Cluster1", false).await;
    let (s, _, b) = env.send(Method::GET, &op_path, v, None).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("Succeeded"))
    );
    let (s, _, b) = env.send(Method::GET, &result_path, v, None).await;
    assert_eq!(
        (s, b["properties"]["provisioningState"].as_str()),
        (StatusCode::OK, Some("Succeeded"))
    );

    // PATCH: tags replace, properties kept; secrets kept.
    let (s, h, b) = env
        .send(Method::PATCH, &path, v, Some(json!({"tags": {"b": "2"}})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(!header(&h, "azure-asyncoperation").is_empty());
    assert_eq!(b["tags"], json!({"b": "2"}));
    assert_eq!(b["properties"]["provisioningState"], "Updating");
    env.finish("My-RG", "Cluster1", false).await;

    // Immutability.
    let (s, _, b) = env
        .send(
            Method::PATCH,
            &path,
            v,
            Some(json!({"properties": {"networkProfile": {"podCidr": "10.0.0.0/14"}}})),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("PropertyChangeNotAllowed")),
        "{b}"
    );
    assert_eq!(b["error"]["target"], "properties.networkProfile.podCidr");

    // An old version's PUT keeps newer fields (loadBalancerProfile was defaulted).
    let (s, _, b) = env
        .send(
            Method::PUT,
            &path,
            "2020-04-30",
            Some(body("a", "11111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    env.finish("My-RG", "Cluster1", false).await;
    let (_, _, b) = env.send(Method::GET, &path, v, None).await;
    assert_eq!(
        b["properties"]["networkProfile"]["loadBalancerProfile"]["managedOutboundIps"]["count"],
        1
    );

    // Uniqueness.
    let (s, _, b) = env
        .send(
            Method::PUT,
            &cluster_path("rg2", "c2"),
            v,
            Some(body("b", "11111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("DuplicateClientID")),
        "{b}"
    );
    let (s, _, b) = env
        .send(
            Method::PUT,
            &cluster_path("rg2", "c2"),
            v,
            Some(body("a", "22222222-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("DuplicateResourceGroup")),
        "{b}"
    );
    let (s, _, _) = env
        .send(
            Method::PUT,
            &cluster_path("rg2", "c2"),
            v,
            Some(body("b", "22222222-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);

    // Paging over the subscription.
    let list = format!("/subscriptions/{SUB}/providers/{NS}/openShiftClusters?%24top=1");
    let (s, _, b) = env.send(Method::GET, &list, v, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["value"].as_array().unwrap().len(), 1);
    let next = b["nextLink"].as_str().unwrap().to_string();
    assert!(next.starts_with("https://arm.example.com/"));
    let next_path = next.trim_start_matches("https://arm.example.com");
    let resp = env
        .http
        .get(format!("{}{next_path}", env.base))
        .send()
        .await
        .unwrap();
    let page2: Value = resp.json().await.unwrap();
    assert_eq!(page2["value"].as_array().unwrap().len(), 1);
    assert!(page2.get("nextLink").is_none() || page2["value"][0]["name"] != b["value"][0]["name"]);
    let tampered = next_path.replace("%24skipToken=", "%24skipToken=AAAA");
    let resp = env
        .http
        .get(format!("{}{tampered}", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (s, _, b) = env
        .send(
            Method::GET,
            &format!("/subscriptions/{SUB}/resourceGroups/my-rg/providers/{NS}/openShiftClusters"),
            v,
            None,
        )
        .await;
    assert_eq!(
        (s, b["value"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(1))
    );

    // Delete.
    let (s, h, _) = env.send(Method::DELETE, &path, v, None).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    assert!(header(&h, "location").contains("/operationResults/"));
    let (_, _, b) = env.send(Method::GET, &path, v, None).await;
    assert_eq!(b["properties"]["provisioningState"], "Deleting");
    env.finish("My-RG", "Cluster1", true).await;
    let (s, _, b) = env.send(Method::GET, &path, v, None).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("ResourceNotFound"))
    );
    let (s, _, _) = env.send(Method::DELETE, &path, v, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    env.dc.stop().await;
}

#[tokio::test]
async fn request_validation_codes() {
    use reqwest::Method;
    let env = start().await;
    env.register().await;
    let path = cluster_path("rg", "c");
    let cases: Vec<(Method, String, &str, u16, &str)> = vec![
        (Method::GET, "/subscriptions/not-a-uuid/resourceGroups/rg/providers/Microsoft.RedHatOpenShift/openShiftClusters/c".into(), "2023-11-22", 400, "InvalidSubscriptionID"),
        (Method::GET, format!("/subscriptions/{SUB}/resourceGroups/bad.rg./providers/{NS}/openShiftClusters/c"), "2023-11-22", 400, "ResourceGroupNotFound"),
        (Method::GET, format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Other/openShiftClusters/c"), "2023-11-22", 400, "InvalidResourceNamespace"),
        (Method::GET, format!("/subscriptions/{SUB}/resourceGroups/rg/providers/{NS}/others/c"), "2023-11-22", 400, "InvalidResourceType"),
        (Method::GET, path.clone(), "1999-01-01", 400, "InvalidResourceType"),
        (Method::GET, format!("/subscriptions/{SUB}/providers/{NS}/locations/westus/operationsStatus/{SUB}"), "2023-11-22", 400, "InvalidLocation"),
        (Method::GET, format!("/subscriptions/{SUB}/providers/{NS}/locations/eastus/operationsStatus/nope"), "2023-11-22", 400, "InvalidOperationID"),
        (Method::GET, format!("/subscriptions/{SUB}/providers/{NS}/locations/eastus/operationsStatus/{SUB}"), "2023-11-22", 404, "NotFound"),
        (Method::GET, path.clone(), "2023-11-22", 404, "ResourceNotFound"),
        (Method::POST, format!("{path}/listAdminCredentials"), "2020-04-30", 400, "InvalidResourceType"),
        (Method::GET, format!("/subscriptions/{SUB}/providers/{NS}/locations/eastus/platformWorkloadIdentityRoleSets"), "2023-11-22", 400, "InvalidResourceType"),
        (Method::GET, "/nowhere".into(), "2023-11-22", 404, "NotFound"),
    ];
    for (method, p, version, code, error) in cases {
        let (s, h, b) = env.send(method.clone(), &p, version, None).await;
        assert_eq!(
            (s.as_u16(), b["error"]["code"].as_str()),
            (code, Some(error)),
            "{method} {p}: {b}"
        );
        assert_eq!(header(&h, "content-type"), "application/json");
    }
    let url = format!("{}{path}?api-version=2023-11-22", env.base);
    let r = env
        .http
        .put(&url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidRequestContent"
    );
    let r = env
        .http
        .put(&url)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(1024 * 1024 + 10));
    let r = env
        .http
        .put(&url)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidResource"
    );
    let r = env.http.put(&url).json(&json!({"location": "eastus", "properties": {"networkProfile": {"podCidr": "bad"}, "masterProfile": {"vmSize": "x"}}})).send().await.unwrap();
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "MultipleErrorsOccurred", "{b}");
    // Echo of the client request id only on request.
    let r = env
        .http
        .get(format!(
            "{}/providers/{NS}/operations?api-version=2023-11-22",
            env.base
        ))
        .header("x-ms-client-request-id", "abc")
        .header("x-ms-return-client-request-id", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "x-ms-client-request-id"), "abc");
    assert_eq!(r.status(), 200);
    // /metrics is served by the internal metrics listener only (see security_matrix.rs).
    let r = env
        .http
        .get(format!("{}/metrics", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = env
        .http
        .get(format!("{}/openapi/2024-08-12-preview", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["swagger"], "2.0");
    let (s, _, b) = env
        .send(
            Method::GET,
            &format!("/subscriptions/{SUB}/providers/{NS}/locations/eastus/openShiftVersions"),
            "2023-11-22",
            None,
        )
        .await;
    assert_eq!(
        (s.as_u16(), b["value"][0]["properties"]["version"].as_str()),
        (200, Some("4.15.35"))
    );
    env.dc.stop().await;
}

#[tokio::test]
async fn concurrent_writes_accept_exactly_one_operation() {
    use reqwest::Method;
    let env = std::sync::Arc::new(start().await);
    env.register().await;
    let path = cluster_path("rg", "race");
    let v = "2023-11-22";
    let (s, _, _) = env
        .send(
            Method::PUT,
            &path,
            v,
            Some(body("a", "11111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    env.finish("rg", "race", false).await;

    let mut tasks = Vec::new();
    for i in 0..50 {
        let env = env.clone();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let (method, b) = match i % 3 {
                0 => (
                    Method::PUT,
                    Some(body("a", "11111111-1111-1111-1111-111111111111")),
                ),
                1 => (Method::PATCH, Some(json!({"tags": {"i": i.to_string()}}))),
                _ => (Method::DELETE, None),
            };
            let (s, h, b) = env.send(method, &path, v, b).await;
            (s, header(&h, "azure-asyncoperation"), b)
        }));
    }
    let mut accepted = Vec::new();
    for t in tasks {
        let (s, op, b) = t.await.unwrap();
        assert!(!s.is_server_error(), "{s} {b}");
        if s.is_success() {
            accepted.push(op);
        } else {
            assert_eq!(b["error"]["code"], "RequestNotAllowed", "{s} {b}");
        }
    }
    assert_eq!(
        accepted.len(),
        1,
        "exactly one transition wins: {accepted:?}"
    );
    let ns = crds::management::naming::subscription_namespace(SUB);
    let ops: Api<AsyncOperation> = Api::namespaced(env.client.clone(), &ns);
    let obj = crds::management::naming::cluster_object_name("rg", "race");
    let records = ops.list(&ListParams::default()).await.unwrap().items;
    let for_cluster = records
        .iter()
        .filter(|o| o.spec.cluster_name == obj)
        .count();
    assert_eq!(for_cluster, 2, "the create and the one accepted transition");
    let clusters: Api<OpenShiftCluster> = Api::namespaced(env.client.clone(), &ns);
    let c = clusters.get(&obj).await.unwrap();
    assert!(
        accepted[0].ends_with(&format!(
            "/{}?api-version={v}",
            c.status.unwrap().async_operation_id.unwrap()
        )) || accepted[0].is_empty()
    );
}

#[tokio::test]
async fn client_certificate_allow_lists_over_tls() {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .unwrap();
    let client = dc.client().await.unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&server_key)
        .unwrap();
    let arm_key = rcgen::KeyPair::generate().unwrap();
    let arm_cert = rcgen::CertificateParams::new(vec!["arm".to_string()])
        .unwrap()
        .self_signed(&arm_key)
        .unwrap();
    let admin_key = rcgen::KeyPair::generate().unwrap();
    let admin_cert = rcgen::CertificateParams::new(vec!["sre".to_string()])
        .unwrap()
        .self_signed(&admin_key)
        .unwrap();
    let mut config = FrontendConfig::insecure_for_loopback("eastus");
    config.auth = rp_frontend::AuthMode::client_certificates(
        [rp_frontend::server::auth::fingerprint(arm_cert.der())],
        [rp_frontend::server::auth::fingerprint(admin_cert.der())],
    )
    .unwrap();
    let app = Frontend::router(client, config);
    let tls = rp_frontend::tls::server_config(
        server_cert.pem().as_bytes(),
        server_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(rp_frontend::tls::serve_tls(
        listener,
        tls,
        app,
        shutdown.clone(),
    ));
    let ca = reqwest::Certificate::from_pem(server_cert.pem().as_bytes()).unwrap();
    let http = |identity: Option<(&rcgen::Certificate, &rcgen::KeyPair)>| {
        let mut b = reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .use_rustls_tls();
        if let Some((c, k)) = identity {
            let pem = format!("{}{}", c.pem(), k.serialize_pem());
            b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
        }
        b.build().unwrap()
    };
    let ops = format!(
        "https://localhost:{}/providers/{NS}/operations?api-version=2023-11-22",
        addr.port()
    );
    let admin = format!("https://localhost:{}/admin/versions", addr.port());
    let customer = format!(
        "https://localhost:{}/subscriptions/{SUB}/providers/{NS}/openShiftClusters?api-version=2023-11-22",
        addr.port()
    );
    // The operations list is public; customer routes need ARM's certificate.
    assert_eq!(http(None).get(&ops).send().await.unwrap().status(), 200);
    assert_eq!(
        http(None).get(&customer).send().await.unwrap().status(),
        401
    );
    assert_eq!(
        http(Some((&arm_cert, &arm_key)))
            .get(&ops)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        http(Some((&arm_cert, &arm_key)))
            .get(&admin)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        http(Some((&admin_cert, &admin_key)))
            .get(&customer)
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // Unknown paths are refused before routing when unauthenticated.
    let unknown = format!("https://localhost:{}/nowhere", addr.port());
    assert_eq!(http(None).get(&unknown).send().await.unwrap().status(), 401);
    assert_eq!(
        http(Some((&arm_cert, &arm_key)))
            .get(&unknown)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    shutdown.cancel();
    dc.stop().await;
}

/// ARM conformance: methods outside the swagger are 405 with ARM's error body and `Allow`; the
/// operations list needs an api-version (any: ARM fans it out) and names ARO-RP's operations,
/// without detectors, which are not served.
#[tokio::test]
async fn methods_api_version_and_operations_list_as_arm_and_aro() {
    use reqwest::Method;
    let env = start().await;
    env.register().await;
    let path = cluster_path("rg", "c");
    let ops = format!("/providers/{NS}/operations");
    let cases: Vec<(Method, String, &str)> = vec![
        (Method::POST, path.clone(), "GET, PUT, PATCH, DELETE"),
        (Method::PUT, ops.clone(), "GET"),
        (Method::DELETE, ops.clone(), "GET"),
        (Method::GET, format!("{path}/listCredentials"), "POST"),
        (
            Method::PUT,
            format!("/subscriptions/{SUB}/resourceGroups/rg/providers/{NS}/openShiftClusters"),
            "GET",
        ),
        (
            Method::GET,
            format!(
                "/subscriptions/{SUB}/resourceGroups/rg/providers/{NS}/deployments/d/preflight"
            ),
            "POST",
        ),
        (
            Method::DELETE,
            format!("/subscriptions/{SUB}/providers/{NS}/locations/eastus/openShiftVersions"),
            "GET",
        ),
        (Method::DELETE, format!("/subscriptions/{SUB}"), "GET, PUT"),
    ];
    for (method, p, allow) in cases {
        let (s, h, b) = env.send(method.clone(), &p, "2023-11-22", None).await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{method} {p}: {b}");
        assert_eq!(b["error"]["code"], "MethodNotAllowed", "{method} {p}: {b}");
        assert!(
            b["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert_eq!(header(&h, "allow"), allow, "{method} {p}");
        assert_eq!(header(&h, "content-type"), "application/json");
    }
    // Nothing was created by the refused methods.
    let (s, _, _) = env.send(Method::GET, &path, "2023-11-22", None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let r = env
        .http
        .get(format!("{}{ops}", env.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "MissingApiVersionParameter", "{b}");
    // Any version: ARM sends the namespace's versions of every service behind it.
    for version in ["2023-11-22", "2099-01-01-preview"] {
        let (s, _, b) = env.send(Method::GET, &ops, version, None).await;
        assert_eq!(s, StatusCode::OK, "{version}: {b}");
        let names: Vec<&str> = b["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Microsoft.RedHatOpenShift/locations/operationresults/read",
                "Microsoft.RedHatOpenShift/locations/operationsstatus/read",
                "Microsoft.RedHatOpenShift/operations/read",
                "Microsoft.RedHatOpenShift/openShiftClusters/read",
                "Microsoft.RedHatOpenShift/openShiftClusters/write",
                "Microsoft.RedHatOpenShift/openShiftClusters/delete",
                "Microsoft.RedHatOpenShift/openShiftClusters/listCredentials/action",
                "Microsoft.RedHatOpenShift/openShiftClusters/listAdminCredentials/action",
                "Microsoft.RedHatOpenShift/locations/listPlatformWorkloadIdentityRoleSets/read",
                "Microsoft.RedHatOpenShift/locations/openshiftVersions/read",
            ]
        );
        // Detectors are not served, so not advertised.
        assert!(!b.to_string().contains("detectors"));
        let (s, _, _) = env
            .send(Method::GET, &format!("{path}/detectors"), version, None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    env.dc.stop().await;
}

/// PUT and PATCH answer without `workerProfilesStatus`, as ARO-RP's; GET shows it.
#[tokio::test]
async fn put_and_patch_answers_omit_worker_profiles_status() {
    use reqwest::Method;
    let env = start().await;
    env.register().await;
    let v = "2023-11-22";
    let path = cluster_path("rg-wps", "c");
    let (s, _, b) = env
        .send(
            Method::PUT,
            &path,
            v,
            Some(body("w", "21111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    env.finish("rg-wps", "c", false).await;
    // The controller records the worker profiles it made.
    let ns = crds::management::naming::subscription_namespace(SUB);
    let clusters: Api<OpenShiftCluster> = Api::namespaced(env.client.clone(), &ns);
    let obj = crds::management::naming::cluster_object_name("rg-wps", "c");
    let mut c = clusters.get(&obj).await.unwrap();
    let mut status = c.status.clone().unwrap();
    status.worker_profiles_status = c.spec.worker_profiles.clone();
    c.status = Some(status);
    clusters
        .replace_status(&obj, &PostParams::default(), &c)
        .await
        .unwrap();
    let (s, _, b) = env.send(Method::GET, &path, v, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        b["properties"]["workerProfilesStatus"][0]["name"], "worker",
        "{b}"
    );

    let (s, _, b) = env
        .send(Method::PATCH, &path, v, Some(json!({"tags": {"b": "2"}})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["properties"]["workerProfiles"].is_array(), "{b}");
    assert!(b["properties"].get("workerProfilesStatus").is_none(), "{b}");
    env.finish("rg-wps", "c", false).await;
    let (s, _, b) = env
        .send(
            Method::PUT,
            &path,
            v,
            Some(body("w", "21111111-1111-1111-1111-111111111111")),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["properties"].get("workerProfilesStatus").is_none(), "{b}");
    env.dc.stop().await;
}
