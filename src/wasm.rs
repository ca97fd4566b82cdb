//! The JavaScript surface: converts types and errors, nothing else. All behaviour lives in the core.
//!
//! ```js
//! const model = new SiglipModel(descriptorBytes, visionBytes, textBytes, tokenizerBytes);
//! const vector = model.embedImage(imageBytes);          // Float32Array, unit length
//! const scores = model.classify(imageBytes, ["a cat"]); // [{label, confidence, logit, cosine}]
//! model.loadTags(tagsFileBytes);                        // from `sightline build-tags`
//! const result = await model.analyze(imageBytes, { features: ["tags", "smartCrops"] }); // Azure 4.0 shape
//! ```
//! Errors are thrown as `Error` objects with `name = "SightlineError"`, a stable `code`, and
//! `azure`: the same error as Azure Image Analysis's JSON error body.

use js_sys::{Array, Float32Array, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::analyze::{AnalyzeOptions, Analyzer};
use crate::azure::ErrorResponse;
use crate::error::SightlineError;
use crate::faces::FaceDetector;
use crate::ocr::{OcrEngine, OcrFiles};
use crate::siglip::{ModelFiles, SiglipModel as CoreModel};
use crate::remote::fetch::FetchHttpClient;
use crate::remote::{start_analysis, FaceServiceConfig, ReadServiceConfig, RemoteConfig};
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

/// A SigLIP model in WebAssembly.
#[wasm_bindgen(js_name = SiglipModel)]
pub struct WasmSiglipModel {
    model: CoreModel,
    tags: Option<TagIndex>,
    faces: Option<FaceDetector>,
    ocr: Option<OcrEngine>,
    /// Azure services for `read` and `people`; keys live only here, in memory.
    services: RemoteConfig,
}

#[wasm_bindgen(js_class = SiglipModel)]
impl WasmSiglipModel {
    /// Load from bytes: the `sightline.json` descriptor, the vision ONNX and, for text features,
    /// the text ONNX and `tokenizer.json`; the ONNX files' sha256 when the caller has them (the
    /// model loader does: hashing them here again would take a second).
    #[wasm_bindgen(constructor)]
    pub fn new(
        descriptor: &[u8],
        vision_model: &[u8],
        text_model: Option<Box<[u8]>>,
        tokenizer: Option<Box<[u8]>>,
        vision_sha256: Option<String>,
        text_sha256: Option<String>,
    ) -> Result<WasmSiglipModel, JsValue> {
        let files = ModelFiles {
            descriptor,
            vision_model,
            text_model: text_model.as_deref(),
            tokenizer: tokenizer.as_deref(),
            vision_sha256: vision_sha256.as_deref(),
            text_sha256: text_sha256.as_deref(),
        };
        CoreModel::load(files).map(|model| WasmSiglipModel { model, tags: None, faces: None, ocr: None, services: RemoteConfig::default() }).map_err(js_error)
    }

    /// The descriptor as a plain object (name, synthetic, image_size, …).
    #[wasm_bindgen(getter)]
    pub fn descriptor(&self) -> Result<JsValue, JsValue> {
        to_js(self.model.descriptor())
    }

    /// True for random-weight test models whose outputs mean nothing.
    #[wasm_bindgen(getter)]
    pub fn synthetic(&self) -> bool {
        self.model.descriptor().synthetic
    }

    #[wasm_bindgen(getter, js_name = embeddingDim)]
    pub fn embedding_dim(&self) -> usize {
        self.model.embedding_dim()
    }

    #[wasm_bindgen(getter, js_name = hasText)]
    pub fn has_text(&self) -> bool {
        self.model.has_text()
    }

    /// Unit-length embedding of an encoded image (JPEG, PNG, WebP, GIF, BMP, TIFF).
    #[wasm_bindgen(js_name = embedImage)]
    pub fn embed_image(&self, image: &[u8]) -> Result<Float32Array, JsValue> {
        let embedding = self.model.embed_image(image).map_err(js_error)?;
        Ok(Float32Array::from(embedding.embedding.as_slice()))
    }

    /// Unit-length embedding of already preprocessed `pixel_values` (3×size×size, CHW): the
    /// vision tower alone, so benchmarks time the same input as other ONNX runtimes.
    #[wasm_bindgen(js_name = embedPixels)]
    pub fn embed_pixels(&self, pixel_values: &[f32]) -> Result<Float32Array, JsValue> {
        let embedding = self.model.embed_pixel_values(pixel_values).map_err(js_error)?;
        Ok(Float32Array::from(embedding.as_slice()))
    }

    /// One vision-tower run on `pixel_values` with every node of the plan timed by the page's
    /// `performance.now()`: `[{op, node, ms}]` in execution order (`scripts/profile`).
    #[wasm_bindgen(js_name = profileVision)]
    pub fn profile_vision(&self, pixel_values: &[f32]) -> Result<JsValue, JsValue> {
        let nodes = with_page_clock(|clock| self.model.profile_vision(pixel_values, clock))?.map_err(js_error)?;
        to_js(&nodes)
    }

    /// Unit-length embeddings of texts, one Float32Array each.
    #[wasm_bindgen(js_name = embedTexts)]
    pub fn embed_texts(&self, texts: Vec<String>) -> Result<Array, JsValue> {
        let embeddings = self.model.embed_texts(&texts).map_err(js_error)?;
        Ok(embeddings.iter().map(|e| Float32Array::from(e.as_slice())).collect())
    }

    /// The fixed-length token ids the text tower sees.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>, JsValue> {
        self.model.tokenize(text).map_err(js_error)
    }

    /// Zero-shot: `[{label, confidence, logit, cosine}]` in the labels' order; each label is
    /// scored independently (several can be true).
    pub fn classify(&self, image: &[u8], labels: Vec<String>) -> Result<JsValue, JsValue> {
        to_js(&self.model.classify(image, &labels).map_err(js_error)?)
    }

    /// Zero-shot scores of `labels` for several stored image embeddings (from `embedImage` or
    /// `analyze`'s `includeEmbedding`): the label prompts are embedded once for all of them.
    /// Returns one `[{label, confidence, logit, cosine}]` per embedding.
    #[wasm_bindgen(js_name = classifyEmbeddings)]
    pub fn classify_embeddings(&self, embeddings: Vec<Float32Array>, labels: Vec<String>) -> Result<Array, JsValue> {
        let label_embeddings = self.model.embed_labels(&labels).map_err(js_error)?;
        embeddings
            .iter()
            .map(|e| to_js(&self.model.score_labels(&e.to_vec(), &labels, &label_embeddings)))
            .collect()
    }

    /// Load the tag vocabulary's embeddings built for this model (refused for another model).
    /// Returns the number of tags.
    #[wasm_bindgen(js_name = loadTags)]
    pub fn load_tags(&mut self, tags_file: &[u8]) -> Result<usize, JsValue> {
        let index = TagIndex::from_bytes(tags_file, &self.model).map_err(js_error)?;
        let count = index.len();
        self.tags = Some(index);
        Ok(count)
    }

    /// Load the YuNet face model: enables `people` and keeps smart crops on faces.
    #[wasm_bindgen(js_name = loadFaceModel)]
    pub fn load_face_model(&mut self, onnx: &[u8]) -> Result<(), JsValue> {
        self.faces = Some(FaceDetector::load(onnx).map_err(js_error)?);
        Ok(())
    }

    /// Load PP-OCRv5 (`scripts/fetch-models ppocr-v5`): enables `read` on the device. The
    /// orientation model is optional (it turns upside-down lines around).
    #[wasm_bindgen(js_name = loadOcrModel)]
    pub fn load_ocr_model(
        &mut self,
        detector: &[u8],
        recognizer: &[u8],
        dictionary: &[u8],
        orientation: Option<Box<[u8]>>,
    ) -> Result<(), JsValue> {
        let files = OcrFiles { detector, recognizer, dictionary, orientation: orientation.as_deref() };
        self.ocr = Some(OcrEngine::load(files).map_err(js_error)?);
        Ok(())
    }

    /// Where local `read` spends its time on this image, on `performance.now()`: the stages of a
    /// first and a second call and the networks per operator (`OcrEngine::profile`;
    /// `scripts/bench-ocr --profile`).
    #[wasm_bindgen(js_name = profileRead)]
    pub fn profile_read(&self, image: &[u8]) -> Result<JsValue, JsValue> {
        let engine = self.ocr.as_ref().ok_or_else(|| js_error(SightlineError::OcrModelNotLoaded))?;
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
        self.services.read = Some(config.map_err(js_error)?);
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
        self.services.face = Some(config.map_err(js_error)?);
        Ok(())
    }

    /// Forget both services and their keys.
    #[wasm_bindgen(js_name = clearServices)]
    pub fn clear_services(&mut self) {
        self.services.read = None;
        self.services.face = None;
    }

    /// Give up on a remote feature after this many seconds (retries and polling included).
    #[wasm_bindgen(js_name = setRemoteTimeout)]
    pub fn set_remote_timeout(&mut self, seconds: f64) -> Result<(), JsValue> {
        self.services.policy = crate::remote::RetryPolicy::with_total_timeout(seconds).map_err(js_error)?;
        Ok(())
    }

    /// Which services are configured: `{read, face}` booleans (never the keys).
    #[wasm_bindgen(getter, js_name = remoteServices)]
    pub fn remote_services(&self) -> Result<JsValue, JsValue> {
        let available = self.services.available();
        to_js(&serde_json::json!({ "read": available.read, "face": available.face }))
    }

    /// Azure Image Analysis 4.0: `options` is `{features, smartcropsAspectRatios, language,
    /// modelVersion, labels, tagThreshold, maxTags, includeEmbedding, readBackend,
    /// peopleBackend}`; resolves to `{modelVersion, metadata, tagsResult, …, featureErrors?}`.
    /// Local features run before this returns; `read` and `people` go to the configured Azure
    /// services, and a failing one leaves its error in `featureErrors` beside the local results.
    /// `signal` (an AbortSignal) cancels the remote calls: the Promise rejects with
    /// `RemoteCanceled`.
    pub fn analyze(&self, image: &[u8], options: JsValue, signal: Option<web_sys::AbortSignal>) -> js_sys::Promise {
        let pending = serde_wasm_bindgen::from_value::<AnalyzeOptions>(options)
            .map_err(|e| SightlineError::request("InvalidParameter", format!("options: {e}")))
            .and_then(|options| {
                let analyzer = Analyzer { model: Some(&self.model), tags: self.tags.as_ref(), faces: self.faces.as_ref(), ocr: self.ocr.as_ref() };
                start_analysis(&analyzer, image, &options, &self.services)
            });
        let pending = match pending {
            Ok(pending) => pending,
            Err(error) => return js_sys::Promise::reject(&js_error(error)),
        };
        let config = self.services.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let client = FetchHttpClient::new(signal);
            let result = pending.finish(&client, &config).await.map_err(js_error)?;
            to_js(&result)
        })
    }
}
