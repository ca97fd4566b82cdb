//! An optional load-time rewrite of dynamically quantised ONNX exports (onnxruntime's
//! `quantize_dynamic`, which Xenova's SigLIP files come from): each
//!
//! ```text
//! x ─ DynamicQuantizeLinear ─ MatMulInteger(·, W_u8, ·, zp) ─ Cast(float) ─ Mul(·, x_scale·w_scale) ─ y
//! ```
//!
//! becomes `y = MatMul(x, (W_u8 − zp)·w_scale)` with the f32 weights computed once, here.
//!
//! Why: it is the slower path now that the int8 graph runs fused (src/quantized_matmul.rs), kept as
//! a run option for comparison (`scripts/bench`'s f32-weights rows, `--f32-weights`). The cost is
//! 4× the weight memory and slightly different numbers: activations are no longer quantised, so
//! results move towards the fp32 model and away from onnxruntime's int8 output (cosine ≈ 0.99994
//! on the synthetic base model). The descriptor's `dequantize_weights` decides (absent: no).

use std::collections::HashSet;

use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{GraphProto, NodeProto, TensorProto};

use crate::quantized_matmul::{drop_dead_nodes, products, Index};

/// Rewrite every recognised pattern in `graph` (`quantized_matmul::products`) whose weights are a
/// 2-D u8/i8 matrix with a scalar zero point; returns how many matrix products were rewritten.
pub(crate) fn dequantize_matmul_weights(graph: &mut GraphProto) -> usize {
    let mut rewrites = Vec::new();
    for product in products(graph, &Index::new(graph)) {
        let Some(dequantized) = dequantize(
            &graph.initializer[product.weights],
            &graph.initializer[product.weight_zero_point],
            &graph.initializer[product.weight_scale],
        ) else {
            continue;
        };
        rewrites.push((product.output_mul, product.x, graph.initializer[product.weights].name.clone(), dequantized));
    }
    let count = rewrites.len();
    let mut replaced_weights = HashSet::new();
    for (output_mul, x, quantized_weights, dequantized) in rewrites {
        replaced_weights.insert(quantized_weights);
        let output = &mut graph.node[output_mul];
        *output = NodeProto {
            name: format!("{}_f32_weights", output.name),
            op_type: "MatMul".into(),
            input: vec![x, dequantized.name.clone()],
            output: std::mem::take(&mut output.output),
            ..NodeProto::default()
        };
        graph.initializer.push(dequantized);
    }
    // The products, casts, scale products and activation quantizers nothing reads any more, and
    // the quantized weights: drop them rather than compute them or carry both weight copies.
    drop_dead_nodes(graph);
    let used: HashSet<&String> = graph.node.iter().flat_map(|n| n.input.iter()).collect();
    let unused: HashSet<String> =
        replaced_weights.into_iter().filter(|name| !used.contains(name)).collect();
    graph.initializer.retain(|t| !unused.contains(&t.name));
    count
}

/// `(W − zero_point) · scale` as an f32 initializer named after `W`; `None` unless W is a 2-D
/// u8/i8 matrix with a scalar zero point and a scalar or per-column scale.
fn dequantize(weights: &TensorProto, zero_point: &TensorProto, scale: &TensorProto) -> Option<TensorProto> {
    let &[rows, cols] = &weights.dims[..] else { return None };
    let (rows, cols) = (usize::try_from(rows).ok()?, usize::try_from(cols).ok()?);
    let values = integers(weights)?;
    let zero_point = match &integers(zero_point)?[..] {
        [z] => *z,
        _ => return None,
    };
    let scale = floats(scale)?;
    if values.len() != rows * cols || !(scale.len() == 1 || scale.len() == cols) {
        return None;
    }
    let mut raw = Vec::with_capacity(values.len() * 4);
    for (i, v) in values.iter().enumerate() {
        let s = if scale.len() == 1 { scale[0] } else { scale[i % cols] };
        raw.extend_from_slice(&(((v - zero_point) as f32) * s).to_le_bytes());
    }
    Some(TensorProto {
        name: format!("{}_dequantized_f32", weights.name),
        dims: weights.dims.clone(),
        data_type: DataType::Float as i32,
        raw_data: raw,
        ..TensorProto::default()
    })
}

/// Values of a u8 or i8 initializer, from raw_data or int32_data (ONNX allows both).
fn integers(t: &TensorProto) -> Option<Vec<i32>> {
    let signed = match DataType::try_from(t.data_type).ok()? {
        DataType::Uint8 => false,
        DataType::Int8 => true,
        _ => return None,
    };
    if !t.raw_data.is_empty() {
        Some(t.raw_data.iter().map(|&b| if signed { b as i8 as i32 } else { b as i32 }).collect())
    } else {
        Some(t.int32_data.clone())
    }
}

fn floats(t: &TensorProto) -> Option<Vec<f32>> {
    if DataType::try_from(t.data_type).ok()? != DataType::Float {
        return None;
    }
    if !t.raw_data.is_empty() {
        Some(t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    } else {
        Some(t.float_data.clone())
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use tract_onnx::prelude::Framework;

    // The embeddings with f32 weights are checked against onnxruntime in tests/parity.rs
    // (`f32_weights_stay_near_onnxruntime_int8`), through the public API: no test here reaches
    // back into siglip.rs, which loads through this module.

    const TINY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/siglip-test-tiny");

    fn read(path: &str) -> Vec<u8> {
        std::fs::read(format!("{TINY}/{path}")).expect("the tiny test model (scripts/setup installs it)")
    }

    #[test]
    fn rewrites_every_quantized_product_of_the_tiny_model() {
        let bytes = read("onnx/vision_model_quantized.onnx");
        let mut proto = tract_onnx::onnx().proto_model_for_read(&mut std::io::Cursor::new(bytes)).unwrap();
        let graph = proto.graph.as_mut().unwrap();
        let products = graph.node.iter().filter(|n| n.op_type == "MatMulInteger").count();
        assert!(products > 0);
        assert_eq!(super::dequantize_matmul_weights(graph), products);
        assert!(graph.node.iter().all(|n| n.op_type != "MatMulInteger"));
        // The quantizer left is the patch embedding's (ConvInteger is not rewritten); none is dead.
        let inputs: Vec<&String> = graph.node.iter().flat_map(|n| &n.input).collect();
        for quantizer in graph.node.iter().filter(|n| n.op_type == "DynamicQuantizeLinear") {
            assert!(quantizer.output.iter().any(|o| inputs.contains(&o)), "{} is dead", quantizer.name);
        }
    }
}
