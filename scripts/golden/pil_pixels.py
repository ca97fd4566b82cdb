#!/usr/bin/env python3
"""Print, as raw bytes on stdout, the 224x224 RGB image Hugging Face's SiglipImageProcessor feeds
SigLIP for each image given: PIL open -> first frame -> exif_transpose -> convert("RGB") ->
resize((224, 224), BICUBIC). make_golden.py checks that this equals the processor's pixel_values.

Used by tests/python_reference.rs for the photos in ../shared, whose resized copies may not be
committed. Needs only Pillow (`pip install pillow`).
"""
import sys

from PIL import Image, ImageOps

SIZE = 224

for path in sys.argv[1:]:
    with Image.open(path) as im:
        im.seek(0)
        rgb = ImageOps.exif_transpose(im).convert("RGB")
        out = rgb.resize((SIZE, SIZE), Image.Resampling.BICUBIC).tobytes()
        assert len(out) == SIZE * SIZE * 3
        sys.stdout.buffer.write(out)
