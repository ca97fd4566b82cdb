//! Sightline's kernels. No model knowledge and no dependencies but rayon: slices in, slices out.
//! `sightline::quantized_matmul` and `sightline::activation_matmul` plug them into tract as ONNX
//! operators, `sightline::activation_chains` into tract's optimised plans, and
//! `sightline::tract_routines` into tract's own kernel table.

pub mod depthwise;
pub mod elementwise;
pub mod parallel;
pub mod qgemm;
pub mod sgemm;
pub mod softmax;
