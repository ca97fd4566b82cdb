//! The fuzz targets: every reader of untrusted bytes, each as a function that must return
//! (an error is fine) and never panic, loop or allocate past its budget. Two harnesses drive
//! them: `cargo fuzz` (fuzz/fuzz_targets/, coverage-guided, nightly Rust; `scripts/fuzz`) and the
//! bounded run in every test run (tests/fuzz.rs, mutations of the seed corpora on stable Rust).
//! Crashes either finds are kept in fuzz/regressions/TARGET/ and replayed by tests/fuzz.rs.
#![allow(dead_code)] // each harness uses its own subset

use std::rc::Rc;

use sightline::azure::ImageMetadata;
use sightline::remote::document_intelligence::read_text;
use sightline::remote::face::detect_faces;
use sightline::remote::caption::{describe, CaptionRequest};
use sightline::remote::{CaptionServiceConfig, FaceServiceConfig, ReadServiceConfig, RetryPolicy};
use sightline::tags::Vocabulary;
use sightline::{decode_image, jpeg, ModelDescriptor, SiglipModel, TagIndex, TextTokenizer};

#[path = "../tests/support/scripted_http.rs"]
mod scripted_http;
use scripted_http::{answer, ScriptedHttp};

/// Every target, by the name its corpus and regression folders use.
pub const TARGETS: [&str; 8] =
    ["decode_image", "jpeg", "remote_responses", "caption_replies", "descriptor", "tags_file", "tokenizer", "vocabulary"];

/// Any image format `decode_image` takes: a result within Azure's limits, or a typed error. A
/// panic of the fallback JPEG decoder, which `decode_image` catches natively, counts as a crash:
/// in WebAssembly it would abort, so such inputs must be refused before that decoder runs.
pub fn decode_image_target(data: &[u8]) {
    match decode_image(data) {
        Ok(image) => {
            let (w, h) = (image.width(), image.height());
            assert!((50..=16_000).contains(&w) && (50..=16_000).contains(&h), "{w}×{h} passed the side check");
            assert_eq!(image.rgb.len(), w as usize * h as usize * 3);
        }
        Err(error) => assert!(!error.to_string().contains(sightline::decode::FALLBACK_PANICKED), "{error}"),
    }
}

/// The exact JPEG decoder alone, under a 64 MB allocation limit.
pub fn jpeg_target(data: &[u8]) {
    let info = jpeg::read_info(data);
    if let Ok(image) = jpeg::decode(data, 64 << 20) {
        assert_eq!(image.pixels.len(), image.width as usize * image.height as usize * image.channels);
        let info = info.expect("a file that decodes has readable headers");
        assert_eq!((info.width, info.height), (image.width, image.height));
    }
}

/// Document Intelligence's and the Face API's answers, as a hostile service would send them:
/// the first byte picks the exchange, the rest is the body (and the headers' values).
pub fn remote_responses_target(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(body).into_owned();
    let size = ImageMetadata { width: 640, height: 480 };
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let image: Rc<[u8]> = Rc::from(&b"image"[..]);
    let location = "https://fuzz.example/documentintelligence/documentModels/prebuilt-read/analyzeResults/1".to_string();
    let read = ReadServiceConfig::new("https://fuzz.example", "fuzz-key-0123456789", None, false).unwrap();
    let face = FaceServiceConfig::new("https://fuzz.example", "fuzz-key-0123456789", true, &["headPose".into()], false).unwrap();
    // The low bits pick the exchange; the high bit sends errors (kind 4) to the Face API instead.
    let kind = (selector & 0x7F) % 6;
    let status = |base: u16, span: u16| base + u16::from(body.first().copied().unwrap_or(0)) % span;
    let answers = match kind {
        // A poll's body, after a proper upload.
        0 => vec![answer(202, &[("Operation-Location", location.as_str())], ""), answer(200, &[], body)],
        // Two polls: still running (with the body as Retry-After), then the body.
        1 => vec![
            answer(202, &[("Operation-Location", location.as_str()), ("Retry-After", text.as_str())], ""),
            answer(200, &[("retry-after-ms", text.as_str())], r#"{"status": "running"}"#),
            answer(200, &[], body),
        ],
        // The upload's answer: any status, the body as its Operation-Location.
        2 => vec![answer(status(200, 256), &[("Operation-Location", text.as_str())], body)],
        // Detect's list of faces.
        3 => vec![answer(200, &[], body)],
        // An error body, with a status the first body byte picks.
        4 => vec![answer(status(300, 300), &[("Location", text.as_str())], body)],
        _ => vec![answer(429, &[("Retry-After", text.as_str())], body), answer(503, &[], body)],
    };
    let http = ScriptedHttp::new(answers);
    let outcome = if kind == 3 || (kind == 4 && selector & 0x80 != 0) {
        pollster::block_on(detect_faces(&http, &face, &policy, image, size)).map(|_| ())
    } else {
        pollster::block_on(read_text(&http, &read, &policy, image, "image/png", size)).map(|_| ())
    };
    if let Err(error) = outcome {
        assert!(error.is_remote() || error.code() == "InvalidRequest", "{error:?}");
        assert!(!error.to_string().contains("fuzz-key-0123456789"), "the key in an error: {error}");
    }
}

/// An 80×60 PNG: what `caption_replies_target` describes (sent at that size, so the reply's boxes
/// are scaled ×8 to the 640×480 the analysis says the image is).
const SMALL_PNG: [u8; 144] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 80, 0, 0, 0, 60,
    8, 2, 0, 0, 0, 126, 69, 170, 219, 0, 0, 0, 87, 73, 68, 65, 84, 120, 218, 237, 207, 129, 16, 0,
    0, 8, 4, 176, 135, 136, 36, 166, 252, 25, 50, 72, 160, 221, 77, 96, 153, 174, 87, 34, 44, 44, 44, 44,
    44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44,
    44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44, 44,
    44, 44, 124, 89, 169, 188, 116, 53, 236, 140, 207, 251, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// A vision-language model's answers, as a hostile server would send them: the first byte picks
/// the status of the first answer (a 400 may make the client ask again, and the same body answers
/// that), the API shape and the features asked for; the rest is the body.
pub fn caption_replies_target(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else { return };
    let status = [200, 400, 404, 429][usize::from(selector & 3)];
    let answers = vec![answer(status, &[("retry-after-ms", "1")], body), answer(200, &[], body), answer(200, &[], body)];
    let api = if selector & 0x80 != 0 { "azure-openai" } else { "openai-compatible" };
    let config = CaptionServiceConfig::new("https://fuzz.example", "fuzz-key-0123456789", "gpt-4o", Some(api), None, false).unwrap();
    let request = CaptionRequest {
        caption: selector & 0x04 == 0,
        dense_captions: selector & 0x08 == 0,
        objects: selector & 0x10 == 0,
        gender_neutral: selector & 0x20 != 0,
    };
    let size = ImageMetadata { width: 640, height: 480 };
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let http = ScriptedHttp::new(answers);
    match pollster::block_on(describe(&http, &config, &policy, &SMALL_PNG, size, request)) {
        Ok(described) => {
            let inside = |b: &sightline::azure::ImageBoundingBox| b.w > 0 && b.h > 0 && b.x + b.w <= 640 && b.y + b.h <= 480;
            let sure = |c: Option<f32>| c.is_none_or(|c| (0.0..=1.0).contains(&c));
            if let Some(caption) = &described.caption {
                assert!(!caption.text.trim().is_empty() && sure(caption.confidence));
            }
            for dense in described.dense_captions.iter().flat_map(|d| &d.values) {
                assert!(inside(&dense.bounding_box) && sure(dense.confidence), "{dense:?}");
            }
            assert!(described.dense_captions.as_ref().is_none_or(|d| d.values.len() <= 10));
            for object in described.objects.iter().flat_map(|o| &o.values) {
                assert!(inside(&object.bounding_box) && object.tags.iter().all(|t| sure(t.confidence)), "{object:?}");
            }
        }
        Err(error) => {
            assert!(error.is_remote(), "{error:?}");
            assert!(!error.to_string().contains("fuzz-key-0123456789"), "the key in an error: {error}");
        }
    }
}

/// `sightline.json`.
pub fn descriptor_target(data: &[u8]) {
    if let Ok(descriptor) = ModelDescriptor::from_json(data) {
        let _ = descriptor.prompt_for("a photo");
    }
}

/// A `.sltags` file for the model (the tiny test model in both harnesses).
pub fn tags_file_target(model: &SiglipModel, data: &[u8]) {
    if let Ok(index) = TagIndex::from_bytes(data, model) {
        let embedding = vec![1.0 / (model.embedding_dim() as f32).sqrt(); model.embedding_dim()];
        let calibration = model.calibration();
        let _ = index.tag(&embedding, calibration, 0.0, 10);
    }
}

/// The first byte picks: even, the rest is a `tokenizer.json` to load and try; odd, the rest is
/// text for the model's own tokenizer.
pub fn tokenizer_target(model: &SiglipModel, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector % 2 == 0 {
        if let Ok(tokenizer) = TextTokenizer::from_json(rest, model.descriptor()) {
            let _ = tokenizer.encode("a photo of a dog");
        }
    } else {
        let _ = model.tokenize(&String::from_utf8_lossy(rest));
    }
}

/// The tag vocabulary `build-tags` reads.
pub fn vocabulary_target(data: &[u8]) {
    let _ = Vocabulary::from_json(data);
}
