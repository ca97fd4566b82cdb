#!/usr/bin/env python3
"""Resize raw RGB images with Pillow, for tests/pil_resize.rs (src/resample.rs against Pillow).

Reads cases from stdin until EOF, each an ASCII header line `WIDTH HEIGHT OUT_WIDTH OUT_HEIGHT
FILTER` (FILTER: bicubic or bilinear) followed by WIDTH*HEIGHT*3 bytes of packed RGB, and writes
for each Pillow's `Image.resize((OUT_WIDTH, OUT_HEIGHT), FILTER)` as OUT_WIDTH*OUT_HEIGHT*3 raw
bytes to stdout (flushed per case, so the caller can stream). The test generates the images
(random noise, the worst case for pass-order differences) and compares.

Standalone (`pil_resize.py --self-test`) it generates a few noise images itself and prints the
SHA-256 of each resized result, to see what a Pillow version does without Rust.
Needs only Pillow (`pip install pillow`; scripts/golden/requirements.txt pins the version).
"""
import hashlib
import random
import sys

from PIL import Image

FILTERS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}


def resize(data, w, h, ow, oh, name):
    return Image.frombytes("RGB", (w, h), data).resize((ow, oh), FILTERS[name]).tobytes()


def serve():
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.readline()
        if not header:
            break
        w, h, ow, oh, name = header.split()
        w, h, ow, oh, name = int(w), int(h), int(ow), int(oh), name.decode()
        data = stdin.read(w * h * 3)
        assert len(data) == w * h * 3, f"short input for {header!r}"
        out = resize(data, w, h, ow, oh, name)
        assert len(out) == ow * oh * 3
        stdout.write(out)
        stdout.flush()


def self_test():
    import PIL

    rng = random.Random(1)
    sizes = [(60, 600), (600, 60), (1000, 30), (30, 1000), (225, 2000), (300, 301), (50, 50), (224, 1000)]
    print(f"# Pillow {PIL.__version__}: sha256 of resize(noise, 224x224, bicubic)")
    for w, h in sizes:
        out = resize(rng.randbytes(w * h * 3), w, h, 224, 224, "bicubic")
        print(f"{w}x{h} {hashlib.sha256(out).hexdigest()}")


if __name__ == "__main__":
    self_test() if sys.argv[1:] == ["--self-test"] else serve()
