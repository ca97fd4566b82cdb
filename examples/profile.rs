//! Where the vision tower's time goes, natively: every node of tract's plan timed over several runs
//! after a warm-up, summed per operator. `scripts/profile` runs this and the same profile in
//! Chromium (bench/www/profile.html) and writes bench/profile.md.
//!
//!   cargo run --release --example profile -- MODEL_DIR [--runs N] [--f32-weights]
//!
//! Prints one JSON object: `{"target": "native", "weights": "int8"|"f32", "runs", "total_ms",
//! "nodes": [{"op", "node", "ms"}], "load": {"cold": [{"phase", "ms"}], "warm": [...]}}` with each
//! node's median time over the runs, and each load phase's time in the first of `runs + 1` loads
//! and the median of the others.

use std::time::Instant;

use sightline::{ModelFiles, SiglipModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: profile MODEL_DIR [--runs N] [--f32-weights]")?);
    let (mut runs, mut f32_weights) = (5usize, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().ok_or("--runs needs a number")?.parse()?,
            "--f32-weights" => f32_weights = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut descriptor: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("sightline.json"))?)?;
    descriptor["dequantize_weights"] = f32_weights.into();
    let vision_path = descriptor["vision_model"].as_str().ok_or("sightline.json names no vision_model")?;
    let vision = std::fs::read(dir.join(vision_path))?;
    let size = descriptor["image_size"].as_u64().ok_or("sightline.json has no image_size")? as usize;
    let descriptor = serde_json::to_vec(&descriptor)?;
    let origin = Instant::now();
    let clock = || origin.elapsed().as_secs_f64() * 1e3;
    let mut loads = Vec::new();
    for _ in 0..=runs.max(1) {
        loads.push(SiglipModel::profile_vision_load(&descriptor, &vision, &clock)?);
    }
    let cold = loads.remove(0);
    let warm: Vec<_> = cold
        .iter()
        .enumerate()
        .map(|(ix, phase)| serde_json::json!({"phase": phase.phase, "ms": median(loads.iter().map(|l| l[ix].ms).collect())}))
        .collect();
    let model = SiglipModel::load(ModelFiles { descriptor: &descriptor, vision_model: &vision, text_model: None, tokenizer: None, ..Default::default() })?;

    // The benchmark's fixed input (bench/native.py, bench/www/bench-worker.js).
    let pixels: Vec<f32> =
        (0..3 * size * size).map(|i| (((i * 7919) % 2001) as f64 / 1000.0 - 1.0) as f32).collect();
    model.profile_vision(&pixels, &clock)?;
    let mut samples: Vec<Vec<f64>> = Vec::new();
    let mut nodes = Vec::new();
    for _ in 0..runs.max(1) {
        nodes = model.profile_vision(&pixels, &clock)?;
        samples.resize(nodes.len(), Vec::new());
        for (sample, node) in samples.iter_mut().zip(&nodes) {
            sample.push(node.ms);
        }
    }
    for (node, sample) in nodes.iter_mut().zip(samples) {
        node.ms = median(sample);
    }
    let total: f64 = nodes.iter().map(|n| n.ms).sum();
    let report = serde_json::json!({
        "target": "native",
        "weights": if f32_weights { "f32" } else { "int8" },
        "runs": runs,
        "total_ms": total,
        "nodes": nodes,
        "load": {"cold": cold, "warm": warm},
    });
    println!("{report}");
    Ok(())
}

/// The middle value (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
