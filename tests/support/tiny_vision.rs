//! The synthetic tiny SigLIP model, vision tower only, compiled in (no filesystem, so the wasm
//! builds of the tests can use it): what `analyze` needs when the feature under test does not
//! use SigLIP itself.

use sightline::{ModelFiles, SiglipModel};

pub fn tiny_vision_model() -> SiglipModel {
    SiglipModel::load(ModelFiles {
        descriptor: include_bytes!("../../models/siglip-test-tiny/sightline.json"),
        vision_model: include_bytes!("../../models/siglip-test-tiny/onnx/vision_model_quantized.onnx"),
        text_model: None,
        tokenizer: None,
        ..Default::default()
    })
    .unwrap()
}
