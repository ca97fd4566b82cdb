//! Every way Sightline can refuse work, typed, with a message that tells the user what to fix.
//!
//! Each variant has a stable `code()` that crosses into JavaScript (`error.code`) and the CLI's
//! JSON output. Image errors reuse the inner error codes Azure Image Analysis returns for the same
//! problem, so code migrating from the service can keep its error handling.

use thiserror::Error;

pub type Result<T, E = SightlineError> = std::result::Result<T, E>;

#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SightlineError {
    // ---- image input -------------------------------------------------------------------------
    #[error("the image is empty (0 bytes)")]
    EmptyImage,

    #[error("the image is {size} bytes; the limit is {limit} bytes (20 MB), resize or recompress it")]
    ImageTooLarge { size: usize, limit: usize },

    #[error("unsupported image format{}: use JPEG, PNG, WebP, GIF, BMP or TIFF", detected.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    UnsupportedImageFormat { detected: Option<String> },

    #[error("the {format} image is corrupt or truncated: {reason}")]
    CorruptImage { format: String, reason: String },

    #[error(
        "the image is {width}×{height} pixels; each side must be between {min} and {max} pixels"
    )]
    ImageDimensionsOutOfRange { width: u32, height: u32, min: u32, max: u32 },

    // ---- models ------------------------------------------------------------------------------
    #[error("the {what} is not a valid ONNX model: {reason}")]
    InvalidModel { what: String, reason: String },

    #[error("the {what} does not have the SigLIP interface: {reason}")]
    ModelInterfaceMismatch { what: String, reason: String },

    #[error("the tokenizer is invalid: {reason}")]
    InvalidTokenizer { reason: String },

    #[error("the model descriptor is invalid: {reason}")]
    InvalidDescriptor { reason: String },

    #[error("this model has no {tower} tower; load one with a {tower} model to {purpose}")]
    MissingTower { tower: &'static str, purpose: &'static str },

    // ---- tags --------------------------------------------------------------------------------
    #[error("the tags file is invalid: {reason}")]
    InvalidTagsFile { reason: String },

    #[error(
        "the tags file was built for model {built_for} (vision sha256 {built_sha}…) but the loaded \
         model is {loaded} ({loaded_sha}…); rebuild it with `sightline build-tags --model DIR`"
    )]
    TagsModelMismatch { built_for: String, built_sha: String, loaded: String, loaded_sha: String },

    #[error("the tags feature needs the tag vocabulary's embeddings: load the tags file built for this model (`sightline build-tags --model DIR`)")]
    TagsNotLoaded,

    #[error("the people feature and face-aware smart crops need the face model: load YuNet (scripts/fetch-models yunet)")]
    FaceModelNotLoaded,

    #[error("the read feature needs the OCR models (PP-OCRv5: scripts/fetch-models ppocr-v5), or a Document Intelligence endpoint with readBackend \"azure\"")]
    OcrModelNotLoaded,

    // ---- analyze requests (Azure's InvalidRequest family) ------------------------------------
    #[error("{message}")]
    InvalidRequest { inner: &'static str, message: String },

    // ---- calls -------------------------------------------------------------------------------
    #[error("invalid argument: {reason}")]
    InvalidArgument { reason: String },

    #[error("model inference failed: {reason}")]
    InferenceFailed { reason: String },
}

impl SightlineError {
    /// A stable identifier for programs: never changes when a message is reworded.
    pub fn code(&self) -> &'static str {
        match self {
            // Azure Image Analysis inner error codes for the same conditions.
            SightlineError::EmptyImage => "InvalidImageSize",
            SightlineError::ImageTooLarge { .. } => "InvalidImageSize",
            SightlineError::UnsupportedImageFormat { .. } => "InvalidImageFormat",
            SightlineError::CorruptImage { .. } => "InvalidImageFormat",
            SightlineError::ImageDimensionsOutOfRange { .. } => "InvalidImageDimension",
            SightlineError::InvalidModel { .. } => "InvalidModel",
            SightlineError::ModelInterfaceMismatch { .. } => "ModelInterfaceMismatch",
            SightlineError::InvalidTokenizer { .. } => "InvalidTokenizer",
            SightlineError::InvalidDescriptor { .. } => "InvalidModelDescriptor",
            SightlineError::MissingTower { .. } => "MissingModelTower",
            SightlineError::InvalidTagsFile { .. } => "InvalidTagsFile",
            SightlineError::TagsModelMismatch { .. } => "TagsModelMismatch",
            SightlineError::TagsNotLoaded => "TagsNotLoaded",
            SightlineError::FaceModelNotLoaded => "FaceModelNotLoaded",
            SightlineError::OcrModelNotLoaded => "OcrModelNotLoaded",
            SightlineError::InvalidRequest { inner, .. } => inner,
            SightlineError::InvalidArgument { .. } => "InvalidArgument",
            SightlineError::InferenceFailed { .. } => "InferenceFailed",
        }
    }

    /// The outer code of Azure's error body: the caller's request was wrong, or we failed.
    pub fn azure_code(&self) -> &'static str {
        match self {
            SightlineError::InferenceFailed { .. } => "InternalServerError",
            _ => "InvalidRequest",
        }
    }

    pub(crate) fn request(inner: &'static str, message: impl Into<String>) -> Self {
        SightlineError::InvalidRequest { inner, message: message.into() }
    }

    pub(crate) fn tags_file(reason: impl Into<String>) -> Self {
        SightlineError::InvalidTagsFile { reason: reason.into() }
    }

    pub(crate) fn descriptor(reason: impl Into<String>) -> Self {
        SightlineError::InvalidDescriptor { reason: reason.into() }
    }

    pub(crate) fn tokenizer(reason: impl Into<String>) -> Self {
        SightlineError::InvalidTokenizer { reason: reason.into() }
    }

    pub(crate) fn argument(reason: impl Into<String>) -> Self {
        SightlineError::InvalidArgument { reason: reason.into() }
    }

    pub(crate) fn inference(reason: impl std::fmt::Display) -> Self {
        SightlineError::InferenceFailed { reason: reason.to_string() }
    }
}
