//! Face API detect v1.2 with `detection_03`: one synchronous call whose faces become
//! `peopleResult` boxes and the top-level `faces` list, with the landmarks and attributes asked
//! for. `returnFaceId=false` is always sent: face IDs default to on and need Microsoft's approval.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Deserialize;

use super::config::{FaceServiceConfig, FACE_SERVICE};
use super::http::{HttpClient, HttpRequest, Method, KEY_HEADER};
use super::retry::{redacting, Call, RetryPolicy};
use crate::azure::{
    DetectedPerson, FaceInfo, FaceLandmarks, FaceRectangle, ImageBoundingBox, ImageMetadata, PeopleResult, Point,
};
use crate::error::{Result, SightlineError};

/// What detection gives: the people boxes and the same faces in the 3.2 `faces` shape.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectedFaces {
    pub people: PeopleResult,
    pub faces: Vec<FaceInfo>,
}

/// The detect URL for a configuration (the key is never part of it).
pub fn detect_url(config: &FaceServiceConfig) -> String {
    let mut url = format!(
        "{}/face/v1.2/detect?detectionModel=detection_03&returnFaceId=false&returnFaceLandmarks={}",
        config.service.endpoint, config.landmarks
    );
    if !config.attributes.is_empty() {
        url.push_str("&returnFaceAttributes=");
        url.push_str(&config.attributes.join(","));
    }
    // qualityForRecognition is computed for a recognition model; recognition_04 is the current one.
    if config.attributes.iter().any(|a| a == "qualityForRecognition") {
        url.push_str("&recognitionModel=recognition_04");
    }
    url
}

/// Detect the faces in `image` whose upright size is `size`. The key never appears in an error,
/// whatever the service's answer quotes.
pub async fn detect_faces(
    http: &dyn HttpClient,
    config: &FaceServiceConfig,
    policy: &RetryPolicy,
    image: Rc<[u8]>,
    size: ImageMetadata,
) -> Result<DetectedFaces> {
    redacting(&config.service.key, async move {
        let call = Call::new(http, policy, FACE_SERVICE);
        let request = HttpRequest {
            method: Method::Post,
            url: detect_url(config),
            // The Face API takes binary images as octet-stream, whatever their format.
            headers: vec![
                ("Content-Type".into(), "application/octet-stream".into()),
                (KEY_HEADER.into(), config.service.key.clone()),
            ],
            body: Some(image),
            timeout: policy.request_timeout,
        };
        let response = call.send(request, "detecting faces").await?;
        let faces: Vec<DetectedFace> = serde_json::from_slice(&response.body).map_err(|e| {
            SightlineError::RemoteMalformedResponse { service: FACE_SERVICE, reason: format!("the detect answer is not the expected JSON list of faces ({e})") }
        })?;
        Ok(to_faces(faces, config, size))
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DetectedFace {
    face_rectangle: Rectangle,
    face_landmarks: Option<BTreeMap<String, Point>>,
    face_attributes: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Negative or fractional numbers from a service are clamped, not trusted.
#[derive(Debug, Deserialize)]
struct Rectangle {
    top: f64,
    left: f64,
    width: f64,
    height: f64,
}

pub(crate) fn to_faces(faces: Vec<DetectedFace>, config: &FaceServiceConfig, size: ImageMetadata) -> DetectedFaces {
    let mut people = Vec::with_capacity(faces.len());
    let mut infos = Vec::with_capacity(faces.len());
    for face in faces {
        let r = &face.face_rectangle;
        let b = ImageBoundingBox::from([r.left as f32, r.top as f32, r.width as f32, r.height as f32]);
        // Keep the box inside the image, as the local detector's boxes are.
        let x = b.x.min(size.width);
        let y = b.y.min(size.height);
        let bounding_box = ImageBoundingBox { x, y, w: b.w.min(size.width - x), h: b.h.min(size.height - y) };
        // The Face API gives no detection score; its faces are the ones it accepted.
        people.push(DetectedPerson { bounding_box, confidence: 1.0 });
        let landmarks = face.face_landmarks.as_ref().and_then(|l| {
            Some(FaceLandmarks {
                eye_right: *l.get("pupilRight")?,
                eye_left: *l.get("pupilLeft")?,
                nose_tip: *l.get("noseTip")?,
                mouth_right: *l.get("mouthRight")?,
                mouth_left: *l.get("mouthLeft")?,
            })
        });
        infos.push(FaceInfo {
            face_rectangle: FaceRectangle { left: bounding_box.x, top: bounding_box.y, width: bounding_box.w, height: bounding_box.h },
            landmarks,
            score: None,
            face_landmarks: face.face_landmarks.filter(|_| config.landmarks),
            face_attributes: face.face_attributes.filter(|_| !config.attributes.is_empty()),
        });
    }
    DetectedFaces { people: PeopleResult { values: people }, faces: infos }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(landmarks: bool, attributes: &[&str]) -> FaceServiceConfig {
        let attributes: Vec<String> = attributes.iter().map(|a| a.to_string()).collect();
        FaceServiceConfig::new("https://f.cognitiveservices.azure.com/", "k", landmarks, &attributes, false).unwrap()
    }

    #[test]
    fn the_url_never_asks_for_face_ids_and_carries_no_key() {
        let url = detect_url(&config(true, &["headPose", "qualityForRecognition"]));
        assert_eq!(
            url,
            "https://f.cognitiveservices.azure.com/face/v1.2/detect?detectionModel=detection_03&returnFaceId=false\
             &returnFaceLandmarks=true&returnFaceAttributes=headPose,qualityForRecognition&recognitionModel=recognition_04"
        );
        assert!(!detect_url(&config(false, &[])).contains("returnFaceAttributes"));
    }

    #[test]
    fn rectangles_become_people_and_faces_with_the_detail_asked_for() {
        let faces: Vec<DetectedFace> = serde_json::from_str(
            r#"[{"faceRectangle": {"width": 78, "height": 78, "left": 394, "top": 54},
                 "faceLandmarks": {"pupilLeft": {"x": 412.7, "y": 78.4}, "pupilRight": {"x": 446.8, "y": 74.2},
                   "noseTip": {"x": 437.7, "y": 92.4}, "mouthLeft": {"x": 417.8, "y": 114.4}, "mouthRight": {"x": 451.3, "y": 109.3}},
                 "faceAttributes": {"headPose": {"roll": 2.1, "yaw": 3, "pitch": 1.6}}},
                {"faceRectangle": {"width": 100, "height": 100, "left": 600, "top": -5}}]"#,
        )
        .unwrap();
        let size = ImageMetadata { width: 640, height: 480 };
        let detected = to_faces(faces, &config(true, &["headPose"]), size);
        assert_eq!(detected.people.values[0].bounding_box, ImageBoundingBox { x: 394, y: 54, w: 78, h: 78 });
        assert_eq!(detected.people.values[1].bounding_box, ImageBoundingBox { x: 600, y: 0, w: 40, h: 95 }, "clipped");
        let first = &detected.faces[0];
        assert_eq!(first.face_rectangle, FaceRectangle { left: 394, top: 54, width: 78, height: 78 });
        assert_eq!(first.landmarks.unwrap().nose_tip, Point { x: 437.7, y: 92.4 });
        assert_eq!(first.face_landmarks.as_ref().unwrap().len(), 5);
        assert!(first.face_attributes.as_ref().unwrap().contains_key("headPose"));
        assert_eq!(first.score, None);
        assert!(detected.faces[1].landmarks.is_none());
    }
}
