//! The core's result and error types as TypeScript values, for the npm package's declarations
//! check (tests/npm/run writes them to tests/npm/typecheck/result-shapes.ts; `tsc` then checks them
//! against index.d.ts): one result with every field filled, so a field the declarations lack or
//! mistype fails, and one with every optional field left out, so a field they wrongly require fails.
//! The structs are written out field by field: a field added to them fails this file's build until
//! it is given a value here.
//!
//!   cargo run --example result_shapes > tests/npm/typecheck/result-shapes.ts

use std::collections::BTreeMap;

use sightline::azure::{
    CaptionResult, CropRegion, DenseCaption, DenseCaptionsResult, DetectedObject, DetectedPerson, DetectedTag, DetectedTextBlock, DetectedTextLine, DetectedTextWord, ErrorBody, ErrorResponse,
    FaceInfo, FaceLandmarks, FaceRectangle, FeatureError, ImageAnalysisResult, ImageBoundingBox, ImageMetadata, ImagePoint,
    InnerError, ModelSource, ObjectTag, ObjectsResult, PeopleResult, Point, ReadResult, ServiceErrorDetail, SmartCropsResult,
    TagsResult,
};
use sightline::color::ColorInfo;
use sightline::v32::{AdultInfo, Category, ImageType};

fn every_field() -> ImageAnalysisResult {
    let point = Point { x: 1.5, y: 2.5 };
    let polygon = vec![ImagePoint { x: 1, y: 2 }, ImagePoint { x: 9, y: 2 }, ImagePoint { x: 9, y: 8 }, ImagePoint { x: 1, y: 8 }];
    let boxed = ImageBoundingBox { x: 1, y: 2, w: 3, h: 4 };
    let tag = DetectedTag { name: "cat".into(), confidence: 0.5 };
    let source = ModelSource { backend: "azure-openai".into(), model: "gpt-4o-2024-08-06".into() };
    let error = ErrorBody {
        code: "InvalidRequest".into(),
        message: "the call failed".into(),
        innererror: InnerError { code: "RemoteServiceError".into(), message: "the call failed".into() },
    };
    ImageAnalysisResult {
        model_version: "siglip+sightline-0.1.0".into(),
        warning: Some("synthetic".into()),
        metadata: ImageMetadata { width: 640, height: 480 },
        caption_result: Some(CaptionResult { text: "a cat".into(), confidence: Some(0.8), source: Some(source.clone()) }),
        dense_captions_result: Some(DenseCaptionsResult {
            values: vec![DenseCaption { text: "a cat".into(), confidence: Some(0.8), bounding_box: boxed }],
            source: Some(source.clone()),
        }),
        objects_result: Some(ObjectsResult {
            values: vec![DetectedObject { bounding_box: boxed, tags: vec![ObjectTag { name: "cat".into(), confidence: Some(0.9) }] }],
            source: Some(source),
        }),
        tags_result: Some(TagsResult { values: vec![tag.clone()] }),
        smart_crops_result: Some(SmartCropsResult { values: vec![CropRegion { aspect_ratio: 1.5, bounding_box: boxed }] }),
        people_result: Some(PeopleResult { values: vec![DetectedPerson { bounding_box: boxed, confidence: 0.9 }] }),
        read_result: Some(ReadResult {
            blocks: vec![DetectedTextBlock {
                lines: vec![DetectedTextLine {
                    text: "a line".into(),
                    bounding_polygon: polygon.clone(),
                    words: vec![DetectedTextWord { text: "line".into(), bounding_polygon: polygon, confidence: 0.99 }],
                }],
            }],
            content: Some("a line".into()),
            backend: Some("azure".into()),
        }),
        faces: Some(vec![FaceInfo {
            face_rectangle: FaceRectangle { left: 1, top: 2, width: 3, height: 4 },
            landmarks: Some(FaceLandmarks { eye_right: point, eye_left: point, nose_tip: point, mouth_right: point, mouth_left: point }),
            score: Some(0.9),
            face_landmarks: Some(BTreeMap::from([("pupilLeft".to_string(), point)])),
            face_attributes: Some(serde_json::json!({ "mask": { "type": "noMask", "noseAndMouthCovered": false } }).as_object().cloned().unwrap_or_default()),
        }]),
        custom_labels_result: Some(TagsResult { values: vec![tag] }),
        embedding: Some(vec![0.25, -0.5]),
        color: Some(ColorInfo {
            dominant_color_foreground: "Black".into(),
            dominant_color_background: "White".into(),
            dominant_colors: vec!["Black".into()],
            accent_color: "1A2B3C".into(),
            is_bw_img: false,
            is_bw_img_upper: false,
        }),
        image_type: Some(ImageType { clip_art_type: 0, line_drawing_type: 0 }),
        adult: Some(AdultInfo {
            is_adult_content: false,
            is_racy_content: false,
            is_gory_content: false,
            adult_score: 0.1,
            racy_score: 0.1,
            gore_score: 0.1,
        }),
        categories: Some(vec![Category { name: "animal_cat".into(), score: 0.7 }]),
        feature_errors: Some(vec![FeatureError {
            feature: "read".into(),
            error: error.clone(),
            service_error: Some(ServiceErrorDetail { status: 400, code: "InvalidContent".into(), message: "bad".into() }),
        }]),
    }
}

/// Every optional field left out (and every list empty).
fn no_optional_field() -> ImageAnalysisResult {
    ImageAnalysisResult {
        model_version: "sightline-0.1.0".into(),
        warning: None,
        metadata: ImageMetadata { width: 640, height: 480 },
        caption_result: Some(CaptionResult { text: "a cat".into(), confidence: None, source: None }),
        dense_captions_result: Some(DenseCaptionsResult {
            values: vec![DenseCaption { text: "a cat".into(), confidence: None, bounding_box: ImageBoundingBox { x: 0, y: 0, w: 1, h: 1 } }],
            source: None,
        }),
        objects_result: Some(ObjectsResult {
            values: vec![DetectedObject { bounding_box: ImageBoundingBox { x: 0, y: 0, w: 1, h: 1 }, tags: vec![ObjectTag { name: "cat".into(), confidence: None }] }],
            source: None,
        }),
        tags_result: None,
        smart_crops_result: None,
        people_result: None,
        read_result: Some(ReadResult { blocks: vec![], content: None, backend: None }),
        faces: Some(vec![FaceInfo {
            face_rectangle: FaceRectangle { left: 1, top: 2, width: 3, height: 4 },
            landmarks: None,
            score: None,
            face_landmarks: None,
            face_attributes: None,
        }]),
        custom_labels_result: None,
        embedding: None,
        color: None,
        image_type: None,
        adult: None,
        categories: None,
        feature_errors: Some(vec![FeatureError {
            feature: "people".into(),
            error: ErrorResponse::from(&sightline::SightlineError::FaceModelNotLoaded).error,
            service_error: None,
        }]),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("results serialise")
}

fn main() {
    println!("// Generated by `cargo run --example result_shapes` (tests/npm/run): the core's own output.");
    println!("import type {{ ImageAnalysisResult, AzureErrorBody }} from \"sightline\";");
    println!("export const everyField: ImageAnalysisResult = {};", json(&every_field()));
    println!("export const noOptionalField: ImageAnalysisResult = {};", json(&no_optional_field()));
    let error = ErrorResponse::from(&sightline::SightlineError::TagsNotLoaded);
    println!("export const errorBody: {{ error: AzureErrorBody }} = {};", json(&error));
}
