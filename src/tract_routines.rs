//! Sightline's kernels offered to tract where its own lose. tract picks, per function, the best
//! routine declared for the machine through `inventory` (tract-linalg's `routines`, `mmm_routines`
//! and `mmm_tiers`); adding one here changes what tract runs without forking it.
//!
//! - x86-64, `SoftmaxRows`: each row's maximum, exponentials and scaling in one call
//!   (kernels/src/softmax.rs). x86-64 has no such routine in tract 0.23.9, so its softmax ran three
//!   per-row kernels staged through scratch buffers: 43.7 of the 382 ms of a native SigLIP B/16
//!   run, twice its wasm time; 4.8 ms with this one (bench/results.md, session 7).
//! - WebAssembly, f32 matrix products (every convolution of the OCR and face networks): a 4×8
//!   register tile (`sightline_kernels::sgemm::accumulate_tile`) instead of tract's 8×8, whose 16
//!   accumulators spill on x64 V8 (4.6 multiply-adds per cycle against 7.9 for the 4×8 tile with
//!   relaxed SIMD's fused multiply-add, 5.5 without: ../shared/tools/wasm-kernel-rates). tract
//!   packs the operands and hands each tile a program of fused steps (clear, products, per-row
//!   bias, activation bounds, store); [`run_f32_4x8`] runs them. Matrix-vector products stay
//!   tract's.
//! - WebAssembly, `DepthwiseC`: depthwise convolutions over channel-last data, four output
//!   positions per load of the weights (`sightline_kernels::depthwise`).

use sightline_kernels::sgemm::{self, Tile, MR, NR};
#[cfg(target_arch = "x86_64")]
use tract_linalg::isa::{Arch, Isa, IsaReq};
use tract_linalg::mmm::FusedKerSpec;
#[cfg(target_arch = "x86_64")]
use tract_linalg::routines::{Func, Routine, RoutineFactory};

#[cfg(target_arch = "x86_64")]
fn softmax_rows_f32(buf: &mut [f32], row_len: usize) {
    sightline_kernels::softmax::softmax_rows(buf, row_len)
}

#[cfg(target_arch = "x86_64")]
inventory::submit! {
    Routine {
        func: Func::SoftmaxRows,
        arch: Some(Arch::X86_64),
        isa: IsaReq::ANY.needing(&[Isa::X86_64Avx2, Isa::X86_64Fma]),
        boost: 0,
        round_trip: false,
        factory: RoutineFactory::SoftmaxRowsF32 { name: "sightline_avx2_softmax_rows_f32", run: softmax_rows_f32 },
    }
}

// WebAssembly, depthwise convolutions over channel-last data (tract lays PP-LCNet's out so in
// WebAssembly): four output positions per weight load (`sightline_kernels::depthwise`).
#[cfg(target_arch = "wasm32")]
inventory::submit! {
    tract_linalg::routines::Routine {
        func: tract_linalg::routines::Func::DepthwiseC,
        arch: Some(tract_linalg::isa::Arch::Wasm32Simd128),
        isa: tract_linalg::isa::IsaReq::ANY.needing(&[tract_linalg::isa::Isa::Wasm32Simd128]),
        // Above tract's own SIMD128 kernel for the same function.
        boost: 1,
        round_trip: false,
        factory: tract_linalg::routines::RoutineFactory::DepthwiseCF32 {
            name: WASM_DEPTHWISE,
            run: sightline_kernels::depthwise::depthwise_c_f32,
        },
    }
}

/// The name tract knows the WebAssembly depthwise kernel by.
pub const WASM_DEPTHWISE: &str = "sightline_wasm_depthwise_c_f32";

/// The name tract knows the WebAssembly f32 tile by (its plans' `MatMatMul` reports it).
pub const WASM_F32_TILE: &str = "sightline_wasm_f32_4x8";

/// One 4×8 tile of a tract f32 product: run tract's fused program (`FusedKerSpec`, what tract's
/// own kernels interpret) over an accumulator tile held in memory; the k loop, where the time
/// goes, runs in registers (`sgemm::accumulate_tile`). Returns 0, or 1 for a step this kernel does
/// not take (tract then reports an error; it only asks for the f32 stores the kernel declares).
///
/// # Safety
/// `ops` is a program tract built for a kernel with this tile and packing: its pointers are valid
/// for the tile's rows, columns and `k` steps.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))] // tract calls it in WebAssembly only
pub(crate) unsafe fn run_f32_4x8(ops: &[FusedKerSpec<f32>]) -> isize {
    // Every step is a call into the kernels crate, compiled there at full optimisation (this
    // crate is built for size in the page).
    use sgemm::{apply, Binary::*, Operand};
    let mut tile: Tile = [[0.0; NR]; MR];
    // SAFETY (every dereference below): the caller's contract, per step as tract documents it.
    unsafe {
        let rows = |p: *const f32| Operand::PerRow(std::ptr::read_unaligned(p as *const [f32; MR]));
        let cols = |p: *const f32| Operand::PerCol(std::ptr::read_unaligned(p as *const [f32; NR]));
        for op in ops {
            match *op {
                FusedKerSpec::Done => break,
                FusedKerSpec::Clear => tile = [[0.0; NR]; MR],
                FusedKerSpec::LoadTile(_col_major, row_major) => tile = std::ptr::read_unaligned(row_major as *const Tile),
                FusedKerSpec::ScalarMin(s) => apply(&mut tile, Min, Operand::Scalar(s)),
                FusedKerSpec::ScalarMax(s) => apply(&mut tile, Max, Operand::Scalar(s)),
                FusedKerSpec::ScalarAdd(s) => apply(&mut tile, Add, Operand::Scalar(s)),
                FusedKerSpec::ScalarMul(s) => apply(&mut tile, Mul, Operand::Scalar(s)),
                FusedKerSpec::ScalarSub(s) => apply(&mut tile, Sub, Operand::Scalar(s)),
                FusedKerSpec::ScalarSubF(s) => apply(&mut tile, SubFlipped, Operand::Scalar(s)),
                FusedKerSpec::LeakyRelu(alpha) => sgemm::leaky_relu(&mut tile, alpha),
                FusedKerSpec::PerRowMin(p) => apply(&mut tile, Min, rows(p)),
                FusedKerSpec::PerRowMax(p) => apply(&mut tile, Max, rows(p)),
                FusedKerSpec::PerRowAdd(p) => apply(&mut tile, Add, rows(p)),
                FusedKerSpec::PerRowMul(p) => apply(&mut tile, Mul, rows(p)),
                FusedKerSpec::PerRowSub(p) => apply(&mut tile, Sub, rows(p)),
                FusedKerSpec::PerRowSubF(p) => apply(&mut tile, SubFlipped, rows(p)),
                FusedKerSpec::PerColMin(p) => apply(&mut tile, Min, cols(p)),
                FusedKerSpec::PerColMax(p) => apply(&mut tile, Max, cols(p)),
                FusedKerSpec::PerColAdd(p) => apply(&mut tile, Add, cols(p)),
                FusedKerSpec::PerColMul(p) => apply(&mut tile, Mul, cols(p)),
                FusedKerSpec::PerColSub(p) => apply(&mut tile, Sub, cols(p)),
                FusedKerSpec::PerColSubF(p) => apply(&mut tile, SubFlipped, cols(p)),
                FusedKerSpec::QScale(shift, policy, mult) => {
                    let scale = tract_linalg::Scaler::from_fuse_params(shift, policy, mult).scale;
                    apply(&mut tile, Mul, Operand::Scalar(scale))
                }
                FusedKerSpec::RoundingShiftRight(shift, _) => apply(&mut tile, Mul, Operand::Scalar(2f32.powi(-(shift as i32)))),
                FusedKerSpec::ShiftLeft(shift) => apply(&mut tile, Mul, Operand::Scalar(2f32.powi(shift as i32))),
                FusedKerSpec::AddRowColProducts(r, c) => {
                    sgemm::add_outer_product(&mut tile, &*(r as *const [f32; MR]), &*(c as *const [f32; NR]))
                }
                FusedKerSpec::AddUnicast(other) if other.item_size == 4 => {
                    sgemm::add_strided(&mut tile, other.ptr, other.row_byte_stride, other.col_byte_stride)
                }
                FusedKerSpec::Store(out) if out.item_size == 4 => {
                    sgemm::store_strided(&tile, out.ptr, out.row_byte_stride, out.col_byte_stride)
                }
                FusedKerSpec::AddMatMul { k, pa, pb, packing: 0 } => {
                    let a = std::slice::from_raw_parts(pa as *const f32, k * MR);
                    let b = std::slice::from_raw_parts(pb as *const f32, k * NR);
                    sgemm::accumulate_tile(a, b, k, &mut tile);
                }
                // Another store type or packing than the kernel declares.
                FusedKerSpec::AddUnicast(_) | FusedKerSpec::Store(_) | FusedKerSpec::AddMatMul { .. } => return 1,
            }
        }
    }
    0
}

#[cfg(target_arch = "wasm32")]
mod wasm_tile {
    use tract_linalg::isa::{Arch, Isa, IsaReq, IsaSet};
    use tract_linalg::mmm::{DynKernel, Query, Suitable};
    use tract_linalg::mmm_routines::MmmRoutine;
    use tract_linalg::mmm_tiers::MmmTier;
    use tract_linalg::pack::Packing;
    use tract_onnx::prelude::DatumType;

    use super::{run_f32_4x8, MR, NR, WASM_F32_TILE};

    fn kernel() -> DynKernel<MR, NR, f32> {
        let mut kernel = DynKernel::<MR, NR, f32>::new(WASM_F32_TILE, run_f32_4x8, f32::packing(MR), f32::packing(NR));
        kernel.arch = Some(Arch::Wasm32Simd128);
        kernel.with_isa(IsaReq::ANY.needing(&[Isa::Wasm32Simd128]))
    }

    inventory::submit! {
        MmmRoutine { make: || kernel().mmm() }
    }

    /// Every f32 product with more than one column (tract's matrix-vector kernels keep N = 1).
    fn preferred(_: &IsaSet, accumulator: DatumType, query: &Query, _: &[Suitable]) -> Option<&'static str> {
        (accumulator == DatumType::F32 && query.n != Some(1)).then_some(WASM_F32_TILE)
    }

    inventory::submit! {
        // Above tract's own wasm tier (precedence 1), which asks for its 8×8 tile.
        MmmTier { arch: Some(Arch::Wasm32Simd128), precedence: 2, name: "sightline-wasm", applies: |_| true, preferred }
    }
}

/// The kernel tract runs for an f32 product of `m` rows, depth `k` and `n` columns (`None`: a
/// symbolic count): [`WASM_F32_TILE`] in WebAssembly wherever `n` is not 1.
pub fn f32_product_kernel(m: usize, k: usize, n: Option<usize>) -> Option<String> {
    tract_linalg::mmm::MmmDispatch::native()
        .preferred_kernel(tract_onnx::prelude::DatumType::F32, Some(m), Some(k), n)
        .map(|kernel| kernel.name().to_string())
}

/// The kernel tract runs for an f32 depthwise convolution over channel-last data:
/// [`WASM_DEPTHWISE`] in WebAssembly.
pub fn depthwise_kernel() -> Option<String> {
    let isa = tract_linalg::isa::native();
    tract_linalg::routines::best_for(tract_linalg::routines::Func::DepthwiseC, tract_onnx::prelude::DatumType::F32, &isa).map(|r| r.name().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_linalg::mmm::{FusedKerSpec as Op, OutputStoreKer};

    /// The tile program as tract builds it for a convolution: clear, the product, the per-row
    /// bias and batch norm, a clamp (ReLU6), a residual added, a store into a strided output.
    #[test]
    fn the_wasm_tile_runs_tracts_fused_programs() {
        let k = 19;
        let a: Vec<f32> = (0..k * MR).map(|i| ((i * 7 % 23) as f32 - 11.0) / 8.0).collect();
        let b: Vec<f32> = (0..k * NR).map(|i| ((i * 5 % 17) as f32 - 8.0) / 4.0).collect();
        let bias = [0.5f32, -1.0, 2.0, 0.0];
        let scale = [1.0f32, 0.5, -2.0, 3.0];
        let residual: Vec<f32> = (0..MR * NR).map(|i| i as f32 / 10.0).collect();
        // Output: MR rows of NR columns with a row stride of 11 floats; column-major residual.
        let mut out = vec![f32::NAN; MR * 11];
        let residual_col_major: Vec<f32> = (0..NR).flat_map(|c| (0..MR).map(move |r| r * NR + c)).map(|i| residual[i]).collect();
        let store = OutputStoreKer { ptr: out.as_mut_ptr() as *mut u8, row_byte_stride: 44, col_byte_stride: 4, item_size: 4 };
        let unicast = OutputStoreKer {
            ptr: residual_col_major.as_ptr() as *mut u8,
            row_byte_stride: 4,
            col_byte_stride: (MR * 4) as isize,
            item_size: 4,
        };
        let program = [
            Op::Clear,
            Op::AddMatMul { k, pa: a.as_ptr() as *const u8, pb: b.as_ptr() as *const u8, packing: 0 },
            Op::PerRowMul(scale.as_ptr()),
            Op::PerRowAdd(bias.as_ptr()),
            Op::ScalarMax(0.0),
            Op::ScalarMin(6.0),
            Op::AddUnicast(unicast),
            Op::ScalarSubF(0.25),
            Op::Store(store),
            Op::Done,
        ];
        // SAFETY: every pointer covers the tile's rows, columns and k steps.
        assert_eq!(unsafe { run_f32_4x8(&program) }, 0);
        for r in 0..MR {
            for c in 0..NR {
                let product = (0..k).fold(0.0f32, |acc, i| acc + a[i * MR + r] * b[i * NR + c]);
                let want = (product * scale[r] + bias[r]).clamp(0.0, 6.0) + residual[r * NR + c] - 0.25;
                let got = out[r * 11 + c];
                assert!((got - want).abs() <= 1e-4 * want.abs().max(1.0), "({r}, {c}): {got} vs {want}");
            }
            assert!(out[r * 11 + NR..(r + 1) * 11].iter().all(|v| v.is_nan()), "wrote past the tile");
        }
        // A packing or store it was not declared with is refused, not misread.
        assert_eq!(unsafe { run_f32_4x8(&[Op::AddMatMul { k, pa: a.as_ptr() as *const u8, pb: b.as_ptr() as *const u8, packing: 1 }]) }, 1);
        let half = OutputStoreKer { item_size: 2, ..store };
        assert_eq!(unsafe { run_f32_4x8(&[Op::Clear, Op::Store(half)]) }, 1);
    }

    /// tract resolves the softmax to this one on a machine with AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn tract_runs_sightline_softmax() {
        let isa = tract_linalg::isa::native();
        let chosen = tract_linalg::routines::best_for(Func::SoftmaxRows, tract_onnx::prelude::DatumType::F32, &isa).map(|r| r.name());
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            assert_eq!(chosen, Some("sightline_avx2_softmax_rows_f32"));
        }
    }
}
