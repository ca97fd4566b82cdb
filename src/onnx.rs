//! One way to read an ONNX file into tract, for the three kinds of model Sightline runs: SigLIP's
//! towers (tower.rs, which also rewrites the graph before building it), the people detector
//! (people.rs) and the read networks (read/). Shapes come from the image tensors Sightline feeds, so
//! the exports' own output shapes and value annotations (symbolic batch sizes) are ignored.

use std::io::Cursor;
use std::sync::Arc;

use tract_onnx::prelude::*;

use crate::error::{Result, SightlineError};

/// The ONNX parser every model is read with.
pub(crate) fn parser() -> tract_onnx::Onnx {
    tract_onnx::onnx().with_ignore_output_shapes(true).with_ignore_value_info(true)
}

/// `what` ("face model", "text detection model", …) names the file in errors.
pub(crate) fn invalid(what: &str, reason: String) -> SightlineError {
    SightlineError::InvalidModel { what: what.into(), reason }
}

pub(crate) fn mismatch(what: &str, reason: String) -> SightlineError {
    SightlineError::ModelInterfaceMismatch { what: what.into(), reason }
}

/// The model in `bytes`, not yet typed: an empty or unreadable file is `InvalidModel`.
pub(crate) fn read(bytes: &[u8], what: &str) -> Result<InferenceModel> {
    let parser = parser();
    parser.model_for_proto_model(&proto(&parser, bytes, what)?).map_err(|e| invalid(what, format!("{e:#}")))
}

/// The protobuf in `bytes`, read by `parser` (which may carry operators of its own), before tract
/// builds its model: for callers that rewrite the graph first. Same errors as [`read`].
pub(crate) fn proto(parser: &tract_onnx::Onnx, bytes: &[u8], what: &str) -> Result<tract_onnx::pb::ModelProto> {
    if bytes.is_empty() {
        return Err(invalid(what, "the file is empty".into()));
    }
    parser.proto_model_for_read(&mut Cursor::new(bytes)).map_err(|e| invalid(what, format!("{e:#}")))
}

/// Fix the one image input to an f32 tensor of `shape` and type the graph; a model that cannot
/// take it is `ModelInterfaceMismatch`.
fn typed(mut model: InferenceModel, what: &str, shape: [usize; 4]) -> Result<TypedModel> {
    model.set_input_fact(0, f32::fact(shape).into()).map_err(|e| invalid(what, e.to_string()))?;
    model.into_typed().map_err(|e| mismatch(what, format!("it does not accept a {shape:?} image tensor: {e:#}")))
}

/// [`typed`], then optimised into a runnable plan (with PP-LCNet's activation chains in one pass:
/// `activation_chains`).
pub(crate) fn runnable(model: InferenceModel, what: &str, shape: [usize; 4]) -> Result<Arc<TypedRunnableModel>> {
    typed(model, what, shape)?
        .into_optimized()
        .and_then(crate::activation_chains::fuse)
        .and_then(|m| m.into_runnable())
        .map_err(|e| mismatch(what, format!("it does not accept a {shape:?} image tensor: {e:#}")))
}

/// The shape of the one output of `model` for an f32 input of `shape`, from [`typed`] alone (no
/// optimisation: a fraction of [`runnable`]'s time): a load-time check that the model takes such an
/// input.
pub(crate) fn output_shape(model: InferenceModel, what: &str, shape: [usize; 4]) -> Result<Vec<usize>> {
    let typed = typed(model, what, shape)?;
    let output = typed.output_outlets().ok().and_then(|o| o.first().copied());
    let fact = output.and_then(|o| typed.outlet_fact(o).ok());
    fact.and_then(|f| f.shape.as_concrete().map(<[usize]>::to_vec))
        .ok_or_else(|| mismatch(what, format!("its output has no fixed shape for a {shape:?} image tensor")))
}
