//! The browser's HTTP client: `fetch`, with an `AbortController` per request for its timeout and
//! for the caller's `AbortSignal`, and `setTimeout` for waits. Works in a window and in a Web
//! Worker (only globals both have are used). Under CORS, a response shows only the headers the
//! service exposes: `Operation-Location` must be among them (see README). Redirects are not
//! followed (`redirect: "manual"`): the key header would go along to the redirect's target.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, AbortSignal, Headers, ReadableStreamDefaultReader, Request, RequestInit, RequestRedirect, Response,
    ResponseType,
};

use super::http::{HttpClient, HttpRequest, HttpResponse, LocalBoxFuture, TransportError, MAX_RESPONSE_BYTES};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &js_sys::Function, millis: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
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
        let init = RequestInit::new();
        init.set_method(request.method.as_str());
        init.set_signal(Some(&controller.signal()));
        init.set_redirect(RequestRedirect::Manual);
        let headers = Headers::new().map_err(network)?;
        for (name, value) in &request.headers {
            headers.set(name, value).map_err(network)?;
        }
        init.set_headers(&headers);
        if let Some(body) = &request.body {
            init.set_body(&Uint8Array::from(&body[..]));
        }
        let js_request = Request::new_with_str_and_init(&request.url, &init).map_err(network)?;

        // The timeout and the caller's signal both abort this request's controller; the flag says
        // which one did.
        let timed_out = Rc::new(Cell::new(false));
        let on_timeout = {
            let (controller, timed_out) = (controller.clone(), timed_out.clone());
            Closure::once(move || {
                timed_out.set(true);
                controller.abort();
            })
        };
        let timer = set_timeout(on_timeout.as_ref().unchecked_ref(), request.timeout.as_secs_f64() * 1000.0);
        let on_abort = {
            let controller = controller.clone();
            Closure::<dyn FnMut()>::new(move || controller.abort())
        };
        if let Some(signal) = &self.signal {
            let _ = signal.add_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
        }

        let outcome = async {
            let response: Response = JsFuture::from(global_fetch(&js_request)).await?.dyn_into()?;
            if response.type_() == ResponseType::Opaqueredirect {
                // The browser hides the status and the Location of a redirect it did not follow.
                return Ok(Err(TransportError::Redirected { status: None, location: None }));
            }
            let status = response.status();
            let mut header_list = Vec::new();
            if let Ok(Some(entries)) = js_sys::try_iter(&response.headers()) {
                for entry in entries.flatten() {
                    let pair: js_sys::Array = entry.unchecked_into();
                    header_list.push((pair.get(0).as_string().unwrap_or_default(), pair.get(1).as_string().unwrap_or_default()));
                }
            }
            let Some(body) = read_bounded(&response).await? else {
                controller.abort();
                return Ok(Err(TransportError::TooLarge));
            };
            Ok::<_, JsValue>(Ok(HttpResponse { status, headers: header_list, body }))
        }
        .await;

        clear_timeout(&timer);
        if let Some(signal) = &self.signal {
            let _ = signal.remove_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
        }
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
        let signal = self.signal.clone();
        Box::pin(async move {
            let millis = duration.as_secs_f64() * 1000.0;
            // Resolves after the delay, or at once when the caller aborts.
            let promise = Promise::new(&mut |resolve, _reject| {
                set_timeout(&resolve, millis);
                if let Some(signal) = &signal {
                    let _ = signal.add_event_listener_with_callback("abort", &resolve);
                }
            });
            let _ = JsFuture::from(promise).await;
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
