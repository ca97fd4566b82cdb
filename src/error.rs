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

    #[error("cannot read {path}: {reason}")]
    FileUnreadable { path: String, reason: String },

    #[error("unsupported image format{}: use JPEG, PNG, WebP, GIF, BMP or TIFF", detected.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    UnsupportedImageFormat { detected: Option<String> },

    #[error("the {format} image is corrupt or truncated: {reason}")]
    CorruptImage { format: String, reason: String },

    #[error(
        "the image is {width}×{height} pixels; each side must be between {min} and {max} pixels"
    )]
    ImageDimensionsOutOfRange { width: u32, height: u32, min: u32, max: u32 },

    #[error(
        "decoding this {width}×{height} {format} image would take {needed_mb} MB of memory, more than the \
         {budget_mb} MB one image may use; scale it down to at most {fits} pixels on the longer side (or save it as 8-bit RGB)"
    )]
    ImageNeedsTooMuchMemory { format: String, width: u32, height: u32, needed_mb: u64, budget_mb: u64, fits: u32 },

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

    #[error("the people feature and face-aware smart crops need the people detector (the YuNet face model: scripts/fetch-models yunet)")]
    FaceModelNotLoaded,

    #[error("this request needs a SigLIP model (tags, smart crops, labels, embeddings, the 3.2 zero-shot features): load one, e.g. `--model models/siglip-base-patch16-224` after `scripts/fetch-models siglip-base-patch16-224`")]
    SiglipModelNotLoaded,

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

    // ---- remote services (Document Intelligence Read, Face API, a vision-language model) ------
    // `service` names the service; `code` and `message` are what Azure itself answered.
    #[error("{service} refused the key (HTTP {status}, {code}: {message}); check the key and that it belongs to this endpoint's resource")]
    RemoteUnauthorized { service: &'static str, status: u16, code: String, message: String },

    #[error("{service} answered HTTP {status} ({code}: {message})")]
    RemoteServiceError { service: &'static str, status: u16, code: String, message: String },

    #[error("{service} is throttling requests (HTTP 429) and still was after {attempts} attempts; wait and try again, or raise the resource's pricing tier")]
    RemoteThrottled { service: &'static str, attempts: u32 },

    #[error("could not reach {service}: {reason}; check the endpoint URL and the network (in a browser, also that the service allows this page's origin: CORS)")]
    RemoteNetwork { service: &'static str, reason: String },

    #[error("{service} did not finish within {seconds:.1} s ({during}); try again, or allow a longer timeout")]
    RemoteTimeout { service: &'static str, seconds: f64, during: &'static str },

    #[error("{service} could not analyse the image: the operation {status} ({code}: {message})")]
    RemoteOperationFailed { service: &'static str, status: String, code: String, message: String },

    #[error("{service} sent an answer Sightline cannot read: {reason}")]
    RemoteMalformedResponse { service: &'static str, reason: String },

    #[error("the call to {service} was canceled")]
    RemoteCanceled { service: &'static str },

    #[error("the {service} endpoint {endpoint:?} is not usable: {reason}")]
    RemoteInvalidEndpoint { service: &'static str, endpoint: String, reason: String },

    // ---- the vision-language model (caption, denseCaptions, objects) ---------------------------
    #[error("{service} has no deployment or model named '{model}' (HTTP 404, {code}: {message}); check the name (for Azure OpenAI the deployment's name, which may differ from the model's) and the endpoint")]
    RemoteModelNotFound { service: &'static str, model: String, code: String, message: String },

    #[error("{service}'s content filter stopped the {stage} ({message})")]
    RemoteContentFiltered { service: &'static str, stage: &'static str, message: String },

    #[error("{service} did not answer with the JSON asked for: {reason}")]
    RemoteInvalidModelOutput { service: &'static str, reason: String },
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
            SightlineError::ImageNeedsTooMuchMemory { .. } => "InvalidImageSize",
            SightlineError::FileUnreadable { .. } => "FileUnreadable",
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
            SightlineError::SiglipModelNotLoaded => "SiglipModelNotLoaded",
            SightlineError::InvalidRequest { inner, .. } => inner,
            SightlineError::InvalidArgument { .. } => "InvalidArgument",
            SightlineError::InferenceFailed { .. } => "InferenceFailed",
            SightlineError::RemoteUnauthorized { .. } => "RemoteUnauthorized",
            SightlineError::RemoteServiceError { .. } => "RemoteServiceError",
            SightlineError::RemoteThrottled { .. } => "RemoteThrottled",
            SightlineError::RemoteNetwork { .. } => "RemoteNetwork",
            SightlineError::RemoteTimeout { .. } => "RemoteTimeout",
            SightlineError::RemoteOperationFailed { .. } => "RemoteOperationFailed",
            SightlineError::RemoteMalformedResponse { .. } => "RemoteMalformedResponse",
            SightlineError::RemoteCanceled { .. } => "RemoteCanceled",
            SightlineError::RemoteInvalidEndpoint { .. } => "RemoteInvalidEndpoint",
            SightlineError::RemoteModelNotFound { .. } => "RemoteModelNotFound",
            SightlineError::RemoteContentFiltered { .. } => "RemoteContentFiltered",
            SightlineError::RemoteInvalidModelOutput { .. } => "RemoteInvalidModelOutput",
        }
    }

    /// The outer code of Azure's error body: the caller's request was wrong, or we failed.
    pub fn azure_code(&self) -> &'static str {
        match self {
            SightlineError::InferenceFailed { .. } => "InternalServerError",
            // A remote service that failed on its side, or could not be reached in time.
            SightlineError::RemoteServiceError { status, .. } if *status >= 500 => "InternalServerError",
            SightlineError::RemoteThrottled { .. }
            | SightlineError::RemoteNetwork { .. }
            | SightlineError::RemoteTimeout { .. }
            | SightlineError::RemoteOperationFailed { .. }
            | SightlineError::RemoteMalformedResponse { .. }
            | SightlineError::RemoteModelNotFound { .. }
            | SightlineError::RemoteInvalidModelOutput { .. } => "InternalServerError",
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

    /// Whether this error came from a remote service (the local results of the call still stand).
    pub fn is_remote(&self) -> bool {
        self.code().starts_with("Remote")
    }

    pub(crate) fn inference(reason: impl std::fmt::Display) -> Self {
        SightlineError::InferenceFailed { reason: reason.to_string() }
    }

    /// This error with every occurrence of `secret` in the text a service sent (its code,
    /// message, status, or a transport's reason) replaced by `<redacted>`: a service or proxy
    /// that quotes the key it was sent must not get it printed to a terminal or into
    /// `featureErrors`. Secrets shorter than 4 characters are left alone (no real key is, and
    /// replacing one would garble every message).
    pub fn without_secret(self, secret: &str) -> Self {
        if secret.len() < 4 {
            return self;
        }
        let clean = |text: String| if text.contains(secret) { text.replace(secret, "<redacted>") } else { text };
        use SightlineError::*;
        match self {
            RemoteUnauthorized { service, status, code, message } => {
                RemoteUnauthorized { service, status, code: clean(code), message: clean(message) }
            }
            RemoteServiceError { service, status, code, message } => {
                RemoteServiceError { service, status, code: clean(code), message: clean(message) }
            }
            RemoteOperationFailed { service, status, code, message } => {
                RemoteOperationFailed { service, status: clean(status), code: clean(code), message: clean(message) }
            }
            RemoteNetwork { service, reason } => RemoteNetwork { service, reason: clean(reason) },
            RemoteMalformedResponse { service, reason } => RemoteMalformedResponse { service, reason: clean(reason) },
            RemoteModelNotFound { service, model, code, message } => {
                RemoteModelNotFound { service, model, code: clean(code), message: clean(message) }
            }
            RemoteContentFiltered { service, stage, message } => RemoteContentFiltered { service, stage, message: clean(message) },
            RemoteInvalidModelOutput { service, reason } => RemoteInvalidModelOutput { service, reason: clean(reason) },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_service_text() {
        let key = "0123456789abcdef";
        let error = SightlineError::RemoteServiceError {
            service: "Face API",
            status: 400,
            code: "Bad".into(),
            message: format!("key '{key}' is not valid; {key}"),
        };
        let shown = error.without_secret(key).to_string();
        assert!(!shown.contains(key), "{shown}");
        assert_eq!(shown.matches("<redacted>").count(), 2, "{shown}");
        let short = SightlineError::RemoteNetwork { service: "Face API", reason: "a b c".into() };
        assert_eq!(short.clone().without_secret("b"), short, "too short to be a key: untouched");
    }
}
