//! Where local OCR spends its time, stage by stage, natively: decode, the detector's input, the
//! detection network, its post-processing, the line crops, the orientation classifier, the
//! recognition network and the assembly of lines (`OcrEngine::read_lines_profiled`).
//!
//!   cargo run --release --example ocr_profile -- RUNS PPOCR_DIR [--widths W,W,...] IMAGE...
//!
//! Per image: the first call (the networks optimise a plan for each input shape they have not
//! seen), then RUNS calls with every plan made; prints one JSON object per image with the first
//! call's stages and the median of each stage over the runs, in milliseconds, and the shapes.
//! Then one object per network and input shape the images used (the detector at each image's
//! size, the recogniser at its narrowest and widest line, the orientation classifier): its time
//! summed per operator, the slowest first (`OcrEngine::profile_network`); `--widths` adds the
//! recogniser at those line widths.

use std::path::Path;
use std::time::Instant;

use sightline::read::{NetworkProfile, OcrEngine, OcrNetwork, ReadProfile};

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Each stage's median over `runs`, as a JSON object of milliseconds.
fn medians(runs: &[(f64, ReadProfile)]) -> serde_json::Value {
    let stage = |f: fn(&ReadProfile) -> f64| (median(runs.iter().map(|(_, p)| f(p)).collect()) * 10.0).round() / 10.0;
    serde_json::json!({
        "decode_ms": (median(runs.iter().map(|(decode, _)| *decode).collect()) * 10.0).round() / 10.0,
        "detector_input_ms": stage(|p| p.detector_input_ms),
        "detector_ms": stage(|p| p.detector_ms),
        "regions_ms": stage(|p| p.regions_ms),
        "crops_ms": stage(|p| p.crops_ms),
        "orientation_ms": stage(|p| p.orientation_ms),
        "recognizer_ms": stage(|p| p.recognizer_ms),
        "assemble_ms": stage(|p| p.assemble_ms),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runs, ppocr, rest @ ..] = args.as_slice() else {
        return Err("usage: ocr_profile RUNS PPOCR_DIR [--widths W,W,...] IMAGE...".into());
    };
    let (widths, images): (Vec<usize>, &[String]) = match rest {
        [flag, list, images @ ..] if flag == "--widths" => (list.split(',').map(str::parse).collect::<Result<_, _>>()?, images),
        images => (Vec::new(), images),
    };
    let runs: usize = runs.parse()?;
    let origin = Instant::now();
    let clock = move || origin.elapsed().as_secs_f64() * 1e3;
    let ocr = OcrEngine::load_dir(Path::new(ppocr))?;
    let load_ms = clock();

    let mut shapes: Vec<(OcrNetwork, (usize, usize))> = vec![(OcrNetwork::Orientation, (0, 0))];
    shapes.extend(widths.iter().map(|&width| (OcrNetwork::Recognizer, (48, width))));
    for image in images {
        let bytes = std::fs::read(image)?;
        let mut calls = Vec::with_capacity(runs + 1);
        for _ in 0..=runs {
            let start = clock();
            let rgb = sightline::decode_image(&bytes)?.rgb;
            let decode_ms = clock() - start;
            let (_, profile) = ocr.read_lines_profiled(&rgb, &clock)?;
            calls.push((decode_ms, profile));
        }
        let first = calls.remove(0);
        let widths = &first.1.recognizer_widths;
        let mut distinct: Vec<usize> = widths.clone();
        distinct.sort_unstable();
        distinct.dedup();
        let [_, _, dh, dw] = first.1.detector_shape;
        shapes.push((OcrNetwork::Detector, (dh, dw)));
        for width in [distinct.first(), distinct.last()].into_iter().flatten() {
            shapes.push((OcrNetwork::Recognizer, (48, *width)));
        }
        println!(
            "{}",
            serde_json::json!({
                "image": image,
                "load_ms": (load_ms * 10.0).round() / 10.0,
                "lines": first.1.lines,
                "detector_shape": first.1.detector_shape,
                "recognizer_runs": widths.len(),
                "recognizer_widths": distinct,
                "first": medians(std::slice::from_ref(&first)),
                "median": medians(&calls),
            })
        );
    }
    shapes.sort_by_key(|(network, shape)| (format!("{network:?}"), *shape));
    shapes.dedup();
    for (network, shape) in shapes {
        let profile = NetworkProfile::of(network, [shape.0, shape.1], ocr.profile_network(network, shape, &clock)?);
        // Multiply-adds per nanosecond: GMAC/s.
        let rate = |macs: u64, ms: f64| if macs == 0 || ms <= 0.0 { serde_json::Value::Null } else { round(macs as f64 / ms / 1e6).into() };
        let ops: Vec<_> = profile
            .ops
            .iter()
            .map(|o| serde_json::json!({ "op": o.op, "ms": round(o.ms), "nodes": o.nodes, "gmac_per_s": rate(o.macs, o.ms) }))
            .collect();
        let slowest: Vec<_> = profile
            .nodes
            .iter()
            .map(|n| serde_json::json!({ "node": n.node, "op": n.op, "ms": round(n.ms), "mmacs": n.macs / 1_000_000, "gmac_per_s": rate(n.macs, n.ms) }))
            .collect();
        println!(
            "{}",
            serde_json::json!({ "network": format!("{network:?}"), "input": shape, "total_ms": round(profile.total_ms), "gmacs": round(profile.macs as f64 / 1e9), "ops": ops, "slowest": slowest })
        );
    }
    Ok(())
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}
