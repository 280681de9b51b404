"""Load and soak: drive the running service on loopback for a few minutes and report.

    python benchmarks/soak.py [--minutes 3] [--workers 1] [--connections 32]

Starts ``mixcalc serve`` on a free loopback port, warms it up for 10 s, then sends a
bounded, self-stopping wrk load in 30-second segments: the typical request, an over-limit
plan (200 with a critical warning), a patient out of range and an unknown agent (422),
malformed JSON (400), and hostile bodies (issue 13): 486 nested brackets, a lone surrogate
in a patient field, a 4,000-digit number, NaN (400 each) and a body over 64 KiB (413,
which also closes the connection), in turn, each checked for its status.  Prints requests, errors,
latency percentiles and the server's resident memory at the start (after warm-up) and
after every segment.  Exits 1 unless there were zero errors and memory grew under 10 %.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from harness import BIN, TYPICAL, free_port, machine, serve, wrk

OVER_LIMIT = {
    "sites": 6,
    "components": [{"agent": "lidocaine", "concentration": "2 %", "volume_per_site": "5 mL"}],
    "patient": {"weight": "50 kg"},
}
OUT_OF_RANGE = {**TYPICAL, "patient": {"weight": "4000 kg"}}
UNKNOWN_AGENT = {**TYPICAL, "components": [{"agent": "lidocane", "concentration": "1 %", "volume_per_site": "1 mL"}]}

DEEP = b'{"sites": 6, "components": ' + b"[" * 486 + b"]" * 486 + b"}"
SURROGATE = json.dumps({**TYPICAL, "patient": {"weight": "70 kg", "sex": "\ud800"}}).encode()
LONG_NUMBER = b'{"sites": ' + b"7" * 4000 + b"}"
OVERSIZE = json.dumps({**TYPICAL, "padding": "x" * 70_000}).encode()

BODIES = [
    (json.dumps(TYPICAL).encode(), 200),
    (json.dumps(OVER_LIMIT).encode(), 200),
    (json.dumps(OUT_OF_RANGE).encode(), 422),
    (json.dumps(UNKNOWN_AGENT).encode(), 422),
    (b'{"sites": 6, "components": [', 400),
    (DEEP, 400),
    (SURROGATE, 400),
    (LONG_NUMBER, 400),
    (b'{"sites": NaN}', 400),
    (OVERSIZE, 413),
]
SEGMENT_SECONDS = 30
MAX_GROWTH = 0.10


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--minutes", type=float, default=3.0)
    options.add_argument("--workers", type=int, default=1)
    options.add_argument("--connections", type=int, default=32)
    args = options.parse_args()
    segments = max(1, round(args.minutes * 60 / SEGMENT_SECONDS))

    port = free_port()
    command = [str(BIN / "mixcalc"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(args.workers), "--log-level", "warning"]
    print(f"machine: {machine()}")
    print(
        f"load: wrk, 1 thread, {args.connections} connections, {segments} × {SEGMENT_SECONDS} s, "
        f"{len(BODIES)} bodies in turn ({', '.join(str(status) for _, status in BODIES)}); "
        f"server: {args.workers} worker(s)"
    )
    with serve(command, "/v1/mixtures", BODIES[0][0], port) as server:
        wrk(server.url, BODIES, seconds=10, connections=args.connections)
        start_kib = server.rss_kib()
        print(f"\nRSS after 10 s warm-up: {start_kib / 1024:.1f} MiB")
        print(
            f"{'segment':>8}{'requests':>10}{'req/s':>8}{'errors':>8}"
            f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'RSS MiB':>9}"
        )
        loads = []
        for n in range(1, segments + 1):
            load = wrk(server.url, BODIES, seconds=SEGMENT_SECONDS, connections=args.connections)
            loads.append(load)
            print(
                f"{n:>8}{load.requests:>10,}{load.rate:>8,.0f}{load.errors:>8}{load.p50_ms:>8.1f}"
                f"{load.p99_ms:>8.1f}{load.max_ms:>8.1f}{server.rss_kib() / 1024:>9.1f}"
            )
        end_kib = server.rss_kib()
    requests = sum(x.requests for x in loads)
    errors = sum(x.errors for x in loads)
    growth = (end_kib - start_kib) / start_kib
    print(
        f"\ntotal: {requests:,} requests in {sum(x.seconds for x in loads):.0f} s, {errors} errors "
        f"({sum(x.socket_errors for x in loads)} socket, {sum(x.wrong for x in loads)} wrong status); "
        f"p50 {statistics.median(x.p50_ms for x in loads):.1f} ms, p99 {max(x.p99_ms for x in loads):.1f} ms (worst "
        f"segment), max {max(x.max_ms for x in loads):.1f} ms"
    )
    print(f"RSS: {start_kib / 1024:.1f} MiB at start, {end_kib / 1024:.1f} MiB at end ({growth:+.1%})")
    ok = errors == 0 and growth < MAX_GROWTH
    print("verdict:", "PASS (zero errors, memory growth under 10 %)" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
