// Offline support for the app shell: the page, its scripts, the wasm and the manifest are
// precached on install and served network-first (fresh when online, cached when offline).
// Model files are not handled here: worker.js verifies and caches them itself.

const SHELL = "sightline-shell-v1";
const PRECACHE = [
  "./", "index.html", "app.js", "worker.js", "lib/model-loader.js", "lib/errors.js", "style.css",
  "pkg/sightline.js", "pkg/sightline_bg.wasm", "model.json", "models/manifest.json",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  // Model files (also those of a model folder the user gave by URL, if it is on this origin).
  const isModelFile = (url.pathname.includes("/models/") && !url.pathname.endsWith("/manifest.json")) ||
    /\.(onnx|sltags)$|\/(tokenizer|sightline)\.json$/.test(url.pathname);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || isModelFile) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(SHELL);
      try {
        const response = await fetch(event.request);
        if (response.ok) await cache.put(event.request, response.clone());
        return response;
      } catch (offline) {
        const cached = await cache.match(event.request, { ignoreSearch: true });
        if (cached) return cached;
        throw offline;
      }
    })(),
  );
});
