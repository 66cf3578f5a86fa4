//! Watch: a chunked stream of `{"type","object"}` lines from a resourceVersion, with synthetic
//! initial events, bookmarks, selector transitions, timeouts and 410 Gone for compacted history.
//! A watcher that falls too far behind is closed (its memory stays bounded) and resumes from
//! the history like any client reconnecting with its last resourceVersion.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::query::{Query, matches, selectors};
use super::{Form, Server, Target, partial_metadata, table};
use crate::error::{ApiError, Cause};
use crate::registry::ResourceType;
use crate::rest::Rest;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::storage::{Event, EventType, Stored};

/// How often a bookmark is sent to watchers that allow them.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(15);

struct Filter {
    rt: Arc<ResourceType>,
    prefix: String,
    label: LabelSelector,
    field: FieldSelector,
    form: Form,
    include: String,
}

impl Filter {
    fn encode(&self, kind: &str, stored: &Stored) -> Bytes {
        let expected = format!("{{\"apiVersion\":\"{}\",", self.rt.api_version());
        match self.form {
            Form::Object if stored.raw.starts_with(expected.as_bytes()) => {
                event_line(kind, &stored.raw)
            }
            Form::Object => event_line(
                kind,
                &serde_json::to_vec(&Rest::for_version(&self.rt, stored.value()))
                    .unwrap_or_default(),
            ),
            Form::PartialMetadata => event_line(
                kind,
                &serde_json::to_vec(&partial_metadata(&stored.value())).unwrap_or_default(),
            ),
            Form::Table => {
                let obj = Rest::for_version(&self.rt, stored.value());
                let mut t = table::table(&self.rt, std::slice::from_ref(&obj), &self.include);
                t["metadata"] = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
                event_line(kind, &serde_json::to_vec(&t).unwrap_or_default())
            }
        }
    }

    fn event(&self, e: &Event) -> Option<Bytes> {
        if !e.object.key.starts_with(&self.prefix) {
            return None;
        }
        let new_match = matches(&e.object, &self.label, &self.field);
        let old_match = e
            .prev
            .as_ref()
            .is_some_and(|p| matches(p, &self.label, &self.field));
        let kind = filtered_event(e.kind, old_match, new_match)?;
        Some(self.encode(kind.as_str(), &e.object))
    }

    fn bookmark(&self, rev: u64, initial_end: bool) -> Bytes {
        let mut meta = json!({"resourceVersion": rev.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj: Value = match self.form {
            Form::Object => {
                json!({"kind": self.rt.kind, "apiVersion": self.rt.api_version(), "metadata": meta})
            }
            _ => {
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": meta})
            }
        };
        event_line("BOOKMARK", &serde_json::to_vec(&obj).unwrap_or_default())
    }
}

/// Start a watch; errors (bad selectors, 410) are returned before the stream starts.
pub(super) fn watch(
    server: Arc<Server>,
    t: &Target,
    query: &Query,
    form: Form,
) -> Result<Response, ApiError> {
    let rt = t.rt.clone();
    let (label, field) = selectors(&rt, query)?;
    let bookmarks = query.flag("allowWatchBookmarks");
    let send_initial = match query.get("sendInitialEvents") {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid sendInitialEvents {other:?}"
            )));
        }
    };
    if send_initial.is_some() && query.get("resourceVersionMatch") != Some("NotOlderThan") {
        return Err(ApiError::invalid(
            "",
            "ListOptions",
            "",
            vec![Cause::new(
                "FieldValueForbidden",
                "sendInitialEvents",
                "Forbidden: sendInitialEvents is forbidden for watch unless resourceVersionMatch is set to NotOlderThan",
            )],
        ));
    }
    if send_initial == Some(true) && !bookmarks {
        return Err(ApiError::invalid(
            "",
            "ListOptions",
            "",
            vec![Cause::new(
                "FieldValueForbidden",
                "allowWatchBookmarks",
                "Forbidden: allowWatchBookmarks must be true when sendInitialEvents is set",
            )],
        ));
    }
    let timeout = match query.get("timeoutSeconds") {
        Some(s) => Duration::from_secs(
            s.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds {s:?}")))?,
        ),
        None => default_watch_timeout(),
    };
    let rv = query.get("resourceVersion").map(|s| s.to_string());
    let filter = Filter {
        prefix: rt.list_prefix(t.namespace.as_deref()),
        rt,
        label,
        field,
        form,
        include: query.get("includeObject").unwrap_or("Metadata").to_string(),
    };
    let store = server.rest.store.clone();
    // Synthetic ADDED events for the current state: no resourceVersion, "0", or sendInitialEvents.
    let wants_state = send_initial.unwrap_or(matches!(rv.as_deref(), None | Some("0")));
    let (initial, subscription, start) = if wants_state {
        let sub = store
            .subscribe(None)
            .map_err(|_| ApiError::internal("watch subscription failed"))?;
        let (items, rev, _) = store.list(
            &filter.prefix,
            None,
            |s| matches(s, &filter.label, &filter.field),
            None,
        );
        (items, sub, rev)
    } else {
        let from: u64 = match rv.as_deref() {
            Some(s) => s
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {s:?}")))?,
            None => store.revision(),
        };
        match store.subscribe(Some(from)) {
            Ok(sub) => (Vec::new(), sub, from),
            // Like kube-apiserver's watch cache: the watch is established and its only event is
            // an ERROR with the 410 status, which clients (client-go, kube-rs) answer by
            // relisting. A plain 410 response would make them retry the same revision forever.
            Err(floor) => {
                let status = ApiError::gone(format!("too old resource version: {from} ({floor})"))
                    .status_body();
                let line = event_line("ERROR", &serde_json::to_vec(&status).unwrap_or_default());
                return Ok(stream_response(Body::from(line)));
            }
        }
    };
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    tokio::spawn(async move {
        let mut subscription = subscription;
        let mut last = start;
        for s in &initial {
            if tx.send(filter.encode("ADDED", s)).await.is_err() {
                return;
            }
        }
        if send_initial == Some(true) && tx.send(filter.bookmark(start, true)).await.is_err() {
            return;
        }
        for e in &subscription.replay {
            if e.rev <= last {
                continue;
            }
            last = e.rev;
            if let Some(line) = filter.event(e)
                && tx.send(line).await.is_err()
            {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(BOOKMARK_INTERVAL);
        tick.tick().await;
        loop {
            tokio::select! {
                e = subscription.recv() => match e {
                    Ok(e) => {
                        if e.rev <= last {
                            continue;
                        }
                        last = e.rev;
                        if let Some(line) = filter.event(&e)
                            && tx.send(line).await.is_err() {
                                return;
                            }
                    }
                    // Too slow: close; the client resumes from its last resourceVersion.
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = tick.tick(), if bookmarks => {
                    if tx.send(filter.bookmark(last, false)).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = tx.closed() => return,
            }
        }
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    Ok(stream_response(body))
}

fn stream_response(body: Body) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// Encode one watch event line.
fn event_line(kind: &str, object: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(object.len() + 32);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    out.extend_from_slice(object);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

/// Watch event type after applying a selector to the old and new state.
fn filtered_event(kind: EventType, old_match: bool, new_match: bool) -> Option<EventType> {
    match (kind, old_match, new_match) {
        (EventType::Added, _, true) => Some(EventType::Added),
        (EventType::Modified, true, true) => Some(EventType::Modified),
        (EventType::Modified, false, true) => Some(EventType::Added),
        (EventType::Modified, true, false) => Some(EventType::Deleted),
        (EventType::Deleted, _, true) => Some(EventType::Deleted),
        _ => None,
    }
}

/// How long a watch lasts when the client does not say: like apiserver, between 30 and 60 min.
fn default_watch_timeout() -> Duration {
    Duration::from_secs(1800 + rand::random_range(0..1800))
}
