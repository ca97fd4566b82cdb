//! `smartCrops`: for each requested aspect ratio, the largest region of that ratio that fits the
//! image, placed where the image's content is.
//!
//! "Where the content is" is a saliency map from the vision tower itself: how strongly each
//! patch token agrees with the pooled image embedding (SigLIP's attention-pool head builds that
//! embedding from the patches that matter). Required regions (faces, when a detector supplies
//! them) are kept inside the crop whenever the crop can hold them.

use crate::azure::{CropRegion, ImageBoundingBox};
use crate::error::{Result, SightlineError};
use crate::scoring::cosine;

/// The ratios Azure accepts from callers, inclusive.
pub const MIN_REQUESTED_RATIO: f32 = 0.75;
pub const MAX_REQUESTED_RATIO: f32 = 1.8;
/// Without requested ratios Azure picks one between these.
const MIN_AUTO_RATIO: f32 = 0.5;
const MAX_AUTO_RATIO: f32 = 2.0;
/// A returned crop's ratio is within 1% of the requested one.
const RATIO_TOLERANCE: f32 = 0.01;

/// Per-patch saliency on a `grid × grid` map over the (stretched) image, in 0..=1.
#[derive(Debug, Clone, PartialEq)]
pub struct SaliencyMap {
    pub grid: usize,
    pub values: Vec<f32>,
}

impl SaliencyMap {
    /// Cosine of each patch token with the pooled embedding, rescaled to 0..=1.
    pub fn from_patches(patches: &[f32], embedding: &[f32], grid: usize) -> SaliencyMap {
        let dim = embedding.len();
        let raw: Vec<f32> = patches
            .chunks_exact(dim)
            .map(|token| {
                let norm = token.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                cosine(token, embedding) / norm
            })
            .collect();
        let (lo, hi) = raw.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let span = (hi - lo).max(1e-12);
        SaliencyMap { grid, values: raw.iter().map(|v| (v - lo) / span).collect() }
    }

    /// Saliency inside a pixel rectangle of a `width`×`height` image (cells weighted by overlap).
    fn mass(&self, (x, y, w, h): (f64, f64, f64, f64), width: f64, height: f64) -> f64 {
        let (cell_w, cell_h) = (width / self.grid as f64, height / self.grid as f64);
        let mut total = 0.0;
        for row in 0..self.grid {
            let overlap_y = overlap(y, y + h, row as f64 * cell_h, (row + 1) as f64 * cell_h) / cell_h;
            if overlap_y <= 0.0 {
                continue;
            }
            for col in 0..self.grid {
                let overlap_x = overlap(x, x + w, col as f64 * cell_w, (col + 1) as f64 * cell_w) / cell_w;
                total += overlap_x * overlap_y * self.values[row * self.grid + col] as f64;
            }
        }
        total
    }
}

fn overlap(a0: f64, a1: f64, b0: f64, b1: f64) -> f64 {
    (a1.min(b1) - a0.max(b0)).max(0.0)
}

/// Check caller-supplied ratios against Azure's accepted range.
pub fn validate_ratios(ratios: &[f32]) -> Result<()> {
    if let Some(bad) = ratios
        .iter()
        .find(|r| !r.is_finite() || **r < MIN_REQUESTED_RATIO || **r > MAX_REQUESTED_RATIO)
    {
        return Err(SightlineError::request(
            "InvalidParameter",
            format!(
                "smartcrops-aspect-ratios: {bad} is outside the supported range \
                 {MIN_REQUESTED_RATIO} to {MAX_REQUESTED_RATIO}"
            ),
        ));
    }
    Ok(())
}

/// The largest `w`×`h` inside `width`×`height` with `w/h` within 1% of `ratio`.
fn largest_box(width: u32, height: u32, ratio: f32) -> (u32, u32) {
    let fits = |w: u32, h: u32| w >= 1 && h >= 1 && w <= width && h <= height;
    let close = |w: u32, h: u32| ((w as f32 / h as f32) - ratio).abs() <= RATIO_TOLERANCE * ratio;
    // Scan down from the tallest box (width from height) and from the widest box (height from
    // width); rounding can miss the tolerance at one size on tiny images, so keep walking.
    let tallest = (1..=height.min((width as f32 / ratio).floor() as u32).max(1))
        .rev()
        .map(|h| ((h as f32 * ratio).round() as u32, h))
        .find(|&(w, h)| fits(w, h) && close(w, h));
    let widest = (1..=width.min((height as f32 * ratio).floor() as u32).max(1))
        .rev()
        .map(|w| (w, (w as f32 / ratio).round() as u32))
        .find(|&(w, h)| fits(w, h) && close(w, h));
    [tallest, widest]
        .into_iter()
        .flatten()
        .max_by_key(|&(w, h)| w as u64 * h as u64)
        .unwrap_or((width.min(height).max(1), width.min(height).max(1)))
}

/// One crop per ratio (or one automatic crop when `ratios` is empty), each kept inside the
/// image, containing `required` boxes when they fit, and placed on the most salient content.
pub fn smart_crops(
    width: u32,
    height: u32,
    ratios: &[f32],
    saliency: &SaliencyMap,
    required: &[ImageBoundingBox],
) -> Vec<CropRegion> {
    let automatic = [(width as f32 / height as f32).clamp(MIN_AUTO_RATIO, MAX_AUTO_RATIO)];
    let ratios = if ratios.is_empty() { &automatic[..] } else { ratios };
    ratios
        .iter()
        .map(|&ratio| {
            let (w, h) = largest_box(width, height, ratio);
            let (x, y) = best_position(width, height, w, h, saliency, required);
            CropRegion {
                aspect_ratio: (ratio * 100.0).round() / 100.0,
                bounding_box: ImageBoundingBox { x, y, w, h },
            }
        })
        .collect()
}

/// Slide the box along its free axis (it spans the other one, being the largest that fits) and
/// keep the position with the most saliency; positions that cut a required box lose to any that
/// does not.
fn best_position(
    width: u32,
    height: u32,
    w: u32,
    h: u32,
    saliency: &SaliencyMap,
    required: &[ImageBoundingBox],
) -> (u32, u32) {
    let (free_x, free_y) = (width - w, height - h);
    // At most ~200 positions per axis: a saliency cell is 1/14 of the image, so finer steps
    // cannot change the choice.
    let steps = |free: u32| free.min(200).max(1);
    let (sx, sy) = (steps(free_x), steps(free_y));
    let mut best = ((free_x / 2, free_y / 2), f64::MIN);
    for iy in 0..=sy {
        for ix in 0..=sx {
            let x = (free_x as u64 * ix as u64 / sx as u64) as u32;
            let y = (free_y as u64 * iy as u64 / sy as u64) as u32;
            let contains = required.iter().filter(|r| {
                r.x >= x && r.y >= y && r.x + r.w <= x + w && r.y + r.h <= y + h
            });
            let score = contains.count() as f64 * 1e6
                + saliency.mass((x as f64, y as f64, w as f64, h as f64), width as f64, height as f64);
            if score > best.1 {
                best = ((x, y), score);
            }
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(grid: usize) -> SaliencyMap {
        SaliencyMap { grid, values: vec![0.5; grid * grid] }
    }

    #[test]
    fn boxes_have_the_ratio_and_fit() {
        for (w, h) in [(512, 512), (50, 50), (16000, 50), (50, 16000), (640, 427), (51, 77)] {
            for ratio in [0.75, 1.0, 1.33, 1.8] {
                let crop = &smart_crops(w, h, &[ratio], &flat(14), &[])[0];
                let b = crop.bounding_box;
                assert!(b.x + b.w <= w && b.y + b.h <= h, "{w}x{h} {ratio}: {b:?}");
                let got = b.w as f32 / b.h as f32;
                assert!((got - ratio).abs() <= 0.01 * ratio, "{w}x{h} {ratio}: {got}");
            }
        }
    }

    #[test]
    fn crop_moves_to_the_salient_side_and_keeps_required_boxes() {
        // Wide image, all saliency in the right-most column: a square crop goes right.
        let mut map = SaliencyMap { grid: 4, values: vec![0.0; 16] };
        for row in 0..4 {
            map.values[row * 4 + 3] = 1.0;
        }
        let crop = smart_crops(400, 100, &[1.0], &map, &[])[0].bounding_box;
        assert_eq!((crop.x, crop.w), (300, 100));
        // A face on the left wins over saliency on the right.
        let face = ImageBoundingBox { x: 10, y: 20, w: 40, h: 40 };
        let crop = smart_crops(400, 100, &[1.0], &map, &[face])[0].bounding_box;
        assert!(crop.x <= 10 && crop.x + crop.w >= 50, "{crop:?}");
    }

    #[test]
    fn ratios_outside_azures_range_are_refused() {
        assert!(validate_ratios(&[0.75, 1.8]).is_ok());
        let err = validate_ratios(&[2.5]).unwrap_err();
        assert_eq!(err.code(), "InvalidParameter");
        assert!(validate_ratios(&[f32::NAN]).is_err());
    }
}
