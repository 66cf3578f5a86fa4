//! Contract test: every response body the frontend produces across a cluster's lifecycle, in
//! every API version, validates against that version's official swagger
//! (rp-frontend/testdata/specs, copied from the official specs).

mod support;

use crds::management::PlatformWorkloadIdentityRoleSet;
use kube::api::{Api, PostParams};
use reqwest::Method;
use rp_frontend::api::ApiVersion;
use serde_json::{Value, json};
use support::SUB;
use support::swagger::Specs;

const NS: &str = "Microsoft.RedHatOpenShift";

struct Checker {
    base: String,
    http: reqwest::Client,
    specs: Specs,
    errors: Vec<String>,
    checked: usize,
}

impl Checker {
    /// Send a request and validate the response body against the swagger operation's schema for
    /// the returned status.
    async fn call(
        &mut self,
        method: Method,
        path: &str,
        version: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}?api-version={version}", self.base);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header("referer", format!("https://management.azure.com{path}"))
            .header(
                "x-ms-arm-resource-system-data",
                r#"{"createdBy":"user@example.com","createdByType":"User","createdAt":"2026-01-01T00:00:00Z","lastModifiedBy":"user@example.com","lastModifiedByType":"User","lastModifiedAt":"2026-01-01T00:00:00Z"}"#,
            );
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
        };
        let what = format!("{version} {method} {path} -> {status}");
        match self
            .specs
            .response_schema(version, method.as_str(), path, status)
        {
            None => self
                .errors
                .push(format!("{what}: the swagger has no such operation")),
            Some(None) => {
                if !text.is_empty() {
                    self.errors
                        .push(format!("{what}: the swagger defines no body, got {text}"));
                }
            }
            Some(Some(schema)) => {
                self.checked += 1;
                for e in self.specs.validate(&schema, &value) {
                    if !documented_difference(version, &e) {
                        self.errors.push(format!("{what}: {e}"));
                    }
                }
            }
        }
        (status, value)
    }

    fn expect(&mut self, what: &str, got: u16, want: u16, body: &Value) {
        if got != want {
            self.errors
                .push(format!("{what}: status {got}, expected {want}: {body}"));
        }
    }
}

/// Deliberate differences from the swagger snapshot, listed in docs/api.md: 2023-11-22 serves
/// `networkProfile.loadBalancerProfile` (its own examples and the ARO RP have it; the stored
/// swagger does not).
fn documented_difference(version: &str, error: &str) -> bool {
    version == "2023-11-22"
        && error.ends_with("networkProfile: property loadBalancerProfile is not in the schema")
}

fn create_body(i: usize) -> Value {
    let subnet = |n: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/vnet/providers/Microsoft.Network/virtualNetworks/vnet{i}/subnets/{n}"
        )
    };
    json!({
        "location": "eastus",
        "tags": {"version": i.to_string()},
        "properties": {
            "clusterProfile": {"pullSecret": "{\"auths\":{}}", "domain": format!("contract{i}"), "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-contract-{i}")},
            "servicePrincipalProfile": {"clientId": format!("11111111-1111-1111-1111-1111111111{i:02}"), "clientSecret": "secret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16"},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master")},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D2s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_validates_against_its_versions_swagger() {
    let (_dc, client) = support::management_cluster().await;
    let _controller = support::spawn_controller_stand_in(client.clone());
    let role_sets: Api<PlatformWorkloadIdentityRoleSet> = Api::all(client.clone());
    role_sets
        .create(
            &PostParams::default(),
            &support::role_set_4_15("cloud-controller-manager"),
        )
        .await
        .unwrap();
    let base = support::serve_http(client.clone()).await;
    let http = reqwest::Client::new();
    support::register_subscription(&http, &base).await;
    let mut c = Checker {
        base,
        http,
        specs: Specs::load(),
        errors: Vec::new(),
        checked: 0,
    };

    for (i, version) in ApiVersion::ALL.into_iter().enumerate() {
        let v = version.as_str();
        let features = version.features();
        let rg = format!("contract-{i}");
        let path = format!(
            "/subscriptions/{SUB}/resourceGroups/{rg}/providers/{NS}/openShiftClusters/cluster"
        );

        let (s, b) = c.call(Method::GET, &path, v, None).await;
        c.expect(&format!("{v} GET absent"), s, 404, &b);
        let mut invalid = create_body(i);
        invalid["properties"]["networkProfile"]["podCidr"] = json!("not-a-cidr");
        let (s, b) = c.call(Method::PUT, &path, v, Some(invalid)).await;
        c.expect(&format!("{v} PUT invalid"), s, 400, &b);

        let (s, b) = c.call(Method::PUT, &path, v, Some(create_body(i))).await;
        c.expect(&format!("{v} PUT create"), s, 201, &b);
        c.call(Method::GET, &path, v, None).await;
        wait_for_state(&mut c, &path, v, "Succeeded").await;

        let (s, b) = c.call(Method::GET, &path, v, None).await;
        c.expect(&format!("{v} GET"), s, 200, &b);
        let rg_list =
            format!("/subscriptions/{SUB}/resourceGroups/{rg}/providers/{NS}/openShiftClusters");
        let (s, b) = c.call(Method::GET, &rg_list, v, None).await;
        c.expect(&format!("{v} list rg"), s, 200, &b);
        let sub_list = format!("/subscriptions/{SUB}/providers/{NS}/openShiftClusters");
        let (s, b) = c.call(Method::GET, &sub_list, v, None).await;
        c.expect(&format!("{v} list sub"), s, 200, &b);
        let (s, b) = c
            .call(Method::POST, &format!("{path}/listCredentials"), v, None)
            .await;
        c.expect(&format!("{v} listCredentials"), s, 200, &b);
        if features.list_admin_credentials {
            let (s, b) = c
                .call(
                    Method::POST,
                    &format!("{path}/listAdminCredentials"),
                    v,
                    None,
                )
                .await;
            c.expect(&format!("{v} listAdminCredentials"), s, 200, &b);
        }

        let (s, b) = c
            .call(
                Method::PATCH,
                &path,
                v,
                Some(json!({"tags": {"patched": "yes"}})),
            )
            .await;
        c.expect(&format!("{v} PATCH"), s, 200, &b);
        // A write while Updating is refused with a CloudError.
        let (s, b) = c
            .call(
                Method::PATCH,
                &path,
                v,
                Some(json!({"tags": {"again": "yes"}})),
            )
            .await;
        if s != 200 {
            c.expect(&format!("{v} PATCH while updating"), s, 400, &b);
        }
        wait_for_state(&mut c, &path, v, "Succeeded").await;
        let (s, b) = c.call(Method::PUT, &path, v, Some(create_body(i))).await;
        c.expect(&format!("{v} PUT update"), s, 200, &b);
        wait_for_state(&mut c, &path, v, "Succeeded").await;

        let (s, b) = c
            .call(Method::GET, &format!("/providers/{NS}/operations"), v, None)
            .await;
        c.expect(&format!("{v} operations"), s, 200, &b);
        let locations = format!("/subscriptions/{SUB}/providers/{NS}/locations/eastus");
        if features.openshift_versions {
            let (s, b) = c
                .call(
                    Method::GET,
                    &format!("{locations}/openShiftVersions"),
                    v,
                    None,
                )
                .await;
            c.expect(&format!("{v} versions"), s, 200, &b);
        }
        if features.openshift_version_get {
            let (s, b) = c
                .call(
                    Method::GET,
                    &format!("{locations}/openShiftVersions/4.15.35"),
                    v,
                    None,
                )
                .await;
            c.expect(&format!("{v} version"), s, 200, &b);
        }
        if features.role_sets {
            let (s, b) = c
                .call(
                    Method::GET,
                    &format!("{locations}/platformWorkloadIdentityRoleSets"),
                    v,
                    None,
                )
                .await;
            c.expect(&format!("{v} role sets"), s, 200, &b);
            let (s, b) = c
                .call(
                    Method::GET,
                    &format!("{locations}/platformWorkloadIdentityRoleSets/4.15"),
                    v,
                    None,
                )
                .await;
            c.expect(&format!("{v} role set"), s, 200, &b);
        }

        let (s, b) = c.call(Method::DELETE, &path, v, None).await;
        c.expect(&format!("{v} DELETE"), s, 202, &b);
        let (s, b) = c.call(Method::GET, &path, v, None).await;
        if s == 200 && b["properties"]["provisioningState"] != "Deleting" {
            c.errors.push(format!("{v} GET after DELETE: {b}"));
        }
        wait_for_absent(&mut c, &path, v).await;
        let (s, b) = c.call(Method::DELETE, &path, v, None).await;
        c.expect(&format!("{v} DELETE absent"), s, 204, &b);
    }

    assert!(c.checked > 100, "only {} bodies were validated", c.checked);
    assert!(
        c.errors.is_empty(),
        "{} contract violations:\n{}",
        c.errors.len(),
        c.errors.join("\n")
    );
}

async fn wait_for_state(c: &mut Checker, path: &str, v: &str, want: &str) {
    for _ in 0..500 {
        let (s, b) = c.call(Method::GET, path, v, None).await;
        if s == 200 && b["properties"]["provisioningState"] == want {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{v} {path} never reached {want}");
}

async fn wait_for_absent(c: &mut Checker, path: &str, v: &str) {
    for _ in 0..500 {
        let (s, _) = c.call(Method::GET, path, v, None).await;
        if s == 404 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{v} {path} was never deleted");
}
