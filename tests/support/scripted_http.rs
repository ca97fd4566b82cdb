//! A scripted `HttpClient` for the remote clients' tests and fuzz targets: it answers from a
//! script in order, and sleeping advances a virtual clock instead of waiting. It records what was
//! sent (when, to which URL) and each sleep. A request past the end of the script gets a
//! network error, so a client that sends too many requests fails visibly.
#![allow(dead_code)] // each user needs its own subset

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::Duration;

use sightline::remote::{HttpClient, HttpRequest, HttpResponse, LocalBoxFuture, TransportError};

pub struct ScriptedHttp {
    answers: RefCell<VecDeque<Result<HttpResponse, TransportError>>>,
    clock: Cell<Duration>,
    pub sent: RefCell<Vec<(Duration, String)>>,
    pub slept: RefCell<Vec<Duration>>,
}

impl ScriptedHttp {
    pub fn new(answers: Vec<Result<HttpResponse, TransportError>>) -> Self {
        ScriptedHttp { answers: RefCell::new(answers.into()), clock: Cell::new(Duration::ZERO), sent: RefCell::default(), slept: RefCell::default() }
    }
}

/// One scripted answer.
pub fn answer(status: u16, headers: &[(&str, &str)], body: impl AsRef<[u8]>) -> Result<HttpResponse, TransportError> {
    Ok(HttpResponse {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        body: body.as_ref().to_vec(),
    })
}

impl HttpClient for ScriptedHttp {
    fn send(&self, request: HttpRequest) -> LocalBoxFuture<'_, Result<HttpResponse, TransportError>> {
        self.sent.borrow_mut().push((self.clock.get(), request.url.clone()));
        let answer = self.answers.borrow_mut().pop_front().unwrap_or_else(|| Err(TransportError::Network("the script has no more answers".into())));
        if answer == Err(TransportError::Timeout) {
            self.clock.set(self.clock.get() + request.timeout);
        }
        Box::pin(async move { answer })
    }

    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()> {
        self.slept.borrow_mut().push(duration);
        self.clock.set(self.clock.get() + duration);
        Box::pin(async {})
    }

    fn now(&self) -> Duration {
        self.clock.get()
    }

    fn jitter(&self) -> f64 {
        0.5
    }

    fn is_canceled(&self) -> bool {
        false
    }
}
