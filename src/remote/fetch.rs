//! The browser's HTTP client: `fetch` through gloo-net, with an `AbortController` per request for
//! its timeout and for the caller's `AbortSignal`, and gloo's timers and event listeners (removed
//! when dropped) for waits. Works in a window and in a Web Worker. Under CORS, a response shows
//! only the headers the service exposes: `Operation-Location` must be among them (see README).
//! Redirects are not followed (`redirect: "manual"`): the key header would go along to the
//! redirect's target. The body is read here, chunk by chunk with a limit (`read_bounded`): gloo-net
//! reads a body only whole (`binary()`), which would let a hostile answer fill the tab's memory.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use gloo_events::EventListener;
use gloo_net::http::{Method as GlooMethod, RequestBuilder};
use gloo_timers::callback::Timeout;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, ReadableStreamDefaultReader, RequestRedirect, Response, ResponseType};

use super::http::{HttpClient, HttpRequest, HttpResponse, LocalBoxFuture, Method, TransportError, MAX_RESPONSE_BYTES};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
}

/// Milliseconds for gloo's timers (which take whole milliseconds), saturating.
fn millis(duration: Duration) -> u32 {
    duration.as_millis().min(u32::MAX as u128) as u32
}

pub struct FetchHttpClient {
    /// The caller's cancellation, if any.
    signal: Option<AbortSignal>,
}

impl FetchHttpClient {
    pub fn new(signal: Option<AbortSignal>) -> Self {
        FetchHttpClient { signal }
    }

    async fn fetch(&self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let network = |e: JsValue| TransportError::Network(describe(&e));
        let controller = AbortController::new().map_err(network)?;
        let method = match request.method {
            Method::Get => GlooMethod::GET,
            Method::Post => GlooMethod::POST,
        };
        let mut builder = RequestBuilder::new(&request.url)
            .method(method)
            .abort_signal(Some(&controller.signal()))
            .redirect(RequestRedirect::Manual);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let js_request = match &request.body {
            Some(body) => builder.body(Uint8Array::from(&body[..])),
            None => builder.build(),
        }
        .map_err(|e| TransportError::Network(e.to_string()))?;

        // The timeout and the caller's signal both abort this request's controller; the flag says
        // which one did. Both are undone when they drop, at the end of this call.
        let timed_out = Rc::new(Cell::new(false));
        let _timer = {
            let (controller, timed_out) = (controller.clone(), timed_out.clone());
            Timeout::new(millis(request.timeout), move || {
                timed_out.set(true);
                controller.abort();
            })
        };
        let _on_abort = self.signal.as_ref().map(|signal| {
            let controller = controller.clone();
            EventListener::once(signal, "abort", move |_| controller.abort())
        });

        let outcome = async {
            let response = js_request.send().await.map_err(|e| JsValue::from_str(&e.to_string()))?;
            if response.type_() == ResponseType::Opaqueredirect {
                // The browser hides the status and the Location of a redirect it did not follow.
                return Ok(Err(TransportError::Redirected { status: None, location: None }));
            }
            let status = response.status();
            let header_list = response.headers().entries().collect();
            let Some(body) = read_bounded(&Response::from(response)).await? else {
                controller.abort();
                return Ok(Err(TransportError::TooLarge));
            };
            Ok::<_, JsValue>(Ok(HttpResponse { status, headers: header_list, body }))
        }
        .await;

        outcome.unwrap_or_else(|error| {
            Err(if self.is_canceled() {
                TransportError::Canceled
            } else if timed_out.get() {
                TransportError::Timeout
            } else {
                // fetch says only "Failed to fetch" for refused connections, DNS and CORS alike.
                TransportError::Network(describe(&error))
            })
        })
    }
}

/// The body, read chunk by chunk and abandoned (`None`) once it passes `MAX_RESPONSE_BYTES`:
/// `arrayBuffer()` would hold whatever a server sends in the tab's memory first.
async fn read_bounded(response: &Response) -> Result<Option<Vec<u8>>, JsValue> {
    let limit = MAX_RESPONSE_BYTES as usize;
    let declared = response.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_RESPONSE_BYTES) {
        return Ok(None);
    }
    let Some(stream) = response.body() else {
        return Ok(Some(Vec::new()));
    };
    let reader: ReadableStreamDefaultReader = stream.get_reader().dyn_into()?;
    let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if js_sys::Reflect::get(&chunk, &JsValue::from_str("done"))?.is_truthy() {
            return Ok(Some(body));
        }
        let bytes: Uint8Array = js_sys::Reflect::get(&chunk, &JsValue::from_str("value"))?.dyn_into()?;
        if body.len() + bytes.length() as usize > limit {
            let _ = reader.cancel();
            return Ok(None);
        }
        let start = body.len();
        body.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut body[start..]);
    }
}

fn describe(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "fetch failed".into())
}

impl HttpClient for FetchHttpClient {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        Box::pin(async move {
            if self.is_canceled() {
                return Err(TransportError::Canceled);
            }
            self.fetch(request).await
        })
    }

    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()> {
        Box::pin(async move {
            // Resolves after the delay, or at once when the caller aborts; the timer and the
            // listener are removed when they drop, whichever came first.
            let mut resolve = None;
            let promise = Promise::new(&mut |done, _reject| resolve = Some(done));
            let Some(resolve) = resolve else { return };
            let _timer = {
                let resolve = resolve.clone();
                Timeout::new(millis(duration), move || {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                })
            };
            let _on_abort = self.signal.as_ref().map(|signal| {
                EventListener::once(signal, "abort", move |_| {
                    let _ = resolve.call0(&JsValue::UNDEFINED);
                })
            });
            if !self.is_canceled() {
                let _ = JsFuture::from(promise).await;
            }
        })
    }

    fn now(&self) -> Duration {
        Duration::from_secs_f64(performance_now().max(0.0) / 1000.0)
    }

    fn jitter(&self) -> f64 {
        js_sys::Math::random()
    }

    fn is_canceled(&self) -> bool {
        self.signal.as_ref().is_some_and(|s| s.aborted())
    }
}
