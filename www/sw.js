// Offline support for the app shell: the page, its scripts, the wasm and the manifest are
// precached on install and served network-first (fresh when online, cached when offline). The page
// runs on the npm package (sightline/): its modules are part of the shell. A module service worker
// (app.js registers it with type "module"), so that it asks the package's wasm-builds.js which of
// the WebAssembly builds to precache, as the package does (the threaded one where this worker is
// cross-origin isolated too: scripts/serve sends the same headers for every file).
// Nothing else is touched: model files are verified by sha256 and cached by the package itself,
// and every other request (a same-origin Azure proxy's answers, requests carrying a key, images
// fetched by URL) goes to the network and is never stored here.

import { WASM_BUILDS, fastestWasmBuild } from "./sightline/wasm-builds.js";

const SHELL = "sightline-shell-v5";
/** Each WebAssembly build's files (the package's wasm-builds.js): only the one this browser runs is precached. */
const buildFiles = (build) => [WASM_BUILDS[build].glue, WASM_BUILDS[build].wasm, ...WASM_BUILDS[build].extra].map((file) => `sightline/pkg/${file}`);
/** The package's ES modules (its package.json "files", less the declarations and the element). */
const PACKAGE = ["index.js", "engine.js", "worker.js", "model-loader.js", "input.js", "errors.js", "wasm-builds.js", "manifest.js"].map((file) => `sightline/${file}`);
const PRECACHE = [
  "./", "index.html", "app.js", ...PACKAGE, "style.css", ...buildFiles(fastestWasmBuild()), "model.json", "models/manifest.json",
];
// Absolute URLs of the shell, without query or fragment.
const SHELL_URLS = new Set([...PRECACHE, ...Object.keys(WASM_BUILDS).flatMap(buildFiles)].map((path) => new URL(path, self.registration.scope).href));

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

// Earlier versions cached every same-origin GET: drop those caches, whatever they hold.
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name.startsWith("sightline-shell-") && name !== SHELL).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  url.search = "";
  url.hash = "";
  if (event.request.method !== "GET" || !SHELL_URLS.has(url.href)) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(SHELL);
      try {
        const response = await fetch(event.request);
        if (response.ok) await cache.put(url.href, response.clone());
        return response;
      } catch (offline) {
        const cached = await cache.match(url.href);
        if (cached) return cached;
        throw offline;
      }
    })(),
  );
});
