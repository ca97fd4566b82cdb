// The vision tower's per-node profile in headless Debian Chromium (scripts/profile): the module the
// page loads in this browser (js/wasm-builds.js) with the int8 graph and with f32 weights, one
// worker each, single-threaded.
//
//   node bench/profile.mjs --url http://127.0.0.1:PORT/ --out FILE [--runs 5] [--warmup 2]
//
// Writes {"browser", "profiles": {build: [{op, node, ms}]}, "loads": {build: {cold, warm}}} (each
// node's median over the runs; each load phase's time in the first load and the median of the rest).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    out: { type: "string" },
    runs: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    chromium: { type: "string", default: process.env.CHROMIUM ?? "/usr/bin/chromium" },
  },
});
if (!opts.url || !opts.out) {
  console.error("usage: node bench/profile.mjs --url URL --out FILE [--runs N] [--warmup N]");
  process.exit(2);
}

const profileDir = mkdtempSync(join(tmpdir(), "sightline-profile-chromium-"));
const context = await chromium.launchPersistentContext(profileDir, {
  executablePath: opts.chromium,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (message) => console.error(`profile: page: ${message.text()}`));
  page.on("pageerror", (error) => console.error(`profile: page error: ${error.message}`));
  await page.goto(opts.url);
  await page.waitForSelector("body[data-ready=true]");
  const pkg = await page.evaluate(() => import("/page/sightline/wasm-builds.js").then((m) => `/pkg/${m.WASM_BUILDS[m.fastestWasmBuild()].glue}`));
  const builds = [
    { name: "sightline", pkg },
    { name: "sightline-f32-weights", pkg, dequantize: true },
  ];
  const { profiles, loads } = await page.evaluate((args) => window.bench.profile(args), {
    warmup: Number(opts.warmup),
    runs: Number(opts.runs),
    builds,
  });
  const browser = `Chromium ${context.browser()?.version() ?? "?"}`;
  writeFileSync(opts.out, JSON.stringify({ browser, profiles, loads }));
} finally {
  await context.close();
  rmSync(profileDir, { recursive: true, force: true });
}
