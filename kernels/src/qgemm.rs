//! onnxruntime's `DynamicQuantizeMatMul` (`com.microsoft`) arithmetic: activations quantised the way onnxruntime
//! does it, weights packed once, an int32 product over register tiles, and the float epilogue.
//!
//! Numbers: `x` is quantised per call to u8 with onnxruntime's `DynamicQuantizeLinear` rules
//! (range widened to include 0, `scale = (max − min) / 255`, zero point rounded half to even,
//! `round_half_even(x / scale)` clamped). The product is exact int32: `Σ_k (q − x_zp)·(W − w_zp)`.
//! Then `acc as f32 · (x_scale · w_scale) + bias`, a multiply and an add (no fused multiply-add), as
//! onnxruntime's `MatMulIntegerToFloat` does. Wrapping int32 arithmetic gives the exact sum whenever
//! the true sum fits in an i32 (it does for any K below 33,000).
//!
//! Each kernel reads K in one of two [`Layout`]s, and the epilogue's integer corrections turn its
//! sums into the exact product above:
//! - pairs (`i32x4.dot_i16x8_s`, `vpmaddwd`: two i16 products summed per int32 lane): activations as
//!   `a' = q − x_zp` (an i16 in [−255, 255]), weights as stored (u8, zero-extended), so
//!   `Σ (q − x_zp)(W − w_zp) = Σ a'·W − w_zp·Σ a'`;
//! - quads (`vpdpbusd`, wasm's relaxed `i32x4.dot_i8x16_i7x16_add` where the engine gives it
//!   unsigned-by-signed semantics: four u8·i8 products summed per int32 lane, no intermediate
//!   saturation): activations as stored (`q`, u8), weights as `W − 128` (i8), so
//!   `Σ (q − x_zp)(W − w_zp) = Σ q·(W − 128) + (128 − w_zp)·Σ a' − x_zp·Σ_k (W − 128)`; the last sum is
//!   per column and computed once, when the weights are packed.
//!
//! Panels: rows in panels of [`MR`], columns in panels of [`NR`], K in steps of the layout's depth
//! (2 or 4). A weight panel holds, per step, `NR` columns of `depth` consecutive K bytes; an
//! activation panel holds, per step, `MR` rows' 32-bit words (two i16 or four u8). Ragged edges are
//! padded with zero weights, which add nothing.

/// Rows per register tile.
pub const MR: usize = 4;

/// Columns per register tile: 16 on x86-64 (8 ymm accumulators), 8 elsewhere (wasm SIMD128's 8
/// v128 accumulators leave room in V8's 15 usable x64 registers; a 16-wide tile would spill).
#[cfg(target_arch = "x86_64")]
pub const NR: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
pub const NR: usize = 8;

/// Cache blocking. K is taken [`K_BLOCK`] values at a time (one activation panel's share, 4 KiB for
/// pairs, stays in L1 while it meets every weight panel of the column block) and N [`N_BLOCK`]
/// columns at a time (the column block's weights, up to 64 KiB, and its int32 sums stay in L2 while
/// every row panel passes); the int32 sums carry across K blocks and become floats once, at the end.
const K_BLOCK: usize = 512;
const N_BLOCK: usize = 128;

/// How a kernel walks K: see the module's documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    Pairs,
    Quads,
}

impl Layout {
    /// K values per int32 lane and step.
    const fn depth(self) -> usize {
        match self {
            Layout::Pairs => 2,
            Layout::Quads => 4,
        }
    }
}

/// Weights `W[K][N]` (u8, per-tensor zero point and scale), packed once at load for one kernel.
#[derive(Clone, PartialEq)]
pub struct PackedWeights {
    kernel: Kernel,
    k: usize,
    n: usize,
    /// K steps of the kernel's layout.
    steps: usize,
    panels: Vec<u8>,
    /// Σ_k (W[k][n] − 128) per column for quads (the activations' zero point meets it); zeros for pairs.
    column_sums: Vec<i32>,
    zero_point: i32,
    scale: f32,
    bias: Option<Vec<f32>>,
}

impl std::fmt::Debug for PackedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PackedWeights({}x{} for {:?}, zp {}, scale {}, bias {})",
            self.k,
            self.n,
            self.kernel,
            self.zero_point,
            self.scale,
            self.bias.is_some()
        )
    }
}

impl PackedWeights {
    /// `weights` row-major `[k][n]`, packed for the fastest kernel ([`Kernel::best`]); `bias`, when
    /// present, has `n` values.
    pub fn pack(weights: &[u8], k: usize, n: usize, zero_point: u8, scale: f32, bias: Option<Vec<f32>>) -> Self {
        Self::pack_for(Kernel::best(), weights, k, n, zero_point, scale, bias)
    }

    /// [`PackedWeights::pack`] for a chosen kernel (tests compare them).
    pub fn pack_for(
        kernel: Kernel,
        weights: &[u8],
        k: usize,
        n: usize,
        zero_point: u8,
        scale: f32,
        bias: Option<Vec<f32>>,
    ) -> Self {
        assert_eq!(weights.len(), k * n, "weights are not {k}x{n}");
        assert!(bias.as_ref().is_none_or(|b| b.len() == n), "bias is not {n} long");
        let layout = kernel.layout();
        let depth = layout.depth();
        let steps = k.div_ceil(depth);
        let step_bytes = depth * NR;
        let mut panels = vec![0u8; n.div_ceil(NR) * steps * step_bytes];
        match layout {
            Layout::Pairs => pack_panels::<2>(weights, k, n, 0, &mut panels),
            // Quads hold W − 128 as an i8: the byte W ^ 0x80.
            Layout::Quads => pack_panels::<4>(weights, k, n, 128, &mut panels),
        }
        let mut column_sums = vec![0i32; n];
        if layout == Layout::Quads && n > 0 {
            for row in weights.chunks_exact(n) {
                for (sum, &w) in column_sums.iter_mut().zip(row) {
                    *sum += w as i32 - 128;
                }
            }
        }
        PackedWeights { kernel, k, n, steps, panels, column_sums, zero_point: zero_point as i32, scale, bias }
    }

    /// K: rows of the weights, the length of each input row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// N: columns of the weights, the length of each output row.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The kernel these weights are packed for.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Size of the packed weights.
    pub fn bytes(&self) -> usize {
        self.panels.len() + 4 * self.column_sums.len()
    }
}

/// Weight panels of `DEPTH`-deep K steps: per step, `NR` columns of `DEPTH` consecutive K bytes
/// (each minus `offset`). Whole steps (every column and every K present, nearly all of them) are
/// interleaved with fixed-size arrays, which the compiler turns into shuffles: packing SigLIP
/// B/16's 86 million weights is a visible part of load time. The ragged edges go byte by byte.
fn pack_panels<const DEPTH: usize>(weights: &[u8], k: usize, n: usize, offset: u8, panels: &mut [u8]) {
    let steps = k.div_ceil(DEPTH);
    let step_bytes = DEPTH * NR;
    for (panel, panel_steps) in panels.chunks_exact_mut((steps * step_bytes).max(1)).enumerate() {
        let (col0, cols) = (panel * NR, (n - panel * NR).min(NR));
        for (step, out) in panel_steps.chunks_exact_mut(step_bytes).enumerate() {
            let row0 = step * DEPTH;
            if cols == NR && row0 + DEPTH <= k {
                let rows: [&[u8; NR]; DEPTH] =
                    std::array::from_fn(|d| weights[(row0 + d) * n + col0..][..NR].try_into().expect("NR bytes"));
                let out: &mut [[u8; DEPTH]; NR] = out.as_chunks_mut().0.try_into().expect("NR columns");
                for (c, column) in out.iter_mut().enumerate() {
                    *column = std::array::from_fn(|d| rows[d][c].wrapping_sub(offset));
                }
            } else {
                for d in 0..DEPTH.min(k - row0) {
                    let row = &weights[(row0 + d) * n + col0..][..cols];
                    for (c, &w) in row.iter().enumerate() {
                        out[c * DEPTH + d] = w.wrapping_sub(offset);
                    }
                }
            }
        }
    }
}

/// `x[M][K]` f32 row-major → `y[M][N]` f32 row-major, with the kernel the weights are packed for.
pub fn dynamic_quantize_matmul(x: &[f32], m: usize, w: &PackedWeights, y: &mut [f32]) {
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
    let (x_scale, x_zero_point, activations) = quantize_activations(x, m, k, w.kernel);
    // Row panels split across threads (the threaded wasm build): each part meets every weight
    // panel with its rows and writes its own rows of y.
    crate::parallel::for_each_part(y, MR * n, |first_panel, y| {
        product_rows(&activations, x_scale, x_zero_point, w, first_panel, y)
    });
}

/// Rows of `y` (whole row panels from `first_panel` on, as many rows as `y` holds) of the product
/// of the packed activations with `w`.
fn product_rows(activations: &PackedActivations, x_scale: f32, x_zero_point: i32, w: &PackedWeights, first_panel: usize, y: &mut [f32]) {
    let (n, kernel) = (w.n, w.kernel);
    let layout = kernel.layout();
    let m = y.len() / n;
    let scale = x_scale * w.scale;
    // The corrections (module documentation): a per-row factor of Σ a', and x_zp per column sum.
    let row_factor = match layout {
        Layout::Pairs => -w.zero_point,
        Layout::Quads => 128 - w.zero_point,
    };
    let steps = w.steps;
    let step_bytes = layout.depth() * NR;
    let block_steps = K_BLOCK / layout.depth();
    let n_panels = n.div_ceil(NR);
    let row_panels = m.div_ceil(MR);
    let block_panels = N_BLOCK / NR;
    // The column block's int32 sums, one register tile per (row panel, column panel).
    let mut sums = vec![[[0i32; NR]; MR]; row_panels * block_panels];
    for block in (0..n_panels).step_by(block_panels) {
        let panels = block..(block + block_panels).min(n_panels);
        for k0 in (0..steps).step_by(block_steps) {
            let depth = (steps - k0).min(block_steps);
            for row_panel in 0..row_panels {
                let a = &activations.panels[((first_panel + row_panel) * steps + k0) * MR..][..depth * MR];
                for (j, col_panel) in panels.clone().enumerate() {
                    let b = &w.panels[(col_panel * steps + k0) * step_bytes..][..depth * step_bytes];
                    kernel.run(a, b, depth, k0 > 0, &mut sums[row_panel * block_panels + j]);
                }
            }
        }
        // Epilogue: zero-point corrections, scale, bias, into y.
        for row_panel in 0..row_panels {
            let row_sums = &activations.row_sums[(first_panel + row_panel) * MR..][..MR];
            for (j, col_panel) in panels.clone().enumerate() {
                let tile = &sums[row_panel * block_panels + j];
                let (row0, col0) = (row_panel * MR, col_panel * NR);
                let cols = (n - col0).min(NR);
                let column_sums = &w.column_sums[col0..col0 + cols];
                for (r, (acc, &row_sum)) in tile.iter().zip(row_sums).enumerate().take(m - row0) {
                    let row_term = row_factor.wrapping_mul(row_sum);
                    let exact = acc.iter().zip(column_sums).map(|(&a, &c)| a.wrapping_add(row_term).wrapping_sub(x_zero_point.wrapping_mul(c)));
                    let out = &mut y[(row0 + r) * n + col0..][..cols];
                    match &w.bias {
                        Some(bias) => {
                            for ((o, a), &b) in out.iter_mut().zip(exact).zip(&bias[col0..col0 + cols]) {
                                *o = a as f32 * scale + b;
                            }
                        }
                        None => {
                            for (o, a) in out.iter_mut().zip(exact) {
                                *o = a as f32 * scale;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `x[M][K]` quantised (onnxruntime's `DynamicQuantizeLinear`) and packed for `kernel`:
/// `(scale, zero_point, panels)`.
fn quantize_activations(x: &[f32], m: usize, k: usize, kernel: Kernel) -> (f32, i32, PackedActivations) {
    #[cfg(target_arch = "x86_64")]
    if kernel != Kernel::Portable {
        // SAFETY: every x86-64 kernel but the portable one needs AVX2 to be offered
        // (Kernel::available).
        return unsafe { quantize_activations_avx2(x, m, k, kernel.layout()) };
    }
    let (scale, zero_point) = quantization_parameters(x);
    (scale, zero_point, quantize_and_pack(x, m, k, scale, zero_point, kernel.layout(), quantize_row))
}

/// The same with AVX2 loops for the range and the quantisation (they were a fifth of the native
/// int8 products' time compiled for SSE2).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_activations_avx2(x: &[f32], m: usize, k: usize, layout: Layout) -> (f32, i32, PackedActivations) {
    let (scale, zero_point) = parameters_of_range(min_max_avx2(x));
    let row = |x: &[f32], scale, zero_point, layout, out: &mut [u8]| unsafe { quantize_row_avx2(x, scale, zero_point, layout, out) };
    (scale, zero_point, quantize_and_pack(x, m, k, scale, zero_point, layout, row))
}

/// onnxruntime's `DynamicQuantizeLinear` parameters for u8: `(scale, zero_point)`.
pub fn quantization_parameters(x: &[f32]) -> (f32, i32) {
    parameters_of_range(min_max(x))
}

#[inline(always)]
fn parameters_of_range((min, max): (f32, f32)) -> (f32, i32) {
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
    /// Per row panel, per K step, MR words (two i16 `a'` for pairs, four u8 `q` for quads).
    panels: Vec<u32>,
    /// Σ_k a'[m][k] per row (padded rows: 0).
    row_sums: Vec<i32>,
}

/// [`min_max`] 32 lanes at a time (the same answer: a NaN is skipped).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn min_max_avx2(x: &[f32]) -> (f32, f32) {
    use std::arch::x86_64::*;
    let chunks = x.chunks_exact(32);
    let rest = chunks.remainder();
    let mut lo = [_mm256_set1_ps(f32::INFINITY); 4];
    let mut hi = [_mm256_set1_ps(f32::NEG_INFINITY); 4];
    for chunk in chunks {
        for j in 0..4 {
            // SAFETY: the chunk holds 32 values. min/max return their second operand when the
            // first is NaN: a NaN value leaves the lane as it was.
            let v = unsafe { _mm256_loadu_ps(chunk.as_ptr().add(8 * j)) };
            lo[j] = _mm256_min_ps(v, lo[j]);
            hi[j] = _mm256_max_ps(v, hi[j]);
        }
    }
    let (mut lanes_lo, mut lanes_hi) = ([0f32; 8], [0f32; 8]);
    // SAFETY: 8-value arrays.
    unsafe {
        _mm256_storeu_ps(lanes_lo.as_mut_ptr(), _mm256_min_ps(_mm256_min_ps(lo[0], lo[1]), _mm256_min_ps(lo[2], lo[3])));
        _mm256_storeu_ps(lanes_hi.as_mut_ptr(), _mm256_max_ps(_mm256_max_ps(hi[0], hi[1]), _mm256_max_ps(hi[2], hi[3])));
    }
    let (lo_rest, hi_rest) = min_max(rest);
    let min = lanes_lo.iter().fold(lo_rest, |a, &b| if b < a { b } else { a });
    let max = lanes_hi.iter().fold(hi_rest, |a, &b| if b > a { b } else { a });
    (min, max)
}

/// `a' = clamp(round_half_even(x / scale), −zp, 255 − zp)`, i.e. the quantised value minus its
/// zero point, packed in row panels in the kernel's layout, with each row's Σ a'. `quantize_row`
/// turns one row into its bytes in the layout (pairs: `a'` as little-endian i16; quads: `q` as u8)
/// and returns its Σ a'.
#[inline(always)]
fn quantize_and_pack(
    x: &[f32],
    m: usize,
    k: usize,
    scale: f32,
    zero_point: i32,
    layout: Layout,
    quantize_row: impl Fn(&[f32], f32, i32, Layout, &mut [u8]) -> i32,
) -> PackedActivations {
    let depth = layout.depth();
    let steps = k.div_ceil(depth);
    let row_panels = m.div_ceil(MR);
    let mut panels = vec![0u32; row_panels * steps * MR];
    let mut row_sums = vec![0i32; row_panels * MR];
    // One row's bytes, four per K step. Past K the row stays a' = 0: the bytes 0 for pairs, the
    // byte q = zp for quads. It meets zero weights.
    let (mut row, row_bytes) = match layout {
        Layout::Pairs => (vec![0u8; steps * 4], 2 * k),
        Layout::Quads => (vec![zero_point as u8; steps * 4], k),
    };
    for (r, values) in x.chunks_exact(k).enumerate() {
        row_sums[r] = quantize_row(values, scale, zero_point, layout, &mut row[..row_bytes]);
        let (panel, lane) = (r / MR, r % MR);
        let words = panels[panel * steps * MR..][..steps * MR].iter_mut().skip(lane).step_by(MR);
        for (word, bytes) in words.zip(row.as_chunks::<4>().0) {
            *word = u32::from_le_bytes(*bytes);
        }
    }
    PackedActivations { panels, row_sums }
}

/// The portable row quantiser of [`quantize_and_pack`] (SIMD128 in wasm).
fn quantize_row(x: &[f32], scale: f32, zero_point: i32, layout: Layout, out: &mut [u8]) -> i32 {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let (done, sum) = quantize_row_simd128(x, scale, zero_point, layout, out);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    let (done, sum) = (0, 0);
    sum + quantize_values(x, done, scale, zero_point, layout, out)
}

/// The whole 8-value groups of [`quantize_row`] in SIMD128: `(values done, their Σ a')`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn quantize_row_simd128(x: &[f32], scale: f32, zero_point: i32, layout: Layout, out: &mut [u8]) -> (usize, i32) {
    use core::arch::wasm32::*;
    let (vs, vlo, vhi) = (f32x4_splat(scale), f32x4_splat((-zero_point) as f32), f32x4_splat((255 - zero_point) as f32));
    let mut sums = i32x4_splat(0);
    let done = x.len() / 8 * 8;
    for i in (0..done).step_by(8) {
        // SAFETY: i + 7 < x.len(), and out holds 2 (pairs) or 1 (quads) bytes per value.
        unsafe {
            let q = |offset: usize| {
                let v = v128_load(x.as_ptr().add(i + offset) as *const v128);
                let q = f32x4_pmin(vhi, f32x4_pmax(vlo, f32x4_div(v, vs)));
                i32x4_trunc_sat_f32x4(f32x4_nearest(q))
            };
            let (a, b) = (q(0), q(4));
            sums = i32x4_add(sums, i32x4_add(a, b));
            let eight = i16x8_narrow_i32x4(a, b);
            match layout {
                Layout::Pairs => v128_store(out.as_mut_ptr().add(2 * i) as *mut v128, eight),
                Layout::Quads => {
                    let q = i16x8_add(eight, i16x8_splat(zero_point as i16));
                    v128_store64_lane::<0>(u8x16_narrow_i16x8(q, q), out.as_mut_ptr().add(i) as *mut u64);
                }
            }
        }
    }
    let sum = i32x4_extract_lane::<0>(sums)
        + i32x4_extract_lane::<1>(sums)
        + i32x4_extract_lane::<2>(sums)
        + i32x4_extract_lane::<3>(sums);
    (done, sum)
}

/// [`quantize_row`] 16 values at a time in AVX2: the same rounding (half to even, the default
/// mode) and clamping (a NaN lands on the lower bound).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn quantize_row_avx2(x: &[f32], scale: f32, zero_point: i32, layout: Layout, out: &mut [u8]) -> i32 {
    use std::arch::x86_64::*;
    let (vs, vlo, vhi) = (_mm256_set1_ps(scale), _mm256_set1_ps((-zero_point) as f32), _mm256_set1_ps((255 - zero_point) as f32));
    let vzp = _mm256_set1_epi16(zero_point as i16);
    let mut sums = _mm256_setzero_si256();
    let done = x.len() / 16 * 16;
    for i in (0..done).step_by(16) {
        // SAFETY: i + 15 < x.len(), and out holds 2 (pairs) or 1 (quads) bytes per value.
        unsafe {
            let q = |offset: usize| {
                let v = _mm256_div_ps(_mm256_loadu_ps(x.as_ptr().add(i + offset)), vs);
                let v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
                _mm256_cvtps_epi32(_mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(v))
            };
            let (a, b) = (q(0), q(8));
            sums = _mm256_add_epi32(sums, _mm256_add_epi32(a, b));
            // packs works per 128-bit half: [a0-3 b0-3 a4-7 b4-7], put back in order.
            let sixteen = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packs_epi32(a, b));
            match layout {
                Layout::Pairs => _mm256_storeu_si256(out.as_mut_ptr().add(2 * i) as *mut __m256i, sixteen),
                Layout::Quads => {
                    let q = _mm256_add_epi16(sixteen, vzp);
                    let bytes = _mm_packus_epi16(_mm256_castsi256_si128(q), _mm256_extracti128_si256::<1>(q));
                    _mm_storeu_si128(out.as_mut_ptr().add(i) as *mut __m128i, bytes);
                }
            }
        }
    }
    let mut lanes = [0i32; 8];
    // SAFETY: an 8-lane array.
    unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, sums) };
    let sum: i32 = lanes.iter().sum();
    sum + quantize_values(x, done, scale, zero_point, layout, out)
}

/// The row's values from `from` on, one at a time: their Σ a'.
fn quantize_values(x: &[f32], from: usize, scale: f32, zero_point: i32, layout: Layout, out: &mut [u8]) -> i32 {
    let (lo, hi) = ((-zero_point) as f32, (255 - zero_point) as f32);
    let mut sum = 0;
    for (i, &v) in x.iter().enumerate().skip(from) {
        let a = quantize(v, scale, lo, hi);
        sum += a as i32;
        match layout {
            Layout::Pairs => out[2 * i..2 * i + 2].copy_from_slice(&a.to_le_bytes()),
            Layout::Quads => out[i] = (a as i32 + zero_point) as u8,
        }
    }
    sum
}

#[inline(always)]
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

/// An implementation of the int32 register tile `acc[MR][NR] = Σ_steps a_step · b_step` (one row
/// panel by one column panel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Pairs, plain Rust.
    Portable,
    /// Pairs, `vpmaddwd` on 4×16 ymm tiles.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Quads, `vpdpbusd` (AVX-VNNI, or AVX-512 VNNI on 256-bit registers) on 4×16 ymm tiles.
    #[cfg(target_arch = "x86_64")]
    Vnni,
    /// Quads, `vpdpbusd` on 512-bit registers (AVX-512 VNNI): 4×16 tiles, one zmm per row
    /// (1.4-1.9× the 256-bit tile on a Sapphire Rapids core: examples/qgemm_speed.rs).
    #[cfg(target_arch = "x86_64")]
    Avx512Vnni,
    /// Pairs, `i32x4.dot_i16x8_s` on 4×8 tiles.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Simd128,
    /// Quads, relaxed `i32x4.dot_i8x16_i7x16_add_s` on 4×8 tiles: only where the engine computes it
    /// as unsigned-by-signed bytes without saturation (V8 on x86-64 with AVX-VNNI), which
    /// [`Kernel::best`] checks first. Built with the `relaxed-simd` feature (a module with relaxed
    /// instructions does not load in engines without them, so the page offers two builds).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
    RelaxedSimd,
}

impl Kernel {
    /// The fastest kernel this machine runs.
    pub fn best() -> Kernel {
        *Kernel::available().last().expect("the portable kernel is always available")
    }

    /// Every kernel this machine runs, the portable one first and the fastest last.
    pub fn available() -> Vec<Kernel> {
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                kernels.push(Kernel::Avx2);
                if vnni_form().is_some() {
                    kernels.push(Kernel::Vnni);
                }
                if std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx512vnni") {
                    kernels.push(Kernel::Avx512Vnni);
                }
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        kernels.push(Kernel::Simd128);
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
        if relaxed_dot_is_unsigned_by_signed() {
            kernels.push(Kernel::RelaxedSimd);
        }
        kernels
    }

    /// A short stable name (reports, benchmarks, the page's build line).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kernel::Vnni => "vnni",
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => "avx512-vnni",
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => "simd128",
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
            Kernel::RelaxedSimd => "relaxed-simd",
        }
    }

    fn layout(self) -> Layout {
        match self {
            Kernel::Portable => Layout::Pairs,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => Layout::Pairs,
            #[cfg(target_arch = "x86_64")]
            Kernel::Vnni | Kernel::Avx512Vnni => Layout::Quads,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => Layout::Pairs,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
            Kernel::RelaxedSimd => Layout::Quads,
        }
    }

    /// `acc (+)= Σ_steps a·b` over `steps` K steps: added to `acc` when `accumulate`, else
    /// replacing it.
    fn run(self, a: &[u32], b: &[u8], steps: usize, accumulate: bool, acc: &mut [[i32; NR]; MR]) {
        assert!(a.len() >= steps * MR && b.len() >= steps * self.layout().depth() * NR);
        if !accumulate {
            *acc = [[0; NR]; MR];
        }
        match self {
            Kernel::Portable => portable(a, b, steps, acc),
            // SAFETY (all below): the slices hold `steps` whole steps (asserted); the instruction
            // set was detected (x86-64), is a compile-time feature of this build (simd128), or was
            // detected and checked (relaxed SIMD).
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { avx2(a.as_ptr(), b.as_ptr(), steps, acc) },
            #[cfg(target_arch = "x86_64")]
            Kernel::Vnni => unsafe {
                match vnni_form() {
                    Some(VnniForm::Vex) => vnni_vex(a.as_ptr(), b.as_ptr(), steps, acc),
                    Some(VnniForm::Evex) => vnni_evex(a.as_ptr(), b.as_ptr(), steps, acc),
                    None => unreachable!("packed for VNNI on a machine without it"),
                }
            },
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512Vnni => unsafe { vnni_zmm(a.as_ptr(), b.as_ptr(), steps, acc) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => unsafe { simd128(a.as_ptr(), b.as_ptr(), steps, acc) },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
            Kernel::RelaxedSimd => unsafe { relaxed_simd(a.as_ptr(), b.as_ptr(), steps, acc) },
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


/// Which encoding of `vpdpbusd` this x86-64 machine has: AVX-VNNI's (VEX) or AVX-512 VNNI's (EVEX,
/// used here on 256-bit registers).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
enum VnniForm {
    Vex,
    Evex,
}

#[cfg(target_arch = "x86_64")]
fn vnni_form() -> Option<VnniForm> {
    if std::arch::is_x86_feature_detected!("avxvnni") {
        Some(VnniForm::Vex)
    } else if std::arch::is_x86_feature_detected!("avx512vnni") && std::arch::is_x86_feature_detected!("avx512vl") {
        Some(VnniForm::Evex)
    } else {
        None
    }
}

/// 4×16 quads tile, added to `acc`: per K step two 32-byte weight loads (columns 0-7 and 8-15, four
/// K bytes each), one 32-bit broadcast of four activation bytes per row, eight `vpdpbusd`
/// (u8 · i8, four products per int32 lane, no saturation). The same body for both encodings.
#[cfg(target_arch = "x86_64")]
macro_rules! vnni_tile {
    ($name:ident, $features:literal, $dot:ident) => {
        #[target_feature(enable = $features)]
        unsafe fn $name(a: *const u32, b: *const u8, steps: usize, acc: &mut [[i32; NR]; MR]) {
            use std::arch::x86_64::*;
            let c = acc.as_ptr() as *const __m256i; // row r, columns 8h..8h+7 at c.add(2r + h)
            let (mut c00, mut c01) = (_mm256_loadu_si256(c), _mm256_loadu_si256(c.add(1)));
            let (mut c10, mut c11) = (_mm256_loadu_si256(c.add(2)), _mm256_loadu_si256(c.add(3)));
            let (mut c20, mut c21) = (_mm256_loadu_si256(c.add(4)), _mm256_loadu_si256(c.add(5)));
            let (mut c30, mut c31) = (_mm256_loadu_si256(c.add(6)), _mm256_loadu_si256(c.add(7)));
            for step in 0..steps {
                let w = b.add(step * 64) as *const __m256i;
                let (w0, w1) = (_mm256_loadu_si256(w), _mm256_loadu_si256(w.add(1)));
                let rows = a.add(step * 4) as *const i32;
                let x = _mm256_set1_epi32(rows.read_unaligned());
                c00 = $dot(c00, x, w0);
                c01 = $dot(c01, x, w1);
                let x = _mm256_set1_epi32(rows.add(1).read_unaligned());
                c10 = $dot(c10, x, w0);
                c11 = $dot(c11, x, w1);
                let x = _mm256_set1_epi32(rows.add(2).read_unaligned());
                c20 = $dot(c20, x, w0);
                c21 = $dot(c21, x, w1);
                let x = _mm256_set1_epi32(rows.add(3).read_unaligned());
                c30 = $dot(c30, x, w0);
                c31 = $dot(c31, x, w1);
            }
            for (row, (lo, hi)) in acc.iter_mut().zip([(c00, c01), (c10, c11), (c20, c21), (c30, c31)]) {
                _mm256_storeu_si256(row.as_mut_ptr() as *mut __m256i, lo);
                _mm256_storeu_si256(row.as_mut_ptr().add(8) as *mut __m256i, hi);
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
vnni_tile!(vnni_vex, "avx2,avxvnni", _mm256_dpbusd_avx_epi32);
#[cfg(target_arch = "x86_64")]
vnni_tile!(vnni_evex, "avx2,avx512vnni,avx512vl", _mm256_dpbusd_epi32);

/// The 4×16 quads tile on 512-bit registers (AVX-512 VNNI): one step's 16 columns × 4 K bytes are
/// one zmm load, so per step one weight load, four activation broadcasts and four `vpdpbusd` (half
/// the instructions of the 256-bit tile). Even and odd steps add into separate accumulators (eight
/// chains in flight against `vpdpbusd`'s latency), summed at the end.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn vnni_zmm(a: *const u32, b: *const u8, steps: usize, acc: &mut [[i32; NR]; MR]) {
    use std::arch::x86_64::*;
    let c = acc.as_ptr() as *const __m512i; // row r at c.add(r)
    let mut even = [_mm512_loadu_si512(c), _mm512_loadu_si512(c.add(1)), _mm512_loadu_si512(c.add(2)), _mm512_loadu_si512(c.add(3))];
    let mut odd = [_mm512_setzero_si512(); MR];
    let step = |sums: &mut [__m512i; MR], s: usize| {
        let w = _mm512_loadu_si512(b.add(s * 64) as *const __m512i);
        let rows = a.add(s * 4) as *const i32;
        for (r, sum) in sums.iter_mut().enumerate() {
            *sum = _mm512_dpbusd_epi32(*sum, _mm512_set1_epi32(rows.add(r).read_unaligned()), w);
        }
    };
    let mut s = 0;
    while s + 2 <= steps {
        step(&mut even, s);
        step(&mut odd, s + 1);
        s += 2;
    }
    if s < steps {
        step(&mut even, s);
    }
    for (row, (e, o)) in acc.iter_mut().zip(even.into_iter().zip(odd)) {
        _mm512_storeu_si512(row.as_mut_ptr() as *mut __m512i, _mm512_add_epi32(e, o));
    }
}

/// 4×8 quads tile, added to `acc`: per K step two 16-byte weight loads (columns 0-3 and 4-7, four K
/// bytes each), one 32-bit splat of four activation bytes per row, eight relaxed dots with the
/// weights as the signed operand and the activations as the "7-bit" one (which engines that use
/// `vpdpbusd` read as unsigned).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
#[target_feature(enable = "relaxed-simd")]
unsafe fn relaxed_simd(a: *const u32, b: *const u8, steps: usize, acc: &mut [[i32; NR]; MR]) {
    use core::arch::wasm32::*;
    let c = acc.as_ptr() as *const v128; // row r, columns 4h..4h+3 at c.add(2r + h)
    let (mut c00, mut c01, mut c10, mut c11) = (v128_load(c), v128_load(c.add(1)), v128_load(c.add(2)), v128_load(c.add(3)));
    let (mut c20, mut c21, mut c30, mut c31) = (v128_load(c.add(4)), v128_load(c.add(5)), v128_load(c.add(6)), v128_load(c.add(7)));
    for step in 0..steps {
        let w = b.add(step * 32) as *const v128;
        let (w0, w1) = (v128_load(w), v128_load(w.add(1)));
        let rows = a.add(step * 4);
        let x = v128_load32_splat(rows);
        c00 = i32x4_relaxed_dot_i8x16_i7x16_add(w0, x, c00);
        c01 = i32x4_relaxed_dot_i8x16_i7x16_add(w1, x, c01);
        let x = v128_load32_splat(rows.add(1));
        c10 = i32x4_relaxed_dot_i8x16_i7x16_add(w0, x, c10);
        c11 = i32x4_relaxed_dot_i8x16_i7x16_add(w1, x, c11);
        let x = v128_load32_splat(rows.add(2));
        c20 = i32x4_relaxed_dot_i8x16_i7x16_add(w0, x, c20);
        c21 = i32x4_relaxed_dot_i8x16_i7x16_add(w1, x, c21);
        let x = v128_load32_splat(rows.add(3));
        c30 = i32x4_relaxed_dot_i8x16_i7x16_add(w0, x, c30);
        c31 = i32x4_relaxed_dot_i8x16_i7x16_add(w1, x, c31);
    }
    for (row, (lo, hi)) in acc.iter_mut().zip([(c00, c01), (c10, c11), (c20, c21), (c30, c31)]) {
        v128_store(row.as_mut_ptr() as *mut v128, lo);
        v128_store(row.as_mut_ptr().add(4) as *mut v128, hi);
    }
}

/// Whether this engine's relaxed dot product is exact unsigned-by-signed: the second operand's
/// bytes read as u8, the first's as i8, four products summed into each int32 lane with no
/// intermediate saturation. The specification leaves "7-bit" operands with the top bit set to the
/// engine: V8 on x86-64 with AVX-VNNI gives exactly this (`vpdpbusd`); `pmaddubsw` (x86-64 without
/// VNNI) saturates at i16 and Arm's `sdot` reads both as signed, so the extremes below tell them
/// apart. Asked once.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
fn relaxed_dot_is_unsigned_by_signed() -> bool {
    static ANSWER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANSWER.get_or_init(|| {
        // SAFETY: relaxed SIMD is a compile-time feature of this build (the module would not have
        // loaded without it).
        unsafe { relaxed_dot_probe() }
    })
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
#[target_feature(enable = "relaxed-simd")]
unsafe fn relaxed_dot_probe() -> bool {
    use core::arch::wasm32::*;
    use std::hint::black_box;
    let signed: [i8; 16] = [-128, -128, -128, -128, 127, 127, 127, 127, -1, 2, -3, 4, -128, 127, 0, -77];
    let unsigned: [u8; 16] = [255, 255, 255, 255, 255, 255, 255, 255, 128, 200, 255, 1, 129, 254, 255, 33];
    let start: [i32; 4] = [7, -7, 1 << 20, -(1 << 20)];
    let got = i32x4_relaxed_dot_i8x16_i7x16_add(
        black_box(v128_load(signed.as_ptr() as *const v128)),
        black_box(v128_load(unsigned.as_ptr() as *const v128)),
        black_box(v128_load(start.as_ptr() as *const v128)),
    );
    let mut lanes = [0i32; 4];
    v128_store(lanes.as_mut_ptr() as *mut v128, got);
    (0..4).all(|lane| {
        let products = (0..4).map(|j| signed[4 * lane + j] as i32 * unsigned[4 * lane + j] as i32);
        lanes[lane] == start[lane] + products.sum::<i32>()
    })
}
