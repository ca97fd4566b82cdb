//! `sightline`: the native command-line shell over the core (embed, classify, tokenize).
//!
//! Per-file failures print one line naming the file and the reason, the run goes on, and the exit
//! code is 1 if any file failed. Usage and model errors exit with 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use sightline::{ModelDescriptor, ModelFiles, SiglipModel, SightlineError};

#[derive(Parser)]
#[command(name = "sightline", version, about = "SigLIP image analysis: embeddings and zero-shot labels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed images (files or directories, walked) or, with --text, texts.
    Embed {
        /// Image files or directories.
        inputs: Vec<PathBuf>,
        /// Embed this text instead of images (repeatable).
        #[arg(long = "text", conflicts_with = "inputs")]
        texts: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Zero-shot probabilities of labels for images.
    Classify {
        inputs: Vec<PathBuf>,
        /// Comma-separated labels, e.g. "a cat,a dog,a rocket".
        #[arg(long, value_delimiter = ',', required = true)]
        labels: Vec<String>,
        #[command(flatten)]
        common: Common,
    },
    /// Print the token ids the text tower sees for a text.
    Tokenize {
        text: String,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct Common {
    /// Model folder holding sightline.json and the files it names (see scripts/fetch-models).
    #[arg(long, value_name = "DIR")]
    model: PathBuf,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// Image extensions picked up when walking a directory (files named explicitly are always tried).
const IMAGE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "jpe", "png", "webp", "gif", "bmp", "tif", "tiff"];

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("sightline: {message}");
            ExitCode::from(2)
        }
    }
}

/// Ok(all files succeeded); Err for failures that stop the whole run.
fn run(command: Command) -> Result<bool, String> {
    match command {
        Command::Embed { inputs, texts, common } => {
            let model = load_model(&common.model, !texts.is_empty())?;
            if texts.is_empty() {
                embed_images(&model, &inputs, common.json)
            } else {
                embed_texts(&model, &texts, common.json)
            }
        }
        Command::Classify { inputs, labels, common } => {
            let model = load_model(&common.model, true)?;
            classify(&model, &inputs, &labels, common.json)
        }
        Command::Tokenize { text, common } => {
            let model = load_model(&common.model, true)?;
            let ids = model.tokenize(&text).map_err(|e| e.to_string())?;
            if common.json {
                println!("{}", json!({ "text": text, "ids": ids }));
            } else {
                println!("{}", ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
            }
            Ok(true)
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Load the model a folder describes; the text side only when the command needs it.
fn load_model(dir: &Path, with_text: bool) -> Result<SiglipModel, String> {
    let descriptor_path = dir.join("sightline.json");
    let descriptor_bytes = read(&descriptor_path).map_err(|e| {
        format!("{e}\n  (fill the folder with scripts/fetch-models, e.g. `scripts/fetch-models siglip-test-tiny`)")
    })?;
    let descriptor = ModelDescriptor::from_json(&descriptor_bytes).map_err(|e| e.to_string())?;
    let vision = read(&dir.join(&descriptor.vision_model))?;
    let (text, tokenizer) = if with_text {
        let missing = || format!("model {} has no text tower, needed for this command", descriptor.name);
        let text_path = descriptor.text_model.as_ref().ok_or_else(missing)?;
        let tokenizer_path = descriptor.tokenizer.as_ref().ok_or_else(missing)?;
        (Some(read(&dir.join(text_path))?), Some(read(&dir.join(tokenizer_path))?))
    } else {
        (None, None)
    };
    let model = SiglipModel::load(ModelFiles {
        descriptor: &descriptor_bytes,
        vision_model: &vision,
        text_model: text.as_deref(),
        tokenizer: tokenizer.as_deref(),
    })
    .map_err(|e| format!("cannot load model from {}: {e}", dir.display()))?;
    if descriptor.synthetic {
        eprintln!(
            "sightline: warning: {} is a SYNTHETIC test model with random weights; its outputs are meaningless",
            descriptor.name
        );
    }
    Ok(model)
}

/// Expand directories (sorted, hidden entries skipped) into image files.
fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    if inputs.is_empty() {
        return Err("give at least one image file or directory".into());
    }
    let mut files = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            files.push(input.clone());
            continue;
        }
        let walker = walkdir::WalkDir::new(input).follow_links(true).sort_by_file_name();
        let visible = walker.into_iter().filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in visible {
            let entry = entry.map_err(|e| format!("cannot walk {}: {e}", input.display()))?;
            let is_image = entry.path().extension().and_then(|x| x.to_str()).is_some_and(|x| {
                IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str())
            });
            if entry.file_type().is_file() && is_image {
                files.push(entry.into_path());
            }
        }
    }
    Ok(files)
}

/// Run `work` on each file with a progress bar (shown for more than a few files on a terminal);
/// a failure prints one line and the run continues. Returns the per-file JSON and success.
fn for_each_image(
    inputs: &[PathBuf],
    mut work: impl FnMut(&[u8]) -> Result<Value, SightlineError>,
) -> Result<(Vec<Value>, bool), String> {
    let files = collect_inputs(inputs)?;
    let progress = if files.len() > 3 { ProgressBar::new(files.len() as u64) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed} eta {eta} {msg}")
            .expect("static template is valid"),
    );
    let mut results = Vec::with_capacity(files.len());
    let mut all_ok = true;
    for file in &files {
        progress.set_message(file.display().to_string());
        let name = file.display().to_string();
        let outcome = std::fs::read(file)
            .map_err(|e| (String::from("ReadError"), format!("cannot read: {e}")))
            .and_then(|bytes| work(&bytes).map_err(|e| (e.code().to_string(), e.to_string())));
        match outcome {
            Ok(mut value) => {
                value["file"] = json!(name);
                results.push(value);
            }
            Err((code, message)) => {
                all_ok = false;
                progress.suspend(|| eprintln!("error: {name}: {message} [{code}]"));
                results.push(json!({ "file": name, "error": { "code": code, "message": message } }));
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok((results, all_ok))
}

fn short_vector(v: &[f32]) -> String {
    let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:+.4}")).collect();
    format!("[{}, …] ({} dims)", head.join(", "), v.len())
}

fn embed_images(model: &SiglipModel, inputs: &[PathBuf], as_json: bool) -> Result<bool, String> {
    let (results, ok) = for_each_image(inputs, |bytes| {
        let e = model.embed_image(bytes)?;
        Ok(json!({ "width": e.width, "height": e.height, "embedding": e.embedding }))
    })?;
    if as_json {
        println!("{}", Value::Array(results));
    } else {
        for r in results.iter().filter(|r| r.get("error").is_none()) {
            let v: Vec<f32> = serde_json::from_value(r["embedding"].clone()).unwrap_or_default();
            println!("{}: {}×{} {}", r["file"].as_str().unwrap_or(""), r["width"], r["height"], short_vector(&v));
        }
    }
    Ok(ok)
}

fn embed_texts(model: &SiglipModel, texts: &[String], as_json: bool) -> Result<bool, String> {
    let embeddings = model.embed_texts(texts).map_err(|e| e.to_string())?;
    if as_json {
        let out: Vec<Value> =
            texts.iter().zip(&embeddings).map(|(t, e)| json!({ "text": t, "embedding": e })).collect();
        println!("{}", Value::Array(out));
    } else {
        for (t, e) in texts.iter().zip(&embeddings) {
            println!("{t:?}: {}", short_vector(e));
        }
    }
    Ok(true)
}

fn classify(model: &SiglipModel, inputs: &[PathBuf], labels: &[String], as_json: bool) -> Result<bool, String> {
    // The label prompts are embedded once for the whole run, not once per image.
    let label_embeddings = model.embed_labels(labels).map_err(|e| e.to_string())?;
    let (results, ok) = for_each_image(inputs, |bytes| {
        let image = model.embed_image(bytes)?;
        let mut scores = model.score_labels(&image.embedding, labels, &label_embeddings);
        scores.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        Ok(json!({ "width": image.width, "height": image.height, "labels": scores }))
    })?;
    if as_json {
        println!("{}", Value::Array(results));
    } else {
        for r in results.iter().filter(|r| r.get("error").is_none()) {
            println!("{}:", r["file"].as_str().unwrap_or(""));
            for s in r["labels"].as_array().into_iter().flatten() {
                let confidence = s["confidence"].as_f64().unwrap_or(0.0);
                println!("  {:>7.3}%  {}", confidence * 100.0, s["label"].as_str().unwrap_or(""));
            }
        }
    }
    Ok(ok)
}
