// The engine: the WebAssembly core's Analyzer and the parts it loads on first need: SigLIP, its
// tags file, the people detector, the read models. Which parts a request needs, and which files
// each part is made of, is the core's feature table (src/features.rs, read through wasm): nothing
// here lists features. It runs inside the package's worker (worker.js) or, with `worker: false`,
// in the caller's thread; index.js talks to it the same way in both cases and serialises calls.

import bundledManifest from "./manifest.js";
import { SightlineError, ErrorCodes } from "./errors.js";
import { fetchModelFile, folderFileSpec, loadManifest, manifestFileList, manifestEntry, manifestEntryOfKind, manifestFiles, specFromUrl } from "./model-loader.js";
import { imageBytes } from "./input.js";
import { startWasm } from "./wasm-builds.js";

/**
 * The three modules' glue (wasm-builds.js), each imported by a literal path so that bundlers (Vite,
 * webpack) ship them all, with the .wasm file each one names.
 */
const GLUE = {
  simd128: () => import("./pkg/sightline.js"),
  "relaxed-simd": () => import("./pkg/sightline_relaxed_simd.js"),
  threads: () => import("./pkg/sightline_threads.js"),
};

let wasmReady = null;
/** The instantiated module's exports (Analyzer, featureTable, ...), once `wasmReady` resolves. */
let wasm = null;
/** The core's feature table: {features, parts, optionsNeedingSiglip}. */
let table = null;
/** Which module runs: {build, int8Kernel, threads}, set once it is instantiated. */
let runtime = null;
/**
 * Instantiate the WebAssembly module once per thread (the first call's options decide): the fastest
 * build this engine runs, with `threads` workers where it is the threaded one, or the SIMD128
 * module from `wasmUrl` when given.
 */
function initWasm(wasmUrl, threads) {
  wasmReady ??= startWasm((build) => GLUE[build](), { wasmUrl, threads }).then((started) => {
    wasm = started.glue;
    runtime = started.runtime;
    table = wasm.featureTable();
  }).catch((error) => {
    wasmReady = null;
    throw new SightlineError(ErrorCodes.DownloadFailed, `the Sightline WebAssembly module could not be loaded: ${error.message}`, { cause: error });
  });
  return wasmReady;
}

export class Engine {
  #analyzer;
  #source;
  #fetch;
  #text;
  #onInfo;
  /** Helpful parts that failed to load: not retried per image. */
  #unavailable = new Set();

  constructor(analyzer, source, { fetch, text, onInfo }) {
    this.#analyzer = analyzer;
    this.#source = source;
    this.#fetch = fetch;
    this.#text = text;
    this.#onInfo = onInfo;
  }

  /**
   * Start the core and load what `features` need (see index.js `resolveModelSource` for `source`),
   * or the SigLIP model when no features are given.
   * @param {object} source
   * @param {{cache?: boolean, text?: boolean, wasmUrl?: string, threads?: number | "auto", features?: string[], onProgress?: Function, onInfo?: Function, signal?: AbortSignal}} options
   */
  static async create(source, { cache = true, text = true, wasmUrl, threads = "auto", features, services, onProgress, onInfo, signal } = {}) {
    const wasmLoaded = initWasm(wasmUrl, threads);
    let resolved;
    if (source.files) {
      resolved = await filesSource(source);
    } else {
      const manifest = source.manifestUrl ? await loadManifest(source.manifestUrl, { signal }) : bundledManifest;
      resolved = source.folder ? folderSource(manifest, source) : manifestSource(manifest, source);
    }
    const fetch = (spec, options) => fetchModelFile(spec, { cache, onProgress, signal, ...options });
    const engine = new Engine(null, resolved, { fetch, text, onInfo });
    // Without features, the SigLIP files download while the module starts.
    const [siglip] = await Promise.all([features ? null : engine.#siglipFiles(signal), wasmLoaded]);
    engine.#analyzer = new wasm.Analyzer();
    // Before loading: a feature sent to its service needs no part on the device.
    if (services) engine.configureServices(services);
    if (siglip) engine.#loadSiglip(siglip);
    else await engine.prepare(features, {}, signal);
    return engine;
  }

  /**
   * {model, runtime, services, parts, featureTable}: the SigLIP model loaded ({name, description,
   * synthetic, embeddingDim, hasText, descriptor, tagCount, url, files, notes}) or null, which remote
   * services are configured ({read, face, caption}; never their keys), the parts loaded by name, and
   * the core's feature table.
   */
  get info() {
    const analyzer = this.#analyzer;
    const siglip = analyzer?.siglip;
    const source = this.#source;
    const model = siglip && {
      name: source.name,
      description: source.description ?? null,
      ...siglip,
      // A folder holding a synthetic model's files stays flagged whatever its descriptor says.
      synthetic: siglip.synthetic || Boolean(source.synthetic),
      tagCount: analyzer.tagCount,
      // A model folder given by URL: its URL, each file's check, and what was noticed on the way.
      url: source.folder ?? null,
      files: source.report ?? [],
      notes: [...(source.notes ?? [])],
    };
    return { model: model || null, runtime, services: analyzer?.remoteServices ?? { read: false, face: false, caption: null }, parts: analyzer?.loaded ?? [], featureTable: table };
  }

  /** The WebAssembly memory in bytes: its peak so far (it never shrinks). */
  memoryBytes() {
    return wasm.wasmMemoryBytes();
  }

  /** The image upright as PNG bytes, its longer side at most `maxSide`: for formats a browser cannot show (TIFF). */
  async preview(input, maxSide = 1024, signal) {
    const bytes = await imageBytes(input, { signal });
    return call(() => wasm.previewPng(bytes, maxSide));
  }

  /**
   * Use these remote services (index.js `serviceOptions` checked their shape), or none for null:
   * Document Intelligence for read, the Face API for people, a vision-language model for caption,
   * denseCaptions and objects. Endpoints and keys go to the core and stay in its memory. All or
   * nothing: when one is refused none is in use. Returns `info`.
   */
  configureServices(services) {
    const analyzer = this.#analyzer;
    analyzer.clearServices();
    try {
      if (services?.timeoutSeconds !== undefined) analyzer.setRemoteTimeout(services.timeoutSeconds);
      const { read, face, caption } = services ?? {};
      if (read) analyzer.setReadService(read.endpoint, read.key, read.apiVersion, read.allowHttp);
      if (face) analyzer.setFaceService(face.endpoint, face.key, face.landmarks, face.attributes, face.allowHttp);
      if (caption) analyzer.setCaptionService(caption.endpoint, caption.key, caption.model, caption.api, caption.apiVersion, caption.allowHttp);
    } catch (error) {
      analyzer.clearServices();
      throw SightlineError.from(error);
    }
    return this.info;
  }

  /** Load what a request with `features` and `options` needs that is not loaded yet (the core says what). */
  async prepare(features, options = {}, signal) {
    if (!Array.isArray(features)) return;
    let needed;
    try {
      needed = this.#analyzer.partsFor({ ...options, features });
    } catch (error) {
      throw SightlineError.from(error);
    }
    const loaded = new Set(this.#analyzer.loaded);
    for (const name of needed.required) {
      if (!loaded.has(name)) await this.#loadPart(name, features, signal);
    }
    for (const name of needed.helpful) {
      if (loaded.has(name) || this.#unavailable.has(name)) continue;
      try {
        await this.#loadPart(name, features, signal);
      } catch (error) {
        if (error?.name === "AbortError") throw error;
        this.#unavailable.add(name); // not asked for: go on without it, and do not retry per image
      }
    }
  }

  async #loadPart(name, features, signal) {
    const part = table.parts.find((p) => p.name === name);
    const neededBy = `"${features.join(",")}" needs ${part.what}`;
    if (name === "siglip") {
      this.#loadSiglip(await this.#siglipFiles(signal));
      return;
    }
    if (name === "tags" && this.#source.folder) {
      this.#give(name, { tags: (await this.#folderTagsFile(signal)).bytes });
      return;
    }
    const specs = name === "tags" ? (this.#source.tags ? new Map([["tags", this.#source.tags]]) : null) : this.#source.parts(part);
    if (!specs) {
      const where = name === "tags" ? `: host it at <modelBaseUrl>/${this.#source.name}/tags-en.sltags, or give model.tags` : `, which the manifest does not list (or model.${name} was not given)`;
      throw new SightlineError(ErrorCodes.FeatureNotAvailable, `${neededBy}${where}`);
    }
    const missing = part.roles.filter((role) => !specs.get(role));
    if (missing.length) throw new SightlineError(ErrorCodes.InvalidManifest, `${part.what}: the manifest lacks its ${missing.join(", ")} file`);
    const roles = [...part.roles, ...part.optionalRoles].filter((role) => specs.get(role));
    const files = await Promise.all(roles.map((role) => this.#fetch(specs.get(role), { signal, digest: false })));
    this.#give(name, Object.fromEntries(roles.map((role, i) => [role, files[i].bytes])));
  }

  /** Load a part into the core from its files' bytes by role (and the digests known, by role). */
  #give(name, files, digests) {
    try {
      this.#analyzer.load(name, files, digests);
    } catch (error) {
      throw SightlineError.from(error, "InvalidModel");
    }
    this.#onInfo?.(this.info);
  }

  /** A file of a model folder given by URL, checked against the manifest and added to the report. */
  async #folderFile(role, path, signal) {
    const source = this.#source;
    const spec = folderFileSpec(source.folder, path, { model: source.name, role, known: source.known });
    const file = await this.#fetch(spec, { refresh: source.refresh, signal });
    source.report.push({ role, path, size: file.bytes.length, sha256: file.sha256, verified: file.verified, matched: file.matched, fromCache: file.fromCache });
    return file;
  }

  /**
   * A model folder's tags file: its own (in the report, checked like its other files), else, when it
   * has none, the one at modelBaseUrl for the manifest model whose vision weights these are.
   */
  async #folderTagsFile(signal) {
    const source = this.#source;
    try {
      return await this.#folderFile("tags", "tags-en.sltags", signal);
    } catch (error) {
      const copy = source.tagsCopy;
      if (error?.status !== 404 || !copy) throw error;
      const file = await this.#fetch({ model: copy.model, file: "tags-en.sltags", role: "tags", urls: [copy.url], sha256: null, size: null }, { signal, digest: false });
      source.notes.push(`tags from this page's copy for ${copy.model}`);
      return file;
    }
  }

  /** The SigLIP files, downloaded and checked, with their digests (the core then does not hash 90 MB again). */
  async #siglipFiles(signal) {
    if (this.#source.folder) return this.#folderFiles(signal);
    const { name, descriptor, files } = this.#source;
    if (!files.get("vision")) throw new SightlineError(ErrorCodes.InvalidManifest, `model ${name} has no vision file`);
    const withText = this.#text && files.has("text");
    if (withText && !files.has("tokenizer")) throw new SightlineError(ErrorCodes.InvalidManifest, `model ${name} has a text tower but no tokenizer`);
    // Digests are checked against the manifest's, or computed by the browser's native SHA-256.
    const digest = Boolean(globalThis.crypto?.subtle);
    const [vision, text, tokenizer] = await Promise.all([
      this.#fetch(files.get("vision"), { signal, digest }),
      withText ? this.#fetch(files.get("text"), { signal, digest }) : null,
      withText ? this.#fetch(files.get("tokenizer"), { signal, digest: false }) : null,
    ]);
    return { descriptor, vision, text, tokenizer };
  }

  /**
   * A model folder's SigLIP files. Its sightline.json names them; without one, they are named as
   * in the manifest's SigLIP entries and the vision model must be one the manifest knows (its
   * descriptor is then the manifest's). Files the manifest knows by path and size are checked
   * against its sha256; the others load unverified, and the report gives their sha256.
   */
  async #folderFiles(signal) {
    const source = this.#source;
    const { folder, manifest } = source;
    source.report = [];
    const get = (role, path) => this.#folderFile(role, path, signal);
    let descriptor = null;
    try {
      const file = await get("descriptor", "sightline.json");
      try {
        descriptor = JSON.parse(new TextDecoder().decode(file.bytes));
      } catch (error) {
        throw new SightlineError("InvalidModelDescriptor", `${folder}sightline.json is not JSON: ${error.message}`);
      }
      if (!descriptor || typeof descriptor !== "object" || typeof descriptor.vision_model !== "string") {
        throw new SightlineError("InvalidModelDescriptor", `${folder}sightline.json does not name a vision_model: it is not a Sightline model descriptor`);
      }
    } catch (error) {
      if (error?.status !== 404) throw error;
    }
    // Without a descriptor: the names the manifest gives a SigLIP model's files.
    const siglip = Object.values(manifest.models).find((entry) => entry.kind === "siglip" && entry.descriptor?.vision_model);
    const paths = descriptor ?? siglip?.descriptor ?? {};
    const vision = await get("vision", paths.vision_model ?? "onnx/vision_model_quantized.onnx");
    const matchedName = vision.matched?.model;
    const matched = matchedName && manifest.models[matchedName];
    if (!descriptor) {
      if (!matched?.descriptor || matched.kind !== "siglip") {
        throw new SightlineError(
          "InvalidModelDescriptor",
          `${folder} has no sightline.json (HTTP 404), and its vision model is not one the manifest knows: put the model's sightline.json descriptor beside its files`,
        );
      }
      descriptor = matched.descriptor;
    }
    const withText = this.#text && descriptor.text_model && descriptor.tokenizer;
    const [text, tokenizer] = await Promise.all([withText ? get("text", descriptor.text_model) : null, withText ? get("tokenizer", descriptor.tokenizer) : null]);
    source.name = descriptor.name ?? source.name;
    source.synthetic = Boolean(matched?.synthetic);
    // The tags file: the folder's own, else the one served at modelBaseUrl for the manifest model
    // whose vision weights these are. The core refuses one built for other weights.
    source.tagsCopy = matched?.kind === "siglip" && source.baseUrl ? { url: new URL(`${matchedName}/tags-en.sltags`, source.baseUrl).href, model: matchedName } : null;
    return { descriptor, vision, text, tokenizer };
  }

  #loadSiglip({ descriptor, vision, text, tokenizer }) {
    this.#give(
      "siglip",
      { descriptor: new TextEncoder().encode(JSON.stringify(descriptor)), vision: vision.bytes, text: text?.bytes, tokenizer: tokenizer?.bytes },
      { vision: vision.sha256 ?? undefined, text: text?.sha256 ?? undefined },
    );
    // A new model may load what the previous one's parts could not: try the helpful ones again.
    this.#unavailable.clear();
  }

  /** Azure Image Analysis 4.0: `options` goes to the core unchanged; `signal` also cancels its calls to Azure. */
  async analyze(input, options, signal) {
    await this.prepare(options?.features, options ?? {}, signal);
    const bytes = await imageBytes(input, { signal });
    // Awaited: the core's analyze returns a Promise (it may call the Azure services).
    return await call(() => this.#analyzer.analyze(bytes, options, signal));
  }

  /**
   * Answer a request to Azure's REST API in-process (the core's rest module: routes, statuses and
   * error bodies as Azure's): `{status, headers, body}`. Refusals are answers; only an abort or a
   * part that cannot load rejects.
   */
  async rest({ method = "POST", url, contentType, body }, signal) {
    let call = wasm.RestCall.parse(String(method), String(url), contentType ?? undefined, body ?? new Uint8Array());
    try {
      const refused = call.refused;
      if (refused) return refused;
      if (call.imageUrl) {
        const fetched = call.fetchImage(signal);
        call = null; // consumed by fetchImage
        call = await fetched;
        const unusable = call.refused;
        if (unusable) return unusable;
      }
      const features = call.features;
      if (features) await this.prepare(features, {}, signal);
      else await this.#needSiglip("vectorize", signal);
      return await this.#analyzer.answer(call, signal);
    } finally {
      call?.free();
    }
  }

  /** Load SigLIP for a call that needs it, if a request with features did not. */
  async #needSiglip(call, signal) {
    if (!this.#analyzer.loaded.includes("siglip")) await this.#loadPart("siglip", [call], signal);
  }

  async embedImage(input, signal) {
    await this.#needSiglip("embedImage", signal);
    const bytes = await imageBytes(input, { signal });
    return call(() => this.#analyzer.embedImage(bytes));
  }

  async embedText(texts, signal) {
    await this.#needSiglip("embedText", signal);
    return call(() => this.#analyzer.embedTexts(texts));
  }

  async classify(input, labels, signal) {
    await this.#needSiglip("classify", signal);
    const bytes = await imageBytes(input, { signal });
    return call(() => this.#analyzer.classify(bytes, labels));
  }

  async classifyEmbeddings(embeddings, labels, signal) {
    await this.#needSiglip("classifyEmbeddings", signal);
    return call(() => this.#analyzer.classifyEmbeddings(embeddings, labels));
  }

  dispose() {
    this.#analyzer?.free();
    this.#analyzer = null;
  }
}

/** Run a core call, turning what it throws into a SightlineError with the core's code. */
async function call(fn) {
  try {
    return await fn();
  } catch (error) {
    throw SightlineError.from(error);
  }
}

function manifestSource(manifest, { name: requested, baseUrl }) {
  const name = requested ?? manifest.default;
  if (!name) throw new SightlineError(ErrorCodes.InvalidOptions, "no model name given and the manifest names no default");
  const entry = manifestEntry(manifest, name);
  if (entry.kind && entry.kind !== "siglip") throw new SightlineError(ErrorCodes.InvalidOptions, `"${name}" is a ${entry.kind} model, not a SigLIP model`);
  if (!entry.descriptor) throw new SightlineError(ErrorCodes.InvalidManifest, `model ${name} has no descriptor`);
  const files = manifestFiles(name, entry, baseUrl);
  // The tags file is built per model by `sightline build-tags` and served next to the model; a
  // manifest may also list it (role "tags", with its sha256). The core refuses one built for
  // another model, so an unlisted one is safe to load without a digest.
  const tags = files.get("tags") ?? (baseUrl ? { model: name, file: "tags-en.sltags", role: "tags", urls: [new URL(`${name}/tags-en.sltags`, baseUrl).href], sha256: null, size: null } : null);
  return { name, descriptor: entry.descriptor, description: entry.description, files, tags, parts: manifestParts(manifest, baseUrl) };
}

/** The other parts' files (people, read): the first manifest entry of the part's kind, by role. */
function manifestParts(manifest, baseUrl) {
  return (part) => {
    const found = manifestEntryOfKind(manifest, part.kind);
    return found ? manifestFiles(found[0], found[1], baseUrl) : null;
  };
}

function folderSource(manifest, { folder, refresh, baseUrl, name }) {
  // The tags file: see #folderTagsFile.
  return { name, folder, refresh, baseUrl, manifest, known: manifestFileList(manifest), files: null, tags: null, notes: [], parts: manifestParts(manifest, baseUrl) };
}

async function filesSource(source) {
  const { files: given } = source;
  let descriptor = given.descriptor;
  if (typeof descriptor === "string") {
    const response = await fetch(descriptor).catch((error) => {
      throw new SightlineError(ErrorCodes.DownloadFailed, `descriptor ${descriptor}: ${error.message}`);
    });
    if (!response.ok) throw new SightlineError(ErrorCodes.DownloadFailed, `descriptor ${descriptor}: HTTP ${response.status}`);
    descriptor = await response.json();
  }
  if (!descriptor || typeof descriptor !== "object") throw new SightlineError(ErrorCodes.InvalidOptions, "model.descriptor must be the sightline.json object or its URL");
  const name = given.name ?? descriptor.name ?? "custom";
  const files = new Map();
  for (const role of ["vision", "text", "tokenizer"]) if (given[role]) files.set(role, specFromUrl(name, role, given[role]));
  // The other parts' files: model[part] is the URL of a one-file part, or a role → URL object.
  const parts = (part) => {
    const value = given[part.name];
    if (!value) return null;
    const byRole = part.roles.length === 1 && (typeof value === "string" || value.url) ? { [part.roles[0]]: value } : value;
    return new Map(Object.entries(byRole).map(([role, url]) => [role, specFromUrl(part.kind, role, url)]));
  };
  return { name, descriptor, description: null, files, tags: given.tags ? specFromUrl(name, "tags", given.tags) : null, parts };
}
