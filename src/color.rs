//! Image Analysis 3.2's `color` feature, computed from pixels: the dominant colours of the
//! foreground (centre) and background (border), the image's dominant colours, an accent colour,
//! and whether the image is black and white.
//!
//! Colours are named with 3.2's twelve names. A pixel is named by hue when it is saturated
//! enough, otherwise by lightness (Black, Gray, White); dark orange/red becomes Brown. The image
//! is sampled on a grid of at most 160×160 points, which is plenty for shares of colour and
//! keeps the cost independent of the image size.

use image::RgbImage;
use serde::{Deserialize, Serialize};

/// 3.2's colour names.
pub const COLOR_NAMES: [&str; 12] =
    ["Black", "Blue", "Brown", "Gray", "Green", "Orange", "Pink", "Purple", "Red", "Teal", "White", "Yellow"];

/// Share of the sampled pixels a colour needs to be listed among `dominantColors`.
const DOMINANT_SHARE: f32 = 0.15;
/// A pixel whose channels differ by at most this much is grey.
const GREY_SPREAD: u8 = 24;
/// An image is black and white when this share of its pixels is grey.
const BW_SHARE: f32 = 0.995;
const SAMPLES_PER_SIDE: u32 = 160;

/// The 3.2 `color` object (both spellings of the B/W flag, as 3.2 returns them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColorInfo {
    pub dominant_color_foreground: String,
    pub dominant_color_background: String,
    pub dominant_colors: Vec<String>,
    /// Six hex digits, no `#`, as 3.2 returns it.
    pub accent_color: String,
    pub is_bw_img: bool,
    #[serde(rename = "isBWImg")]
    pub is_bw_img_upper: bool,
}

fn hsv(r: u8, g: u8, b: u8) -> (f32, f32, f32) {
    let (r, g, b) = (r as f32 / 255.0, g as f32 / 255.0, b as f32 / 255.0);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let delta = max - min;
    let hue = if delta == 0.0 {
        0.0
    } else if max == r {
        60.0 * (((g - b) / delta).rem_euclid(6.0))
    } else if max == g {
        60.0 * ((b - r) / delta + 2.0)
    } else {
        60.0 * ((r - g) / delta + 4.0)
    };
    let saturation = if max == 0.0 { 0.0 } else { delta / max };
    (hue, saturation, max)
}

fn is_grey(px: [u8; 3]) -> bool {
    px.iter().max().unwrap() - px.iter().min().unwrap() <= GREY_SPREAD
}

/// Index into COLOR_NAMES.
pub fn color_name(px: [u8; 3]) -> usize {
    let (hue, saturation, value) = hsv(px[0], px[1], px[2]);
    if is_grey(px) || saturation < 0.2 || value < 0.15 {
        return if value < 0.25 { 0 } else if value > 0.85 { 10 } else { 3 };
    }
    let by_hue = match hue {
        h if !(15.0..345.0).contains(&h) => 8, // Red
        h if h < 40.0 => 5,                    // Orange
        h if h < 70.0 => 11,                   // Yellow
        h if h < 160.0 => 4,                   // Green
        h if h < 195.0 => 9,                   // Teal
        h if h < 255.0 => 1,                   // Blue
        h if h < 290.0 => 7,                   // Purple
        _ => 6,                                // Pink (magenta to rose)
    };
    match by_hue {
        5 | 8 | 11 if value < 0.55 => 2, // dark orange/red/yellow reads as Brown
        8 if saturation < 0.5 && value > 0.7 => 6, // light, soft red is Pink
        other => other,
    }
}

/// Sampled pixels with a flag for "in the central region" (the foreground).
fn samples(image: &RgbImage) -> Vec<([u8; 3], bool)> {
    let (w, h) = image.dimensions();
    let (nx, ny) = (w.min(SAMPLES_PER_SIDE), h.min(SAMPLES_PER_SIDE));
    let mut out = Vec::with_capacity((nx * ny) as usize);
    for j in 0..ny {
        for i in 0..nx {
            let (x, y) = ((2 * i + 1) * w / (2 * nx), (2 * j + 1) * h / (2 * ny));
            // The middle half of each axis is the foreground; the rest frames it.
            let central = (nx / 4..nx - nx / 4).contains(&i) && (ny / 4..ny - ny / 4).contains(&j);
            out.push((image.get_pixel(x, y).0, central));
        }
    }
    out
}

fn most_common(counts: &[usize; 12]) -> usize {
    (0..12).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap_or(0)
}

pub fn analyze_color(image: &RgbImage) -> ColorInfo {
    let samples = samples(image);
    let (mut all, mut fore, mut back) = ([0usize; 12], [0usize; 12], [0usize; 12]);
    let mut grey = 0usize;
    for &(px, central) in &samples {
        let name = color_name(px);
        all[name] += 1;
        if central { fore[name] += 1 } else { back[name] += 1 }
        grey += is_grey(px) as usize;
    }
    let total = samples.len().max(1) as f32;
    let mut dominant: Vec<usize> = (0..12).filter(|&i| all[i] as f32 / total >= DOMINANT_SHARE).collect();
    dominant.sort_by_key(|&i| std::cmp::Reverse(all[i]));
    if dominant.is_empty() {
        dominant.push(most_common(&all));
    }
    let is_bw = grey as f32 / total >= BW_SHARE;
    ColorInfo {
        dominant_color_foreground: COLOR_NAMES[most_common(&fore)].into(),
        dominant_color_background: COLOR_NAMES[most_common(&back)].into(),
        dominant_colors: dominant.iter().map(|&i| COLOR_NAMES[i].to_string()).collect(),
        accent_color: accent(&samples),
        is_bw_img: is_bw,
        is_bw_img_upper: is_bw,
    }
}

/// The most vivid colour family present: among saturated, bright pixels, the hue bin with the
/// most weight (saturation × value), reported as that bin's mean colour. Falls back to the mean
/// colour of the image when nothing is vivid.
fn accent(samples: &[([u8; 3], bool)]) -> String {
    const BINS: usize = 24;
    let mut weight = [0f32; BINS];
    let mut sum = [[0f32; 3]; BINS];
    for &(px, _) in samples {
        let (hue, saturation, value) = hsv(px[0], px[1], px[2]);
        if saturation < 0.35 || value < 0.35 {
            continue;
        }
        let bin = ((hue / 360.0 * BINS as f32) as usize).min(BINS - 1);
        let w = saturation * value;
        weight[bin] += w;
        for c in 0..3 {
            sum[bin][c] += w * px[c] as f32;
        }
    }
    let best = (0..BINS).max_by(|&a, &b| weight[a].total_cmp(&weight[b])).unwrap_or(0);
    let rgb: [f32; 3] = if weight[best] > 0.0 {
        [sum[best][0] / weight[best], sum[best][1] / weight[best], sum[best][2] / weight[best]]
    } else {
        let n = samples.len().max(1) as f32;
        let mut mean = [0f32; 3];
        for &(px, _) in samples {
            for c in 0..3 {
                mean[c] += px[c] as f32 / n;
            }
        }
        mean
    };
    rgb.iter().map(|v| format!("{:02X}", v.round().clamp(0.0, 255.0) as u8)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pure_colors() {
        let cases = [
            ([0, 0, 0], "Black"), ([255, 255, 255], "White"), ([128, 128, 128], "Gray"),
            ([230, 20, 20], "Red"), ([250, 140, 0], "Orange"), ([240, 230, 20], "Yellow"),
            ([20, 200, 40], "Green"), ([0, 160, 160], "Teal"), ([20, 40, 230], "Blue"),
            ([130, 30, 200], "Purple"), ([240, 60, 200], "Pink"), ([120, 60, 20], "Brown"),
        ];
        for (px, name) in cases {
            assert_eq!(COLOR_NAMES[color_name(px)], name, "{px:?}");
        }
    }

    #[test]
    fn foreground_background_and_bw() {
        // Black frame, green centre.
        let image = RgbImage::from_fn(200, 100, |x, y| {
            if (50..150).contains(&x) && (25..75).contains(&y) { image::Rgb([20, 200, 40]) } else { image::Rgb([0, 0, 0]) }
        });
        let info = analyze_color(&image);
        assert_eq!(info.dominant_color_background, "Black");
        assert_eq!(info.dominant_color_foreground, "Green");
        assert_eq!(info.dominant_colors, ["Black", "Green"]);
        assert!(!info.is_bw_img);
        assert_eq!(&info.accent_color[2..4], "C8", "the green's G channel: {}", info.accent_color);

        let grey = RgbImage::from_fn(120, 90, |x, _| image::Rgb([(x * 2) as u8; 3]));
        let info = analyze_color(&grey);
        assert!(info.is_bw_img && info.is_bw_img_upper);
        assert_eq!(info.accent_color.len(), 6);
    }
}
