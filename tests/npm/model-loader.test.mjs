// The model loader on its own, in Node (no browser, so no Cache Storage): what a typed model URL
// becomes, and how the files of a folder given by URL are checked against the manifest (by path
// and size, then by content) over real HTTP. The page's worker imports this same module.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { modelFolderUrl, folderFileSpec, fetchModelFile, fetchVerified, manifestFileList } from "../../js/model-loader.js";

const PAGE = "http://127.0.0.1:8080/";
const manifest = JSON.parse(readFileSync(new URL("../../models/manifest.json", import.meta.url)));
const known = manifestFileList(manifest);
const tokenizer = readFileSync(new URL("../../models/siglip-test-tiny/tokenizer.json", import.meta.url));
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

let server;
let base;
const files = {
  "/good/tokenizer.json": tokenizer,
  "/bad/tokenizer.json": Buffer.from(tokenizer).fill(32, 0, 10), // same size, other bytes
  "/elsewhere/renamed.json": tokenizer, // the manifest's bytes at another path
  "/mine/tokenizer.json": Buffer.from('{"my": "tokenizer"}'),
};

before(async () => {
  server = createServer((req, res) => {
    const body = files[new URL(req.url, "http://x").pathname];
    res.writeHead(body ? 200 : 404, body ? { "content-length": body.length } : {});
    res.end(body ?? "not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${server.address().port}`;
});

after(() => new Promise((resolve) => server.close(resolve)));

test("modelFolderUrl: folders, sightline.json and Hugging Face repositories", () => {
  const url = (input) => modelFolderUrl(input, PAGE).url;
  assert.equal(url("https://example.com/models/tiny"), "https://example.com/models/tiny/");
  assert.equal(url("https://example.com/models/tiny/sightline.json?x=1#y"), "https://example.com/models/tiny/");
  assert.equal(url("/models/siglip-test-tiny/"), "http://127.0.0.1:8080/models/siglip-test-tiny/");
  assert.equal(url("https://huggingface.co/Xenova/siglip-base-patch16-224"), "https://huggingface.co/Xenova/siglip-base-patch16-224/resolve/main/");
  assert.equal(url("huggingface.co/Xenova/siglip-base-patch16-224/"), "https://huggingface.co/Xenova/siglip-base-patch16-224/resolve/main/");
  assert.equal(url("https://hf.co/Owner/Repo/tree/v2/sub"), "https://huggingface.co/Owner/Repo/resolve/v2/sub/");
  assert.equal(url("https://huggingface.co/Owner/Repo/blob/main/sub/sightline.json"), "https://huggingface.co/Owner/Repo/resolve/main/sub/");
  assert.deepEqual(modelFolderUrl("https://huggingface.co/Owner/Repo", PAGE).huggingFace, { repo: "Owner/Repo", revision: "main" });
  assert.equal(modelFolderUrl("https://example.com/models/tiny/", PAGE).name, "tiny");
  for (const bad of ["", "ftp://example.com/m/", "https://user:secret@example.com/m/", "https://huggingface.co/Owner", "https://huggingface.co/Owner/Repo/commits/main"]) {
    assert.throws(() => modelFolderUrl(bad, PAGE), (error) => error.code === "InvalidOptions", bad);
  }
  assert.throws(() => modelFolderUrl("https://user:secret@example.com/m/", PAGE), (error) => !error.message.includes("secret"), "the password is not repeated");
});

test("folderFileSpec keeps files inside the folder", () => {
  const spec = folderFileSpec("https://example.com/m/", "onnx/vision_model_quantized.onnx", { model: "m", role: "vision", known });
  assert.deepEqual(spec.urls, ["https://example.com/m/onnx/vision_model_quantized.onnx"]);
  for (const path of ["../other/x.onnx", "/x.onnx", "https://evil.example/x.onnx", ""]) {
    assert.throws(() => folderFileSpec("https://example.com/m/", path, { model: "m", role: "vision" }), (error) => error.code === "InvalidManifest", path);
  }
});

const get = (folder, path) => fetchModelFile(folderFileSpec(`${base}/${folder}/`, path, { model: folder, role: "tokenizer", known }));

test("a folder's file at the manifest's path and size is verified against its sha256", async () => {
  const file = await get("good", "tokenizer.json");
  assert.equal(file.verified, true);
  assert.equal(file.sha256, sha256(tokenizer));
  assert.equal(file.matched.path, "tokenizer.json");
  await assert.rejects(get("bad", "tokenizer.json"), (error) => error.code === "ChecksumMismatch" && /does not match the manifest's 4a17c975210b… \(.*\/tokenizer\.json\); the file was not used or cached/.test(error.message));
});

test("a file the manifest does not know is unverified, with its sha256; the manifest's bytes elsewhere are recognised", async () => {
  const mine = await get("mine", "tokenizer.json");
  assert.equal(mine.verified, false);
  assert.equal(mine.matched, null);
  assert.equal(mine.sha256, sha256(files["/mine/tokenizer.json"]));
  const renamed = await get("elsewhere", "renamed.json");
  assert.equal(renamed.verified, true);
  assert.equal(renamed.matched.path, "tokenizer.json");
});

test("a missing file is DownloadFailed with its HTTP status; fetchVerified still returns bytes", async () => {
  await assert.rejects(get("good", "sightline.json"), (error) => error.code === "DownloadFailed" && error.status === 404 && /HTTP 404/.test(error.message));
  const bytes = await fetchVerified({ model: "m", file: "tokenizer.json", role: "tokenizer", urls: [`${base}/good/tokenizer.json`], sha256: sha256(tokenizer), size: tokenizer.length });
  assert.equal(bytes.length, tokenizer.length);
});
