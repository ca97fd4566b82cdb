// Which of the package's two WebAssembly modules this engine should run. Each has its own
// wasm-bindgen glue; they export the same API and compute the same results bit for bit:
// - "simd128" (pkg/sightline.js, sightline_bg.wasm) runs wherever WebAssembly SIMD does;
// - "relaxed-simd" (pkg/sightline_relaxed_simd.js, sightline_relaxed_simd_bg.wasm) also holds the
//   relaxed-SIMD int8 kernel.
//   It only loads where relaxed SIMD is on (Chromium 114 and later, for one), and inside it uses that
//   kernel only where the engine's relaxed dot product is exact (V8 on x86-64 with AVX-VNNI: about
//   2.4x the multiply-adds per cycle); elsewhere it runs the SIMD128 kernel, as fast as the other
//   module. So it is the better choice wherever it loads.
// scripts/build-web builds both; the page's worker and the package's engine ask fastestWasmBuild().

/**
 * The smallest module using a relaxed-SIMD instruction: one function returning
 * `i32x4.relaxed_dot_i8x16_i7x16_add_s(i8x16.splat(1), i8x16.splat(2), i32x4.splat(3))`.
 * `WebAssembly.validate` accepts it exactly where relaxed SIMD is enabled. (GoogleChromeLabs'
 * wasm-feature-detect asks the same way; a bare-specifier import would need a bundler or an import
 * map, which the static page and module workers do not have.)
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // types: () -> v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x13, 0x01, 0x11, 0x00, // code: one body, no locals
  0x41, 0x01, 0xfd, 0x0f, 0x41, 0x02, 0xfd, 0x0f, 0x41, 0x03, 0xfd, 0x11, // the three splats
  0xfd, 0x93, 0x02, // i32x4.relaxed_dot_i8x16_i7x16_add_s (0xfd 0x113)
  0x0b, // end
]);

/**
 * Each build's files in pkg/ (scripts/build-web names them). engine.js imports the two glues by
 * literal paths instead, which bundlers need to ship them.
 */
export const WASM_BUILDS = Object.freeze({
  simd128: Object.freeze({ glue: "sightline.js", wasm: "sightline_bg.wasm" }),
  "relaxed-simd": Object.freeze({ glue: "sightline_relaxed_simd.js", wasm: "sightline_relaxed_simd_bg.wasm" }),
});

/** @returns {"relaxed-simd" | "simd128"} */
export function fastestWasmBuild() {
  try {
    return WebAssembly.validate(RELAXED_SIMD_PROBE) ? "relaxed-simd" : "simd128";
  } catch {
    return "simd128";
  }
}
