// The analysis worker: owns the WebAssembly module and the loaded models, so the page never
// freezes. Messages in: {type: "load", model} | {type: "analyze", id, bytes, labels} |
// {type: "labels", labels} | {type: "search", text} | {type: "services", settings} |
// {type: "preview", id, bytes}. Messages out: progress, ready, result, services, scores, ranking,
// preview, error (errors carry {code, message}).

import init, { SiglipModel, previewPng } from "./pkg/sightline.js";

const CACHE = "sightline-models-v1";
const FEATURES = ["tags", "smartCrops", "people", "color", "categories"];

let model = null;
/** The manifest, kept for the models loaded on first need (OCR). */
let manifest = null;
/** Local OCR: null until first needed, then a Promise of the load (or of its error). */
let ocrLoading = null;
/** The Azure services' settings (from the page's settings panel): backends, and whether read is on. */
let services = { read: false, readBackend: "auto", peopleBackend: "auto" };
/** image id → unit embedding, for live labels and text search without re-running the vision tower. */
const embeddings = new Map();

const post = (message, transfer) => self.postMessage(message, transfer ?? []);

function fail(error, id) {
  post({ type: "error", id, error: { code: error?.code ?? "LoadFailed", message: String(error?.message ?? error) } });
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Fetch one model file with progress, verify its sha256, and keep it in Cache Storage. `urls`
 * are tried in order (same-origin copy first, then the manifest's upstream URL); the first is
 * the cache key, so a file downloaded from upstream is found again offline.
 */
async function fetchVerified(urls, expected, label, onProgress) {
  const candidates = [urls].flat().filter(Boolean);
  const url = candidates[0];
  const cache = await caches.open(CACHE);
  const cached = await cache.match(url);
  if (cached) {
    const bytes = new Uint8Array(await cached.arrayBuffer());
    if (!expected || (await sha256Hex(bytes)) === expected.sha256) {
      onProgress(label, bytes.length, bytes.length, true);
      return bytes;
    }
    await cache.delete(url);
  }
  let response = null;
  const failures = [];
  for (const candidate of candidates) {
    try {
      response = await fetch(candidate);
      if (response.ok) break;
      failures.push(`HTTP ${response.status} from ${candidate}`);
    } catch (error) {
      failures.push(`${error.message} (${candidate})`);
    }
    response = null;
  }
  if (!response) throw Object.assign(new Error(`${label}: ${failures.join("; ")}`), { code: "DownloadFailed" });
  const total = Number(response.headers.get("Content-Length")) || expected?.size || 0;
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress(label, received, total, false);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  if (expected) {
    const actual = await sha256Hex(bytes);
    if (actual !== expected.sha256) {
      throw Object.assign(new Error(`${label}: sha256 ${actual.slice(0, 12)}… does not match the manifest's ${expected.sha256.slice(0, 12)}…; the file was not used or cached`), { code: "ChecksumMismatch" });
    }
  }
  await cache.put(url, new Response(bytes));
  return bytes;
}

async function load(name) {
  await init();
  manifest = await (await fetch("models/manifest.json")).json();
  const entry = manifest.models[name];
  if (!entry) throw Object.assign(new Error(`model ${name} is not in the manifest`), { code: "UnknownModel" });
  const file = (role) => entry.files.find((f) => f.role === role);
  const progress = (label, loaded, total, fromCache) => post({ type: "progress", label, loaded, total, fromCache });
  const get = (f, label) => fetchVerified([`models/${name}/${f.path}`, f.url], f, label, progress);

  const descriptorBytes = new TextEncoder().encode(JSON.stringify(entry.descriptor));
  const [vision, text, tokenizer] = await Promise.all([
    get(file("vision"), "vision model"),
    file("text") ? get(file("text"), "text model") : null,
    get(file("tokenizer"), "tokenizer"),
  ]);
  model = new SiglipModel(descriptorBytes, vision, text, tokenizer);

  // The tags file is built locally for this model (scripts/serve); the model checks it is its own.
  const tags = await fetchVerified(`models/${name}/tags-en.sltags`, null, "tags", progress);
  const tagCount = model.loadTags(tags);
  const faces = manifest.models.yunet?.files[0];
  let facesLoaded = false;
  if (faces) {
    model.loadFaceModel(await fetchVerified(`models/yunet/${faces.path}`, faces, "face model", progress));
    facesLoaded = true;
  }
  post({ type: "ready", name, synthetic: model.synthetic, tagCount, facesLoaded, description: entry.description });
}

/**
 * Load PP-OCRv5 the first time text is to be read on the device (28 MB: not everyone needs it).
 * Resolves to null when loaded, or to the error that stopped it (the analysis then goes on
 * without text and the card says why).
 */
function ensureOcr() {
  ocrLoading ??= (async () => {
    const [name, entry] = Object.entries(manifest.models).find(([, m]) => m.kind === "ppocr") ?? [];
    if (!entry) throw Object.assign(new Error("the manifest lists no OCR model"), { code: "OcrModelNotLoaded" });
    const progress = (label, loaded, total, fromCache) => post({ type: "progress", label, loaded, total, fromCache });
    const get = async (role, label) => {
      const f = entry.files.find((file) => file.role === role);
      return f ? fetchVerified([`models/${name}/${f.path}`, f.url], f, label, progress) : undefined;
    };
    try {
      const [detector, recognizer, dictionary, orientation] = await Promise.all([
        get("detector", "OCR text detector"),
        get("recognizer", "OCR text recognizer"),
        get("dictionary", "OCR dictionary"),
        get("orientation", "OCR line orientation"),
      ]);
      model.loadOcrModel(detector, recognizer, dictionary, orientation);
      return null;
    } catch (error) {
      const hint = "install it next to the page with scripts/fetch-models ppocr-v5";
      return { code: "OcrModelNotLoaded", message: `text cannot be read on this device: ${error?.message ?? error} (${hint})` };
    }
  })();
  return ocrLoading;
}

/** Hand endpoints and keys to the model (which keeps them in memory only); reply with what is in use. */
function configureServices(settings) {
  model.clearServices();
  services = { read: false, readBackend: settings.readBackend ?? "auto", peopleBackend: settings.peopleBackend ?? "auto" };
  try {
    model.setRemoteTimeout(settings.timeoutSeconds ?? 120);
    if (settings.read) model.setReadService(settings.read.endpoint, settings.read.key, settings.read.apiVersion);
    if (settings.face) model.setFaceService(settings.face.endpoint, settings.face.key, settings.face.landmarks, settings.face.attributes ?? []);
  } catch (error) {
    model.clearServices();
    post({ type: "services", error: { code: error?.code ?? "InvalidArgument", message: String(error?.message ?? error) } });
    return;
  }
  const inUse = model.remoteServices;
  services.read = inUse.read;
  post({ type: "services", read: inUse.read, face: inUse.face });
}

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") {
      await load(data.model);
    } else if (data.type === "analyze") {
      const bytes = new Uint8Array(data.bytes);
      // Text is read on the device unless Document Intelligence is configured and chosen.
      const readRemotely = services.read && services.readBackend !== "local";
      const readLocally = data.read && !readRemotely && services.readBackend !== "azure";
      const ocrError = readLocally ? await ensureOcr() : null;
      const features = (readRemotely && data.read) || (readLocally && !ocrError) ? [...FEATURES, "read"] : FEATURES;
      const options = { features, includeEmbedding: true, readBackend: services.readBackend, peopleBackend: services.peopleBackend };
      const result = await model.analyze(bytes, options);
      if (ocrError) {
        const failure = { feature: "read", error: { code: "InvalidRequest", message: ocrError.message, innererror: ocrError } };
        result.featureErrors = [...(result.featureErrors ?? []), failure];
      }
      embeddings.set(data.id, Float32Array.from(result.embedding));
      post({ type: "result", id: data.id, result });
    } else if (data.type === "preview") {
      // A file that cannot be previewed cannot be analysed either: its card already says why.
      let png = null;
      try {
        png = previewPng(new Uint8Array(data.bytes), 1024);
      } catch {}
      post({ type: "preview", id: data.id, png }, png ? [png.buffer] : []);
    } else if (data.type === "services") {
      configureServices(data.settings);
    } else if (data.type === "labels") {
      const labels = data.labels.filter((l) => l.trim());
      const ids = [...embeddings.keys()];
      const scores = labels.length ? model.classifyEmbeddings(ids.map((id) => embeddings.get(id)), labels) : ids.map(() => []);
      ids.forEach((id, i) => post({ type: "scores", id, scores: scores[i] }));
    } else if (data.type === "search") {
      const [query] = model.embedTexts([data.text]);
      const ranking = [...embeddings].map(([id, e]) => {
        let cos = 0;
        for (let k = 0; k < e.length; k++) cos += e[k] * query[k];
        return { id, cosine: cos };
      });
      ranking.sort((a, b) => b.cosine - a.cosine);
      post({ type: "ranking", text: data.text, ranking });
    }
  } catch (error) {
    fail(error, data.id);
  }
};
