// Model files: where they come from, and getting their bytes safely.
//
// Everything here works in a window or a worker and knows nothing about SigLIP: it turns a
// manifest entry (models/manifest.json's shape) or a caller's own URLs into file specs, then
// fetches each spec with progress, checks its sha256 against the manifest before use, and keeps
// it in Cache Storage so the next visit starts without downloading. www/worker.js has the same
// logic inline; it could import `fetchVerified` and `manifestFiles` from here instead.

import { SightlineError, ErrorCodes } from "./errors.js";

/** Cache Storage bucket; the same name as the page in www/, so both share downloaded models. */
export const CACHE_NAME = "sightline-models-v1";

/**
 * @typedef {object} FileSpec one file to fetch
 * @property {string} model  model (manifest entry) name, for progress reports
 * @property {string} file   path inside the model, for progress reports and errors
 * @property {string} role   manifest role: vision, text, tokenizer, tags, face, …
 * @property {string[]} urls absolute URLs tried in order; the first is the cache key
 * @property {string|null} sha256 expected lowercase hex digest, or null when the manifest has none
 * @property {number|null} size expected size in bytes, for progress when there is no Content-Length
 */

export async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Fetch and parse a manifest, with a typed error for each way it can be wrong. */
export async function loadManifest(url, { signal } = {}) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new SightlineError(ErrorCodes.DownloadFailed, `manifest ${url}: ${error.message}`, { cause: error });
  }
  if (!response.ok) throw new SightlineError(ErrorCodes.DownloadFailed, `manifest ${url}: HTTP ${response.status}`);
  let manifest;
  try {
    manifest = await response.json();
  } catch (error) {
    throw new SightlineError(ErrorCodes.InvalidManifest, `manifest ${url} is not JSON: ${error.message}`, { cause: error });
  }
  if (!manifest || typeof manifest.models !== "object") {
    throw new SightlineError(ErrorCodes.InvalidManifest, `manifest ${url} has no "models" object`);
  }
  return manifest;
}

/** The manifest entry `name`, or a typed error listing what the manifest does have. */
export function manifestEntry(manifest, name) {
  const entry = manifest.models[name];
  if (!entry) {
    const known = Object.keys(manifest.models).join(", ");
    throw new SightlineError(ErrorCodes.UnknownModel, `model "${name}" is not in the manifest (it has: ${known})`);
  }
  return entry;
}

/** The first manifest entry of a kind (e.g. "yunet"), as [name, entry], or null. */
export function manifestEntryOfKind(manifest, kind) {
  return Object.entries(manifest.models).find(([, entry]) => entry.kind === kind) ?? null;
}

/**
 * File specs of a manifest entry by role. Each file is looked for at `baseUrl/<name>/<path>`
 * first (the layout `scripts/fetch-models` installs, served by the app) and then at the
 * manifest's upstream URL.
 * @returns {Map<string, FileSpec>}
 */
export function manifestFiles(name, entry, baseUrl) {
  const files = new Map();
  for (const f of entry.files ?? []) {
    if (files.has(f.role)) continue; // the first file of a role is the one the model uses
    files.set(f.role, {
      model: name,
      file: f.path,
      role: f.role,
      urls: [baseUrl ? new URL(`${name}/${f.path}`, baseUrl).href : null, f.url].filter(Boolean),
      sha256: f.sha256 ?? null,
      size: f.size ?? null,
    });
  }
  return files;
}

/** A spec from a caller-given `string | {url, sha256?, size?}` (already absolute). */
export function specFromUrl(model, role, value) {
  const { url, sha256 = null, size = null } = typeof value === "string" ? { url: value } : value;
  return { model, file: new URL(url).pathname.split("/").pop() || role, role, urls: [url], sha256, size };
}

async function fetchFirst(spec, signal) {
  const failures = [];
  for (const url of spec.urls) {
    try {
      const response = await fetch(url, { signal });
      if (response.ok) return response;
      failures.push(`HTTP ${response.status} from ${url}`);
    } catch (error) {
      if (error?.name === "AbortError") throw error;
      failures.push(`${error.message} (${url})`);
    }
  }
  const tried = failures.length ? failures.join("; ") : "no URL to fetch it from (give modelBaseUrl, or a manifest with URLs)";
  throw new SightlineError(ErrorCodes.DownloadFailed, `${spec.model}/${spec.file}: ${tried}`);
}

async function readWithProgress(response, spec, report) {
  const total = Number(response.headers.get("Content-Length")) || spec.size || 0;
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    report(bytes.length, total || bytes.length, false);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    report(received, total, false);
  }
  const bytes = new Uint8Array(received);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/**
 * The bytes of one file: from Cache Storage when a cached copy still matches the sha256, else
 * downloaded (first URL that answers), verified, then cached. A file failing its sha256 is never
 * used or cached.
 * @param {FileSpec} spec
 * @param {{cache?: boolean, onProgress?: (p: object) => void, signal?: AbortSignal}} [options]
 */
export async function fetchVerified(spec, { cache = true, onProgress, signal } = {}) {
  const report = (loaded, total, fromCache) =>
    onProgress?.({ model: spec.model, file: spec.file, role: spec.role, loaded, total, fromCache });
  const key = spec.urls[0];
  // Cache Storage is missing on insecure origins (http other than localhost) and in some private modes.
  const store = cache && key && typeof caches !== "undefined" ? await caches.open(CACHE_NAME).catch(() => null) : null;
  if (store) {
    const cached = await store.match(key);
    if (cached) {
      const bytes = new Uint8Array(await cached.arrayBuffer());
      if (!spec.sha256 || (await sha256Hex(bytes)) === spec.sha256) {
        report(bytes.length, bytes.length, true);
        return bytes;
      }
      await store.delete(key);
    }
  }
  const response = await fetchFirst(spec, signal);
  const bytes = await readWithProgress(response, spec, report);
  if (spec.sha256) {
    const actual = await sha256Hex(bytes);
    if (actual !== spec.sha256) {
      throw new SightlineError(
        ErrorCodes.ChecksumMismatch,
        `${spec.model}/${spec.file}: sha256 ${actual.slice(0, 12)}… does not match the manifest's ${spec.sha256.slice(0, 12)}…; the file was not used or cached`,
      );
    }
  }
  report(bytes.length, bytes.length, false);
  if (store) await store.put(key, new Response(bytes)).catch(() => {}); // a full quota must not fail the load
  return bytes;
}
