// The benchmark page's side: starts bench-worker.js workers and runs the measurements bench/run.mjs
// asks for through `window.bench`. Each measurement gets fresh workers, so every wasm instance
// (and every load time) starts cold, and a threaded and a single-threaded engine never share one.

const VISION = "/models/siglip-test-base/onnx/vision_model_quantized.onnx";
const VISION_DESCRIPTOR = "/models/siglip-test-base/sightline.json";
const TEXT_DIR = "/models/siglip-test-tiny";

const log = (line) => {
  console.log(line);
  document.querySelector("#log").textContent += `${line}\n`;
};

/** A worker with a promise-returning `call(op, args)`. */
function startWorker() {
  const worker = new Worker("bench-worker.js", { type: "module" });
  const pending = new Map();
  let next = 0;
  worker.onmessage = ({ data }) => {
    const { resolve, reject } = pending.get(data.id);
    pending.delete(data.id);
    data.ok ? resolve(data) : reject(new Error(data.error));
  };
  worker.onerror = (event) => {
    for (const { reject } of pending.values()) reject(new Error(`worker error: ${event.message}`));
    pending.clear();
  };
  const call = (op, args = {}) =>
    new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, { resolve, reject });
      worker.postMessage({ id, op, ...args });
    });
  return { call, terminate: () => worker.terminate() };
}

function cosine(a, b) {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * Vision tower in one worker at `threads` threads: each Sightline build in `builds` ({name, pkg})
 * and onnxruntime-web. Cold load of each, `warmup` runs each, then `runs` interleaved rounds
 * (each Sightline build, then the peer, again and again).
 */
async function visionPair({ threads, warmup, runs, builds }) {
  const worker = startWorker();
  const engines = [...builds.map((b) => b.name), "ort"];
  try {
    const info = await worker.call("init", { sightline: builds, ort: true, threads });
    await worker.call("fetch", { key: "vision", url: VISION });
    await worker.call("fetch", { key: "descriptor", url: VISION_DESCRIPTOR });
    const load = {};
    for (const engine of engines) {
      load[engine] = (await worker.call("load", { engine, model: "vision", descriptor: "descriptor", as: engine })).ms;
    }
    log(`${threads} thread(s): loaded ${engines.map((e) => `${e} ${load[e].toFixed(0)} ms`).join(", ")}`);
    const first = {};
    for (let i = 0; i < warmup; i++) {
      for (const engine of engines) {
        const { ms, embedding } = await worker.call("runVision", { as: engine });
        if (i === 0) first[engine] = { ms, embedding };
      }
    }
    const samples = Object.fromEntries(engines.map((e) => [e, []]));
    for (let i = 0; i < runs; i++) {
      for (const engine of engines) samples[engine].push((await worker.call("runVision", { as: engine })).ms);
      log(`${threads} thread(s) run ${i + 1}/${runs}: ${engines.map((e) => `${e} ${samples[e].at(-1).toFixed(0)} ms`).join(", ")}`);
    }
    return {
      ...info,
      builds: builds.map((b) => b.name),
      load,
      firstRun: Object.fromEntries(engines.map((e) => [e, first[e]?.ms ?? null])),
      cosine: Object.fromEntries(builds.map((b) => [b.name, first[b.name] ? cosine(first[b.name].embedding, first.ort.embedding) : null])),
      samples,
    };
  } finally {
    worker.terminate();
  }
}

/**
 * Per-node profile of the vision tower (scripts/profile): each build in `builds` ({name, pkg,
 * dequantize?}) in a fresh single-threaded worker: its load phases (the first load cold, `runs`
 * more warm), then `warmup` plain runs and `runs` profiled ones. Returns {profiles, loads}.
 */
async function profile({ warmup, runs, builds }) {
  const profiles = {};
  const loads = {};
  for (const build of builds) {
    const worker = startWorker();
    try {
      await worker.call("init", { sightline: [build], ort: false, threads: 1 });
      await worker.call("fetch", { key: "vision", url: VISION });
      await worker.call("fetch", { key: "descriptor", url: VISION_DESCRIPTOR });
      loads[build.name] = await worker.call("profileLoad", { engine: build.name, model: "vision", descriptor: "descriptor", runs: runs + 1 });
      await worker.call("load", { engine: build.name, model: "vision", descriptor: "descriptor", as: build.name });
      for (let i = 0; i < warmup; i++) await worker.call("runVision", { as: build.name });
      profiles[build.name] = (await worker.call("profileVision", { as: build.name, runs })).nodes;
      log(`profiled ${build.name}`);
    } finally {
      worker.terminate();
    }
  }
  return { profiles, loads };
}

/** Text tower of the tiny synthetic model (the only text tower here): one prompt, interleaved. */
async function textPair({ warmup, runs, text, build }) {
  const worker = startWorker();
  try {
    await worker.call("init", { sightline: [build], ort: true, threads: 1 });
    for (const [key, path] of [["descriptor", "sightline.json"], ["text", "onnx/text_model_quantized.onnx"], ["vision", "onnx/vision_model_quantized.onnx"], ["tokenizer", "tokenizer.json"]]) {
      await worker.call("fetch", { key, url: `${TEXT_DIR}/${path}` });
    }
    await worker.call("load", { engine: build.name, model: "vision", descriptor: "descriptor", text: "text", tokenizer: "tokenizer", as: "sightline" });
    await worker.call("load", { engine: "ort", model: "text", as: "ort" });
    const { ids } = await worker.call("tokenize", { as: "sightline", text });
    const samples = { sightline: [], ort: [] };
    const embeddings = {};
    for (let i = 0; i < warmup + runs; i++) {
      for (const engine of ["sightline", "ort"]) {
        const { ms, embedding } = await worker.call("runText", { as: engine, text, ids });
        embeddings[engine] = embedding;
        if (i >= warmup) samples[engine].push(ms);
      }
    }
    return { text, build: build.name, samples, cosine: cosine(embeddings.sightline, embeddings.ort) };
  } finally {
    worker.terminate();
  }
}

/**
 * One engine alone, single-threaded, in a fresh worker: cold load and one run. bench/run.mjs
 * calls it in a browser of its own and reads that renderer's peak resident memory from /proc
 * (performance.measureUserAgentSpecificMemory leaves out a non-shared WebAssembly.Memory, where
 * Sightline's heap is). Sightline's wasm memory never shrinks, so its size is its wasm peak.
 */
async function engineMemory({ engine, build }) {
  const worker = startWorker();
  try {
    const name = engine === "ort" ? "ort" : build.name;
    await worker.call("init", { sightline: engine === "ort" ? [] : [build], ort: engine === "ort", threads: 1 });
    await worker.call("fetch", { key: "vision", url: VISION });
    await worker.call("fetch", { key: "descriptor", url: VISION_DESCRIPTOR });
    const { ms: loadMs } = await worker.call("load", { engine: name, model: "vision", descriptor: "descriptor", as: name });
    await worker.call("runVision", { as: name });
    const { wasmBytes } = await worker.call("memory");
    return { engine: name, loadMs, wasmBytes: wasmBytes[name] ?? null };
  } finally {
    worker.terminate();
  }
}

window.bench = {
  environment: () => ({
    userAgent: navigator.userAgent,
    hardwareConcurrency: navigator.hardwareConcurrency,
    crossOriginIsolated: self.crossOriginIsolated,
  }),
  visionPair,
  textPair,
  engineMemory,
  profile,
};
document.body.dataset.ready = "true";
