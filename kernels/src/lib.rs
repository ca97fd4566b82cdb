//! Sightline's matrix kernels. No dependencies and no model knowledge: slices in, slices out.
//! `sightline::quantized_matmul` plugs them into tract as an ONNX operator.

pub mod qgemm;
