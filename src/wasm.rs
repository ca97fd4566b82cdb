//! The JavaScript surface: converts types and errors, nothing else. All behaviour lives in the core.
//!
//! ```js
//! const model = new SiglipModel(descriptorBytes, visionBytes, textBytes, tokenizerBytes);
//! const vector = model.embedImage(imageBytes);          // Float32Array, unit length
//! const scores = model.classify(imageBytes, ["a cat"]); // [{label, confidence, logit, cosine}]
//! model.loadTags(tagsFileBytes);                        // from `sightline build-tags`
//! const result = model.analyze(imageBytes, { features: ["tags", "smartCrops"] }); // Azure 4.0 shape
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
use crate::siglip::{ModelFiles, SiglipModel as CoreModel};
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

/// A SigLIP model in WebAssembly.
#[wasm_bindgen(js_name = SiglipModel)]
pub struct WasmSiglipModel {
    model: CoreModel,
    tags: Option<TagIndex>,
    faces: Option<FaceDetector>,
}

#[wasm_bindgen(js_class = SiglipModel)]
impl WasmSiglipModel {
    /// Load from bytes: the `sightline.json` descriptor, the vision ONNX and, for text features,
    /// the text ONNX and `tokenizer.json`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        descriptor: &[u8],
        vision_model: &[u8],
        text_model: Option<Box<[u8]>>,
        tokenizer: Option<Box<[u8]>>,
    ) -> Result<WasmSiglipModel, JsValue> {
        let files = ModelFiles {
            descriptor,
            vision_model,
            text_model: text_model.as_deref(),
            tokenizer: tokenizer.as_deref(),
        };
        CoreModel::load(files).map(|model| WasmSiglipModel { model, tags: None, faces: None }).map_err(js_error)
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

    /// Azure Image Analysis 4.0: `options` is `{features, smartcropsAspectRatios, language,
    /// modelVersion, labels, tagThreshold, maxTags}`; returns `{modelVersion, metadata,
    /// tagsResult, smartCropsResult, customLabelsResult}` as plain objects.
    pub fn analyze(&self, image: &[u8], options: JsValue) -> Result<JsValue, JsValue> {
        let options: AnalyzeOptions = serde_wasm_bindgen::from_value(options)
            .map_err(|e| js_error(SightlineError::request("InvalidParameter", format!("options: {e}"))))?;
        let analyzer = Analyzer { model: &self.model, tags: self.tags.as_ref(), faces: self.faces.as_ref(), ocr: None };
        to_js(&analyzer.analyze(image, &options).map_err(js_error)?)
    }
}
