//! Kubernetes API clients: their error predicates ([`is_conflict`], [`is_not_found`],
//! [`is_unavailable`]), the readiness of a controller's store ([`store_ready`]) and their
//! timeouts.
//!
//! Timeouts: kube-rs sets none by default (its `read_timeout` works per
//! socket read and would also cut quiet watches): a management call to a stalled API server would
//! wait forever, holding a reconcile (or a leader) hostage. [`with_request_timeout`] bounds every
//! request but watches: the response and its whole body must arrive within the timeout. A watch
//! is bounded only until its response head; its stream is then left to the watcher's own idle
//! timeout.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use http_body_util::{BodyStream, StreamBody};
use kube::Client;
use tokio::time::{Instant, Sleep};
use tower::BoxError;

/// Whether a kube error is a 409 Conflict: a resourceVersion precondition failed, or the object
/// already exists.
pub fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// Whether a kube error is a 404 Not Found.
pub fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// Whether a kube error means the management API could not be reached or could not answer now
/// (connection refused or reset, a timeout, a broken response stream, 429 throttling or 503/504
/// from the API server): worth a retry later, not a failure of the request itself.
pub fn is_unavailable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 429 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => true,
        _ => false,
    }
}

/// Whether a controller's store finished its first list (only then can reconciles run).
pub fn store_ready<K: kube::Resource + Clone>(store: &kube::runtime::reflector::Store<K>) -> bool
where
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    futures::FutureExt::now_or_never(store.wait_until_ready()).is_some()
}

/// Timeout of management API calls (kube-apiserver's own request timeout is 60 s; a call that
/// takes half of that is better retried).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The error of a request that did not complete within its timeout.
#[derive(Debug, thiserror::Error)]
#[error("the Kubernetes API did not answer within {0:?}")]
pub struct RequestTimedOut(pub Duration);

/// Whether a request opens a watch (or another stream that stays open by design).
fn is_stream(uri: &http::Uri) -> bool {
    uri.query().unwrap_or_default().split('&').any(|pair| {
        matches!(
            pair.split_once('='),
            Some(("watch" | "follow", "true" | "1" | "True"))
        )
    })
}

/// `client` with every request bounded by `timeout`, watches only until their response head.
pub fn with_request_timeout(client: Client, timeout: Duration) -> Client {
    let namespace = client.default_namespace().to_string();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let client = client.clone();
        async move {
            let stream = is_stream(request.uri());
            let deadline = Instant::now() + timeout;
            let response = tokio::time::timeout_at(deadline, client.send(request))
                .await
                .map_err(|_| BoxError::from(RequestTimedOut(timeout)))??;
            let limit = (!stream).then(|| (Box::pin(tokio::time::sleep_until(deadline)), timeout));
            Ok::<_, BoxError>(response.map(|body| {
                StreamBody::new(Deadline {
                    frames: BodyStream::new(body),
                    limit,
                })
            }))
        }
    });
    Client::new(service, namespace)
}

/// The frames of a body, failing once the deadline passes.
struct Deadline<S> {
    frames: S,
    limit: Option<(Pin<Box<Sleep>>, Duration)>,
}

impl<S, T, E> Stream for Deadline<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    E: Into<BoxError>,
{
    type Item = Result<T, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.frames).poll_next(cx) {
            return Poll::Ready(item.map(|r| r.map_err(Into::into)));
        }
        if let Some((sleep, timeout)) = self.limit.as_mut()
            && sleep.as_mut().poll(cx).is_ready()
        {
            let timeout = *timeout;
            self.limit = None;
            return Poll::Ready(Some(Err(RequestTimedOut(timeout).into())));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, WatchParams};

    use super::*;

    #[test]
    fn a_store_is_ready_once_its_first_list_is_done() {
        let (store, mut writer) = kube::runtime::reflector::store::<ConfigMap>();
        assert!(!store_ready(&store));
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Init);
        assert!(!store_ready(&store), "a list in progress is not ready");
        writer.apply_watcher_event(&kube::runtime::watcher::Event::InitDone);
        assert!(store_ready(&store));
    }

    #[tokio::test]
    async fn unreachable_or_busy_servers_are_unavailable_and_refusals_are_not() {
        // A port nothing listens on: connection refused.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let client = Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
        let error = Api::<ConfigMap>::namespaced(client, "default")
            .get("x")
            .await
            .unwrap_err();
        assert!(is_unavailable(&error), "{error}");
        let status = |code| {
            let mut s = kube::core::Status::failure("m", "r");
            s.code = code;
            kube::Error::Api(s.boxed())
        };
        for code in [429, 503, 504] {
            assert!(is_unavailable(&status(code)), "{code}");
        }
        for code in [400, 403, 404, 409, 500] {
            assert!(!is_unavailable(&status(code)), "{code}");
        }
    }

    #[test]
    fn watches_and_follows_are_streams() {
        let stream = |u: &str| is_stream(&u.parse().unwrap());
        assert!(stream("/api/v1/configmaps?watch=true&resourceVersion=1"));
        assert!(stream("/api/v1/pods?labelSelector=a&watch=1"));
        assert!(stream("/api/v1/namespaces/a/pods/p/log?follow=true"));
        assert!(!stream("/api/v1/configmaps?watch=false"));
        assert!(!stream("/api/v1/configmaps?fieldSelector=watch%3Dtrue"));
        assert!(!stream("/api/v1/configmaps"));
    }

    /// An API server that answers lists at once but never finishes other bodies, and opens
    /// watches that never send an event.
    async fn stalling_server() -> String {
        let stalled = || async {
            let body = futures::stream::pending::<Result<Vec<u8>, Infallible>>();
            (
                [("content-type", "application/json")],
                Body::from_stream(body),
            )
        };
        let app = Router::new()
            .route(
                "/api/v1/namespaces/default/configmaps",
                get(|q: axum::extract::RawQuery| async move {
                    let body = if q.0.unwrap_or_default().contains("watch") {
                        Body::from_stream(futures::stream::pending::<Result<Vec<u8>, Infallible>>())
                    } else {
                        Body::from(r#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{},"items":[]}"#)
                    };
                    ([("content-type", "application/json")], body)
                }),
            )
            .route(
                "/api/v1/namespaces/default/configmaps/stalled-body",
                get(stalled),
            )
            .route(
                "/api/v1/namespaces/default/configmaps/stalled-head",
                get(std::future::pending::<&'static str>),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn stalled_calls_time_out_and_quiet_watches_do_not() {
        let url = stalling_server().await;
        let config = kube::Config::new(url.parse().unwrap());
        let timeout = Duration::from_millis(300);
        let client = with_request_timeout(Client::try_from(config).unwrap(), timeout);
        let api = Api::<ConfigMap>::namespaced(client, "default");

        for name in ["stalled-head", "stalled-body"] {
            // Bounded here too, so that a client without the timeout fails instead of hanging.
            let error = tokio::time::timeout(timeout * 20, api.get(name))
                .await
                .unwrap_or_else(|_| panic!("{name}: no timeout"))
                .unwrap_err();
            assert!(
                error.to_string().contains("did not answer within"),
                "{name}: {error}"
            );
            assert!(is_unavailable(&error), "{name}: {error}");
        }
        assert!(api.list(&Default::default()).await.is_ok());

        // A watch that stays quiet for several timeouts is still open.
        let mut events = api
            .watch(&WatchParams::default(), "0")
            .await
            .unwrap()
            .boxed();
        assert!(
            tokio::time::timeout(timeout * 4, events.next())
                .await
                .is_err(),
            "the quiet watch ended"
        );
    }
}
