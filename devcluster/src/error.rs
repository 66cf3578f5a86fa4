//! Errors: the crate's [`Error`] for starting and running the server, and [`ApiError`], a
//! Kubernetes `metav1.Status` failure returned to clients.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Errors starting or running devcluster.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An owner-only file or directory (keys, token, kubeconfig, database) cannot be made.
    #[error("data dir: {0}")]
    PrivateFile(aro_common::Error),
    #[error("storage: {0}")]
    Storage(String),
    #[error("storage: {0} is open in another server (of this or another process)")]
    StorageInUse(String),
    #[error("certificates: {0}")]
    Certificates(String),
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The encryption-at-rest configuration, or a value it cannot decrypt.
    #[error("encryption at rest: {0}")]
    Encryption(String),
    /// The authentication configuration (token file, signing key).
    #[error("authentication: {0}")]
    Authentication(String),
    /// A ServiceAccount token could not be issued (kube's TokenRequest error message).
    #[error("service account token: {0}")]
    ServiceAccountToken(String),
}

impl From<redb::Error> for Error {
    fn from(e: redb::Error) -> Self {
        Error::Storage(e.to_string())
    }
}

/// One cause of an `Invalid` (or conflict) status, as `metav1.StatusCause`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

impl Cause {
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: reason.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }
}

/// A failed API request, rendered as a `metav1.Status` with Kubernetes' reason and code.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `details.name`, `details.group`, `details.kind` (the resource), `details.causes`.
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    pub causes: Vec<Cause>,
    pub retry_after_seconds: Option<u32>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            name: None,
            group: None,
            kind: None,
            causes: Vec::new(),
            retry_after_seconds: None,
        }
    }

    /// Attach `details` naming the object (`kind` is the resource plural, as apiserver does).
    pub fn with_details(mut self, group: &str, resource: &str, name: &str) -> Self {
        self.group = (!group.is_empty()).then(|| group.to_string());
        self.kind = Some(resource.to_string());
        self.name = (!name.is_empty()).then(|| name.to_string());
        self
    }

    pub fn with_causes(mut self, causes: Vec<Cause>) -> Self {
        self.causes = causes;
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn not_found_path() -> Self {
        Self::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "InternalError", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    pub fn method_not_allowed(verb: &str, resource: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({verb} {resource})"
            ),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
            ),
        )
    }

    /// `<resource>.<group> "<name>" not found`.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, resource)),
        )
        .with_details(group, resource, name)
    }

    /// The optimistic-concurrency failure of an update with a stale resourceVersion.
    pub fn conflict(group: &str, resource: &str, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                qualified(group, resource)
            ),
        )
        .with_details(group, resource, name)
    }

    /// 422 Invalid with field causes; `kind` is the object's Kind as apiserver reports it.
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let summary: Vec<String> = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect();
        let summary = if summary.len() == 1 {
            summary[0].clone()
        } else {
            format!("[{}]", summary.join(", "))
        };
        let group_kind = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        let mut e = Self::new(
            422,
            "Invalid",
            format!("{group_kind} \"{name}\" is invalid: {summary}"),
        );
        e.group = (!group.is_empty()).then(|| group.to_string());
        e.kind = Some(kind.to_string());
        e.name = (!name.is_empty()).then(|| name.to_string());
        e.causes = causes;
        e
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn too_large() -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: limit is 3145728",
        )
    }

    /// The `metav1.Status` body.
    pub fn status_body(&self) -> Value {
        let mut body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        let mut details = serde_json::Map::new();
        if let Some(n) = &self.name {
            details.insert("name".into(), json!(n));
        }
        if let Some(g) = &self.group {
            details.insert("group".into(), json!(g));
        }
        if let Some(k) = &self.kind {
            details.insert("kind".into(), json!(k));
        }
        if !self.causes.is_empty() {
            details.insert(
                "causes".into(),
                Value::Array(
                    self.causes
                        .iter()
                        .map(
                            |c| json!({"reason": c.reason, "message": c.message, "field": c.field}),
                        )
                        .collect(),
                ),
            );
        }
        if let Some(s) = self.retry_after_seconds {
            details.insert("retryAfterSeconds".into(), json!(s));
        }
        if !details.is_empty() {
            body["details"] = Value::Object(details);
        }
        body
    }
}

/// `pods` for the core group, `deployments.apps` otherwise.
pub fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.reason, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.status_body()).unwrap_or_default();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(s) = self.retry_after_seconds
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_message_matches_apiserver() {
        let e = ApiError::not_found("apps", "deployments", "web");
        assert_eq!(e.message, "deployments.apps \"web\" not found");
        let body = e.status_body();
        assert_eq!(body["details"]["kind"], "deployments");
        assert_eq!(body["details"]["group"], "apps");
        assert_eq!(body["code"], 404);
        let core = ApiError::not_found("", "pods", "p");
        assert_eq!(core.message, "pods \"p\" not found");
    }

    #[test]
    fn invalid_message_lists_causes() {
        let e = ApiError::invalid(
            "",
            "ConfigMap",
            "Bad_Name",
            vec![Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                "Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
            )],
        );
        assert!(
            e.message
                .starts_with("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value"),
            "{}",
            e.message
        );
        let e = ApiError::invalid(
            "example.com",
            "Widget",
            "w",
            vec![
                Cause::new("FieldValueRequired", "spec.a", "Required value"),
                Cause::new("FieldValueRequired", "spec.b", "Required value"),
            ],
        );
        assert_eq!(
            e.message,
            "Widget.example.com \"w\" is invalid: [spec.a: Required value, spec.b: Required value]"
        );
    }
}
