// Type declarations for the `sightline` package: the whole public API.

/** A model file given by URL, optionally with the digest and size to check it against. */
export type FileRef = string | URL | { url: string | URL; sha256?: string; size?: number };

/** A model given file by file instead of through a manifest. */
export interface ModelFiles {
  /** Name used in progress reports and `analyzer.model.name` (default: the descriptor's). */
  name?: string;
  /** The model's `sightline.json` descriptor, as an object or its URL. */
  descriptor: ModelDescriptor | string | URL;
  /** The SigLIP vision tower (ONNX). */
  vision: FileRef;
  /** The text tower (ONNX); needed for labels, `embedText` and `classify`. */
  text?: FileRef;
  /** The tokenizer.json that goes with the text tower. */
  tokenizer?: FileRef;
  /** `tags-en.sltags` from `sightline build-tags`; needed for tags, imageType, adult, categories. */
  tags?: FileRef;
  /** The people detector (YuNet, ONNX); needed for `people`, used by `smartCrops` when present. */
  people?: FileRef;
  /** The read models (PP-OCRv5) for `read`, by the manifest's ppocr-v5 roles. */
  read?: { detector: FileRef; recognizer: FileRef; dictionary: FileRef; orientation?: FileRef };
}

/** Facts about a SigLIP model the ONNX files do not carry (models/<name>/sightline.json). */
export interface ModelDescriptor {
  name: string;
  synthetic: boolean;
  image_size: number;
  image_mean: [number, number, number];
  image_std: [number, number, number];
  max_text_length: number;
  prompt_template: string;
  logit_scale: number;
  logit_bias: number;
  [key: string]: unknown;
}

/** One progress report while a model file loads. */
export interface LoadProgress {
  /** Manifest entry the file belongs to, e.g. "siglip-base-patch16-224" or "yunet". */
  model: string;
  /** Path of the file inside the model, e.g. "onnx/vision_model_quantized.onnx". */
  file: string;
  /** Manifest role: "vision", "text", "tokenizer", "tags", "face", … */
  role: string;
  /** Bytes received so far. */
  loaded: number;
  /** Expected bytes (Content-Length or the manifest's size), 0 when unknown. */
  total: number;
  /** True when the file came from Cache Storage without a download. */
  fromCache: boolean;
}

export interface CreateAnalyzerOptions {
  /**
   * A model name from the package's manifest (default "siglip-base-patch16-224"), the URL of a
   * manifest.json (its `default` model, or `modelName`), `{manifest, name}`, or the files themselves.
   */
  model?: string | URL | { manifest: string | URL; name?: string } | ModelFolder | ModelFiles;
  /** With a manifest URL: which of its models to load (default: the manifest's `default`). */
  modelName?: string;
  /**
   * Where the app serves model folders (`<modelBaseUrl>/<model>/<path>`, the layout
   * `scripts/fetch-models` installs); tried before a file's upstream URL. Default: the manifest
   * URL's folder, or none (upstream URLs only) for a model name.
   */
  modelBaseUrl?: string | URL;
  /** Called for every chunk of every model file, including extras loaded later on first need. */
  onProgress?: (progress: LoadProgress) => void;
  /** Keep verified files in Cache Storage ("sightline-models-v1") and reuse them. Default true. */
  cache?: boolean;
  /** Run the model in a worker the package starts. Default: true in a window, false in a worker. */
  worker?: boolean;
  /** Load the text tower (labels, embedText, classify). Default true; false saves its download. */
  text?: boolean;
  /**
   * Where to fetch the SIMD128 module (pkg/sightline_bg.wasm) from, when not next to the package's
   * JS (e.g. a CDN); it then runs in every engine, on one thread. By default the package runs the
   * fastest module the engine loads (see RuntimeInfo).
   */
  wasmUrl?: string | URL;
  /**
   * Web Workers splitting the model's matrix products, where the threaded module runs: in a
   * cross-origin isolated page (served with `Cross-Origin-Opener-Policy: same-origin` and
   * `Cross-Origin-Embedder-Policy: credentialless` or `require-corp`), with relaxed SIMD, inside a
   * worker (the package's own, or yours). Default "auto": every core, at most 8. 1: single-threaded.
   * The first analyzer in a thread decides for every later one in that thread.
   */
  threads?: number | "auto";
  /**
   * Load only what these features need (the core's feature table decides): `["read"]` loads the
   * read models and no SigLIP model, `["people"]` the people detector alone. Without it the SigLIP
   * model loads now. Anything else loads on first need.
   */
  features?: VisualFeature[];
  /**
   * Remote services: Azure's for `read` and `people`, a vision-language model for `caption`,
   * `denseCaptions` and `objects` (see `Analyzer.setServices`).
   */
  services?: ServicesOptions | null;
  /** Cancels the load (downloads stop; the worker is terminated). */
  signal?: AbortSignal;
}

/**
 * An Azure service endpoint: `https://NAME.cognitiveservices.azure.com`, a loopback address, or a
 * path on the page's origin (a proxy you run, e.g. "/azure-read"). The key stays in the worker's
 * memory and is sent only in the `Ocp-Apim-Subscription-Key` header, never after a redirect to
 * another origin. Plain http elsewhere is refused unless `allowHttp`.
 */
export interface ServiceEndpoint {
  endpoint: string | URL;
  key: string;
  allowHttp?: boolean;
}

/** The API a vision-language model endpoint speaks. */
export type CaptionApi = "azure-openai" | "openai-compatible";

/**
 * A vision-language model for `caption`, `denseCaptions` and `objects`: one chat completions call
 * with the image answers all three.
 */
export interface CaptionServiceOptions {
  /**
   * Azure OpenAI (`https://NAME.openai.azure.com`), any OpenAI-compatible server
   * (`https://api.openai.com`, a local llama.cpp server or Ollama at `http://localhost:11434`), or a
   * path on the page's origin (a proxy you run).
   */
  endpoint: string | URL;
  /**
   * Sent only in `api-key` (Azure OpenAI) or `Authorization: Bearer` (OpenAI-compatible), never
   * after a redirect. Required for Azure OpenAI; may be left out for a server that takes none.
   */
  key?: string;
  /** The Azure OpenAI deployment's name, or the model's name as the server knows it (e.g. "gpt-4o"). */
  model: string;
  /**
   * "auto" (the default): Azure OpenAI for hosts under openai.azure.com,
   * cognitiveservices.azure.com and services.ai.azure.com, else OpenAI-compatible.
   */
  api?: "auto" | CaptionApi;
  /** Azure OpenAI's `api-version` (default "2024-10-21"). */
  apiVersion?: string;
  /** Allow plain http beyond loopback hosts and the page's own origin (a proxy you run). */
  allowHttp?: boolean;
}

export interface ServicesOptions {
  /** Document Intelligence Read for `read`. */
  read?: (ServiceEndpoint & { apiVersion?: "2024-11-30" | "2023-07-31" }) | null;
  /** The Face API for `people`, with its landmarks and these attributes when asked. */
  face?: (ServiceEndpoint & { landmarks?: boolean; attributes?: ("headPose" | "mask" | "blur" | "qualityForRecognition")[] }) | null;
  /** A vision-language model for `caption`, `denseCaptions` and `objects` (nothing on the device answers them). */
  caption?: CaptionServiceOptions | null;
  /** Give up on a remote feature after this many seconds, retries and polling included (default 120). */
  timeoutSeconds?: number;
}

export type PartName = "siglip" | "tags" | "people" | "read";

/** The core's feature table (src/features.rs), as `Analyzer.featureTable` gives it. */
export interface FeatureTable {
  features: {
    name: VisualFeature;
    /** Parts a local answer cannot do without. */
    needs: PartName[];
    /** Parts used when loaded (smart crops keep faces whole). */
    helpedBy: PartName[];
    /** The service that can answer it (instead of the device, or alone), and the option choosing it. */
    service: { name: string; backendOption: "readBackend" | "peopleBackend" | "captionBackend" | "objectsBackend"; needs: string } | null;
    /** Whether the device can answer it; caption, denseCaptions and objects need their service. */
    local: boolean;
  }[];
  parts: { name: PartName; what: string; kind: string; roles: string[]; optionalRoles: string[] }[];
  /** Analyze options beside `features` that load SigLIP. */
  optionsNeedingSiglip: string[];
}

/** Which remote services are configured (never their keys). */
export interface ServicesInUse {
  read: boolean;
  face: boolean;
  /** The vision-language model's API, or null when none is configured. */
  caption: CaptionApi | null;
}

/**
 * A model folder at any URL (`…/sightline.json` beside its files), or a Hugging Face repository
 * (`https://huggingface.co/OWNER/REPO`, optionally `/tree/REVISION/FOLDER`). Files the manifest
 * (the package's, or `manifest`) knows by path and size are checked against its sha256; the others
 * load unverified and `model.files` reports their sha256. The tags file is the folder's own, else
 * the one at `modelBaseUrl` for the manifest model whose vision weights these are.
 */
export interface ModelFolder {
  folder: string | URL;
  manifest?: string | URL;
  /** Revalidate unverified files with the server instead of trusting a cached copy. */
  refresh?: boolean;
}

/** Anything Sightline can analyse. Encoded files are decoded by the core (JPEG, PNG, WebP, GIF, BMP, TIFF). */
export type ImageInput =
  | Blob
  | ArrayBuffer
  | ArrayBufferView
  | string
  | URL
  | HTMLImageElement
  | HTMLCanvasElement
  | OffscreenCanvas
  | ImageBitmap
  | ImageData;

/** Azure Image Analysis 4.0 visual features, and the 3.2 ones Sightline also answers. */
export type VisualFeature =
  | "tags"
  | "smartCrops"
  | "people"
  | "read"
  | "color"
  | "imageType"
  | "adult"
  | "categories"
  | "caption"
  | "denseCaptions"
  | "objects";

export type Backend = "auto" | "local" | "azure";
/**
 * The API a vision-language feature must go through: "auto" (the configured model, whichever API
 * it speaks; the default), or one of them (a configured endpoint speaking the other is refused with
 * code "InvalidParameter").
 */
export type CaptionBackend = "auto" | CaptionApi;

/**
 * Options of `analyze`: Azure's request options plus Sightline's additions. Everything but
 * `signal` is passed to the core unchanged, so options added to the core need no package update.
 */
export interface AnalyzeOptions {
  /** Default ["tags"]. */
  features?: VisualFeature[];
  language?: string;
  smartcropsAspectRatios?: number[];
  modelVersion?: string;
  /** Zero-shot labels scored alongside the tags (`customLabelsResult`). */
  labels?: string[];
  /** Minimum tag confidence, default 0.1. */
  tagThreshold?: number;
  /** At most this many tags, default 20. */
  maxTags?: number;
  /** Also return the image's unit SigLIP embedding as `embedding`. */
  includeEmbedding?: boolean;
  readBackend?: Backend;
  peopleBackend?: Backend;
  /** The API `caption` and `denseCaptions` must use. */
  captionBackend?: CaptionBackend;
  /** The API `objects` must use. */
  objectsBackend?: CaptionBackend;
  /** Azure's `gender-neutral-caption`: "person", "people", "child" rather than "man", "woman", "boy", "girl". */
  genderNeutralCaption?: boolean;
  /**
   * Rejects the call with the signal's reason; a queued call never runs, and a running one's calls
   * to the Azure services are canceled (the analyzer goes on with the next call at once).
   */
  signal?: AbortSignal;
  [option: string]: unknown;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ImageMetadata {
  width: number;
  height: number;
}
export interface DetectedTag {
  name: string;
  /** 0..1, SigLIP's independent sigmoid probability. */
  confidence: number;
}
export interface ImageBoundingBox {
  x: number;
  y: number;
  w: number;
  h: number;
}
export interface CropRegion {
  aspectRatio: number;
  boundingBox: ImageBoundingBox;
}
export interface DetectedPerson {
  boundingBox: ImageBoundingBox;
  confidence: number;
}
export interface Point {
  x: number;
  y: number;
}
export interface FaceInfo {
  faceRectangle: { left: number; top: number; width: number; height: number };
  /** The five points YuNet finds (local detection). */
  landmarks?: { eyeRight: Point; eyeLeft: Point; noseTip: Point; mouthRight: Point; mouthLeft: Point };
  /** YuNet's detection score (local detection). */
  score?: number;
  /** The Face API's 27 landmarks by name (pupilLeft, noseTip, …), when asked for. */
  faceLandmarks?: Record<string, Point>;
  /** The Face API's attributes as it returns them (headPose, mask, blur, qualityForRecognition), when asked for. */
  faceAttributes?: Record<string, unknown>;
}
export interface DetectedTextWord {
  text: string;
  boundingPolygon: Point[];
  confidence: number;
}
export interface DetectedTextLine {
  text: string;
  boundingPolygon: Point[];
  words: DetectedTextWord[];
}
export interface ReadResult {
  blocks: { lines: DetectedTextLine[] }[];
  content?: string;
  backend?: "local" | "azure";
}
/** Sightline's addition to vision-language results: the API called and the model the server said answered. */
export interface ModelSource {
  backend: CaptionApi;
  model: string;
}
/**
 * `captionResult`: one sentence about the whole image. `confidence` (0..1) is the model's own, the
 * geometric mean of its tokens' probabilities; absent when the server gave no token log-probabilities
 * (the result's `warning` then says so).
 */
export interface CaptionResult {
  text: string;
  confidence?: number;
  source?: ModelSource;
}
export interface DenseCaption {
  text: string;
  /** As in CaptionResult. */
  confidence?: number;
  boundingBox: ImageBoundingBox;
}
/** `denseCaptionsResult`: the first value describes the whole image (its box is the image); at most 10. */
export interface DenseCaptionsResult {
  values: DenseCaption[];
  source?: ModelSource;
}
export interface ObjectTag {
  name: string;
  /** As in CaptionResult. */
  confidence?: number;
}
export interface DetectedObject {
  boundingBox: ImageBoundingBox;
  tags: ObjectTag[];
}
/** `objectsResult`: present (and empty) when the model call failed, as Azure's clients expect. */
export interface ObjectsResult {
  values: DetectedObject[];
  source?: ModelSource;
}
/** Azure's error body (`Azure.Core.Foundations.ErrorResponse.error`). */
export interface AzureErrorBody {
  code: string;
  message: string;
  innererror: { code: string; message: string };
}

/** Azure Image Analysis 4.0 `ImageAnalysisResult`, with Sightline's additions and 3.2 extras. */
export interface ImageAnalysisResult {
  modelVersion: string;
  /**
   * Present when results mean nothing (a synthetic test model), or when the vision-language model
   * gave no token log-probabilities (so its results have no confidence); several are joined by "; ".
   */
  warning?: string;
  metadata: ImageMetadata;
  captionResult?: CaptionResult;
  denseCaptionsResult?: DenseCaptionsResult;
  objectsResult?: ObjectsResult;
  tagsResult?: { values: DetectedTag[] };
  smartCropsResult?: { values: CropRegion[] };
  peopleResult?: { values: DetectedPerson[] };
  readResult?: ReadResult;
  faces?: FaceInfo[];
  customLabelsResult?: { values: DetectedTag[] };
  embedding?: number[];
  color?: {
    dominantColorForeground: string;
    dominantColorBackground: string;
    dominantColors: string[];
    /** Six hex digits, no "#". */
    accentColor: string;
    isBwImg: boolean;
    isBWImg: boolean;
  };
  imageType?: { clipArtType: number; lineDrawingType: number };
  adult?: {
    isAdultContent: boolean;
    isRacyContent: boolean;
    isGoryContent: boolean;
    adultScore: number;
    racyScore: number;
    goreScore: number;
  };
  categories?: { name: string; score: number }[];
  /**
   * Features that failed (a remote service), each with its error; the other results stand.
   * `error.innererror.code` is Sightline's: RemoteUnauthorized, RemoteThrottled, RemoteTimeout,
   * RemoteNetwork, RemoteServiceError, RemoteMalformedResponse, …, and for the vision-language model
   * also RemoteModelNotFound (no such deployment or model), RemoteContentFiltered and
   * RemoteInvalidModelOutput (a reply that is not the JSON asked for, cut short, or a refusal). One
   * model call answers caption, denseCaptions and objects: when it fails, each requested one is listed.
   */
  featureErrors?: {
    feature: string;
    error: AzureErrorBody;
    /** What the service itself answered, when it answered. */
    serviceError?: { status: number; code: string; message: string };
  }[];
}

/** One zero-shot label's score. */
export interface LabelScore {
  label: string;
  /** 0..1: sigmoid(exp(logit_scale)·cosine + logit_bias). */
  confidence: number;
  logit: number;
  cosine: number;
}

export interface ModelInfo {
  name: string;
  description: string | null;
  /** True for random-weight test models: tell the user results are meaningless. */
  synthetic: boolean;
  embeddingDim: number;
  hasText: boolean;
  descriptor: ModelDescriptor;
  /** Tags in the loaded tags file (0 until one loads: on first need, or with `prepare(["tags"])`). */
  tagCount: number;
  /** A model folder given by URL: its URL (null otherwise). */
  url: string | null;
  /** A model folder given by URL: each file loaded and how it was checked. */
  files: ModelFileReport[];
  /** What was noticed while loading (e.g. "tags from this page's copy for …"). */
  notes: string[];
}

export interface ModelFileReport {
  role: string;
  path: string;
  size: number;
  sha256: string;
  /** True when a manifest's sha256 vouches for the file. */
  verified: boolean;
  /** The manifest file it is, when verified. */
  matched: { model: string; path: string; size: number | null; sha256: string } | null;
  fromCache: boolean;
}

/**
 * Which of the package's WebAssembly modules runs the model; all give the same results bit for bit.
 * `build`: "threads" in a cross-origin isolated page with relaxed SIMD and more than one core (see
 * `threads`), else "relaxed-simd" wherever the engine has relaxed SIMD, else "simd128" (a `wasmUrl`
 * is the SIMD128 module). `int8Kernel`: "relaxed-simd" where the engine's relaxed dot product is
 * exact unsigned-by-signed (V8 on x86-64 with AVX-VNNI; about twice as fast), else "simd128".
 * `threads`: the workers sharing the work (1 without the threaded module). `fallback`: why the
 * threaded module was chosen but does not run (its workers did not start), when that happened.
 */
export interface RuntimeInfo {
  build: "simd128" | "relaxed-simd" | "threads";
  int8Kernel: "simd128" | "relaxed-simd" | "portable";
  threads: number;
  fallback?: string;
}


/** A request to Azure's REST API, for `Analyzer.restRequest`. */
export interface RestRequest {
  /** Default "POST". */
  method?: string;
  /** The whole URL or the path with its query, e.g. "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=tags". */
  url: string;
  contentType?: string | null;
  /** The image's bytes (application/octet-stream) or the JSON body (`{"url"}`, `{"text"}`). */
  body?: Uint8Array | ArrayBuffer | null;
}

/** An HTTP answer: status, headers by lower-case name, and the JSON body as text. */
export interface RestResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export declare class Analyzer {
  private constructor();
  /** The SigLIP model loaded, or null while none is (made with `features` that need none; it loads on first need). */
  readonly model: ModelInfo | null;
  /** Which WebAssembly module runs it. */
  readonly runtime: RuntimeInfo;
  /** Which remote services are in use. */
  readonly services: ServicesInUse;
  /** The parts loaded so far. */
  readonly parts: PartName[];
  /** What each feature needs: the core's feature table. */
  readonly featureTable: FeatureTable;
  /**
   * Answer `read` and `people` through Azure from now on (as `readBackend` / `peopleBackend`
   * choose; "auto": the service when configured), and `caption`, `denseCaptions` and `objects`
   * through a vision-language model; null forgets them all. Rejects, leaving no service in use,
   * when an endpoint or key is refused (code "RemoteInvalidEndpoint" or "InvalidArgument"), or with
   * "InvalidOptions" for options of the wrong shape.
   */
  setServices(services: ServicesOptions | null, options?: CallOptions): Promise<ServicesInUse>;
  readonly disposed: boolean;
  /** Azure Image Analysis 4.0-shaped analysis. Loads what the features need (SigLIP, tags file, people, read models) on first need. */
  analyze(input: ImageInput, options?: AnalyzeOptions): Promise<ImageAnalysisResult>;
  /**
   * Answer a request to Azure AI Vision's REST API in-process, with Azure's statuses and error
   * bodies (what `sightline serve` answers over HTTP): `POST …/computervision/imageanalysis:analyze`,
   * `…/retrieval:vectorizeImage`, `…/retrieval:vectorizeText`. Refusals (400, 404, 405, 413,
   * 415) resolve; only an abort or a part that cannot load rejects. `sightline/azure` builds the
   * Azure JS client's `httpClient` on this.
   */
  restRequest(request: RestRequest, options?: CallOptions): Promise<RestResponse>;
  /** Download what `features` need now instead of on the first `analyze`. */
  prepare(features: VisualFeature[], options?: AnalyzeOptions): Promise<void>;
  /** The image's unit-length embedding. */
  embedImage(input: ImageInput, options?: CallOptions): Promise<Float32Array>;
  /** Unit-length text embedding(s), comparable with image embeddings by dot product. */
  embedText(text: string, options?: CallOptions): Promise<Float32Array>;
  embedText(texts: string[], options?: CallOptions): Promise<Float32Array[]>;
  /** Zero-shot scores of `labels` in their order. */
  classify(input: ImageInput, labels: string[], options?: CallOptions): Promise<LabelScore[]>;
  /** Zero-shot scores for stored embeddings: one LabelScore[] per embedding. */
  classifyEmbeddings(embeddings: Float32Array[], labels: string[], options?: CallOptions): Promise<LabelScore[][]>;
  /** The image upright as PNG, its longer side at most `maxSide` (default 1024): a preview for TIFF and other formats browsers cannot show. */
  preview(input: ImageInput, options?: CallOptions & { maxSide?: number }): Promise<Blob>;
  /** The WebAssembly memory the analyzer holds, in bytes: its peak so far. */
  memoryBytes(options?: CallOptions): Promise<number>;
  /** Stop the worker and free the model; pending calls reject with code "AnalyzerDisposed". */
  dispose(): void;
}

/** Load a model (verified by sha256, cached, with progress) and return an Analyzer. */
export declare function createAnalyzer(options?: CreateAnalyzerOptions): Promise<Analyzer>;

/** Codes raised by the package itself; the core's (InvalidImageFormat, TagsNotLoaded, …) pass through. */
export declare const ErrorCodes: {
  readonly DownloadFailed: "DownloadFailed";
  readonly ChecksumMismatch: "ChecksumMismatch";
  readonly UnknownModel: "UnknownModel";
  readonly InvalidManifest: "InvalidManifest";
  readonly InvalidOptions: "InvalidOptions";
  readonly UnsupportedInput: "UnsupportedInput";
  readonly FeatureNotAvailable: "FeatureNotAvailable";
  readonly AnalyzerDisposed: "AnalyzerDisposed";
  readonly WorkerFailed: "WorkerFailed";
};

/**
 * Every error the package throws (aborts excepted: those reject with the signal's reason, a
 * DOMException named "AbortError" by default).
 */
export declare class SightlineError extends Error {
  constructor(code: string, message: string, extra?: { azure?: { error: AzureErrorBody }; cause?: unknown });
  readonly name: "SightlineError";
  /** Stable code: one of ErrorCodes, or the core's (e.g. "InvalidImageFormat", "NotSupportedVisualFeature"). */
  readonly code: string;
  /** For core errors: Azure's JSON error body for the same problem. */
  readonly azure?: { error: AzureErrorBody };
}

/** The model loaded when none is named. */
export declare const DEFAULT_MODEL: "siglip-base-patch16-224";
/** The Cache Storage bucket holding verified model files. */
export declare const CACHE_NAME: "sightline-models-v1";
