//! Chroma upsampling as libjpeg-turbo's jdsample.c does it with `do_fancy_upsampling` (the
//! default, and Pillow's): triangle filters for 2:1 ratios with libjpeg's alternating rounding
//! biases, pixel replication for other integral ratios. Rows above the first and below the
//! last real row of a component repeat that row (jdmainct.c's context pointers); the right edge
//! is the component's own width, not its block-padded width.

use super::layout::{CompLayout, Upsample};
use super::Error;

/// One component's samples after the IDCT: whole blocks, `stride` = 8 · blocks per row.
pub(super) struct Plane {
    pub data: Vec<u8>,
    pub stride: usize,
}

impl Plane {
    fn row(&self, r: usize) -> Result<&[u8], Error> {
        self.data
            .get(r * self.stride..(r + 1) * self.stride)
            .ok_or(Error::Corrupt("upsampling outside the component"))
    }
}

/// Per-component working rows, allocated once per image.
pub(super) struct Scratch {
    out: Vec<u8>,
    colsum: Vec<u16>,
}

impl Scratch {
    pub fn new(comp: &CompLayout, image_width: usize) -> Self {
        let out_len = match comp.upsample {
            Upsample::Full => 0,
            _ => image_width.max(2 * comp.width),
        };
        let colsum_len = if comp.upsample == Upsample::H2V2Fancy { comp.width } else { 0 };
        Scratch { out: vec![0; out_len], colsum: vec![0; colsum_len] }
    }
}

/// Full-resolution row `y` of a component: at least `width` samples.
pub(super) fn row<'a>(
    plane: &'a Plane,
    comp: &CompLayout,
    y: usize,
    width: usize,
    scratch: &'a mut Scratch,
) -> Result<&'a [u8], Error> {
    let cw = comp.width;
    let last = comp.height.saturating_sub(1);
    // The nearer and the farther input row of a 2:1 vertical filter.
    let near_far = |y: usize| {
        let r = y / 2;
        let far = if y.is_multiple_of(2) { r.saturating_sub(1) } else { (r + 1).min(last) };
        (r.min(last), far)
    };
    let short = Error::Corrupt("upsampling outside the component");
    match comp.upsample {
        Upsample::Full => Ok(plane.row(y.min(last))?.get(..width).ok_or(short)?),
        Upsample::H2V1Fancy => {
            let input = plane.row(y.min(last))?.get(..cw).ok_or(short)?;
            let out = scratch.out.get_mut(..2 * cw).ok_or(short)?;
            h2v1_fancy(input, out);
            Ok(&scratch.out[..])
        }
        Upsample::H1V2Fancy => {
            let (r, far) = near_far(y);
            let near = plane.row(r)?.get(..cw).ok_or(short)?;
            let far_row = plane.row(far)?.get(..cw).ok_or(short)?;
            // Upper output row: bias 1; lower: bias 2.
            let bias = if y.is_multiple_of(2) { 1 } else { 2 };
            let out = scratch.out.get_mut(..cw).ok_or(short)?;
            for ((o, &a), &b) in out.iter_mut().zip(near).zip(far_row) {
                *o = ((u16::from(a) * 3 + u16::from(b) + bias) >> 2) as u8;
            }
            Ok(&scratch.out[..])
        }
        Upsample::H2V2Fancy => {
            let (r, far) = near_far(y);
            let near = plane.row(r)?.get(..cw).ok_or(short)?;
            let far_row = plane.row(far)?.get(..cw).ok_or(short)?;
            let sums = scratch.colsum.get_mut(..cw).ok_or(short)?;
            for ((s, &a), &b) in sums.iter_mut().zip(near).zip(far_row) {
                *s = u16::from(a) * 3 + u16::from(b);
            }
            let out = scratch.out.get_mut(..2 * cw).ok_or(short)?;
            h2v2_fancy(sums, out);
            Ok(&scratch.out[..])
        }
        Upsample::Box { h, v } => {
            let input = plane.row((y / v).min(last))?;
            let out = scratch.out.get_mut(..width).ok_or(short)?;
            for (chunk, &value) in out.chunks_mut(h).zip(input) {
                chunk.fill(value);
            }
            Ok(&scratch.out[..])
        }
    }
}

/// `h2v1_fancy_upsample` for one row: `out` has twice the samples of `input`.
fn h2v1_fancy(input: &[u8], out: &mut [u8]) {
    let n = input.len();
    if n < 2 || out.len() < 2 * n {
        // libjpeg uses replication for components this narrow (Layout picks Box).
        for (pair, &v) in out.chunks_mut(2).zip(input) {
            pair.fill(v);
        }
        return;
    }
    let px = |i: usize| i32::from(input[i]);
    out[0] = input[0];
    out[1] = ((px(0) * 3 + px(1) + 2) >> 2) as u8;
    for (i, pair) in out[2..2 * n - 2].chunks_exact_mut(2).enumerate() {
        let (left, mid, right) = (px(i), px(i + 1) * 3, px(i + 2));
        pair[0] = ((mid + left + 1) >> 2) as u8;
        pair[1] = ((mid + right + 2) >> 2) as u8;
    }
    out[2 * n - 2] = ((px(n - 1) * 3 + px(n - 2) + 1) >> 2) as u8;
    out[2 * n - 1] = input[n - 1];
}

/// `h2v2_fancy_upsample` for one output row, from the column sums 3·nearer + farther.
fn h2v2_fancy(sums: &[u16], out: &mut [u8]) {
    let n = sums.len();
    if n < 2 || out.len() < 2 * n {
        for (pair, &s) in out.chunks_mut(2).zip(sums) {
            pair.fill(((i32::from(s) * 4 + 8) >> 4) as u8);
        }
        return;
    }
    let s = |i: usize| i32::from(sums[i]);
    out[0] = ((s(0) * 4 + 8) >> 4) as u8;
    out[1] = ((s(0) * 3 + s(1) + 7) >> 4) as u8;
    for (i, pair) in out[2..2 * n - 2].chunks_exact_mut(2).enumerate() {
        let (last, this, next) = (s(i), s(i + 1) * 3, s(i + 2));
        pair[0] = ((this + last + 8) >> 4) as u8;
        pair[1] = ((this + next + 7) >> 4) as u8;
    }
    out[2 * n - 2] = ((s(n - 1) * 3 + s(n - 2) + 8) >> 4) as u8;
    out[2 * n - 1] = ((s(n - 1) * 4 + 7) >> 4) as u8;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2v1_matches_libjpeg_biases() {
        let mut out = [0u8; 6];
        h2v1_fancy(&[10, 20, 31], &mut out);
        // 10, (30+20+2)/4=13, (60+10+1)/4=17, (60+31+2)/4=23, (93+20+1)/4=28, 31
        assert_eq!(out, [10, 13, 17, 23, 28, 31]);
    }

    #[test]
    fn h2v2_matches_libjpeg_biases() {
        let mut out = [0u8; 4];
        // near row [10, 20], far row [30, 40]: sums 60, 100
        h2v2_fancy(&[60, 100], &mut out);
        // (240+8)/16=15, (180+100+7)/16=17, (300+60+8)/16=23, (400+7)/16=25
        assert_eq!(out, [15, 17, 23, 25]);
    }
}
