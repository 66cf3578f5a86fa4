//! Bad input never yields a 5xx: property-based requests over every route (random methods, paths
//! around the real routes, api-versions, content types and bodies, including valid bodies with one
//! property replaced by an arbitrary value) against the frontend on a real devcluster.

mod support;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use support::SUB;

const API_VERSIONS: &[&str] = &[
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
    "admin",
    "2.0",
];

/// One generated request.
#[derive(Debug, Clone)]
struct Case {
    method: reqwest::Method,
    path: String,
    api_version: Option<String>,
    content_type: Option<String>,
    body: Option<Vec<u8>>,
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        Just(json!("10.0.0.0/8")),
        Just(json!("Standard_D8s_v3")),
        Just(json!("/subscriptions/x/resourceGroups/y")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A create body that passes static validation.
fn valid_body() -> Value {
    let subnet = |n: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/vnet/providers/Microsoft.Network/virtualNetworks/vnet/subnets/{n}"
        )
    };
    json!({
        "location": "eastus",
        "tags": {"a": "1"},
        "properties": {
            "clusterProfile": {"pullSecret": "{\"auths\":{}}", "domain": "fuzzcluster", "resourceGroupId": format!("/subscriptions/{SUB}/resourceGroups/aro-fuzz"), "version": "4.15.35", "fipsValidatedModules": "Disabled"},
            "consoleProfile": {},
            "servicePrincipalProfile": {"clientId": "00000000-0000-0000-0000-00000000f022", "clientSecret": "secret"},
            "networkProfile": {"podCidr": "10.128.0.0/14", "serviceCidr": "172.30.0.0/16", "outboundType": "Loadbalancer", "loadBalancerProfile": {"managedOutboundIps": {"count": 1}}},
            "masterProfile": {"vmSize": "Standard_D8s_v3", "subnetId": subnet("master"), "encryptionAtHost": "Disabled"},
            "workerProfiles": [{"name": "worker", "vmSize": "Standard_D2s_v3", "diskSizeGB": 128, "subnetId": subnet("worker"), "count": 3}],
            "apiserverProfile": {"visibility": "Public"},
            "ingressProfiles": [{"name": "default", "visibility": "Public"}],
        }
    })
}

/// Every JSON pointer of `value` (objects and arrays included).
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The valid body with the property at one pointer replaced (or removed).
fn mutated_body() -> impl Strategy<Value = Value> {
    let mut all = Vec::new();
    pointers(&valid_body(), String::new(), &mut all);
    (
        prop::sample::select(all),
        prop::option::weighted(0.85, arbitrary_json()),
    )
        .prop_map(|(pointer, replacement)| {
            let mut body = valid_body();
            if pointer.is_empty() {
                return replacement.unwrap_or(Value::Null);
            }
            let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
            if let Some(target) = body.pointer_mut(parent) {
                match (target, replacement) {
                    (Value::Object(map), Some(v)) => {
                        map.insert(key.to_string(), v);
                    }
                    (Value::Object(map), None) => {
                        map.remove(key);
                    }
                    (Value::Array(items), Some(v)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            items[i] = v;
                        }
                    }
                    (Value::Array(items), None) => {
                        if let Ok(i) = key.parse::<usize>() {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            body
        })
}

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9-]{1,20}",
        1 => "[a-zA-Z0-9._~%-]{0,80}",
        1 => Just("%2F..%2F".to_string()),
        1 => Just("x".repeat(300)),
        1 => Just("%C3%A9%00".to_string()),
        1 => Just(SUB.to_string()),
    ]
}

/// Mostly a well-formed value (so requests get past routing to validation and storage), sometimes
/// an arbitrary segment.
fn usually(values: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        5 => prop::sample::select(values).prop_map(str::to_string),
        1 => segment(),
    ]
}

fn path() -> impl Strategy<Value = String> {
    let rp = "providers/Microsoft.RedHatOpenShift";
    (
        usually(&[SUB]),
        usually(&["rg", "other-rg"]),
        usually(&["fuzz-a", "fuzz-b", "c"]),
        usually(&["eastus"]),
        prop_oneof![6 => Just(0usize), 10 => 1usize..14],
    )
        .prop_map(move |(sub, rg, name, location, shape)| match shape {
            0 | 1 => format!("/subscriptions/{sub}/resourceGroups/{rg}/{rp}/openShiftClusters/{name}"),
            2 => format!(
                "/subscriptions/{sub}/resourceGroups/{rg}/{rp}/openShiftClusters/{name}/listCredentials"
            ),
            3 => format!(
                "/subscriptions/{sub}/resourceGroups/{rg}/{rp}/openShiftClusters/{name}/listAdminCredentials"
            ),
            4 => format!("/subscriptions/{sub}/resourceGroups/{rg}/{rp}/openShiftClusters"),
            5 => format!("/subscriptions/{sub}/{rp}/openShiftClusters"),
            6 => format!("/subscriptions/{sub}/{rp}/locations/{location}/openShiftVersions/{name}"),
            7 => format!(
                "/subscriptions/{sub}/{rp}/locations/{location}/platformWorkloadIdentityRoleSets/{name}"
            ),
            8 => format!("/subscriptions/{sub}/{rp}/locations/{location}/operationsstatus/{name}"),
            9 => format!("/subscriptions/{sub}/{rp}/locations/{location}/operationresults/{name}"),
            10 => format!("/{rp}/operations"),
            11 => format!("/subscriptions/{sub}"),
            12 => format!(
                "/subscriptions/{sub}/resourceGroups/{rg}/{rp}/deployments/{name}/preflight"
            ),
            _ => format!("/{sub}/{rg}/{name}"),
        })
}

fn case() -> impl Strategy<Value = Case> {
    let method = prop::sample::select(vec![
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::PUT,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
        reqwest::Method::POST,
        reqwest::Method::HEAD,
        reqwest::Method::OPTIONS,
    ]);
    let api_version = prop_oneof![
        6 => prop::sample::select(API_VERSIONS).prop_map(|v| Some(v.to_string())),
        1 => Just(None),
        1 => "[a-z0-9-]{0,20}".prop_map(Some),
    ];
    let content_type = prop_oneof![
        6 => Just(Some("application/json".to_string())),
        1 => Just(None),
        1 => Just(Some("text/plain".to_string())),
        1 => Just(Some("application/json; charset=utf-16".to_string())),
        1 => "[a-z/+;= -]{0,30}".prop_map(Some),
    ];
    let body = prop_oneof![
        2 => Just(None),
        6 => mutated_body().prop_map(|v| Some(serde_json::to_vec(&v).expect("json"))),
        2 => arbitrary_json().prop_map(|v| Some(serde_json::to_vec(&v).expect("json"))),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Some),
    ];
    (method, path(), api_version, content_type, body).prop_map(
        |(method, path, api_version, content_type, body)| Case {
            method,
            path,
            api_version,
            content_type,
            body,
        },
    )
}

async fn send(http: &reqwest::Client, base: &str, case: &Case) -> Result<(u16, String), String> {
    let url = match &case.api_version {
        Some(v) => format!("{base}{}?api-version={v}", case.path),
        None => format!("{base}{}", case.path),
    };
    let mut request = http
        .request(case.method.clone(), &url)
        .header("referer", format!("https://arm.example.com{}", case.path));
    if let Some(ct) = &case.content_type {
        request = request.header("content-type", ct);
    }
    if let Some(body) = &case.body {
        request = request.body(body.clone());
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response.text().await.map_err(|e| e.to_string())?;
    Ok((status, text))
}

#[test]
fn no_request_yields_a_server_error() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (_dc, base, http) = runtime.block_on(async {
        let (dc, client) = support::management_cluster().await;
        // Operations complete, so later requests update and delete what earlier ones created.
        support::spawn_controller_stand_in(client.clone());
        let base = support::serve_http(client).await;
        let http = reqwest::Client::new();
        support::register_subscription(&http, &base).await;
        (dc, base, http)
    });
    let mut runner = TestRunner::new(Config {
        cases: 1000,
        // Shrinking re-sends requests against a server whose state moved on: report the case
        // as found.
        max_shrink_iters: 0,
        ..Config::default()
    });
    let result = runner.run(&case(), |case| {
        let (status, text) = runtime
            .block_on(send(&http, &base, &case))
            .map_err(|e| TestCaseError::fail(format!("request failed: {e}")))?;
        if status >= 500 {
            return Err(TestCaseError::fail(format!(
                "{} {} -> {status}: {text}",
                case.method, case.path
            )));
        }
        // Every error is an ARM error body.
        if status >= 400 && case.method != reqwest::Method::HEAD {
            let body: Value = serde_json::from_str(&text).map_err(|_| {
                TestCaseError::fail(format!("{status} without a JSON body: {text:?}"))
            })?;
            prop_assert!(
                body["error"]["code"].is_string() && body["error"]["message"].is_string(),
                "{} {} -> {status} without an ARM error: {text}",
                case.method,
                case.path
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
