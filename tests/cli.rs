//! The `sightline` command as a user runs it: embeddings that match onnxruntime, bad files that
//! fail alone with one line each, directories walked, text embeddings and token ids.
#![cfg(not(target_arch = "wasm32"))]

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
use common::{model_dir, shared, sightline, stderr, stdout_json};

fn golden_embedding(name: &str) -> Vec<f64> {
    let golden: Value = serde_json::from_str(include_str!("golden/embeddings.json")).unwrap();
    let image = golden["images"].as_array().unwrap().iter().find(|i| i["name"] == name).unwrap();
    image["embedding"]["tiny-quant"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

fn vector(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

/// A temp folder holding one file per kind of bad input, plus one good image.
struct BadInputs {
    dir: PathBuf,
}

impl BadInputs {
    fn new(test: &str) -> BadInputs {
        let dir = std::env::temp_dir().join(format!("sightline-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let good = std::fs::read(shared().join("images/photos/coffee.png")).unwrap();
        let write = |name: &str, bytes: &[u8]| std::fs::File::create(dir.join(name)).unwrap().write_all(bytes).unwrap();
        write("a-good.png", &good);
        write("corrupt.png", &good[..good.len() / 3]);
        write("empty.jpg", b"");
        write("notes.png", b"this is a text file, not an image\n");
        // 21 MB: over Azure's 20 MB limit, refused before decoding.
        let mut oversize = good.clone();
        oversize.resize(21 * 1024 * 1024, 0);
        write("oversize.png", &oversize);
        write("bomb.png", include_bytes!("data/bomb-60000x60000.png"));
        BadInputs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

impl Drop for BadInputs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn embeds_the_shared_photos_like_onnxruntime() {
    let photos = shared().join("images/photos");
    let paths: Vec<String> = ["astronaut.png", "chelsea.png", "coffee.png"]
        .iter()
        .map(|p| photos.join(p).display().to_string())
        .collect();
    let model = model_dir().display().to_string();
    let mut args = vec!["embed"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(["--model", &model, "--json"]);
    let out = sightline(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("SYNTHETIC"), "a test model is announced as such");
    let results = stdout_json(&out);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 3);
    for (result, path) in results.iter().zip(&paths) {
        let name = Path::new(path).file_stem().unwrap().to_str().unwrap();
        assert_eq!(result["file"], path.as_str());
        let cos = cosine(&vector(&result["embedding"]), &golden_embedding(name));
        assert!(cos >= 0.9999, "{name}: cosine {cos}");
    }
    assert_eq!(results[0]["width"], 512);
    assert_eq!(results[0]["height"], 512);

    // --f32-weights dequantises the weights at load (the default runs the int8 graph): near
    // onnxruntime's int8 numbers by a different path, so the vectors must differ slightly.
    args.push("--f32-weights");
    let out = sightline(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    let f32_weights = stdout_json(&out);
    for ((f32_weights, default), path) in f32_weights.as_array().unwrap().iter().zip(results).zip(&paths) {
        let name = Path::new(path).file_stem().unwrap().to_str().unwrap();
        let (a, b) = (vector(&f32_weights["embedding"]), vector(&default["embedding"]));
        assert!(cosine(&a, &golden_embedding(name)) >= 0.9998, "{name} --f32-weights");
        assert!(a != b, "{name}: --f32-weights gave the default path's vector");
    }
}

#[test]
fn bad_files_fail_alone_with_one_line_each() {
    let inputs = BadInputs::new("bad");
    let names = ["a-good.png", "corrupt.png", "empty.jpg", "notes.png", "oversize.png", "bomb.png"];
    let paths: Vec<String> = names.iter().map(|n| inputs.path(n)).collect();
    let model = model_dir().display().to_string();
    let mut args = vec!["embed"];
    args.extend(paths.iter().map(String::as_str));
    args.extend(["--model", &model, "--json"]);
    let out = sightline(&args);
    assert_eq!(out.status.code(), Some(1), "non-zero exit when a file failed");
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");

    let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
    assert_eq!(error_lines.len(), 5, "one line per bad file:\n{err}");
    let expect = [
        ("corrupt.png", "InvalidImageFormat"),
        ("empty.jpg", "InvalidImageSize"),
        ("notes.png", "InvalidImageFormat"),
        ("oversize.png", "InvalidImageSize"),
        ("bomb.png", "InvalidImageDimension"),
    ];
    for (name, code) in expect {
        let line = error_lines.iter().find(|l| l.contains(name)).unwrap_or_else(|| panic!("no line for {name}:\n{err}"));
        assert!(line.ends_with(&format!("[{code}]")), "{line}");
    }
    assert!(err.contains("60000×60000"), "the bomb's declared size is named:\n{err}");

    let results = stdout_json(&out);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), names.len(), "every file has an entry, good or bad");
    let good = &results[0];
    assert!(good.get("error").is_none() && good["embedding"].as_array().unwrap().len() == 32, "{good}");
    for bad in &results[1..] {
        assert!(bad["error"]["code"].is_string() && bad["error"]["message"].is_string(), "{bad}");
    }
}

#[test]
fn directories_are_walked_and_images_classified() {
    let inputs = BadInputs::new("dir");
    std::fs::write(inputs.dir.join("README.txt"), "not an image: skipped by the walk").unwrap();
    let dir = inputs.dir.display().to_string();
    let model = model_dir();
    let out = sightline(&["classify", &dir, "--model", model.to_str().unwrap(), "--labels", "a cat, a dog ,coffee", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let results = stdout_json(&out);
    let results = results.as_array().unwrap();
    assert_eq!(results.len(), 6, "the six image-named files, not README.txt");
    let good = results.iter().find(|r| r["file"].as_str().unwrap().ends_with("a-good.png")).unwrap();
    let labels = good["labels"].as_array().unwrap();
    let names: Vec<&str> = labels.iter().map(|l| l["label"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3);
    for expected in ["a cat", "a dog", "coffee"] {
        assert!(names.contains(&expected), "labels are trimmed: {names:?}");
    }
    let confidences: Vec<f64> = labels.iter().map(|l| l["confidence"].as_f64().unwrap()).collect();
    assert!(confidences.windows(2).all(|w| w[0] >= w[1]), "sorted by confidence: {confidences:?}");
    assert!(confidences.iter().all(|c| (0.0..=1.0).contains(c)));
}

#[test]
fn text_embeddings_and_token_ids() {
    let model = model_dir();
    let model = model.to_str().unwrap();
    let out = sightline(&["tokenize", "This is a photo of a cat.", "--model", model, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout_json(&out);
    let ids: Vec<u64> = json["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
    let mut expected = vec![291, 269, 262, 266, 1304, 267, 262, 266, 2783, 1];
    expected.resize(64, 1);
    assert_eq!(ids, expected);

    let out = sightline(&["embed", "--text", "a photo of 2 cats", "--text", "a rocket", "--model", model, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout_json(&out);
    let texts = json.as_array().unwrap();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[1]["text"], "a rocket");
    let norm: f64 = vector(&texts[0]["embedding"]).iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
}

#[test]
fn a_missing_model_folder_explains_how_to_get_one() {
    let out = sightline(&["embed", "x.png", "--model", "/nonexistent/model"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("sightline.json") && err.contains("fetch-models"), "{err}");
}

#[path = "support/cer.rs"]
mod cer;

/// Issue #8's acceptance: `sightline analyze eurotext.tif --features read --json` prints the page's
/// text, offline, within 5% CER.
#[test]
fn analyze_reads_eurotext_offline() {
    let page = shared().join("images/ocr/eurotext.tif");
    // Exactly the command: no --model (reading text needs no SigLIP model).
    let out = sightline(&["analyze", page.to_str().unwrap(), "--features", "read", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result = stdout_json(&out);
    let content = result["readResult"]["content"].as_str().expect("readResult.content");
    let truth = std::fs::read_to_string(shared().join("images/ocr/eurotext.txt")).unwrap();
    let rate = cer::cer(content, &truth);
    println!("sightline analyze eurotext.tif --features read: CER {:.2}%", rate * 100.0);
    assert!(rate <= 0.05, "CER {rate}:\n{content}");
    let lines = result["readResult"]["blocks"][0]["lines"].as_array().unwrap();
    let first = lines[0]["text"].as_str().unwrap();
    assert!(first.starts_with("The") && first.ends_with("jumps!"), "reading order starts at the top: {first}");
}

/// The feature table decides what loads: reading text with a SigLIP model given loads only the
/// read models (the result's modelVersion names no SigLIP model, and the synthetic model's warning
/// is not printed).
#[test]
fn read_loads_no_siglip_model_even_when_one_is_given() {
    let page = shared().join("images/ocr/phototest.tif");
    let out = sightline(&["analyze", page.to_str().unwrap(), "--model", model_dir().to_str().unwrap(), "--features", "read", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result = stdout_json(&out);
    assert!(result["modelVersion"].as_str().unwrap().starts_with("sightline-"), "{result}");
    assert!(result["readResult"]["content"].as_str().unwrap().contains("quick brown dog"));
    assert!(!stderr(&out).contains("SYNTHETIC"), "{}", stderr(&out));
}

#[test]
fn read_without_the_ocr_models_says_how_to_install_them() {
    let page = shared().join("images/ocr/phototest.tif");
    let out = sightline(&[
        "analyze",
        page.to_str().unwrap(),
        "--model",
        model_dir().to_str().unwrap(),
        "--features",
        "read",
        "--read-model",
        "/nonexistent",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("[OcrModelNotLoaded]") && stderr(&out).contains("scripts/fetch-models ppocr-v5"), "{}", stderr(&out));
}
