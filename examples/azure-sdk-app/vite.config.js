// The same settings as examples/vite-app (Sightline's threaded module needs both; without them
// the app still works, single-threaded):
// - the headers that make the page cross-origin isolated, for `vite` and `vite preview`;
// - workers bundled as ES modules: the thread pool's workers start from the chunk holding
//   Sightline's glue, which Vite's default worker format ("iife") folds into the worker's bundle.
// And one for this repository only: `sightline` is linked from its build in dist/npm (a file:
// dependency), so Vite would resolve sightline/azure's import of @azure/core-rest-pipeline from
// dist/npm's real path, where there is none; dedupe resolves it from this app, as a package
// installed from the registry does (the same copy the Azure client uses).
const crossOriginIsolation = {
  "Cross-Origin-Opener-Policy": "same-origin",
  "Cross-Origin-Embedder-Policy": "credentialless",
};

export default {
  server: { headers: crossOriginIsolation },
  preview: { headers: crossOriginIsolation },
  worker: { format: "es" },
  resolve: { dedupe: ["@azure/core-rest-pipeline"] },
};
