//! Sightline's matrix kernels. No dependencies and no model knowledge: slices in, slices out.
//! `sightline::quantized_matmul` and `sightline::activation_matmul` plug them into tract as ONNX
//! operators.

pub mod qgemm;
pub mod sgemm;
