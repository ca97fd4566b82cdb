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
use crate::people::{PeopleDetector, DEFAULT_SCORE_THRESHOLD};
pub use crate::features::{Feature, Part, PartsNeeded};
use crate::features::{Service, CAPTION_MODEL, DOCUMENT_INTELLIGENCE, FACE_API, FEATURES};
use crate::read::{OcrEngine, OcrFiles};
pub use crate::remote::CaptionApi;
use crate::remote::{HttpClient, PendingAnalysis, RemoteConfig};
use crate::color::analyze_color;
use crate::v32::{self, PromptSet};
use crate::decode::decode_image;
use crate::error::{Result, SightlineError};
use crate::siglip::{ModelFiles, SiglipModel};
use crate::smart_crops::{smart_crops, validate_ratios, SaliencyMap};
use crate::tags::TagIndex;

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
    /// The API `caption` and `denseCaptions` must go through: `azure-openai`, `openai-compatible`,
    /// or `auto` (the configured vision-language model endpoint, whichever it is; the default).
    pub caption_backend: Option<CaptionBackend>,
    /// The same for `objects`.
    pub objects_backend: Option<CaptionBackend>,
    /// Azure's `gender-neutral-caption`: person/people/child rather than man/woman/boy/girl.
    pub gender_neutral_caption: Option<bool>,
}

/// Which API shape a vision-language feature must use (see [`CaptionApi`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptionBackend {
    #[default]
    Auto,
    AzureOpenai,
    OpenaiCompatible,
}

impl CaptionBackend {
    /// `auto`, or an API's name (see [`CaptionApi::parse`]).
    pub fn parse(name: &str) -> Option<CaptionBackend> {
        if name.trim().eq_ignore_ascii_case("auto") {
            return Some(CaptionBackend::Auto);
        }
        CaptionApi::parse(name).map(|api| match api {
            CaptionApi::AzureOpenai => CaptionBackend::AzureOpenai,
            CaptionApi::OpenaiCompatible => CaptionBackend::OpenaiCompatible,
        })
    }

    /// The API asked for; `None` for `auto`.
    pub fn api(self) -> Option<CaptionApi> {
        match self {
            CaptionBackend::Auto => None,
            CaptionBackend::AzureOpenai => Some(CaptionApi::AzureOpenai),
            CaptionBackend::OpenaiCompatible => Some(CaptionApi::OpenaiCompatible),
        }
    }
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
    /// The vision-language model's API, for `caption`, `denseCaptions` and `objects`.
    pub caption: Option<CaptionApi>,
}

impl RemoteServices {
    pub fn has(self, service: Service) -> bool {
        if service == DOCUMENT_INTELLIGENCE {
            self.read
        } else if service == FACE_API {
            self.face
        } else {
            service.name == CAPTION_MODEL.name && self.caption.is_some()
        }
    }
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
    pub include_embedding: bool,
    pub gender_neutral_caption: bool,
}

impl AnalyzeRequest {
    pub fn wants(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// Requested and answered here, on the device.
    pub fn local(&self, feature: Feature) -> bool {
        self.wants(feature) && !self.remote.contains(&feature)
    }

    /// The parts the local answer cannot do without, by the feature table.
    pub fn required_parts(&self) -> Vec<Part> {
        let mut needed = PartsNeeded::default();
        for &feature in self.features.iter().filter(|&&f| self.local(f)) {
            needed.add(feature.needs(), &[]);
        }
        if !self.labels.is_empty() || self.include_embedding {
            needed.add(&[Part::Siglip], &[]);
        }
        needed.required
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

    /// The backend asked for a feature that has an Azure service (`Auto` for the others).
    fn backend(&self, feature: Feature) -> Backend {
        match feature {
            Feature::Read => self.read_backend,
            Feature::People => self.people_backend,
            _ => None,
        }
        .unwrap_or_default()
    }

    /// Whether `feature` goes to its service: `azure`, or `auto` with the service configured.
    /// `azure` without one is an error. A feature only a service answers goes to it when it is
    /// configured and speaks the API its backend option asks for.
    fn on_service(&self, feature: Feature, services: RemoteServices) -> Result<bool> {
        let Some(service) = feature.service() else { return Ok(false) };
        if !feature.spec().local {
            let backend = if feature == Feature::Objects { self.objects_backend } else { self.caption_backend };
            return match (backend.unwrap_or_default().api(), services.caption) {
                (None, configured) => Ok(configured.is_some()),
                (Some(wanted), Some(api)) if wanted == api => Ok(true),
                (Some(wanted), configured) => Err(SightlineError::request(
                    "InvalidParameter",
                    format!(
                        "{} \"{}\" needs {} endpoint, {}",
                        service.backend_option,
                        wanted.name(),
                        wanted.article_name(),
                        configured.map_or("and none is configured".to_string(), |api| format!("but the configured one is {}", api.name()))
                    ),
                )),
            };
        }
        let configured = services.has(service);
        match self.backend(feature) {
            Backend::Local => Ok(false),
            Backend::Auto => Ok(configured),
            Backend::Azure if configured => Ok(true),
            Backend::Azure => Err(SightlineError::request(
                "InvalidParameter",
                format!("{} \"azure\" needs {}; configure them or use \"local\"", service.backend_option, service.needs),
            )),
        }
    }

    /// The parts this request will load on the device (by the feature table), given the services
    /// configured: what a caller loads before `validate` reports anything else. Unknown feature
    /// names need nothing (validation refuses them); a feature sent to its service needs nothing here.
    pub fn parts(&self, services: RemoteServices) -> PartsNeeded {
        let mut needed = PartsNeeded::default();
        for feature in self.known_features() {
            if !self.on_service(feature, services).unwrap_or(true) {
                needed.add(feature.needs(), feature.helped_by());
            }
        }
        if self.labels.as_ref().is_some_and(|l| !l.is_empty()) || self.include_embedding.unwrap_or(false) {
            needed.add(&[Part::Siglip], &[]);
        }
        needed
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
                    return Err(SightlineError::request(
                        "NotSupportedVisualFeature",
                        format!(
                            "the feature '{other}' is not supported: it is not a visual feature. Supported here: {}",
                            FEATURES.map(|row| row.name).join(", ")
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
        for row in FEATURES.iter().filter(|row| row.service.is_some()) {
            // `azure` without its service is refused even when the feature was not asked for.
            if self.on_service(row.feature, services)? && features.contains(&row.feature) {
                remote.push(row.feature);
            }
        }
        if let Some(unanswered) = features.iter().find(|f| !f.spec().local && !remote.contains(f)) {
            return Err(SightlineError::request(
                "NotSupportedVisualFeature",
                format!(
                    "the feature '{}' is written by a vision-language model, and none is configured: give {}",
                    unanswered.name(),
                    CAPTION_MODEL.needs
                ),
            ));
        }
        Ok(AnalyzeRequest {
            remote,
            features,
            aspect_ratios,
            labels,
            tag_threshold,
            max_tags: self.max_tags.unwrap_or(DEFAULT_MAX_TAGS),
            include_embedding: self.include_embedding.unwrap_or(false),
            gender_neutral_caption: self.gender_neutral_caption.unwrap_or(false),
        })
    }
}

/// What an analysis can draw on, each part optional and loaded on its own (see the feature table
/// in features.rs): the SigLIP model, the tags file built for it, the people detector (YuNet), the
/// read engine (PP-OCRv5), and the Azure services that can answer `read` and `people` instead. The
/// CLI, the wasm `Analyzer` and the tests all build this one type; a request that needs a part
/// that is not loaded is refused with the part's typed error.
#[derive(Debug, Default)]
pub struct Analyzer {
    siglip: Option<SiglipModel>,
    tags: Option<TagIndex>,
    people: Option<PeopleDetector>,
    read: Option<OcrEngine>,
    /// The Azure services for `read` and `people`; their keys live only here, in memory.
    pub services: RemoteConfig,
}

/// A borrowed view of an analyzer's parts: what one analysis runs on.
#[derive(Debug, Clone, Copy)]
struct Parts<'a> {
    siglip: Option<&'a SiglipModel>,
    tags: Option<&'a TagIndex>,
    people: Option<&'a PeopleDetector>,
    read: Option<&'a OcrEngine>,
}

/// Analyse image bytes with a model and (for tags and the zero-shot 3.2 features) its tags file.
pub fn analyze(
    model: &SiglipModel,
    tags: Option<&TagIndex>,
    image_bytes: &[u8],
    options: &AnalyzeOptions,
) -> Result<ImageAnalysisResult> {
    let parts = Parts { siglip: Some(model), tags, people: None, read: None };
    parts.analyze_request(image_bytes, options, &options.validate(Some(model))?)
}

impl Analyzer {
    /// An analyzer with nothing loaded: `color` works, every other feature needs a part.
    pub fn new() -> Analyzer {
        Analyzer::default()
    }

    pub fn with_siglip(mut self, model: SiglipModel) -> Analyzer {
        self.set_siglip(model);
        self
    }

    pub fn with_people(mut self, detector: PeopleDetector) -> Analyzer {
        self.people = Some(detector);
        self
    }

    pub fn with_read(mut self, engine: OcrEngine) -> Analyzer {
        self.read = Some(engine);
        self
    }

    pub fn with_services(mut self, services: RemoteConfig) -> Analyzer {
        self.services = services;
        self
    }

    /// Use this SigLIP model from now on; a tags file loaded for the previous one is dropped
    /// (it was built for that model's vectors).
    pub fn set_siglip(&mut self, model: SiglipModel) {
        self.siglip = Some(model);
        self.tags = None;
    }

    pub fn set_people(&mut self, detector: PeopleDetector) {
        self.people = Some(detector);
    }

    pub fn set_read(&mut self, engine: OcrEngine) {
        self.read = Some(engine);
    }

    /// Load the tags file built for the loaded SigLIP model (refused for another model).
    /// Returns the number of tags.
    pub fn load_tags(&mut self, tags_file: &[u8]) -> Result<usize> {
        let model = self.require_siglip()?;
        let index = TagIndex::from_bytes(tags_file, model)?;
        let count = index.len();
        self.tags = Some(index);
        Ok(count)
    }

    /// Load a part from its files by role (the roles of [`Part::spec`]); each file may come with
    /// its sha256 when the caller has it (SigLIP's ONNX files: hashing them again in wasm takes a
    /// second). Replaces the part if it was loaded.
    pub fn load(&mut self, part: Part, files: &[PartFile<'_>]) -> Result<()> {
        let spec = part.spec();
        if let Some(unknown) = files.iter().find(|f| !spec.roles.contains(&f.role) && !spec.optional_roles.contains(&f.role)) {
            return Err(SightlineError::argument(format!(
                "{} has no file of role \"{}\"; its roles are {}",
                spec.what,
                unknown.role,
                spec.roles.iter().chain(spec.optional_roles).copied().collect::<Vec<_>>().join(", ")
            )));
        }
        let file = |role: &str| files.iter().find(|f| f.role == role);
        let bytes = |role: &str| file(role).map(|f| f.bytes);
        let required = |role: &str| {
            bytes(role).ok_or_else(|| SightlineError::argument(format!("{} needs its {role} file", spec.what)))
        };
        match part {
            Part::Siglip => {
                let model = SiglipModel::load(ModelFiles {
                    descriptor: required("descriptor")?,
                    vision_model: required("vision")?,
                    text_model: bytes("text"),
                    tokenizer: bytes("tokenizer"),
                    vision_sha256: file("vision").and_then(|f| f.sha256),
                    text_sha256: file("text").and_then(|f| f.sha256),
                    dequantize_weights: None,
                })?;
                self.set_siglip(model);
            }
            Part::Tags => {
                self.load_tags(required("tags")?)?;
            }
            Part::People => self.people = Some(PeopleDetector::load(required("face")?)?),
            Part::Read => {
                let files = OcrFiles {
                    detector: required("detector")?,
                    recognizer: required("recognizer")?,
                    dictionary: required("dictionary")?,
                    orientation: bytes("orientation"),
                };
                self.read = Some(OcrEngine::load(files)?);
            }
        }
        Ok(())
    }

    pub fn has(&self, part: Part) -> bool {
        self.parts().has(part)
    }

    /// The parts loaded, in the table's order.
    pub fn loaded(&self) -> Vec<Part> {
        Part::ALL.into_iter().filter(|&part| self.has(part)).collect()
    }

    pub fn siglip(&self) -> Option<&SiglipModel> {
        self.siglip.as_ref()
    }

    /// The SigLIP model, or the error a call that needs it gets.
    pub fn require_siglip(&self) -> Result<&SiglipModel> {
        self.siglip.as_ref().ok_or(SightlineError::SiglipModelNotLoaded)
    }

    pub fn tags(&self) -> Option<&TagIndex> {
        self.tags.as_ref()
    }

    pub fn read_engine(&self) -> Option<&OcrEngine> {
        self.read.as_ref()
    }

    /// The parts `options` will load on this analyzer, given its services.
    pub fn parts_for(&self, options: &AnalyzeOptions) -> PartsNeeded {
        options.parts(self.services.available())
    }

    fn parts(&self) -> Parts<'_> {
        Parts { siglip: self.siglip.as_ref(), tags: self.tags.as_ref(), people: self.people.as_ref(), read: self.read.as_ref() }
    }

    /// Analyse with every feature on the device (the services are not used).
    pub fn analyze(&self, image_bytes: &[u8], options: &AnalyzeOptions) -> Result<ImageAnalysisResult> {
        let request = options.validate(self.siglip.as_ref())?;
        self.parts().analyze_request(image_bytes, options, &request)
    }

    /// Validate against the configured services and run everything local; the features left for
    /// the services run in [`PendingAnalysis::finish`], which owns what it needs (the browser
    /// hands it to JavaScript as a Promise).
    pub fn start(&self, image: &[u8], options: &AnalyzeOptions) -> Result<PendingAnalysis> {
        let request = options.validate_with(self.siglip.as_ref(), self.services.available())?;
        let result = self.parts().analyze_request(image, options, &request)?;
        Ok(PendingAnalysis::new(result, &request, image, self.services.clone()))
    }

    /// The whole call: local features on the device, `read` and `people` on Azure when configured.
    pub async fn analyze_with_services(
        &self,
        image: &[u8],
        options: &AnalyzeOptions,
        http: &dyn HttpClient,
    ) -> Result<ImageAnalysisResult> {
        self.start(image, options)?.finish(http).await
    }
}

/// One file of a part, by its role (see [`Analyzer::load`]).
#[derive(Debug, Clone, Copy)]
pub struct PartFile<'a> {
    pub role: &'a str,
    pub bytes: &'a [u8],
    pub sha256: Option<&'a str>,
}

impl<'a> PartFile<'a> {
    pub fn new(role: &'a str, bytes: &'a [u8]) -> PartFile<'a> {
        PartFile { role, bytes, sha256: None }
    }
}

impl Parts<'_> {
    fn has(&self, part: Part) -> bool {
        match part {
            Part::Siglip => self.siglip.is_some(),
            Part::Tags => self.tags.is_some(),
            Part::People => self.people.is_some(),
            Part::Read => self.read.is_some(),
        }
    }

    /// Analyse a validated request: the features in `request.remote` are left for the caller.
    fn analyze_request(
        &self,
        image_bytes: &[u8],
        options: &AnalyzeOptions,
        request: &AnalyzeRequest,
    ) -> Result<ImageAnalysisResult> {
        let (model, tags) = (self.siglip, self.tags);
        let wants = |f: Feature| request.local(f);
        let required = request.required_parts();
        if let Some(&missing) = required.iter().find(|&&part| !self.has(part)) {
            return Err(missing.not_loaded());
        }
        let image = decode_image(image_bytes)?;
        let (width, height) = (image.width(), image.height());
        // SigLIP is the slow part: it runs only when a feature, the labels or the embedding need
        // it (checked loaded above).
        let vision = match model.filter(|_| required.contains(&Part::Siglip)) {
            Some(model) => Some((model.vision_features(&image)?, model.calibration())),
            None => None,
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
        let faces = match self.people.filter(|_| request.features.iter().any(|&f| wants(f) && f.uses(Part::People))) {
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
        let read_result = match self.read.filter(|_| wants(Feature::Read)) {
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
            caption_result: None,
            dense_captions_result: None,
            objects_result: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use Part::{People, Read, Siglip, Tags};

    fn options(features: &[&str]) -> AnalyzeOptions {
        AnalyzeOptions { features: features.iter().map(|f| f.to_string()).collect(), ..Default::default() }
    }

    fn parts(required: &[Part], helpful: &[Part]) -> PartsNeeded {
        PartsNeeded { required: required.to_vec(), helpful: helpful.to_vec() }
    }

    #[test]
    fn a_request_needs_the_parts_of_its_features_in_the_table() {
        let none = RemoteServices::default();
        assert_eq!(options(&["read"]).parts(none), parts(&[Read], &[]));
        assert_eq!(options(&["people"]).parts(none), parts(&[People], &[]));
        assert_eq!(options(&["smartCrops"]).parts(none), parts(&[Siglip], &[People]));
        assert_eq!(options(&["people", "smartCrops"]).parts(none), parts(&[Siglip, People], &[]));
        assert_eq!(options(&["categories", "color", "tags"]).parts(none), parts(&[Siglip, Tags], &[]));
        // Nothing for color, and nothing for names validation will refuse.
        assert_eq!(options(&["color", "caption", "nonsense"]).parts(none), parts(&[], &[]));
        let labels = AnalyzeOptions { labels: Some(vec!["a cat".into()]), ..options(&["read"]) };
        assert_eq!(labels.parts(none), parts(&[Siglip, Read], &[]));
        let embedding = AnalyzeOptions { include_embedding: Some(true), ..options(&["color"]) };
        assert_eq!(embedding.parts(none), parts(&[Siglip], &[]));
    }

    #[test]
    fn a_feature_sent_to_its_service_needs_no_part_here() {
        let both = RemoteServices { read: true, face: true, caption: None };
        // Smart crops still keep faces whole with a local detector when one loads.
        assert_eq!(options(&["read", "people", "smartCrops"]).parts(both), parts(&[Siglip], &[People]));
        let local = AnalyzeOptions { read_backend: Some(Backend::Local), ..options(&["read", "people"]) };
        assert_eq!(local.parts(both), parts(&[Read], &[]));
        // `azure` without the service is refused by validation; nothing is loaded for it.
        let azure = AnalyzeOptions { people_backend: Some(Backend::Azure), ..options(&["people"]) };
        assert_eq!(azure.parts(RemoteServices::default()), parts(&[], &[]));
        assert_eq!(azure.validate(None).unwrap_err().code(), "InvalidParameter");
    }

    #[test]
    fn an_empty_analyzer_answers_color_and_names_the_missing_part_for_the_rest() {
        let mut image = Vec::new();
        image::RgbImage::from_fn(80, 60, |x, y| image::Rgb([(x * 4) as u8, (y * 5) as u8, 90]))
            .write_to(&mut std::io::Cursor::new(&mut image), image::ImageFormat::Png)
            .unwrap();
        let analyzer = Analyzer::new();
        assert!(analyzer.loaded().is_empty());
        let result = analyzer.analyze(&image, &options(&["color"])).unwrap();
        assert!(result.color.is_some() && result.model_version.starts_with("sightline-"));
        for (features, code) in [
            (&["tags"][..], "SiglipModelNotLoaded"),
            (&["smartCrops"], "SiglipModelNotLoaded"),
            (&["people"], "FaceModelNotLoaded"),
            (&["read"], "OcrModelNotLoaded"),
        ] {
            assert_eq!(analyzer.analyze(&image, &options(features)).unwrap_err().code(), code, "{features:?}");
        }
        let mut analyzer = Analyzer::new();
        assert_eq!(analyzer.load_tags(b"anything").unwrap_err().code(), "SiglipModelNotLoaded");
        let unknown = analyzer.load(Part::Read, &[PartFile::new("face", b"")]).unwrap_err();
        assert_eq!(unknown.code(), "InvalidArgument");
        assert!(unknown.to_string().contains("detector, recognizer, dictionary, orientation"), "{unknown}");
        let missing = analyzer.load(Part::Siglip, &[PartFile::new("vision", b"")]).unwrap_err();
        assert!(missing.to_string().contains("needs its descriptor file"), "{missing}");
        // Every kind of model is read the same way (src/onnx.rs): empty and non-ONNX files are
        // InvalidModel, named as the part's file.
        let empty = analyzer.load(Part::People, &[PartFile::new("face", b"")]).unwrap_err();
        assert_eq!((empty.code(), empty.to_string().contains("face model") && empty.to_string().contains("empty")), ("InvalidModel", true), "{empty}");
        let garbage = analyzer.load(Part::People, &[PartFile::new("face", b"not onnx at all")]).unwrap_err();
        assert_eq!(garbage.code(), "InvalidModel", "{garbage}");
        let files = [PartFile::new("detector", b""), PartFile::new("recognizer", b"x"), PartFile::new("dictionary", b"a\nb")];
        let read = analyzer.load(Part::Read, &files).unwrap_err();
        assert_eq!(read.code(), "InvalidModel", "{read}");
        assert!(analyzer.loaded().is_empty(), "a part that fails to load is not loaded");
    }
}
