//! Text detection: PP-OCRv5's DBNet gives a per-pixel text probability; DB post-processing
//! turns it into rotated boxes, as PaddleOCR's `DBPostProcess` does: threshold the map, take
//! each connected region's minimum-area rectangle, keep it if the mean probability inside is
//! high enough, and grow it ("unclip") by area × ratio / perimeter, since the network is
//! trained to predict a shrunken text kernel.

use image::RgbImage;

use super::geometry::{convex_hull, Pt, Quad, RotatedRect};

/// Detection settings (PaddleOCR's defaults for PP-OCRv5 where they exist).
#[derive(Debug, Clone, Copy)]
pub struct DetectionSettings {
    /// Pixels with probability above this are text.
    pub pixel_threshold: f32,
    /// A region is kept when the mean probability inside its box reaches this.
    pub box_threshold: f32,
    pub unclip_ratio: f32,
    /// The detector's input is at most this many pixels on its longer side (memory and time
    /// grow with the area; text smaller than ~8 px at this scale is lost).
    pub max_side: usize,
    /// Small images are enlarged so their shorter side is at least this.
    pub min_side: usize,
    /// Regions kept at most (largest first), against pathological noise.
    pub max_regions: usize,
}

impl Default for DetectionSettings {
    fn default() -> Self {
        DetectionSettings {
            pixel_threshold: 0.3,
            box_threshold: 0.6,
            unclip_ratio: 1.5,
            max_side: 2048,
            min_side: 64,
            max_regions: 1000,
        }
    }
}

/// The detector input size for an image: scaled to the limits, each side a multiple of 32.
pub fn input_size(width: u32, height: u32, settings: &DetectionSettings) -> (usize, usize) {
    let (w, h) = (width as f32, height as f32);
    let mut scale = 1.0f32;
    if w.max(h) > settings.max_side as f32 {
        scale = settings.max_side as f32 / w.max(h);
    } else if w.min(h) < settings.min_side as f32 {
        scale = settings.min_side as f32 / w.min(h);
    }
    let round32 = |v: f32| (((v * scale) / 32.0).round() as usize).max(1) * 32;
    (round32(w), round32(h))
}

/// RGB planes normalised to (x/255 − 0.5)/0.5, resized to `(width, height)`.
pub fn detector_input(image: &RgbImage, (width, height): (usize, usize)) -> Vec<f32> {
    let resized = crate::resample::resize_rgb(
        image.as_raw(),
        (image.width() as usize, image.height() as usize),
        (width, height),
        crate::resample::Resample::Bilinear,
    );
    let plane = width * height;
    let mut input = vec![0f32; 3 * plane];
    for (i, px) in resized.chunks_exact(3).enumerate() {
        for c in 0..3 {
            input[c * plane + i] = px[c] as f32 / 127.5 - 1.0;
        }
    }
    input
}

/// A detected text region in detector-input coordinates, with its mean probability.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRegion {
    pub quad: Quad,
    pub score: f32,
}

/// DB post-processing of a `width × height` probability map.
pub fn text_regions(prob: &[f32], width: usize, height: usize, settings: &DetectionSettings) -> Vec<TextRegion> {
    let mut regions = Vec::new();
    for component in components(prob, width, height, settings.pixel_threshold) {
        let hull = convex_hull(&component.boundary);
        let Some(rect) = RotatedRect::min_area(&hull) else { continue };
        if rect.short_side() < 3.0 {
            continue;
        }
        let score = mean_inside(prob, width, height, &rect.to_quad());
        if score < settings.box_threshold {
            continue;
        }
        // Unclip: the offset distance of a polygon of this area and perimeter.
        let (area, perimeter) = (rect.length * rect.thickness, 2.0 * (rect.length + rect.thickness));
        let grown = rect.expanded(area * settings.unclip_ratio / perimeter);
        if grown.short_side() < 5.0 {
            continue;
        }
        regions.push((component.size, TextRegion { quad: grown.to_quad(), score }));
    }
    regions.sort_by(|a, b| b.0.cmp(&a.0));
    regions.truncate(settings.max_regions);
    regions.into_iter().map(|(_, r)| r).collect()
}

struct Component {
    /// Pixel centres on the region's border (enough for its convex hull).
    boundary: Vec<Pt>,
    size: usize,
}

/// 8-connected regions of pixels above `threshold` (what OpenCV's contour tracing outlines).
fn components(prob: &[f32], width: usize, height: usize, threshold: f32) -> Vec<Component> {
    let on = |x: usize, y: usize| prob[y * width + x] > threshold;
    let mut seen = vec![false; width * height];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..width * height {
        if seen[start] || prob[start] <= threshold {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut boundary, mut size) = (Vec::new(), 0usize);
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y) = (i % width, i / width);
            let mut border = false;
            for dy in -1i32..=1 {
                for dx in -1i32..=1 {
                    if dx == 0 && dy == 0 {
                        continue;
                    }
                    let (nx, ny) = (x as i32 + dx, y as i32 + dy);
                    if nx < 0 || ny < 0 || nx >= width as i32 || ny >= height as i32 {
                        border = true;
                        continue;
                    }
                    let (nx, ny) = (nx as usize, ny as usize);
                    if !on(nx, ny) {
                        border = true;
                        continue;
                    }
                    let j = ny * width + nx;
                    if !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
            if border {
                boundary.push([x as f32, y as f32]);
            }
        }
        out.push(Component { boundary, size });
    }
    out
}

/// Mean probability of the pixels whose centres lie inside `quad`.
fn mean_inside(prob: &[f32], width: usize, height: usize, quad: &Quad) -> f32 {
    let [x0, y0, x1, y1] = quad.bounds();
    let (x0, y0) = (x0.floor().max(0.0) as usize, y0.floor().max(0.0) as usize);
    let (x1, y1) = ((x1.ceil() as usize).min(width - 1), (y1.ceil() as usize).min(height - 1));
    let (mut sum, mut count) = (0.0f64, 0usize);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if quad.contains([x as f32, y as f32]) {
                sum += prob[y * width + x] as f64;
                count += 1;
            }
        }
    }
    if count == 0 { 0.0 } else { (sum / count as f64) as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_sizes_are_multiples_of_32_within_limits() {
        let s = DetectionSettings::default();
        assert_eq!(input_size(640, 480, &s), (640, 480));
        assert_eq!(input_size(1024, 800, &s), (1024, 800));
        assert_eq!(input_size(4096, 3072, &s), (2048, 1536));
        assert_eq!(input_size(50, 200, &s), (64, 256));
    }

    #[test]
    fn a_bar_of_text_probability_becomes_one_grown_box() {
        let (w, h) = (100, 40);
        let mut prob = vec![0f32; w * h];
        for y in 15..21 {
            for x in 20..80 {
                prob[y * w + x] = 0.9;
            }
        }
        // A speck below the box threshold's support.
        prob[2 * w + 2] = 0.9;
        let regions = text_regions(&prob, w, h, &DetectionSettings::default());
        assert_eq!(regions.len(), 1, "{regions:?}");
        let [x0, y0, x1, y1] = regions[0].quad.bounds();
        // Kernel 59×5 (pixel centres); unclip distance = 295·1.5/128 ≈ 3.46.
        assert!((x0 - 16.54).abs() < 0.05 && (x1 - 82.46).abs() < 0.05, "{x0} {x1}");
        assert!((y0 - 11.54).abs() < 0.05 && (y1 - 23.46).abs() < 0.05, "{y0} {y1}");
        assert!((regions[0].score - 0.9).abs() < 1e-4);
    }
}
