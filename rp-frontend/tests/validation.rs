//! Validation over real HTTP, in every API version the frontend serves: each static validation
//! rule (ARO-RP's static validators, pkg/api/*/openshiftcluster_validatestatic.go) answers 400 with
//! its ARM code and the JSON path of the field as that version spells it, immutability on update
//! (PropertyChangeNotAllowed), the request validation codes of section 1.1 and which routes each
//! version serves.
//!
//! Every test is table-driven and collects all mismatches before failing, so one run shows every
//! problem. Each test function uses one in-process devcluster for all its cases.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crds::management::PlatformWorkloadIdentityRoleSet;
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use reqwest::{Method, StatusCode};
use rp_frontend::api::ApiVersion;
use rp_frontend::{Frontend, FrontendConfig};
use serde_json::{Value, json};
use support::SUB;

const NS: &str = "Microsoft.RedHatOpenShift";
const OTHER_SUB: &str = "99999999-9999-4999-8999-999999999999";
/// Resource group of every cluster URL of the static validation test.
const RG: &str = "rg-validation";
const LOCATION: &str = "eastus";
const PARENT_DOMAIN: &str = "aroapp.io";

/// Every API version the frontend serves, oldest first.
const VERSIONS: [&str; 10] = [
    "2020-04-30",
    "2021-09-01-preview",
    "2022-04-01",
    "2022-09-04",
    "2023-04-01",
    "2023-07-01-preview",
    "2023-09-04",
    "2023-11-22",
    "2024-08-12-preview",
    "2025-07-25",
];

/// Versions with `networkProfile.loadBalancerProfile`.
const LB_VERSIONS: &[&str] = &[
    "2023-07-01-preview",
    "2023-11-22",
    "2024-08-12-preview",
    "2025-07-25",
];

fn index(version: &str) -> usize {
    VERSIONS
        .iter()
        .position(|v| *v == version)
        .unwrap_or_else(|| panic!("unknown version {version}"))
}

/// The versions a rule applies to (those that have the field).
#[derive(Clone, Copy, Debug)]
enum Applies {
    All,
    Since(&'static str),
    Only(&'static [&'static str]),
}

impl Applies {
    fn contains(self, version: &str) -> bool {
        match self {
            Applies::All => true,
            Applies::Since(first) => index(version) >= index(first),
            Applies::Only(list) => list.contains(&version),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

struct Env {
    dc: devcluster::Devcluster,
    client: kube::Client,
    base: String,
    http: reqwest::Client,
    counter: AtomicUsize,
}

struct Response {
    status: StatusCode,
    body: Value,
    text: String,
}

impl Response {
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    fn target(&self) -> &str {
        self.body["error"]["target"].as_str().unwrap_or_default()
    }

    fn describe(&self) -> String {
        format!("{} {}", self.status.as_u16(), self.text)
    }
}

/// An in-process devcluster with the management CRDs, the frontend on a loopback port (region
/// `eastus`, managed parent domain `aroapp.io`, the production worker VM size list) and a
/// registered subscription. With `controller`, the stand-in controller of the harness finishes
/// every operation (Succeeded, credentials Secret written).
async fn start(controller: bool) -> Env {
    let (dc, client) = support::management_cluster().await;
    if controller {
        support::spawn_controller_stand_in(client.clone());
    }
    let config = FrontendConfig {
        parent_domain: Some(PARENT_DOMAIN.to_string()),
        require_d2s_workers: false,
        ..FrontendConfig::insecure_for_loopback(LOCATION)
    };
    // The role sets of the minor versions the bodies use (the default 4.15, upgradeableTo 4.16).
    let role_sets: Api<PlatformWorkloadIdentityRoleSet> = Api::all(client.clone());
    for minor in ["4.15", "4.16"] {
        role_sets
            .create(
                &PostParams::default(),
                &support::role_set(minor, "CloudControllerManager"),
            )
            .await
            .unwrap();
    }
    let app = Frontend::router(client.clone(), config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    support::register_subscription(&http, &base).await;
    Env {
        dc,
        client,
        base,
        http,
        counter: AtomicUsize::new(1),
    }
}

impl Env {
    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// Send as ARM does, with the managed identity headers it adds to every request.
    async fn send(
        &self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<&Value>,
    ) -> Response {
        self.send_with(method, path, version, body, true).await
    }

    async fn send_with(
        &self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<&Value>,
        identity_headers: bool,
    ) -> Response {
        let mut req = self
            .http
            .request(method, format!("{}{path}?api-version={version}", self.base))
            .header("referer", format!("https://arm.example.com{path}"));
        if identity_headers {
            req = req
                .header("x-ms-identity-url", IDENTITY_URL)
                .header("x-ms-home-tenant-id", HOME_TENANT);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::read(req).await
    }

    /// Send with a raw body and content type.
    async fn send_raw(
        &self,
        method: Method,
        path: &str,
        version: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        let req = self
            .http
            .request(method, format!("{}{path}?api-version={version}", self.base))
            .header("content-type", content_type)
            .body(body);
        Self::read(req).await
    }

    async fn read_request(http: &reqwest::Client, req: reqwest::Request) -> Response {
        let resp = http.execute(req).await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("response body");
        Response {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    async fn read(req: reqwest::RequestBuilder) -> Response {
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("response body");
        Response {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
        }
    }

    /// Wait until the cluster's GET shows a terminal Succeeded (the stand-in controller ran).
    async fn wait_succeeded(&self, path: &str, version: &str) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..400 {
            let r = self.send(Method::GET, path, version, None).await;
            if r.body["properties"]["provisioningState"] == "Succeeded" {
                return Ok(());
            }
            last = r.describe();
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Err(format!("{path} never reached Succeeded: {last}"))
    }
}

fn cluster_path(rg: &str, name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/{NS}/openShiftClusters/{name}")
}

fn subnet(sub: &str, vnet: &str, name: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/vnet-rg/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}"
    )
}

fn msi(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/msi-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"
    )
}

fn des(sub: &str) -> String {
    format!(
        "/subscriptions/{sub}/resourceGroups/des-rg/providers/Microsoft.Compute/diskEncryptionSets/des"
    )
}

fn client_id(n: usize) -> String {
    format!("{n:08x}-1111-4111-8111-111111111111")
}

/// A valid service principal create body for every version; `n` makes the cluster resource
/// group, client id and domain unique (all are unique keys).
fn sp_body(n: usize) -> Value {
    json!({
        "location": LOCATION,
        "tags": {"a": "1"},
        "properties": {
            "clusterProfile": {
                "pullSecret": "{\"auths\":{}}",
                "domain": format!("mycluster{n}"),
                "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-{n}"),
            },
            "servicePrincipalProfile": {"clientId": client_id(n), "clientSecret": "top-secret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet(SUB, "vnet", "master")},
            "workerProfiles": [{
                "name": "worker",
                "vmSize": "Standard_D4s_v3",
                "diskSizeGB": 128,
                "subnetId": subnet(SUB, "vnet", "worker"),
                "count": 3,
            }],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

/// A valid workload identity create body (2024-08-12-preview and later).
fn wi_body(n: usize) -> Value {
    let mut b = sp_body(n);
    remove(&mut b, "properties.servicePrincipalProfile");
    b["properties"]["platformWorkloadIdentityProfile"] = json!({
        "platformWorkloadIdentities": {"CloudControllerManager": {"resourceId": msi(&format!("ccm-{n}"))}}
    });
    b["identity"] = json!({
        "type": "UserAssigned",
        "userAssignedIdentities": {msi(&format!("cluster-{n}")): {}},
    });
    b
}

/// Set a dotted path (`a.b.0.c`; a number indexes an array), creating objects on the way.
fn set(body: &mut Value, path: &str, value: Value) {
    let mut cur = body;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        cur = match part.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*part],
        };
    }
    cur[parts[parts.len() - 1]] = value;
}

/// Remove the last key of a dotted path.
fn remove(body: &mut Value, path: &str) {
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    let mut cur = body;
    if !parent.is_empty() {
        for part in parent.split('.') {
            cur = match part.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[part],
            };
        }
    }
    if let Some(map) = cur.as_object_mut() {
        map.remove(key);
    }
}

fn error_pairs(body: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|e| {
                    (
                        e["code"].as_str().unwrap_or_default().to_string(),
                        e["target"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    pairs
}

// ---------------------------------------------------------------------------------------------
// Static validation on create
// ---------------------------------------------------------------------------------------------

/// The request a mutation is applied to.
struct Req {
    path: String,
    name: String,
}

#[derive(Clone, Copy, Debug)]
enum Base {
    /// Service principal body.
    Sp,
    /// Workload identity body.
    Wi,
}

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// 201 Created: the body is valid.
    Created,
    /// 400 with this code and target.
    Error(&'static str, &'static str),
    /// 400 MultipleErrorsOccurred listing exactly these (code, target) details.
    Errors(&'static [(&'static str, &'static str)]),
}

/// What a version without the field does with the mutation.
#[derive(Clone, Copy, Debug)]
enum Elsewhere {
    /// The field is not part of the version: it is dropped and the body is valid.
    Created,
    /// Not meaningful there (e.g. the base body itself needs the field).
    Skip,
}

type Mutation = fn(&mut Value, &Req);

struct Case {
    name: &'static str,
    applies: Applies,
    base: Base,
    mutate: Mutation,
    expect: Expect,
    elsewhere: Elsewhere,
}

const IP: &str = "InvalidParameter";
const IDENTITY_URL: &str = "https://tenant.identity.azure.net/credentials?tid=t&oid=o&aid=a";
const HOME_TENANT: &str = "22222222-2222-4222-8222-222222222222";

fn case(name: &'static str, applies: Applies, mutate: Mutation, expect: Expect) -> Case {
    Case {
        name,
        applies,
        base: Base::Sp,
        mutate,
        expect,
        elsewhere: Elsewhere::Created,
    }
}

fn err(target: &'static str) -> Expect {
    Expect::Error(IP, target)
}

fn wi_case(name: &'static str, mutate: Mutation, expect: Expect) -> Case {
    Case {
        name,
        applies: Applies::Since("2024-08-12-preview"),
        base: Base::Wi,
        mutate,
        expect,
        elsewhere: Elsewhere::Skip,
    }
}

fn static_cases() -> Vec<Case> {
    use Applies::{All, Only, Since};
    use Expect::{Created, Error, Errors};
    let pod = "properties.networkProfile.podCidr";
    let svc = "properties.networkProfile.serviceCidr";
    let domain = "properties.clusterProfile.domain";
    let rg_id = "properties.clusterProfile.resourceGroupId";
    vec![
        // Controls: the base bodies are valid.
        case("valid service principal body", All, |_, _| {}, Created),
        case(
            "id, name and type match the URL case-insensitively",
            All,
            |b, r| {
                b["id"] = json!(r.path.to_uppercase());
                b["name"] = json!(r.name.to_uppercase());
                b["type"] = json!("microsoft.redhatopenshift/OPENSHIFTCLUSTERS");
            },
            Created,
        ),
        // Resource.
        case(
            "id does not match the URL",
            All,
            |b, _| b["id"] = json!(cluster_path(RG, "other")),
            Error("MismatchingResourceID", "id"),
        ),
        case(
            "name does not match the URL",
            All,
            |b, _| b["name"] = json!("other"),
            Error("MismatchingResourceName", "name"),
        ),
        case(
            "type does not match the URL",
            All,
            |b, _| b["type"] = json!("Microsoft.Compute/virtualMachines"),
            Error("MismatchingResourceType", "type"),
        ),
        case(
            "location is another region",
            All,
            |b, _| b["location"] = json!("westus"),
            err("location"),
        ),
        case(
            "location is missing",
            All,
            |b, _| remove(b, "location"),
            err("location"),
        ),
        case(
            "location in another case",
            All,
            |b, _| b["location"] = json!("EastUS"),
            Created,
        ),
        case(
            "more than 50 tags",
            All,
            |b, _| {
                b["tags"] = (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
            },
            err("tags"),
        ),
        case(
            "provisioningState is not a known state",
            All,
            |b, _| set(b, "properties.provisioningState", json!("Bogus")),
            err("properties.provisioningState"),
        ),
        // Cluster profile.
        case(
            "pullSecret is not JSON",
            All,
            |b, _| set(b, "properties.clusterProfile.pullSecret", json!("not json")),
            err("properties.clusterProfile.pullSecret"),
        ),
        case(
            "pullSecret is JSON without auths",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.pullSecret",
                    json!("{\"x\":1}"),
                )
            },
            err("properties.clusterProfile.pullSecret"),
        ),
        case(
            "pullSecret is empty",
            All,
            |b, _| set(b, "properties.clusterProfile.pullSecret", json!("")),
            Created,
        ),
        case(
            "domain starts with a hyphen",
            All,
            |b, _| set(b, "properties.clusterProfile.domain", json!("-bad")),
            err(domain),
        ),
        case(
            "domain starts with a digit on create",
            All,
            |b, _| set(b, "properties.clusterProfile.domain", json!("1cluster")),
            err(domain),
        ),
        case(
            "domain has upper case letters",
            All,
            |b, _| set(b, "properties.clusterProfile.domain", json!("MyCluster")),
            err(domain),
        ),
        case(
            "domain label longer than 63",
            All,
            |b, _| set(b, "properties.clusterProfile.domain", json!("a".repeat(64))),
            err(domain),
        ),
        case(
            "domain is a custom multi-label domain",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.domain",
                    json!("apps.example.com"),
                )
            },
            Created,
        ),
        case(
            "managed domain of another region",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.domain",
                    json!("mycluster.westus.aroapp.io"),
                )
            },
            err(domain),
        ),
        case(
            "managed domain with more than one label",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.domain",
                    json!("a.b.eastus.aroapp.io"),
                )
            },
            err(domain),
        ),
        case(
            "managed domain <label>.<region>.aroapp.io",
            All,
            |b, _| {
                // The base body's own label, so the domain stays unique to the request.
                let label = b["properties"]["clusterProfile"]["domain"].clone();
                set(
                    b,
                    "properties.clusterProfile.domain",
                    json!(format!(
                        "{}.eastus.aroapp.io",
                        label.as_str().unwrap_or_default()
                    )),
                )
            },
            Created,
        ),
        case(
            "version is not semver",
            All,
            |b, _| set(b, "properties.clusterProfile.version", json!("4.x")),
            err("properties.clusterProfile.version"),
        ),
        case(
            "version is not an enabled version",
            All,
            |b, _| set(b, "properties.clusterProfile.version", json!("4.99.0")),
            err("properties.clusterProfile.version"),
        ),
        case(
            "resourceGroupId is malformed",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.resourceGroupId",
                    json!("/subscriptions/not-a-uuid/resourceGroups/x"),
                )
            },
            err(rg_id),
        ),
        case(
            "resourceGroupId is not a resource group id",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.resourceGroupId",
                    json!(format!("/subscriptions/{SUB}/resourceGroups/x/providers/y")),
                )
            },
            err(rg_id),
        ),
        case(
            "resourceGroupId in another subscription",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.resourceGroupId",
                    json!(format!("/subscriptions/{OTHER_SUB}/resourceGroups/aro-x")),
                )
            },
            err(rg_id),
        ),
        case(
            "resourceGroupId is the cluster's own resource group",
            All,
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.resourceGroupId",
                    json!(format!(
                        "/subscriptions/{SUB}/resourceGroups/{}",
                        RG.to_uppercase()
                    )),
                )
            },
            err(rg_id),
        ),
        // Console, API server and ingress.
        case(
            "console url is not a URL",
            All,
            |b, _| set(b, "properties.consoleProfile", json!({"url": "::"})),
            err("properties.consoleProfile.url"),
        ),
        case(
            "apiserver visibility is not Public or Private",
            All,
            |b, _| set(b, "properties.apiserverProfile.visibility", json!("Hidden")),
            err("properties.apiserverProfile.visibility"),
        ),
        case(
            "apiserver visibility in lower case",
            All,
            |b, _| set(b, "properties.apiserverProfile.visibility", json!("public")),
            err("properties.apiserverProfile.visibility"),
        ),
        case(
            "apiserver ip is IPv6",
            All,
            |b, _| set(b, "properties.apiserverProfile.ip", json!("::1")),
            err("properties.apiserverProfile.ip"),
        ),
        case(
            "apiserver url is not a URL",
            All,
            |b, _| set(b, "properties.apiserverProfile.url", json!("::")),
            err("properties.apiserverProfile.url"),
        ),
        case(
            "private API server and ingress",
            All,
            |b, _| {
                set(
                    b,
                    "properties.apiserverProfile.visibility",
                    json!("Private"),
                );
                set(
                    b,
                    "properties.ingressProfiles.0.visibility",
                    json!("Private"),
                );
            },
            Created,
        ),
        case(
            "ingress visibility is not Public or Private",
            All,
            |b, _| {
                set(
                    b,
                    "properties.ingressProfiles.0.visibility",
                    json!("Hidden"),
                )
            },
            err("properties.ingressProfiles[0].visibility"),
        ),
        case(
            "ingress ip is not an IPv4 address",
            All,
            |b, _| set(b, "properties.ingressProfiles.0.ip", json!("300.1.1.1")),
            err("properties.ingressProfiles[0].ip"),
        ),
        case(
            "no ingress profile",
            All,
            |b, _| set(b, "properties.ingressProfiles", json!([])),
            err("properties.ingressProfiles"),
        ),
        case(
            "two ingress profiles",
            All,
            |b, _| {
                set(
                    b,
                    "properties.ingressProfiles",
                    json!([{"name": "default", "visibility": "Public"}, {"name": "other", "visibility": "Public"}]),
                )
            },
            err("properties.ingressProfiles"),
        ),
        case(
            "ingress profile not named default",
            All,
            |b, _| set(b, "properties.ingressProfiles.0.name", json!("other")),
            err("properties.ingressProfiles[0].name"),
        ),
        // Service principal.
        case(
            "servicePrincipalProfile is missing",
            All,
            |b, _| remove(b, "properties.servicePrincipalProfile"),
            err("properties.servicePrincipalProfile"),
        ),
        case(
            "SP clientId is not a UUID",
            All,
            |b, _| {
                set(
                    b,
                    "properties.servicePrincipalProfile.clientId",
                    json!("nope"),
                )
            },
            err("properties.servicePrincipalProfile.clientId"),
        ),
        case(
            "SP clientSecret is empty",
            All,
            |b, _| {
                set(
                    b,
                    "properties.servicePrincipalProfile.clientSecret",
                    json!(""),
                )
            },
            err("properties.servicePrincipalProfile.clientSecret"),
        ),
        case(
            "SP clientSecret is missing on create",
            All,
            |b, _| remove(b, "properties.servicePrincipalProfile.clientSecret"),
            err("properties.servicePrincipalProfile.clientSecret"),
        ),
        // Network profile.
        case(
            "podCidr is not a CIDR",
            All,
            |b, _| set(b, "properties.networkProfile.podCidr", json!("not-a-cidr")),
            err(pod),
        ),
        case(
            "podCidr is IPv6",
            All,
            |b, _| set(b, "properties.networkProfile.podCidr", json!("fd00::/48")),
            err(pod),
        ),
        case(
            "podCidr smaller than /18",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.podCidr",
                    json!("10.128.0.0/19"),
                )
            },
            err(pod),
        ),
        case(
            "podCidr of exactly /18",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.podCidr",
                    json!("10.128.0.0/18"),
                )
            },
            Created,
        ),
        case(
            "podCidr not aligned to its prefix",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.podCidr",
                    json!("10.128.0.1/14"),
                )
            },
            Error("InvalidNetworkAddress", pod),
        ),
        case(
            "podCidr overlaps 100.64.0.0/16",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.podCidr",
                    json!("100.64.0.0/16"),
                )
            },
            Error("InvalidCIDRRange", pod),
        ),
        case(
            "podCidr overlaps 169.254.169.0/29",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.podCidr",
                    json!("169.254.0.0/16"),
                )
            },
            Error("InvalidCIDRRange", pod),
        ),
        case(
            "serviceCidr is not a CIDR",
            All,
            |b, _| set(b, "properties.networkProfile.serviceCidr", json!("bad")),
            err(svc),
        ),
        case(
            "serviceCidr smaller than /22",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.serviceCidr",
                    json!("172.30.0.0/23"),
                )
            },
            err(svc),
        ),
        case(
            "serviceCidr of exactly /22",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.serviceCidr",
                    json!("172.30.0.0/22"),
                )
            },
            Created,
        ),
        case(
            "serviceCidr not aligned to its prefix",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.serviceCidr",
                    json!("172.30.0.1/16"),
                )
            },
            Error("InvalidNetworkAddress", svc),
        ),
        case(
            "serviceCidr overlaps 100.88.0.0/16",
            All,
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.serviceCidr",
                    json!("100.88.0.0/16"),
                )
            },
            Error("InvalidCIDRRange", svc),
        ),
        case(
            "softwareDefinedNetwork is not a known SDN",
            Only(&["2021-09-01-preview"]),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.softwareDefinedNetwork",
                    json!("Calico"),
                )
            },
            err("properties.networkProfile.softwareDefinedNetwork"),
        ),
        case(
            "outboundType is not known",
            Since("2023-04-01"),
            |b, _| set(b, "properties.networkProfile.outboundType", json!("Magic")),
            err("properties.networkProfile.outboundType"),
        ),
        case(
            "outboundType UserDefinedRouting with a public API server",
            Since("2023-04-01"),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.outboundType",
                    json!("UserDefinedRouting"),
                );
                set(
                    b,
                    "properties.ingressProfiles.0.visibility",
                    json!("Private"),
                );
            },
            err("properties.networkProfile.outboundType"),
        ),
        case(
            "outboundType UserDefinedRouting with a public ingress",
            Since("2023-04-01"),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.outboundType",
                    json!("UserDefinedRouting"),
                );
                set(
                    b,
                    "properties.apiserverProfile.visibility",
                    json!("Private"),
                );
            },
            err("properties.networkProfile.outboundType"),
        ),
        case(
            "outboundType UserDefinedRouting, all private",
            Since("2023-04-01"),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.outboundType",
                    json!("UserDefinedRouting"),
                );
                set(
                    b,
                    "properties.apiserverProfile.visibility",
                    json!("Private"),
                );
                set(
                    b,
                    "properties.ingressProfiles.0.visibility",
                    json!("Private"),
                );
            },
            Created,
        ),
        case(
            "outboundType UserDefinedRouting with a loadBalancerProfile",
            Only(LB_VERSIONS),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.outboundType",
                    json!("UserDefinedRouting"),
                );
                set(
                    b,
                    "properties.apiserverProfile.visibility",
                    json!("Private"),
                );
                set(
                    b,
                    "properties.ingressProfiles.0.visibility",
                    json!("Private"),
                );
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({"managedOutboundIps": {"count": 1}}),
                );
            },
            err("properties.networkProfile.loadBalancerProfile"),
        ),
        case(
            "preconfiguredNSG is not Enabled or Disabled",
            Since("2023-09-04"),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.preconfiguredNSG",
                    json!("Yes"),
                )
            },
            err("properties.networkProfile.preconfiguredNSG"),
        ),
        case(
            "preconfiguredNSG Enabled",
            Since("2023-09-04"),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.preconfiguredNSG",
                    json!("Enabled"),
                )
            },
            Created,
        ),
        // Load balancer profile.
        case(
            "managedOutboundIps.count 0",
            Only(LB_VERSIONS),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({"managedOutboundIps": {"count": 0}}),
                )
            },
            err("properties.networkProfile.loadBalancerProfile.managedOutboundIps.count"),
        ),
        case(
            "managedOutboundIps.count 21",
            Only(LB_VERSIONS),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({"managedOutboundIps": {"count": 21}}),
                )
            },
            err("properties.networkProfile.loadBalancerProfile.managedOutboundIps.count"),
        ),
        case(
            "managedOutboundIps.count 20",
            Only(LB_VERSIONS),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({"managedOutboundIps": {"count": 20}}),
                )
            },
            Created,
        ),
        case(
            "effectiveOutboundIps on create",
            Only(LB_VERSIONS),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({
                        "managedOutboundIps": {"count": 1},
                        "effectiveOutboundIps": [{"id": format!("/subscriptions/{SUB}/resourceGroups/x/providers/Microsoft.Network/publicIPAddresses/ip")}],
                    }),
                )
            },
            err("properties.networkProfile.loadBalancerProfile.effectiveOutboundIps"),
        ),
        case(
            "allocatedOutboundPorts out of range",
            Only(&["2023-07-01-preview"]),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({"managedOutboundIps": {"count": 1}, "allocatedOutboundPorts": 70000}),
                )
            },
            err("properties.networkProfile.loadBalancerProfile.allocatedOutboundPorts"),
        ),
        case(
            "managedOutboundIps together with outboundIps",
            Only(&["2023-07-01-preview"]),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({
                        "managedOutboundIps": {"count": 1},
                        "outboundIps": [{"id": format!("/subscriptions/{SUB}/resourceGroups/x/providers/Microsoft.Network/publicIPAddresses/ip")}],
                    }),
                )
            },
            err("properties.networkProfile.loadBalancerProfile"),
        ),
        // Master profile.
        case(
            "master vmSize not in the master list",
            All,
            |b, _| {
                set(
                    b,
                    "properties.masterProfile.vmSize",
                    json!("Standard_D2s_v3"),
                )
            },
            err("properties.masterProfile.vmSize"),
        ),
        case(
            "master vmSize v6 below OpenShift 4.19",
            All,
            |b, _| {
                set(b, "properties.clusterProfile.version", json!("4.15.35"));
                set(
                    b,
                    "properties.masterProfile.vmSize",
                    json!("Standard_D8s_v6"),
                );
            },
            err("properties.masterProfile.vmSize"),
        ),
        case(
            "master vmSize v6 with the version omitted (the default, 4.15.35, is below 4.19)",
            All,
            |b, _| {
                if let Some(profile) = b["properties"]["clusterProfile"].as_object_mut() {
                    profile.remove("version");
                }
                set(
                    b,
                    "properties.masterProfile.vmSize",
                    json!("Standard_D8s_v6"),
                );
            },
            err("properties.masterProfile.vmSize"),
        ),
        case(
            "master subnetId malformed",
            All,
            |b, _| set(b, "properties.masterProfile.subnetId", json!("/bad")),
            err("properties.masterProfile.subnetId"),
        ),
        case(
            "master and worker subnets in another subscription",
            All,
            |b, _| {
                set(
                    b,
                    "properties.masterProfile.subnetId",
                    json!(subnet(OTHER_SUB, "vnet", "master")),
                );
                set(
                    b,
                    "properties.workerProfiles.0.subnetId",
                    json!(subnet(OTHER_SUB, "vnet", "worker")),
                );
            },
            Errors(&[
                (IP, "properties.masterProfile.subnetId"),
                (IP, "properties.workerProfiles[0].subnetId"),
            ]),
        ),
        case(
            "master encryptionAtHost not Enabled or Disabled",
            Since("2021-09-01-preview"),
            |b, _| set(b, "properties.masterProfile.encryptionAtHost", json!("On")),
            err("properties.masterProfile.encryptionAtHost"),
        ),
        case(
            "encryptionAtHost Enabled",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.masterProfile.encryptionAtHost",
                    json!("Enabled"),
                );
                set(
                    b,
                    "properties.workerProfiles.0.encryptionAtHost",
                    json!("Enabled"),
                );
            },
            Created,
        ),
        case(
            "disk encryption set malformed",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.masterProfile.diskEncryptionSetId",
                    json!("/bad"),
                );
                set(
                    b,
                    "properties.workerProfiles.0.diskEncryptionSetId",
                    json!("/bad"),
                );
            },
            err("properties.masterProfile.diskEncryptionSetId"),
        ),
        case(
            "disk encryption set in another subscription",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.masterProfile.diskEncryptionSetId",
                    json!(des(OTHER_SUB)),
                );
                set(
                    b,
                    "properties.workerProfiles.0.diskEncryptionSetId",
                    json!(des(OTHER_SUB)),
                );
            },
            err("properties.masterProfile.diskEncryptionSetId"),
        ),
        case(
            "worker disk encryption set differs from the master's",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.diskEncryptionSetId",
                    json!(des(SUB)),
                )
            },
            err("properties.workerProfiles[0].diskEncryptionSetId"),
        ),
        case(
            "same disk encryption set on master and workers",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.masterProfile.diskEncryptionSetId",
                    json!(des(SUB)),
                );
                set(
                    b,
                    "properties.workerProfiles.0.diskEncryptionSetId",
                    json!(des(SUB)),
                );
            },
            Created,
        ),
        case(
            "fipsValidatedModules not Enabled or Disabled",
            Since("2022-04-01"),
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.fipsValidatedModules",
                    json!("Maybe"),
                )
            },
            err("properties.clusterProfile.fipsValidatedModules"),
        ),
        case(
            "fipsValidatedModules Enabled",
            Since("2022-04-01"),
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.fipsValidatedModules",
                    json!("Enabled"),
                )
            },
            Created,
        ),
        // Worker profiles.
        case(
            "no worker profile",
            All,
            |b, _| set(b, "properties.workerProfiles", json!([])),
            err("properties.workerProfiles"),
        ),
        case(
            "two worker profiles",
            All,
            |b, _| {
                let w = b["properties"]["workerProfiles"][0].clone();
                set(b, "properties.workerProfiles", json!([w.clone(), w]));
            },
            err("properties.workerProfiles"),
        ),
        case(
            "worker profile not named worker",
            All,
            |b, _| set(b, "properties.workerProfiles.0.name", json!("worker2")),
            err("properties.workerProfiles[0].name"),
        ),
        case(
            "worker vmSize not in the worker list",
            All,
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.vmSize",
                    json!("Standard_A1"),
                )
            },
            err("properties.workerProfiles[0].vmSize"),
        ),
        case(
            "worker vmSize D2s_v3 outside development mode",
            All,
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.vmSize",
                    json!("Standard_D2s_v3"),
                )
            },
            err("properties.workerProfiles[0].vmSize"),
        ),
        case(
            "worker diskSizeGB 127",
            All,
            |b, _| set(b, "properties.workerProfiles.0.diskSizeGB", json!(127)),
            err("properties.workerProfiles[0].diskSizeGB"),
        ),
        case(
            "worker count 1",
            All,
            |b, _| set(b, "properties.workerProfiles.0.count", json!(1)),
            err("properties.workerProfiles[0].count"),
        ),
        case(
            "worker count 51",
            All,
            |b, _| set(b, "properties.workerProfiles.0.count", json!(51)),
            err("properties.workerProfiles[0].count"),
        ),
        case(
            "worker count 2",
            All,
            |b, _| set(b, "properties.workerProfiles.0.count", json!(2)),
            Created,
        ),
        case(
            "worker count 50",
            All,
            |b, _| set(b, "properties.workerProfiles.0.count", json!(50)),
            Created,
        ),
        case(
            "worker subnet is the master subnet",
            All,
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.subnetId",
                    json!(subnet(SUB, "vnet", "MASTER")),
                )
            },
            err("properties.workerProfiles[0].subnetId"),
        ),
        case(
            "worker subnet in another vnet",
            All,
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.subnetId",
                    json!(subnet(SUB, "other-vnet", "worker")),
                )
            },
            err("properties.workerProfiles[0].subnetId"),
        ),
        case(
            "worker subnet in another subscription",
            All,
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.subnetId",
                    json!(subnet(OTHER_SUB, "vnet", "worker")),
                )
            },
            err("properties.workerProfiles[0].subnetId"),
        ),
        case(
            "worker subnet malformed",
            All,
            |b, _| set(b, "properties.workerProfiles.0.subnetId", json!("/bad")),
            err("properties.workerProfiles[0].subnetId"),
        ),
        case(
            "worker encryptionAtHost not Enabled or Disabled",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.encryptionAtHost",
                    json!("On"),
                )
            },
            err("properties.workerProfiles[0].encryptionAtHost"),
        ),
        case(
            "workerProfilesStatus set on create",
            Since("2023-09-04"),
            |b, _| {
                let w = b["properties"]["workerProfiles"].clone();
                set(b, "properties.workerProfilesStatus", w);
            },
            err("properties.workerProfilesStatus"),
        ),
        // Several errors at once.
        case(
            "several errors are reported together",
            All,
            |b, _| {
                set(b, "properties.networkProfile.podCidr", json!("bad"));
                set(b, "properties.masterProfile.vmSize", json!("bad"));
                set(b, "properties.workerProfiles.0.count", json!(0));
            },
            Errors(&[
                (IP, "properties.masterProfile.vmSize"),
                (IP, "properties.networkProfile.podCidr"),
                (IP, "properties.workerProfiles[0].count"),
            ]),
        ),
        // Workload identity.
        wi_case("valid workload identity body", |_, _| {}, Created),
        wi_case(
            "platform workload identities with SP credentials",
            |b, _| {
                set(
                    b,
                    "properties.servicePrincipalProfile",
                    json!({"clientId": client_id(0xabc000), "clientSecret": "s"}),
                )
            },
            err("properties.servicePrincipalProfile"),
        ),
        case(
            "cluster identity without platform workload identities",
            Since("2024-08-12-preview"),
            |b, r| {
                b["identity"] = json!({
                    "type": "UserAssigned",
                    "userAssignedIdentities": {msi(&format!("uai-{}", r.name)): {}},
                })
            },
            err("identity"),
        ),
        wi_case(
            "platform workload identities without a cluster identity",
            |b, _| remove(b, "identity"),
            err("identity"),
        ),
        wi_case(
            "cluster identity type not UserAssigned",
            |b, _| set(b, "identity.type", json!("SystemAssigned")),
            err("identity.type"),
        ),
        wi_case(
            "two user assigned identities",
            |b, _| {
                set(
                    b,
                    "identity.userAssignedIdentities",
                    json!({msi("one"): {}, msi("two"): {}}),
                )
            },
            err("identity.userAssignedIdentities"),
        ),
        wi_case(
            "no user assigned identity",
            |b, _| set(b, "identity.userAssignedIdentities", json!({})),
            err("identity.userAssignedIdentities"),
        ),
        wi_case(
            "user assigned identity is not a managed identity id",
            |b, _| {
                set(
                    b,
                    "identity.userAssignedIdentities",
                    json!({subnet(SUB, "vnet", "x"): {}}),
                )
            },
            err("identity.userAssignedIdentities"),
        ),
        wi_case(
            "no platform workload identity",
            |b, _| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities",
                    json!({}),
                )
            },
            err("properties.platformWorkloadIdentityProfile.platformWorkloadIdentities"),
        ),
        wi_case(
            "platform workload identity is not a managed identity",
            |b, _| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities",
                    json!({"CloudControllerManager": {"resourceId": subnet(SUB, "vnet", "x")}}),
                )
            },
            err(
                "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities.CloudControllerManager.resourceId",
            ),
        ),
        wi_case(
            "two platform workload identities share a resource id",
            |b, _| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities",
                    json!({"A": {"resourceId": msi("shared")}, "B": {"resourceId": msi("SHARED")}}),
                )
            },
            err(
                "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities.B.resourceId",
            ),
        ),
        wi_case(
            "upgradeableTo is not semver",
            |b, _| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.upgradeableTo",
                    json!("4.x"),
                )
            },
            err("properties.platformWorkloadIdentityProfile.upgradeableTo"),
        ),
        wi_case(
            "upgradeableTo is semver",
            |b, _| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.upgradeableTo",
                    json!("4.16.2"),
                )
            },
            Created,
        ),
    ]
}

/// The valid base body of a case, its unique keys (cluster resource group, client id or
/// cluster identity) unique to request `n`.
fn base_body(base: Base, n: usize) -> Value {
    match base {
        Base::Sp => sp_body(n),
        Base::Wi => wi_body(n),
    }
}

fn check_response(expect: Expect, r: &Response) -> Option<String> {
    match expect {
        Expect::Created => (r.status != StatusCode::CREATED)
            .then(|| format!("expected 201 Created, got {}", r.describe())),
        Expect::Error(code, target) => (r.status != StatusCode::BAD_REQUEST
            || r.code() != code
            || r.target() != target
            || r.body["error"]["details"]
                .as_array()
                .is_some_and(|d| !d.is_empty()))
        .then(|| format!("expected 400 {code} at '{target}', got {}", r.describe())),
        Expect::Errors(expected) => {
            let mut want: Vec<(String, String)> = expected
                .iter()
                .map(|(c, t)| (c.to_string(), t.to_string()))
                .collect();
            want.sort();
            (r.status != StatusCode::BAD_REQUEST
                || r.code() != "MultipleErrorsOccurred"
                || error_pairs(&r.body) != want)
                .then(|| {
                    format!(
                        "expected 400 MultipleErrorsOccurred with {want:?}, got {}",
                        r.describe()
                    )
                })
        }
    }
}

#[test]
fn the_version_list_is_what_the_frontend_serves() {
    let served: Vec<&str> = ApiVersion::ALL.iter().map(|v| v.as_str()).collect();
    assert_eq!(served, VERSIONS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_validation_rules_in_every_version() {
    let env = start(false).await;
    let cases = static_cases();
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for version in VERSIONS {
        let (mut applied, mut dropped) = (0, 0);
        for case in &cases {
            let expect = if case.applies.contains(version) {
                applied += 1;
                case.expect
            } else {
                match case.elsewhere {
                    Elsewhere::Skip => continue,
                    Elsewhere::Created => {
                        dropped += 1;
                        Expect::Created
                    }
                }
            };
            let n = env.next();
            let name = format!("c{n}");
            let req = Req {
                path: cluster_path(RG, &name),
                name,
            };
            let mut body = base_body(case.base, n);
            (case.mutate)(&mut body, &req);
            let r = env.send(Method::PUT, &req.path, version, Some(&body)).await;
            if let Some(problem) = check_response(expect, &r) {
                let scope = if case.applies.contains(version) {
                    ""
                } else {
                    " (field not in this version)"
                };
                failures.push(format!("[{version}] {}{scope}: {problem}", case.name));
            }
        }
        summary.push(format!(
            "{version}: {applied} rule cases, {dropped} not-in-version controls"
        ));
    }
    eprintln!("static validation cases:\n  {}", summary.join("\n  "));
    env.dc.stop().await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Immutability and validation on update
// ---------------------------------------------------------------------------------------------

/// An update: a PUT body mutation (or a PATCH body) and what it gives.
struct Update {
    name: &'static str,
    applies: Applies,
    patch: bool,
    change: fn(&mut Value, usize),
    expect: UpdateExpect,
}

#[derive(Clone, Copy, Debug)]
enum UpdateExpect {
    /// 200 OK.
    Accepted,
    /// 400 with this code and target (and, for PropertyChangeNotAllowed, ARO's message).
    Error(&'static str, &'static str),
    /// 400 MultipleErrorsOccurred listing exactly these (code, target) details.
    Errors(&'static [(&'static str, &'static str)]),
}

const PCNA: &str = "PropertyChangeNotAllowed";

fn upd(
    name: &'static str,
    applies: Applies,
    change: fn(&mut Value, usize),
    expect: UpdateExpect,
) -> Update {
    Update {
        name,
        applies,
        patch: false,
        change,
        expect,
    }
}

fn immutable(name: &'static str, applies: Applies, change: fn(&mut Value, usize)) -> Update {
    // The target is the name: every immutable case is named by the path it changes.
    upd(name, applies, change, UpdateExpect::Error(PCNA, name))
}

fn sp_updates() -> Vec<Update> {
    use Applies::{All, Only, Since};
    use UpdateExpect::{Accepted, Error, Errors};
    vec![
        upd("same body again", All, |_, _| {}, Accepted),
        upd(
            "tags",
            All,
            |b, n| b["tags"] = json!({"changed": n.to_string()}),
            Accepted,
        ),
        upd(
            "SP clientId and clientSecret",
            All,
            |b, n| {
                set(
                    b,
                    "properties.servicePrincipalProfile",
                    json!({"clientId": client_id(n), "clientSecret": "rotated"}),
                )
            },
            Accepted,
        ),
        upd(
            "SP clientSecret omitted keeps the stored one",
            All,
            |b, _| remove(b, "properties.servicePrincipalProfile.clientSecret"),
            Accepted,
        ),
        upd(
            "SP clientId not a UUID on update",
            All,
            |b, _| {
                set(
                    b,
                    "properties.servicePrincipalProfile.clientId",
                    json!("nope"),
                )
            },
            Error(IP, "properties.servicePrincipalProfile.clientId"),
        ),
        upd(
            "location changed on update",
            All,
            |b, _| b["location"] = json!("westus"),
            // The frontend reports the invalid value and the change together.
            Errors(&[(IP, "location"), (PCNA, "location")]),
        ),
        upd(
            "managedOutboundIps.count",
            Only(LB_VERSIONS),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({"managedOutboundIps": {"count": 5}}),
                )
            },
            Accepted,
        ),
        upd(
            "managedOutboundIps.count 21 on update",
            Only(LB_VERSIONS),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.loadBalancerProfile",
                    json!({"managedOutboundIps": {"count": 21}}),
                )
            },
            Error(
                IP,
                "properties.networkProfile.loadBalancerProfile.managedOutboundIps.count",
            ),
        ),
        immutable("properties.networkProfile.podCidr", All, |b, _| {
            set(b, "properties.networkProfile.podCidr", json!("10.0.0.0/14"))
        }),
        immutable("properties.networkProfile.serviceCidr", All, |b, _| {
            set(
                b,
                "properties.networkProfile.serviceCidr",
                json!("172.31.0.0/16"),
            )
        }),
        immutable("properties.clusterProfile.domain", All, |b, _| {
            set(b, "properties.clusterProfile.domain", json!("othercluster"))
        }),
        immutable("properties.clusterProfile.version", All, |b, _| {
            set(b, "properties.clusterProfile.version", json!("4.16.0"))
        }),
        immutable("properties.clusterProfile.resourceGroupId", All, |b, n| {
            set(
                b,
                "properties.clusterProfile.resourceGroupId",
                json!(format!("/subscriptions/{SUB}/resourceGroups/moved-{n}")),
            )
        }),
        immutable("properties.masterProfile.vmSize", All, |b, _| {
            set(
                b,
                "properties.masterProfile.vmSize",
                json!("Standard_D16s_v3"),
            )
        }),
        immutable("properties.masterProfile.subnetId", All, |b, _| {
            set(
                b,
                "properties.masterProfile.subnetId",
                json!(subnet(SUB, "vnet", "master2")),
            )
        }),
        immutable("properties.workerProfiles[0].count", All, |b, _| {
            set(b, "properties.workerProfiles.0.count", json!(5))
        }),
        immutable("properties.workerProfiles[0].vmSize", All, |b, _| {
            set(
                b,
                "properties.workerProfiles.0.vmSize",
                json!("Standard_D8s_v3"),
            )
        }),
        immutable("properties.workerProfiles[0].diskSizeGB", All, |b, _| {
            set(b, "properties.workerProfiles.0.diskSizeGB", json!(256))
        }),
        immutable("properties.apiserverProfile.visibility", All, |b, _| {
            set(b, "properties.apiserverProfile.visibility", json!("Public"))
        }),
        immutable("properties.ingressProfiles[0].visibility", All, |b, _| {
            set(
                b,
                "properties.ingressProfiles.0.visibility",
                json!("Public"),
            )
        }),
        immutable(
            "properties.masterProfile.encryptionAtHost",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.masterProfile.encryptionAtHost",
                    json!("Enabled"),
                )
            },
        ),
        immutable(
            "properties.workerProfiles[0].encryptionAtHost",
            Since("2021-09-01-preview"),
            |b, _| {
                set(
                    b,
                    "properties.workerProfiles.0.encryptionAtHost",
                    json!("Enabled"),
                )
            },
        ),
        immutable(
            "properties.clusterProfile.fipsValidatedModules",
            Since("2022-04-01"),
            |b, _| {
                set(
                    b,
                    "properties.clusterProfile.fipsValidatedModules",
                    json!("Enabled"),
                )
            },
        ),
        immutable(
            "properties.networkProfile.outboundType",
            Since("2023-04-01"),
            |b, _| {
                // A UserDefinedRouting body may not carry a load balancer profile.
                remove(b, "properties.networkProfile.loadBalancerProfile");
                set(
                    b,
                    "properties.networkProfile.outboundType",
                    json!("UserDefinedRouting"),
                )
            },
        ),
        immutable(
            "properties.networkProfile.preconfiguredNSG",
            Since("2023-09-04"),
            |b, _| {
                set(
                    b,
                    "properties.networkProfile.preconfiguredNSG",
                    json!("Enabled"),
                )
            },
        ),
        Update {
            name: "PATCH of an immutable field",
            applies: All,
            patch: true,
            change: |b, _| {
                *b = json!({"properties": {"networkProfile": {"serviceCidr": "172.31.0.0/16"}}})
            },
            expect: Error(PCNA, "properties.networkProfile.serviceCidr"),
        },
        Update {
            name: "PATCH of tags",
            applies: All,
            patch: true,
            change: |b, _| *b = json!({"tags": {"patched": "yes"}}),
            expect: Accepted,
        },
    ]
}

fn wi_updates() -> Vec<Update> {
    use Applies::All;
    use UpdateExpect::{Accepted, Error};
    vec![
        upd(
            "same workload identity body again",
            All,
            |_, _| {},
            Accepted,
        ),
        upd(
            "a platform workload identity the role set does not have",
            All,
            |b, n| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities.Ingress",
                    json!({"resourceId": msi(&format!("ingress-{n}"))}),
                )
            },
            Error(
                "PlatformWorkloadIdentityMismatch",
                "properties.PlatformWorkloadIdentityProfile.PlatformWorkloadIdentities",
            ),
        ),
        upd(
            "upgradeableTo",
            All,
            |b, _| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.upgradeableTo",
                    json!("4.16.2"),
                )
            },
            Accepted,
        ),
        upd(
            "a platform workload identity removed",
            All,
            |b, _| {
                set(
                    b,
                    "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities",
                    json!({"Ingress": {"resourceId": msi("ingress-x")}}),
                )
            },
            Error(
                PCNA,
                "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities.CloudControllerManager",
            ),
        ),
        immutable("properties.networkProfile.podCidr", All, |b, _| {
            set(b, "properties.networkProfile.podCidr", json!("10.0.0.0/14"))
        }),
        Update {
            name: "PATCH of tags of a workload identity cluster",
            applies: All,
            patch: true,
            change: |b, _| *b = json!({"tags": {"patched": "yes"}}),
            expect: Accepted,
        },
    ]
}

/// Create a cluster with `body`, wait for Succeeded, then run `updates` against it in order.
/// Each PUT starts from the last accepted PUT body; after every accepted update the stand-in
/// controller moves the cluster back to Succeeded before the next one.
async fn run_updates(
    env: &Env,
    version: &str,
    path: &str,
    body: &Value,
    updates: &[Update],
    failures: &mut Vec<String>,
) -> usize {
    let r = env.send(Method::PUT, path, version, Some(body)).await;
    if r.status != StatusCode::CREATED {
        failures.push(format!("[{version}] create {path}: {}", r.describe()));
        return 0;
    }
    if let Err(e) = env.wait_succeeded(path, version).await {
        failures.push(format!("[{version}] {e}"));
        return 0;
    }
    // Accepted updates keep their changes so later cases compare against them.
    let mut current = body.clone();
    let mut count = 0;
    for u in updates.iter().filter(|u| u.applies.contains(version)) {
        count += 1;
        let mut next = current.clone();
        (u.change)(&mut next, env.next());
        let method = if u.patch { Method::PATCH } else { Method::PUT };
        let r = env.send(method, path, version, Some(&next)).await;
        let problem = match u.expect {
            UpdateExpect::Accepted => {
                (r.status != StatusCode::OK).then(|| format!("expected 200, got {}", r.describe()))
            }
            UpdateExpect::Error(code, target) => {
                let message = format!("Changing property '{target}' is not allowed.");
                (r.status != StatusCode::BAD_REQUEST
                    || r.code() != code
                    || r.target() != target
                    || (code == PCNA && r.body["error"]["message"] != message.as_str()))
                .then(|| format!("expected 400 {code} at '{target}', got {}", r.describe()))
            }
            UpdateExpect::Errors(expected) => check_response(Expect::Errors(expected), &r),
        };
        if let Some(problem) = problem {
            failures.push(format!("[{version}] {}: {problem}", u.name));
            continue;
        }
        if matches!(u.expect, UpdateExpect::Accepted) {
            if !u.patch {
                current = next;
                // An omitted secret is kept by the server; keep sending one.
                let sp = &mut current["properties"]["servicePrincipalProfile"];
                if sp.is_object() && sp["clientSecret"].is_null() {
                    sp["clientSecret"] = json!("top-secret");
                }
            }
            if let Err(e) = env.wait_succeeded(path, version).await {
                failures.push(format!("[{version}] after {}: {e}", u.name));
                return count;
            }
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn immutability_and_update_validation_in_every_version() {
    let env = start(true).await;
    let sp = sp_updates();
    let wi = wi_updates();
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    for (i, version) in VERSIONS.into_iter().enumerate() {
        // Private visibilities, so that switching to UserDefinedRouting is valid and only
        // immutable.
        let mut body = sp_body(env.next());
        set(
            &mut body,
            "properties.apiserverProfile.visibility",
            json!("Private"),
        );
        set(
            &mut body,
            "properties.ingressProfiles.0.visibility",
            json!("Private"),
        );
        let path = cluster_path(&format!("rg-immutable-{i}"), "cluster");
        let mut count = run_updates(&env, version, &path, &body, &sp, &mut failures).await;

        // The name and resource group of the URL may change case.
        let upper = cluster_path(&format!("RG-IMMUTABLE-{i}"), "CLUSTER");
        let mut same = body.clone();
        same["tags"] = json!({"case": "upper"});
        let r = env.send(Method::PUT, &upper, version, Some(&same)).await;
        count += 1;
        if r.status != StatusCode::OK {
            failures.push(format!(
                "[{version}] PUT with the URL in another case: expected 200, got {}",
                r.describe()
            ));
        } else if let Err(e) = env.wait_succeeded(&path, version).await {
            failures.push(format!("[{version}] {e}"));
        }

        if Applies::Since("2024-08-12-preview").contains(version) {
            let path = cluster_path(&format!("rg-immutable-wi-{i}"), "cluster");
            count += run_updates(
                &env,
                version,
                &path,
                &wi_body(env.next()),
                &wi,
                &mut failures,
            )
            .await;
        }
        summary.push(format!("{version}: {count} update cases"));
    }
    eprintln!("update cases:\n  {}", summary.join("\n  "));
    env.dc.stop().await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Request validation (section 1.1)
// ---------------------------------------------------------------------------------------------

/// (what, method, path, JSON body, expected status (None: not asserted), expected code).
type RequestCase<'a> = (
    &'static str,
    Method,
    String,
    Option<&'a Value>,
    Option<u16>,
    &'static str,
);
/// (what, method, path, content type, raw body, expected status, expected code).
type RawCase = (
    &'static str,
    Method,
    String,
    &'static str,
    Vec<u8>,
    u16,
    &'static str,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_validation_codes_in_every_version() {
    let env = start(false).await;
    let mut failures = Vec::new();
    let mut summary = Vec::new();
    let valid = sp_body(0);
    let good = cluster_path("rg", "c");
    let op = "11111111-2222-4333-8444-555555555555";
    for version in VERSIONS {
        let cases: Vec<RequestCase> = vec![
            (
                "subscription not a UUID",
                Method::GET,
                format!(
                    "/subscriptions/not-a-uuid/resourceGroups/rg/providers/{NS}/openShiftClusters/c"
                ),
                None,
                Some(400),
                "InvalidSubscriptionID",
            ),
            (
                "subscription not a UUID (PUT)",
                Method::PUT,
                format!(
                    "/subscriptions/not-a-uuid/resourceGroups/rg/providers/{NS}/openShiftClusters/c"
                ),
                Some(&valid),
                Some(400),
                "InvalidSubscriptionID",
            ),
            (
                "resource group ends with a dot",
                Method::GET,
                cluster_path("bad.rg.", "c"),
                None,
                Some(400),
                "ResourceGroupNotFound",
            ),
            (
                "resource group longer than 90",
                Method::PUT,
                cluster_path(&"r".repeat(91), "c"),
                Some(&valid),
                Some(400),
                "ResourceGroupNotFound",
            ),
            (
                "wrong namespace",
                Method::GET,
                format!(
                    "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Other/openShiftClusters/c"
                ),
                None,
                Some(400),
                "InvalidResourceNamespace",
            ),
            (
                "wrong namespace (PUT)",
                Method::PUT,
                format!(
                    "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Other/openShiftClusters/c"
                ),
                Some(&valid),
                Some(400),
                "InvalidResourceNamespace",
            ),
            (
                "wrong resource type",
                Method::GET,
                format!("/subscriptions/{SUB}/resourceGroups/rg/providers/{NS}/others/c"),
                None,
                Some(400),
                "InvalidResourceType",
            ),
            (
                "wrong resource type (subscription list)",
                Method::GET,
                format!("/subscriptions/{SUB}/providers/{NS}/others"),
                None,
                Some(400),
                "InvalidResourceType",
            ),
            (
                // 400, not 404: request validation (ARO-RP's pkg/frontend/middleware/validate.go).
                "resource name ends with a dot",
                Method::GET,
                cluster_path("rg", "bad.name."),
                None,
                Some(400),
                "ResourceNotFound",
            ),
            (
                "location is not the RP's region",
                Method::GET,
                format!(
                    "/subscriptions/{SUB}/providers/{NS}/locations/westus/operationsStatus/{op}"
                ),
                None,
                Some(400),
                "InvalidLocation",
            ),
            (
                "operation id not a UUID",
                Method::GET,
                format!(
                    "/subscriptions/{SUB}/providers/{NS}/locations/eastus/operationResults/nope"
                ),
                None,
                Some(400),
                "InvalidOperationID",
            ),
            (
                "absent cluster",
                Method::GET,
                good.clone(),
                None,
                Some(404),
                "ResourceNotFound",
            ),
        ];
        let mut count = 0;
        for (what, method, path, body, status, code) in cases {
            count += 1;
            let r = env.send(method.clone(), &path, version, body).await;
            if status.is_some_and(|s| s != r.status.as_u16()) || r.code() != code {
                failures.push(format!(
                    "[{version}] {what} ({method} {path}): expected {status:?} {code}, got {}",
                    r.describe()
                ));
            }
        }

        let raw: Vec<RawCase> = vec![
            (
                "malformed JSON",
                Method::PUT,
                good.clone(),
                "application/json",
                b"{not json".to_vec(),
                400,
                "InvalidRequestContent",
            ),
            (
                "a field of the wrong JSON type",
                Method::PUT,
                good.clone(),
                "application/json",
                {
                    let mut b = valid.clone();
                    set(&mut b, "properties.workerProfiles.0.count", json!("three"));
                    serde_json::to_vec(&b).unwrap()
                },
                400,
                "InvalidRequestContent",
            ),
            (
                "a JSON array instead of an object",
                Method::PUT,
                good.clone(),
                "application/json",
                b"[]".to_vec(),
                400,
                "InvalidRequestContent",
            ),
            (
                "content type not JSON",
                Method::PUT,
                good.clone(),
                "text/plain",
                serde_json::to_vec(&valid).unwrap(),
                415,
                "UnsupportedMediaType",
            ),
            (
                "content type not JSON (listCredentials)",
                Method::POST,
                format!("{good}/listCredentials"),
                "application/xml",
                b"<x/>".to_vec(),
                415,
                "UnsupportedMediaType",
            ),
            (
                "listCredentials body not JSON",
                Method::POST,
                format!("{good}/listCredentials"),
                "application/json",
                b"{".to_vec(),
                400,
                "InvalidRequestContent",
            ),
            (
                "body over 1 MiB",
                Method::PUT,
                good.clone(),
                "application/json",
                format!("{{\"x\":\"{}\"}}", "a".repeat(1024 * 1024 + 10)).into_bytes(),
                400,
                "InvalidResource",
            ),
        ];
        for (what, method, path, content_type, body, status, code) in raw {
            count += 1;
            let r = env
                .send_raw(method.clone(), &path, version, content_type, body)
                .await;
            if r.status.as_u16() != status || r.code() != code {
                failures.push(format!(
                    "[{version}] {what} ({method} {path}): expected {status} {code}, got {}",
                    r.describe()
                ));
            }
        }
        summary.push(format!("{version}: {count} request cases"));
    }

    // Versions the frontend does not serve.
    for version in ["1999-01-01", "2023-11-22-preview", "2099-01-01"] {
        for (method, path, body) in [
            (Method::GET, good.clone(), None),
            (Method::PUT, good.clone(), Some(&valid)),
            (Method::DELETE, good.clone(), None),
            (
                Method::GET,
                format!("/subscriptions/{SUB}/providers/{NS}/openShiftClusters"),
                None,
            ),
        ] {
            let r = env.send(method.clone(), &path, version, body).await;
            if r.status != StatusCode::BAD_REQUEST || r.code() != "InvalidResourceType" {
                failures.push(format!(
                    "[{version}] unsupported api-version ({method} {path}): expected 400 InvalidResourceType, got {}",
                    r.describe()
                ));
            }
        }
    }
    eprintln!("request validation cases:\n  {}", summary.join("\n  "));
    env.dc.stop().await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Routes by version
// ---------------------------------------------------------------------------------------------

/// (what, method, path, served by the version, check of a served answer).
type RouteCase = (&'static str, Method, String, bool, fn(&Response) -> bool);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_by_version() {
    let env = start(true).await;
    let path = cluster_path("rg-routes", "cluster");
    let r = env
        .send(Method::PUT, &path, "2023-11-22", Some(&sp_body(env.next())))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.describe());
    env.wait_succeeded(&path, "2023-11-22").await.unwrap();

    let locations = format!("/subscriptions/{SUB}/providers/{NS}/locations/{LOCATION}");
    let mut failures = Vec::new();
    for version in VERSIONS {
        let admin = Applies::Since("2021-09-01-preview").contains(version);
        let versions = Applies::Since("2022-09-04").contains(version);
        let wi = Applies::Since("2024-08-12-preview").contains(version);
        let cases: Vec<RouteCase> = vec![
            (
                "listCredentials",
                Method::POST,
                format!("{path}/listCredentials"),
                true,
                |r| {
                    r.status == StatusCode::OK
                        && r.body["kubeadminUsername"] == "kubeadmin"
                        && r.body["kubeadminPassword"] == support::KUBEADMIN_PASSWORD
                },
            ),
            (
                "listAdminCredentials",
                Method::POST,
                format!("{path}/listAdminCredentials"),
                admin,
                // The user-admin kubeconfig, never the RP's own.
                |r| {
                    use base64::Engine;
                    r.status == StatusCode::OK
                        && r.body["kubeconfig"]
                            == base64::engine::general_purpose::STANDARD
                                .encode(support::USER_ADMIN_KUBECONFIG)
                },
            ),
            (
                "openShiftVersions",
                Method::GET,
                format!("{locations}/openShiftVersions"),
                versions,
                |r| {
                    r.status == StatusCode::OK
                        && r.body["value"][0]["properties"]["version"] == "4.15.35"
                },
            ),
            (
                "openShiftVersions/{version}",
                Method::GET,
                format!("{locations}/openShiftVersions/4.15.35"),
                wi,
                |r| r.status == StatusCode::OK && r.body["properties"]["version"] == "4.15.35",
            ),
            (
                "openShiftVersions/{unknown version}",
                Method::GET,
                format!("{locations}/openShiftVersions/9.9.9"),
                wi,
                |r| r.status == StatusCode::BAD_REQUEST && r.code() == "ResourceNotFound",
            ),
            (
                "platformWorkloadIdentityRoleSets",
                Method::GET,
                format!("{locations}/platformWorkloadIdentityRoleSets"),
                wi,
                |r| {
                    r.status == StatusCode::OK
                        && r.body["value"][0]["properties"]["openShiftVersion"] == "4.15"
                },
            ),
            (
                "platformWorkloadIdentityRoleSets/{minor}",
                Method::GET,
                format!("{locations}/platformWorkloadIdentityRoleSets/4.15"),
                wi,
                |r| {
                    r.status == StatusCode::OK && r.body["properties"]["openShiftVersion"] == "4.15"
                },
            ),
        ];
        for (what, method, p, served, ok) in cases {
            let r = env.send(method, &p, version, None).await;
            let good = if served {
                ok(&r)
            } else {
                r.status == StatusCode::BAD_REQUEST && r.code() == "InvalidResourceType"
            };
            if !good {
                let want = if served {
                    "served"
                } else {
                    "400 InvalidResourceType"
                };
                failures.push(format!(
                    "[{version}] {what}: expected {want}, got {}",
                    r.describe()
                ));
            }
        }
    }
    env.dc.stop().await;
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Workload identity against the role sets, and ARM's managed identity headers
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workload_identities_must_match_the_role_sets_and_creates_need_the_identity_headers() {
    let env = start(false).await;
    let version = "2024-08-12-preview";
    let clusters: Api<crds::management::OpenShiftCluster> =
        Api::namespaced(env.client.clone(), &support::namespace());
    let mut failures = Vec::new();

    // An identity no role set names: refused, naming what the version requires.
    let mut extra = wi_body(env.next());
    set(
        &mut extra,
        "properties.platformWorkloadIdentityProfile.platformWorkloadIdentities.Ingress",
        json!({"resourceId": msi("ingress-extra")}),
    );
    let path = cluster_path(RG, "wi-extra");
    let r = env.send(Method::PUT, &path, version, Some(&extra)).await;
    if r.status != StatusCode::BAD_REQUEST
        || r.body["error"]["code"] != "PlatformWorkloadIdentityMismatch"
        || r.body["error"]["target"]
            != "properties.PlatformWorkloadIdentityProfile.PlatformWorkloadIdentities"
        || !r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .ends_with("minor version '4.15'. The required platform workload identities are '[CloudControllerManager]'")
    {
        failures.push(format!("extra identity: {}", r.describe()));
    }

    // upgradeableTo a minor without a role set.
    let mut to_unknown = wi_body(env.next());
    set(
        &mut to_unknown,
        "properties.platformWorkloadIdentityProfile.upgradeableTo",
        json!("4.17.1"),
    );
    let r = env
        .send(
            Method::PUT,
            &cluster_path(RG, "wi-4-17"),
            version,
            Some(&to_unknown),
        )
        .await;
    if r.status != StatusCode::BAD_REQUEST
        || r.body["error"]["code"] != IP
        || !r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("minor version '4.17'")
    {
        failures.push(format!("upgradeableTo 4.17: {}", r.describe()));
    }

    // A create without ARM's managed identity headers: refused, nothing stored.
    let path = cluster_path(RG, "wi-no-headers");
    let body = wi_body(env.next());
    let r = env
        .send_with(Method::PUT, &path, version, Some(&body), false)
        .await;
    if r.status != StatusCode::BAD_REQUEST
        || r.body["error"]["code"] != "InvalidRequestContent"
        || !r.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("x-ms-identity-url")
    {
        failures.push(format!("create without headers: {}", r.describe()));
    }
    let r = env.send(Method::GET, &path, version, None).await;
    if r.status != StatusCode::NOT_FOUND {
        failures.push(format!("GET after refused create: {}", r.describe()));
    }

    // With them: created, and the identity URL and home tenant are recorded.
    let r = env.send(Method::PUT, &path, version, Some(&body)).await;
    if r.status != StatusCode::CREATED {
        failures.push(format!("create with headers: {}", r.describe()));
    } else {
        let stored = clusters
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .find(|c| c.spec.name.eq_ignore_ascii_case("wi-no-headers"));
        let identity = stored.and_then(|c| c.spec.identity);
        if identity.as_ref().and_then(|i| i.identity_url.as_deref()) != Some(IDENTITY_URL)
            || identity.as_ref().and_then(|i| i.tenant_id.as_deref()) != Some(HOME_TENANT)
        {
            failures.push(format!("stored identity: {identity:?}"));
        }
    }
    env.dc.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each rule on ARM's identity and tenant headers: a violation is 400 InvalidRequestContent
/// naming the header, and the refused create stores nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_and_tenant_headers_are_checked_one_rule_at_a_time() {
    let env = start(false).await;
    let version = "2024-08-12-preview";
    let long_url = format!(
        "https://tenant.identity.azure.net/{}",
        "a".repeat(rp_frontend::server::workload_identity::MAX_IDENTITY_URL_LEN)
    );
    let cases: [(&str, &str, &str); 9] = [
        (
            "plain http",
            "x-ms-identity-url",
            "http://tenant.identity.azure.net/c",
        ),
        (
            "foreign host",
            "x-ms-identity-url",
            "https://identity.example.net/c",
        ),
        (
            "look-alike host",
            "x-ms-identity-url",
            "https://tenant.identity.azure.net.example.com/c",
        ),
        (
            "metadata endpoint",
            "x-ms-identity-url",
            "https://169.254.169.254/metadata/identity",
        ),
        ("identity URL over 2 KiB", "x-ms-identity-url", &long_url),
        ("home tenant not a GUID", "x-ms-home-tenant-id", "contoso"),
        (
            "home tenant too long",
            "x-ms-home-tenant-id",
            "22222222-2222-4222-8222-2222222222220",
        ),
        (
            "client tenant not a GUID",
            "x-ms-client-tenant-id",
            "../other",
        ),
        (
            "client tenant braced",
            "x-ms-client-tenant-id",
            "{22222222-2222-4222-8222-222222222222}",
        ),
    ];
    let mut failures = Vec::new();
    for (what, header, value) in cases {
        let path = cluster_path(RG, &format!("hdr-{}", env.next()));
        let mut built = env
            .http
            .put(format!("{}{path}?api-version={version}", env.base))
            .header("referer", format!("https://arm.example.com{path}"))
            .header("x-ms-identity-url", IDENTITY_URL)
            .header("x-ms-home-tenant-id", HOME_TENANT)
            .json(&wi_body(env.next()))
            .build()
            .unwrap();
        // The header under test replaces the valid one.
        built.headers_mut().insert(
            reqwest::header::HeaderName::from_static(header),
            reqwest::header::HeaderValue::from_str(value).unwrap(),
        );
        let r = Env::read_request(&env.http, built).await;
        if r.status != StatusCode::BAD_REQUEST
            || r.code() != "InvalidRequestContent"
            || r.target() != header
            || !r.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(header)
        {
            failures.push(format!("{what}: {}", r.describe()));
        }
        let r = env.send(Method::GET, &path, version, None).await;
        if r.status != StatusCode::NOT_FOUND {
            failures.push(format!("{what}: stored anyway: {}", r.describe()));
        }
    }
    // All valid (and a valid client tenant): created.
    let path = cluster_path(RG, "hdr-valid");
    let built = env
        .http
        .put(format!("{}{path}?api-version={version}", env.base))
        .header("referer", format!("https://arm.example.com{path}"))
        .header("x-ms-identity-url", IDENTITY_URL)
        .header("x-ms-home-tenant-id", HOME_TENANT)
        .header(
            "x-ms-client-tenant-id",
            "33333333-3333-4333-8333-333333333333",
        )
        .json(&wi_body(env.next()))
        .build()
        .unwrap();
    let r = Env::read_request(&env.http, built).await;
    if r.status != StatusCode::CREATED {
        failures.push(format!("valid headers: {}", r.describe()));
    }
    env.dc.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Uniqueness under racing creates
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_with_one_key_accept_exactly_one() {
    let env = start(false).await;
    let version = "2023-11-22";
    for (what, code, shared) in [
        ("client id", "DuplicateClientID", "clientid"),
        ("cluster resource group", "DuplicateResourceGroup", "rg"),
    ] {
        let shared_n = env.next();
        let requests = (0..16).map(|i| {
            let mut body = sp_body(env.next());
            if shared == "clientid" {
                set(
                    &mut body,
                    "properties.servicePrincipalProfile.clientId",
                    json!(client_id(shared_n)),
                );
            } else {
                set(
                    &mut body,
                    "properties.clusterProfile.resourceGroupId",
                    json!(format!(
                        "/subscriptions/{SUB}/resourceGroups/aro-{shared_n}"
                    )),
                );
            }
            let path = cluster_path(&format!("rg-race-{shared}"), &format!("c{i}"));
            let env = &env;
            async move { env.send(Method::PUT, &path, version, Some(&body)).await }
        });
        let answers = futures::future::join_all(requests).await;
        let created = answers
            .iter()
            .filter(|r| r.status == StatusCode::CREATED)
            .count();
        let duplicates = answers
            .iter()
            .filter(|r| r.status == StatusCode::BAD_REQUEST && r.body["error"]["code"] == code)
            .count();
        assert_eq!(
            (created, duplicates),
            (1, 15),
            "{what}: {:?}",
            answers
                .iter()
                .map(|r| format!("{} {}", r.status, r.body["error"]["code"]))
                .collect::<Vec<_>>()
        );
    }
    env.dc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_key_claim_is_taken_over_only_when_stale_and_unused() {
    use crds::management::ClusterUniqueKey;
    use rp_frontend::server::management::{KeyClaim, UNIQUE_KEY_GRACE, claim_unique_key};
    let env = start(false).await;
    let label = crds::management::naming::LABEL_CLIENT_ID_HASH;
    let claims: Api<ClusterUniqueKey> = Api::all(env.client.clone());
    // The claims are made as the frontend's ServiceAccount under deploy/rp's grants (the
    // take-over's update is a path the e2e lifecycle never takes).
    let frontend = support::frontend_client(&env.dc, &env.client).await;

    assert!(matches!(
        claim_unique_key(&frontend, "clientid", label, "abc", "/a")
            .await
            .unwrap(),
        KeyClaim::Claimed(..)
    ));
    // Idempotent for its holder; refused to another while fresh.
    assert_eq!(
        claim_unique_key(&frontend, "clientid", label, "abc", "/a")
            .await
            .unwrap(),
        KeyClaim::Held
    );
    assert_eq!(
        claim_unique_key(&frontend, "clientid", label, "abc", "/b")
            .await
            .unwrap(),
        KeyClaim::Refused
    );

    // Stale (claimed before the grace period) and used by no cluster: taken over.
    let mut claim = claims.get("clientid-abc").await.unwrap();
    claim.spec.claimed_at = (chrono::Utc::now() - UNIQUE_KEY_GRACE - UNIQUE_KEY_GRACE).to_rfc3339();
    claims
        .replace("clientid-abc", &PostParams::default(), &claim)
        .await
        .unwrap();
    assert!(matches!(
        claim_unique_key(&frontend, "clientid", label, "abc", "/b")
            .await
            .unwrap(),
        KeyClaim::Claimed(..)
    ));
    let claim = claims.get("clientid-abc").await.unwrap();
    assert_eq!(claim.spec.cluster_resource_id, "/b");
    assert_eq!(
        claim
            .labels()
            .get(crds::management::naming::LABEL_RESOURCE_ID_HASH),
        Some(&crds::management::naming::short_hash("/b"))
    );
    assert_eq!(
        claim_unique_key(&frontend, "clientid", label, "abc", "/a")
            .await
            .unwrap(),
        KeyClaim::Refused
    );
    let used = env.dc.access_log().of_user(&frontend_user());
    let denied = env.dc.access_log().denied_to(&frontend_user());
    env.dc.stop().await;
    assert!(denied.is_empty(), "the frontend was denied: {denied:?}");
    assert!(
        used.iter()
            .any(|r| r.verb == "patch" && r.resource == "clusteruniquekeys"),
        "the take-over used no patch"
    );
}

/// The user name of the frontend's ServiceAccount.
fn frontend_user() -> String {
    let (namespace, account) = support::FRONTEND_ACCOUNT;
    devcluster::UserInfo::service_account(namespace, account).name
}

/// ARM registers a subscription before rp-controller has made its namespace: the frontend, under
/// deploy/rp's grants, makes it itself (a path the e2e lifecycle takes only when it wins that
/// race).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_registered_before_its_namespace_exists_gets_it_from_the_frontend() {
    let (dc, admin) = support::management_cluster().await;
    let frontend = support::frontend_client(&dc, &admin).await;
    let base = support::serve_http(frontend).await;
    let answer = reqwest::Client::new()
        .put(format!("{base}/subscriptions/{OTHER_SUB}?api-version=2.0"))
        .json(&json!({"state": "Registered", "properties": {"tenantId": "tenant"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let namespace = crds::management::naming::subscription_namespace(OTHER_SUB);
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(admin.clone());
    assert!(namespaces.get_opt(&namespace).await.unwrap().is_some());
    let used = dc.access_log().of_user(&frontend_user());
    let denied = dc.access_log().denied_to(&frontend_user());
    dc.stop().await;
    assert!(denied.is_empty(), "the frontend was denied: {denied:?}");
    assert!(
        used.iter()
            .any(|r| r.verb == "create" && r.resource == "namespaces"),
        "the frontend created no namespace"
    );
}

/// Two subscriptions race for one managed domain: exactly one create wins, the other is
/// `400 DuplicateDomain` and leaves nothing behind (no cluster, Secret, record or claim of its
/// other keys); once the winner is deleted (and its claims released, as the controller does) the
/// domain is free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_from_two_subscriptions_for_one_domain_accept_exactly_one() {
    use crds::management::naming::subscription_namespace;
    use crds::management::{AsyncOperation, ClusterUniqueKey, OpenShiftCluster};
    use k8s_openapi::api::core::v1::Secret;
    let env = start(true).await;
    let version = "2023-11-22";
    let r = env
        .send(
            Method::PUT,
            &format!("/subscriptions/{OTHER_SUB}"),
            "2.0",
            Some(&json!({"state": "Registered", "properties": {"tenantId": "tenant"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.describe());
    let body_in = |sub: &str, n: usize, domain: &str| {
        let mut body = sp_body(n);
        set(&mut body, "properties.clusterProfile.domain", json!(domain));
        set(
            &mut body,
            "properties.clusterProfile.resourceGroupId",
            json!(format!("/subscriptions/{sub}/resourceGroups/aro-{n}")),
        );
        set(
            &mut body,
            "properties.masterProfile.subnetId",
            json!(subnet(sub, "vnet", "master")),
        );
        set(
            &mut body,
            "properties.workerProfiles.0.subnetId",
            json!(subnet(sub, "vnet", "worker")),
        );
        body
    };
    let path_in = |sub: &str, i: usize| {
        format!(
            "/subscriptions/{sub}/resourceGroups/rg-domain/providers/{NS}/openShiftClusters/c{i}"
        )
    };
    let holder = |path: &str| path.to_lowercase();
    let claims: Api<ClusterUniqueKey> = Api::all(env.client.clone());
    let mut failures = Vec::new();
    let mut first_round = None;
    for round in 0..6 {
        // The label alone or written out in full: one domain.
        let label = format!("shared{round}");
        let domains = [label.clone(), format!("{label}.eastus.aroapp.io")];
        let contenders: Vec<(String, Value)> = [SUB, OTHER_SUB]
            .iter()
            .enumerate()
            .map(|(i, sub)| {
                (
                    path_in(sub, round),
                    body_in(sub, env.next(), &domains[(round + i) % 2]),
                )
            })
            .collect();
        let answers = futures::future::join_all(
            contenders
                .iter()
                .map(|(path, body)| env.send(Method::PUT, path, version, Some(body))),
        )
        .await;
        let winners: Vec<usize> = (0..2)
            .filter(|&i| answers[i].status == StatusCode::CREATED)
            .collect();
        let [winner] = winners[..] else {
            failures.push(format!(
                "round {round}: {:?}",
                answers.iter().map(Response::describe).collect::<Vec<_>>()
            ));
            continue;
        };
        let loser = 1 - winner;
        let refused = &answers[loser];
        if refused.status != StatusCode::BAD_REQUEST
            || refused.code() != "DuplicateDomain"
            || refused.target() != "properties.clusterProfile.domain"
            || refused.body["error"]["message"]
                != format!(
                    "The provided domain '{}' is already in use by a cluster.",
                    contenders[loser].1["properties"]["clusterProfile"]["domain"]
                        .as_str()
                        .unwrap()
                )
        {
            failures.push(format!("round {round}: loser got {}", refused.describe()));
        }
        // The loser left nothing behind.
        let loser_sub = [SUB, OTHER_SUB][loser];
        let ns = subscription_namespace(loser_sub);
        let clusters: Api<OpenShiftCluster> = Api::namespaced(env.client.clone(), &ns);
        let secrets: Api<Secret> = Api::namespaced(env.client.clone(), &ns);
        let ops: Api<AsyncOperation> = Api::namespaced(env.client.clone(), &ns);
        let loser_id = holder(&contenders[loser].0);
        let left_clusters = clusters
            .list(&Default::default())
            .await
            .map(|l| {
                l.items
                    .into_iter()
                    .filter(|c| c.spec.resource_id.to_lowercase() == loser_id)
                    .count()
            })
            .unwrap_or(0);
        let left_claims: Vec<String> = claims
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|c| c.spec.cluster_resource_id == loser_id)
            .map(|c| c.spec.kind)
            .collect();
        let object =
            crds::management::naming::cluster_object_name("rg-domain", &format!("c{round}"));
        let left_secret = secrets
            .get_opt(&format!("{object}-customer"))
            .await
            .unwrap()
            .is_some();
        let left_ops = ops
            .list(&Default::default())
            .await
            .map(|l| {
                l.items
                    .iter()
                    .filter(|o| o.spec.cluster_name == object)
                    .count()
            })
            .unwrap_or(0);
        if left_clusters != 0 || !left_claims.is_empty() || left_secret || left_ops != 0 {
            failures.push(format!(
                "round {round}: the loser left clusters {left_clusters:?}, claims {left_claims:?}, secret {left_secret}, records {left_ops}"
            ));
        }
        if first_round.is_none() {
            first_round = Some((contenders, winner));
        }
    }

    // Deleting the winner frees the domain for the loser.
    if let Some((contenders, winner)) = first_round {
        let loser = 1 - winner;
        let deleting = env
            .send(Method::DELETE, &contenders[winner].0, version, None)
            .await;
        assert_eq!(
            deleting.status,
            StatusCode::ACCEPTED,
            "{}",
            deleting.describe()
        );
        let mut gone = false;
        for _ in 0..500 {
            let r = env
                .send(Method::GET, &contenders[winner].0, version, None)
                .await;
            if r.status == StatusCode::NOT_FOUND {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "the winner is never deleted");
        let again = env
            .send(
                Method::PUT,
                &contenders[loser].0,
                version,
                Some(&contenders[loser].1),
            )
            .await;
        if again.status != StatusCode::CREATED {
            failures.push(format!("after the winner's delete: {}", again.describe()));
        }
    }
    env.dc.stop().await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
