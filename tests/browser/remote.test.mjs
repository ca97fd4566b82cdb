// The page with Azure services configured in its settings panel, against the mock services
// (tests/mock_azure/server.py, started by tests/browser/run on another origin, so CORS is real):
// OCR text from Document Intelligence drawn over the image, faces from the Face API, captions,
// dense captions and objects from a vision-language model (Azure OpenAI's and OpenAI's chat
// completions), every error case on its card next to the local results, and the key never in the
// console, URL or storage unless asked. Screenshots go to test-output/browser/.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BASE = process.env.SIGHTLINE_URL ?? "http://127.0.0.1:8765/";
const MOCK = process.env.SIGHTLINE_MOCK_AZURE;
const KEY = process.env.SIGHTLINE_MOCK_KEY ?? "browser-test-key-3d81";
const SHARED = process.env.SIGHTLINE_SHARED ?? new URL("../../../shared", import.meta.url).pathname;
const OUT = new URL("../../test-output/browser/", import.meta.url).pathname;
mkdirSync(OUT, { recursive: true });

let browser;
let page;
const consoleLines = [];

before(async () => {
  assert.ok(MOCK, "SIGHTLINE_MOCK_AZURE is set (tests/browser/run starts the mock)");
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const context = await browser.newContext({ viewport: { width: 1100, height: 1000 } });
  page = await context.newPage();
  page.on("console", (message) => consoleLines.push(message.text()));
  page.on("pageerror", (error) => consoleLines.push(String(error)));
  page.on("worker", (worker) => worker.on("console", (message) => consoleLines.push(message.text())));
  await page.goto(BASE);
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
});

after(async () => browser?.close());

/** Fill the settings panel with the keyboard-reachable controls, as a user would, and apply it. */
async function configure({
  readScenario, readKey = KEY, faceScenario, faceKey = KEY, timeout = 30, remember = false, landmarks = false,
  captionScenario, captionKey = KEY, captionModel = "gpt-4o", captionApi = "auto", genderNeutral = false,
}) {
  if (!(await page.locator("#services-panel").evaluate((d) => d.open))) await page.click("#services-panel summary");
  await page.fill("#read-endpoint", readScenario ? `${MOCK}/s/${readScenario}` : "");
  await page.fill("#read-key", readScenario ? readKey : "");
  await page.fill("#face-endpoint", faceScenario ? `${MOCK}/s/${faceScenario}` : "");
  await page.fill("#face-key", faceScenario ? faceKey : "");
  await page.setChecked("#face-landmarks", landmarks);
  await page.fill("#caption-endpoint", captionScenario ? `${MOCK}/s/${captionScenario}` : "");
  await page.fill("#caption-key", captionScenario ? captionKey : "");
  await page.fill("#caption-model", captionScenario ? captionModel : "");
  await page.selectOption("#caption-api", captionApi);
  await page.setChecked("#gender-neutral-caption", genderNeutral);
  await page.fill("#remote-timeout", String(timeout));
  await page.setChecked("#remember-services", remember);
  await page.getByRole("button", { name: "Use these services" }).click();
  await page.waitForFunction(() => /In use|No remote service|Not applied/.test(document.querySelector("#services-status").textContent));
  return page.textContent("#services-status");
}

async function drop(name, type, bytes) {
  const before = await page.locator(".card").count();
  await page.evaluate(({ name, type, data }) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([new Uint8Array(data)], name, { type }));
    const zone = document.querySelector("#drop-zone");
    zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, { name, type, data: Array.from(bytes) });
  await page.waitForFunction((n) => document.querySelectorAll(".card").length > n && document.querySelectorAll(".card")[n].querySelector(".json pre").textContent.includes("modelVersion"), before, { timeout: 90_000 });
  const card = page.locator(".card").nth(before);
  return { card, json: JSON.parse(await card.locator(".json pre").textContent()) };
}

const phototest = () => readFileSync(`${SHARED}/images/ocr/phototest.tif`);

test("text read by Document Intelligence is listed and drawn over the image", async () => {
  const status = await configure({ readScenario: "ok~page" });
  assert.match(status, /In use: Document Intelligence for text/);
  const { card, json } = await drop("phototest.tif", "image/tiff", phototest());
  assert.equal(json.readResult.backend, "azure");
  const lines = await card.locator(".read-lines li").allTextContents();
  assert.equal(lines.length, 8);
  assert.equal(lines[0], "This is a lot of 12 point text to test the");
  assert.deepEqual(json.readResult.blocks[0].lines[0].boundingPolygon, [{ x: 36, y: 38 }, { x: 571, y: 38 }, { x: 571, y: 65 }, { x: 36, y: 65 }]);
  assert.equal(await card.locator("polygon.text-box").count(), 8, "a polygon per line");
  assert.ok(json.tagsResult, "the local features ran too");
  assert.equal(await card.locator(".feature-errors").isHidden(), true);
  await card.screenshot({ path: `${OUT}10-remote-read.png` });
});

test("faces come from the Face API when it is configured", async () => {
  await configure({ faceScenario: "ok~page", landmarks: true });
  const { card, json } = await drop("astronaut.png", "image/png", readFileSync(`${SHARED}/images/faces/astronaut.png`));
  assert.deepEqual(json.faces[0].faceRectangle, { left: 394, top: 54, width: 78, height: 78 });
  assert.ok(json.faces[0].faceLandmarks.pupilLeft, "the landmarks asked for");
  assert.equal(json.peopleResult.values.length, 1);
  assert.equal(await card.locator(".face-box").count(), 1);
});

// Each failure is its own typed error on the card, and the local results stay.
const failures = [
  { name: "a wrong key", settings: { readScenario: "ok~bad-key", readKey: "wrong-key-in-page" }, code: "RemoteUnauthorized", text: /HTTP 401/ },
  { name: "a 400", settings: { readScenario: "bad-request~page" }, code: "RemoteServiceError", text: /InvalidContent/ },
  { name: "a failed operation", settings: { readScenario: "failed~page" }, code: "RemoteOperationFailed", text: /corrupted/ },
  { name: "malformed JSON", settings: { readScenario: "malformed~page" }, code: "RemoteMalformedResponse", text: /cannot read/ },
  { name: "a hidden Operation-Location (CORS)", settings: { readScenario: "no-expose~page" }, code: "RemoteMalformedResponse", text: /Access-Control-Expose-Headers/ },
  { name: "a service refusing CORS", settings: { readScenario: "no-cors~page" }, code: "RemoteNetwork", text: /CORS/ },
  { name: "a hanging connection", settings: { readScenario: "hang~page", timeout: 3 }, code: "RemoteTimeout", text: /did not finish within/ },
  { name: "throttling that never ends", settings: { readScenario: "throttle-always~page" }, code: "RemoteThrottled", text: /429/ },
  { name: "a redirect on the upload", settings: { readScenario: "redirect~page" }, code: "RemoteMalformedResponse", text: /redirects are never followed/ },
  { name: "a redirect on the poll", settings: { readScenario: "redirect-poll~page" }, code: "RemoteMalformedResponse", text: /redirects are never followed/ },
  { name: "an answer that quotes the key", settings: { readScenario: "echo-key~page" }, code: "RemoteServiceError", text: /Subscription key '<redacted>'/ },
  { name: "a 65 MiB answer", settings: { readScenario: "huge~page" }, code: "RemoteMalformedResponse", text: /larger than 64 MiB/ },
];
for (const { name, settings, code, text } of failures) {
  test(`${name} shows ${code} on the card, beside the local results`, async () => {
    await configure(settings);
    const { card, json } = await drop(`${code}.tif`, "image/tiff", phototest());
    assert.equal(json.featureErrors[0].feature, "read");
    assert.equal(json.featureErrors[0].error.innererror.code, code);
    const shown = await card.locator(".feature-errors li").textContent();
    assert.match(shown, new RegExp(`\\[${code}\\]`));
    assert.match(shown, text);
    assert.ok(json.tagsResult, "local tags are kept");
    // Present and empty, as Azure's clients expect of a feature they asked for; not "No text found".
    assert.deepEqual(json.readResult.blocks, []);
    assert.equal(await card.locator(".read-lines").isHidden(), true);
  });
}

test("429 twice, then the text: the page waits as Retry-After asked", async () => {
  await configure({ readScenario: "throttle-twice~page" });
  const started = Date.now();
  const { json } = await drop("throttled.tif", "image/tiff", phototest());
  assert.ok(Date.now() - started >= 2000);
  assert.equal(json.readResult.blocks[0].lines.length, 8);
  assert.equal(json.featureErrors, undefined);
});

/** The mock's vision reply (GET /__fixture/vision): its captions, and its boxes as fractions of the image. */
const visionFixture = async () => (await fetch(`${MOCK}/__fixture/vision`)).json();
/** Boxes ([left, top, right, bottom] fractions) that keep an area once clipped into the image. */
const inside = (items) => items.filter(({ box: [l, t, r, b] }) => Math.min(r, 1) > Math.max(l, 0) && Math.min(b, 1) > Math.max(t, 0));
const photo = () => readFileSync(`${SHARED}/images/faces/grace_hopper.jpg`);
/** `fn` with the page's on-device OCR off (it would read every photo here, for nothing), then on again. */
async function withoutLocalRead(fn) {
  await page.setChecked("#read-text", false);
  try {
    return await fn();
  } finally {
    await page.setChecked("#read-text", true);
  }
}

test("captions, dense captions and objects from Azure OpenAI and from an OpenAI-compatible server", () => withoutLocalRead(async () => {
  const fixture = await visionFixture();
  const regions = inside(fixture.denseCaptions);
  const objects = inside(fixture.objects);
  assert.ok(regions.length < fixture.denseCaptions.length && objects.length < fixture.objects.length, "the mock sends boxes to drop");
  const runs = [
    { api: "azure-openai", scenario: "ok~vlm-azure", status: /In use: Azure OpenAI for captions and objects/, genderNeutral: false, path: "/openai/deployments/gpt-4o/chat/completions" },
    { api: "openai-compatible", scenario: "ok~vlm-v1", status: /In use: an OpenAI-compatible model for captions and objects/, genderNeutral: true, path: "/v1/chat/completions" },
  ];
  for (const { api, scenario, status, genderNeutral, path } of runs) {
    assert.match(await configure({ captionScenario: scenario, captionApi: api, genderNeutral }), status);
    const { card, json } = await drop(`vlm-${api}.jpg`, "image/jpeg", photo());
    assert.equal(json.featureErrors, undefined, JSON.stringify(json.featureErrors));
    const caption = genderNeutral ? fixture.caption.replace(/\bman\b/, "person") : fixture.caption;
    assert.equal(json.captionResult.text, caption);
    assert.equal(json.captionResult.source.backend, api);
    assert.ok(json.captionResult.confidence > 0 && json.captionResult.confidence < 1, "a confidence from the logprobs");
    // The caption under the image, with its confidence.
    const shown = await card.locator(".vlm-caption").textContent();
    assert.ok(shown.includes(caption), shown);
    assert.match(shown, new RegExp(`${Math.round(json.captionResult.confidence * 100)}%`));
    // The whole image first, then the regions kept; the objects kept. Boxes for all but the first dense caption.
    assert.equal(json.denseCaptionsResult.values.length, 1 + regions.length);
    assert.deepEqual(json.denseCaptionsResult.values[0].boundingBox, { x: 0, y: 0, w: json.metadata.width, h: json.metadata.height });
    assert.deepEqual(json.objectsResult.values.map((o) => o.tags[0].name), objects.map((o) => o.name));
    assert.equal(await card.locator(".dense-box").count(), regions.length, "the whole image is not drawn as a box");
    assert.equal(await card.locator(".object-box").count(), objects.length);
    // Placed in % of the image, so they scale with the thumbnail.
    const first = await card.locator(".object-box").first().evaluate((div) => ({ left: div.style.left, top: div.style.top, label: div.textContent }));
    assert.ok(Math.abs(parseFloat(first.left) - 100 * objects[0].box[0]) < 1 && Math.abs(parseFloat(first.top) - 100 * objects[0].box[1]) < 1, JSON.stringify(first));
    assert.match(first.label, new RegExp(`^${objects[0].name} \\d+%$`));
    assert.match(await card.locator(".dense-box").first().textContent(), new RegExp(`^${genderNeutral ? "a person" : "a man"} wearing a red helmet \\d+%$`));
    assert.equal(await card.locator(".regions li").count(), objects.length + 1 + regions.length, "objects and regions are listed too");
    assert.ok(json.tagsResult, "the local features ran too");
    await card.screenshot({ path: `${OUT}11-vlm-${api}.png` });
    const requests = (await (await fetch(`${MOCK}/__requests`)).json()).filter((r) => r.token === scenario);
    assert.equal(requests.length, 1, "one model call answers the three features");
    assert.equal(requests[0].path, path);
    assert.equal(requests[0].keyHeader, "right");
    assert.deepEqual(requests[0].vision.fields, ["caption", "denseCaptions", "objects"]);
  }
}));

test("without token logprobs the caption has no confidence, and the page says so", () => withoutLocalRead(async () => {
  await configure({ captionScenario: "no-logprobs~vlm", captionApi: "openai-compatible" });
  const { card, json } = await drop("vlm-no-logprobs.jpg", "image/jpeg", photo());
  assert.equal(json.captionResult.confidence, undefined);
  assert.match(json.warning, /no token log-probabilities/);
  assert.match(await card.locator(".vlm-caption").textContent(), /no confidence given/);
  assert.equal(await card.locator(".object-box").count(), inside((await visionFixture()).objects).length);
}));

test("each failure of the vision-language model shows its own code on the card, beside the local results", () => withoutLocalRead(async () => {
  const cases = [
    { name: "a wrong key", settings: { captionScenario: "ok~vlm-401", captionKey: "wrong-vlm-key", captionApi: "azure-openai" }, code: "RemoteUnauthorized" },
    { name: "an unknown deployment", settings: { captionScenario: "ok~vlm-404", captionModel: "gpt-nope", captionApi: "azure-openai" }, code: "RemoteModelNotFound" },
    { name: "throttling that never ends", settings: { captionScenario: "throttle-always~vlm", captionApi: "azure-openai" }, code: "RemoteThrottled" },
    { name: "the content filter", settings: { captionScenario: "content-filter~vlm", captionApi: "azure-openai" }, code: "RemoteContentFiltered" },
    { name: "a reply that is not JSON", settings: { captionScenario: "not-json~vlm", captionApi: "openai-compatible" }, code: "RemoteInvalidModelOutput" },
    { name: "a hanging connection", settings: { captionScenario: "hang~vlm", captionApi: "azure-openai", timeout: 3 }, code: "RemoteTimeout" },
  ];
  for (const { name, settings, code } of cases) {
    await configure(settings);
    const { card, json } = await drop(`vlm-${code}.jpg`, "image/jpeg", photo());
    assert.deepEqual(json.featureErrors.map((f) => [f.feature, f.error.innererror.code]), [["caption", code], ["denseCaptions", code], ["objects", code]], name);
    // Objects present and empty (as Azure's clients expect); no caption, nothing drawn.
    assert.deepEqual(json.objectsResult.values, [], name);
    assert.equal(json.captionResult, undefined, name);
    assert.equal(json.denseCaptionsResult, undefined, name);
    assert.ok(json.tagsResult, `${name}: local tags are kept`);
    const shown = await card.locator(".feature-errors li").allTextContents();
    assert.equal(shown.length, 1, `${name}: one line for the one failed call: ${shown}`);
    assert.match(shown[0], new RegExp(`^caption, denseCaptions, objects: .*\\[${code}\\]$`), name);
    assert.equal(await card.locator(".vlm-caption").isHidden(), true, name);
    assert.equal(await card.locator(".object-box, .dense-box").count(), 0, name);
  }
}));

test("no redirect took the key to another origin, and no answer showed it", async () => {
  const requests = await (await fetch(`${MOCK}/__requests`)).json();
  const redirected = requests.filter((r) => r.token.startsWith("redirect"));
  assert.ok(redirected.length >= 3, "the redirect scenarios ran");
  assert.deepEqual(requests.filter((r) => r.listener !== "main"), [], "nothing reached the other origin");
  const cards = await page.locator(".card").allTextContents();
  assert.ok(!cards.some((text) => text.includes(KEY)), "no card shows the key");
});

test("plain http to another host is refused in the settings panel", async () => {
  if (!(await page.locator("#services-panel").evaluate((d) => d.open))) await page.click("#services-panel summary");
  await page.fill("#read-endpoint", "http://di.example.com");
  await page.fill("#read-key", KEY);
  await page.getByRole("button", { name: "Use these services" }).click();
  await page.waitForFunction(() => /Not applied/.test(document.querySelector("#services-status").textContent));
  assert.match(await page.textContent("#services-status"), /clear text.*\[RemoteInvalidEndpoint\]/s);
});

test("an invalid endpoint is refused in the settings panel", async () => {
  await page.fill("#read-endpoint", "not a url");
  await page.getByRole("button", { name: "Use these services" }).click();
  await page.waitForFunction(() => /Not applied/.test(document.querySelector("#services-status").textContent));
  assert.match(await page.textContent("#services-status"), /RemoteInvalidEndpoint/);
});

test("keys stay in memory unless remembered, and never reach the console or the URL", async () => {
  await configure({ readScenario: "ok~page" });
  assert.equal(await page.evaluate(() => localStorage.getItem("sightline-services")), null, "not stored without consent");
  await configure({ readScenario: "ok~page", remember: true });
  assert.match(await page.evaluate(() => localStorage.getItem("sightline-services")), new RegExp(KEY));
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 120_000 });
  assert.equal(await page.inputValue("#read-key"), KEY, "remembered settings come back");
  await page.waitForFunction(() => /In use/.test(document.querySelector("#services-status").textContent));
  if (!(await page.locator("#services-panel").evaluate((d) => d.open))) await page.click("#services-panel summary");
  await page.click("#forget-services");
  assert.equal(await page.evaluate(() => localStorage.getItem("sightline-services")), null);
  assert.equal(await page.inputValue("#read-key"), "");
  assert.ok(!page.url().includes(KEY));
  const leaked = consoleLines.filter((line) => line.includes(KEY) || line.includes("wrong-key-in-page") || line.includes("wrong-vlm-key"));
  assert.deepEqual(leaked, [], "no key in the console");
  const requests = await (await fetch(`${MOCK}/__requests`)).json();
  assert.ok(requests.length > 10 && requests.every((r) => !r.keyInUrl), "no key in any URL the mock saw");
});
