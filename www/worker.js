// The analysis worker: owns the WebAssembly module and the loaded models, so the page never
// freezes. Messages in: {type: "load", model} | {type: "load", url, refresh} |
// {type: "analyze", id, bytes, labels} | {type: "labels", labels} | {type: "search", text} |
// {type: "services", settings} | {type: "preview", id, bytes}. Messages out: loading, progress,
// ready, loadFailed, result, services, scores, ranking, preview, error (errors carry {code, message}).
//
// Model files are fetched, checked and cached by the npm package's loader (js/model-loader.js,
// copied to lib/ by scripts/build-web): the page and the package share one implementation.

import {
  fetchModelFile,
  fetchVerified,
  folderFileSpec,
  loadManifest,
  manifestEntry,
  manifestEntryOfKind,
  manifestFileList,
  manifestFiles,
  modelFolderUrl,
} from "./lib/model-loader.js";
import { SightlineError } from "./lib/errors.js";
import { WASM_BUILDS, startWasm } from "./lib/wasm-builds.js";

const FEATURES = ["tags", "smartCrops", "people", "color", "categories"];
/** Features answered from the tags file: off for a model loaded without one. */
const TAGS_FEATURES = ["tags", "categories"];
/** Where the page's own models live: the layout scripts/fetch-models installs. */
const MODELS = new URL("models/", self.location.href).href;
/** Progress labels by manifest role. */
const LABELS = { vision: "vision model", text: "text model", tokenizer: "tokenizer", descriptor: "descriptor (sightline.json)", tags: "tags", face: "face model" };

/**
 * The loaded model: {model, name, url, tagCount, ocr, busy, retired}. A new load builds a new one
 * and swaps it in only once it works, so the previous model answers until then (and for good if
 * the load fails). `busy` counts the calls using it; a retired model is freed when none is left.
 */
let current = null;
/** The manifest, kept for the models loaded on first need (OCR) and for checking URL models. */
let manifest = null;
/** The latest load: a newer one aborts it, and a superseded load never replaces the model. */
let loadSeq = 0;
let loadController = null;
/** The Azure services' settings (from the page's settings panel): backends, and whether read is on. */
let services = { read: false, readBackend: "auto", peopleBackend: "auto" };
/** image id → unit embedding, for live labels and text search without re-running the vision tower. */
const embeddings = new Map();

let wasmReady = null;
/** The instantiated module's exports (Analyzer, previewPng, ...), once `wasmReady` resolves. */
let wasm = null;
/** The module that runs (lib/wasm-builds.js): {build, int8Kernel, threads}, sent with "ready". */
let runtime = null;
/** The fastest module this browser runs: on a pool of workers where the page is cross-origin isolated. */
const initWasm = () => (wasmReady ??= startWasm((build) => import(`./pkg/${WASM_BUILDS[build].glue}`)).then((started) => {
  wasm = started.glue;
  runtime = started.runtime;
}).catch((error) => {
  wasmReady = null;
  throw error;
}));

/** Every message carries the WebAssembly memory's size (its peak so far: it never shrinks). */
const post = (message, transfer) => self.postMessage({ ...message, wasmMemory: wasm ? wasm.wasmMemoryBytes() : 0 }, transfer ?? []);
const errorJson = (error, fallback = "LoadFailed") => ({ code: error?.code ?? fallback, message: String(error?.message ?? error) });

function fail(error, id, op) {
  post({ type: "error", id, op, error: errorJson(error) });
}

function hold() {
  const slot = current;
  if (slot) slot.busy++;
  return slot;
}

function release(slot) {
  if (slot && --slot.busy === 0 && slot.retired) slot.model.free();
}

async function getManifest() {
  manifest ??= await loadManifest(new URL("manifest.json", MODELS).href);
  return manifest;
}

/** An onProgress callback posting the page a progress row under `label`. */
function progressFor(label) {
  return ({ loaded, total, fromCache }) => post({ type: "progress", label, loaded, total, fromCache });
}

/** A manifest model the page serves itself (models/<name>/), by name. */
async function loadFromManifest(name, signal) {
  const m = await getManifest();
  const entry = manifestEntry(m, name);
  const files = manifestFiles(name, entry, MODELS);
  const get = (role) => (files.get(role) ? fetchModelFile(files.get(role), { digest: false, onProgress: progressFor(LABELS[role]), signal }) : null);
  const [vision, text, tokenizer] = await Promise.all([get("vision"), get("text"), get("tokenizer")]);
  const model = construct(entry.descriptor, vision, text, tokenizer);
  try {
    // The tags file is built locally for this model (scripts/serve); the model checks it is its own.
    const tagsSpec = { model: name, file: "tags-en.sltags", role: "tags", urls: [new URL(`${name}/tags-en.sltags`, MODELS).href], sha256: null, size: null };
    model.load("tags", { tags: await fetchVerified(tagsSpec, { onProgress: progressFor(LABELS.tags), signal }) });
    const tagCount = model.tagCount;
    return { model, name, url: null, description: entry.description, tagCount, files: null, notes: [] };
  } catch (error) {
    model.free();
    throw error;
  }
}

/**
 * A model folder at a URL the user gave (or a Hugging Face repository). Its sightline.json names
 * the files; without one, the files are named as in the manifest's SigLIP entries and the vision
 * model must be one the manifest knows (its descriptor is then the manifest's). Files the
 * manifest knows by path and size are checked against its sha256; the others are loaded
 * unverified and reported with their sha256.
 */
async function loadFromUrl(input, refresh, signal) {
  const m = await getManifest();
  const folder = modelFolderUrl(input, self.location.href);
  const known = manifestFileList(m);
  const report = [];
  const get = async (role, path) => {
    const spec = folderFileSpec(folder.url, path, { model: folder.name, role, known });
    const file = await fetchModelFile(spec, { refresh, onProgress: progressFor(LABELS[role]), signal });
    report.push({ role, path, size: file.bytes.length, sha256: file.sha256, verified: file.verified, matched: file.matched, fromCache: file.fromCache });
    return file;
  };

  let descriptor = null;
  try {
    const file = await get("descriptor", "sightline.json");
    try {
      descriptor = JSON.parse(new TextDecoder().decode(file.bytes));
    } catch (error) {
      throw new SightlineError("InvalidModelDescriptor", `${folder.url}sightline.json is not JSON: ${error.message}`);
    }
    if (!descriptor || typeof descriptor !== "object" || typeof descriptor.vision_model !== "string") {
      throw new SightlineError("InvalidModelDescriptor", `${folder.url}sightline.json does not name a vision_model: it is not a Sightline model descriptor`);
    }
  } catch (error) {
    if (error?.status !== 404) throw error;
  }

  // Without a descriptor: the names the manifest gives a SigLIP model's files.
  const siglip = Object.values(m.models).find((entry) => entry.kind === "siglip" && entry.descriptor?.vision_model);
  const paths = descriptor ?? siglip?.descriptor ?? {};
  const vision = await get("vision", paths.vision_model ?? "onnx/vision_model_quantized.onnx");
  const source = vision.matched && m.models[vision.matched.model];
  if (!descriptor) {
    if (!source?.descriptor || source.kind !== "siglip") {
      throw new SightlineError(
        "InvalidModelDescriptor",
        `${folder.url} has no sightline.json (HTTP 404), and its vision model is not one the manifest knows: put the model's sightline.json descriptor beside its files`,
      );
    }
    descriptor = source.descriptor;
  }
  const [text, tokenizer] = await Promise.all([
    descriptor.text_model ? get("text", descriptor.text_model) : null,
    descriptor.tokenizer && descriptor.text_model ? get("tokenizer", descriptor.tokenizer) : null,
  ]);
  const model = construct(descriptor, vision, text, tokenizer);
  // A synthetic model stays flagged even if a folder's descriptor says otherwise.
  const synthetic = model.siglip.synthetic || Boolean(source?.synthetic);

  // The tags file: the folder's own, else the one the page built for the manifest model whose
  // vision weights these are. The model refuses one built for other weights.
  const notes = [];
  let tagCount = 0;
  try {
    let tags = null;
    try {
      tags = (await get("tags", "tags-en.sltags")).bytes;
    } catch (error) {
      if (error?.status !== 404 || source?.kind !== "siglip") throw error;
      const name = vision.matched.model;
      tags = await fetchVerified({ model: name, file: "tags-en.sltags", role: "tags", urls: [new URL(`${name}/tags-en.sltags`, MODELS).href], sha256: null, size: null }, { onProgress: progressFor(LABELS.tags), signal });
      notes.push(`tags from this page's copy for ${name}`);
    }
    model.load("tags", { tags });
    tagCount = model.tagCount;
  } catch (error) {
    if (error?.name === "AbortError") {
      model.free();
      throw error;
    }
    notes.push(`no tags: ${error?.status === 404 ? "the folder has no tags-en.sltags (make one with `sightline build-tags`)" : error.message} [${error.code ?? "DownloadFailed"}]; custom labels and search still work`);
  }
  return { model, name: descriptor.name ?? folder.name, url: folder.url, description: null, tagCount, files: report, notes, synthetic };
}

/** The core's Analyzer with SigLIP loaded from fetchModelFile's answers, with the digests it computed (hashing again in wasm would take a second). */
function construct(descriptor, vision, text, tokenizer) {
  const analyzer = new wasm.Analyzer();
  try {
    const files = { descriptor: new TextEncoder().encode(JSON.stringify(descriptor)), vision: vision.bytes, text: text?.bytes, tokenizer: tokenizer?.bytes };
    analyzer.load("siglip", files, { vision: vision.sha256 ?? undefined, text: text?.sha256 ?? undefined });
    return analyzer;
  } catch (error) {
    analyzer.free();
    throw error;
  }
}

async function load(request) {
  const seq = ++loadSeq;
  loadController?.abort();
  const controller = (loadController = new AbortController());
  post({ type: "loading", url: request.url ?? null, name: request.model ?? null });
  try {
    await initWasm();
    const loaded = request.url ? await loadFromUrl(request.url, Boolean(request.refresh), controller.signal) : await loadFromManifest(request.model, controller.signal);
    let facesLoaded = false;
    try {
      const m = await getManifest();
      const faces = manifestEntryOfKind(m, "yunet");
      if (faces) {
        const spec = manifestFiles(faces[0], faces[1], MODELS).get("face");
        loaded.model.load("people", { face: await fetchVerified(spec, { onProgress: progressFor(LABELS.face), signal: controller.signal }) });
        facesLoaded = true;
      }
    } catch (error) {
      if (seq !== loadSeq || !request.url) {
        loaded.model.free();
        throw error;
      }
      loaded.notes.push(`no face detection: ${error.message} [${error.code ?? "LoadFailed"}]`);
    }
    if (seq !== loadSeq) {
      loaded.model.free();
      return;
    }
    const previous = current;
    current = { ...loaded, ocr: null, busy: 0, retired: false };
    if (previous) {
      previous.retired = true;
      if (previous.busy === 0) previous.model.free();
    }
    // The old model's embeddings are not comparable with the new one's, and its Azure services
    // (the page sends them again on "ready") are not configured on the new one.
    embeddings.clear();
    services = { ...services, read: false };
    const { model, name, url, description, tagCount, files, notes } = current;
    post({ type: "ready", name, url, synthetic: loaded.synthetic ?? model.siglip.synthetic, tagCount, facesLoaded, description, files, notes, hasText: model.siglip.hasText, runtime });
  } catch (error) {
    if (seq !== loadSeq) return; // superseded: the newer load reports
    post({ type: "loadFailed", url: request.url ?? null, name: request.model ?? null, previous: current?.name ?? null, error: errorJson(error) });
  } finally {
    if (loadController === controller) loadController = null;
  }
}

/**
 * Load PP-OCRv5 the first time text is to be read on the device (28 MB: not everyone needs it).
 * Resolves to null when loaded, or to the error that stopped it (the analysis then goes on
 * without text and the card says why). Once per loaded model.
 */
function ensureOcr(slot) {
  slot.ocr ??= (async () => {
    const m = await getManifest();
    const [name, entry] = manifestEntryOfKind(m, "ppocr") ?? [];
    if (!entry) throw Object.assign(new Error("the manifest lists no OCR model"), { code: "OcrModelNotLoaded" });
    const files = manifestFiles(name, entry, MODELS);
    const labels = { detector: "OCR text detector", recognizer: "OCR text recognizer", dictionary: "OCR dictionary", orientation: "OCR line orientation" };
    const get = (role) => (files.get(role) ? fetchVerified(files.get(role), { onProgress: progressFor(labels[role]) }) : undefined);
    const [detector, recognizer, dictionary, orientation] = await Promise.all([get("detector"), get("recognizer"), get("dictionary"), get("orientation")]);
    slot.model.load("read", { detector, recognizer, dictionary, orientation });
    return null;
  })().catch((error) => {
    const hint = "install it next to the page with scripts/fetch-models ppocr-v5";
    return { code: "OcrModelNotLoaded", message: `text cannot be read on this device: ${error?.message ?? error} (${hint})` };
  });
  return slot.ocr;
}

/**
 * The endpoint as the core takes it, and whether plain http may carry the key there: only to this
 * page's own origin (a same-origin proxy, which may be given as a path such as "/azure-read"); the
 * core itself allows loopback hosts and refuses any other http:// endpoint.
 */
function serviceEndpoint(endpoint) {
  const trimmed = String(endpoint ?? "").trim();
  const absolute = trimmed.startsWith("/") ? new URL(trimmed, self.location.origin).href : trimmed;
  let sameOrigin = false;
  try {
    sameOrigin = new URL(absolute).origin === self.location.origin;
  } catch {
    // Not a URL: the core says what is wrong with it.
  }
  return [absolute, sameOrigin];
}

/** Hand endpoints and keys to the model (which keeps them in memory only); reply with what is in use. */
function configureServices(model, settings) {
  model.clearServices();
  services = { read: false, readBackend: settings.readBackend ?? "auto", peopleBackend: settings.peopleBackend ?? "auto" };
  try {
    model.setRemoteTimeout(settings.timeoutSeconds ?? 120);
    if (settings.read) {
      const [endpoint, allowHttp] = serviceEndpoint(settings.read.endpoint);
      model.setReadService(endpoint, settings.read.key, settings.read.apiVersion, allowHttp);
    }
    if (settings.face) {
      const [endpoint, allowHttp] = serviceEndpoint(settings.face.endpoint);
      model.setFaceService(endpoint, settings.face.key, settings.face.landmarks, settings.face.attributes ?? [], allowHttp);
    }
  } catch (error) {
    model.clearServices();
    post({ type: "services", error: { code: error?.code ?? "InvalidArgument", message: String(error?.message ?? error) } });
    return;
  }
  const inUse = model.remoteServices;
  services.read = inUse.read;
  post({ type: "services", read: inUse.read, face: inUse.face });
}

async function analyze(slot, data) {
  const bytes = new Uint8Array(data.bytes);
  // Text is read on the device unless Document Intelligence is configured and chosen.
  const readRemotely = services.read && services.readBackend !== "local";
  const readLocally = data.read && !readRemotely && services.readBackend !== "azure";
  const ocrError = readLocally ? await ensureOcr(slot) : null;
  const base = slot.tagCount ? FEATURES : FEATURES.filter((f) => !TAGS_FEATURES.includes(f));
  const features = (readRemotely && data.read) || (readLocally && !ocrError) ? [...base, "read"] : base;
  const options = { features, includeEmbedding: true, readBackend: services.readBackend, peopleBackend: services.peopleBackend };
  const result = await slot.model.analyze(bytes, options);
  if (ocrError) {
    const failure = { feature: "read", error: { code: "InvalidRequest", message: ocrError.message, innererror: ocrError } };
    result.featureErrors = [...(result.featureErrors ?? []), failure];
  }
  if (slot === current) embeddings.set(data.id, Float32Array.from(result.embedding));
  post({ type: "result", id: data.id, result, model: slot.name });
}

self.onmessage = async ({ data }) => {
  if (data.type === "load") {
    await load(data);
    return;
  }
  if (data.type === "preview") {
    // A file that cannot be previewed cannot be analysed either: its card already says why.
    let png = null;
    try {
      await initWasm();
      png = wasm.previewPng(new Uint8Array(data.bytes), 1024);
    } catch {}
    post({ type: "preview", id: data.id, png }, png ? [png.buffer] : []);
    return;
  }
  const slot = hold();
  try {
    if (!slot) throw new SightlineError("SiglipModelNotLoaded", "no model is loaded");
    if (data.type === "analyze") {
      await analyze(slot, data);
    } else if (data.type === "services") {
      configureServices(slot.model, data.settings);
    } else if (data.type === "labels") {
      const labels = data.labels.filter((l) => l.trim());
      const ids = [...embeddings.keys()];
      const scores = labels.length ? slot.model.classifyEmbeddings(ids.map((id) => embeddings.get(id)), labels) : ids.map(() => []);
      ids.forEach((id, i) => post({ type: "scores", id, scores: scores[i] }));
    } else if (data.type === "search") {
      const [query] = slot.model.embedTexts([data.text]);
      const ranking = [...embeddings].map(([id, e]) => {
        let cos = 0;
        for (let k = 0; k < e.length; k++) cos += e[k] * query[k];
        return { id, cosine: cos };
      });
      ranking.sort((a, b) => b.cosine - a.cosine);
      post({ type: "ranking", text: data.text, ranking });
    }
  } catch (error) {
    fail(error, data.id, data.type);
  } finally {
    release(slot);
  }
};

