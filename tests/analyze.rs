//! `analyze` as migrating Azure users see it: results and errors validate against the Image
//! Analysis 2023-10-01 JSON Schema, tags files belong to one model, smart crops are well formed.
#![cfg(not(target_arch = "wasm32"))]

use std::path::PathBuf;

use serde_json::{json, Value};
use sightline::azure::ErrorResponse;
use sightline::{analyze, AnalyzeOptions, ModelFiles, SiglipModel, TagIndex};

mod common;
use common::{assert_valid, azure_schema, model_dir, read, repo, shared, sightline, stdout_json};

/// The tiny model with its quantised (`quantized = true`) or fp32 vision tower.
fn load(quantized: bool) -> SiglipModel {
    let dir = model_dir();
    let vision = if quantized { "onnx/vision_model_quantized.onnx" } else { "onnx/vision_model.onnx" };
    SiglipModel::load(ModelFiles {
        descriptor: &read(dir.join("sightline.json")),
        vision_model: &read(dir.join(vision)),
        text_model: Some(&read(dir.join("onnx/text_model_quantized.onnx"))),
        tokenizer: Some(&read(dir.join("tokenizer.json"))),
        ..Default::default()
    })
    .unwrap()
}

/// A small vocabulary: building the full one belongs to the CLI test.
fn small_vocabulary() -> Vec<u8> {
    let tags: Vec<Value> = ["person", "cat", "rocket", "coffee", "outdoor", "astronaut", "flag", "space"]
        .iter()
        .map(|t| json!({ "name": t, "source": "test" }))
        .collect();
    serde_json::to_vec(&json!({ "version": 1, "language": "en", "tags": tags })).unwrap()
}

fn options(features: &[&str]) -> AnalyzeOptions {
    AnalyzeOptions { features: features.iter().map(|f| f.to_string()).collect(), ..Default::default() }
}

#[test]
fn the_schema_rejects_what_azure_would_not_return() {
    // Guards the validator itself: a test that cannot fail proves nothing.
    let bad = json!({ "modelVersion": "x", "metadata": { "width": 0, "height": 10 },
                      "tagsResult": { "values": [{ "name": "cat", "confidence": 1.5 }] } });
    assert!(!azure_schema("ImageAnalysisResult").is_valid(&bad));
    let bad_box = json!({ "modelVersion": "x", "metadata": { "width": 5, "height": 5 },
                          "smartCropsResult": { "values": [{ "aspectRatio": 1.0, "boundingBox": { "x": 0.5, "y": 0, "w": 1, "h": 1 } }] } });
    assert!(!azure_schema("ImageAnalysisResult").is_valid(&bad_box));
}

#[test]
fn results_validate_against_the_azure_schema() {
    let model = load(true);
    let tags = TagIndex::build(&model, &small_vocabulary(), |_, _| {}).unwrap();
    let image = read(shared().join("images/photos/astronaut.png"));
    let mut request = options(&["tags", "smartCrops", "color", "imageType", "adult", "categories"]);
    request.smartcrops_aspect_ratios = Some(vec![0.8, 1.5]);
    request.labels = Some(vec!["an astronaut".into(), "a cat".into()]);
    request.tag_threshold = Some(0.0);
    let result = analyze(&model, Some(&tags), &image, &request).unwrap();
    let value = serde_json::to_value(&result).unwrap();
    assert_valid("ImageAnalysisResult", &value);
    assert_eq!(value["metadata"], json!({ "width": 512, "height": 512 }));
    assert!(value["warning"].as_str().unwrap().contains("synthetic"), "test-model results say so");
    assert_eq!(value["smartCropsResult"]["values"].as_array().unwrap().len(), 2);
    let tag_values = value["tagsResult"]["values"].as_array().unwrap();
    assert_eq!(tag_values.len(), 8 + 2, "threshold 0: every tag and custom label");
    let confidences: Vec<f64> = tag_values.iter().map(|t| t["confidence"].as_f64().unwrap()).collect();
    assert!(confidences.windows(2).all(|w| w[0] >= w[1]), "sorted: {confidences:?}");
    let custom = value["customLabelsResult"]["values"].as_array().unwrap();
    assert_eq!(custom[0]["name"], "an astronaut", "custom labels keep their order");
    // The 3.2 extras, under their 3.2 names and shapes.
    assert_valid("v32.ColorInfo", &value["color"]);
    assert_valid("v32.ImageType", &value["imageType"]);
    assert_valid("v32.AdultInfo", &value["adult"]);
    assert_valid("v32.Categories", &value["categories"]);
    let categories = value["categories"].as_array().unwrap();
    assert!((1..=3).contains(&categories.len()), "{categories:?}");
    // The astronaut photo is colourful: not black and white, with a hue-named accent.
    assert_eq!(value["color"]["isBWImg"], false);
}

#[test]
fn people_results_validate_with_3_2_style_faces() {
    let faces = sightline::PeopleDetector::load(&read(repo().join("models/yunet/face_detection_yunet_2026may.onnx"))).unwrap();
    let analyzer = sightline::Analyzer::new().with_siglip(load(true)).with_people(faces);
    let result = analyzer.analyze(&read(shared().join("images/faces/two_people.jpg")), &options(&["people"])).unwrap();
    let value = serde_json::to_value(&result).unwrap();
    assert_valid("ImageAnalysisResult", &value);
    assert_eq!(value["peopleResult"]["values"].as_array().unwrap().len(), 2);
    let face = &value["faces"][0];
    for key in ["left", "top", "width", "height"] {
        assert!(face["faceRectangle"][key].is_u64(), "{face}");
    }
    for key in ["eyeRight", "eyeLeft", "noseTip", "mouthRight", "mouthLeft"] {
        assert!(face["landmarks"][key]["x"].is_number(), "{face}");
    }
}

#[test]
fn zero_shot_3_2_features_need_the_tags_file_color_does_not() {
    let model = load(true);
    let image = read(shared().join("images/photos/coffee.png"));
    for feature in ["imageType", "adult", "categories"] {
        let error = analyze(&model, None, &image, &options(&[feature])).unwrap_err();
        assert_eq!(error.code(), "TagsNotLoaded", "{feature}");
    }
    let result = analyze(&model, None, &image, &options(&["color"])).unwrap();
    assert_valid("v32.ColorInfo", &serde_json::to_value(result.color.unwrap()).unwrap());
}

#[test]
fn request_errors_use_azures_codes_and_validate() {
    let model = load(true);
    let image = read(shared().join("images/photos/chelsea.png"));
    let cases: &[(AnalyzeOptions, &str)] = &[
        (options(&["tags", "unicorns"]), "NotSupportedVisualFeature"),
        (options(&["caption"]), "NotSupportedVisualFeature"),
        (options(&[]), "MissingVisualFeature"),
        (AnalyzeOptions { language: Some("fr".into()), ..options(&["smartCrops"]) }, "NotSupportedLanguage"),
        (AnalyzeOptions { smartcrops_aspect_ratios: Some(vec![2.5]), ..options(&["smartCrops"]) }, "InvalidParameter"),
        (AnalyzeOptions { model_version: Some("2023-10-01".into()), ..options(&["smartCrops"]) }, "NotSupportedModelVersion"),
        (options(&["tags"]), "TagsNotLoaded"),
        (options(&["people"]), "FaceModelNotLoaded"),
    ];
    for (request, inner) in cases {
        let error = analyze(&model, None, &image, request).unwrap_err();
        let body = serde_json::to_value(ErrorResponse::from(&error)).unwrap();
        assert_valid("ErrorResponse", &body);
        assert_eq!(body["error"]["code"], "InvalidRequest", "{body}");
        assert_eq!(body["error"]["innererror"]["code"], *inner, "{body}");
    }
    let caption = analyze(&model, None, &image, &options(&["caption"])).unwrap_err();
    assert_eq!(caption.code(), "NotSupportedVisualFeature");
    assert!(caption.to_string().contains("vision-language model"), "says what to configure: {caption}");
    // Image problems keep their Azure codes inside the same envelope.
    let error = analyze(&model, None, b"not an image", &options(&["smartCrops"])).unwrap_err();
    assert_eq!(ErrorResponse::from(&error).error.innererror.code, "InvalidImageFormat");
}

#[test]
fn a_tags_file_belongs_to_one_model() {
    let (quantized, fp32) = (load(true), load(false));
    let built = TagIndex::build(&quantized, &small_vocabulary(), |_, _| {}).unwrap();
    let bytes = built.to_bytes();
    let reloaded = TagIndex::from_bytes(&bytes, &quantized).unwrap();
    assert_eq!(reloaded.header(), built.header());
    assert_eq!(reloaded.header().vision_sha256, quantized.vision_sha256());

    let error = TagIndex::from_bytes(&bytes, &fp32).unwrap_err();
    assert_eq!(error.code(), "TagsModelMismatch");
    assert!(error.to_string().contains("build-tags"), "{error}");

    // Built by a Sightline with other 3.2 prompts: same length, one letter changed.
    let stale = String::from_utf8_lossy(&bytes).contains("a photograph");
    assert!(stale, "the header names the prompts");
    let mut other_prompts = bytes.clone();
    let at = other_prompts.windows(12).position(|w| w == b"a photograph").unwrap();
    other_prompts[at + 2] = b'P';
    let error = TagIndex::from_bytes(&other_prompts, &quantized).unwrap_err();
    assert!(error.code() == "InvalidTagsFile" && error.to_string().contains("rebuild"), "{error}");

    for broken in [&bytes[..5], &bytes[..bytes.len() - 1], b"SLTAGS\0\x01\xff\xff\xff\xff{}".as_slice()] {
        assert_eq!(TagIndex::from_bytes(broken, &quantized).unwrap_err().code(), "InvalidTagsFile");
    }
}

#[test]
fn smart_crops_fit_every_shared_image_at_every_ratio() {
    let model = load(true);
    let mut images: Vec<PathBuf> = ["images/photos", "images/faces", "images/ocr"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(shared().join(dir)).unwrap().map(|e| e.unwrap().path()))
        .filter(|p| p.extension().is_some_and(|x| x != "txt"))
        .collect();
    images.sort();
    assert!(images.len() >= 10);
    let ratios = [0.75, 1.0, 4.0 / 3.0, 1.8];
    for path in &images {
        let mut request = options(&["smartCrops"]);
        request.smartcrops_aspect_ratios = Some(ratios.to_vec());
        let result = analyze(&model, None, &read(path), &request).unwrap();
        let (w, h) = (result.metadata.width, result.metadata.height);
        let crops = result.smart_crops_result.unwrap().values;
        assert_eq!(crops.len(), ratios.len());
        for (crop, ratio) in crops.iter().zip(ratios) {
            let b = crop.bounding_box;
            assert!(b.x + b.w <= w && b.y + b.h <= h, "{}: {b:?} outside {w}×{h}", path.display());
            let got = b.w as f32 / b.h as f32;
            assert!((got - ratio).abs() <= 0.01 * ratio, "{}: ratio {got} for {ratio}", path.display());
            assert!(b.w == w || b.h == h, "{}: the largest crop of that ratio: {b:?}", path.display());
        }
        // No ratios: one crop, at the image's own shape clamped to 0.5..2.
        let auto = analyze(&model, None, &read(path), &options(&["smartCrops"])).unwrap();
        assert_eq!(auto.smart_crops_result.unwrap().values.len(), 1);
    }
}

// ---- the command line -----------------------------------------------------------------------

#[test]
fn cli_builds_tags_then_analyzes_like_azure() {
    let dir = std::env::temp_dir().join(format!("sightline-analyze-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tags = dir.join("tags-en.sltags");
    let (model, tags_arg) = (model_dir().display().to_string(), tags.display().to_string());

    let out = sightline(&["build-tags", "--model", &model, "--output", &tags_arg]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("ms per 100 prompts"), "reports the build time: {stderr}");

    let astronaut = shared().join("images/photos/astronaut.png").display().to_string();
    let out = sightline(&["analyze", &astronaut, "--model", &model, "--tags", &tags_arg, "--features", "tags,smartCrops", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let result = stdout_json(&out);
    assert_valid("ImageAnalysisResult", &result);
    assert_eq!(result["metadata"], json!({ "width": 512, "height": 512 }));
    assert!(result["smartCropsResult"]["values"].as_array().is_some_and(|v| !v.is_empty()));

    let out = sightline(&["analyze", &astronaut, "--model", &model, "--tags", &tags_arg, "--features", "tags,unicorns", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let body = stdout_json(&out);
    assert_valid("ErrorResponse", &body);
    assert_eq!(body["error"]["code"], "InvalidRequest");
    assert_eq!(body["error"]["innererror"]["code"], "NotSupportedVisualFeature");
    let _ = std::fs::remove_dir_all(&dir);
}
