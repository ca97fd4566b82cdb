//! `caption`, `denseCaptions` and `objects` from a vision-language model, through chat
//! completions with an image: Azure OpenAI (`/openai/deployments/{deployment}/chat/completions`,
//! `api-key`) or any OpenAI-compatible server (`/v1/chat/completions`, a Bearer key when it has
//! one: OpenAI, llama.cpp's server, Ollama, vLLM).
//!
//! One request answers all three features. The image goes as a JPEG data URL at the size the
//! model looks at; the reply is asked for as JSON with a schema (`response_format: json_schema`),
//! and checked against it here whatever the server promised. Boxes come back in the sent image's
//! pixels and are scaled to the original, clipped into it, and dropped when the model put them
//! outside it or gave them no area. Confidences are the model's own: the geometric mean of the
//! probabilities of a text's tokens, from the reply's `logprobs`; a server that gives none gets no
//! confidence, and the result's `warning` says so.
//!
//! A server that refuses `json_schema` is asked again with `json_object`, then with the schema in
//! the prompt only; one that refuses `logprobs` is asked again without them, and a reasoning
//! model that refuses `max_tokens` or `temperature: 0` gets `max_completion_tokens` and its
//! default temperature.

use std::rc::Rc;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::config::{CaptionApi, CaptionServiceConfig, CAPTION_SERVICE};
use super::http::{HttpClient, HttpRequest, Method, API_KEY_HEADER};
use super::retry::{redacting, Call, RetryPolicy};
use crate::analyze::Feature;
use crate::azure::{
    CaptionResult, DenseCaption, DenseCaptionsResult, DetectedObject, ImageBoundingBox, ImageMetadata, ModelSource,
    ObjectTag, ObjectsResult,
};
use crate::decode::decode_image;
use crate::error::{Result, SightlineError};

/// What the model sees at most: GPT-4o's `detail: high` scales an image to fit 2048×2048, then its
/// short side to 768. Sending more costs upload time and changes nothing.
const MAX_LONG_SIDE: u32 = 2048;
const MAX_SHORT_SIDE: u32 = 768;
const JPEG_QUALITY: u8 = 90;
/// Azure returns at most 10 dense captions, the whole image's first.
pub const MAX_DENSE_CAPTIONS: usize = 10;
/// Enough for a caption, 9 regions and a few dozen objects as JSON.
const MAX_TOKENS: u32 = 2000;

/// The three results, each present when its feature was asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Captions {
    pub caption: Option<CaptionResult>,
    pub dense_captions: Option<DenseCaptionsResult>,
    pub objects: Option<ObjectsResult>,
    /// Set when the server gave no token log-probabilities (so no confidences).
    pub warning: Option<String>,
}

/// What to ask for: the features, and Azure's `gender-neutral-caption`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptionRequest {
    pub caption: bool,
    pub dense_captions: bool,
    pub objects: bool,
    pub gender_neutral: bool,
}

impl CaptionRequest {
    pub fn new(features: &[Feature], gender_neutral: bool) -> Self {
        CaptionRequest {
            caption: features.contains(&Feature::Caption),
            dense_captions: features.contains(&Feature::DenseCaptions),
            objects: features.contains(&Feature::Objects),
            gender_neutral,
        }
    }

    /// The whole image's caption is needed for `caption`, and as the first dense caption.
    fn wants_caption(&self) -> bool {
        self.caption || self.dense_captions
    }
}

/// The image as sent: a JPEG at the model's size, and that size.
#[derive(Debug, Clone)]
pub struct SentImage {
    data_url: String,
    width: u32,
    height: u32,
}

impl SentImage {
    /// Decode (upright), scale down to what the model looks at, and encode as a JPEG data URL.
    pub fn new(image: &[u8]) -> Result<SentImage> {
        let decoded = decode_image(image)?;
        let (w, h) = (decoded.width(), decoded.height());
        let (long, short) = (w.max(h) as f64, w.min(h) as f64);
        let scale = (MAX_LONG_SIDE as f64 / long).min(MAX_SHORT_SIDE as f64 / short).min(1.0);
        let (width, height) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
        let rgb = if scale < 1.0 {
            image::imageops::resize(&decoded.rgb, width, height, image::imageops::FilterType::Triangle)
        } else {
            decoded.rgb
        };
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, JPEG_QUALITY)
            .encode_image(&rgb)
            .map_err(|e| SightlineError::argument(format!("cannot encode the image as JPEG for the vision-language model: {e}")))?;
        let data_url = format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(&jpeg));
        Ok(SentImage { data_url, width, height })
    }
}

/// How the reply's format is asked for; each step down is for servers that refuse the one above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    JsonSchema,
    JsonObject,
    PromptOnly,
}

/// The options of a request that some servers refuse, as far as they have been taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Asked {
    format: Format,
    logprobs: bool,
    /// `max_completion_tokens` rather than `max_tokens` (OpenAI's reasoning models take only it).
    max_completion_tokens: bool,
    /// `temperature: 0` (reasoning models take only their default).
    temperature: bool,
}

impl Asked {
    const FIRST: Asked = Asked { format: Format::JsonSchema, logprobs: true, max_completion_tokens: false, temperature: true };

    /// What to ask next after `error`, when it is a 400 refusing one of the options.
    fn without_refused(self, error: &SightlineError) -> Option<Asked> {
        let SightlineError::RemoteServiceError { status: 400, message, .. } = error else { return None };
        let message = message.to_ascii_lowercase();
        let refused = |what: &str| message.contains(what);
        if self.logprobs && refused("logprobs") {
            Some(Asked { logprobs: false, ..self })
        } else if !self.max_completion_tokens && refused("max_tokens") {
            Some(Asked { max_completion_tokens: true, ..self })
        } else if self.temperature && refused("temperature") {
            Some(Asked { temperature: false, ..self })
        } else if self.format == Format::JsonSchema && (refused("json_schema") || refused("response_format")) {
            Some(Asked { format: Format::JsonObject, ..self })
        } else if self.format == Format::JsonObject && (refused("json_object") || refused("response_format")) {
            Some(Asked { format: Format::PromptOnly, ..self })
        } else {
            None
        }
    }
}

/// The URL of the chat completions call (no key in it, ever).
pub fn completions_url(config: &CaptionServiceConfig) -> String {
    let endpoint = &config.service.endpoint;
    match config.api {
        CaptionApi::AzureOpenai => format!(
            "{endpoint}/openai/deployments/{}/chat/completions?api-version={}",
            config.model, config.api_version
        ),
        CaptionApi::OpenaiCompatible if endpoint.ends_with("/v1") => format!("{endpoint}/chat/completions"),
        CaptionApi::OpenaiCompatible => format!("{endpoint}/v1/chat/completions"),
    }
}

/// The JSON schema of the reply, with just the fields asked for. Strict structured outputs
/// require every property listed and no others; lengths are checked here, not by the schema.
fn schema(request: &CaptionRequest) -> Value {
    let box_schema = json!({"type": "array", "items": {"type": "integer"}, "description": "[left, top, right, bottom] in pixels"});
    let item = |name: &str| {
        json!({"type": "object", "additionalProperties": false,
               "properties": {name: {"type": "string"}, "box": box_schema.clone()}, "required": [name, "box"]})
    };
    let mut properties = serde_json::Map::new();
    if request.wants_caption() {
        properties.insert("caption".into(), json!({"type": "string"}));
    }
    if request.dense_captions {
        properties.insert("denseCaptions".into(), json!({"type": "array", "items": item("text")}));
    }
    if request.objects {
        properties.insert("objects".into(), json!({"type": "array", "items": item("name")}));
    }
    let required: Vec<&String> = properties.keys().collect();
    json!({"type": "object", "additionalProperties": false, "required": required, "properties": properties})
}

/// What the model is told: the task for each field asked for, and the box convention.
fn prompt(request: &CaptionRequest, image: &SentImage, format: Format) -> (String, String) {
    let system = "You label images for an image analysis API. Answer with one JSON object and nothing else.".to_string();
    let mut task = format!(
        "The image is {} pixels wide and {} pixels high. Boxes are [left, top, right, bottom] in whole pixels of this image.\n",
        image.width, image.height
    );
    if request.wants_caption() {
        task.push_str("caption: one sentence describing the whole image, as a photo caption (not \"The image shows\").\n");
    }
    if request.dense_captions {
        task.push_str(&format!(
            "denseCaptions: up to {} short captions of distinct regions of interest, each with its box.\n",
            MAX_DENSE_CAPTIONS - 1
        ));
    }
    if request.objects {
        task.push_str(
            "objects: each distinct physical object, one entry per instance, with a short lowercase common name \
             (person, car, dog, cup) and its box.\n",
        );
    }
    if request.gender_neutral {
        task.push_str("Do not guess anyone's gender: say person, people, child or children, never man, woman, boy or girl.\n");
    }
    if format != Format::JsonSchema {
        task.push_str(&format!("Answer with JSON matching this schema: {}\n", schema(request)));
    }
    (system, task)
}

fn body(config: &CaptionServiceConfig, request: &CaptionRequest, image: &SentImage, asked: Asked) -> Value {
    let (system, task) = prompt(request, image, asked.format);
    let mut body = json!({
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": [
                {"type": "text", "text": task},
                {"type": "image_url", "image_url": {"url": image.data_url, "detail": "high"}},
            ]},
        ],
    });
    let limit = if asked.max_completion_tokens { "max_completion_tokens" } else { "max_tokens" };
    body[limit] = json!(MAX_TOKENS);
    if asked.temperature {
        body["temperature"] = json!(0);
    }
    if config.api == CaptionApi::OpenaiCompatible {
        body["model"] = json!(config.model);
    }
    match asked.format {
        Format::JsonSchema => {
            body["response_format"] = json!({"type": "json_schema",
                "json_schema": {"name": "image_analysis", "strict": true, "schema": schema(request)}});
        }
        Format::JsonObject => body["response_format"] = json!({"type": "json_object"}),
        Format::PromptOnly => {}
    }
    if asked.logprobs {
        body["logprobs"] = json!(true);
    }
    body
}

/// Ask the model about `image`, whose upright size is `size`.
pub async fn describe(
    http: &dyn HttpClient,
    config: &CaptionServiceConfig,
    policy: &RetryPolicy,
    image: &[u8],
    size: ImageMetadata,
    request: CaptionRequest,
) -> Result<Captions> {
    let sent = SentImage::new(image)?;
    redacting(&config.service.key, async move {
        let call = Call::new(http, policy, CAPTION_SERVICE);
        let mut asked = Asked::FIRST;
        let response = loop {
            let body = serde_json::to_vec(&body(config, &request, &sent, asked))
                .map_err(|e| SightlineError::argument(format!("cannot write the request: {e}")))?;
            let mut headers = vec![("Content-Type".to_string(), "application/json".to_string())];
            match (config.api, config.service.key.is_empty()) {
                (CaptionApi::AzureOpenai, _) => headers.push((API_KEY_HEADER.into(), config.service.key.clone())),
                (CaptionApi::OpenaiCompatible, false) => headers.push(("Authorization".into(), format!("Bearer {}", config.service.key))),
                (CaptionApi::OpenaiCompatible, true) => {}
            }
            let http_request =
                HttpRequest { method: Method::Post, url: completions_url(config), headers, body: Some(Rc::from(body)), timeout: policy.request_timeout };
            match call.send(http_request, "describing the image").await {
                Ok(response) => break response,
                // A server that does not take an option says so in a 400 naming it.
                Err(error) => match asked.without_refused(&error) {
                    Some(next) => asked = next,
                    None => return Err(specific_error(error, config)),
                },
            }
        };
        let reply: Completion = serde_json::from_slice(&response.body).map_err(|e| SightlineError::RemoteMalformedResponse {
            service: CAPTION_SERVICE,
            reason: format!("the answer is not a chat completion ({e})"),
        })?;
        read_completion(reply, config, &request, &sent, size)
    })
    .await
}

/// The errors only this service has: a deployment or model that does not exist, the content
/// filter's refusal of the request.
fn specific_error(error: SightlineError, config: &CaptionServiceConfig) -> SightlineError {
    match error {
        SightlineError::RemoteServiceError { status: 404, code, message, service } => {
            SightlineError::RemoteModelNotFound { service, model: config.model.clone(), code, message }
        }
        SightlineError::RemoteServiceError { status: 400, code, message, service }
            if code == "content_filter" || code == "ResponsibleAIPolicyViolation" =>
        {
            SightlineError::RemoteContentFiltered { service, stage: "request", message }
        }
        other => other,
    }
}

/// A chat completion (the fields read here; the rest is ignored).
#[derive(Debug, Deserialize)]
struct Completion {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Option<Message>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    logprobs: Option<Logprobs>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Logprobs {
    #[serde(default)]
    content: Option<Vec<TokenLogprob>>,
}

#[derive(Debug, Deserialize)]
struct TokenLogprob {
    token: String,
    logprob: f64,
    #[serde(default)]
    bytes: Option<Vec<u8>>,
}

/// The reply's JSON, strings kept raw so their place in the text (and so their tokens) is known.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply<'a> {
    #[serde(borrow, default)]
    caption: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "denseCaptions")]
    dense_captions: Option<Vec<Region<'a>>>,
    #[serde(borrow, default)]
    objects: Option<Vec<Object<'a>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Region<'a> {
    #[serde(borrow)]
    text: &'a RawValue,
    #[serde(rename = "box")]
    bounds: [f64; 4],
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Object<'a> {
    #[serde(borrow)]
    name: &'a RawValue,
    #[serde(rename = "box")]
    bounds: [f64; 4],
}

fn invalid(reason: impl Into<String>) -> SightlineError {
    SightlineError::RemoteInvalidModelOutput { service: CAPTION_SERVICE, reason: reason.into() }
}

fn read_completion(
    reply: Completion,
    config: &CaptionServiceConfig,
    request: &CaptionRequest,
    sent: &SentImage,
    size: ImageMetadata,
) -> Result<Captions> {
    let choice = reply.choices.into_iter().next().ok_or_else(|| SightlineError::RemoteMalformedResponse {
        service: CAPTION_SERVICE,
        reason: "the completion has no choices".into(),
    })?;
    let finish = choice.finish_reason.as_deref().unwrap_or("");
    if finish == "content_filter" {
        return Err(SightlineError::RemoteContentFiltered {
            service: CAPTION_SERVICE,
            stage: "reply",
            message: "finish_reason content_filter".into(),
        });
    }
    let message = choice.message.unwrap_or(Message { content: None, refusal: None });
    if let Some(refusal) = message.refusal.filter(|r| !r.trim().is_empty()) {
        return Err(invalid(format!("the model refused: {}", shorten(&refusal))));
    }
    let content = message.content.unwrap_or_default();
    if finish == "length" {
        return Err(invalid(format!("the reply was cut off at {MAX_TOKENS} tokens, before its JSON ended")));
    }
    // Without a schema, models like to wrap JSON in a Markdown fence: read from the first brace
    // to the last.
    let (start, end) = match (content.find('{'), content.rfind('}')) {
        (Some(start), Some(end)) if start < end => (start, end + 1),
        _ => return Err(invalid(format!("the reply is not JSON: {}", shorten(&content)))),
    };
    let json = &content[start..end];
    let parsed: Reply<'_> = serde_json::from_str(json).map_err(|e| {
        if serde_json::from_str::<Value>(json).is_ok() {
            invalid(format!("the reply does not match the schema ({e})"))
        } else {
            invalid(format!("the reply is not JSON ({e}): {}", shorten(&content)))
        }
    })?;
    let tokens = TokenSpans::new(choice.logprobs.and_then(|l| l.content), &content);
    let text_of = |raw: &RawValue, field: &str| -> Result<(String, Option<f32>)> {
        let text: String = serde_json::from_str(raw.get()).map_err(|_| invalid(format!("{field} must be a string, not {}", raw.get())))?;
        let text = text.trim().to_string();
        if text.is_empty() {
            return Err(invalid(format!("{field} is empty")));
        }
        // The raw value borrows from `content`: its address gives its place in the text.
        let offset = raw.get().as_ptr() as usize - content.as_ptr() as usize;
        let confidence = tokens.as_ref().and_then(|t| t.confidence(offset + 1, offset + raw.get().len() - 1));
        let text = if request.gender_neutral { gender_neutral(&text) } else { text };
        Ok((text, confidence))
    };
    let scale = Scale { sx: size.width as f64 / sent.width as f64, sy: size.height as f64 / sent.height as f64, size };
    let source = ModelSource { backend: config.api.name().to_string(), model: reply.model.unwrap_or_else(|| config.model.clone()) };

    let mut captions = Captions::default();
    let whole = match (request.wants_caption(), parsed.caption) {
        (false, _) => None,
        (true, Some(raw)) => Some(text_of(raw, "caption")?),
        (true, None) => return Err(invalid("the reply has no caption")),
    };
    if request.caption {
        captions.caption = whole.clone().map(|(text, confidence)| CaptionResult { text, confidence, source: Some(source.clone()) });
    }
    if request.dense_captions {
        let regions = parsed.dense_captions.ok_or_else(|| invalid("the reply has no denseCaptions"))?;
        let mut values = Vec::new();
        if let Some((text, confidence)) = whole {
            let image = ImageBoundingBox { x: 0, y: 0, w: size.width, h: size.height };
            values.push(DenseCaption { text, confidence, bounding_box: image });
        }
        for region in regions {
            let (text, confidence) = text_of(region.text, "a dense caption's text")?;
            if let Some(bounding_box) = scale.bounding_box(region.bounds) {
                if values.len() < MAX_DENSE_CAPTIONS {
                    values.push(DenseCaption { text, confidence, bounding_box });
                }
            }
        }
        captions.dense_captions = Some(DenseCaptionsResult { values, source: Some(source.clone()) });
    }
    if request.objects {
        let objects = parsed.objects.ok_or_else(|| invalid("the reply has no objects"))?;
        let mut values = Vec::new();
        for object in objects {
            let (name, confidence) = text_of(object.name, "an object's name")?;
            if let Some(bounding_box) = scale.bounding_box(object.bounds) {
                values.push(DetectedObject { bounding_box, tags: vec![ObjectTag { name, confidence }] });
            }
        }
        captions.objects = Some(ObjectsResult { values, source: Some(source) });
    }
    if tokens.is_none() {
        captions.warning = Some(format!(
            "{} gave no token log-probabilities, so caption, denseCaptions and objects have no confidence",
            config.service.origin()
        ));
    }
    Ok(captions)
}

/// From the sent image's pixels to the original's.
struct Scale {
    sx: f64,
    sy: f64,
    size: ImageMetadata,
}

impl Scale {
    /// `[left, top, right, bottom]` in the sent image as a box in the original, clipped into it;
    /// `None` for a box outside the image, with no area, or not made of finite numbers.
    fn bounding_box(&self, [left, top, right, bottom]: [f64; 4]) -> Option<ImageBoundingBox> {
        if ![left, top, right, bottom].iter().all(|v| v.is_finite()) {
            return None;
        }
        let (w, h) = (self.size.width as f64, self.size.height as f64);
        let x0 = (left * self.sx).floor().clamp(0.0, w);
        let y0 = (top * self.sy).floor().clamp(0.0, h);
        let x1 = (right * self.sx).ceil().clamp(0.0, w);
        let y1 = (bottom * self.sy).ceil().clamp(0.0, h);
        (x1 > x0 && y1 > y0).then(|| ImageBoundingBox { x: x0 as u32, y: y0 as u32, w: (x1 - x0) as u32, h: (y1 - y0) as u32 })
    }
}

/// The reply's tokens with their byte ranges in the content, when they add up to it exactly.
struct TokenSpans {
    /// (start, end, logprob)
    spans: Vec<(usize, usize, f64)>,
}

impl TokenSpans {
    fn new(tokens: Option<Vec<TokenLogprob>>, content: &str) -> Option<TokenSpans> {
        let tokens = tokens.filter(|t| !t.is_empty())?;
        let mut spans = Vec::with_capacity(tokens.len());
        let mut joined = Vec::with_capacity(content.len());
        for token in tokens {
            let bytes = token.bytes.unwrap_or_else(|| token.token.into_bytes());
            let start = joined.len();
            joined.extend_from_slice(&bytes);
            if !token.logprob.is_finite() || token.logprob > 0.0 {
                return None;
            }
            spans.push((start, joined.len(), token.logprob));
        }
        (joined == content.as_bytes()).then_some(TokenSpans { spans })
    }

    /// The geometric mean of the probabilities of the tokens that overlap bytes `start..end`.
    fn confidence(&self, start: usize, end: usize) -> Option<f32> {
        let overlapping: Vec<f64> = self.spans.iter().filter(|&&(s, e, _)| s < end && e > start).map(|&(_, _, lp)| lp).collect();
        if overlapping.is_empty() {
            return None;
        }
        let mean = overlapping.iter().sum::<f64>() / overlapping.len() as f64;
        Some(mean.exp().clamp(0.0, 1.0) as f32)
    }
}

/// Azure's gender-neutral captions: gendered words for people replaced by neutral ones, even
/// when the model was asked and did not listen.
fn gender_neutral(text: &str) -> String {
    const WORDS: [(&str, &str); 14] = [
        ("man", "person"),
        ("woman", "person"),
        ("men", "people"),
        ("women", "people"),
        ("boy", "child"),
        ("girl", "child"),
        ("boys", "children"),
        ("girls", "children"),
        ("gentleman", "person"),
        ("lady", "person"),
        ("gentlemen", "people"),
        ("ladies", "people"),
        ("guy", "person"),
        ("guys", "people"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let lower = word.to_lowercase();
        match WORDS.iter().find(|(from, _)| *from == lower) {
            Some((_, to)) if word.starts_with(|c: char| c.is_uppercase()) => {
                let mut chars = to.chars();
                out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                out.push_str(chars.as_str());
            }
            Some((_, to)) => out.push_str(to),
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_alphabetic() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn shorten(text: &str) -> String {
    let short: String = text.chars().take(160).collect();
    if short.len() < text.len() { format!("{}…", short.trim()) } else { short.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(api: &str, endpoint: &str) -> CaptionServiceConfig {
        CaptionServiceConfig::new(endpoint, "k3y-k3y", "gpt-4o", Some(api), None, false).unwrap()
    }

    fn sent(width: u32, height: u32) -> SentImage {
        SentImage { data_url: "data:image/jpeg;base64,".into(), width, height }
    }

    const ALL: CaptionRequest = CaptionRequest { caption: true, dense_captions: true, objects: true, gender_neutral: false };

    #[test]
    fn urls_for_both_shapes_and_never_a_key() {
        assert_eq!(
            completions_url(&config("auto", "https://res.openai.azure.com/")),
            "https://res.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        );
        assert_eq!(completions_url(&config("auto", "http://127.0.0.1:8080")), "http://127.0.0.1:8080/v1/chat/completions");
        assert_eq!(completions_url(&config("openai-compatible", "http://localhost:11434/v1")), "http://localhost:11434/v1/chat/completions");
        assert_eq!(config("auto", "https://x.cognitiveservices.azure.com").api, CaptionApi::AzureOpenai);
        assert_eq!(config("auto", "https://api.openai.com").api, CaptionApi::OpenaiCompatible);
        // Keyless only where a server may take none.
        assert!(CaptionServiceConfig::new("http://127.0.0.1:1", "", "llava", None, None, false).is_ok());
        let azure = CaptionServiceConfig::new("https://r.openai.azure.com", "", "gpt-4o", None, None, false).unwrap_err();
        assert_eq!(azure.code(), "InvalidArgument");
        let no_model = CaptionServiceConfig::new("https://r.openai.azure.com", "k", " ", None, None, false).unwrap_err();
        assert!(no_model.to_string().contains("deployment"), "{no_model}");
        let bad_api = CaptionServiceConfig::new("https://r.openai.azure.com", "k", "m", Some("gemini"), None, false).unwrap_err();
        assert_eq!(bad_api.code(), "InvalidArgument");
    }

    #[test]
    fn the_schema_lists_what_is_asked_and_the_body_its_options() {
        let only_objects = CaptionRequest { caption: false, dense_captions: false, objects: true, gender_neutral: false };
        assert_eq!(schema(&only_objects)["required"], json!(["objects"]));
        let dense = CaptionRequest { caption: false, dense_captions: true, objects: false, gender_neutral: true };
        assert_eq!(schema(&dense)["required"], json!(["caption", "denseCaptions"]), "the first dense caption is the caption");
        let azure = body(&config("azure-openai", "https://r.openai.azure.com"), &dense, &sent(10, 10), Asked::FIRST);
        assert!(azure.get("model").is_none(), "Azure names the deployment in the path");
        assert_eq!(azure["response_format"]["json_schema"]["strict"], json!(true));
        assert_eq!(azure["logprobs"], json!(true));
        assert!(azure["messages"][1]["content"][0]["text"].as_str().unwrap().contains("never man, woman"));
        assert_eq!((azure["max_tokens"].as_u64(), azure["temperature"].as_u64()), (Some(MAX_TOKENS as u64), Some(0)));
        let last = Asked { format: Format::PromptOnly, logprobs: false, max_completion_tokens: true, temperature: false };
        let plain = body(&config("openai-compatible", "http://127.0.0.1:1"), &dense, &sent(10, 10), last);
        assert_eq!(plain["model"], json!("gpt-4o"));
        assert!(plain.get("response_format").is_none() && plain.get("logprobs").is_none() && plain.get("temperature").is_none());
        assert_eq!((plain.get("max_tokens"), plain["max_completion_tokens"].as_u64()), (None, Some(MAX_TOKENS as u64)));
        assert!(plain["messages"][1]["content"][0]["text"].as_str().unwrap().contains("denseCaptions"));
    }

    #[test]
    fn each_refused_option_is_taken_back_once_and_other_errors_end_the_call() {
        let refusal = |message: &str| SightlineError::RemoteServiceError {
            service: CAPTION_SERVICE,
            status: 400,
            code: "HTTP400".into(),
            message: message.into(),
        };
        // What OpenAI's and Azure's servers say when a model does not take an option.
        let steps = [
            "logprobs is not supported with this model",
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
            "Unsupported value: 'temperature' does not support 0 with this model. Only the default (1) value is supported.",
            "Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
            "Invalid parameter: 'response_format' of type 'json_object' is not supported with this model.",
        ];
        let mut asked = Asked::FIRST;
        for message in steps {
            asked = asked.without_refused(&refusal(message)).unwrap_or_else(|| panic!("{message}: not taken back"));
        }
        assert_eq!(asked, Asked { format: Format::PromptOnly, logprobs: false, max_completion_tokens: true, temperature: false });
        // Nothing left to take back; the same refusal again, another 400 or another status end it.
        assert_eq!(asked.without_refused(&refusal(steps[0])), None);
        assert_eq!(Asked::FIRST.without_refused(&refusal("Invalid image.")), None);
        let unauthorized = SightlineError::RemoteUnauthorized { service: CAPTION_SERVICE, status: 401, code: "401".into(), message: "logprobs".into() };
        assert_eq!(Asked::FIRST.without_refused(&unauthorized), None);
    }

    fn completion(content: &str, tokens: Option<Vec<&str>>) -> Completion {
        let logprobs = tokens.map(|t| {
            json!({"content": t.iter().map(|token| json!({"token": token, "logprob": -0.1, "bytes": token.as_bytes()})).collect::<Vec<_>>()})
        });
        serde_json::from_value(json!({"model": "gpt-4o-2024-08-06", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": content}, "logprobs": logprobs}]}))
        .unwrap()
    }

    #[test]
    fn boxes_are_scaled_clipped_and_dropped_and_confidences_come_from_tokens() {
        let content = r#"{"caption":"a man on a bike","denseCaptions":[{"text":"a wheel","box":[10,20,30,40]},{"text":"off","box":[500,500,600,600]},{"text":"flat","box":[5,5,5,9]},{"text":"edge","box":[90,-5,120,30]}],"objects":[{"name":"bicycle","box":[0,0,100,50]}]}"#;
        let mut tokens: Vec<&str> = Vec::new();
        let mut rest = content;
        while !rest.is_empty() {
            let n = rest.char_indices().nth(3).map_or(rest.len(), |(i, _)| i);
            tokens.push(&rest[..n]);
            rest = &rest[n..];
        }
        let size = ImageMetadata { width: 200, height: 100 };
        let read = read_completion(completion(content, Some(tokens)), &config("auto", "http://127.0.0.1:1"), &ALL, &sent(100, 50), size).unwrap();
        let caption = read.caption.unwrap();
        assert_eq!(caption.text, "a man on a bike");
        assert!((caption.confidence.unwrap() - (-0.1f32).exp()).abs() < 1e-6);
        assert_eq!(caption.source.unwrap().model, "gpt-4o-2024-08-06");
        let dense = read.dense_captions.unwrap().values;
        assert_eq!(dense.len(), 3, "whole image, the wheel, the clipped edge; outside and flat dropped: {dense:?}");
        assert_eq!(dense[0].bounding_box, ImageBoundingBox { x: 0, y: 0, w: 200, h: 100 });
        assert_eq!(dense[1].bounding_box, ImageBoundingBox { x: 20, y: 40, w: 40, h: 40 });
        assert_eq!(dense[2].bounding_box, ImageBoundingBox { x: 180, y: 0, w: 20, h: 60 });
        assert_eq!(read.objects.unwrap().values[0].bounding_box, ImageBoundingBox { x: 0, y: 0, w: 200, h: 100 });
        assert!(read.warning.is_none());

        // No log-probabilities: no confidence, and the warning says why.
        let bare = read_completion(completion(content, None), &config("auto", "http://127.0.0.1:1"), &ALL, &sent(100, 50), size).unwrap();
        assert_eq!(bare.caption.unwrap().confidence, None);
        assert!(bare.warning.unwrap().contains("no token log-probabilities"));
        // Tokens that do not add up to the content are not used.
        let wrong = read_completion(completion(content, Some(vec!["{", "x"])), &config("auto", "http://127.0.0.1:1"), &ALL, &sent(100, 50), size);
        assert_eq!(wrong.unwrap().objects.unwrap().values[0].tags[0].confidence, None);
    }

    #[test]
    fn replies_that_are_not_what_was_asked_are_typed_errors() {
        let size = ImageMetadata { width: 10, height: 10 };
        let code = |content: &str| {
            read_completion(completion(content, None), &config("auto", "http://127.0.0.1:1"), &ALL, &sent(10, 10), size).unwrap_err()
        };
        for content in [
            "Sure! The image shows a bike.",
            r#"{"caption": 42, "denseCaptions": [], "objects": []}"#,
            r#"{"caption": "x", "denseCaptions": [], "objects": [{"label": "person"}]}"#,
            r#"{"caption": "x", "objects": []}"#,
            r#"{"caption": "x", "denseCaptions": [{"text": "y", "box": [1, 2, 3]}], "objects": []}"#,
            r#"{"caption": "  ", "denseCaptions": [], "objects": []}"#,
        ] {
            assert_eq!(code(content).code(), "RemoteInvalidModelOutput", "{content}");
        }
        // A fenced reply (no schema) is read.
        let fenced = "```json\n{\"caption\": \"a cat\", \"denseCaptions\": [], \"objects\": []}\n```";
        let read = read_completion(completion(fenced, None), &config("auto", "http://127.0.0.1:1"), &ALL, &sent(10, 10), size).unwrap();
        assert_eq!(read.caption.unwrap().text, "a cat");
        let filtered: Completion = serde_json::from_value(json!({"choices": [{"finish_reason": "content_filter", "message": {"content": null}}]})).unwrap();
        let error = read_completion(filtered, &config("auto", "http://127.0.0.1:1"), &ALL, &sent(10, 10), size).unwrap_err();
        assert_eq!(error.code(), "RemoteContentFiltered");
    }

    #[test]
    fn gender_neutral_words() {
        assert_eq!(gender_neutral("A man and two women, a Boy's kite; Manhattan"), "A person and two people, a Child's kite; Manhattan");
    }

    #[test]
    fn images_are_sent_at_the_size_the_model_sees() {
        let mut png = Vec::new();
        image::RgbImage::from_pixel(3000, 1000, image::Rgb([9, 9, 9]))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let sent = SentImage::new(&png).unwrap();
        assert_eq!((sent.width, sent.height), (2048, 683));
        assert!(sent.data_url.starts_with("data:image/jpeg;base64,/9j/"));
    }
}
