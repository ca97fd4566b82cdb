#!/usr/bin/env python3
"""A mock of the REST contracts Sightline calls, Azure's and OpenAI's, for its tests (Python 3 stdlib only).

  Document Intelligence Read   POST {base}/documentintelligence/documentModels/prebuilt-read:analyze?api-version=2024-11-30
                               POST {base}/formrecognizer/documentModels/prebuilt-read:analyze?api-version=2023-07-31
                                 -> 202, Operation-Location, Retry-After
                               GET  {Operation-Location} -> {status, analyzeResult | error}
  Face API detect v1.2         POST {base}/face/v1.2/detect?detectionModel=detection_03&returnFaceId=false&...
  Chat completions, an image   POST {base}/openai/deployments/{deployment}/chat/completions?api-version=2024-10-21
                                 (Azure OpenAI, key in `api-key`)
                               POST {base}/v1/chat/completions (OpenAI-compatible, `Authorization: Bearer KEY`,
                                 the model in the body)
                                 -> 200 chat.completion whose content describes the image (below)

The answers follow the shapes of Microsoft's published REST examples (azure-rest-api-specs:
DocumentIntelligence 2024-11-30 AnalyzeResult, Face v1.2 Detect.json, Azure OpenAI inference
2024-10-21) and of OpenAI's API reference; the read text is that of
../shared/images/ocr/phototest.tif.

Scenarios are chosen by a path prefix on the endpoint, `/s/NAME` or `/s/NAME~NONCE` (the nonce
gives a test its own counters), e.g. endpoint http://127.0.0.1:PORT/s/throttle-twice~t1:

  ok (no prefix)   202, one `running` poll, then `succeeded`; faces answered at once
  slow             three `running` polls (Retry-After: 1) before `succeeded`
  stuck            `running` forever (overall timeouts)
  throttle-twice   the first two requests get 429 with Retry-After: 1, then as `ok`
  throttle-always  429 with Retry-After: 1, always
  error500-once    the first request gets 500, then as `ok`
  bad-request      400 InvalidRequest / InvalidContent
  not-found        404
  failed           the operation ends `failed` with an error
  malformed        the poll (Read) or the answer (Face) is truncated JSON
  hang             the request is read and never answered
  no-location      202 without Operation-Location
  no-expose        as `ok`, without Access-Control-Expose-Headers (browsers then hide
                   Operation-Location from the page)
  no-cors          as `ok`, without any CORS header (browsers refuse the answers)
  redirect         302 to the same path on the other origin (below) for the upload and detect
  redirect-307     the same with 307 Temporary Redirect (which keeps method and body)
  redirect-poll    the upload as `ok`, then 302 to the other origin for the poll
  echo-key         400 whose error message quotes the key it was sent (some gateways do)
  huge             a 200 answer of 65 MiB (the poll, and detect): more than a client should read

Chat completions. The known deployments (Azure) and models (/v1) are those of --deployments
(default `gpt-4o`); others get 404 DeploymentNotFound or model_not_found, a missing or other
api-version 404 Resource not found, a wrong key 401 in the shape's own body (/v1 never quotes the
key). With --keyless-v1, /v1 also takes requests without Authorization (as llama.cpp and Ollama
do); a wrong Bearer token is still 401. The request is validated as the service does (400
invalid_request_error with its `param`): the messages (one `image_url` part, a base64 `data:` URL
of a PNG or JPEG whose media type matches its bytes, else 400 invalid_image_format), strict
json_schema rules (every object `additionalProperties: false` and all its properties required),
json_object's "json" in the messages, the types and ranges of logprobs, temperature, max_tokens,
and unknown arguments. The reply's content is compact JSON with the fields the schema's properties
ask for (`caption`, `denseCaptions`, `objects`), or, with json_object or no response_format, those
whose names appear in the messages' text; its boxes are [left, top, right, bottom] in pixels of the
sent image (VISION_* below, and GET /__fixture/vision). More tokens than max_tokens cut the
content there with finish_reason `length`, as the service does. With `"logprobs": true`,
choices[0].logprobs.content covers the content exactly: JSON punctuation {}[]":, is a token of its
own, other runs are split into tokens of up to 4 characters; logprob -0.01 for punctuation, -0.2
inside the caption's string value, -0.05 elsewhere; top_logprobs [] (a refusal's tokens go in
logprobs.refusal). Azure's answers carry x-ms-region, prompt_filter_results and
content_filter_results; /v1's carry x-request-id. These scenarios above apply to chat too: hang,
echo-key (it quotes the api-key or Bearer token), huge, malformed (the answer is truncated JSON),
redirect, redirect-307, error500-once, no-expose, no-cors; and chat has its own (both shapes get
the bodies shown, Azure's ones included):

  no-logprobs      `"logprobs": null` even when asked (some servers)
  reject-logprobs  400 "logprobs is not supported with this model" when asked, else as `ok`
  no-json-schema   400 for a json_schema response_format; json_object and none work
  content-filter   400 content_filter, Azure's ResponsibleAIPolicyViolation body
  filtered-output  200, finish_reason `content_filter`, content null (Azure: violence filtered)
  refusal          200, content null and message.refusal "I'm sorry, I can't help with that."
  not-json         200, content "Sure! The image shows a man riding a bicycle."
  schema-mismatch  200, valid JSON of the wrong shape: {"caption":42,"objects":[{"label":"person"}]}
  truncated        200, finish_reason `length`, the content cut halfway through its JSON
  throttle-twice   the first two requests get 429 with retry-after-ms: 200, Retry-After: 1,
                   x-ratelimit-remaining-requests: 0 and Azure's rate limit body, then as `ok`
  throttle-always  that 429, always
  forbidden        403 "Public access is disabled. Please configure private endpoint."

The other origin: with --other-port, a second listener plays a host that redirects lead to. It
records what reaches it (`listener: "other"`, and whether the right key came along) and answers
any request as an `ok` service would, whatever the key, as an attacker's host would. Requests to
the main listener are recorded with `listener: "main"`.

Any key other than the one given with --key (default `mock-key`) gets 401, as Azure answers.
Every answer carries CORS headers (Allow-Origin, and Expose-Headers: Operation-Location,
Retry-After, apim-request-id, retry-after-ms, x-ratelimit-remaining-requests, x-ms-region,
x-request-id) unless the scenario says otherwise; OPTIONS answers preflights (Allow-Headers:
Content-Type, Ocp-Apim-Subscription-Key, api-key, Authorization).

Test hooks: GET /__requests lists the requests received (never the key: only whether it was
right, `keyHeader`; chat requests add a `vision` summary of what was asked), POST /__reset clears
them, GET /__fixture/read gives the analyzeResult it serves, GET /__fixture/vision the chat reply's
fixed captions and box fractions (with ?width=W&height=H[&fields=a,b], also the reply for that
image).

Usage: server.py [--port 0] [--other-port PORT] [--key mock-key] [--deployments gpt-4o,...]
[--keyless-v1] [--exit-with-stdin]; prints "PORT n" (and "OTHER n" with --other-port) on stdout
once listening.
"""

import argparse
import base64
import binascii
import json
import math
import os
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PHOTOTEST_LINES = [
    "This is a lot of 12 point text to test the",
    "ocr code and see if it works on all types",
    "of file format.",
    "The quick brown dog jumped over the",
    "lazy fox. The quick brown dog jumped",
    "over the lazy fox. The quick brown dog",
    "jumped over the lazy fox. The quick",
    "brown dog jumped over the lazy fox.",
]
PAGE_WIDTH, PAGE_HEIGHT = 640, 480
CHAR_WIDTH = 12.75


def line_geometry(index):
    """Top-left x, top y, height of line `index` (a paragraph gap after the third line)."""
    top = 38.4 + index * 36.0 + (36.0 if index >= 3 else 0.0)
    return 35.6, top, 26.5


def read_analyze_result(api_version):
    """An AnalyzeResult for prebuilt-read on phototest.tif, as the service structures it."""
    content = "\n".join(PHOTOTEST_LINES)
    lines, words, offset = [], [], 0
    for i, text in enumerate(PHOTOTEST_LINES):
        x0, top, height = line_geometry(i)
        x1 = round(x0 + len(text) * CHAR_WIDTH, 1)
        bottom = round(top + height, 1)
        lines.append({
            "content": text,
            "polygon": [x0, top, x1, top, x1, bottom, x0, bottom],
            "spans": [{"offset": offset, "length": len(text)}],
        })
        position = 0
        for word in text.split(" "):
            wx0 = round(x0 + position * CHAR_WIDTH, 1)
            wx1 = round(x0 + (position + len(word)) * CHAR_WIDTH, 1)
            words.append({
                "content": word,
                "polygon": [wx0, top, wx1, top, wx1, bottom, wx0, bottom],
                "confidence": round(0.9 + 0.01 * (len(word) % 10), 3),
                "span": {"offset": offset + position, "length": len(word)},
            })
            position += len(word) + 1
        offset += len(text) + 1
    return {
        "apiVersion": api_version,
        "modelId": "prebuilt-read",
        "stringIndexType": "unicodeCodePoint",
        "content": content,
        "pages": [{
            "pageNumber": 1,
            "angle": 0,
            "width": PAGE_WIDTH,
            "height": PAGE_HEIGHT,
            "unit": "pixel",
            "words": words,
            "lines": lines,
            "spans": [{"offset": 0, "length": len(content)}],
        }],
        "styles": [],
        "contentFormat": "text",
    }


# Face v1.2 Detect.json's face, its landmarks and attributes (detection_03 supports these four).
FACE_RECTANGLE = {"width": 78, "height": 78, "left": 394, "top": 54}
FACE_LANDMARKS = {
    "pupilLeft": {"x": 412.7, "y": 78.4}, "pupilRight": {"x": 446.8, "y": 74.2},
    "noseTip": {"x": 437.7, "y": 92.4}, "mouthLeft": {"x": 417.8, "y": 114.4},
    "mouthRight": {"x": 451.3, "y": 109.3}, "eyebrowLeftOuter": {"x": 397.9, "y": 78.5},
    "eyebrowLeftInner": {"x": 425.4, "y": 70.5}, "eyeLeftOuter": {"x": 406.7, "y": 80.6},
    "eyeLeftTop": {"x": 412.2, "y": 76.2}, "eyeLeftBottom": {"x": 413.0, "y": 80.1},
    "eyeLeftInner": {"x": 418.9, "y": 78.0}, "eyebrowRightInner": {"x": 4.8, "y": 69.7},
    "eyebrowRightOuter": {"x": 5.5, "y": 68.5}, "eyeRightInner": {"x": 441.5, "y": 75.0},
    "eyeRightTop": {"x": 446.4, "y": 71.7}, "eyeRightBottom": {"x": 447.0, "y": 75.3},
    "eyeRightOuter": {"x": 451.7, "y": 73.4}, "noseRootLeft": {"x": 428.0, "y": 77.1},
    "noseRootRight": {"x": 435.8, "y": 75.6}, "noseLeftAlarTop": {"x": 428.3, "y": 89.7},
    "noseRightAlarTop": {"x": 442.2, "y": 87.0}, "noseLeftAlarOutTip": {"x": 424.3, "y": 96.4},
    "noseRightAlarOutTip": {"x": 446.6, "y": 92.5}, "upperLipTop": {"x": 437.6, "y": 105.9},
    "upperLipBottom": {"x": 437.6, "y": 108.2}, "underLipTop": {"x": 436.8, "y": 111.4},
    "underLipBottom": {"x": 437.3, "y": 114.5},
}
FACE_ATTRIBUTES = {
    "headPose": {"roll": 2.1, "yaw": 3, "pitch": 1.6},
    "mask": {"type": "noMask", "noseAndMouthCovered": False},
    "blur": {"blurLevel": "medium", "value": 0.51},
    "qualityForRecognition": "high",
}

def openai_error(message, param=None, code=None):
    """The body of OpenAI's 400s (Azure OpenAI answers its validation errors the same way)."""
    return {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}


ERRORS = {
    401: {"error": {"code": "401", "message": "Access denied due to invalid subscription key or wrong API endpoint. "
                    "Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}},
    404: {"error": {"code": "404", "message": "Resource not found"}},
    429: {"error": {"code": "429", "message": "Rate limit is exceeded. Try again in 1 seconds."}},
    500: {"error": {"code": "InternalServerError", "message": "An unexpected error occurred."}},
    "bad-request": {"error": {"code": "InvalidRequest", "message": "Invalid request.", "innererror": {
        "code": "InvalidContent", "message": "The file is corrupted or format is unsupported. Refer to documentation for the list of supported formats."}}},
    "face-id": {"error": {"code": "UnsupportedFeature", "message": "Feature is not supported, missing approval for one or more of the "
                          "following features: Identification,Verification. Please apply for access at https://aka.ms/facerecognition"}},
    "media-type": {"error": {"code": "InvalidRequest", "message": "Invalid request.", "innererror": {
        "code": "UnsupportedMediaType", "message": "Resource content type is not supported."}}},
    "failed": {"code": "InvalidRequest", "message": "Invalid request.", "innererror": {
        "code": "InvalidContent", "message": "The file is corrupted or format is unsupported. Refer to documentation for the list of supported formats."}},
    # Chat completions: Azure OpenAI's bodies, then OpenAI's (/v1).
    "deployment": {"error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist. "
                             "If you created the deployment within the last 5 minutes, please wait a moment and try again."}},
    "chat-429": {"error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 "
                           "have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 1 second."}},
    "forbidden": {"error": {"code": "403", "message": "Public access is disabled. Please configure private endpoint."}},
    "content-filter": {"error": {
        "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your "
                   "prompt and retry. To learn more about our content filtering policies please read our documentation: "
                   "https://go.microsoft.com/fwlink/?linkid=2198766",
        "type": None, "param": "prompt", "code": "content_filter", "status": 400,
        "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {
            "hate": {"filtered": False, "severity": "safe"}, "jailbreak": {"filtered": False, "detected": False},
            "self_harm": {"filtered": False, "severity": "safe"}, "sexual": {"filtered": False, "severity": "safe"},
            "violence": {"filtered": True, "severity": "medium"}}}}},
    # A fixed masked form: the mock never quotes the key it was sent (but in echo-key).
    "v1-401": openai_error("Incorrect API key provided: sk-...xxxx.", code="invalid_api_key"),
    "v1-401-missing": openai_error(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth "
        "(i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API "
        "from your browser and are prompted for a username and password. You can obtain an API key from "
        "https://platform.openai.com/account/api-keys."),
    "json-body": openai_error(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. "
        "The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix "
        "this, please contact us through our help center at help.openai.com.)"),
    "image": openai_error("Invalid image.", code="invalid_image_format"),
    "reject-logprobs": openai_error("logprobs is not supported with this model", param="logprobs"),
    "no-json-schema": openai_error("Invalid parameter: 'response_format' of type 'json_schema' is not supported with this model.",
                                   param="response_format"),
}
READ_ROUTES = {"documentintelligence": "2024-11-30", "formrecognizer": "2023-07-31"}
READ_CONTENT_TYPES = {"application/octet-stream", "application/pdf", "image/jpeg", "image/png", "image/tiff", "image/bmp", "image/heif"}
DETECTION_03_ATTRIBUTES = {"headPose", "mask", "blur", "qualityForRecognition"}

# ---- chat completions with an image ----------------------------------------------------------
CHAT_API_VERSION = "2024-10-21"
# What the model "sees" in any image. Boxes are [left, top, right, bottom] as fractions of the sent
# image's width and height; the reply gives them in pixels, f * size rounded half away from zero
# (as Rust's f64::round). Some are wrong on purpose, for the client to drop or clip.
VISION_CAPTION = "a man riding a bicycle down a city street"
VISION_DENSE_CAPTIONS = [
    ("a man wearing a red helmet", [0.30, 0.10, 0.55, 0.45]),
    ("a black bicycle", [0.20, 0.40, 0.80, 0.95]),
    ("a cloud outside the picture", [1.20, 1.20, 1.50, 1.50]),  # entirely outside (below right)
    ("a line", [0.50, 0.10, 0.50, 0.90]),  # zero width
    ("a street sign", [0.85, 0.05, 1.10, 0.30]),  # partly outside: to be clipped
]
VISION_OBJECTS = [
    ("person", [0.28, 0.08, 0.60, 0.90]),
    ("bicycle", [0.20, 0.40, 0.80, 0.95]),
    ("ghost", [-0.30, -0.20, -0.05, -0.02]),  # entirely outside (above left)
    ("pole", [0.90, 0.50, 0.95, 0.50]),  # zero height
]
VISION_FIELDS = ("caption", "denseCaptions", "objects")
VISION_REFUSAL = "I'm sorry, I can't help with that."
VISION_NOT_JSON = "Sure! The image shows a man riding a bicycle."
VISION_SCHEMA_MISMATCH = {"caption": 42, "objects": [{"label": "person"}]}
# The mock's tokens: these JSON punctuation characters alone, other runs in pieces of up to
# TOKEN_CHARS characters; their logprobs are fixed (LOGPROB_*).
JSON_PUNCTUATION = set('{}[]":,')
TOKEN_CHARS = 4
LOGPROB_PUNCTUATION, LOGPROB_CAPTION, LOGPROB_OTHER = -0.01, -0.2, -0.05
# The model a reply names: Azure's is the deployment's model and version, /v1 echoes other names.
MODEL_VERSIONS = {"gpt-4o": "gpt-4o-2024-08-06"}
SYSTEM_FINGERPRINT = "fp_5f20662549"
SAFE = {"filtered": False, "severity": "safe"}
UNDETECTED = {"filtered": False, "detected": False}
PROMPT_FILTER_RESULTS = [{"prompt_index": 0, "content_filter_results": {
    "hate": SAFE, "jailbreak": UNDETECTED, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}}]
OUTPUT_FILTER_RESULTS = {"hate": SAFE, "protected_material_code": UNDETECTED, "protected_material_text": UNDETECTED,
                         "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
CHAT_ARGUMENTS = {"model", "messages", "response_format", "logprobs", "top_logprobs", "temperature", "top_p", "max_tokens",
                  "max_completion_tokens", "seed", "n", "stream", "stop", "user", "frequency_penalty", "presence_penalty"}
CHAT_ROLES = {"system", "developer", "user", "assistant"}
JSON_TYPES = {str: "string", int: "integer", float: "decimal", bool: "boolean", list: "array", dict: "object", type(None): "null"}


class Invalid(Exception):
    """A request the service refuses: its status and body."""

    def __init__(self, body, status=400):
        super().__init__(body["error"].get("message"))
        self.body, self.status = body, status


def pixel(fraction, size):
    """fraction * size rounded half away from zero."""
    value = fraction * size
    return int(math.copysign(math.floor(abs(value) + 0.5), value))


def pixel_box(fractions, width, height):
    left, top, right, bottom = fractions
    return [pixel(left, width), pixel(top, height), pixel(right, width), pixel(bottom, height)]


def vision_reply(fields, width, height):
    """The reply's JSON object for an image of width x height, with these of VISION_FIELDS (in that order)."""
    reply = {}
    if "caption" in fields:
        reply["caption"] = VISION_CAPTION
    if "denseCaptions" in fields:
        reply["denseCaptions"] = [{"text": text, "box": pixel_box(box, width, height)} for text, box in VISION_DENSE_CAPTIONS]
    if "objects" in fields:
        reply["objects"] = [{"name": name, "box": pixel_box(box, width, height)} for name, box in VISION_OBJECTS]
    return reply


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def vision_fixture(query):
    """GET /__fixture/vision: the fixed content, and with ?width=&height= the reply for that image."""
    fixture = {
        "caption": VISION_CAPTION,
        "denseCaptions": [{"text": text, "box": box} for text, box in VISION_DENSE_CAPTIONS],
        "objects": [{"name": name, "box": box} for name, box in VISION_OBJECTS],
        "boxes": "[left, top, right, bottom] as fractions of the sent image's width and height; "
                 "the reply's pixels are fraction * size rounded half away from zero",
        "logprobs": {"punctuation": "".join(sorted(JSON_PUNCTUATION)), "tokenChars": TOKEN_CHARS,
                     "punctuationLogprob": LOGPROB_PUNCTUATION, "captionLogprob": LOGPROB_CAPTION, "otherLogprob": LOGPROB_OTHER},
        "refusal": VISION_REFUSAL, "notJson": VISION_NOT_JSON, "schemaMismatch": compact(VISION_SCHEMA_MISMATCH),
    }
    try:
        width, height = int(query["width"][0]), int(query["height"][0])
    except (KeyError, ValueError):
        return fixture
    fields = query.get("fields", [",".join(VISION_FIELDS)])[0].split(",")
    fixture["reply"] = vision_reply(fields, width, height)
    fixture["content"] = compact(fixture["reply"])
    return fixture


def split_tokens(text):
    """`text` as the mock's tokens (see JSON_PUNCTUATION); they join to `text` exactly."""
    tokens, i = [], 0
    while i < len(text):
        j = i + 1
        if text[i] not in JSON_PUNCTUATION:
            while j < len(text) and j - i < TOKEN_CHARS and text[j] not in JSON_PUNCTUATION:
                j += 1
        tokens.append(text[i:j])
        i = j
    return tokens


def token_logprobs(text):
    """choices[0].logprobs.content (or .refusal) for `text`: its tokens with fixed logprobs."""
    marker = text.find('"caption":"')
    start = marker + len('"caption":"') if marker >= 0 else len(text) + 1
    end = text.find('"', start) if marker >= 0 else -1
    end = len(text) if marker >= 0 and end < 0 else end  # a caption cut short (truncated)
    entries, offset = [], 0
    for token in split_tokens(text):
        if token in JSON_PUNCTUATION:
            logprob = LOGPROB_PUNCTUATION
        elif start <= offset and offset + len(token) <= end:
            logprob = LOGPROB_CAPTION
        else:
            logprob = LOGPROB_OTHER
        entries.append({"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8")), "top_logprobs": []})
        offset += len(token)
    return entries


def image_size(data):
    """(media type, width, height) of PNG or JPEG bytes (the PNG's IHDR, the JPEG's SOFn), or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return ("image/png", width, height) if width and height else None
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker == 0x01 or 0xD0 <= marker <= 0xD7:  # no length
            i += 2
        elif marker in (0xD9, 0xDA):  # the end, or a scan, before any frame header
            return None
        else:
            length = struct.unpack(">H", data[i + 2:i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if length < 7 or i + 9 > len(data):
                    return None
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return ("image/jpeg", width, height) if width and height else None
            if length < 2:
                return None
            i += 2 + length
    return None


def image_tokens(width, height, detail):
    """What OpenAI bills gpt-4o for an image: 85 at low detail, else 85 + 170 per 512 px tile of the
    image scaled to fit 2048 x 2048, then to a shortest side of at most 768."""
    if detail == "low":
        return 85
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    return 85 + 170 * math.ceil(width * scale / 512) * math.ceil(height * scale / 512)


def strict_schema_error(schema, context=()):
    """What OpenAI's structured outputs refuse in a strict schema, or None."""
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            return f"In context={context}, 'additionalProperties' is required to be supplied and to be false."
        required = schema.get("required")
        missing = [name for name in properties if not isinstance(required, list) or name not in required]
        if missing:
            return (f"In context={context}, 'required' is required to be supplied and to be an array including every key "
                    f"in properties. Missing '{missing[0]}'.")
        for name, sub in properties.items():
            error = strict_schema_error(sub, context + ("properties", name))
            if error:
                return error
    if isinstance(schema.get("items"), dict):
        return strict_schema_error(schema["items"], context + ("items",))
    return None


def article(word):
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def check_type(request, name, types, type_name):
    """400 unless request[name], when present, is of `types` (bool is not a number here)."""
    value = request.get(name)
    if value is not None and (not isinstance(value, types) or (isinstance(value, bool) and bool not in types)):
        raise Invalid(openai_error(f"Invalid type for '{name}': expected {type_name}, but got {article(JSON_TYPES.get(type(value), 'value'))} "
                                   "instead.", param=name, code="invalid_type"))
    return value


def vision_request(request, summary):
    """Validates a chat request as the service does, filling `summary`; returns the image's (type,
    width, height), the texts of the messages and how many messages there are. Raises Invalid."""
    if not isinstance(request, dict):
        raise Invalid(ERRORS["json-body"])
    unknown = sorted(set(request) - CHAT_ARGUMENTS)
    if unknown:
        raise Invalid(openai_error(f"Unrecognized request argument supplied: {unknown[0]}"))
    if request.get("stream"):
        raise Invalid(openai_error("This mock does not stream: send no 'stream' or false.", param="stream"))
    messages = request.get("messages")
    if messages is None:
        raise Invalid(openai_error("Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"))
    if not isinstance(messages, list):
        check_type(request, "messages", (list,), "an array")
    if not messages:
        raise Invalid(openai_error("Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
                                   param="messages", code="empty_array"))
    texts, images = [], []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise Invalid(openai_error(f"Invalid type for '{where}': expected an object, but got {article(JSON_TYPES.get(type(message), 'value'))} "
                                       "instead.", param=where, code="invalid_type"))
        role = message.get("role")
        if role not in CHAT_ROLES:
            if role is None:
                raise Invalid(openai_error(f"Missing required parameter: '{where}.role'.", param=f"{where}.role", code="missing_required_parameter"))
            raise Invalid(openai_error(f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', "
                                       "and 'developer'.", param=f"{where}.role", code="invalid_value"))
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        if not isinstance(content, list):
            raise Invalid(openai_error(f"Missing required parameter: '{where}.content'.", param=f"{where}.content", code="missing_required_parameter"))
        for j, part in enumerate(content):
            at = f"{where}.content[{j}]"
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text":
                if not isinstance(part.get("text"), str):
                    raise Invalid(openai_error(f"Missing required parameter: '{at}.text'.", param=f"{at}.text", code="missing_required_parameter"))
                texts.append(part["text"])
            elif kind == "image_url":
                if role != "user":
                    raise Invalid(openai_error(f"Invalid '{where}'. Image URLs are only allowed for messages with role 'user', but this "
                                               f"message with role '{role}' contains an image URL.", param=where, code="invalid_value"))
                image = part.get("image_url")
                if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                    raise Invalid(openai_error(f"Missing required parameter: '{at}.image_url.url'.", param=f"{at}.image_url.url",
                                               code="missing_required_parameter"))
                if image.get("detail", "auto") not in ("auto", "low", "high"):
                    raise Invalid(openai_error(f"Invalid value: '{image['detail']}'. Supported values are: 'auto', 'low', and 'high'.",
                                               param=f"{at}.image_url.detail", code="invalid_value"))
                images.append(image)
            else:
                raise Invalid(openai_error(f"Invalid value: '{kind}'. Supported values are: 'text', 'image_url', 'input_audio', 'refusal', "
                                           "'audio', and 'file'.", param=f"{at}.type", code="invalid_value"))
    if len(images) != 1:
        raise Invalid(openai_error(f"This mock expects exactly one image_url part, got {len(images)}.", param="messages"))
    url, summary["detail"] = images[0]["url"], images[0].get("detail")
    header, comma, payload = url.partition(",")
    if not url.startswith("data:") or not comma or not header.endswith(";base64"):
        raise Invalid(openai_error("This mock takes images only as base64 data: URLs.", code="invalid_image_url"))
    summary["imageType"] = header[len("data:"):-len(";base64")]
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(ERRORS["image"])
    size = image_size(data)
    if size is None or size[0] != summary["imageType"]:
        raise Invalid(ERRORS["image"])
    summary["imageWidth"], summary["imageHeight"] = size[1], size[2]

    response_format = request.get("response_format")
    fields = [f for f in VISION_FIELDS if any(f in text for text in texts)]
    if response_format is not None:
        kind = response_format.get("type") if isinstance(response_format, dict) else None
        if kind is None:
            raise Invalid(openai_error("Missing required parameter: 'response_format.type'.", param="response_format.type",
                                       code="missing_required_parameter"))
        if kind not in ("text", "json_object", "json_schema"):
            raise Invalid(openai_error(f"Invalid value: '{kind}'. Supported values are: 'json_object', 'json_schema', and 'text'.",
                                       param="response_format.type", code="invalid_value"))
        summary["responseFormat"] = kind
        if kind == "json_object" and not any("json" in text.lower() for text in texts):
            raise Invalid(openai_error("'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
                                       param="messages"))
        if kind == "json_schema":
            fields = json_schema_fields(response_format.get("json_schema"))
    summary["fields"] = fields

    summary["logprobs"] = check_type(request, "logprobs", (bool,), "a boolean") is True
    check_type(request, "top_logprobs", (int,), "an integer")
    temperature = check_type(request, "temperature", (int, float), "a decimal")
    if temperature is not None and not 0 <= temperature <= 2:
        side = "above maximum" if temperature > 2 else "below minimum"
        raise Invalid(openai_error(f"Invalid 'temperature': decimal {side} value. Expected a value {'<= 2' if temperature > 2 else '>= 0'}, "
                                   f"but got {temperature} instead.", param="temperature", code=f"decimal_{side.replace(' ', '_')}_value"))
    summary["temperature"] = temperature
    for name in ("max_tokens", "max_completion_tokens"):
        value = check_type(request, name, (int,), "an integer")
        if value is not None and value < 1:
            raise Invalid(openai_error(f"Invalid '{name}': integer below minimum value. Expected a value >= 1, but got {value} instead.",
                                       param=name, code="integer_below_min_value"))
        if value is not None:
            summary["maxTokens"] = value
    return size, texts, len(messages)


def json_schema_fields(json_schema):
    """The fields a json_schema response_format asks for, after OpenAI's checks of it."""
    if not isinstance(json_schema, dict):
        raise Invalid(openai_error("Missing required parameter: 'response_format.json_schema'.", param="response_format.json_schema",
                                   code="missing_required_parameter"))
    name = json_schema.get("name")
    if not isinstance(name, str):
        raise Invalid(openai_error("Missing required parameter: 'response_format.json_schema.name'.", param="response_format.json_schema.name",
                                   code="missing_required_parameter"))
    if not name or len(name) > 64 or not all(c.isascii() and (c.isalnum() or c in "_-") for c in name):
        raise Invalid(openai_error(f"Invalid 'response_format.json_schema.name': string does not match pattern. Expected a string that matches "
                                   f"the pattern '^[a-zA-Z0-9_-]+$'.", param="response_format.json_schema.name", code="invalid_value"))
    schema = json_schema.get("schema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        got = schema.get("type") if isinstance(schema, dict) else None
        raise Invalid(openai_error(f"Invalid schema for response_format '{name}': schema must be a JSON Schema of 'type: \"object\"', "
                                   f"got 'type: \"{got}\"'.", param="response_format"))
    if json_schema.get("strict") is True:
        error = strict_schema_error(schema)
        if error:
            raise Invalid(openai_error(f"Invalid schema for response_format '{name}': {error}", param="response_format"))
    properties = list((schema.get("properties") or {}).keys())
    unknown = [p for p in properties if p not in VISION_FIELDS]
    if unknown:
        raise Invalid(openai_error(f"This mock answers only the properties {', '.join(VISION_FIELDS)}; the schema has '{unknown[0]}'.",
                                   param="response_format"))
    return [f for f in VISION_FIELDS if f in properties]


class State:
    def __init__(self, key, deployments=("gpt-4o",), keyless_v1=False):
        self.key = key
        self.deployments = set(deployments)
        self.keyless_v1 = keyless_v1
        self.lock = threading.Lock()
        self.requests = []
        self.counters = {}
        self.operations = {}
        self.other_port = None
        self.started = time.monotonic()

    def count(self, token):
        """How many service requests this scenario token has had, this one included."""
        with self.lock:
            self.counters[token] = self.counters.get(token, 0) + 1
            return self.counters[token]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "MockAzure/1.0"
    state: State = None
    listener = "main"

    def log_message(self, *args):  # quiet: the tests read /__requests instead
        pass

    # ---- plumbing -------------------------------------------------------------------------------
    def split(self):
        parts = urlsplit(self.path)
        path, token = parts.path, ""
        if path.startswith("/s/"):
            rest = path[3:]
            token, _, remainder = rest.partition("/")
            path = "/" + remainder
        scenario = token.split("~")[0] or "ok"
        return path, parse_qs(parts.query), token or "ok", scenario

    def cors_headers(self, scenario):
        if scenario == "no-cors":
            return []
        headers = [("Access-Control-Allow-Origin", self.headers.get("Origin") or "*"), ("Vary", "Origin")]
        if scenario != "no-expose":
            headers.append(("Access-Control-Expose-Headers", "Operation-Location, Retry-After, apim-request-id, "
                            "retry-after-ms, x-ratelimit-remaining-requests, x-ms-region, x-request-id"))
        return headers

    def answer(self, status, body=None, headers=(), scenario="ok", raw=None):
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        self.send_response(status)
        for name, value in [*self.cors_headers(scenario), ("apim-request-id", str(uuid.uuid4())), *headers]:
            self.send_header(name, value)
        if payload or status not in (202, 204):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def record(self, path, query, token, body_length, key_header=None, **extra):
        """Logs the request; `key_header` judges its key when it is not in Ocp-Apim-Subscription-Key."""
        key = self.headers.get("Ocp-Apim-Subscription-Key")
        if key_header is None and path.startswith(("/openai/", "/v1/")):  # e.g. a chat request redirected as a GET
            key_header = self.chat_key("azure" if path.startswith("/openai/") else "v1")[0]
        entry = {
            "method": self.command, "path": path, "token": token, "scenario": token.split("~")[0],
            "query": {k: v[0] for k, v in query.items()},
            "contentType": self.headers.get("Content-Type"), "bodyLength": body_length,
            "keyHeader": key_header or ("right" if key == self.state.key else ("wrong" if key else "missing")),
            "time": time.monotonic() - self.state.started,
            # Should a client ever put the key in the URL, the tests see it here.
            "keyInUrl": self.state.key in self.path,
            "listener": self.listener,
            **extra,
        }
        with self.state.lock:
            self.state.requests.append(entry)

    # ---- verbs ----------------------------------------------------------------------------------
    def do_OPTIONS(self):
        _, _, _, scenario = self.split()
        self.answer(204, headers=[] if scenario == "no-cors" else [
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            ("Access-Control-Allow-Headers", "Content-Type, Ocp-Apim-Subscription-Key, api-key, Authorization"),
            ("Access-Control-Max-Age", "600"),
        ], scenario=scenario)

    def do_GET(self):
        path, query, token, scenario = self.split()
        if path == "/__requests":
            with self.state.lock:
                return self.answer(200, list(self.state.requests))
        if path == "/__fixture/read":
            return self.answer(200, read_analyze_result(query.get("api-version", ["2024-11-30"])[0]))
        if path == "/__fixture/vision":
            return self.answer(200, vision_fixture(query))
        self.record(path, query, token, 0)
        if self.refuse_key(scenario):
            return
        route, _, rest = path.strip("/").partition("/")
        prefix = "documentModels/prebuilt-read/analyzeResults/"
        if route in READ_ROUTES and rest.startswith(prefix):
            return self.poll(rest[len(prefix):], token, scenario)
        self.answer(404, ERRORS[404], scenario=scenario)

    def do_POST(self):
        path, query, token, scenario = self.split()
        body = self.body()
        if path == "/__reset":
            with self.state.lock:
                self.state.requests.clear()
                self.state.counters.clear()
            return self.answer(204)
        if path.startswith(("/openai/", "/v1/")):
            return self.chat(path, query, body, token, scenario)
        self.record(path, query, token, len(body))
        if self.refuse_key(scenario):
            return
        route = path.strip("/").split("/")[0]
        if path.strip("/") == f"{route}/documentModels/prebuilt-read:analyze" and route in READ_ROUTES:
            if query.get("api-version", [""])[0] != READ_ROUTES[route]:
                return self.answer(404, ERRORS[404], scenario=scenario)
            return self.analyze(route, body, token, scenario)
        if path == "/face/v1.2/detect":
            return self.detect(query, body, token, scenario)
        self.answer(404, ERRORS[404], scenario=scenario)

    # ---- the contracts ----------------------------------------------------------------------
    def refuse_key(self, scenario):
        if self.listener == "other":
            return False  # whoever runs the other host takes any key it is sent
        if scenario == "echo-key":
            sent = self.headers.get("Ocp-Apim-Subscription-Key") or ""
            self.answer(400, {"error": {"code": "InvalidRequest", "message": f"Subscription key '{sent}' is not valid for this operation."}}, scenario=scenario)
            return True
        if self.headers.get("Ocp-Apim-Subscription-Key") != self.state.key:
            self.answer(401, ERRORS[401], scenario=scenario)
            return True
        return False

    def redirect(self, status=302):
        """Send the client to the same path on the other origin."""
        target = f"http://127.0.0.1:{self.state.other_port}{self.path}"
        self.answer(status, {"error": {"code": "Moved", "message": "moved"}}, headers=[("Location", target)])

    def huge(self, scenario):
        """A 200 answer of 65 MiB, written until the client stops reading."""
        size = 65 * 1024 * 1024
        self.send_response(200)
        for name, value in self.cors_headers(scenario):
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b" " * (1 << 20)
        try:
            for _ in range(size >> 20):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def scripted_failure(self, token, scenario):
        """The scenario's answer instead of the normal one, if it has one now. True when answered."""
        if self.listener == "other":
            return False
        if scenario in ("redirect", "redirect-307"):
            self.redirect(302 if scenario == "redirect" else 307)
            return True
        n = self.state.count(token)
        if scenario == "hang":
            # Never answer; hold the socket until the client gives up (or 5 minutes pass).
            self.close_connection = True
            time.sleep(300)
            return True
        if (scenario == "throttle-twice" and n <= 2) or scenario == "throttle-always":
            self.answer(429, ERRORS[429], headers=[("Retry-After", "1")], scenario=scenario)
            return True
        if scenario == "error500-once" and n == 1:
            self.answer(500, ERRORS[500], scenario=scenario)
            return True
        if scenario == "bad-request":
            self.answer(400, ERRORS["bad-request"], scenario=scenario)
            return True
        if scenario == "not-found":
            self.answer(404, ERRORS[404], scenario=scenario)
            return True
        return False

    def analyze(self, route, body, token, scenario):
        if self.scripted_failure(token, scenario):
            return
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type not in READ_CONTENT_TYPES:
            return self.answer(415, ERRORS["media-type"], scenario=scenario)
        if not body:
            return self.answer(400, ERRORS["bad-request"], scenario=scenario)
        operation = str(uuid.uuid4())
        with self.state.lock:
            self.state.operations[operation] = {"polls": 0, "route": route, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_port}"
        prefix = f"/s/{token}" if token != "ok" else ""
        location = (f"http://{host}{prefix}/{route}/documentModels/prebuilt-read/analyzeResults/{operation}"
                    f"?api-version={READ_ROUTES[route]}")
        headers = [("Retry-After", "1")]
        if scenario != "no-location":
            headers.append(("Operation-Location", location))
        self.answer(202, headers=headers, scenario=scenario)

    def poll(self, operation, token, scenario):
        with self.state.lock:
            state = self.state.operations.get(operation)
            if state:
                state["polls"] += 1
        if state is None:
            return self.answer(404, ERRORS[404], scenario=scenario)
        if self.listener == "main" and scenario == "redirect-poll":
            return self.redirect()
        if self.listener == "main" and scenario == "huge":
            return self.huge(scenario)
        running_polls = {"slow": 3, "stuck": 10**9}.get(scenario, 1)
        stamp = {"createdDateTime": state["created"], "lastUpdatedDateTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        if scenario == "malformed":
            return self.answer(200, raw=b'{"status": "succeeded", "analyzeResult": {"pages": [', scenario=scenario)
        if state["polls"] <= running_polls:
            return self.answer(200, {"status": "running", **stamp}, headers=[("Retry-After", "1")], scenario=scenario)
        if scenario == "failed":
            return self.answer(200, {"status": "failed", **stamp, "error": ERRORS["failed"]}, scenario=scenario)
        result = read_analyze_result(READ_ROUTES[state["route"]])
        self.answer(200, {"status": "succeeded", **stamp, "analyzeResult": result}, scenario=scenario)

    def detect(self, query, body, token, scenario):
        if self.scripted_failure(token, scenario):
            return
        # returnFaceId defaults to true, which needs Microsoft's approval: refuse as Azure does.
        if query.get("returnFaceId", ["true"])[0].lower() != "false":
            return self.answer(403, ERRORS["face-id"], scenario=scenario)
        if query.get("detectionModel", ["detection_01"])[0] != "detection_03":
            return self.answer(400, {"error": {"code": "InvalidArgument", "message": "This mock expects detectionModel=detection_03."}}, scenario=scenario)
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/octet-stream":
            return self.answer(415, {"error": {"code": "BadArgument", "message": "Invalid Media Type."}}, scenario=scenario)
        if not body:
            return self.answer(400, {"error": {"code": "InvalidImageSize", "message": "Image size is too small."}}, scenario=scenario)
        attributes = [a for a in query.get("returnFaceAttributes", [""])[0].split(",") if a]
        unknown = [a for a in attributes if a not in DETECTION_03_ATTRIBUTES]
        if unknown:
            return self.answer(400, {"error": {"code": "InvalidArgument", "message": f"Invalid argument returnFaceAttributes: {unknown}."}}, scenario=scenario)
        if scenario == "malformed":
            return self.answer(200, raw=b'[{"faceRectangle": {"width": 78,', scenario=scenario)
        if scenario == "huge" and self.listener == "main":
            return self.huge(scenario)
        face = {"faceRectangle": FACE_RECTANGLE}
        if query.get("returnFaceLandmarks", ["false"])[0].lower() == "true":
            face["faceLandmarks"] = FACE_LANDMARKS
        if attributes:
            face["faceAttributes"] = {a: FACE_ATTRIBUTES[a] for a in attributes}
        self.answer(200, [face], scenario=scenario)

    # ---- chat completions ---------------------------------------------------------------------
    def chat_key(self, shape):
        """Whether a chat request's key is "right", "wrong" or "missing" (Azure's api-key, /v1's Bearer
        token: any other Authorization is wrong), and what it sent there (for echo-key)."""
        if shape == "azure":
            sent = self.headers.get("api-key")
            right = sent == self.state.key
        else:
            sent = self.headers.get("Authorization")
            scheme, _, credential = (sent or "").partition(" ")
            bearer = scheme.lower() == "bearer"
            right = bearer and credential.strip() == self.state.key
            sent = credential.strip() if bearer else sent
        return ("right" if right else "wrong" if sent is not None else "missing"), sent

    def chat_answer(self, shape, status, body=None, headers=(), scenario="ok", raw=None):
        """answer(), with the headers of the shape's service."""
        own = [("x-ms-region", "East US")] if shape == "azure" else [("x-request-id", f"req_{uuid.uuid4().hex}")]
        self.answer(status, body, [*own, *headers], scenario=scenario, raw=raw)

    def chat_failure(self, shape, token, scenario):
        """Chat's own 429 and 403, else the scripted failures of Read and Face. True when answered."""
        if self.listener == "other":
            return False
        if scenario in ("throttle-twice", "throttle-always"):
            if self.state.count(token) <= 2 or scenario == "throttle-always":
                headers = [("retry-after-ms", "200"), ("Retry-After", "1"), ("x-ratelimit-remaining-requests", "0")]
                self.chat_answer(shape, 429, ERRORS["chat-429"], headers=headers, scenario=scenario)
                return True
            return False
        if scenario == "forbidden":
            self.chat_answer(shape, 403, ERRORS["forbidden"], scenario=scenario)
            return True
        return self.scripted_failure(token, scenario)

    def chat(self, path, query, body, token, scenario):
        """Chat completions with an image, on Azure OpenAI's route or OpenAI's (/v1)."""
        shape = "azure" if path.startswith("/openai/") else "v1"
        key_header, sent = self.chat_key(shape)
        summary = {"shape": shape, "model": None, "responseFormat": None, "logprobs": False, "imageWidth": None, "imageHeight": None,
                   "imageType": None, "detail": None, "fields": [], "maxTokens": None, "temperature": None}
        self.record(path, query, token, len(body), key_header=key_header, vision=summary)
        acting = scenario if self.listener == "main" else "ok"  # the other host answers as `ok` would
        if acting == "echo-key":
            error = (openai_error(f"Incorrect API key provided: {sent}.", code="invalid_api_key") if shape == "v1" else
                     {"error": {"code": "InvalidRequest", "message": f"Subscription key '{sent}' is not valid for this operation."}})
            return self.chat_answer(shape, 400, error, scenario=scenario)
        keyless = shape == "v1" and key_header == "missing" and self.state.keyless_v1
        if self.listener == "main" and key_header != "right" and not keyless:
            error = ERRORS[401] if shape == "azure" else ERRORS["v1-401" if key_header == "wrong" else "v1-401-missing"]
            return self.chat_answer(shape, 401, error, scenario=scenario)
        parts = path.strip("/").split("/")
        if shape == "azure":
            if (len(parts) != 5 or parts[1] != "deployments" or parts[3:] != ["chat", "completions"]
                    or query.get("api-version", [""])[0] != CHAT_API_VERSION):
                return self.chat_answer(shape, 404, ERRORS[404], scenario=scenario)
            summary["model"] = parts[2]
            if parts[2] not in self.state.deployments:
                return self.chat_answer(shape, 404, ERRORS["deployment"], scenario=scenario)
        elif path != "/v1/chat/completions":
            return self.chat_answer(shape, 404, openai_error(f"Invalid URL (POST {path})"), scenario=scenario)
        try:
            if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
                raise Invalid(ERRORS["json-body"])
            try:
                request = json.loads(body)
            except ValueError:
                raise Invalid(ERRORS["json-body"])
            if shape == "v1":
                model = request.get("model") if isinstance(request, dict) else None
                if not isinstance(model, str) or not model:
                    raise Invalid(openai_error("you must provide a model parameter"))
                summary["model"] = model
                if model not in self.state.deployments:
                    raise Invalid(openai_error(f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found"), 404)
        except Invalid as invalid:
            return self.chat_answer(shape, invalid.status, invalid.body, scenario=scenario)
        if self.chat_failure(shape, token, scenario):
            return
        try:
            size, texts, message_count = vision_request(request, summary)
            if acting == "reject-logprobs" and summary["logprobs"]:
                raise Invalid(ERRORS["reject-logprobs"])
            if acting == "no-json-schema" and summary["responseFormat"] == "json_schema":
                raise Invalid(ERRORS["no-json-schema"])
            if acting == "content-filter":
                raise Invalid(ERRORS["content-filter"])
        except Invalid as invalid:
            return self.chat_answer(shape, invalid.status, invalid.body, scenario=scenario)
        if acting == "malformed":
            raw = b'{"id":"chatcmpl-mock","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"{\\"cap'
            return self.chat_answer(shape, 200, raw=raw, scenario=scenario)
        if acting == "huge":
            return self.huge(scenario)
        self.chat_answer(shape, 200, self.completion(shape, summary, size, texts, message_count, acting), scenario=scenario)

    def completion(self, shape, summary, size, texts, message_count, acting):
        """The chat.completion for a valid request, as the scenario has it."""
        _, width, height = size
        content, refusal, finish = compact(vision_reply(summary["fields"], width, height)), None, "stop"
        if acting == "not-json":
            content = VISION_NOT_JSON
        elif acting == "schema-mismatch":
            content = compact(VISION_SCHEMA_MISMATCH)
        elif acting == "refusal":
            content, refusal = None, VISION_REFUSAL
        elif acting == "filtered-output":
            content, finish = None, "content_filter"
        tokens = split_tokens(content or refusal or "")
        limit = summary["maxTokens"]
        if acting == "truncated":
            limit = min(limit or len(tokens), len(tokens) // 2)
        if content is not None and limit is not None and len(tokens) > limit:
            tokens = tokens[:limit]
            content, finish = "".join(tokens), "length"
        logprobs = None
        if summary["logprobs"] and acting not in ("no-logprobs", "filtered-output"):
            logprobs = {"content": None if content is None else token_logprobs(content),
                        "refusal": None if refusal is None else token_logprobs(refusal)}
        message = {"role": "assistant", "content": content, "refusal": refusal}
        prompt_tokens = (sum(math.ceil(len(text) / 4) for text in texts) + 3 * message_count + 3
                         + image_tokens(width, height, summary["detail"]))
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens), "total_tokens": prompt_tokens + len(tokens),
                 "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                               "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
        choice = {"index": 0, "message": message, "logprobs": logprobs, "finish_reason": finish}
        model = MODEL_VERSIONS.get(summary["model"], "gpt-4o-2024-08-06" if shape == "azure" else summary["model"])
        completion = {"id": f"chatcmpl-{uuid.uuid4().hex[:29]}", "object": "chat.completion", "created": int(time.time()),
                      "model": model, "choices": [choice], "usage": usage, "system_fingerprint": SYSTEM_FINGERPRINT}
        if shape == "azure":
            filtered = {"violence": {"filtered": True, "severity": "medium"}} if acting == "filtered-output" else {}
            choice["content_filter_results"] = {**OUTPUT_FILTER_RESULTS, **filtered}
            completion["prompt_filter_results"] = PROMPT_FILTER_RESULTS
        else:
            message["annotations"] = []
            completion["service_tier"] = "default"
        return completion


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--other-port", type=int, default=None,
                        help="also listen here as another origin that redirects point to (0: any free port)")
    parser.add_argument("--key", default="mock-key")
    parser.add_argument("--deployments", default="gpt-4o",
                        help="the Azure OpenAI deployments, and /v1 models, it knows (comma-separated)")
    parser.add_argument("--keyless-v1", action="store_true",
                        help="/v1 also answers requests without Authorization (as llama.cpp and Ollama do)")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when standard input closes (when the test process that started it ends)")
    args = parser.parse_args()
    if args.exit_with_stdin:
        def watch_parent():
            sys.stdin.read()
            os._exit(0)
        threading.Thread(target=watch_parent, daemon=True).start()
    Handler.state = State(args.key, [d for d in args.deployments.split(",") if d], args.keyless_v1)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_port}", flush=True)
    if args.other_port is not None:
        class OtherHandler(Handler):
            listener = "other"
        other = ThreadingHTTPServer((args.host, args.other_port), OtherHandler)
        other.daemon_threads = True
        Handler.state.other_port = other.server_port
        threading.Thread(target=other.serve_forever, daemon=True).start()
        print(f"OTHER {other.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
