// A model host on another origin than the page, for the "model from a URL" tests: a static server
// on 127.0.0.1 and a free port answering with CORS headers (Python's http.server has none), with
// model folders made from the synthetic test model (models/siglip-test-tiny):
//
//   /tiny/             the folder as installed: its files are the manifest's
//   /no-cors/          the same, without any CORS header (browsers refuse the answers)
//   /tampered/         the vision model at the manifest's path and size, other bytes (fails its sha256)
//   /edited/           the vision model with a doc_string appended (a file the manifest does not
//                      know), its sightline.json renamed "edited-tiny" and not synthetic
//   /not-onnx/         a vision "model" that is text
//   /wrong-interface/  the YuNet face detector where the vision model should be
//   /missing/          nothing (404)
//
// Every request path is recorded in `requests`.

import { createServer } from "node:http";
import { readFileSync, existsSync } from "node:fs";
import { createHash } from "node:crypto";

const ROOT = new URL("../../models/", import.meta.url).pathname;
const TINY = `${ROOT}siglip-test-tiny/`;
const VISION = "onnx/vision_model_quantized.onnx";

/** ONNX is protobuf: appending field 6 (ModelProto.doc_string) gives a valid model with other bytes. */
export function withDocString(onnx, text) {
  const bytes = Buffer.from(text);
  if (bytes.length > 127) throw new Error("a one-byte length only");
  return Buffer.concat([onnx, Buffer.from([0x32, bytes.length]), bytes]);
}

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

const tinyFile = (path) => (existsSync(TINY + path) ? readFileSync(TINY + path) : null);

/** The bytes of `path` inside the folder `folder`, or null (404). */
export function folderFile(folder, path) {
  switch (folder) {
    case "tiny":
    case "no-cors":
      return tinyFile(path);
    case "tampered": {
      const bytes = tinyFile(path);
      if (path !== VISION || !bytes) return bytes;
      const copy = Buffer.from(bytes);
      copy[copy.length - 1] ^= 0xff;
      return copy;
    }
    case "edited":
      if (path === VISION) return withDocString(tinyFile(VISION), "edited by the Sightline browser test");
      if (path === "sightline.json") return Buffer.from(JSON.stringify({ ...JSON.parse(tinyFile(path)), name: "edited-tiny", synthetic: false }));
      return tinyFile(path);
    case "not-onnx":
      return path === VISION ? Buffer.from("this is not an ONNX model, just some text\n".repeat(10)) : tinyFile(path);
    case "wrong-interface":
      return path === VISION ? readFileSync(`${ROOT}yunet/face_detection_yunet_2026may.onnx`) : tinyFile(path);
    default:
      return null;
  }
}

/** @returns {Promise<{url: string, requests: string[], close: () => Promise<void>}>} */
export async function serveModels() {
  const requests = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    requests.push(path);
    const [, folder, ...rest] = path.split("/");
    const cors = folder === "no-cors" ? {} : { "access-control-allow-origin": "*" };
    if (req.method === "OPTIONS") {
      res.writeHead(204, { ...cors, "access-control-allow-methods": "GET, HEAD", "access-control-allow-headers": "*" });
      res.end();
      return;
    }
    const bytes = rest.includes("..") ? null : folderFile(folder, rest.join("/"));
    if (!bytes) {
      res.writeHead(404, { ...cors, "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    const type = path.endsWith(".json") ? "application/json" : "application/octet-stream";
    res.writeHead(200, { ...cors, "content-type": type, "content-length": bytes.length, "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : bytes);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
