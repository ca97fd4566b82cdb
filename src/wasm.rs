//! The JavaScript surface: converts types and errors, nothing else. All behaviour lives in the core.
//!
//! ```js
//! const model = new SiglipModel(descriptorBytes, visionBytes, textBytes, tokenizerBytes);
//! const vector = model.embedImage(imageBytes);          // Float32Array, unit length
//! const scores = model.classify(imageBytes, ["a cat"]); // [{label, confidence, logit, cosine}]
//! ```
//! Errors are thrown as `Error` objects with `name = "SightlineError"` and a stable `code`.

use js_sys::{Array, Float32Array, Reflect};
use wasm_bindgen::prelude::*;

use crate::error::SightlineError;
use crate::siglip::{ModelFiles, SiglipModel as CoreModel};

fn js_error(error: SightlineError) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    js.set_name("SightlineError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&js, &"code".into(), &error.code().into());
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
        CoreModel::load(files).map(|model| WasmSiglipModel { model }).map_err(js_error)
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
}
