// The drag-and-drop page in real Chromium (Debian's /usr/bin/chromium driven by playwright-core):
// load the model, drop a photo through a real drop event, see tags, faces and the synthetic-model
// banner, type labels, search, drop a corrupt file and see its error card. Screenshots go to
// test-output/browser/. Needs www/ built and served: tests/browser/run does both.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

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

/** Drop files on the drop zone with a real DragEvent carrying a DataTransfer of Files. */
async function drop(files) {
  const payload = files.map(({ name, bytes, type }) => ({ name, type, data: Array.from(bytes) }));
  await page.evaluate((items) => {
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
