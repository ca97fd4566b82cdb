//! `sightline`: the native command-line shell over the core (embed, classify, analyze, tokenize,
//! and `serve`, Azure's REST API over HTTP: serve.rs).
//!
//! Per-file failures print one line naming the file and the reason, the run goes on, and the exit
//! code is 1 if any file failed. Usage and model errors exit with 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

use sightline::analyze::{Backend, CaptionBackend};
use sightline::azure::ErrorResponse;
use sightline::read::OcrEngine;
use sightline::remote::native::NativeHttpClient;
use sightline::remote::config::CAPTION_KEY_ENV;
use sightline::remote::{CaptionServiceConfig, FaceServiceConfig, ReadServiceConfig, RemoteConfig, RetryPolicy};
mod serve;

use sightline::{read_image_file, AnalyzeOptions, Analyzer, PeopleDetector, LoadOptions, Part, SiglipModel, SightlineError, TagIndex};

/// `println!` that ends the run quietly when stdout is closed (`sightline … | head`), as Unix
/// tools do, instead of panicking on the broken pipe.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = writeln!(std::io::stdout().lock(), $($arg)*) {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("sightline: cannot write the output: {error}");
            std::process::exit(2);
        }
    }};
}

#[derive(Parser)]
#[command(name = "sightline", version, about = "SigLIP image analysis: embeddings and zero-shot labels")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run quantised SigLIP models with f32 weights dequantised once at load instead of the int8
    /// graph as stored (the default: onnxruntime's arithmetic, faster, 4× less weight memory).
    #[arg(long = "f32-weights", global = true)]
    f32_weights: bool,
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
    /// Azure Image Analysis 4.0-shaped analysis of one image.
    Analyze {
        image: PathBuf,
        /// Comma-separated Azure feature names: tags, smartCrops, people, read, caption,
        /// denseCaptions, objects (4.0; the last three with --caption-endpoint); color, imageType,
        /// adult, categories (3.2).
        #[arg(long, value_delimiter = ',', required = true)]
        features: Vec<String>,
        /// Comma-separated aspect ratios (width/height) between 0.75 and 1.8.
        #[arg(long = "smartcrops-aspect-ratios", value_delimiter = ',')]
        smartcrops_aspect_ratios: Vec<f32>,
        /// Zero-shot labels scored alongside the tags (comma-separated).
        #[arg(long, value_delimiter = ',')]
        labels: Vec<String>,
        #[arg(long, default_value = "en")]
        language: String,
        #[arg(long = "model-version", default_value = "latest")]
        model_version: String,
        /// Smallest tag confidence reported (0..1).
        #[arg(long = "tag-threshold")]
        tag_threshold: Option<f32>,
        #[arg(long = "max-tags")]
        max_tags: Option<usize>,
        /// Captions say person, people or child rather than man, woman, boy or girl (Azure's
        /// gender-neutral-caption).
        #[arg(long = "gender-neutral-caption")]
        gender_neutral_caption: bool,
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(flatten)]
        parts: PartArgs,
        /// Print JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Answer Azure AI Vision's REST API over HTTP (Image Analysis 4.0 `imageanalysis:analyze`,
    /// `retrieval:vectorizeImage` and `vectorizeText`): point Azure's SDKs at this endpoint.
    Serve {
        /// Address to listen on (port 0: any free port, printed on start).
        #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDRESS:PORT")]
        listen: String,
        /// Require this key in `Ocp-Apim-Subscription-Key`, as Azure does [default: $SIGHTLINE_SERVE_KEY; none: no check].
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Let `{"url": ...}` bodies name loopback, private and link-local addresses (refused by
        /// default: a caller must not reach this machine's own network through the server).
        #[arg(long = "allow-private-urls")]
        allow_private_urls: bool,
        /// Analyses at once [default: the number of cores].
        #[arg(long, value_name = "N")]
        workers: Option<usize>,
        /// Requests that may wait for a worker; more get 429 with Retry-After [default: 4 per worker].
        #[arg(long, value_name = "N")]
        queue: Option<usize>,
        #[command(flatten)]
        parts: PartArgs,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Precompute the tag vocabulary's text embeddings for a model (run once per model).
    BuildTags {
        /// The vocabulary: tag names and sources.
        #[arg(long, default_value = "data/tags/en.json", value_name = "FILE")]
        vocabulary: PathBuf,
        /// Where to write the tags file (default: MODEL/tags-en.sltags).
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long, value_name = "DIR")]
        model: PathBuf,
    },
    /// Print the token ids the text tower sees for a text.
    Tokenize {
        text: String,
        #[command(flatten)]
        common: Common,
    },
}

/// Azure services for `read` (Document Intelligence) and `people` (Face API). Keys are read from
/// the environment when not given, so they stay out of shell history and process lists.
#[derive(Args)]
struct RemoteArgs {
    /// Document Intelligence endpoint, e.g. https://NAME.cognitiveservices.azure.com; read then
    /// runs there (unless --read-backend local).
    #[arg(long = "read-endpoint", value_name = "URL")]
    read_endpoint: Option<String>,
    /// Document Intelligence key [default: $SIGHTLINE_READ_KEY].
    #[arg(long = "read-key", value_name = "KEY")]
    read_key: Option<String>,
    /// Read API version: 2024-11-30 (v4.0) or 2023-07-31 (v3.1, the /formrecognizer path).
    #[arg(long = "read-api-version", default_value = "2024-11-30", value_name = "VERSION")]
    read_api_version: String,
    /// Where read runs: auto (Azure when an endpoint is given), local or azure.
    #[arg(long = "read-backend", value_name = "BACKEND")]
    read_backend: Option<String>,
    /// Face API endpoint; people then runs there (unless --people-backend local).
    #[arg(long = "face-endpoint", value_name = "URL")]
    face_endpoint: Option<String>,
    /// Face API key [default: $SIGHTLINE_FACE_KEY].
    #[arg(long = "face-key", value_name = "KEY")]
    face_key: Option<String>,
    /// Ask the Face API for its 27 landmarks (in `faces[].faceLandmarks`).
    #[arg(long = "face-landmarks")]
    face_landmarks: bool,
    /// Face API attributes, comma-separated: headPose, mask, blur, qualityForRecognition.
    #[arg(long = "face-attributes", value_delimiter = ',', value_name = "NAMES")]
    face_attributes: Vec<String>,
    /// Where people runs: auto (Azure when an endpoint is given), local or azure.
    #[arg(long = "people-backend", value_name = "BACKEND")]
    people_backend: Option<String>,
    /// A vision-language model's endpoint for caption, denseCaptions and objects: Azure OpenAI
    /// (https://NAME.openai.azure.com) or OpenAI-compatible (https://api.openai.com, a local
    /// llama.cpp, Ollama or vLLM server such as http://localhost:11434).
    #[arg(long = "caption-endpoint", value_name = "URL")]
    caption_endpoint: Option<String>,
    /// Its key [default: $SIGHTLINE_CAPTION_KEY]; an OpenAI-compatible server may take none.
    #[arg(long = "caption-key", value_name = "KEY")]
    caption_key: Option<String>,
    /// The Azure OpenAI deployment's name (taken from the endpoint when it is the whole
    /// `…/openai/deployments/NAME/chat/completions?api-version=…` URL), or the model's name on an
    /// OpenAI-compatible server.
    #[arg(long = "caption-model", value_name = "NAME")]
    caption_model: Option<String>,
    /// The endpoint's API: auto (Azure OpenAI for Azure hosts, else OpenAI-compatible),
    /// azure-openai or openai-compatible.
    #[arg(long = "caption-api", default_value = "auto", value_name = "API")]
    caption_api: String,
    /// Azure OpenAI's api-version.
    #[arg(long = "caption-api-version", value_name = "VERSION")]
    caption_api_version: Option<String>,
    /// The API caption and denseCaptions must use: auto, azure-openai or openai-compatible.
    #[arg(long = "caption-backend", value_name = "BACKEND")]
    caption_backend: Option<String>,
    /// The API objects must use: auto, azure-openai or openai-compatible.
    #[arg(long = "objects-backend", value_name = "BACKEND")]
    objects_backend: Option<String>,
    /// Give up on a remote feature after this many seconds (retries and polling included).
    #[arg(long = "remote-timeout", default_value_t = 120.0, value_name = "SECONDS")]
    remote_timeout: f64,
    /// Take plain http:// endpoints on other hosts than this one (a proxy you run yourself); the
    /// key then travels unencrypted. Loopback endpoints need no flag.
    #[arg(long = "allow-http")]
    allow_http: bool,
}

/// Environment variables the keys are taken from when the flags are absent.
const READ_KEY_ENV: &str = "SIGHTLINE_READ_KEY";
const FACE_KEY_ENV: &str = "SIGHTLINE_FACE_KEY";

impl RemoteArgs {
    /// The key from `--{name}-key`, else from `env`.
    fn key(flag: &Option<String>, env: &str, service: &str, name: &str) -> Result<String, SightlineError> {
        flag.clone().or_else(|| std::env::var(env).ok()).filter(|k| !k.trim().is_empty()).ok_or_else(|| {
            SightlineError::InvalidArgument { reason: format!("--{name}-endpoint needs the {service} key: pass --{name}-key or set {env}") }
        })
    }

    fn backend(name: &Option<String>, flag: &str) -> Result<Option<Backend>, SightlineError> {
        name.as_deref()
            .map(|n| match n.to_ascii_lowercase().as_str() {
                "auto" => Ok(Backend::Auto),
                "local" => Ok(Backend::Local),
                "azure" => Ok(Backend::Azure),
                other => Err(SightlineError::InvalidArgument { reason: format!("{flag} '{other}': use auto, local or azure") }),
            })
            .transpose()
    }

    fn caption_backend(name: &Option<String>, flag: &str) -> Result<Option<CaptionBackend>, SightlineError> {
        name.as_deref()
            .map(|n| {
                CaptionBackend::parse(n).ok_or_else(|| SightlineError::InvalidArgument {
                    reason: format!("{flag} '{n}': use auto, azure-openai or openai-compatible"),
                })
            })
            .transpose()
    }

    fn config(&self) -> Result<RemoteConfig, SightlineError> {
        let read = match &self.read_endpoint {
            Some(endpoint) => {
                let key = Self::key(&self.read_key, READ_KEY_ENV, "Document Intelligence", "read")?;
                Some(ReadServiceConfig::new(endpoint, &key, Some(&self.read_api_version), self.allow_http)?)
            }
            None => None,
        };
        let face = match &self.face_endpoint {
            Some(endpoint) => {
                let key = Self::key(&self.face_key, FACE_KEY_ENV, "Face API", "face")?;
                Some(FaceServiceConfig::new(endpoint, &key, self.face_landmarks, &self.face_attributes, self.allow_http)?)
            }
            None => None,
        };
        let caption = match &self.caption_endpoint {
            Some(endpoint) => {
                let key = self.caption_key.clone().or_else(|| std::env::var(CAPTION_KEY_ENV).ok()).unwrap_or_default();
                // The model may come from the endpoint (a portal's whole URL names the deployment).
                let model = self.caption_model.as_deref().unwrap_or("");
                let api = Some(self.caption_api.as_str());
                Some(CaptionServiceConfig::new(endpoint, &key, model, api, self.caption_api_version.as_deref(), self.allow_http)?)
            }
            None => None,
        };
        Ok(RemoteConfig { read, face, caption, policy: RetryPolicy::with_total_timeout(self.remote_timeout)? })
    }
}

/// Where `analyze` and `serve` find each part of an analysis (the feature table's parts).
#[derive(Args)]
struct PartArgs {
    /// Model folder (default: models/siglip-base-patch16-224, the manifest's default). Not
    /// needed when only people, read or color are asked for and none is installed.
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Tags file built for this model (default: MODEL/tags-en.sltags).
    #[arg(long, value_name = "FILE")]
    tags: Option<PathBuf>,
    /// The people detector (YuNet), for people and face-aware smart crops
    /// (default: yunet/face_detection_yunet_2026may.onnx beside the model folder).
    #[arg(long = "people-model", alias = "face-model", value_name = "FILE")]
    people_model: Option<PathBuf>,
    /// The read models' folder (PP-OCRv5), for local read (default: ppocr-v5 beside the model
    /// folder, filled by `scripts/fetch-models ppocr-v5`).
    #[arg(long = "read-model", alias = "ocr-model", value_name = "DIR")]
    read_model: Option<PathBuf>,
}

impl PartArgs {
    /// The SigLIP model folder and the other parts' paths, defaults filled in.
    fn paths(self) -> (PathBuf, AnalyzePaths) {
        let model_dir = self.model.unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL_DIR));
        let paths = AnalyzePaths {
            tags: self.tags.unwrap_or_else(|| model_dir.join(TAGS_FILE)),
            people_model: self.people_model.unwrap_or_else(|| sibling(&model_dir, "yunet").join(FACE_MODEL_FILE)),
            read_model: self.read_model.unwrap_or_else(|| sibling(&model_dir, "ppocr-v5")),
        };
        (model_dir, paths)
    }
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

/// Another model folder beside `model_dir` (fetch-models puts them all in one folder). Not
/// `model_dir/../name`: that path does not resolve when `model_dir` does not exist.
fn sibling(model_dir: &Path, name: &str) -> PathBuf {
    match model_dir.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && model_dir.file_name().is_some() => parent.join(name),
        _ => model_dir.join("..").join(name),
    }
}

/// The model `analyze` uses without --model: the manifest's default, where fetch-models puts it.
const DEFAULT_MODEL_DIR: &str = "models/siglip-base-patch16-224";
/// Where `build-tags` writes, and `analyze` looks for, a model's tags file.
const TAGS_FILE: &str = "tags-en.sltags";
/// The YuNet file `scripts/fetch-models yunet` installs.
const FACE_MODEL_FILE: &str = "face_detection_yunet_2026may.onnx";

/// The optional parts `analyze` loads when a feature needs them.
struct AnalyzePaths {
    tags: PathBuf,
    people_model: PathBuf,
    read_model: PathBuf,
}

/// Image extensions picked up when walking a directory (files named explicitly are always tried).
const IMAGE_EXTENSIONS: [&str; 9] = ["jpg", "jpeg", "jpe", "png", "webp", "gif", "bmp", "tif", "tiff"];

fn main() -> ExitCode {
    let cli = Cli::parse();
    let models = Models { dequantize_weights: cli.f32_weights.then_some(true) };
    match run(cli.command, models) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("sightline: {message}");
            ExitCode::from(2)
        }
    }
}

/// Ok(all files succeeded); Err for failures that stop the whole run.
fn run(command: Command, models: Models) -> Result<bool, String> {
    match command {
        Command::Embed { inputs, texts, common } => {
            let model = models.load(&common.model, !texts.is_empty())?;
            if texts.is_empty() {
                embed_images(&model, &inputs, common.json)
            } else {
                embed_texts(&model, &texts, common.json)
            }
        }
        Command::Classify { inputs, labels, common } => {
            let model = models.load(&common.model, true)?;
            classify(&model, &inputs, &labels, common.json)
        }
        Command::Analyze {
            image,
            features,
            smartcrops_aspect_ratios,
            labels,
            language,
            model_version,
            tag_threshold,
            max_tags,
            gender_neutral_caption,
            remote,
            parts,
            json,
        } => {
            let options = AnalyzeOptions {
                features,
                language: Some(language),
                smartcrops_aspect_ratios: Some(smartcrops_aspect_ratios),
                model_version: Some(model_version),
                labels: (!labels.is_empty()).then_some(labels),
                tag_threshold,
                max_tags,
                include_embedding: None,
                read_backend: RemoteArgs::backend(&remote.read_backend, "--read-backend").map_err(|e| e.to_string())?,
                people_backend: RemoteArgs::backend(&remote.people_backend, "--people-backend").map_err(|e| e.to_string())?,
                caption_backend: RemoteArgs::caption_backend(&remote.caption_backend, "--caption-backend").map_err(|e| e.to_string())?,
                objects_backend: RemoteArgs::caption_backend(&remote.objects_backend, "--objects-backend").map_err(|e| e.to_string())?,
                gender_neutral_caption: gender_neutral_caption.then_some(true),
                ..Default::default()
            };
            let services = remote.config().map_err(|e| format!("{e} [{}]", e.code()))?;
            let (model_dir, paths) = parts.paths();
            // SigLIP loads only when the request needs it (the feature table): reading text, finding
            // people or colours never waits for it.
            let needs_siglip = options.parts(services.available()).required.contains(&Part::Siglip);
            let model_dir = needs_siglip.then_some(model_dir.as_path());
            analyze_image(models, model_dir, &paths, &image, &options, services, json)
        }
        Command::Serve { listen, key, allow_private_urls, workers, queue, parts, remote } => {
            let services = remote.config().map_err(|e| format!("{e} [{}]", e.code()))?;
            let (model_dir, paths) = parts.paths();
            let analyzer = serving_analyzer(models, &model_dir, &paths, services)?;
            let workers = workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)).max(1);
            let key = key.or_else(|| std::env::var(SERVE_KEY_ENV).ok()).filter(|k| !k.trim().is_empty());
            if key.is_none() && !listen.starts_with("127.") && !listen.starts_with("localhost") && !listen.starts_with("[::1]") {
                eprintln!("sightline: warning: no --key: anyone who can reach {listen} can use this server");
            }
            let queue = queue.unwrap_or(workers * 4);
            serve::serve(serve::ServeConfig { analyzer, listen, key, allow_private_urls, workers, queue })?;
            Ok(true)
        }
        Command::BuildTags { vocabulary, output, model } => {
            let output = output.unwrap_or_else(|| model.join(TAGS_FILE));
            build_tags(models, &model, &vocabulary, &output)
        }
        Command::Tokenize { text, common } => {
            let model = models.load(&common.model, true)?;
            let ids = model.tokenize(&text).map_err(|e| e.to_string())?;
            if common.json {
                out!("{}", json!({ "text": text, "ids": ids }));
            } else {
                out!("{}", ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
            }
            Ok(true)
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// How this run loads SigLIP model folders (`--f32-weights`).
#[derive(Debug, Clone, Copy)]
struct Models {
    dequantize_weights: Option<bool>,
}

impl Models {
    /// Load the model a folder describes; the text side only when the command needs it.
    fn load(self, dir: &Path, text: bool) -> Result<SiglipModel, String> {
        let options = LoadOptions { text, dequantize_weights: self.dequantize_weights };
        let model = SiglipModel::load_dir(dir, options).map_err(|e| match e {
            SightlineError::FileUnreadable { .. } if !dir.join("sightline.json").exists() => format!(
                "{e}\n  (fill the folder with scripts/fetch-models, e.g. `scripts/fetch-models siglip-test-tiny`)"
            ),
            e => format!("cannot load model from {}: {e}", dir.display()),
        })?;
        if model.descriptor().synthetic {
            eprintln!(
                "sightline: warning: {} is a SYNTHETIC test model with random weights; its outputs are meaningless",
                model.descriptor().name
            );
        }
        Ok(model)
    }
}

/// Expand directories (sorted, hidden entries skipped) into image files: each as its name and
/// its path, or why it cannot be listed (a dangling link, a folder without permission), which
/// is reported like a file that fails, and the walk goes on.
fn collect_inputs(inputs: &[PathBuf]) -> Result<Vec<(String, Result<PathBuf, String>)>, String> {
    if inputs.is_empty() {
        return Err("give at least one image file or directory".into());
    }
    let mut files = Vec::new();
    for input in inputs {
        if !input.is_dir() {
            files.push((input.display().to_string(), Ok(input.clone())));
            continue;
        }
        let walker = walkdir::WalkDir::new(input).follow_links(true).sort_by_file_name();
        let visible = walker.into_iter().filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
        for entry in visible {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    let name = error.path().unwrap_or(input).display().to_string();
                    let reason = match error.io_error() {
                        Some(io) if io.kind() == std::io::ErrorKind::NotFound => "a link to nothing (dangling symbolic link)".to_string(),
                        Some(io) => format!("cannot list it: {io}"),
                        None => format!("cannot list it: {error}"),
                    };
                    files.push((name, Err(reason)));
                    continue;
                }
            };
            let is_image = entry.path().extension().and_then(|x| x.to_str()).is_some_and(|x| {
                IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str())
            });
            if entry.file_type().is_file() && is_image {
                files.push((entry.path().display().to_string(), Ok(entry.into_path())));
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
    for (name, file) in &files {
        progress.set_message(name.clone());
        let name = name.clone();
        let outcome = match file {
            Ok(path) => read_image_file(path).and_then(|bytes| work(&bytes)).map_err(|e| (e.code().to_string(), e.to_string())),
            Err(reason) => Err((String::from("FileUnreadable"), reason.clone())),
        };
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
        out!("{}", Value::Array(results));
    } else {
        for r in results.iter().filter(|r| r.get("error").is_none()) {
            let v: Vec<f32> = serde_json::from_value(r["embedding"].clone()).unwrap_or_default();
            out!("{}: {}×{} {}", r["file"].as_str().unwrap_or(""), r["width"], r["height"], short_vector(&v));
        }
    }
    Ok(ok)
}

fn embed_texts(model: &SiglipModel, texts: &[String], as_json: bool) -> Result<bool, String> {
    let embeddings = model.embed_texts(texts).map_err(|e| e.to_string())?;
    if as_json {
        let out: Vec<Value> =
            texts.iter().zip(&embeddings).map(|(t, e)| json!({ "text": t, "embedding": e })).collect();
        out!("{}", Value::Array(out));
    } else {
        for (t, e) in texts.iter().zip(&embeddings) {
            out!("{t:?}: {}", short_vector(e));
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
        out!("{}", Value::Array(results));
    } else {
        for r in results.iter().filter(|r| r.get("error").is_none()) {
            out!("{}:", r["file"].as_str().unwrap_or(""));
            for s in r["labels"].as_array().into_iter().flatten() {
                let confidence = s["confidence"].as_f64().unwrap_or(0.0);
                out!("  {:>7.3}%  {}", confidence * 100.0, s["label"].as_str().unwrap_or(""));
            }
        }
    }
    Ok(ok)
}

/// Analyse one image; errors print Azure's JSON error body (with --json) and exit 1.
fn analyze_image(
    models: Models,
    model_dir: Option<&Path>,
    paths: &AnalyzePaths,
    image: &Path,
    options: &AnalyzeOptions,
    services: RemoteConfig,
    as_json: bool,
) -> Result<bool, String> {
    let wants_labels = options.labels.as_ref().is_some_and(|l| !l.is_empty());
    let mut analyzer = Analyzer::new().with_services(services);
    if let Some(dir) = model_dir {
        analyzer.set_siglip(models.load(dir, wants_labels)?);
    }
    let outcome = (|| {
        // What the feature table says this request needs, from the paths given or the defaults.
        // A required part that is missing is reported by the analysis with its typed error; a
        // helpful one (the people detector for smart crops) is skipped.
        let needed = analyzer.parts_for(options);
        for part in needed.required.iter().chain(&needed.helpful) {
            match part {
                Part::Siglip => {}
                Part::Tags => match std::fs::read(&paths.tags) {
                    Ok(bytes) => {
                        analyzer.load_tags(&bytes)?;
                    }
                    Err(_) => return Err(SightlineError::TagsNotLoaded),
                },
                Part::People => {
                    if let Ok(bytes) = std::fs::read(&paths.people_model) {
                        analyzer.set_people(PeopleDetector::load(&bytes)?);
                    }
                }
                Part::Read => analyzer.set_read(OcrEngine::load_dir(&paths.read_model)?),
            }
        }
        let bytes = read_image_file(image)?;
        // The remote clients' futures complete as their blocking requests do: no runtime needed.
        pollster::block_on(analyzer.analyze_with_services(&bytes, options, &NativeHttpClient::new()))
    })();
    match outcome {
        Ok(result) => {
            if as_json {
                out!("{}", serde_json::to_string_pretty(&result).expect("results serialise"));
            } else {
                print_analysis(&result);
            }
            // The other features' results stand; each failed one is one line and exit code 1.
            for failed in result.feature_errors.iter().flatten() {
                eprintln!("error: {}: {}: {} [{}]", image.display(), failed.feature, failed.error.message, failed.error.innererror.code);
            }
            Ok(result.feature_errors.is_none())
        }
        Err(error) => {
            if as_json {
                out!("{}", serde_json::to_string_pretty(&ErrorResponse::from(&error)).expect("errors serialise"));
            }
            eprintln!("error: {}: {error} [{}]", image.display(), error.code());
            match error {
                SightlineError::TagsNotLoaded => eprintln!(
                    "  (looked for {}; build it with `sightline build-tags --model {}`)",
                    paths.tags.display(),
                    model_dir.unwrap_or(Path::new("MODEL")).display()
                ),
                SightlineError::FaceModelNotLoaded => eprintln!(
                    "  (looked for {}; pass --people-model FILE or run `scripts/fetch-models yunet`)",
                    paths.people_model.display()
                ),
                SightlineError::OcrModelNotLoaded => eprintln!(
                    "  (looked in {}; pass --read-model DIR or run `scripts/fetch-models ppocr-v5`)",
                    paths.read_model.display()
                ),
                _ => {}
            }
            Ok(false)
        }
    }
}

/// The key `serve` takes from the environment when --key is absent (out of process lists).
const SERVE_KEY_ENV: &str = "SIGHTLINE_SERVE_KEY";

/// Everything `serve` can answer with, loaded once before it listens: SigLIP with its text side
/// (for vectorizeText) is required; the tags file, people detector and read models load when
/// their files are there, and each one missing is said once (requests that need it get 400).
fn serving_analyzer(models: Models, model_dir: &Path, paths: &AnalyzePaths, services: RemoteConfig) -> Result<Analyzer, String> {
    let mut analyzer = Analyzer::new().with_services(services);
    analyzer.set_siglip(models.load(model_dir, true)?);
    let missing = |what: &str, path: &Path, hint: &str| eprintln!("sightline: {what}: not loaded ({} not found; {hint})", path.display());
    match std::fs::read(&paths.tags) {
        Ok(bytes) => {
            analyzer.load_tags(&bytes).map_err(|e| format!("{}: {e}", paths.tags.display()))?;
        }
        Err(_) => missing("tags", &paths.tags, "build it with `sightline build-tags`"),
    }
    match std::fs::read(&paths.people_model) {
        Ok(bytes) => analyzer.set_people(PeopleDetector::load(&bytes).map_err(|e| format!("{}: {e}", paths.people_model.display()))?),
        Err(_) => missing("people", &paths.people_model, "pass --people-model FILE or run `scripts/fetch-models yunet`"),
    }
    if paths.read_model.is_dir() {
        analyzer.set_read(OcrEngine::load_dir(&paths.read_model).map_err(|e| format!("{}: {e}", paths.read_model.display()))?);
    } else {
        missing("read", &paths.read_model, "pass --read-model DIR or run `scripts/fetch-models ppocr-v5`");
    }
    let loaded: Vec<&str> = analyzer.loaded().iter().map(|p| p.name()).collect();
    eprintln!("sightline: loaded {}", loaded.join(", "));
    Ok(analyzer)
}

fn print_analysis(result: &sightline::ImageAnalysisResult) {
    out!("{}×{} ({})", result.metadata.width, result.metadata.height, result.model_version);
    if let Some(caption) = &result.caption_result {
        out!("caption: {}{}", caption.text, percent(caption.confidence));
    }
    if let Some(dense) = &result.dense_captions_result {
        out!("dense captions:");
        for d in &dense.values {
            let b = d.bounding_box;
            out!("  {}{}  (x {} y {} w {} h {})", d.text, percent(d.confidence), b.x, b.y, b.w, b.h);
        }
    }
    if let Some(objects) = &result.objects_result {
        out!("objects: {}", objects.values.len());
        for o in &objects.values {
            let b = o.bounding_box;
            let names: Vec<String> = o.tags.iter().map(|t| format!("{}{}", t.name, percent(t.confidence))).collect();
            out!("  {}  (x {} y {} w {} h {})", names.join(", "), b.x, b.y, b.w, b.h);
        }
    }
    if let Some(tags) = &result.tags_result {
        out!("tags:");
        for t in &tags.values {
            out!("  {:>7.3}%  {}", t.confidence * 100.0, t.name);
        }
    }
    if let Some(labels) = &result.custom_labels_result {
        out!("labels:");
        for t in &labels.values {
            out!("  {:>7.3}%  {}", t.confidence * 100.0, t.name);
        }
    }
    if let Some(people) = &result.people_result {
        out!("people (by face): {}", people.values.len());
        for p in &people.values {
            let b = p.bounding_box;
            out!("  {:>6.1}%  x {} y {} w {} h {}", p.confidence * 100.0, b.x, b.y, b.w, b.h);
        }
    }
    if let Some(read) = &result.read_result {
        let lines: Vec<_> = read.blocks.iter().flat_map(|b| &b.lines).collect();
        out!("text ({} lines, {}):", lines.len(), read.backend.as_deref().unwrap_or("local"));
        for line in lines {
            out!("  {}", line.text);
        }
    }
    if let Some(crops) = &result.smart_crops_result {
        out!("smart crops:");
        for c in &crops.values {
            let b = c.bounding_box;
            out!("  {:.2}: x {} y {} w {} h {}", c.aspect_ratio, b.x, b.y, b.w, b.h);
        }
    }
}

/// " (93.1%)", or nothing for a confidence the model's server did not give.
fn percent(confidence: Option<f32>) -> String {
    confidence.map(|c| format!(" ({:.1}%)", c * 100.0)).unwrap_or_default()
}

fn build_tags(models: Models, model_dir: &Path, vocabulary: &Path, output: &Path) -> Result<bool, String> {
    let model = models.load(model_dir, true)?;
    let vocabulary_bytes = read(vocabulary).map_err(|e| format!("{e}\n  (pass --vocabulary FILE; the repository has data/tags/en.json)"))?;
    let progress = ProgressBar::new(0);
    progress.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} prompts {elapsed} eta {eta}").expect("static template is valid"),
    );
    let started = std::time::Instant::now();
    let index = TagIndex::build(&model, &vocabulary_bytes, |done, total| {
        progress.set_length(total as u64);
        progress.set_position(done as u64);
    })
    .map_err(|e| e.to_string())?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    std::fs::write(output, index.to_bytes()).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    eprintln!(
        "built {} tag embeddings for {} in {seconds:.1} s ({:.0} ms per 100 prompts) -> {}",
        index.len(),
        index.header().model,
        seconds * 1000.0 * 100.0 / index.len() as f64,
        output.display()
    );
    Ok(true)
}
