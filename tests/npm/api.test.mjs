// The package's JS API in real Chromium, loaded as a plain <script type="module"> straight from
// the built package (no bundler): every input type, the queue, AbortSignal, typed errors, lazy
// extras, sha256 refusal, Cache Storage, dispose, in-page mode, use inside the caller's own Web
// Worker, and <sightline-analyzer>. The model is the synthetic siglip-test-tiny (its numbers mean
// nothing, so the checks are about shapes, consistency and behaviour).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { serve, launchChromium } from "./server.mjs";
import { withoutIsolation } from "../support/isolation.mjs";

const ROOT = new URL("../../", import.meta.url).pathname;
const SHARED = process.env.SIGHTLINE_SHARED ?? new URL("../../../shared", import.meta.url).pathname;
const MODEL = { manifest: "/models/manifest.json", name: "siglip-test-tiny" };

let server;
let browser;
let context;
let page;
const pageErrors = [];

before(async () => {
  server = await serve({ models: `${ROOT}models`, npm: process.env.SIGHTLINE_NPM_DIR ?? `${ROOT}dist/npm`, images: `${SHARED}/images` });
  browser = await launchChromium();
  context = await browser.newContext();
  page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(e));
  await page.goto(`${server.url}esm.html`);
  await page.waitForSelector("body[data-loaded=true]", { state: "attached" });
  // One analyzer for the tests below, in the package's worker (the default in a page).
  const progress = await page.evaluate(async (model) => {
    const reports = [];
    window.analyzer = await window.sightline.createAnalyzer({ model, onProgress: (p) => reports.push(p) });
    return reports;
  }, MODEL);
  assert.ok(progress.length > 0, "progress was reported");
  const last = (role) => progress.filter((p) => p.role === role).at(-1);
  for (const role of ["vision", "text", "tokenizer"]) {
    assert.ok(last(role), `progress for ${role}`);
    assert.equal(last(role).loaded, last(role).total, `${role} completes`);
    assert.equal(last(role).fromCache, false, "first load downloads");
  }
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("the analyzer describes its model", async () => {
  const model = await page.evaluate(() => window.analyzer.model);
  assert.equal(model.name, "siglip-test-tiny");
  assert.equal(model.synthetic, true);
  assert.equal(model.hasText, true);
  assert.ok(model.embeddingDim > 0);
  assert.equal(model.descriptor.image_size, 224);
});

test("in a cross-origin isolated page the package runs the threaded module, on every core", async () => {
  const { runtime, cores, isolated } = await page.evaluate(() => ({ runtime: window.analyzer.runtime, cores: navigator.hardwareConcurrency, isolated: crossOriginIsolated }));
  assert.equal(isolated, true, "tests/npm/server.mjs sends COOP and COEP");
  // One core has nothing to split: the relaxed-SIMD module then runs alone.
  const threaded = cores > 1;
  assert.deepEqual({ ...runtime, int8Kernel: undefined }, { build: threaded ? "threads" : "relaxed-simd", threads: threaded ? Math.min(cores, 8) : 1, int8Kernel: undefined });
  // scripts/test reads the CPU's flags: V8 computes the relaxed dot exactly only with AVX-VNNI.
  assert.equal(runtime.int8Kernel, process.env.SIGHTLINE_EXPECT_WASM_INT8_KERNEL ?? runtime.int8Kernel);
  const wasm = server.requests.filter((p) => p.endsWith(".wasm"));
  assert.deepEqual(wasm, [threaded ? "/npm/pkg/sightline_threads_bg.wasm" : "/npm/pkg/sightline_relaxed_simd_bg.wasm"], "only the module that runs is downloaded");
  // The pool's workers start from the package's worker script (a blob of it: wasm-bindgen-rayon).
  if (threaded) assert.ok(server.requests.includes("/npm/pkg/sightline_threads_workers.js"), server.requests.join(" "));
});

/** The photo's embedding from the shared analyzer (threaded where this machine has two cores). */
const sharedEmbedding = () => page.evaluate(async () => Array.from(await window.analyzer.embedImage("/images/photos/chelsea.png")));

/** The embedding of the same photo and the runtime, from a new analyzer in `tab` with `options`. */
async function embedWith(tab, options) {
  return tab.evaluate(async ({ model, options }) => {
    const { createAnalyzer } = await import("/npm/index.js");
    const analyzer = await createAnalyzer({ model, ...options });
    try {
      return { runtime: analyzer.runtime, embedding: Array.from(await analyzer.embedImage("/images/photos/chelsea.png")) };
    } finally {
      analyzer.dispose();
    }
  }, { model: MODEL, options });
}

test("every module gives the same embedding bit for bit: threads, threads: 1, a page that is not isolated", async () => {
  const threaded = await sharedEmbedding();
  const one = await embedWith(page, { threads: 1 });
  assert.deepEqual({ ...one.runtime, int8Kernel: undefined }, { build: "relaxed-simd", threads: 1, int8Kernel: undefined });
  assert.deepEqual(one.embedding, threaded);
  // The same page served without COOP/COEP: no SharedArrayBuffer, so no threads.
  const plain = await browser.newContext({ serviceWorkers: "block" });
  try {
    await withoutIsolation(plain);
    const tab = await plain.newPage();
    await tab.goto(`${server.url}esm.html`);
    assert.equal(await tab.evaluate(() => crossOriginIsolated), false);
    const single = await embedWith(tab, {});
    assert.equal(single.runtime.build, "relaxed-simd");
    assert.deepEqual(single.embedding, threaded);
  } finally {
    await plain.close();
  }
});

test("where the pool's workers cannot start, the relaxed-SIMD module runs and runtime.fallback says why", async () => {
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  if (cores < 2) return;
  const fresh = await browser.newContext({ serviceWorkers: "block" });
  try {
    // The glue imports the worker script once; each pool worker then fetches it again as a blob
    // (wasm-bindgen-rayon). Refuse those fetches, as a strict CSP or a broken bundle would.
    let served = 0;
    await fresh.route("**/pkg/sightline_threads_workers.js", (route) => (served++ === 0 ? route.continue() : route.abort("blockedbyclient")));
    const tab = await fresh.newPage();
    await tab.goto(`${server.url}esm.html`);
    const { runtime, embedding } = await embedWith(tab, {});
    assert.equal(runtime.build, "relaxed-simd", JSON.stringify(runtime));
    assert.equal(runtime.threads, 1);
    assert.match(runtime.fallback, /the threaded module could not start its pool/);
    assert.ok(served >= 2, `the workers asked for their script (${served} requests)`);
    const threaded = await sharedEmbedding();
    assert.deepEqual(embedding, threaded);
  } finally {
    await fresh.close();
  }
});

test("every input type gives the same image", async () => {
  const results = await page.evaluate(async () => {
    const url = "/images/photos/coffee.png";
    const blob = await (await fetch(url)).blob();
    const bytes = await blob.arrayBuffer();
    const img = new Image();
    img.src = url;
    const bitmap = await createImageBitmap(blob);
    const canvas = document.createElement("canvas");
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext("2d").drawImage(bitmap, 0, 0);
    const imageData = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    const inputs = { blob, file: new File([blob], "coffee.png"), arrayBuffer: bytes, uint8Array: new Uint8Array(bytes), url, img, bitmap, imageData, canvas };
    const out = {};
    for (const [name, input] of Object.entries(inputs)) {
      const result = await window.analyzer.analyze(input, { features: ["tags"], includeEmbedding: true });
      out[name] = { metadata: result.metadata, embedding: result.embedding, tags: result.tagsResult.values.length };
    }
    out.callerBufferIntact = bytes.byteLength > 0 && bitmap.width > 0; // copied, not transferred away
    return out;
  });
  assert.equal(results.callerBufferIntact, true);
  const reference = results.blob;
  assert.ok(reference.metadata.width > 50 && reference.metadata.height > 50);
  const cosine = (a, b) => a.reduce((s, x, i) => s + x * b[i], 0);
  for (const name of ["file", "arrayBuffer", "uint8Array", "url"]) {
    assert.deepEqual(results[name].embedding, reference.embedding, `${name}: same bytes, same embedding`);
  }
  for (const name of ["img", "bitmap", "imageData", "canvas"]) {
    assert.deepEqual(results[name].metadata, reference.metadata, `${name}: same size`);
    assert.ok(cosine(results[name].embedding, reference.embedding) > 0.99, `${name}: decoded pixels give the same image`);
  }
});

test("embedImage, embedText, classify and classifyEmbeddings", async () => {
  const out = await page.evaluate(async () => {
    const a = window.analyzer;
    const image = await a.embedImage("/images/photos/chelsea.png");
    const one = await a.embedText("a cat");
    const many = await a.embedText(["a cat", "a rocket"]);
    const scores = await a.classify("/images/photos/chelsea.png", ["a cat", "a rocket"]);
    const stored = await a.classifyEmbeddings([image, image], ["a cat"]);
    const norm = (v) => Math.hypot(...v);
    return {
      imageType: image.constructor.name, imageNorm: norm(image), oneType: one.constructor.name, oneNorm: norm(one),
      many: many.length, sameText: Array.from(one).every((x, i) => Math.abs(x - many[0][i]) < 1e-6),
      labels: scores.map((s) => s.label), confidence: scores[0].confidence, stored: stored.map((s) => s[0].label),
      storedMatches: Math.abs(stored[0][0].confidence - scores[0].confidence) < 1e-5,
    };
  });
  assert.equal(out.imageType, "Float32Array");
  assert.ok(Math.abs(out.imageNorm - 1) < 1e-4, "unit length");
  assert.equal(out.oneType, "Float32Array");
  assert.ok(Math.abs(out.oneNorm - 1) < 1e-4);
  assert.equal(out.many, 2);
  assert.equal(out.sameText, true);
  assert.deepEqual(out.labels, ["a cat", "a rocket"]);
  assert.ok(out.confidence >= 0 && out.confidence <= 1);
  assert.deepEqual(out.stored, ["a cat", "a cat"]);
  assert.equal(out.storedMatches, true, "stored embeddings score like classify");
});

test("calls queue in order, and an AbortSignal cancels a queued call", async () => {
  const out = await page.evaluate(async () => {
    const a = window.analyzer;
    const order = [];
    const controller = new AbortController();
    const url = "/images/photos/astronaut.png";
    const first = a.analyze(url).then(() => order.push("first"));
    const second = a.analyze(url, { signal: controller.signal }).then(() => order.push("second"), (e) => order.push(`second:${e.name}`));
    const third = a.embedImage(url).then(() => order.push("third"));
    controller.abort();
    await Promise.all([first, second, third]);
    const already = await a.analyze(url, { signal: AbortSignal.abort() }).then(() => "ran", (e) => e.name);
    return { order, already };
  });
  // The aborted call rejects at once; the others run in the order they were made.
  assert.deepEqual(out.order, ["second:AbortError", "first", "third"]);
  assert.equal(out.already, "AbortError");
});

test("errors are SightlineErrors with stable codes and Azure's body", async () => {
  const out = await page.evaluate(async () => {
    const { SightlineError } = window.sightline;
    const catching = (p) => p.then(() => null, (e) => ({ isSightline: e instanceof SightlineError, name: e.name, code: e.code, azure: e.azure?.error?.code, message: e.message }));
    return {
      corrupt: await catching(window.analyzer.analyze(new Blob(["not an image"]))),
      unsupported: await catching(window.analyzer.analyze(42)),
      feature: await catching(window.analyzer.analyze("/images/photos/coffee.png", { features: ["caption"] })),
      missing: await catching(window.analyzer.analyze("/images/no-such.png")),
      unknownModel: await catching(window.sightline.createAnalyzer({ model: { manifest: "/models/manifest.json", name: "nope" } })),
      threads: await catching(window.sightline.createAnalyzer({ model: { manifest: "/models/manifest.json" }, threads: 0 })),
      stillWorks: (await window.analyzer.analyze("/images/photos/coffee.png")).metadata.width > 0,
    };
  });
  assert.deepEqual({ ...out.corrupt, message: undefined }, { isSightline: true, name: "SightlineError", code: "InvalidImageFormat", azure: "InvalidRequest", message: undefined });
  assert.equal(out.unsupported.code, "UnsupportedInput");
  assert.equal(out.feature.code, "NotSupportedVisualFeature");
  assert.equal(out.missing.code, "InvalidImageUrl");
  assert.match(out.missing.message, /HTTP 404/);
  assert.equal(out.unknownModel.code, "UnknownModel");
  assert.equal(out.threads.code, "InvalidOptions");
  assert.match(out.threads.message, /threads must be "auto" or a whole number of at least 1, got 0/);
  assert.equal(out.stillWorks, true, "an error does not break the analyzer");
});

test("images over 20 MB are refused by their size, before they are read", async () => {
  const out = await page.evaluate(async () => {
    const code = (p) => p.then(() => null, (e) => `${e.code}: ${e.message}`);
    const blob = new Blob([new Uint8Array(20 * 1024 * 1024 + 1)]);
    return {
      blob: await code(window.analyzer.analyze(blob)),
      endless: await code(window.analyzer.analyze("/endless.png")),
      declared: await code(window.analyzer.analyze("/declared-huge.png")),
      stillWorks: (await window.analyzer.analyze("/images/photos/coffee.png")).metadata.width > 0,
    };
  });
  assert.match(out.blob, /^InvalidImageSize: the image is 20971521 bytes; the limit is 20971520/);
  assert.match(out.endless, /^InvalidImageSize: .*endless\.png/);
  assert.match(out.declared, /^InvalidImageSize: the image at .* is 2500000000 bytes/);
  assert.equal(out.stillWorks, true);
});

test("the face model loads only when people is requested", async () => {
  assert.equal(server.requests.some((p) => p.startsWith("/models/yunet/")), false, "not downloaded for tags");
  const out = await page.evaluate(async () => {
    const result = await window.analyzer.analyze("/images/faces/two_people.jpg", { features: ["people"] });
    return { people: result.peopleResult.values.length, faces: result.faces.length };
  });
  assert.ok(server.requests.includes("/models/yunet/face_detection_yunet_2026may.onnx"));
  assert.equal(out.faces, 2, "YuNet finds the two faces");
  assert.equal(out.people, 2);
});

/** The /models/ files the server sent while `fn` ran (the manifest aside). */
async function modelFilesServed(fn) {
  const before = server.requests.length;
  const value = await fn();
  const served = server.requests.slice(before).filter((p) => p.startsWith("/models/") && !p.endsWith("manifest.json"));
  return { value, served: [...new Set(served)].sort() };
}

test("read alone loads the read models and no SigLIP model; SigLIP loads on first need", async () => {
  const { value: out, served } = await modelFilesServed(() =>
    page.evaluate(async (model) => {
      const analyzer = await window.sightline.createAnalyzer({ model, features: ["read"], cache: false });
      const before = analyzer.model;
      const result = await analyzer.analyze("/images/ocr/phototest.tif", { features: ["read"] });
      const read = { content: result.readResult.content, modelVersion: result.modelVersion, model: analyzer.model };
      // A feature that needs SigLIP loads it then, and the analyzer describes it.
      const tags = await analyzer.analyze("/images/photos/coffee.png", { features: ["tags"], tagThreshold: 0, maxTags: 2 });
      const after = analyzer.model;
      analyzer.dispose();
      return { before, read, tags: tags.tagsResult.values.length, after };
    }, MODEL),
  );
  assert.equal(out.before, null, "no SigLIP model described");
  assert.match(out.read.content, /quick brown dog/);
  assert.match(out.read.modelVersion, /^sightline-/, "no SigLIP model in the version");
  assert.equal(out.read.model, null);
  assert.equal(out.tags, 2);
  assert.equal(out.after.name, "siglip-test-tiny");
  assert.equal(out.after.synthetic, true);
  const ocr = served.filter((p) => p.startsWith("/models/ppocr-v5/"));
  assert.deepEqual(ocr, ["/models/ppocr-v5/ppocr_keys_v5.txt", "/models/ppocr-v5/ppocrv5_cls.onnx", "/models/ppocr-v5/ppocrv5_det.onnx", "/models/ppocr-v5/ppocrv5_rec.onnx"]);
});

test("for every feature the package loads exactly the files of the parts the core's feature table names", async () => {
  const manifest = JSON.parse(readFileSync(`${ROOT}models/manifest.json`, "utf8"));
  const table = await page.evaluate(async () => {
    const glue = await import("/npm/pkg/sightline.js");
    await glue.default();
    return glue.featureTable();
  });
  assert.deepEqual(table.features.map((f) => f.name), ["tags", "smartCrops", "people", "color", "imageType", "adult", "categories", "read", "caption", "denseCaptions", "objects"]);
  // Only a vision-language model answers these: nothing to load on the device for them.
  const remoteOnly = table.features.filter((f) => !f.local);
  assert.deepEqual(remoteOnly.map((f) => [f.name, f.service.backendOption, f.needs.length]), [["caption", "captionBackend", 0], ["denseCaptions", "captionBackend", 0], ["objects", "objectsBackend", 0]]);
  assert.equal(table.unavailable, undefined);
  // Each part's files by the table's roles: SigLIP's from the model asked for, the others' from
  // the manifest entry of the part's kind; the tags file beside the model.
  const filesOf = (name) => {
    if (name === "tags") return [`/models/${MODEL.name}/tags-en.sltags`];
    const part = table.parts.find((p) => p.name === name);
    const [entryName, entry] = name === "siglip" ? [MODEL.name, manifest.models[MODEL.name]] : Object.entries(manifest.models).find(([, e]) => e.kind === part.kind);
    const roles = [...part.roles, ...part.optionalRoles];
    const paths = roles.map((role) => entry.files.find((f) => f.role === role)).filter(Boolean).map((f) => `/models/${entryName}/${f.path}`);
    return paths;
  };
  for (const feature of table.features) {
    const expected = [...new Set([...feature.needs, ...feature.helpedBy].flatMap(filesOf))].sort();
    const { value: loaded, served } = await modelFilesServed(() =>
      page.evaluate(async ({ model, name }) => {
        const analyzer = await window.sightline.createAnalyzer({ model, features: [name], cache: false });
        const described = analyzer.model !== null;
        analyzer.dispose();
        return described;
      }, { model: MODEL, name: feature.name }),
    );
    assert.deepEqual(served, expected, `${feature.name} needs ${feature.needs} and is helped by ${feature.helpedBy}`);
    assert.equal(loaded, feature.needs.includes("siglip"), `${feature.name}: the SigLIP model is described exactly when loaded`);
  }
});

/** The mock Azure services (tests/mock_azure/server.py) on another origin than the page: CORS is real. */
async function startMockAzure(key, extraArgs = []) {
  const mock = spawn("python3", [`${ROOT}tests/mock_azure/server.py`, "--port", "0", "--key", key, "--exit-with-stdin", ...extraArgs], { stdio: ["pipe", "pipe", "inherit"] });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    mock.stdout.on("data", (chunk) => {
      out += chunk;
      const found = /^PORT (\d+)$/m.exec(out);
      if (found) resolve(Number(found[1]));
    });
    mock.on("exit", (code) => reject(new Error(`the mock Azure server exited (${code})`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const requests = async () => (await fetch(`${url}/__requests`)).json();
  return { url, requests, close: () => mock.kill() };
}

test("the package runs read and people through the Azure services from its own options", async () => {
  const KEY = "npm-test-key-51c2";
  const mock = await startMockAzure(KEY);
  try {
    const { value: out, served } = await modelFilesServed(() =>
      page.evaluate(async ({ model, mock, key }) => {
        const services = { read: { endpoint: `${mock}/s/ok~npm`, key }, face: { endpoint: `${mock}/s/ok~npm`, key, landmarks: true } };
        // Sent to their services, read and people need nothing on the device: nothing is downloaded.
        const analyzer = await window.sightline.createAnalyzer({ model, features: ["read", "people"], services, cache: false });
        const inUse = analyzer.services;
        const both = await analyzer.analyze("/images/faces/two_people.jpg", { features: ["read", "people"] });
        const wrongKey = await analyzer.setServices({ read: { endpoint: `${mock}/s/ok~npm`, key: "not-the-key" } });
        const refused = await analyzer.analyze("/images/faces/two_people.jpg", { features: ["read"] });
        const badEndpoint = await analyzer.setServices({ read: { endpoint: "http://10.0.0.5/di", key } }).then(() => "applied", (e) => e.code);
        const afterBad = analyzer.services;
        // An abort reaches the core: the hung request is canceled and the next call runs at once.
        await analyzer.setServices({ read: { endpoint: `${mock}/s/hang~npm`, key }, timeoutSeconds: 60 });
        const controller = new AbortController();
        const hung = analyzer.analyze("/images/faces/two_people.jpg", { features: ["read"], signal: controller.signal }).then(() => "ran", (e) => e.name);
        await new Promise((resolve) => setTimeout(resolve, 1500));
        controller.abort();
        const aborted = await hung;
        const start = performance.now();
        const next = await analyzer.analyze("/images/faces/two_people.jpg", { features: ["color"] });
        const nextMs = performance.now() - start;
        const cleared = await analyzer.setServices(null);
        analyzer.dispose();
        return {
          inUse,
          read: both.readResult,
          people: both.peopleResult.values.length,
          landmarks: Boolean(both.faces[0].faceLandmarks),
          featureErrors: both.featureErrors ?? null,
          wrongKey,
          refused: { errors: refused.featureErrors },
          badEndpoint,
          afterBad,
          aborted,
          next: Boolean(next.color),
          nextMs,
          cleared,
        };
      }, { model: MODEL, mock: mock.url, key: KEY }),
    );
    assert.deepEqual(out.inUse, { read: true, face: true, caption: null });
    assert.deepEqual(served, [], "no model file downloaded");
    assert.equal(out.featureErrors, null);
    assert.equal(out.read.backend, "azure");
    assert.match(out.read.content, /quick brown dog/);
    assert.ok(out.people > 0 && out.landmarks, JSON.stringify(out));
    assert.deepEqual(out.wrongKey, { read: true, face: false, caption: null });
    assert.equal(out.refused.errors[0].feature, "read");
    assert.equal(out.refused.errors[0].error.innererror.code, "RemoteUnauthorized");
    assert.equal(out.badEndpoint, "RemoteInvalidEndpoint");
    assert.deepEqual(out.afterBad, { read: false, face: false, caption: null }, "a refused configuration leaves no service in use");
    assert.equal(out.aborted, "AbortError");
    assert.ok(out.next && out.nextMs < 20_000, `the next call waited ${out.nextMs} ms for the canceled one`);
    assert.deepEqual(out.cleared, { read: false, face: false, caption: null });
    const requests = await mock.requests();
    assert.ok(requests.some((r) => r.path.includes("/face/v1.2/detect") && r.keyHeader === "right"), JSON.stringify(requests));
    assert.ok(requests.some((r) => r.path.includes("prebuilt-read:analyze") && r.keyHeader === "wrong"));
    assert.ok(requests.some((r) => r.token?.startsWith("hang")), "the hung request was sent");
    assert.ok(requests.every((r) => !r.keyInUrl));
  } finally {
    mock.close();
  }
});

test("services.caption is checked, and caption, denseCaptions and objects come from the vision-language model", async () => {
  const KEY = "npm-vlm-key-7e0a";
  // --keyless-v1: its /v1 answers without a key too, as llama.cpp and Ollama do.
  const mock = await startMockAzure(KEY, ["--keyless-v1"]);
  try {
    const { value: out, served } = await modelFilesServed(() =>
      page.evaluate(async ({ model, mock, key }) => {
        const azure = { endpoint: `${mock}/s/ok~npm-vlm`, key, model: "gpt-4o", api: "azure-openai" };
        // Nothing on the device answers these features: nothing is downloaded for them.
        const analyzer = await window.sightline.createAnalyzer({ model, features: ["caption", "denseCaptions", "objects"], services: { caption: azure }, cache: false });
        const inUse = analyzer.services;
        const outcome = (services) => analyzer.setServices(services).then((s) => s, (e) => ({ code: e.code, message: e.message, services: analyzer.services }));
        const refused = {
          unknownService: await outcome({ vision: azure }),
          unknownOption: await outcome({ caption: { ...azure, deployment: "gpt-4o" } }),
          noModel: await outcome({ caption: { endpoint: azure.endpoint, key } }),
          badApi: await outcome({ caption: { ...azure, api: "gemini" } }),
          keyNotString: await outcome({ caption: { ...azure, key: 42 } }),
          azureWithoutKey: await outcome({ caption: { endpoint: "https://res.openai.azure.com", model: "gpt-4o" } }),
          blankModel: await outcome({ caption: { ...azure, model: "  " } }),
          plainHttp: await outcome({ caption: { ...azure, endpoint: "http://10.0.0.5/vlm" } }),
        };
        const accepted = {
          samePath: await outcome({ caption: { endpoint: "/vlm-proxy", model: "local-model" } }),
          auto: await outcome({ caption: { endpoint: `${mock}/s/ok~npm-vlm-auto`, model: "gpt-4o" } }),
        };
        const features = ["caption", "denseCaptions", "objects"];
        const keyless = await analyzer.analyze("/images/photos/coffee.png", { features: ["caption"] });
        await analyzer.setServices({ caption: azure });
        const full = await analyzer.analyze("/images/photos/coffee.png", { features, genderNeutralCaption: true });
        const wrongApi = await analyzer.analyze("/images/photos/coffee.png", { features, captionBackend: "openai-compatible" }).then(() => null, (e) => e.code);
        await analyzer.setServices({ caption: { ...azure, endpoint: `${mock}/s/no-logprobs~npm-vlm` } });
        const bare = await analyzer.analyze("/images/photos/coffee.png", { features, objectsBackend: "azure-openai" });
        await analyzer.setServices({ caption: { ...azure, endpoint: `${mock}/s/not-json~npm-vlm` } });
        const failed = await analyzer.analyze("/images/photos/coffee.png", { features });
        const cleared = await analyzer.setServices(null);
        const unconfigured = await analyzer.analyze("/images/photos/coffee.png", { features: ["objects"] }).then(() => null, (e) => `${e.code}: ${e.message}`);
        analyzer.dispose();
        return { inUse, refused, accepted, keyless, full, wrongApi, bare, failed, cleared, unconfigured };
      }, { model: MODEL, mock: mock.url, key: KEY }),
    );
    assert.deepEqual(served, [], "no model file downloaded");
    assert.deepEqual(out.inUse, { read: false, face: false, caption: "azure-openai" });
    const { refused, accepted } = out;
    assert.match(`${refused.unknownService.code}: ${refused.unknownService.message}`, /^InvalidOptions: services: unknown option "vision"/);
    assert.match(`${refused.unknownOption.code}: ${refused.unknownOption.message}`, /^InvalidOptions: .*caption: unknown option "deployment"/);
    assert.match(`${refused.noModel.code}: ${refused.noModel.message}`, /^InvalidOptions: .*caption\.model/);
    assert.match(`${refused.badApi.code}: ${refused.badApi.message}`, /^InvalidOptions: .*caption\.api.*"gemini"/);
    assert.match(`${refused.keyNotString.code}: ${refused.keyNotString.message}`, /^InvalidOptions: .*caption\.key must be a string/);
    assert.match(`${refused.azureWithoutKey.code}: ${refused.azureWithoutKey.message}`, /^InvalidArgument: .*Azure OpenAI needs the resource's key/);
    assert.deepEqual(refused.azureWithoutKey.services, { read: false, face: false, caption: null }, "a refused configuration leaves no service in use");
    assert.match(`${refused.blankModel.code}: ${refused.blankModel.message}`, /^InvalidArgument: .*deployment/);
    assert.equal(refused.plainHttp.code, "RemoteInvalidEndpoint");
    // A path is this page's origin (plain http allowed there); any other host is OpenAI-compatible unless told.
    assert.deepEqual(accepted.samePath, { read: false, face: false, caption: "openai-compatible" });
    assert.deepEqual(accepted.auto, { read: false, face: false, caption: "openai-compatible" });
    assert.equal(out.keyless.featureErrors, undefined, JSON.stringify(out.keyless.featureErrors));
    assert.equal(out.keyless.captionResult.source.backend, "openai-compatible");
    assert.equal(out.keyless.denseCaptionsResult, undefined, "only what was asked for");

    const { full } = out;
    const fixture = await (await fetch(`${mock.url}/__fixture/vision`)).json();
    const close = (value, expected) => Math.abs(value - expected) < 1e-5;
    assert.equal(full.featureErrors, undefined, JSON.stringify(full.featureErrors));
    assert.equal(full.warning, undefined, "confidences from the logprobs (and no SigLIP model loaded to warn about)");
    assert.equal(full.captionResult.text, fixture.caption.replace(/\bman\b/, "person"), "gender-neutral");
    assert.ok(close(full.captionResult.confidence, Math.exp(fixture.logprobs.captionLogprob)), JSON.stringify(full.captionResult));
    assert.deepEqual(full.captionResult.source, { backend: "azure-openai", model: "gpt-4o-2024-08-06" });
    const { width, height } = full.metadata;
    const dense = full.denseCaptionsResult.values;
    assert.deepEqual(dense[0], { text: full.captionResult.text, confidence: full.captionResult.confidence, boundingBox: { x: 0, y: 0, w: width, h: height } });
    assert.deepEqual(dense.slice(1).map((d) => d.text), ["a person wearing a red helmet", "a black bicycle", "a street sign"], "outside and zero-area regions dropped");
    assert.deepEqual(full.objectsResult.values.map((o) => o.tags.map((t) => t.name)), [["person"], ["bicycle"]]);
    for (const { boundingBox: b } of [...dense, ...full.objectsResult.values]) {
      assert.ok(b.w > 0 && b.h > 0 && b.x + b.w <= width && b.y + b.h <= height, `inside the image: ${JSON.stringify(b)}`);
    }
    assert.ok(close(full.objectsResult.values[0].tags[0].confidence, Math.exp(fixture.logprobs.otherLogprob)));
    assert.deepEqual(full.objectsResult.source, full.captionResult.source);
    assert.equal(out.wrongApi, "InvalidParameter");

    const { bare } = out;
    assert.equal(bare.captionResult.text, fixture.caption);
    assert.ok(!("confidence" in bare.captionResult) && bare.denseCaptionsResult.values.every((d) => !("confidence" in d)));
    assert.ok(bare.objectsResult.values.every((o) => o.tags.every((t) => !("confidence" in t))));
    assert.match(bare.warning, /no token log-probabilities/);

    assert.deepEqual(out.failed.featureErrors.map((f) => [f.feature, f.error.innererror.code]), [["caption", "RemoteInvalidModelOutput"], ["denseCaptions", "RemoteInvalidModelOutput"], ["objects", "RemoteInvalidModelOutput"]]);
    assert.deepEqual(out.failed.objectsResult, { values: [] });
    assert.equal(out.failed.captionResult, undefined);
    assert.deepEqual(out.cleared, { read: false, face: false, caption: null });
    assert.match(out.unconfigured, /^NotSupportedVisualFeature: /);

    const requests = (await mock.requests()).filter((r) => r.vision);
    assert.ok(requests.some((r) => r.token === "ok~npm-vlm" && r.path === "/openai/deployments/gpt-4o/chat/completions" && r.keyHeader === "right"), JSON.stringify(requests));
    assert.ok(requests.some((r) => r.token === "ok~npm-vlm-auto" && r.path === "/v1/chat/completions" && r.keyHeader === "missing"), "keyless: no Authorization sent");
    assert.ok(requests.every((r) => !r.keyInUrl));
  } finally {
    mock.close();
  }
});

test("a second load comes from Cache Storage", async () => {
  const reports = await page.evaluate(async (model) => {
    const reports = [];
    const again = await window.sightline.createAnalyzer({ model, onProgress: (p) => reports.push(p) });
    again.dispose();
    return reports;
  }, MODEL);
  const vision = reports.filter((p) => p.role === "vision");
  assert.equal(vision.length, 1);
  assert.equal(vision[0].fromCache, true);
});

test("a file failing its sha256 is refused and not cached", async () => {
  const fresh = await browser.newContext();
  try {
    const tab = await fresh.newPage();
    await tab.goto(`${server.url}esm.html`);
    await tab.waitForSelector("body[data-loaded=true]", { state: "attached" });
    const out = await tab.evaluate(async () => {
      const base = "/models/siglip-test-tiny/";
      const error = await window.sightline
        .createAnalyzer({ model: { descriptor: `${base}sightline.json`, vision: { url: `${base}onnx/vision_model_quantized.onnx`, sha256: "0".repeat(64) } } })
        .then(() => null, (e) => ({ code: e.code, message: e.message }));
      const cached = (await (await caches.open(window.sightline.CACHE_NAME)).keys()).map((r) => r.url);
      return { error, cached };
    });
    assert.equal(out.error.code, "ChecksumMismatch");
    assert.match(out.error.message, /does not match the manifest/);
    assert.deepEqual(out.cached, []);
  } finally {
    await fresh.close();
  }
});

test("worker: false runs in the page, and dispose rejects later calls", async () => {
  const out = await page.evaluate(async (model) => {
    const local = await window.sightline.createAnalyzer({ model, worker: false });
    const build = local.runtime.build;
    const tags = (await local.analyze("/images/photos/coffee.png", { tagThreshold: 0, maxTags: 3 })).tagsResult.values.length;
    const pending = local.analyze("/images/photos/coffee.png").then(() => "ran", (e) => e.code);
    local.dispose();
    const after = await local.analyze("/images/photos/coffee.png").then(() => "ran", (e) => e.code);
    return { build, tags, pending: await pending, after, disposed: local.disposed };
  }, MODEL);
  // The page's own thread may not block on a pool: single-threaded there, whatever the isolation.
  assert.equal(out.build, "relaxed-simd");
  assert.equal(out.tags, 3);
  assert.equal(out.pending, "AnalyzerDisposed");
  assert.equal(out.after, "AnalyzerDisposed");
  assert.equal(out.disposed, true);
});

test("inside the caller's own Web Worker", async () => {
  const out = await page.evaluate(async (model) => {
    const source = `
      import { createAnalyzer } from "${location.origin}/npm/index.js";
      const analyzer = await createAnalyzer({ model: ${JSON.stringify({ ...model, manifest: location.origin + model.manifest })} });
      const result = await analyzer.analyze("${location.origin}/images/photos/chelsea.png");
      const bitmap = await createImageBitmap(await (await fetch("${location.origin}/images/photos/chelsea.png")).blob());
      const fromBitmap = await analyzer.analyze(bitmap);
      postMessage({ metadata: result.metadata, bitmap: fromBitmap.metadata, runtime: analyzer.runtime, cores: navigator.hardwareConcurrency });`;
    const worker = new Worker(URL.createObjectURL(new Blob([source], { type: "text/javascript" })), { type: "module" });
    return new Promise((resolve, reject) => {
      worker.onmessage = ({ data }) => resolve(data);
      worker.onerror = (e) => reject(new Error(e.message));
    });
  }, MODEL);
  assert.ok(out.metadata.width > 0);
  assert.deepEqual(out.bitmap, out.metadata);
  // The caller's worker runs the engine in place, on a pool of its own where the page is isolated.
  assert.equal(out.runtime.build, out.cores > 1 ? "threads" : "relaxed-simd", JSON.stringify(out.runtime));
});

test("<sightline-analyzer> in two lines of HTML: drop a photo, see its labels", async () => {
  const tab = await context.newPage();
  try {
    await tab.goto(`${server.url}element.html`);
    await tab.waitForFunction(() => document.querySelector("sightline-analyzer")?.analyzer, null, { timeout: 60_000 });
    const status = await tab.evaluate(() => document.querySelector("sightline-analyzer").shadowRoot.querySelector("[part=status]").textContent);
    assert.match(status, /Ready: siglip-test-tiny \(synthetic/);
    const bytes = Array.from(readFileSync(`${SHARED}/images/photos/chelsea.png`));
    const detail = await tab.evaluate(async (data) => {
      const element = document.querySelector("sightline-analyzer");
      const done = new Promise((resolve) => element.addEventListener("sightline-result", (e) => resolve(e.detail), { once: true }));
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], "chelsea.png", { type: "image/png" }));
      const zone = element.shadowRoot.querySelector("[part=drop-zone]");
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
      const { file, result } = await done;
      return { name: file.name, labels: result.customLabelsResult.values.map((v) => v.name) };
    }, bytes);
    assert.deepEqual(detail, { name: "chelsea.png", labels: ["a cat", "a rocket"] });
    const chips = await tab.evaluate(() => [...document.querySelector("sightline-analyzer").shadowRoot.querySelectorAll("[part=tags] li")].map((li) => li.textContent));
    assert.ok(chips.some((c) => c.startsWith("a cat ")) && chips.some((c) => c.startsWith("a rocket ")), JSON.stringify(chips));
  } finally {
    await tab.close();
  }
  assert.deepEqual(pageErrors, []);
});
