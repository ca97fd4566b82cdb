// Images in: everything a web page has (Blob/File, bytes, a URL, <img>, <canvas>, ImageBitmap,
// ImageData) becomes the encoded bytes the WebAssembly core decodes. Split in two steps because
// DOM elements cannot cross postMessage: `prepareInput` runs where the caller is and makes a
// cloneable value; `imageBytes` runs where the model is (usually the worker) and encodes it.

import { SightlineError, ErrorCodes } from "./errors.js";
import { readBody } from "./model-loader.js";

const has = (name) => typeof globalThis[name] === "function";

/** Azure's (and the core's, src/decode.rs MAX_IMAGE_BYTES) limit on an image file: 20 MiB. */
export const MAX_IMAGE_BYTES = 20 * 1024 * 1024;

function tooLarge(size, what) {
  return new SightlineError(
    "InvalidImageSize",
    `the image${what ? ` ${what}` : ""} is ${size} bytes; the limit is ${MAX_IMAGE_BYTES} bytes (20 MB), resize or recompress it`,
  );
}

/** The bytes of a Blob/File, refused by its size before anything is read. */
export async function blobBytes(blob) {
  if (blob.size > MAX_IMAGE_BYTES) throw tooLarge(blob.size);
  return new Uint8Array(await blob.arrayBuffer());
}

/**
 * A downloaded image's bytes, read chunk by chunk and abandoned at the size limit (a server can
 * send anything; `arrayBuffer()` would hold all of it first). The response's `Content-Length`,
 * when given, is checked before reading.
 */
export async function responseBytes(response, url) {
  const declared = Number(response.headers.get("content-length"));
  if (declared > MAX_IMAGE_BYTES) {
    await response.body?.cancel().catch(() => {});
    throw tooLarge(declared, `at ${url}`);
  }
  const bytes = await readBody(response, { limit: MAX_IMAGE_BYTES });
  if (!bytes) throw tooLarge(`over ${MAX_IMAGE_BYTES}`, `at ${url}`);
  return bytes;
}

/** The base for relative URLs: the page's, not the worker script's. */
export function baseHref() {
  if (typeof document !== "undefined" && document.baseURI) return document.baseURI;
  return globalThis.location?.href;
}

/**
 * A value that postMessage can carry (and what to transfer), made on the caller's thread. Caller
 * buffers and bitmaps are copied, never transferred away from under the caller.
 * @returns {Promise<{value: Uint8Array | Blob | {url: string} | ImageBitmap | ImageData, transfer: Transferable[]}>}
 */
export async function prepareInput(input) {
  if (typeof input === "string" || (has("URL") && input instanceof URL)) {
    return { value: { url: new URL(String(input), baseHref()).href }, transfer: [] };
  }
  if (has("Blob") && input instanceof Blob) return { value: input, transfer: [] };
  if (input instanceof ArrayBuffer) {
    const copy = new Uint8Array(input.slice(0));
    return { value: copy, transfer: [copy.buffer] };
  }
  if (ArrayBuffer.isView(input)) {
    const copy = new Uint8Array(input.buffer.slice(input.byteOffset, input.byteOffset + input.byteLength));
    return { value: copy, transfer: [copy.buffer] };
  }
  if (has("ImageData") && input instanceof ImageData) return { value: input, transfer: [] };
  if (has("HTMLImageElement") && input instanceof HTMLImageElement) {
    // decode() waits for the image to load and rejects for a broken one, with a clear reason.
    try {
      await input.decode();
    } catch (error) {
      throw new SightlineError(ErrorCodes.UnsupportedInput, `the <img> (${input.currentSrc || input.src || "no src"}) could not be decoded: ${error.message}`, { cause: error });
    }
  }
  const drawable =
    (has("HTMLImageElement") && input instanceof HTMLImageElement) ||
    (has("HTMLCanvasElement") && input instanceof HTMLCanvasElement) ||
    (has("OffscreenCanvas") && input instanceof OffscreenCanvas) ||
    (has("ImageBitmap") && input instanceof ImageBitmap) ||
    (has("SVGImageElement") && input instanceof SVGImageElement) ||
    (has("HTMLVideoElement") && input instanceof HTMLVideoElement) ||
    (has("VideoFrame") && input instanceof VideoFrame);
  if (drawable) {
    let bitmap;
    try {
      bitmap = await createImageBitmap(input);
    } catch (error) {
      // A cross-origin <img> without CORS taints what is drawn from it, so its pixels cannot be read.
      throw new SightlineError(ErrorCodes.UnsupportedInput, `the image could not be read: ${error.message}`, { cause: error });
    }
    return { value: bitmap, transfer: [bitmap] };
  }
  const what = input === null ? "null" : typeof input === "object" ? input.constructor?.name ?? "object" : typeof input;
  throw new SightlineError(
    ErrorCodes.UnsupportedInput,
    `cannot analyse a ${what}: pass a Blob/File, ArrayBuffer, typed array, URL string, <img>, <canvas>, ImageBitmap or ImageData`,
  );
}

async function encodePng(source, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  if (source instanceof ImageData) context.putImageData(source, 0, 0);
  else context.drawImage(source, 0, 0);
  // Lossless: the core sees exactly these pixels (PNG is among the formats it decodes).
  const blob = await canvas.convertToBlob({ type: "image/png" });
  return new Uint8Array(await blob.arrayBuffer());
}

/** Encoded image bytes from what `prepareInput` made; runs where the model runs. */
export async function imageBytes(value, { signal } = {}) {
  if (value instanceof Uint8Array) return value;
  if (has("Blob") && value instanceof Blob) return blobBytes(value);
  if (value && typeof value.url === "string") {
    let response;
    try {
      response = await fetch(value.url, { signal });
    } catch (error) {
      if (error?.name === "AbortError") throw error;
      throw new SightlineError("InvalidImageUrl", `could not download ${value.url}: ${error.message} (a cross-origin server must allow CORS)`, { cause: error });
    }
    if (!response.ok) throw new SightlineError("InvalidImageUrl", `could not download ${value.url}: HTTP ${response.status}`);
    return responseBytes(response, value.url);
  }
  if (has("ImageBitmap") && value instanceof ImageBitmap) {
    try {
      return await encodePng(value, value.width, value.height);
    } finally {
      value.close();
    }
  }
  if (has("ImageData") && value instanceof ImageData) return encodePng(value, value.width, value.height);
  if (has("OffscreenCanvas") && value instanceof OffscreenCanvas) return encodePng(value, value.width, value.height);
  throw new SightlineError(ErrorCodes.UnsupportedInput, "internal: an input reached the model in a form it cannot encode");
}
