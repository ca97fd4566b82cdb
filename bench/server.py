#!/usr/bin/env python3
"""Static server for the benchmark, on 127.0.0.1 only.

    python3 bench/server.py [--port PORT]     # 0 (the default) picks a free port

Prints "PORT <n>" on stdout once it listens. Routes (first matching prefix wins):

    /ort/    bench/node_modules/onnxruntime-web/dist   the peer runtime
    /models/ models/                                  both engines read the very same files
    /page/sightline/ bench/www/npm/                   the page's npm package: the bench's release build
    /pkg/    bench/www/npm/pkg/                       the same build's wasm modules, for the benchmark
    /page/   www/                                     the real page, for its first-result time
    /        bench/www/                               the benchmark page and workers

Everything is served cross-origin isolated, which threads (SharedArrayBuffer) and
performance.measureUserAgentSpecificMemory need: /page/ exactly as scripts/serve serves it
(scripts/static_server.py's headers), so its timing is what users get, the rest with COEP
require-corp. /page/'s package is the release build the bench made (bench/www/npm), not whatever build
www/sightline holds, and its model.json names the synthetic test model whose tags file the tests build.
"""

import argparse
import os
import posixpath
import sys
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
from static_server import IsolatedHandler, ISOLATION_HEADERS, serve  # noqa: E402

ROUTES = [
    ("/page/sightline/", os.path.join(REPO, "bench", "www", "npm")),
    ("/pkg/", os.path.join(REPO, "bench", "www", "npm", "pkg")),
    ("/page/models/", os.path.join(REPO, "models")),
    ("/page/", os.path.join(REPO, "www")),
    ("/ort/", os.path.join(REPO, "bench", "node_modules", "onnxruntime-web", "dist")),
    ("/models/", os.path.join(REPO, "models")),
    ("/", os.path.join(REPO, "bench", "www")),
]
PAGE_MODEL_JSON = b'{"model": "siglip-test-tiny"}\n'


BENCH_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class BenchHandler(IsolatedHandler):
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

    def isolation_headers(self):
        return ISOLATION_HEADERS if self.path.startswith("/page/") else BENCH_HEADERS

    def end_headers(self):
        # Every load in the benchmark must be a real one, never the HTTP cache's.
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    return serve(BenchHandler, args.port)


if __name__ == "__main__":
    sys.exit(main())
