//! A loaded SigLIP model: descriptor + vision tower + optional text tower and tokenizer.
//! Everything is loaded from bytes so the same code serves the CLI, tests and the browser.

use tract_onnx::prelude::Tensor;

use crate::decode::{decode_image, DecodedImage};
use crate::descriptor::ModelDescriptor;
use crate::error::{Result, SightlineError};
use crate::preprocess::pixel_values;
use crate::scoring::{l2_normalize, zero_shot, Calibration, LabelScore};
use crate::tokenizer::TextTokenizer;
use crate::tower::{Tower, TowerKind};
pub use crate::tower::{LoadPhase, NodeTime};

/// The raw bytes of a model's parts. The text tower and tokenizer are optional (a vision-only
/// model still embeds images) but come together.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModelFiles<'a> {
    pub descriptor: &'a [u8],
    pub vision_model: &'a [u8],
    pub text_model: Option<&'a [u8]>,
    pub tokenizer: Option<&'a [u8]>,
    /// The ONNX files' sha256 (hex) when the caller already has them: the page's loader checks
    /// every download against its digest, and hashing a 90 MB file again in WebAssembly takes a
    /// second of the load (bench/profile.md). Computed here when absent (or not a digest).
    pub vision_sha256: Option<&'a str>,
    pub text_sha256: Option<&'a str>,
    /// Run quantised products on f32 weights (`Some(true)`) or the int8 graph (`Some(false)`)
    /// whatever the descriptor says; `None` keeps the descriptor's choice.
    pub dequantize_weights: Option<bool>,
}

/// How [`SiglipModel::load_dir`] loads a model folder.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Load the text tower and tokenizer too (labels, text embeddings); an error if the folder
    /// has none.
    pub text: bool,
    /// See [`ModelFiles::dequantize_weights`].
    pub dequantize_weights: Option<bool>,
}

#[derive(Debug)]
struct TextSide {
    tower: Tower,
    tokenizer: TextTokenizer,
}

#[derive(Debug)]
pub struct SiglipModel {
    descriptor: ModelDescriptor,
    vision: Tower,
    text: Option<TextSide>,
    /// Side of the square grid of patch tokens (14 for 224 px and 16 px patches).
    grid: usize,
    /// sha256 of the vision ONNX bytes: what a tags file is checked against.
    vision_sha256: String,
    /// sha256 of the text ONNX bytes, recorded in tags files built with this model.
    text_sha256: Option<String>,
}

/// What the vision tower sees in one image: the unit embedding and the per-patch tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct VisionFeatures {
    pub embedding: Vec<f32>,
    /// `grid × grid` tokens of `embedding.len()` values each, row-major over the resized image.
    pub patches: Vec<f32>,
    pub grid: usize,
}

/// Lower-case hex sha256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `known` in lower case when it is a sha256 digest (64 hex digits), else `bytes`' own.
fn known_or_sha256(known: Option<&str>, bytes: &[u8]) -> String {
    match known {
        Some(digest) if digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()) => digest.to_ascii_lowercase(),
        _ => sha256_hex(bytes),
    }
}

/// An image's embedding with the size of the upright image it came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ImageEmbedding {
    pub width: u32,
    pub height: u32,
    pub embedding: Vec<f32>,
}

impl SiglipModel {
    /// The vision tower loaded as [`SiglipModel::load`] loads it, with the time each phase took by
    /// `clock` (milliseconds; `scripts/profile`): where load time goes. The tower is then dropped.
    /// Not included: hashing the file when [`ModelFiles`] has no digest for it (the page and the
    /// npm package always give one; in wasm hashing 90 MB takes about a second).
    pub fn profile_vision_load(descriptor: &[u8], vision_model: &[u8], clock: &dyn Fn() -> f64) -> Result<Vec<LoadPhase>> {
        let descriptor = ModelDescriptor::from_json(descriptor)?;
        let kind = TowerKind::Vision { image_size: descriptor.image_size as usize };
        Ok(Tower::load_timed(vision_model, kind, descriptor.dequantizes_weights(), clock)?.1)
    }

    /// The model in a folder `scripts/fetch-models` filled: `sightline.json` and the files it names.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path, options: LoadOptions) -> Result<SiglipModel> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|e| SightlineError::FileUnreadable { path: path.display().to_string(), reason: e.to_string() })
        };
        let descriptor_bytes = read("sightline.json")?;
        let descriptor = ModelDescriptor::from_json(&descriptor_bytes)?;
        let vision = read(&descriptor.vision_model)?;
        let (text, tokenizer) = match (options.text, &descriptor.text_model, &descriptor.tokenizer) {
            (false, _, _) => (None, None),
            (true, Some(text), Some(tokenizer)) => (Some(read(text)?), Some(read(tokenizer)?)),
            (true, _, _) => return Err(SightlineError::MissingTower { tower: "text", purpose: "score labels or embed texts" }),
        };
        SiglipModel::load(ModelFiles {
            descriptor: &descriptor_bytes,
            vision_model: &vision,
            text_model: text.as_deref(),
            tokenizer: tokenizer.as_deref(),
            dequantize_weights: options.dequantize_weights,
            ..Default::default()
        })
    }

    pub fn load(files: ModelFiles<'_>) -> Result<SiglipModel> {
        let mut descriptor = ModelDescriptor::from_json(files.descriptor)?;
        if files.dequantize_weights.is_some() {
            descriptor.dequantize_weights = files.dequantize_weights;
        }
        let vision = Tower::load(
            files.vision_model,
            TowerKind::Vision { image_size: descriptor.image_size as usize },
            descriptor.dequantizes_weights(),
        )?;
        let text = match (files.text_model, files.tokenizer) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(SightlineError::tokenizer(
                    "a text model was given without its tokenizer.json",
                ))
            }
            (Some(text_model), Some(tokenizer)) => {
                let tokenizer = TextTokenizer::from_json(tokenizer, &descriptor)?;
                let tower = Tower::load(
                    text_model,
                    TowerKind::Text { length: descriptor.max_text_length },
                    descriptor.dequantizes_weights(),
                )?;
                if tower.embedding_dim() != vision.embedding_dim() {
                    return Err(SightlineError::ModelInterfaceMismatch {
                        what: "text model".into(),
                        reason: format!(
                            "its embeddings have {} dimensions but the vision model's have {}: \
                             the two files are from different models",
                            tower.embedding_dim(),
                            vision.embedding_dim()
                        ),
                    });
                }
                Some(TextSide { tower, tokenizer })
            }
        };
        let grid = (vision.patch_count() as f64).sqrt() as usize;
        if grid * grid != vision.patch_count() {
            return Err(SightlineError::ModelInterfaceMismatch {
                what: "vision model".into(),
                reason: format!("{} patch tokens do not form a square grid", vision.patch_count()),
            });
        }
        Ok(SiglipModel {
            descriptor,
            vision,
            text,
            grid,
            vision_sha256: known_or_sha256(files.vision_sha256, files.vision_model),
            text_sha256: files.text_model.map(|bytes| known_or_sha256(files.text_sha256, bytes)),
        })
    }

    /// How this model's cosines become logits and probabilities.
    pub fn calibration(&self) -> Calibration {
        Calibration::new(self.descriptor.logit_scale, self.descriptor.logit_bias)
    }

    pub fn vision_sha256(&self) -> &str {
        &self.vision_sha256
    }

    pub fn text_sha256(&self) -> Option<&str> {
        self.text_sha256.as_deref()
    }

    pub fn descriptor(&self) -> &ModelDescriptor {
        &self.descriptor
    }

    pub fn embedding_dim(&self) -> usize {
        self.vision.embedding_dim()
    }

    pub fn has_text(&self) -> bool {
        self.text.is_some()
    }

    /// Decode, preprocess and embed image file bytes.
    pub fn embed_image(&self, bytes: &[u8]) -> Result<ImageEmbedding> {
        let image = decode_image(bytes)?;
        self.embed_decoded(&image)
    }

    pub fn embed_decoded(&self, image: &DecodedImage) -> Result<ImageEmbedding> {
        Ok(ImageEmbedding {
            width: image.width(),
            height: image.height(),
            embedding: self.vision_features(image)?.embedding,
        })
    }

    /// The unit embedding and the patch tokens of a decoded image.
    pub fn vision_features(&self, image: &DecodedImage) -> Result<VisionFeatures> {
        self.run_vision(&pixel_values(&image.rgb, &self.descriptor))
    }

    /// Embed an already preprocessed `[3, size, size]` CHW tensor.
    pub fn embed_pixel_values(&self, pixel_values: &[f32]) -> Result<Vec<f32>> {
        Ok(self.run_vision(pixel_values)?.embedding)
    }

    /// `pixel_values` as the vision tower's `[1, 3, size, size]` input.
    fn vision_input(&self, pixel_values: &[f32]) -> Result<Tensor> {
        let size = self.descriptor.image_size as usize;
        if pixel_values.len() != 3 * size * size {
            return Err(SightlineError::argument(format!(
                "pixel_values has {} values, expected 3×{size}×{size}",
                pixel_values.len()
            )));
        }
        Tensor::from_shape(&[1, 3, size, size], pixel_values).map_err(SightlineError::inference)
    }

    fn run_vision(&self, pixel_values: &[f32]) -> Result<VisionFeatures> {
        let output = self.vision.run(self.vision_input(pixel_values)?)?;
        let mut embedding = output.pooled;
        l2_normalize(&mut embedding);
        Ok(VisionFeatures { embedding, patches: output.patches, grid: self.grid })
    }

    /// One run of the vision tower on `pixel_values` with every node timed (see
    /// `scripts/profile`): where the time goes, per operator.
    pub fn profile_vision(&self, pixel_values: &[f32], clock: &dyn Fn() -> f64) -> Result<Vec<NodeTime>> {
        self.vision.profile(self.vision_input(pixel_values)?, clock)
    }

    fn text_side(&self, purpose: &'static str) -> Result<&TextSide> {
        self.text.as_ref().ok_or(SightlineError::MissingTower { tower: "text", purpose })
    }

    /// The fixed-length ids the text tower sees for `text`.
    pub fn tokenize(&self, text: &str) -> Result<Vec<u32>> {
        self.text_side("tokenize text")?.tokenizer.encode(text)
    }

    pub fn embed_text(&self, text: &str) -> Result<Vec<f32>> {
        let side = self.text_side("embed text")?;
        let ids: Vec<i64> = side.tokenizer.encode(text)?.into_iter().map(i64::from).collect();
        let input = Tensor::from_shape(&[1, ids.len()], &ids).map_err(SightlineError::inference)?;
        let mut embedding = side.tower.run(input)?.pooled;
        l2_normalize(&mut embedding);
        Ok(embedding)
    }

    pub fn embed_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        texts.iter().map(|t| self.embed_text(t.as_ref())).collect()
    }

    /// Text embeddings of the zero-shot prompts for `labels` (template applied).
    pub fn embed_labels<S: AsRef<str>>(&self, labels: &[S]) -> Result<Vec<Vec<f32>>> {
        check_labels(labels)?;
        labels.iter().map(|l| self.embed_text(&self.descriptor.prompt_for(l.as_ref().trim()))).collect()
    }

    /// Zero-shot scores of `labels` against an image embedding, in the labels' order.
    pub fn score_labels<S: AsRef<str>>(
        &self,
        image_embedding: &[f32],
        labels: &[S],
        label_embeddings: &[Vec<f32>],
    ) -> Vec<LabelScore> {
        let labels: Vec<String> = labels.iter().map(|l| l.as_ref().trim().to_string()).collect();
        zero_shot(image_embedding, &labels, label_embeddings, self.calibration())
    }

    /// Embed the image and score each label independently (multi-label), in the labels' order.
    pub fn classify<S: AsRef<str>>(&self, image_bytes: &[u8], labels: &[S]) -> Result<Vec<LabelScore>> {
        check_labels(labels)?;
        let image = self.embed_image(image_bytes)?;
        let label_embeddings = self.embed_labels(labels)?;
        Ok(self.score_labels(&image.embedding, labels, &label_embeddings))
    }
}

fn check_labels<S: AsRef<str>>(labels: &[S]) -> Result<()> {
    if labels.is_empty() {
        return Err(SightlineError::argument("give at least one label"));
    }
    if let Some(i) = labels.iter().position(|l| l.as_ref().trim().is_empty()) {
        return Err(SightlineError::argument(format!("label {} is empty", i + 1)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DESCRIPTOR: &[u8] = include_bytes!("../models/siglip-test-tiny/sightline.json");
    const VISION: &[u8] = include_bytes!("../models/siglip-test-tiny/onnx/vision_model_quantized.onnx");

    fn load(vision_sha256: Option<&str>) -> SiglipModel {
        SiglipModel::load(ModelFiles { descriptor: DESCRIPTOR, vision_model: VISION, vision_sha256, ..Default::default() }).unwrap()
    }

    #[test]
    fn a_given_digest_is_used_and_anything_else_is_computed() {
        let own = sha256_hex(VISION);
        assert_eq!(load(None).vision_sha256(), own);
        // The caller's digest is taken as given (the loader checked the bytes against it), in lower case.
        let given = "AB".repeat(32);
        assert_eq!(load(Some(&given)).vision_sha256(), "ab".repeat(32));
        // Not a digest: ignored, the file is hashed.
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            assert_eq!(load(Some(bad)).vision_sha256(), own, "{bad:?}");
        }
    }
}
