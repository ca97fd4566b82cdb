// The engine: the WebAssembly core, one loaded SigLIP model, and the optional extras it loads on
// first need. It runs inside the package's worker (worker.js) or, with `worker: false`, in the
// caller's thread; index.js talks to it the same way in both cases and serialises calls.

import bundledManifest from "./manifest.js";
import { SightlineError, ErrorCodes } from "./errors.js";
import { fetchModelFile, fetchVerified, loadManifest, manifestEntry, manifestEntryOfKind, manifestFiles, specFromUrl } from "./model-loader.js";
import { imageBytes } from "./input.js";
import { startWasm } from "./wasm-builds.js";

/** Features answered from the tags file's precomputed prompt embeddings (see analyze.rs). */
const TAGS_FILE_FEATURES = ["tags", "imageType", "adult", "categories"];

/**
 * Optional models beside SigLIP, each a manifest entry of its own `kind`, loaded only when a
 * requested feature needs it. `requiredBy` features fail without it; `helpedBy` features use it
 * when it loads (smart crops keep faces whole) and go on without it otherwise. `backendOption`
 * names the analyze option that can send the feature to an Azure service instead, in which case
 * nothing is loaded here. `method` is the SiglipModel method taking the files' bytes in `roles`
 * order (an absent optional role passes undefined). For a model given by URLs, `model[name]`
 * holds the URL (one role) or a role→URL object. The roles are those of models/manifest.json.
 */
const EXTRAS = [
  { name: "face", kind: "yunet", roles: ["face"], optionalRoles: [], method: "loadFaceModel", requiredBy: ["people"], helpedBy: ["smartCrops"], backendOption: "peopleBackend" },
  { name: "ocr", kind: "ppocr", roles: ["detector", "recognizer", "dictionary"], optionalRoles: ["orientation"], method: "loadOcrModel", requiredBy: ["read"], helpedBy: [], backendOption: "readBackend" },
];

const sameFeature = (a, b) => a.toLowerCase() === b.toLowerCase();
const wants = (features, list) => features.some((f) => typeof f === "string" && list.some((g) => sameFeature(f, g)));

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
/** The instantiated module's exports (SiglipModel, ...), once `wasmReady` resolves. */
let wasm = null;
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
  }).catch((error) => {
    wasmReady = null;
    throw new SightlineError(ErrorCodes.DownloadFailed, `the Sightline WebAssembly module could not be loaded: ${error.message}`, { cause: error });
  });
  return wasmReady;
}

export class Engine {
  #model;
  #source;
  #load;
  #tagsLoaded = false;
  #tagCount = 0;
  /** extra name → true once loaded, or "unavailable" after an optional load failed. */
  #extras = new Map();

  constructor(model, source, load, info) {
    this.#model = model;
    this.#source = source;
    this.#load = load;
    this.info = info;
  }

  /**
   * Load the model described by `source` (see index.js `resolveModelSource`).
   * @param {object} source
   * @param {{cache?: boolean, text?: boolean, wasmUrl?: string, threads?: number | "auto", onProgress?: Function, signal?: AbortSignal}} options
   */
  static async create(source, { cache = true, text = true, wasmUrl, threads = "auto", onProgress, signal } = {}) {
    const load = (spec, sig) => fetchVerified(spec, { cache, onProgress, signal: sig ?? signal });
    const wasmLoaded = initWasm(wasmUrl, threads);
    let resolved;
    if (source.files) {
      resolved = await filesSource(source);
    } else {
      const manifest = source.manifestUrl ? await loadManifest(source.manifestUrl, { signal }) : bundledManifest;
      resolved = manifestSource(manifest, source);
    }
    const { name, descriptor, files, description } = resolved;
    if (!files.get("vision")) throw new SightlineError(ErrorCodes.InvalidManifest, `model ${name} has no vision file`);
    const withText = text && files.has("text");
    if (withText && !files.has("tokenizer")) throw new SightlineError(ErrorCodes.InvalidManifest, `model ${name} has a text tower but no tokenizer`);
    // The ONNX files with their digests (checked against the manifest's, or computed by the
    // browser's native SHA-256 where there is one): the core then does not hash 90 MB again in wasm.
    const digest = Boolean(globalThis.crypto?.subtle);
    const loadWithDigest = (spec) => fetchModelFile(spec, { cache, onProgress, signal, digest });
    const [vision, textModel, tokenizer] = await Promise.all([
      loadWithDigest(files.get("vision")),
      withText ? loadWithDigest(files.get("text")) : null,
      withText ? load(files.get("tokenizer")) : null,
      wasmLoaded,
    ]);
    let model;
    try {
      model = new wasm.SiglipModel(
        new TextEncoder().encode(JSON.stringify(descriptor)),
        vision.bytes,
        textModel?.bytes,
        tokenizer ?? undefined,
        vision.sha256 ?? undefined,
        textModel?.sha256 ?? undefined,
      );
    } catch (error) {
      throw SightlineError.from(error, "InvalidModel");
    }
    const info = {
      name,
      description: description ?? null,
      synthetic: model.synthetic,
      embeddingDim: model.embeddingDim,
      hasText: model.hasText,
      descriptor: model.descriptor,
      runtime,
    };
    return new Engine(model, resolved, load, info);
  }

  /** Load what `features` need (tags file, face model, OCR models) that is not loaded yet. */
  async prepare(features, options = {}, signal) {
    if (!Array.isArray(features)) return;
    if (wants(features, TAGS_FILE_FEATURES) && !this.#tagsLoaded) {
      const spec = this.#source.tags;
      if (!spec) {
        throw new SightlineError(
          ErrorCodes.FeatureNotAvailable,
          `"${features.join(",")}" needs the tags file of ${this.info.name} (tags-en.sltags, made by \`sightline build-tags\`): host it at <modelBaseUrl>/${this.info.name}/tags-en.sltags, or give model.tags`,
        );
      }
      this.#tagCount = this.#model.loadTags(await this.#load(spec, signal));
      this.#tagsLoaded = true;
    }
    for (const extra of EXTRAS) {
      if (this.#extras.get(extra.name) === true) continue;
      if (options[extra.backendOption] === "azure") continue;
      const required = wants(features, extra.requiredBy);
      const helpful = wants(features, extra.helpedBy) && this.#extras.get(extra.name) !== "unavailable";
      if (!required && !helpful) continue;
      try {
        await this.#loadExtra(extra, signal);
        this.#extras.set(extra.name, true);
      } catch (error) {
        if (required || error?.name === "AbortError") throw error;
        this.#extras.set(extra.name, "unavailable"); // not asked for: go on without it, and do not retry per image
      }
    }
  }

  async #loadExtra(extra, signal) {
    const specs = this.#source.extras?.[extra.name];
    if (!specs) {
      throw new SightlineError(ErrorCodes.FeatureNotAvailable, `"${extra.requiredBy.join(",")}" needs the ${extra.kind} model, which the manifest does not list (or model.${extra.name} was not given)`);
    }
    if (typeof this.#model[extra.method] !== "function") {
      throw new SightlineError(ErrorCodes.FeatureNotAvailable, `this build of the Sightline core cannot load ${extra.kind} models yet`);
    }
    const missing = extra.roles.filter((role) => !specs.get(role));
    if (missing.length) throw new SightlineError(ErrorCodes.InvalidManifest, `the ${extra.kind} model lacks its ${missing.join(", ")} file`);
    const roles = [...extra.roles, ...extra.optionalRoles];
    const bytes = await Promise.all(roles.map((role) => (specs.get(role) ? this.#load(specs.get(role), signal) : undefined)));
    try {
      await this.#model[extra.method](...bytes);
    } catch (error) {
      throw SightlineError.from(error, "InvalidModel");
    }
  }

  get tagCount() {
    return this.#tagCount;
  }

  /** Azure Image Analysis 4.0: `options` goes to the core unchanged. */
  async analyze(input, options, signal) {
    await this.prepare(options?.features, options ?? {}, signal);
    const bytes = await imageBytes(input, { signal });
    // Awaited: the core's analyze may return a Promise (remote features) or a plain object.
    return await call(() => this.#model.analyze(bytes, options));
  }

  async embedImage(input, signal) {
    const bytes = await imageBytes(input, { signal });
    return call(() => this.#model.embedImage(bytes));
  }

  async embedText(texts) {
    return call(() => this.#model.embedTexts(texts));
  }

  async classify(input, labels, signal) {
    const bytes = await imageBytes(input, { signal });
    return call(() => this.#model.classify(bytes, labels));
  }

  async classifyEmbeddings(embeddings, labels) {
    return call(() => this.#model.classifyEmbeddings(embeddings, labels));
  }

  dispose() {
    this.#model?.free();
    this.#model = null;
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
  const extras = {};
  for (const extra of EXTRAS) {
    const found = manifestEntryOfKind(manifest, extra.kind);
    if (found) extras[extra.name] = manifestFiles(found[0], found[1], baseUrl);
  }
  return { name, descriptor: entry.descriptor, description: entry.description, files, tags, extras };
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
  const extras = {};
  for (const extra of EXTRAS) {
    const value = given[extra.name];
    if (!value) continue;
    const byRole = extra.roles.length === 1 && (typeof value === "string" || value.url) ? { [extra.roles[0]]: value } : value;
    extras[extra.name] = new Map(Object.entries(byRole).map(([role, url]) => [role, specFromUrl(extra.kind, role, url)]));
  }
  return { name, descriptor, description: null, files, tags: given.tags ? specFromUrl(name, "tags", given.tags) : null, extras };
}
