//! Retries with ARM semantics.
//!
//! * 429 is retried for every method: ARM throttles before the request reaches the provider, so
//!   nothing happened and even a POST is safe to repeat.
//! * 408, 500, 502, 503, 504 and connection failures are retried only for idempotent methods
//!   (GET, HEAD, PUT, DELETE, OPTIONS): a POST or PATCH may have taken effect.
//! * `Retry-After` (and the `retry-after-ms` / `x-ms-retry-after-ms` variants) is honoured; when it
//!   asks for longer than `max_retry_after` the error is returned instead (it is retryable and
//!   carries the delay, so a controller can requeue without holding a worker).
//!
//! The policy sits just before the transport, so it sees raw answers; failures leave it as
//! [`CloudError`]s carrying ARM's code, message and target.

use crate::error::CloudError;
use azure_core::error::ErrorKind;
use azure_core::headers::HeaderName;
use azure_core::{Context, Method, Policy, PolicyResult, Request, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// Retry settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First back-off delay when the server gives no `Retry-After`; doubles each retry.
    pub base_delay: Duration,
    /// Longest back-off delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` waited in-process.
    pub max_retry_after: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// The ARM retry policy.
#[derive(Debug, Clone)]
pub struct ArmRetryPolicy {
    settings: RetrySettings,
}

impl ArmRetryPolicy {
    /// A policy with these settings.
    pub fn new(settings: RetrySettings) -> Self {
        Self { settings }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt);
        self.settings
            .base_delay
            .saturating_mul(factor)
            .min(self.settings.max_delay)
    }
}

/// Whether a method may be repeated without changing the outcome.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        method,
        Method::Get | Method::Head | Method::Put | Method::Delete | Method::Options
    )
}

/// Whether an answer with this status may be retried for this method.
pub fn should_retry(status: u16, method: &Method) -> bool {
    status == 429 || (is_idempotent(method) && matches!(status, 408 | 500 | 502 | 503 | 504))
}

/// Reads `retry-after-ms`, `x-ms-retry-after-ms` or `Retry-After` (seconds or HTTP date).
pub fn retry_after(headers: &azure_core::headers::Headers) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = headers
            .get_optional_str(&HeaderName::from_static(name))
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = headers
        .get_optional_str(&HeaderName::from_static("retry-after"))?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or_default())
}

#[async_trait::async_trait]
impl Policy for ArmRetryPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let method = *request.method();
        let mut attempt = 0u32;
        loop {
            let result = next[0].send(ctx, request, &next[1..]).await;
            let can_retry = attempt < self.settings.max_retries;
            match result {
                Ok(response)
                    if response.status().is_success() || is_redirect_or_info(response.status()) =>
                {
                    return Ok(response);
                }
                Ok(response) => {
                    let status = u16::from(response.status());
                    let wait = retry_after(response.headers());
                    let (status_code, _headers, body) = response.deconstruct();
                    let body = body.collect().await.unwrap_or_default();
                    let mut cloud = CloudError::from_body(status, &body);
                    cloud.retry_after_secs =
                        wait.map(|d| d.as_secs().max(u64::from(d.subsec_millis() > 0)));
                    let too_long = wait.is_some_and(|w| w > self.settings.max_retry_after);
                    if can_retry && should_retry(status, &method) && !too_long {
                        let delay = wait.unwrap_or_else(|| self.backoff(attempt));
                        tracing::debug!(status, code = %cloud.code, ?delay, attempt, "retrying Azure request");
                        azure_core::sleep::sleep(delay).await;
                        attempt += 1;
                        continue;
                    }
                    let kind = ErrorKind::HttpResponse {
                        status: status_code,
                        error_code: Some(cloud.code.clone()),
                    };
                    let message = format!("{cloud}");
                    return Err(azure_core::Error::full(kind, cloud, message));
                }
                Err(e) if *e.kind() == ErrorKind::Io && can_retry && is_idempotent(&method) => {
                    let delay = self.backoff(attempt);
                    tracing::debug!(error = %e, ?delay, attempt, "retrying Azure request after a transport error");
                    azure_core::sleep::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn is_redirect_or_info(status: StatusCode) -> bool {
    let s = u16::from(status);
    (100..400).contains(&s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::headers::Headers;

    #[test]
    fn only_idempotent_methods_retry_server_errors() {
        assert!(should_retry(429, &Method::Post));
        assert!(should_retry(503, &Method::Put));
        assert!(should_retry(500, &Method::Delete));
        assert!(!should_retry(500, &Method::Post));
        assert!(!should_retry(503, &Method::Patch));
        assert!(!should_retry(404, &Method::Get));
        assert!(!should_retry(409, &Method::Put));
    }

    #[test]
    fn retry_after_variants() {
        let mut h = Headers::new();
        h.insert("retry-after", "7");
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "250");
        assert_eq!(retry_after(&h), Some(Duration::from_millis(250)));
        let mut h = Headers::new();
        h.insert("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT");
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        assert_eq!(retry_after(&Headers::new()), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = ArmRetryPolicy::new(RetrySettings {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
            ..Default::default()
        });
        assert_eq!(p.backoff(0), Duration::from_secs(1));
        assert_eq!(p.backoff(2), Duration::from_secs(4));
        assert_eq!(p.backoff(3), Duration::from_secs(5));
    }
}
