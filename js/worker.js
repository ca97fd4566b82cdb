// The package's worker: owns the engine so inference never blocks the page. index.js creates it
// with `new Worker(new URL("./worker.js", import.meta.url), {type: "module"})`, which Vite,
// webpack 5 and plain ES modules all resolve without configuration.
//
// Messages in:  {id, op: "init", args: [source, options]} | {id, op, args} | {op: "abort", id}
// Messages out: {id, type: "progress", progress} | {type: "info", info} (a part loaded that changes
//               what the analyzer describes) | {id, type: "result", value} | {id, type: "error", error}

import { Engine } from "./engine.js";
import { SightlineError } from "./errors.js";

let engine = null;
/** Call id → AbortController, so an abort from the caller stops that call's downloads. */
const running = new Map();

const transferables = (value) => {
  if (value instanceof Float32Array || value instanceof Uint8Array) return [value.buffer];
  if (Array.isArray(value) && value.every((v) => v instanceof Float32Array)) return value.map((v) => v.buffer);
  return [];
};

function serialiseError(error) {
  if (error?.name === "AbortError") return { name: "AbortError", message: String(error.message) };
  return SightlineError.from(error).toJSON();
}

self.onmessage = async ({ data }) => {
  const { id, op, args = [] } = data;
  if (op === "abort") {
    running.get(id)?.abort();
    return;
  }
  const controller = new AbortController();
  running.set(id, controller);
  const signal = controller.signal;
  try {
    let value;
    if (op === "init") {
      const [source, options] = args;
      const onProgress = (progress) => self.postMessage({ id, type: "progress", progress });
      const onInfo = (info) => self.postMessage({ type: "info", info });
      engine = await Engine.create(source, { ...options, onProgress, onInfo, signal });
      value = engine.info;
    } else if (!engine) {
      throw new SightlineError("WorkerFailed", `"${op}" before the model was loaded`);
    } else if (op === "analyze") {
      value = await engine.analyze(args[0], args[1], signal);
    } else if (op === "rest") {
      value = await engine.rest(args[0], signal);
    } else if (op === "prepare") {
      value = await engine.prepare(args[0], args[1], signal);
    } else if (op === "embedImage" || op === "classify") {
      value = await engine[op](args[0], ...(op === "classify" ? [args[1]] : []), signal);
    } else if (op === "configureServices") {
      value = engine.configureServices(args[0]);
    } else if (op === "preview") {
      value = await engine.preview(args[0], args[1], signal);
    } else if (op === "memoryBytes") {
      value = engine.memoryBytes();
    } else if (op === "embedText" || op === "classifyEmbeddings") {
      value = await engine[op](...args, signal);
    } else if (op === "dispose") {
      engine.dispose();
      engine = null;
    } else {
      throw new SightlineError("WorkerFailed", `unknown operation "${op}"`);
    }
    self.postMessage({ id, type: "result", value }, transferables(value));
  } catch (error) {
    self.postMessage({ id, type: "error", error: serialiseError(error) });
  } finally {
    running.delete(id);
  }
};
