//! Dequantisation and inverse DCT exactly as libjpeg's jidctint.c `jpeg_idct_islow` (JDCT_ISLOW,
//! libjpeg-turbo's default and what Pillow uses) for 8-bit samples: CONST_BITS 13, PASS1_BITS 2,
//! JLONG (64-bit) intermediates, an `int` workspace between the passes, the all-zero-AC shortcuts
//! of both passes, and the final range limit through the 10-bit masked table.

const CONST_BITS: u32 = 13;
const PASS1_BITS: u32 = 2;

const FIX_0_298631336: i64 = 2446;
const FIX_0_390180644: i64 = 3196;
const FIX_0_541196100: i64 = 4433;
const FIX_0_765366865: i64 = 6270;
const FIX_0_899976223: i64 = 7373;
const FIX_1_175875602: i64 = 9633;
const FIX_1_501321110: i64 = 12299;
const FIX_1_847759065: i64 = 15137;
const FIX_1_961570560: i64 = 16069;
const FIX_2_053119869: i64 = 16819;
const FIX_2_562915447: i64 = 20995;
const FIX_3_072711026: i64 = 25172;

#[inline(always)]
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// libjpeg's `IDCT_range_limit(cinfo)[x & RANGE_MASK]`: the low 10 bits of `x` as a signed
/// number, plus 128, clamped to 0..=255.
#[inline(always)]
fn range_limit(x: i64) -> u8 {
    let low = (x & 1023) as i32;
    let s = ((low + 512) & 1023) - 512;
    (s + 128).clamp(0, 255) as u8
}

/// The odd part shared by both passes: inputs at positions 1, 3, 5, 7; returns tmp0..tmp3.
#[inline(always)]
fn odd_part(i1: i64, i3: i64, i5: i64, i7: i64) -> [i64; 4] {
    let (mut tmp0, mut tmp1, mut tmp2, mut tmp3) = (i7, i5, i3, i1);
    let z1 = tmp0 + tmp3;
    let z2 = tmp1 + tmp2;
    let z3 = tmp0 + tmp2;
    let z4 = tmp1 + tmp3;
    let z5 = (z3 + z4) * FIX_1_175875602;
    tmp0 *= FIX_0_298631336;
    tmp1 *= FIX_2_053119869;
    tmp2 *= FIX_3_072711026;
    tmp3 *= FIX_1_501321110;
    let z1 = z1 * -FIX_0_899976223;
    let z2 = z2 * -FIX_2_562915447;
    let z3 = z3 * -FIX_1_961570560 + z5;
    let z4 = z4 * -FIX_0_390180644 + z5;
    tmp0 += z1 + z3;
    tmp1 += z2 + z4;
    tmp2 += z2 + z3;
    tmp3 += z1 + z4;
    [tmp0, tmp1, tmp2, tmp3]
}

/// The even part: inputs at positions 0, 2, 4, 6; returns tmp10..tmp13.
#[inline(always)]
fn even_part(i0: i64, i2: i64, i4: i64, i6: i64) -> [i64; 4] {
    let z1 = (i2 + i6) * FIX_0_541196100;
    let tmp2 = z1 + i6 * -FIX_1_847759065;
    let tmp3 = z1 + i2 * FIX_0_765366865;
    let tmp0 = (i0 + i4) << CONST_BITS;
    let tmp1 = (i0 - i4) << CONST_BITS;
    [tmp0 + tmp3, tmp1 + tmp2, tmp1 - tmp2, tmp0 - tmp3]
}

/// Dequantise `coef` (natural order) with `quant` (natural order, libjpeg's 16-bit `short`
/// multipliers) and write the 8×8 samples to `out`, rows `stride` apart. `out` must hold at
/// least `7 * stride + 8` bytes; rows that do not fit are not written.
pub(super) fn islow(coef: &[i16; 64], quant: &[i16; 64], out: &mut [u8], stride: usize) {
    let mut ws = [0i32; 64];
    let deq = |i: usize| i64::from(coef[i]) * i64::from(quant[i]);

    // Pass 1: columns from the input, results scaled up by 2^PASS1_BITS into `ws`.
    for col in 0..8 {
        if (1..8).all(|r| coef[col + 8 * r] == 0) {
            // DC only: the C shifts the `int` product, so wrap as it does.
            let dc = (deq(col) << PASS1_BITS) as i32;
            for r in 0..8 {
                ws[col + 8 * r] = dc;
            }
            continue;
        }
        let [t10, t11, t12, t13] = even_part(deq(col), deq(col + 16), deq(col + 32), deq(col + 48));
        let [t0, t1, t2, t3] = odd_part(deq(col + 8), deq(col + 24), deq(col + 40), deq(col + 56));
        let n = CONST_BITS - PASS1_BITS;
        ws[col] = descale(t10 + t3, n) as i32;
        ws[col + 56] = descale(t10 - t3, n) as i32;
        ws[col + 8] = descale(t11 + t2, n) as i32;
        ws[col + 48] = descale(t11 - t2, n) as i32;
        ws[col + 16] = descale(t12 + t1, n) as i32;
        ws[col + 40] = descale(t12 - t1, n) as i32;
        ws[col + 24] = descale(t13 + t0, n) as i32;
        ws[col + 32] = descale(t13 - t0, n) as i32;
    }

    // Pass 2: rows from the workspace, descaled by 2^(CONST_BITS + PASS1_BITS + 3).
    for (row, w) in ws.chunks_exact(8).enumerate() {
        let Some(dst) = out.get_mut(row * stride..row * stride + 8) else { return };
        let w = |i: usize| i64::from(w[i]);
        if (1..8).all(|i| w(i) == 0) {
            dst.fill(range_limit(descale(w(0), PASS1_BITS + 3)));
            continue;
        }
        let [t10, t11, t12, t13] = even_part(w(0), w(2), w(4), w(6));
        let [t0, t1, t2, t3] = odd_part(w(1), w(3), w(5), w(7));
        let n = CONST_BITS + PASS1_BITS + 3;
        dst[0] = range_limit(descale(t10 + t3, n));
        dst[7] = range_limit(descale(t10 - t3, n));
        dst[1] = range_limit(descale(t11 + t2, n));
        dst[6] = range_limit(descale(t11 - t2, n));
        dst[2] = range_limit(descale(t12 + t1, n));
        dst[5] = range_limit(descale(t12 - t1, n));
        dst[3] = range_limit(descale(t13 + t0, n));
        dst[4] = range_limit(descale(t13 - t0, n));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_only_block_is_flat() {
        let mut coef = [0i16; 64];
        coef[0] = -25; // ×16 = -400 → -400/8 = -50 → 78
        let mut quant = [1i16; 64];
        quant[0] = 16;
        let mut out = [0u8; 64];
        islow(&coef, &quant, &mut out, 8);
        assert!(out.iter().all(|&v| v == 78), "{out:?}");
    }

    #[test]
    fn range_limit_wraps_like_the_masked_table() {
        assert_eq!(range_limit(0), 128);
        assert_eq!(range_limit(127), 255);
        assert_eq!(range_limit(511), 255);
        assert_eq!(range_limit(-128), 0);
        assert_eq!(range_limit(-512), 0);
        // Out of the table's range the C wraps around: 512 reads the entry for -512.
        assert_eq!(range_limit(512), 0);
        assert_eq!(range_limit(1024 + 5), 133);
    }

    #[test]
    fn extreme_coefficients_do_not_overflow() {
        let coef = [i16::MIN; 64];
        let quant = [i16::MIN; 64];
        let mut out = [0u8; 64];
        islow(&coef, &quant, &mut out, 8);
        let coef = [i16::MAX; 64];
        let quant = [-1i16; 64];
        islow(&coef, &quant, &mut out, 8);
    }
}
