//! `analyze`: one call, Azure Image Analysis 4.0's request options in, its result shape out.
//!
//! Options mirror the REST query (`features`, `language`, `smartcrops-aspect-ratios`,
//! `model-version`) and are checked the way the service checks them, before any pixel work,
//! with the same error codes (InvalidRequest / NotSupportedVisualFeature, …).

use serde::Deserialize;

use crate::azure::{
    DetectedPerson, DetectedTag, FaceInfo, ImageAnalysisResult, ImageBoundingBox, ImageMetadata, PeopleResult,
    ReadResult, SmartCropsResult, TagsResult,
};
use crate::faces::{FaceDetector, DEFAULT_SCORE_THRESHOLD};
use crate::ocr::OcrEngine;
use crate::color::analyze_color;
use crate::v32::{self, PromptSet};
use crate::decode::decode_image;
use crate::error::{Result, SightlineError};
use crate::siglip::SiglipModel;
use crate::smart_crop::{smart_crops, validate_ratios, SaliencyMap};
use crate::tags::TagIndex;

/// The visual features Sightline computes locally: 4.0's, then 3.2's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Tags,
    SmartCrops,
    People,
    Color,
    ImageType,
    Adult,
    Categories,
    Read,
}

impl Feature {
    const ALL: [(&'static str, Feature); 8] = [
        ("tags", Feature::Tags),
        ("smartCrops", Feature::SmartCrops),
        ("people", Feature::People),
        ("color", Feature::Color),
        ("imageType", Feature::ImageType),
        ("adult", Feature::Adult),
        ("categories", Feature::Categories),
        ("read", Feature::Read),
    ];

    /// The Azure name of the feature.
    pub fn name(self) -> &'static str {
        Feature::ALL.iter().find(|(_, f)| *f == self).map(|(n, _)| *n).unwrap_or("unknown")
    }

    /// An Azure feature name (case-insensitive), if Sightline computes it.
    fn parse(name: &str) -> Option<Feature> {
        Feature::ALL.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.trim())).map(|&(_, f)| f)
    }

    /// Features answered from the tags file's precomputed text embeddings.
    fn needs_tags_file(self) -> bool {
        !matches!(self, Feature::SmartCrops | Feature::People | Feature::Color | Feature::Read)
    }

    /// Features that need the SigLIP vision tower to run on the image.
    fn needs_vision(self) -> bool {
        !matches!(self, Feature::People | Feature::Color | Feature::Read)
    }

    /// Features that use the face detector (smart crops only when one is loaded).
    fn uses_faces(self) -> bool {
        matches!(self, Feature::People | Feature::SmartCrops)
    }
}

/// Azure's feature names that exist in the service but are not available here, with why.
const UNAVAILABLE: &[(&str, &str)] = &[
    ("caption", "captions need a generative model; Sightline runs SigLIP, which does not write text"),
    ("denseCaptions", "captions need a generative model; Sightline runs SigLIP, which does not write text"),
    ("objects", "object detection is not available yet; use tags, or labels for zero-shot checks"),
];

/// Defaults chosen for SigLIP's sigmoid probabilities (independent per tag, typically far below
/// 1 even for correct tags); not yet calibrated against the real model's outputs.
pub const DEFAULT_TAG_THRESHOLD: f32 = 0.1;
pub const DEFAULT_MAX_TAGS: usize = 20;

/// The request, as JSON field names (the wasm API passes this object).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalyzeOptions {
    /// Azure feature names, e.g. `["tags", "smartCrops"]`; at least one.
    pub features: Vec<String>,
    /// Two-letter language code; tags exist in English only for now.
    pub language: Option<String>,
    pub smartcrops_aspect_ratios: Option<Vec<f32>>,
    /// `latest` or this build's model version.
    pub model_version: Option<String>,
    /// Sightline addition: zero-shot labels scored alongside the tags.
    pub labels: Option<Vec<String>>,
    pub tag_threshold: Option<f32>,
    pub max_tags: Option<usize>,
    /// Sightline addition: also return the image's unit embedding (for search and live labels).
    pub include_embedding: Option<bool>,
    /// Where `read` runs: `local` (PP-OCRv5), `azure` (Document Intelligence) or `auto` (Azure
    /// when an endpoint is configured, else local; the default).
    pub read_backend: Option<Backend>,
    /// Where `people` runs: `local` (YuNet), `azure` (Face API) or `auto`.
    pub people_backend: Option<Backend>,
}

/// Where a feature that exists both locally and as an Azure service runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Auto,
    Local,
    Azure,
}

/// Which Azure services the caller has configured (endpoint and key), so `auto` can choose them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoteServices {
    /// Document Intelligence Read, for `read`.
    pub read: bool,
    /// Face API detect, for `people`.
    pub face: bool,
}

/// Options after validation.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeRequest {
    pub features: Vec<Feature>,
    pub aspect_ratios: Vec<f32>,
    pub labels: Vec<String>,
    pub tag_threshold: f32,
    pub max_tags: usize,
    /// Requested features the caller answers through an Azure service; `analyze` skips them.
    pub remote: Vec<Feature>,
}

impl AnalyzeRequest {
    pub fn wants(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// Requested and answered here, on the device.
    pub fn local(&self, feature: Feature) -> bool {
        self.wants(feature) && !self.remote.contains(&feature)
    }
}

/// What `modelVersion` says in results: the model and the Sightline build that ran it (just
/// the build when no SigLIP model was needed and none is loaded).
pub fn model_version(model: Option<&SiglipModel>) -> String {
    match model {
        Some(model) => format!("{}+sightline-{}", model.descriptor().name, env!("CARGO_PKG_VERSION")),
        None => format!("sightline-{}", env!("CARGO_PKG_VERSION")),
    }
}

impl AnalyzeOptions {
    fn known_features(&self) -> impl Iterator<Item = Feature> + '_ {
        self.features.iter().filter_map(|name| Feature::parse(name))
    }

    /// Whether the request needs the tags file (so a caller knows what to load before
    /// `validate` reports anything else).
    pub fn uses_tags_file(&self) -> bool {
        self.known_features().any(Feature::needs_tags_file)
    }

    /// Whether the request would use a face detector if one is available.
    pub fn uses_face_model(&self) -> bool {
        self.known_features().any(Feature::uses_faces)
    }

    /// Whether the request needs the SigLIP model (anything but people, read and color).
    pub fn uses_siglip(&self) -> bool {
        self.known_features().any(Feature::needs_vision)
            || self.labels.as_ref().is_some_and(|l| !l.is_empty())
            || self.include_embedding.unwrap_or(false)
    }

    /// Whether the request may read text on the device (so a caller loads the OCR models).
    pub fn uses_ocr_model(&self) -> bool {
        self.known_features().any(|f| f == Feature::Read) && self.read_backend != Some(Backend::Azure)
    }

    /// Check the request as the service would; nothing has touched the image yet. Every
    /// feature runs locally.
    pub fn validate(&self, model: Option<&SiglipModel>) -> Result<AnalyzeRequest> {
        self.validate_with(model, RemoteServices::default())
    }

    /// `validate`, choosing local or Azure for `read` and `people` from the backends asked for
    /// and the services configured.
    pub fn validate_with(&self, model: Option<&SiglipModel>, services: RemoteServices) -> Result<AnalyzeRequest> {
        if self.features.is_empty() {
            return Err(SightlineError::request(
                "MissingVisualFeature",
                "at least one visual feature must be specified in 'features'",
            ));
        }
        let mut features = Vec::new();
        for name in &self.features {
            let feature = match Feature::parse(name) {
                Some(feature) => feature,
                None => {
                    let other = name.trim();
                    let reason = UNAVAILABLE
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(other))
                        .map(|(_, why)| why.to_string())
                        .unwrap_or_else(|| "it is not a visual feature".into());
                    return Err(SightlineError::request(
                        "NotSupportedVisualFeature",
                        format!(
                            "the feature '{other}' is not supported: {reason}. Supported here: tags, smartCrops, people, read, color, imageType, adult, categories"
                        ),
                    ));
                }
            };
            if !features.contains(&feature) {
                features.push(feature);
            }
        }
        let language = self.language.as_deref().unwrap_or("en");
        if !language.eq_ignore_ascii_case("en") {
            return Err(SightlineError::request(
                "NotSupportedLanguage",
                format!("the language '{language}' is not supported; supported: en"),
            ));
        }
        let version = self.model_version.as_deref().unwrap_or("latest");
        if version != "latest" && version != model_version(model) {
            return Err(SightlineError::request(
                "NotSupportedModelVersion",
                format!("the model version '{version}' is not available; use 'latest' or '{}'", model_version(model)),
            ));
        }
        let aspect_ratios = self.smartcrops_aspect_ratios.clone().unwrap_or_default();
        validate_ratios(&aspect_ratios)?;
        let tag_threshold = self.tag_threshold.unwrap_or(DEFAULT_TAG_THRESHOLD);
        if !(0.0..=1.0).contains(&tag_threshold) {
            return Err(SightlineError::request(
                "InvalidParameter",
                format!("tagThreshold {tag_threshold} must be between 0 and 1"),
            ));
        }
        let labels = self.labels.clone().unwrap_or_default();
        if let Some(i) = labels.iter().position(|l| l.trim().is_empty()) {
            return Err(SightlineError::request("InvalidParameter", format!("label {} is empty", i + 1)));
        }
        let mut remote = Vec::new();
        for (feature, backend, configured, option, service) in [
            (Feature::Read, self.read_backend, services.read, "readBackend", "a Document Intelligence endpoint and key"),
            (Feature::People, self.people_backend, services.face, "peopleBackend", "a Face API endpoint and key"),
        ] {
            let azure = match backend.unwrap_or_default() {
                Backend::Local => false,
                Backend::Auto => configured,
                Backend::Azure if configured => true,
                Backend::Azure => {
                    return Err(SightlineError::request(
                        "InvalidParameter",
                        format!("{option} \"azure\" needs {service}; configure them or use \"local\""),
                    ))
                }
            };
            if azure && features.contains(&feature) {
                remote.push(feature);
            }
        }
        Ok(AnalyzeRequest {
            remote,
            features,
            aspect_ratios,
            labels,
            tag_threshold,
            max_tags: self.max_tags.unwrap_or(DEFAULT_MAX_TAGS),
        })
    }
}

/// What an analysis can draw on: the SigLIP model, and optionally the tags file built for it,
/// the face detector and the OCR engine. Features that need a missing part are refused with a
/// clear error.
#[derive(Debug, Clone, Copy)]
pub struct Analyzer<'a> {
    /// SigLIP: needed by every feature but people, read and color, by labels and embeddings.
    pub model: Option<&'a SiglipModel>,
    pub tags: Option<&'a TagIndex>,
    pub faces: Option<&'a FaceDetector>,
    pub ocr: Option<&'a OcrEngine>,
}

/// Analyse image bytes with a model and (for tags and the zero-shot 3.2 features) its tags file.
pub fn analyze(
    model: &SiglipModel,
    tags: Option<&TagIndex>,
    image_bytes: &[u8],
    options: &AnalyzeOptions,
) -> Result<ImageAnalysisResult> {
    Analyzer { model: Some(model), tags, faces: None, ocr: None }.analyze(image_bytes, options)
}

impl Analyzer<'_> {
    /// Analyse with every feature on the device.
    pub fn analyze(&self, image_bytes: &[u8], options: &AnalyzeOptions) -> Result<ImageAnalysisResult> {
        let request = options.validate(self.model)?;
        self.analyze_request(image_bytes, options, &request)
    }

    /// Analyse a validated request: the features in `request.remote` are left for the caller.
    pub fn analyze_request(
        &self,
        image_bytes: &[u8],
        options: &AnalyzeOptions,
        request: &AnalyzeRequest,
    ) -> Result<ImageAnalysisResult> {
        let (model, tags) = (self.model, self.tags);
        let wants = |f: Feature| request.local(f);
        if tags.is_none() && request.features.iter().any(|f| f.needs_tags_file()) {
            return Err(SightlineError::TagsNotLoaded);
        }
        if self.faces.is_none() && wants(Feature::People) {
            return Err(SightlineError::FaceModelNotLoaded);
        }
        if self.ocr.is_none() && wants(Feature::Read) {
            return Err(SightlineError::OcrModelNotLoaded);
        }
        let image = decode_image(image_bytes)?;
        let (width, height) = (image.width(), image.height());
        // SigLIP is the slow part: skip it when only faces, colours or text were asked for.
        let needs_vision = request.features.iter().any(|f| f.needs_vision())
            || !request.labels.is_empty()
            || options.include_embedding.unwrap_or(false);
        // The image's SigLIP features with the model's calibration, when a feature needs them.
        let vision = match (needs_vision, model) {
            (false, _) => None,
            (true, Some(model)) => Some((model.vision_features(&image)?, model.calibration())),
            (true, None) => return Err(SightlineError::SiglipModelNotLoaded),
        };

        let custom = if let (Some((vision, _)), Some(model), false) = (&vision, model, request.labels.is_empty()) {
            let label_embeddings = model.embed_labels(&request.labels)?;
            let scores = model.score_labels(&vision.embedding, &request.labels, &label_embeddings);
            let values = scores.into_iter().map(|s| DetectedTag { name: s.label, confidence: s.confidence }).collect();
            Some(TagsResult { values })
        } else {
            None
        };

        let tags_result = tags.zip(vision.as_ref()).filter(|_| wants(Feature::Tags)).map(|(index, (vision, calibration))| {
            let mut values = index.tag(&vision.embedding, *calibration, request.tag_threshold, request.max_tags);
            // Custom labels above the threshold join the tags, unless a tag has that name already.
            for label in custom.iter().flat_map(|c| &c.values) {
                if label.confidence >= request.tag_threshold && !values.iter().any(|t| t.name == label.name) {
                    values.push(label.clone());
                }
            }
            values.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
            TagsResult { values }
        });

        // Faces serve the people feature and, when a detector is loaded, keep smart crops on faces.
        let faces = match self.faces.filter(|_| request.features.iter().any(|&f| wants(f) && f.uses_faces())) {
            Some(detector) => detector.detect(&image.rgb, DEFAULT_SCORE_THRESHOLD)?,
            None => Vec::new(),
        };
        let face_boxes: Vec<ImageBoundingBox> = faces.iter().map(|f| ImageBoundingBox::from(f.rect)).collect();

        let smart_crops_result = vision.as_ref().filter(|_| wants(Feature::SmartCrops)).map(|(vision, _)| {
            let saliency = SaliencyMap::from_patches(&vision.patches, &vision.embedding, vision.grid);
            SmartCropsResult { values: smart_crops(width, height, &request.aspect_ratios, &saliency, &face_boxes) }
        });
        let people_result = wants(Feature::People).then(|| PeopleResult {
            values: faces
                .iter()
                .zip(&face_boxes)
                .map(|(face, &bounding_box)| DetectedPerson { bounding_box, confidence: face.score })
                .collect(),
        });

        let zero_shot = |feature: Feature, set: &PromptSet| {
            tags.zip(vision.as_ref())
                .filter(|_| wants(feature))
                .map(|(index, (vision, calibration))| index.set_logits(set, &vision.embedding, *calibration))
        };
        let color = wants(Feature::Color).then(|| analyze_color(&image.rgb));
        // Last, as it may give the image up while its detector runs (see `read_owned`).
        let read_result = match self.ocr.filter(|_| wants(Feature::Read)) {
            Some(engine) => {
                let reload = || decode_image(image_bytes).map(|decoded| decoded.rgb);
                Some(ReadResult::from_lines(engine.read_owned(image.rgb, reload)?, "local"))
            }
            None => None,
        };
        let synthetic = model.filter(|m| m.descriptor().synthetic);
        Ok(ImageAnalysisResult {
            model_version: model_version(model),
            warning: synthetic.map(|model| {
                format!("{} is a synthetic test model with random weights: these results are meaningless", model.descriptor().name)
            }),
            metadata: ImageMetadata { width, height },
            tags_result,
            smart_crops_result,
            people_result,
            read_result,
            faces: wants(Feature::People).then(|| faces.iter().map(FaceInfo::from).collect()),
            custom_labels_result: custom,
            embedding: vision.as_ref().filter(|_| options.include_embedding.unwrap_or(false)).map(|(v, _)| v.embedding.clone()),
            color,
            image_type: zero_shot(Feature::ImageType, &v32::IMAGE_TYPE).map(|l| v32::image_type(&l)),
            adult: zero_shot(Feature::Adult, &v32::ADULT).map(|l| v32::adult(&l)),
            categories: zero_shot(Feature::Categories, &v32::CATEGORIES).map(|l| v32::categories(&l)),
            feature_errors: None,
        })
    }
}
