// Drives the benchmark page in headless Debian Chromium (playwright-core from the repository's
// root node_modules; never a downloaded browser) and writes every raw sample as JSON.
//
//   node bench/run.mjs --url http://127.0.0.1:PORT/ --out FILE [--runs 10] [--warmup 2]
//                      [--threads N] [--image PNG] [--all]
//
// Measures, in this order: the vision tower single-threaded (Sightline vs onnxruntime-web,
// interleaved), the same with N threads if the threaded module was built and the page is
// cross-origin isolated (with --all, the threaded module with f32 weights too), the tiny model's text tower, each engine's memory and cold load alone, and the real
// page's time from drop to result with its model already cached.

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    out: { type: "string" },
    runs: { type: "string", default: "10" },
    warmup: { type: "string", default: "2" },
    threads: { type: "string", default: "0" },
    image: { type: "string" },
    all: { type: "boolean", default: false },
    chromium: { type: "string", default: process.env.CHROMIUM ?? "/usr/bin/chromium" },
  },
});
if (!opts.url || !opts.out) {
  console.error("usage: node bench/run.mjs --url URL --out FILE [--runs N] [--warmup N] [--threads N] [--image PNG] [--all]");
  process.exit(2);
}
const runs = Number(opts.runs);
const warmup = Number(opts.warmup);
const log = (line) => console.error(`bench: ${line}`);

/** Debian's Chromium with a fresh profile (so nothing is cached from an earlier run). */
async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "sightline-bench-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: opts.chromium,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run",
    ],
  });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, profile, close };
}

/**
 * Peak and current resident memory of the renderer processes of the Chromium using `profile`
 * (Linux /proc: VmHWM is the high-water mark). performance.measureUserAgentSpecificMemory cannot
 * serve here: it leaves out a non-shared WebAssembly.Memory, which is where Sightline's heap is.
 */
function rendererMemory(profile) {
  // Chromium rewrites its children's command lines into one string: match on substrings. The
  // fresh profile directory names this browser's processes alone.
  const commandLine = (pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, "utf8"); } catch { return ""; }
  };
  const kB = (pid, key) => {
    try {
      return Number(readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${key}:\\s+(\\d+) kB`, "m"))?.[1] ?? 0) * 1024;
    } catch {
      return 0; // the process has exited
    }
  };
  const renderers = readdirSync("/proc")
    .filter((pid) => /^\d+$/.test(pid))
    .filter((pid) => { const line = commandLine(pid); return line.includes("--type=renderer") && line.includes(`--user-data-dir=${profile}`); });
  return {
    peakBytes: Math.max(0, ...renderers.map((pid) => kB(pid, "VmHWM"))),
    residentBytes: Math.max(0, ...renderers.map((pid) => kB(pid, "VmRSS"))),
  };
}

const { context, close } = await launch();
const results = { startedAt: new Date().toISOString(), runs, warmup };
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => log(`page: ${message.text()}`));
  page.on("pageerror", (error) => log(`page error: ${error.message}`));
  await page.goto(opts.url);
  await page.waitForSelector("body[data-ready=true]");
  results.browser = await page.evaluate(() => window.bench.environment());
  results.browser.version = context.browser()?.version() ?? null;
  log(`Chromium ${results.browser.version}, ${results.browser.hardwareConcurrency} cores, cross-origin isolated: ${results.browser.crossOriginIsolated}`);

  // Sightline's builds (scripts/bench makes them). "sightline" is the module the page loads in this
  // browser (the package's wasm-builds.js decides), run as shipped (the int8 graph) and with
  // f32 weights (the descriptor's dequantize_weights); where that is the relaxed-SIMD module, the
  // SIMD128 one (what engines without relaxed SIMD get) runs too. The threaded variant when its
  // build succeeded.
  const exists = async (pkg) => (await page.request.get(new URL(pkg, opts.url).href)).ok();
  const { build, glue } = await page.evaluate(() => import("/page/sightline/wasm-builds.js").then((m) =>
    ({ build: m.fastestWasmBuild(), glue: Object.fromEntries(Object.entries(m.WASM_BUILDS).map(([name, files]) => [name, `/pkg/${files.glue}`])) })));
  results.wasmBuild = build;
  const shipped = { name: "sightline", pkg: glue[build] };
  const singleBuilds = [shipped, { ...shipped, name: "sightline-f32-weights", dequantize: true }];
  if (build !== "simd128") singleBuilds.push({ name: "sightline-simd128", pkg: glue.simd128 });
  const threadedBuilds = (await exists(glue.threads))
    ? [{ name: "sightline-threads", pkg: glue.threads }, ...(opts.all ? [{ name: "sightline-threads-f32-weights", pkg: glue.threads, dequantize: true }] : [])]
    : [];

  results.vision = [];
  log(`vision tower, 1 thread: ${singleBuilds.map((b) => b.name).join(", ")} vs onnxruntime-web`);
  results.vision.push(await page.evaluate((args) => window.bench.visionPair(args), { threads: 1, warmup, runs, builds: singleBuilds }));

  const threads = Number(opts.threads) || results.browser.hardwareConcurrency;
  if (threads > 1 && threadedBuilds.length && results.browser.crossOriginIsolated) {
    log(`vision tower, ${threads} threads: ${threadedBuilds.map((b) => b.name).join(", ")} vs onnxruntime-web`);
    try {
      results.vision.push(await page.evaluate((args) => window.bench.visionPair(args), { threads, warmup, runs, builds: threadedBuilds }));
    } catch (error) {
      // Keep the single-threaded results: say why there is no threaded row.
      results.threadsSkipped = `the threaded run failed: ${error.message.split("\n")[0]}`;
      log(results.threadsSkipped);
    }
  } else {
    results.threadsSkipped = !threadedBuilds.length ? "no threaded build (scripts/build-npm --no-threads)" : threads <= 1 ? "one core" : "page not cross-origin isolated";
    log(`threaded pair skipped: ${results.threadsSkipped}`);
  }

  log("text tower (tiny synthetic model), 1 thread");
  results.text = await page.evaluate((args) => window.bench.textPair(args), { warmup, runs, text: "This is a photo of a cat.", build: shipped });

  // Each engine alone in a browser of its own: its renderer's peak memory is then that engine's
  // (plus the page's small baseline, measured first with no engine at all).
  results.memory = [];
  for (const engine of ["none", "sightline", "ort"]) {
    log(`memory and cold load: ${engine === "none" ? "the page alone" : `${engine} alone`}`);
    const alone = await launch();
    try {
      const memoryPage = alone.context.pages()[0] ?? (await alone.context.newPage());
      await memoryPage.goto(opts.url);
      await memoryPage.waitForSelector("body[data-ready=true]");
      const measured = engine === "none" ? { engine } : await memoryPage.evaluate((args) => window.bench.engineMemory(args), { engine, build: shipped });
      results.memory.push({ ...measured, ...rendererMemory(alone.profile) });
    } finally {
      await alone.close();
    }
  }

  if (opts.image) results.page = await pageFirstResult(opts.image);
} finally {
  await close();
}
writeFileSync(opts.out, JSON.stringify(results, null, 1));
log(`raw results in ${opts.out}`);

/**
 * The real page (www/, served under /page/ with the release build and the tiny test model): visit
 * once so its worker downloads and caches the model files, reload (model from Cache Storage),
 * then drop one image and time until its result card shows the Azure JSON with its tags.
 */
async function pageFirstResult(imagePath) {
  const page = await context.newPage();
  page.on("pageerror", (error) => log(`page error (www): ${error.message}`));
  const url = new URL("page/", opts.url).href;
  log("page: first visit (downloads and caches the model)");
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]", { timeout: 300_000 });
  const reloadStart = Date.now();
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 300_000 });
  const readyMs = Date.now() - reloadStart;
  const status = await page.textContent("#status-text");
  const image = { name: "astronaut.png", type: "image/png", data: Array.from(readFileSync(imagePath)) };
  const dropToResultMs = await page.evaluate(async ({ name, type, data }) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(data)], name, { type }));
    const zone = document.querySelector("#drop-zone");
    const shown = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        if (document.querySelector(".card .json pre")?.textContent.includes("modelVersion")) {
          observer.disconnect();
          resolve(performance.now());
        }
      });
      observer.observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    const start = performance.now();
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    return (await shown) - start;
  }, image);
  const tags = await page.evaluate(() => JSON.parse(document.querySelector(".card .json pre").textContent).tagsResult?.values?.length ?? 0);
  await page.close();
  log(`page: reload to ready ${readyMs} ms, drop to result ${dropToResultMs.toFixed(0)} ms (${tags} tags)`);
  return { model: "siglip-test-tiny", image: "astronaut.png (512×512)", reloadToReadyMs: readyMs, dropToResultMs, tags, status };
}
