//! The vision tower's dynamically quantised patch embedding, fused. onnxruntime's
//! `quantize_dynamic` writes it as
//!
//! ```text
//! x ─ DynamicQuantizeLinear ─ ConvInteger(·, W_u8[O, C, kh, kw], ·, w_zp) ─ Cast(float) ─ Mul(·, x_scale·w_scale)
//! ```
//!
//! with stride = kernel and no padding: each output pixel is one non-overlapping patch times the
//! weights, i.e. a product `patches[P, C·kh·kw] · W'[C·kh·kw, O]`. [`fuse`] rewrites the chain into
//! one `ai.sightline::DynamicQuantizePatchEmbedding(x, W, w_scale, w_zp)` node (attribute
//! `kernel_shape`), which runs that product on the fused int8 kernels of
//! `crate::quantized_matmul` (weights packed once) instead of tract's generic quantised
//! convolution (bench/profile.md: the slowest single node in wasm). Same numbers: the patches hold
//! exactly the elements of `x` (the image size must be a multiple of the patch size, checked), so
//! their quantisation is `x`'s.

use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{AttributeProto, GraphProto, NodeProto, TensorProto};
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::expandable::{expand, Expansion};
use tract_onnx::Onnx;

use sightline_kernels::qgemm::{self, PackedWeights};

use crate::quantized_matmul::{drop_dead_nodes, pack_constant_weights, per_tensor_u8, Index};

const OP: &str = "DynamicQuantizePatchEmbedding";

/// Rewrite every quantised patch embedding of `graph` (see the module's documentation); returns
/// how many were fused.
pub(crate) fn fuse(graph: &mut GraphProto) -> usize {
    let mut rewrites = Vec::new();
    {
        let index = Index::new(graph);
        for node in &graph.node {
            if let Some(rewrite) = match_chain(graph, &index, node) {
                rewrites.push(rewrite);
            }
        }
    }
    let count = rewrites.len();
    for (output_mul, node, weights) in rewrites {
        let output = std::mem::take(&mut graph.node[output_mul].output);
        graph.node[output_mul] = NodeProto { output, ..node };
        graph.initializer.push(weights);
    }
    drop_dead_nodes(graph);
    count
}

/// The output Mul to replace, the fused node (outputs left empty) and its transposed weights.
fn match_chain(graph: &GraphProto, index: &Index, conv: &NodeProto) -> Option<(usize, NodeProto, TensorProto)> {
    if conv.op_type != "ConvInteger" || conv.input.len() != 4 {
        return None;
    }
    let ints = |name: &str| conv.attribute.iter().find(|a| a.name == name).map(|a| a.ints.clone());
    let kernel = ints("kernel_shape")?;
    let unit = |v: Option<Vec<i64>>| v.is_none_or(|v| v.iter().all(|&d| d == 1));
    let zero = |v: Option<Vec<i64>>| v.is_none_or(|v| v.iter().all(|&d| d == 0));
    let plain = conv.attribute.iter().all(|a| match a.name.as_str() {
        "group" => a.i == 1,
        "auto_pad" => a.s.is_empty() || a.s == b"NOTSET" || a.s == b"VALID",
        _ => true,
    });
    if kernel.len() != 2 || ints("strides") != Some(kernel.clone()) || !unit(ints("dilations")) || !zero(ints("pads")) || !plain {
        return None;
    }
    let quantizer = &graph.node[*index.producer.get(conv.input[0].as_str())?];
    if quantizer.op_type != "DynamicQuantizeLinear" || quantizer.output.len() != 3 || quantizer.output[2] != conv.input[2] {
        return None;
    }
    let (output_mul, scale) = index.scaled(graph, &conv.output[0], quantizer)?;
    let (weights, zero_point) =
        (index.initializer.get(conv.input[1].as_str())?, index.initializer.get(conv.input[3].as_str())?);
    let (weights, zero_point, scale) =
        (&graph.initializer[*weights], &graph.initializer[*zero_point], &graph.initializer[scale]);
    // The transpose below reads the weights' raw bytes.
    if !per_tensor_u8(weights, zero_point, scale) || weights.raw_data.is_empty() {
        return None;
    }
    let &[outputs, channels, kh, kw] = &weights.dims[..] else { return None };
    if [kh, kw] != kernel[..] {
        return None;
    }
    // W[O][C·kh·kw] → W'[C·kh·kw][O]: the product's K × N weights.
    let (outputs, depth) = (usize::try_from(outputs).ok()?, usize::try_from(channels * kh * kw).ok()?);
    if weights.raw_data.len() != outputs * depth {
        return None;
    }
    let mut transposed = vec![0u8; outputs * depth];
    for (o, row) in weights.raw_data.chunks_exact(depth).enumerate() {
        for (i, &w) in row.iter().enumerate() {
            transposed[i * outputs + o] = w;
        }
    }
    let transposed = TensorProto {
        name: format!("{}_patch_matrix", weights.name),
        dims: vec![depth as i64, outputs as i64],
        data_type: DataType::Uint8 as i32,
        raw_data: transposed,
        ..TensorProto::default()
    };
    let node = NodeProto {
        name: format!("{}_fused", conv.name),
        op_type: OP.into(),
        domain: "ai.sightline".into(),
        input: vec![quantizer.input[0].clone(), transposed.name.clone(), scale.name.clone(), zero_point.name.clone()],
        attribute: vec![AttributeProto { name: "kernel_shape".into(), ints: kernel, ..AttributeProto::default() }],
        ..NodeProto::default()
    };
    Some((output_mul, node, transposed))
}

/// Teach `onnx` the fused operator.
pub(crate) fn register(onnx: &mut Onnx) {
    onnx.op_register.insert(OP, parse);
}

fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    let kernel = node.attribute.iter().find(|a| a.name == "kernel_shape").map(|a| a.ints.clone()).unwrap_or_default();
    let &[kh, kw] = &kernel[..] else { bail!("{OP} needs a two-dimensional kernel_shape") };
    ensure!(kh > 0 && kw > 0, "{OP}: kernel_shape {kernel:?}");
    ensure!(node.input.len() == 4, "{OP} takes x, W, w_scale and w_zero_point");
    Ok((expand(Inference { kernel: [kh as usize, kw as usize] }), vec![]))
}

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Inference {
    kernel: [usize; 2],
}

impl Expansion for Inference {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 4)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, 4)?;
        s.equals(&inputs[1].datum_type, u8::datum_type())?;
        s.equals(&inputs[1].rank, 2)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&outputs[0].rank, 4)?;
        let [kh, kw] = self.kernel;
        s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, w| {
            let shape = tvec![x[0].clone(), w[1].clone(), x[2].clone() / kh as u64, x[3].clone() / kw as u64];
            s.equals(&outputs[0].shape, shape)
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let packed = pack_constant_weights(OP, model, inputs, false)?;
        let [kh, kw] = self.kernel;
        let channels = model.outlet_fact(inputs[0])?.shape[1].to_usize()?;
        ensure!(channels * kh * kw == packed.k(), "{OP}: {channels} channels of {kh}×{kw} patches against {} weight rows", packed.k());
        model.wire_node(prefix, PatchEmbedding { weights: Arc::new(packed), kernel: self.kernel }, &inputs[..1])
    }
}

/// `x[B, C, H, W]` → `y[B, O, H/kh, W/kw]`, each output pixel one patch's fused int8 product.
#[derive(Debug, Clone)]
pub(crate) struct PatchEmbedding {
    weights: Arc<PackedWeights>,
    kernel: [usize; 2],
}

impl PartialEq for PatchEmbedding {
    fn eq(&self, other: &Self) -> bool {
        self.kernel == other.kernel && (Arc::ptr_eq(&self.weights, &other.weights) || self.weights == other.weights)
    }
}

impl Eq for PatchEmbedding {}

impl Op for PatchEmbedding {
    fn name(&self) -> StaticName {
        OP.into()
    }

    op_as_typed_op!();
}

impl EvalOp for PatchEmbedding {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let &[batch, channels, height, width] = x.shape() else { bail!("{OP}: input {:?} is not NCHW", x.shape()) };
        let [kh, kw] = self.kernel;
        ensure!(
            height % kh == 0 && width % kw == 0 && channels * kh * kw == self.weights.k(),
            "{OP}: a {channels}×{height}×{width} image does not split into {kh}×{kw} patches of {} values",
            self.weights.k()
        );
        let (rows, cols, outputs) = (height / kh, width / kw, self.weights.n());
        let (patch, patches) = (self.weights.k(), rows * cols);
        let x = x.try_as_plain_ram()?;
        let x = x.as_slice::<f32>()?;
        // SAFETY: every element is written below (outputs·patches per image).
        let mut embedded = unsafe { Tensor::uninitialized_dt(f32::datum_type(), &[batch, outputs, rows, cols])? };
        let mut y_ram = embedded.try_as_plain_ram_mut()?;
        let y = y_ram.as_slice_mut::<f32>()?;
        if y.is_empty() || patch == 0 {
            y.fill(0.0); // no output, or empty sums (no channels)
            drop(y_ram);
            return Ok(tvec!(embedded.into_tvalue()));
        }
        // All images' patches in one product: one quantisation over the whole input, as
        // DynamicQuantizeLinear does. patches[b·P + p][c·kh·kw + i·kw + j] =
        // x[b][c][py·kh + i][px·kw + j], p = py·cols + px.
        let mut gathered = vec![0f32; batch * patches * patch];
        for (image, image_patches) in x.chunks_exact(channels * height * width).zip(gathered.chunks_exact_mut(patches * patch)) {
            for (p, values) in image_patches.chunks_exact_mut(patch).enumerate() {
                let (py, px) = (p / cols, p % cols);
                for (c, plane) in values.chunks_exact_mut(kh * kw).enumerate() {
                    for (i, line) in plane.chunks_exact_mut(kw).enumerate() {
                        let start = (c * height + py * kh + i) * width + px * kw;
                        line.copy_from_slice(&image[start..start + kw]);
                    }
                }
            }
        }
        let mut product = vec![0f32; batch * patches * outputs];
        qgemm::dynamic_quantize_matmul(&gathered, batch * patches, &self.weights, &mut product);
        // [b][p][o] → [b][o][p]
        for (image, out) in product.chunks_exact(patches * outputs).zip(y.chunks_exact_mut(outputs * patches)) {
            for (p, values) in image.chunks_exact(outputs).enumerate() {
                for (o, &v) in values.iter().enumerate() {
                    out[o * patches + p] = v;
                }
            }
        }
        drop(y_ram);
        Ok(tvec!(embedded.into_tvalue()))
    }
}

impl TypedOp for PatchEmbedding {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let x = &inputs[0].shape;
        ensure!(x.rank() == 4, "{OP}: input is not NCHW");
        let [kh, kw] = self.kernel;
        Ok(tvec!(f32::fact([x[0].clone(), self.weights.n().into(), x[2].clone() / kh as u64, x[3].clone() / kw as u64])))
    }

    as_op!();
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #[test]
    fn fuses_the_tiny_models_patch_embedding_and_its_quantizer() {
        let mut proto = crate::quantized_matmul::tests::tiny_vision();
        let graph = proto.graph.as_mut().unwrap();
        // As the tower loads it: the products first, then the patch embedding.
        crate::quantized_matmul::fuse(graph);
        assert_eq!(super::fuse(graph), 1);
        for gone in ["ConvInteger", "DynamicQuantizeLinear"] {
            assert!(graph.node.iter().all(|n| n.op_type != gone), "a {gone} is left");
        }
        let fused: Vec<_> = graph.node.iter().filter(|n| n.op_type == super::OP).collect();
        assert_eq!(fused.len(), 1);
        let weights = graph.initializer.iter().find(|t| t.name == fused[0].input[1]).unwrap();
        assert_eq!(weights.dims.len(), 2, "the weights become the product's K × N matrix");
    }
}
