//! Products of two activations (the attention's `QKᵀ` and `PV`) on Sightline's f32 kernel in
//! WebAssembly (`sightline_kernels::sgemm`), where tract's own f32 tile spills and its per-run
//! packing dominates (bench/profile.md: 174 ms of a 1.2 s vision run before). ONNX `MatMul` nodes
//! whose two operands are computed, f32, of the same rank and with the same batch dimensions run
//! here; every other `MatMul` (a constant operand, broadcasting, symbolic shapes) and every
//! `MatMul` natively (tract's AVX2/NEON kernels are fast) goes to tract's own operator.

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::expandable::{expand, Expansion};
use tract_onnx::tract_hir::ops::matmul::MatMulInference;
use tract_onnx::Onnx;

use sightline_kernels::sgemm;

use crate::quantized_matmul::f32_with_last_dim;

/// Take over ONNX `MatMul` in `onnx` (where it pays off; see the module's documentation).
pub(crate) fn register(onnx: &mut Onnx) {
    onnx.op_register.insert("MatMul", parse);
}

fn parse(_ctx: &ParsingContext, _node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    Ok((expand(MatMul { tract: MatMulInference::default() }), vec![]))
}

/// ONNX `MatMul`: tract's shape rules; the operator chosen when the model is typed.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct MatMul {
    tract: MatMulInference,
}

impl Expansion for MatMul {
    fn name(&self) -> StaticName {
        "MatMul".into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        self.tract.rules(s, inputs, outputs)
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let (a, b) = (model.outlet_fact(inputs[0])?, model.outlet_fact(inputs[1])?);
        if ActivationMatMul::runs(a, b) {
            model.wire_node(prefix, ActivationMatMul, inputs)
        } else {
            self.tract.wire(prefix, model, inputs)
        }
    }
}

/// `a[.., M, K] · b[.., K, N]` with the same leading dimensions, f32, per batch on `sgemm`.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(crate) struct ActivationMatMul;

impl ActivationMatMul {
    /// Whether this operator takes a product of these operands.
    fn runs(a: &TypedFact, b: &TypedFact) -> bool {
        let (Some(a_shape), Some(b_shape)) = (a.shape.as_concrete(), b.shape.as_concrete()) else {
            return false;
        };
        sgemm::Kernel::best() != sgemm::Kernel::Portable
            && a.datum_type == f32::datum_type()
            && b.datum_type == f32::datum_type()
            && a.konst.is_none()
            && b.konst.is_none()
            && a_shape.len() >= 2
            && a_shape.len() == b_shape.len()
            && a_shape[..a_shape.len() - 2] == b_shape[..b_shape.len() - 2]
            && a_shape[a_shape.len() - 1] == b_shape[b_shape.len() - 2]
    }
}

impl Op for ActivationMatMul {
    fn name(&self) -> StaticName {
        "ActivationMatMul".into()
    }

    op_as_typed_op!();
}

impl EvalOp for ActivationMatMul {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let (a, b) = (&inputs[0], &inputs[1]);
        let (a_shape, b_shape) = (a.shape(), b.shape());
        let rank = a_shape.len();
        ensure!(
            rank >= 2 && b_shape.len() == rank && a_shape[..rank - 2] == b_shape[..rank - 2] && a_shape[rank - 1] == b_shape[rank - 2],
            "ActivationMatMul: cannot multiply {a_shape:?} by {b_shape:?}"
        );
        let (m, k, n) = (a_shape[rank - 2], a_shape[rank - 1], b_shape[rank - 1]);
        let mut c_shape: TVec<usize> = a_shape.into();
        c_shape[rank - 1] = n;
        // SAFETY: every element is written, batch by batch (m·n per batch).
        let mut c = unsafe { Tensor::uninitialized_dt(f32::datum_type(), &c_shape)? };
        let (a, b) = (a.try_as_plain_ram()?.as_slice::<f32>()?, b.try_as_plain_ram()?.as_slice::<f32>()?);
        let mut c_ram = c.try_as_plain_ram_mut()?;
        let c_values = c_ram.as_slice_mut::<f32>()?;
        let batches = a_shape[..rank - 2].iter().product();
        sgemm::matmul_batches(a, b, batches, m, k, n, c_values);
        drop(c_ram);
        Ok(tvec!(c.into_tvalue()))
    }
}

impl TypedOp for ActivationMatMul {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let n = inputs[1].shape.last().cloned().context("ActivationMatMul: b has no dimensions")?;
        Ok(tvec!(f32_with_last_dim(inputs[0], n)))
    }

    as_op!();
}
