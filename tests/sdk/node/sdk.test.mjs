// `sightline serve` through Microsoft's JavaScript REST client, @azure-rest/ai-vision-image-analysis
// (pinned in package.json), called as its README shows: createClient(endpoint, AzureKeyCredential),
// client.path("/imageanalysis:analyze").post({ body, queryParameters, contentType }), isUnexpected().
// Run by tests/sdk/run, which starts the servers and sets SIGHTLINE_SDK_ENDPOINT (with --key and
// --allow-private-urls), SIGHTLINE_SDK_KEY, SIGHTLINE_SDK_STRICT_ENDPOINT (no key, private URLs
// refused) and SIGHTLINE_SDK_IMAGES. The model is synthetic: shapes and ranges are checked, not
// meaning; read runs the real PP-OCRv5, so its text is checked.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import ImageAnalysis, { isUnexpected } from "@azure-rest/ai-vision-image-analysis";
import { AzureKeyCredential } from "@azure/core-auth";

// The package is CommonJS: its `exports.default` is createClient.
const createClient = ImageAnalysis.default;

const endpoint = process.env.SIGHTLINE_SDK_ENDPOINT;
const key = process.env.SIGHTLINE_SDK_KEY;
const strictEndpoint = process.env.SIGHTLINE_SDK_STRICT_ENDPOINT;
const images = process.env.SIGHTLINE_SDK_IMAGES;
assert.ok(endpoint && key && strictEndpoint && images, "run through tests/sdk/run");

const COFFEE = path.join(images, "photos/coffee.png");
const TWO_PEOPLE = path.join(images, "faces/two_people.jpg");
const PHOTOTEST = path.join(images, "ocr/phototest.tif");

// allowInsecureConnection: the server is plain HTTP on 127.0.0.1 (the key policy refuses http
// otherwise). No retries: a failure should show at once, not after the pipeline's back-off.
const options = { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } };
const client = (url = endpoint, k = key) => createClient(url, new AzureKeyCredential(k), options);

/** Width and height from a PNG's IHDR or a JPEG's SOFn marker. */
function imageSize(file) {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) === 0x89504e47) return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  assert.equal(b.readUInt16BE(0), 0xffd8, `${file}: neither PNG nor JPEG`);
  for (let i = 2; i + 9 < b.length; ) {
    if (b[i] !== 0xff) { i++; continue; }
    const marker = b[i + 1];
    if (marker === 0xff) { i++; continue; }
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
    }
    i += 2 + b.readUInt16BE(i + 2);
  }
  throw new Error(`${file}: no SOF marker`);
}

// A static file server on 127.0.0.1 for the URL bodies; it records what it was asked for.
let staticServer;
let staticUrl;
const requested = [];
before(async () => {
  staticServer = http.createServer((req, res) => {
    requested.push(req.url);
    const file = path.join(images, decodeURIComponent(new URL(req.url, "http://x").pathname));
    try {
      const bytes = readFileSync(file);
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": bytes.length });
      res.end(bytes);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => staticServer.listen(0, "127.0.0.1", resolve));
  staticUrl = `http://127.0.0.1:${staticServer.address().port}`;
});
after(() => new Promise((resolve) => staticServer.close(resolve)));

function inRange(value, low, high, what) {
  assert.equal(typeof value, "number", what);
  assert.ok(value >= low && value <= high, `${what}: ${value} not in [${low}, ${high}]`);
}

function checkBox(box, size, what) {
  for (const k of ["x", "y", "w", "h"]) assert.equal(typeof box[k], "number", `${what}.${k}`);
  assert.ok(box.w > 0 && box.h > 0, `${what}: empty ${JSON.stringify(box)}`);
  assert.ok(box.x >= 0 && box.y >= 0 && box.x + box.w <= size.width && box.y + box.h <= size.height,
    `${what}: ${JSON.stringify(box)} outside ${size.width}x${size.height}`);
}

/** The checks of an analyze answer for tags, smartCrops (0.9 and 1.33) and people. */
function checkResult(body, file, minPeople = 0) {
  const size = imageSize(file);
  assert.equal(typeof body.modelVersion, "string");
  assert.deepEqual(body.metadata, size);
  assert.ok(Array.isArray(body.tagsResult?.values), "tagsResult.values");
  for (const tag of body.tagsResult.values) {
    assert.ok(typeof tag.name === "string" && tag.name.length > 0);
    inRange(tag.confidence, 0, 1, `tag ${tag.name}`);
  }
  const crops = [...body.smartCropsResult.values].sort((a, b) => a.aspectRatio - b.aspectRatio);
  assert.equal(crops.length, 2, JSON.stringify(crops));
  [0.9, 1.33].forEach((ratio, i) => {
    const crop = crops[i];
    assert.ok(Math.abs(crop.aspectRatio - ratio) <= 0.01, `aspectRatio ${crop.aspectRatio} for ${ratio}`);
    checkBox(crop.boundingBox, size, `crop ${ratio}`);
    assert.ok(Math.abs(crop.boundingBox.w / crop.boundingBox.h - crop.aspectRatio) <= 0.05,
      `crop ${JSON.stringify(crop)}: w/h is not its aspectRatio`);
  });
  assert.ok(Array.isArray(body.peopleResult?.values), "peopleResult.values");
  assert.ok(body.peopleResult.values.length >= minPeople, `fewer than ${minPeople} people`);
  for (const person of body.peopleResult.values) {
    checkBox(person.boundingBox, size, "person");
    inRange(person.confidence, 0, 1, "person confidence");
  }
}

const features = ["tags", "smartCrops", "people"];

test("analyze image bytes: tags, smart crops, people", async (t) => {
  for (const file of [TWO_PEOPLE, COFFEE]) {
    const result = await client().path("/imageanalysis:analyze").post({
      body: readFileSync(file),
      queryParameters: { features, "smartcrops-aspect-ratios": [0.9, 1.33] },
      contentType: "application/octet-stream",
    });
    assert.equal(isUnexpected(result), false, `${result.status} ${JSON.stringify(result.body)}`);
    assert.equal(result.status, "200");
    checkResult(result.body, file, file === TWO_PEOPLE ? 1 : 0);
    if (file === TWO_PEOPLE) {
      const { method, url, headers } = result.request;
      t.diagnostic(`wire: ${method} ${url} content-type=${headers.get("content-type")} ` +
        `key header=${headers.has("Ocp-Apim-Subscription-Key")}`);
    }
  }
});

test("analyze the optional query parameters as the client sends them", async () => {
  const result = await client().path("/imageanalysis:analyze").post({
    body: readFileSync(COFFEE),
    queryParameters: {
      features,
      language: "en",
      "gender-neutral-caption": false,
      "smartcrops-aspect-ratios": [0.9, 1.33],
      "model-version": "latest",
    },
    contentType: "application/octet-stream",
  });
  assert.equal(isUnexpected(result), false, `${result.status} ${JSON.stringify(result.body)}`);
  checkResult(result.body, COFFEE);
});

test("read: text of phototest.tif", async () => {
  const result = await client().path("/imageanalysis:analyze").post({
    body: readFileSync(PHOTOTEST),
    queryParameters: { features: ["read"] },
    contentType: "application/octet-stream",
  });
  assert.equal(isUnexpected(result), false, `${result.status} ${JSON.stringify(result.body)}`);
  const lines = result.body.readResult.blocks[0].lines;
  const text = lines.map((line) => line.text).join(" ");
  for (const phrase of ["quick brown dog", "lazy fox", "12 point text"]) assert.ok(text.includes(phrase), text);
  for (const line of lines) {
    assert.ok(line.boundingPolygon.length >= 4);
    for (const word of line.words) {
      assert.ok(line.text.includes(word.text), `${word.text} not in ${line.text}`);
      inRange(word.confidence, 0, 1, "word confidence");
    }
  }
});

test("a wrong key gets 401", async () => {
  const result = await client(endpoint, `${key}-wrong`).path("/imageanalysis:analyze").post({
    body: readFileSync(COFFEE),
    queryParameters: { features: ["tags"] },
    contentType: "application/octet-stream",
  });
  assert.equal(isUnexpected(result), true);
  assert.equal(result.status, "401");
  assert.ok(result.body.error?.code, JSON.stringify(result.body));
  assert.ok(result.headers["x-ms-error-code"], "x-ms-error-code header");
});

test("analyze a URL body (server started with --allow-private-urls)", async () => {
  const result = await client().path("/imageanalysis:analyze").post({
    body: { url: `${staticUrl}/faces/two_people.jpg` },
    queryParameters: { features, "smartcrops-aspect-ratios": [0.9, 1.33] },
    contentType: "application/json",
  });
  assert.equal(isUnexpected(result), false, `${result.status} ${JSON.stringify(result.body)}`);
  checkResult(result.body, TWO_PEOPLE, 1);
  assert.ok(requested.includes("/faces/two_people.jpg"));
});

test("a loopback URL is refused by a server without --allow-private-urls", async () => {
  const target = "/photos/coffee.png?js-should-not-be-fetched";
  const result = await client(strictEndpoint, "no-key-needed").path("/imageanalysis:analyze").post({
    body: { url: staticUrl + target },
    queryParameters: { features: ["tags"] },
    contentType: "application/json",
  });
  assert.equal(result.status, "400", JSON.stringify(result.body));
  assert.equal(result.body.error?.code, "InvalidRequest", JSON.stringify(result.body));
  assert.equal(result.body.error?.innererror?.code, "InvalidImageUrl", JSON.stringify(result.body));
  assert.ok(!requested.includes(target), "the server fetched the loopback URL");
});

test("caption through the server's vision-language model; 400 on a server without one", async () => {
  const described = await client().path("/imageanalysis:analyze").post({
    body: readFileSync(COFFEE),
    queryParameters: { features: ["caption", "objects"], "gender-neutral-caption": true },
    contentType: "application/octet-stream",
  });
  assert.equal(described.status, "200", JSON.stringify(described.body));
  assert.equal(described.body.captionResult.text, "a person riding a bicycle down a city street");
  assert.deepEqual(described.body.objectsResult.values.map((o) => o.tags[0].name), ["person", "bicycle"]);
  const result = await client(strictEndpoint, "no-key-needed").path("/imageanalysis:analyze").post({
    body: readFileSync(COFFEE),
    queryParameters: { features: ["tags", "caption"] },
    contentType: "application/octet-stream",
  });
  assert.equal(result.status, "400", JSON.stringify(result.body));
  const { code, innererror } = result.body.error;
  assert.ok([code, innererror?.code].includes("NotSupportedVisualFeature"), JSON.stringify(result.body));
});

test("the client's own retry rides out 429 (strict server: one worker, a queue of one)", async () => {
  // Default pipeline options: its throttling policy waits for Retry-After and sends again.
  const throttled = createClient(strictEndpoint, new AzureKeyCredential("no-key-needed"), { allowInsecureConnection: true });
  const body = readFileSync(TWO_PEOPLE);
  const results = await Promise.all([0, 1, 2].map(() => throttled.path("/imageanalysis:analyze").post({
    body,
    queryParameters: { features: ["people"] },
    contentType: "application/octet-stream",
  })));
  for (const result of results) {
    assert.equal(result.status, "200", JSON.stringify(result.body));
    assert.ok(result.body.peopleResult.values.length >= 1);
  }
});
