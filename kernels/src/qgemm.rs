//! onnxruntime's `DynamicQuantizeMatMul` (`com.microsoft`) arithmetic: activations quantised the way onnxruntime
//! does it, weights packed once, an int32 product over register tiles, and the float epilogue.
//!
//! Numbers: `x` is quantised per call to u8 with onnxruntime's `DynamicQuantizeLinear` rules
//! (range widened to include 0, `scale = (max − min) / 255`, zero point rounded half to even,
//! `round_half_even(x / scale)` clamped). The product is exact int32:
//! `Σ_k (qx − x_zp)·(W − w_zp)`, computed as `Σ_k a'·W − w_zp·Σ_k a'` with `a' = qx − x_zp` (an i16
//! in [−255, 255]) and `W` zero-extended from its stored byte, so weights stay 1 byte. Then
//! `acc as f32 · (x_scale · w_scale) + bias`, a multiply and an add (no fused multiply-add), as
//! onnxruntime's `MatMulIntegerToFloat` does. Wrapping int32 arithmetic gives the exact sum whenever
//! the true sum fits in an i32 (it does for any K below 33,000).
//!
//! Layout: rows in panels of [`MR`], columns in panels of [`NR`], K in pairs (the unit of
//! `i32x4.dot_i16x8_s` / `vpmaddwd`: two products summed per int32 lane). A weight panel holds, per
//! K pair, `NR` column pairs `[W[k][n], W[k+1][n]]` (`2·NR` bytes); an activation panel holds, per K
//! pair, `MR` row pairs `[a'[m][k], a'[m][k+1]]` (`MR` i32 words). Odd K and ragged edges are padded
//! with zeros, which add nothing.

/// Rows per register tile.
pub const MR: usize = 4;

/// Columns per register tile: 16 with AVX2 (8 ymm accumulators), 8 elsewhere (wasm SIMD128's 8
/// v128 accumulators leave room in V8's 15 usable x64 registers; a 16-wide tile would spill).
#[cfg(target_arch = "x86_64")]
pub const NR: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
pub const NR: usize = 8;

/// Cache blocking. K is taken [`K_BLOCK`] pairs at a time (one activation panel's share, 4 KiB, stays
/// in L1 while it meets every weight panel of the column block) and N [`N_BLOCK`] columns at a time
/// (the column block's weights, up to 64 KiB, and its int32 sums stay in L2 while every row panel
/// passes); the int32 sums carry across K blocks and become floats once, at the end.
const K_BLOCK: usize = 256;
const N_BLOCK: usize = 128;

/// Weights `W[K][N]` (u8, per-tensor zero point and scale), packed once at load.
#[derive(Clone, PartialEq)]
pub struct PackedWeights {
    k: usize,
    n: usize,
    k_pairs: usize,
    panels: Vec<u8>,
    zero_point: i32,
    scale: f32,
    bias: Option<Vec<f32>>,
}

impl std::fmt::Debug for PackedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedWeights({}x{}, zp {}, scale {}, bias {})", self.k, self.n, self.zero_point, self.scale, self.bias.is_some())
    }
}

impl PackedWeights {
    /// `weights` row-major `[k][n]`; `bias`, when present, has `n` values.
    pub fn pack(weights: &[u8], k: usize, n: usize, zero_point: u8, scale: f32, bias: Option<Vec<f32>>) -> Self {
        assert_eq!(weights.len(), k * n, "weights are not {k}x{n}");
        assert!(bias.as_ref().is_none_or(|b| b.len() == n), "bias is not {n} long");
        let k_pairs = k.div_ceil(2);
        let n_panels = n.div_ceil(NR);
        let mut panels = vec![0u8; n_panels * k_pairs * 2 * NR];
        // Written in order, each step interleaving two rows' NR-column runs (padding stays 0).
        for (panel, steps) in panels.chunks_exact_mut((k_pairs * 2 * NR).max(1)).enumerate() {
            let (col0, cols) = (panel * NR, (n - panel * NR).min(NR));
            for (pair, step) in steps.chunks_exact_mut(2 * NR).enumerate() {
                let first = &weights[2 * pair * n + col0..][..cols];
                for (out, &w) in step.iter_mut().step_by(2).zip(first) {
                    *out = w;
                }
                if 2 * pair + 1 < k {
                    let second = &weights[(2 * pair + 1) * n + col0..][..cols];
                    for (out, &w) in step.iter_mut().skip(1).step_by(2).zip(second) {
                        *out = w;
                    }
                }
            }
        }
        PackedWeights { k, n, k_pairs, panels, zero_point: zero_point as i32, scale, bias }
    }

    /// K: rows of the weights, the length of each input row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// N: columns of the weights, the length of each output row.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Size of the packed weights.
    pub fn bytes(&self) -> usize {
        self.panels.len()
    }
}

/// `x[M][K]` f32 row-major → `y[M][N]` f32 row-major, with the fastest kernel.
pub fn dynamic_quantize_matmul(x: &[f32], m: usize, w: &PackedWeights, y: &mut [f32]) {
    dynamic_quantize_matmul_with(Kernel::best(), x, m, w, y)
}

/// [`dynamic_quantize_matmul`] with a chosen kernel (tests compare them).
pub fn dynamic_quantize_matmul_with(kernel: Kernel, x: &[f32], m: usize, w: &PackedWeights, y: &mut [f32]) {
    let (k, n) = (w.k, w.n);
    assert_eq!(x.len(), m * k);
    assert_eq!(y.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: only the bias.
        for row in y.chunks_exact_mut(n) {
            match &w.bias {
                Some(bias) => row.copy_from_slice(bias),
                None => row.fill(0.0),
            }
        }
        return;
    }
    let (x_scale, x_zero_point) = quantization_parameters(x);
    let activations = quantize_and_pack(x, m, k, x_scale, x_zero_point);
    let scale = x_scale * w.scale;
    let k_pairs = w.k_pairs;
    let n_panels = n.div_ceil(NR);
    let row_panels = m.div_ceil(MR);
    let block_panels = N_BLOCK / NR;
    // The column block's int32 sums, one register tile per (row panel, column panel).
    let mut sums = vec![[[0i32; NR]; MR]; row_panels * block_panels];
    for block in (0..n_panels).step_by(block_panels) {
        let panels = block..(block + block_panels).min(n_panels);
        for k0 in (0..k_pairs).step_by(K_BLOCK) {
            let depth = (k_pairs - k0).min(K_BLOCK);
            for row_panel in 0..row_panels {
                let a = &activations.panels[(row_panel * k_pairs + k0) * MR..][..depth * MR];
                for (j, col_panel) in panels.clone().enumerate() {
                    let b = &w.panels[(col_panel * k_pairs + k0) * 2 * NR..][..depth * 2 * NR];
                    kernel.run(a, b, depth, k0 > 0, &mut sums[row_panel * block_panels + j]);
                }
            }
        }
        // Epilogue: zero-point correction, scale, bias, into y.
        for row_panel in 0..row_panels {
            let row_sums = &activations.row_sums[row_panel * MR..][..MR];
            for (j, col_panel) in panels.clone().enumerate() {
                let tile = &sums[row_panel * block_panels + j];
                let (row0, col0) = (row_panel * MR, col_panel * NR);
                let cols = (n - col0).min(NR);
                for (r, (acc, &row_sum)) in tile.iter().zip(row_sums).enumerate().take(m - row0) {
                    let correction = w.zero_point.wrapping_mul(row_sum);
                    let out = &mut y[(row0 + r) * n + col0..][..cols];
                    match &w.bias {
                        Some(bias) => {
                            for ((o, &a), &b) in out.iter_mut().zip(acc).zip(&bias[col0..col0 + cols]) {
                                *o = a.wrapping_sub(correction) as f32 * scale + b;
                            }
                        }
                        None => {
                            for (o, &a) in out.iter_mut().zip(acc) {
                                *o = a.wrapping_sub(correction) as f32 * scale;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// onnxruntime's `DynamicQuantizeLinear` parameters for u8: `(scale, zero_point)`.
pub fn quantization_parameters(x: &[f32]) -> (f32, i32) {
    let (min, max) = min_max(x);
    let (min, max) = (min.min(0.0), max.max(0.0));
    let scale = if max == min { 1.0 } else { (max - min) / 255.0 };
    let zero_point = (0.0 - min / scale).clamp(0.0, 255.0).round_ties_even();
    // NaN inputs give a NaN scale; `as` saturates NaN to 0 rather than panicking.
    (scale, zero_point as i32)
}

fn min_max(x: &[f32]) -> (f32, f32) {
    // Eight independent lanes, so that the compiler vectorises (f32::min's NaN rules would not).
    let mut lo = [f32::INFINITY; 8];
    let mut hi = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for i in 0..8 {
            lo[i] = if chunk[i] < lo[i] { chunk[i] } else { lo[i] };
            hi[i] = if chunk[i] > hi[i] { chunk[i] } else { hi[i] };
        }
    }
    let mut min = lo.iter().fold(f32::INFINITY, |a, &b| if b < a { b } else { a });
    let mut max = hi.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    for &v in rest {
        min = if v < min { v } else { min };
        max = if v > max { v } else { max };
    }
    (min, max)
}

struct PackedActivations {
    /// Per row panel, per K pair, MR words of two i16 each.
    panels: Vec<u32>,
    /// Σ_k a'[m][k] per row (padded rows: 0).
    row_sums: Vec<i32>,
}

/// `a' = clamp(round_half_even(x / scale), −zp, 255 − zp)`, i.e. the quantised value minus its
/// zero point, packed in row panels with each row's sum.
fn quantize_and_pack(x: &[f32], m: usize, k: usize, scale: f32, zero_point: i32) -> PackedActivations {
    let k_pairs = k.div_ceil(2);
    let row_panels = m.div_ceil(MR);
    let mut panels = vec![0u32; row_panels * k_pairs * MR];
    let mut row_sums = vec![0i32; row_panels * MR];
    let (lo, hi) = ((-zero_point) as f32, (255 - zero_point) as f32);
    let mut row = vec![0i16; k_pairs * 2];
    for (r, values) in x.chunks_exact(k).enumerate() {
        quantize_row(values, scale, lo, hi, &mut row[..k]);
        row_sums[r] = row[..k].iter().map(|&v| v as i32).sum();
        let (panel, lane) = (r / MR, r % MR);
        let base = panel * k_pairs * MR;
        for (pair, two) in row.chunks_exact(2).enumerate() {
            panels[base + pair * MR + lane] = (two[0] as u16 as u32) | ((two[1] as u16 as u32) << 16);
        }
    }
    PackedActivations { panels, row_sums }
}

fn quantize_row(x: &[f32], scale: f32, lo: f32, hi: f32, out: &mut [i16]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        use core::arch::wasm32::*;
        let (vs, vlo, vhi) = (f32x4_splat(scale), f32x4_splat(lo), f32x4_splat(hi));
        let chunks = x.len() / 8;
        for i in 0..chunks {
            // SAFETY: i·8 + 7 < x.len() and out.len() == x.len().
            unsafe {
                let q = |offset: usize| {
                    let v = v128_load(x.as_ptr().add(i * 8 + offset) as *const v128);
                    let q = f32x4_pmin(vhi, f32x4_pmax(vlo, f32x4_div(v, vs)));
                    i32x4_trunc_sat_f32x4(f32x4_nearest(q))
                };
                v128_store(out.as_mut_ptr().add(i * 8) as *mut v128, i16x8_narrow_i32x4(q(0), q(4)));
            }
        }
        for i in chunks * 8..x.len() {
            out[i] = quantize(x[i], scale, lo, hi);
        }
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    for (o, &v) in out.iter_mut().zip(x) {
        *o = quantize(v, scale, lo, hi);
    }
}

#[inline]
fn quantize(x: f32, scale: f32, lo: f32, hi: f32) -> i16 {
    // Clamped before rounding, like onnxruntime's MLAS (same result as after: the bounds are
    // integers); NaN lands on 0. Rounding half to even by adding and subtracting 1.5·2²³: exact
    // for |v| < 2²² (here |v| ≤ 255) in the default rounding mode, and it vectorises where
    // `round_ties_even` would be a libm call per value (x86-64 without SSE4.1).
    // The rounded value is then read from the sum's low mantissa bits (integer operations only,
    // where a saturating float-to-int cast would not vectorise).
    const ROUND: f32 = 12_582_912.0;
    let v = (x / scale).clamp(lo, hi);
    ((v + ROUND).to_bits() as i32 - ROUND.to_bits() as i32) as i16
}

/// An implementation of the int32 register tile `acc[MR][NR] = Σ_pairs a_pair · b_pair` (one row
/// panel by one column panel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Simd128,
}

impl Kernel {
    /// The fastest kernel this machine runs.
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Kernel::Avx2;
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return Kernel::Simd128;
        #[allow(unreachable_code)]
        Kernel::Portable
    }

    /// Every kernel this machine runs, the portable one first.
    pub fn available() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            kernels.push(Kernel::Avx2);
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        kernels.push(Kernel::Simd128);
        kernels
    }

    /// `acc (+)= Σ_pairs a·b` over `k_pairs` pairs: added to `acc` when `accumulate`, else
    /// replacing it.
    fn run(self, a: &[u32], b: &[u8], k_pairs: usize, accumulate: bool, acc: &mut [[i32; NR]; MR]) {
        assert!(a.len() >= k_pairs * MR && b.len() >= k_pairs * 2 * NR);
        if !accumulate {
            *acc = [[0; NR]; MR];
        }
        match self {
            Kernel::Portable => portable(a, b, k_pairs, acc),
            // SAFETY: the slices hold k_pairs whole steps (asserted); AVX2 was detected.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { avx2(a.as_ptr(), b.as_ptr(), k_pairs, acc) },
            // SAFETY: as above; simd128 is a compile-time feature of this build.
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => unsafe { simd128(a.as_ptr(), b.as_ptr(), k_pairs, acc) },
        }
    }
}

fn portable(a: &[u32], b: &[u8], k_pairs: usize, acc: &mut [[i32; NR]; MR]) {
    for pair in 0..k_pairs {
        let rows = &a[pair * MR..][..MR];
        let cols = &b[pair * 2 * NR..][..2 * NR];
        for (acc_row, &word) in acc.iter_mut().zip(rows) {
            let (a0, a1) = (word as u16 as i16 as i32, (word >> 16) as u16 as i16 as i32);
            for (c, acc) in acc_row.iter_mut().enumerate() {
                let (b0, b1) = (cols[2 * c] as i32, cols[2 * c + 1] as i32);
                *acc = acc.wrapping_add(a0 * b0 + a1 * b1);
            }
        }
    }
}

/// 4×8 tile, added to `acc`: per K pair one 16-byte weight load widened to two i16x8 (columns 0-3, 4-7), one
/// 32-bit broadcast per row, eight `i32x4.dot_i16x8_s`. Eight accumulators, two weight vectors
/// and one activation vector: 11 live v128 values.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
unsafe fn simd128(a: *const u32, b: *const u8, k_pairs: usize, acc: &mut [[i32; NR]; MR]) {
    use core::arch::wasm32::*;
    let c = acc.as_ptr() as *const v128; // row r, columns 4h..4h+3 at c.add(2r + h)
    let (mut c00, mut c01, mut c10, mut c11) = (v128_load(c), v128_load(c.add(1)), v128_load(c.add(2)), v128_load(c.add(3)));
    let (mut c20, mut c21, mut c30, mut c31) = (v128_load(c.add(4)), v128_load(c.add(5)), v128_load(c.add(6)), v128_load(c.add(7)));
    for pair in 0..k_pairs {
        let w = v128_load(b.add(pair * 16) as *const v128);
        let (w0, w1) = (u16x8_extend_low_u8x16(w), u16x8_extend_high_u8x16(w));
        let rows = a.add(pair * 4);
        let x = v128_load32_splat(rows);
        c00 = i32x4_add(c00, i32x4_dot_i16x8(x, w0));
        c01 = i32x4_add(c01, i32x4_dot_i16x8(x, w1));
        let x = v128_load32_splat(rows.add(1));
        c10 = i32x4_add(c10, i32x4_dot_i16x8(x, w0));
        c11 = i32x4_add(c11, i32x4_dot_i16x8(x, w1));
        let x = v128_load32_splat(rows.add(2));
        c20 = i32x4_add(c20, i32x4_dot_i16x8(x, w0));
        c21 = i32x4_add(c21, i32x4_dot_i16x8(x, w1));
        let x = v128_load32_splat(rows.add(3));
        c30 = i32x4_add(c30, i32x4_dot_i16x8(x, w0));
        c31 = i32x4_add(c31, i32x4_dot_i16x8(x, w1));
    }
    for (row, (lo, hi)) in acc.iter_mut().zip([(c00, c01), (c10, c11), (c20, c21), (c30, c31)]) {
        v128_store(row.as_mut_ptr() as *mut v128, lo);
        v128_store(row.as_mut_ptr().add(4) as *mut v128, hi);
    }
}

/// 4×16 tile, added to `acc`: per K pair two 16-byte weight loads zero-extended to i16 (`vpmovzxbw`, columns 0-7
/// and 8-15), one 32-bit broadcast per row, eight `vpmaddwd`. 8 accumulators of 16 ymm registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2(a: *const u32, b: *const u8, k_pairs: usize, acc: &mut [[i32; NR]; MR]) {
    use std::arch::x86_64::*;
    let c = acc.as_ptr() as *const __m256i; // row r, columns 8h..8h+7 at c.add(2r + h)
    let (mut c00, mut c01) = (_mm256_loadu_si256(c), _mm256_loadu_si256(c.add(1)));
    let (mut c10, mut c11) = (_mm256_loadu_si256(c.add(2)), _mm256_loadu_si256(c.add(3)));
    let (mut c20, mut c21) = (_mm256_loadu_si256(c.add(4)), _mm256_loadu_si256(c.add(5)));
    let (mut c30, mut c31) = (_mm256_loadu_si256(c.add(6)), _mm256_loadu_si256(c.add(7)));
    for pair in 0..k_pairs {
        let w = b.add(pair * 32);
        let w0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(w as *const __m128i));
        let w1 = _mm256_cvtepu8_epi16(_mm_loadu_si128(w.add(16) as *const __m128i));
        let rows = a.add(pair * 4) as *const i32;
        let x = _mm256_set1_epi32(rows.read_unaligned());
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, w0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, w1));
        let x = _mm256_set1_epi32(rows.add(1).read_unaligned());
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, w0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, w1));
        let x = _mm256_set1_epi32(rows.add(2).read_unaligned());
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, w0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, w1));
        let x = _mm256_set1_epi32(rows.add(3).read_unaligned());
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, w0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, w1));
    }
    for (row, (lo, hi)) in acc.iter_mut().zip([(c00, c01), (c10, c11), (c20, c21), (c30, c31)]) {
        _mm256_storeu_si256(row.as_mut_ptr() as *mut __m256i, lo);
        _mm256_storeu_si256(row.as_mut_ptr().add(8) as *mut __m256i, hi);
    }
}

