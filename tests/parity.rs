//! Parity with the Python reference (Hugging Face preprocessing + onnxruntime), run identically
//! natively (`cargo test`) and in WebAssembly (`cargo test --target wasm32-unknown-unknown`).
//!
//! Every input is compiled in with `include_bytes!`, so the wasm build needs no filesystem. The
//! golden numbers come from scripts/golden/make_golden.py (see tests/golden/README.md); the tiny
//! synthetic model comes from `scripts/fetch-models --mirror ../shared/models siglip-test-tiny`,
//! and the photos from ../shared/images.

use serde_json::Value;
use sightline::preprocess::{normalize_to_chw, resize_rgb};
use sightline::tokenizer::TextTokenizer;
use sightline::{decode_image, ModelDescriptor, ModelFiles, SiglipModel};


#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

macro_rules! report {
    ($($t:tt)*) => {{
        #[cfg(target_arch = "wasm32")]
        wasm_bindgen_test::console_log!($($t)*);
        #[cfg(not(target_arch = "wasm32"))]
        println!($($t)*);
    }};
}

/// `(path relative to the repo root, bytes)` for every file the golden data refers to.
macro_rules! files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)) as &[u8])),*]
    };
}

const IMAGES: &[(&str, &[u8])] = files![
    "../shared/images/photos/astronaut.png",
    "../shared/images/photos/chelsea.png",
    "../shared/images/photos/coffee.png",
    "../shared/images/photos/rocket.jpg",
    "../shared/images/ocr/simple-90.jpg",
    "tests/golden/inputs/anim.gif",
    "tests/golden/inputs/checker.png",
    "tests/golden/inputs/exif_mirror2.png",
    "tests/golden/inputs/exif_rot3.jpg",
    "tests/golden/inputs/exif_rot6.jpg",
    "tests/golden/inputs/exif_rot8.jpg",
    "tests/golden/inputs/gray.png",
    "tests/golden/inputs/gray16.png",
    "tests/golden/inputs/gray_alpha.png",
    "tests/golden/inputs/large.png",
    "tests/golden/inputs/lossless.webp",
    "tests/golden/inputs/lossy.webp",
    "tests/golden/inputs/noise.png",
    "tests/golden/inputs/palette.png",
    "tests/golden/inputs/photo.jpg",
    "tests/golden/inputs/rgb.bmp",
    "tests/golden/inputs/rgb.tiff",
    "tests/golden/inputs/rgb16.png",
    "tests/golden/inputs/rgba.png",
    "tests/golden/inputs/small50.png",
    "tests/golden/inputs/tall.png",
    "tests/golden/inputs/wide.png",
];

const PIXELS: &[(&str, &[u8])] = files![
    "tests/golden/pixels/anim.png",
    "tests/golden/pixels/checker.png",
    "tests/golden/pixels/exif_mirror2.png",
    "tests/golden/pixels/exif_rot3.png",
    "tests/golden/pixels/exif_rot6.png",
    "tests/golden/pixels/exif_rot8.png",
    "tests/golden/pixels/gray.png",
    "tests/golden/pixels/gray16.png",
    "tests/golden/pixels/gray_alpha.png",
    "tests/golden/pixels/large.png",
    "tests/golden/pixels/lossless.png",
    "tests/golden/pixels/lossy.png",
    "tests/golden/pixels/noise.png",
    "tests/golden/pixels/palette.png",
    "tests/golden/pixels/photo.png",
    "tests/golden/pixels/rgb_bmp.png",
    "tests/golden/pixels/rgb_tiff.png",
    "tests/golden/pixels/rgb16.png",
    "tests/golden/pixels/rgba.png",
    "tests/golden/pixels/small50.png",
    "tests/golden/pixels/tall.png",
    "tests/golden/pixels/wide.png",
];

const GOLDEN: &str = include_str!("golden/embeddings.json");
const TOKENIZER_CASES: &str = include_str!("golden/tokenizer_cases.json");
const SHARED_TOKENIZER_CASES: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/models/siglip-base-patch16-224/tokenizer_test_cases.json"
));

const DESCRIPTOR: &[u8] = include_bytes!("../models/siglip-test-tiny/sightline.json");
const TOKENIZER: &[u8] = include_bytes!("../models/siglip-test-tiny/tokenizer.json");
const MODELS: &[(&str, &[u8], &[u8])] = &[
    (
        "tiny-fp32",
        include_bytes!("../models/siglip-test-tiny/onnx/vision_model.onnx"),
        include_bytes!("../models/siglip-test-tiny/onnx/text_model.onnx"),
    ),
    (
        "tiny-quant",
        include_bytes!("../models/siglip-test-tiny/onnx/vision_model_quantized.onnx"),
        include_bytes!("../models/siglip-test-tiny/onnx/text_model_quantized.onnx"),
    ),
];

/// Random-weight models put two different but similar images at cosine ≈ 0.999, so parity must
/// be tighter than that to mean anything.
const MIN_COSINE: f32 = 0.9999;

/// Every input, lossy ones included, decodes to Pillow's exact pixels, so MIN_COSINE and the
/// 0.02 pixel_values budget hold for all of them. JPEGs go through src/jpeg, which reproduces
/// libjpeg-turbo; with zune-jpeg before it, 4:2:0 chroma moved by up to 4 levels (pixel_values
/// up to 0.031 off) and the quantised model, which requantises its input, put the generated
/// photo.jpg at cosine 0.99983 (now 0.9999999). image-webp matches libwebp on lossy.webp.
const MAX_PIXEL_DIFF: f32 = 0.02;

fn golden() -> Value {
    serde_json::from_str(GOLDEN).expect("tests/golden/embeddings.json parses")
}

fn lookup<'a>(table: &'a [(&str, &[u8])], path: &str) -> &'a [u8] {
    table.iter().find(|(p, _)| *p == path).map(|(_, b)| *b).unwrap_or_else(|| {
        panic!("{path} is in the golden data but not compiled into tests/parity.rs: add it to the table")
    })
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// The descriptor with `dequantize_weights` set: parity with onnxruntime is checked on the int8
/// graph as stored (what onnxruntime runs), whatever the platform's default.
fn descriptor_with_dequantize(dequantize: bool) -> Vec<u8> {
    let mut descriptor: Value = serde_json::from_slice(DESCRIPTOR).unwrap();
    descriptor["dequantize_weights"] = dequantize.into();
    serde_json::to_vec(&descriptor).unwrap()
}

fn load(name: &str) -> SiglipModel {
    load_with(name, false)
}

fn load_with(name: &str, dequantize: bool) -> SiglipModel {
    let (_, vision, text) = MODELS.iter().find(|(n, _, _)| *n == name).expect("known model");
    SiglipModel::load(ModelFiles {
        descriptor: &descriptor_with_dequantize(dequantize),
        vision_model: vision,
        text_model: Some(text),
        tokenizer: Some(TOKENIZER),
        ..Default::default()
    })
    .expect("tiny model loads")
}

#[test]
fn tokenizer_matches_the_reference_siglip_tokenizer() {
    let descriptor = ModelDescriptor::from_json(DESCRIPTOR).unwrap();
    let tokenizer = TextTokenizer::from_json(TOKENIZER, &descriptor).unwrap();

    // Hugging Face's own SigLIP tokenizer tests list the ids before `</s>`.
    let shared: Value = serde_json::from_str(SHARED_TOKENIZER_CASES).unwrap();
    let shared = shared.as_array().unwrap();
    assert!(shared.len() >= 6);
    for case in shared {
        let expected: Vec<u32> =
            case["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let ids = tokenizer.encode(case["query"].as_str().unwrap()).unwrap();
        assert_eq!(&ids[..expected.len()], expected.as_slice(), "{}", case["name"]);
        assert_eq!(ids[expected.len()], descriptor.eos_id, "{}: </s> follows", case["name"]);
        assert!(ids[expected.len() + 1..].iter().all(|&id| id == descriptor.pad_id));
    }

    let ours: Value = serde_json::from_str(TOKENIZER_CASES).unwrap();
    let ours = ours.as_array().unwrap();
    assert!(ours.len() >= 20, "expected the full set of edge cases");
    for case in ours {
        let expected: Vec<u32> =
            case["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
        let ids = tokenizer.encode(case["text"].as_str().unwrap()).unwrap();
        assert_eq!(ids.len(), 64);
        assert_eq!(ids, expected, "case {}: {:?}", case["name"], case["text"]);
    }
    report!("tokenizer: {} reference cases + {} edge cases identical", shared.len(), ours.len());
}

/// FNV-1a 64-bit, the checksum make_golden.py records for every PIL-resized image.
fn fnv1a64(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

/// Byte-identity with PIL is counted against the checksums make_golden.py recorded (also for the
/// ../shared photos whose resized copies may not be committed); every input with committed PIL
/// pixels must be within MAX_PIXEL_DIFF in pixel_values. The ../shared photos are compared with
/// Python directly in tests/python_reference.rs.
#[test]
fn preprocessing_matches_hugging_face() {
    let golden = golden();
    let descriptor = ModelDescriptor::from_json(DESCRIPTOR).unwrap();
    let (mut exact, mut worst) = (0, 0f32);
    let images = golden["images"].as_array().unwrap();
    for image in images {
        let name = image["name"].as_str().unwrap();
        let path = image["path"].as_str().unwrap();
        let decoded = decode_image(lookup(IMAGES, path)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (decoded.width() as u64, decoded.height() as u64),
            (image["width"].as_u64().unwrap(), image["height"].as_u64().unwrap()),
            "{name}: size after EXIF orientation"
        );
        let ours = resize_rgb(&decoded.rgb, 224, descriptor.resample);
        // Pillow 13 sometimes filters vertically first (tall.png, 60×600 → 224×224, does; Pillow
        // ≤ 12 never did): resize_rgb takes the same order (resample::PassOrder::pillow), else
        // some values move by up to 2 levels.
        if fnv1a64(&ours) == image["pixels_fnv1a64"].as_str().unwrap() {
            exact += 1;
        } else {
            report!("pixel_values {name:>12}: not byte-identical to Pillow 13");
        }
        if let Some(pixels) = image["pixels"].as_str() {
            let reference = decode_image(lookup(PIXELS, pixels)).unwrap().rgb.into_raw();
            let (max, mean) = max_mean_diff(
                &normalize_to_chw(&ours, &descriptor),
                &normalize_to_chw(&reference, &descriptor),
            );
            report!("pixel_values {name:>12}: max |Δ| {max:.5}  mean |Δ| {mean:.6}  (limit {MAX_PIXEL_DIFF})");
            assert!(max <= MAX_PIXEL_DIFF, "{name}: max |Δ pixel_values| {max} > {MAX_PIXEL_DIFF}");
            worst = worst.max(max);
        }
    }
    report!("pixel_values: {exact} images byte-identical to PIL; worst max |Δ| {worst:.5}");
    // Decoders and resampler (pass order included) are PIL's: all 27 inputs are identical.
    assert!(images.len() >= 27, "the golden data lists {} images", images.len());
    assert_eq!(exact, images.len(), "every input must resize to PIL's exact bytes");
}

fn max_mean_diff(ours: &[f32], reference: &[f32]) -> (f32, f32) {
    let diffs: Vec<f32> = ours.iter().zip(reference).map(|(a, b)| (a - b).abs()).collect();
    (diffs.iter().cloned().fold(0.0, f32::max), diffs.iter().sum::<f32>() / diffs.len() as f32)
}

/// Checksums of Pillow's RGB for JPEGs that cover what the golden inputs do not (progressive,
/// restart markers, grayscale, Adobe RGB, 4:4:0 and 4:1:1 sampling, one scan per component),
/// from scripts/golden/jpeg_fixtures.py. tests/jpeg_pil.rs compares ~300 more files with Python.
const JPEG_CHECKSUMS: &str = include_str!("data/jpeg/pil_rgb_fnv1a64.json");
const JPEG_FILES: &[(&str, &[u8])] = files![
    "tests/golden/inputs/photo.jpg",
    "tests/data/jpeg/base422-rst-rows.jpg",
    "tests/data/jpeg/gray-prog.jpg",
    "tests/data/jpeg/prog420-rst.jpg",
    "tests/data/jpeg/prog444.jpg",
    "tests/data/jpeg/rgb-prog.jpg",
    "tests/data/jpeg/seq-3scans.jpg",
    "tests/data/jpeg/sof411.jpg",
    "tests/data/jpeg/sof440.jpg",
];

/// src/jpeg decodes to libjpeg-turbo's (Pillow's) exact pixels, in WebAssembly as natively, and
/// decode_image uses it.
#[test]
fn jpeg_decodes_to_pillows_exact_pixels() {
    let checksums: Value = serde_json::from_str(JPEG_CHECKSUMS).unwrap();
    assert_eq!(checksums.as_object().unwrap().len(), JPEG_FILES.len(), "JPEG_FILES lists every checksum");
    for (path, bytes) in JPEG_FILES {
        let expected = checksums[*path].as_str().unwrap_or_else(|| panic!("no checksum for {path}"));
        let image = sightline::jpeg::decode(bytes, u64::MAX).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(fnv1a64(&image.into_rgb()), expected, "{path}: not Pillow's pixels");
    }
    let photo = decode_image(lookup(JPEG_FILES, "tests/golden/inputs/photo.jpg")).unwrap();
    assert_eq!(fnv1a64(photo.rgb.as_raw()), checksums["tests/golden/inputs/photo.jpg"].as_str().unwrap());
    report!("jpeg: {} files decode to Pillow's exact pixels", JPEG_FILES.len());
}

#[test]
fn image_embeddings_match_onnxruntime() {
    let golden = golden();
    for (model_name, _, _) in MODELS {
        let model = load(model_name);
        let (mut min_cos, mut worst) = (1f32, "");
        for image in golden["images"].as_array().unwrap() {
            let name = image["name"].as_str().unwrap();
            let ours = model.embed_image(lookup(IMAGES, image["path"].as_str().unwrap())).unwrap();
            let reference = floats(&image["embedding"][model_name]);
            let cos = cosine(&ours.embedding, &reference);
            let norm = ours.embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "{name}: embedding is unit length");
            assert!(cos >= MIN_COSINE, "{model_name} {name}: cosine {cos} < {MIN_COSINE}");
            if cos < min_cos {
                (min_cos, worst) = (cos, name);
            }
            if cos < MIN_COSINE {
                report!("{model_name} {name}: cosine {cos:.7}");
            }
        }
        report!("{model_name}: image embeddings vs onnxruntime, min cosine {min_cos:.7} ({worst}) over {} images", IMAGES.len());
    }
}

#[test]
fn text_embeddings_match_onnxruntime() {
    let golden = golden();
    for (model_name, _, _) in MODELS {
        let model = load(model_name);
        let mut min_cos = 1f32;
        for text in golden["texts"].as_array().unwrap() {
            let t = text["text"].as_str().unwrap();
            let ids: Vec<u32> =
                text["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect();
            assert_eq!(model.tokenize(t).unwrap(), ids, "{t:?}");
            let cos = cosine(&model.embed_text(t).unwrap(), &floats(&text["embedding"][model_name]));
            assert!(cos >= MIN_COSINE, "{model_name} {t:?}: cosine {cos}");
            min_cos = min_cos.min(cos);
        }
        report!("{model_name}: text embeddings, min cosine vs onnxruntime {min_cos:.7}");
    }
}

#[test]
fn zero_shot_matches_the_reference_formula() {
    let golden = golden();
    let images = golden["images"].as_array().unwrap();
    let cases = golden["zero_shot"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let model_name = case["model"].as_str().unwrap();
        let image = images.iter().find(|i| i["name"] == case["image"]).unwrap();
        let labels: Vec<&str> = case["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect();
        let scores = load(model_name).classify(lookup(IMAGES, image["path"].as_str().unwrap()), &labels).unwrap();
        // Every photo decodes to PIL's pixels (the JPEG rocket.jpg too), which isolates our
        // arithmetic: fp32 p must match to 1e-4. For the quantised model the image-text cosines
        // are compared, to 1e-6: SigLIP's ×117 scale would turn a requantisation difference
        // into hundredths of p (zune-jpeg's decoding of rocket.jpg moved them by ~1.5e-3).
        let mut worst = 0f32;
        if model_name == "tiny-fp32" {
            let tolerance = 1e-4;
            for (score, expected) in scores.iter().zip(floats(&case["probs"])) {
                let diff = (score.confidence - expected).abs();
                assert!(diff <= tolerance, "{model_name} {} {:?}: p {} vs {expected}", case["image"], score.label, score.confidence);
                worst = worst.max(diff);
            }
        } else {
            let tolerance = 1e-6;
            for (score, expected) in scores.iter().zip(floats(&case["cosines"])) {
                let diff = (score.cosine - expected).abs();
                assert!(diff <= tolerance, "{model_name} {} {:?}: cosine {} vs {expected}", case["image"], score.label, score.cosine);
                worst = worst.max(diff);
            }
        }
        let what = if model_name == "tiny-fp32" { "p" } else { "cosine" };
        report!("zero-shot {model_name} {}: max |Δ{what}| {worst:.2e}", case["image"]);
    }
}

/// `dequantize_weights: true` runs quantised models with f32 weights (src/dequantize.rs; the
/// default is the fused int8 graph). Activations are then not quantised, so the
/// embeddings leave onnxruntime's int8 output a little (measured: images ≥ 0.99991, texts
/// ≥ 0.99990, nearer the fp32 model): close, but not the bit-faithful int8 graph, hence 0.9998.
#[test]
fn f32_weights_stay_near_onnxruntime_int8() {
    const MIN_COSINE_F32_WEIGHTS: f32 = 0.9998;
    let golden = golden();
    let model = load_with("tiny-quant", true);
    let mut min_cos = 1f32;
    for image in golden["images"].as_array().unwrap() {
        let ours = model.embed_image(lookup(IMAGES, image["path"].as_str().unwrap())).unwrap();
        let cos = cosine(&ours.embedding, &floats(&image["embedding"]["tiny-quant"]));
        assert!(cos >= MIN_COSINE_F32_WEIGHTS, "{}: cosine {cos}", image["name"]);
        min_cos = min_cos.min(cos);
    }
    for text in golden["texts"].as_array().unwrap() {
        let ours = model.embed_text(text["text"].as_str().unwrap()).unwrap();
        let cos = cosine(&ours, &floats(&text["embedding"]["tiny-quant"]));
        assert!(cos >= MIN_COSINE_F32_WEIGHTS, "{:?}: cosine {cos}", text["text"]);
        min_cos = min_cos.min(cos);
    }
    report!("tiny-quant with f32 weights: min cosine vs onnxruntime int8 {min_cos:.6}");
}

#[test]
fn every_golden_file_is_exercised() {
    let golden = golden();
    for image in golden["images"].as_array().unwrap() {
        lookup(IMAGES, image["path"].as_str().unwrap());
        if let Some(pixels) = image["pixels"].as_str() {
            lookup(PIXELS, pixels);
        }
    }
    assert_eq!(golden["images"].as_array().unwrap().len(), IMAGES.len(), "IMAGES lists exactly the golden images");
}

/// The JavaScript-facing class, as a browser or Node sees it.
#[cfg(target_arch = "wasm32")]
mod js_api {
    use super::{lookup, DESCRIPTOR, IMAGES, MODELS, TOKENIZER};
    use js_sys::Reflect;
    use sightline::wasm::WasmAnalyzer as JsAnalyzer;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_test::wasm_bindgen_test as test;

    /// `{role: Uint8Array}`, as `load` takes a part's files.
    fn files(roles: &[(&str, &[u8])]) -> js_sys::Object {
        let object = js_sys::Object::new();
        for (role, bytes) in roles {
            Reflect::set(&object, &(*role).into(), &js_sys::Uint8Array::from(*bytes)).unwrap();
        }
        object
    }

    fn model() -> JsAnalyzer {
        let (_, vision, text) = MODELS[1];
        let mut analyzer = JsAnalyzer::new();
        let siglip = files(&[("descriptor", DESCRIPTOR), ("vision", vision), ("text", text), ("tokenizer", TOKENIZER)]);
        analyzer.load("siglip", &siglip, None).unwrap();
        analyzer
    }

    /// A field of the `siglip` getter's object.
    fn siglip(analyzer: &JsAnalyzer, field: &str) -> JsValue {
        Reflect::get(&analyzer.siglip().unwrap(), &field.into()).unwrap()
    }

    fn code_of(error: JsValue) -> String {
        assert!(error.is_instance_of::<js_sys::Error>(), "thrown value is an Error");
        Reflect::get(&error, &"code".into()).unwrap().as_string().unwrap()
    }

    #[test]
    fn embed_image_returns_a_unit_float32array() {
        let model = model();
        assert_eq!(siglip(&model, "synthetic"), JsValue::TRUE);
        assert_eq!(model.loaded(), ["siglip"]);
        let v = model.embed_image(lookup(IMAGES, "../shared/images/photos/chelsea.png")).unwrap();
        assert_eq!(Some(v.length() as f64), siglip(&model, "embeddingDim").as_f64());
        let norm: f32 = v.to_vec().iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        let texts = model.embed_texts(vec!["a cat".into(), "a dog".into()]).unwrap();
        assert_eq!(texts.length(), 2);
    }

    #[test]
    fn errors_are_js_errors_with_stable_codes() {
        let model = model();
        assert_eq!(code_of(model.embed_image(b"not an image").unwrap_err()), "InvalidImageFormat");
        assert_eq!(code_of(model.embed_image(&[]).unwrap_err()), "InvalidImageSize");
        assert_eq!(code_of(model.classify(lookup(IMAGES, "../shared/images/photos/chelsea.png"), vec![]).unwrap_err()), "InvalidArgument");
        let mut empty = JsAnalyzer::new();
        assert!(empty.siglip().unwrap().is_null());
        assert_eq!(code_of(empty.embed_image(b"not an image").unwrap_err()), "SiglipModelNotLoaded");
        let bad = empty.load("siglip", &files(&[("descriptor", b"{}"), ("vision", b"garbage")]), None).unwrap_err();
        assert_eq!(code_of(bad), "InvalidModelDescriptor");
        let bad = empty.load("siglip", &files(&[("descriptor", DESCRIPTOR), ("vision", b"garbage")]), None).unwrap_err();
        assert_eq!(code_of(bad), "InvalidModel");
        assert_eq!(code_of(empty.load("ocr", &files(&[]), None).unwrap_err()), "InvalidArgument");
        assert_eq!(code_of(empty.load("tags", &files(&[("tags", b"x")]), None).unwrap_err()), "SiglipModelNotLoaded");
        assert!(empty.loaded().is_empty(), "a failed load leaves nothing loaded");
    }

    #[test]
    async fn analyze_returns_azure_shapes_and_errors() {
        use wasm_bindgen_futures::JsFuture;
        let mut model = model();
        let core = sightline::SiglipModel::load(sightline::ModelFiles {
            descriptor: DESCRIPTOR,
            vision_model: MODELS[1].1,
            text_model: Some(MODELS[1].2),
            tokenizer: Some(TOKENIZER),
            ..Default::default()
        })
        .unwrap();
        let vocabulary = br#"{"language": "en", "tags": [{"name": "cat"}, {"name": "rocket"}]}"#;
        let tags = sightline::TagIndex::build(&core, vocabulary, |_, _| {}).unwrap();
        model.load("tags", &files(&[("tags", &tags.to_bytes())]), None).unwrap();
        assert_eq!(model.tag_count(), 2);
        assert_eq!(model.loaded(), ["siglip", "tags"]);
        let parts = model.parts_for(js_sys::JSON::parse(r#"{"features": ["smartCrops", "read"]}"#).unwrap()).unwrap();
        let parts = js_sys::JSON::stringify(&parts).unwrap().as_string().unwrap();
        assert_eq!(parts, r#"{"required":["siglip","read"],"helpful":["people"]}"#);

        let options = js_sys::JSON::parse(r#"{"features": ["tags", "smartCrops"], "tagThreshold": 0, "smartcropsAspectRatios": [1.5]}"#).unwrap();
        // analyze returns a Promise (remote features run over fetch).
        let result = JsFuture::from(model.analyze(lookup(IMAGES, "../shared/images/photos/chelsea.png"), options, None)).await.unwrap();
        let json: serde_json::Value = serde_json::from_str(&js_sys::JSON::stringify(&result).unwrap().as_string().unwrap()).unwrap();
        assert_eq!(json["metadata"], serde_json::json!({ "width": 451, "height": 300 }));
        assert_eq!(json["tagsResult"]["values"].as_array().unwrap().len(), 2);
        assert_eq!(json["smartCropsResult"]["values"][0]["aspectRatio"], 1.5);

        let bad = js_sys::JSON::parse(r#"{"features": ["caption"]}"#).unwrap();
        let error = JsFuture::from(model.analyze(lookup(IMAGES, "../shared/images/photos/chelsea.png"), bad, None)).await.unwrap_err();
        assert_eq!(code_of(error.clone()), "NotSupportedVisualFeature");
        let azure = Reflect::get(&error, &"azure".into()).unwrap();
        let azure = js_sys::JSON::stringify(&azure).unwrap().as_string().unwrap();
        assert!(azure.contains(r#""code":"InvalidRequest""#), "{azure}");
    }
}
