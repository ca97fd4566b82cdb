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
    let kernel = w.kernel;
    let layout = kernel.layout();
    let (x_scale, x_zero_point) = quantization_parameters(x);
    let activations = quantize_and_pack(x, m, k, x_scale, x_zero_point, layout);
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
                let a = &activations.panels[(row_panel * steps + k0) * MR..][..depth * MR];
                for (j, col_panel) in panels.clone().enumerate() {
                    let b = &w.panels[(col_panel * steps + k0) * step_bytes..][..depth * step_bytes];
                    kernel.run(a, b, depth, k0 > 0, &mut sums[row_panel * block_panels + j]);
                }
            }
        }
        // Epilogue: zero-point corrections, scale, bias, into y.
        for row_panel in 0..row_panels {
            let row_sums = &activations.row_sums[row_panel * MR..][..MR];
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
    /// Per row panel, per K step, MR words (two i16 `a'` for pairs, four u8 `q` for quads).
    panels: Vec<u32>,
    /// Σ_k a'[m][k] per row (padded rows: 0).
    row_sums: Vec<i32>,
}

/// `a' = clamp(round_half_even(x / scale), −zp, 255 − zp)`, i.e. the quantised value minus its
/// zero point, packed in row panels in the kernel's layout, with each row's Σ a'.
fn quantize_and_pack(x: &[f32], m: usize, k: usize, scale: f32, zero_point: i32, layout: Layout) -> PackedActivations {
    let depth = layout.depth();
    let steps = k.div_ceil(depth);
    let row_panels = m.div_ceil(MR);
    let mut panels = vec![0u32; row_panels * steps * MR];
    let mut row_sums = vec![0i32; row_panels * MR];
    let (lo, hi) = ((-zero_point) as f32, (255 - zero_point) as f32);
    // Past K the row stays a' = 0 (for quads the byte q = zp there): it meets zero weights.
    let mut row = vec![0i16; steps * depth];
    for (r, values) in x.chunks_exact(k).enumerate() {
        quantize_row(values, scale, lo, hi, &mut row[..k]);
        row_sums[r] = row[..k].iter().map(|&v| v as i32).sum();
        let (panel, lane) = (r / MR, r % MR);
        let words = panels[panel * steps * MR..][..steps * MR].iter_mut().skip(lane).step_by(MR);
        match layout {
            Layout::Pairs => {
                for (word, two) in words.zip(row.chunks_exact(2)) {
                    *word = (two[0] as u16 as u32) | ((two[1] as u16 as u32) << 16);
                }
            }
            Layout::Quads => {
                let q = |v: i16| (v as i32 + zero_point) as u8;
                for (word, four) in words.zip(row.chunks_exact(4)) {
                    *word = u32::from_le_bytes([q(four[0]), q(four[1]), q(four[2]), q(four[3])]);
                }
            }
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
            Kernel::Vnni => Layout::Quads,
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
