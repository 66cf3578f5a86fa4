//! One authenticated ARM request and its answer, as the engine and the providers' rules see them
//! (the HTTP layer in `server` builds the request and sends the reply), with the small checks every
//! route shares: allowed methods, a JSON object body, `$filter` values.

use crate::error::ApiError;
use http::Method;
use serde_json::{Value, json};

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Application id.
    pub client_id: String,
    /// Object id role assignments refer to.
    pub object_id: String,
    /// Whether role assignments limit the caller.
    pub restricted: bool,
}

impl Caller {
    /// The emulator itself (seeding): allowed everything.
    pub fn system() -> Self {
        Self {
            client_id: "arm-emulator".into(),
            object_id: "arm-emulator".into(),
            restricted: false,
        }
    }
}

/// One ARM request, already authenticated.
pub struct ArmRequest<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Decoded path.
    pub path: &'a str,
    /// Query pairs.
    pub query: &'a [(String, String)],
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Public base URL (scheme://host:port) for polling URLs.
    pub base_url: &'a str,
    /// The caller.
    pub caller: &'a Caller,
    /// Fault injection: a long-running operation this request starts ends Failed.
    pub fail_operation: bool,
    /// `If-Match` header: the write or delete applies only to the resource with this etag (`*`:
    /// any existing resource).
    pub if_match: Option<String>,
    /// `If-None-Match` header: `*` makes a PUT create-only.
    pub if_none_match: Option<String>,
}

impl ArmRequest<'_> {
    /// The value of query parameter `name` (case-insensitive name).
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `api-version` query parameter (empty when absent).
    pub fn api_version(&self) -> &str {
        self.query("api-version").unwrap_or_default()
    }

    /// 405 unless the method is one of `methods`.
    pub fn only(&self, methods: &[Method]) -> Result<(), ApiError> {
        if methods.contains(self.method) {
            Ok(())
        } else {
            Err(self.method_not_allowed())
        }
    }

    /// 405 MethodNotAllowed for this request.
    pub fn method_not_allowed(&self) -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            format!(
                "The HTTP method '{}' is not supported on '{}'.",
                self.method, self.path
            ),
        )
    }

    /// The body, which must be a JSON object.
    pub fn object_body(&self) -> Result<Value, ApiError> {
        match &self.body {
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            Some(_) => Err(ApiError::bad_request(
                "InvalidRequestContent",
                "The request content must be a JSON object.",
            )),
            None => Err(ApiError::bad_request(
                "InvalidRequestContent",
                "The request content was invalid and could not be deserialized: the body is empty.",
            )),
        }
    }
}

/// An answer: status, optional JSON body, extra headers.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: Option<Value>,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    /// An answer without a body.
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    /// A 200 list answer, `{"value": [...]}`.
    pub fn list(items: Vec<Value>) -> Self {
        Self::json(200, json!({ "value": items }))
    }

    /// A resource's etag is also sent as the `ETag` header, as ARM does.
    pub fn with_etag(mut self) -> Self {
        if let Some(tag) = self
            .body
            .as_ref()
            .and_then(|b| b["etag"].as_str())
            .map(str::to_string)
        {
            self.headers.push(("etag", tag));
        }
        self
    }
}

/// The `location eq '...'` value of a `$filter`.
pub fn filter_location(filter: &str) -> Option<String> {
    filter_quoted(filter, "location eq '")
}

/// The quoted value that follows `prefix` (case-insensitive) in a `$filter`.
pub fn filter_quoted(filter: &str, prefix: &str) -> Option<String> {
    let lower = filter.to_ascii_lowercase();
    let start = lower.find(&prefix.to_ascii_lowercase())? + prefix.len();
    let end = filter[start..].find('\'')?;
    Some(filter[start..start + end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_are_parsed() {
        assert_eq!(
            filter_location("location eq 'eastus'").as_deref(),
            Some("eastus")
        );
        assert_eq!(
            filter_quoted("assignedTo('abc')", "assignedTo('").as_deref(),
            Some("abc")
        );
        assert_eq!(filter_location("name eq 'x'"), None);
    }
}
