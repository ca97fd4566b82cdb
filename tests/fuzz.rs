//! The bounded fuzzing run of every test run: each target of fuzz/targets.rs gets its committed
//! regressions (fuzz/regressions/TARGET/, every crash ever found), its seeds, and then random
//! mutations of the seeds (bit flips, interesting values, cuts, splices, repeated and deleted
//! runs) for `SIGHTLINE_FUZZ_SECONDS` (default 12) each. A panic fails the test and leaves the
//! input in target/fuzz-crashes/TARGET/ to commit as a regression. For coverage-guided runs of
//! the same targets, `scripts/fuzz` (cargo-fuzz, nightly Rust).
#![cfg(not(target_arch = "wasm32"))]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sightline::{ModelFiles, SiglipModel, TagIndex};

#[path = "../fuzz/targets.rs"]
mod targets;
mod common;
use common::{model_dir, read, repo};
#[path = "support/rng.rs"]
mod rng;
use rng::Rng;

fn budget() -> Duration {
    let seconds = std::env::var("SIGHTLINE_FUZZ_SECONDS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(12.0);
    Duration::from_secs_f64(seconds)
}

fn tiny_model() -> &'static SiglipModel {
    static MODEL: OnceLock<SiglipModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let dir = model_dir();
        SiglipModel::load(ModelFiles {
            descriptor: &read(dir.join("sightline.json")),
            vision_model: &read(dir.join("onnx/vision_model_quantized.onnx")),
            text_model: Some(&read(dir.join("onnx/text_model_quantized.onnx"))),
            tokenizer: Some(&read(dir.join("tokenizer.json"))),
            ..Default::default()
        })
        .expect("the tiny test model loads (scripts/setup installs it)")
    })
}

/// The files in a folder, sorted (none when it does not exist).
fn files_in(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    paths.retain(|p| p.is_file());
    paths.sort();
    paths.iter().map(read).collect()
}

const INTERESTING: [u8; 10] = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x10, 0x40, 0xD9, 0xDA];

/// One to eight mutations of `input`, sometimes spliced with `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = data.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 1 => {
                // A 16-bit field (sizes, lengths) set to an extreme, in either byte order.
                let i = rng.below(len - 1);
                let value: u16 = [0, 1, 0x7FFF, 0xFFFF, 16_000, 16_001, 49][rng.below(7)];
                let bytes = if rng.below(2) == 0 { value.to_be_bytes() } else { value.to_le_bytes() };
                data[i..i + 2].copy_from_slice(&bytes);
            }
            3 if len > 0 => data.truncate(rng.below(len)),
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                data.drain(start..end);
            }
            5 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(256)).min(len);
                let run = data[start..end].to_vec();
                let at = rng.below(len);
                data.splice(at..at, run.iter().copied().cycle().take(run.len() * (1 + rng.below(4))));
            }
            6 if !other.is_empty() => {
                let cut = rng.below(data.len() + 1);
                let from = rng.below(other.len());
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => {
                let i = rng.below(len);
                data.insert(i, rng.next() as u8);
            }
            _ if len > 3 => {
                let i = rng.below(len - 3);
                data[i..i + 4].copy_from_slice(&(rng.next() as u32).to_le_bytes());
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data
}

/// Replay the regressions and seeds, then mutate for the time budget; a panic fails with the
/// input saved.
fn fuzz(target: &str, seeds: Vec<Vec<u8>>, run: impl Fn(&[u8])) {
    let regressions = files_in(&repo().join("fuzz/regressions").join(target));
    let attempt = |input: &[u8], what: &str| {
        if catch_unwind(AssertUnwindSafe(|| run(input))).is_err() {
            let dir = repo().join("target/fuzz-crashes").join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("crash-{:016x}", fnv1a(input)));
            std::fs::write(&path, input).unwrap();
            panic!("{target}: {what} panicked; input saved to {} (commit it to fuzz/regressions/{target}/)", path.display());
        }
    };
    for input in &regressions {
        attempt(input, "a committed regression");
    }
    assert!(!seeds.is_empty(), "{target} has seeds");
    for input in &seeds {
        attempt(input, "a seed");
    }
    let seed = std::env::var("SIGHTLINE_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    }) | 1;
    let mut rng = Rng(seed);
    let (started, mut runs) = (Instant::now(), 0u64);
    while started.elapsed() < budget() {
        let (a, b) = (rng.below(seeds.len()), rng.below(seeds.len()));
        let input = mutate(&mut rng, &seeds[a], &seeds[b]);
        attempt(&input, &format!("mutation {runs} (SIGHTLINE_FUZZ_SEED={seed})"));
        runs += 1;
    }
    println!("{target}: {} regressions, {} seeds, {runs} mutations in {:.1} s (seed {seed})", regressions.len(), seeds.len(), started.elapsed().as_secs_f64());
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Small images of every format and layout the decoders know (the golden inputs and the JPEG
/// variants), kept under 64 kB so mutations run fast.
fn image_seeds() -> Vec<Vec<u8>> {
    let mut seeds = files_in(&repo().join("tests/golden/inputs"));
    seeds.extend(files_in(&repo().join("tests/data/jpeg")));
    seeds.retain(|s| s.len() <= 64 * 1024 && !s.starts_with(b"{"));
    seeds
}

#[test]
fn fuzz_decode_image() {
    fuzz("decode_image", image_seeds(), targets::decode_image_target);
}

#[test]
fn fuzz_jpeg() {
    let jpegs = image_seeds().into_iter().filter(|s| s.starts_with(&[0xFF, 0xD8])).collect();
    fuzz("jpeg", jpegs, targets::jpeg_target);
}

#[test]
fn fuzz_remote_responses() {
    let seeds = files_in(&repo().join("fuzz/seeds/remote"));
    fuzz("remote_responses", seeds, targets::remote_responses_target);
}

#[test]
fn fuzz_caption_replies() {
    let seeds = files_in(&repo().join("fuzz/seeds/caption"));
    fuzz("caption_replies", seeds, targets::caption_replies_target);
}

#[test]
fn fuzz_descriptor() {
    fuzz("descriptor", vec![read(model_dir().join("sightline.json"))], targets::descriptor_target);
}

#[test]
fn fuzz_tags_file() {
    let model = tiny_model();
    let vocabulary = br#"{"language": "en", "tags": [{"name": "dog"}, {"name": "receipt"}, {"name": "sky"}]}"#;
    let index = TagIndex::build(model, vocabulary, |_, _| {}).unwrap();
    fuzz("tags_file", vec![index.to_bytes()], |data| targets::tags_file_target(model, data));
}

#[test]
fn fuzz_tokenizer() {
    let model = tiny_model();
    let mut seeds = vec![[&[0u8][..], &read(model_dir().join("tokenizer.json"))].concat()];
    for text in ["a photo of a dog", "Ünïcödé   spaces\tand\nnewlines", "日本語のテキスト 🙂", ""] {
        seeds.push([&[1u8][..], text.as_bytes()].concat());
    }
    fuzz("tokenizer", seeds, |data| targets::tokenizer_target(model, data));
}

#[test]
fn fuzz_vocabulary() {
    let seeds = vec![read(repo().join("data/tags/en.json"))];
    fuzz("vocabulary", seeds, targets::vocabulary_target);
}
