#!/usr/bin/env python3
"""Serve a static folder on 127.0.0.1 cross-origin isolated, as Sightline's page needs it.

    python3 scripts/static_server.py DIR [--port PORT]    # PORT 0 picks a free one

Prints "PORT <n>" on stdout once it listens. Every response carries

    Cross-Origin-Opener-Policy: same-origin
    Cross-Origin-Embedder-Policy: credentialless

which make the page cross-origin isolated: SharedArrayBuffer exists, so the page runs the threaded
WebAssembly module (js/wasm-builds.js). `credentialless` rather than `require-corp`: images and
models the page fetches from other origins (Hugging Face, an image URL, the Azure services) load
without their servers sending Cross-Origin-Resource-Policy; they come without cookies, which the
page never needs. Any host can send the same two headers (see README, "Serving the page").
scripts/serve and tests/browser/run use this; bench/server.py subclasses it.
"""

import argparse
import http.server
import sys

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "credentialless",
}


class IsolatedHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler with the isolation headers and the MIME types module workers and
    WebAssembly streaming compilation insist on."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
    }

    def isolation_headers(self):
        return ISOLATION_HEADERS

    def end_headers(self):
        for name, value in self.isolation_headers().items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format, *args):
        pass


def serve(handler, port):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    class Handler(IsolatedHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=args.directory, **kw)

    return serve(Handler, args.port)


if __name__ == "__main__":
    sys.exit(main())
