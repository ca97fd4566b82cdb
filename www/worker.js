// The analysis worker: owns the WebAssembly module and the loaded models, so the page never
// freezes. Messages in: {type: "load", model} | {type: "analyze", id, bytes, labels} |
// {type: "labels", labels} | {type: "search", text}. Messages out: progress, ready, result,
// scores, ranking, error (errors carry {code, message}).

import init, { SiglipModel } from "./pkg/sightline.js";

const CACHE = "sightline-models-v1";
const FEATURES = ["tags", "smartCrops", "people", "color", "categories"];

let model = null;
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
  const manifest = await (await fetch("models/manifest.json")).json();
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

self.onmessage = async ({ data }) => {
  try {
    if (data.type === "load") {
      await load(data.model);
    } else if (data.type === "analyze") {
      const bytes = new Uint8Array(data.bytes);
      const result = model.analyze(bytes, { features: FEATURES, includeEmbedding: true });
      embeddings.set(data.id, Float32Array.from(result.embedding));
      post({ type: "result", id: data.id, result });
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
