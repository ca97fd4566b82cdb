//! The remote clients' whole view of the outside world, as one trait: send an HTTP request,
//! sleep, read a monotonic clock, draw jitter, and ask whether the caller gave up. Natively it is
//! `ureq` (`native.rs`), in the browser `fetch` (`fetch.rs`), and in tests a fake that answers
//! from a script and advances a virtual clock.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

/// A boxed future that need not be `Send` (wasm's futures are not): all we need of `futures`.
pub type LocalBoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// The header Azure AI services read the key from. Keys travel only here, never in URLs.
pub const KEY_HEADER: &str = "Ocp-Apim-Subscription-Key";
/// Azure OpenAI's key header.
pub const API_KEY_HEADER: &str = "api-key";
/// Headers that carry a secret: never printed.
const SECRET_HEADERS: [&str; 3] = [KEY_HEADER, API_KEY_HEADER, "Authorization"];

/// Responses larger than this are not Azure's answers to an image: both clients stop reading.
pub const MAX_RESPONSE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One HTTP request. Cheap to clone (the body is shared), so a retry re-sends the same bytes.
#[derive(Clone)]
pub struct HttpRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Rc<[u8]>>,
    /// For this one exchange, connection to last body byte.
    pub timeout: Duration,
}

impl fmt::Debug for HttpRequest {
    /// Never prints the key: requests end up in logs and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = SECRET_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s));
                let shown = if secret { "<redacted>" } else { value.as_str() };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &headers)
            .field("body_bytes", &self.body.as_ref().map(|b| b.len()))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A complete response. Header names are compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }
}

/// Why no response arrived: kept apart from the service's own error answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The request's own timeout passed (a hanging connection or a slow network).
    Timeout,
    /// Connection refused, DNS failure, TLS failure, reset, or a browser's CORS refusal (which
    /// `fetch` reports exactly like a network failure).
    Network(String),
    /// The caller canceled the call (an AbortSignal in the browser).
    Canceled,
    /// The answer was a redirect. Neither client follows one: the key would go along to wherever
    /// it points. `status` and `location` are `None` where the browser hides them (`fetch` with
    /// `redirect: "manual"` sees only an opaque redirect).
    Redirected { status: Option<u16>, location: Option<String> },
    /// The body went past `MAX_RESPONSE_BYTES`; reading stopped there.
    TooLarge,
}

pub trait HttpClient {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>>;
    /// Wait `duration`, or less when the call is canceled meanwhile.
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()>;
    /// Time since an arbitrary fixed point, never going backwards (deadlines are measured on it:
    /// `std::time::Instant` does not exist in the browser).
    fn now(&self) -> Duration;
    /// Uniform in [0, 1): spreads retries of many clients apart.
    fn jitter(&self) -> f64;
    fn is_canceled(&self) -> bool;
}
