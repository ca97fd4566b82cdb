//! The JavaScript surface: converts types and errors, nothing else. All behaviour lives in the core.
//!
//! ```js
//! const analyzer = new Analyzer();
//! analyzer.load("siglip", { descriptor, vision, text, tokenizer });  // Uint8Arrays by role
//! analyzer.load("tags", { tags: tagsFileBytes });                     // from `sightline build-tags`
//! analyzer.partsFor({ features: ["read"] });            // {required: ["read"], helpful: []}
//! const vector = analyzer.embedImage(imageBytes);       // Float32Array, unit length
//! const scores = analyzer.classify(imageBytes, ["a cat"]); // [{label, confidence, logit, cosine}]
//! const result = await analyzer.analyze(imageBytes, { features: ["tags", "smartCrops"] }); // Azure 4.0 shape
//! ```
//! Errors are thrown as `Error` objects with `name = "SightlineError"`, a stable `code`, and
//! `azure`: the same error as Azure Image Analysis's JSON error body.

use js_sys::{Array, Float32Array, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::analyze::{AnalyzeOptions, Analyzer, PartFile};
use crate::azure::ErrorResponse;
use crate::error::SightlineError;
use crate::features::Part;
use crate::remote::fetch::FetchHttpClient;
use crate::remote::{CaptionServiceConfig, FaceServiceConfig, ReadServiceConfig};
use crate::rest::{self, Call, Target};
use crate::siglip::SiglipModel as CoreModel;
use crate::tags::TagIndex;

fn js_error(error: SightlineError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("SightlineError");
    // Setting properties on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
    if let Ok(body) = ErrorResponse::from(&error).serialize(&serde_wasm_bindgen::Serializer::json_compatible()) {
        let _ = Reflect::set(&js, &"azure".into(), &body);
    }
    js.into()
}

/// `analyze`'s options object, as the core reads it.
fn analyze_options(options: JsValue) -> Result<AnalyzeOptions, SightlineError> {
    serde_wasm_bindgen::from_value::<AnalyzeOptions>(options)
        .map_err(|e| SightlineError::request("InvalidParameter", format!("options: {e}")))
}

fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error(SightlineError::inference(e)))
}

/// The image upright as PNG, its longer side at most `maxSide`: a preview for formats the
/// browser cannot show (TIFF), in the same orientation as the results' coordinates.
#[wasm_bindgen(js_name = previewPng)]
pub fn preview_png(image: &[u8], max_side: u32) -> Result<Vec<u8>, JsValue> {
    crate::preview::preview_png(image, max_side).map_err(js_error)
}

/// The size of this module's linear memory in bytes: what the tab holds for it. It only ever
/// grows (WebAssembly memory cannot shrink), so it is the peak of every call so far.
#[wasm_bindgen(js_name = wasmMemoryBytes)]
pub fn wasm_memory_bytes() -> f64 {
    (core::arch::wasm32::memory_size::<0>() * 65536) as f64
}

/// The vision tower of `descriptor` + `vision` loaded as `new SiglipModel` loads it, each phase timed
/// by the page's `performance.now()`: `[{phase, ms}]` in order (`scripts/profile`).
#[wasm_bindgen(js_name = profileVisionLoad)]
pub fn profile_vision_load(descriptor: &[u8], vision: &[u8]) -> Result<JsValue, JsValue> {
    let phases = with_page_clock(|clock| crate::SiglipModel::profile_vision_load(descriptor, vision, clock))?.map_err(js_error)?;
    to_js(&phases)
}

/// `f` with a clock reading the global `performance.now()` (milliseconds).
fn with_page_clock<T>(f: impl FnOnce(&dyn Fn() -> f64) -> T) -> Result<T, JsValue> {
    let performance = Reflect::get(&js_sys::global(), &"performance".into())?;
    let now: js_sys::Function = Reflect::get(&performance, &"now".into())?.dyn_into()?;
    Ok(f(&|| now.call0(&performance).ok().and_then(|t| t.as_f64()).unwrap_or(f64::NAN)))
}

/// The int8 matrix kernel this module runs in this engine: "simd128", or "relaxed-simd" in the
/// relaxed build where the engine's relaxed dot product is exact (kernels/src/qgemm.rs).
#[wasm_bindgen(js_name = int8Kernel)]
pub fn int8_kernel() -> String {
    sightline_kernels::qgemm::Kernel::best().name().to_string()
}

/// The feature table (src/features.rs): each Azure feature with the parts it needs and is helped
/// by and the service that can answer it instead, each part with its manifest kind and file roles,
/// and the feature names Azure has that Sightline does not. The npm package and the page load by it.
#[wasm_bindgen(js_name = featureTable)]
pub fn feature_table() -> Result<JsValue, JsValue> {
    to_js(&crate::features::feature_table())
}

/// The analyzer in WebAssembly: empty when made, each part loaded on its own (`load`), the Azure
/// services configured on it.
#[wasm_bindgen(js_name = Analyzer)]
pub struct WasmAnalyzer {
    core: Analyzer,
}

/// `object`'s own entries as (key, value) pairs.
fn entries(object: &js_sys::Object) -> Vec<(String, JsValue)> {
    js_sys::Object::entries(object)
        .iter()
        .filter_map(|entry| {
            let pair: Array = entry.dyn_into().ok()?;
            Some((pair.get(0).as_string()?, pair.get(1)))
        })
        .collect()
}

#[wasm_bindgen(js_class = Analyzer)]
impl WasmAnalyzer {
    /// Nothing loaded: `color` works, every other feature needs a part (`featureTable()`).
    #[wasm_bindgen(constructor)]
    #[allow(clippy::new_without_default)]
    pub fn new() -> WasmAnalyzer {
        WasmAnalyzer { core: Analyzer::new() }
    }

    /// Load the part `part` ("siglip", "tags", "people", "read") from `files`, an object of role →
    /// `Uint8Array` (each part's roles are in `featureTable().parts`), with `digests`, role →
    /// sha256 hex, for the files whose digest the caller already has (hashing SigLIP's ONNX files
    /// again in wasm takes a second). Replaces the part when loaded; a new SigLIP model drops the
    /// tags file loaded for the previous one.
    pub fn load(&mut self, part: &str, files: &js_sys::Object, digests: Option<js_sys::Object>) -> Result<(), JsValue> {
        let part = Part::parse(part).ok_or_else(|| {
            let known = Part::ALL.map(Part::name).join(", ");
            js_error(SightlineError::argument(format!("there is no part \"{part}\"; the parts are {known}")))
        })?;
        let mut bytes = Vec::new();
        for (role, value) in entries(files) {
            if value.is_undefined() || value.is_null() {
                continue;
            }
            let array: js_sys::Uint8Array = value
                .dyn_into()
                .map_err(|_| js_error(SightlineError::argument(format!("the {role} file must be a Uint8Array"))))?;
            bytes.push((role, array.to_vec()));
        }
        let digests: Vec<(String, String)> = digests
            .map(|d| entries(&d).into_iter().filter_map(|(role, v)| Some((role, v.as_string()?))).collect())
            .unwrap_or_default();
        let sha256 = |role: &str| digests.iter().find(|(r, _)| r == role).map(|(_, d)| d.as_str());
        let files: Vec<PartFile> =
            bytes.iter().map(|(role, data)| PartFile { role, bytes: data, sha256: sha256(role) }).collect();
        self.core.load(part, &files).map_err(js_error)
    }

    /// The parts loaded, by name.
    #[wasm_bindgen(getter)]
    pub fn loaded(&self) -> Vec<String> {
        self.core.loaded().into_iter().map(|part| part.name().to_string()).collect()
    }

    /// The parts an `analyze` call with these options needs on this analyzer (its services
    /// configured): `{required, helpful}`, part names, loaded or not.
    #[wasm_bindgen(js_name = partsFor)]
    pub fn parts_for(&self, options: JsValue) -> Result<JsValue, JsValue> {
        to_js(&self.core.parts_for(&analyze_options(options).map_err(js_error)?))
    }

    /// The number of tags in the loaded tags file (0 without one).
    #[wasm_bindgen(getter, js_name = tagCount)]
    pub fn tag_count(&self) -> usize {
        self.core.tags().map_or(0, TagIndex::len)
    }

    /// The loaded SigLIP model: `{descriptor, synthetic, embeddingDim, hasText}`, or `null`.
    #[wasm_bindgen(getter)]
    pub fn siglip(&self) -> Result<JsValue, JsValue> {
        let Some(model) = self.core.siglip() else { return Ok(JsValue::NULL) };
        to_js(&serde_json::json!({
            "descriptor": model.descriptor(),
            // True for random-weight test models whose outputs mean nothing.
            "synthetic": model.descriptor().synthetic,
            "embeddingDim": model.embedding_dim(),
            "hasText": model.has_text(),
        }))
    }

    fn model(&self) -> Result<&CoreModel, JsValue> {
        self.core.require_siglip().map_err(js_error)
    }

    /// Unit-length embedding of an encoded image (JPEG, PNG, WebP, GIF, BMP, TIFF).
    #[wasm_bindgen(js_name = embedImage)]
    pub fn embed_image(&self, image: &[u8]) -> Result<Float32Array, JsValue> {
        let embedding = self.model()?.embed_image(image).map_err(js_error)?;
        Ok(Float32Array::from(embedding.embedding.as_slice()))
    }

    /// Unit-length embedding of already preprocessed `pixel_values` (3×size×size, CHW): the
    /// vision tower alone, so benchmarks time the same input as other ONNX runtimes.
    #[wasm_bindgen(js_name = embedPixels)]
    pub fn embed_pixels(&self, pixel_values: &[f32]) -> Result<Float32Array, JsValue> {
        let embedding = self.model()?.embed_pixel_values(pixel_values).map_err(js_error)?;
        Ok(Float32Array::from(embedding.as_slice()))
    }

    /// One vision-tower run on `pixel_values` with every node of the plan timed by the page's
    /// `performance.now()`: `[{op, node, ms}]` in execution order (`scripts/profile`).
    #[wasm_bindgen(js_name = profileVision)]
    pub fn profile_vision(&self, pixel_values: &[f32]) -> Result<JsValue, JsValue> {
        let model = self.model()?;
        let nodes = with_page_clock(|clock| model.profile_vision(pixel_values, clock))?.map_err(js_error)?;
        to_js(&nodes)
    }

    /// Unit-length embeddings of texts, one Float32Array each.
    #[wasm_bindgen(js_name = embedTexts)]
    pub fn embed_texts(&self, texts: Vec<String>) -> Result<Array, JsValue> {
        let embeddings = self.model()?.embed_texts(&texts).map_err(js_error)?;
        Ok(embeddings.iter().map(|e| Float32Array::from(e.as_slice())).collect())
    }

    /// The fixed-length token ids the text tower sees.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, JsValue> {
        self.model()?.tokenize(text).map_err(js_error)
    }

    /// Zero-shot: `[{label, confidence, logit, cosine}]` in the labels' order; each label is
    /// scored independently (several can be true).
    pub fn classify(&self, image: &[u8], labels: Vec<String>) -> Result<JsValue, JsValue> {
        to_js(&self.model()?.classify(image, &labels).map_err(js_error)?)
    }

    /// Zero-shot scores of `labels` for several stored image embeddings (from `embedImage` or
    /// `analyze`'s `includeEmbedding`): the label prompts are embedded once for all of them.
    /// Returns one `[{label, confidence, logit, cosine}]` per embedding.
    #[wasm_bindgen(js_name = classifyEmbeddings)]
    pub fn classify_embeddings(&self, embeddings: Vec<Float32Array>, labels: Vec<String>) -> Result<Array, JsValue> {
        let model = self.model()?;
        let label_embeddings = model.embed_labels(&labels).map_err(js_error)?;
        embeddings
            .iter()
            .map(|e| to_js(&model.score_labels(&e.to_vec(), &labels, &label_embeddings)))
            .collect()
    }

    /// Where local `read` spends its time on this image, on `performance.now()`: the stages of a
    /// first and a second call, and each network per operator with tract's count of multiply-adds
    /// and its slowest nodes (`OcrEngine::profile`; `scripts/bench-ocr --profile`).
    #[wasm_bindgen(js_name = profileRead)]
    pub fn profile_read(&self, image: &[u8]) -> Result<JsValue, JsValue> {
        let engine = self.core.read_engine().ok_or_else(|| js_error(Part::Read.not_loaded()))?;
        let rgb = crate::decode::decode_image(image).map_err(js_error)?.rgb;
        to_js(&with_page_clock(|clock| engine.profile(&rgb, clock))?.map_err(js_error)?)
    }

    /// Use Document Intelligence Read for `read`: `endpoint` (`https://NAME.cognitiveservices.azure.com`),
    /// `key`, and `apiVersion` `"2024-11-30"` (default) or `"2023-07-31"`. The key stays in this
    /// object's memory and is sent only in the `Ocp-Apim-Subscription-Key` header. Plain `http://`
    /// is refused except for loopback hosts or with `allowHttp` (a proxy the page's owner runs,
    /// e.g. on the page's own origin).
    #[wasm_bindgen(js_name = setReadService)]
    pub fn set_read_service(&mut self, endpoint: &str, key: &str, api_version: Option<String>, allow_http: Option<bool>) -> Result<(), JsValue> {
        let config = ReadServiceConfig::new(endpoint, key, api_version.as_deref(), allow_http.unwrap_or(false));
        self.core.services.read = Some(config.map_err(js_error)?);
        Ok(())
    }

    /// Use the Face API for `people`, asking for its landmarks and these `attributes` (headPose,
    /// mask, blur, qualityForRecognition). `allowHttp` as for `setReadService`.
    #[wasm_bindgen(js_name = setFaceService)]
    pub fn set_face_service(
        &mut self,
        endpoint: &str,
        key: &str,
        landmarks: bool,
        attributes: Vec<String>,
        allow_http: Option<bool>,
    ) -> Result<(), JsValue> {
        let config = FaceServiceConfig::new(endpoint, key, landmarks, &attributes, allow_http.unwrap_or(false));
        self.core.services.face = Some(config.map_err(js_error)?);
        Ok(())
    }

    /// Use a vision-language model for `caption`, `denseCaptions` and `objects`: `endpoint`
    /// (`https://NAME.openai.azure.com`, `https://api.openai.com`, a local server such as
    /// `http://localhost:11434`), `key` (may be empty for a local OpenAI-compatible server),
    /// `model` (the Azure OpenAI deployment's name, or the model's), `api` `"auto"` (by the
    /// endpoint's host), `"azure-openai"` or `"openai-compatible"`, Azure OpenAI's `apiVersion`
    /// (default `"2024-10-21"`). The key is sent only in `api-key` (Azure OpenAI) or
    /// `Authorization: Bearer`. `allowHttp` as for `setReadService`.
    #[wasm_bindgen(js_name = setCaptionService)]
    pub fn set_caption_service(
        &mut self,
        endpoint: &str,
        key: &str,
        model: &str,
        api: Option<String>,
        api_version: Option<String>,
        allow_http: Option<bool>,
    ) -> Result<(), JsValue> {
        let config = CaptionServiceConfig::new(endpoint, key, model, api.as_deref(), api_version.as_deref(), allow_http.unwrap_or(false));
        self.core.services.caption = Some(config.map_err(js_error)?);
        Ok(())
    }

    /// Forget every service, their keys and the remote timeout (back to the default).
    #[wasm_bindgen(js_name = clearServices)]
    pub fn clear_services(&mut self) {
        self.core.services = Default::default();
    }

    /// Give up on a remote feature after this many seconds (retries and polling included).
    #[wasm_bindgen(js_name = setRemoteTimeout)]
    pub fn set_remote_timeout(&mut self, seconds: f64) -> Result<(), JsValue> {
        self.core.services.policy = crate::remote::RetryPolicy::with_total_timeout(seconds).map_err(js_error)?;
        Ok(())
    }

    /// Which services are configured (never the keys): `{read, face}` booleans, and `caption`,
    /// the vision-language model's API (`"azure-openai"`, `"openai-compatible"`) or null.
    #[wasm_bindgen(getter, js_name = remoteServices)]
    pub fn remote_services(&self) -> Result<JsValue, JsValue> {
        let available = self.core.services.available();
        to_js(&serde_json::json!({ "read": available.read, "face": available.face, "caption": available.caption }))
    }

    /// Azure Image Analysis 4.0: `options` is `{features, smartcropsAspectRatios, language,
    /// modelVersion, labels, tagThreshold, maxTags, includeEmbedding, readBackend,
    /// peopleBackend}`; resolves to `{modelVersion, metadata, tagsResult, …, featureErrors?}`.
    /// Local features run before this returns; `read` and `people` go to the configured Azure
    /// services, and a failing one leaves its error in `featureErrors` beside the local results.
    /// `signal` (an AbortSignal) cancels the remote calls: the Promise rejects with
    /// `RemoteCanceled`.
    pub fn analyze(&self, image: &[u8], options: JsValue, signal: Option<web_sys::AbortSignal>) -> js_sys::Promise {
        let pending = match analyze_options(options).and_then(|options| self.core.start(image, &options)) {
            Ok(pending) => pending,
            Err(error) => return js_sys::Promise::reject(&js_error(error)),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let client = FetchHttpClient::new(signal);
            let result = pending.finish(&client).await.map_err(js_error)?;
            to_js(&result)
        })
    }
}

/// A request to Azure's REST API (`imageanalysis:analyze`, `retrieval:vectorizeImage`,
/// `retrieval:vectorizeText`), parsed by the core's `rest` module: the npm package answers the
/// Azure JS client's requests in-process with it (`sightline/azure`).
///
/// ```js
/// let call = RestCall.parse("POST", url, "application/octet-stream", bytes);
/// if (call.refused) return call.refused;            // {status, headers, body}: 404, 415, …
/// if (call.imageUrl) call = await call.fetchImage(signal);
/// // load what call.features (or, for vectorize, SigLIP) needs, then:
/// return await analyzer.answer(call, signal);      // {status, headers, body}
/// ```
#[wasm_bindgen]
pub struct RestCall {
    call: Result<Call, rest::Response>,
}

/// `{status, headers: {name: value}, body: string}`.
fn response_to_js(response: &rest::Response) -> Result<JsValue, JsValue> {
    let headers = js_sys::Object::new();
    for (name, value) in &response.headers {
        Reflect::set(&headers, &name.into(), &value.into())?;
    }
    let object = js_sys::Object::new();
    Reflect::set(&object, &"status".into(), &response.status.into())?;
    Reflect::set(&object, &"headers".into(), &headers)?;
    Reflect::set(&object, &"body".into(), &String::from_utf8_lossy(&response.body).into_owned().into())?;
    Ok(object.into())
}

#[wasm_bindgen]
impl RestCall {
    /// Route and read a request: `url` is a whole URL or a path with its query.
    pub fn parse(method: &str, url: &str, content_type: Option<String>, body: Vec<u8>) -> RestCall {
        RestCall { call: Target::route(method, url).and_then(|target| target.call(content_type.as_deref(), body)) }
    }

    /// The answer when the request was refused before running (`{status, headers, body}`), else null.
    #[wasm_bindgen(getter)]
    pub fn refused(&self) -> Result<JsValue, JsValue> {
        match &self.call {
            Err(response) => response_to_js(response),
            Ok(_) => Ok(JsValue::NULL),
        }
    }

    /// The image URL to download first (a `{"url"}` body), else undefined.
    #[wasm_bindgen(getter, js_name = imageUrl)]
    pub fn image_url(&self) -> Option<String> {
        self.call.as_ref().ok().and_then(|c| c.image_url()).map(String::from)
    }

    /// The features an analysis asks for (what to load before `answer`); undefined for vectorize.
    #[wasm_bindgen(getter)]
    pub fn features(&self) -> Option<Vec<String>> {
        self.call.as_ref().ok().and_then(|c| c.analyze_options()).map(|o| o.features.clone())
    }

    /// Download the image a `{"url"}` body names (with `fetch`), consuming this call; resolves
    /// to the call with the image's bytes (or refused, as Azure refuses an unusable URL).
    #[wasm_bindgen(js_name = fetchImage)]
    pub fn fetch_image(self, signal: Option<web_sys::AbortSignal>) -> js_sys::Promise {
        wasm_bindgen_futures::future_to_promise(async move {
            let call = match self.call {
                Ok(call) => call.fetch_image(&FetchHttpClient::new(signal)).await,
                refused => refused,
            };
            Ok(RestCall { call }.into())
        })
    }
}

#[wasm_bindgen(js_class = Analyzer)]
impl WasmAnalyzer {
    /// Answer a parsed REST call as Azure would: resolves to `{status, headers, body}` (errors
    /// are answers too: 400 with Azure's error body for a bad image, and so on). `signal` cancels
    /// the calls to Azure services.
    pub fn answer(&self, call: &RestCall, signal: Option<web_sys::AbortSignal>) -> js_sys::Promise {
        let answer = match &call.call {
            Ok(call) => rest::start(&self.core, call),
            Err(response) => rest::Answer::Done(response.clone()),
        };
        wasm_bindgen_futures::future_to_promise(async move {
            let response = answer.finish(&FetchHttpClient::new(signal)).await;
            response_to_js(&response)
        })
    }
}
