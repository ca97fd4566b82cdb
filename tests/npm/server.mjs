// A static file server for the package tests, on 127.0.0.1 and a free port: the built Vite app at
// /, the repo's installed models at /models/ (the layout scripts/fetch-models makes), the npm
// package as built at /npm/, the shared test images at /images/, and a bare HTML page at
// /esm.html for loading the package with a plain <script type="module">, and two hostile image
// URLs (/endless.png, /declared-huge.png). Every request path is
// recorded in `requests`, so tests can check what was (and was not) downloaded. Every response is
// cross-origin isolated, as the package's README asks apps to serve their pages (COOP same-origin,
// COEP credentialless), so the package runs its threaded module.

import { createServer } from "node:http";
import { createReadStream, statSync } from "node:fs";
import { extname, join, normalize } from "node:path";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".txt": "text/plain; charset=utf-8",
};

const ESM_PAGE = `<!doctype html><meta charset="utf-8"><title>sightline as a plain ES module</title>
<body><script type="module">
  import * as sightline from "/npm/index.js";
  window.sightline = sightline;
  document.body.dataset.loaded = "true";
</script></body>`;

const ELEMENT_PAGE = `<!doctype html><meta charset="utf-8"><title>sightline-analyzer</title>
<script type="module" src="/npm/element.js"></script>
<sightline-analyzer model="siglip-test-tiny" model-base-url="/models/" labels="a cat,a rocket"></sightline-analyzer>`;

/**
 * @param {{app?: string, models: string, npm: string, images: string}} roots directories
 * @returns {Promise<{url: string, requests: string[], close: () => Promise<void>}>}
 */
export async function serve(roots) {
  const requests = [];
  const mounts = [
    ["/models/", roots.models],
    ["/npm/", roots.npm],
    ["/images/", roots.images],
    ["/", roots.app],
  ].filter(([, dir]) => dir);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    requests.push(path);
    res.setHeader("cross-origin-opener-policy", "same-origin");
    res.setHeader("cross-origin-embedder-policy", "credentialless");
    if (path === "/endless.png") {
      // A hostile image server: no Content-Length, and bytes until the client stops reading
      // (bounded at 256 MB, so the test server never runs forever).
      res.writeHead(200, { "content-type": "image/png" });
      const chunk = Buffer.alloc(1 << 20, 0x41);
      let sent = 0;
      const more = () => {
        while (sent < 256 && !res.destroyed) {
          sent++;
          if (!res.write(chunk)) return res.once("drain", more);
        }
        res.end();
      };
      res.on("close", () => { sent = 256; });
      more();
      return;
    }
    if (path === "/declared-huge.png") {
      res.writeHead(200, { "content-type": "image/png", "content-length": 2_500_000_000 });
      res.write(Buffer.alloc(1024));
      setTimeout(() => res.destroy(), 2000);
      return;
    }
    if (path === "/esm.html" || path === "/element.html") {
      res.writeHead(200, { "content-type": TYPES[".html"] });
      res.end(path === "/esm.html" ? ESM_PAGE : ELEMENT_PAGE);
      return;
    }
    for (const [prefix, dir] of mounts) {
      if (!path.startsWith(prefix)) continue;
      let file = normalize(join(dir, path.slice(prefix.length)));
      if (!file.startsWith(normalize(dir))) break;
      try {
        if (statSync(file).isDirectory()) file = join(file, "index.html");
        const { size } = statSync(file);
        res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": size, "cache-control": "no-store" });
        createReadStream(file).pipe(res);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** Headless Debian Chromium, launched as the page tests do. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}
