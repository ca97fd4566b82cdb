#!/usr/bin/env python3
"""Generate the golden reference data in tests/golden/ that the Rust tests compare against.

What it makes (all small, deterministic, safe to commit):

  tests/golden/inputs/*            procedurally generated test images (numpy with fixed seeds + PIL
                                   drawing; nothing is derived from ../shared) that cover decoder
                                   cases: gray / gray+alpha / RGBA / palette / 16-bit PNG, animated
                                   GIF, JPEG, lossless and lossy WebP, BMP, TIFF, EXIF orientation,
                                   high-frequency patterns, noise, extreme aspect ratios, tiny and
                                   large images.
  tests/golden/pixels/<name>.png   for every generated input (not for the shared photos, whose
                                   derivatives may not be committed: for those only an FNV-1a
                                   checksum of the same bytes is recorded): the 224x224 RGB
                                   image that Hugging Face's SiglipImageProcessor feeds the model,
                                   as 8-bit PNG. ((png / 255) - 0.5) / 0.5 == HF pixel_values (checked
                                   here to 1e-6).
  tests/golden/embeddings.json     L2-normalised image and text embeddings from onnxruntime (CPU,
                                   1 thread) for the synthetic siglip-test-tiny models (fp32 and
                                   dynamic-uint8), token ids of the texts, and zero-shot
                                   cosines / logits / sigmoid probabilities for photo x model.
  tests/golden/tokenizer_cases.json  64-id SigLIP token sequences for a set of tricky texts.

Why: the Rust/WebAssembly implementation (decoding, EXIF handling, resize, normalisation,
tokenizer, ONNX inference, scoring) must match the Python reference pipeline that users of
SigLIP get from Hugging Face transformers + onnxruntime. The reference weights cannot be committed
or downloaded here, so parity is checked on the synthetic tiny models in ../shared/models.

Reference definitions used here:
  * image: PIL open -> first frame -> ImageOps.exif_transpose -> convert("RGB") (drops alpha;
    no compositing onto a background) -> SiglipImageProcessor (PIL backend; 224x224 BICUBIC in
    uint8, rescale 1/255, normalise mean 0.5 std 0.5).
    Exception: 16-bit grayscale (PIL mode I;16) is reduced to 8 bits as v >> 8, because PIL's own
    I;16 -> RGB conversion clips every value above 255 to white. The 16-bit test images are built
    so that v >> 8 == round(v / 257), i.e. both common 16 -> 8 bit rules give the same bytes.
  * tokenizer: HF SiglipTokenizer canonicalisation (lower-case, remove string.punctuation,
    collapse \\s+ to " ", strip -- lower-casing happens FIRST, as in HF's canonicalize_text),
    then tokenizer.json (Unigram) with byte_fallback forced on, "</s>" (1) appended, truncated
    to 63 ids + "</s>", padded with 1 to 64.
  * scoring: prob = sigmoid(exp(logit_scale) * cos + logit_bias), real checkpoint constants.

Run from the repo root:  python3 scripts/golden/make_golden.py [--shared ../shared]
Rerunning with the versions in scripts/golden/requirements.txt reproduces identical files.
"""

import argparse
import json
import math
import os
import re
import string
import struct
import sys
import zlib

os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # silence "PyTorch was not found"

import numpy as np
import onnxruntime as ort
import tokenizers
import transformers
from PIL import Image, ImageDraw, ImageFilter, ImageOps
import PIL

try:  # transformers >= 5: explicit PIL backend (the default backend needs torchvision)
    from transformers import SiglipImageProcessorPil as _SiglipProcessor
except ImportError:  # transformers 4.x: the (slow) SiglipImageProcessor is PIL based
    from transformers import SiglipImageProcessor as _SiglipProcessor

from tokenizers import Tokenizer

GENERATOR = "scripts/golden/make_golden.py"
LOGIT_SCALE = 4.7649970054626465
LOGIT_BIAS = -12.9324369430542
PROMPT_TEMPLATE = "This is a photo of {label}."
ZERO_SHOT_LABELS = ["a cat", "a dog", "a rocket", "coffee"]
MAX_LEN = 64
EOS_ID = 1
PAD_ID = 1
SIG_DIGITS = 7

MODELS = {
    "tiny-fp32": {
        "vision": "siglip-test-tiny/onnx/vision_model.onnx",
        "text": "siglip-test-tiny/onnx/text_model.onnx",
    },
    "tiny-quant": {
        "vision": "siglip-test-tiny/onnx/vision_model_quantized.onnx",
        "text": "siglip-test-tiny/onnx/text_model_quantized.onnx",
    },
}

# generated file -> (PIL format, PIL mode when opened, frames)
EXPECTED_FILES = {
    "gray.png": ("PNG", "L", 1), "gray_alpha.png": ("PNG", "LA", 1), "rgba.png": ("PNG", "RGBA", 1),
    "palette.png": ("PNG", "P", 1), "rgb16.png": ("PNG", "RGB", 1), "gray16.png": ("PNG", "I;16", 1),
    "anim.gif": ("GIF", "P", 3), "photo.jpg": ("JPEG", "RGB", 1), "lossless.webp": ("WEBP", "RGB", 1),
    "lossy.webp": ("WEBP", "RGB", 1), "rgb.bmp": ("BMP", "RGB", 1), "rgb.tiff": ("TIFF", "RGB", 1),
    "exif_rot6.jpg": ("JPEG", "RGB", 1), "exif_rot3.jpg": ("JPEG", "RGB", 1), "exif_rot8.jpg": ("JPEG", "RGB", 1),
    "exif_mirror2.png": ("PNG", "RGB", 1), "checker.png": ("PNG", "RGB", 1), "noise.png": ("PNG", "RGB", 1),
    "wide.png": ("PNG", "RGB", 1), "tall.png": ("PNG", "RGB", 1), "small50.png": ("PNG", "RGB", 1),
    "large.png": ("PNG", "RGB", 1),
}

SHARED_IMAGES = [
    ("astronaut", "images/photos/astronaut.png"),
    ("chelsea", "images/photos/chelsea.png"),
    ("coffee", "images/photos/coffee.png"),
    ("rocket", "images/photos/rocket.jpg"),
    ("simple-90", "images/ocr/simple-90.jpg"),
]
ZERO_SHOT_PHOTOS = ["astronaut", "chelsea", "coffee", "rocket"]


def warn_on_version_drift():
    """Warn (not fail) when installed versions differ from scripts/golden/requirements.txt."""
    from importlib import metadata
    req = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requirements.txt")
    with open(req, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if "==" not in line:
                continue
            name, want = (x.strip() for x in line.split("==", 1))
            try:
                have = metadata.version(name)
            except metadata.PackageNotFoundError:
                have = None
            if have != want:
                print(f"WARNING: {name} {have} installed, requirements.txt pins {want}; "
                      "outputs may differ from the committed golden files", file=sys.stderr)


def fail(msg):
    sys.exit("make_golden.py: FAILED: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def r7(x):
    """Round to 7 significant digits (JSON size); keeps exact zeros."""
    x = float(x)
    if x == 0.0 or not math.isfinite(x):
        return 0.0 if x == 0.0 else x
    return float(f"{x:.{SIG_DIGITS}g}")


# ----------------------------------------------------------------------------------------------
# JSON output: 2-space indent, lists of scalars on one line, ASCII only (control chars escaped).


def to_json(obj, indent=0):
    pad = "  " * indent
    pad1 = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k, ensure_ascii=True)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return "[" + ", ".join(json.dumps(v, ensure_ascii=True) for v in obj) + "]"
        items = [pad1 + to_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=True)


def write_json(path, obj):
    text = to_json(obj) + "\n"
    json.loads(text)  # sanity
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write(text)


# ----------------------------------------------------------------------------------------------
# Procedural image content


def rng_for(seed):
    return np.random.default_rng(seed)


def smooth_scene(w, h, seed, blur=1.5):
    """A smooth, asymmetric, photo-like RGB image (uint8 HxWx3): gradients, soft blobs, shapes."""
    rng = rng_for(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    u, v = x / max(w - 1, 1), y / max(h - 1, 1)
    img = np.zeros((h, w, 3), np.float64)
    base = rng.uniform(0.15, 0.85, size=(3, 3))  # per channel: constant, u-slope, v-slope
    for c in range(3):
        img[..., c] = base[c, 0] + 0.35 * (base[c, 1] - 0.5) * u * 2 + 0.35 * (base[c, 2] - 0.5) * v * 2
        fx, fy, ph = rng.uniform(0.5, 2.5), rng.uniform(0.5, 2.5), rng.uniform(0, 2 * np.pi)
        img[..., c] += 0.12 * np.sin(2 * np.pi * (fx * u + fy * v) + ph)
    for _ in range(6):
        cx, cy = rng.uniform(0, 1, 2)
        sx, sy = rng.uniform(0.05, 0.25, 2)
        col = rng.uniform(-0.5, 0.5, 3)
        g = np.exp(-(((u - cx) / sx) ** 2 + ((v - cy) / sy) ** 2) / 2)
        img += g[..., None] * col
    arr = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    im = Image.fromarray(arr)
    d = ImageDraw.Draw(im)
    # asymmetric hard-edged content: a red "L" near the top-left, a blue triangle bottom-right,
    # a yellow disc right of centre
    s = min(w, h)
    t = max(2, s // 12)
    x0, y0 = w // 10, h // 10
    d.rectangle([x0, y0, x0 + t, y0 + s // 2], fill=(220, 30, 30))
    d.rectangle([x0, y0 + s // 2 - t, x0 + s // 3, y0 + s // 2], fill=(220, 30, 30))
    d.polygon([(w - 1 - s // 10, h - 1 - s // 10), (w - 1 - s // 2, h - 1 - s // 10),
               (w - 1 - s // 10, h - 1 - s // 2)], fill=(30, 60, 210))
    r = s // 8
    cx, cy = int(w * 0.62), int(h * 0.4)
    d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(240, 220, 40), outline=(20, 20, 20), width=max(1, t // 3))
    if blur:
        im = im.filter(ImageFilter.GaussianBlur(blur))
    return np.asarray(im, dtype=np.uint8).copy()


def gray_scene(w, h, seed):
    rgb = smooth_scene(w, h, seed).astype(np.float64)
    return np.clip(np.round(rgb @ np.array([0.299, 0.587, 0.114])), 0, 255).astype(np.uint8)


def write_png_rgb16(path, arr):
    """Minimal PNG writer for 16-bit-per-channel RGB (PIL cannot write it). arr: HxWx3 uint16."""
    h, w, c = arr.shape
    assert c == 3 and arr.dtype == np.uint16
    be = arr.astype(">u2")
    raw = b"".join(b"\x00" + be[yy].tobytes() for yy in range(h))

    def chunk(typ, data):
        return struct.pack(">I", len(data)) + typ + data + struct.pack(">I", zlib.crc32(typ + data) & 0xFFFFFFFF)

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)


def expand_to_16(hi, seed):
    """8-bit -> 16-bit with a non-trivial low byte chosen so that v >> 8 == round(v / 257) == hi."""
    rng = rng_for(seed)
    hi = hi.astype(np.int64)
    lo = np.clip(hi + rng.integers(-100, 101, size=hi.shape), 0, 255)
    v = (hi << 8) | lo
    check(np.array_equal(v >> 8, hi), "16-bit high byte")
    check(np.array_equal((v + 128) // 257, hi), "16-bit construction: v>>8 != round(v/257)")
    check(np.mean(lo != hi) > 0.9, "16-bit low bytes should mostly differ from high bytes")
    return v.astype(np.uint16)


def cube_palette():
    """64-colour palette (4x4x4 cube), returned as a flat 768-int list (padded with zeros)."""
    levels = [0, 85, 170, 255]
    pal = []
    for r in levels:
        for g in levels:
            for b in levels:
                pal += [r, g, b]
    return pal + [0] * (768 - len(pal))


def quantize_to_cube(rgb):
    q = np.clip(np.round(rgb.astype(np.float64) / 85.0), 0, 3).astype(np.uint8)
    return (q[..., 0] * 16 + q[..., 1] * 4 + q[..., 2]).astype(np.uint8)


def p_image(idx, palette):
    im = Image.fromarray(idx)
    im.putpalette(palette)
    return im


def palette_rgb(idx, palette):
    pal = np.array(palette, np.uint8).reshape(256, 3)
    return pal[idx]


def exif_bytes(orientation):
    ex = Image.Exif()
    ex[0x0112] = orientation
    return ex.tobytes()


def checker_image():
    w = h = 256
    a = np.zeros((h, w, 3), np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    # top-left: 1-px checkerboard, white / dark blue
    q = (x < 128) & (y < 128)
    cb = ((x + y) % 2).astype(bool)
    a[q & cb] = (255, 255, 255)
    a[q & ~cb] = (0, 0, 64)
    # top-right: 2-px vertical stripes, red / cyan
    q = (x >= 128) & (y < 128)
    st = ((x // 2) % 2).astype(bool)
    a[q & st] = (255, 0, 0)
    a[q & ~st] = (0, 255, 255)
    # bottom-left: 2-px horizontal stripes, green / magenta, and a 1-px column grid on the left half
    q = (x < 128) & (y >= 128)
    st = ((y // 2) % 2).astype(bool)
    a[q & st] = (0, 200, 0)
    a[q & ~st] = (200, 0, 200)
    # bottom-right: sharp (aliased) diagonal edge black / yellow, not through the corner
    q = (x >= 128) & (y >= 128)
    edge = (x - 128) * 3 > (y - 128) * 2 + 40
    a[q & edge] = (255, 230, 0)
    a[q & ~edge] = (0, 0, 0)
    # an asymmetric marker: a 1-px white line along the top and a 3-px one down the right
    a[0, :] = (255, 255, 255)
    a[:, w - 3:] = (255, 128, 0)
    return a


def generate_inputs(outdir):
    """Write the generated images. Returns {name: (filename, expected_rgb_or_None)} where the
    expected RGB (after first frame / EXIF / convert) is given for lossless formats and is
    checked against what the reference loader reads back."""
    os.makedirs(outdir, exist_ok=True)
    expected = {}

    def path(name):
        return os.path.join(outdir, name)

    # gray.png (L)
    g = gray_scene(256, 192, 101)
    Image.fromarray(g).save(path("gray.png"))
    expected["gray"] = ("gray.png", np.repeat(g[..., None], 3, axis=2))

    # gray_alpha.png (LA): alpha ramps diagonally and has a fully transparent hole
    g = gray_scene(200, 160, 102)
    yy, xx = np.mgrid[0:160, 0:200]
    alpha = np.clip((xx + yy) * 255 // (199 + 159), 0, 255).astype(np.uint8)
    alpha[40:80, 120:170] = 0
    Image.fromarray(np.dstack([g, alpha])).save(path("gray_alpha.png"))
    expected["gray_alpha"] = ("gray_alpha.png", np.repeat(g[..., None], 3, axis=2))

    # rgba.png: alpha takes every value 0..255 along x; vivid colours under fully transparent areas
    rgb = smooth_scene(256, 192, 103)
    yy, xx = np.mgrid[0:192, 0:256]
    alpha = xx.astype(np.uint8).copy()
    rgb[:, :24] = np.where((yy[:, :24] // 8 + xx[:, :24] // 8)[..., None] % 2 == 0, [255, 0, 255], [0, 255, 0])
    alpha[120:170, 150:230] = 0
    rgb[120:170, 150:230] = (0, 255, 255)
    alpha[10:40, 180:250] = 255
    Image.fromarray(np.dstack([rgb, alpha])).save(path("rgba.png"))
    expected["rgba"] = ("rgba.png", rgb)

    # palette.png (P, 64 colours, palette index 0 marked transparent via tRNS)
    pal = cube_palette()
    idx = quantize_to_cube(smooth_scene(220, 150, 104, blur=0))
    idx[5:25, 5:60] = 0
    p_image(idx, pal).save(path("palette.png"), transparency=0)
    expected["palette"] = ("palette.png", palette_rgb(idx, pal))

    # rgb16.png (16-bit RGB, own writer) and gray16.png (I;16 via PIL)
    hi = smooth_scene(128, 96, 105)
    write_png_rgb16(path("rgb16.png"), expand_to_16(hi, 1105))
    expected["rgb16"] = ("rgb16.png", hi)
    hi = gray_scene(128, 96, 106)
    v16 = expand_to_16(hi, 1106)
    Image.fromarray(v16).save(path("gray16.png"))
    expected["gray16"] = ("gray16.png", np.repeat(hi[..., None], 3, axis=2))

    # anim.gif: 3 frames of different content; the reference uses the first one
    frames = [quantize_to_cube(smooth_scene(160, 120, s, blur=0)) for s in (107, 207, 307)]
    frames[1][:, :80] = 48  # big red block, so frame 2 differs a lot from frame 1
    ims = [p_image(f, pal) for f in frames]
    ims[0].save(path("anim.gif"), save_all=True, append_images=ims[1:], duration=[200, 200, 200], loop=0)
    expected["anim"] = ("anim.gif", palette_rgb(frames[0], pal))

    # photo.jpg (quality 90)
    Image.fromarray(smooth_scene(320, 240, 108)).save(path("photo.jpg"), quality=90)
    expected["photo"] = ("photo.jpg", None)

    # WebP lossless / lossy
    rgb = smooth_scene(200, 150, 109)
    Image.fromarray(rgb).save(path("lossless.webp"), lossless=True)
    expected["lossless"] = ("lossless.webp", rgb)
    Image.fromarray(smooth_scene(200, 150, 110)).save(path("lossy.webp"), quality=80)
    expected["lossy"] = ("lossy.webp", None)

    # BMP (24-bit; odd width so rows need padding) and TIFF (uncompressed RGB)
    rgb = smooth_scene(151, 101, 111)
    Image.fromarray(rgb).save(path("rgb.bmp"))
    expected["rgb_bmp"] = ("rgb.bmp", rgb)  # name != stem: rgb.bmp and rgb.tiff share a stem
    rgb = smooth_scene(130, 90, 112)
    Image.fromarray(rgb).save(path("rgb.tiff"))
    expected["rgb_tiff"] = ("rgb.tiff", rgb)

    # EXIF orientation. `upright` is what a viewer should show; the stored pixels are transformed
    # with the inverse of what ImageOps.exif_transpose applies for that orientation.
    upright = Image.fromarray(smooth_scene(240, 160, 113))
    inverse = {6: Image.Transpose.ROTATE_90,   # exif_transpose applies ROTATE_270 (90 deg clockwise)
               3: Image.Transpose.ROTATE_180,
               8: Image.Transpose.ROTATE_270,  # exif_transpose applies ROTATE_90
               2: Image.Transpose.FLIP_LEFT_RIGHT}
    for o in (6, 3, 8):
        upright.transpose(inverse[o]).save(path(f"exif_rot{o}.jpg"), quality=92, exif=exif_bytes(o))
        expected[f"exif_rot{o}"] = (f"exif_rot{o}.jpg", None)
    upright.transpose(inverse[2]).save(path("exif_mirror2.png"), exif=exif_bytes(2))
    expected["exif_mirror2"] = ("exif_mirror2.png", np.asarray(upright))

    # high-frequency patterns, noise, aspect ratios, sizes
    a = checker_image()
    Image.fromarray(a).save(path("checker.png"))
    expected["checker"] = ("checker.png", a)
    a = rng_for(114).integers(0, 256, size=(128, 128, 3), dtype=np.uint8)
    Image.fromarray(a).save(path("noise.png"))
    expected["noise"] = ("noise.png", a)
    a = smooth_scene(600, 60, 115)
    Image.fromarray(a).save(path("wide.png"))
    expected["wide"] = ("wide.png", a)
    a = smooth_scene(60, 600, 116)
    Image.fromarray(a).save(path("tall.png"))
    expected["tall"] = ("tall.png", a)
    a = smooth_scene(50, 50, 117, blur=0.7)
    Image.fromarray(a).save(path("small50.png"))
    expected["small50"] = ("small50.png", a)
    # large.png: a smooth gradient that compresses well, plus a few sharp shapes
    yy, xx = np.mgrid[0:700, 0:1000]
    a = np.dstack([xx * 255 // 999, yy * 255 // 699, (xx + yy) * 255 // 1698]).astype(np.uint8)
    im = Image.fromarray(a)
    d = ImageDraw.Draw(im)
    d.rectangle([80, 60, 380, 200], fill=(250, 250, 250))
    d.ellipse([600, 350, 900, 650], fill=(10, 10, 10))
    d.line([(0, 699), (999, 300)], fill=(255, 0, 0), width=9)
    im.save(path("large.png"))
    expected["large"] = ("large.png", np.asarray(im))

    # sanity: the name is the file stem except for the two files that share the stem "rgb"
    for key, (fname, _) in expected.items():
        stem = os.path.splitext(fname)[0]
        check(key == stem or key == stem + "_" + os.path.splitext(fname)[1][1:], f"name {key} vs {fname}")
    check(len({f for f, _ in expected.values()}) == len(expected), "duplicate file names")
    return expected


# ----------------------------------------------------------------------------------------------
# Reference image pipeline


def reference_rgb(path):
    """PIL open -> first frame -> exif_transpose -> RGB uint8 (alpha dropped)."""
    with Image.open(path) as im:
        im.seek(0)
        im = ImageOps.exif_transpose(im)
        if im.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
            # PIL's I;16 -> RGB clips (v > 255 -> 255); use the high byte instead (see docstring)
            v = np.asarray(im).astype(np.uint32)
            g = (v >> 8).astype(np.uint8)
            return np.repeat(g[..., None], 3, axis=2)
        check(im.mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr"),
              f"{path}: unexpected PIL mode {im.mode}")
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def hf_preprocess(processor, rgb):
    """Run HF's SiglipImageProcessor on a clean RGB image; return (pixel_values [3,224,224] f32,
    resized uint8 HxWx3)."""
    # a fresh image carries no info (e.g. a 'transparency' key), so HF does no alpha compositing
    pv = processor(images=Image.fromarray(rgb), return_tensors="np")["pixel_values"]
    check(pv.shape == (1, 3, 224, 224) and pv.dtype == np.float32, f"pixel_values shape {pv.shape} {pv.dtype}")
    pv = pv[0]
    # recover the uint8 resized image exactly
    u = (pv.astype(np.float64) * 0.5 + 0.5) * 255.0
    ui = np.round(u)
    check(np.abs(u - ui).max() < 1e-3, "HF pixel values are not on the 8-bit grid")
    resized = ui.astype(np.uint8).transpose(1, 2, 0)
    # cross-check against PIL directly
    direct = np.asarray(Image.fromarray(rgb).resize((224, 224), Image.Resampling.BICUBIC))
    check(np.array_equal(direct, resized), "HF resize differs from PIL BICUBIC resize")
    return pv, resized


# ----------------------------------------------------------------------------------------------
# Tokenizer


PUNCT_TABLE = str.maketrans("", "", string.punctuation)


def canonicalize(text):
    """Exactly HF SiglipTokenizer.canonicalize_text (do_lower_case=True): lower() FIRST, then
    remove string.punctuation, collapse whitespace, strip."""
    text = text.lower()
    text = text.translate(PUNCT_TABLE)
    text = re.sub(r"\s+", " ", text)
    return text.strip()


def canonicalize_lower_last(text):
    """The order written in models/README.md (lower-case last). Differs only for Greek capital
    sigma next to removed punctuation (Final_Sigma context); kept to document that."""
    text = text.translate(PUNCT_TABLE)
    text = re.sub(r"\s+", " ", text)
    return text.strip().lower()


class RefTokenizer:
    def __init__(self, tokenizer_json):
        with open(tokenizer_json, encoding="utf-8") as f:
            tj = json.load(f)
        check(tj["model"]["type"] == "Unigram", "tokenizer.json: expected a Unigram model")
        tj["model"]["byte_fallback"] = True
        self.tok = Tokenizer.from_str(json.dumps(tj))

    def raw_ids(self, text, canon=canonicalize):
        ids = self.tok.encode(canon(text)).ids
        check(len(ids) >= 1 and ids[-1] == EOS_ID, f"no </s> at end for {text!r}")
        return ids

    def ids(self, text, canon=canonicalize):
        ids = self.raw_ids(text, canon)
        if len(ids) > MAX_LEN:
            ids = ids[: MAX_LEN - 1] + [EOS_ID]
        return ids + [PAD_ID] * (MAX_LEN - len(ids))


def verify_tokenizer(tok, cases_path):
    with open(cases_path, encoding="utf-8") as f:
        cases = json.load(f)
    for c in cases:
        got = tok.raw_ids(c["query"])
        check(got == c["ids"] + [EOS_ID], f"tokenizer case {c['name']}: got {got[:-1]}, want {c['ids']}")
    want = [291, 269, 262, 266, 1304, 267, 262, 266, 2783, 1] + [1] * 54
    got = tok.ids("This is a photo of a cat.")
    check(got == want, f"'This is a photo of a cat.' -> {got}")
    # lower() before or after punctuation removal: identical except for Final_Sigma contexts
    check(tok.ids("ΟΔΥΣΣΕΥΣ") == tok.ids("ΟΔΥΣΣΕΥΣ", canonicalize_lower_last), "sigma plain")
    check(tok.ids("ΣΑΣ,ΣΑΣ") != tok.ids("ΣΑΣ,ΣΑΣ", canonicalize_lower_last), "sigma + punctuation")
    return cases


def find_exact_length_text(tok, n_ids):
    """A plain English text whose raw encoding is exactly n_ids ids including </s>."""
    words = ("a photo of a small cat sitting on the red mat next to an old dog while the sun "
             "sets over the quiet blue sea and two birds fly away").split()
    for k in range(1, 400):
        text = " ".join(words[i % len(words)] for i in range(k))
        n = len(tok.raw_ids(text))
        if n == n_ids:
            return text
        if n > n_ids:
            break
    fail(f"could not build a text with exactly {n_ids} ids")


LONG_SENTENCE = ("A very long caption that goes on and on: a tabby cat and a golden retriever sit "
                 "together on a wooden porch in the late afternoon sun, watching a rocket launch "
                 "far away over the hills while someone pours a cup of coffee, and the neighbours "
                 "children play football in the garden next to an old red bicycle and a blue "
                 "wheelbarrow full of autumn leaves.")


def tokenizer_case_list(tok, shared_cases):
    cases = [{"name": c["name"], "text": c["query"]} for c in shared_cases]
    t63 = find_exact_length_text(tok, MAX_LEN)       # 63 ids + </s>: fills 64 exactly
    t64 = find_exact_length_text(tok, MAX_LEN + 1)   # 64 ids + </s>: one id truncated
    cases += [
        {"name": "prompt-cat", "text": "This is a photo of a cat."},
        {"name": "punctuation-heavy", "text": "Hello, World!!! (test) -- #1 @home [x] {y} ~z~ \"q\" 'a' `b` ^_^ a/b\\c;d:e<f>g=h?i|j+k*l%m&n$o"},
        {"name": "upper-case", "text": "A PHOTO OF THE EIFFEL TOWER AT NIGHT"},
        {"name": "mixed-case", "text": "iPhone McDonald's NASA eBay"},
        {"name": "whitespace-runs", "text": "  a   photo\t\tof\na\r\ncat  \u000b\u000c dog  "},
        {"name": "whitespace-unicode", "text": "a\u00a0photo\u3000of\u2003a\u2028cat\u0085dog\u1680end"},
        {"name": "whitespace-info-separators", "text": "a\x1cb\x1dc\x1ed\x1fe"},
        {"name": "zero-width", "text": "zero\u200bwidth\u200cjoin\u200dword\ufeffbom\u2060x"},
        {"name": "accents-precomposed", "text": "café señor naïve résumé"},
        {"name": "accents-combining", "text": "cafe\u0301 sen\u0303or nai\u0308ve"},
        {"name": "creme-brulee", "text": "Crème Brûlée"},
        {"name": "greek-final-sigma", "text": "ΟΔΥΣΣΕΥΣ"},
        {"name": "greek-sigma-punctuation", "text": "ΣΑΣ,ΣΑΣ. ΟΔΥΣΣΕΥΣ!ΙΘΑΚΗ"},
        {"name": "turkish-dotted-i", "text": "İstanbul DİYARBAKIR ıi"},
        {"name": "german-sharp-s", "text": "Straße STRASSE ẞ"},
        {"name": "cjk-chinese", "text": "一只猫坐在垫子上"},
        {"name": "cjk-japanese", "text": "猫がマットの上に座っている。ｶﾀｶﾅ"},
        {"name": "cjk-korean", "text": "고양이가 매트 위에 앉아 있다"},
        {"name": "fullwidth", "text": "ＡＢＣ　ｄｅｆ　１２３！"},
        {"name": "emoji", "text": "cat 🐱 dog 🐶 🚀☕"},
        {"name": "emoji-zwj-flags", "text": "family 👨\u200d👩\u200d👧\u200d👦 flag 🇯🇵🇺🇸 🏳️\u200d🌈 👍🏽"},
        {"name": "control-chars", "text": "a\x00b\x01c\x07d\x08e\x1bf\x7fg"},
        {"name": "unicode-punctuation", "text": "“quoted” — dash… ¡hola! ¿qué? «guillemets» ‘single’ · • ‰ §"},
        {"name": "empty", "text": ""},
        {"name": "only-punctuation", "text": "!!! ... ??? --- ,,, ;;; ()[]{}"},
        {"name": "only-whitespace", "text": " \t\n "},
        {"name": "exactly-63-tokens", "text": t63},
        {"name": "exactly-64-tokens-truncated", "text": t64},
        {"name": "long-over-64-tokens", "text": LONG_SENTENCE},
        {"name": "digits", "text": "1 22 333 4444 55555 3.14159 1,000,000 2024-06-01 0x1F"},
        {"name": "mixed-scripts", "text": "Photo фото φωτογραφία 写真 사진 صورة फ़ोटो תמונה"},
        {"name": "eos-literal", "text": "hello </s> world <unk>"},
        {"name": "sentencepiece-underline", "text": "a\u2581b \u2581c"},
    ]
    out = []
    for c in cases:
        ids = tok.ids(c["text"])
        raw = tok.raw_ids(c["text"])
        check(len(ids) == MAX_LEN, "length")
        if c["name"] == "exactly-63-tokens":
            check(len(raw) == MAX_LEN and PAD_ID not in raw[:-1], "63-token case")
        if c["name"] in ("exactly-64-tokens-truncated", "long-over-64-tokens"):
            check(len(raw) > MAX_LEN, "long case must be truncated")
        out.append({"name": c["name"], "text": c["text"], "ids": ids})
        print(f"  tok {c['name']:30s} {c['text']!r}\n      canon={canonicalize(c['text'])!r} raw_len={len(raw)}"
              f"\n      ids={ids[:min(len(raw), MAX_LEN)]}")
    names = [c["name"] for c in out]
    check(len(set(names)) == len(names), "duplicate tokenizer case names")
    return out


# ----------------------------------------------------------------------------------------------
# ONNX


def session(path):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def l2n(v):
    v = np.asarray(v, np.float64).reshape(-1)
    n = np.linalg.norm(v)
    check(n > 0 and math.isfinite(n), "zero / non-finite embedding")
    return v / n


def embed_image(sess, pv):
    out = sess.run(["pooler_output"], {"pixel_values": pv[None].astype(np.float32)})[0]
    check(out.shape[0] == 1 and out.ndim == 2, f"pooler_output shape {out.shape}")
    return l2n(out[0])


def embed_text(sess, ids):
    out = sess.run(["pooler_output"], {"input_ids": np.array([ids], np.int64)})[0]
    check(out.shape[0] == 1 and out.ndim == 2, f"pooler_output shape {out.shape}")
    return l2n(out[0])


def fnv1a64(data):
    """FNV-1a 64-bit of bytes, as hex: lets the Rust test recognise the exact PIL output for
    images whose resized pixels may not be committed (the ones derived from ../shared)."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# ----------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default="../shared", help="path of the shared data dir (default ../shared)")
    args = ap.parse_args()

    repo = os.path.abspath(os.getcwd())
    check(os.path.isfile(os.path.join(repo, "scripts/golden/make_golden.py")),
          "run from the repo root: python3 scripts/golden/make_golden.py")
    shared = os.path.abspath(args.shared)
    models_dir = os.path.join(shared, "models")
    base_dir = os.path.join(models_dir, "siglip-base-patch16-224")
    check(os.path.isdir(base_dir), f"{base_dir} not found (use --shared)")

    golden = os.path.join(repo, "tests/golden")
    inputs_dir = os.path.join(golden, "inputs")
    pixels_dir = os.path.join(golden, "pixels")
    os.makedirs(pixels_dir, exist_ok=True)

    print(f"versions: python {sys.version.split()[0]}, numpy {np.__version__}, pillow {PIL.__version__}, "
          f"onnxruntime {ort.__version__}, transformers {transformers.__version__}, tokenizers {tokenizers.__version__}")
    print(f"image processor: {_SiglipProcessor.__name__}")
    warn_on_version_drift()

    # 1. generated inputs
    print("generating inputs ...")
    generated = generate_inputs(inputs_dir)
    total = sum(os.path.getsize(os.path.join(inputs_dir, f)) for f in os.listdir(inputs_dir))
    print(f"  {len(generated)} files, {total} bytes")
    check(set(os.listdir(inputs_dir)) == {f for f, _ in generated.values()}, "stray files in tests/golden/inputs")
    for fname, (fmt, mode, n_frames) in EXPECTED_FILES.items():
        with Image.open(os.path.join(inputs_dir, fname)) as im:
            got = (im.format, im.mode, getattr(im, "n_frames", 1))
            check(got == (fmt, mode, n_frames), f"{fname}: PIL sees {got}, want {(fmt, mode, n_frames)}")
    check(set(EXPECTED_FILES) == set(os.listdir(inputs_dir)), "EXPECTED_FILES out of date")

    # 2. reference preprocessing
    processor = _SiglipProcessor.from_pretrained(base_dir)
    check(processor.size == {"height": 224, "width": 224} or dict(processor.size) == {"height": 224, "width": 224},
          f"size {processor.size}")
    check(int(processor.resample) == int(Image.Resampling.BICUBIC), "resample must be bicubic")
    check(list(processor.image_mean) == [0.5] * 3 and list(processor.image_std) == [0.5] * 3, "mean/std")
    check(abs(processor.rescale_factor - 1 / 255) < 1e-12, "rescale factor")

    image_entries = []  # (name, abs_path, rel_path)
    for name, rel in SHARED_IMAGES:
        p = os.path.join(shared, rel)
        image_entries.append((name, p, os.path.relpath(p, repo)))
    for name in sorted(generated):
        fname = generated[name][0]
        p = os.path.join(inputs_dir, fname)
        image_entries.append((name, p, os.path.relpath(p, repo)))

    print("reference preprocessing ...")
    prepped = {}
    pixel_checksums = {}
    for name, p, rel in image_entries:
        rgb = reference_rgb(p)
        if name in generated:
            exp = generated[name][1]
            if exp is not None:
                check(exp.shape == rgb.shape and np.array_equal(exp, rgb), f"{name}: decoded pixels differ from generated")
        pv, resized = hf_preprocess(processor, rgb)
        check(resized.dtype == np.uint8 and resized.shape == (224, 224, 3), "resized is 224x224 RGB uint8")
        back = resized.astype(np.float64).transpose(2, 0, 1)
        diff = np.abs((back / 255.0 - 0.5) / 0.5 - pv.astype(np.float64)).max()
        check(diff <= 1e-6, f"{name}: resized uint8 vs HF pixel_values max diff {diff}")
        if name in generated:
            # Images derived from ../shared are never committed: only their checksum is.
            out_png = os.path.join(pixels_dir, f"{name}.png")
            Image.fromarray(resized).save(out_png)
            with Image.open(out_png) as im:
                check(np.array_equal(np.asarray(im), resized), "pixels png round-trips")
        pixel_checksums[name] = fnv1a64(resized.tobytes())
        prepped[name] = (rgb.shape[1], rgb.shape[0], pv, rel)
        print(f"  {name:14s} {rgb.shape[1]}x{rgb.shape[0]}  max|png-HF|={diff:.2e}")
    check(set(os.listdir(pixels_dir)) == {f"{n}.png" for n, _, _ in image_entries if n in generated},
          "stray files in tests/golden/pixels")

    # extra EXIF checks: the rotated/mirrored generated files come out upright
    upright = None
    for name in ("exif_rot6", "exif_rot3", "exif_rot8", "exif_mirror2"):
        w, h, _, _ = prepped[name]
        check((w, h) == (240, 160), f"{name}: {w}x{h} after exif_transpose, want 240x160")
        rgb = reference_rgb(os.path.join(inputs_dir, generated[name][0])).astype(np.int32)
        if upright is None:
            upright = smooth_scene(240, 160, 113).astype(np.int32)
        err = np.abs(rgb - upright).mean()
        wrong = np.abs(rgb - upright[::-1, ::-1]).mean()
        check(err < 3 and wrong > 20, f"{name}: orientation check failed ({err:.2f} vs {wrong:.2f})")
    with Image.open(os.path.join(shared, "images/ocr/simple-90.jpg")) as im:
        check(im.getexif().get(0x0112) == 6, "simple-90.jpg should carry EXIF orientation 6")

    # 3. tokenizer
    print("tokenizer ...")
    tok = RefTokenizer(os.path.join(base_dir, "tokenizer.json"))
    shared_cases = verify_tokenizer(tok, os.path.join(base_dir, "tokenizer_test_cases.json"))
    print(f"  {len(shared_cases)} shared cases and the cat prompt reproduce")
    tok_cases = tokenizer_case_list(tok, shared_cases)
    write_json(os.path.join(golden, "tokenizer_cases.json"), tok_cases)

    # 4. embeddings and zero-shot
    print("embeddings ...")
    sessions = {}
    for key, m in MODELS.items():
        sessions[key] = {k: session(os.path.join(models_dir, v)) for k, v in m.items()}

    img_emb = {name: {} for name, _, _ in image_entries}
    for key in MODELS:
        for name, _, _ in image_entries:
            img_emb[name][key] = embed_image(sessions[key]["vision"], prepped[name][2])

    prompts = [PROMPT_TEMPLATE.format(label=l) for l in ZERO_SHOT_LABELS]
    texts = prompts + ["", "a photo of 2 cats", "Crème Brûlée 🍮 in Zürich!", LONG_SENTENCE]
    check(len(tok.raw_ids(LONG_SENTENCE)) > MAX_LEN, "long sentence must exceed 64 tokens")
    text_ids = {t: tok.ids(t) for t in texts}
    txt_emb = {t: {k: embed_text(sessions[k]["text"], text_ids[t]) for k in MODELS} for t in texts}

    images_json = []
    for name, _, rel in image_entries:
        w, h, _, _ = prepped[name]
        images_json.append({
            "name": name, "path": rel, "width": w, "height": h,
            "pixels": f"tests/golden/pixels/{name}.png" if name in generated else None,
            "pixels_fnv1a64": pixel_checksums[name],
            "embedding": {k: [r7(x) for x in img_emb[name][k]] for k in MODELS},
        })
    texts_json = [{"text": t, "ids": text_ids[t], "embedding": {k: [r7(x) for x in txt_emb[t][k]] for k in MODELS}}
                  for t in texts]

    scale = math.exp(LOGIT_SCALE)
    zero_shot = []
    print("zero-shot ...")
    for name in ZERO_SHOT_PHOTOS:
        for key in MODELS:
            cos = [float(np.dot(img_emb[name][key], txt_emb[p][key])) for p in prompts]
            logits = [scale * c + LOGIT_BIAS for c in cos]
            probs = [sigmoid(z) for z in logits]
            zero_shot.append({"image": name, "model": key, "labels": list(ZERO_SHOT_LABELS),
                              "cosines": [r7(c) for c in cos], "logits": [r7(z) for z in logits],
                              "probs": [r7(p) for p in probs]})
            print(f"  {name:10s} {key:10s} cos={['%.4f' % c for c in cos]} p={['%.3g' % p for p in probs]}")
    # fp32 vs quantized should be close but not identical
    for name, _, _ in image_entries:
        d = float(np.dot(img_emb[name]["tiny-fp32"], img_emb[name]["tiny-quant"]))
        check(d > 0.9, f"{name}: fp32 vs quant image embeddings too different (cos {d:.4f})")

    emb = {
        "generator": GENERATOR,
        "onnxruntime": ort.__version__,
        "transformers": transformers.__version__,
        "logit_scale": LOGIT_SCALE,
        "logit_bias": LOGIT_BIAS,
        "prompt_template": PROMPT_TEMPLATE,
        "models": MODELS,
        "images": images_json,
        "texts": texts_json,
        "zero_shot": zero_shot,
    }
    write_json(os.path.join(golden, "embeddings.json"), emb)
    print("done:", os.path.relpath(golden, repo))


if __name__ == "__main__":
    main()
