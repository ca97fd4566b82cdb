#!/usr/bin/env python3
"""A mock of the two Azure REST contracts Sightline calls, for its tests (Python 3 stdlib only).

  Document Intelligence Read   POST {base}/documentintelligence/documentModels/prebuilt-read:analyze?api-version=2024-11-30
                               POST {base}/formrecognizer/documentModels/prebuilt-read:analyze?api-version=2023-07-31
                                 -> 202, Operation-Location, Retry-After
                               GET  {Operation-Location} -> {status, analyzeResult | error}
  Face API detect v1.2         POST {base}/face/v1.2/detect?detectionModel=detection_03&returnFaceId=false&...

The answers follow the shapes of Microsoft's published REST examples (azure-rest-api-specs:
DocumentIntelligence 2024-11-30 AnalyzeResult, Face v1.2 Detect.json); the read text is that of
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

The other origin: with --other-port, a second listener plays a host that redirects lead to. It
records what reaches it (`listener: "other"`, and whether the right key came along) and answers
any request as an `ok` service would, whatever the key, as an attacker's host would. Requests to
the main listener are recorded with `listener: "main"`.

Any key other than the one given with --key (default `mock-key`) gets 401, as Azure answers.
Every answer carries CORS headers (Allow-Origin, and Expose-Headers: Operation-Location,
Retry-After, apim-request-id) unless the scenario says otherwise; OPTIONS answers preflights.

Test hooks: GET /__requests lists the requests received (never the key: only whether it was
right), POST /__reset clears them, GET /__fixture/read gives the analyzeResult it serves.

Usage: server.py [--port 0] [--other-port PORT] [--key mock-key] [--exit-with-stdin]; prints
"PORT n" (and "OTHER n" with --other-port) on stdout once listening.
"""

import argparse
import json
import os
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
}
READ_ROUTES = {"documentintelligence": "2024-11-30", "formrecognizer": "2023-07-31"}
READ_CONTENT_TYPES = {"application/octet-stream", "application/pdf", "image/jpeg", "image/png", "image/tiff", "image/bmp", "image/heif"}
DETECTION_03_ATTRIBUTES = {"headPose", "mask", "blur", "qualityForRecognition"}


class State:
    def __init__(self, key):
        self.key = key
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
            headers.append(("Access-Control-Expose-Headers", "Operation-Location, Retry-After, apim-request-id"))
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

    def record(self, path, query, token, body_length):
        key = self.headers.get("Ocp-Apim-Subscription-Key")
        entry = {
            "method": self.command, "path": path, "token": token, "query": {k: v[0] for k, v in query.items()},
            "contentType": self.headers.get("Content-Type"), "bodyLength": body_length,
            "keyHeader": "right" if key == self.state.key else ("wrong" if key else "missing"),
            "time": time.monotonic() - self.state.started,
            # Should a client ever put the key in the URL, the tests see it here.
            "keyInUrl": self.state.key in self.path,
            "listener": self.listener,
        }
        with self.state.lock:
            self.state.requests.append(entry)

    # ---- verbs ----------------------------------------------------------------------------------
    def do_OPTIONS(self):
        _, _, _, scenario = self.split()
        self.answer(204, headers=[] if scenario == "no-cors" else [
            ("Access-Control-Allow-Methods", "GET, POST, OPTIONS"),
            ("Access-Control-Allow-Headers", "Content-Type, Ocp-Apim-Subscription-Key"),
            ("Access-Control-Max-Age", "600"),
        ], scenario=scenario)

    def do_GET(self):
        path, query, token, scenario = self.split()
        if path == "/__requests":
            with self.state.lock:
                return self.answer(200, list(self.state.requests))
        if path == "/__fixture/read":
            return self.answer(200, read_analyze_result(query.get("api-version", ["2024-11-30"])[0]))
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--other-port", type=int, default=None,
                        help="also listen here as another origin that redirects point to (0: any free port)")
    parser.add_argument("--key", default="mock-key")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when standard input closes (when the test process that started it ends)")
    args = parser.parse_args()
    if args.exit_with_stdin:
        def watch_parent():
            sys.stdin.read()
            os._exit(0)
        threading.Thread(target=watch_parent, daemon=True).start()
    Handler.state = State(args.key)
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
