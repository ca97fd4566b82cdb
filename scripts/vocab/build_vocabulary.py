#!/usr/bin/env python3
"""Build Sightline's English tag vocabulary: data/tags/en.json.

Run from the repository root:

    python3 scripts/vocab/build_vocabulary.py

Python 3 standard library only. The script

  1. downloads two wheels from PyPI with pip (clip-benchmark 1.6.2 and
     torchvision 0.29.2, no dependencies) into a temporary directory, or uses
     wheels already present in --wheel-dir;
  2. reads class-name lists out of those wheels *without importing them*
     (JSON for clip_benchmark, ``ast.literal_eval`` for torchvision);
  3. reads our own hand-written list, scripts/vocab/curated.txt;
  4. normalises, de-duplicates (first source wins) and groups the names;
  5. writes data/tags/en.json (one tag object per line) and prints counts.

It exits with status 1 if fewer than MIN_TAGS unique tags result, if fewer
than MIN_CURATED_ONLY curated concepts are absent from every upstream list, or
if an upstream list no longer looks the way this script expects (so that a
silent upstream change cannot reshuffle groups).

The output is deterministic: it depends only on the pinned upstream files and
on curated.txt. See data/tags/SOURCES.md for provenance and licences.
"""

import argparse
import ast
import collections
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile

MIN_TAGS = 2000
MIN_CURATED_ONLY = 500

GROUPS = (
    "people", "animals", "plants", "food", "objects", "vehicles", "scenes",
    "nature", "activities", "styles", "colors", "materials", "weather", "text",
    "other",
)

CLIP_BENCHMARK = ("clip-benchmark", "1.6.2", "clip_benchmark")
TORCHVISION = ("torchvision", "0.29.2", "torchvision")
CLIP_CLASSNAMES_PATH = "clip_benchmark/datasets/en_classnames.json"
TORCHVISION_META_PATH = "torchvision/models/_meta.py"

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CURATED_PATH = os.path.join("scripts", "vocab", "curated.txt")
OUTPUT_PATH = os.path.join("data", "tags", "en.json")
GENERATOR = "scripts/vocab/build_vocabulary.py"

# Output order of the sources: curated first (broad Azure-like tags), then
# COCO, then the rest.
SOURCE_ORDER = (
    "curated", "coco", "imagenet1k", "flowers", "pets", "caltech101_vtab",
    "eurosat", "kinetics400",
)

SOURCES = {
    "curated": {
        "license": "Apache-2.0 (this project)",
        "package": "sightline",
        "file": CURATED_PATH.replace(os.sep, "/"),
        "what": "Hand-written broad, Azure-style tags: people, scenes and "
                "places, nature, food and drink, generic activities, art "
                "styles and image types, colours, materials, weather and "
                "text-related concepts.",
    },
    "coco": {
        "license": "BSD-3-Clause (torchvision 0.29.2)",
        "package": "torchvision==0.29.2",
        "file": TORCHVISION_META_PATH + " (_COCO_CATEGORIES)",
        "what": "The 80 COCO object-detection categories "
                "('__background__' and 'N/A' placeholders dropped).",
    },
    "imagenet1k": {
        "license": "MIT (clip_benchmark 1.6.2)",
        "package": "clip-benchmark==1.6.2",
        "file": CLIP_CLASSNAMES_PATH + " (imagenet1k)",
        "what": "The CLIP-curated readable ImageNet-1k class names.",
    },
    "flowers": {
        "license": "MIT (clip_benchmark 1.6.2)",
        "package": "clip-benchmark==1.6.2",
        "file": CLIP_CLASSNAMES_PATH + " (flowers)",
        "what": "Oxford 102 Flowers category names.",
    },
    "pets": {
        "license": "MIT (clip_benchmark 1.6.2)",
        "package": "clip-benchmark==1.6.2",
        "file": CLIP_CLASSNAMES_PATH + " (pets)",
        "what": "Oxford-IIIT Pet cat and dog breed names.",
    },
    "caltech101_vtab": {
        "license": "MIT (clip_benchmark 1.6.2)",
        "package": "clip-benchmark==1.6.2",
        "file": CLIP_CLASSNAMES_PATH + " (caltech101_vtab)",
        "what": "Caltech-101 category names, without 'background', the face "
                "classes, body-part views ('side of a car', 'head of a "
                "flamingo', ...) and cartoon characters.",
    },
    "eurosat": {
        "license": "MIT (clip_benchmark 1.6.2)",
        "package": "clip-benchmark==1.6.2",
        "file": CLIP_CLASSNAMES_PATH + " (eurosat)",
        "what": "EuroSAT land-cover class names, 'a or b' names split into "
                "separate tags.",
    },
    "kinetics400": {
        "license": "BSD-3-Clause (torchvision 0.29.2)",
        "package": "torchvision==0.29.2",
        "file": TORCHVISION_META_PATH + " (_KINETICS400_CATEGORIES)",
        "what": "Kinetics-400 human action names, with dataset-only "
                "qualifiers such as '(not in game)' removed.",
    },
}

# --------------------------------------------------------------------------
# Per-source rules
# --------------------------------------------------------------------------

COCO_DROP = {"__background__", "N/A"}
COCO_RENAME = {"hair drier": "hair dryer", "skis": "ski"}
COCO_GROUPS = {
    "person": "people",
    "bicycle": "vehicles", "car": "vehicles", "motorcycle": "vehicles",
    "airplane": "vehicles", "bus": "vehicles", "train": "vehicles",
    "truck": "vehicles", "boat": "vehicles",
    "traffic light": "objects", "fire hydrant": "objects",
    "stop sign": "text", "parking meter": "objects", "bench": "objects",
    "bird": "animals", "cat": "animals", "dog": "animals", "horse": "animals",
    "sheep": "animals", "cow": "animals", "elephant": "animals",
    "bear": "animals", "zebra": "animals", "giraffe": "animals",
    "backpack": "objects", "umbrella": "objects", "handbag": "objects",
    "tie": "objects", "suitcase": "objects", "frisbee": "objects",
    "ski": "objects", "snowboard": "objects", "sports ball": "objects",
    "kite": "objects", "baseball bat": "objects", "baseball glove": "objects",
    "skateboard": "objects", "surfboard": "objects",
    "tennis racket": "objects", "bottle": "objects", "wine glass": "objects",
    "cup": "objects", "fork": "objects", "knife": "objects",
    "spoon": "objects", "bowl": "objects",
    "banana": "food", "apple": "food", "sandwich": "food", "orange": "food",
    "broccoli": "food", "carrot": "food", "hot dog": "food", "pizza": "food",
    "donut": "food", "cake": "food",
    "chair": "objects", "couch": "objects", "potted plant": "plants",
    "bed": "objects", "dining table": "objects", "toilet": "objects",
    "tv": "objects", "laptop": "objects", "mouse": "objects",
    "remote": "objects", "keyboard": "objects", "cell phone": "objects",
    "microwave": "objects", "oven": "objects", "toaster": "objects",
    "sink": "objects", "refrigerator": "objects", "book": "text",
    "clock": "objects", "vase": "objects", "scissors": "objects",
    "teddy bear": "objects", "hair dryer": "objects", "toothbrush": "objects",
}

# ImageNet-1k: the classic class order is animals (0-397), then artefacts,
# then food, geological formations, people and plants/fungi at the end.
# Vehicles, places and text-like classes inside the artefact block are listed
# by index. ANCHORS guards the assumption that the order is the standard one.
IMAGENET_ANCHORS = {
    0: "tench", 397: "pufferfish", 398: "abacus", 923: "plate",
    924: "guacamole", 969: "eggnog", 970: "mountain", 980: "volcano",
    981: "baseball player", 983: "scuba diver", 984: "rapeseed",
    998: "corn cob", 999: "toilet paper",
}
IMAGENET_VEHICLES = {
    403, 404, 405, 407, 408, 436, 444, 450, 466, 468, 472, 484, 510, 511,
    537, 547, 554, 555, 561, 565, 569, 573, 575, 576, 586, 595, 603, 609,
    612, 625, 627, 628, 654, 656, 660, 661, 665, 670, 671, 675, 690, 705,
    717, 724, 734, 751, 757, 779, 780, 802, 803, 812, 814, 817, 820, 829,
    833, 847, 864, 866, 867, 870, 871, 874, 880, 895, 913, 914,
}
IMAGENET_SCENES = {
    410, 415, 424, 425, 437, 442, 449, 454, 460, 467, 483, 497, 498, 500,
    509, 525, 536, 580, 582, 624, 634, 649, 663, 668, 682, 698, 706, 718,
    727, 743, 762, 788, 819, 821, 832, 839, 860, 865, 873, 888, 900, 915,
}
IMAGENET_TEXT = {916, 917, 918, 919, 921, 922}
IMAGENET_MATERIALS = {885, 911}  # velvet fabric, wool


def imagenet_group(index):
    if index <= 397:
        return "animals"
    if index <= 923:
        if index in IMAGENET_VEHICLES:
            return "vehicles"
        if index in IMAGENET_SCENES:
            return "scenes"
        if index in IMAGENET_TEXT:
            return "text"
        if index in IMAGENET_MATERIALS:
            return "materials"
        return "objects"
    if index <= 969:
        return "objects" if index == 968 else "food"  # 968: tea cup
    if index <= 980:
        return "objects" if index == 971 else "nature"  # 971: bubble
    if index <= 983:
        return "people"
    if index <= 998:
        return "food" if index == 998 else "plants"  # 998: corn cob
    return "objects"


CALTECH_SKIP = {
    "background", "off-center face", "centered face", "side of a car",
    "face of a cougar cat", "head of a crocodile", "head of a flamingo",
    "garfield", "snoopy (cartoon beagle)",
}
CALTECH_RENAME = {
    "body of a cougar cat": "cougar",
    "water lilly": "water lily",
    "binocular": "binoculars",
    "headphone": "headphones",
    "rhino": "rhinoceros",
}
CALTECH_GROUPS = {
    "ant": "animals", "bass": "animals", "beaver": "animals",
    "brontosaurus": "animals", "butterfly": "animals", "cougar": "animals",
    "crab": "animals", "crayfish": "animals", "crocodile": "animals",
    "dalmatian": "animals", "dolphin": "animals", "dragonfly": "animals",
    "elephant": "animals", "emu": "animals", "flamingo": "animals",
    "gerenuk": "animals", "hawksbill": "animals", "hedgehog": "animals",
    "ibis": "animals", "kangaroo": "animals", "leopard": "animals",
    "llama": "animals", "lobster": "animals", "mayfly": "animals",
    "nautilus": "animals", "octopus": "animals", "okapi": "animals",
    "panda": "animals", "pigeon": "animals", "platypus": "animals",
    "rhinoceros": "animals", "rooster": "animals", "scorpion": "animals",
    "sea horse": "animals", "starfish": "animals", "stegosaurus": "animals",
    "tick": "animals", "trilobite": "animals", "wild cat": "animals",
    "bonsai": "plants", "joshua tree": "plants", "lotus": "plants",
    "sunflower": "plants", "water lily": "plants",
    "pizza": "food", "strawberry": "food",
    "airplane": "vehicles", "ferry": "vehicles", "helicopter": "vehicles",
    "ketch": "vehicles", "motorbike": "vehicles", "schooner": "vehicles",
    "minaret": "scenes", "pagoda": "scenes", "pyramid": "scenes",
    "stop sign": "text", "dollar bill": "objects",
    "brain": "other", "yin and yang symbol": "other",
}

# Oxford-IIIT Pet: cat breed names are ambiguous on their own ("persian",
# "bombay", "bengal", ...), so they get a "cat" suffix; a few dog names are
# completed to the breed name ImageNet uses.
PETS_CAT_BREEDS = {
    "abyssinian", "bengal", "birman", "bombay", "british shorthair",
    "maine coon", "persian", "ragdoll", "russian blue", "siamese", "sphynx",
}
PETS_RENAME = {
    "saint bernard": "st. bernard",
    "newfoundland": "newfoundland dog",
    "great pyrenees": "great pyrenees dog",
    "german shorthaired": "german shorthaired pointer",
    "wheaten terrier": "soft-coated wheaten terrier",
}


def pets_name(raw):
    name = normalise(raw)
    if name in PETS_CAT_BREEDS:
        return name + " cat"
    return PETS_RENAME.get(name, name)


# EuroSAT: "a or b" names are split; plural parts become singular tags.
EUROSAT_RENAME = {
    "industrial buildings": "industrial area",
    "commercial buildings": "commercial area",
    "residential buildings": "residential area",
    "homes": "house",
    "apartments": "apartment building",
    "pasture land": "pasture",
}

# Kinetics qualifiers that only describe how the dataset split a class.
KINETICS_QUALIFIER = re.compile(r"\s*\((?:not\b[^)]*|in game)\)")

# clip_benchmark lists we deliberately do not use (not general visual tags).
CLIP_UNUSED = {
    "gtsrb", "country211", "mnist", "svhn", "clevr_count_all",
    "clevr_closest_object_distance", "kitti_closest_vehicle_distance",
    "dmlab", "pcam", "diabetic_retinopathy", "fer2013", "caltech101",
}

# --------------------------------------------------------------------------


class BuildError(Exception):
    pass


def normalise(name):
    name = name.replace("_", " ")
    name = re.sub(r"\s+", " ", name).strip()
    return name.lower()


def dedupe_key(name):
    """Case-, space- and hyphen-insensitive key ('cellphone' == 'cell phone')."""
    return re.sub(r"[\s\-]+", "", name.lower())


def download_wheels(dest):
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--dest", dest,
        "%s==%s" % CLIP_BENCHMARK[:2], "%s==%s" % TORCHVISION[:2],
    ]
    print("+ " + " ".join(cmd), file=sys.stderr)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout)
        raise BuildError("pip download failed (exit %d)" % proc.returncode)


def find_wheel(directory, spec):
    dist, version, module = spec
    prefix = "%s-%s-" % (module, version)
    found = sorted(f for f in os.listdir(directory)
                   if f.startswith(prefix) and f.endswith(".whl"))
    if not found:
        raise BuildError("no %s==%s wheel in %s" % (dist, version, directory))
    return os.path.join(directory, found[0])


def read_member(wheel, member):
    with zipfile.ZipFile(wheel) as zf:
        try:
            return zf.read(member)
        except KeyError:
            raise BuildError("%s not found in %s" % (member, wheel))


def literal_assignments(source):
    """Top-level ``NAME = <literal>`` assignments of a Python file, unexecuted."""
    out = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def read_curated(path):
    entries = []
    group = None
    seen = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                m = re.match(r"#\s*group:\s*(\S+)\s*$", line)
                if m:
                    group = m.group(1)
                    if group not in GROUPS:
                        raise BuildError("%s:%d: unknown group %r"
                                         % (path, lineno, group))
                continue
            if group is None:
                raise BuildError("%s:%d: concept before any '# group:' line"
                                 % (path, lineno))
            name = normalise(line)
            key = dedupe_key(name)
            if key in seen:
                raise BuildError("%s:%d: %r duplicates line %d"
                                 % (path, lineno, name, seen[key]))
            seen[key] = lineno
            entries.append((name, group))
    return entries


def collect(wheel_dir):
    """Return {source: [(name, group), ...]} and {source: sha256 of file}."""
    cb_wheel = find_wheel(wheel_dir, CLIP_BENCHMARK)
    tv_wheel = find_wheel(wheel_dir, TORCHVISION)
    cb_bytes = read_member(cb_wheel, CLIP_CLASSNAMES_PATH)
    tv_bytes = read_member(tv_wheel, TORCHVISION_META_PATH)
    digests = {
        "clip_benchmark": hashlib.sha256(cb_bytes).hexdigest(),
        "torchvision": hashlib.sha256(tv_bytes).hexdigest(),
    }
    clip = json.loads(cb_bytes.decode("utf-8"))
    meta = literal_assignments(tv_bytes.decode("utf-8"))

    lists = {}
    lists["curated"] = read_curated(os.path.join(REPO_ROOT, CURATED_PATH))

    # COCO
    coco = []
    for raw in meta["_COCO_CATEGORIES"]:
        if raw in COCO_DROP:
            continue
        name = normalise(raw)
        name = COCO_RENAME.get(name, name)
        if name not in COCO_GROUPS:
            raise BuildError("COCO category %r has no group mapping" % name)
        coco.append((name, COCO_GROUPS[name]))
    if len(coco) != 80:
        raise BuildError("expected 80 COCO categories, got %d" % len(coco))
    lists["coco"] = coco

    # ImageNet-1k (CLIP-curated names)
    imagenet = clip["imagenet1k"]
    if len(imagenet) != 1000:
        raise BuildError("expected 1000 ImageNet names, got %d" % len(imagenet))
    for idx, expected in IMAGENET_ANCHORS.items():
        if normalise(imagenet[idx]) != expected:
            raise BuildError("ImageNet index %d is %r, expected %r"
                             % (idx, imagenet[idx], expected))
    used = {"imagenet1k", "flowers", "pets", "caltech101_vtab", "eurosat"}
    unknown = sorted(set(clip) - used - CLIP_UNUSED)
    if unknown:
        print("note: en_classnames.json has lists this script does not know "
              "about (not used): %s" % ", ".join(unknown), file=sys.stderr)
    lists["imagenet1k"] = [(normalise(n), imagenet_group(i))
                           for i, n in enumerate(imagenet)]

    lists["flowers"] = [(normalise(n), "plants") for n in clip["flowers"]]
    lists["pets"] = [(pets_name(n), "animals") for n in clip["pets"]]

    caltech = []
    for raw in clip["caltech101_vtab"]:
        name = normalise(raw)
        if name in CALTECH_SKIP:
            continue
        name = CALTECH_RENAME.get(name, name)
        caltech.append((name, CALTECH_GROUPS.get(name, "objects")))
    lists["caltech101_vtab"] = caltech

    eurosat = []
    for raw in clip["eurosat"]:
        for part in normalise(raw).split(" or "):
            part = part.strip()
            eurosat.append((EUROSAT_RENAME.get(part, part), "scenes"))
    lists["eurosat"] = eurosat

    kinetics = []
    for raw in meta["_KINETICS400_CATEGORIES"]:
        name = normalise(KINETICS_QUALIFIER.sub("", raw))
        kinetics.append((name, "activities"))
    if len(meta["_KINETICS400_CATEGORIES"]) != 400:
        raise BuildError("expected 400 Kinetics classes")
    lists["kinetics400"] = kinetics
    return lists, digests


def merge(lists):
    tags = []
    owner = {}  # dedupe key -> source that kept it
    stats = collections.OrderedDict()
    for source in SOURCE_ORDER:
        raw = kept = dup = short = 0
        for name, group in lists[source]:
            raw += 1
            if group not in GROUPS:
                raise BuildError("bad group %r for %r" % (group, name))
            if len(name) < 2:
                short += 1
                continue
            key = dedupe_key(name)
            if key in owner:
                dup += 1
                continue
            owner[key] = source
            tags.append({"name": name, "source": source, "group": group})
            kept += 1
        stats[source] = (raw, kept, dup, short)
    return tags, stats


def curated_only(lists):
    upstream = set()
    for source in SOURCE_ORDER[1:]:
        upstream.update(dedupe_key(n) for n, _ in lists[source])
    return [n for n, _ in lists["curated"] if dedupe_key(n) not in upstream]


def render(tags, sources):
    d = lambda obj: json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    lines = ['{"version":1,"language":"en","generator":%s,' % d(GENERATOR),
             '"sources":{']
    src_lines = ["%s:%s" % (d(k), d(sources[k])) for k in SOURCE_ORDER]
    lines.append(",\n".join(src_lines))
    lines.append('},\n"tags":[')
    lines.append(",\n".join(
        d(collections.OrderedDict(
            [("name", t["name"]), ("source", t["source"]),
             ("group", t["group"])])) for t in tags))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel-dir", help="use the wheels already in this "
                    "directory instead of downloading them")
    ap.add_argument("--output", default=OUTPUT_PATH,
                    help="output path, relative to the repo root "
                    "(default: %(default)s)")
    args = ap.parse_args(argv)

    try:
        if args.wheel_dir:
            lists, digests = collect(args.wheel_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="sightline-vocab-") as tmp:
                download_wheels(tmp)
                lists, digests = collect(tmp)
        tags, stats = merge(lists)
    except BuildError as exc:
        print("error: %s" % exc, file=sys.stderr)
        return 1

    sources = collections.OrderedDict()
    for key in SOURCE_ORDER:
        entry = collections.OrderedDict(SOURCES[key])
        entry["count"] = stats[key][1]
        if entry["package"].startswith("clip-benchmark"):
            entry["sha256"] = digests["clip_benchmark"]
        elif entry["package"].startswith("torchvision"):
            entry["sha256"] = digests["torchvision"]
        sources[key] = entry

    print("%-16s %6s %6s %6s %6s" % ("source", "raw", "kept", "dup", "short"))
    for key, (raw, kept, dup, short) in stats.items():
        print("%-16s %6d %6d %6d %6d" % (key, raw, kept, dup, short))
    groups = collections.Counter(t["group"] for t in tags)
    print("\n%-16s %6s" % ("group", "tags"))
    for g in GROUPS:
        print("%-16s %6d" % (g, groups.get(g, 0)))
    only = curated_only(lists)
    print("\ntotal unique tags: %d" % len(tags))
    print("curated concepts not in any upstream list: %d of %d"
          % (len(only), len(lists["curated"])))

    failed = False
    if len(tags) < MIN_TAGS:
        print("error: only %d unique tags, need at least %d"
              % (len(tags), MIN_TAGS), file=sys.stderr)
        failed = True
    if len(only) < MIN_CURATED_ONLY:
        print("error: only %d curated-only concepts, need at least %d"
              % (len(only), MIN_CURATED_ONLY), file=sys.stderr)
        failed = True
    if failed:
        return 1

    text = render(tags, sources)
    json.loads(text)  # sanity check: the hand-assembled JSON parses
    out = os.path.join(REPO_ROOT, args.output)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    print("wrote %s (%d bytes)" % (os.path.relpath(out, REPO_ROOT),
                                   len(text.encode("utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
