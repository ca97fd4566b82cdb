#!/usr/bin/env python3
"""Native pair: Sightline's tract (examples/bench_native.rs) vs onnxruntime's Python package on the
same .onnx file and the same input, both single-threaded, runs interleaved. tract runs twice:
on the int8 graph as stored (fused DynamicQuantizeMatMul) and with f32 weights (the descriptor's
dequantize_weights); "default" names the one a descriptor without that option runs.

    bench/.venv/bin/python bench/native.py --sightline PATH/TO/bench_native --model-dir models/siglip-test-base \
        --out FILE [--runs 10] [--warmup 2]

scripts/bench creates the venv (onnxruntime and numpy from PyPI). Writes raw samples as JSON.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import sys
import time

import numpy as np
import onnxruntime


def bench_pixels(size):
    """The benchmark's fixed input, the same formula as bench/www/bench-worker.js."""
    i = np.arange(3 * size * size, dtype=np.int64)
    return (((i * 7919) % 2001) / 1000.0 - 1.0).astype(np.float32).reshape(1, 3, size, size)


class SightlineProcess:
    """examples/bench_native.rs, one command per line."""

    def __init__(self, binary, model_dir):
        self.process = subprocess.Popen(
            [binary, model_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.default_weights = self._expect("default_weights")
        self.int8_kernel = self._expect("int8_kernel")
        self.load_ms = float(self._expect("load_ms"))

    def _expect(self, key):
        line = self.process.stdout.readline().strip()
        if not line.startswith(key + " "):
            raise RuntimeError(f"bench_native said {line!r}, expected {key}")
        return line.split(" ", 1)[1]

    def run(self):
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return float(self._expect("run_ms"))

    def embedding(self):
        self.process.stdin.write("embedding\n")
        self.process.stdin.flush()
        return np.array([float(v) for v in self.process.stdout.readline().split(",")], dtype=np.float32)

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightline", required=True, help="the built examples/bench_native binary")
    parser.add_argument("--model-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()

    descriptor = json.load(open(f"{args.model_dir}/sightline.json"))
    model_bytes = open(f"{args.model_dir}/{descriptor['vision_model']}", "rb").read()
    pixels = bench_pixels(descriptor["image_size"])

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    start = time.perf_counter()
    session = onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    ort_load_ms = (time.perf_counter() - start) * 1e3

    def ort_run():
        start = time.perf_counter()
        pooled = session.run(["pooler_output"], {"pixel_values": pixels})[0][0]
        return (time.perf_counter() - start) * 1e3, pooled

    # The two tract engines: the same file, the descriptor's run option set explicitly each way
    # (absent: DEQUANTIZE_BY_DEFAULT in src/descriptor.rs, which bench_native reports).
    folders = []

    def variant(dequantize):
        folder = tempfile.mkdtemp(prefix=f"sightline-bench-{'f32' if dequantize else 'int8'}-")
        os.makedirs(os.path.join(folder, os.path.dirname(descriptor["vision_model"])), exist_ok=True)
        os.symlink(os.path.abspath(f"{args.model_dir}/{descriptor['vision_model']}"), os.path.join(folder, descriptor["vision_model"]))
        with open(os.path.join(folder, "sightline.json"), "w") as f:
            json.dump({**descriptor, "dequantize_weights": dequantize}, f)
        folders.append(folder)
        return folder

    engines = {"sightline": SightlineProcess(args.sightline, variant(False))}
    engines["sightline-f32-weights"] = SightlineProcess(args.sightline, variant(True))
    samples = {name: [] for name in [*engines, "ort"]}
    try:
        for i in range(args.warmup + args.runs):
            for name, engine in engines.items():
                ms = engine.run()
                if i >= args.warmup:
                    samples[name].append(ms)
            ms, pooled = ort_run()
            if i >= args.warmup:
                samples["ort"].append(ms)
                print("bench: native run " + ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in samples.items() if v), file=sys.stderr)
        ours = {name: engine.embedding() for name, engine in engines.items()}
    finally:
        for engine in engines.values():
            engine.close()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
    cosine = {
        name: float(np.dot(v, pooled) / (np.linalg.norm(v) * np.linalg.norm(pooled))) for name, v in ours.items()
    }
    result = {
        "onnxruntime": onnxruntime.__version__,
        "threads": 1,
        "builds": list(engines),
        "int8Kernel": engines["sightline"].int8_kernel,
        "default": "sightline-f32-weights" if engines["sightline"].default_weights == "f32" else "sightline",
        "load": {**{name: e.load_ms for name, e in engines.items()}, "ort": ort_load_ms},
        "cosine": cosine,
        "samples": samples,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
