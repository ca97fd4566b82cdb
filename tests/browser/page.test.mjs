// The drag-and-drop page in real Chromium (Debian's /usr/bin/chromium driven by playwright-core):
// load the model, drop a photo through a real drop event, see tags, faces and the synthetic-model
// banner, type labels, search, drop a corrupt file and see its error card. Screenshots go to
// test-output/browser/. Needs www/ built and served: tests/browser/run does both. The "model from a
// URL" tests load model folders from another origin (./model-server.mjs, started here).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";
import { serveModels, folderFile, sha256 } from "./model-server.mjs";
import { withoutIsolation } from "../support/isolation.mjs";

const BASE = process.env.SIGHTLINE_URL ?? "http://127.0.0.1:8765/";
const SHARED = process.env.SIGHTLINE_SHARED ?? new URL("../../../shared", import.meta.url).pathname;
const OUT = new URL("../../test-output/browser/", import.meta.url).pathname;
mkdirSync(OUT, { recursive: true });

let browser;
let context;
let page;

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  page = await context.newPage();
  page.on("pageerror", (e) => console.error("page error:", e));
});

after(async () => browser?.close());

/** Drop files on the drop zone of `tab` with a real DragEvent carrying a DataTransfer of Files. */
async function drop(files, tab = page) {
  const payload = files.map(({ name, bytes, type }) => ({ name, type, data: Array.from(bytes) }));
  await tab.evaluate((items) => {
    const transfer = new DataTransfer();
    for (const { name, type, data } of items) transfer.items.add(new File([new Uint8Array(data)], name, { type }));
    const zone = document.querySelector("#drop-zone");
    zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, payload);
}

test("the page loads the model and says when it is synthetic", async () => {
  await page.goto(BASE);
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  assert.match(await page.textContent("#status-text"), /Ready: siglip-test-tiny with \d+ tags and face detection/);
  assert.equal(await page.isVisible("#synthetic-banner"), true, "the test-model banner is shown");
  await page.screenshot({ path: `${OUT}01-ready.png`, fullPage: true });
  // The page is an ordinary user of the npm package: its model runs in the package's worker.
  const scripts = await page.evaluate(() => performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname));
  assert.ok(scripts.includes("/sightline/index.js") && scripts.includes("/sightline/worker.js"), scripts.join(" "));
  assert.equal(scripts.some((p) => p === "/worker.js" || p.startsWith("/lib/") || p.startsWith("/pkg/")), false, scripts.join(" "));
});

test("the page runs the threaded module on every core, with the int8 kernel this CPU allows", async () => {
  // tests/browser/run serves the page as scripts/serve does: cross-origin isolated. One core has
  // nothing to split, and the relaxed-SIMD module then runs alone.
  const { isolated, cores } = await page.evaluate(() => ({ isolated: crossOriginIsolated, cores: navigator.hardwareConcurrency }));
  assert.equal(isolated, true, "the server sends COOP and COEP");
  assert.equal(await page.getAttribute("body", "data-wasm-build"), cores > 1 ? "threads" : "relaxed-simd");
  assert.equal(await page.getAttribute("body", "data-wasm-threads"), String(cores > 1 ? Math.min(cores, 8) : 1));
  if (cores > 1) assert.match(await page.textContent("#status-text"), new RegExp(`Running on ${Math.min(cores, 8)} threads\\.$`));
  // Chromium has relaxed SIMD; whether V8 computes its dot product exactly (vpdpbusd) depends on
  // the CPU: scripts/test reads its flags (SIGHTLINE_EXPECT_WASM_INT8_KERNEL).
  const kernel = await page.getAttribute("body", "data-int8-kernel");
  assert.equal(kernel, process.env.SIGHTLINE_EXPECT_WASM_INT8_KERNEL ?? kernel);
  assert.match(kernel, /^(relaxed-simd|simd128)$/);
});

test("served without COOP/COEP the page runs single-threaded, with the same results bit for bit", async () => {
  const photo = { name: "chelsea.png", type: "image/png", bytes: readFileSync(`${SHARED}/images/photos/chelsea.png`) };
  /** The Azure JSON of the photo, from a fresh tab; `plain` strips the isolation headers. */
  const analyse = async (plain) => {
    const fresh = await browser.newContext({ serviceWorkers: "block" });
    try {
      if (plain) await withoutIsolation(fresh);
      const tab = await fresh.newPage();
      await tab.goto(BASE);
      await tab.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
      const build = await tab.getAttribute("body", "data-wasm-build");
      await drop([photo], tab);
      await tab.waitForFunction(() => document.querySelector(".card .json pre")?.textContent.includes("modelVersion"), null, { timeout: 60_000 });
      return { build, json: JSON.parse(await tab.locator(".card .json pre").first().textContent()) };
    } finally {
      await fresh.close();
    }
  };
  const isolated = await analyse(false);
  const plain = await analyse(true);
  assert.equal(plain.build, "relaxed-simd");
  // The synthetic model tags nothing above the threshold, but its categories carry scores computed
  // from the embedding, printed to the last bit (the npm tests compare whole embeddings).
  assert.ok(isolated.json.categories.length > 0 && isolated.json.categories.every((c) => c.score > 0), JSON.stringify(isolated.json));
  assert.deepEqual(plain.json, isolated.json, `${isolated.build} and ${plain.build} agree`);
});

test("a dropped photo gets results, faces and the Azure JSON", async () => {
  await drop([{ name: "astronaut.png", type: "image/png", bytes: readFileSync(`${SHARED}/images/faces/astronaut.png`) }]);
  const card = page.locator(".card").first();
  await card.locator(".json pre").waitFor({ state: "attached" });
  await page.waitForFunction(() => document.querySelector(".card .json pre")?.textContent.includes("modelVersion"), null, { timeout: 60_000 });
  const json = JSON.parse(await card.locator(".json pre").textContent());
  assert.deepEqual(json.metadata, { width: 512, height: 512 });
  assert.equal(json.faces.length, 1, "one face on the astronaut");
  assert.equal(await card.locator(".face-box").count(), 1, "the face box is drawn");
  assert.match(json.warning, /synthetic/);
  await page.screenshot({ path: `${OUT}02-result.png`, fullPage: true });
});

test("custom labels score live and text search ranks images", async () => {
  await drop([{ name: "chelsea.png", type: "image/png", bytes: readFileSync(`${SHARED}/images/photos/chelsea.png`) }]);
  await page.waitForFunction(() => document.querySelectorAll(".card .json pre").length === 2 && [...document.querySelectorAll(".card .json pre")].every((p) => p.textContent.includes("modelVersion")), null, { timeout: 60_000 });
  await page.fill("#labels-input", "a cat, an astronaut");
  await page.waitForFunction(() => [...document.querySelectorAll(".card .labels")].every((l) => l.children.length === 2), null, { timeout: 30_000 });
  await page.fill("#search-input", "a cat sitting on a chair");
  await page.waitForFunction(() => [...document.querySelectorAll(".search-score")].filter((s) => !s.hidden).length === 2, null, { timeout: 30_000 });
  assert.match(await page.locator(".search-score").first().textContent(), /Search rank \d/);
  await page.screenshot({ path: `${OUT}03-labels-search.png`, fullPage: true });
});

test("a corrupt file gets an error card and the others go on", async () => {
  await drop([{ name: "broken.jpg", type: "image/jpeg", bytes: Buffer.from("this is not a jpeg at all") }]);
  await page.waitForSelector(".card.error", { timeout: 30_000 });
  assert.match(await page.locator(".card.error .state").textContent(), /InvalidImageFormat/);
  assert.equal(await page.locator(".card:not(.error)").count(), 2);
  await page.screenshot({ path: `${OUT}04-error.png`, fullPage: true });
});

test("an image URL is fetched and analysed", async () => {
  await page.fill("#url-input", new URL("no-such-image.png", BASE).href);
  await page.click("#url-form button");
  await page.waitForFunction(() => document.querySelectorAll(".card.error").length === 2, null, { timeout: 30_000 });
  assert.match(await page.locator(".card.error .state").last().textContent(), /InvalidImageUrl.*HTTP 404|HTTP 404.*InvalidImageUrl/s);
  await page.fill("#url-input", new URL("test-image.png", BASE).href);
  await page.click("#url-form button");
  await page.waitForFunction(() => document.querySelectorAll(".card:not(.error) .json pre").length === 3 && [...document.querySelectorAll(".card:not(.error) .json pre")].every((p) => p.textContent.includes("modelVersion")), null, { timeout: 60_000 });
});

test("a dropped TIFF page is read on the device and previewed", async () => {
  await drop([{ name: "phototest.tif", type: "image/tiff", bytes: readFileSync(`${SHARED}/images/ocr/phototest.tif`) }]);
  const card = page.locator(".card", { hasText: "phototest.tif" });
  // The OCR models load on first use (progress rows), then the lines are listed and outlined.
  await card.locator(".read-lines li").first().waitFor({ timeout: 120_000 });
  const lines = await card.locator(".read-lines li").allTextContents();
  assert.equal(lines.length, 8, `phototest has 8 lines: ${JSON.stringify(lines)}`);
  assert.match(lines[0], /This is a lot of 12 point text to test the/);
  assert.equal(await card.locator(".text-box").count(), 8, "each line is outlined");
  const json = JSON.parse(await card.locator(".json pre").textContent());
  assert.equal(json.readResult.backend, "local");
  assert.match(json.readResult.content, /The quick brown dog jumped over the/);
  assert.match(await page.textContent("#progress-list"), /OCR text recognizer/);
  // Chromium cannot show TIFF: the thumbnail is the PNG preview the worker made.
  await page.waitForFunction(() => [...document.querySelectorAll(".card")].some((c) =>
    c.textContent.includes("phototest.tif") && c.querySelector("img").naturalWidth > 0), null, { timeout: 30_000 });
  await card.screenshot({ path: `${OUT}03b-ocr.png` });
});

test("a file over 20 MB is refused by its size, before it is read", async () => {
  const errors = await page.locator(".card.error").count();
  await page.evaluate(() => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(20 * 1024 * 1024 + 1)], "huge.png", { type: "image/png" }));
    document.querySelector("#drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  });
  await page.waitForFunction((n) => document.querySelectorAll(".card.error").length > n, errors, { timeout: 30_000 });
  assert.match(await page.locator(".card.error .state").last().textContent(), /20971521 bytes; the limit is 20971520.*\[InvalidImageSize\]/);
});

/** A lossless WebP of zero pixels in 28 bytes: its five prefix codes have one symbol each. */
function webpBomb(width, height, alpha) {
  const bits = [];
  const put = (value, count) => { for (let i = 0; i < count; i++) bits.push((value >>> i) & 1); };
  put(0x2f, 8); put(width - 1, 14); put(height - 1, 14); put(alpha ? 1 : 0, 1); put(0, 3); put(0, 3);
  for (let i = 0; i < 5; i++) put(1, 4); // a simple code with one 1-bit symbol, 0
  const payload = Buffer.alloc(Math.ceil(bits.length / 8));
  bits.forEach((bit, i) => { payload[i >> 3] |= bit << (i & 7); });
  const header = Buffer.alloc(20);
  header.write("RIFF", 0); header.writeUInt32LE(12 + payload.length, 4); header.write("WEBPVP8L", 8); header.writeUInt32LE(payload.length, 16);
  return Buffer.concat([header, payload]);
}

/** A PNG of `side` × `side` black 8-bit RGB pixels (a few MB: rows of zeros compress well). */
function blackPng(side) {
  const chunk = (type, data) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32(Buffer.concat([Buffer.from(type), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(side, 0);
  ihdr.writeUInt32BE(side, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const rows = zlib.deflateSync(Buffer.alloc(side * (1 + 3 * side)), { level: 1 });
  return Buffer.concat([Buffer.from("\x89PNG\r\n\x1a\n", "binary"), chunk("IHDR", ihdr), chunk("IDAT", rows), chunk("IEND", Buffer.alloc(0))]);
}

/** `jpeg` with its SOF's size replaced. */
function jpegDeclaring(jpeg, width, height) {
  const bytes = Buffer.from(jpeg);
  const sof = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] >= 0xc0 && bytes[i + 1] <= 0xc2);
  bytes.writeUInt16BE(height, sof + 5);
  bytes.writeUInt16BE(width, sof + 7);
  return bytes;
}

test("bombs are refused and the tab's WebAssembly memory stays under 1 GiB", async () => {
  const gif = Buffer.from([...Buffer.from("GIF89a"), 50, 0, 50, 0, 0x80, 0, 0, 0, 0, 0, 255, 255, 255,
    0x2c, 0, 0, 0, 0, 0x38, 0x4a, 0x20, 0x4e, 0, 2, 1, 0x2c, 0, 0x3b]);
  const progressive = jpegDeclaring(readFileSync(new URL("../data/jpeg/prog444.jpg", import.meta.url)), 16000, 16000);
  const bombs = [
    { name: "bomb-rgba.webp", bytes: webpBomb(16000, 16000, true), code: "InvalidImageSize" },
    { name: "bomb-opaque.webp", bytes: webpBomb(16000, 16000, false), code: "InvalidImageSize" },
    { name: "bomb-frame.gif", bytes: gif, code: "InvalidImageDimension" },
    { name: "bomb-progressive.jpg", bytes: progressive, code: "InvalidImageSize" },
  ];
  // An ordinary photo first, so every model the page uses is loaded before measuring.
  const done = await page.locator(".card:not(.error) .json pre").count();
  await drop([{ name: "warm-up.png", type: "image/png", bytes: readFileSync(`${SHARED}/images/photos/coffee.png`) }]);
  await page.waitForFunction((n) => document.querySelectorAll(".card:not(.error) .json pre").length > n &&
    [...document.querySelectorAll(".card:not(.error) .json pre")].every((p) => p.textContent.includes("modelVersion")), done, { timeout: 120_000 });
  const before = Number(await page.evaluate(() => document.body.dataset.wasmMemory));
  assert.ok(before > 0, "the page knows its WebAssembly memory");
  for (const { name, bytes, code } of bombs) {
    const errors = await page.locator(".card.error").count();
    await drop([{ name, type: "application/octet-stream", bytes }]);
    await page.waitForFunction((n) => document.querySelectorAll(".card.error").length > n, errors, { timeout: 60_000 });
    assert.match(await page.locator(".card.error .state").last().textContent(), new RegExp(`\\[${code}\\]`), name);
  }
  const afterBombs = Number(await page.evaluate(() => document.body.dataset.wasmMemory));
  assert.ok(afterBombs - before < 64 * 2 ** 20, `refused from their headers: ${before} -> ${afterBombs} bytes`);
  // The largest image the budget admits (16,000 × 16,000 RGB: 768 MB) is analysed with every
  // feature the page runs, text reading included.
  const cards = await page.locator(".card:not(.error)").count();
  await drop([{ name: "full-size.png", type: "image/png", bytes: blackPng(16000) }]);
  await page.waitForFunction((n) => document.querySelectorAll(".card:not(.error) .json pre").length > n &&
    [...document.querySelectorAll(".card:not(.error) .json pre")].some((p) => p.textContent.includes('"width": 16000')), cards, { timeout: 480_000 });
  const peak = Number(await page.evaluate(() => document.body.dataset.wasmMemory));
  console.log(`wasm memory: ${(before / 2 ** 20).toFixed(0)} MiB before, ${(afterBombs / 2 ** 20).toFixed(0)} MiB after the bombs, ${(peak / 2 ** 20).toFixed(0)} MiB after a full-size image`);
  assert.ok(peak <= 2 ** 30, `${peak} bytes of WebAssembly memory`);
});

test("an offline reload starts from the caches and still analyses", async () => {
  await page.evaluate(() => navigator.serviceWorker.ready);
  await context.setOffline(true);
  try {
    await page.reload();
    await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
    assert.match(await page.textContent("#progress-list"), /from cache/);
    await drop([{ name: "coffee.png", type: "image/png", bytes: readFileSync(`${SHARED}/images/photos/coffee.png`) }]);
    await page.waitForFunction(() => document.querySelector(".card .json pre")?.textContent.includes("modelVersion"), null, { timeout: 60_000 });
    await page.screenshot({ path: `${OUT}05-offline.png`, fullPage: true });
  } finally {
    await context.setOffline(false);
  }
});

test("the service worker stores only the app shell, never other same-origin answers", async () => {
  await page.evaluate(() => navigator.serviceWorker.ready);
  const stored = await page.evaluate(async () => {
    // What a same-origin Azure proxy's answer looks like to the service worker: a GET elsewhere on
    // this origin, here with a key header.
    await fetch("test-image.png?poll=1", { headers: { "Ocp-Apim-Subscription-Key": "k-1234" } });
    await fetch("models/siglip-test-tiny/sightline.json");
    const names = await caches.keys();
    const shell = names.filter((name) => name.startsWith("sightline-shell-"));
    const urls = [];
    for (const name of shell) urls.push(...(await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname));
    return { shell, urls };
  });
  assert.deepEqual(stored.shell, ["sightline-shell-v5"], "one shell cache, older ones dropped");
  // Only the build this browser runs (threads in an isolated Chromium with two cores or more) is
  // stored, not the others too.
  const build = await page.getAttribute("body", "data-wasm-build");
  const buildFiles = build === "threads"
    ? ["/sightline/pkg/sightline_threads.js", "/sightline/pkg/sightline_threads_bg.wasm", "/sightline/pkg/sightline_threads_workers.js"]
    : ["/sightline/pkg/sightline_relaxed_simd.js", "/sightline/pkg/sightline_relaxed_simd_bg.wasm"];
  const shellFiles = ["/", "/index.html", "/app.js", "/sightline/index.js", "/sightline/engine.js", "/sightline/worker.js", "/sightline/model-loader.js",
    "/sightline/input.js", "/sightline/errors.js", "/sightline/wasm-builds.js", "/sightline/manifest.js", "/style.css", ...buildFiles, "/model.json", "/models/manifest.json"];
  assert.deepEqual(stored.urls.filter((u) => !shellFiles.includes(u)), [], `only the shell is cached: ${stored.urls}`);
  for (const file of buildFiles) assert.ok(stored.urls.includes(file), `${file} in ${stored.urls}`);
});

test("a model file that fails its sha256 is refused and not cached", async () => {
  const fresh = await browser.newContext();
  try {
    await fresh.route("**/vision_model_quantized.onnx", (route) => route.fulfill({ status: 200, body: Buffer.alloc(185037, 7) }));
    const tab = await fresh.newPage();
    await tab.goto(BASE);
    await tab.waitForFunction(() => /could not be loaded/.test(document.querySelector("#status-text").textContent), null, { timeout: 60_000 });
    const status = await tab.textContent("#status-text");
    assert.match(status, /sha256 .* does not match the manifest.*ChecksumMismatch/s);
    const cached = await tab.evaluate(async () => {
      const cache = await caches.open("sightline-models-v1");
      return (await cache.keys()).map((r) => r.url);
    });
    assert.equal(cached.some((url) => url.includes("vision_model")), false, `not cached: ${cached}`);
    await tab.screenshot({ path: `${OUT}06-checksum.png` });
  } finally {
    await fresh.close();
  }
});

// ---- A model from a URL ----------------------------------------------------------------------------
// In a context of its own (empty caches and storage), against model folders on another origin.

const MANIFEST = JSON.parse(readFileSync(new URL("../../models/manifest.json", import.meta.url)));
let host;
let urlContext;
let tab;

const status = () => tab.textContent("#status-text");
const waitStatus = (pattern, timeout = 60_000) =>
  tab.waitForFunction((source) => new RegExp(source, "s").test(document.querySelector("#status-text").textContent), pattern.source, { timeout });

/** Type a model URL and submit with the keyboard, as a user would. */
async function loadModelUrl(url, { remember = false } = {}) {
  await tab.setChecked("#remember-model", remember);
  await tab.fill("#model-url", url);
  // Blank the status, so the next wait sees this load's outcome and not the previous one's.
  await tab.evaluate(() => { document.querySelector("#status-text").textContent = ""; });
  await tab.focus("#model-url");
  await tab.keyboard.press("Enter");
}

/** Drop one photo on `tab` and wait for its card's JSON. */
async function dropOn(name) {
  const before = await tab.locator(".card").count();
  const data = Array.from(readFileSync(`${SHARED}/images/photos/${name}`));
  await tab.evaluate(({ name, data }) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(data)], name, { type: "image/png" }));
    document.querySelector("#drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, { name, data });
  await tab.waitForFunction((n) => document.querySelectorAll(".card")[n]?.querySelector(".json pre").textContent.includes("modelVersion"), before, { timeout: 60_000 });
  return JSON.parse(await tab.locator(".card").nth(before).locator(".json pre").textContent());
}

async function modelFiles() {
  return tab.locator("#model-files li").evaluateAll((items) =>
    items.map((li) => ({ path: li.querySelector(".path").textContent.split(" (")[0], verified: li.dataset.verified === "true", text: li.textContent })));
}

async function cachedUrls() {
  return tab.evaluate(async () => (await (await caches.open("sightline-models-v1")).keys()).map((r) => r.url));
}

test("a model folder on another origin loads by URL, checked against the manifest, and is remembered", async () => {
  host = await serveModels();
  urlContext = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  tab = await urlContext.newPage();
  tab.on("pageerror", (e) => console.error("page error:", e));
  await tab.goto(BASE);
  await tab.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  const tiny = `${host.url}/tiny/`;
  await loadModelUrl(tiny, { remember: true });
  await waitStatus(/^Ready: siglip-test-tiny from http/);
  const text = await status();
  assert.match(text, new RegExp(`Ready: siglip-test-tiny from ${tiny} with \\d+ tags and face detection\\.`));
  assert.match(text, /2 of 5 files are not in the manifest and are unverified/);
  assert.equal(await tab.isVisible("#synthetic-banner"), true, "the descriptor says synthetic: the banner stays");
  // The model's files were fetched from the other origin, with a progress bar each.
  for (const path of ["sightline.json", "onnx/vision_model_quantized.onnx", "onnx/text_model_quantized.onnx", "tokenizer.json", "tags-en.sltags"]) {
    assert.ok(host.requests.includes(`/tiny/${path}`), `${path} was requested`);
  }
  assert.match(await tab.textContent("#progress-list"), /vision model.*text model.*tokenizer/s);
  // The manifest's files are verified; the others are listed with the sha256 the page computed.
  const files = await modelFiles();
  const byPath = Object.fromEntries(files.map((f) => [f.path, f]));
  for (const path of ["onnx/vision_model_quantized.onnx", "onnx/text_model_quantized.onnx", "tokenizer.json"]) {
    assert.equal(byPath[path].verified, true, `${path} verified`);
  }
  assert.match(byPath["onnx/vision_model_quantized.onnx"].text, /verified: the manifest's sha256 of siglip-test-tiny\/onnx\/vision_model_quantized\.onnx/);
  for (const path of ["sightline.json", "tags-en.sltags"]) {
    assert.equal(byPath[path].verified, false, `${path} unverified`);
    assert.ok(byPath[path].text.includes(sha256(folderFile("tiny", path))), `${path}: its sha256 is shown`);
  }
  // A dropped photo is analysed by the model from the URL, tags included.
  const json = await dropOn("chelsea.png");
  assert.ok(Array.isArray(json.tagsResult?.values), "tags ran");
  assert.match(json.warning, /siglip-test-tiny is a synthetic test model/);
  // Remembered: the URL only, nothing else.
  const stored = await tab.evaluate(() => Object.fromEntries(Object.entries(localStorage)));
  assert.deepEqual(stored, { "sightline-model-url": tiny });
  await tab.screenshot({ path: `${OUT}20-model-url.png`, fullPage: true });

  // A reload loads the remembered model (from Cache Storage), then "Use the default model" forgets it.
  const served = host.requests.length;
  await tab.reload();
  await waitStatus(/^Ready: siglip-test-tiny from http/, 120_000);
  assert.equal(await tab.inputValue("#model-url"), tiny);
  assert.equal(await tab.isChecked("#remember-model"), true);
  assert.deepEqual(host.requests.slice(served).filter((p) => p.endsWith(".onnx")), [], "the model files came from Cache Storage");
  await tab.getByRole("button", { name: "Use the default model" }).click();
  await waitStatus(/^Ready: siglip-test-tiny with \d+ tags/);
  assert.equal(await tab.evaluate(() => localStorage.getItem("sightline-model-url")), null);
  assert.equal(await tab.isVisible("#model-files"), false);
});

test("a model URL that answers 404, or without CORS, shows its error and the previous model still analyses", async () => {
  await loadModelUrl(`${host.url}/missing/`);
  await waitStatus(/^Could not load/);
  assert.match(await status(), /Could not load the model from http:\/\/127\.0\.0\.1:\d+\/missing\/: .*HTTP 404 .*\[DownloadFailed\]\. Still using siglip-test-tiny\./s);
  await tab.screenshot({ path: `${OUT}21-model-url-404.png`, fullPage: true });
  await loadModelUrl(`${host.url}/no-cors/`);
  await waitStatus(/^Could not load/);
  assert.match(await status(), /no-cors\/.*cross-origin requests \(CORS\).*\[DownloadFailed\]\. Still using siglip-test-tiny\./s);
  const json = await dropOn("coffee.png");
  assert.equal(json.metadata.width > 0, true, "the previous model analysed the photo");
  assert.ok(json.tagsResult, "with its tags");
});

test("a file the manifest knows, with a wrong sha256, is refused and not cached", async () => {
  await loadModelUrl(`${host.url}/tampered/`);
  await waitStatus(/^Could not load/);
  assert.match(await status(), /tampered\/onnx\/vision_model_quantized\.onnx: sha256 \w+… does not match the manifest's 42e83d7b68ab… \(siglip-test-tiny\/onnx\/vision_model_quantized\.onnx\); the file was not used or cached \[ChecksumMismatch\]\. Still using siglip-test-tiny\./);
  assert.equal((await cachedUrls()).some((url) => url.includes("/tampered/onnx/")), false, "the tampered file is not cached");
  await tab.screenshot({ path: `${OUT}22-model-url-checksum.png`, fullPage: true });
  await dropOn("coffee.png");
});

test("a file that is not ONNX, or not a SigLIP vision tower, is refused with the core's error code", async () => {
  await loadModelUrl(`${host.url}/not-onnx/`);
  await waitStatus(/^Could not load/);
  assert.match(await status(), /\[InvalidModel\]\. Still using siglip-test-tiny\./);
  await loadModelUrl(`${host.url}/wrong-interface/`);
  await waitStatus(/^Could not load/);
  assert.match(await status(), /\[ModelInterfaceMismatch\]\. Still using siglip-test-tiny\./);
  await dropOn("coffee.png");
});

test("files the manifest does not know load unverified with their sha256, and the banner follows the descriptor", async () => {
  await loadModelUrl(`${host.url}/edited/`);
  await waitStatus(/^Ready: edited-tiny/);
  const text = await status();
  assert.match(text, /Ready: edited-tiny from .*\/edited\/ without tags and face detection\. 3 of 5 files are not in the manifest and are unverified/);
  // The folder's tags file was built for the original weights: refused by the model, the rest works.
  assert.match(text, /no tags: .*\[TagsModelMismatch\]; custom labels and search still work/);
  const vision = (await modelFiles()).find((f) => f.path === "onnx/vision_model_quantized.onnx");
  assert.equal(vision.verified, false);
  assert.ok(vision.text.includes(sha256(folderFile("edited", "onnx/vision_model_quantized.onnx"))), "the edited vision model's sha256 is shown");
  assert.equal(await tab.isVisible("#synthetic-banner"), false, "its descriptor says it is not synthetic");
  const json = await dropOn("chelsea.png");
  assert.equal(json.tagsResult, undefined, "no tags without a tags file");
  assert.equal(json.warning, undefined, "not flagged synthetic");
  await tab.fill("#labels-input", "a cat, a rocket");
  await tab.waitForFunction(() => document.querySelectorAll(".card")[document.querySelectorAll(".card").length - 1].querySelectorAll(".labels li").length === 2, null, { timeout: 30_000 });
  await tab.screenshot({ path: `${OUT}23-model-url-unverified.png`, fullPage: true });
});

test("a Hugging Face repository URL reads its files from resolve/main", async () => {
  const hf = [];
  await urlContext.route("https://huggingface.co/**", (route) => {
    const path = new URL(route.request().url()).pathname;
    hf.push(path);
    const match = path.match(/^\/sightline-test\/siglip-test-tiny\/resolve\/main\/(.+)$/);
    // Like the repositories of Hugging Face exports: no sightline.json and no tags file.
    const bytes = match && !["sightline.json", "tags-en.sltags"].includes(match[1]) ? folderFile("tiny", match[1]) : null;
    route.fulfill({ status: bytes ? 200 : 404, body: bytes ?? "Entry not found", headers: { "access-control-allow-origin": "*" } });
  });
  await loadModelUrl("https://huggingface.co/sightline-test/siglip-test-tiny");
  await waitStatus(/^Ready: siglip-test-tiny from https/);
  const text = await status();
  assert.match(text, /^Ready: siglip-test-tiny from https:\/\/huggingface\.co\/sightline-test\/siglip-test-tiny\/resolve\/main\/ with \d+ tags and face detection\. Every file matched the manifest's sha256\./);
  assert.match(text, /tags from this page's copy for siglip-test-tiny/);
  assert.ok(hf.includes("/sightline-test/siglip-test-tiny/resolve/main/onnx/vision_model_quantized.onnx"));
  assert.equal(await tab.isVisible("#synthetic-banner"), true, "the manifest's descriptor for these files says synthetic");
  assert.ok((await dropOn("chelsea.png")).tagsResult);
});

test("the model form works at phone width and from the keyboard", async () => {
  await tab.setViewportSize({ width: 390, height: 844 });
  await tab.getByRole("button", { name: "Use the default model" }).click();
  await waitStatus(/^Ready: siglip-test-tiny with/);
  assert.equal(await tab.isVisible("#synthetic-banner"), true);
  // Reachable by Tab from the page's start, each control labelled.
  await tab.reload();
  await tab.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  const reached = [];
  for (let i = 0; i < 8 && !reached.includes("default-model"); i++) {
    await tab.keyboard.press("Tab");
    reached.push(await tab.evaluate(() => document.activeElement.id || document.activeElement.textContent.trim()));
  }
  assert.ok(reached.includes("model-url") && reached.includes("remember-model") && reached.includes("default-model"), `tab order: ${reached}`);
  assert.equal(await tab.getByLabel(/URL of a model folder/).count(), 1);
  for (const selector of ["#model-url", "#model-form button[type=submit]", "#default-model"]) {
    const box = await tab.locator(selector).boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `${selector} fits the phone's width: ${JSON.stringify(box)}`);
  }
  assert.equal(await tab.evaluate(() => document.documentElement.scrollWidth), 390, "no horizontal scrolling");
  await tab.screenshot({ path: `${OUT}24-model-url-phone.png`, fullPage: true });
  await urlContext.close();
  await host.close();
});
