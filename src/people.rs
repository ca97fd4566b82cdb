//! `people`: the people detector, faces found with YuNet (OpenCV model zoo, MIT), decoded like
//! OpenCV's FaceDetectorYN.
//!
//! The image is letterboxed into a fixed 640×640 canvas (scaled so its longer side is 640,
//! padded right and bottom with black), so tract optimises the graph once for one shape. YuNet
//! takes BGR 0..255 without normalisation and answers at three strides (8, 16, 32) with a class
//! score, an objectness score, a box and five landmarks per grid cell; score = sqrt(cls·obj).

use std::sync::Arc;

use image::RgbImage;
use serde::{Deserialize, Serialize};
use tract_onnx::prelude::*;

use crate::resample::Resample;
use crate::error::{Result, SightlineError};
use crate::onnx;

const CANVAS: usize = 640;
const STRIDES: [usize; 3] = [8, 16, 32];
pub const DEFAULT_SCORE_THRESHOLD: f32 = 0.6;
const NMS_IOU: f32 = 0.3;
const MAX_FACES: usize = 200;

/// A face in original-image pixel coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Face {
    /// Left, top, width, height (clipped to the image).
    pub rect: [f32; 4],
    /// Right eye, left eye, nose tip, right and left mouth corners (as YuNet orders them).
    pub landmarks: [[f32; 2]; 5],
    pub score: f32,
}

pub struct PeopleDetector {
    plan: Arc<TypedRunnableModel>,
}

impl std::fmt::Debug for PeopleDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeopleDetector(YuNet)")
    }
}

fn output_names() -> Vec<String> {
    ["cls", "obj", "bbox", "kps"]
        .iter()
        .flat_map(|kind| STRIDES.iter().map(move |s| format!("{kind}_{s}")))
        .collect()
}

impl PeopleDetector {
    pub fn load(bytes: &[u8]) -> Result<PeopleDetector> {
        const WHAT: &str = "face model";
        let mut model = onnx::read(bytes, WHAT)?;
        if model.input_outlets().map(|i| i.len()).unwrap_or(0) != 1 {
            return Err(onnx::mismatch(WHAT, "expected one image input (YuNet)".into()));
        }
        model
            .select_outputs_by_name(output_names())
            .map_err(|e| onnx::mismatch(WHAT, format!("expected YuNet's outputs cls/obj/bbox/kps at strides 8, 16, 32: {e}")))?;
        Ok(PeopleDetector { plan: onnx::runnable(model, WHAT, [1, 3, CANVAS, CANVAS])? })
    }

    /// Faces with score ≥ `threshold`, best first, after non-maximum suppression.
    pub fn detect(&self, image: &RgbImage, threshold: f32) -> Result<Vec<Face>> {
        let (width, height) = (image.width() as usize, image.height() as usize);
        let scale = CANVAS as f32 / width.max(height) as f32;
        let (w, h) = (((width as f32 * scale).round() as usize).clamp(1, CANVAS), ((height as f32 * scale).round() as usize).clamp(1, CANVAS));
        let resized = crate::resample::resize_rgb(image.as_raw(), (width, height), (w, h), Resample::Bilinear);
        // BGR planes, 0..255, zero padding.
        let mut input = vec![0f32; 3 * CANVAS * CANVAS];
        for y in 0..h {
            for x in 0..w {
                let px = &resized[(y * w + x) * 3..(y * w + x) * 3 + 3];
                for c in 0..3 {
                    input[c * CANVAS * CANVAS + y * CANVAS + x] = px[2 - c] as f32;
                }
            }
        }
        let tensor = Tensor::from_shape(&[1, 3, CANVAS, CANVAS], &input).map_err(SightlineError::inference)?;
        let outputs = self.plan.run(tvec!(tensor.into())).map_err(SightlineError::inference)?;
        let owned: Vec<Vec<f32>> = outputs
            .iter()
            .map(|o| {
                let view = o.try_as_plain_ram().map_err(SightlineError::inference)?;
                Ok(view.as_slice::<f32>().map_err(SightlineError::inference)?.to_vec())
            })
            .collect::<Result<_>>()?;
        let values: Vec<&[f32]> = owned.iter().map(Vec::as_slice).collect();

        let mut faces = Vec::new();
        for (s, &stride) in STRIDES.iter().enumerate() {
            let (cls, obj, bbox, kps) = (values[s], values[3 + s], values[6 + s], values[9 + s]);
            let cols = CANVAS / stride;
            for idx in 0..cls.len().min(obj.len()) {
                let score = (cls[idx].clamp(0.0, 1.0) * obj[idx].clamp(0.0, 1.0)).sqrt();
                if score < threshold {
                    continue;
                }
                let (row, col) = ((idx / cols) as f32, (idx % cols) as f32);
                let stride = stride as f32;
                let b = &bbox[idx * 4..idx * 4 + 4];
                let (cx, cy) = ((col + b[0]) * stride, (row + b[1]) * stride);
                let (bw, bh) = (b[2].exp() * stride, b[3].exp() * stride);
                let k = &kps[idx * 10..idx * 10 + 10];
                let mut landmarks = [[0f32; 2]; 5];
                for (n, point) in landmarks.iter_mut().enumerate() {
                    *point = [(k[2 * n] + col) * stride / scale, (k[2 * n + 1] + row) * stride / scale];
                }
                let rect = clip_rect([(cx - bw / 2.0) / scale, (cy - bh / 2.0) / scale, bw / scale, bh / scale], width, height);
                faces.push(Face { rect, landmarks, score });
            }
        }
        Ok(non_maximum_suppression(faces))
    }
}

fn clip_rect([x, y, w, h]: [f32; 4], width: usize, height: usize) -> [f32; 4] {
    let (x0, y0) = (x.max(0.0), y.max(0.0));
    let (x1, y1) = ((x + w).min(width as f32), (y + h).min(height as f32));
    [x0, y0, (x1 - x0).max(0.0), (y1 - y0).max(0.0)]
}

pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let ix = ((a[0] + a[2]).min(b[0] + b[2]) - a[0].max(b[0])).max(0.0);
    let iy = ((a[1] + a[3]).min(b[1] + b[3]) - a[1].max(b[1])).max(0.0);
    let inter = ix * iy;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

fn non_maximum_suppression(mut faces: Vec<Face>) -> Vec<Face> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Face> = Vec::new();
    for face in faces {
        if kept.len() >= MAX_FACES {
            break;
        }
        if kept.iter().all(|k| iou(&k.rect, &face.rect) < NMS_IOU) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(rect: [f32; 4], score: f32) -> Face {
        Face { rect, landmarks: [[0.0; 2]; 5], score }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = non_maximum_suppression(vec![
            face([0.0, 0.0, 10.0, 10.0], 0.7),
            face([1.0, 1.0, 10.0, 10.0], 0.9),
            face([50.0, 50.0, 10.0, 10.0], 0.8),
        ]);
        let scores: Vec<f32> = kept.iter().map(|f| f.score).collect();
        assert_eq!(scores, [0.9, 0.8]);
    }

    #[test]
    fn iou_and_clipping() {
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[0.0, 0.0, 10.0, 10.0]), 1.0);
        assert_eq!(iou(&[0.0, 0.0, 10.0, 10.0], &[20.0, 0.0, 10.0, 10.0]), 0.0);
        assert_eq!(clip_rect([-5.0, 2.0, 20.0, 200.0], 10, 100), [0.0, 2.0, 10.0, 98.0]);
    }
}
