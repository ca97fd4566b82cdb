// Local OCR in one headless Chromium page, Sightline against Tesseract.js, image by image: the
// measurement scripts/bench-ocr reports (and bench/ocr-latest.json holds).
//
//   node bench/ocr.mjs URL RUNS IMAGE...
//
// URL serves a directory (scripts/bench-ocr builds it, cross-origin isolated) with the release npm
// package under sightline/ (its pkg/ also as pkg/, its wasm-builds.js at the top), the repository's
// models/, the images under images/, and Tesseract.js 6 from bench/node_modules: tesseract/ (its
// dist), tesseract-core/ (tesseract.js-core) and tesseract-data/ (@tesseract.js-data/eng's
// 4.0.0_best_int, the model Tesseract.js fetches by default). Three engines are loaded once and
// timed alone: Sightline's single-threaded module on the page's thread ("sightline"), Tesseract.js
// ("peer", one worker: one page is one thread for it), and Sightline as the npm package runs it in
// the page (`createAnalyzer`: its own worker, the threaded module on every core; "threads"). Then,
// per image, each engine's first call (Sightline optimises its networks for each new input shape),
// one untimed warm-up each, and RUNS runs interleaved (Sightline, Tesseract.js, Sightline threaded,
// ...). The encoded file goes in as it is: decoding is part of every engine's work. Prints one JSON
// object for the engines ("load") and one per image ("image"), with the text each engine read.
//
//   node bench/ocr.mjs --profile URL IMAGE...
//
// loads Sightline alone and prints, per image, where its read spends the time (the wasm
// `profileRead`: the stages of a first and a second call, each network per operator).

import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { launchChromium } from "../tests/npm/server.mjs";

const args = process.argv.slice(2);
const profile = args[0] === "--profile";
if (profile) args.shift();
const url = args.shift();
const runs = profile ? 0 : Number(args.shift());
const images = args;
if (!url || !images.length || !(runs >= 0)) {
  console.error("usage: node bench/ocr.mjs URL RUNS IMAGE... | node bench/ocr.mjs --profile URL IMAGE...");
  process.exit(2);
}
const log = (message) => console.error(`bench-ocr: ${message}`);

// Headless Debian Chromium with a fresh temporary profile, launched as the package tests do.
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
  page.on("console", (m) => m.type() === "error" && console.error("console:", m.text()));
  await page.goto(url);
  const load = await page.evaluate(async (profile) => {
    const get = async (path) => new Uint8Array(await (await fetch(path)).arrayBuffer());
    const { WASM_BUILDS, fastestWasmBuild } = await import("./wasm-builds.js");
    // This page's own thread: the single-threaded module the browser runs best.
    const build = fastestWasmBuild();
    let start = performance.now();
    const glue = await import(`./pkg/${WASM_BUILDS[build].glue}`);
    await glue.default();
    // The read models alone: no SigLIP model is loaded for OCR.
    const model = new glue.Analyzer();
    const ocr = "models/ppocr-v5/";
    model.load("read", {
      detector: await get(`${ocr}ppocrv5_det.onnx`),
      recognizer: await get(`${ocr}ppocrv5_rec.onnx`),
      dictionary: await get(`${ocr}ppocr_keys_v5.txt`),
      orientation: await get(`${ocr}ppocrv5_cls.onnx`),
    });
    const sightlineMs = performance.now() - start;
    if (profile) {
      window.profileRead = (bytes) => model.profileRead(bytes);
      return { type: "load", build, int8Kernel: glue.int8Kernel(), sightline_ms: sightlineMs, userAgent: navigator.userAgent };
    }

    start = performance.now();
    const { createWorker } = (await import("./tesseract/tesseract.esm.min.js")).default;
    // OEM 1: the LSTM recogniser only, Tesseract.js's default; no cache, so this is a real load.
    const tesseract = await createWorker("eng", 1, {
      workerPath: new URL("tesseract/worker.min.js", location.href).href,
      corePath: new URL("tesseract-core/", location.href).href,
      langPath: new URL("tesseract-data", location.href).href,
      cacheMethod: "none",
      gzip: true,
    });
    const peerMs = performance.now() - start;

    // The package as an app uses it: its worker, the threaded module where the page is cross-origin
    // isolated (this one is), every core.
    start = performance.now();
    const { createAnalyzer } = await import("./sightline/index.js");
    const threaded = await createAnalyzer({ model: new URL("models/manifest.json", location.href), features: ["read"], cache: false });
    const threadedMs = performance.now() - start;
    window.engines = {
      sightline: async (bytes) => (await model.analyze(bytes, { features: ["read"] })).readResult.content ?? "",
      peer: async (bytes) => (await tesseract.recognize(new Blob([bytes]))).data.text,
      threads: async (bytes) => (await threaded.analyze(bytes, { features: ["read"] })).readResult.content ?? "",
    };
    return {
      type: "load", build, int8Kernel: glue.int8Kernel(), sightline_ms: sightlineMs, peer_ms: peerMs,
      threads_ms: threadedMs, threads_runtime: threaded.runtime,
      peer: "Tesseract.js 6.0.1 (eng 4.0.0_best_int)", userAgent: navigator.userAgent,
    };
  }, profile);
  console.log(JSON.stringify(load));
  if (profile) {
    for (const image of images) {
      log(`${basename(image)}: profile`);
      const bytes = Array.from(readFileSync(image));
      const result = await page.evaluate((bytes) => window.profileRead(new Uint8Array(bytes)), bytes);
      console.log(JSON.stringify({ type: "profile", image, ...result }));
    }
  } else {
    for (const image of images) {
      log(`${basename(image)}: ${runs} runs each`);
      const bytes = Array.from(readFileSync(image));
      const result = await page.evaluate(async ({ bytes, runs }) => {
        const data = new Uint8Array(bytes);
        const time = async (engine) => {
          const start = performance.now();
          const text = await window.engines[engine](data);
          return { ms: performance.now() - start, text };
        };
        const engines = ["sightline", "peer", "threads"];
        const first = {};
        for (const engine of engines) first[engine] = await time(engine);
        for (const engine of engines) await time(engine);
        const samples = { sightline: [], peer: [], threads: [] };
        let texts = {};
        for (let run = 0; run < runs; run++) {
          for (const engine of engines) {
            const { ms, text } = await time(engine);
            samples[engine].push(ms);
            texts[engine] = text;
          }
        }
        return {
          sightline_runs_ms: samples.sightline, peer_runs_ms: samples.peer, threads_runs_ms: samples.threads,
          sightline_first_ms: first.sightline.ms, peer_first_ms: first.peer.ms, threads_first_ms: first.threads.ms,
          sightline_text: texts.sightline, peer_text: texts.peer, threads_text: texts.threads,
        };
      }, { bytes, runs });
      console.log(JSON.stringify({ type: "image", image, ...result }));
    }
  }
} finally {
  await browser.close();
}
