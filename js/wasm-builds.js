// Which of the package's three WebAssembly modules this engine should run, and starting it. Each
// has its own wasm-bindgen glue; they export the same API and compute the same results bit for bit:
// - "simd128" (pkg/sightline.js, sightline_bg.wasm) runs wherever WebAssembly SIMD does;
// - "relaxed-simd" (pkg/sightline_relaxed_simd.js, sightline_relaxed_simd_bg.wasm) also holds the
//   relaxed-SIMD int8 kernel.
//   It only loads where relaxed SIMD is on (Chromium 114 and later, for one), and inside it uses that
//   kernel only where the engine's relaxed dot product is exact (V8 on x86-64 with AVX-VNNI: about
//   2.4x the multiply-adds per cycle); elsewhere it runs the SIMD128 kernel, as fast as the other
//   module. So it is the better choice wherever it loads.
// - "threads" (pkg/sightline_threads.js, sightline_threads_bg.wasm, sightline_threads_workers.js) is
//   the relaxed-SIMD module on a shared memory: its matrix products split over a pool of Web Workers
//   (wasm-bindgen-rayon). It needs SharedArrayBuffer, so a cross-origin isolated page (served with
//   `Cross-Origin-Opener-Policy: same-origin` and `Cross-Origin-Embedder-Policy: credentialless` or
//   `require-corp`), and it must run in a Web Worker: the calling thread blocks while the pool works.
// scripts/build-wasm builds all three; the package's engine calls startWasm().

/**
 * The smallest module using a relaxed-SIMD instruction: one function returning
 * `i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.splat(1), i8x16.splat(2), i32x4.splat(3))`.
 * `WebAssembly.validate` accepts it exactly where relaxed SIMD is enabled. (GoogleChromeLabs'
 * wasm-feature-detect asks the same way; a bare-specifier import would need a bundler or an import
 * map, which the static page and module workers do not have.)
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x13, 0x01, 0x11, 0x00, // code: one body, no locals
  0x41, 0x01, 0xfd, 0x0f, 0x41, 0x02, 0xfd, 0x0f, 0x41, 0x03, 0xfd, 0x11, // the three splats
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 0x113)
  0x0b, // end
]);

/**
 * Each build's files in pkg/ (scripts/build-wasm names them). engine.js imports the glues by literal
 * paths instead, which bundlers need to ship them.
 */
export const WASM_BUILDS = Object.freeze({
  simd128: Object.freeze({ glue: "sightline.js", wasm: "sightline_bg.wasm", extra: Object.freeze([]) }),
  "relaxed-simd": Object.freeze({ glue: "sightline_relaxed_simd.js", wasm: "sightline_relaxed_simd_bg.wasm", extra: Object.freeze([]) }),
  threads: Object.freeze({ glue: "sightline_threads.js", wasm: "sightline_threads_bg.wasm", extra: Object.freeze(["sightline_threads_workers.js"]) }),
});

/**
 * The pool's size by default: every core, at most this many, so that a many-core machine does not
 * start dozens of workers, each with its own instance of the module. (Measured on 2 cores only;
 * onnxruntime-web's default is at most 4.)
 */
const MAX_AUTO_THREADS = 8;
/** How long the pool's workers may take to start before the single-threaded module is used instead. */
const POOL_START_TIMEOUT_MS = 10_000;

function hasRelaxedSimd() {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * How many threads the threaded module would run with here: 0 where it cannot run (not a Web Worker,
 * not cross-origin isolated, no relaxed SIMD, one core, or `threads` 1).
 * @param {number | "auto"} [threads] the caller's wish: "auto" (every core, at most 8) or a count
 */
export function threadPoolSize(threads = "auto") {
  // (A service worker asking which build to precache counts as a worker: it asks for the page's.)
  const inWorker = typeof WorkerGlobalScope !== "undefined" && globalThis instanceof WorkerGlobalScope;
  if (!inWorker || globalThis.crossOriginIsolated !== true || !hasRelaxedSimd()) return 0;
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  const size = threads === "auto" ? Math.min(cores, MAX_AUTO_THREADS) : Math.floor(threads);
  return size > 1 ? size : 0;
}

/**
 * The fastest build this engine runs.
 * @param {{threads?: number | "auto"}} [options]
 * @returns {"threads" | "relaxed-simd" | "simd128"}
 */
export function fastestWasmBuild({ threads = "auto" } = {}) {
  if (threadPoolSize(threads) > 0) return "threads";
  return hasRelaxedSimd() ? "relaxed-simd" : "simd128";
}

/**
 * Instantiate the fastest build (or the SIMD128 module from `wasmUrl`) and, for the threaded one,
 * start its pool of `threadPoolSize(threads)` workers. Where the pool does not start (its worker
 * script blocked or rewritten by a bundler, workers refused), the relaxed-SIMD module runs instead
 * and `runtime.fallback` says why.
 * @param {(build: string) => Promise<any>} importGlue the build's glue module
 * @param {{threads?: number | "auto", wasmUrl?: string}} [options]
 * @returns {Promise<{glue: any, runtime: {build: string, int8Kernel: string, threads: number, fallback?: string}}>}
 */
export async function startWasm(importGlue, { threads = "auto", wasmUrl } = {}) {
  const build = wasmUrl ? "simd128" : fastestWasmBuild({ threads });
  const glue = await importGlue(build);
  await glue.default(wasmUrl ? { module_or_path: wasmUrl } : undefined);
  if (build !== "threads") return { glue, runtime: { build, int8Kernel: glue.int8Kernel(), threads: 1 } };
  const size = threadPoolSize(threads);
  let timer;
  try {
    await Promise.race([
      glue.initThreadPool(size),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`its ${size} workers did not start within ${POOL_START_TIMEOUT_MS / 1000} s`)), POOL_START_TIMEOUT_MS);
      }),
    ]);
  } catch (error) {
    const single = await importGlue("relaxed-simd");
    await single.default();
    const fallback = `the threaded module could not start its pool (${error?.message ?? error}); running single-threaded`;
    console.warn(`sightline: ${fallback}`);
    return { glue: single, runtime: { build: "relaxed-simd", int8Kernel: single.int8Kernel(), threads: 1, fallback } };
  } finally {
    clearTimeout(timer);
  }
  glue.useThreadPool();
  return { glue, runtime: { build, int8Kernel: glue.int8Kernel(), threads: size } };
}
