// Model files: where they come from, and getting their bytes safely.
//
// Everything here works in a window or a worker and knows nothing about SigLIP: it turns a
// manifest entry (models/manifest.json's shape) or a caller's own URLs into file specs, then
// fetches each spec with progress, checks its sha256 against the manifest before use, and keeps
// it in Cache Storage so the next visit starts without downloading. It also reads model folders
// at any URL (a folder laid out like models/<name>/, or a Hugging Face repository): files the
// manifest knows by path and size are checked against its sha256, the others are reported with
// their own sha256 as unverified. The page in www/ loads its models through the package, so it
// uses this very loader.

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
  return parseManifest(await response.text(), url);
}

/** A manifest's text, parsed and checked (see `validateManifest`). */
export function parseManifest(text, url) {
  let manifest;
  try {
    manifest = JSON.parse(text);
  } catch (error) {
    throw new SightlineError(ErrorCodes.InvalidManifest, `manifest ${url} is not JSON: ${error.message}`, { cause: error });
  }
  return validateManifest(manifest, url);
}

const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * Check a manifest's shape (models/manifest.json's) before anything reads it, so that a damaged
 * or hostile one fails with `InvalidManifest` naming the field, never with a TypeError later.
 * @returns the manifest itself
 */
export function validateManifest(manifest, url) {
  const invalid = (where, what) => new SightlineError(ErrorCodes.InvalidManifest, `manifest ${url}: ${where} ${what}`);
  if (!isObject(manifest)) throw invalid("the top level", "is not an object");
  if (!isObject(manifest.models)) throw invalid('"models"', "is not an object");
  if (manifest.default !== undefined && typeof manifest.default !== "string") throw invalid('"default"', "is not a string");
  for (const [name, entry] of Object.entries(manifest.models)) {
    const at = `models[${JSON.stringify(name)}]`;
    if (!isObject(entry)) throw invalid(at, "is not an object");
    if (entry.kind !== undefined && typeof entry.kind !== "string") throw invalid(`${at}.kind`, "is not a string");
    if (entry.files === undefined) continue;
    if (!Array.isArray(entry.files)) throw invalid(`${at}.files`, "is not a list");
    entry.files.forEach((file, i) => {
      const fileAt = `${at}.files[${i}]`;
      if (!isObject(file)) throw invalid(fileAt, "is not an object");
      for (const key of ["path", "role"]) {
        if (typeof file[key] !== "string" || !file[key]) throw invalid(`${fileAt}.${key}`, "is not a non-empty string");
      }
      if (file.path.split("/").some((part) => part === ".." || part === "")) throw invalid(`${fileAt}.path`, "leaves the model folder");
      if (file.url != null && !/^https?:\/\//.test(String(file.url))) throw invalid(`${fileAt}.url`, "is not an http(s) URL");
      if (file.size !== undefined && file.size !== null && !(Number.isSafeInteger(file.size) && file.size >= 0)) {
        throw invalid(`${fileAt}.size`, "is not a byte count");
      }
      if (file.sha256 !== undefined && file.sha256 !== null && !/^[0-9a-f]{64}$/i.test(String(file.sha256))) {
        throw invalid(`${fileAt}.sha256`, "is not a 64-digit hex digest");
      }
    });
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

// ---- Model folders at any URL ------------------------------------------------------------------

/**
 * @typedef {object} KnownFile a manifest file, for checking a file of a folder given by URL
 * @property {string} model manifest entry name
 * @property {string} path  path inside the model folder
 * @property {number|null} size
 * @property {string} sha256
 */

/** Every manifest file that has a sha256, as KnownFile: what a folder's files are checked against. */
export function manifestFileList(manifest) {
  const list = [];
  for (const [model, entry] of Object.entries(manifest?.models ?? {})) {
    for (const f of entry.files ?? []) if (f.sha256) list.push({ model, path: f.path, size: f.size ?? null, sha256: f.sha256 });
  }
  return list;
}

const HUGGING_FACE_HOSTS = new Set(["huggingface.co", "www.huggingface.co", "hf.co"]);
const invalidUrl = (message) => new SightlineError(ErrorCodes.InvalidOptions, message);

/**
 * The URL of a model folder (ending in "/") from what a user typed: a folder laid out like
 * models/<name>/ (`…/sightline.json` is taken as its folder), or a Hugging Face repository
 * (`https://huggingface.co/OWNER/REPO`, optionally `/tree/REVISION/FOLDER`), whose files are then
 * read from `…/resolve/REVISION/`. Query and fragment are dropped; a URL with a user name or
 * password is refused (fetch cannot send it, and it must not be stored). Relative URLs resolve
 * against `base`.
 * @returns {{url: string, name: string, huggingFace: {repo: string, revision: string} | null}}
 */
export function modelFolderUrl(input, base) {
  let text = String(input ?? "").trim();
  if (!text) throw invalidUrl("give the URL of a model folder or of a Hugging Face repository");
  if (/^(www\.)?(huggingface\.co|hf\.co)\//i.test(text)) text = `https://${text}`;
  let url;
  try {
    url = new URL(text, base);
  } catch {
    throw invalidUrl(`"${text}" is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw invalidUrl(`${url.protocol} URLs cannot be loaded: give an http(s) URL`);
  if (url.username || url.password) {
    throw invalidUrl("the URL carries a user name or password: give the folder's URL without credentials");
  }
  url.search = "";
  url.hash = "";
  if (HUGGING_FACE_HOSTS.has(url.hostname.toLowerCase())) {
    url.hostname = "huggingface.co";
    const parts = url.pathname.split("/").filter(Boolean);
    const prefix = parts[0] === "datasets" || parts[0] === "spaces" ? [parts.shift()] : [];
    const [owner, repo, mode, revision = "main", ...rest] = parts;
    const shape = "a Hugging Face URL names a repository: https://huggingface.co/OWNER/REPO (optionally /tree/REVISION/FOLDER)";
    if (!owner || !repo || (mode && !["tree", "resolve", "blob"].includes(mode))) throw invalidUrl(`${text}: ${shape}`);
    if (mode === "blob" || rest.at(-1) === "sightline.json") rest.pop(); // a file's page: its folder
    url.pathname = `/${[...prefix, owner, repo, "resolve", revision, ...rest].join("/")}/`;
    return { url: url.href, name: decodeURIComponent(repo), huggingFace: { repo: `${owner}/${repo}`, revision: decodeURIComponent(revision) } };
  }
  if (url.pathname.endsWith("/sightline.json")) url.pathname = url.pathname.slice(0, -"sightline.json".length);
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  const name = decodeURIComponent(url.pathname.split("/").filter(Boolean).pop() ?? url.hostname);
  return { url: url.href, name, huggingFace: null };
}

/**
 * The spec of the file at `path` inside the folder `folderUrl` (from modelFolderUrl). It has no
 * sha256 of its own: fetchModelFile checks it against `known` (manifestFileList) by path and size.
 */
export function folderFileSpec(folderUrl, path, { model, role, known = [] }) {
  const inside = typeof path === "string" && path && !path.startsWith("/") && !/^[a-z][a-z0-9+.-]*:/i.test(path);
  const url = inside ? new URL(path, folderUrl).href : "";
  if (!url.startsWith(folderUrl)) {
    throw new SightlineError(ErrorCodes.InvalidManifest, `the ${role} file ${JSON.stringify(path)} is not a path inside the model folder ${folderUrl}`);
  }
  return { model, file: path, role, urls: [url], sha256: null, size: null, known };
}

// ---- Fetching ----------------------------------------------------------------------------------

const crossOrigin = (url) => typeof location !== "undefined" && new URL(url).origin !== location.origin;

async function fetchFirst(spec, signal, refresh) {
  const failures = [];
  let status = null;
  for (const url of spec.urls) {
    try {
      // refresh: revalidate with the server rather than trust the HTTP cache.
      const response = await fetch(url, { signal, cache: refresh ? "no-cache" : "default" });
      if (response.ok) return response;
      status = response.status;
      failures.push(`HTTP ${response.status} from ${url}`);
    } catch (error) {
      if (error?.name === "AbortError") throw error;
      status = null;
      // Browsers say only "Failed to fetch" for a refused CORS request, an unknown host or a dead server.
      const hint = crossOrigin(url) ? ": unreachable, or its server does not allow cross-origin requests (CORS)" : "";
      failures.push(`${error.message} (${url}${hint})`);
    }
  }
  const tried = failures.length ? failures.join("; ") : "no URL to fetch it from (give modelBaseUrl, or a manifest with URLs)";
  throw new SightlineError(ErrorCodes.DownloadFailed, `${spec.model}/${spec.file}: ${tried}`, { status: status ?? undefined });
}

async function readWithProgress(response, spec, report) {
  const total = Number(response.headers.get("Content-Length")) || spec.size || 0;
  return readBody(response, { onChunk: (received) => report(received, total || received, false) });
}

/**
 * A response's body, read chunk by chunk: `onChunk(received)` after each chunk, and `null` as
 * soon as more than `limit` bytes came (the rest is never read, so a hostile server cannot fill
 * the tab's memory).
 * @returns {Promise<Uint8Array | null>}
 */
export async function readBody(response, { limit = Infinity, onChunk = () => {} } = {}) {
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    onChunk(bytes.length);
    return bytes.length > limit ? null : bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    received += value.length;
    if (received > limit) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
    onChunk(received);
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
 * What the digest of `size` bytes hashing to `sha256` says about them: `ok` false when they must
 * not be used (the manifest expects other bytes), `verified` when a digest vouches for them, and
 * `matched`, the manifest file they are (for a folder file checked against `spec.known`).
 */
function checkDigest(spec, size, sha256) {
  if (spec.sha256) return spec.sha256 === sha256 ? { ok: true, verified: true, matched: null } : { ok: false, expected: spec.sha256, against: null };
  const known = spec.known ?? [];
  const samePlace = known.filter((k) => k.path === spec.file && k.size === size);
  if (samePlace.length) {
    const hit = samePlace.find((k) => k.sha256 === sha256);
    if (hit) return { ok: true, verified: true, matched: hit };
    return { ok: false, expected: samePlace[0].sha256, against: `${samePlace[0].model}/${samePlace[0].path}` };
  }
  // Another path, or another size: not the manifest's file, unless its content is.
  const same = sha256 ? known.find((k) => k.sha256 === sha256) : null;
  return { ok: true, verified: Boolean(same), matched: same ?? null };
}

/**
 * One file's bytes and what is known of them: `{bytes, sha256, verified, matched, fromCache, url}`.
 * From Cache Storage when a cached copy still passes its check, else downloaded (first URL that
 * answers), checked, then cached. A file is checked against the spec's sha256, or else, for a
 * file of a folder given by URL, against the manifest file of the same path and size in
 * `spec.known` (another path or size: unverified, unless its sha256 is a manifest file's). A file
 * failing its check is never used or cached. `verified` is false for a file no digest vouches
 * for; its `sha256` is computed all the same (unless `digest` is false), so it can be shown.
 * `refresh` ignores the cached copy of such an unverified file: it may have changed at its URL.
 * @param {FileSpec & {known?: KnownFile[]}} spec
 * @param {{cache?: boolean, refresh?: boolean, digest?: boolean, onProgress?: (p: object) => void, signal?: AbortSignal}} [options]
 */
export async function fetchModelFile(spec, { cache = true, refresh = false, digest = true, onProgress, signal } = {}) {
  const report = (loaded, total, fromCache) =>
    onProgress?.({ model: spec.model, file: spec.file, role: spec.role, loaded, total, fromCache });
  const key = spec.urls[0];
  const hashed = digest || spec.sha256 || spec.known?.length;
  const hash = async (bytes) => (hashed ? sha256Hex(bytes) : null);
  // Cache Storage is missing on insecure origins (http other than localhost) and in some private modes.
  const store = cache && key && typeof caches !== "undefined" ? await caches.open(CACHE_NAME).catch(() => null) : null;
  if (store) {
    const cached = await store.match(key);
    if (cached) {
      const bytes = new Uint8Array(await cached.arrayBuffer());
      const sha256 = await hash(bytes);
      const check = checkDigest(spec, bytes.length, sha256);
      if (check.ok && (check.verified || !refresh)) {
        report(bytes.length, bytes.length, true);
        return { bytes, sha256, verified: check.verified, matched: check.matched, fromCache: true, url: key };
      }
      if (!check.ok) await store.delete(key);
    }
  }
  const response = await fetchFirst(spec, signal, refresh);
  const bytes = await readWithProgress(response, spec, report);
  const sha256 = await hash(bytes);
  const check = checkDigest(spec, bytes.length, sha256);
  if (!check.ok) {
    throw new SightlineError(
      ErrorCodes.ChecksumMismatch,
      `${spec.model}/${spec.file}: sha256 ${sha256.slice(0, 12)}… does not match the manifest's ${check.expected.slice(0, 12)}…${check.against ? ` (${check.against})` : ""}; the file was not used or cached`,
    );
  }
  report(bytes.length, bytes.length, false);
  if (store) await store.put(key, new Response(bytes)).catch(() => {}); // a full quota must not fail the load
  return { bytes, sha256, verified: check.verified, matched: check.matched, fromCache: false, url: key };
}

/**
 * The bytes of one file: from Cache Storage when a cached copy still matches the sha256, else
 * downloaded (first URL that answers), verified, then cached. A file failing its sha256 is never
 * used or cached.
 * @param {FileSpec} spec
 * @param {{cache?: boolean, onProgress?: (p: object) => void, signal?: AbortSignal}} [options]
 */
export async function fetchVerified(spec, options = {}) {
  return (await fetchModelFile(spec, { ...options, digest: false })).bytes;
}
