// Two settings Sightline's threaded module needs (without them the app still works, single-threaded):
// - the headers that make the page cross-origin isolated, for `vite` and `vite preview` (production
//   hosts send the same two; see the package's README);
// - workers bundled as ES modules: the thread pool's workers start from the chunk holding
//   Sightline's glue, which Vite's default worker format ("iife") folds into the worker's bundle.
const crossOriginIsolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "credentialless",
};

export default {
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  worker: { format: "es" },
};
