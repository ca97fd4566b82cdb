// For the browser tests of the page and of the npm package: their servers send COOP and COEP, so
// pages are cross-origin isolated and run the threaded module. A context given to
// `withoutIsolation` sees every response without those two headers, as a host that never set them
// would serve it.

/** @param {import("playwright-core").BrowserContext} context */
export async function withoutIsolation(context) {
  await context.route("**/*", async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers["cross-origin-opener-policy"];
    delete headers["cross-origin-embedder-policy"];
    await route.fulfill({ response, headers });
  });
}
