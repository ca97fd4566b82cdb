#!/usr/bin/env python3
"""Load on `sightline serve`: N concurrent clients post one image to analyze for a bounded time.

    bench/load.py [--clients 8] [--seconds 30] [--image ../shared/images/photos/coffee.png]
                  [--model models/siglip-test-tiny] [--workers N] [--queue N] [--binary PATH]
                  [--no-record]

(scripts/bench-load builds the release binary first and runs this.) Starts the release server
itself on 127.0.0.1 (port chosen by the system), with the model given and YuNet and PP-OCRv5 as
tests/sdk/run does, sends one warm-up request, then runs the clients: Python threads, each with its
own keep-alive connection (http.client), posting the image as application/octet-stream to
`/computervision/imageanalysis:analyze?features=tags,smartCrops,people` back to back until the
time is up. A 429 is honoured as Azure's SDKs do: the client sleeps for Retry-After (at most the
time left) before its next request. Requests in flight at the deadline are finished and counted.

Reports images/s (200 answers over the wall time of the run), p50 and p99 latency of the 200s,
status counts, the server's resident memory (VmRSS, /proc/PID/status) after the warm-up and after
the run, and its peak (VmHWM). Prints a table, writes bench/load-latest.json and appends a row to
bench/results.md ("Load: sightline serve") unless --no-record. Then stops the server with SIGTERM,
as a deployment would, and reports its exit code. Python stdlib only; all traffic on 127.0.0.1.
"""

import argparse
import datetime
import http.client
import json
import os
import math
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("SIGHTLINE_SHARED", ROOT.parent / "shared"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/sightline/target"))
RESULTS = ROOT / "bench/results.md"
LATEST = ROOT / "bench/load-latest.json"
LOAD_MARK = "<!-- load rows: scripts/bench-load inserts above this line -->"
QUERY = "/computervision/imageanalysis:analyze?api-version=2023-10-01&features=tags,smartCrops,people"
READY_TIMEOUT_S = 120


def memory_mb(pid):
    """VmRSS and VmHWM of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024  # kB
    return fields


def start_server(args):
    command = [str(args.binary), "serve", "--model", str(args.model),
               "--people-model", "models/yunet/face_detection_yunet_2026may.onnx",
               "--read-model", "models/ppocr-v5", "--listen", "127.0.0.1:0"]
    if args.workers:
        command += ["--workers", str(args.workers)]
    if args.queue:
        command += ["--queue", str(args.queue)]
    stderr = tempfile.TemporaryFile(mode="w+")
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    found = {}

    def read_stdout():
        for line in server.stdout:
            m = re.match(r"listening on http://127\.0\.0\.1:(\d+)\s*$", line)
            if m and "port" not in found:
                found["port"] = int(m.group(1))
        # keep draining so the server never blocks on a full pipe

    threading.Thread(target=read_stdout, daemon=True).start()
    deadline = time.monotonic() + READY_TIMEOUT_S
    while "port" not in found:
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            stderr.seek(0)
            sys.exit(f"bench-load: the server did not start listening ({server.wait()}):\n{stderr.read()[-4000:]}")
        time.sleep(0.2)
    return server, found["port"], stderr


def post(connection, body):
    """One analyze request; returns (status, seconds, Retry-After or None, ok body)."""
    started = time.perf_counter()
    connection.request("POST", QUERY, body=body, headers={"Content-Type": "application/octet-stream"})
    response = connection.getresponse()
    data = response.read()
    elapsed = time.perf_counter() - started
    ok = False
    if response.status == 200:
        try:
            ok = "tagsResult" in json.loads(data)
        except ValueError:
            pass
    return response.status, elapsed, response.getheader("Retry-After"), ok, response.will_close


def client(port, body, deadline, samples, lock):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    mine = []
    while time.monotonic() < deadline:
        try:
            status, elapsed, retry_after, ok, will_close = post(connection, body)
        except (OSError, http.client.HTTPException) as e:
            mine.append((f"error {type(e).__name__}", 0.0, time.monotonic()))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            time.sleep(0.05)
            continue
        label = status if status != 200 or ok else "200 without tagsResult"
        mine.append((label, elapsed, time.monotonic()))
        if will_close:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        if status == 429:
            try:
                wait = float(retry_after)
            except (TypeError, ValueError):
                wait = 1.0
            time.sleep(max(0.0, min(wait, deadline - time.monotonic())))
    connection.close()
    with lock:
        samples.extend(mine)


def percentile(values, p):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def git_commit():
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return commit + ("+changes" if dirty else "")


def machine():
    cpu = next((line.split(": ", 1)[1] for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    memory = next((int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")), 0)
    return f"{os.cpu_count()} cores, {cpu.strip()}, {memory / 1024 / 1024:.0f} GB"


def record(row):
    """Insert the row into bench/results.md's load table (made on first use, before the notes)."""
    text = RESULTS.read_text(encoding="utf-8")
    if LOAD_MARK not in text:
        section = ("## Load: sightline serve (scripts/bench-load)\n\n"
                   "The release server on 127.0.0.1, N Python clients (threads, one keep-alive connection each) posting "
                   "the same image to `imageanalysis:analyze?features=tags,smartCrops,people` back to back for the "
                   "time given, honouring Retry-After on 429. images/s: 200 answers over the run's wall time; "
                   "latency of the 200s; RSS: VmRSS of the server after one warm-up request → after the run.\n\n"
                   "| date | commit | machine | model | workers/queue | clients | seconds | images/s | p50 ms | p99 ms "
                   "| statuses | RSS before → after MB |\n"
                   "|---|---|---|---|---|---:|---:|---:|---:|---:|---|---|\n" + LOAD_MARK + "\n\n")
        anchor = text.find("## Notes")
        anchor = len(text) if anchor < 0 else anchor
        text = text[:anchor] + section + text[anchor:]
    RESULTS.write_text(text.replace(LOAD_MARK, row + "\n" + LOAD_MARK), encoding="utf-8")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    p.add_argument("--seconds", type=float, default=30, help="how long the clients send (default 30)")
    p.add_argument("--image", type=Path, default=SHARED / "images/photos/coffee.png")
    p.add_argument("--model", type=Path, default=Path("models/siglip-test-tiny"), help="model folder (default the tiny synthetic one)")
    p.add_argument("--workers", type=int, help="the server's --workers (default: its own)")
    p.add_argument("--queue", type=int, help="the server's --queue (default: its own)")
    p.add_argument("--binary", type=Path, default=TARGET / "release/sightline")
    p.add_argument("--no-record", action="store_true", help="print only; leave bench/results.md and load-latest.json alone")
    args = p.parse_args()
    if not (0 < args.clients <= 256 and 0 < args.seconds <= 600):
        p.error("--clients must be 1..256 and --seconds at most 600")
    if not args.binary.exists():
        sys.exit(f"bench-load: {args.binary} is missing (scripts/bench-load builds it)")
    body = args.image.read_bytes()

    server, port, stderr = start_server(args)
    try:
        warm = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        status, warm_s, *_ = post(warm, body)
        warm.close()
        if status != 200:
            sys.exit(f"bench-load: the warm-up request got {status}")
        before = memory_mb(server.pid)

        samples, lock = [], threading.Lock()
        started = time.monotonic()
        deadline = started + args.seconds
        threads = [threading.Thread(target=client, args=(port, body, deadline, samples, lock)) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = max([s[2] for s in samples], default=time.monotonic()) - started
        after = memory_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            exit_code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            exit_code = f"killed (still running 30 s after SIGTERM), then {server.wait()}"

    stderr.seek(0)
    log = stderr.read()
    m = re.search(r"(\d+) workers?, a queue of (\d+)", log)
    workers_queue = f"{m.group(1)}/{m.group(2)}" if m else f"{args.workers or 'default'}/{args.queue or 'default'}"

    ok = [s[1] * 1000 for s in samples if s[0] == 200]
    counts = {"200": len(ok), "429": sum(1 for s in samples if s[0] == 429)}
    counts["other"] = len(samples) - counts["200"] - counts["429"]
    others = {}
    for s in samples:
        if s[0] not in (200, 429):
            others[str(s[0])] = others.get(str(s[0]), 0) + 1
    rate = len(ok) / wall if wall > 0 else 0.0
    p50 = statistics.median(ok) if ok else float("nan")
    p99 = percentile(ok, 99) if ok else float("nan")
    date = datetime.date.today().isoformat()
    commit = git_commit()
    where = machine()
    statuses = f"200: {counts['200']:,}; 429: {counts['429']:,}; other: {counts['other']:,}"
    rss = f"{before['VmRSS']:,.0f} → {after['VmRSS']:,.0f}"
    cells = [date, commit, where, args.model.name, workers_queue, str(args.clients), f"{args.seconds:g}",
             f"{rate:.2f}", f"{p50:,.0f}", f"{p99:,.0f}", statuses, rss]
    row = "| " + " | ".join(cells) + " |"

    print(f"bench-load: {args.image.name} ({len(body):,} bytes), warm-up request {warm_s * 1000:,.0f} ms, "
          f"server exit code after SIGTERM: {exit_code}")
    if others:
        print("bench-load: other statuses: " + ", ".join(f"{k} ×{v}" for k, v in sorted(others.items())))
    print()
    print("| model | workers/queue | clients | seconds | images/s | p50 ms | p99 ms | statuses | RSS before → after MB | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|---:|")
    print(f"| {args.model.name} | {workers_queue} | {args.clients} | {args.seconds:g} | {rate:.2f} | {p50:,.0f} | "
          f"{p99:,.0f} | {statuses} | {rss} | {after['VmHWM']:,.0f} |")

    if not args.no_record:
        record(row)
        LATEST.write_text(json.dumps({
            "date": date, "commit": commit, "machine": where, "model": str(args.model), "image": str(args.image),
            "workers_queue": workers_queue, "clients": args.clients, "seconds": args.seconds, "wall_seconds": wall,
            "images_per_second": rate, "p50_ms": p50 if ok else None, "p99_ms": p99 if ok else None,
            "statuses": counts, "other_statuses": others, "rss_mb": {"before": before["VmRSS"], "after": after["VmRSS"],
                                                                      "peak": after["VmHWM"]},
            "warmup_ms": warm_s * 1000, "server_exit_code": exit_code,
        }, indent=1) + "\n", encoding="utf-8")
        print(f"\nbench-load: row appended to {RESULTS.relative_to(ROOT)}, details in {LATEST.relative_to(ROOT)}")
    return 0 if exit_code == 0 and counts["200"] > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
