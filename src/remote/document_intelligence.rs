//! Document Intelligence `prebuilt-read` (v4.0 2024-11-30, or v3.1 2023-07-31): upload, poll
//! the long-running operation, and map its first page to Image Analysis's `readResult`.
//!
//! The contract: `POST {endpoint}/{documentintelligence|formrecognizer}/documentModels/
//! prebuilt-read:analyze?api-version=…` with the image bytes answers `202 Accepted` and an
//! `Operation-Location` URL; `GET` on it answers `{status: notStarted|running|succeeded|failed|
//! canceled, analyzeResult?, error?}`, with `Retry-After` saying when to ask again.

use std::rc::Rc;
use std::time::Duration;

use serde::Deserialize;

use super::config::{origin_of, ReadServiceConfig, READ_SERVICE};
use super::http::{HttpClient, HttpRequest, Method, KEY_HEADER};
use super::retry::{redacting, retry_after, Call, RetryPolicy, ServiceError};
use crate::azure::{DetectedTextLine, DetectedTextWord, ImageMetadata, ImagePoint, ReadResult};
use crate::error::{Result, SightlineError};

/// Never poll more often than this, whatever `Retry-After` says.
pub const MIN_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Read the text of `image` (bytes of `content_type`) whose upright size is `size`. The key never
/// appears in an error, whatever the service's answers quote.
pub async fn read_text(
    http: &dyn HttpClient,
    config: &ReadServiceConfig,
    policy: &RetryPolicy,
    image: Rc<[u8]>,
    content_type: &str,
    size: ImageMetadata,
) -> Result<ReadResult> {
    redacting(&config.service.key, async move {
        let call = Call::new(http, policy, READ_SERVICE);
        let service = &config.service;
        let version = config.api_version;
        // Code-point offsets, so `content` can be cut per page without a grapheme segmenter.
        let url = format!(
            "{}/{}/documentModels/prebuilt-read:analyze?api-version={}&stringIndexType=unicodeCodePoint",
            service.endpoint,
            version.route(),
            version.as_str()
        );
        let upload = HttpRequest {
            method: Method::Post,
            url,
            headers: vec![("Content-Type".into(), content_type.into()), (KEY_HEADER.into(), service.key.clone())],
            body: Some(image),
            timeout: policy.request_timeout,
        };
        let accepted = call.send(upload, "uploading the image").await?;
        if accepted.status != 202 {
            return Err(malformed(format!("expected 202 Accepted for the analysis, got HTTP {}", accepted.status)));
        }
        let operation = accepted.header("operation-location").filter(|l| !l.is_empty()).ok_or_else(|| {
            malformed(
                "the 202 answer has no Operation-Location header; from a browser, the service (or your proxy) must send \
                 Access-Control-Expose-Headers: Operation-Location, Retry-After (see README, 'Remote services')"
                    .into(),
            )
        })?;
        // The key goes with the poll, so the poll must go to the resource we were given: never follow
        // an Operation-Location to another origin.
        if origin_of(operation) != service.origin() {
            return Err(malformed(format!(
                "Operation-Location points to {} instead of the endpoint's origin {}; not sending the key there",
                origin_of(operation),
                service.origin()
            )));
        }
        let operation = operation.to_string();
        let mut delay = retry_after(&accepted).unwrap_or(MIN_POLL_INTERVAL).max(MIN_POLL_INTERVAL);
        loop {
            call.wait(delay, || call.timeout("waiting for the analysis to finish")).await?;
            let poll = HttpRequest {
                method: Method::Get,
                url: operation.clone(),
                headers: vec![(KEY_HEADER.into(), service.key.clone())],
                body: None,
                timeout: policy.request_timeout,
            };
            let response = call.send(poll, "polling the analysis").await?;
            let state: Operation = serde_json::from_slice(&response.body)
                .map_err(|e| malformed(format!("the operation status is not the expected JSON ({e})")))?;
            match state.status.as_str() {
                "notStarted" | "running" => {
                    delay = retry_after(&response).unwrap_or(MIN_POLL_INTERVAL).max(MIN_POLL_INTERVAL);
                }
                "succeeded" => {
                    let result = state.analyze_result.ok_or_else(|| malformed("a succeeded operation without analyzeResult".into()))?;
                    return to_read_result(&result, size);
                }
                "failed" | "canceled" => {
                    let (code, message) = state.error.map(|e| e.code_and_message()).unwrap_or_default();
                    return Err(SightlineError::RemoteOperationFailed {
                        service: READ_SERVICE,
                        status: state.status,
                        code: if code.is_empty() { "Unknown".into() } else { code },
                        message: if message.is_empty() { "no error details".into() } else { message },
                    });
                }
                other => return Err(malformed(format!("unknown operation status '{other}'"))),
            }
        }
    })
    .await
}

fn malformed(reason: String) -> SightlineError {
    SightlineError::RemoteMalformedResponse { service: READ_SERVICE, reason }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operation {
    status: String,
    analyze_result: Option<AnalyzeResult>,
    error: Option<ServiceError>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AnalyzeResult {
    #[serde(default)]
    content: String,
    #[serde(default)]
    pages: Vec<Page>,
}

#[derive(Debug, Deserialize)]
struct Page {
    width: Option<f64>,
    unit: Option<String>,
    #[serde(default)]
    spans: Vec<Span>,
    #[serde(default)]
    lines: Vec<Line>,
    #[serde(default)]
    words: Vec<Word>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
struct Span {
    offset: usize,
    length: usize,
}

impl Span {
    fn contains(&self, other: &Span) -> bool {
        other.offset >= self.offset && other.offset + other.length <= self.offset + self.length
    }
}

#[derive(Debug, Deserialize)]
struct Line {
    content: String,
    polygon: Option<Vec<f64>>,
    #[serde(default)]
    spans: Vec<Span>,
}

#[derive(Debug, Deserialize)]
struct Word {
    content: String,
    polygon: Option<Vec<f64>>,
    confidence: Option<f64>,
    span: Option<Span>,
}

/// The first page (an image has one; a multi-page TIFF's first frame is what the local
/// analysis saw) as one block of lines with their words. Polygons are rounded to whole pixels and
/// kept inside the image.
pub(crate) fn to_read_result(result: &AnalyzeResult, size: ImageMetadata) -> Result<ReadResult> {
    let Some(page) = result.pages.first() else {
        let mut empty = ReadResult::from_lines(Vec::new(), "azure");
        empty.content = Some(String::new());
        return Ok(empty);
    };
    // Images come back in pixels; should a service answer in inches, scale to the image.
    let scale = match (page.unit.as_deref(), page.width) {
        (Some("pixel") | None, _) => 1.0,
        (Some(_), Some(width)) if width > 0.0 => f64::from(size.width) / width,
        (Some(unit), _) => return Err(malformed(format!("page unit '{unit}' without a page width"))),
    };
    let polygon = |what: &str, text: &str, numbers: &Option<Vec<f64>>| -> Result<Vec<ImagePoint>> {
        let numbers = numbers.as_deref().unwrap_or_default();
        if numbers.len() != 8 || numbers.iter().any(|n| !n.is_finite()) {
            return Err(malformed(format!("the {what} '{text}' has no polygon of 4 points ({} numbers)", numbers.len())));
        }
        Ok(numbers
            .chunks(2)
            .map(|p| ImagePoint {
                x: (p[0] * scale).round().clamp(0.0, f64::from(size.width)) as u32,
                y: (p[1] * scale).round().clamp(0.0, f64::from(size.height)) as u32,
            })
            .collect())
    };
    let mut words: Vec<(Option<Span>, DetectedTextWord)> = Vec::with_capacity(page.words.len());
    for word in &page.words {
        let confidence = word.confidence.unwrap_or(0.0).clamp(0.0, 1.0) as f32;
        let bounding_polygon = polygon("word", &word.content, &word.polygon)?;
        words.push((word.span, DetectedTextWord { text: word.content.clone(), bounding_polygon, confidence }));
    }
    let mut lines = Vec::with_capacity(page.lines.len());
    for line in &page.lines {
        // A word belongs to the line whose spans hold its span (how the service links them).
        let line_words = words
            .iter()
            .filter(|(span, _)| span.is_some_and(|s| line.spans.iter().any(|l| l.contains(&s))))
            .map(|(_, w)| w.clone())
            .collect();
        lines.push(DetectedTextLine {
            text: line.content.clone(),
            bounding_polygon: polygon("line", &line.content, &line.polygon)?,
            words: line_words,
        });
    }
    let mut read = ReadResult::from_lines(lines, "azure");
    // Keep the service's own `content` (its reading order and line breaks) for this page.
    let content = if result.pages.len() == 1 || page.spans.is_empty() {
        result.content.clone()
    } else {
        let chars: Vec<char> = result.content.chars().collect();
        page.spans
            .iter()
            .map(|s| chars.get(s.offset..(s.offset + s.length).min(chars.len())).unwrap_or_default().iter().collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    };
    read.content = Some(content);
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: ImageMetadata = ImageMetadata { width: 640, height: 480 };

    fn parse(json: &str) -> AnalyzeResult {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn lines_get_their_words_by_span_and_integer_polygons() {
        let result = parse(
            r#"{"content": "Hello world\nBye", "pages": [{"unit": "pixel", "width": 640, "height": 480,
              "lines": [{"content": "Hello world", "polygon": [10.4, 20.5, 100, 20, 100, 40, 10, 40.6], "spans": [{"offset": 0, "length": 11}]},
                        {"content": "Bye", "polygon": [10, 50, 40, 50, 40, 70, 10, 70], "spans": [{"offset": 12, "length": 3}]}],
              "words": [{"content": "Hello", "polygon": [10, 20, 50, 20, 50, 40, 10, 40], "confidence": 0.99, "span": {"offset": 0, "length": 5}},
                        {"content": "world", "polygon": [55, 20, 700, 20, 700, 40, 55, 40], "confidence": 0.5, "span": {"offset": 6, "length": 5}},
                        {"content": "Bye", "polygon": [10, 50, 40, 50, 40, 70, 10, 70], "confidence": 1.2, "span": {"offset": 12, "length": 3}}]}]}"#,
        );
        let read = to_read_result(&result, SIZE).unwrap();
        let lines = &read.blocks[0].lines;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].bounding_polygon[0], ImagePoint { x: 10, y: 21 }, "rounded");
        assert_eq!(lines[0].bounding_polygon[3], ImagePoint { x: 10, y: 41 });
        assert_eq!(lines[0].words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["Hello", "world"]);
        assert_eq!(lines[0].words[1].bounding_polygon[1].x, 640, "kept inside the image");
        assert_eq!(lines[1].words[0].confidence, 1.0, "clamped");
        assert_eq!(read.content.as_deref(), Some("Hello world\nBye"));
        assert_eq!(read.backend.as_deref(), Some("azure"));
    }

    #[test]
    fn bad_polygons_and_empty_pages() {
        let bad = parse(r#"{"content": "x", "pages": [{"lines": [{"content": "x", "polygon": [1, 2, 3]}]}]}"#);
        assert_eq!(to_read_result(&bad, SIZE).unwrap_err().code(), "RemoteMalformedResponse");
        let empty = to_read_result(&parse(r#"{"content": "", "pages": []}"#), SIZE).unwrap();
        assert!(empty.blocks.is_empty());
    }

    #[test]
    fn inch_pages_are_scaled_to_the_image() {
        let result = parse(r#"{"content": "a", "pages": [{"unit": "inch", "width": 6.4, "lines": [{"content": "a", "polygon": [1, 1, 2, 1, 2, 2, 1, 2], "spans": []}]}]}"#);
        let read = to_read_result(&result, SIZE).unwrap();
        assert_eq!(read.blocks[0].lines[0].bounding_polygon[2], ImagePoint { x: 200, y: 200 });
    }
}
