//! `sightline serve` as Azure's clients meet it: the Image Analysis and vectorize routes over real
//! HTTP on 127.0.0.1, Azure's statuses and error bodies, image URLs fetched only where allowed, a
//! burst answered 200 or 429 without the server falling over, and SIGTERM finishing the work in
//! flight. (tests/sdk/run drives the same server with Microsoft's own Python and JS clients.)
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{assert_valid, model_dir, read, repo, shared, sightline, stdout_json};

const KEY: &str = "test-key-0123456789";
const ANALYZE: &str = "/computervision/imageanalysis:analyze?api-version=2023-10-01";

/// The tiny model's tags file, built once per test run into a temp folder (a fresh clone has
/// none beside the model).
fn tags_file() -> &'static str {
    static TAGS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TAGS.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("sightline-serve-tags-{}.sltags", std::process::id()));
        let path = path.display().to_string();
        let out = sightline(&["build-tags", "--model", &model_dir().display().to_string(), "--output", &path]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        path
    })
}

/// A running `sightline serve` with the tiny model, the people detector and the read models.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let model = model_dir();
        let mut args = vec![
            "serve".to_string(),
            "--model".into(),
            model.display().to_string(),
            "--people-model".into(),
            repo().join("models/yunet/face_detection_yunet_2026may.onnx").display().to_string(),
            "--read-model".into(),
            repo().join("models/ppocr-v5").display().to_string(),
            "--tags".into(),
            tags_file().to_string(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_sightline"))
            .args(&args)
            .current_dir(repo())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sightline serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("no address line: {line:?}")).to_string();
        Server { child, url }
    }

    fn post(&self, path: &str, content_type: &str, body: &[u8], key: Option<&str>) -> (u16, Value, Option<String>) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut request = agent.post(format!("{}{path}", self.url)).header("Content-Type", content_type);
        if let Some(key) = key {
            request = request.header("Ocp-Apim-Subscription-Key", key);
        }
        let mut response = request.send(body).expect("the server answers");
        let status = response.status().as_u16();
        let retry_after = response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let error_header = response.headers().get("x-ms-error-code").map(|v| v.to_str().unwrap().to_string());
        let text = response.body_mut().read_to_string().unwrap();
        let json: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status} {path}: not JSON ({e}): {text}"));
        if status != 200 {
            // Every error is Azure's body, with its code again in x-ms-error-code.
            assert_valid("ErrorResponse", &json);
            assert_eq!(error_header.as_deref(), json["error"]["code"].as_str(), "{json}");
        }
        (status, json, retry_after)
    }

    fn analyze(&self, query: &str, image: &[u8]) -> (u16, Value) {
        let (status, json, _) = self.post(&format!("{ANALYZE}&{query}"), "application/octet-stream", image, Some(KEY));
        (status, json)
    }

    fn get(&self, path: &str) -> u16 {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        agent.get(format!("{}{path}", self.url)).call().map(|r| r.status().as_u16()).unwrap_or(0)
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn inner_code(json: &Value) -> &str {
    json["error"]["innererror"]["code"].as_str().unwrap_or("")
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

#[test]
fn analyze_over_http_is_the_clis_analysis_in_azures_schema() {
    let server = Server::start(&["--key", KEY]);
    let path = shared().join("images/faces/two_people.jpg");
    let image = read(&path);
    let (status, json) = server.analyze("features=tags%2CsmartCrops%2Cpeople&smartcrops-aspect-ratios=0.9,1.33", &image);
    assert_eq!(status, 200, "{json}");
    assert_valid("ImageAnalysisResult", &json);
    let cli = sightline(&[
        "analyze",
        &path.display().to_string(),
        "--features",
        "tags,smartCrops,people",
        "--smartcrops-aspect-ratios",
        "0.9,1.33",
        "--model",
        &model_dir().display().to_string(),
        "--tags",
        tags_file(),
        "--json",
    ]);
    assert_eq!(json, stdout_json(&cli), "the server answers what `sightline analyze` prints");
    let (width, height) = (json["metadata"]["width"].as_u64().unwrap(), json["metadata"]["height"].as_u64().unwrap());
    let crops = json["smartCropsResult"]["values"].as_array().unwrap();
    assert_eq!(crops.len(), 2);
    for (crop, ratio) in crops.iter().zip([0.9, 1.33]) {
        let b = &crop["boundingBox"];
        let (x, y, w, h) = (b["x"].as_u64().unwrap(), b["y"].as_u64().unwrap(), b["w"].as_u64().unwrap(), b["h"].as_u64().unwrap());
        assert!(x + w <= width && y + h <= height, "{crop}");
        assert!((w as f64 / h as f64 - ratio).abs() < 0.02, "{crop}");
    }
    assert_eq!(json["peopleResult"]["values"].as_array().unwrap().len(), 2, "two people, found by their faces");

    // What the real clients send: names in another case and order, a doubled slash, a dated
    // model version (run as latest), the image's bytes with an image/* type.
    let (status, _, _) = server.post(
        "//computervision/imageanalysis:analyze?Features=people&model-version=2023-10-01&API-VERSION=2023-10-01",
        "image/jpeg",
        &image,
        Some(KEY),
    );
    assert_eq!(status, 200);
}

#[test]
fn refusals_are_azures_statuses_and_bodies() {
    let server = Server::start(&["--key", KEY]);
    let png = read(shared().join("images/photos/coffee.png"));
    let post = |path: &str, content_type: &str, body: &[u8], key: Option<&str>| {
        let (status, json, _) = server.post(path, content_type, body, key);
        (status, json["error"]["code"].as_str().unwrap_or("").to_string(), inner_code(&json).to_string())
    };
    let analyze = format!("{ANALYZE}&features=tags");
    assert_eq!(post(&analyze, "image/png", &png, None).0, 401, "no key");
    assert_eq!(post(&analyze, "image/png", &png, Some("wrong-key-0123456789")).0, 401);
    assert_eq!(post("/vision/v3.2/analyze", "image/png", &png, Some(KEY)).0, 404);
    assert_eq!(post(&analyze, "text/plain", b"hello", Some(KEY)).0, 415);
    assert_eq!(post(&analyze, "image/png", b"not an image", Some(KEY)), (400, "InvalidRequest".into(), "InvalidImageFormat".into()));
    assert_eq!(post(&analyze, "image/png", b"", Some(KEY)).0, 400);
    let caption = format!("{ANALYZE}&features=caption");
    assert_eq!(post(&caption, "image/png", &png, Some(KEY)).2, "NotSupportedVisualFeature");
    assert_eq!(post(&analyze, "application/json", b"{not json", Some(KEY)).0, 400);
    // A decompression bomb and a truncated image are the caller's fault (400), never a 500.
    assert_eq!(post(&analyze, "image/png", include_bytes!("data/bomb-60000x60000.png"), Some(KEY)).0, 400);
    assert_eq!(post(&analyze, "image/png", &png[..png.len() / 3], Some(KEY)).0, 400);

    // 413 from the Content-Length alone: the 30 MB body is never sent, yet the answer comes.
    let address = server.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "POST {ANALYZE}&features=tags HTTP/1.1\r\nHost: {address}\r\nOcp-Apim-Subscription-Key: {KEY}\r\nContent-Type: application/octet-stream\r\nContent-Length: 30000000\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 413", "refused before the body is read");
    assert_eq!(server.get("/health/live"), 200, "still up");
}

#[test]
fn vectorize_image_equals_sightline_embed() {
    let server = Server::start(&[]);
    let path = shared().join("images/photos/rocket.jpg");
    let vectorize = "/computervision/retrieval:vectorizeImage?api-version=2024-02-01&model-version=latest";
    let (status, json, _) = server.post(vectorize, "application/octet-stream", &read(&path), None);
    assert_eq!(status, 200, "{json}");
    assert!(json["modelVersion"].as_str().unwrap().starts_with("siglip-test-tiny"));
    let cli = sightline(&["embed", &path.display().to_string(), "--model", &model_dir().display().to_string(), "--json"]);
    let embedded = floats(&stdout_json(&cli)[0]["embedding"]);
    let served = floats(&json["vector"]);
    assert_eq!(served.len(), embedded.len());
    assert!(cosine(&served, &embedded) >= 0.9999);

    let text = "/computervision/retrieval:vectorizeText?api-version=2024-02-01&model-version=latest";
    let (status, json, _) = server.post(text, "application/json", br#"{"text": "a rocket on the launch pad"}"#, None);
    assert_eq!(status, 200, "{json}");
    let cli = sightline(&["embed", "--text", "a rocket on the launch pad", "--model", &model_dir().display().to_string(), "--json"]);
    assert!(cosine(&floats(&json["vector"]), &floats(&stdout_json(&cli)[0]["embedding"])) >= 0.9999);

    // Azure's own vector models are another space: refused, never silently mixed.
    let dated = "/computervision/retrieval:vectorizeImage?api-version=2024-02-01&model-version=2023-04-15";
    let (status, json, _) = server.post(dated, "application/octet-stream", &read(&path), None);
    assert_eq!((status, inner_code(&json)), (400, "NotSupportedModelVersion"));
    assert!(json["error"]["message"].as_str().unwrap().contains("model-version=latest"));
}

/// An image host on 127.0.0.1: `/moved` redirects to the image, `/missing` is 404, any other path is the image.
fn image_host(image: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let image = image.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                }
                let mut stream = stream;
                if request_line.contains("/missing") {
                    let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                } else if request_line.contains("/moved") {
                    let _ = stream.write_all(b"HTTP/1.1 302 Found\r\nLocation: /image.png\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                } else {
                    let head = format!("HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", image.len());
                    let _ = stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(&image));
                }
            });
        }
    });
    format!("http://{address}")
}

#[test]
fn image_urls_are_fetched_from_private_addresses_only_when_allowed() {
    let host = image_host(read(shared().join("images/photos/coffee.png")));
    let body = |path: &str| format!(r#"{{"url": "{host}{path}"}}"#).into_bytes();
    let analyze = format!("{ANALYZE}&features=tags,smartCrops");

    let guarded = Server::start(&[]);
    for path in ["/image.png", "/moved"] {
        let (status, json, _) = guarded.post(&analyze, "application/json", &body(path), None);
        assert_eq!((status, inner_code(&json)), (400, "InvalidImageUrl"), "{json}");
        assert!(json["error"]["message"].as_str().unwrap().contains("--allow-private-urls"), "{json}");
    }
    for url in ["file:///etc/passwd", "http://user:pass@example.com/a.png", "not a url"] {
        let (status, json, _) = guarded.post(&analyze, "application/json", format!(r#"{{"url": "{url}"}}"#).as_bytes(), None);
        assert_eq!((status, inner_code(&json)), (400, "InvalidImageUrl"), "{url}: {json}");
    }

    let open = Server::start(&["--allow-private-urls"]);
    for path in ["/image.png", "/moved"] {
        let (status, json, _) = open.post(&analyze, "application/json", &body(path), None);
        assert_eq!(status, 200, "{path}: {json}");
        assert_eq!((json["metadata"]["width"].as_u64(), json["metadata"]["height"].as_u64()), (Some(600), Some(400)), "{json}");
    }
    let (status, json, _) = open.post(&analyze, "application/json", &body("/missing"), None);
    assert_eq!((status, inner_code(&json)), (400, "InvalidImageUrl"), "{json}");
    assert!(json["error"]["message"].as_str().unwrap().contains("HTTP 404"), "{json}");
    let vectorize = "/computervision/retrieval:vectorizeImage?api-version=2024-02-01&model-version=latest";
    assert_eq!(open.post(vectorize, "application/json", &body("/image.png"), None).0, 200);
}

#[test]
fn a_burst_gets_only_200_or_429_and_the_server_stays_up() {
    let server = Server::start(&["--workers", "2", "--queue", "4"]);
    let image = read(shared().join("images/faces/two_people.jpg"));
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|_| {
                scope.spawn(|| {
                    let (status, _, retry_after) =
                        server.post(&format!("{ANALYZE}&features=tags,smartCrops,people"), "image/jpeg", &image, None);
                    (status, retry_after)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    let busy: Vec<_> = statuses.iter().filter(|(s, _)| *s == 429).collect();
    assert_eq!(ok + busy.len(), 24, "only 200 and 429: {statuses:?}");
    assert!(ok >= 2 && !busy.is_empty(), "2 workers and 4 waiting cannot take 24 at once: {statuses:?}");
    for (_, retry_after) in busy {
        let seconds: u64 = retry_after.as_deref().expect("429 says when to retry").parse().unwrap();
        assert!((1..=60).contains(&seconds));
    }
    assert_eq!(server.get("/health/ready"), 200);
    assert_eq!(server.analyze("features=people", &image).0, 200, "and it still answers");
}

#[test]
fn sigterm_finishes_the_requests_in_flight_then_exits() {
    let mut server = Server::start(&[]);
    let image = read(shared().join("images/ocr/phototest.tif"));
    let started = Instant::now();
    std::thread::scope(|scope| {
        let request = scope.spawn(|| server.post(&format!("{ANALYZE}&features=read"), "image/tiff", &image, None));
        // The request is in: the server is reading text when the signal comes.
        std::thread::sleep(Duration::from_millis(400));
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(server.child.id() as i32, libc::SIGTERM) };
        let (status, json, _) = request.join().unwrap();
        assert_eq!(status, 200, "{json}");
        assert!(json["readResult"]["content"].as_str().unwrap().contains("quick brown"), "{json}");
    });
    let exit = server.terminate();
    assert!(exit.success(), "exits cleanly after finishing: {exit:?} after {:?}", started.elapsed());
}
