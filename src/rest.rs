//! Azure AI Vision's REST API, answered by Sightline: Image Analysis 4.0's
//! `imageanalysis:analyze` and the multimodal embeddings' `retrieval:vectorizeImage` and
//! `retrieval:vectorizeText`. The native server (`sightline serve`) and the npm package's adapter
//! for Azure's JS client both answer through this module, so an SDK pointed at either gets the
//! same statuses, error bodies and results.
//!
//! A request goes [`Target::route`] (method and URL: 404, 405, api-version), then
//! [`Target::call`] (content type and body: 415, the query options), then [`Call::fetch_image`]
//! for a `{"url"}` body, then [`start`] on an analyzer and [`Answer::finish`] for the features
//! sent to Azure services. Each step that refuses the request returns the [`Response`] to send.

use serde::Serialize;

use crate::analyze::{model_version, AnalyzeOptions, Analyzer};
use crate::azure::{ErrorBody, ErrorResponse, InnerError};
use crate::decode::MAX_IMAGE_BYTES;
use crate::error::SightlineError;
use crate::remote::{HttpClient, HttpRequest, Method, PendingAnalysis, TransportError};

/// Request bodies (images) over this are refused with 413, as Azure does (20 MB).
pub const MAX_BODY_BYTES: usize = MAX_IMAGE_BYTES;

/// The Image Analysis API versions that have `imageanalysis:analyze` in the 4.0 shape.
pub const ANALYZE_API_VERSIONS: [&str; 2] = ["2023-10-01", "2024-02-01"];
/// The API versions of `retrieval:vectorizeImage` and `vectorizeText`.
pub const VECTORIZE_API_VERSIONS: [&str; 2] = ["2024-02-01", "2023-04-01-preview"];

/// How long one download of an image URL may take, and how many redirects it follows.
const URL_TIMEOUT_SECONDS: u64 = 30;
const URL_REDIRECTS: usize = 5;

/// An HTTP answer: status, headers (`content-type` always) and a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &impl Serialize) -> Response {
        let body = serde_json::to_vec(value).expect("results serialise");
        Response { status, headers: vec![("content-type".into(), "application/json; charset=utf-8".into())], body }
    }

    /// Azure's error answer: `{"error": {"code", "message", "innererror": {"code", "message"}}}`
    /// and the outer code again in `x-ms-error-code`.
    pub fn error(status: u16, code: &str, inner: &str, message: impl Into<String>) -> Response {
        let message = message.into();
        let error = ErrorBody { code: code.to_string(), message: message.clone(), innererror: InnerError { code: inner.to_string(), message } };
        Response::error_body(status, ErrorResponse { error })
    }

    /// A request Sightline refused or failed on: the body every surface gives the error, with
    /// the status Azure gives that condition.
    pub fn from_error(error: &SightlineError) -> Response {
        Response::error_body(status_of(error), ErrorResponse::from(error))
    }

    fn error_body(status: u16, body: ErrorResponse) -> Response {
        let mut response = Response::json(status, &body);
        response.headers.push(("x-ms-error-code".into(), body.error.code));
        response
    }

    /// 401, as Azure's gateway answers a missing or wrong `Ocp-Apim-Subscription-Key`.
    pub fn unauthorized() -> Response {
        Response::error(
            401,
            "401",
            "InvalidSubscriptionKey",
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key in the \
             Ocp-Apim-Subscription-Key header and use this server's endpoint.",
        )
    }

    /// 429: the work queue is full; try again after `seconds`.
    pub fn busy(seconds: u64) -> Response {
        let mut response = Response::error(
            429,
            "429",
            "TooManyRequests",
            format!("All workers are busy and the queue is full. Try again in {seconds} seconds."),
        );
        response.headers.push(("retry-after".into(), seconds.to_string()));
        response
    }

    /// 413: a body over [`MAX_BODY_BYTES`], refused before it is read whole.
    pub fn too_large(size: Option<u64>) -> Response {
        let size = size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
        Response::error(
            413,
            "InvalidRequest",
            "InvalidImageSize",
            format!("The request body{size} is larger than the {} MB limit for an image.", MAX_BODY_BYTES / (1024 * 1024)),
        )
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The HTTP status Azure gives an error: 400 for what the caller must change, 500 for failures
/// on the service's side (an inference that failed, a remote service down for the whole call).
pub fn status_of(error: &SightlineError) -> u16 {
    match error {
        SightlineError::RemoteCanceled { .. } => 503,
        _ if error.azure_code() == "InternalServerError" => 500,
        _ => 400,
    }
}

/// The three operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Analyze,
    VectorizeImage,
    VectorizeText,
}

impl Route {
    /// The path after the endpoint, as Azure spells it.
    pub fn path(self) -> &'static str {
        match self {
            Route::Analyze => "/computervision/imageanalysis:analyze",
            Route::VectorizeImage => "/computervision/retrieval:vectorizeImage",
            Route::VectorizeText => "/computervision/retrieval:vectorizeText",
        }
    }

    const ALL: [Route; 3] = [Route::Analyze, Route::VectorizeImage, Route::VectorizeText];
}

/// A request whose route, method and API version are known; its query, by lower-case name.
#[derive(Debug, Clone)]
pub struct Target {
    pub route: Route,
    query: Vec<(String, String)>,
}

/// The image of a call: the request's bytes, or a URL to download (`{"url": …}`).
#[derive(Debug, Clone)]
pub enum ImageSource {
    Bytes(Vec<u8>),
    Url(String),
}

/// A parsed request, ready to run.
#[derive(Debug, Clone)]
pub enum Call {
    Analyze { options: AnalyzeOptions, image: ImageSource },
    VectorizeImage { image: ImageSource },
    VectorizeText { text: String },
}

impl Target {
    /// Route `method` and `target` (a path with its query, or a whole URL). Paths compare
    /// case-insensitively after percent-decoding, and doubled slashes are one (some clients join
    /// an endpoint ending in `/` with a path starting with one).
    pub fn route(method: &str, target: &str) -> Result<Target, Response> {
        let (path, query) = split_target(target);
        let path = percent_decode(path);
        let mut normal = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && normal.ends_with('/')) {
                normal.push(c);
            }
        }
        let normal = normal.trim_end_matches('/');
        let Some(route) = Route::ALL.into_iter().find(|r| r.path().eq_ignore_ascii_case(normal)) else {
            return Err(Response::error(
                404,
                "404",
                "NotFound",
                format!(
                    "Resource not found: {normal}. Sightline answers POST {}, {} and {}",
                    Route::Analyze.path(),
                    Route::VectorizeImage.path(),
                    Route::VectorizeText.path()
                ),
            ));
        };
        if !method.eq_ignore_ascii_case("POST") {
            let mut response =
                Response::error(405, "405", "MethodNotAllowed", format!("{method} is not allowed on {}; use POST", route.path()));
            response.headers.push(("allow".into(), "POST".into()));
            return Err(response);
        }
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned())).collect();
        let target = Target { route, query };
        let versions: &[&str] = match route {
            Route::Analyze => &ANALYZE_API_VERSIONS,
            Route::VectorizeImage | Route::VectorizeText => &VECTORIZE_API_VERSIONS,
        };
        match target.param("api-version") {
            None => Err(Response::error(
                400,
                "InvalidRequest",
                "MissingApiVersionParameter",
                format!("The api-version query parameter is required; supported: {}", versions.join(", ")),
            )),
            Some(v) if versions.contains(&v.trim()) => Ok(target),
            Some(v) => Err(Response::error(
                400,
                "InvalidRequest",
                "UnsupportedApiVersion",
                format!("The api-version '{v}' is not supported for {}; supported: {}", route.path(), versions.join(", ")),
            )),
        }
    }

    /// The last value of a query parameter (names are case-insensitive).
    fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Read the body by its content type and the options from the query.
    pub fn call(&self, content_type: Option<&str>, body: Vec<u8>) -> Result<Call, Response> {
        let media = content_type.unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let json = media == "application/json" || media.ends_with("+json");
        let binary = media == "application/octet-stream" || media.starts_with("image/");
        let unsupported = |accepted: &str| {
            Response::error(
                415,
                "InvalidRequest",
                "UnsupportedMediaType",
                format!("The content type '{media}' is not supported here; send {accepted}"),
            )
        };
        if body.len() > MAX_BODY_BYTES {
            return Err(Response::too_large(Some(body.len() as u64)));
        }
        match self.route {
            Route::VectorizeText => {
                if !json {
                    return Err(unsupported("application/json with {\"text\": ...}"));
                }
                let text = json_field(&body, "text")?;
                if text.trim().is_empty() {
                    return Err(invalid_parameter("The text to vectorize is empty"));
                }
                self.vector_model_version()?;
                Ok(Call::VectorizeText { text })
            }
            Route::Analyze | Route::VectorizeImage => {
                let image = if json {
                    ImageSource::Url(json_field(&body, "url").map_err(|_| {
                        Response::error(400, "InvalidRequest", "InvalidImageUrl", "The JSON body must be {\"url\": \"<image URL>\"}")
                    })?)
                } else if binary {
                    ImageSource::Bytes(body)
                } else {
                    return Err(unsupported("application/octet-stream (the image's bytes) or application/json ({\"url\": ...})"));
                };
                if self.route == Route::VectorizeImage {
                    self.vector_model_version()?;
                    return Ok(Call::VectorizeImage { image });
                }
                Ok(Call::Analyze { options: self.analyze_options()?, image })
            }
        }
    }

    /// The query of `imageanalysis:analyze` as the core's options.
    fn analyze_options(&self) -> Result<AnalyzeOptions, Response> {
        let features: Vec<String> = self
            .param("features")
            .map(|list| list.split(',').map(str::trim).filter(|f| !f.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        let ratios = match self.param("smartcrops-aspect-ratios").filter(|v| !v.trim().is_empty()) {
            Some(list) => Some(
                list.split(',')
                    .map(|r| r.trim().parse::<f32>().ok().filter(|r| r.is_finite()))
                    .collect::<Option<Vec<f32>>>()
                    .ok_or_else(|| invalid_parameter(format!("smartcrops-aspect-ratios '{list}' must be numbers separated by commas")))?,
            ),
            None => None,
        };
        let gender_neutral_caption = match self.param("gender-neutral-caption") {
            Some(value) if value.eq_ignore_ascii_case("true") => Some(true),
            Some(value) if value.eq_ignore_ascii_case("false") => Some(false),
            Some(value) => return Err(invalid_parameter(format!("gender-neutral-caption '{value}' must be true or false"))),
            None => None,
        };
        // A dated model version (what Azure's clients pin) runs the model this server has; the
        // result's modelVersion says which.
        let model_version = self.param("model-version").map(|v| if is_date(v) { "latest".to_string() } else { v.to_string() });
        Ok(AnalyzeOptions {
            features,
            language: self.param("language").map(String::from),
            smartcrops_aspect_ratios: ratios,
            model_version,
            gender_neutral_caption,
            ..Default::default()
        })
    }

    /// Vectors live in one model's space: Azure's dated models' vectors cannot be compared with
    /// Sightline's, so asking for one is refused rather than answered in another space.
    fn vector_model_version(&self) -> Result<(), Response> {
        match self.param("model-version") {
            Some(v) if is_date(v) => Err(Response::error(
                400,
                "InvalidRequest",
                "NotSupportedModelVersion",
                format!(
                    "The model version '{v}' is Azure's; Sightline's vectors come from its SigLIP model and are not comparable \
                     with that model's. Re-embed the whole index with model-version=latest and query it with the same."
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl Call {
    /// The URL to download before the call can run, for a `{"url"}` body.
    pub fn image_url(&self) -> Option<&str> {
        match self {
            Call::Analyze { image: ImageSource::Url(url), .. } | Call::VectorizeImage { image: ImageSource::Url(url) } => {
                Some(url)
            }
            _ => None,
        }
    }

    /// The analysis options (for a caller that loads parts on demand before [`start`]).
    pub fn analyze_options(&self) -> Option<&AnalyzeOptions> {
        match self {
            Call::Analyze { options, .. } => Some(options),
            _ => None,
        }
    }

    /// Download a `{"url"}` body's image with `http` (natively, a client that refuses private
    /// addresses unless the server allows them): http(s) only, redirects followed a few times, no
    /// credentials sent, the 20 MB limit. A call with bytes is returned as it is.
    pub async fn fetch_image(self, http: &dyn HttpClient) -> Result<Call, Response> {
        let Some(url) = self.image_url() else { return Ok(self) };
        let bytes = download(url, http).await?;
        Ok(match self {
            Call::Analyze { options, .. } => Call::Analyze { options, image: ImageSource::Bytes(bytes) },
            Call::VectorizeImage { .. } => Call::VectorizeImage { image: ImageSource::Bytes(bytes) },
            text => text,
        })
    }
}

/// A call's answer: ready, or waiting for the Azure services its features go to.
pub enum Answer {
    Done(Response),
    Remote(PendingAnalysis),
}

/// Run a call on `analyzer` (an image URL must have been fetched): everything on the device
/// happens here; what remains is for the services.
pub fn start(analyzer: &Analyzer, call: &Call) -> Answer {
    fn image(source: &ImageSource) -> Result<&[u8], SightlineError> {
        match source {
            ImageSource::Bytes(bytes) => Ok(bytes),
            ImageSource::Url(_) => Err(SightlineError::argument("the image URL was not downloaded before the call ran")),
        }
    }
    let outcome = match call {
        Call::Analyze { options, image: source } => {
            return match image(source).and_then(|bytes| analyzer.start(bytes, options)) {
                Ok(pending) => Answer::Remote(pending),
                Err(error) => Answer::Done(Response::from_error(&error)),
            };
        }
        Call::VectorizeImage { image: source } => analyzer.require_siglip().and_then(|model| {
            let embedding = model.embed_image(image(source)?)?;
            Ok(Vector { model_version: model_version(Some(model)), vector: embedding.embedding })
        }),
        Call::VectorizeText { text } => analyzer.require_siglip().and_then(|model| {
            let vector = model.embed_texts(&[text])?.pop().expect("one text, one vector");
            Ok(Vector { model_version: model_version(Some(model)), vector })
        }),
    };
    Answer::Done(match outcome {
        Ok(vector) => Response::json(200, &vector),
        Err(error) => Response::from_error(&error),
    })
}

impl Answer {
    pub async fn finish(self, http: &dyn HttpClient) -> Response {
        match self {
            Answer::Done(response) => response,
            Answer::Remote(pending) => match pending.finish(http).await {
                Ok(result) => Response::json(200, &result),
                Err(error) => Response::from_error(&error),
            },
        }
    }
}

/// The whole call where the analyzer can be borrowed across the awaits (natively): download
/// the image with `images`, run, and call the Azure services with `services`.
pub async fn answer(analyzer: &Analyzer, call: Call, images: &dyn HttpClient, services: &dyn HttpClient) -> Response {
    match call.fetch_image(images).await {
        Ok(call) => start(analyzer, &call).finish(services).await,
        Err(response) => response,
    }
}

/// `retrieval:vectorize*`'s answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Vector {
    model_version: String,
    vector: Vec<f32>,
}

fn invalid_parameter(message: impl Into<String>) -> Response {
    Response::error(400, "InvalidRequest", "InvalidParameter", message)
}

fn invalid_url(message: impl Into<String>) -> Response {
    Response::error(400, "InvalidRequest", "InvalidImageUrl", message)
}

/// `YYYY-MM-DD`: Azure's dated model versions.
fn is_date(value: &str) -> bool {
    let b = value.trim().as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// A string field of a JSON object body.
fn json_field(body: &[u8], name: &str) -> Result<String, Response> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| Response::error(400, "InvalidRequest", "InvalidParameter", format!("The body is not valid JSON: {e}")))?;
    value
        .get(name)
        .and_then(|v| v.as_str())
        .map(String::from)
        .ok_or_else(|| invalid_parameter(format!("The JSON body needs a string field \"{name}\"")))
}

/// The path and query of a request target, which may be a whole URL.
fn split_target(target: &str) -> (&str, &str) {
    let without_origin = match target.find("://") {
        Some(scheme_end) => {
            let rest = &target[scheme_end + 3..];
            rest.find(['/', '?']).map(|i| &rest[i..]).unwrap_or("")
        }
        None => target,
    };
    let without_fragment = without_origin.split('#').next().unwrap_or("");
    without_fragment.split_once('?').unwrap_or((without_fragment, ""))
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// GET an image URL, following redirects ourselves (each hop goes through the same client,
/// so a redirect to a refused address is refused too).
async fn download(url: &str, http: &dyn HttpClient) -> Result<Vec<u8>, Response> {
    let mut current = parse_image_url(url)?;
    for _ in 0..=URL_REDIRECTS {
        let request = HttpRequest {
            method: Method::Get,
            url: current.to_string(),
            headers: vec![("Accept".into(), "image/*".into())],
            body: None,
            timeout: std::time::Duration::from_secs(URL_TIMEOUT_SECONDS),
        };
        match http.send(request).await {
            Ok(response) if (200..300).contains(&response.status) => {
                if response.body.len() > MAX_BODY_BYTES {
                    return Err(too_large_image(response.body.len()));
                }
                return Ok(response.body);
            }
            Ok(response) => return Err(invalid_url(format!("The image URL answered HTTP {}", response.status))),
            Err(TransportError::Redirected { location: Some(location), .. }) => {
                let next = current.join(&location).map_err(|e| invalid_url(format!("The image URL redirects to '{location}': {e}")))?;
                current = parse_image_url(next.as_str())?;
            }
            Err(TransportError::Redirected { location: None, .. }) => {
                return Err(invalid_url("The image URL redirects; give the URL it redirects to"));
            }
            Err(TransportError::TooLarge) => return Err(too_large_image(MAX_BODY_BYTES + 1)),
            Err(TransportError::Timeout) => {
                return Err(invalid_url(format!("The image URL did not answer within {URL_TIMEOUT_SECONDS} s")));
            }
            Err(TransportError::Canceled) => return Err(invalid_url("The download of the image URL was canceled")),
            Err(TransportError::Network(reason)) => return Err(invalid_url(format!("Could not download the image URL: {reason}"))),
        }
    }
    Err(invalid_url(format!("The image URL redirects more than {URL_REDIRECTS} times")))
}

fn too_large_image(size: usize) -> Response {
    Response::from_error(&SightlineError::ImageTooLarge { size, limit: MAX_BODY_BYTES })
}

fn parse_image_url(text: &str) -> Result<url::Url, Response> {
    let url = url::Url::parse(text.trim()).map_err(|e| invalid_url(format!("The image URL '{text}' is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid_url(format!("The image URL must be http or https, not {}", url.scheme())));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid_url("The image URL must not carry credentials"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, target: &str) -> Result<Target, Response> {
        Target::route(method, target)
    }

    fn inner_code(response: &Response) -> String {
        let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
        body["error"]["innererror"]["code"].as_str().unwrap().to_string()
    }

    #[test]
    fn routes_as_the_real_clients_send_them() {
        let target = route("POST", "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=tags%2Cread").unwrap();
        assert_eq!(target.route, Route::Analyze);
        let Call::Analyze { options, .. } = target.call(Some("application/octet-stream"), vec![1, 2]).unwrap() else { panic!() };
        assert_eq!(options.features, ["tags", "read"]);
        // A doubled slash, a whole URL, names in another case and order, an encoded colon.
        for target in [
            "//computervision/imageanalysis:analyze?Features=people&API-Version=2023-10-01",
            "http://127.0.0.1:5000//computervision/imageanalysis%3Aanalyze?api-version=2023-10-01&features=people",
            "/ComputerVision/ImageAnalysis:Analyze/?features=people&api-version=2024-02-01",
        ] {
            let call = route("post", target).unwrap().call(Some("application/octet-stream"), vec![]).unwrap();
            assert_eq!(call.analyze_options().unwrap().features, ["people"], "{target}");
        }
        let text = route("POST", "/computervision/retrieval:vectorizeText?api-version=2024-02-01&model-version=latest").unwrap();
        assert!(matches!(text.call(Some("application/json; charset=utf-8"), br#"{"text":"a dog"}"#.to_vec()), Ok(Call::VectorizeText { .. })));
    }

    #[test]
    fn refusals_have_azures_statuses_and_codes() {
        let not_found = route("POST", "/vision/v3.2/analyze?api-version=2023-10-01").unwrap_err();
        assert_eq!((not_found.status, not_found.header("x-ms-error-code")), (404, Some("404")));
        let method = route("GET", "/computervision/imageanalysis:analyze?api-version=2023-10-01").unwrap_err();
        assert_eq!((method.status, method.header("allow")), (405, Some("POST")));
        assert_eq!(inner_code(&route("POST", "/computervision/imageanalysis:analyze").unwrap_err()), "MissingApiVersionParameter");
        let old = route("POST", "/computervision/imageanalysis:analyze?api-version=2022-10-12-preview").unwrap_err();
        assert_eq!((old.status, inner_code(&old)), (400, "UnsupportedApiVersion".into()));

        let analyze = route("POST", "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=tags").unwrap();
        let media = analyze.call(Some("text/plain"), vec![1]).unwrap_err();
        assert_eq!((media.status, inner_code(&media)), (415, "UnsupportedMediaType".into()));
        assert_eq!(analyze.call(None, vec![1]).unwrap_err().status, 415);
        let huge = analyze.call(Some("application/octet-stream"), vec![0; MAX_BODY_BYTES + 1]).unwrap_err();
        assert_eq!(huge.status, 413);
        assert_eq!(inner_code(&analyze.call(Some("application/json"), b"{}".to_vec()).unwrap_err()), "InvalidImageUrl");
        let ratios = route("POST", "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=smartCrops&smartcrops-aspect-ratios=1,x");
        assert_eq!(inner_code(&ratios.unwrap().call(Some("image/png"), vec![]).unwrap_err()), "InvalidParameter");

        let dated = route("POST", "/computervision/retrieval:vectorizeImage?api-version=2024-02-01&model-version=2023-04-15").unwrap();
        let refused = dated.call(Some("application/octet-stream"), vec![1]).unwrap_err();
        assert_eq!((refused.status, inner_code(&refused)), (400, "NotSupportedModelVersion".into()));
        assert!(String::from_utf8_lossy(&refused.body).contains("model-version=latest"));
        // A dated analysis model version runs the model the server has.
        let analyze = route("POST", "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=tags&model-version=2023-10-01");
        let call = analyze.unwrap().call(Some("application/octet-stream"), vec![]).unwrap();
        assert_eq!(call.analyze_options().unwrap().model_version.as_deref(), Some("latest"));
    }

    #[test]
    fn errors_of_the_analysis_keep_the_core_codes() {
        let analyzer = Analyzer::new();
        let target = route("POST", "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=color").unwrap();
        let call = target.call(Some("application/octet-stream"), b"not an image".to_vec()).unwrap();
        let Answer::Done(response) = start(&analyzer, &call) else { panic!("a bad image fails before any service") };
        assert_eq!((response.status, response.header("x-ms-error-code")), (400, Some("InvalidRequest")));
        assert_eq!(inner_code(&response), "InvalidImageFormat");
        let caption = route("POST", "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=caption").unwrap();
        let Answer::Done(response) = start(&analyzer, &caption.call(Some("image/jpeg"), vec![]).unwrap()) else { panic!() };
        assert_eq!((response.status, inner_code(&response)), (400, "NotSupportedVisualFeature".into()));
        let text = route("POST", "/computervision/retrieval:vectorizeText?api-version=2024-02-01").unwrap();
        let Answer::Done(response) = start(&analyzer, &text.call(Some("application/json"), br#"{"text":"x"}"#.to_vec()).unwrap()) else {
            panic!()
        };
        assert_eq!((response.status, inner_code(&response)), (400, "SiglipModelNotLoaded".into()));
    }
}
