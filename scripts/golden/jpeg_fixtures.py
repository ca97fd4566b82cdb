#!/usr/bin/env python3
"""Write the small JPEG fixtures in tests/data/jpeg/ and the checksums of Pillow's decoding of
them (and of tests/golden/inputs/photo.jpg) to tests/data/jpeg/pil_rgb_fnv1a64.json.

The fixtures cover what tests/golden/inputs lacks: progressive files, restart markers,
grayscale, Adobe RGB, 4:4:0 and 4:1:1 sampling (by SOF rewrite, see jpeg_variants.py), a
sequential file with one scan per component (by jpegtran -scans). They are
cut from tests/golden/inputs/photo.jpg, itself generated (nothing from ../shared). The checksums
are FNV-1a 64 of `Image.open(p).convert("RGB").tobytes()`, which tests/parity.rs compares with
src/jpeg's output natively and in WebAssembly, where Python is not available; src/jpeg/tests.rs
feeds the fixtures, truncated and corrupted, to the decoder to show it never panics.

Run from the repo root: python3 scripts/golden/jpeg_fixtures.py (needs Pillow; deterministic).
"""

import io
import json
import os
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from jpeg_variants import NON_INTERLEAVED, ceil_div, jpeg, resample, rescan  # noqa: E402

OUT = "tests/data/jpeg"


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def main():
    source = Image.open("tests/golden/inputs/photo.jpg").convert("RGB")
    crop = lambda w, h: source.crop((37, 29, 37 + w, 29 + h))
    base422 = jpeg(crop(96, 64), quality=80, subsampling="4:2:2")
    base420 = jpeg(crop(96, 64), quality=80, subsampling="4:2:0")
    fixtures = {
        "prog420-rst.jpg": jpeg(crop(97, 71), quality=80, subsampling="4:2:0", progressive=True, restart_marker_blocks=2),
        "prog444.jpg": jpeg(crop(64, 57), quality=90, subsampling="4:4:4", progressive=True),
        "gray-prog.jpg": jpeg(crop(75, 53).convert("L"), quality=75, progressive=True),
        "base422-rst-rows.jpg": jpeg(crop(101, 67), quality=70, subsampling="4:2:2", restart_marker_rows=1),
        "rgb-prog.jpg": jpeg(crop(61, 59), quality=90, subsampling="4:4:4", keep_rgb=True, progressive=True),
        "sof440.jpg": resample(base422, 8 * ceil_div(96, 16) - 3, 16 * ceil_div(64, 8) - 5, [(1, 2), (1, 1), (1, 1)]),
        "sof411.jpg": resample(base420, 32 * ceil_div(96, 16) - 7, 8 * ceil_div(64, 16) - 3, [(4, 1), (1, 1), (1, 1)]),
    }
    # Made with jpegtran (libjpeg-turbo-progs) where it is installed; otherwise the committed
    # file is kept.
    sequential = rescan(jpeg(crop(83, 61), quality=80, subsampling="4:2:0"), NON_INTERLEAVED)
    if sequential is not None:
        fixtures["seq-3scans.jpg"] = sequential
    elif not os.path.exists(f"{OUT}/seq-3scans.jpg"):
        sys.exit("jpegtran (libjpeg-turbo-progs) is needed to make tests/data/jpeg/seq-3scans.jpg")
    os.makedirs(OUT, exist_ok=True)
    checksums = {}
    for name, data in fixtures.items():
        with open(f"{OUT}/{name}", "wb") as f:
            f.write(data)
    paths = ["tests/golden/inputs/photo.jpg"] + sorted(f"{OUT}/{n}" for n in os.listdir(OUT) if n.endswith(".jpg"))
    for path in paths:
        with Image.open(path) as im:
            checksums[path] = fnv1a64(im.convert("RGB").tobytes())
    with open(f"{OUT}/pil_rgb_fnv1a64.json", "w") as f:
        json.dump(checksums, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
