//! Pillow's resampler (libImaging/Resample.c, `Image.resize` with BICUBIC or BILINEAR) for 8-bit
//! RGB, reproduced bit for bit: separable convolution in Pillow 13's pass order (horizontal first
//! over only the rows the vertical pass reads or, when the height shrinks much more than the
//! width, vertical first over only the columns the horizontal pass reads: [`PassOrder::pillow`]),
//! the filter widened by the scale when downsampling (antialiasing), weights in 22-bit fixed
//! point, rounding and clipping to 8 bits after each pass.
//!
//! Why our own: SigLIP was trained and is evaluated on exactly these bytes (Hugging Face's
//! SiglipImageProcessor resizes with PIL). `fast_image_resize` was tried first: its 8-bit kernels
//! use lower-precision weights and differed from PIL by up to 5 levels (0.039 in pixel_values) on
//! ../shared/images/photos/astronaut.png, over the 0.02 budget. This port matches Pillow 13's
//! output exactly on all 27 golden images (tests/parity.rs checks the checksums) and on hundreds
//! of random sizes and filters (tests/pil_resize.rs, against Pillow itself).

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Pillow's resampling filter: SigLIP's descriptors name theirs (`sightline.json`'s `resample`);
/// YuNet and PP-OCR scale their inputs bilinearly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Resample {
    /// PIL's BICUBIC (Catmull-Rom, a = -0.5, antialiased when downscaling): SigLIP.
    Bicubic,
    /// PIL's BILINEAR (antialiased triangle filter): SigLIP 2, YuNet, PP-OCR.
    Bilinear,
}

const PRECISION_BITS: u32 = 32 - 8 - 2;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

impl Resample {
    fn support(self) -> f64 {
        match self {
            Resample::Bicubic => 2.0,
            Resample::Bilinear => 1.0,
        }
    }

    fn weight(self, x: f64) -> f64 {
        let x = x.abs();
        match self {
            // Keys' cubic with a = -0.5, as PIL.
            Resample::Bicubic => {
                const A: f64 = -0.5;
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Resample::Bilinear => (1.0 - x).max(0.0),
        }
    }
}

/// For each output index: the first input index and the fixed-point weights of its taps.
struct Kernel {
    first: Vec<usize>,
    taps: Vec<usize>,
    /// `stride` weights per output index (unused tail entries are zero).
    weights: Vec<i32>,
    stride: usize,
}

impl Kernel {
    fn new(in_size: usize, out_size: usize, filter: Resample) -> Kernel {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let stride = support.ceil() as usize * 2 + 1;
        let mut kernel = Kernel {
            first: Vec::with_capacity(out_size),
            taps: Vec::with_capacity(out_size),
            weights: vec![0; out_size * stride],
            stride,
        };
        // Multiplying by the reciprocal (not dividing by filterscale) matters: it is what PIL
        // does, and the last-bit difference can flip a fixed-point weight.
        let reciprocal = 1.0 / filterscale;
        let mut k = vec![0f64; stride];
        for out in 0..out_size {
            let center = (out as f64 + 0.5) * scale;
            // C's (int) cast truncates toward zero, as in Resample.c.
            let first = ((center - support + 0.5) as i64).max(0) as usize;
            let taps = ((center + support + 0.5) as i64).min(in_size as i64) as usize - first;
            let mut total = 0.0;
            for (i, w) in k[..taps].iter_mut().enumerate() {
                *w = filter.weight(((i + first) as f64 - center + 0.5) * reciprocal);
                total += *w;
            }
            let row = &mut kernel.weights[out * stride..out * stride + taps];
            for (fixed, &w) in row.iter_mut().zip(&k[..taps]) {
                let w = if total != 0.0 { w / total } else { w };
                let scaled = w * (1u32 << PRECISION_BITS) as f64;
                *fixed = if w < 0.0 { (scaled - 0.5) as i32 } else { (scaled + 0.5) as i32 };
            }
            kernel.first.push(first);
            kernel.taps.push(taps);
        }
        kernel
    }

    fn weights(&self, out: usize) -> &[i32] {
        &self.weights[out * self.stride..out * self.stride + self.taps[out]]
    }
}

fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// Which separable pass runs first. Each pass rounds and clips to 8 bits, so the order shows in
/// the output (by a level or two).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassOrder {
    HorizontalFirst,
    VerticalFirst,
}

impl PassOrder {
    /// The order Pillow 13 picks (ImagingResampleInner, read from the disassembly of Pillow
    /// 13.0.0's `_imaging` and confirmed against it on random sizes by tests/pil_resize.rs):
    /// vertical first when both passes are needed, the height shrinks, and it shrinks by more than
    /// twice what the width shrinks (`in_h − out_h > 2·(in_w − out_w)`, in integers). Pillow ≤ 12
    /// always went horizontal first. When only one pass is needed the order does not matter.
    pub fn pillow((width, height): (usize, usize), (out_width, out_height): (usize, usize)) -> PassOrder {
        let (dh, dw) = (height as i64 - out_height as i64, width as i64 - out_width as i64);
        if out_width != width && out_height != height && dh > 0 && dh > 2 * dw {
            PassOrder::VerticalFirst
        } else {
            PassOrder::HorizontalFirst
        }
    }
}

/// Horizontal pass over `rows` of `src` (`width` pixels a row), reading input columns from
/// `col_offset` on: `rows.len()` rows of `kernel`'s output width.
fn horizontal_pass(src: &[u8], width: usize, rows: Range<usize>, kernel: &Kernel, col_offset: usize) -> Vec<u8> {
    let out_width = kernel.first.len();
    let mut out = vec![0u8; out_width * rows.len() * 3];
    for (y, out_row) in rows.zip(out.chunks_exact_mut(out_width * 3)) {
        let row = &src[y * width * 3..(y + 1) * width * 3];
        for (x, px) in out_row.chunks_exact_mut(3).enumerate() {
            let weights = kernel.weights(x);
            let input = &row[(kernel.first[x] - col_offset) * 3..][..weights.len() * 3];
            let (mut r, mut g, mut b) = (HALF, HALF, HALF);
            for (p, &w) in input.chunks_exact(3).zip(weights) {
                r += p[0] as i32 * w;
                g += p[1] as i32 * w;
                b += p[2] as i32 * w;
            }
            px.copy_from_slice(&[clip8(r), clip8(g), clip8(b)]);
        }
    }
    out
}

/// Vertical pass over columns `cols` of `src` (`width` pixels a row, its first row being input
/// row `row_offset`): `kernel`'s output height of rows `cols.len()` pixels wide.
fn vertical_pass(src: &[u8], width: usize, cols: Range<usize>, kernel: &Kernel, row_offset: usize) -> Vec<u8> {
    let (row_len, start) = (cols.len() * 3, cols.start * 3);
    let mut out = vec![0u8; row_len * kernel.first.len()];
    // One accumulator row, reused: taps outermost so every read is a contiguous row.
    let mut acc = vec![0i32; row_len];
    for (y, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        acc.fill(HALF);
        let first = kernel.first[y] - row_offset;
        for (i, &w) in kernel.weights(y).iter().enumerate() {
            let input = &src[(first + i) * width * 3 + start..][..row_len];
            for (a, &v) in acc.iter_mut().zip(input) {
                *a += v as i32 * w;
            }
        }
        for (value, &a) in out_row.iter_mut().zip(&acc) {
            *value = clip8(a);
        }
    }
    out
}

/// The horizontal pass, then the vertical one, over a sliding window of horizontally filtered
/// rows: each output row reads rows `first[y]..first[y] + taps[y]`, and `first` never decreases,
/// so rows leave the window in order and each is filtered once. Every value is computed as in
/// `horizontal_pass` + `vertical_pass`, so the output is the same to the bit.
fn horizontal_then_vertical(src: &[u8], width: usize, horizontal: &Kernel, vertical: &Kernel) -> Vec<u8> {
    let row_len = horizontal.first.len() * 3;
    let mut out = vec![0u8; row_len * vertical.first.len()];
    let mut acc = vec![0i32; row_len];
    // Filtered rows `window.start..window.end` of the source, contiguous in `rows`.
    let (mut rows, mut window) = (Vec::new(), 0..0);
    for (y, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let needed = vertical.first[y]..vertical.first[y] + vertical.taps[y];
        if needed.start < window.start {
            // Never for Pillow's kernels; start the window over rather than read before it.
            rows.clear();
            window = needed.start..needed.start;
        }
        let keep_from = needed.start.clamp(window.start, window.end);
        rows.drain(..(keep_from - window.start) * row_len);
        window = keep_from.max(needed.start)..window.end.max(needed.start);
        if needed.end > window.end {
            rows.extend(horizontal_pass(src, width, window.end..needed.end, horizontal, 0));
            window.end = needed.end;
        }
        acc.fill(HALF);
        for (i, &w) in vertical.weights(y).iter().enumerate() {
            let input = &rows[(needed.start - window.start + i) * row_len..][..row_len];
            for (a, &v) in acc.iter_mut().zip(input) {
                *a += v as i32 * w;
            }
        }
        for (value, &a) in out_row.iter_mut().zip(&acc) {
            *value = clip8(a);
        }
    }
    out
}

/// Resize packed 8-bit RGB `width`×`height` to `out_width`×`out_height` exactly as Pillow 13
/// does, in the pass order it picks ([`PassOrder::pillow`]).
pub fn resize_rgb(src: &[u8], size: (usize, usize), out_size: (usize, usize), filter: Resample) -> Vec<u8> {
    resize_rgb_in_order(src, size, out_size, filter, PassOrder::pillow(size, out_size))
}

/// [`resize_rgb`] with the pass order forced (Pillow ≤ 12 always went horizontal first).
pub fn resize_rgb_in_order(
    src: &[u8],
    (width, height): (usize, usize),
    (out_width, out_height): (usize, usize),
    filter: Resample,
    order: PassOrder,
) -> Vec<u8> {
    assert_eq!(src.len(), width * height * 3, "RGB buffer size");
    let (need_horizontal, need_vertical) = (out_width != width, out_height != height);
    if !need_horizontal && !need_vertical {
        return src.to_vec();
    }
    let horizontal = Kernel::new(width, out_width, filter);
    let vertical = Kernel::new(height, out_height, filter);
    if !need_vertical {
        return horizontal_pass(src, width, 0..height, &horizontal, 0);
    }
    if !need_horizontal {
        return vertical_pass(src, width, 0..width, &vertical, 0);
    }
    match order {
        // Only the source rows the vertical pass reads, each filtered horizontally when the
        // vertical pass first needs it: a window of rows instead of an image `out_width` wide and
        // as tall as the source (98 MB for a 16,000-pixel photo going to 2048), same numbers.
        PassOrder::HorizontalFirst => horizontal_then_vertical(src, width, &horizontal, &vertical),
        // Only the source columns the horizontal pass reads; then the horizontal pass over them.
        // (Pillow filters every column; the others never reach the output.)
        PassOrder::VerticalFirst => {
            let first = horizontal.first[0];
            let last = horizontal.first[out_width - 1] + horizontal.taps[out_width - 1];
            let tmp = vertical_pass(src, width, first..last, &vertical, 0);
            horizontal_pass(&tmp, last - first, 0..out_height, &horizontal, first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_size_is_a_copy() {
        let src: Vec<u8> = (0..60 * 50 * 3).map(|i| (i * 7 % 251) as u8).collect();
        assert_eq!(resize_rgb(&src, (60, 50), (60, 50), Resample::Bicubic), src);
    }

    #[test]
    fn constant_stays_constant_both_ways() {
        let src = [10u8, 128, 250].repeat(333 * 77);
        for (w, h) in [(224, 224), (1000, 20)] {
            let out = resize_rgb(&src, (333, 77), (w, h), Resample::Bicubic);
            assert!(out.chunks_exact(3).all(|p| p == [10, 128, 250]));
            let out = resize_rgb(&src, (333, 77), (w, h), Resample::Bilinear);
            assert!(out.chunks_exact(3).all(|p| p == [10, 128, 250]));
        }
    }

    #[test]
    fn pass_order_is_pillow_13s() {
        use PassOrder::{HorizontalFirst as H, VerticalFirst as V};
        let order = |size, out| PassOrder::pillow(size, out);
        assert_eq!(order((60, 600), (224, 224)), V); // tests/golden/inputs/tall.png
        assert_eq!(order((600, 60), (224, 224)), H);
        assert_eq!(order((1000, 700), (224, 224)), H);
        // in_h − out_h against 2·(in_w − out_w): a tie stays horizontal-first.
        assert_eq!(order((324, 424), (224, 224)), H);
        assert_eq!(order((324, 425), (224, 224)), V);
        // The height must shrink, and both passes must be needed.
        assert_eq!(order((100, 223), (224, 224)), H);
        assert_eq!(order((224, 1000), (224, 224)), H);
        assert_eq!(order((100, 1000), (100, 224)), H);
    }

    #[test]
    fn both_orders_agree_when_one_pass_suffices_and_on_constants() {
        let src: Vec<u8> = (0..90 * 70 * 3).map(|i| (i * 13 % 253) as u8).collect();
        for (size, out) in [((90, 70), (90, 20)), ((90, 70), (30, 70))] {
            let h = resize_rgb_in_order(&src, size, out, Resample::Bicubic, PassOrder::HorizontalFirst);
            let v = resize_rgb_in_order(&src, size, out, Resample::Bicubic, PassOrder::VerticalFirst);
            assert_eq!(h, v);
        }
        let constant = [200u8, 3, 77].repeat(90 * 70);
        for order in [PassOrder::HorizontalFirst, PassOrder::VerticalFirst] {
            let out = resize_rgb_in_order(&constant, (90, 70), (33, 224), Resample::Bicubic, order);
            assert!(out.chunks_exact(3).all(|p| p == [200, 3, 77]));
        }
        // On other content the orders differ (each pass rounds to 8 bits).
        let h = resize_rgb_in_order(&src, (90, 70), (33, 20), Resample::Bicubic, PassOrder::HorizontalFirst);
        let v = resize_rgb_in_order(&src, (90, 70), (33, 20), Resample::Bicubic, PassOrder::VerticalFirst);
        assert_ne!(h, v);
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (inp, out) in [(512, 224), (50, 224), (16000, 224), (224, 224)] {
            let k = Kernel::new(inp, out, Resample::Bicubic);
            for o in 0..out {
                let sum: i32 = k.weights(o).iter().sum();
                assert!((sum - (1 << PRECISION_BITS)).abs() <= k.taps[o] as i32, "{inp}->{out} @{o}: {sum}");
            }
        }
    }
}
