// Sightline for web apps: `createAnalyzer()` loads a model (verified, cached, with progress) in a
// worker the package starts itself, and returns an Analyzer whose calls queue one after another
// and can be cancelled with an AbortSignal. See index.d.ts for the documented API.

import { SightlineError, ErrorCodes, errorFromMessage } from "./errors.js";
import { prepareInput, baseHref } from "./input.js";
import { modelFolderUrl } from "./model-loader.js";

export { SightlineError, ErrorCodes };
export { CACHE_NAME } from "./model-loader.js";

/** The model used when `createAnalyzer()` is given none. */
export const DEFAULT_MODEL = "siglip-base-patch16-224";

const isManifestUrl = (value) => value instanceof URL || /[/:]|\.json$/i.test(value);
const absolute = (value) => new URL(String(value), baseHref()).href;
const absoluteSpec = (value) => (value && typeof value === "object" && !(value instanceof URL) ? { ...value, url: absolute(value.url) } : absolute(value));

/**
 * Where the model comes from, with every URL made absolute against the page: the worker's own
 * location is the package's directory, not the page's.
 */
function resolveModelSource(options = {}) {
  const { model = DEFAULT_MODEL, modelBaseUrl } = options;
  const baseUrl = modelBaseUrl ? absolute(String(modelBaseUrl).replace(/\/?$/, "/")) : null;
  if (typeof model === "string" && !isManifestUrl(model)) return { name: model, baseUrl, manifestUrl: null, files: null };
  if (typeof model === "string" || model instanceof URL) {
    const manifestUrl = absolute(model);
    return { name: options.modelName ?? null, baseUrl: baseUrl ?? new URL(".", manifestUrl).href, manifestUrl, files: null };
  }
  if (model && typeof model === "object" && model.folder) {
    // A model folder at any URL (or a Hugging Face repository): its files are checked against the
    // manifest's (the bundled one, or model.manifest) by path, size and sha256.
    const folder = modelFolderUrl(model.folder, baseHref());
    const manifestUrl = model.manifest ? absolute(model.manifest) : null;
    return { name: folder.name, baseUrl: baseUrl ?? (manifestUrl ? new URL(".", manifestUrl).href : null), manifestUrl, files: null, folder: folder.url, refresh: Boolean(model.refresh) };
  }
  if (model && typeof model === "object" && model.manifest) {
    const manifestUrl = absolute(model.manifest);
    return { name: model.name ?? null, baseUrl: baseUrl ?? new URL(".", manifestUrl).href, manifestUrl, files: null };
  }
  if (model && typeof model === "object" && model.vision && model.descriptor) {
    const files = { ...model };
    // Each file's URL, or (for a part of several files, e.g. read) each role's.
    const isRoleMap = (value) => value && typeof value === "object" && !(value instanceof URL) && !("url" in value);
    for (const [key, value] of Object.entries(files)) {
      if (key === "name" || key === "descriptor" || !value) continue;
      files[key] = isRoleMap(value) ? Object.fromEntries(Object.entries(value).map(([role, url]) => [role, absoluteSpec(url)])) : absoluteSpec(value);
    }
    if (typeof files.descriptor === "string") files.descriptor = absolute(files.descriptor);
    return { name: model.name ?? null, baseUrl: null, manifestUrl: null, files };
  }
  throw new SightlineError(ErrorCodes.InvalidOptions, "model must be a model name, a manifest URL, {manifest, name}, {folder} or {descriptor, vision, text, tokenizer, tags, …}");
}

/** The vision-language model APIs `services.caption.api` takes ("auto": by the endpoint's host). */
const CAPTION_APIS = ["auto", "azure-openai", "openai-compatible"];

/**
 * The remote services option checked and made absolute: `{read?: {endpoint, key, apiVersion?,
 * allowHttp?}, face?: {endpoint, key, landmarks?, attributes?, allowHttp?}, caption?: {endpoint,
 * key?, model, api?, apiVersion?, allowHttp?}, timeoutSeconds?}`, or null for none. An endpoint
 * may be a path on the page's origin (a proxy, e.g. "/azure-read"); plain http is allowed there and
 * to loopback hosts, elsewhere only with `allowHttp` (the core checks).
 */
function serviceOptions(services) {
  if (services === null || services === undefined) return null;
  const invalid = (message) => new SightlineError(ErrorCodes.InvalidOptions, `services: ${message}`);
  if (typeof services !== "object") throw invalid("must be {read?, face?, caption?, timeoutSeconds?} or null");
  const unknown = Object.keys(services).filter((k) => !["read", "face", "caption", "timeoutSeconds"].includes(k));
  if (unknown.length) throw invalid(`unknown option ${unknown.map((k) => JSON.stringify(k)).join(", ")} (the services are read, face and caption)`);
  const { timeoutSeconds } = services;
  if (timeoutSeconds !== undefined && typeof timeoutSeconds !== "number") throw invalid("timeoutSeconds must be a number of seconds");
  /** `services[name]` checked: its endpoint made absolute, its key a string, only `options` besides. */
  const service = (name, { options, keyOptional = false }, extra) => {
    const given = services[name];
    if (given === null || given === undefined) return undefined;
    if (typeof given !== "object") throw invalid(`${name} must be {endpoint, key, …}`);
    const known = ["endpoint", "key", "allowHttp", ...options];
    const extraKeys = Object.keys(given).filter((k) => !known.includes(k));
    if (extraKeys.length) throw invalid(`${name}: unknown option ${extraKeys.map((k) => JSON.stringify(k)).join(", ")} (it takes ${known.join(", ")})`);
    const { endpoint, key = keyOptional ? "" : undefined, allowHttp = false } = given;
    if (!(typeof endpoint === "string" || endpoint instanceof URL)) throw invalid(`${name}.endpoint must be a URL`);
    if (typeof key !== "string") throw invalid(`${name}.key must be a string`);
    // Only a path is resolved against the page: "x.cognitiveservices.azure.com" without its scheme
    // goes to the core as given, which refuses it, rather than to a path on this origin.
    const text = String(endpoint).trim();
    const url = text.startsWith("/") ? absolute(text) : text;
    const sameOrigin = typeof location !== "undefined" && URL.canParse?.(url) && new URL(url).origin === location.origin;
    return { endpoint: url, key, allowHttp: Boolean(allowHttp) || sameOrigin, ...extra(given) };
  };
  const version = (apiVersion) => (apiVersion === undefined || apiVersion === null || apiVersion === "" ? undefined : String(apiVersion));
  return {
    timeoutSeconds,
    read: service("read", { options: ["apiVersion"] }, ({ apiVersion }) => ({ apiVersion: version(apiVersion) })),
    face: service("face", { options: ["landmarks", "attributes"] }, ({ landmarks = false, attributes = [] }) => {
      if (!Array.isArray(attributes) || !attributes.every((a) => typeof a === "string")) throw invalid("face.attributes must be an array of names");
      return { landmarks: Boolean(landmarks), attributes };
    }),
    // A vision-language model for caption, denseCaptions and objects: Azure OpenAI (the key is
    // required there; the core says so) or an OpenAI-compatible server, which may take no key.
    caption: service("caption", { options: ["model", "api", "apiVersion"], keyOptional: true }, ({ model, api = "auto", apiVersion }) => {
      // A blank name is the core's to refuse (with what to give), which leaves no service in use.
      if (typeof model !== "string") throw invalid("caption.model must be the Azure OpenAI deployment's name or the model's name (e.g. \"gpt-4o\")");
      if (!CAPTION_APIS.includes(api)) throw invalid(`caption.api must be ${CAPTION_APIS.map((a) => JSON.stringify(a)).join(", ")}; got ${JSON.stringify(api)}`);
      return { model: model.trim(), api, apiVersion: version(apiVersion) };
    }),
  };
}

/** What `services` says when none is in use. */
const NO_SERVICES = Object.freeze({ read: false, face: false, caption: null });

/** Talks to the engine in the package's own worker. */
class WorkerTransport {
  #worker;
  #pending = new Map();
  #nextId = 1;
  #failure = null;

  constructor(onProgress, onInfo) {
    // Written out in this exact form so bundlers (Vite, webpack 5, Parcel) emit the worker file.
    this.#worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "sightline" });
    this.#worker.onmessage = ({ data }) => {
      if (data.type === "progress") {
        onProgress?.(data.progress);
        return;
      }
      if (data.type === "info") {
        onInfo(data.info);
        return;
      }
      const pending = this.#pending.get(data.id);
      if (!pending) return; // a call abandoned after its abort
      this.#pending.delete(data.id);
      if (data.type === "result") pending.resolve(data.value);
      else pending.reject(errorFromMessage(data.error));
    };
    // A worker script that fails to load or crashes reports here, without a call id.
    this.#worker.onerror = (event) => {
      event.preventDefault?.();
      this.#fail(new SightlineError(ErrorCodes.WorkerFailed, `the Sightline worker failed: ${event.message ?? "it could not be started"}`));
    };
    this.#worker.onmessageerror = () => this.#fail(new SightlineError(ErrorCodes.WorkerFailed, "a message from the Sightline worker could not be read"));
  }

  #fail(error) {
    this.#failure = error;
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
  }

  call(op, args, transfer = [], signal) {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      // On abort, the worker stops this call's downloads (a running inference cannot be interrupted).
      const onAbort = () => this.#worker.postMessage({ op: "abort", id });
      const settle = (fn) => (value) => {
        signal?.removeEventListener("abort", onAbort);
        fn(value);
      };
      this.#pending.set(id, { resolve: settle(resolve), reject: settle(reject) });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#worker.postMessage({ id, op, args }, transfer);
    });
  }

  terminate(reason) {
    this.#worker.terminate();
    this.#fail(reason);
  }
}

/** Runs the engine in this thread (`worker: false`, or when the caller already is a worker). */
class InThreadTransport {
  #engine = null;
  #onProgress;
  #onInfo;

  constructor(onProgress, onInfo) {
    this.#onProgress = onProgress;
    this.#onInfo = onInfo;
  }

  async call(op, args, _transfer, signal) {
    if (op === "init") {
      const { Engine } = await import("./engine.js");
      this.#engine = await Engine.create(args[0], { ...args[1], onProgress: this.#onProgress, onInfo: this.#onInfo, signal });
      return this.#engine.info;
    }
    if (!this.#engine) throw new SightlineError(ErrorCodes.AnalyzerDisposed, "the analyzer was disposed");
    switch (op) {
      case "analyze":
      case "prepare":
        return this.#engine[op](args[0], args[1], signal);
      case "classify":
        return this.#engine.classify(args[0], args[1], signal);
      case "embedImage":
        return this.#engine.embedImage(args[0], signal);
      default:
        return this.#engine[op](...args, signal);
    }
  }

  terminate() {
    this.#engine?.dispose();
    this.#engine = null;
  }
}

/** Reject with the abort reason as soon as `signal` fires, whatever `promise` does later. */
function abortable(promise, signal) {
  if (!signal) return promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason ?? new DOMException("The operation was aborted.", "AbortError"));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export class Analyzer {
  #transport;
  #state;
  #tail = Promise.resolve();
  #disposed = false;

  /** @internal use createAnalyzer() */
  constructor(transport, state) {
    this.#transport = transport;
    this.#state = state;
  }

  /**
   * The SigLIP model loaded: {name, description, synthetic, embeddingDim, hasText, descriptor}, or
   * null while none is (an analyzer made for `read` or `people` alone loads it on first need).
   */
  get model() {
    return this.#state.info.model;
  }

  /** Which WebAssembly module runs: {build, int8Kernel, threads}. */
  get runtime() {
    return this.#state.info.runtime;
  }

  /**
   * Which remote services are in use (never their keys): `{read, face}` booleans, and `caption`, the
   * vision-language model's API ("azure-openai" or "openai-compatible"), or null.
   */
  get services() {
    return this.#state.info.services;
  }

  /** The parts loaded so far, by name: "siglip", "tags", "people", "read". */
  get parts() {
    return this.#state.info.parts;
  }

  /**
   * The core's feature table (src/features.rs): each Azure feature with the parts it needs and is
   * helped by, the service that can answer it and whether the device can (`local`: caption,
   * denseCaptions and objects need their service), and each part's manifest kind and file roles.
   */
  get featureTable() {
    return this.#state.info.featureTable;
  }

  /**
   * Answer `read` (Document Intelligence) and `people` (Face API) through Azure from now on, as
   * each call's `readBackend` / `peopleBackend` choose (default "auto": the service when it is
   * configured), and `caption`, `denseCaptions` and `objects` through a vision-language model
   * (Azure OpenAI or an OpenAI-compatible server; without one they are refused); null forgets them
   * all. Resolves to `services` once applied; rejects, with no service in use, when an endpoint or
   * key is refused.
   */
  setServices(services, { signal } = {}) {
    let options;
    try {
      options = serviceOptions(services);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#enqueue("configureServices", undefined, [options], signal).then(
      (info) => {
        this.#state.info = info;
        return info.services;
      },
      (error) => {
        // The engine forgot every service when one was refused.
        this.#state.info = { ...this.#state.info, services: { ...NO_SERVICES } };
        throw error;
      },
    );
  }

  get disposed() {
    return this.#disposed;
  }

  /**
   * Run `op` after every call made before it. The input is captured now (a canvas as it is at
   * the call), converted while earlier calls run, and only sent when its turn comes.
   */
  #enqueue(op, input, rest, signal) {
    if (this.#disposed) return Promise.reject(new SightlineError(ErrorCodes.AnalyzerDisposed, "the analyzer was disposed"));
    if (signal?.aborted) return Promise.reject(signal.reason);
    const prepared = input === undefined ? Promise.resolve(null) : prepareInput(input);
    prepared.catch(() => {}); // reported through `run`; avoid an unhandled rejection meanwhile
    const run = async () => {
      const image = await prepared;
      if (signal?.aborted) {
        if (typeof ImageBitmap !== "undefined" && image?.value instanceof ImageBitmap) image.value.close();
        throw signal.reason;
      }
      if (this.#disposed) throw new SightlineError(ErrorCodes.AnalyzerDisposed, "the analyzer was disposed");
      const args = image ? [image.value, ...rest] : rest;
      return this.#transport.call(op, args, image?.transfer ?? [], signal);
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return abortable(result, signal);
  }

  /** Azure Image Analysis 4.0-shaped analysis; `options` (less `signal`) goes to the core unchanged. */
  analyze(input, options = {}) {
    const { signal, ...request } = options;
    if (!request.features) request.features = ["tags"];
    return this.#enqueue("analyze", input, [request], signal);
  }

  /**
   * Answer a request to Azure AI Vision's REST API in-process, as Azure (and `sightline serve`)
   * would: `imageanalysis:analyze`, `retrieval:vectorizeImage`, `retrieval:vectorizeText`.
   * `request` is `{method, url, contentType, body}` (`url` whole or a path with its query, `body`
   * a Uint8Array); resolves to `{status, headers, body}` with Azure's statuses and error bodies.
   * The Azure JS client's adapter (`sightline/azure`) is built on this.
   */
  restRequest(request, { signal } = {}) {
    const { method = "POST", url, contentType = null, body = null } = request ?? {};
    if (typeof url !== "string") return Promise.reject(new SightlineError(ErrorCodes.InvalidOptions, "restRequest needs the request's url"));
    const bytes = body == null ? new Uint8Array() : body instanceof Uint8Array ? body : new Uint8Array(body);
    return this.#enqueue("rest", undefined, [{ method, url, contentType, body: bytes }], signal);
  }

  /** Download what `features` will need now (tags file, face or OCR models) rather than on first use. */
  prepare(features, options = {}) {
    const { signal, ...request } = options;
    return this.#enqueue("prepare", undefined, [features, request], signal).then(() => undefined);
  }

  /** The image's unit-length SigLIP embedding. */
  embedImage(input, { signal } = {}) {
    return this.#enqueue("embedImage", input, [], signal);
  }

  /** Unit-length text embeddings: one Float32Array for a string, an array for an array. */
  embedText(text, { signal } = {}) {
    const many = Array.isArray(text);
    const texts = many ? text : [text];
    return this.#enqueue("embedText", undefined, [texts], signal).then((vectors) => (many ? vectors : vectors[0]));
  }

  /** Zero-shot scores of `labels`, in their order; each label is scored independently. */
  classify(input, labels, { signal } = {}) {
    return this.#enqueue("classify", input, [labels], signal);
  }

  /** Scores of `labels` for stored image embeddings (labels embedded once for all of them). */
  classifyEmbeddings(embeddings, labels, { signal } = {}) {
    return this.#enqueue("classifyEmbeddings", undefined, [embeddings, labels], signal);
  }

  /**
   * The image upright as a PNG Blob, its longer side at most `maxSide` pixels, in the orientation
   * of the results' coordinates: a preview for formats browsers cannot show (TIFF).
   */
  preview(input, { maxSide = 1024, signal } = {}) {
    return this.#enqueue("preview", input, [maxSide], signal).then((png) => new Blob([png], { type: "image/png" }));
  }

  /** The WebAssembly memory the analyzer holds, in bytes: its peak so far (it never shrinks). */
  memoryBytes({ signal } = {}) {
    return this.#enqueue("memoryBytes", undefined, [], signal);
  }

  /** Stop the worker and free the model; calls still queued reject with AnalyzerDisposed. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#transport.terminate(new SightlineError(ErrorCodes.AnalyzerDisposed, "the analyzer was disposed"));
  }
}

/**
 * Load a model and return an Analyzer.
 * @param {import("./index.d.ts").CreateAnalyzerOptions} [options]
 * @returns {Promise<Analyzer>}
 */
export async function createAnalyzer(options = {}) {
  const { onProgress, cache = true, text = true, signal, wasmUrl, threads = "auto", features } = options;
  const services = serviceOptions(options.services);
  if (features !== undefined && !(Array.isArray(features) && features.every((f) => typeof f === "string"))) {
    throw new SightlineError(ErrorCodes.InvalidOptions, `features must be an array of Azure feature names, got ${JSON.stringify(features)}`);
  }
  if (threads !== "auto" && !(Number.isInteger(threads) && threads >= 1)) {
    throw new SightlineError(ErrorCodes.InvalidOptions, `threads must be "auto" or a whole number of at least 1, got ${JSON.stringify(threads)}`);
  }
  const source = resolveModelSource(options);
  // Off the main thread by default; inside a worker there is nothing to protect, so run in place.
  const worker = options.worker ?? typeof document !== "undefined";
  if (worker && typeof Worker === "undefined") throw new SightlineError(ErrorCodes.InvalidOptions, "worker: true, but this environment has no Worker");
  // What the analyzer describes, updated when a later call loads the SigLIP model.
  const state = { info: null };
  const onInfo = (info) => (state.info = info);
  const transport = worker ? new WorkerTransport(onProgress, onInfo) : new InThreadTransport(onProgress, onInfo);
  const engineOptions = { cache, text, threads, features, services, wasmUrl: wasmUrl ? absolute(wasmUrl) : undefined };
  try {
    state.info = await abortable(transport.call("init", [source, engineOptions], [], signal), signal);
    return new Analyzer(transport, state);
  } catch (error) {
    transport.terminate(error);
    throw error;
  }
}
