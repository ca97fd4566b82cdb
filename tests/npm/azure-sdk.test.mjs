// examples/azure-sdk-app, built by Vite against the local package build, in real Chromium: a page
// written for Azure AI Vision Image Analysis with Microsoft's own JS SDK
// (@azure-rest/ai-vision-image-analysis from the registry), whose client's httpClient is
// sightline/azure's adapter. Every request below goes through the real SDK client (its pipeline,
// its URL and body building, isUnexpected) and is answered in the page by the analyzer, with
// Azure's statuses, error bodies and headers. The model is the synthetic siglip-test-tiny (its
// numbers mean nothing: shapes only); the people detector (YuNet) is the real one.
// tests/npm/run builds everything first (SIGHTLINE_AZURE_EXAMPLE_DIST points at the Vite output).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { serve, launchChromium } from "./server.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHARED = process.env.SIGHTLINE_SHARED ?? new URL("../../../shared", import.meta.url).pathname;
const OUT = `${ROOT}test-output/npm/`;
mkdirSync(OUT, { recursive: true });

// The photo's size in pixels (1126×661), with its two faces.
const PHOTO = { path: "/images/faces/two_people.jpg", width: 1126, height: 661 };

let server;
let browser;
let page;
const pageErrors = [];
const requested = [];
/** Every origin the page and its workers sent a request to (blob: and data: URLs aside). */
const requestedOrigins = () => [...new Set(requested.filter((u) => /^https?:/.test(u)).map((u) => new URL(u).origin))];

before(async () => {
  server = await serve({
    app: process.env.SIGHTLINE_AZURE_EXAMPLE_DIST ?? `${ROOT}examples/azure-sdk-app/dist`,
    models: `${ROOT}models`,
    images: `${SHARED}/images`,
  });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 900, height: 1000 } })).newPage();
  page.on("pageerror", (e) => pageErrors.push(e));
  page.context().on("request", (r) => requested.push(r.url()));
  await page.goto(server.url);
  await page.waitForSelector("body[data-analyzer]", { timeout: 120_000 });
  assert.equal(await page.getAttribute("body", "data-analyzer"), "ready", await page.textContent("#model-status"));
  // The app leaves its client, analyzer and the SDK's isUnexpected on window.imageAnalysis. What the
  // tests check of an SDK response: its status (a string, as the SDK gives it), body and headers.
  await page.evaluate(() => {
    window.summarize = (response) => ({ status: response.status, unexpected: window.imageAnalysis.isUnexpected(response), body: response.body, headers: response.headers });
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
});


test("the app's own code, unchanged but for its httpClient, shows a photo's tags and people", async () => {
  assert.match(await page.textContent("#model-status"), /siglip-test-tiny, a synthetic test model/);
  await page.setInputFiles("#photo", `${SHARED}${PHOTO.path}`);
  await page.waitForSelector("#result[data-state]", { timeout: 60_000 });
  assert.equal(await page.getAttribute("#result", "data-state"), "done", await page.textContent("#state"));
  assert.match(await page.textContent("#state"), new RegExp(`^${PHOTO.width}×${PHOTO.height}, model \\S+: \\d+ tags, 2 people\\.$`));
  assert.equal(await page.locator("#people li").count(), 2, "YuNet finds the two faces");
  assert.equal(await page.locator("#picture .box").count(), 2);
  for (const tag of await page.locator(".tag").allTextContents()) assert.ok(tag.trim().length > 0);
  // The photo went nowhere: the page and its workers asked this server alone (for the app, the
  // model and the image), never the Azure endpoint the SDK client was created with.
  assert.deepEqual(requestedOrigins(), [new URL(server.url).origin]);
  assert.ok(server.requests.includes("/models/yunet/face_detection_yunet_2026may.onnx"), "people loaded the face model");
  await page.screenshot({ path: `${OUT}azure-sdk-app.png`, fullPage: true });
});

test("tags, smartCrops and people through the SDK: 200 and Azure's shapes", async () => {
  const out = await page.evaluate(async (path) => {
    const { client } = window.imageAnalysis;
    const bytes = new Uint8Array(await (await fetch(path)).arrayBuffer());
    const size = bytes.byteLength;
    const request = (body) =>
      client.path("/imageanalysis:analyze").post({
        body,
        // As Microsoft's samples spell them (the service reads names case-insensitively).
        queryParameters: { features: ["Tags", "SmartCrops", "People"], "smartCrops-aspect-ratios": [0.9, 1.33] },
        contentType: "application/octet-stream",
      });
    const fromBytes = summarize(await request(bytes));
    // The SDK also takes a ReadableStream; the adapter reads it the way fetch() would send it.
    const fromStream = summarize(await request(new Blob([bytes]).stream()));
    return { fromBytes, fromStream, intact: bytes.byteLength === size };
  }, PHOTO.path);
  const { status, unexpected, body, headers } = out.fromBytes;
  assert.equal(status, "200", JSON.stringify(body));
  assert.equal(unexpected, false);
  assert.match(headers["content-type"], /^application\/json/);
  assert.equal(out.intact, true, "the app's bytes were not transferred away (the pipeline may resend them)");
  assert.deepEqual(body.metadata, { width: PHOTO.width, height: PHOTO.height });
  assert.equal(typeof body.modelVersion, "string");
  assert.ok(Array.isArray(body.tagsResult.values));
  for (const tag of body.tagsResult.values) {
    assert.equal(typeof tag.name, "string");
    assert.ok(tag.confidence >= 0 && tag.confidence <= 1, JSON.stringify(tag));
  }
  const inside = ({ x, y, w, h }) => x >= 0 && y >= 0 && w > 0 && h > 0 && x + w <= PHOTO.width && y + h <= PHOTO.height;
  const crops = body.smartCropsResult.values;
  assert.equal(crops.length, 2, JSON.stringify(crops));
  for (const [crop, ratio] of crops.map((c, i) => [c, [0.9, 1.33][i]])) {
    assert.ok(Math.abs(crop.aspectRatio - ratio) < 0.01, `asked ${ratio}, got ${JSON.stringify(crop)}`);
    const { w, h } = crop.boundingBox;
    assert.ok(Math.abs(w / h - ratio) < 0.02, `a ${ratio} crop is ${w}×${h}`);
    assert.ok(inside(crop.boundingBox), `inside the image: ${JSON.stringify(crop.boundingBox)}`);
  }
  const people = body.peopleResult.values;
  assert.equal(people.length, 2, JSON.stringify(people));
  for (const person of people) {
    assert.ok(inside(person.boundingBox), JSON.stringify(person));
    assert.ok(person.confidence > 0 && person.confidence <= 1, JSON.stringify(person));
  }
  assert.deepEqual(out.fromStream.body, body, "the stream's answer is the bytes' answer");
});

test("an image URL ({url} as JSON, as Microsoft's samples send it) is downloaded and analysed", async () => {
  const out = await page.evaluate(async () => {
    const { client } = window.imageAnalysis;
    const response = await client.path("/imageanalysis:analyze").post({
      body: { url: new URL("/images/photos/chelsea.png", location.href).href },
      queryParameters: { features: ["Tags"] },
      contentType: "application/json",
    });
    return summarize(response);
  });
  assert.equal(out.status, "200", JSON.stringify(out.body));
  assert.deepEqual(out.body.metadata, { width: 451, height: 300 });
  assert.ok(Array.isArray(out.body.tagsResult.values));
});

test("refusals come back as Azure's: status, x-ms-error-code and {error: {code, message, innererror}}", async () => {
  const out = await page.evaluate(async (path) => {
    const { client } = window.imageAnalysis;
    const bytes = new Uint8Array(await (await fetch(path)).arrayBuffer());
    const analyze = (options) => client.path("/imageanalysis:analyze").post({ contentType: "application/octet-stream", body: bytes, ...options });
    // The pipeline's own response object, as the SDK's onResponse callback sees it.
    let raw;
    const caption = summarize(await analyze({ queryParameters: { features: ["caption"] }, onResponse: (r) => (raw = r) }));
    const notImage = summarize(await analyze({ body: new TextEncoder().encode("this is not an image"), queryParameters: { features: ["tags"] } }));
    const text = summarize(await analyze({ contentType: "text/plain", body: "hello", queryParameters: { features: ["tags"] } }));
    const notFound = summarize(await client.pathUnchecked("/imageanalysis:describe").post({ contentType: "application/octet-stream", body: bytes }));
    const get = summarize(await client.path("/imageanalysis:analyze").get());
    return {
      caption,
      rawHeader: raw.headers.get("x-ms-error-code"),
      rawHeadersJson: raw.headers.toJSON(),
      notImage,
      text,
      notFound,
      get,
    };
  }, PHOTO.path);
  const expectError = (response, status, code, inner) => {
    assert.equal(response.status, String(status), JSON.stringify(response));
    assert.equal(response.unexpected, true);
    assert.equal(response.body.error.code, code, JSON.stringify(response.body));
    if (inner) assert.equal(response.body.error.innererror.code, inner, JSON.stringify(response.body));
    assert.equal(typeof response.body.error.message, "string");
    assert.equal(response.headers["x-ms-error-code"], code);
  };
  expectError(out.caption, 400, "InvalidRequest", "NotSupportedVisualFeature");
  // The adapter's headers are core-rest-pipeline's HttpHeaders (createHttpHeaders): get() and toJSON().
  assert.equal(out.rawHeader, "InvalidRequest");
  assert.equal(out.rawHeadersJson["x-ms-error-code"], "InvalidRequest");
  expectError(out.notImage, 400, "InvalidRequest", "InvalidImageFormat");
  expectError(out.text, 415, "InvalidRequest", "UnsupportedMediaType");
  expectError(out.notFound, 404, "404");
  expectError(out.get, 405, "405");
});

test("vectorizeText and vectorizeImage through the same client: vectors in one space", async () => {
  const out = await page.evaluate(async (path) => {
    const { client, analyzer } = window.imageAnalysis;
    const bytes = new Uint8Array(await (await fetch(path)).arrayBuffer());
    // The image analysis client types only /imageanalysis:analyze; pathUnchecked is the SDK's way
    // to other routes of the same endpoint. The retrieval API has its own api-version.
    const query = { "api-version": "2024-02-01", "model-version": "latest" };
    const text = summarize(await client.pathUnchecked("/retrieval:vectorizeText").post({ contentType: "application/json", body: { text: "two people" }, queryParameters: query }));
    const image = summarize(await client.pathUnchecked("/retrieval:vectorizeImage").post({ contentType: "application/octet-stream", body: bytes, queryParameters: query }));
    // Azure's dated model (what apps pin) is another vector space: refused, not silently mixed.
    const dated = summarize(await client.pathUnchecked("/retrieval:vectorizeImage").post({ contentType: "application/octet-stream", body: bytes, queryParameters: { ...query, "model-version": "2023-04-15" } }));
    return { text, image, dated, dim: analyzer.model.embeddingDim };
  }, PHOTO.path);
  for (const response of [out.text, out.image]) {
    assert.equal(response.status, "200", JSON.stringify(response.body));
    assert.equal(typeof response.body.modelVersion, "string");
    assert.equal(response.body.vector.length, out.dim);
    assert.ok(response.body.vector.every(Number.isFinite));
  }
  assert.equal(out.text.body.vector.length, out.image.body.vector.length);
  assert.equal(out.dated.status, "400");
  assert.equal(out.dated.body.error.innererror.code, "NotSupportedModelVersion", JSON.stringify(out.dated.body));
});

test("an abortSignal rejects the SDK's call with an AbortError, and the client goes on", async () => {
  const out = await page.evaluate(async (path) => {
    const { client } = window.imageAnalysis;
    const bytes = new Uint8Array(await (await fetch(path)).arrayBuffer());
    const analyze = (abortSignal) =>
      client.path("/imageanalysis:analyze").post({ body: bytes, contentType: "application/octet-stream", queryParameters: { features: ["Tags"] }, abortSignal });
    const outcome = (promise) => promise.then((r) => `answered ${r.status}`, (e) => `${e.name}: ${e.message}`);
    const controller = new AbortController();
    const running = outcome(analyze(controller.signal));
    controller.abort();
    const already = await outcome(analyze(AbortSignal.abort()));
    return { running: await running, already, after: await outcome(analyze()) };
  }, PHOTO.path);
  assert.match(out.running, /^AbortError: /);
  assert.match(out.already, /^AbortError: .*canceled/);
  assert.equal(out.after, "answered 200");
});

test("a disposed analyzer: the SDK's call rejects with a RestError that says so", async () => {
  const out = await page.evaluate(async () => {
    const { client, analyzer } = window.imageAnalysis;
    analyzer.dispose();
    return client
      .path("/imageanalysis:analyze")
      .post({ body: new Uint8Array(8), contentType: "application/octet-stream", queryParameters: { features: ["Tags"] } })
      .then((r) => ({ answered: r.status }), (e) => ({ name: e.name, code: e.code, statusCode: e.statusCode }));
  });
  assert.deepEqual(out, { name: "RestError", code: "AnalyzerDisposed", statusCode: undefined });
  assert.deepEqual(pageErrors, []);
});
