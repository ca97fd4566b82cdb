#!/usr/bin/env python3
"""Static server for the benchmark, on 127.0.0.1 only.

    python3 bench/server.py [--port PORT]     # 0 (the default) picks a free port

Prints "PORT <n>" on stdout once it listens. Routes (first matching prefix wins):

    /ort/    bench/node_modules/onnxruntime-web/dist   the peer runtime
    /models/ models/                                  both engines read the very same files
    /page/   www/                                     the real page, for its first-result time
    /        bench/www/                               the benchmark page, workers, both wasm builds

Everything except /page/ is served cross-origin isolated (COOP same-origin + COEP require-corp),
which threads (SharedArrayBuffer) and performance.measureUserAgentSpecificMemory need. /page/ is
served as scripts/serve serves it, without those headers, so its timing is what users get; its
pkg/ is the release build the bench made (bench/www/pkg), not whatever build www/pkg holds, and
its model.json names the synthetic test model whose tags file the tests build.
"""

import argparse
import http.server
import os
import posixpath
import sys
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUTES = [
    ("/page/pkg/", os.path.join(REPO, "bench", "www", "pkg")),
    ("/page/models/", os.path.join(REPO, "models")),
    ("/page/", os.path.join(REPO, "www")),
    ("/ort/", os.path.join(REPO, "bench", "node_modules", "onnxruntime-web", "dist")),
    ("/models/", os.path.join(REPO, "models")),
    ("/", os.path.join(REPO, "bench", "www")),
]
PAGE_MODEL_JSON = b'{"model": "siglip-test-tiny"}\n'


class BenchHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".wasm": "application/wasm",
        ".onnx": "application/octet-stream",
    }

    def translate_path(self, path):
        path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        for prefix, root in ROUTES:
            if path.startswith(prefix):
                rest = posixpath.normpath(path[len(prefix):]).lstrip("/")
                if rest.startswith(".."):
                    return os.path.join(root, "__forbidden__")
                return os.path.join(root, *[p for p in rest.split("/") if p not in ("", ".")])
        return os.path.join(REPO, "bench", "www", "__missing__")

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path == "/page/model.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(PAGE_MODEL_JSON)))
            self.end_headers()
            self.wfile.write(PAGE_MODEL_JSON)
            return
        super().do_GET()

    def end_headers(self):
        if not self.path.startswith("/page/"):
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        # Every load in the benchmark must be a real one, never the HTTP cache's.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), BenchHandler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
