//! Depthwise convolutions over channel-last data, the layout tract gives them in WebAssembly
//! (PP-LCNet's 3×3 and 5×5 depthwise layers in the read networks and the orientation classifier).
//! tract's own kernel computes one output position at a time, loading each tap's weights again
//! for every position: two loads per four multiply-adds, which bounds it on load ports. This one
//! computes four positions per weight load: ten loads per 32 multiply-adds, eight accumulators and
//! two weight vectors in registers, with relaxed SIMD's fused multiply-add where the module has it.

/// One channel-inner depthwise run, as tract-linalg's `DepthwiseCF32` routine defines it: `len`
/// output positions of `channels` contiguous channels; position `i`, channel `c` is `bias[c]` plus,
/// tap after tap, `kernel[tap_indices[t]·k_stride + c] · input[i·in_stride + offsets[t] + c]`.
///
/// # Safety
/// `input.offset(i·in_stride + offsets[t] + c)` and `kernel.add(tap_indices[t]·k_stride + c)` are
/// readable for every tap, every `i < len` and every `c < channels`; `bias` holds `channels`
/// values; `channels` values are writable at `output.offset(i·out_stride)` for every `i < len`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn depthwise_c_f32(
    input: *const f32,
    output: *mut f32,
    kernel: *const f32,
    tap_indices: &[usize],
    offsets: &[isize],
    bias: *const f32,
    channels: usize,
    k_stride: usize,
    len: usize,
    in_stride: isize,
    out_stride: isize,
) {
    let run = Run { input, output, kernel, tap_indices, offsets, bias, k_stride, in_stride, out_stride };
    // SAFETY: the caller's contract, which every block below stays within.
    unsafe {
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128", feature = "relaxed-simd"))]
        return simd::relaxed(&run, channels, len);
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        #[allow(unreachable_code)]
        return simd::plain(&run, channels, len);
        #[allow(unreachable_code)]
        portable(&run, 0, channels, 0, len)
    }
}

struct Run<'a> {
    input: *const f32,
    output: *mut f32,
    kernel: *const f32,
    tap_indices: &'a [usize],
    offsets: &'a [isize],
    bias: *const f32,
    k_stride: usize,
    in_stride: isize,
    out_stride: isize,
}

/// Channels `c0..c1` of positions `i0..i1`, one value at a time.
unsafe fn portable(run: &Run, c0: usize, c1: usize, i0: usize, i1: usize) {
    unsafe {
        for i in i0..i1 {
            let x = run.input.offset(i as isize * run.in_stride);
            let out = run.output.offset(i as isize * run.out_stride);
            for c in c0..c1 {
                let mut sum = *run.bias.add(c);
                for (&tap, &offset) in run.tap_indices.iter().zip(run.offsets) {
                    sum += *run.kernel.add(tap * run.k_stride + c) * *x.offset(offset).add(c);
                }
                *out.add(c) = sum;
            }
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{portable, Run};
    use core::arch::wasm32::*;

    /// Positions per weight load.
    const P: usize = 4;

    macro_rules! blocks {
        ($run:expr, $channels:expr, $len:expr, $madd:path) => {{
            let run: &Run = $run;
            let (channels, len) = ($channels, $len);
            let whole = len - len % P;
            let mut i = 0;
            while i < whole {
                let x: [*const f32; P] = core::array::from_fn(|p| run.input.offset((i + p) as isize * run.in_stride));
                let out: [*mut f32; P] = core::array::from_fn(|p| run.output.offset((i + p) as isize * run.out_stride));
                let mut c = 0;
                // Eight channels of four positions: eight accumulators, two weight vectors.
                while c + 8 <= channels {
                    let b0 = v128_load(run.bias.add(c) as *const v128);
                    let b1 = v128_load(run.bias.add(c + 4) as *const v128);
                    let (mut a00, mut a01, mut a10, mut a11) = (b0, b1, b0, b1);
                    let (mut a20, mut a21, mut a30, mut a31) = (b0, b1, b0, b1);
                    for (&tap, &offset) in run.tap_indices.iter().zip(run.offsets) {
                        let k = run.kernel.add(tap * run.k_stride + c);
                        let (k0, k1) = (v128_load(k as *const v128), v128_load(k.add(4) as *const v128));
                        let at = |p: usize| x[p].offset(offset).add(c);
                        a00 = $madd(a00, v128_load(at(0) as *const v128), k0);
                        a01 = $madd(a01, v128_load(at(0).add(4) as *const v128), k1);
                        a10 = $madd(a10, v128_load(at(1) as *const v128), k0);
                        a11 = $madd(a11, v128_load(at(1).add(4) as *const v128), k1);
                        a20 = $madd(a20, v128_load(at(2) as *const v128), k0);
                        a21 = $madd(a21, v128_load(at(2).add(4) as *const v128), k1);
                        a30 = $madd(a30, v128_load(at(3) as *const v128), k0);
                        a31 = $madd(a31, v128_load(at(3).add(4) as *const v128), k1);
                    }
                    for (p, (lo, hi)) in [(a00, a01), (a10, a11), (a20, a21), (a30, a31)].into_iter().enumerate() {
                        v128_store(out[p].add(c) as *mut v128, lo);
                        v128_store(out[p].add(c + 4) as *mut v128, hi);
                    }
                    c += 8;
                }
                // Four channels of four positions.
                while c + 4 <= channels {
                    let b = v128_load(run.bias.add(c) as *const v128);
                    let mut acc = [b; P];
                    for (&tap, &offset) in run.tap_indices.iter().zip(run.offsets) {
                        let k = v128_load(run.kernel.add(tap * run.k_stride + c) as *const v128);
                        for p in 0..P {
                            acc[p] = $madd(acc[p], v128_load(x[p].offset(offset).add(c) as *const v128), k);
                        }
                    }
                    for p in 0..P {
                        v128_store(out[p].add(c) as *mut v128, acc[p]);
                    }
                    c += 4;
                }
                portable(run, c, channels, i, i + P);
                i += P;
            }
            // The last positions, one at a time.
            for i in whole..len {
                let x = run.input.offset(i as isize * run.in_stride);
                let out = run.output.offset(i as isize * run.out_stride);
                let mut c = 0;
                while c + 4 <= channels {
                    let mut acc = v128_load(run.bias.add(c) as *const v128);
                    for (&tap, &offset) in run.tap_indices.iter().zip(run.offsets) {
                        let k = v128_load(run.kernel.add(tap * run.k_stride + c) as *const v128);
                        acc = $madd(acc, v128_load(x.offset(offset).add(c) as *const v128), k);
                    }
                    v128_store(out.add(c) as *mut v128, acc);
                    c += 4;
                }
                portable(run, c, channels, i, i + 1);
            }
        }};
    }

    /// Multiply, then add (two roundings, as tract's SIMD128 kernel and the portable loop).
    #[inline(always)]
    unsafe fn mul_add(acc: v128, x: v128, w: v128) -> v128 {
        f32x4_add(acc, f32x4_mul(x, w))
    }

    #[inline(never)]
    pub(super) unsafe fn plain(run: &Run, channels: usize, len: usize) {
        unsafe { blocks!(run, channels, len, mul_add) }
    }

    #[cfg(feature = "relaxed-simd")]
    #[target_feature(enable = "relaxed-simd")]
    #[inline(never)]
    pub(super) unsafe fn relaxed(run: &Run, channels: usize, len: usize) {
        #[target_feature(enable = "relaxed-simd")]
        unsafe fn fma(acc: v128, x: v128, w: v128) -> v128 {
            f32x4_relaxed_madd(x, w, acc)
        }
        unsafe { blocks!(run, channels, len, fma) }
    }
}
