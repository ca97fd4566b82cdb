//! Sightline's kernels offered to tract where its own lose (x86-64). tract picks, per function, the
//! best routine declared for the machine through `inventory` (tract-linalg's `routines`); adding one
//! here changes what tract runs without forking it.
//!
//! - `SoftmaxRows`: each row's maximum, exponentials and scaling in one call (kernels/src/softmax.rs).
//!   x86-64 has no such routine in tract 0.23.9, so its softmax ran three per-row kernels staged
//!   through scratch buffers: 43.7 of the 382 ms of a native SigLIP B/16 run, twice its wasm time;
//!   4.8 ms with this one (bench/results.md, session 7).

use tract_linalg::isa::{Arch, Isa, IsaReq};
use tract_linalg::routines::{Func, Routine, RoutineFactory};

fn softmax_rows_f32(buf: &mut [f32], row_len: usize) {
    sightline_kernels::softmax::softmax_rows(buf, row_len)
}

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

#[cfg(test)]
mod tests {
    use tract_onnx::prelude::DatumType;

    /// tract resolves the softmax to this one on a machine with AVX2 and FMA.
    #[test]
    fn tract_runs_sightline_softmax() {
        let isa = tract_linalg::isa::native();
        let chosen = tract_linalg::routines::best_for(super::Func::SoftmaxRows, DatumType::F32, &isa).map(|r| r.name());
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            assert_eq!(chosen, Some("sightline_avx2_softmax_rows_f32"));
        }
    }
}
