//! Offline OCR (PP-OCRv5 through tract) on tesseract's test pages, natively and in WebAssembly
//! (Node): character error rate against the ground truth, reading order, polygons that hold the
//! text, and Azure's readResult shape through `analyze`.

use sightline::read::{OcrEngine, OcrFiles};
use sightline::{AnalyzeOptions, Analyzer, Part};

#[path = "support/tiny_vision.rs"]
mod tiny_vision;
use tiny_vision::tiny_vision_model;

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[path = "support/cer.rs"]
mod cer;
use cer::cer;

const PHOTOTEST: &[u8] = include_bytes!("../../shared/images/ocr/phototest.tif");
const PHOTOTEST_TRUTH: &str = include_str!("../../shared/images/ocr/phototest.txt");
const EUROTEXT: &[u8] = include_bytes!("../../shared/images/ocr/eurotext.tif");
const EUROTEXT_TRUTH: &str = include_str!("../../shared/images/ocr/eurotext.txt");

fn engine(with_orientation: bool) -> OcrEngine {
    OcrEngine::load(OcrFiles {
        detector: include_bytes!("../models/ppocr-v5/ppocrv5_det.onnx"),
        recognizer: include_bytes!("../models/ppocr-v5/ppocrv5_rec.onnx"),
        dictionary: include_bytes!("../models/ppocr-v5/ppocr_keys_v5.txt"),
        orientation: with_orientation.then_some(include_bytes!("../models/ppocr-v5/ppocrv5_cls.onnx").as_slice()),
    })
    .expect("the PP-OCRv5 models load")
}

fn read_text(engine: &OcrEngine, image: &[u8]) -> (String, Vec<sightline::azure::DetectedTextLine>) {
    let image = sightline::decode_image(image).unwrap();
    let lines = engine.read(&image.rgb).unwrap();
    (lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n"), lines)
}

#[test]
fn cer_is_a_real_edit_distance() {
    assert_eq!(cer("abc", "abc"), 0.0);
    assert_eq!(cer("abd", "abc"), 1.0 / 3.0);
    assert_eq!(cer("a  b\nc", "a b c"), 0.0);
    assert_eq!(cer("", "abcd"), 1.0);
    assert_eq!(cer("ABC", "abc"), 1.0);
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "native only: the wasm run keeps to one page")]
fn a_photo_stored_sideways_reads_upright() {
    // simple-90.jpg is stored rotated with EXIF orientation 6 and reads "Tesseract.js".
    let (text, _) = read_text(&engine(true), include_bytes!("../../shared/images/ocr/simple-90.jpg"));
    assert_eq!(text, "Tesseract.js");
}

#[test]
fn phototest_reads_within_two_percent_cer() {
    let (text, lines) = read_text(&engine(true), PHOTOTEST);
    let rate = cer(&text, PHOTOTEST_TRUTH);
    #[cfg(not(target_arch = "wasm32"))]
    println!("phototest.tif CER {:.2}% ({} lines)\n{text}", rate * 100.0, lines.len());
    assert!(rate <= 0.02, "CER {rate:.4}:\n{text}");
    // Reading order: the first and last lines of the page come first and last.
    assert!(lines[0].text.starts_with("This is a lot of 12 point text"), "{}", lines[0].text);
    assert!(lines.last().unwrap().text.contains("lazy fox"), "{text}");
}

#[cfg_attr(target_arch = "wasm32", ignore = "native only: the wasm run keeps to one page")]
#[test]
fn eurotext_reads_within_five_percent_cer() {
    let (text, lines) = read_text(&engine(true), EUROTEXT);
    let rate = cer(&text, EUROTEXT_TRUTH);
    #[cfg(not(target_arch = "wasm32"))]
    println!("eurotext.tif CER {:.2}% ({} lines)\n{text}", rate * 100.0, lines.len());
    assert!(rate <= 0.05, "CER {rate:.4}:\n{text}");
    assert_eq!(lines.len(), EUROTEXT_TRUTH.lines().filter(|l| !l.trim().is_empty()).count(), "one line per printed line");
}

#[cfg_attr(target_arch = "wasm32", ignore = "native only: the wasm run keeps to one page")]
#[test]
fn polygons_and_words_follow_the_text() {
    let (_, lines) = read_text(&engine(false), PHOTOTEST);
    let image = sightline::decode_image(PHOTOTEST).unwrap();
    for line in &lines {
        assert_eq!(line.bounding_polygon.len(), 4);
        let words: Vec<&str> = line.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(words.join(" "), line.text, "words rebuild the line");
        let [tl, tr, br, bl] = [0, 1, 2, 3].map(|i| line.bounding_polygon[i]);
        // Horizontal text: corners clockwise from the top-left, inside the image.
        assert!(tl.x < tr.x && bl.x < br.x && tl.y < bl.y && tr.y < br.y, "{line:?}");
        assert!(br.x < image.width() && br.y < image.height());
        for pair in line.words.windows(2) {
            // Words go left to right and do not overlap.
            assert!(pair[0].bounding_polygon[1].x <= pair[1].bounding_polygon[0].x + 1, "{pair:?}");
        }
        for word in &line.words {
            assert!((0.0..=1.0).contains(&word.confidence));
            assert!(word.bounding_polygon[0].x >= tl.x && word.bounding_polygon[1].x <= tr.x);
        }
    }
    // "This is a lot of 12 point text to test the" is the first line, its "This" at x ≈ 35,
    // y ≈ 88 (checked by eye on a drawing of the polygons).
    let first = &lines[0];
    let this = first.words.iter().find(|w| w.text == "This").expect("the first word is read");
    let (x, y) = (this.bounding_polygon[0].x, this.bounding_polygon[0].y);
    assert!((25..45).contains(&x) && (78..98).contains(&y), "'This' at {x},{y}");
}

#[cfg_attr(target_arch = "wasm32", ignore = "native only: the wasm run keeps to one page")]
#[test]
fn an_upside_down_line_reads_the_right_way_up_with_the_orientation_model() {
    let image = sightline::decode_image(PHOTOTEST).unwrap().rgb;
    let (_, lines) = read_text(&engine(false), PHOTOTEST);
    // Turn the first line's box upside down in place.
    let polygon = &lines[0].bounding_polygon;
    let (x0, y0) = (polygon.iter().map(|p| p.x).min().unwrap(), polygon.iter().map(|p| p.y).min().unwrap());
    let (x1, y1) = (polygon.iter().map(|p| p.x).max().unwrap(), polygon.iter().map(|p| p.y).max().unwrap());
    let region = image::imageops::crop_imm(&image, x0, y0, x1 - x0 + 1, y1 - y0 + 1).to_image();
    let mut flipped = image.clone();
    image::imageops::replace(&mut flipped, &image::imageops::rotate180(&region), x0 as i64, y0 as i64);

    let first_line = |engine: &OcrEngine| {
        let lines = engine.read(&flipped).unwrap();
        let top: Vec<String> =
            lines.iter().filter(|l| l.bounding_polygon.iter().all(|p| p.y <= y1 + 2)).map(|l| l.text.clone()).collect();
        top.join(" ")
    };
    let with = first_line(&engine(true));
    let without = first_line(&engine(false));
    #[cfg(not(target_arch = "wasm32"))]
    println!("upside-down first line: with orientation {with:?}, without {without:?}");
    assert_eq!(with, lines[0].text);
    assert_ne!(without, lines[0].text, "the test must need the orientation model");
}

#[test]
fn analyze_read_returns_azure_read_result() {
    // Reading needs the read engine alone: no SigLIP model is loaded.
    let analyzer = Analyzer::new().with_read(engine(false));
    assert_eq!(analyzer.loaded(), [Part::Read]);
    let options = AnalyzeOptions { features: vec!["read".into()], ..Default::default() };
    assert_eq!(analyzer.parts_for(&options).required, [Part::Read]);
    let result = analyzer.analyze(PHOTOTEST, &options).unwrap();
    assert!(result.model_version.starts_with("sightline-"), "{}", result.model_version);
    let read = result.read_result.expect("readResult");
    assert_eq!(read.blocks.len(), 1);
    assert_eq!(read.backend.as_deref(), Some("local"));
    let content = read.content.unwrap();
    assert!(content.contains("quick brown dog"), "{content}");
    assert!(result.tags_result.is_none() && result.embedding.is_none());

    // Without the OCR models the feature is refused with a typed error.
    let error = Analyzer::new().with_siglip(tiny_vision_model()).analyze(PHOTOTEST, &options).unwrap_err();
    assert_eq!(error.code(), "OcrModelNotLoaded");
}

#[cfg_attr(target_arch = "wasm32", ignore = "native only: the wasm run keeps to one page")]
#[test]
fn a_wrong_dictionary_is_refused() {
    let error = OcrEngine::load(OcrFiles {
        detector: include_bytes!("../models/ppocr-v5/ppocrv5_det.onnx"),
        recognizer: include_bytes!("../models/ppocr-v5/ppocrv5_rec.onnx"),
        dictionary: b"blank\na\nb\n",
        orientation: None,
    })
    .unwrap_err();
    assert_eq!(error.code(), "ModelInterfaceMismatch", "{error}");
    let not_onnx = OcrEngine::load(OcrFiles {
        detector: b"not a model",
        recognizer: include_bytes!("../models/ppocr-v5/ppocrv5_rec.onnx"),
        dictionary: include_bytes!("../models/ppocr-v5/ppocr_keys_v5.txt"),
        orientation: None,
    })
    .unwrap_err();
    assert_eq!(not_onnx.code(), "InvalidModel", "{not_onnx}");
}

#[test]
#[cfg_attr(target_arch = "wasm32", ignore = "native only: the wasm run keeps to one page")]
fn the_profile_accounts_for_every_stage_and_network() {
    let engine = engine(true);
    let image = sightline::decode_image(PHOTOTEST).unwrap().rgb;
    // A clock that advances 1 ms per reading: each stage's laps count the readings inside it.
    let ticks = std::cell::Cell::new(0.0);
    let clock = || {
        ticks.set(ticks.get() + 1.0);
        ticks.get()
    };
    let (lines, profile) = engine.read_lines_profiled(&image, &clock).unwrap();
    assert_eq!(lines.len(), engine.read_lines(&image).unwrap().len(), "the same lines as without a clock");
    assert_eq!(profile.lines, lines.len());
    assert_eq!(profile.detector_shape[..2], [1, 3]);
    assert!(profile.recognizer_widths.len() >= lines.len(), "one recogniser run per detected line: {profile:?}");
    let stages = [profile.detector_input_ms, profile.detector_ms, profile.regions_ms, profile.crops_ms, profile.orientation_ms, profile.recognizer_ms, profile.assemble_ms];
    assert!(stages.iter().all(|&ms| ms >= 1.0), "every stage was timed: {profile:?}");
    // Every reading of the clock after the first is one lap of one stage.
    assert_eq!(stages.iter().sum::<f64>(), ticks.get() - 1.0);

    for (network, shape) in [
        (sightline::read::OcrNetwork::Recognizer, (48, 320)),
        (sightline::read::OcrNetwork::Detector, (64, 96)),
        (sightline::read::OcrNetwork::Orientation, (0, 0)),
    ] {
        let nodes = engine.profile_network(network, shape, &clock).unwrap();
        assert!(nodes.iter().any(|n| n.op.contains("MatMul")), "{network:?}: {:?}", nodes.iter().map(|n| &n.op).collect::<Vec<_>>());
        assert!(nodes.iter().all(|n| n.ms == 1.0), "{network:?}: each node timed once");
    }

    // The whole profile: two reads, then each network at the shapes the first one used, summed
    // per operator (1 ms per node with this clock).
    let whole = engine.profile(&image, &clock).unwrap();
    assert_eq!(whole.first.detector_shape, whole.warm.detector_shape);
    assert_eq!(whole.first.lines, lines.len());
    let widest = *whole.first.recognizer_widths.iter().max().unwrap();
    let inputs: Vec<_> = whole.networks.iter().map(|n| (n.network, n.input)).collect();
    use sightline::read::OcrNetwork::*;
    assert_eq!(
        inputs,
        [(Detector, [whole.first.detector_shape[2], whole.first.detector_shape[3]]), (Recognizer, [48, widest]), (Orientation, [80, 160])]
    );
    for network in &whole.networks {
        let nodes: usize = network.ops.iter().map(|o| o.nodes).sum();
        assert_eq!(network.total_ms, nodes as f64, "{:?}", network.network);
        // tract's count of the multiply-adds, per operator and per node: the matrix products do
        // nearly all of them, element-wise operators none.
        let macs = |op: &str| network.ops.iter().filter(|o| o.op.contains(op)).map(|o| o.macs).sum::<u64>();
        assert_eq!(network.macs, network.ops.iter().map(|o| o.macs).sum::<u64>());
        assert!(macs("MatMul") > network.macs / 2 && macs("ActivationChain") == 0, "{:?}: {:?}", network.network, network.ops);
        assert_eq!(network.nodes.len(), nodes.min(sightline::read::SLOWEST_NODES));
        assert!(network.nodes.windows(2).all(|w| w[0].ms >= w[1].ms));
        if network.network != Orientation {
            // PP-LCNet's hard-swish chains run in one pass (src/activation_chains.rs).
            assert!(network.ops.iter().any(|o| o.op == "ActivationChain(HardSwishAffine)"), "{:?}", network.ops);
        }
        assert!(network.ops.windows(2).all(|w| w[0].ms >= w[1].ms), "slowest first");
        assert!(network.ops.iter().all(|o| o.ms == o.nodes as f64));
    }
}
