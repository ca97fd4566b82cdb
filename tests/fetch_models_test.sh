#!/usr/bin/env bash
# Tests for scripts/fetch-models. Self-contained: builds a fake mirror and a temporary
# manifest in a temp dir; needs only bash, python3 and coreutils (no network).
# Usage: tests/fetch_models_test.sh     (prints "N passed, M failed"; exit 1 if M > 0)
set -u

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FETCH="${FETCH_MODELS:-$ROOT/scripts/fetch-models}"   # override to test another copy
TMP="$(mktemp -d "${TMPDIR:-/tmp}/fetch-models-test.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1"; shift; for l in "$@"; do echo "       $l"; done; }

# run NAME ARGS...: runs fetch-models, leaving $RC, $OUT (stdout), $ERR (stderr).
run() {
    "$FETCH" "$@" >"$TMP/stdout" 2>"$TMP/stderr"
    RC=$?
    OUT="$(cat "$TMP/stdout")"
    ERR="$(cat "$TMP/stderr")"
}
show() { echo "rc=$RC"; echo "--- stdout"; echo "$OUT"; echo "--- stderr"; echo "$ERR"; }

# check DESCRIPTION CONDITION...: pass if the condition (a command) succeeds.
check() {
    local desc="$1"; shift
    if "$@"; then pass "$desc"; else fail "$desc" "$(show)"; fi
}
rc_is() { [ "$RC" = "$1" ]; }
out_has() { grep -qF -- "$1" <<<"$OUT"; }
err_has() { grep -qF -- "$1" <<<"$ERR"; }
no_part_files() { [ -z "$(find "$1" -name '*.part' 2>/dev/null)" ]; }
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }

# ------------------------------------------------------------------ fixtures
MIRROR="$TMP/mirror"
mkdir -p "$MIRROR/tiny/onnx" "$MIRROR/shared" "$TMP/upstream"
head -c 300000 /dev/urandom >"$MIRROR/tiny/onnx/vision.onnx"
head -c 5000 /dev/urandom >"$MIRROR/tiny/onnx/text.onnx"
echo '{"model": "tokenizer"}' >"$MIRROR/shared/tokenizer.json"
echo '{"config": 1}' >"$MIRROR/tiny/config.json"
# A file reachable only through its url (file://, exercises the download path).
head -c 250000 /dev/urandom >"$TMP/upstream/remote.bin"
BAD_SHA="0000000000000000000000000000000000000000000000000000000000000000"

python3 - "$TMP/manifest.json" "$MIRROR" "$TMP/upstream" "$BAD_SHA" <<'PY'
import hashlib, json, os, sys
out, mirror, upstream, bad = sys.argv[1:]
def entry(path, role, mirror_rel, url=None, src=None):
    p = src or os.path.join(mirror, mirror_rel)
    data = open(p, "rb").read()
    return {"path": path, "role": role, "url": url, "mirror": mirror_rel,
            "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
def desc(name, synthetic=True, text="onnx/text.onnx"):
    return {"name": name, "synthetic": synthetic, "vision_model": "onnx/vision.onnx",
            "text_model": text, "tokenizer": "tokenizer.json", "image_size": 224,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
            "rescale_factor": 0.00392156862745098, "resample": "bicubic",
            "max_text_length": 64, "pad_id": 1, "eos_id": 1, "canonicalize": True,
            "lowercase": True, "byte_fallback": True,
            "prompt_template": "This is a photo of {label}.",
            "logit_scale": 4.7649970054626465, "logit_bias": -12.9324369430542}
def model(files, d, synthetic=True):
    return {"kind": "siglip", "synthetic": synthetic, "description": "test", "license": "Apache-2.0",
            "homepage": None, "files": files, "descriptor": d}
tok = entry("tokenizer.json", "tokenizer", "shared/tokenizer.json",
            url="file://" + os.path.join(mirror, "shared/tokenizer.json"))
vision = entry("onnx/vision.onnx", "vision", "tiny/onnx/vision.onnx")
text = entry("onnx/text.onnx", "text", "tiny/onnx/text.onnx")
cfg = entry("config.json", "config", "tiny/config.json")
bad_vision = dict(vision, sha256=bad)
bad_size = dict(text, size=text["size"] + 1)
missing = {"path": "onnx/vision.onnx", "role": "vision", "url": None,
           "mirror": "tiny/onnx/absent.onnx", "size": 1, "sha256": bad}
remote = entry("onnx/vision.onnx", "vision", "nowhere/remote.bin",
               url="file://" + os.path.join(upstream, "remote.bin"),
               src=os.path.join(upstream, "remote.bin"))
remote_bad = dict(remote, sha256=bad)
# Files inside a zip archive (a PyPI wheel upstream), reachable only through the archive.
import zipfile
wheel = os.path.join(upstream, "models.whl")
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("pkg/det.onnx", os.urandom(40000))
    z.writestr("pkg/keys.txt", "blank\na\n")
wheel_bytes = open(wheel, "rb").read()
archive = {"url": "file://" + wheel, "size": len(wheel_bytes), "sha256": hashlib.sha256(wheel_bytes).hexdigest()}
def member(path, name):
    data = zipfile.ZipFile(wheel).read(name)
    return {"path": path, "role": "detector", "url": None, "archive": dict(archive, member=name),
            "mirror": "nowhere/" + path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
def other(files, name):
    return {"kind": "ppocr", "synthetic": False, "description": "test", "license": "Apache-2.0",
            "homepage": None, "files": files, "descriptor": {"name": name, "synthetic": False}}
zipped = [member("det.onnx", "pkg/det.onnx"), member("keys.txt", "pkg/keys.txt")]
man = {"version": 1, "default": "tiny", "models": {
    "tiny": model([vision, text, tok, cfg], desc("tiny")),
    "badsha": model([tok, bad_vision, text], desc("badsha")),
    "badsize": model([vision, bad_size, tok], desc("badsize")),
    "missing": model([missing, tok], desc("missing", text=None)),
    "remote": model([remote, tok], desc("remote", synthetic=False, text=None), synthetic=False),
    "remotebad": model([remote_bad, tok], desc("remotebad", text=None)),
    "zipped": other(zipped, "zipped"),
    "zippedbad": other([dict(zipped[0], archive=dict(zipped[0]["archive"], sha256=bad))], "zippedbad"),
    "zippedmissing": other([dict(zipped[0], archive=dict(zipped[0]["archive"], member="pkg/absent"))], "zippedmissing"),
}}
json.dump(man, open(out, "w"), indent=2)
PY
MAN="$TMP/manifest.json"

# ------------------------------------------------------------------ tests
echo "# fetch-models tests ($FETCH)"

# 1. copy from mirror
DEST="$TMP/dest1"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" tiny
check "copy from mirror: exit 0" rc_is 0
same_files() {
    cmp -s "$MIRROR/tiny/onnx/vision.onnx" "$DEST/tiny/onnx/vision.onnx" &&
    cmp -s "$MIRROR/tiny/onnx/text.onnx" "$DEST/tiny/onnx/text.onnx" &&
    cmp -s "$MIRROR/shared/tokenizer.json" "$DEST/tiny/tokenizer.json" &&
    cmp -s "$MIRROR/tiny/config.json" "$DEST/tiny/config.json"
}
check "copy from mirror: all files identical to the mirror" same_files
check "copy from mirror: says it copied from the mirror" out_has "copying from mirror"
check "copy from mirror: no temp files left" no_part_files "$DEST"

# 2. descriptor written, equal to the manifest's descriptor
descriptor_ok() {
    python3 - "$MAN" "$DEST/tiny/sightline.json" <<'PY'
import json, sys
man, d = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
sys.exit(0 if d == man["models"]["tiny"]["descriptor"] else 1)
PY
}
check "descriptor: sightline.json equals the manifest descriptor" descriptor_ok

# 3. idempotent second run
mtimes() { find "$DEST/tiny" -type f -printf '%p %i %T@\n' | sort; }
BEFORE="$(mtimes)"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" tiny
check "second run: exit 0" rc_is 0
cached_count() { [ "$(grep -c 'ok (cached)' <<<"$OUT")" = 4 ]; }
check "second run: all 4 files reported 'ok (cached)'" cached_count
check "second run: nothing copied" eval '! out_has "copying from mirror"'
unchanged() { [ "$BEFORE" = "$(mtimes)" ]; }
check "second run: no file rewritten (inode and mtime unchanged)" unchanged

# 4. second run works without the mirror too (everything cached)
run --manifest "$MAN" --dest "$DEST" tiny
check "cached run without --mirror: exit 0" rc_is 0

# 5. a corrupted installed file is detected and replaced
printf 'garbage' >"$DEST/tiny/onnx/text.onnx"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" tiny
check "corrupted file: exit 0 after repair" rc_is 0
check "corrupted file: reported as wrong" out_has "existing file is wrong"
check "corrupted file: replaced by the right one" cmp -s "$MIRROR/tiny/onnx/text.onnx" "$DEST/tiny/onnx/text.onnx"

# 6. sha256 mismatch refused, no file left
DEST="$TMP/dest2"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" badsha
check "sha mismatch: exit 1" rc_is 1
check "sha mismatch: names the file" err_has "onnx/vision.onnx: sha256 mismatch"
check "sha mismatch: shows expected hash" err_has "expected $BAD_SHA"
check "sha mismatch: shows actual hash" err_has "actual   $(sha "$MIRROR/tiny/onnx/vision.onnx")"
check "sha mismatch: no file at the destination" test ! -e "$DEST/badsha/onnx/vision.onnx"
check "sha mismatch: no temp files left" no_part_files "$DEST"
check "sha mismatch: no sightline.json written" test ! -e "$DEST/badsha/sightline.json"
check "sha mismatch: the good files were still installed" test -f "$DEST/badsha/onnx/text.onnx"

# 7. size mismatch refused, no file left
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" badsize
check "size mismatch: exit 1" rc_is 1
check "size mismatch: names the file" err_has "onnx/text.onnx: size mismatch"
check "size mismatch: no file at the destination" test ! -e "$DEST/badsize/onnx/text.onnx"
check "size mismatch: no temp files left" no_part_files "$DEST"
check "size mismatch: no sightline.json written" test ! -e "$DEST/badsize/sightline.json"

# 8. a bad file already in place is never kept when re-fetch fails
mkdir -p "$DEST/badsha/onnx" && printf 'stale' >"$DEST/badsha/onnx/vision.onnx"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" badsha
check "stale bad file + failed fetch: exit 1" rc_is 1
check "stale bad file + failed fetch: stale file removed" test ! -e "$DEST/badsha/onnx/vision.onnx"

# 9. missing mirror file, no url
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" missing
check "missing mirror file: exit 1" rc_is 1
check "missing mirror file: error names the mirror path looked for" err_has "$MIRROR/tiny/onnx/absent.onnx"
check "missing mirror file: no sightline.json" test ! -e "$DEST/missing/sightline.json"
run --manifest "$MAN" --dest "$DEST" missing
check "no-url file without --mirror: exit 1" rc_is 1
check "no-url file without --mirror: error asks for --mirror" err_has "pass --mirror DIR where DIR/tiny/onnx/absent.onnx exists"

# 10. unknown model
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" no-such-model
check "unknown model: exit 2" rc_is 2
check "unknown model: error names it and the known models" err_has "unknown model(s): no-such-model (known: tiny, badsha"
check "unknown model: nothing created" test ! -e "$DEST/no-such-model"

# 11. download from url (file:// url; mirror given but file absent there -> falls back to url)
DEST="$TMP/dest3"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" remote
check "download: exit 0" rc_is 0
check "download: falls back to the url when not in the mirror" out_has "not in mirror (looked for $MIRROR/nowhere/remote.bin), downloading"
check "download: file identical" cmp -s "$TMP/upstream/remote.bin" "$DEST/remote/onnx/vision.onnx"
check "download: progress line with bytes and percent on stderr" err_has "onnx/vision.onnx: 250.0 KB / 250.0 KB (100%)"
check "download: descriptor written" test -f "$DEST/remote/sightline.json"
run --manifest "$MAN" --dest "$DEST" remotebad
check "download with bad sha: exit 1" rc_is 1
check "download with bad sha: refused" err_has "onnx/vision.onnx: sha256 mismatch"
check "download with bad sha: no file left" test ! -e "$DEST/remotebad/onnx/vision.onnx"
check "download with bad sha: no temp files left" no_part_files "$DEST"

# 11b. files taken out of a verified zip archive (a PyPI wheel upstream)
DEST="$TMP/dest-zip"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST" zipped
check "archive: exit 0" rc_is 0
check "archive: member extracted and verified" eval 'python3 -c "import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(\"pkg/det.onnx\"))" "$TMP/upstream/models.whl" | cmp -s - "$DEST/zipped/det.onnx"'
check "archive: downloaded once for both files" eval '[ "$(grep -c "downloading archive" <<<"$ERR$OUT")" -eq 1 ]'
check "archive: no archive or temp files left" eval '[ -z "$(find "$DEST" -name ".*" -type f)" ]'
run --manifest "$MAN" --dest "$DEST" zippedbad
check "archive with the wrong sha256: exit 1, nothing installed" \
    eval 'rc_is 1 && err_has "nothing was installed" && test ! -e "$DEST/zippedbad/det.onnx"'
run --manifest "$MAN" --dest "$DEST" zippedmissing
check "archive without the member: exit 1 naming it" eval 'rc_is 1 && err_has "cannot open pkg/absent"'

# 12. default model, --list, usage errors, bad manifest
DEST="$TMP/dest4"
run --manifest "$MAN" --mirror "$MIRROR" --dest "$DEST"
check "no MODEL argument: installs the manifest default" test -f "$DEST/tiny/sightline.json"
run --manifest "$MAN" --list
check "--list: exit 0" rc_is 0
check "--list: shows default model, synthetic flag and total size" \
    out_has "tiny (default)  synthetic  4 files"
check "--list: shows real models" grep -qE '^remote +real' <<<"$OUT"
run --manifest "$MAN" --bogus-option
check "unknown option: exit 2" rc_is 2
run --manifest "$MAN" --mirror "$TMP/no-such-dir" tiny
check "--mirror not a directory: exit 2" rc_is 2
echo '{"version": 1, "default": "x", "models": {"x": {"kind": "siglip"}}}' >"$TMP/broken.json"
run --manifest "$TMP/broken.json" --list
check "invalid manifest: exit 1 with a clear message" eval 'rc_is 1 && err_has "model x: missing field(s)"'
run --manifest "$TMP/nonexistent.json" --list
check "missing manifest: exit 1" rc_is 1

# 13. the repository's own manifest is valid (validated by the script on load)
run --list
check "repo manifest: valid and lists siglip-base-patch16-224 as default" \
    out_has "siglip-base-patch16-224 (default)  real"
check "repo manifest: lists siglip-test-tiny and siglip-test-base" \
    eval 'out_has "siglip-test-tiny " && out_has "siglip-test-base "'

echo
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
