//! `sightline serve`: Azure AI Vision's REST API on this machine, so code written for Azure's SDKs
//! (Python, .NET, JS) or its REST samples reaches Sightline by changing the endpoint. The
//! contract itself (routes, query, bodies, statuses, error bodies) is the core's
//! `sightline::rest`, shared with the npm package's in-browser adapter; this file is the HTTP
//! server around it: the key check, the body limit before reading, a bounded queue in front of
//! the inference workers, health endpoints and a graceful shutdown.
//!
//! Concurrency: at most `workers` analyses run at once (each on a blocking thread, which also
//! waits for Azure services and image URLs); at most `queue` more wait for one. A request beyond
//! that is answered 429 with `Retry-After` at once, so a burst never piles up unbounded memory.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use sightline::remote::http::KEY_HEADER;
use sightline::remote::native::NativeHttpClient;
use sightline::rest::{self, Response, Target, MAX_BODY_BYTES};
use sightline::Analyzer;

/// How long a client may take to send its body once admitted (a slow upload holds a queue slot).
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// What `sightline serve` was asked for, after its parts loaded.
pub struct ServeConfig {
    pub analyzer: Analyzer,
    pub listen: String,
    /// `Ocp-Apim-Subscription-Key` every request must carry; none: no check.
    pub key: Option<String>,
    /// Let `{"url"}` bodies name loopback, private and link-local addresses.
    pub allow_private_urls: bool,
    pub workers: usize,
    pub queue: usize,
}

struct Server {
    analyzer: Arc<Analyzer>,
    key: Option<String>,
    allow_private_urls: bool,
    workers: usize,
    /// Permits for every request being answered or waiting: workers + queue.
    admitted: Arc<Semaphore>,
    capacity: usize,
    /// Permits for the requests being answered.
    running: Arc<Semaphore>,
    ready: AtomicBool,
    /// Average milliseconds per answered request (exponentially weighted), for Retry-After.
    average_ms: AtomicU64,
}

thread_local! {
    /// Each blocking thread's clients, kept for their connection pools: one for the Azure
    /// services, one for image URLs that reaches only public addresses.
    static SERVICES: NativeHttpClient = NativeHttpClient::new();
    static PUBLIC_URLS: NativeHttpClient = NativeHttpClient::public_addresses_only();
}

/// Serve until SIGTERM or Ctrl-C, then finish the requests in flight and return.
pub fn serve(config: ServeConfig) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        // Connections and parsing only: the analyses run on blocking threads.
        .worker_threads(2)
        .max_blocking_threads(config.workers + 4)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
    runtime.block_on(run(config))
}

async fn run(config: ServeConfig) -> Result<(), String> {
    let capacity = config.workers + config.queue;
    let server = Arc::new(Server {
        analyzer: Arc::new(config.analyzer),
        key: config.key,
        allow_private_urls: config.allow_private_urls,
        workers: config.workers,
        admitted: Arc::new(Semaphore::new(capacity)),
        capacity,
        running: Arc::new(Semaphore::new(config.workers)),
        ready: AtomicBool::new(true),
        average_ms: AtomicU64::new(1000),
    });
    let router = Router::new()
        .route("/health/live", get(|| async { to_http(Response::json(200, &serde_json::json!({ "status": "live" }))) }))
        .route("/health/ready", get(ready))
        .fallback(handle)
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        // Scripts wait for this line (with the port chosen for :0).
        let _ = writeln!(out, "listening on http://{address}");
        let _ = out.flush();
    }
    eprintln!(
        "sightline: {} workers, a queue of {}; POST {}, {}, {}; GET /health/live, /health/ready",
        config.workers,
        config.queue,
        rest::Route::Analyze.path(),
        rest::Route::VectorizeImage.path(),
        rest::Route::VectorizeText.path()
    );
    let shutdown = {
        let server = server.clone();
        async move {
            stop_signal().await;
            server.ready.store(false, Ordering::SeqCst);
            eprintln!("sightline: stopping: finishing {} request(s) in flight", server.in_flight());
        }
    };
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await.map_err(|e| format!("the server failed: {e}"))?;
    eprintln!("sightline: stopped");
    Ok(())
}

/// SIGTERM (orchestrators) or SIGINT (Ctrl-C).
async fn stop_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}

/// Ready while not stopping: the parts loaded before the socket opened.
async fn ready(State(server): State<Arc<Server>>) -> axum::response::Response {
    let ready = server.ready.load(Ordering::SeqCst);
    let body = serde_json::json!({ "status": if ready { "ready" } else { "stopping" }, "workers": server.workers, "inFlight": server.in_flight() });
    to_http(Response::json(if ready { 200 } else { 503 }, &body))
}

async fn handle(State(server): State<Arc<Server>>, request: Request) -> axum::response::Response {
    let started = Instant::now();
    let (method, path) = (request.method().clone(), request.uri().path().to_string());
    let response = server.answer(request).await;
    // The path only: no query, no headers (the key never reaches a log).
    eprintln!("{method} {path} {} {} ms", response.status, started.elapsed().as_millis());
    to_http(response)
}

impl Server {
    async fn answer(&self, request: Request) -> Response {
        let (head, body) = request.into_parts();
        let length = head.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        let (target, admitted) = match self.admit(&head, length) {
            Ok(admitted) => admitted,
            Err(response) => {
                // Read what the client is sending before answering: a client still writing its
                // body when the connection closes sees a broken pipe, not the 401 or 429 it got.
                let mut response = response;
                if response.status == 413 {
                    // Not read at all: the connection cannot carry another request.
                    response.headers.push(("connection".into(), "close".into()));
                } else {
                    drain(body).await;
                }
                return response;
            }
        };
        let content_type = head.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(String::from);
        let body = match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, MAX_BODY_BYTES).collect()).await {
            Ok(Ok(collected)) => collected.to_bytes().to_vec(),
            Ok(Err(error)) if error.downcast_ref::<LengthLimitError>().is_some() => return Response::too_large(None),
            Ok(Err(error)) => {
                return Response::error(400, "InvalidRequest", "InvalidRequestBody", format!("The request body could not be read: {error}"))
            }
            Err(_) => {
                let message = format!("The request body did not arrive within {} s", BODY_TIMEOUT.as_secs());
                return Response::error(408, "InvalidRequest", "RequestTimeout", message);
            }
        };
        let call = match target.call(content_type.as_deref(), body) {
            Ok(call) => call,
            Err(response) => return response,
        };
        let Ok(running) = self.running.clone().acquire_owned().await else {
            return Response::error(503, "ServiceUnavailable", "ServiceUnavailable", "The server is stopping");
        };
        let (analyzer, allow_private_urls) = (self.analyzer.clone(), self.allow_private_urls);
        let started = Instant::now();
        let answered = tokio::task::spawn_blocking(move || {
            let _slots = (admitted, running);
            SERVICES.with(|services| {
                let answer = |images: &NativeHttpClient| pollster::block_on(rest::answer(&analyzer, call, images, services));
                if allow_private_urls {
                    answer(services)
                } else {
                    PUBLIC_URLS.with(answer)
                }
            })
        })
        .await;
        let ms = started.elapsed().as_millis() as u64;
        let average = self.average_ms.load(Ordering::Relaxed);
        self.average_ms.store((average * 7 + ms) / 8, Ordering::Relaxed);
        answered.unwrap_or_else(|_| {
            Response::error(500, "InternalServerError", "InternalServerError", "The analysis stopped unexpectedly; the server goes on")
        })
    }

    /// Everything decided before the body is read: the key, the route, the declared size, and a
    /// place in the queue.
    fn admit(&self, head: &axum::http::request::Parts, length: Option<u64>) -> Result<(Target, OwnedSemaphorePermit), Response> {
        if let Some(key) = &self.key {
            let given = head.headers.get(KEY_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if !bool::from(given.ct_eq(key.as_bytes())) {
                return Err(Response::unauthorized());
            }
        }
        let target = Target::route(head.method.as_str(), &head.uri.to_string())?;
        // Refused from the header alone: a 21 MB upload is not read to be refused.
        if length.is_some_and(|l| l > MAX_BODY_BYTES as u64) {
            return Err(Response::too_large(length));
        }
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| Response::busy(self.retry_after()))?;
        Ok((target, admitted))
    }

    /// Requests admitted: being answered or waiting for a worker.
    fn in_flight(&self) -> usize {
        self.capacity - self.admitted.available_permits()
    }

    /// Seconds until a slot is likely free: the requests ahead, shared by the workers, at the
    /// recent time per request; between 1 and 60.
    fn retry_after(&self) -> u64 {
        let ahead = self.in_flight() as u64;
        let ms = self.average_ms.load(Ordering::Relaxed) * ahead / self.workers.max(1) as u64;
        ms.div_ceil(1000).clamp(1, 60)
    }
}

/// Read and drop a refused request's body (up to the size limit and the body timeout).
async fn drain(body: Body) {
    let mut body = Limited::new(body, MAX_BODY_BYTES);
    let deadline = tokio::time::Instant::now() + BODY_TIMEOUT;
    while let Ok(Some(Ok(_))) = tokio::time::timeout_at(deadline, body.frame()).await {}
}

fn to_http(response: Response) -> axum::response::Response {
    let mut http = axum::response::Response::new(Body::from(response.body));
    *http.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            http.headers_mut().insert(name, value);
        }
    }
    http
}
