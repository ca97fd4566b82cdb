//! Offline OCR with PaddleOCR's PP-OCRv5 mobile models (Apache-2.0), run by tract.
//!
//! Work in progress: the engine is being written in this session.

use image::RgbImage;

use crate::azure::DetectedTextLine;
use crate::error::{Result, SightlineError};

pub struct OcrEngine {}

impl std::fmt::Debug for OcrEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OcrEngine(PP-OCRv5)")
    }
}

impl OcrEngine {
    pub fn read(&self, _image: &RgbImage) -> Result<Vec<DetectedTextLine>> {
        Err(SightlineError::OcrModelNotLoaded)
    }
}
