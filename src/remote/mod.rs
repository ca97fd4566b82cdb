//! Remote fallbacks: `read` through Azure Document Intelligence Read, `people` through the Azure
//! Face API, and `caption`, `denseCaptions` and `objects` through a vision-language model (Azure
//! OpenAI or an OpenAI-compatible server), called over HTTP natively (`ureq`) and with `fetch` in
//! the browser, and merged into the same Azure Image Analysis result as the local features.
//!
//! One job per module: `http` (the client trait), `native` / `fetch` (its two implementations),
//! `retry` (the one retry policy), `document_intelligence`, `face` and `caption` (the three REST
//! contracts), `config` (endpoints, keys, options) and `services` (the orchestration).

pub mod caption;
pub mod config;
pub mod document_intelligence;
pub mod face;
pub mod http;
pub mod retry;
pub mod services;

#[cfg(not(target_arch = "wasm32"))]
pub mod native;
#[cfg(target_arch = "wasm32")]
pub mod fetch;

pub use config::{
    CaptionApi, CaptionServiceConfig, FaceServiceConfig, ReadApiVersion, ReadServiceConfig, RemoteConfig, ServiceConfig, FACE_ATTRIBUTES,
};
pub use http::{HttpClient, HttpRequest, HttpResponse, LocalBoxFuture, Method, TransportError};
pub use retry::RetryPolicy;
pub use services::PendingAnalysis;
