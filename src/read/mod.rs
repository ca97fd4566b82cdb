//! `read` on the device: offline OCR with PaddleOCR's PP-OCRv5 mobile models (Apache-2.0), run
//! by tract natively and in WebAssembly: DBNet finds text lines, an optional classifier turns
//! upside-down lines around, and a CRNN reads each line with CTC. Results come out in Azure's
//! `readResult` shape: lines in reading order, each with words, integer polygons and confidences.

mod detect;
mod geometry;
mod layout;
mod recognize;

use std::sync::{Arc, Mutex};

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::azure::DetectedTextLine;
use crate::error::{Result, SightlineError};
use crate::onnx;
pub use crate::tower::{per_operator, NodeTime, OperatorTime};

pub use detect::DetectionSettings;
pub use geometry::Quad;
use recognize::{ctc_greedy, Charset, LineCrop, LINE_HEIGHT, LINE_WIDTH_STEP, MAX_LINE_WIDTH, MIN_LINE_WIDTH};

/// Give the detector's freed working memory back to the system before the image is decoded
/// again: glibc keeps freed heap pages otherwise, and the two would count together (about 90 MB
/// more at the peak for a full-size image). WebAssembly memory is reused as it is.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the kernel; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The text detector's working memory per pixel of its input: tract's activations for
/// PP-OCRv5's DB network (measured: 560 MB peak for a 2048 × 2048 input, 30 MB without OCR).
const DETECTOR_BYTES_PER_PIXEL: u64 = 128;

/// The smallest detector input (the network downsamples 32×).
const MIN_DETECTOR_SIDE: usize = 32;
/// Plans kept per network: detector sizes follow the images' sizes; recogniser widths are
/// rounded up to `LINE_WIDTH_STEP`, so a page's lines share a few.
const DETECTOR_PLANS: usize = 4;
const RECOGNIZER_PLANS: usize = 8;
/// The orientation classifier's fixed input.
const ORIENTATION_SIZE: (usize, usize) = (160, 80);
/// Turn a line around only when the classifier is this sure it is upside down.
const UPSIDE_DOWN_THRESHOLD: f32 = 0.9;
/// Lines read with a lower mean character probability are dropped (PaddleOCR's drop score).
const MIN_LINE_CONFIDENCE: f32 = 0.5;

/// How many of a network's slowest nodes a profile lists (`OcrEngine::profile`).
pub const SLOWEST_NODES: usize = 12;

/// The files of the PP-OCRv5 set, as bytes.
#[derive(Debug, Clone, Copy)]
pub struct OcrFiles<'a> {
    /// `ppocrv5_det.onnx`: DBNet text detection.
    pub detector: &'a [u8],
    /// `ppocrv5_rec.onnx`: CRNN + CTC line recognition.
    pub recognizer: &'a [u8],
    /// `ppocr_keys_v5.txt`: the recogniser's index-aligned dictionary.
    pub dictionary: &'a [u8],
    /// `ppocrv5_cls.onnx`: 0°/180° text-line orientation (optional: without it every line is
    /// read as it stands).
    pub orientation: Option<&'a [u8]>,
}

impl OcrFiles<'_> {
    /// The file names `scripts/fetch-models ppocr-v5` installs (the manifest's `ppocr-v5` entry).
    pub const DETECTOR: &'static str = "ppocrv5_det.onnx";
    pub const RECOGNIZER: &'static str = "ppocrv5_rec.onnx";
    pub const DICTIONARY: &'static str = "ppocr_keys_v5.txt";
    pub const ORIENTATION: &'static str = "ppocrv5_cls.onnx";
}

/// A text line as the engine reads it, before conversion to Azure's integer polygons.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub quad: Quad,
    pub text: String,
    pub confidence: f32,
    pub words: Vec<TextWord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TextWord {
    pub quad: Quad,
    pub text: String,
    pub confidence: f32,
}

/// Where one read spent its time, stage by stage (milliseconds from the caller's clock), and how
/// often each network ran: `OcrEngine::read_lines_profiled`, for `examples/ocr_profile.rs`. A
/// network's time includes optimising a plan for an input shape it has not seen yet.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReadProfile {
    /// Scaling the image to the detector's input and normalising it.
    pub detector_input_ms: f64,
    /// The detection network.
    pub detector_ms: f64,
    /// The probability map to line quads (DB post-processing).
    pub regions_ms: f64,
    /// Cutting each line out upright and scaling it to the networks' height.
    pub crops_ms: f64,
    /// The orientation classifier, once per line.
    pub orientation_ms: f64,
    /// The recognition network, once per line.
    pub recognizer_ms: f64,
    /// CTC decoding, word boxes and reading order.
    pub assemble_ms: f64,
    /// The detector's input, [batch, channels, height, width].
    pub detector_shape: [usize; 4],
    /// The recogniser's input width of each line, in reading order of detection.
    pub recognizer_widths: Vec<usize>,
    /// Lines read (after dropping illegible ones).
    pub lines: usize,
}

/// The engine's three networks, for `OcrEngine::profile_network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum OcrNetwork {
    Detector,
    Orientation,
    Recognizer,
}

/// Where reading one image spends its time (`OcrEngine::profile`): the stages of the first call
/// (which optimises a plan for every input shape not seen yet) and of a second one, and per
/// operator the networks at the shapes that image used (the detector at its size, the recogniser
/// at its widest line, the orientation classifier).
#[derive(Debug, Clone, serde::Serialize)]
pub struct OcrProfile {
    pub first: ReadProfile,
    pub warm: ReadProfile,
    pub networks: Vec<NetworkProfile>,
}

/// One network's profiled run at one input size, summed per operator, the slowest first.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NetworkProfile {
    pub network: OcrNetwork,
    /// [height, width] of the input.
    pub input: [usize; 2],
    pub total_ms: f64,
    /// Every multiply-add of the network's run, as tract counts them.
    pub macs: u64,
    pub ops: Vec<OperatorTime>,
    /// The slowest nodes, the slowest first (with their multiply-adds: the rate each runs at).
    pub nodes: Vec<NodeTime>,
}

impl NetworkProfile {
    /// One network's profile from its timed nodes (`OcrEngine::profile_network`): totals, the
    /// time per operator, and the [`SLOWEST_NODES`] slowest nodes.
    pub fn of(network: OcrNetwork, input: [usize; 2], mut nodes: Vec<NodeTime>) -> NetworkProfile {
        let (total_ms, macs, ops) = (nodes.iter().map(|n| n.ms).sum(), nodes.iter().map(|n| n.macs).sum(), per_operator(&nodes));
        nodes.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        nodes.truncate(SLOWEST_NODES);
        NetworkProfile { network, input, total_ms, macs, ops, nodes }
    }
}

/// A stopwatch on the caller's clock: `lap` gives the milliseconds since the previous lap.
struct Laps<'a> {
    clock: &'a dyn Fn() -> f64,
    last: f64,
}

impl<'a> Laps<'a> {
    fn start(clock: &'a dyn Fn() -> f64) -> Laps<'a> {
        Laps { clock, last: clock() }
    }

    /// No clock: every lap is 0 (`read` and `read_owned`, which report no profile).
    fn none() -> Laps<'static> {
        Laps { clock: &|| 0.0, last: 0.0 }
    }

    fn lap(&mut self) -> f64 {
        let now = (self.clock)();
        let elapsed = now - self.last;
        self.last = now;
        elapsed
    }
}


pub struct OcrEngine {
    detector: PlanCache,
    recognizer: PlanCache,
    orientation: Option<Arc<TypedRunnableModel>>,
    charset: Charset,
    settings: DetectionSettings,
}

impl std::fmt::Debug for OcrEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OcrEngine(PP-OCRv5, {} symbols, orientation: {})", self.charset.len(), self.orientation.is_some())
    }
}

/// A network optimised once per input shape, the most recently used plans kept.
///
/// tract runs a plan optimised for one concrete shape far faster than a symbolic one (the
/// recogniser with a symbolic width was 30× slower), and cannot keep the detector's sides
/// symbolic at all (it cannot prove that the feature pyramid's upsampled maps line up). So each
/// shape gets its own plan on first use (≈ 0.3 s), and callers round their inputs to few shapes.
struct PlanCache {
    what: &'static str,
    model: InferenceModel,
    capacity: usize,
    plans: Mutex<Vec<([usize; 4], Arc<TypedRunnableModel>)>>,
}

impl PlanCache {
    fn new(bytes: &[u8], what: &'static str, capacity: usize) -> Result<PlanCache> {
        Ok(PlanCache { what, model: parse_network(bytes, what)?, capacity, plans: Mutex::default() })
    }

    fn plan(&self, shape: [usize; 4]) -> Result<Arc<TypedRunnableModel>> {
        let mut plans = self.plans.lock().map_err(|_| SightlineError::inference("a plan cache was poisoned"))?;
        if let Some(i) = plans.iter().position(|(s, _)| *s == shape) {
            let entry = plans.remove(i);
            let plan = entry.1.clone();
            plans.push(entry);
            return Ok(plan);
        }
        let plan = onnx::runnable(self.model.clone(), self.what, shape)?;
        if plans.len() >= self.capacity {
            plans.remove(0);
        }
        plans.push((shape, plan.clone()));
        Ok(plan)
    }

    fn run(&self, input: Vec<f32>, shape: [usize; 4]) -> Result<(Vec<usize>, Vec<f32>)> {
        run(&self.plan(shape)?, input, shape)
    }

    /// The network's output shape for an input of `shape`, checked without making a plan.
    fn output_shape(&self, shape: [usize; 4]) -> Result<Vec<usize>> {
        onnx::output_shape(self.model.clone(), self.what, shape)
    }
}

/// Parse a network and check it has one input and one output, as PaddleOCR's exports do.
fn parse_network(bytes: &[u8], what: &str) -> Result<InferenceModel> {
    let model = onnx::read(bytes, what)?;
    if model.input_outlets().map(|i| i.len()).unwrap_or(0) != 1 || model.output_outlets().map(|o| o.len()).unwrap_or(0) != 1 {
        return Err(onnx::mismatch(what, "expected one image input and one output (PaddleOCR's export)".into()));
    }
    Ok(model)
}

/// Load one of the three networks with its input shape.
fn load_network(bytes: &[u8], what: &str, shape: [usize; 4]) -> Result<Arc<TypedRunnableModel>> {
    onnx::runnable(parse_network(bytes, what)?, what, shape)
}

fn run(plan: &Arc<TypedRunnableModel>, input: Vec<f32>, shape: [usize; 4]) -> Result<(Vec<usize>, Vec<f32>)> {
    let tensor = Tensor::from_shape(&shape, &input).map_err(SightlineError::inference)?;
    let outputs = plan.run(tvec!(tensor.into())).map_err(SightlineError::inference)?;
    let output = outputs.first().ok_or_else(|| SightlineError::inference("the network returned no output"))?;
    let view = output.to_plain_array_view::<f32>().map_err(SightlineError::inference)?;
    Ok((view.shape().to_vec(), view.iter().copied().collect()))
}

impl OcrEngine {
    pub fn load(files: OcrFiles<'_>) -> Result<OcrEngine> {
        let charset = Charset::parse(files.dictionary)?;
        let detector = PlanCache::new(files.detector, "text detection model", DETECTOR_PLANS)?;
        // Fail at load time, not on the first image, if the detector cannot take an image at all.
        // Typing the graph checks that; plans are made for the shapes images come in (a plan for
        // this one was most of the load's time in the browser).
        detector.output_shape([1, 3, MIN_DETECTOR_SIDE, MIN_DETECTOR_SIDE])?;
        let recognizer = PlanCache::new(files.recognizer, "text recognition model", RECOGNIZER_PLANS)?;
        let (ow, oh) = ORIENTATION_SIZE;
        let orientation = files
            .orientation
            .map(|bytes| load_network(bytes, "text orientation model", [1, 3, oh, ow]))
            .transpose()?;
        let engine = OcrEngine { detector, recognizer, orientation, charset, settings: DetectionSettings::default() };
        engine.check_dictionary()?;
        Ok(engine)
    }

    /// The PP-OCRv5 set from a folder `scripts/fetch-models ppocr-v5` filled (the orientation
    /// model is optional). A folder without the models means the feature cannot run here.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_dir(dir: &std::path::Path) -> Result<OcrEngine> {
        let file = |name: &str| std::fs::read(dir.join(name)).map_err(|_| SightlineError::OcrModelNotLoaded);
        let (detector, recognizer, dictionary) = (file(OcrFiles::DETECTOR)?, file(OcrFiles::RECOGNIZER)?, file(OcrFiles::DICTIONARY)?);
        let orientation = file(OcrFiles::ORIENTATION).ok();
        OcrEngine::load(OcrFiles { detector: &detector, recognizer: &recognizer, dictionary: &dictionary, orientation: orientation.as_deref() })
    }

    /// The recogniser's class count must be the dictionary's length, or every character would
    /// come out shifted.
    fn check_dictionary(&self) -> Result<()> {
        let shape = self.recognizer.output_shape([1, 3, LINE_HEIGHT, MIN_LINE_WIDTH])?;
        let classes = shape.last().copied().unwrap_or(0);
        if shape.len() != 3 || classes != self.charset.len() {
            return Err(SightlineError::ModelInterfaceMismatch {
                what: "text recognition model".into(),
                reason: format!(
                    "it outputs {shape:?} but the dictionary has {} entries: use the dictionary that belongs to the model",
                    self.charset.len()
                ),
            });
        }
        Ok(())
    }

    pub fn has_orientation(&self) -> bool {
        self.orientation.is_some()
    }

    /// Every text line of the image, in reading order, as Azure's `DetectedTextLine`s.
    pub fn read(&self, image: &RgbImage) -> Result<Vec<DetectedTextLine>> {
        let (width, height) = (image.width(), image.height());
        Ok(self.read_lines(image)?.iter().map(|line| layout::to_azure(line, width, height)).collect())
    }

    /// `read` for a caller that can give the image up. The detector's working memory grows with
    /// its input (about 530 MB at 2048 × 2048); when it and the image would not fit in
    /// `DECODE_MEMORY_BUDGET` together, the image is dropped while the detector runs and
    /// `reload` brings it back for the line crops (decoding twice rather than holding both).
    pub fn read_owned(&self, image: RgbImage, reload: impl FnOnce() -> Result<RgbImage>) -> Result<Vec<DetectedTextLine>> {
        let (width, height) = (image.width(), image.height());
        let (dw, dh) = detect::input_size(width, height, &self.settings);
        let input = detect::detector_input(&image, (dw, dh));
        let together = image.as_raw().len() as u64 + (dw * dh) as u64 * DETECTOR_BYTES_PER_PIXEL;
        let (mut laps, mut profile) = (Laps::none(), ReadProfile::default());
        let (regions, image) = if together > crate::decode::DECODE_MEMORY_BUDGET {
            drop(image);
            let regions = self.detect(input, (dw, dh), (width, height), &mut laps, &mut profile)?;
            release_free_memory();
            (regions, reload()?)
        } else {
            (self.detect(input, (dw, dh), (width, height), &mut laps, &mut profile)?, image)
        };
        let lines = self.recognize(&image, regions, &mut laps, &mut profile)?;
        Ok(lines.iter().map(|line| layout::to_azure(line, width, height)).collect())
    }

    /// Every text line of the image, in reading order, with float quads.
    pub fn read_lines(&self, image: &RgbImage) -> Result<Vec<TextLine>> {
        self.read_timed(image, &mut Laps::none()).map(|(lines, _)| lines)
    }

    /// `read_lines`, with where its time went, stage by stage, on `clock` (milliseconds from
    /// any origin: `Instant` natively, `performance.now()` in a browser).
    pub fn read_lines_profiled(&self, image: &RgbImage, clock: &dyn Fn() -> f64) -> Result<(Vec<TextLine>, ReadProfile)> {
        self.read_timed(image, &mut Laps::start(clock))
    }

    fn read_timed(&self, image: &RgbImage, laps: &mut Laps<'_>) -> Result<(Vec<TextLine>, ReadProfile)> {
        let mut profile = ReadProfile::default();
        let (iw, ih) = (image.width(), image.height());
        let (dw, dh) = detect::input_size(iw, ih, &self.settings);
        let input = detect::detector_input(image, (dw, dh));
        profile.detector_input_ms = laps.lap();
        let regions = self.detect(input, (dw, dh), (iw, ih), laps, &mut profile)?;
        let lines = self.recognize(image, regions, laps, &mut profile)?;
        profile.lines = lines.len();
        Ok((lines, profile))
    }

    /// The text regions the detector finds in its `dw × dh` input, as quads on the `iw × ih` image.
    fn detect(
        &self,
        input: Vec<f32>,
        (dw, dh): (usize, usize),
        (iw, ih): (u32, u32),
        laps: &mut Laps<'_>,
        profile: &mut ReadProfile,
    ) -> Result<Vec<Quad>> {
        profile.detector_shape = [1, 3, dh, dw];
        let (shape, prob) = self.detector.run(input, profile.detector_shape)?;
        profile.detector_ms = laps.lap();
        if shape.iter().product::<usize>() != dw * dh {
            return Err(SightlineError::inference(format!("the text detector returned {shape:?} for a {dw}×{dh} input")));
        }
        let (sx, sy) = (iw as f32 / dw as f32, ih as f32 / dh as f32);
        let quads = detect::text_regions(&prob, dw, dh, &self.settings)
            .into_iter()
            .map(|region| region.quad.scaled(sx, sy).clamped(iw as f32, ih as f32))
            .filter(|quad| quad.width() >= 2.0 && quad.height() >= 2.0)
            .collect();
        profile.regions_ms = laps.lap();
        Ok(quads)
    }

    /// Recognise each region's text, in reading order.
    fn recognize(&self, image: &RgbImage, regions: Vec<Quad>, laps: &mut Laps<'_>, profile: &mut ReadProfile) -> Result<Vec<TextLine>> {
        let mut lines = Vec::new();
        for quad in regions {
            if let Some(line) = self.read_line(image, quad, laps, profile)? {
                lines.push(line);
            }
        }
        let lines = layout::reading_order(lines);
        profile.assemble_ms += laps.lap();
        Ok(lines)
    }

    /// Read one detected region; `None` when nothing legible is in it.
    fn read_line(&self, image: &RgbImage, mut quad: Quad, laps: &mut Laps<'_>, profile: &mut ReadProfile) -> Result<Option<TextLine>> {
        let mut crop = LineCrop::cut(image, &quad);
        profile.crops_ms += laps.lap();
        let upside_down = self.is_upside_down(&crop)?;
        profile.orientation_ms += laps.lap();
        if upside_down {
            crop = crop.rotated_180();
            quad = quad.rotated_180();
        }
        let (input, width, text_width) = crop.to_input(LINE_HEIGHT, MIN_LINE_WIDTH, LINE_WIDTH_STEP, MAX_LINE_WIDTH);
        profile.crops_ms += laps.lap();
        let (shape, probs) = self.recognizer.run(input, [1, 3, LINE_HEIGHT, width])?;
        profile.recognizer_ms += laps.lap();
        profile.recognizer_widths.push(width);
        let (steps, classes) = (shape[1], shape[2]);
        let chars = ctc_greedy(&probs, classes, &self.charset);
        // Time step → fraction of the crop's length (the text fills `text_width` of `width`).
        let step_width = width as f32 / steps.max(1) as f32 / text_width as f32;
        let line = layout::assemble(quad, &chars, step_width).filter(|line| line.confidence >= MIN_LINE_CONFIDENCE);
        profile.assemble_ms += laps.lap();
        Ok(line)
    }

    /// Every node of one network's plan for a `height × width` input (the orientation classifier
    /// has one fixed size and ignores them), timed once with `clock` after a warm-up run, on a
    /// constant input: where that network's time goes, per operator (`examples/ocr_profile.rs`).
    pub fn profile_network(&self, network: OcrNetwork, (height, width): (usize, usize), clock: &dyn Fn() -> f64) -> Result<Vec<NodeTime>> {
        let (plan, shape) = match network {
            OcrNetwork::Detector => (self.detector.plan([1, 3, height, width])?, [1, 3, height, width]),
            OcrNetwork::Recognizer => (self.recognizer.plan([1, 3, height, width])?, [1, 3, height, width]),
            OcrNetwork::Orientation => {
                let plan = self.orientation.clone().ok_or_else(|| SightlineError::inference("no orientation model is loaded"))?;
                let (ow, oh) = ORIENTATION_SIZE;
                (plan, [1, 3, oh, ow])
            }
        };
        let input = || Tensor::zero::<f32>(&shape).map_err(SightlineError::inference);
        crate::tower::profile_plan(&plan, input()?, &|| 0.0)?;
        crate::tower::profile_plan(&plan, input()?, clock)
    }

    /// Where reading `image` spends its time, stage by stage and per operator, on `clock`
    /// (`scripts/bench-ocr --profile` in the browser; `examples/ocr_profile.rs` natively).
    pub fn profile(&self, image: &RgbImage, clock: &dyn Fn() -> f64) -> Result<OcrProfile> {
        let (_, first) = self.read_lines_profiled(image, clock)?;
        let (_, warm) = self.read_lines_profiled(image, clock)?;
        let [_, _, height, width] = first.detector_shape;
        let mut shapes = vec![(OcrNetwork::Detector, (height, width))];
        if let Some(&widest) = first.recognizer_widths.iter().max() {
            shapes.push((OcrNetwork::Recognizer, (LINE_HEIGHT, widest)));
        }
        if self.orientation.is_some() {
            shapes.push((OcrNetwork::Orientation, (ORIENTATION_SIZE.1, ORIENTATION_SIZE.0)));
        }
        let networks = shapes
            .into_iter()
            .map(|(network, shape)| {
                Ok(NetworkProfile::of(network, [shape.0, shape.1], self.profile_network(network, shape, clock)?))
            })
            .collect::<Result<_>>()?;
        Ok(OcrProfile { first, warm, networks })
    }

    fn is_upside_down(&self, crop: &LineCrop) -> Result<bool> {
        let Some(plan) = &self.orientation else { return Ok(false) };
        let (ow, oh) = ORIENTATION_SIZE;
        let (input, _, _) = crop.to_input(oh, ow, 1, ow);
        let (_, scores) = run(plan, input, [1, 3, oh, ow])?;
        Ok(scores.len() == 2 && scores[1] > scores[0] && scores[1] >= UPSIDE_DOWN_THRESHOLD)
    }
}
