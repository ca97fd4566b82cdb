//! The tiny test model, for the targets that need one (`scripts/setup` installs it).

use std::sync::OnceLock;

use sightline::{ModelFiles, SiglipModel};

pub fn tiny() -> &'static SiglipModel {
    static MODEL: OnceLock<SiglipModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/siglip-test-tiny");
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e} (run scripts/setup)"));
        SiglipModel::load(ModelFiles {
            descriptor: &read("sightline.json"),
            vision_model: &read("onnx/vision_model_quantized.onnx"),
            text_model: Some(&read("onnx/text_model_quantized.onnx")),
            tokenizer: Some(&read("tokenizer.json")),
        })
        .expect("the tiny test model loads")
    })
}
