//! The model descriptor: the small JSON file (`sightline.json`) that says how to feed a SigLIP
//! export and how to score it. The ONNX files do not carry these facts (the split export even
//! drops logit_scale and logit_bias), so they travel beside the weights.

use serde::{Deserialize, Serialize};

use crate::error::{Result, SightlineError};
use crate::resample::Resample;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelDescriptor {
    pub name: String,
    /// True for random-weight test models: their outputs mean nothing and must be labelled so.
    pub synthetic: bool,
    /// File names of the parts, relative to the model folder (used by the CLI and the page).
    pub vision_model: String,
    pub text_model: Option<String>,
    pub tokenizer: Option<String>,

    pub image_size: u32,
    pub image_mean: [f32; 3],
    pub image_std: [f32; 3],
    /// Applied in f64 before rounding to f32, as Hugging Face does.
    pub rescale_factor: f64,
    pub resample: Resample,

    pub max_text_length: usize,
    pub pad_id: u32,
    pub eos_id: u32,
    /// SiglipTokenizer's canonicalisation: strip ASCII punctuation, collapse whitespace, trim.
    pub canonicalize: bool,
    pub lowercase: bool,
    /// The reference SentencePiece model falls back to bytes although tokenizer.json says not.
    pub byte_fallback: bool,
    /// Zero-shot prompt; `{label}` is replaced by each label.
    pub prompt_template: String,

    pub logit_scale: f32,
    pub logit_bias: f32,

    /// How to run, not a fact of the model: dequantise the weights of dynamically quantised
    /// matrix products to f32 once at load (src/dequantize.rs). 4× the weight memory, results
    /// nearer the fp32 model than onnxruntime's int8 ones (cosine ≥ 0.9998 to them on the test
    /// models), slower. Absent: [`DEQUANTIZE_BY_DEFAULT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dequantize_weights: Option<bool>,
}

/// The int8 graph is the default everywhere: its products run fused (src/quantized_matmul.rs,
/// kernels/), faster than tract's f32 ones with a quarter of the weight memory and onnxruntime's
/// own numbers (`scripts/bench`: wasm 2.4× faster than f32 weights, native a little faster;
/// bench/latest.json).
pub const DEQUANTIZE_BY_DEFAULT: bool = false;

impl ModelDescriptor {
    /// Whether quantised matrix products run with f32 weights (see `dequantize_weights`).
    pub fn dequantizes_weights(&self) -> bool {
        self.dequantize_weights.unwrap_or(DEQUANTIZE_BY_DEFAULT)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let descriptor: ModelDescriptor = serde_json::from_slice(bytes)
            .map_err(|e| SightlineError::descriptor(format!("{e} (expected sightline.json)")))?;
        descriptor.validate()?;
        Ok(descriptor)
    }

    pub fn validate(&self) -> Result<()> {
        let fail = |reason: String| Err(SightlineError::descriptor(reason));
        if !(16..=4096).contains(&self.image_size) {
            return fail(format!("image_size {} is outside 16..=4096", self.image_size));
        }
        if self.image_std.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return fail(format!("image_std {:?} must be finite and > 0", self.image_std));
        }
        if self.image_mean.iter().any(|m| !m.is_finite()) {
            return fail(format!("image_mean {:?} must be finite", self.image_mean));
        }
        if !self.rescale_factor.is_finite() || self.rescale_factor <= 0.0 {
            return fail(format!("rescale_factor {} must be > 0", self.rescale_factor));
        }
        if !(2..=4096).contains(&self.max_text_length) {
            return fail(format!("max_text_length {} is outside 2..=4096", self.max_text_length));
        }
        if !self.prompt_template.contains("{label}") {
            return fail(format!(
                "prompt_template {:?} must contain {{label}}",
                self.prompt_template
            ));
        }
        if !self.logit_scale.is_finite() || !self.logit_bias.is_finite() {
            return fail("logit_scale and logit_bias must be finite numbers".into());
        }
        Ok(())
    }

    /// The prompt the text tower sees for a zero-shot label.
    pub fn prompt_for(&self, label: &str) -> String {
        self.prompt_template.replace("{label}", label)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample() -> serde_json::Value {
        serde_json::json!({
            "name": "siglip-base-patch16-224", "synthetic": false,
            "vision_model": "onnx/vision_model_quantized.onnx",
            "text_model": "onnx/text_model_quantized.onnx", "tokenizer": "tokenizer.json",
            "image_size": 224, "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "rescale_factor": 0.00392156862745098, "resample": "bicubic",
            "max_text_length": 64, "pad_id": 1, "eos_id": 1, "canonicalize": true,
            "lowercase": true, "byte_fallback": true,
            "prompt_template": "This is a photo of {label}.",
            "logit_scale": 4.7649970054626465, "logit_bias": -12.9324369430542
        })
    }

    fn parse(v: &serde_json::Value) -> Result<ModelDescriptor> {
        ModelDescriptor::from_json(v.to_string().as_bytes())
    }

    #[test]
    fn parses_the_real_descriptor() {
        let d = parse(&sample()).unwrap();
        assert_eq!(d.resample, Resample::Bicubic);
        assert_eq!(d.prompt_for("a cat"), "This is a photo of a cat.");
    }

    #[test]
    fn refuses_bad_descriptors_with_the_field_named() {
        let cases: &[(&str, serde_json::Value, &str)] = &[
            ("image_size", serde_json::json!(0), "image_size"),
            ("image_std", serde_json::json!([0.5, 0.0, 0.5]), "image_std"),
            ("prompt_template", serde_json::json!("a photo"), "{label}"),
            ("resample", serde_json::json!("lanczos"), "unknown variant"),
            ("max_text_length", serde_json::json!(1), "max_text_length"),
        ];
        for (field, value, needle) in cases {
            let mut v = sample();
            v[*field] = value.clone();
            let err = parse(&v).unwrap_err();
            assert_eq!(err.code(), "InvalidModelDescriptor");
            assert!(err.to_string().contains(needle), "{field}: {err}");
        }
        let mut missing = sample();
        missing.as_object_mut().unwrap().remove("logit_bias");
        assert!(parse(&missing).unwrap_err().to_string().contains("logit_bias"));
        assert_eq!(ModelDescriptor::from_json(b"not json").unwrap_err().code(), "InvalidModelDescriptor");
    }
}
