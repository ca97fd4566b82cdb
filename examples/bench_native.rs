//! Native timing of the vision tower, driven line by line by `bench/native.py` so that its runs can
//! be interleaved with onnxruntime's (machines are noisy; alternating keeps the comparison fair).
//!
//!   cargo run --release --example bench_native -- models/siglip-test-base
//!
//! Prints `default_weights int8|f32` (what a descriptor without `dequantize_weights` runs:
//! `DEQUANTIZE_BY_DEFAULT`), `int8_kernel NAME` (the int8 kernel this machine runs), then `load_ms MS` once the model is loaded and optimised (the file
//! is read before the clock starts), then answers each line on stdin: `run` → `run_ms MS`, `embedding` → the unit embedding
//! of the last run as comma-separated values. The input is the benchmark's fixed synthetic
//! `pixel_values` (the same formula as bench/www/bench-worker.js and bench/native.py).

use std::io::{BufRead, Write};
use std::time::Instant;

use sightline::{ModelFiles, SiglipModel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: bench_native MODEL_DIR")?);
    let descriptor = std::fs::read(dir.join("sightline.json"))?;
    let parsed: serde_json::Value = serde_json::from_slice(&descriptor)?;
    let vision_path = parsed["vision_model"].as_str().ok_or("sightline.json names no vision_model")?;
    let vision = std::fs::read(dir.join(vision_path))?;
    let size = parsed["image_size"].as_u64().ok_or("sightline.json has no image_size")? as usize;

    let mut out = std::io::stdout().lock();
    writeln!(out, "default_weights {}", if sightline::DEQUANTIZE_BY_DEFAULT { "f32" } else { "int8" })?;
    writeln!(out, "int8_kernel {}", sightline_kernels::qgemm::Kernel::best().name())?;
    let start = Instant::now();
    let files = ModelFiles { descriptor: &descriptor, vision_model: &vision, text_model: None, tokenizer: None, ..Default::default() };
    let model = SiglipModel::load(files)?;
    writeln!(out, "load_ms {:.1}", start.elapsed().as_secs_f64() * 1e3)?;
    out.flush()?;

    let pixels: Vec<f32> =
        (0..3 * size * size).map(|i| (((i * 7919) % 2001) as f64 / 1000.0 - 1.0) as f32).collect();
    let mut embedding = Vec::new();
    for line in std::io::stdin().lock().lines() {
        match line?.trim() {
            "run" => {
                let start = Instant::now();
                embedding = model.embed_pixel_values(&pixels)?;
                writeln!(out, "run_ms {:.2}", start.elapsed().as_secs_f64() * 1e3)?;
            }
            "embedding" => {
                let values: Vec<String> = embedding.iter().map(|v| v.to_string()).collect();
                writeln!(out, "{}", values.join(","))?;
            }
            "" => continue,
            other => writeln!(out, "error unknown command {other:?}")?,
        }
        out.flush()?;
    }
    Ok(())
}
