// examples/vite-app, built by Vite from the registry against the local package build, in real
// Chromium: the model loads in the package's worker from /models/, an uploaded photo gets tags,
// a broken file gets an error, and only what the tags feature needs is downloaded.
// tests/npm/run builds everything first (SIGHTLINE_EXAMPLE_DIST points at the Vite output).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { serve, launchChromium } from "./server.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHARED = process.env.SIGHTLINE_SHARED ?? new URL("../../../shared", import.meta.url).pathname;
const OUT = `${ROOT}test-output/npm/`;
mkdirSync(OUT, { recursive: true });

let server;
let browser;
let page;
const pageErrors = [];

before(async () => {
  server = await serve({
    app: process.env.SIGHTLINE_EXAMPLE_DIST ?? `${ROOT}examples/vite-app/dist`,
    models: `${ROOT}models`,
    images: `${SHARED}/images`,
  });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 900, height: 800 } })).newPage();
  page.on("pageerror", (e) => pageErrors.push(e));
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the app loads the synthetic model in the package's worker", async () => {
  await page.goto(server.url);
  await page.waitForSelector("body[data-analyzer]", { timeout: 120_000 });
  assert.equal(await page.getAttribute("body", "data-analyzer"), "ready", await page.textContent("#model-status"));
  assert.match(await page.textContent("#model-status"), /siglip-test-tiny: a synthetic test model/);
  // The model files came from the app's /models/, and the worker is a separate script Vite emitted.
  assert.ok(server.requests.includes("/models/siglip-test-tiny/onnx/vision_model_quantized.onnx"), server.requests.join(" "));
  assert.ok(server.requests.some((p) => /^\/assets\/worker-.*\.js$/.test(p)), "the worker chunk was loaded");
  // Vite shipped every module (engine.js names each with a literal URL); this Chromium, on a
  // cross-origin isolated page with more than one core, runs the threaded one.
  const threaded = (await page.evaluate(() => navigator.hardwareConcurrency)) > 1;
  assert.equal(await page.getAttribute("body", "data-wasm-build"), threaded ? "threads" : "relaxed-simd");
  const wasm = threaded ? /^\/assets\/sightline_threads_bg-.*\.wasm$/ : /^\/assets\/sightline_relaxed_simd_bg-.*\.wasm$/;
  assert.ok(server.requests.some((p) => wasm.test(p)), server.requests.join(" "));
  assert.equal(await page.isHidden("#model-progress"), true, "the progress bar is hidden once ready");
});

test("an uploaded photo gets tags", async () => {
  await page.setInputFiles("#photo", `${SHARED}/images/photos/chelsea.png`);
  const note = page.locator(".note").first();
  await page.waitForSelector(".note[data-state]", { timeout: 60_000 });
  assert.equal(await note.getAttribute("data-state"), "tagged", await note.locator(".state").textContent());
  assert.equal(await note.locator("h2").textContent(), "chelsea.png");
  const tags = await note.locator(".tag").allTextContents();
  // Built with tagThreshold 0 (the synthetic model's probabilities are meaningless): maxTags applies.
  assert.equal(tags.length, 8, `maxTags 8 passed through to the core, got ${JSON.stringify(tags)}`);
  assert.ok(tags.every((t) => t.trim().length > 0));
  assert.match(await note.locator(".tag").first().getAttribute("title"), /^\d+\.\d% confidence$/);
  // Tags need the tags file, not the face model: extras load only for the features that use them.
  assert.ok(server.requests.includes("/models/siglip-test-tiny/tags-en.sltags"));
  assert.equal(server.requests.some((p) => p.startsWith("/models/yunet/")), false, "the face model was not downloaded");
  await page.screenshot({ path: `${OUT}example-app-tags.png`, fullPage: true });
});

test("a file that is not an image gets the core's error, and the app goes on", async () => {
  const broken = `${OUT}not-a-photo.jpg`;
  writeFileSync(broken, "this is not a jpeg");
  await page.setInputFiles("#photo", broken);
  await page.waitForSelector(".note[data-state=error]", { timeout: 30_000 });
  assert.match(await page.locator(".note[data-state=error] .state").textContent(), /\[InvalidImageFormat\]/);
  await page.setInputFiles("#photo", `${SHARED}/images/photos/rocket.jpg`);
  await page.waitForFunction(() => document.querySelector(".note")?.dataset.state === "tagged" && document.querySelector(".note h2").textContent === "rocket.jpg", null, { timeout: 60_000 });
  assert.deepEqual(pageErrors, []);
});
