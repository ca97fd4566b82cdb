//! The activations after PP-LCNet's convolutions (the read networks' backbones, the orientation
//! classifier's) in one pass. tract optimises each into an `OptBinChain`: the hard-swish
//! `x · clamp(x/6 + 0.5, 0, 1)` followed by a learnable affine block (seven steps), or a bias plus
//! an affine block (three steps), evaluated step by step over chunks larger than L1; in the browser
//! that was a tenth of the recogniser's time (bench/ocr-profile.md). [`fuse`] swaps those two
//! chains, in an optimised plan, for [`ActivationChain`], which runs each element through the whole
//! chain in registers (`sightline_kernels::elementwise`) with the same inputs and tract's results.
//! Every other chain stays tract's.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::*;
use tract_onnx::tract_core::ops::binary::OptBinChain;
use tract_onnx::tract_core::tract_linalg::multithread::BShare;
use tract_onnx::tract_core::tract_linalg::BinOp;
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};

use sightline_kernels::elementwise;

/// The chains [`ActivationChain`] runs, by their steps.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub(crate) enum Chain {
    /// `Mul, Add, Min, Max` (each by one value, or one per block of elements), `Mul` by the
    /// chain's own input, then `Mul, Add`.
    HardSwishAffine,
    /// `Add, Mul, Add`, each by one value or one per block of elements (a channel, over
    /// channel-first data).
    AddMulAdd,
    /// `Add` of one value per channel over channel-last data (`Lockstep`: element `i` adds value
    /// `i mod channels`), then `Mul, Add` by one value each: how tract lays out the depthwise
    /// convolutions' outputs in WebAssembly.
    ChannelAddMulAdd,
}

impl Chain {
    /// The chain `node` (an `OptBinChain`) computes, when it is one of these.
    fn of(model: &TypedModel, node: &TypedNode) -> Option<Chain> {
        use BShare::{Lockstep, PerBlock};
        use BinOp::*;
        let chain = node.op_as::<OptBinChain>()?;
        let input = model.outlet_fact(node.inputs[0]).ok()?;
        if input.datum_type != f32::datum_type() || input.shape.as_concrete().is_none() {
            return None;
        }
        if !node.inputs[1..].iter().all(|&i| model.outlet_fact(i).is_ok_and(|f| f.datum_type == f32::datum_type())) {
            return None;
        }
        let steps: Vec<(BinOp, BShare)> = chain.steps.iter().map(|s| (s.linalg_op, s.share)).collect();
        match steps.as_slice() {
            [(Mul, PerBlock), (Add, PerBlock), (Min, PerBlock), (Max, PerBlock), (Mul, Lockstep), (Mul, PerBlock), (Add, PerBlock)]
                if node.inputs[5] == node.inputs[0] =>
            {
                Some(Chain::HardSwishAffine)
            }
            [(Add, PerBlock), (Mul, PerBlock), (Add, PerBlock)] => Some(Chain::AddMulAdd),
            [(Add, Lockstep), (Mul, PerBlock), (Add, PerBlock)]
                if Chain::ChannelAddMulAdd
                    .block_inputs()
                    .iter()
                    .all(|&i| model.outlet_fact(node.inputs[i]).is_ok_and(|f| f.shape.volume() == 1.to_dim())) =>
            {
                Some(Chain::ChannelAddMulAdd)
            }
            _ => None,
        }
    }

    /// The inputs holding one value, or one per block of consecutive elements, in the order the
    /// kernel takes them: every operand but the hard-swish's own input (input 5) and the
    /// channel-last bias (input 1, element `i`'s value at `i mod channels`).
    fn block_inputs(self) -> &'static [usize] {
        match self {
            Chain::HardSwishAffine => &[1, 2, 3, 4, 6, 7],
            Chain::AddMulAdd => &[1, 2, 3],
            Chain::ChannelAddMulAdd => &[2, 3],
        }
    }
}

/// Replace every chain of `model` that [`Chain`] knows by an [`ActivationChain`] on the same
/// inputs.
pub(crate) fn fuse(mut model: TypedModel) -> TractResult<TypedModel> {
    let found: Vec<(usize, Chain)> = model.nodes().iter().filter_map(|node| Some((node.id, Chain::of(&model, node)?))).collect();
    if found.is_empty() {
        return Ok(model);
    }
    for (id, chain) in found {
        let node = model.node(id);
        let patch = TypedModelPatch::replace_single_op(&model, node, &node.inputs, ActivationChain { chain })?;
        patch.apply(&mut model)?;
    }
    model.into_compact()
}

/// One of the [`Chain`]s over its input (input 0) with the chain's operands (inputs 1…, as
/// `OptBinChain` has them: each one value, or one per block of consecutive elements).
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(crate) struct ActivationChain {
    chain: Chain,
}

impl Op for ActivationChain {
    fn name(&self) -> StaticName {
        format!("ActivationChain({:?})", self.chain).into()
    }

    op_as_typed_op!();
}

impl EvalOp for ActivationChain {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = inputs[0].try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        let len = x.len();
        // Each block operand with the number of consecutive elements that share one of its values.
        let block_inputs = self.chain.block_inputs();
        let mut operands = Vec::with_capacity(block_inputs.len());
        for &i in block_inputs {
            let values = inputs[i].try_as_plain_ram()?;
            let values = values.as_slice::<f32>()?.to_vec();
            ensure!(!values.is_empty() && len % values.len() == 0, "ActivationChain: {} values for {len} elements", values.len());
            operands.push((len / values.len(), values));
        }
        // Blocks along which every operand is one value.
        let block = operands.iter().fold(len, |block, (period, _)| gcd(block, *period)).max(1);
        // SAFETY: every element is written, block by block.
        let mut out = unsafe { Tensor::uninitialized_dt(f32::datum_type(), inputs[0].shape())? };
        let mut out_ram = out.try_as_plain_ram_mut()?;
        let out_values = out_ram.as_slice_mut::<f32>()?;
        let value = |b: usize, j: usize| {
            let (period, values) = &operands[j];
            values[b * block / period]
        };
        match self.chain {
            Chain::HardSwishAffine => for_blocks(x, out_values, block, |b, x, out| {
                elementwise::hard_swish_affine(x, out, std::array::from_fn(|j| value(b, j)))
            }),
            Chain::AddMulAdd => {
                for_blocks(x, out_values, block, |b, x, out| elementwise::add_mul_add(x, out, std::array::from_fn(|j| value(b, j))))
            }
            Chain::ChannelAddMulAdd => {
                let bias = inputs[1].try_as_plain_ram()?;
                let bias = bias.as_slice::<f32>()?;
                ensure!(!bias.is_empty() && len % bias.len() == 0, "ActivationChain: {} channels for {len} elements", bias.len());
                elementwise::channel_add_mul_add(x, out_values, bias, [value(0, 0), value(0, 1)]);
            }
        }
        drop(out_ram);
        Ok(tvec!(out.into_tvalue()))
    }
}

impl TypedOp for ActivationChain {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(inputs[0].without_value()))
    }

    as_op!();
}

/// `f(block index, x's block, out's block)` over blocks of `block` elements.
fn for_blocks(x: &[f32], out: &mut [f32], block: usize, mut f: impl FnMut(usize, &[f32], &mut [f32])) {
    for (b, (x, out)) in x.chunks(block).zip(out.chunks_mut(block)).enumerate() {
        f(b, x, out)
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn optimised(bytes: &[u8], shape: [usize; 4]) -> TypedModel {
        let mut model = crate::onnx::read(bytes, "test network").unwrap();
        model.set_input_fact(0, f32::fact(shape).into()).unwrap();
        model.into_optimized().unwrap()
    }

    fn count(model: &TypedModel, name: &str) -> usize {
        model.nodes().iter().filter(|n| n.op.name().starts_with(name)).count()
    }

    /// The read networks with and without the fused chains: the same outputs, to the bit.
    #[test]
    fn fused_chains_give_tracts_results() {
        for (bytes, shape) in [
            (&include_bytes!("../models/ppocr-v5/ppocrv5_rec.onnx")[..], [1, 3, 48, 320]),
            (&include_bytes!("../models/ppocr-v5/ppocrv5_det.onnx")[..], [1, 3, 96, 128]),
        ] {
            let tract = optimised(bytes, shape);
            let fused = fuse(tract.clone()).unwrap();
            let before = count(&tract, "OptBinChain");
            assert!(count(&fused, "ActivationChain(HardSwishAffine)") > 10, "{:?}", fused.nodes().iter().map(|n| n.op.name()).collect::<Vec<_>>());
            assert_eq!(count(&fused, "OptBinChain") + count(&fused, "ActivationChain"), before, "one chain for another");
            let volume: usize = shape.iter().product();
            let input = Tensor::from_shape(&shape, &(0..volume).map(|i| ((i * 7919 % 1000) as f32 / 500.0) - 1.0).collect::<Vec<_>>()).unwrap();
            let run = |model: TypedModel| model.into_runnable().unwrap().run(tvec!(input.clone().into())).unwrap().remove(0);
            let (want, got) = (run(tract), run(fused));
            let (want, got) = (want.to_plain_array_view::<f32>().unwrap(), got.to_plain_array_view::<f32>().unwrap());
            assert_eq!(want.shape(), got.shape());
            assert!(want.iter().zip(got.iter()).all(|(a, b)| a.to_bits() == b.to_bits()), "outputs differ");
        }
    }
}
