//! f32 matrix products for WebAssembly, where tract's 8×8 f32 tile spills (16 accumulators
//! against V8's 15 usable x64 vector registers) and its products between two activations (the
//! attention's `QKᵀ` and `PV`) pack and run at a fraction of the machine's rate.
//!
//! `c[M][N] = Σ_k a[M][K] · b[K][N]`, row-major, over 4×8 register tiles: per k, two 4-wide
//! weight loads, one broadcast per row, eight multiplies and eight adds (no fused multiply-add in
//! plain SIMD128, so the portable kernel does the same two roundings in the same order and every
//! kernel gives the same bits). Both operands are packed per call (they change every run).

/// Rows per register tile.
pub const MR: usize = 4;
/// Columns per register tile.
pub const NR: usize = 8;

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

    fn run(self, a: &[f32], b: &[f32], k: usize, tile: &mut [[f32; NR]; MR]) {
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
    let mut tile = [[0f32; NR]; MR];
    for row_panel in 0..row_panels {
        let a = &packed_a[row_panel * k * MR..][..k * MR];
        for col_panel in 0..n_panels {
            kernel.run(a, &packed_b[col_panel * k * NR..][..k * NR], k, &mut tile);
            let (row0, col0) = (row_panel * MR, col_panel * NR);
            let cols = (n - col0).min(NR);
            for (r, values) in tile.iter().enumerate().take(m - row0) {
                c[(row0 + r) * n + col0..][..cols].copy_from_slice(&values[..cols]);
            }
        }
    }
}

fn portable(a: &[f32], b: &[f32], k: usize, tile: &mut [[f32; NR]; MR]) {
    *tile = [[0.0; NR]; MR];
    for step in 0..k {
        let cols = &b[step * NR..][..NR];
        for (acc, &x) in tile.iter_mut().zip(&a[step * MR..][..MR]) {
            for (acc, &w) in acc.iter_mut().zip(cols) {
                *acc += x * w;
            }
        }
    }
}

/// 4×8 tile: eight accumulators, two B vectors and one broadcast: 11 live v128 values.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(never)]
unsafe fn simd128(a: *const f32, b: *const f32, k: usize, tile: &mut [[f32; NR]; MR]) {
    use core::arch::wasm32::*;
    let zero = f32x4_splat(0.0);
    let (mut c00, mut c01, mut c10, mut c11) = (zero, zero, zero, zero);
    let (mut c20, mut c21, mut c30, mut c31) = (zero, zero, zero, zero);
    for step in 0..k {
        let w = b.add(step * NR) as *const v128;
        let (w0, w1) = (v128_load(w), v128_load(w.add(1)));
        let rows = a.add(step * MR);
        let x = v128_load32_splat(rows as *const u32);
        c00 = f32x4_add(c00, f32x4_mul(x, w0));
        c01 = f32x4_add(c01, f32x4_mul(x, w1));
        let x = v128_load32_splat(rows.add(1) as *const u32);
        c10 = f32x4_add(c10, f32x4_mul(x, w0));
        c11 = f32x4_add(c11, f32x4_mul(x, w1));
        let x = v128_load32_splat(rows.add(2) as *const u32);
        c20 = f32x4_add(c20, f32x4_mul(x, w0));
        c21 = f32x4_add(c21, f32x4_mul(x, w1));
        let x = v128_load32_splat(rows.add(3) as *const u32);
        c30 = f32x4_add(c30, f32x4_mul(x, w0));
        c31 = f32x4_add(c31, f32x4_mul(x, w1));
    }
    let c = tile.as_mut_ptr() as *mut v128;
    for (i, v) in [c00, c01, c10, c11, c20, c21, c30, c31].into_iter().enumerate() {
        v128_store(c.add(i), v);
    }
}
