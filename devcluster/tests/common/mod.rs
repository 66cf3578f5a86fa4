//! Helpers shared by the conformance tests: a fresh in-memory devcluster per test, raw requests
//! for what kube's typed API cannot express, and a CRD with a schema exercising validation,
//! defaulting, pruning, subresources and printer columns.
#![allow(dead_code)]

use std::time::Duration;

use devcluster::{Devcluster, DevclusterConfig};
use http_body_util::BodyExt;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, PostParams};
use kube::core::Status;
use kube::runtime::wait::{await_condition, conditions};
use serde_json::{Value, json};

/// A fresh in-memory devcluster on a free port and an admin client.
pub async fn start() -> (Devcluster, Client) {
    let dc = Devcluster::start(DevclusterConfig::in_memory())
        .await
        .expect("devcluster starts");
    let client = dc.client().await.expect("admin client");
    (dc, client)
}

/// A client with the devcluster's CA but no credentials.
pub async fn anonymous_client(dc: &Devcluster) -> Client {
    let kc = kube::config::Kubeconfig::from_yaml(dc.kubeconfig_yaml()).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.auth_info = Default::default();
    Client::try_from(config).unwrap()
}

/// An admin client that does not retry 429/503/504 responses (kube retries them by default,
/// with backoff that would stretch a test to minutes).
pub async fn client_without_retry(dc: &Devcluster) -> Client {
    let kc = kube::config::Kubeconfig::from_yaml(dc.kubeconfig_yaml()).unwrap();
    let mut config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .unwrap();
    config.default_retry = false;
    Client::try_from(config).unwrap()
}

/// The Status of a failed kube call.
pub fn status(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error status, got {other:?}"),
    }
}

/// Unwrap an expected failure into its Status.
pub fn expect_err<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> Status {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => status(e),
    }
}

/// A raw response.
#[derive(Debug)]
pub struct Raw {
    pub code: u16,
    pub headers: http::HeaderMap,
    pub text: String,
}

impl Raw {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text))
    }

    pub fn warnings(&self) -> Vec<String> {
        self.headers
            .get_all(http::header::WARNING)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }
}

/// Send a request with the admin credentials and return whatever came back.
pub async fn raw(
    client: &Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> Raw {
    raw_with(client, method, path, content_type, &[], body).await
}

pub async fn raw_with(
    client: &Client,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> Raw {
    let mut req = http::Request::builder().method(method).uri(path);
    if let Some(ct) = content_type {
        req = req.header(http::header::CONTENT_TYPE, ct);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(kube::client::Body::from(body.into())).unwrap();
    let resp = client.send(req).await.expect("request is sent");
    let code = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Raw {
        code,
        headers,
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub fn json_body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

/// Assert a Status body: code and reason.
pub fn assert_status(r: &Raw, code: u16, reason: &str) -> Value {
    assert_eq!(r.code, code, "{}", r.text);
    let v = r.json();
    assert_eq!(v["kind"], "Status", "{v}");
    assert_eq!(v["status"], "Failure", "{v}");
    assert_eq!(v["code"], code, "{v}");
    assert_eq!(v["reason"], reason, "{v}");
    v
}

pub const GROUP: &str = "example.com";

/// The Widget CRD: v1 (storage) and v2 (served), status and scale subresources, printer
/// columns, and a schema with most validation keywords.
pub fn widget_crd() -> Value {
    let schema = json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "string", "enum": ["small", "large"]},
                    "color": {"type": "string", "default": "blue"},
                    "replicas": {"type": "integer", "minimum": 0, "maximum": 10},
                    "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                    "port": {"x-kubernetes-int-or-string": true},
                    "nick": {"type": "string", "nullable": true},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "required": ["name"], "properties": {
                            "name": {"type": "string"}, "port": {"type": "integer"}}}
                    }
                }
            },
            "status": {
                "type": "object",
                "properties": {
                    "ready": {"type": "boolean"},
                    "replicas": {"type": "integer"},
                    "selector": {"type": "string"}
                }
            }
        }
    });
    let version = |name: &str, storage: bool| {
        json!({
            "name": name, "served": true, "storage": storage,
            "schema": {"openAPIV3Schema": schema},
            "subresources": {
                "status": {},
                "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}
            },
            "additionalPrinterColumns": [
                {"name": "Size", "type": "string", "jsonPath": ".spec.size"},
                {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
            ]
        })
    };
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wd"]},
            "versions": [version("v1", true), version("v2", false)]
        }
    })
}

/// Create a CRD and wait until it is Established.
pub async fn install_crd(client: &Client, crd: Value) -> CustomResourceDefinition {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let crd: CustomResourceDefinition = serde_json::from_value(crd).unwrap();
    let name = crd.metadata.name.clone().unwrap();
    crds.create(&PostParams::default(), &crd).await.unwrap();
    tokio::time::timeout(
        Duration::from_secs(5),
        await_condition(crds, &name, conditions::is_crd_established()),
    )
    .await
    .expect("CRD is established within 5s")
    .unwrap()
    .expect("CRD exists")
}

pub async fn install_widgets(client: &Client) {
    install_crd(client, widget_crd()).await;
}

pub fn widget_resource(version: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GROUP, version, "Widget"), "widgets")
}

pub fn widgets(client: &Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &widget_resource("v1"))
}

pub fn widget(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": name}, "spec": spec,
    }))
    .unwrap()
}

/// Poll `f` until it returns `Some`, up to 10 s (for asynchronous server machinery: GC,
/// namespace cleanup).
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn cm(name: &str, data: Value) -> k8s_openapi::api::core::v1::ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name}, "data": data})).unwrap()
}
