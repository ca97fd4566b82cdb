// Per-image timing of the local OCR and face detector in WebAssembly, in headless Chromium: the
// same measurement as examples/bench_local.rs natively (models loaded once, one untimed warm-up
// per image, then RUNS timed runs), through the release build scripts/bench-ocr makes.
//
//   node bench/local-models.mjs URL RUNS IMAGE...
//
// URL serves a directory with the page's wasm build in pkg/ and the repository's models/ beside it
// (scripts/bench-ocr builds and serves one). Prints one JSON object per
// image, like the native example, with "engine": "wasm".

import { readFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { launchChromium } from "../tests/npm/server.mjs";

const [url, runsArg, ...images] = process.argv.slice(2);
if (!url || !images.length) {
  console.error("usage: node bench/local-models.mjs URL RUNS IMAGE...");
  process.exit(2);
}
const runs = Number(runsArg);

// Headless Debian Chromium with a fresh temporary profile, launched as the package tests do.
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  await page.goto(url);
  const payload = images.map((path) => ({
    image: path,
    task: basename(dirname(path)) === "ocr" ? "read" : "people",
    bytes: Array.from(readFileSync(path)),
  }));
  const results = await page.evaluate(async ({ payload, runs }) => {
    const { default: init, Analyzer } = await import("./pkg/sightline.js");
    await init();
    const get = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
    // read and people need no SigLIP model: the analyzer holds only their parts.
    const model = new Analyzer();
    const ocr = "models/ppocr-v5/";
    model.load("read", {
      detector: await get(`${ocr}ppocrv5_det.onnx`),
      recognizer: await get(`${ocr}ppocrv5_rec.onnx`),
      dictionary: await get(`${ocr}ppocr_keys_v5.txt`),
      orientation: await get(`${ocr}ppocrv5_cls.onnx`),
    });
    model.load("people", { face: await get("models/yunet/face_detection_yunet_2026may.onnx") });
    const out = [];
    for (const { image, task, bytes } of payload) {
      const data = new Uint8Array(bytes);
      const times = [];
      let found = 0;
      for (let run = 0; run <= runs; run++) {
        const start = performance.now();
        const result = await model.analyze(data, { features: [task] });
        found = task === "read" ? (result.readResult.blocks[0]?.lines.length ?? 0) : (result.peopleResult?.values.length ?? 0);
        if (run > 0) times.push(performance.now() - start);
      }
      out.push({ image, task, runs_ms: times, [task === "read" ? "lines" : "faces"]: found, engine: "wasm" });
    }
    return out;
  }, { payload, runs });
  for (const result of results) console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
