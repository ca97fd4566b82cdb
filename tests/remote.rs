//! The remote fallbacks against `tests/mock_azure/server.py`, which speaks Document Intelligence
//! Read, Face detect v1.2 and chat completions (Azure OpenAI and OpenAI's) as their published
//! references do: every scenario the issues name (slow operations, 429 with Retry-After, 500 then
//! success, 401, a failed operation, malformed JSON, a hanging connection, a missing deployment,
//! the content filter, replies that are not the JSON asked for), through the library, the CLI and
//! `sightline serve`; and the retry policy itself on a virtual clock.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use sightline::analyze::Backend;
use sightline::azure::{ImageAnalysisResult, ImageMetadata};
use sightline::remote::document_intelligence::read_text;
use sightline::remote::face::detect_faces;
use sightline::remote::native::NativeHttpClient;
use sightline::remote::{FaceServiceConfig, ReadServiceConfig, RemoteConfig, RetryPolicy, TransportError};
use sightline::{AnalyzeOptions, Analyzer, PeopleDetector, ModelFiles, SiglipModel, SightlineError};

mod common;
use common::{assert_valid, model_dir, read, repo, shared, sightline, stderr, stdout_json};
#[path = "support/scripted_http.rs"]
mod scripted_http;
use scripted_http::{answer, ScriptedHttp};

/// The mock's key: distinctive, so a test can prove it never appears in any output.
const KEY: &str = "sightline-test-key-7f3a9c";
const WRONG_KEY: &str = "wrong-key-52e1b0";

/// The mock runs as long as this test process: it exits when its stdin (held here) closes,
/// since a static's destructor never runs. `other_port` is its second listener, another origin
/// that its redirect scenarios point to.
struct MockServer {
    _child: Child,
    _stdin: std::process::ChildStdin,
    port: u16,
    other_port: u16,
}

/// One mock for the whole test binary (tests run in parallel, each with its own scenario token).
fn mock() -> &'static MockServer {
    static MOCK: OnceLock<MockServer> = OnceLock::new();
    MOCK.get_or_init(|| {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/mock_azure/server.py"))
            .args(["--port", "0", "--other-port", "0", "--key", KEY, "--exit-with-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the mock server");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut said = |prefix: &str| {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            line.trim().strip_prefix(prefix).and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("mock said {line:?}"))
        };
        let (port, other_port) = (said("PORT "), said("OTHER "));
        let stdin = child.stdin.take().unwrap();
        MockServer { _child: child, _stdin: stdin, port, other_port }
    })
}

/// The mock's endpoint for `scenario`, with counters of its own (`test` names the caller).
fn endpoint(scenario: &str, test: &str) -> String {
    format!("http://127.0.0.1:{}/s/{scenario}~{test}", mock().port)
}

/// The requests the mock received for one scenario token, in order, on either listener.
fn requests(scenario: &str, test: &str) -> Vec<Value> {
    let token = format!("{scenario}~{test}");
    let body = ureq::get(format!("http://127.0.0.1:{}/__requests", mock().port)).call().unwrap().body_mut().read_to_string().unwrap();
    let all: Vec<Value> = serde_json::from_str(&body).unwrap();
    for request in &all {
        assert_eq!(request["keyInUrl"], false, "a key was sent in a URL: {request}");
        if request["listener"] == "other" {
            assert_eq!(request["keyHeader"], "missing", "the key reached another origin: {request}");
        }
    }
    all.into_iter().filter(|r| r["token"] == token.as_str()).collect()
}

fn load_model() -> SiglipModel {
    let dir = model_dir();
    SiglipModel::load(ModelFiles {
        descriptor: &read(dir.join("sightline.json")),
        vision_model: &read(dir.join("onnx/vision_model_quantized.onnx")),
        text_model: None,
        tokenizer: None,
        ..Default::default()
    })
    .unwrap()
}

fn phototest() -> Vec<u8> {
    read(shared().join("images/ocr/phototest.tif"))
}

/// Short enough that failure cases finish fast, long enough for three 1 s polls.
fn quick_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(400),
        request_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(10),
    }
}

fn read_config(scenario: &str, test: &str, key: &str, version: &str) -> RemoteConfig {
    RemoteConfig {
        read: Some(ReadServiceConfig::new(&endpoint(scenario, test), key, Some(version), false).unwrap()),
        face: None,
        caption: None,
        policy: quick_policy(),
    }
}

fn analyze_remote(features: &[&str], image: &[u8], config: &RemoteConfig) -> Result<ImageAnalysisResult, SightlineError> {
    analyze_remote_with(features, image, config, &NativeHttpClient::new())
}

fn analyze_remote_with(
    features: &[&str],
    image: &[u8],
    config: &RemoteConfig,
    http: &NativeHttpClient,
) -> Result<ImageAnalysisResult, SightlineError> {
    let analyzer = Analyzer::new().with_siglip(load_model()).with_services(config.clone());
    let options = AnalyzeOptions { features: features.iter().map(|f| f.to_string()).collect(), ..Default::default() };
    pollster::block_on(analyzer.analyze_with_services(image, &options, http))
}

/// The one feature error of a result: (Sightline's code, the service's own code and status).
fn feature_error(result: &ImageAnalysisResult) -> (String, Option<(u16, String)>) {
    let errors = result.feature_errors.as_ref().expect("featureErrors is set");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].feature, "read");
    let service = errors[0].service_error.as_ref().map(|s| (s.status, s.code.clone()));
    (errors[0].error.innererror.code.clone(), service)
}

fn rounded(v: &Value) -> u64 {
    v.as_f64().unwrap().round() as u64
}

#[test]
fn read_v4_returns_the_mocks_text_with_its_polygons() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("ok", "v4", KEY, "2024-11-30")).unwrap();
    assert!(result.feature_errors.is_none());
    let read = result.read_result.expect("readResult");
    assert_eq!(read.backend.as_deref(), Some("azure"));
    let fixture: Value = serde_json::from_str(
        &ureq::get(format!("http://127.0.0.1:{}/__fixture/read", mock().port)).call().unwrap().body_mut().read_to_string().unwrap(),
    )
    .unwrap();
    assert_eq!(read.content.as_deref(), fixture["content"].as_str());
    let page = &fixture["pages"][0];
    let lines = &read.blocks[0].lines;
    assert_eq!(lines.len(), page["lines"].as_array().unwrap().len());
    let mut word_index = 0;
    for (line, expected) in lines.iter().zip(page["lines"].as_array().unwrap()) {
        assert_eq!(line.text, expected["content"].as_str().unwrap());
        let polygon = expected["polygon"].as_array().unwrap();
        for (i, point) in line.bounding_polygon.iter().enumerate() {
            assert_eq!((point.x as u64, point.y as u64), (rounded(&polygon[2 * i]), rounded(&polygon[2 * i + 1])), "{}", line.text);
        }
        assert_eq!(line.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" "), line.text);
        for word in &line.words {
            let expected = &page["words"][word_index];
            assert_eq!(word.text, expected["content"].as_str().unwrap());
            assert!((word.confidence as f64 - expected["confidence"].as_f64().unwrap()).abs() < 1e-6);
            assert_eq!(word.bounding_polygon[2].x as u64, rounded(&expected["polygon"][4]));
            word_index += 1;
        }
    }
    assert_eq!(word_index, page["words"].as_array().unwrap().len(), "every word is in a line");
    // The text is phototest.tif's.
    let truth = std::fs::read_to_string(shared().join("images/ocr/phototest.txt")).unwrap();
    let truth: Vec<&str> = truth.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), truth);

    let log = requests("ok", "v4");
    assert_eq!(log[0]["method"], "POST");
    assert_eq!(log[0]["path"], "/documentintelligence/documentModels/prebuilt-read:analyze");
    assert_eq!(log[0]["query"]["api-version"], "2024-11-30");
    assert_eq!(log[0]["contentType"], "image/tiff");
    assert_eq!(log[0]["bodyLength"], phototest().len());
    assert!(log.iter().all(|r| r["keyHeader"] == "right"), "the key went in the header every time");
}

#[test]
fn read_v3_1_uses_the_form_recognizer_path() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("ok", "v31", KEY, "2023-07-31")).unwrap();
    assert_eq!(result.read_result.unwrap().blocks[0].lines.len(), 8);
    let log = requests("ok", "v31");
    assert_eq!(log[0]["path"], "/formrecognizer/documentModels/prebuilt-read:analyze");
    assert_eq!(log[0]["query"]["api-version"], "2023-07-31");
}

/// Seconds between consecutive requests of a log.
fn gaps(log: &[Value]) -> Vec<f64> {
    log.windows(2).map(|w| w[1]["time"].as_f64().unwrap() - w[0]["time"].as_f64().unwrap()).collect()
}

#[test]
fn throttled_twice_then_success_waits_what_retry_after_asked() {
    let started = Instant::now();
    let result = analyze_remote(&["read"], &phototest(), &read_config("throttle-twice", "lib", KEY, "2024-11-30")).unwrap();
    assert!(result.read_result.is_some() && result.feature_errors.is_none());
    let log = requests("throttle-twice", "lib");
    let posts: Vec<Value> = log.iter().filter(|r| r["method"] == "POST").cloned().collect();
    assert_eq!(posts.len(), 3, "two 429s, then accepted");
    for gap in gaps(&posts) {
        assert!(gap >= 0.95, "Retry-After: 1 was honoured (waited {gap:.2} s)");
        assert!(gap < 1.6, "and not much more (waited {gap:.2} s): the backoff did not replace it");
    }
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[test]
fn a_500_is_retried_and_then_succeeds() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("error500-once", "lib", KEY, "2024-11-30")).unwrap();
    assert!(result.read_result.is_some() && result.feature_errors.is_none());
    assert_eq!(requests("error500-once", "lib").iter().filter(|r| r["method"] == "POST").count(), 2);
}

#[test]
fn slow_operations_are_polled_no_faster_than_once_a_second() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("slow", "lib", KEY, "2024-11-30")).unwrap();
    assert!(result.read_result.is_some());
    let log = requests("slow", "lib");
    assert_eq!(log.iter().filter(|r| r["method"] == "GET").count(), 4, "three running polls, then succeeded");
    for gap in gaps(&log) {
        assert!(gap >= 0.95, "polls at least 1 s apart: {gap:.2}");
    }
}

#[test]
fn a_wrong_key_is_unauthorized_not_retried_and_local_results_stay() {
    let result = analyze_remote(&["read", "color"], &phototest(), &read_config("ok", "unauthorized", WRONG_KEY, "2024-11-30")).unwrap();
    assert_eq!(feature_error(&result), ("RemoteUnauthorized".into(), Some((401, "401".into()))));
    assert!(result.color.is_some(), "the local feature's result is kept");
    // Present and empty, as Azure's clients expect of a requested feature (`result.read.blocks`).
    assert_eq!(result.read_result.as_ref().map(|r| r.blocks.len()), Some(0));
    assert_eq!(requests("ok", "unauthorized").len(), 1, "401 is not retried");
    let message = &result.feature_errors.unwrap()[0].error.message;
    assert!(message.contains("Access denied") && !message.contains(WRONG_KEY), "{message}");
}

#[test]
fn client_errors_surface_azures_code_and_are_not_retried() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("bad-request", "lib", KEY, "2024-11-30")).unwrap();
    assert_eq!(feature_error(&result), ("RemoteServiceError".into(), Some((400, "InvalidContent".into()))));
    assert_eq!(requests("bad-request", "lib").len(), 1);
    let result = analyze_remote(&["read"], &phototest(), &read_config("not-found", "lib", KEY, "2024-11-30")).unwrap();
    assert_eq!(feature_error(&result), ("RemoteServiceError".into(), Some((404, "404".into()))));
    assert_eq!(requests("not-found", "lib").len(), 1);
}

#[test]
fn throttling_that_never_ends_is_its_own_error() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("throttle-always", "lib", KEY, "2024-11-30")).unwrap();
    assert_eq!(feature_error(&result).0, "RemoteThrottled");
    assert_eq!(requests("throttle-always", "lib").len(), 4, "max_attempts");
}

#[test]
fn a_failed_operation_says_why() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("failed", "lib", KEY, "2024-11-30")).unwrap();
    assert_eq!(feature_error(&result).0, "RemoteOperationFailed");
    let message = &result.feature_errors.unwrap()[0].error.message;
    assert!(message.contains("InvalidContent") && message.contains("corrupted"), "{message}");
}

#[test]
fn malformed_json_is_its_own_error() {
    let result = analyze_remote(&["read"], &phototest(), &read_config("malformed", "lib", KEY, "2024-11-30")).unwrap();
    assert_eq!(feature_error(&result).0, "RemoteMalformedResponse");
    let result = analyze_remote(&["read"], &phototest(), &read_config("no-location", "lib", KEY, "2024-11-30")).unwrap();
    assert_eq!(feature_error(&result).0, "RemoteMalformedResponse");
    assert!(result.feature_errors.unwrap()[0].error.message.contains("Access-Control-Expose-Headers"));
}

#[test]
fn a_hanging_connection_times_out() {
    let mut config = read_config("hang", "lib", KEY, "2024-11-30");
    config.policy.request_timeout = Duration::from_secs(1);
    config.policy.total_timeout = Duration::from_secs(3);
    let started = Instant::now();
    let result = analyze_remote(&["read"], &phototest(), &config).unwrap();
    assert_eq!(feature_error(&result).0, "RemoteTimeout");
    assert!(started.elapsed() < Duration::from_secs(8), "{:?}", started.elapsed());
}

#[test]
fn an_operation_that_never_finishes_times_out() {
    let mut config = read_config("stuck", "lib", KEY, "2024-11-30");
    config.policy.total_timeout = Duration::from_millis(3500);
    let result = analyze_remote(&["read"], &phototest(), &config).unwrap();
    assert_eq!(feature_error(&result).0, "RemoteTimeout");
    assert!(result.feature_errors.unwrap()[0].error.message.contains("waiting for the analysis"));
}

#[test]
fn an_unreachable_endpoint_is_a_network_error() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = RemoteConfig {
        read: Some(ReadServiceConfig::new(&format!("http://127.0.0.1:{port}"), KEY, None, false).unwrap()),
        face: None,
        caption: None,
        policy: quick_policy(),
    };
    let result = analyze_remote(&["read"], &phototest(), &config).unwrap();
    assert_eq!(feature_error(&result).0, "RemoteNetwork");
}

#[test]
fn cancellation_stops_the_call() {
    let http = NativeHttpClient::new();
    let flag = http.cancel_flag();
    let canceler = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        flag.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let outcome = analyze_remote_with(&["read"], &phototest(), &read_config("stuck", "cancel", KEY, "2024-11-30"), &http);
    canceler.join().unwrap();
    assert_eq!(outcome.unwrap_err().code(), "RemoteCanceled");
    assert!(started.elapsed() < Duration::from_secs(4));
}

fn face_config(scenario: &str, test: &str, landmarks: bool, attributes: &[&str]) -> RemoteConfig {
    let attributes: Vec<String> = attributes.iter().map(|a| a.to_string()).collect();
    RemoteConfig {
        read: None,
        face: Some(FaceServiceConfig::new(&endpoint(scenario, test), KEY, landmarks, &attributes, false).unwrap()),
        caption: None,
        policy: quick_policy(),
    }
}

#[test]
fn faces_come_from_the_face_api_with_the_detail_asked_for() {
    let image = read(shared().join("images/faces/obama.jpg"));
    let result = analyze_remote(&["people"], &image, &face_config("ok", "face", true, &["headPose", "mask"])).unwrap();
    assert!(result.feature_errors.is_none(), "{:?}", result.feature_errors);
    let people = result.people_result.unwrap();
    assert_eq!(people.values.len(), 1);
    let b = people.values[0].bounding_box;
    assert_eq!((b.x, b.y, b.w, b.h), (394, 54, 78, 78));
    let face = &result.faces.unwrap()[0];
    assert_eq!(face.face_landmarks.as_ref().unwrap().len(), 27);
    assert_eq!(face.face_attributes.as_ref().unwrap().keys().collect::<Vec<_>>(), ["headPose", "mask"]);
    assert!(face.landmarks.is_some(), "the five 3.2 landmarks come from the Face API's");
    let log = requests("ok", "face");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["query"]["returnFaceId"], "false");
    assert_eq!(log[0]["query"]["detectionModel"], "detection_03");
    assert_eq!(log[0]["query"]["returnFaceLandmarks"], "true");
    assert_eq!(log[0]["contentType"], "application/octet-stream");
}

#[test]
fn face_errors_keep_the_local_results() {
    let image = read(shared().join("images/faces/obama.jpg"));
    let result = analyze_remote(&["people", "color"], &image, &face_config("malformed", "face", false, &[])).unwrap();
    assert!(result.color.is_some());
    assert_eq!(result.people_result.as_ref().map(|p| p.values.len()), Some(0), "present and empty");
    assert_eq!(result.faces.as_ref().map(Vec::len), Some(0));
    let errors = result.feature_errors.unwrap();
    assert_eq!((errors[0].feature.as_str(), errors[0].error.innererror.code.as_str()), ("people", "RemoteMalformedResponse"));
    let result = analyze_remote(&["people"], &image, &face_config("throttle-twice", "face", false, &[])).unwrap();
    assert!(result.feature_errors.is_none() && result.people_result.is_some());
}

#[test]
fn local_people_need_no_service_and_backends_choose() {
    // scripts/setup installs YuNet with the test model.
    let detector = PeopleDetector::load(&read(repo().join("models/yunet/face_detection_yunet_2026may.onnx"))).unwrap();
    let config = face_config("ok", "local", false, &[]);
    let analyzer = Analyzer::new().with_siglip(load_model()).with_people(detector).with_services(config);
    let image = read(shared().join("images/faces/obama.jpg"));
    let options = AnalyzeOptions { features: vec!["people".into()], people_backend: Some(Backend::Local), ..Default::default() };
    let result = pollster::block_on(analyzer.analyze_with_services(&image, &options, &NativeHttpClient::new())).unwrap();
    assert!(result.faces.unwrap()[0].score.is_some(), "YuNet's faces have scores");
    assert!(requests("ok", "local").is_empty(), "peopleBackend local sent nothing");
}

// ---- the retry policy on a virtual clock ---------------------------------------------------------

const FACES: &str = r#"[{"faceRectangle": {"top": 1, "left": 2, "width": 30, "height": 40}}]"#;

fn detect(http: &ScriptedHttp, policy: &RetryPolicy) -> Result<usize, SightlineError> {
    let config = FaceServiceConfig::new("https://face.example", "k", false, &[], false).unwrap();
    let size = ImageMetadata { width: 100, height: 100 };
    pollster::block_on(detect_faces(http, &config, policy, Rc::from(&b"image"[..]), size)).map(|d| d.faces.len())
}

#[test]
fn retry_after_is_waited_exactly_and_backoff_is_capped_with_jitter() {
    let http = ScriptedHttp::new(vec![
        answer(429, &[("Retry-After", "7")], ""),
        answer(503, &[], ""),
        answer(503, &[], ""),
        answer(200, &[], FACES),
    ]);
    let policy = RetryPolicy { base_delay: Duration::from_secs(1), max_delay: Duration::from_secs(3), ..RetryPolicy::default() };
    assert_eq!(detect(&http, &policy).unwrap(), 1);
    // 7 s as asked; then the backoffs of retries 2 and 3, 2 s and 4 s capped to 3 s, each ¾ of
    // itself at jitter 0.5.
    assert_eq!(*http.slept.borrow(), [Duration::from_secs(7), Duration::from_millis(1500), Duration::from_millis(2250)]);
}

#[test]
fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let http = ScriptedHttp::new(vec![answer(429, &[("Retry-After", "600")], "")]);
    assert_eq!(detect(&http, &RetryPolicy::default()).unwrap_err().code(), "RemoteThrottled");
    assert!(http.slept.borrow().is_empty(), "did not sleep past the deadline");
}

#[test]
fn timeouts_and_network_errors_are_retried_then_typed() {
    let policy = RetryPolicy { max_attempts: 2, ..RetryPolicy::default() };
    let http = ScriptedHttp::new(vec![Err(TransportError::Timeout), Err(TransportError::Timeout)]);
    assert_eq!(detect(&http, &policy).unwrap_err().code(), "RemoteTimeout");
    let http = ScriptedHttp::new(vec![Err(TransportError::Network("refused".into())), Err(TransportError::Network("refused".into()))]);
    let error = detect(&http, &policy).unwrap_err();
    assert_eq!(error.code(), "RemoteNetwork");
    assert!(error.to_string().contains("refused"));
    let http = ScriptedHttp::new(vec![Err(TransportError::Network("reset".into())), answer(200, &[], FACES)]);
    assert_eq!(detect(&http, &policy).unwrap(), 1);
    let http = ScriptedHttp::new(vec![Err(TransportError::Canceled)]);
    assert_eq!(detect(&http, &policy).unwrap_err().code(), "RemoteCanceled");
}

#[test]
fn polls_follow_retry_after_but_never_faster_than_a_second() {
    let location = "https://di.example/documentintelligence/documentModels/prebuilt-read/analyzeResults/1?api-version=2024-11-30";
    let succeeded = r#"{"status": "succeeded", "analyzeResult": {"content": "", "pages": []}}"#;
    let http = ScriptedHttp::new(vec![
        answer(202, &[("Operation-Location", location), ("Retry-After", "0")], ""),
        answer(200, &[("Retry-After", "3")], r#"{"status": "running"}"#),
        answer(200, &[], r#"{"status": "notStarted"}"#),
        answer(200, &[], succeeded),
    ]);
    let config = ReadServiceConfig::new("https://di.example", "k", None, false).unwrap();
    let size = ImageMetadata { width: 100, height: 100 };
    let read = pollster::block_on(read_text(&http, &config, &RetryPolicy::default(), Rc::from(&b"x"[..]), "image/png", size)).unwrap();
    assert!(read.blocks.is_empty());
    assert_eq!(*http.slept.borrow(), [Duration::from_secs(1), Duration::from_secs(3), Duration::from_secs(1)]);
    assert_eq!(http.sent.borrow()[1].1, location);
}

#[test]
fn the_key_is_never_sent_to_another_origin() {
    let http = ScriptedHttp::new(vec![answer(202, &[("Operation-Location", "https://evil.example/steal")], "")]);
    let config = ReadServiceConfig::new("https://di.example", "k", None, false).unwrap();
    let size = ImageMetadata { width: 100, height: 100 };
    let error = pollster::block_on(read_text(&http, &config, &RetryPolicy::default(), Rc::from(&b"x"[..]), "image/png", size)).unwrap_err();
    assert_eq!(error.code(), "RemoteMalformedResponse");
    assert_eq!(http.sent.borrow().len(), 1, "no poll went out");
}

// ---- hostile servers ------------------------------------------------------------------------------

/// The error a remote feature failed with, and its serialised featureErrors entry.
fn remote_failure(features: &[&str], image: &[u8], config: &RemoteConfig) -> (String, String) {
    let result = analyze_remote(features, image, config).unwrap();
    let errors = result.feature_errors.as_ref().expect("featureErrors is set");
    assert_eq!(errors.len(), 1, "{errors:?}");
    (errors[0].error.innererror.code.clone(), serde_json::to_string(&errors[0]).unwrap())
}

#[test]
fn redirects_are_never_followed_and_the_key_stays_with_the_endpoint() {
    let obama = read(shared().join("images/faces/obama.jpg"));
    for (scenario, features) in [("redirect", "read"), ("redirect-307", "read"), ("redirect-poll", "read"), ("redirect", "people")] {
        let test = format!("no-follow-{features}");
        let config = match features {
            "read" => read_config(scenario, &test, KEY, "2024-11-30"),
            _ => face_config(scenario, &test, false, &[]),
        };
        let image = if features == "read" { phototest() } else { obama.clone() };
        let (code, shown) = remote_failure(&[features], &image, &config);
        assert_eq!(code, "RemoteMalformedResponse", "{scenario} {features}: {shown}");
        assert!(shown.contains("redirect") && shown.contains(&format!("127.0.0.1:{}", mock().other_port)), "{shown}");
        let log = requests(scenario, &test);
        assert!(log.iter().all(|r| r["listener"] == "main"), "{scenario} {features}: a request went to the other origin: {log:?}");
        let expected = if scenario == "redirect-poll" { 2 } else { 1 };
        assert_eq!(log.len(), expected, "{scenario} {features}: a redirect is not retried: {log:?}");
    }
}

#[test]
fn a_key_quoted_by_the_service_is_redacted() {
    let (code, shown) = remote_failure(&["read"], &phototest(), &read_config("echo-key", "redact", KEY, "2024-11-30"));
    assert_eq!(code, "RemoteServiceError");
    assert!(!shown.contains(KEY) && shown.contains("<redacted>"), "{shown}");
    let obama = read(shared().join("images/faces/obama.jpg"));
    let (_, shown) = remote_failure(&["people"], &obama, &face_config("echo-key", "redact", false, &[]));
    assert!(!shown.contains(KEY) && shown.contains("<redacted>"), "{shown}");
}

#[test]
fn an_oversized_answer_is_malformed_and_not_retried() {
    let (code, shown) = remote_failure(&["read"], &phototest(), &read_config("huge", "oversize", KEY, "2024-11-30"));
    assert_eq!(code, "RemoteMalformedResponse", "{shown}");
    assert!(shown.contains("64 MiB"), "{shown}");
    assert_eq!(requests("huge", "oversize").len(), 2, "one upload and one poll, no retry");
    let obama = read(shared().join("images/faces/obama.jpg"));
    let (code, _) = remote_failure(&["people"], &obama, &face_config("huge", "oversize-face", false, &[]));
    assert_eq!(code, "RemoteMalformedResponse");
    assert_eq!(requests("huge", "oversize-face").len(), 1);
}

#[test]
fn plain_http_to_another_host_is_refused_before_any_request() {
    let error = ReadServiceConfig::new("http://di.example.com", KEY, None, false).unwrap_err();
    assert_eq!(error.code(), "RemoteInvalidEndpoint");
    let out = sightline(&["analyze", "x.png", "--model", "m", "--features", "read", "--read-endpoint", "http://di.example.com", "--read-key", KEY]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[RemoteInvalidEndpoint]") && stderr(&out).contains("--allow-http"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(KEY));
    assert!(ReadServiceConfig::new("http://di.example.com", KEY, None, true).is_ok(), "allowed explicitly");
}

// ---- the CLI --------------------------------------------------------------------------------------

/// `sightline analyze phototest.tif --model TINY ARGS…`, checking no key was printed.
fn cli(args: &[&str]) -> std::process::Output {
    let model = model_dir().display().to_string();
    cli_without_model(&[&["--model", model.as_str()][..], args].concat())
}

/// `sightline analyze phototest.tif ARGS…` (no SigLIP model needed for remote read and people).
fn cli_without_model(args: &[&str]) -> std::process::Output {
    let image = shared().join("images/ocr/phototest.tif").display().to_string();
    let output = sightline(&[&["analyze", image.as_str()][..], args].concat());
    let printed = format!("{}{}", String::from_utf8_lossy(&output.stdout), stderr(&output));
    assert!(!printed.contains(KEY) && !printed.contains(WRONG_KEY), "a key was printed:\n{printed}");
    output
}

#[test]
fn cli_reads_text_through_the_mock_and_waits_for_throttling() {
    let url = endpoint("throttle-twice", "cli");
    let started = Instant::now();
    // Exactly the issue's command, without --model.
    let out = cli_without_model(&["--features", "read", "--read-endpoint", &url, "--read-key", KEY, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() >= Duration::from_secs(2), "two Retry-After: 1 were waited");
    let json = stdout_json(&out);
    assert_eq!(json["readResult"]["blocks"][0]["lines"][0]["text"], "This is a lot of 12 point text to test the");
    assert_eq!(json["readResult"]["blocks"][0]["lines"][0]["boundingPolygon"][1], serde_json::json!({"x": 571, "y": 38}));
    assert_eq!(json["readResult"]["backend"], "azure");
}

#[test]
fn cli_takes_the_key_from_the_environment_and_reports_each_error_distinctly() {
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["analyze", &shared().join("images/ocr/phototest.tif").display().to_string(), "--model", &model_dir().display().to_string()])
        .args(["--features", "read", "--read-endpoint", &endpoint("ok", "cli-env"), "--json"])
        .env("SIGHTLINE_READ_KEY", KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));

    let cases = [
        ("ok", WRONG_KEY, "RemoteUnauthorized"),
        ("bad-request", KEY, "RemoteServiceError"),
        ("throttle-always", KEY, "RemoteThrottled"),
        ("failed", KEY, "RemoteOperationFailed"),
        ("malformed", KEY, "RemoteMalformedResponse"),
        ("hang", KEY, "RemoteTimeout"),
        ("redirect", KEY, "RemoteMalformedResponse"),
        ("echo-key", KEY, "RemoteServiceError"),
    ];
    for (scenario, key, code) in cases {
        let url = endpoint(scenario, "cli-errors");
        let out = cli(&["--features", "read,color", "--read-endpoint", &url, "--read-key", key, "--remote-timeout", "4", "--json"]);
        assert_eq!(out.status.code(), Some(1), "{scenario}: exit 1 when a feature failed");
        let json = stdout_json(&out);
        assert!(json["color"].is_object(), "{scenario}: the local result is printed");
        assert_eq!(json["featureErrors"][0]["error"]["innererror"]["code"], code, "{scenario}");
        assert!(stderr(&out).contains(": read: ") && stderr(&out).contains(&format!("[{code}]")), "{scenario}: {}", stderr(&out));
    }
    let out = cli(&["--features", "read", "--read-endpoint", "http://127.0.0.1:9", "--read-key", KEY, "--remote-timeout", "3"]);
    assert!(stderr(&out).contains("[RemoteNetwork]"), "{}", stderr(&out));
    let out = cli(&["--features", "read", "--read-endpoint", "127.0.0.1:9", "--read-key", KEY]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("[RemoteInvalidEndpoint]"), "{}", stderr(&out));
    // A timeout that is no duration is refused as the user's mistake, never a panic.
    for timeout in ["0", "1e300", "NaN"] {
        let out = cli(&["--features", "read", "--read-endpoint", "http://127.0.0.1:9", "--read-key", KEY, "--remote-timeout", timeout]);
        assert_eq!(out.status.code(), Some(2), "{timeout}: {}", stderr(&out));
        assert!(stderr(&out).contains("the remote timeout must be a positive number of seconds"), "{timeout}: {}", stderr(&out));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["analyze", "x.png", "--model", "m", "--features", "read", "--read-endpoint", "https://x.example"])
        .env_remove("SIGHTLINE_READ_KEY")
        .output()
        .unwrap();
    assert!(stderr(&out).contains("SIGHTLINE_READ_KEY"), "{}", stderr(&out));
}

#[test]
fn cli_asks_the_face_api_for_landmarks_and_attributes() {
    let out = sightline(&[
        "analyze",
        &shared().join("images/faces/obama.jpg").display().to_string(),
        "--model",
        &model_dir().display().to_string(),
        "--features",
        "people",
        "--face-endpoint",
        &endpoint("ok", "cli-face"),
        "--face-key",
        KEY,
        "--face-landmarks",
        "--face-attributes",
        "headPose,blur",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout_json(&out);
    assert_eq!(json["peopleResult"]["values"][0]["boundingBox"], serde_json::json!({"x": 394, "y": 54, "w": 78, "h": 78}));
    assert!(json["faces"][0]["faceLandmarks"]["pupilLeft"].is_object());
    assert!(json["faces"][0]["faceAttributes"]["blur"].is_object());
    assert_eq!(requests("ok", "cli-face")[0]["query"]["returnFaceAttributes"], "headPose,blur");
}

// ---- caption, denseCaptions and objects through a vision-language model ----------------------------

use sightline::remote::{CaptionApi, CaptionServiceConfig};

fn caption_config(scenario: &str, test: &str, key: &str, model: &str, api: &str) -> RemoteConfig {
    RemoteConfig {
        caption: Some(CaptionServiceConfig::new(&endpoint(scenario, test), key, model, Some(api), None, false).unwrap()),
        policy: quick_policy(),
        ..Default::default()
    }
}

/// A 3000×2000 photo-like image: larger than a model looks at, so it is sent scaled down.
fn large_image() -> Vec<u8> {
    let mut png = Vec::new();
    image::RgbImage::from_fn(3000, 2000, |x, y| image::Rgb([(x / 12) as u8, (y / 8) as u8, ((x + y) / 20) as u8]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

const DESCRIBED: [&str; 3] = ["caption", "denseCaptions", "objects"];

fn describe(features: &[&str], image: &[u8], config: &RemoteConfig, gender_neutral: bool) -> ImageAnalysisResult {
    let analyzer = Analyzer::new().with_services(config.clone());
    let options = AnalyzeOptions {
        features: features.iter().map(|f| f.to_string()).collect(),
        gender_neutral_caption: Some(gender_neutral),
        ..Default::default()
    };
    pollster::block_on(analyzer.analyze_with_services(image, &options, &NativeHttpClient::new())).unwrap()
}

/// The mock's fixture: its boxes as fractions of the image.
fn vision_fixture() -> Value {
    let body = ureq::get(format!("http://127.0.0.1:{}/__fixture/vision", mock().port)).call().unwrap().body_mut().read_to_string().unwrap();
    serde_json::from_str(&body).unwrap()
}

/// A fixture box (fractions, [left, top, right, bottom]) in pixels of a `w`×`h` image.
fn fixture_box(item: &Value, w: f64, h: f64) -> [f64; 4] {
    let f: Vec<f64> = item["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    [f[0] * w, f[1] * h, (f[2] - f[0]) * w, (f[3] - f[1]) * h]
}

fn assert_near(actual: &Value, expected: [f64; 4], tolerance: f64) {
    let got = [actual["x"].as_f64().unwrap(), actual["y"].as_f64().unwrap(), actual["w"].as_f64().unwrap(), actual["h"].as_f64().unwrap()];
    assert!(got.iter().zip(expected).all(|(g, e)| (g - e).abs() <= tolerance), "box {got:?}, expected about {expected:?}");
}

#[test]
fn captions_dense_captions_and_objects_from_both_api_shapes() {
    let image = large_image();
    let fixture = vision_fixture();
    for (api, shape) in [("azure-openai", "azure"), ("openai-compatible", "v1")] {
        let test = format!("describe-{api}");
        let result = describe(&[&DESCRIBED[..], &["color"]].concat(), &image, &caption_config("ok", &test, KEY, "gpt-4o", api), false);
        let json = serde_json::to_value(&result).unwrap();
        assert_valid("ImageAnalysisResult", &json);
        assert!(result.feature_errors.is_none() && result.warning.is_none(), "{json:#}");
        assert!(json["color"].is_object(), "local features run beside");
        let caption = &json["captionResult"];
        assert_eq!(caption["text"], "a man riding a bicycle down a city street");
        // The caption's tokens each have log-probability -0.2 in the mock.
        assert!((caption["confidence"].as_f64().unwrap() - (-0.2f64).exp()).abs() < 1e-4, "{caption}");
        assert_eq!(caption["source"], serde_json::json!({"backend": api, "model": "gpt-4o-2024-08-06"}));

        // The whole image first, then the regions inside it: the one outside and the flat one are
        // dropped, the one across the edge clipped.
        let dense = json["denseCaptionsResult"]["values"].as_array().unwrap();
        let texts: Vec<&str> = dense.iter().map(|d| d["text"].as_str().unwrap()).collect();
        assert_eq!(texts, ["a man riding a bicycle down a city street", "a man wearing a red helmet", "a black bicycle", "a street sign"]);
        assert_eq!(dense[0]["boundingBox"], serde_json::json!({"x": 0, "y": 0, "w": 3000, "h": 2000}));
        assert!((dense[1]["confidence"].as_f64().unwrap() - (-0.05f64).exp()).abs() < 1e-4);
        let regions = fixture["denseCaptions"].as_array().unwrap();
        // Boxes come back in the sent image's pixels (1152×768 here): 2.6 px of the original each.
        assert_near(&dense[1]["boundingBox"], fixture_box(&regions[0], 3000.0, 2000.0), 4.0);
        let sign = &dense[3]["boundingBox"];
        assert_eq!(sign["x"].as_u64().unwrap() + sign["w"].as_u64().unwrap(), 3000, "clipped at the right edge: {sign}");

        let objects = json["objectsResult"]["values"].as_array().unwrap();
        let names: Vec<&str> = objects.iter().map(|o| o["tags"][0]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["person", "bicycle"], "the ghost outside and the pole with no height are dropped");
        assert_near(&objects[0]["boundingBox"], fixture_box(&fixture["objects"][0], 3000.0, 2000.0), 4.0);
        for b in objects.iter().map(|o| &o["boundingBox"]).chain(dense.iter().map(|d| &d["boundingBox"])) {
            assert!(b["x"].as_u64().unwrap() + b["w"].as_u64().unwrap() <= 3000 && b["y"].as_u64().unwrap() + b["h"].as_u64().unwrap() <= 2000);
            assert!(b["w"].as_u64().unwrap() > 0 && b["h"].as_u64().unwrap() > 0);
        }

        // One request for the three features, as the model needs it.
        let log = requests("ok", &test);
        assert_eq!(log.len(), 1, "{log:?}");
        let sent = &log[0]["vision"];
        assert_eq!(log[0]["keyHeader"], "right");
        assert_eq!(sent["shape"], shape);
        assert_eq!((sent["responseFormat"].as_str(), sent["logprobs"].as_bool(), sent["detail"].as_str()), (Some("json_schema"), Some(true), Some("high")));
        assert_eq!((sent["imageWidth"].as_u64(), sent["imageHeight"].as_u64()), (Some(1152), Some(768)), "scaled to what the model sees");
        assert_eq!(sent["imageType"], "image/jpeg");
        assert_eq!(sent["fields"], serde_json::json!(["caption", "denseCaptions", "objects"]));
    }
}

#[test]
fn only_the_fields_asked_for_and_gender_neutral_captions() {
    let image = read(shared().join("images/photos/rocket.jpg"));
    let result = describe(&["objects"], &image, &caption_config("ok", "objects-only", KEY, "gpt-4o", "auto"), false);
    assert!(result.caption_result.is_none() && result.dense_captions_result.is_none());
    assert_eq!(result.objects_result.unwrap().values.len(), 2);
    let log = requests("ok", "objects-only");
    assert_eq!(log[0]["vision"]["fields"], serde_json::json!(["objects"]));
    assert_eq!(log[0]["vision"]["shape"], "v1", "auto: a loopback endpoint is OpenAI-compatible");
    assert_eq!((log[0]["vision"]["imageWidth"].as_u64(), log[0]["vision"]["imageHeight"].as_u64()), (Some(640), Some(427)), "never scaled up");

    let neutral = describe(&["caption", "denseCaptions"], &image, &caption_config("ok", "neutral", KEY, "gpt-4o", "auto"), true);
    assert_eq!(neutral.caption_result.unwrap().text, "a person riding a bicycle down a city street");
    assert_eq!(neutral.dense_captions_result.unwrap().values[1].text, "a person wearing a red helmet");
}

#[test]
fn servers_without_logprobs_or_json_schema_are_asked_again_and_confidence_is_not_invented() {
    let image = read(shared().join("images/photos/rocket.jpg"));
    for scenario in ["no-logprobs", "reject-logprobs"] {
        let result = describe(&DESCRIBED, &image, &caption_config(scenario, "fallback", KEY, "gpt-4o", "azure-openai"), false);
        let json = serde_json::to_value(&result).unwrap();
        assert!(result.feature_errors.is_none(), "{json:#}");
        assert!(json["captionResult"].get("confidence").is_none(), "{scenario}: no number that only looks measured");
        assert!(json["objectsResult"]["values"][0]["tags"][0].get("confidence").is_none());
        assert!(result.warning.as_deref().unwrap().contains("no token log-probabilities"), "{scenario}");
        let log = requests(scenario, "fallback");
        let asked: Vec<bool> = log.iter().map(|r| r["vision"]["logprobs"].as_bool().unwrap()).collect();
        assert_eq!(asked, if scenario == "reject-logprobs" { vec![true, false] } else { vec![true] }, "{scenario}");
    }
    let result = describe(&DESCRIBED, &image, &caption_config("no-json-schema", "fallback", KEY, "gpt-4o", "openai-compatible"), false);
    assert!(result.feature_errors.is_none() && result.caption_result.unwrap().confidence.is_some());
    let formats: Vec<Value> = requests("no-json-schema", "fallback").iter().map(|r| r["vision"]["responseFormat"].clone()).collect();
    assert_eq!(formats, [serde_json::json!("json_schema"), serde_json::json!("json_object")]);
}

#[test]
fn each_failure_of_the_model_has_its_own_code_and_local_results_stay() {
    let image = read(shared().join("images/photos/rocket.jpg"));
    let cases = [
        ("ok", WRONG_KEY, "gpt-4o", "RemoteUnauthorized"),
        ("forbidden", KEY, "gpt-4o", "RemoteUnauthorized"),
        ("ok", KEY, "no-such-deployment", "RemoteModelNotFound"),
        ("throttle-always", KEY, "gpt-4o", "RemoteThrottled"),
        ("content-filter", KEY, "gpt-4o", "RemoteContentFiltered"),
        ("filtered-output", KEY, "gpt-4o", "RemoteContentFiltered"),
        ("not-json", KEY, "gpt-4o", "RemoteInvalidModelOutput"),
        ("schema-mismatch", KEY, "gpt-4o", "RemoteInvalidModelOutput"),
        ("truncated", KEY, "gpt-4o", "RemoteInvalidModelOutput"),
        ("refusal", KEY, "gpt-4o", "RemoteInvalidModelOutput"),
        ("malformed", KEY, "gpt-4o", "RemoteMalformedResponse"),
        ("hang", KEY, "gpt-4o", "RemoteTimeout"),
        ("echo-key", KEY, "gpt-4o", "RemoteServiceError"),
    ];
    for api in ["azure-openai", "openai-compatible"] {
        for (scenario, key, model, code) in cases {
            let mut config = caption_config(scenario, &format!("errors-{api}"), key, model, api);
            if scenario == "hang" {
                config.policy.total_timeout = Duration::from_secs(3);
            }
            let result = describe(&[&DESCRIBED[..], &["color"]].concat(), &image, &config, false);
            let json = serde_json::to_value(&result).unwrap();
            let errors = json["featureErrors"].as_array().unwrap_or_else(|| panic!("{api} {scenario}: {json:#}"));
            let failed: Vec<(&str, &str)> =
                errors.iter().map(|e| (e["feature"].as_str().unwrap(), e["error"]["innererror"]["code"].as_str().unwrap())).collect();
            assert_eq!(failed, [("caption", code), ("denseCaptions", code), ("objects", code)], "{api} {scenario}: {json:#}");
            assert!(json["color"].is_object(), "{api} {scenario}: the local result stays");
            assert_eq!(json["objectsResult"]["values"], serde_json::json!([]), "{api} {scenario}: objects stays, empty");
            assert!(json.get("captionResult").is_none(), "{api} {scenario}: Azure's schema has no empty caption");
            assert_valid("ImageAnalysisResult", &json);
            let shown = json.to_string();
            assert!(!shown.contains(KEY), "{api} {scenario}: the key was shown: {shown}");
        }
    }
    // 429 then success: `retry-after-ms: 200` is honoured over `Retry-After: 1`.
    let started = Instant::now();
    let result = describe(&["caption"], &image, &caption_config("throttle-twice", "retry-ms", KEY, "gpt-4o", "azure-openai"), false);
    assert!(result.feature_errors.is_none());
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(400) && waited < Duration::from_millis(1900), "two waits of 200 ms, not 1 s: {waited:?}");
    assert_eq!(requests("throttle-twice", "retry-ms").len(), 3);
}

#[test]
fn features_only_a_model_answers_need_one_configured_with_the_api_asked_for() {
    let image = read(shared().join("images/photos/rocket.jpg"));
    let options = |backend: Option<&str>| AnalyzeOptions {
        features: vec!["caption".into(), "objects".into()],
        objects_backend: backend.map(|b| sightline::analyze::CaptionBackend::parse(b).unwrap()),
        ..Default::default()
    };
    let none = Analyzer::new().analyze(&image, &options(None)).unwrap_err();
    assert_eq!(none.code(), "NotSupportedVisualFeature");
    assert!(none.to_string().contains("--caption-endpoint"), "{none}");
    let analyzer = Analyzer::new().with_services(caption_config("ok", "backends", KEY, "gpt-4o", "openai-compatible"));
    assert_eq!(analyzer.services.available().caption, Some(CaptionApi::OpenaiCompatible));
    let wrong = pollster::block_on(analyzer.analyze_with_services(&image, &options(Some("azure-openai")), &NativeHttpClient::new())).unwrap_err();
    assert_eq!(wrong.code(), "InvalidParameter");
    assert!(wrong.to_string().contains("objectsBackend \"azure-openai\" needs an Azure OpenAI endpoint"), "{wrong}");
    assert!(requests("ok", "backends").is_empty(), "refused before any request");
    let right = pollster::block_on(analyzer.analyze_with_services(&image, &options(Some("openai-compatible")), &NativeHttpClient::new()));
    assert!(right.unwrap().objects_result.is_some());
}

#[test]
fn cli_describes_an_image_through_the_mock_and_reports_each_failure() {
    let photo = shared().join("images/photos/rocket.jpg").display().to_string();
    let run = |scenario: &str, key: &str, extra: &[&str]| {
        let url = endpoint(scenario, "cli-caption");
        let args = [&["analyze", photo.as_str(), "--features", "caption,denseCaptions,objects", "--caption-endpoint", &url][..], extra].concat();
        let out = Command::new(env!("CARGO_BIN_EXE_sightline")).args(&args).env("SIGHTLINE_CAPTION_KEY", key).output().unwrap();
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert!(!printed.contains(KEY) && !printed.contains(WRONG_KEY), "a key was printed:\n{printed}");
        out
    };
    // The issue's command: Azure's schema, boxes inside the 640×427 image.
    let out = run("ok", KEY, &["--caption-model", "gpt-4o", "--caption-api", "azure-openai", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = stdout_json(&out);
    assert_valid("ImageAnalysisResult", &json);
    assert_eq!(json["metadata"], serde_json::json!({"width": 640, "height": 427}));
    for b in json["objectsResult"]["values"].as_array().unwrap().iter().map(|o| &o["boundingBox"]) {
        assert!(b["x"].as_u64().unwrap() + b["w"].as_u64().unwrap() <= 640 && b["y"].as_u64().unwrap() + b["h"].as_u64().unwrap() <= 427);
    }
    let out = run("ok", KEY, &["--caption-model", "gpt-4o", "--gender-neutral-caption"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("caption: a person riding a bicycle down a city street (81.9%)"), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("objects: 2"));

    for (scenario, key, model, code) in [
        ("ok", WRONG_KEY, "gpt-4o", "RemoteUnauthorized"),
        ("ok", KEY, "gpt-5-nonexistent", "RemoteModelNotFound"),
        ("throttle-always", KEY, "gpt-4o", "RemoteThrottled"),
        ("content-filter", KEY, "gpt-4o", "RemoteContentFiltered"),
        ("not-json", KEY, "gpt-4o", "RemoteInvalidModelOutput"),
        ("hang", KEY, "gpt-4o", "RemoteTimeout"),
    ] {
        let out = run(scenario, key, &["--caption-model", model, "--caption-api", "azure-openai", "--remote-timeout", "3", "--json"]);
        assert_eq!(out.status.code(), Some(1), "{scenario}: exit 1 when a feature failed");
        assert_eq!(stdout_json(&out)["featureErrors"][0]["error"]["innererror"]["code"], code, "{scenario}");
        assert!(stderr(&out).contains(": caption: ") && stderr(&out).contains(&format!("[{code}]")), "{scenario}: {}", stderr(&out));
    }
    // The whole URL a portal shows names the deployment and the api-version: no --caption-model.
    let target = format!("{}/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21", endpoint("ok", "cli-target"));
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["analyze", photo.as_str(), "--features", "caption", "--caption-endpoint", &target, "--json"])
        .env("SIGHTLINE_CAPTION_KEY", KEY)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout_json(&out)["captionResult"]["source"]["backend"], "azure-openai");
    assert_eq!(requests("ok", "cli-target")[0]["vision"]["shape"], "azure");
    // Configuration mistakes are the user's, before any request.
    let out = run("ok", KEY, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--caption-model"), "{}", stderr(&out));
    let out = run("ok", KEY, &["--caption-model", "gpt-4o", "--caption-backend", "azure-openai"]);
    assert!(stderr(&out).contains("[InvalidParameter]"), "{}", stderr(&out));
    let out = sightline(&["analyze", &photo, "--features", "caption"]);
    assert!(stderr(&out).contains("[NotSupportedVisualFeature]") && stderr(&out).contains("--caption-endpoint"), "{}", stderr(&out));
}

#[test]
fn serve_answers_captions_through_the_model() {
    let url = endpoint("ok", "serve-caption");
    let mut server = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["serve", "--listen", "127.0.0.1:0", "--caption-endpoint", &url, "--caption-model", "gpt-4o", "--model", &model_dir().display().to_string()])
        .env("SIGHTLINE_CAPTION_KEY", KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let address = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("serve said {line:?}")).to_string();
    let photo = read(shared().join("images/photos/rocket.jpg"));
    let answer = ureq::post(format!("{address}/computervision/imageanalysis:analyze?api-version=2024-02-01&features=caption,objects&gender-neutral-caption=true"))
        .header("Content-Type", "application/octet-stream")
        .send(&photo[..]);
    server.kill().ok();
    server.wait().ok();
    let json: Value = serde_json::from_str(&answer.unwrap().body_mut().read_to_string().unwrap()).unwrap();
    assert_valid("ImageAnalysisResult", &json);
    assert_eq!(json["captionResult"]["text"], "a person riding a bicycle down a city street");
    assert_eq!(json["objectsResult"]["values"].as_array().unwrap().len(), 2);
}
