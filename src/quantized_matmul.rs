//! Dynamically quantised matrix products, fused into one operator. onnxruntime's
//! `quantize_dynamic` (which Xenova's SigLIP files come from) writes each product as
//!
//! ```text
//! x ─ DynamicQuantizeLinear ─ MatMulInteger(·, W_u8, ·, w_zp) ─ Cast(float) ─ Mul(·, x_scale·w_scale) ─ (Add bias) ─ y
//! ```
//!
//! which tract runs as six passes: a scalar quantizer, a generic quantised EinSum (u8→i8 pass,
//! zero-point sums, i32 output), then Cast, Mul and Add over the whole output. [`fuse`] rewrites
//! each such chain, at load, into onnxruntime's own fused contrib operator
//! `com.microsoft::DynamicQuantizeMatMul(x, W, w_scale, w_zp, bias)`, which this module
//! implements for tract: weights stay 1 byte and are packed once when the model is optimised;
//! each run quantises and packs the activations in one pass and computes the exact int32 product
//! over register tiles (SIMD128 in WebAssembly, AVX2 on x86-64) with scale and bias applied as the
//! tiles are written out (`sightline_kernels::qgemm`). The numbers are onnxruntime's.
//!
//! [`products`] finds the chains; `crate::dequantize` uses it too, for the f32-weights variant.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tract_onnx::model::ParsingContext;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{GraphProto, NodeProto, TensorProto};
use tract_onnx::tract_core::{as_op, op_as_typed_op, op_out_of_plan};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::Onnx;

use sightline_kernels::qgemm::{self, PackedWeights};

/// The operator's name, as onnxruntime's contrib operator set spells it.
pub(crate) const OP: &str = "DynamicQuantizeMatMul";

/// One `DynamicQuantizeLinear → MatMulInteger → Cast → Mul` chain: the last Mul's node index, the
/// quantizer's float input, and the initializer indices of the weights, their zero point and
/// their scale. Only chains with constant weights and constant scale and zero point are found.
pub(crate) struct QuantizedProduct {
    pub(crate) output_mul: usize,
    pub(crate) x: String,
    pub(crate) weights: usize,
    pub(crate) weight_zero_point: usize,
    pub(crate) weight_scale: usize,
}

/// Every quantised product of `graph`; anything that does not match exactly (weights not
/// constant, a consumer other than the expected Cast and Mul, ...) is left out.
pub(crate) fn products(graph: &GraphProto, index: &Index) -> Vec<QuantizedProduct> {
    let mut found = Vec::new();
    for node in &graph.node {
        if node.op_type != "MatMulInteger" || node.input.len() != 4 {
            continue;
        }
        let [quantized_x, weights, _, weight_zero_point] = &node.input[..] else { continue };
        let Some(&quantize) = index.producer.get(quantized_x.as_str()) else { continue };
        let quantize_node = &graph.node[quantize];
        if quantize_node.op_type != "DynamicQuantizeLinear" || quantize_node.output.len() != 3 {
            continue;
        }
        let Some((output_mul, weight_scale)) = index.scaled(graph, &node.output[0], quantize_node) else { continue };
        let (Some(&weights), Some(&weight_zero_point)) =
            (index.initializer.get(weights.as_str()), index.initializer.get(weight_zero_point.as_str()))
        else {
            continue;
        };
        found.push(QuantizedProduct {
            output_mul,
            x: quantize_node.input[0].clone(),
            weights,
            weight_zero_point,
            weight_scale,
        });
    }
    found
}

/// Who produces and who consumes each value, and where each initializer is.
pub(crate) struct Index<'g> {
    pub(crate) initializer: HashMap<&'g str, usize>,
    pub(crate) producer: HashMap<&'g str, usize>,
    consumers: HashMap<&'g str, Vec<usize>>,
}

impl<'g> Index<'g> {
    pub(crate) fn new(graph: &'g GraphProto) -> Self {
        let initializer = graph.initializer.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
        let mut producer = HashMap::new();
        let mut consumers: HashMap<&str, Vec<usize>> = HashMap::new();
        for (ix, node) in graph.node.iter().enumerate() {
            for output in &node.output {
                producer.insert(output.as_str(), ix);
            }
            for input in &node.input {
                consumers.entry(input.as_str()).or_default().push(ix);
            }
        }
        Index { initializer, producer, consumers }
    }

    pub(crate) fn only_consumer(&self, graph: &GraphProto, value: &str, op: &str) -> Option<usize> {
        match self.consumers.get(value).map(Vec::as_slice) {
            Some(&[ix]) if graph.node[ix].op_type == op => Some(ix),
            _ => None,
        }
    }

    /// What follows the integer output of a product whose activations `quantizer` quantised:
    /// `Cast(float) → Mul(·, x_scale · w_scale)`. Returns the Mul's node index and the initializer
    /// holding `w_scale`.
    pub(crate) fn scaled(&self, graph: &GraphProto, integer_output: &str, quantizer: &NodeProto) -> Option<(usize, usize)> {
        let cast = self.only_consumer(graph, integer_output, "Cast")?;
        if !graph.node[cast].attribute.iter().any(|a| a.name == "to" && a.i == DataType::Float as i64) {
            return None;
        }
        let cast_output = &graph.node[cast].output[0];
        let output_mul = self.only_consumer(graph, cast_output, "Mul")?;
        let scale_name = graph.node[output_mul].input.iter().find(|i| *i != cast_output)?;
        let scale_node = &graph.node[*self.producer.get(scale_name.as_str())?];
        if scale_node.op_type != "Mul" || !scale_node.input.contains(&quantizer.output[1]) {
            return None;
        }
        let weight_scale = scale_node.input.iter().find_map(|i| self.initializer.get(i.as_str()).copied())?;
        Some((output_mul, weight_scale))
    }

    /// The initializer behind `value`, directly or through an `Identity`.
    fn constant(&self, graph: &GraphProto, value: &str) -> Option<usize> {
        if let Some(&ix) = self.initializer.get(value) {
            return Some(ix);
        }
        let node = &graph.node[*self.producer.get(value)?];
        (node.op_type == "Identity").then(|| self.initializer.get(node.input.first()?.as_str()).copied()).flatten()
    }
}

/// Rewrite every quantised product of `graph` whose weights are a 2-D u8 matrix with a scalar
/// zero point and scale into one `DynamicQuantizeMatMul` node, taking in the bias `Add` that
/// follows when its other operand is a constant vector. Returns how many products were fused.
pub(crate) fn fuse(graph: &mut GraphProto) -> usize {
    let mut rewrites = Vec::new();
    {
        let index = Index::new(graph);
        for product in products(graph, &index) {
            let weights = &graph.initializer[product.weights];
            let (zero_point, scale) =
                (&graph.initializer[product.weight_zero_point], &graph.initializer[product.weight_scale]);
            if weights.dims.len() != 2 || !per_tensor_u8(weights, zero_point, scale) {
                continue;
            }
            let columns = weights.dims[1];
            let mul_output = &graph.node[product.output_mul].output[0];
            let bias = index.only_consumer(graph, mul_output, "Add").and_then(|add| {
                let other = graph.node[add].input.iter().find(|i| *i != mul_output)?;
                let bias = index.constant(graph, other)?;
                let t = &graph.initializer[bias];
                (t.data_type == DataType::Float as i32 && t.dims == [columns]).then(|| (add, t.name.clone()))
            });
            let mut inputs = vec![
                product.x.clone(),
                weights.name.clone(),
                graph.initializer[product.weight_scale].name.clone(),
                graph.initializer[product.weight_zero_point].name.clone(),
            ];
            let replaced = match bias {
                Some((add, bias)) => {
                    inputs.push(bias);
                    add
                }
                None => product.output_mul,
            };
            rewrites.push((replaced, inputs));
        }
    }
    let count = rewrites.len();
    for (replaced, inputs) in rewrites {
        let node = &mut graph.node[replaced];
        *node = NodeProto {
            name: format!("{}_fused", node.name),
            op_type: OP.into(),
            domain: "com.microsoft".into(),
            input: inputs,
            output: std::mem::take(&mut node.output),
            ..NodeProto::default()
        };
    }
    drop_dead_nodes(graph);
    count
}

/// Whether `weights`, `zero_point` and `scale` are what the fused kernels take: u8 weights with
/// one u8 zero point and one f32 scale for the whole tensor.
pub(crate) fn per_tensor_u8(weights: &TensorProto, zero_point: &TensorProto, scale: &TensorProto) -> bool {
    let scalar = |t: &TensorProto| t.dims.iter().product::<i64>() == 1;
    weights.data_type == DataType::Uint8 as i32
        && zero_point.data_type == DataType::Uint8 as i32
        && scalar(zero_point)
        && scale.data_type == DataType::Float as i32
        && scalar(scale)
}

/// Remove nodes whose outputs nothing reads (neither a node nor the graph's outputs), until none
/// is left: what a rewrite leaves behind would otherwise still be computed.
pub(crate) fn drop_dead_nodes(graph: &mut GraphProto) {
    loop {
        let used: HashSet<String> = graph
            .node
            .iter()
            .flat_map(|n| n.input.iter().cloned())
            .chain(graph.output.iter().map(|o| o.name.clone()))
            .collect();
        let before = graph.node.len();
        graph.node.retain(|n| n.output.iter().any(|o| used.contains(o)));
        if graph.node.len() == before {
            break;
        }
    }
}

/// Teach `onnx` the fused operator.
pub(crate) fn register(onnx: &mut Onnx) {
    onnx.op_register.insert(OP, parse);
}

fn parse(_ctx: &ParsingContext, node: &NodeProto) -> TractResult<(Box<dyn InferenceOp>, Vec<String>)> {
    ensure!((4..=5).contains(&node.input.len()), "{OP} takes x, W, w_scale, w_zero_point and an optional bias");
    Ok((tract_onnx::tract_hir::ops::expandable::expand(Expansion { has_bias: node.input.len() == 5 }), vec![]))
}

/// The ONNX-level operator: shape rules, and packing of the constant weights when the model is
/// typed.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
struct Expansion {
    has_bias: bool,
}

impl tract_onnx::tract_hir::ops::expandable::Expansion for Expansion {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn rules<'r, 'p: 'r, 's: 'r>(
        &'s self,
        s: &mut Solver<'r>,
        inputs: &'p [TensorProxy],
        outputs: &'p [TensorProxy],
    ) -> InferenceResult {
        check_input_arity(inputs, 4 + self.has_bias as usize)?;
        check_output_arity(outputs, 1)?;
        s.equals(&inputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[1].datum_type, u8::datum_type())?;
        s.equals(&inputs[1].rank, 2)?;
        s.equals(&outputs[0].datum_type, f32::datum_type())?;
        s.equals(&inputs[0].rank, &outputs[0].rank)?;
        s.given_2(&inputs[0].shape, &inputs[1].shape, move |s, x, w| {
            let mut shape = x.clone();
            if let Some(last) = shape.last_mut() {
                *last = w[1].clone();
            }
            s.equals(&outputs[0].shape, shape)
        })
    }

    fn wire(&self, prefix: &str, model: &mut TypedModel, inputs: &[OutletId]) -> TractResult<TVec<OutletId>> {
        let packed = pack_constant_weights(OP, model, inputs, self.has_bias)?;
        model.wire_node(prefix, DynamicQuantizeMatMul { weights: Arc::new(packed) }, &inputs[..1])
    }
}

/// The weights of operator `op`'s node, packed: inputs 1-3 (and 4, the bias, when `has_bias`) are
/// `W[K, N]` u8, `w_scale` and `w_zero_point`, all constants once the model is typed.
pub(crate) fn pack_constant_weights(op: &str, model: &TypedModel, inputs: &[OutletId], has_bias: bool) -> TractResult<PackedWeights> {
    let constant = |ix: usize| -> TractResult<Arc<Tensor>> {
        model.outlet_fact(inputs[ix])?.konst.clone().with_context(|| format!("{op}: input {ix} is not a constant"))
    };
    let weights = constant(1)?;
    let &[k, n] = weights.shape() else { bail!("{op}: weights are not a matrix") };
    let scale = constant(2)?.cast_to_scalar::<f32>()?;
    let zero_point = constant(3)?.cast_to_scalar::<u8>()?;
    let bias = if has_bias {
        let bias = constant(4)?.cast_to::<f32>()?.into_owned();
        let bias = bias.try_as_plain_ram()?.as_slice::<f32>()?.to_vec();
        ensure!(bias.len() == n, "{op}: the bias has {} values for {n} columns", bias.len());
        Some(bias)
    } else {
        None
    };
    let weights = weights.try_as_plain_ram()?;
    Ok(PackedWeights::pack(weights.as_slice::<u8>()?, k, n, zero_point, scale, bias))
}

/// The typed operator: `x[.., K]` f32 → `y[.., N]` f32, weights packed.
#[derive(Debug, Clone)]
pub(crate) struct DynamicQuantizeMatMul {
    weights: Arc<PackedWeights>,
}

impl PartialEq for DynamicQuantizeMatMul {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.weights, &other.weights) || self.weights == other.weights
    }
}

impl Eq for DynamicQuantizeMatMul {}

impl Op for DynamicQuantizeMatMul {
    fn name(&self) -> StaticName {
        OP.into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("{:?} ({} bytes packed)", self.weights, self.weights.bytes())])
    }

    op_as_typed_op!();
}

impl EvalOp for DynamicQuantizeMatMul {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let x = &inputs[0];
        let (k, n) = (self.weights.k(), self.weights.n());
        let shape = x.shape();
        ensure!(shape.last() == Some(&k), "{OP}: input {shape:?} does not end in {k}");
        let m = shape[..shape.len() - 1].iter().product::<usize>();
        let mut output_shape: TVec<usize> = shape.into();
        *output_shape.last_mut().unwrap() = n;
        // SAFETY: every element is written by dynamic_quantize_matmul (m·n of them).
        let mut y = unsafe { Tensor::uninitialized_dt(f32::datum_type(), &output_shape)? };
        qgemm::dynamic_quantize_matmul(
            x.try_as_plain_ram()?.as_slice::<f32>()?,
            m,
            &self.weights,
            y.try_as_plain_ram_mut()?.as_slice_mut::<f32>()?,
        );
        Ok(tvec!(y.into_tvalue()))
    }
}

impl TypedOp for DynamicQuantizeMatMul {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        Ok(tvec!(f32_with_last_dim(inputs[0], self.weights.n().into())))
    }

    as_op!();
}

/// An f32 fact shaped like `input` but for its last dimension: what a product `x[.., K] · W[K, N]`
/// gives.
pub(crate) fn f32_with_last_dim(input: &TypedFact, last: TDim) -> TypedFact {
    let mut shape = input.shape.to_tvec();
    if let Some(dim) = shape.last_mut() {
        *dim = last;
    }
    f32::fact(shape)
}

#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) mod tests {
    use tract_onnx::pb::ModelProto;
    use tract_onnx::prelude::Framework;

    /// The tiny test model's vision tower as ONNX protobuf (what the rewrites see).
    pub(crate) fn tiny_vision() -> ModelProto {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/models/siglip-test-tiny/onnx/vision_model_quantized.onnx");
        let bytes = std::fs::read(path).expect("the tiny test model (scripts/setup installs it)");
        tract_onnx::onnx().proto_model_for_read(&mut std::io::Cursor::new(bytes)).unwrap()
    }

    #[test]
    fn fuses_every_quantized_product_of_the_tiny_model_with_its_bias() {
        let mut proto = tiny_vision();
        let graph = proto.graph.as_mut().unwrap();
        let products = graph.node.iter().filter(|n| n.op_type == "MatMulInteger").count();
        assert!(products > 0);
        assert_eq!(super::fuse(graph), products);
        assert!(graph.node.iter().all(|n| n.op_type != "MatMulInteger"));
        let fused: Vec<_> = graph.node.iter().filter(|n| n.op_type == super::OP).collect();
        assert_eq!(fused.len(), products);
        // Every product of this export has a bias (q/k/v through an Identity): all taken in.
        assert!(fused.iter().all(|n| n.input.len() == 5), "a bias Add was left outside");
        // The only quantizer left feeds the patch embedding's ConvInteger.
        assert_eq!(graph.node.iter().filter(|n| n.op_type == "DynamicQuantizeLinear").count(), 1);
    }
}
