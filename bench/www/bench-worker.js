// One benchmark worker: holds Sightline's wasm and/or onnxruntime-web, each with the thread count
// it was started with, and times what the page asks for. Runs in a Worker because a threaded
// engine's calling thread blocks while its pool works, which the main thread may not do, and so
// both engines run under the same conditions. A fresh worker is a fresh wasm instance: that is
// what makes load times "cold".
//
// Messages in (each answered by {id, ok, ...result} or {id, ok: false, error}):
//   {op: "init", sightline: [{name, pkg, dequantize?}], ort: bool, threads}   Sightline engines:
//                                                 a build, optionally with f32 weights
//   {op: "fetch", key, url}                       keep a file's bytes in memory under `key`
//   {op: "load", engine, model, descriptor?, text?, tokenizer?, as}   time load+optimise; engine
//                                                 is a Sightline build's name or "ort"
//   {op: "runVision", as}                         time one 1×3×224×224 vision run
//   {op: "runText", as, text}                     time one text-tower run (tokenize + run)
//   {op: "profileVision", as, runs}               every node of a Sightline plan timed: medians
//   {op: "profileLoad", engine, model, descriptor, runs}   each phase of loading a Sightline vision
//                                                 tower timed, `runs` loads: the first (cold) and
//                                                 the others' medians (warm)
//   {op: "drop", key}                             forget fetched bytes (before measuring memory)
//   {op: "memory"}                                this worker's wasm memory sizes

// The package's model loader (served under /page/sightline/ by bench/server.py): its sha256 helper.
import { sha256Hex } from "/page/sightline/model-loader.js";

/** Sightline engines by name: {module, memory, dequantize}. */
const sightlines = new Map();
/** Instantiated Sightline builds by URL: two engines of one build share its instance. */
const builds = new Map();
let ort = null;
const files = new Map();
/** sha256 (hex) of each fetched file, by key. */
const digests = new Map();
const models = new Map();

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** The descriptor bytes under `key` for Sightline engine `engine`, with its run option applied. */
function descriptorFor(engine, key) {
  const bytes = files.get(key);
  if (!sightlines.get(engine).dequantize) return bytes;
  // The descriptor's run option: f32 weights computed once at load (src/dequantize.rs).
  const parsed = JSON.parse(new TextDecoder().decode(bytes));
  return new TextEncoder().encode(JSON.stringify({ ...parsed, dequantize_weights: true }));
}

/** The benchmark's fixed input: the same formula as examples/bench_native.rs and bench/native.py. */
function benchPixels(size) {
  const pixels = new Float32Array(3 * size * size);
  for (let i = 0; i < pixels.length; i++) pixels[i] = ((i * 7919) % 2001) / 1000 - 1;
  return pixels;
}
const PIXELS = benchPixels(224);

function unit(vector) {
  const norm = Math.hypot(...vector);
  return Float32Array.from(vector, (v) => v / norm);
}

const ops = {
  async init({ sightline = [], ort: withOrt, threads }) {
    const result = { crossOriginIsolated: self.crossOriginIsolated, threads, sightlineThreads: {} };
    for (const { name, pkg, dequantize = false } of sightline) {
      if (!builds.has(pkg)) {
        const module = await import(pkg);
        const exports = await module.default();
        // Only the threaded build has a pool to start; the others run on this worker's thread.
        if (module.initThreadPool) {
          await module.initThreadPool(threads);
          module.useThreadPool();
        }
        builds.set(pkg, { module, memory: exports.memory });
      }
      const { module, memory } = builds.get(pkg);
      result.sightlineThreads[name] = module.initThreadPool ? threads : 1;
      result.sightlineKernels ??= {};
      result.sightlineKernels[name] = module.int8Kernel?.() ?? null;
      sightlines.set(name, { module, memory, dequantize });
    }
    if (withOrt) {
      ort = await import("/ort/ort.wasm.min.mjs");
      ort.env.wasm.wasmPaths = "/ort/";
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.proxy = false;
      result.ortVersion = ort.env.versions?.web ?? "unknown";
      result.ortThreads = threads;
    }
    return result;
  },

  async fetch({ key, url }) {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status} for ${url}`);
    files.set(key, new Uint8Array(await response.arrayBuffer()));
    // The digest the page's loader has for every model file (it checks downloads against it),
    // which Sightline is given instead of hashing the file again.
    digests.set(key, await sha256Hex(files.get(key)));
    return { bytes: files.get(key).length };
  },

  async load({ engine, model, descriptor, text, tokenizer, as }) {
    const bytes = (key) => (key ? files.get(key) : undefined);
    const start = performance.now();
    let handle;
    if (engine !== "ort") {
      const { module } = sightlines.get(engine);
      handle = new module.Analyzer();
      const files = { descriptor: descriptorFor(engine, descriptor), vision: bytes(model), text: bytes(text), tokenizer: bytes(tokenizer) };
      handle.load("siglip", files, { vision: digests.get(model), text: text ? digests.get(text) : undefined });
    } else {
      handle = await ort.InferenceSession.create(bytes(model), {
        executionProviders: ["wasm"],
        graphOptimizationLevel: "all",
      });
    }
    const ms = performance.now() - start;
    models.set(as, { engine, handle });
    return { ms };
  },

  async runVision({ as }) {
    const { engine, handle } = models.get(as);
    const start = performance.now();
    let embedding;
    if (engine !== "ort") {
      embedding = handle.embedPixels(PIXELS);
    } else {
      const input = new ort.Tensor("float32", PIXELS, [1, 3, 224, 224]);
      const outputs = await handle.run({ pixel_values: input });
      embedding = outputs.pooler_output.data;
      for (const output of Object.values(outputs)) output.dispose?.();
    }
    const ms = performance.now() - start;
    return { ms, embedding: Array.from(engine !== "ort" ? embedding : unit(embedding)) };
  },

  async profileLoad({ engine, model, descriptor, runs }) {
    const { module } = sightlines.get(engine);
    const descriptorBytes = descriptorFor(engine, descriptor);
    const samples = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      const phases = module.profileVisionLoad(descriptorBytes, files.get(model));
      const total = performance.now() - start;
      // What the core's clock does not see: the bytes copied into WebAssembly memory, the tower freed.
      phases.push({ phase: "copy in, free", ms: total - phases.reduce((sum, p) => sum + p.ms, 0) });
      samples.push(phases);
    }
    const warm = samples.slice(1);
    return {
      cold: samples[0],
      warm: warm.length ? samples[0].map(({ phase }, ix) => ({ phase, ms: median(warm.map((s) => s[ix].ms)) })) : null,
    };
  },

  async profileVision({ as, runs }) {
    // Each node's median time over `runs` profiled runs (the caller warms up with runVision).
    const { handle } = models.get(as);
    let nodes = [];
    const samples = [];
    for (let i = 0; i < runs; i++) {
      nodes = handle.profileVision(PIXELS);
      nodes.forEach((node, ix) => (samples[ix] ??= []).push(node.ms));
    }
    return { nodes: nodes.map((node, ix) => ({ ...node, ms: median(samples[ix]) })) };
  },

  async runText({ as, text, ids }) {
    const { engine, handle } = models.get(as);
    const start = performance.now();
    let embedding;
    if (engine !== "ort") {
      embedding = handle.embedTexts([text])[0];
    } else {
      // The peer gets Sightline's token ids (tokenizing is not what is compared here).
      const input = new ort.Tensor("int64", BigInt64Array.from(ids, BigInt), [1, ids.length]);
      const outputs = await handle.run({ input_ids: input });
      embedding = unit(outputs.pooler_output.data);
      for (const output of Object.values(outputs)) output.dispose?.();
    }
    const ms = performance.now() - start;
    return { ms, embedding: Array.from(embedding) };
  },

  async tokenize({ as, text }) {
    return { ids: Array.from(models.get(as).handle.tokenize(text)) };
  },

  async drop({ key }) {
    files.delete(key);
    return {};
  },

  async memory() {
    // onnxruntime-web does not expose its wasm memory; the page measures it instead.
    return { wasmBytes: Object.fromEntries([...sightlines].map(([name, s]) => [name, s.memory.buffer.byteLength])) };
  },
};

self.onmessage = async ({ data }) => {
  const { id, op, ...args } = data;
  try {
    self.postMessage({ id, ok: true, ...(await ops[op](args)) });
  } catch (error) {
    self.postMessage({ id, ok: false, error: `${error?.name ?? "Error"}: ${error?.message ?? error}` });
  }
};
