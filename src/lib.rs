//! Sightline: SigLIP image and text embeddings and zero-shot tagging, in Rust that runs the same
//! natively and in WebAssembly.
//!
//! The pipeline is `decode` (bytes → upright RGB) → `preprocess` (→ `pixel_values`) → `tower`
//! (tract-onnx inference) → `scoring` (cosine, sigmoid). `siglip::SiglipModel` ties them
//! together; `wasm` is the only JavaScript-facing surface. Nothing here touches a filesystem: every
//! model and image arrives as bytes.

mod activation_chains;
mod activation_matmul;
pub mod analyze;
pub mod azure;
pub mod color;
pub mod decode;
mod dequantize;
pub mod descriptor;
pub mod error;
pub mod people;
pub mod features;
pub mod jpeg;
pub mod read;
pub mod preview;
pub mod preprocess;
mod onnx;
mod patch_embedding;
mod quantized_matmul;
pub mod remote;
pub mod rest;
pub mod resample;
pub mod scoring;
pub mod siglip;
pub mod smart_crops;
pub mod tags;
pub mod tokenizer;
pub mod tract_routines;
pub mod v32;
mod tower;

#[cfg(target_arch = "wasm32")]
pub mod wasm;
#[cfg(all(target_arch = "wasm32", feature = "threads"))]
pub mod wasm_threads;

pub use analyze::{analyze, AnalyzeOptions, Analyzer, PartFile};
pub use features::{Feature, Part};
pub use azure::ImageAnalysisResult;
pub use decode::{decode_image, DecodedImage, DECODE_MEMORY_BUDGET};
#[cfg(not(target_arch = "wasm32"))]
pub use decode::read_image_file;
pub use descriptor::{ModelDescriptor, DEQUANTIZE_BY_DEFAULT};
pub use resample::Resample;
pub use error::{Result, SightlineError};
pub use people::PeopleDetector;
pub use scoring::LabelScore;
pub use siglip::{ImageEmbedding, LoadOptions, ModelFiles, SiglipModel};
pub use tags::TagIndex;
pub use tokenizer::TextTokenizer;
