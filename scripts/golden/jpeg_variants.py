#!/usr/bin/env python3
"""Make JPEG variants with Pillow and record how Pillow (libjpeg-turbo) decodes them.

Used by tests/jpeg_pil.rs, which checks that src/jpeg decodes every file to exactly these bytes.

    jpeg_variants.py OUTDIR [--shared DIR] [--repo DIR]

Writes into OUTDIR, for every case, the JPEG (generated cases only), `<name>.rgb` (PIL's
`Image.open(p).convert("RGB")`, raw bytes, stored orientation) and, when the file has an EXIF
orientation other than 1, `<name>.upright.rgb` (after `ImageOps.exif_transpose`, what Hugging
Face's preprocessing starts from). Prints a JSON list on stdout:
`[{"name", "path", "rgb", "upright", "width", "height", "upright_width", "upright_height",
"what", "exact"}]` where `exact` is false for files src/jpeg must refuse.

The cases, from the PNG photos in ../shared/images/photos (full size and cropped to 301x227,
53x71): quality 50/75/95 x subsampling 4:4:4/4:2:2/4:2:0 x baseline/progressive; grayscale;
quality 100 and 5; 16-bit quantisation tables (which make an SOF1 frame); optimize=True;
restart markers (restart_marker_blocks / restart_marker_rows); keep_rgb (Adobe RGB, no YCbCr;
Pillow refuses it with subsampling); tiny images (1x1 .. 17x9), whose chroma can be too narrow
for fancy upsampling; a CMYK file, which src/jpeg must refuse (`exact`: false).
Pillow cannot write 4:4:0, 4:1:1 or 1x4 sampling, so those are made by rewriting the SOF of a
baseline 4:2:2 or 4:2:0 file: an interleaved scan's data only depends on the number of MCUs and
the blocks per MCU, so new sampling factors with dimensions that keep the MCU count give a
valid file (whose blocks land in other places than in the source image, which does not matter
here). Likewise a grayscale file gets sampling factors 2x2, which a single-component scan
ignores. When jpegtran (libjpeg-turbo-progs) is installed, sequential files with several scans
(non-interleaved components), which Pillow never writes, are made from Pillow's with
`jpegtran -scans`, and so are an arithmetic-coded file and a progressive file whose scans
stop before the last refinement (libjpeg smooths those blocks), both to be refused. Plus ../shared/images/photos/rocket.jpg, ../shared/images/ocr/simple-90.jpg and
tests/golden/inputs/*.jpg as they are. Needs only Pillow.
"""

import argparse
import glob
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from PIL import Image, ImageOps


def sof_offset(data):
    """Offset of the SOF0 marker segment's payload (after the length)."""
    pos = 2
    while pos + 4 <= len(data):
        assert data[pos] == 0xFF, "marker expected"
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker == 0xC0:
            return pos + 4
        if marker == 0xDA:
            break
        pos += 2 + length
    raise ValueError("no SOF0 before SOS")


def resample(data, width, height, factors):
    """Rewrite a baseline file's SOF: new size and per-component sampling factors (h, v)."""
    data = bytearray(data)
    p = sof_offset(data)
    assert data[p] == 8
    data[p + 1 : p + 5] = struct.pack(">HH", height, width)
    assert data[p + 5] == len(factors)
    for i, (h, v) in enumerate(factors):
        data[p + 6 + 3 * i + 1] = h << 4 | v
    return bytes(data)


def jpegtran(data, *args):
    """Losslessly rewrite a file with jpegtran (libjpeg-turbo-progs), or None without it."""
    if shutil.which("jpegtran") is None:
        return None
    return subprocess.run(["jpegtran", *args], input=data, capture_output=True, check=True).stdout


def rescan(data, script):
    """The same file with another scan script (jpegtran -scans), or None without jpegtran."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
        f.write(script)
        f.flush()
        return jpegtran(data, "-scans", f.name)


# Sequential (baseline) files with one scan per component, and with luma alone then both
# chroma components interleaved: Pillow only writes single-scan sequential files.
NON_INTERLEAVED = "0: 0 63 0 0;\n1: 0 63 0 0;\n2: 0 63 0 0;\n"
PARTLY_INTERLEAVED = "0: 0 63 0 0;\n1 2: 0 63 0 0;\n"
# A progressive file that never refines luma AC or DC past bit 1: libjpeg smooths its blocks.
UNREFINED = "0 1 2: 0 0 0 1;\n0: 1 63 0 1;\n1: 1 63 0 0;\n2: 1 63 0 0;\n"


def ceil_div(a, b):
    return -(-a // b)


def jpeg(image, **options):
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def generated_cases(shared):
    photos = sorted(glob.glob(os.path.join(shared, "images/photos/*.png")))
    assert len(photos) >= 3, f"no PNG photos in {shared}/images/photos"
    for path in photos:
        stem = os.path.splitext(os.path.basename(path))[0]
        full = Image.open(path).convert("RGB")
        sizes = {
            "full": full,
            "301x227": full.crop((17, 11, 17 + 301, 11 + 227)),
            "53x71": full.crop((101, 67, 101 + 53, 67 + 71)),
        }
        for size, im in sizes.items():
            for quality in (50, 75, 95):
                for sub in ("4:4:4", "4:2:2", "4:2:0"):
                    for progressive in (False, True):
                        mode = "prog" if progressive else "base"
                        name = f"{stem}-{size}-q{quality}-{sub.replace(':', '')}-{mode}"
                        yield name, jpeg(im, quality=quality, subsampling=sub, progressive=progressive), name
            gray = im.convert("L")
            if size != "301x227":
                for progressive in (False, True):
                    mode = "prog" if progressive else "base"
                    yield f"{stem}-{size}-gray-{mode}", jpeg(gray, quality=75, progressive=progressive), "grayscale"
        yield f"{stem}-optimize", jpeg(full, quality=85, subsampling="4:2:0", optimize=True), "optimize=True"
        yield f"{stem}-rst-blocks-base", jpeg(full, quality=80, subsampling="4:2:0", restart_marker_blocks=5), "restart every 5 MCUs"
        yield f"{stem}-rst-blocks-prog", jpeg(full, quality=80, subsampling="4:2:0", progressive=True, restart_marker_blocks=3), "progressive, restart every 3 MCUs"
        yield f"{stem}-rst-rows-422", jpeg(full, quality=80, subsampling="4:2:2", restart_marker_rows=1), "restart every MCU row"
        yield f"{stem}-q100-444", jpeg(full, quality=100, subsampling="4:4:4"), "quality 100"
        yield f"{stem}-q5-420-prog", jpeg(full, quality=5, subsampling="4:2:0", progressive=True), "quality 5"
        # Values over 255 make libjpeg write 16-bit DQT tables and an SOF1 (extended) frame.
        yield f"{stem}-dqt16", jpeg(full, qtables=[[300 + i for i in range(64)], [500] * 64]), "16-bit DQT, SOF1"
        yield f"{stem}-rgb-444", jpeg(full, quality=90, subsampling="4:4:4", keep_rgb=True), "Adobe RGB (keep_rgb)"
        yield f"{stem}-rgb-prog", jpeg(full, quality=90, subsampling="4:4:4", keep_rgb=True, progressive=True), "Adobe RGB progressive"

        w, h = full.size
        base422 = jpeg(full, quality=80, subsampling="4:2:2")
        mx, my = ceil_div(w, 16), ceil_div(h, 8)
        yield f"{stem}-sof-440", resample(base422, 8 * mx - 3, 16 * my - 5, [(1, 2), (1, 1), (1, 1)]), "4:4:0 (h1v2) by SOF rewrite"
        base420 = jpeg(full, quality=80, subsampling="4:2:0")
        mx, my = ceil_div(w, 16), ceil_div(h, 16)
        yield f"{stem}-sof-411", resample(base420, 32 * mx - 7, 8 * my - 3, [(4, 1), (1, 1), (1, 1)]), "4:1:1 (h4v1) by SOF rewrite"
        yield f"{stem}-sof-1x4", resample(base420, 8 * mx - 1, 32 * my - 9, [(1, 4), (1, 1), (1, 1)]), "1x4 by SOF rewrite"
        for sub in ("4:2:0", "4:4:4"):
            source = jpeg(sizes["301x227"], quality=80, subsampling=sub)
            for label, script in (("seq3scans", NON_INTERLEAVED), ("seq2scans", PARTLY_INTERLEAVED)):
                data = rescan(source, script)
                if data is not None:
                    yield f"{stem}-{label}-{sub.replace(':', '')}", data, f"sequential, {label[3]} scans (jpegtran)"
        gray = jpeg(full.convert("L"), quality=75)
        yield f"{stem}-sof-gray22", resample(gray, w, h, [(2, 2)]), "grayscale with 2x2 sampling factors"

        for tw, th in ((1, 1), (3, 2), (4, 5), (17, 9)):
            tiny = full.crop((200, 150, 200 + tw, 150 + th))
            for sub in ("4:4:4", "4:2:2", "4:2:0"):
                for progressive in (False, True):
                    mode = "prog" if progressive else "base"
                    name = f"{stem}-tiny{tw}x{th}-{sub.replace(':', '')}-{mode}"
                    yield name, jpeg(tiny, quality=90, subsampling=sub, progressive=progressive), "tiny"
    first = jpeg(Image.open(photos[0]).convert("RGB"), quality=90)
    yield "cmyk", jpeg(Image.open(photos[0]).convert("CMYK"), quality=90), "refused: CMYK"
    for name, data, what in (
        ("arithmetic", jpegtran(first, "-arithmetic"), "refused: arithmetic coding (jpegtran)"),
        ("prog-unrefined", rescan(first, UNREFINED), "refused: progressive without final refinement (jpegtran)"),
    ):
        if data is not None:
            yield name, data, what


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("outdir")
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    parser.add_argument("--repo", default=repo)
    parser.add_argument("--shared", default=os.environ.get("SIGHTLINE_SHARED", os.path.join(repo, "..", "shared")))
    args = parser.parse_args()
    os.makedirs(args.outdir, exist_ok=True)

    cases = []
    for name, data, what in generated_cases(args.shared):
        path = os.path.join(args.outdir, name + ".jpg")
        with open(path, "wb") as f:
            f.write(data)
        cases.append((name, path, what))
    existing = [os.path.join(args.shared, "images/photos/rocket.jpg"), os.path.join(args.shared, "images/ocr/simple-90.jpg")]
    existing += sorted(glob.glob(os.path.join(args.repo, "tests/golden/inputs/*.jpg")))
    for path in existing:
        cases.append((os.path.splitext(os.path.basename(path))[0], path, "existing file"))

    manifest = []
    for name, path, what in cases:
        with Image.open(path) as im:
            exact = not what.startswith("refused")
            rgb = im.convert("RGB")
            entry = {"name": name, "path": os.path.abspath(path), "what": what, "exact": exact,
                     "width": rgb.width, "height": rgb.height,
                     "rgb": os.path.abspath(os.path.join(args.outdir, name + ".rgb"))}
            with open(entry["rgb"], "wb") as f:
                f.write(rgb.tobytes())
            orientation = im.getexif().get(0x0112, 1)
            if orientation != 1:
                upright = ImageOps.exif_transpose(im).convert("RGB")
                entry["upright"] = os.path.abspath(os.path.join(args.outdir, name + ".upright.rgb"))
                entry["upright_width"], entry["upright_height"] = upright.size
                with open(entry["upright"], "wb") as f:
                    f.write(upright.tobytes())
            manifest.append(entry)
    json.dump(manifest, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
