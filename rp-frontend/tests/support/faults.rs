//! Transport-level fault injection between a kube client and a real API server: a tower layer
//! under `kube::Client` that answers chosen requests with an HTTP 500 (the request never reaches
//! the server) or forwards them and then drops the answer (the write lands, the client sees a
//! connection error). Nothing is mocked: every other request goes to the server as is.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::{Body, ClientBuilder, DynBody};
use tower::{BoxError, Layer, Service};

/// What an injected fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer 500 InternalError without forwarding the request.
    ServerError,
    /// Forward the request, then fail with a connection error instead of its answer.
    LoseResponse,
}

type Matcher = Arc<dyn Fn(&Method, &str) -> bool + Send + Sync>;

struct Rule {
    /// The rule acts only after a request matching this one went through (e.g. the claim).
    armed_by: Option<Matcher>,
    armed: bool,
    matches: Matcher,
    skip: usize,
    times: usize,
    fault: Fault,
}

/// The faults to inject, shared by the layer and the test; and how many were injected.
#[derive(Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<Rule>>>,
    injected: Arc<Mutex<Vec<String>>>,
}

/// A predicate over (method, path).
pub fn matching(f: impl Fn(&Method, &str) -> bool + Send + Sync + 'static) -> Matcher {
    Arc::new(f)
}

/// Whether a method writes.
pub fn is_write(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

impl Faults {
    /// Fail the matching requests number `skip + 1` to `skip + times` (counted from now, or from
    /// the first request matching `armed_by` that went through).
    pub fn add(
        &self,
        armed_by: Option<Matcher>,
        matches: Matcher,
        skip: usize,
        times: usize,
        fault: Fault,
    ) {
        self.rules.lock().unwrap().push(Rule {
            armed: armed_by.is_none(),
            armed_by,
            matches,
            skip,
            times,
            fault,
        });
    }

    /// Remove every rule and forget what was injected.
    pub fn clear(&self) {
        self.rules.lock().unwrap().clear();
        self.injected.lock().unwrap().clear();
    }

    /// The requests that got a fault ("METHOD path").
    pub fn injected(&self) -> Vec<String> {
        self.injected.lock().unwrap().clone()
    }

    fn decide(&self, method: &Method, path: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().unwrap();
        for rule in rules.iter_mut() {
            if !rule.armed || !(rule.matches)(method, path) {
                continue;
            }
            if rule.skip > 0 {
                rule.skip -= 1;
                continue;
            }
            if rule.times > 0 {
                rule.times -= 1;
                self.injected
                    .lock()
                    .unwrap()
                    .push(format!("{method} {path}"));
                return Some(rule.fault);
            }
        }
        None
    }

    fn passed(&self, method: &Method, path: &str) {
        for rule in self.rules.lock().unwrap().iter_mut() {
            if !rule.armed && rule.armed_by.as_ref().is_some_and(|m| m(method, path)) {
                rule.armed = true;
            }
        }
    }
}

/// The tower layer.
#[derive(Clone)]
pub struct FaultLayer(pub Faults);

impl<S> Layer<S> for FaultLayer {
    type Service = FaultService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        FaultService {
            inner,
            faults: self.0.clone(),
        }
    }
}

/// The service of [`FaultLayer`].
pub struct FaultService<S> {
    inner: S,
    faults: Faults,
}

type Answer = Response<Box<DynBody>>;

fn server_error() -> Answer {
    let body = serde_json::json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "injected fault", "reason": "InternalError", "code": 500,
    });
    let body = http_body_util::Full::new(Bytes::from(body.to_string()))
        .map_err(|never| -> BoxError { match never {} });
    Response::builder()
        .status(StatusCode::INTERNAL_SERVER_ERROR)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Box::new(body) as Box<DynBody>)
        .expect("a valid response")
}

impl<S> Service<Request<Body>> for FaultService<S>
where
    S: Service<Request<Body>, Response = Answer, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = Answer;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Answer, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let fault = self.faults.decide(&method, &path);
        if fault == Some(Fault::ServerError) {
            return Box::pin(async { Ok(server_error()) });
        }
        let answer = self.inner.call(request);
        let faults = self.faults.clone();
        Box::pin(async move {
            let answer = answer.await?;
            if fault == Some(Fault::LoseResponse) {
                return Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "injected: connection lost before the answer",
                )) as BoxError);
            }
            if answer.status().is_success() {
                faults.passed(&method, &path);
            }
            Ok(answer)
        })
    }
}

/// A kube client to a devcluster (over its real HTTPS listener) with `faults` in its transport,
/// authenticated by `kubeconfig` (one of `dc`'s).
pub async fn client_with_faults(kubeconfig: &str, faults: &Faults) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("client config");
    ClientBuilder::try_from(config)
        .expect("client builder")
        .with_layer(&FaultLayer(faults.clone()))
        .build()
}
