//! What a caller configures to use the Azure services: endpoint and key per service, the Read
//! API version, the face detail wanted, and the retry policy. Keys stay in memory, are sent only
//! in the `Ocp-Apim-Subscription-Key` header, and never appear in `Debug` output.

use std::fmt;

use serde::Serialize;

use crate::analyze::{CaptionBackend, RemoteServices};
use crate::error::{Result, SightlineError};

use super::retry::RetryPolicy;

pub const READ_SERVICE: &str = "Document Intelligence";
pub const FACE_SERVICE: &str = "Face API";
pub const CAPTION_SERVICE: &str = "the vision-language model";
/// Where the CLI takes the vision-language model's key from when `--caption-key` is absent.
pub const CAPTION_KEY_ENV: &str = "SIGHTLINE_CAPTION_KEY";

/// An Azure AI services resource: `https://NAME.cognitiveservices.azure.com` and its key.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceConfig {
    /// Scheme, host and optional path prefix (a proxy's), without a trailing slash.
    pub endpoint: String,
    pub key: String,
}

impl fmt::Debug for ServiceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceConfig").field("endpoint", &self.endpoint).field("key", &"<redacted>").finish()
    }
}

impl ServiceConfig {
    /// Check the endpoint and key before any request: a typo fails here, clearly, not as a
    /// network error later. Plain `http://` would send the key in clear text, so it is taken only
    /// for a loopback host (a local proxy or mock) or when the caller says it is a proxy it runs
    /// itself (`allow_http`: the CLI's `--allow-http`, the page's same-origin proxy).
    pub fn new(service: &'static str, endpoint: &str, key: &str, allow_http: bool) -> Result<Self> {
        let endpoint = endpoint.trim().trim_end_matches('/').to_string();
        let invalid = |reason: &str| SightlineError::RemoteInvalidEndpoint {
            service,
            endpoint: endpoint.clone(),
            reason: reason.to_string(),
        };
        let rest = endpoint
            .strip_prefix("https://")
            .or_else(|| endpoint.strip_prefix("http://"))
            .ok_or_else(|| invalid("it must start with https:// (or http:// for a local proxy)"))?;
        let host = rest.split('/').next().unwrap_or("");
        if host.is_empty() {
            return Err(invalid("it has no host name"));
        }
        if host.contains('@') {
            return Err(invalid("credentials do not belong in the URL; pass the key separately"));
        }
        if endpoint.starts_with("http://") && !allow_http && !is_loopback(host) {
            return Err(invalid(
                "plain http:// would send the key in clear text; use https://, or allow http explicitly for a proxy \
                 you run yourself (--allow-http)",
            ));
        }
        if endpoint.contains(['?', '#']) || endpoint.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("give only the resource's base URL, without query, fragment or spaces"));
        }
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err(SightlineError::argument(format!("the {service} key is empty")));
        }
        // A header value cannot carry these; refusing them also stops header injection.
        if key.chars().any(|c| c.is_control() || !c.is_ascii()) {
            return Err(SightlineError::argument(format!("the {service} key contains characters a key cannot have")));
        }
        Ok(ServiceConfig { endpoint, key })
    }

    /// An endpoint that takes no key (a local llama.cpp or Ollama server): checked as `new`
    /// checks it, and no key header is sent.
    pub fn keyless(service: &'static str, endpoint: &str, allow_http: bool) -> Result<Self> {
        let mut config = ServiceConfig::new(service, endpoint, "none", allow_http)?;
        config.key.clear();
        Ok(config)
    }

    /// The host name of the endpoint, lower-case, without port.
    pub fn host(&self) -> String {
        let origin = self.origin();
        let host = &origin[origin.find("://").map_or(0, |i| i + 3)..];
        let name = if host.starts_with('[') { host.split(']').next().unwrap_or(host) } else { host.split(':').next().unwrap_or(host) };
        name.trim_end_matches('.').to_ascii_lowercase()
    }

    /// `scheme://host[:port]` of the endpoint: the key is only ever sent to this origin.
    pub fn origin(&self) -> &str {
        origin_of(&self.endpoint)
    }
}

/// Whether `host` (`name[:port]`, `[v6][:port]`) is this machine: `localhost`, 127.0.0.0/8 or ::1.
fn is_loopback(host: &str) -> bool {
    let name = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `scheme://host[:port]` of an absolute http(s) URL (the whole string when it has no path).
pub(crate) fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find(['/', '?', '#']) {
        Some(end) => &url[..after_scheme + end],
        None => url,
    }
}

/// Document Intelligence's REST API generations that have `prebuilt-read`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadApiVersion {
    /// v4.0 GA: `/documentintelligence/…?api-version=2024-11-30`.
    #[default]
    V2024_11_30,
    /// v3.1 GA (Form Recognizer): `/formrecognizer/…?api-version=2023-07-31`.
    V2023_07_31,
}

impl ReadApiVersion {
    pub fn parse(version: &str) -> Result<Self> {
        match version.trim() {
            "2024-11-30" | "v4.0" | "4.0" => Ok(ReadApiVersion::V2024_11_30),
            "2023-07-31" | "v3.1" | "3.1" => Ok(ReadApiVersion::V2023_07_31),
            other => Err(SightlineError::request(
                "InvalidParameter",
                format!("Document Intelligence API version '{other}' is not supported; use 2024-11-30 (v4.0) or 2023-07-31 (v3.1)"),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ReadApiVersion::V2024_11_30 => "2024-11-30",
            ReadApiVersion::V2023_07_31 => "2023-07-31",
        }
    }

    /// The path segment before `/documentModels`.
    pub fn route(self) -> &'static str {
        match self {
            ReadApiVersion::V2024_11_30 => "documentintelligence",
            ReadApiVersion::V2023_07_31 => "formrecognizer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadServiceConfig {
    pub service: ServiceConfig,
    pub api_version: ReadApiVersion,
}

impl ReadServiceConfig {
    pub fn new(endpoint: &str, key: &str, api_version: Option<&str>, allow_http: bool) -> Result<Self> {
        Ok(ReadServiceConfig {
            service: ServiceConfig::new(READ_SERVICE, endpoint, key, allow_http)?,
            api_version: api_version.map(ReadApiVersion::parse).transpose()?.unwrap_or_default(),
        })
    }
}

/// Face attributes `detection_03` can return (the others need detection_01, and the emotion,
/// age and gender attributes are retired).
pub const FACE_ATTRIBUTES: [&str; 4] = ["headPose", "mask", "blur", "qualityForRecognition"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaceServiceConfig {
    pub service: ServiceConfig,
    /// Ask for the 27 landmarks.
    pub landmarks: bool,
    /// Names from `FACE_ATTRIBUTES`, as spelled there.
    pub attributes: Vec<String>,
}

impl FaceServiceConfig {
    pub fn new(endpoint: &str, key: &str, landmarks: bool, attributes: &[String], allow_http: bool) -> Result<Self> {
        let mut canonical = Vec::new();
        for name in attributes.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            let known = FACE_ATTRIBUTES.iter().find(|known| known.eq_ignore_ascii_case(name)).ok_or_else(|| {
                SightlineError::request(
                    "InvalidParameter",
                    format!("face attribute '{name}' is not available with detection_03; use some of {}", FACE_ATTRIBUTES.join(", ")),
                )
            })?;
            if !canonical.iter().any(|c: &String| c == known) {
                canonical.push(known.to_string());
            }
        }
        Ok(FaceServiceConfig { service: ServiceConfig::new(FACE_SERVICE, endpoint, key, allow_http)?, landmarks, attributes: canonical })
    }
}

/// The two API shapes of a vision-language model endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptionApi {
    /// `POST {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`, key in
    /// `api-key`.
    AzureOpenai,
    /// `POST {endpoint}[/v1]/chat/completions` with `model` in the body and a Bearer key when
    /// there is one: OpenAI, and the servers that speak its API (llama.cpp, Ollama, vLLM).
    OpenaiCompatible,
}

impl CaptionApi {
    pub fn parse(name: &str) -> Option<CaptionApi> {
        match name.trim().to_ascii_lowercase().as_str() {
            "azure-openai" => Some(CaptionApi::AzureOpenai),
            "openai-compatible" => Some(CaptionApi::OpenaiCompatible),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CaptionApi::AzureOpenai => "azure-openai",
            CaptionApi::OpenaiCompatible => "openai-compatible",
        }
    }

    /// For messages: "an Azure OpenAI", "an OpenAI-compatible".
    pub fn article_name(self) -> &'static str {
        match self {
            CaptionApi::AzureOpenai => "an Azure OpenAI",
            CaptionApi::OpenaiCompatible => "an OpenAI-compatible",
        }
    }

    /// The API an endpoint speaks by its host: Azure's resource domains are Azure OpenAI,
    /// everything else (api.openai.com, localhost, a vLLM box) OpenAI-compatible.
    pub fn of_endpoint(service: &ServiceConfig) -> CaptionApi {
        let host = service.host();
        let azure = [".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"];
        if azure.iter().any(|domain| host.ends_with(domain)) {
            CaptionApi::AzureOpenai
        } else {
            CaptionApi::OpenaiCompatible
        }
    }
}

/// The Azure OpenAI API version asked for by default: the GA version with structured outputs
/// (`response_format: json_schema`) and `logprobs`.
pub const AZURE_OPENAI_API_VERSION: &str = "2024-10-21";

/// A vision-language model endpoint for `caption`, `denseCaptions` and `objects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptionServiceConfig {
    /// The key is empty for an OpenAI-compatible server that takes none.
    pub service: ServiceConfig,
    pub api: CaptionApi,
    /// The deployment's name (Azure OpenAI) or the model's (OpenAI-compatible).
    pub model: String,
    /// Azure OpenAI's `api-version`.
    pub api_version: String,
}

impl CaptionServiceConfig {
    /// `api` is `auto` (by the endpoint's host, see [`CaptionApi::of_endpoint`]), `azure-openai`
    /// or `openai-compatible`; `key` may be empty only for OpenAI-compatible servers.
    ///
    /// The endpoint may also be the whole URL a portal shows (Azure AI Foundry's "Target URI",
    /// `…/openai/deployments/NAME/chat/completions?api-version=…`, or an OpenAI-compatible
    /// `…/v1/chat/completions`): the deployment and api-version are taken from it when not given.
    pub fn new(endpoint: &str, key: &str, model: &str, api: Option<&str>, api_version: Option<&str>, allow_http: bool) -> Result<Self> {
        let target = TargetUri::split(endpoint);
        let service = match key.trim() {
            "" => ServiceConfig::keyless(CAPTION_SERVICE, &target.base, allow_http)?,
            key => ServiceConfig::new(CAPTION_SERVICE, &target.base, key, allow_http)?,
        };
        let named = match api.map(str::trim).filter(|a| !a.is_empty()) {
            None => None,
            Some(name) => CaptionBackend::parse(name)
                .ok_or_else(|| {
                    SightlineError::argument(format!("the vision-language model API '{name}' is not known: use auto, azure-openai or openai-compatible"))
                })?
                .api(),
        };
        let api = match named {
            Some(api) => api,
            None if target.deployment.is_some() => CaptionApi::AzureOpenai,
            None => CaptionApi::of_endpoint(&service),
        };
        if api == CaptionApi::AzureOpenai && service.key.is_empty() {
            return Err(SightlineError::argument(format!(
                "Azure OpenAI needs the resource's key (--caption-key or ${CAPTION_KEY_ENV} in the CLI, services.caption.key in JavaScript)"
            )));
        }
        let model = match (model.trim(), target.deployment.as_deref()) {
            ("", Some(deployment)) => deployment,
            (model, Some(deployment)) if model != deployment => {
                return Err(SightlineError::argument(format!(
                    "the endpoint names the deployment '{deployment}' but the model given is '{model}'; give one of them"
                )))
            }
            (model, _) => model,
        };
        if model.is_empty() {
            let name = match api {
                CaptionApi::AzureOpenai => "the Azure OpenAI deployment's name (a deployment of a vision model such as gpt-4o)",
                CaptionApi::OpenaiCompatible => "the model's name as the server knows it (e.g. gpt-4o, or the local server's model)",
            };
            return Err(SightlineError::argument(format!("give {name}: --caption-model in the CLI, services.caption.model in JavaScript")));
        }
        if model.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '/' | '?' | '#' | '%')) && api == CaptionApi::AzureOpenai {
            return Err(SightlineError::argument(format!("the deployment name '{model}' cannot be part of a URL path")));
        }
        let api_version = api_version
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .or(target.api_version.as_deref())
            .unwrap_or(AZURE_OPENAI_API_VERSION);
        if !api_version.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return Err(SightlineError::argument(format!("the Azure OpenAI api-version '{api_version}' is not a version (like {AZURE_OPENAI_API_VERSION})")));
        }
        Ok(CaptionServiceConfig { service, api, model: model.to_string(), api_version: api_version.to_string() })
    }
}

/// A chat-completions URL taken apart: the base endpoint, and the deployment and api-version an
/// Azure OpenAI URL names. Anything else is left whole, for `ServiceConfig` to judge.
struct TargetUri {
    base: String,
    deployment: Option<String>,
    api_version: Option<String>,
}

impl TargetUri {
    fn split(endpoint: &str) -> TargetUri {
        let whole = TargetUri { base: endpoint.to_string(), deployment: None, api_version: None };
        let Ok(url) = url::Url::parse(endpoint.trim()) else { return whole };
        let path = url.path().trim_end_matches('/');
        let origin = &url[..url::Position::BeforePath];
        if let Some(at) = path.find("/openai/deployments/") {
            let rest = &path[at + "/openai/deployments/".len()..];
            let deployment = rest.split('/').next().filter(|d| !d.is_empty()).map(|d| {
                percent_encoding::percent_decode_str(d).decode_utf8_lossy().into_owned()
            });
            let api_version = url.query_pairs().find(|(name, _)| name == "api-version").map(|(_, v)| v.into_owned());
            return TargetUri { base: format!("{origin}{}", &path[..at]), deployment, api_version };
        }
        match path.strip_suffix("/chat/completions") {
            Some(prefix) if url.query().is_none() => TargetUri { base: format!("{origin}{prefix}"), ..whole },
            _ => whole,
        }
    }
}

/// Every remote service a call may use, and how hard to try.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RemoteConfig {
    pub read: Option<ReadServiceConfig>,
    pub face: Option<FaceServiceConfig>,
    pub caption: Option<CaptionServiceConfig>,
    pub policy: RetryPolicy,
}

impl RemoteConfig {
    /// Which services are configured, for `AnalyzeOptions::validate_with`.
    pub fn available(&self) -> RemoteServices {
        RemoteServices { read: self.read.is_some(), face: self.face.is_some(), caption: self.caption.as_ref().map(|c| c.api) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let config = ReadServiceConfig::new("https://x.cognitiveservices.azure.com/", "s3cr3t-key", None, false).unwrap();
        let shown = format!("{config:?} {:?}", RemoteConfig { read: Some(config.clone()), ..Default::default() });
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"));
        assert_eq!(config.service.endpoint, "https://x.cognitiveservices.azure.com");
    }

    #[test]
    fn endpoints_and_keys_are_checked_up_front() {
        let code = |endpoint: &str, key: &str| ServiceConfig::new(READ_SERVICE, endpoint, key, false).unwrap_err().code();
        assert_eq!(code("x.cognitiveservices.azure.com", "k"), "RemoteInvalidEndpoint");
        assert_eq!(code("https://", "k"), "RemoteInvalidEndpoint");
        assert_eq!(code("https://x.azure.com/?subscription-key=k", "k"), "RemoteInvalidEndpoint");
        assert_eq!(code("https://user:pw@x.azure.com", "k"), "RemoteInvalidEndpoint");
        assert_eq!(code("https://x.azure.com", " "), "InvalidArgument");
        assert_eq!(code("https://x.azure.com", "a\r\nX-Evil: 1"), "InvalidArgument");
        assert!(ServiceConfig::new(READ_SERVICE, "http://127.0.0.1:8080/proxy/", "k", false).is_ok());
    }

    #[test]
    fn plain_http_only_for_loopback_or_when_allowed() {
        let ok = |endpoint: &str, allow: bool| ServiceConfig::new(READ_SERVICE, endpoint, "k", allow).is_ok();
        for local in ["http://127.0.0.1:8080", "http://127.3.2.1", "http://localhost:9/p", "http://[::1]:80", "http://LOCALHOST.", "http://a.localhost"] {
            assert!(ok(local, false), "{local}");
        }
        for remote in ["http://x.cognitiveservices.azure.com", "http://10.0.0.5:8080/proxy", "http://127.0.0.1.evil.example", "http://[::2]", "http://localhost.evil.example"] {
            assert!(!ok(remote, false), "{remote}");
            assert!(ok(remote, true), "{remote}, allowed explicitly");
        }
        let error = ServiceConfig::new(READ_SERVICE, "http://x.azure.com", "k", false).unwrap_err();
        assert_eq!(error.code(), "RemoteInvalidEndpoint");
        assert!(error.to_string().contains("clear text"), "{error}");
    }

    #[test]
    fn origins_and_versions() {
        assert_eq!(origin_of("https://a.b:444/x/y?z"), "https://a.b:444");
        assert_eq!(origin_of("http://127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(ReadApiVersion::parse("2023-07-31").unwrap().route(), "formrecognizer");
        assert_eq!(ReadApiVersion::parse("2022-08-31").unwrap_err().code(), "InvalidParameter");
    }

    #[test]
    fn a_portals_whole_chat_completions_url_is_taken_apart() {
        let foundry = "https://res.openai.azure.com/openai/deployments/my-gpt-4o/chat/completions?api-version=2024-08-01-preview";
        let config = CaptionServiceConfig::new(foundry, "k", "", None, None, false).unwrap();
        assert_eq!(
            (config.service.endpoint.as_str(), config.api, config.model.as_str(), config.api_version.as_str()),
            ("https://res.openai.azure.com", CaptionApi::AzureOpenai, "my-gpt-4o", "2024-08-01-preview")
        );
        // Given explicitly, the api-version wins; a gateway's path prefix stays; the path says Azure.
        let gateway = "https://apim.example.com/ai/openai/deployments/vision/chat/completions?api-version=2024-10-21";
        let config = CaptionServiceConfig::new(gateway, "k", "vision", None, Some("2025-01-01-preview"), false).unwrap();
        assert_eq!((config.service.endpoint.as_str(), config.api), ("https://apim.example.com/ai", CaptionApi::AzureOpenai));
        assert_eq!(config.api_version, "2025-01-01-preview");
        let conflict = CaptionServiceConfig::new(foundry, "k", "other", None, None, false).unwrap_err();
        assert!(conflict.to_string().contains("'my-gpt-4o'"), "{conflict}");
        let local = CaptionServiceConfig::new("http://localhost:8080/v1/chat/completions", "", "qwen", None, None, false).unwrap();
        assert_eq!((local.service.endpoint.as_str(), local.api), ("http://localhost:8080/v1", CaptionApi::OpenaiCompatible));
        // Credentials and other queries are still refused by the endpoint check.
        let user = CaptionServiceConfig::new("https://u:p@res.openai.azure.com/openai/deployments/d/chat/completions", "k", "", None, None, false);
        assert_eq!(user.unwrap_err().code(), "RemoteInvalidEndpoint");
        let query = CaptionServiceConfig::new("https://api.example.com/v1?token=x", "k", "m", None, None, false);
        assert_eq!(query.unwrap_err().code(), "RemoteInvalidEndpoint");
    }

    #[test]
    fn face_attributes_are_checked_and_canonical() {
        let config = FaceServiceConfig::new("https://f.azure.com", "k", true, &["HEADPOSE".into(), "headPose".into(), "mask".into()], false).unwrap();
        assert_eq!(config.attributes, ["headPose", "mask"]);
        let error = FaceServiceConfig::new("https://f.azure.com", "k", false, &["emotion".into()], false).unwrap_err();
        assert_eq!(error.code(), "InvalidParameter");
    }
}
