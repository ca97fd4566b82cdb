//! The second half of `Analyzer::analyze_with_services`: after the local analysis
//! (`Analyzer::start`), the features configured to run on a service, merged into one result. A
//! remote feature that fails leaves its error in `featureErrors`, its result present and empty
//! (except `captionResult` and `denseCaptionsResult`, which Azure's schema does not allow empty),
//! and every local result in place; only a cancellation fails the whole call. `caption`,
//! `denseCaptions` and `objects` are answered by one call to the vision-language model.
//!
//! It is split from the local half so the browser can run the synchronous local part on the
//! analyzer it borrows and hand an owned, `'static` future to JavaScript.

use std::rc::Rc;

use image::ImageFormat;

use super::caption::{describe, CaptionRequest};
use super::config::RemoteConfig;
use super::document_intelligence::read_text;
use super::face::detect_faces;
use super::http::HttpClient;
use crate::analyze::{AnalyzeRequest, Feature};
use crate::azure::{FeatureError, ImageAnalysisResult, ObjectsResult, PeopleResult, ReadResult};
use crate::decode::decode_image;
use crate::error::{Result, SightlineError};

/// The local results of a call, and what is left to ask the services.
#[derive(Debug)]
pub struct PendingAnalysis {
    result: ImageAnalysisResult,
    remote: Vec<Feature>,
    image: Rc<[u8]>,
    config: RemoteConfig,
    gender_neutral_caption: bool,
}

impl PendingAnalysis {
    pub(crate) fn new(result: ImageAnalysisResult, request: &AnalyzeRequest, image: &[u8], config: RemoteConfig) -> Self {
        PendingAnalysis {
            result,
            remote: request.remote.clone(),
            image: Rc::from(image),
            config,
            gender_neutral_caption: request.gender_neutral_caption,
        }
    }

    /// The features that will go to a remote service.
    pub fn remote_features(&self) -> &[Feature] {
        &self.remote
    }

    /// Ask the services, then merge.
    pub async fn finish(self, http: &dyn HttpClient) -> Result<ImageAnalysisResult> {
        let PendingAnalysis { mut result, remote, image, config, gender_neutral_caption } = self;
        let size = result.metadata;
        let mut errors = Vec::new();
        let (described, remote): (Vec<Feature>, Vec<Feature>) = remote.into_iter().partition(|f| !f.spec().local);
        if let (false, Some(caption)) = (described.is_empty(), &config.caption) {
            let request = CaptionRequest::new(&described, gender_neutral_caption);
            match describe(http, caption, &config.policy, &image, size, request).await {
                Ok(captions) => {
                    result.caption_result = captions.caption;
                    result.dense_captions_result = captions.dense_captions;
                    result.objects_result = captions.objects;
                    if let Some(warning) = captions.warning {
                        result.warning = Some(match result.warning.take() {
                            Some(first) => format!("{first}; {warning}"),
                            None => warning,
                        });
                    }
                }
                Err(canceled @ SightlineError::RemoteCanceled { .. }) => return Err(canceled),
                Err(error) => {
                    if described.contains(&Feature::Objects) {
                        result.objects_result = Some(ObjectsResult { values: Vec::new(), source: None });
                    }
                    errors.extend(described.iter().map(|f| FeatureError::new(f.name(), &error)));
                }
            }
        }
        for feature in remote {
            let outcome = match (feature, &config.read, &config.face) {
                (Feature::Read, Some(read), _) => match upload_bytes(&image, &READ_FORMATS) {
                    Ok((bytes, content_type)) => {
                        read_text(http, read, &config.policy, bytes, content_type, size).await.map(|r| result.read_result = Some(r))
                    }
                    Err(e) => Err(e),
                },
                (Feature::People, _, Some(face)) => match upload_bytes(&image, &FACE_FORMATS) {
                    Ok((bytes, _)) => detect_faces(http, face, &config.policy, bytes, size).await.map(|detected| {
                        result.people_result = Some(detected.people);
                        result.faces = Some(detected.faces);
                    }),
                    Err(e) => Err(e),
                },
                // validate_with only sends configured features here.
                (other, _, _) => Err(SightlineError::argument(format!("no remote service is configured for {}", other.name()))),
            };
            match outcome {
                Ok(()) => {}
                Err(canceled @ SightlineError::RemoteCanceled { .. }) => return Err(canceled),
                Err(error) => {
                    // The feature's result is still there, empty, as Azure's clients expect of
                    // a feature they asked for: `result.read.blocks` must not crash user code.
                    match feature {
                        Feature::Read => result.read_result = Some(ReadResult::from_lines(Vec::new(), "azure")),
                        Feature::People => {
                            result.people_result = Some(PeopleResult { values: Vec::new() });
                            result.faces = Some(Vec::new());
                        }
                        _ => {}
                    }
                    errors.push(FeatureError::new(feature.name(), &error));
                }
            }
        }
        if !errors.is_empty() {
            result.feature_errors.get_or_insert_with(Vec::new).extend(errors);
        }
        Ok(result)
    }
}

/// Formats Document Intelligence Read takes as images (it also takes PDF and HEIF, which
/// Sightline does not decode).
const READ_FORMATS: [ImageFormat; 4] = [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Bmp, ImageFormat::Tiff];
/// Formats the Face API detects on.
const FACE_FORMATS: [ImageFormat; 4] = [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::Bmp];

/// The bytes to upload and their content type: the original when the service takes its format,
/// else the decoded (upright) image as PNG, so WebP, GIF or TIFF still work everywhere.
fn upload_bytes(image: &Rc<[u8]>, accepted: &[ImageFormat]) -> Result<(Rc<[u8]>, &'static str)> {
    if let Ok(format) = image::guess_format(image) {
        if accepted.contains(&format) {
            return Ok((image.clone(), format.to_mime_type()));
        }
    }
    let decoded = decode_image(image)?;
    let mut png = Vec::new();
    decoded
        .rgb
        .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| SightlineError::argument(format!("cannot re-encode the image as PNG for upload: {e}")))?;
    Ok((Rc::from(png), "image/png"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_formats_are_uploaded_as_png() {
        let mut webp = Vec::new();
        image::RgbImage::from_pixel(64, 64, image::Rgb([200, 10, 10]))
            .write_to(&mut std::io::Cursor::new(&mut webp), ImageFormat::WebP)
            .unwrap();
        let webp: Rc<[u8]> = Rc::from(webp);
        let (bytes, content_type) = upload_bytes(&webp, &READ_FORMATS).unwrap();
        assert_eq!(content_type, "image/png");
        assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Png);
        let (same, _) = upload_bytes(&bytes, &READ_FORMATS).unwrap();
        assert!(Rc::ptr_eq(&same, &bytes), "a PNG goes as it is");
    }
}
