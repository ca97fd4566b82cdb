//! One retry policy for every remote call: 429 and 5xx are retried with capped exponential
//! backoff plus jitter, or after exactly what `Retry-After` asked; network failures and request
//! timeouts are retried too; every other status is final and surfaced with Azure's error `code`
//! and `message`. Everything happens before one overall deadline, and stops when canceled.

use std::time::Duration;

use serde::Deserialize;

use super::config::origin_of;
use super::http::{HttpClient, HttpRequest, HttpResponse, TransportError, MAX_RESPONSE_BYTES};
use crate::error::{Result, SightlineError};

/// How hard to try. The defaults suit an interactive page: about two minutes at most.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Backoff before retry n (1-based) is `base_delay · 2^(n-1)`, capped, then jittered.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// One exchange (connect to last byte); a hanging connection fails after this.
    pub request_timeout: Duration,
    /// The whole feature: upload, every retry and every poll of a long-running operation.
    pub total_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(800),
            max_delay: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The default policy with the whole feature limited to `seconds` (the CLI's
    /// `--remote-timeout`, the wasm API's `setRemoteTimeout`); no single exchange waits longer
    /// than that either.
    pub fn with_total_timeout(seconds: f64) -> Result<RetryPolicy> {
        let total = Duration::try_from_secs_f64(seconds)
            .ok()
            .filter(|total| !total.is_zero())
            .ok_or_else(|| SightlineError::argument(format!("the remote timeout must be a positive number of seconds, got {seconds}")))?;
        let defaults = RetryPolicy::default();
        Ok(RetryPolicy { total_timeout: total, request_timeout: defaults.request_timeout.min(total), ..defaults })
    }

    /// The wait before retry `retry` (1-based) when the service did not say how long: capped
    /// exponential, with "equal jitter" (half fixed, half random) so waits never collapse to 0.
    pub fn backoff(&self, retry: u32, jitter: f64) -> Duration {
        let exponential = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(20));
        let capped = exponential.min(self.max_delay);
        capped / 2 + capped.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// What the service asked us to wait: `retry-after-ms` / `x-ms-retry-after-ms` (Azure's
/// millisecond forms) or `Retry-After` in seconds. An HTTP-date form is ignored (the backoff
/// applies), since a client clock cannot be trusted against the server's.
pub fn retry_after(response: &HttpResponse) -> Option<Duration> {
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = response.header(name).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0) {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let seconds = response.header("retry-after")?.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)?;
    Some(Duration::from_secs_f64(seconds.min(24.0 * 3600.0)))
}

fn retryable(status: u16) -> bool {
    status == 429 || (500..=599).contains(&status)
}

/// Azure's error body: `{"error": {"code", "message", "innererror"?}}`; some gateways answer
/// `{"statusCode", "message"}` or `{"code", "message"}` instead.
#[derive(Debug, Deserialize)]
struct ErrorEnvelope {
    error: Option<ServiceError>,
    code: Option<serde_json::Value>,
    #[serde(rename = "statusCode")]
    status_code: Option<serde_json::Value>,
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ServiceError {
    pub code: Option<serde_json::Value>,
    pub message: Option<String>,
    pub innererror: Option<Box<ServiceError>>,
}

impl ServiceError {
    /// The most specific code (the innermost `innererror`'s), and the outer message joined with
    /// the inner one when they differ.
    pub(crate) fn code_and_message(&self) -> (String, String) {
        let code = self.innererror.as_ref().map(|inner| inner.code_and_message().0).filter(|c| !c.is_empty());
        let code = code.or_else(|| self.code.as_ref().map(json_text)).unwrap_or_default();
        let outer = self.message.clone().unwrap_or_default();
        let inner = self.innererror.as_ref().map(|i| i.code_and_message().1).unwrap_or_default();
        let message = if inner.is_empty() || outer.contains(&inner) { outer } else { format!("{outer} {inner}") };
        (code, message.trim().to_string())
    }
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Azure's `code` and `message` from an error response, or what can be said without them.
pub(crate) fn service_error(response: &HttpResponse) -> (String, String) {
    let parsed = serde_json::from_slice::<ErrorEnvelope>(&response.body).ok();
    let (code, message) = match parsed {
        Some(ErrorEnvelope { error: Some(error), .. }) => error.code_and_message(),
        Some(ErrorEnvelope { code, status_code, message, .. }) => {
            (code.or(status_code).as_ref().map(json_text).unwrap_or_default(), message.unwrap_or_default())
        }
        None => (String::new(), String::new()),
    };
    let code = if code.is_empty() { format!("HTTP{}", response.status) } else { code };
    let message = if !message.is_empty() {
        message
    } else if response.body.is_empty() {
        "no error details in the response".to_string()
    } else {
        // Not Azure's JSON (a proxy's HTML page, say): show its start, which usually says enough.
        let text = String::from_utf8_lossy(&response.body);
        let start: String = text.chars().take(200).collect();
        format!("unexpected response body: {}", start.trim())
    };
    (code, message)
}

/// The final error for a non-success status.
pub(crate) fn status_error(service: &'static str, response: &HttpResponse, attempts: u32) -> SightlineError {
    let status = response.status;
    if status == 429 {
        return SightlineError::RemoteThrottled { service, attempts };
    }
    let (code, message) = service_error(response);
    if status == 401 || status == 403 {
        SightlineError::RemoteUnauthorized { service, status, code, message }
    } else {
        SightlineError::RemoteServiceError { service, status, code, message }
    }
}

/// A 3xx answer. Following it would send the key to the address it names (ureq strips only
/// `Authorization` on a redirect; a browser keeps custom headers), so it ends the call. Only the
/// target's origin is shown: its path or query may carry something private.
fn redirect_error(service: &'static str, status: Option<u16>, location: Option<&str>) -> SightlineError {
    let status = status.map(|s| format!("HTTP {s}")).unwrap_or_else(|| "a redirect".into());
    let target = match location {
        Some(location) if location.contains("://") => format!(" to {}", origin_of(location)),
        Some(_) => " to another path".into(),
        None => String::new(),
    };
    SightlineError::RemoteMalformedResponse {
        service,
        reason: format!(
            "it redirected ({status}){target}; redirects are never followed, so the key only goes to the endpoint \
             you configured: configure the final address as the endpoint if you trust it"
        ),
    }
}

/// `work`'s outcome with `key` taken out of any error text (see `SightlineError::without_secret`):
/// the one place a service client's errors pass before they reach a caller.
pub(crate) async fn redacting<T>(key: &str, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    work.await.map_err(|error| error.without_secret(key))
}

/// One feature's conversation with one service, under one deadline.
pub(crate) struct Call<'a> {
    pub http: &'a dyn HttpClient,
    pub policy: &'a RetryPolicy,
    pub service: &'static str,
    started: Duration,
    deadline: Duration,
}

impl<'a> Call<'a> {
    pub fn new(http: &'a dyn HttpClient, policy: &'a RetryPolicy, service: &'static str) -> Self {
        let started = http.now();
        Call { http, policy, service, started, deadline: started + policy.total_timeout }
    }

    pub fn timeout(&self, during: &'static str) -> SightlineError {
        let seconds = self.http.now().saturating_sub(self.started).as_secs_f64();
        SightlineError::RemoteTimeout { service: self.service, seconds, during }
    }

    fn check_canceled(&self) -> Result<()> {
        if self.http.is_canceled() {
            Err(SightlineError::RemoteCanceled { service: self.service })
        } else {
            Ok(())
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_sub(self.http.now())
    }

    /// Sleep `delay`, unless that would pass the deadline (then fail now with `on_deadline`
    /// rather than wake up too late) or the call is canceled meanwhile.
    pub async fn wait(&self, delay: Duration, on_deadline: impl FnOnce() -> SightlineError) -> Result<()> {
        self.check_canceled()?;
        if delay >= self.remaining() {
            return Err(on_deadline());
        }
        self.http.sleep(delay).await;
        self.check_canceled()
    }

    /// Send with the retry policy; Ok only for a 2xx response. `during` says what was going on,
    /// for timeout messages.
    pub async fn send(&self, request: HttpRequest, during: &'static str) -> Result<HttpResponse> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.check_canceled()?;
            let remaining = self.remaining();
            if remaining.is_zero() {
                return Err(self.timeout(during));
            }
            let mut this_try = request.clone();
            this_try.timeout = self.policy.request_timeout.min(remaining);
            let outcome = self.http.send(this_try).await;
            let last = attempt >= self.policy.max_attempts;
            let (failure, delay) = match outcome {
                Ok(response) if (200..300).contains(&response.status) => return Ok(response),
                // Whatever the client: a redirect is never followed, and not retried.
                Ok(response) if (300..400).contains(&response.status) => {
                    let location = response.header("location").map(str::to_string);
                    return Err(redirect_error(self.service, Some(response.status), location.as_deref()));
                }
                Err(TransportError::Redirected { status, location }) => {
                    return Err(redirect_error(self.service, status, location.as_deref()))
                }
                Err(TransportError::TooLarge) => {
                    return Err(SightlineError::RemoteMalformedResponse {
                        service: self.service,
                        reason: format!("the answer is larger than {} MiB, far more than any answer about one image", MAX_RESPONSE_BYTES >> 20),
                    })
                }
                Ok(response) if retryable(response.status) && !last => {
                    let delay = retry_after(&response).unwrap_or_else(|| self.policy.backoff(attempt, self.http.jitter()));
                    (status_error(self.service, &response, attempt), delay)
                }
                Ok(response) => return Err(status_error(self.service, &response, attempt)),
                Err(TransportError::Canceled) => return Err(SightlineError::RemoteCanceled { service: self.service }),
                Err(TransportError::Timeout) if last || self.remaining().is_zero() => return Err(self.timeout(during)),
                Err(TransportError::Network(reason)) if last => {
                    return Err(SightlineError::RemoteNetwork { service: self.service, reason })
                }
                Err(TransportError::Timeout) => {
                    (self.timeout(during), self.policy.backoff(attempt, self.http.jitter()))
                }
                Err(TransportError::Network(reason)) => (
                    SightlineError::RemoteNetwork { service: self.service, reason },
                    self.policy.backoff(attempt, self.http.jitter()),
                ),
            };
            // A wait that would outlast the deadline fails now, with the error that caused it.
            self.wait(delay, || failure).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_total_timeout_bounds_every_exchange_and_refuses_what_is_not_a_duration() {
        let four = RetryPolicy::with_total_timeout(4.0).unwrap();
        assert_eq!((four.total_timeout, four.request_timeout), (Duration::from_secs(4), Duration::from_secs(4)));
        let long = RetryPolicy::with_total_timeout(300.0).unwrap();
        assert_eq!((long.total_timeout, long.request_timeout), (Duration::from_secs(300), RetryPolicy::default().request_timeout));
        assert_eq!(long.max_attempts, RetryPolicy::default().max_attempts);
        // Duration::from_secs_f64 would panic on the last two: user input never does.
        for seconds in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e300] {
            let error = RetryPolicy::with_total_timeout(seconds).unwrap_err();
            assert_eq!(error.code(), "InvalidArgument", "{seconds}");
            assert!(error.to_string().contains("positive number of seconds"), "{error}");
        }
    }

    #[test]
    fn backoff_grows_caps_and_keeps_half_fixed() {
        let policy = RetryPolicy { base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(5), ..Default::default() };
        assert_eq!(policy.backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(policy.backoff(1, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(2, 0.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(3, 0.5), Duration::from_secs(3));
        assert_eq!(policy.backoff(10, 1.0), Duration::from_secs(5), "capped");
        assert_eq!(policy.backoff(u32::MAX, 1.0), Duration::from_secs(5), "no overflow");
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_azures_millisecond_headers() {
        assert_eq!(retry_after(&response(429, &[("Retry-After", "2")], "")), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&response(429, &[("retry-after-ms", "1500"), ("Retry-After", "2")], "")), Some(Duration::from_millis(1500)));
        assert_eq!(retry_after(&response(429, &[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")], "")), None);
        assert_eq!(retry_after(&response(429, &[("Retry-After", "-3")], "")), None);
    }

    #[test]
    fn azure_error_bodies_give_code_and_message() {
        let body = r#"{"error":{"code":"InvalidRequest","message":"Invalid request.","innererror":{"code":"InvalidContent","message":"The file is corrupted or format is unsupported."}}}"#;
        assert_eq!(
            service_error(&response(400, &[], body)),
            ("InvalidContent".into(), "Invalid request. The file is corrupted or format is unsupported.".into())
        );
        let gateway = r#"{"error":{"code":"401","message":"Access denied due to invalid subscription key."}}"#;
        assert_eq!(service_error(&response(401, &[], gateway)).0, "401");
        let old = r#"{"statusCode": 404, "message": "Resource not found"}"#;
        assert_eq!(service_error(&response(404, &[], old)), ("404".into(), "Resource not found".into()));
        let html = service_error(&response(502, &[], "<html>Bad Gateway</html>"));
        assert_eq!(html.0, "HTTP502");
        assert!(html.1.contains("Bad Gateway"));
    }

    #[test]
    fn statuses_map_to_distinct_errors() {
        let code = |status| status_error("Test", &response(status, &[], "{}"), 4).code();
        assert_eq!(code(401), "RemoteUnauthorized");
        assert_eq!(code(403), "RemoteUnauthorized");
        assert_eq!(code(400), "RemoteServiceError");
        assert_eq!(code(404), "RemoteServiceError");
        assert_eq!(code(500), "RemoteServiceError");
        assert_eq!(code(429), "RemoteThrottled");
    }
}
