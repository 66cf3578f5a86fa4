//! A generic ARM client over JSON: any resource by id, long-running operations as pollable
//! handles. Shares credential, retry policy and transport with the typed SDK clients.

use crate::error::{CloudError, Error};
use crate::lro::{DEFAULT_POLL_INTERVAL, OperationState, PendingOperation, Started};
use azure_core::auth::TokenCredential;
use azure_core::{Context, Method, Pipeline, Request, Url};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A condition on a write or delete (ARM's conditional requests): when it does not hold, ARM
/// answers 412 (`Error::is_precondition_failed`) and changes nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Create only: the resource must not exist yet (`If-None-Match: *`).
    Absent,
    /// The resource must still carry this etag (`If-Match: <etag>`): nobody replaced it since it
    /// was read.
    Etag(String),
}

impl Precondition {
    fn header(&self) -> (azure_core::headers::HeaderName, String) {
        match self {
            Precondition::Absent => (azure_core::headers::IF_NONE_MATCH, "*".into()),
            Precondition::Etag(tag) => (azure_core::headers::IF_MATCH, tag.clone()),
        }
    }
}

/// JSON access to ARM.
#[derive(Clone, Debug)]
pub struct ArmClient {
    endpoint: Url,
    credential: Arc<dyn TokenCredential>,
    scopes: Vec<String>,
    pipeline: Pipeline,
}

struct Answer {
    status: u16,
    response: azure_core::Response,
}

/// The header an [`ArmClient`] request carries its bearer token in through the pipeline.
pub(crate) const PIPELINE_AUTHORIZATION: &str = "x-aro-authorization";

/// The HTTP client under the pipeline: it turns [`PIPELINE_AUTHORIZATION`] into `Authorization`
/// just before the request goes out. azure_core (0.21) logs every request at DEBUG before handing
/// it to its HTTP client, and its `Headers` debug output shows the value of `Authorization` (and
/// redacts every other header): a token under any other name never reaches that log.
#[derive(Debug)]
pub(crate) struct WireAuthorization(pub(crate) Arc<dyn azure_core::HttpClient>);

#[async_trait::async_trait]
impl azure_core::HttpClient for WireAuthorization {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<azure_core::Response> {
        let private = azure_core::headers::HeaderName::from_static(PIPELINE_AUTHORIZATION);
        if request.headers().get_optional_str(&private).is_none() {
            return self.0.execute_request(request).await;
        }
        let mut wire = Request::new(request.url().clone(), *request.method());
        for (name, value) in request.headers().iter() {
            if *name == private {
                wire.insert_header(azure_core::headers::AUTHORIZATION, value.clone());
            } else {
                wire.insert_header(name.clone(), value.clone());
            }
        }
        wire.set_body(request.body().clone());
        self.0.execute_request(&wire).await
    }
}

impl ArmClient {
    pub(crate) fn new(
        endpoint: Url,
        credential: Arc<dyn TokenCredential>,
        scopes: Vec<String>,
        options: azure_core::ClientOptions,
    ) -> Self {
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            Vec::new(),
            Vec::new(),
        );
        Self {
            endpoint,
            credential,
            scopes,
            pipeline,
        }
    }

    /// The ARM endpoint.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// An absolute URL for an ARM path (or the URL itself when already absolute).
    pub fn url(&self, path_or_url: &str, api_version: Option<&str>) -> Result<Url, Error> {
        let mut url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            Url::parse(path_or_url)
                .map_err(|e| Error::InvalidConfig(format!("bad URL {path_or_url}: {e}")))?
        } else {
            let mut u = self.endpoint.clone();
            u.set_path(path_or_url);
            u
        };
        if let Some(v) = api_version.filter(|v| !v.is_empty())
            && !url.query_pairs().any(|(k, _)| k == "api-version")
        {
            url.query_pairs_mut().append_pair("api-version", v);
        }
        Ok(url)
    }

    async fn send(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Answer, Error> {
        self.send_if(method, url, body, None).await
    }

    async fn send_if(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        condition: Option<&Precondition>,
    ) -> Result<Answer, Error> {
        let scopes: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        let token = self.credential.get_token(&scopes).await?;
        let mut request = Request::new(url, method);
        // Under a private name until the wire: see [`WireAuthorization`].
        request.insert_header(
            PIPELINE_AUTHORIZATION,
            format!("Bearer {}", token.token.secret()),
        );
        if let Some(condition) = condition {
            let (name, value) = condition.header();
            request.insert_header(name, value);
        }
        if let Some(b) = body {
            request.insert_header(azure_core::headers::CONTENT_TYPE, "application/json");
            request.set_body(serde_json::to_vec(b).map_err(|e| Error::Unexpected(e.to_string()))?);
        }
        let response = self.pipeline.send(&Context::new(), &mut request).await?;
        Ok(Answer {
            status: u16::from(response.status()),
            response,
        })
    }

    async fn body_of(response: azure_core::Response) -> Result<Option<Value>, Error> {
        let bytes = response.into_body().collect().await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Unexpected(format!("answer is not JSON: {e}")))
    }

    async fn started(&self, method: &str, url: &Url, answer: Answer) -> Result<Started, Error> {
        let operation =
            PendingOperation::from_response(method, Some(url.as_str()), &answer.response);
        let status = answer.status;
        let body = Self::body_of(answer.response).await?;
        Ok(match operation {
            Some(operation) => Started::Pending {
                status,
                body,
                operation,
            },
            None => Started::Done { status, body },
        })
    }

    /// GET a resource; `None` when ARM answers 404.
    pub async fn get(&self, id: &str, api_version: &str) -> Result<Option<Value>, Error> {
        let url = self.url(id, Some(api_version))?;
        match self.send(Method::Get, url, None).await {
            Ok(answer) => Self::body_of(answer.response).await,
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// GET a collection, following `nextLink`s.
    pub async fn list(&self, path: &str, api_version: &str) -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        let mut next = Some(self.url(path, Some(api_version))?);
        while let Some(url) = next.take() {
            let answer = self.send(Method::Get, url, None).await?;
            let page = Self::body_of(answer.response).await?.unwrap_or_default();
            if let Some(items) = page["value"].as_array() {
                out.extend(items.iter().cloned());
            }
            if let Some(link) = page["nextLink"].as_str().filter(|l| !l.is_empty()) {
                next = Some(self.url(link, None)?);
            }
        }
        Ok(out)
    }

    /// PUT a resource (create or replace).
    pub async fn put(&self, id: &str, api_version: &str, body: &Value) -> Result<Started, Error> {
        let url = self.url(id, Some(api_version))?;
        let answer = self.send(Method::Put, url.clone(), Some(body)).await?;
        self.started("PUT", &url, answer).await
    }

    /// PUT a resource only if `condition` holds (412 otherwise, nothing written).
    pub async fn put_if(
        &self,
        id: &str,
        api_version: &str,
        body: &Value,
        condition: &Precondition,
    ) -> Result<Started, Error> {
        let url = self.url(id, Some(api_version))?;
        let answer = self
            .send_if(Method::Put, url.clone(), Some(body), Some(condition))
            .await?;
        self.started("PUT", &url, answer).await
    }

    /// DELETE a resource only if `condition` holds (412 otherwise, nothing deleted).
    pub async fn delete_if(
        &self,
        id: &str,
        api_version: &str,
        condition: &Precondition,
    ) -> Result<Started, Error> {
        let url = self.url(id, Some(api_version))?;
        let answer = self
            .send_if(Method::Delete, url.clone(), None, Some(condition))
            .await?;
        self.started("DELETE", &url, answer).await
    }

    /// PATCH a resource.
    pub async fn patch(&self, id: &str, api_version: &str, body: &Value) -> Result<Started, Error> {
        let url = self.url(id, Some(api_version))?;
        let answer = self.send(Method::Patch, url.clone(), Some(body)).await?;
        self.started("PATCH", &url, answer).await
    }

    /// DELETE a resource; an absent resource is `Done` with 204.
    pub async fn delete(&self, id: &str, api_version: &str) -> Result<Started, Error> {
        let url = self.url(id, Some(api_version))?;
        let answer = self.send(Method::Delete, url.clone(), None).await?;
        self.started("DELETE", &url, answer).await
    }

    /// POST an action (`{id}/{action}`).
    pub async fn post(
        &self,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Started, Error> {
        let url = self.url(path, Some(api_version))?;
        let answer = self.send(Method::Post, url.clone(), body).await?;
        self.started("POST", &url, answer).await
    }

    /// Polls an operation once.
    pub async fn poll(&self, op: &PendingOperation) -> Result<OperationState, Error> {
        if let Some(status_url) = &op.async_operation_url {
            let answer = self
                .send(Method::Get, self.url(status_url, None)?, None)
                .await?;
            let wait = crate::retry::retry_after(answer.response.headers())
                .unwrap_or(DEFAULT_POLL_INTERVAL);
            let body = Self::body_of(answer.response).await?.unwrap_or_default();
            let status = body["status"].as_str().unwrap_or_default();
            return match status {
                "Succeeded" => Ok(OperationState::Succeeded {
                    body: self.final_body(op).await?,
                }),
                "Failed" | "Canceled" | "Cancelled" => Ok(OperationState::Failed(
                    CloudError::from_value(0, &body["error"]),
                )),
                "" => Err(Error::Unexpected(format!(
                    "operation status without status: {body}"
                ))),
                _ => Ok(OperationState::InProgress { retry_after: wait }),
            };
        }
        if let Some(location) = &op.location_url {
            return match self
                .send(Method::Get, self.url(location, None)?, None)
                .await
            {
                Ok(answer) if answer.status == 202 => Ok(OperationState::InProgress {
                    retry_after: crate::retry::retry_after(answer.response.headers())
                        .unwrap_or(DEFAULT_POLL_INTERVAL),
                }),
                Ok(answer) => Ok(OperationState::Succeeded {
                    body: Self::body_of(answer.response).await?,
                }),
                // The Location URL answers with the operation's own error once it failed.
                Err(Error::Cloud(e))
                    if (400..500).contains(&e.status) && e.status != 404 && e.status != 429 =>
                {
                    Ok(OperationState::Failed(e))
                }
                Err(e) => Err(e),
            };
        }
        Err(Error::Unexpected(
            "pending operation without polling URL".into(),
        ))
    }

    async fn final_body(&self, op: &PendingOperation) -> Result<Option<Value>, Error> {
        match op.method.as_str() {
            "PUT" | "PATCH" => match &op.resource_url {
                Some(url) => self.get(url, "").await,
                None => Ok(None),
            },
            "POST" => match &op.location_url {
                Some(url) => {
                    Self::body_of(
                        self.send(Method::Get, self.url(url, None)?, None)
                            .await?
                            .response,
                    )
                    .await
                }
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// Polls until the operation ends, sleeping `Retry-After` (capped by `max_interval`) between
    /// polls. For tools and tests; controllers should requeue with [`ArmClient::poll`] instead.
    pub async fn wait(
        &self,
        started: Started,
        max_interval: Duration,
    ) -> Result<Option<Value>, Error> {
        let op = match started {
            Started::Done { body, .. } => return Ok(body),
            Started::Pending { operation, .. } => operation,
        };
        tokio::time::sleep(op.initial_delay().min(max_interval)).await;
        loop {
            match self.poll(&op).await? {
                OperationState::InProgress { retry_after } => {
                    tokio::time::sleep(retry_after.min(max_interval)).await
                }
                OperationState::Succeeded { body } => return Ok(body),
                OperationState::Failed(e) => return Err(Error::OperationFailed(e)),
            }
        }
    }
}
