//! The data plane of emulated storage accounts: block blobs written, read and deleted over the
//! Blob service's REST shape (`PUT` with `x-ms-blob-type: BlockBlob`, `GET`, `DELETE`, errors as
//! Azure's XML body with `x-ms-error-code`) under `/_blob/{account}/{container}/{blob}`, and each
//! account's static website: anonymous `GET /_web/{account}/{path}` serves the blob `{path}` of
//! its `$web` container (what ARO's OIDC issuer is). Writes and reads of the Blob service need a
//! token of the emulator; data actions are not evaluated. Blobs of an account that no longer
//! exists are not served.

use crate::rules::storage::{BLOB_PREFIX, WEB_CONTAINER, WEB_PREFIX};
use crate::server::App;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use std::collections::BTreeMap;
use std::sync::Arc;

/// One stored blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    /// `Content-Type` it was written with.
    pub content_type: String,
    /// Its bytes.
    pub data: Bytes,
}

/// Every blob of every account, by `account/container/blob` (account lowercase).
#[derive(Debug, Default)]
pub struct BlobStore {
    blobs: BTreeMap<String, StoredBlob>,
}

impl BlobStore {
    fn key(account: &str, container: &str, blob: &str) -> String {
        format!("{}/{container}/{blob}", account.to_ascii_lowercase())
    }

    /// The blob, if stored.
    pub fn get(&self, account: &str, container: &str, blob: &str) -> Option<&StoredBlob> {
        self.blobs.get(&Self::key(account, container, blob))
    }

    /// Stores (or replaces) a blob.
    pub fn put(&mut self, account: &str, container: &str, blob: &str, value: StoredBlob) {
        self.blobs
            .insert(Self::key(account, container, blob), value);
    }

    /// Removes a blob; whether it existed.
    pub fn delete(&mut self, account: &str, container: &str, blob: &str) -> bool {
        self.blobs
            .remove(&Self::key(account, container, blob))
            .is_some()
    }

    /// Forgets every blob.
    pub fn clear(&mut self) {
        self.blobs.clear();
    }

    /// Names (`container/blob`) of the blobs of `account`.
    pub fn names(&self, account: &str) -> Vec<String> {
        let prefix = format!("{}/", account.to_ascii_lowercase());
        self.blobs
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }
}

/// The routes of the Blob service and of the static websites.
pub(crate) fn router() -> Router<Arc<App>> {
    Router::new()
        .route(&format!("{BLOB_PREFIX}/{{account}}/{{*path}}"), any(blob))
        .route(&format!("{WEB_PREFIX}/{{account}}/{{*path}}"), get(website))
}

/// Azure Storage's error answer: an XML body and the code in `x-ms-error-code`.
fn storage_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}</Message></Error>"
    );
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/xml"));
    if let Ok(v) = HeaderValue::from_str(code) {
        headers.insert("x-ms-error-code", v);
    }
    response
}

fn no_account(account: &str) -> Response {
    storage_error(
        StatusCode::NOT_FOUND,
        "ResourceNotFound",
        &format!("The storage account '{account}' does not exist."),
    )
}

async fn blob(
    State(app): State<Arc<App>>,
    method: Method,
    Path((account, path)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = app.caller_for(&headers) {
        return storage_error(
            StatusCode::from_u16(e.status).unwrap_or(StatusCode::UNAUTHORIZED),
            "NoAuthenticationInformation",
            &e.message,
        );
    }
    if !app.engine.lock().storage_account_exists(&account) {
        return no_account(&account);
    }
    let Some((container, name)) = path
        .split_once('/')
        .filter(|(c, n)| !c.is_empty() && !n.is_empty())
    else {
        return storage_error(
            StatusCode::BAD_REQUEST,
            "InvalidUri",
            "The requested URI does not name a blob (container/blob).",
        );
    };
    let mut blobs = app.blobs.lock();
    match method {
        Method::PUT => {
            let block_blob = headers
                .get("x-ms-blob-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.eq_ignore_ascii_case("BlockBlob"));
            if !block_blob {
                return storage_error(
                    StatusCode::BAD_REQUEST,
                    "MissingRequiredHeader",
                    "An HTTP header that's mandatory for this request is not specified: x-ms-blob-type (BlockBlob).",
                );
            }
            let content_type = headers
                .get("x-ms-blob-content-type")
                .or_else(|| headers.get("content-type"))
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_string();
            blobs.put(
                &account,
                container,
                name,
                StoredBlob {
                    content_type,
                    data: body,
                },
            );
            StatusCode::CREATED.into_response()
        }
        Method::GET => match blobs.get(&account, container, name) {
            Some(b) => serve(b),
            None => blob_not_found(),
        },
        Method::DELETE => {
            if blobs.delete(&account, container, name) {
                StatusCode::ACCEPTED.into_response()
            } else {
                blob_not_found()
            }
        }
        _ => storage_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnsupportedHttpVerb",
            "The resource doesn't support the specified HTTP verb.",
        ),
    }
}

fn blob_not_found() -> Response {
    storage_error(
        StatusCode::NOT_FOUND,
        "BlobNotFound",
        "The specified blob does not exist.",
    )
}

fn serve(blob: &StoredBlob) -> Response {
    let mut response = blob.data.clone().into_response();
    if let Ok(v) = HeaderValue::from_str(&blob.content_type) {
        response.headers_mut().insert("content-type", v);
    }
    response
}

/// A static website: anonymous, the `$web` container only.
async fn website(
    State(app): State<Arc<App>>,
    Path((account, path)): Path<(String, String)>,
) -> Response {
    if !app.engine.lock().storage_account_exists(&account) {
        return no_account(&account);
    }
    match app.blobs.lock().get(&account, WEB_CONTAINER, &path) {
        Some(b) => serve(b),
        None => (
            StatusCode::NOT_FOUND,
            "The requested content does not exist.",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_kept_per_account_and_container() {
        let mut store = BlobStore::default();
        let blob = |s: &'static str| StoredBlob {
            content_type: "application/json".into(),
            data: Bytes::from_static(s.as_bytes()),
        };
        store.put("Acct", "$web", "a/b.json", blob("1"));
        store.put("other", "$web", "a/b.json", blob("2"));
        assert_eq!(store.get("acct", "$web", "a/b.json"), Some(&blob("1")));
        assert_eq!(store.get("acct", "other", "a/b.json"), None);
        assert_eq!(store.names("ACCT"), vec!["$web/a/b.json".to_string()]);
        assert!(store.delete("acct", "$web", "a/b.json"));
        assert!(!store.delete("acct", "$web", "a/b.json"));
        assert_eq!(store.get("other", "$web", "a/b.json"), Some(&blob("2")));
    }
}
