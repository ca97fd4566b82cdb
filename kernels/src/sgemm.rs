//! f32 matrix products for WebAssembly, where tract's 8×8 f32 tile spills (16 accumulators
//! against V8's 15 usable x64 vector registers) and its products between two activations (the
//! attention's `QKᵀ` and `PV`) pack and run at a fraction of the machine's rate.
//!
//! `c[M][N] = Σ_k a[M][K] · b[K][N]`, row-major, over 4×8 register tiles: per k, two 4-wide
//! weight loads, one broadcast per row, eight multiplies and eight adds (no fused multiply-add in
//! plain SIMD128, so the portable kernel does the same two roundings in the same order and every
//! kernel gives the same bits). Both operands are packed per call (they change every run).
//!
//! [`accumulate_tile`] is the same tile for tract's own f32 products (convolutions, products with
//! a constant operand: `sightline::tract_routines`), which pack their operands themselves. It uses
//! relaxed SIMD's fused multiply-add where the module has it: one rounding instead of two, so its
//! last bits differ between the modules, as tract's own kernels' do.

/// Rows per register tile.
pub const MR: usize = 4;
/// Columns per register tile.
pub const NR: usize = 8;
/// An accumulator tile: [`MR`] rows of [`NR`] columns.
pub type Tile = [[f32; NR]; MR];

/// An implementation of the register tile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    Simd128,
}

impl Kernel {
    /// The fastest kernel this build runs.
    pub fn best() -> Kernel {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        return Kernel::Simd128;
        #[allow(unreachable_code)]
        Kernel::Portable
    }

    /// Every kernel this build runs, the portable one first.
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Portable];
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        kernels.push(Kernel::Simd128);
        kernels
    }

    /// `tile += a · b` over `k` steps of packed panels.
    fn run(self, a: &[f32], b: &[f32], k: usize, tile: &mut Tile) {
        assert!(a.len() >= k * MR && b.len() >= k * NR);
        match self {
            Kernel::Portable => portable(a, b, k, tile),
            // SAFETY: the slices hold k whole steps (asserted); simd128 is a feature of this build.
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Kernel::Simd128 => unsafe { simd128(a.as_ptr(), b.as_ptr(), k, tile) },
        }
    }
}

/// `c = a · b` for `a[m][k]`, `b[k][n]`, `c[m][n]`, row-major, with the fastest kernel.
pub fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, c: &mut [f32]) {
    matmul_with(Kernel::best(), a, b, m, k, n, c)
}

/// [`matmul`] over `batches` consecutive products of the same shape (`a[batches][m][k]`,
/// `b[batches][k][n]`, `c[batches][m][n]`): the attention's heads, split across threads where the
/// build has them (`crate::parallel`).
pub fn matmul_batches(a: &[f32], b: &[f32], batches: usize, m: usize, k: usize, n: usize, c: &mut [f32]) {
    assert_eq!(a.len(), batches * m * k);
    assert_eq!(b.len(), batches * k * n);
    assert_eq!(c.len(), batches * m * n);
    if m * n == 0 {
        return;
    }
    crate::parallel::for_each_part(c, m * n, |first, c| {
        for (batch, c) in (first..).zip(c.chunks_exact_mut(m * n)) {
            matmul(&a[batch * m * k..][..m * k], &b[batch * k * n..][..k * n], m, k, n, c);
        }
    });
}

/// [`matmul`] with a chosen kernel (tests compare them).
pub fn matmul_with(kernel: Kernel, a: &[f32], b: &[f32], m: usize, k: usize, n: usize, c: &mut [f32]) {
    assert_eq!(a.len(), m * k);
    assert_eq!(b.len(), k * n);
    assert_eq!(c.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    // B in column panels: per panel, k steps of NR values (ragged edge padded with zeros).
    let n_panels = n.div_ceil(NR);
    let mut packed_b = vec![0f32; n_panels * k * NR];
    if k > 0 {
        for (panel, steps) in packed_b.chunks_exact_mut(k * NR).enumerate() {
            let (col0, cols) = (panel * NR, (n - panel * NR).min(NR));
            for (row, step) in steps.chunks_exact_mut(NR).enumerate() {
                step[..cols].copy_from_slice(&b[row * n + col0..][..cols]);
            }
        }
    }
    // A in row panels: per panel, k steps of MR values.
    let row_panels = m.div_ceil(MR);
    let mut packed_a = vec![0f32; row_panels * k * MR];
    for (r, row) in a.chunks_exact(k.max(1)).take(m).enumerate() {
        let base = (r / MR) * k * MR + r % MR;
        for (i, &v) in row.iter().enumerate().take(k) {
            packed_a[base + i * MR] = v;
        }
    }
    for row_panel in 0..row_panels {
        let a = &packed_a[row_panel * k * MR..][..k * MR];
        for col_panel in 0..n_panels {
            let mut tile = [[0f32; NR]; MR];
            kernel.run(a, &packed_b[col_panel * k * NR..][..k * NR], k, &mut tile);
            let (row0, col0) = (row_panel * MR, col_panel * NR);
            let cols = (n - col0).min(NR);
            for (r, values) in tile.iter().enumerate().take(m - row0) {
                c[(row0 + r) * n + col0..][..cols].copy_from_slice(&values[..cols]);
            }
        }
    }
}

fn portable(a: &[f32], b: &[f32], k: usize, tile: &mut Tile) {
    for step in 0..k {
        let cols = &b[step * NR..][..NR];
        for (acc, &x) in tile.iter_mut().zip(&a[step * MR..][..MR]) {
            for (acc, &w) in acc.iter_mut().zip(cols) {
                *acc += x * w;
            }
        }
    }
}

/// `tile += a · b` with the fastest multiply-add this build has: relaxed SIMD's fused one in the
/// relaxed-SIMD modules, SIMD128's multiply then add in the others, portable Rust natively.
/// `a` holds `k` steps of [`MR`] values, `b` `k` steps of [`NR`].
pub fn accumulate_tile(a: &[f32], b: &[f32], k: usize, tile: &mut Tile) {
    assert!(a.len() >= k * MR && b.len() >= k * NR);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
    // SAFETY: the slices hold k whole steps (asserted); a module built with this feature is only
    // instantiated where relaxed SIMD validates.
    return unsafe { relaxed_fma(a.as_ptr(), b.as_ptr(), k, tile) };
    #[allow(unreachable_code)]
    Kernel::best().run(a, b, k, tile)
}

/// The 4×8 tile's k loop over eight accumulators held in registers: two B vectors and one
/// broadcast live beside them, 11 v128 values, under the 15 V8 gives an x64 function (tract's
/// 8×8 tile needs 16 accumulators and spills). `$madd(acc, x, w)` is the multiply-add.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
macro_rules! tile_4x8 {
    ($a:expr, $b:expr, $k:expr, $tile:expr, $madd:path) => {{
        use core::arch::wasm32::*;
        let c = $tile.as_mut_ptr() as *mut v128;
        let (mut c00, mut c01, mut c10, mut c11) = (v128_load(c), v128_load(c.add(1)), v128_load(c.add(2)), v128_load(c.add(3)));
        let (mut c20, mut c21, mut c30, mut c31) = (v128_load(c.add(4)), v128_load(c.add(5)), v128_load(c.add(6)), v128_load(c.add(7)));
        for step in 0..$k {
            let w = $b.add(step * NR) as *const v128;
            let (w0, w1) = (v128_load(w), v128_load(w.add(1)));
            let rows = $a.add(step * MR);
            let x = v128_load32_splat(rows as *const u32);
            c00 = $madd(c00, x, w0);
            c01 = $madd(c01, x, w1);
            let x = v128_load32_splat(rows.add(1) as *const u32);
            c10 = $madd(c10, x, w0);
            c11 = $madd(c11, x, w1);
            let x = v128_load32_splat(rows.add(2) as *const u32);
            c20 = $madd(c20, x, w0);
            c21 = $madd(c21, x, w1);
            let x = v128_load32_splat(rows.add(3) as *const u32);
            c30 = $madd(c30, x, w0);
            c31 = $madd(c31, x, w1);
        }
        for (i, v) in [c00, c01, c10, c11, c20, c21, c30, c31].into_iter().enumerate() {
            v128_store(c.add(i), v);
        }
    }};
}

/// SIMD128: multiply, then add (two roundings, as the portable kernel).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
unsafe fn mul_add(acc: core::arch::wasm32::v128, x: core::arch::wasm32::v128, w: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
    use core::arch::wasm32::*;
    f32x4_add(acc, f32x4_mul(x, w))
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
unsafe fn simd128(a: *const f32, b: *const f32, k: usize, tile: &mut Tile) {
    tile_4x8!(a, b, k, tile, mul_add)
}

/// Relaxed SIMD: fused multiply-add where the engine fuses (x64 V8 with FMA3 does): 7.9 against
/// 5.5 multiply-adds per cycle for the same tile (../shared/tools/wasm-kernel-rates).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
#[target_feature(enable = "relaxed-simd")]
#[inline(never)]
unsafe fn relaxed_fma(a: *const f32, b: *const f32, k: usize, tile: &mut Tile) {
    #[target_feature(enable = "relaxed-simd")]
    unsafe fn fma(acc: core::arch::wasm32::v128, x: core::arch::wasm32::v128, w: core::arch::wasm32::v128) -> core::arch::wasm32::v128 {
        core::arch::wasm32::f32x4_relaxed_madd(x, w, acc)
    }
    tile_4x8!(a, b, k, tile, fma)
}

/// An element-wise step after the product: `acc = op(operand, acc)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    Min,
    Max,
    Add,
    Mul,
    /// `operand − acc`.
    Sub,
    /// `acc − operand`.
    SubFlipped,
}

/// The other side of a [`Binary`] step: one value, one per row, or one per column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Operand {
    Scalar(f32),
    PerRow([f32; MR]),
    PerCol([f32; NR]),
}

/// `tile[r][c] = op(operand at (r, c), tile[r][c])` (the steps a matrix product fuses after it:
/// bias, batch norm, activation bounds). Not inlined into callers: it is compiled here, with the
/// kernels' optimisation, whatever the caller's profile.
pub fn apply(tile: &mut Tile, op: Binary, operand: Operand) {
    #[inline(always)]
    fn map(tile: &mut Tile, operand: Operand, f: impl Fn(f32, f32) -> f32) {
        for (r, row) in tile.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                let x = match operand {
                    Operand::Scalar(x) => x,
                    Operand::PerRow(rows) => rows[r],
                    Operand::PerCol(cols) => cols[c],
                };
                *v = f(x, *v);
            }
        }
    }
    match op {
        Binary::Min => map(tile, operand, |x, v| if x < v { x } else { v }),
        Binary::Max => map(tile, operand, |x, v| if x > v { x } else { v }),
        Binary::Add => map(tile, operand, |x, v| x + v),
        Binary::Mul => map(tile, operand, |x, v| x * v),
        Binary::Sub => map(tile, operand, |x, v| x - v),
        Binary::SubFlipped => map(tile, operand, |x, v| v - x),
    }
}

/// `tile = tile > 0 ? tile : alpha · tile`.
pub fn leaky_relu(tile: &mut Tile, alpha: f32) {
    for v in tile.iter_mut().flatten() {
        *v = if *v > 0.0 { *v } else { alpha * *v };
    }
}

/// `tile[r][c] += rows[r] · cols[c]`.
pub fn add_outer_product(tile: &mut Tile, rows: &[f32; MR], cols: &[f32; NR]) {
    for (row, &x) in tile.iter_mut().zip(rows) {
        for (v, &y) in row.iter_mut().zip(cols) {
            *v += x * y;
        }
    }
}

/// `tile[r][c] += *(base + r·row_stride + c·col_stride)` (strides in bytes).
///
/// # Safety
/// Every such address holds an `f32`.
pub unsafe fn add_strided(tile: &mut Tile, base: *const u8, row_stride: isize, col_stride: isize) {
    for (r, row) in tile.iter_mut().enumerate() {
        for (c, v) in row.iter_mut().enumerate() {
            *v += (base.offset(r as isize * row_stride + c as isize * col_stride) as *const f32).read_unaligned();
        }
    }
}

/// Write the tile at `base + r·row_stride + c·col_stride` (strides in bytes).
///
/// # Safety
/// Every such address is writable `f32` memory nothing else holds a reference to.
pub unsafe fn store_strided(tile: &Tile, base: *mut u8, row_stride: isize, col_stride: isize) {
    for (r, row) in tile.iter().enumerate() {
        let out = base.offset(r as isize * row_stride);
        if col_stride == 4 {
            std::ptr::copy_nonoverlapping(row.as_ptr(), out as *mut f32, NR);
        } else {
            for (c, &v) in row.iter().enumerate() {
                (out.offset(c as isize * col_stride) as *mut f32).write_unaligned(v);
            }
        }
    }
}
