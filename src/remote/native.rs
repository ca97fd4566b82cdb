//! The native HTTP client: `ureq` over rustls (so real `https://…azure.com` endpoints work with
//! no system OpenSSL). Requests block the calling thread; the futures it returns complete on
//! their first poll, which is all `pollster::block_on` needs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::cell::Cell;
use std::time::{Duration, Instant};

use super::http::{HttpClient, HttpRequest, HttpResponse, LocalBoxFuture, Method, TransportError, MAX_RESPONSE_BYTES};

pub struct NativeHttpClient {
    agent: ureq::Agent,
    started: Instant,
    random_state: Cell<u64>,
    canceled: Arc<AtomicBool>,
}

impl Default for NativeHttpClient {
    fn default() -> Self {
        Self::new()
    }
}

impl NativeHttpClient {
    pub fn new() -> Self {
        Self::with_agent(Self::config().build().into())
    }

    /// A client that connects only to public internet addresses: a name that resolves to a
    /// loopback, private, link-local or otherwise internal address is refused before any
    /// connection (the check is on the addresses the connection uses, so a DNS name pointing
    /// inside, or a redirect there, is refused as well). For fetching URLs a remote caller
    /// names (`sightline serve`'s `{"url"}` bodies), which must not reach the server's own network.
    /// No proxy: the addresses checked are the ones connected to.
    pub fn public_addresses_only() -> Self {
        let config = Self::config().proxy(None).build();
        let agent = ureq::Agent::with_parts(config, ureq::unversioned::transport::DefaultConnector::new(), PublicAddressesOnly::default());
        Self::with_agent(agent)
    }

    fn config() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
        ureq::Agent::config_builder()
            // Error statuses are answers to interpret (Azure's error body), not transport failures.
            .http_status_as_error(false)
            // Never follow a redirect: ureq strips only Authorization and Cookie on the way, so the
            // key header would reach whatever host the Location names. A 3xx comes back as it is.
            .max_redirects(0)
            .user_agent(concat!("sightline/", env!("CARGO_PKG_VERSION")))
    }

    fn with_agent(agent: ureq::Agent) -> Self {
        let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        NativeHttpClient { agent, started: Instant::now(), random_state: Cell::new(seed | 1), canceled: Arc::new(AtomicBool::new(false)) }
    }

    /// Set this flag (from a Ctrl-C handler or another thread) to cancel calls in progress: they
    /// stop at their next wait or request.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.canceled.clone()
    }

    fn send_blocking(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let outcome = match request.method {
            Method::Get => {
                let mut builder = self.agent.get(&request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(name, value);
                }
                builder.config().timeout_global(Some(request.timeout)).build().call()
            }
            Method::Post => {
                let mut builder = self.agent.post(&request.url);
                for (name, value) in &request.headers {
                    builder = builder.header(name, value);
                }
                let body: &[u8] = request.body.as_deref().unwrap_or_default();
                builder.config().timeout_global(Some(request.timeout)).build().send(body)
            }
        };
        let mut response = outcome.map_err(transport_error)?;
        let status = response.status().as_u16();
        if response.status().is_redirection() {
            let location = response.headers().get("location").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            return Err(TransportError::Redirected { status: Some(status), location });
        }
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let body = response.body_mut().with_config().limit(MAX_RESPONSE_BYTES).read_to_vec().map_err(transport_error)?;
        Ok(HttpResponse { status, headers, body })
    }
}

/// A resolver that refuses names with any address that is not on the public internet.
#[derive(Debug, Default)]
struct PublicAddressesOnly {
    resolver: ureq::unversioned::resolver::DefaultResolver,
}

impl ureq::unversioned::resolver::Resolver for PublicAddressesOnly {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let addresses = self.resolver.resolve(uri, config, timeout)?;
        // Every address, not just the first: a name with one public and one internal address
        // would let the connection pick the internal one.
        if let Some(internal) = addresses.iter().find(|a| !is_public(a.ip())) {
            let host = uri.host().unwrap_or("");
            return Err(ureq::Error::Io(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("{host} is at {}, a loopback, private or link-local address, which is not fetched for a remote caller (a server started with --allow-private-urls fetches it)", internal.ip()),
            )));
        }
        Ok(addresses)
    }
}

/// Whether an address is on the public internet: not loopback, private (RFC 1918, shared
/// CGNAT space, IPv6 unique local), link-local, unspecified, multicast, broadcast or reserved, in
/// IPv4 or IPv6 form (an IPv4-mapped IPv6 address is judged as its IPv4 address).
pub fn is_public(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240) // reserved
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
                || (first == 0x64 && v6.segments()[1] == 0xff9b)) // NAT64 can reach internal IPv4
        }
    }
}

fn transport_error(error: ureq::Error) -> TransportError {
    match error {
        ureq::Error::Timeout(_) => TransportError::Timeout,
        ureq::Error::BodyExceedsLimit(_) => TransportError::TooLarge,
        ureq::Error::Io(e) if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) => {
            TransportError::Timeout
        }
        other => TransportError::Network(other.to_string()),
    }
}

impl HttpClient for NativeHttpClient {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            if self.is_canceled() {
                return Err(TransportError::Canceled);
            }
            self.send_blocking(request)
        })
    }

    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()> {
        Box::pin(async move {
            // In slices, so a cancellation is noticed within 50 ms.
            let until = Instant::now() + duration;
            while !self.is_canceled() {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(Duration::from_millis(50)));
            }
        })
    }

    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn jitter(&self) -> f64 {
        // xorshift64*: plenty for spreading retries, and no dependency.
        let mut x = self.random_state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.random_state.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn is_canceled(&self) -> bool {
        self.canceled.load(Ordering::Relaxed)
    }
}
