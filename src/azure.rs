//! The result and error shapes of Azure AI Vision Image Analysis 4.0 (REST API 2023-10-01), so
//! code migrating from the service reads Sightline's output unchanged. Field names, types and
//! ranges follow Microsoft's published REST specification (azure-rest-api-specs,
//! specification/ai/data-plane/ImageAnalysis/stable/2023-10-01); tests/analyze.rs validates
//! results against a JSON Schema written from it.

use serde::{Deserialize, Serialize};

/// `ImageAnalysisResult`: `metadata` and `modelVersion` always, one `*Result` per requested feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageAnalysisResult {
    pub model_version: String,
    /// Set when the results mean nothing (a synthetic test model): programs must not use them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    pub metadata: ImageMetadata,
    /// A sentence about the whole image (a vision-language model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption_result: Option<CaptionResult>,
    /// The whole image's caption, then regions' (a vision-language model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dense_captions_result: Option<DenseCaptionsResult>,
    /// Objects with their boxes (a vision-language model).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objects_result: Option<ObjectsResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags_result: Option<TagsResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smart_crops_result: Option<SmartCropsResult>,
    /// People found by their faces (local YuNet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub people_result: Option<PeopleResult>,
    /// Text read from the image (local PP-OCRv5, or Document Intelligence Read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_result: Option<ReadResult>,
    /// The same faces with 3.2-style rectangles, landmarks and scores.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces: Option<Vec<FaceInfo>>,
    /// Sightline addition: every label the caller passed in `labels`, in their order, scored
    /// independently (those above the threshold also appear in `tagsResult`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_labels_result: Option<TagsResult>,
    /// Sightline addition, on request: the image's unit SigLIP embedding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding: Option<Vec<f32>>,
    /// Image Analysis 3.2 features, under their 3.2 names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color: Option<crate::color::ColorInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_type: Option<crate::v32::ImageType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adult: Option<crate::v32::AdultInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<crate::v32::Category>>,
    /// Sightline addition: features that failed while the others succeeded (a remote service
    /// that was down, say), each with the error that stopped it. Absent when all succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_errors: Option<Vec<FeatureError>>,
}

/// One requested feature that produced no result, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureError {
    /// The Azure feature name, e.g. `read`.
    pub feature: String,
    /// `innererror.code` is Sightline's stable code (`RemoteUnauthorized`, `RemoteTimeout`, …).
    pub error: ErrorBody,
    /// What the remote service itself answered, when it answered with an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_error: Option<ServiceErrorDetail>,
}

/// An Azure service's own error: HTTP status, and the `code` and `message` of its error body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceErrorDetail {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl FeatureError {
    /// `feature` (its Azure name) failed with `error`; keeps the service's own answer if any.
    pub fn new(feature: &str, error: &crate::SightlineError) -> Self {
        use crate::SightlineError as E;
        let service_error = match error {
            E::RemoteUnauthorized { status, code, message, .. } | E::RemoteServiceError { status, code, message, .. } => {
                Some(ServiceErrorDetail { status: *status, code: code.clone(), message: message.clone() })
            }
            E::RemoteModelNotFound { code, message, .. } => Some(ServiceErrorDetail { status: 404, code: code.clone(), message: message.clone() }),
            _ => None,
        };
        FeatureError { feature: feature.to_string(), error: ErrorResponse::from(error).error, service_error }
    }
}

/// `readResult`: the text of the image as one block of lines in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadResult {
    /// At most one block; empty when the image has no text.
    pub blocks: Vec<DetectedTextBlock>,
    /// Sightline addition: every line's text joined by newlines, as Document Intelligence's
    /// `content` gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Sightline addition: which engine read the text, `"local"` (PP-OCRv5) or `"azure"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedTextBlock {
    pub lines: Vec<DetectedTextLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedTextLine {
    pub text: String,
    /// Four corners, clockwise from the top-left of the text as it reads.
    pub bounding_polygon: Vec<ImagePoint>,
    pub words: Vec<DetectedTextWord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedTextWord {
    pub text: String,
    pub bounding_polygon: Vec<ImagePoint>,
    /// In 0..=1.
    pub confidence: f32,
}

/// An integer pixel position (Azure's `ImagePoint`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImagePoint {
    pub x: u32,
    pub y: u32,
}

impl ReadResult {
    /// Lines in reading order as one block (none when there are no lines), with `content`.
    pub fn from_lines(lines: Vec<DetectedTextLine>, backend: &str) -> Self {
        let content = lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n");
        ReadResult {
            blocks: if lines.is_empty() { Vec::new() } else { vec![DetectedTextBlock { lines }] },
            content: Some(content),
            backend: Some(backend.to_string()),
        }
    }
}

/// Size of the analysed image, after EXIF orientation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageMetadata {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagsResult {
    pub values: Vec<DetectedTag>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DetectedTag {
    pub name: String,
    /// In 0..=1: SigLIP's sigmoid probability that the tag describes the image.
    pub confidence: f32,
}

/// `captionResult`. `confidence` is the model's own: the geometric mean of the probabilities of
/// the caption's tokens, from the server's token log-probabilities. A server that gives none
/// leaves it out (and the result's `warning` says so): never a number that only looks measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaptionResult {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// Sightline addition: who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ModelSource>,
}

/// Sightline addition on the vision-language results: the API shape called (`azure-openai` or
/// `openai-compatible`) and the model the server said answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSource {
    pub backend: String,
    pub model: String,
}

/// `denseCaptionsResult`: the first value describes the whole image (its box is the image), as
/// Azure's does; at most 10.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DenseCaptionsResult {
    pub values: Vec<DenseCaption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ModelSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DenseCaption {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    pub bounding_box: ImageBoundingBox,
}

/// `objectsResult`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectsResult {
    pub values: Vec<DetectedObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ModelSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedObject {
    pub bounding_box: ImageBoundingBox,
    pub tags: Vec<ObjectTag>,
}

/// An object's name; `confidence` as in [`CaptionResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectTag {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmartCropsResult {
    pub values: Vec<CropRegion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CropRegion {
    pub aspect_ratio: f32,
    pub bounding_box: ImageBoundingBox,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeopleResult {
    pub values: Vec<DetectedPerson>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DetectedPerson {
    pub bounding_box: ImageBoundingBox,
    pub confidence: f32,
}

/// A face as Image Analysis 3.2 listed them (`faceRectangle`), with landmarks and score.
///
/// The local detector fills `landmarks` (five points) and `score`; the Face API gives no score,
/// and its detail, when asked for, comes verbatim in `faceLandmarks` (27 points) and
/// `faceAttributes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceInfo {
    pub face_rectangle: FaceRectangle,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landmarks: Option<FaceLandmarks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    /// Face API: the 27 named landmarks (`pupilLeft`, `noseTip`, …), when requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_landmarks: Option<std::collections::BTreeMap<String, Point>>,
    /// Face API: the attributes requested (`headPose`, `blur`, `mask`, …), as the service gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub face_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceRectangle {
    pub left: u32,
    pub top: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaceLandmarks {
    pub eye_right: Point,
    pub eye_left: Point,
    pub nose_tip: Point,
    pub mouth_right: Point,
    pub mouth_left: Point,
}

impl From<&crate::people::Face> for FaceInfo {
    fn from(face: &crate::people::Face) -> Self {
        let b = ImageBoundingBox::from(face.rect);
        let p = |i: usize| Point { x: face.landmarks[i][0], y: face.landmarks[i][1] };
        FaceInfo {
            face_rectangle: FaceRectangle { left: b.x, top: b.y, width: b.w, height: b.h },
            landmarks: Some(FaceLandmarks { eye_right: p(0), eye_left: p(1), nose_tip: p(2), mouth_right: p(3), mouth_left: p(4) }),
            score: Some(face.score),
            face_landmarks: None,
            face_attributes: None,
        }
    }
}

/// Integer pixel rectangle: top-left corner, width, height.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageBoundingBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl From<[f32; 4]> for ImageBoundingBox {
    /// Round a float left/top/width/height rectangle outwards to whole pixels.
    fn from([x, y, w, h]: [f32; 4]) -> Self {
        let (x0, y0) = (x.max(0.0).floor(), y.max(0.0).floor());
        let (x1, y1) = ((x + w).ceil(), (y + h).ceil());
        ImageBoundingBox { x: x0 as u32, y: y0 as u32, w: (x1 - x0).max(0.0) as u32, h: (y1 - y0).max(0.0) as u32 }
    }
}

/// `Azure.Core.Foundations.ErrorResponse`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    pub innererror: InnerError,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InnerError {
    pub code: String,
    pub message: String,
}

impl From<&crate::SightlineError> for ErrorResponse {
    fn from(error: &crate::SightlineError) -> Self {
        let message = error.to_string();
        ErrorResponse {
            error: ErrorBody {
                code: error.azure_code().to_string(),
                message: message.clone(),
                innererror: InnerError { code: error.code().to_string(), message },
            },
        }
    }
}
