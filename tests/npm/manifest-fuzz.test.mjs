// Fuzzing the manifest reader (js/model-loader.js), in Node: models/manifest.json damaged at
// random, as text (bytes flipped, cut, spliced) and as structure (any value replaced by one of
// another type, keys dropped, lists emptied), must either load or fail with a SightlineError
// whose code says what is wrong: never a TypeError from deep inside the loader. Bounded by
// SIGHTLINE_FUZZ_SECONDS (default 5); the seed is printed so a failure can be replayed.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseManifest, validateManifest, manifestEntry, manifestFiles, manifestFileList, manifestEntryOfKind } from "../../js/model-loader.js";
import { SightlineError } from "../../js/errors.js";

const TEXT = readFileSync(new URL("../../models/manifest.json", import.meta.url), "utf8");
const SECONDS = Number(process.env.SIGHTLINE_FUZZ_SECONDS ?? 5);
const SEED = Number(process.env.SIGHTLINE_FUZZ_SEED ?? Date.now() % 2 ** 31) >>> 0 || 1;

function rng(seed) {
  let x = seed;
  return (n) => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x % n;
  };
}

const ODD_VALUES = [null, 0, -1, 1.5, 2 ** 53, "", "..", "../../etc/passwd", "x".repeat(10_000), [], [1], {}, { files: 3 }, true, "javascript:alert(1)", "https://"];

/** Everything the loader does with a manifest, for every model in it. */
function use(manifest) {
  manifestFileList(manifest);
  manifestEntryOfKind(manifest, "yunet");
  for (const name of Object.keys(manifest.models)) {
    const files = manifestFiles(name, manifestEntry(manifest, name), "http://127.0.0.1:8080/models/");
    for (const spec of files.values()) assert.ok(Array.isArray(spec.urls));
  }
}

function expectTyped(run, what) {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SightlineError, `${what}: ${error?.stack ?? error}`);
    assert.ok(["InvalidManifest", "UnknownModel"].includes(error.code), `${what}: ${error.code}`);
  }
}

function mutateText(random, text) {
  let out = text;
  for (let i = 1 + random(4); i > 0; i--) {
    const at = random(out.length + 1);
    switch (random(4)) {
      case 0: out = out.slice(0, at) + String.fromCharCode(random(128)) + out.slice(at + 1); break;
      case 1: out = out.slice(0, at); break;
      case 2: out = out.slice(0, at) + out.slice(at + 1 + random(40)); break;
      default: out = out.slice(0, at) + out.slice(random(out.length), random(out.length)) + out.slice(at);
    }
  }
  return out;
}

function mutateStructure(random, value, depth = 0) {
  if (value === null || typeof value !== "object") return random(4) === 0 ? ODD_VALUES[random(ODD_VALUES.length)] : value;
  if (random(12) === 0) return ODD_VALUES[random(ODD_VALUES.length)];
  if (Array.isArray(value)) {
    const list = value.map((v) => mutateStructure(random, v, depth + 1));
    if (random(6) === 0) list.length = random(list.length + 1);
    return list;
  }
  const object = {};
  for (const [key, v] of Object.entries(value)) {
    if (random(10) === 0) continue;
    object[random(20) === 0 ? `${key}_` : key] = mutateStructure(random, v, depth + 1);
  }
  return object;
}

test(`the manifest reader survives damaged manifests (seed ${SEED})`, () => {
  const random = rng(SEED);
  const original = JSON.parse(TEXT);
  use(validateManifest(structuredClone(original), "models/manifest.json"));
  const until = Date.now() + SECONDS * 1000;
  let runs = 0;
  while (Date.now() < until) {
    runs++;
    const text = mutateText(random, TEXT);
    expectTyped(() => use(parseManifest(text, "fuzz.json")), `text mutation ${runs}`);
    const structure = mutateStructure(random, structuredClone(original));
    expectTyped(() => use(validateManifest(structure, "fuzz.json")), `structure mutation ${runs}: ${JSON.stringify(structure).slice(0, 300)}`);
  }
  assert.ok(runs > 100, `only ${runs} runs`);
  console.log(`manifest fuzz: ${runs} text and ${runs} structure mutations (seed ${SEED})`);
});

test("a manifest file path may not leave its model folder", () => {
  const manifest = JSON.parse(TEXT);
  Object.values(manifest.models)[0].files[0].path = "../../secret.onnx";
  assert.throws(() => validateManifest(manifest, "m.json"), (e) => e.code === "InvalidManifest" && /leaves the model folder/.test(e.message));
});
