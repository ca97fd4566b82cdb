//! Softmax over the rows of a row-major buffer: the attention's `softmax(QKᵀ/√d)`, twelve heads of
//! 196 rows of 196 scores per SigLIP B/16 layer. tract runs it natively through three per-row
//! kernels, each staging a 196-value row that is not a multiple of its vector width through a
//! scratch buffer (bench/profile.md: 11% of the native int8 run, twice its wasm time); here one
//! function walks each row three times in registers.
//!
//! Per row: the maximum, `e = exp(x − max)` and its sum, then `e · (1 / sum)`. `exp` is computed as
//! `2^k · p(r)` with `k = round(x·log2 e)`, `r = x − k·ln 2` in two parts (Cody–Waite) and `p` the
//! degree-6 Taylor polynomial (relative error below 2·10⁻⁷ on |r| ≤ ln 2 / 2); arguments below
//! −87.3 give 0 (`exp` there is under 2⁻¹²⁶, invisible beside the row's largest term, 1). A row
//! holding a NaN comes out all NaN; a row of −∞ as well (0/0), as with the textbook formula.

/// An implementation of [`softmax_rows`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Plain Rust, the same arithmetic one lane at a time.
    Portable,
    /// 8 lanes with fused multiply-adds (x86-64 with AVX2 and FMA).
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    /// The fastest kernel this machine runs.
    pub fn best() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Kernel::Avx2;
        }
        Kernel::Portable
    }

    /// Every kernel this machine runs, the portable one first.
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        if Kernel::best() == Kernel::Avx2 {
            kernels.push(Kernel::Avx2);
        }
        kernels
    }

    /// Softmax in place over each `row_len` values of `buf` (a whole number of rows).
    pub fn run(self, buf: &mut [f32], row_len: usize) {
        assert!(row_len > 0 && buf.len().is_multiple_of(row_len), "softmax: {} values are not rows of {row_len}", buf.len());
        match self {
            Kernel::Portable => buf.chunks_exact_mut(row_len).for_each(portable_row),
            // SAFETY: `available()` offers Avx2 only where the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => buf.chunks_exact_mut(row_len).for_each(|row| unsafe { avx2_row(row) }),
        }
    }
}

/// Softmax in place over each `row_len` values of `buf`, with the fastest kernel here.
pub fn softmax_rows(buf: &mut [f32], row_len: usize) {
    use std::sync::OnceLock;
    static BEST: OnceLock<Kernel> = OnceLock::new();
    BEST.get_or_init(Kernel::best).run(buf, row_len)
}

const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that `k · LN2_HI` is exact for |k| < 2⁹.
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
/// Below this, `exp` is under f32's smallest normal number: the result is 0.
const EXP_MIN: f32 = -87.3;
/// 1/6!, 1/5!, …, 1/1!, 1/0!: Horner's order.
const TAYLOR: [f32; 7] = [1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0];

#[inline]
fn exp_scalar(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x < EXP_MIN {
        return 0.0;
    }
    let k = (x * LOG2_E).round_ties_even();
    // Unfused (mul_add is a library call where the target has no fused multiply-add).
    let r = x - k * LN2_HI - k * LN2_LO;
    let p = TAYLOR[1..].iter().fold(TAYLOR[0], |p, &c| p * r + c);
    p * f32::from_bits(((k as i32 + 127) as u32) << 23)
}

fn portable_row(row: &mut [f32]) {
    // A NaN reaches the sum through its own exp, whatever the maximum says.
    let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    let mut sum = 0.0;
    for v in row.iter_mut() {
        *v = exp_scalar(*v - max);
        sum += *v;
    }
    let inverse = 1.0 / sum;
    row.iter_mut().for_each(|v| *v *= inverse);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2_row(row: &mut [f32]) {
    use std::arch::x86_64::*;
    let n = row.len();
    let p = row.as_mut_ptr();
    let full = n / 8 * 8;
    // The last, partial vector through a mask: lanes past the row are neither read nor written.
    let tail = n - full;
    let tail_mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(tail as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));

    #[inline(always)]
    unsafe fn exp8(x: __m256) -> __m256 {
        let k = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(x, _mm256_set1_ps(LOG2_E)));
        let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_HI), x);
        let r = _mm256_fnmadd_ps(k, _mm256_set1_ps(LN2_LO), r);
        let mut q = _mm256_set1_ps(TAYLOR[0]);
        for &c in &TAYLOR[1..] {
            q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(c));
        }
        // 2^k from the exponent bits; k ≥ −126 wherever the result is kept.
        let two_k = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127))));
        let y = _mm256_mul_ps(q, two_k);
        // Below EXP_MIN: 0. NaN stays NaN (the comparison is false for it, and NaN propagates).
        _mm256_andnot_ps(_mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(EXP_MIN)), y)
    }

    // The maximum (a NaN reaches the sum through its own exp, whatever the maximum says).
    let mut m = _mm256_set1_ps(f32::NEG_INFINITY);
    let mut i = 0;
    while i < full {
        m = _mm256_max_ps(_mm256_loadu_ps(p.add(i)), m);
        i += 8;
    }
    if tail > 0 {
        let v = _mm256_maskload_ps(p.add(full), tail_mask);
        let v = _mm256_blendv_ps(_mm256_set1_ps(f32::NEG_INFINITY), v, _mm256_castsi256_ps(tail_mask));
        m = _mm256_max_ps(v, m);
    }
    let mut lanes = [0f32; 8];
    _mm256_storeu_ps(lanes.as_mut_ptr(), m);
    let max = lanes.iter().fold(f32::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    let vmax = _mm256_set1_ps(max);

    // exp(x − max) in place, summed in two accumulators.
    let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    i = 0;
    while i + 16 <= full {
        let e0 = exp8(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), vmax));
        let e1 = exp8(_mm256_sub_ps(_mm256_loadu_ps(p.add(i + 8)), vmax));
        _mm256_storeu_ps(p.add(i), e0);
        _mm256_storeu_ps(p.add(i + 8), e1);
        s0 = _mm256_add_ps(s0, e0);
        s1 = _mm256_add_ps(s1, e1);
        i += 16;
    }
    if i < full {
        let e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p.add(i)), vmax));
        _mm256_storeu_ps(p.add(i), e);
        s0 = _mm256_add_ps(s0, e);
    }
    if tail > 0 {
        let e = exp8(_mm256_sub_ps(_mm256_maskload_ps(p.add(full), tail_mask), vmax));
        _mm256_maskstore_ps(p.add(full), tail_mask, e);
        s1 = _mm256_add_ps(s1, _mm256_and_ps(e, _mm256_castsi256_ps(tail_mask)));
    }
    _mm256_storeu_ps(lanes.as_mut_ptr(), _mm256_add_ps(s0, s1));
    let inverse = _mm256_set1_ps(1.0 / lanes.iter().sum::<f32>());

    i = 0;
    while i < full {
        _mm256_storeu_ps(p.add(i), _mm256_mul_ps(_mm256_loadu_ps(p.add(i)), inverse));
        i += 8;
    }
    if tail > 0 {
        let v = _mm256_maskload_ps(p.add(full), tail_mask);
        _mm256_maskstore_ps(p.add(full), tail_mask, _mm256_mul_ps(v, inverse));
    }
}
