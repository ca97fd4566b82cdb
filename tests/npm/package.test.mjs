// `npm pack` of the built package (dist/npm, from scripts/build-npm): exactly the files a browser
// needs (no models, no test data, no sources), a package.json that points at them, and type
// declarations that type-check tests/npm/typecheck/example.ts with `tsc --noEmit`.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = new URL("../../", import.meta.url).pathname;
const PACKAGE = process.env.SIGHTLINE_NPM_DIR ?? join(ROOT, "dist/npm");
const TYPECHECK = join(ROOT, "tests/npm/typecheck");

let work;
let tarball;
let files;

before(() => {
  work = mkdtempSync(join(tmpdir(), "sightline-pack-"));
  const [packed] = JSON.parse(execFileSync("npm", ["pack", "--json", "--pack-destination", work, PACKAGE], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }));
  tarball = join(work, packed.filename);
  files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^package\//, "")).sort();
});

after(() => rmSync(work, { recursive: true, force: true }));

test("the tarball holds the runtime files and nothing else", () => {
  const expected = [
    "README.md", "azure.d.ts", "azure.js", "element.d.ts", "element.js", "engine.js", "errors.js", "index.d.ts",
    "index.js", "input.js", "manifest.js", "model-loader.js", "package.json", "pkg/sightline.js", "pkg/sightline_bg.wasm",
    "pkg/sightline_relaxed_simd.js", "pkg/sightline_relaxed_simd_bg.wasm", "pkg/sightline_threads.js",
    "pkg/sightline_threads_bg.wasm", "pkg/sightline_threads_workers.js", "wasm-builds.js", "worker.js",
  ];
  assert.deepEqual(files, expected);
  for (const f of files) assert.doesNotMatch(f, /\.(onnx|sltags|png|jpe?g|tif|rs|safetensors)$|models\/|tests?\//, `no model or test data: ${f}`);
});

test("every WebAssembly build the package can pick is packed whole", async () => {
  const { WASM_BUILDS } = await import(join(PACKAGE, "wasm-builds.js"));
  for (const [build, { glue, wasm, extra }] of Object.entries(WASM_BUILDS)) {
    for (const file of [glue, wasm, ...extra]) assert.ok(files.includes(`pkg/${file}`), `${build}: pkg/${file} is packed`);
  }
});

test("package.json: ES module, types, version from Cargo.toml, every export present", () => {
  const pkg = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));
  const cargoVersion = readFileSync(join(ROOT, "Cargo.toml"), "utf8").match(/^version = "([^"]+)"/m)[1];
  assert.equal(pkg.name, "sightline");
  assert.equal(pkg.version, cargoVersion);
  assert.equal(pkg.type, "module");
  assert.equal(pkg.types, "./index.d.ts");
  const targets = Object.values(pkg.exports).flatMap((e) => (typeof e === "string" ? [e] : Object.values(e)));
  for (const target of targets) assert.ok(files.includes(target.replace(/^\.\//, "")), `export target ${target} is packed`);
  for (const f of pkg.files) assert.ok(files.includes(f), `"files" entry ${f} is packed`);
  // sightline/azure uses the app's own @azure/core-rest-pipeline (the one its Azure client has):
  // an optional peer, so apps without the SDK install nothing for it, and no other module loads it.
  assert.deepEqual(pkg.exports["./azure"], { types: "./azure.d.ts", default: "./azure.js" });
  assert.match(pkg.peerDependencies["@azure/core-rest-pipeline"], /^\^1\./);
  assert.deepEqual(pkg.peerDependenciesMeta, { "@azure/core-rest-pipeline": { optional: true } });
  assert.equal(pkg.dependencies, undefined, "the package has no dependencies");
  const modules = files.filter((f) => f.endsWith(".js") && f !== "azure.js");
  const unpacked = join(work, "modules");
  mkdirSync(unpacked);
  execFileSync("tar", ["-xzf", tarball, "--strip-components=1", "-C", unpacked, ...modules.map((f) => `package/${f}`)]);
  for (const f of modules) assert.doesNotMatch(readFileSync(join(unpacked, f), "utf8"), /["']@azure\//, `${f} imports no @azure package`);
});

// example.ts is an app's code; result-shapes.ts is the core's own output (examples/result_shapes.rs,
// written by tests/npm/run): a field index.d.ts lacks, mistypes or wrongly requires fails here.
test("the packed declarations type-check an app's code and the core's results (tsc --noEmit)", () => {
  const target = join(TYPECHECK, "node_modules/sightline");
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "--strip-components=1", "-C", target]);
  try {
    execFileSync(join(TYPECHECK, "node_modules/.bin/tsc"), ["--noEmit", "-p", TYPECHECK], { encoding: "utf8", stdio: "pipe" });
  } catch (error) {
    assert.fail(`tsc reported errors:\n${error.stdout}${error.stderr}`);
  }
});
