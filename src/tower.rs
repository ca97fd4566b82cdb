//! One SigLIP tower (vision or text) loaded from ONNX bytes with tract, its interface checked
//! against the Xenova export so a wrong file fails at load time with a useful message instead of
//! producing garbage or a shape error deep inside inference.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

use crate::error::{Result, SightlineError};
use crate::onnx;

/// Which tower, with the fixed input geometry it will be run at.
#[derive(Debug, Clone, Copy)]
pub(crate) enum TowerKind {
    /// `pixel_values` f32 [1, 3, size, size]
    Vision { image_size: usize },
    /// `input_ids` i64 [1, length]
    Text { length: usize },
}

impl TowerKind {
    fn what(self) -> &'static str {
        match self {
            TowerKind::Vision { .. } => "vision model",
            TowerKind::Text { .. } => "text model",
        }
    }

    fn input_name(self) -> &'static str {
        match self {
            TowerKind::Vision { .. } => "pixel_values",
            TowerKind::Text { .. } => "input_ids",
        }
    }

    fn datum_type(self) -> DatumType {
        match self {
            TowerKind::Vision { .. } => f32::datum_type(),
            TowerKind::Text { .. } => i64::datum_type(),
        }
    }

    fn shape(self) -> Vec<usize> {
        match self {
            TowerKind::Vision { image_size } => vec![1, 3, image_size, image_size],
            TowerKind::Text { length } => vec![1, length],
        }
    }
}

/// The output every SigLIP export has: the pooled embedding (before normalisation).
const POOLED_OUTPUT: &str = "pooler_output";
/// The vision tower's per-patch tokens (after the final layer norm), used for saliency.
const PATCH_OUTPUT: &str = "last_hidden_state";

impl TowerKind {
    fn outputs(self) -> &'static [&'static str] {
        match self {
            TowerKind::Vision { .. } => &[POOLED_OUTPUT, PATCH_OUTPUT],
            TowerKind::Text { .. } => &[POOLED_OUTPUT],
        }
    }
}

/// What one run produces: the pooled embedding and, for the vision tower, the patch tokens.
pub(crate) struct TowerOutput {
    pub pooled: Vec<f32>,
    /// `[patches, hidden]` row-major; empty for the text tower.
    pub patches: Vec<f32>,
}

pub(crate) struct Tower {
    kind: TowerKind,
    plan: Arc<TypedRunnableModel>,
    embedding_dim: usize,
    patch_count: usize,
}

impl std::fmt::Debug for Tower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tower").field("kind", &self.kind).field("embedding_dim", &self.embedding_dim).finish()
    }
}

impl Tower {
    /// `dequantize_weights`: see `ModelDescriptor::dequantize_weights` (resolved by the caller).
    pub(crate) fn load(bytes: &[u8], kind: TowerKind, dequantize_weights: bool) -> Result<Tower> {
        Ok(Self::load_timed(bytes, kind, dequantize_weights, &|| 0.0)?.0)
    }

    /// [`Tower::load`], with the time each phase took by `clock` (milliseconds; `scripts/profile`).
    pub(crate) fn load_timed(
        bytes: &[u8],
        kind: TowerKind,
        dequantize_weights: bool,
        clock: &dyn Fn() -> f64,
    ) -> Result<(Tower, Vec<LoadPhase>)> {
        let mut phases = Vec::new();
        let mut last = clock();
        let mut done = |phase: &'static str| {
            let now = clock();
            phases.push(LoadPhase { phase, ms: now - last });
            last = now;
        };
        let what = kind.what();
        let invalid = |reason: String| onnx::invalid(what, reason);
        let mismatch = |reason: String| onnx::mismatch(what, reason);
        // Read as every model is (src/onnx.rs), with Sightline's operators added: the graph is
        // rewritten (fused int8 products) between the protobuf and tract's model.
        let mut onnx = onnx::parser();
        crate::quantized_matmul::register(&mut onnx);
        crate::activation_matmul::register(&mut onnx);
        crate::patch_embedding::register(&mut onnx);
        let mut proto = onnx::proto(&onnx, bytes, what)?;
        done("decode protobuf");
        if let Some(graph) = proto.graph.as_mut() {
            if dequantize_weights {
                crate::dequantize::dequantize_matmul_weights(graph);
            } else {
                crate::quantized_matmul::fuse(graph);
            }
            crate::patch_embedding::fuse(graph);
        }
        done("rewrite graph");
        let mut model = onnx.model_for_proto_model(&proto).map_err(|e| invalid(format!("{e:#}")))?;
        drop(proto);
        done("build tract model");
        if model.nodes().is_empty() {
            return Err(invalid("it contains no graph".into()));
        }

        check_input(&model, kind).map_err(mismatch)?;
        let outputs = kind
            .outputs()
            .iter()
            .map(|name| find_output(&model, name))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(mismatch)?;
        model.select_output_outlets(&outputs).map_err(|e| invalid(e.to_string()))?;
        let fact = InferenceFact::dt_shape(kind.datum_type(), kind.shape());
        model.set_input_fact(0, fact).map_err(|e| invalid(e.to_string()))?;

        let cannot_run = |e: TractError| mismatch(format!("it cannot run on input {:?}: {e:#}", kind.shape()));
        let mut optimized = model.into_typed().map_err(cannot_run)?;
        done("type (packs the int8 weights)");
        optimized.declutter().map_err(cannot_run)?;
        done("declutter");
        optimized.optimize().map_err(cannot_run)?;
        done("optimise");
        // tract's output_fact indexes without a bounds check: only ask for outputs we selected.
        let output_count = kind.outputs().len();
        let shape_of = |ix: usize| {
            (ix < output_count)
                .then(|| optimized.output_fact(ix).ok())
                .flatten()
                .and_then(|f| f.shape.as_concrete().map(|s| s.to_vec()))
                .unwrap_or_default()
        };
        let embedding_dim = match shape_of(0).as_slice() {
            [1, dim] if *dim > 0 => *dim,
            other => {
                return Err(mismatch(format!("{POOLED_OUTPUT} has shape {other:?}, expected [1, dim]")))
            }
        };
        let patch_count = match (kind, shape_of(1).as_slice()) {
            (TowerKind::Text { .. }, _) => 0,
            (TowerKind::Vision { .. }, &[1, patches, hidden]) if hidden == embedding_dim && patches > 0 => patches,
            (TowerKind::Vision { .. }, other) => {
                return Err(mismatch(format!(
                    "{PATCH_OUTPUT} has shape {other:?}, expected [1, patches, {embedding_dim}]"
                )))
            }
        };
        let plan = optimized.into_runnable().map_err(|e| invalid(format!("{e:#}")))?;
        done("plan");
        Ok((Tower { kind, plan, embedding_dim, patch_count }, phases))
    }

    pub(crate) fn embedding_dim(&self) -> usize {
        self.embedding_dim
    }

    /// Number of patch tokens the vision tower returns (0 for the text tower).
    pub(crate) fn patch_count(&self) -> usize {
        self.patch_count
    }

    /// Run on one input; returns the raw (unnormalised) pooled embedding and the patch tokens.
    pub(crate) fn run(&self, input: Tensor) -> Result<TowerOutput> {
        debug_assert_eq!(input.shape(), self.kind.shape().as_slice());
        let outputs = self.plan.run(tvec!(input.into())).map_err(SightlineError::inference)?;
        let mut values = outputs.iter().map(|output| {
            let view = output.try_as_plain_ram().map_err(SightlineError::inference)?;
            Ok(view.as_slice::<f32>().map_err(SightlineError::inference)?.to_vec())
        });
        let pooled = values.next().ok_or_else(|| SightlineError::inference("no output"))??;
        let patches = values.next().transpose()?.unwrap_or_default();
        Ok(TowerOutput { pooled, patches })
    }
}

/// Time spent in one phase of loading a tower (`scripts/profile`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadPhase {
    pub phase: &'static str,
    pub ms: f64,
}

/// Time spent in one node of the plan during a profiled run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NodeTime {
    /// The operator (`DynamicQuantizeMatMul`, `EinSum`, `Softmax`, ...).
    pub op: String,
    /// The node's name in the optimised graph (the ONNX node's name, with tract's suffixes).
    pub node: String,
    pub ms: f64,
    /// Multiply-adds the node does per run, as tract counts them (`TypedOp::cost`); 0 for nodes
    /// that do none (element-wise, shape and memory operators).
    pub macs: u64,
}

impl Tower {
    /// Run once on `input` as [`Tower::run`] does, timing every node with `clock` (milliseconds
    /// from any origin: `Instant` natively, `performance.now()` in a browser).
    pub(crate) fn profile(&self, input: Tensor, clock: &dyn Fn() -> f64) -> Result<Vec<NodeTime>> {
        profile_plan(&self.plan, input, clock)
    }
}

/// Time and node count of one operator over a profiled run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OperatorTime {
    pub op: String,
    pub nodes: usize,
    pub ms: f64,
    /// The nodes' multiply-adds per run: with `ms`, the rate the operator runs at.
    pub macs: u64,
}

/// `nodes` summed per operator, the slowest first.
pub fn per_operator(nodes: &[NodeTime]) -> Vec<OperatorTime> {
    let mut ops: Vec<OperatorTime> = Vec::new();
    for node in nodes {
        match ops.iter_mut().find(|entry| entry.op == node.op) {
            Some(entry) => {
                entry.ms += node.ms;
                entry.nodes += 1;
                entry.macs += node.macs;
            }
            None => ops.push(OperatorTime { op: node.op.clone(), nodes: 1, ms: node.ms, macs: node.macs }),
        }
    }
    ops.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    ops
}

/// Run `plan` once on `input`, timing every node with `clock` (milliseconds from any origin).
pub(crate) fn profile_plan(plan: &Arc<TypedRunnableModel>, input: Tensor, clock: &dyn Fn() -> f64) -> Result<Vec<NodeTime>> {
    let model = plan.model();
    let macs: Vec<u64> = model.nodes().iter().map(|node| multiply_adds(model, node)).collect();
    let mut state = plan.spawn().map_err(SightlineError::inference)?;
    let mut times = Vec::new();
    state
        .run_plan_with_eval(tvec!(input.into()), |ctx, op_state, node, inputs| {
            let start = clock();
            let outputs = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
            let ms = clock() - start;
            times.push(NodeTime { op: node.op().name().to_string(), node: node.name.clone(), ms, macs: macs[node.id] });
            outputs
        })
        .map_err(SightlineError::inference)?;
    Ok(times)
}

/// The multiply-adds `node` does per run by tract's count (`TypedOp::cost`, concrete shapes).
fn multiply_adds(model: &TypedModel, node: &TypedNode) -> u64 {
    let Ok(facts) = node.inputs.iter().map(|&outlet| model.outlet_fact(outlet)).collect::<TractResult<TVec<_>>>() else { return 0 };
    let Ok(costs) = node.op.cost(&facts) else { return 0 };
    costs
        .iter()
        .filter(|(cost, _)| matches!(cost, tract_onnx::tract_core::ops::Cost::FMA(_)))
        .filter_map(|(_, count)| count.to_i64().ok())
        .map(|count| count.max(0) as u64)
        .sum()
}

fn check_input(model: &InferenceModel, kind: TowerKind) -> std::result::Result<(), String> {
    let inputs = model.input_outlets().map_err(|e| e.to_string())?;
    let names: Vec<&str> = inputs.iter().map(|o| model.node(o.node).name.as_str()).collect();
    if names != [kind.input_name()] {
        return Err(format!("expected one input named {:?}, found {names:?}", kind.input_name()));
    }
    let fact = model.input_fact(0).map_err(|e| e.to_string())?;
    if let Some(dt) = fact.datum_type.concretize() {
        if dt != kind.datum_type() {
            return Err(format!("input {} is {dt:?}, expected {:?}", kind.input_name(), kind.datum_type()));
        }
    }
    // Declared dims must agree with ours where they are concrete (batch and length may be symbols).
    let expected = kind.shape();
    if let Some(rank) = fact.shape.rank().concretize() {
        if rank as usize != expected.len() {
            return Err(format!("input {} has rank {rank}, expected {}", kind.input_name(), expected.len()));
        }
        for (axis, (dim, want)) in fact.shape.dims().zip(&expected).enumerate().skip(1) {
            if let Some(Ok(have)) = dim.concretize().map(|d| d.to_i64()) {
                if have != *want as i64 {
                    return Err(format!(
                        "input {} has size {have} on axis {axis}, expected {want} (shape {expected:?})",
                        kind.input_name()
                    ));
                }
            }
        }
    }
    Ok(())
}

fn find_output(model: &InferenceModel, name: &str) -> std::result::Result<OutletId, String> {
    let outputs = model.output_outlets().map_err(|e| e.to_string())?;
    let label = |o: &OutletId| model.outlet_label(*o).unwrap_or(&model.node(o.node).name).to_string();
    outputs.iter().find(|o| label(o) == name).copied().ok_or_else(|| {
        let names: Vec<String> = outputs.iter().map(label).collect();
        format!("no output named {name:?}; outputs are {names:?}")
    })
}
