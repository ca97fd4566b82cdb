#!/usr/bin/env python3
"""Turn one benchmark run's raw JSON (bench/run.mjs, bench/native.py) into rows of
bench/results.md, keeping every earlier row, and print this run's rows.

    python3 bench/report.py --browser B.json [--native N.json] --results bench/results.md \
        --commit SHA --machine TEXT --load TEXT [--latest bench/latest.json]

--latest also writes this run alone as JSON: {"commit", "date", "machine", "rows": [{"target":
"wasm"|"native", "threads": 1|"all", "default", "build", "sightline_ms", "peer_ms", "ratio",
"load_ratio", "cos"}]}, one row per build and thread count; "default" is true on the builds the page
and the CLI use without options: the threaded module on every core where the page is cross-origin
isolated (as scripts/serve serves it), the relaxed-SIMD module on one thread where it is not (both
with the int8 graph), and natively the descriptor's default weights.
"""

import argparse
import datetime
import json
import statistics
import sys

VISION_MARK = "<!-- vision rows: scripts/bench inserts above this line -->"
OTHER_MARK = "<!-- other rows: scripts/bench inserts above this line -->"

HEADER = f"""# Benchmarks: Sightline versus onnxruntime

Rerun with `scripts/bench` (see README). Every row is one run on the machine it names; each pair
ran in the same process (browser rows: the same Web Worker) with the two engines' runs interleaved
after warm-up, on the same file and the same fixed 1×3×224×224 input. The vision model is the
synthetic full-size `siglip-test-base` (same ops and FLOPs as the real 99.5 MB
`vision_model_quantized.onnx`). Times are per image; "load" is load + optimise from bytes
already in memory, in a fresh wasm instance. `cos` is the cosine between the two engines'
embeddings (same model, so it should be ~1). Ratio > 1 means Sightline is slower.

## Vision tower

| date | commit | machine | load avg | pair | threads | Sightline median (min) | peer median (min) | Sightline/peer | load: Sightline / peer | cos |
|---|---|---|---|---|---|---|---|---|---|---|
{VISION_MARK}

## Memory, page, text tower

Memory: peak resident memory (VmHWM) of the Chromium renderer in which one engine alone, in a
fresh browser, loaded the model and ran once, next to the same page with no engine; Sightline's
wasm memory (which never shrinks, so it is its wasm peak) in brackets. (`performance.
measureUserAgentSpecificMemory` leaves out non-shared wasm memory, so it cannot compare the two.)
Cold load alone: load + optimise in that fresh browser. Page: the
real page in www/ (release build, the tiny synthetic test model, its model files already in Cache
Storage): reload to ready, and drop of a 512×512 PNG to its result card with tags. Text tower:
one prompt through the TINY synthetic text tower (the only one here; the real one is ~30× larger),
Sightline including tokenization, peer given the same ids.

| date | commit | peak renderer memory: Sightline / ort-web | cold load alone: Sightline / ort-web | page: reload→ready, drop→result | text tower (tiny, synthetic): Sightline / ort-web median | cos |
|---|---|---|---|---|---|---|
{OTHER_MARK}
"""


BUILD_LABELS = {
    "sightline": "Sightline (the page's module, int8 graph)",
    "sightline-f32-weights": "Sightline (the page's module, f32 weights)",
    "sightline-simd128": "Sightline (SIMD128 module, int8 graph)",
    "sightline-threads": "Sightline (threaded build, int8 graph)",
    "sightline-threads-f32-weights": "Sightline (threaded build, f32 weights)",
}


def ms(value):
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def mb(value):
    return "n/a" if value is None else f"{value / 1e6:,.0f} MB"


def vision_cells(pair, entry, peer_name, build="sightline"):
    """The cells of one pair, from "pair" on (date, commit, machine and load come first)."""
    s, o = entry["samples"][build], entry["samples"]["ort"]
    ratio = statistics.median(s) / statistics.median(o)
    loads = entry["load"]
    cosine = entry["cosine"][build] if isinstance(entry["cosine"], dict) else entry["cosine"]
    return [
        pair,
        str(entry.get("threads", 1)),
        f"{ms(statistics.median(s))} ({ms(min(s))})",
        f"{peer_name} {ms(statistics.median(o))} ({ms(min(o))})",
        f"**{ratio:.2f}**",
        f"{ms(loads[build])} / {ms(loads['ort'])}",
        f"{cosine:.4f}",
    ]


def latest_row(target, threads, default, build, entry, kernel):
    """One row of bench/latest.json."""
    s, o = statistics.median(entry["samples"][build]), statistics.median(entry["samples"]["ort"])
    cosine = entry["cosine"][build] if isinstance(entry["cosine"], dict) else entry["cosine"]
    return {
        "target": target,
        "threads": threads,
        "default": default,
        "build": build,
        "int8_kernel": kernel,
        "sightline_ms": round(s, 1),
        "peer_ms": round(o, 1),
        "ratio": round(s / o, 3),
        "load_ratio": round(entry["load"][build] / entry["load"]["ort"], 3),
        "cos": round(cosine, 6) if cosine is not None else None,
    }


def row(cells):
    return "| " + " | ".join(cells) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--browser", required=True)
    parser.add_argument("--native")
    parser.add_argument("--results", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--machine", required=True)
    parser.add_argument("--load", required=True, help="load average while the benchmark ran")
    parser.add_argument("--latest", help="also write this run's rows as JSON here")
    args = parser.parse_args()

    browser = json.load(open(args.browser))
    date = datetime.date.today().isoformat()
    chromium = f"Chromium {browser['browser'].get('version') or '?'}"
    machine = f"{args.machine}, {chromium}"

    vision = []
    latest = []
    for entry in browser["vision"]:
        threads = entry.get("threads", 1)
        kernels = entry.get("sightlineKernels", {})
        for build in entry["builds"]:
            default = (build == "sightline" and threads == 1) or build == "sightline-threads"
            latest.append(latest_row("wasm", 1 if threads == 1 else "all", default, build, entry, kernels.get(build)))
        peer = f"onnxruntime-web {entry.get('ortVersion', '?')}"
        for build in entry["builds"]:
            label = BUILD_LABELS.get(build, build)
            if build in ("sightline", "sightline-f32-weights") and browser.get("wasmBuild"):
                label = label.replace("the page's module", f"the page's module: {browser['wasmBuild']}")
            if kernels.get(build):
                label = f"{label[:-1]}, {kernels[build]} int8 kernel)"
            vision.append((machine, vision_cells(f"wasm: {label} vs ort-web", entry, peer, build)))
    if args.native:
        native = json.load(open(args.native))
        peer = f"onnxruntime {native['onnxruntime']}"
        for build in native.get("builds", ["sightline"]):
            latest.append(latest_row("native", 1, build == native.get("default"), build, native, native.get("int8Kernel")))
            label = f"int8 graph, {native.get('int8Kernel', '?')} int8 kernel" if build == "sightline" else "f32 weights"
            cells = vision_cells(f"native: tract ({label}, {len(native['samples'][build])} runs) vs onnxruntime (Python)", native, peer, build)
            vision.append((args.machine, cells))
    vision_rows = [row([date, args.commit, where, args.load, *cells]) for where, cells in vision]

    memory = {m["engine"]: m for m in browser["memory"]}
    base, s_mem, o_mem = memory["none"], memory["sightline"], memory["ort"]
    page = browser.get("page")
    text = browser["text"]
    other = [
        f"{mb(s_mem['peakBytes'])} ({mb(s_mem['wasmBytes'])} wasm) / {mb(o_mem['peakBytes'])} (page alone {mb(base['peakBytes'])})",
        f"{ms(s_mem['loadMs'])} / {ms(o_mem['loadMs'])}",
        f"{ms(page['reloadToReadyMs'])}, {ms(page['dropToResultMs'])}" if page else "not measured",
        f"{ms(statistics.median(text['samples']['sightline']))} / {ms(statistics.median(text['samples']['ort']))}",
        f"{text['cosine']:.4f}",
    ]
    other_rows = [row([date, args.commit, *other])]

    try:
        document = open(args.results).read()
    except FileNotFoundError:
        document = HEADER
    if VISION_MARK not in document or OTHER_MARK not in document:
        sys.exit(f"{args.results} lacks its row markers; restore them from bench/report.py's HEADER")
    document = document.replace(VISION_MARK, "\n".join(vision_rows) + "\n" + VISION_MARK)
    document = document.replace(OTHER_MARK, "\n".join(other_rows) + "\n" + OTHER_MARK)
    with open(args.results, "w") as f:
        f.write(document)

    if args.latest:
        with open(args.latest, "w") as f:
            json.dump({"commit": args.commit, "date": date, "machine": machine, "rows": latest}, f, indent=1)
            f.write("\n")

    print(row(["pair", "threads", "Sightline median (min)", "peer median (min)", "Sightline/peer", "load: Sightline / peer", "cos"]))
    print(row(["---"] * 7))
    for _, cells in vision:
        print(row(cells))
    print()
    print(row(["peak renderer memory: Sightline / ort-web", "cold load alone: Sightline / ort-web", "page: reload→ready, drop→result", "text tower (tiny, synthetic)", "cos"]))
    print(row(["---"] * 5))
    print(row(other))
    extra = [f"cores: {browser['browser']['hardwareConcurrency']}", f"machine: {machine}", f"load average: {args.load}"]
    if browser.get("threadsSkipped"):
        extra.append(f"threaded pair skipped: {browser['threadsSkipped']}")
    print("\n" + "; ".join(extra))
    print(f"rows appended to {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
