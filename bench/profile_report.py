#!/usr/bin/env python3
"""bench/profile.md from scripts/profile's raw profiles: time per operator of the vision tower,
natively and in Chromium, int8 graph and f32 weights side by side.

    python3 bench/profile_report.py [--native N.json]... [--browser B.json] --out bench/profile.md \
        --commit SHA --machine TEXT --runs N
"""

import argparse
import collections
import datetime
import json


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--native", action="append", default=[])
    parser.add_argument("--browser")
    parser.add_argument("--out", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--machine", required=True)
    parser.add_argument("--runs", required=True)
    args = parser.parse_args()

    columns = []  # (title, [nodes])
    load_columns = []  # (title, {"cold": [phases], "warm": [phases]})
    for path in args.native:
        report = json.load(open(path))
        columns.append((f"native, {report['weights']}", report["nodes"]))
        load_columns.append((f"native, {report['weights']}", report["load"]))
    browser = None
    if args.browser:
        raw = json.load(open(args.browser))
        browser = raw["browser"]
        for build, nodes in raw["profiles"].items():
            weights = "f32" if build.endswith("f32-weights") else "int8"
            columns.append((f"wasm, {weights}", nodes))
            if raw.get("loads", {}).get(build):
                load_columns.append((f"wasm, {weights}", raw["loads"][build]))

    per_op = []
    totals = []
    for _, nodes in columns:
        ops = collections.defaultdict(lambda: [0, 0.0])
        for node in nodes:
            ops[node["op"]][0] += 1
            ops[node["op"]][1] += node["ms"]
        per_op.append(ops)
        totals.append(sum(node["ms"] for node in nodes))
    # Rows ordered by the first column's time (the int8 graph natively, when measured).
    order = sorted({op for ops in per_op for op in ops}, key=lambda op: [-ops.get(op, [0, 0.0])[1] for ops in per_op])

    lines = [
        "# Where the vision tower's time goes",
        "",
        f"`scripts/profile` on {datetime.date.today().isoformat()}, commit {args.commit}, {args.machine}"
        + (f", {browser}" if browser else "")
        + f". Synthetic full-size SigLIP B/16-224 vision tower (`siglip-test-base`), the benchmark's fixed"
        " input, one thread. Every node of tract's optimised plan is timed; each node's median over"
        f" {args.runs} runs, summed per operator (`int8`: the shipped graph, whose quantised products run"
        " as one fused `DynamicQuantizeMatMul` each; `f32`: the weights dequantised at load).",
        "Timing every node adds a little to the total; `scripts/bench` measures whole runs.",
        "",
        "| operator | " + " | ".join(f"{title}: nodes, ms, share" for title, _ in columns) + " |",
        "|---|" + "---|" * len(columns),
        "| **total** | " + " | ".join(f"{sum(ops[o][0] for o in ops)}, **{t:,.1f}**, 100%" for ops, t in zip(per_op, totals)) + " |",
    ]
    for op in order:
        cells = []
        for ops, total in zip(per_op, totals):
            if op in ops:
                count, ms = ops[op]
                cells.append(f"{count}, {ms:,.1f}, {100 * ms / total:.1f}%")
            else:
                cells.append("—")
        lines.append(f"| {op} | " + " | ".join(cells) + " |")
    if load_columns:
        lines += [
            "",
            "## Load",
            "",
            "Loading the vision tower from its bytes (already in memory) to a runnable plan, phase by"
            " phase: the first load in a fresh process or worker (cold: in wasm, V8 still runs baseline"
            " code) and the median of the next loads (warm). `scripts/bench` measures cold loads.",
            "",
            "| phase | " + " | ".join(f"{title}: cold, warm ms" for title, _ in load_columns) + " |",
            "|---|" + "---|" * len(load_columns),
        ]
        phases = list(dict.fromkeys(p["phase"] for _, load in load_columns for p in load["cold"]))
        sums = [(sum(p["ms"] for p in load["cold"]), sum(p["ms"] for p in load["warm"] or [])) for _, load in load_columns]
        lines.append("| **total** | " + " | ".join(f"**{c:,.0f}**, **{w:,.0f}**" for c, w in sums) + " |")
        for phase in phases:
            cells = []
            for _, load in load_columns:
                cold = next((p["ms"] for p in load["cold"] if p["phase"] == phase), None)
                warm = next((p["ms"] for p in load["warm"] or [] if p["phase"] == phase), None)
                cells.append("—" if cold is None else f"{cold:,.0f}, {'—' if warm is None else f'{warm:,.0f}'}")
            lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    lines += ["", "## Slowest nodes", ""]
    for title, nodes in columns:
        lines.append(f"{title}: " + "; ".join(
            f"`{n['node']}` ({n['op']}) {n['ms']:,.1f} ms" for n in sorted(nodes, key=lambda n: -n["ms"])[:6]) + ".")
        lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
