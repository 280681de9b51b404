"""The service beside a bare FastAPI app, in one run on loopback.

    python benchmarks/compare.py [--seconds 10] [--runs 3] [--workers 1] [--connections 32]

Starts (a) the real service (``mixcalc serve``) and (b) ``benchmarks/bare_app.py`` (the
same route, bodies of the same shape and size, no computation) under the same uvicorn
settings, one at a time, in alternating order; drives each with the same wrk load of the
typical request; and prints medians over the runs: requests/s, latency p50/p99, cold
start (process start to the first 200), the service's peak memory under load, the core
alone (plans/s in-process, no HTTP), and the ratios against the targets of issue 5.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from core import rate
from harness import BIN, TYPICAL, Load, free_port, machine, serve, wrk

from mixcalc import plan_mixture

TARGETS = {"throughput": 0.8, "cold_start": 1.5, "rss_mib": 150.0, "core": 20_000.0}


def _command(app: str, port: int, workers: int) -> list[str]:
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if app == "service":
        return [str(BIN / "mixcalc"), "serve", *common]
    return [sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app", *common]


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--seconds", type=float, default=10.0, help="load per run and app")
    options.add_argument("--runs", type=int, default=3)
    options.add_argument("--workers", type=int, default=1)
    options.add_argument("--connections", type=int, default=32)
    options.add_argument("--core-seconds", type=float, default=2.0)
    args = options.parse_args()

    body = json.dumps(TYPICAL).encode()
    answer = plan_mixture(TYPICAL).model_dump_json().encode()
    print(f"machine: {machine()}")
    print(f"load: wrk, 1 thread, {args.connections} connections, {args.seconds:g} s per run, {args.runs} runs")
    print(f"server: uvicorn, {args.workers} worker(s), log level warning; bodies {len(body)} B in, {len(answer)} B out")

    core_rates = [rate(args.core_seconds, validate=True) for _ in range(args.runs)]

    loads: dict[str, list[Load]] = {"service": [], "bare": []}
    cold: dict[str, list[float]] = {"service": [], "bare": []}
    peak_mib: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        canned = Path(scratch) / "answer.json"
        canned.write_bytes(answer)
        import os

        os.environ["MIXCALC_BARE_ANSWER"] = str(canned)
        for run in range(args.runs):
            order = ("service", "bare") if run % 2 == 0 else ("bare", "service")
            for app in order:
                port = free_port()
                with serve(_command(app, port, args.workers), "/v1/mixtures", body, port) as server:
                    cold[app].append(server.cold_start)
                    wrk(server.url, [(body, 200)], seconds=2, connections=args.connections)  # warm-up
                    load = wrk(server.url, [(body, 200)], seconds=args.seconds, connections=args.connections)
                    if load.errors:
                        raise SystemExit(f"{app}: {load.errors} errors under load: {load}")
                    loads[app].append(load)
                    if app == "service":
                        peak_mib.append(server.peak_rss_kib() / 1024)

    def median(values: list[float]) -> float:
        return statistics.median(values)

    print()
    print(f"{'app':<9}{'requests/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'cold start s':>14}")
    for app in ("service", "bare"):
        print(
            f"{app:<9}{median([x.rate for x in loads[app]]):>12,.0f}"
            f"{median([x.p50_ms for x in loads[app]]):>9.2f}{median([x.p99_ms for x in loads[app]]):>9.2f}"
            f"{median(cold[app]):>14.2f}"
        )
    throughput = median([x.rate for x in loads["service"]]) / median([x.rate for x in loads["bare"]])
    cold_ratio = median(cold["service"]) / median(cold["bare"])
    figures = [
        ("throughput service ÷ bare", throughput, f">= {TARGETS['throughput']}", throughput >= TARGETS["throughput"]),
        ("cold start service ÷ bare", cold_ratio, f"<= {TARGETS['cold_start']}", cold_ratio <= TARGETS["cold_start"]),
        (
            "service peak RSS MiB",
            median(peak_mib),
            f"<= {TARGETS['rss_mib']:g}",
            median(peak_mib) <= TARGETS["rss_mib"],
        ),
        (
            "core plans/s (one core)",
            median(core_rates),
            f">= {TARGETS['core']:,.0f}",
            median(core_rates) >= TARGETS["core"],
        ),
    ]
    print()
    for label, value, target, met in figures:
        shown = f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
        print(f"{label:<28}{shown:>10}   target {target:<10}{'met' if met else 'NOT MET'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
