//! Native per-image timing of the local OCR and face detector, models loaded once (what a
//! long-running program pays per image), for `scripts/bench-ocr`:
//!
//!   cargo run --release --example bench_local -- RUNS PPOCR_DIR YUNET_FILE IMAGE...
//!
//! After one untimed warm-up per image (it also makes tract's plans for the image's shapes),
//! RUNS timed runs of decode + `read` for images under an `ocr` folder and of decode + face
//! detection for the others (decoding is timed because `analyze` in the browser does it too). Prints one JSON object per image:
//! `{"image", "task", "runs_ms": [...], "lines" | "faces"}`.

use std::path::Path;
use std::time::Instant;

use sightline::read::OcrEngine;
use sightline::PeopleDetector;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [runs, ppocr, yunet, images @ ..] = args.as_slice() else {
        return Err("usage: bench_local RUNS PPOCR_DIR YUNET_FILE IMAGE...".into());
    };
    let runs: usize = runs.parse()?;
    let ocr = OcrEngine::load_dir(Path::new(ppocr))?;
    let faces = PeopleDetector::load(&std::fs::read(yunet)?)?;

    for image in images {
        let bytes = std::fs::read(image)?;
        let is_page = Path::new(image).parent().is_some_and(|p| p.ends_with("ocr"));
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for run in 0..=runs {
            let start = Instant::now();
            let rgb = sightline::decode_image(&bytes)?.rgb;
            found = if is_page { ocr.read(&rgb)?.len() } else { faces.detect(&rgb, 0.6)?.len() };
            if run > 0 {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let (task, count) = if is_page { ("read", "lines") } else { ("people", "faces") };
        println!("{}", serde_json::json!({ "image": image, "task": task, "runs_ms": times, count: found }));
    }
    Ok(())
}
