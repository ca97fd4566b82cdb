//! Text-line recognition: cut each detected quad out of the image upright, and read it with
//! PP-OCRv5's CRNN (48 px high, CTC over an 18,383-character dictionary).

use image::RgbImage;

use super::geometry::Quad;
use crate::error::{Result, SightlineError};

/// The recogniser's input height.
pub const LINE_HEIGHT: usize = 48;
/// Narrower inputs are padded to this width, as PaddleOCR does.
pub const MIN_LINE_WIDTH: usize = 320;
/// Padded widths are multiples of this, so the lines of a page share a few network shapes.
pub const LINE_WIDTH_STEP: usize = 160;
/// Longer lines are squeezed to this width (≈ 130 characters at 48 px height).
pub const MAX_LINE_WIDTH: usize = 3200;

/// An upright crop of a text line, RGB, row-major.
#[derive(Debug, Clone)]
pub struct LineCrop {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl LineCrop {
    /// Sample `quad` (reading order corners) into a `width × height` upright image, bilinear,
    /// replicating the border like OpenCV's `BORDER_REPLICATE`.
    pub fn cut(image: &RgbImage, quad: &Quad) -> LineCrop {
        let width = quad.width().round().max(1.0) as usize;
        let height = quad.height().round().max(1.0) as usize;
        let [a, b, _, d] = quad.0;
        // Affine map: crop (u, v) → image a + u·(b − a)/width + v·(d − a)/height.
        let ux = [(b[0] - a[0]) / width as f32, (b[1] - a[1]) / width as f32];
        let vy = [(d[0] - a[0]) / height as f32, (d[1] - a[1]) / height as f32];
        let (iw, ih) = (image.width() as i64, image.height() as i64);
        let raw = image.as_raw();
        let px = |x: i64, y: i64, c: usize| raw[((y.clamp(0, ih - 1) * iw + x.clamp(0, iw - 1)) * 3) as usize + c] as f32;
        let mut rgb = vec![0u8; width * height * 3];
        for v in 0..height {
            for u in 0..width {
                // Sample at the centre of the crop pixel.
                let (fu, fv) = (u as f32 + 0.5, v as f32 + 0.5);
                let x = a[0] + fu * ux[0] + fv * vy[0] - 0.5;
                let y = a[1] + fu * ux[1] + fv * vy[1] - 0.5;
                let (x0, y0) = (x.floor(), y.floor());
                let (tx, ty) = (x - x0, y - y0);
                let (x0, y0) = (x0 as i64, y0 as i64);
                for c in 0..3 {
                    let top = px(x0, y0, c) * (1.0 - tx) + px(x0 + 1, y0, c) * tx;
                    let bottom = px(x0, y0 + 1, c) * (1.0 - tx) + px(x0 + 1, y0 + 1, c) * tx;
                    rgb[(v * width + u) * 3 + c] = (top * (1.0 - ty) + bottom * ty).round().clamp(0.0, 255.0) as u8;
                }
            }
        }
        LineCrop { width, height, rgb }
    }

    /// The crop turned upside down (for lines the orientation classifier says are at 180°).
    pub fn rotated_180(&self) -> LineCrop {
        let mut rgb = Vec::with_capacity(self.rgb.len());
        for px in self.rgb.chunks_exact(3).rev() {
            rgb.extend_from_slice(px);
        }
        LineCrop { rgb, ..*self }
    }

    /// Resize to `height` keeping the aspect ratio (width capped at `max_width`), then pad on the
    /// right to at least `min_width`, rounded up to a multiple of `step`, with zeros after
    /// normalisation (mid-grey), as PaddleOCR's recogniser and orientation classifier expect.
    /// Returns the planes, the padded width and the width the text occupies.
    pub fn to_input(&self, height: usize, min_width: usize, step: usize, max_width: usize) -> (Vec<f32>, usize, usize) {
        let ratio = self.width as f32 / self.height as f32;
        let text_width = ((height as f32 * ratio).ceil() as usize).clamp(1, max_width);
        let width = text_width.max(min_width).div_ceil(step) * step;
        let resized = crate::resample::resize_rgb(
            &self.rgb,
            (self.width, self.height),
            (text_width, height),
            crate::resample::Resample::Bilinear,
        );
        let plane = width * height;
        let mut input = vec![0f32; 3 * plane];
        for y in 0..height {
            for x in 0..text_width {
                let px = &resized[(y * text_width + x) * 3..][..3];
                for c in 0..3 {
                    input[c * plane + y * width + x] = px[c] as f32 / 127.5 - 1.0;
                }
            }
        }
        (input, width, text_width)
    }
}

/// The recogniser's alphabet: index 0 is the CTC blank, then one entry per class.
#[derive(Debug, Clone)]
pub struct Charset {
    symbols: Vec<String>,
}

impl Charset {
    /// Parse `ppocr_keys_v5.txt` (one symbol per line, index-aligned with the model's classes:
    /// line 0 = blank, last line = a space).
    pub fn parse(bytes: &[u8]) -> Result<Charset> {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| SightlineError::InvalidModel { what: "OCR dictionary".into(), reason: "it is not UTF-8 text".into() })?;
        let symbols: Vec<String> = text.strip_suffix('\n').unwrap_or(text).split('\n').map(|s| s.trim_end_matches('\r').to_string()).collect();
        if symbols.len() < 3 || symbols[0] != "blank" {
            return Err(SightlineError::InvalidModel {
                what: "OCR dictionary".into(),
                reason: "expected PaddleOCR's index-aligned key list: 'blank' on the first line, one character per line".into(),
            });
        }
        Ok(Charset { symbols })
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn symbol(&self, class: usize) -> &str {
        self.symbols.get(class).map(String::as_str).unwrap_or("")
    }
}

/// One recognised character: its text, probability, and the time steps it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedChar {
    pub text: String,
    pub confidence: f32,
    /// First and last CTC time step (inclusive) of the character's run.
    pub steps: (usize, usize),
}

/// Greedy CTC decoding of `[steps, classes]` probabilities: the best class per step, repeats
/// collapsed, blanks dropped.
pub fn ctc_greedy(probs: &[f32], classes: usize, charset: &Charset) -> Vec<DecodedChar> {
    let mut out: Vec<DecodedChar> = Vec::new();
    let mut previous = 0usize;
    let mut run_probs: Vec<f32> = Vec::new();
    for (step, row) in probs.chunks_exact(classes).enumerate() {
        let (best, p) = row.iter().enumerate().fold((0, f32::NEG_INFINITY), |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc });
        if best != 0 && best == previous {
            if let Some(last) = out.last_mut() {
                last.steps.1 = step;
                run_probs.push(p);
                last.confidence = run_probs.iter().copied().fold(0.0, f32::max);
            }
        } else if best != 0 {
            run_probs.clear();
            run_probs.push(p);
            out.push(DecodedChar { text: charset.symbol(best).to_string(), confidence: p, steps: (step, step) });
        }
        previous = best;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charset() -> Charset {
        Charset::parse(b"blank\na\nb\n \n").unwrap()
    }

    #[test]
    fn ctc_collapses_repeats_and_drops_blanks() {
        // steps: a a blank a b b " " b
        let rows = [1, 1, 0, 1, 2, 2, 3, 2];
        let mut probs = vec![0.0f32; rows.len() * 4];
        for (t, &c) in rows.iter().enumerate() {
            probs[t * 4 + c] = 0.9;
        }
        let chars = ctc_greedy(&probs, 4, &charset());
        let text: String = chars.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(text, "aab b");
        assert_eq!(chars[0].steps, (0, 1));
        assert_eq!(chars[2].steps, (4, 5));
    }

    #[test]
    fn the_dictionary_must_be_index_aligned() {
        assert!(Charset::parse(b"a\nb\n").is_err());
        assert_eq!(charset().len(), 4);
        assert_eq!(charset().symbol(3), " ");
    }

    #[test]
    fn crops_are_upright_and_padded_input_is_grey() {
        let mut image = RgbImage::new(20, 10);
        for x in 0..10 {
            for y in 0..10 {
                image.put_pixel(x, y, image::Rgb([255, 255, 255]));
            }
        }
        let quad = Quad([[0.0, 0.0], [20.0, 0.0], [20.0, 10.0], [0.0, 10.0]]);
        let crop = LineCrop::cut(&image, &quad);
        assert_eq!((crop.width, crop.height), (20, 10));
        assert_eq!(&crop.rgb[..3], &[255, 255, 255]);
        assert_eq!(&crop.rgb[(19) * 3..20 * 3], &[0, 0, 0]);
        assert_eq!(&crop.rotated_180().rgb[..3], &[0, 0, 0]);
        let (input, width, text_width) = crop.to_input(48, 320, 160, 3200);
        assert_eq!((width, text_width), (320, 96));
        assert_eq!(input[0], 1.0);
        assert_eq!(input[200], 0.0);
    }
}
