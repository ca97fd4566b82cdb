#!/usr/bin/env node
// What takes the space in a .wasm: section sizes, then code size per crate and the largest
// functions, named from the module's name section (so run it on a module that still has one:
// wasm-bindgen's output before wasm-opt). No dependencies.
//   node scripts/wasm-sizes.mjs FILE.wasm [--top N]

import { readFileSync } from "node:fs";

const SECTION_NAMES = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start", "element", "code", "data", "datacount", "tag"];

function reader(bytes) {
  let pos = 0;
  const r = {
    get pos() {
      return pos;
    },
    set pos(p) {
      pos = p;
    },
    u8: () => bytes[pos++],
    uleb() {
      let result = 0;
      let shift = 0;
      for (;;) {
        const b = bytes[pos++];
        result += (b & 0x7f) * 2 ** shift;
        if (!(b & 0x80)) return result;
        shift += 7;
      }
    },
    name() {
      const len = r.uleb();
      const s = new TextDecoder().decode(bytes.subarray(pos, pos + len));
      pos += len;
      return s;
    },
  };
  return r;
}

/** Parse sections, function body sizes (by function index) and the name section's function names. */
export function wasmSizes(bytes) {
  if (bytes[0] !== 0 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) throw new Error("not a wasm module");
  const r = reader(bytes);
  r.pos = 8;
  const sections = [];
  const bodies = [];
  const names = new Map();
  let importedFunctions = 0;
  while (r.pos < bytes.length) {
    const id = r.u8();
    const size = r.uleb();
    const start = r.pos;
    const end = start + size;
    let label = SECTION_NAMES[id] ?? `unknown(${id})`;
    if (id === 0) {
      const name = r.name();
      label = `custom "${name}"`;
      if (name === "name") {
        while (r.pos < end) {
          const sub = r.u8();
          const subSize = r.uleb();
          const subEnd = r.pos + subSize;
          if (sub === 1) {
            const count = r.uleb();
            for (let i = 0; i < count; i++) names.set(r.uleb(), r.name());
          }
          r.pos = subEnd;
        }
      }
    } else if (id === 2) {
      const count = r.uleb();
      for (let i = 0; i < count; i++) {
        r.name();
        r.name();
        const kind = r.u8();
        if (kind === 0) {
          importedFunctions++;
          r.uleb();
        } else if (kind === 1) {
          r.u8();
          const flags = r.uleb();
          r.uleb();
          if (flags & 1) r.uleb();
        } else if (kind === 2) {
          const flags = r.uleb();
          r.uleb();
          if (flags & 1) r.uleb();
        } else if (kind === 3) {
          r.u8();
          r.u8();
        } else if (kind === 4) {
          r.u8();
          r.uleb();
        }
      }
    } else if (id === 10) {
      const count = r.uleb();
      for (let i = 0; i < count; i++) {
        const bodySize = r.uleb();
        bodies.push({ index: importedFunctions + i, size: bodySize });
        r.pos += bodySize;
      }
    }
    sections.push({ label, size: end - start });
    r.pos = end;
  }
  const functions = bodies.map(({ index, size }) => ({ name: demangle(names.get(index) ?? `function[${index}]`), size }));
  return { sections, functions, named: names.size > 0 };
}

/** Readable Rust names: legacy `_ZN…E` mangling decoded, the `::h<hash>` suffix dropped. */
export function demangle(name) {
  let text = name;
  if (name.startsWith("_ZN")) {
    const parts = [];
    let i = 3;
    while (i < name.length && name[i] !== "E") {
      let digits = "";
      while (/\d/.test(name[i])) digits += name[i++];
      if (!digits) break;
      parts.push(name.slice(i, i + Number(digits)));
      i += Number(digits);
    }
    text = parts
      .join("::")
      .replace(/\$LT\$/g, "<")
      .replace(/\$GT\$/g, ">")
      .replace(/\$u20\$/g, " ")
      .replace(/\$RF\$/g, "&")
      .replace(/\$C\$/g, ",")
      .replace(/\.\./g, "::");
  }
  return text.replace(/::h[0-9a-f]{16}$/, "");
}

/** The crate a function's code belongs to: the first path segment (the Self type's for `<T as Trait>::f`). */
export function crateOf(name) {
  const m = name.match(/^<?&?(?:mut )?(?:dyn )?([A-Za-z_][A-Za-z0-9_]*)::/);
  if (m) return m[1];
  if (/^(function\[|__wbg|__wbindgen|wasm_bindgen)/.test(name)) return name.startsWith("function[") ? "(unnamed)" : "wasm_bindgen";
  return "(other)";
}

function formatKB(n) {
  return `${(n / 1024).toFixed(1).padStart(9)} KB`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const file = process.argv[2];
  const topIndex = process.argv.indexOf("--top");
  const top = topIndex > 0 ? Number(process.argv[topIndex + 1]) : 25;
  if (!file) {
    console.error("usage: node scripts/wasm-sizes.mjs FILE.wasm [--top N]");
    process.exit(2);
  }
  const { sections, functions, named } = wasmSizes(readFileSync(file));
  console.log(`sections of ${file}:`);
  for (const s of [...sections].sort((a, b) => b.size - a.size)) console.log(`  ${formatKB(s.size)}  ${s.label}`);
  if (!named) console.log("  (no name section: functions cannot be attributed; run on wasm-bindgen's output before wasm-opt)");
  const code = functions.reduce((s, f) => s + f.size, 0);
  const byCrate = new Map();
  for (const f of functions) byCrate.set(crateOf(f.name), (byCrate.get(crateOf(f.name)) ?? 0) + f.size);
  console.log(`\ncode by crate (${functions.length} functions, ${formatKB(code).trim()}):`);
  for (const [crate, size] of [...byCrate].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${formatKB(size)}  ${((100 * size) / code).toFixed(1).padStart(5)}%  ${crate}`);
  }
  console.log(`\nlargest ${top} functions:`);
  for (const f of [...functions].sort((a, b) => b.size - a.size).slice(0, top)) {
    console.log(`  ${formatKB(f.size)}  ${f.name.length > 140 ? `${f.name.slice(0, 137)}...` : f.name}`);
  }
}
