//! YCbCr → RGB exactly as libjpeg's jdcolor.c `ycc_rgb_convert`: 16-bit fixed-point tables
//! (SCALEBITS 16), rounding folded into the tables, green's two terms summed before the shift,
//! then the sample range limit (a clamp to 0..=255).

const SCALEBITS: u32 = 16;
const ONE_HALF: i64 = 1 << (SCALEBITS - 1);

/// libjpeg's `FIX(x)`: `(JLONG)(x * (1 << SCALEBITS) + 0.5)`.
fn fix(x: f64) -> i64 {
    (x * f64::from(1u32 << SCALEBITS) + 0.5) as i64
}

pub(super) struct YccTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i32; 256],
    cb_g: [i32; 256],
}

impl YccTables {
    /// jdcolor.c `build_ycc_rgb_table`.
    pub fn new() -> Self {
        let mut t = YccTables { cr_r: [0; 256], cb_b: [0; 256], cr_g: [0; 256], cb_g: [0; 256] };
        for i in 0..256usize {
            let x = i as i64 - 128;
            t.cr_r[i] = ((fix(1.40200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cb_b[i] = ((fix(1.77200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cr_g[i] = (-fix(0.71414) * x) as i32;
            t.cb_g[i] = (-fix(0.34414) * x + ONE_HALF) as i32;
        }
        t
    }

    /// Convert one row; `out` is RGB, three bytes per pixel, and decides how many pixels.
    pub fn convert_row(&self, y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
        let clamp = |v: i32| v.clamp(0, 255) as u8;
        for (((px, &y), &cb), &cr) in out.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
            let (y, cb, cr) = (i32::from(y), usize::from(cb), usize::from(cr));
            px[0] = clamp(y + self.cr_r[cr]);
            px[1] = clamp(y + ((self.cb_g[cb] + self.cr_g[cr]) >> SCALEBITS));
            px[2] = clamp(y + self.cb_b[cb]);
        }
    }
}

/// Interleave three full-resolution planes' rows without conversion (RGB JPEGs).
pub(super) fn interleave_row(r: &[u8], g: &[u8], b: &[u8], out: &mut [u8]) {
    for (((px, &r), &g), &b) in out.chunks_exact_mut(3).zip(r).zip(g).zip(b) {
        px.copy_from_slice(&[r, g, b]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_are_libjpegs() {
        assert_eq!(fix(1.40200), 91881);
        assert_eq!(fix(1.77200), 116130);
        assert_eq!(fix(0.71414), 46802);
        assert_eq!(fix(0.34414), 22554);
        let t = YccTables::new();
        let mut out = [0u8; 6];
        t.convert_row(&[128, 16], &[128, 255], &[128, 0], &mut out);
        assert_eq!(&out[..3], &[128, 128, 128]);
        // y=16, cb=+127, cr=-128: r = 16-179 → 0, b = 16+225 → 241.
        assert_eq!(out[3], 0);
        assert_eq!(out[5], 241);
    }
}
