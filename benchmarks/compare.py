"""The service beside a bare FastAPI app, in one run on loopback.

    python benchmarks/compare.py [--seconds 10] [--runs 3] [--workers 1] [--connections 32]
                                 [--base DIR] [--no-canned] [--cold-starts 10]

Starts, one at a time and in an order that rotates from run to run, these apps under the
same uvicorn settings:

* ``service``: the real service (``mixcalc serve``) of this tree;
* ``canned``: the same service with :func:`mixcalc.plan.plan_mixture_json` replaced by the
  canned answer (the request is still read, checked and validated; nothing is computed):
  what the HTTP shell costs by itself (a benchmark-only launcher below, not a setting of
  the service; one worker only);
* ``bare``: ``benchmarks/bare_app.py`` (the same route, bodies of the same shape and size,
  no computation);
* with ``--base DIR``: ``base`` (and ``base-canned``), the same two for the tree in ``DIR``
  (e.g. ``git archive main | tar -x -C DIR``), imported ahead of this one through
  ``PYTHONPATH``: before and after, side by side in one run.

Each app first starts once unmeasured, with bytecode written to a scratch
``PYTHONPYCACHEPREFIX`` (an installed wheel has its ``.pyc`` files, as the bare app's
FastAPI has); the measured starts read it.  Each then takes the same wrk load of the
typical request; then each starts ``--cold-starts`` more times, in rotating order.
Printed: medians over the runs of requests/s, latency p50/p99, cold start (process start
to the first 200, over every start), the service's peak memory under load, the core
alone (plans/s in-process, no HTTP), the ratios against the targets of issue 15, and
where the time per request goes (bare, shell, core).

``--in-process ROUNDS`` times each app's ASGI app in process instead (no server, no
socket: the app's own µs per request, far less noisy than wrk on a shared machine);
``--profile APP`` adds that app's cProfile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from core import rate
from harness import ROOT, TYPICAL, Load, free_port, machine, serve, wrk

from mixcalc import plan_mixture

TARGETS = {"throughput": 0.8, "cold_start": 1.5, "rss_mib": 150.0, "core": 20_000.0}

#: ``mixcalc serve``, as the console script runs it.
_SERVE = "import sys; from mixcalc.cli import main; sys.exit(main())"
#: ``mixcalc serve`` with the core's answer canned (argv[1]: the answer's file): measures the shell.
_SERVE_CANNED = (
    "import pathlib, sys\n"
    "import mixcalc.api.routes as routes\n"
    "canned = pathlib.Path(sys.argv.pop(1)).read_bytes()\n"
    "routes.plan_mixture_json = lambda request, formulary: canned\n"
    "from mixcalc.cli import main\n"
    "sys.exit(main())\n"
)


#: One app's µs per request through its ASGI app in process (argv: app, answer file, profile?).
_IN_PROCESS = (
    "import json, os, pathlib, sys\n"
    "from harness import TYPICAL, asgi_timings\n"
    "kind, canned = sys.argv[1], pathlib.Path(sys.argv[2]).read_bytes()\n"
    "if kind == 'bare':\n"
    "    from bare_app import app\n"
    "else:\n"
    "    import mixcalc.api.routes as routes\n"
    "    if kind.endswith('canned'):\n"
    "        routes.plan_mixture_json = lambda request, formulary: canned\n"
    "    app = routes.create_app()\n"
    "print(json.dumps(asgi_timings(app, json.dumps(TYPICAL).encode(), profile=sys.argv[3] == 'profile')))\n"
)


def _in_process(apps: list[str], envs: dict[str, dict[str, str]], canned: Path, rounds: int, profile: str) -> None:
    """µs per request through each app's ASGI app, no server: each app in its own process
    (its tree on ``PYTHONPATH``), ``rounds`` times in rotating order; with ``profile``,
    that app's cProfile first."""
    here = str(Path(__file__).resolve().parent)
    figures: dict[str, list[float]] = {app: [] for app in apps}
    for n in range(rounds):
        shift = n % len(apps)
        for app in apps[shift:] + apps[:shift]:
            env = {**os.environ, **envs[app]}
            env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), here) if p)
            mode = "profile" if app == profile and n == 0 else "time"
            command = [sys.executable, "-P", "-c", _IN_PROCESS, app, str(canned), mode]
            done = subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, check=True, text=True)
            figures[app].append(min(json.loads(done.stdout)))
    print()
    print(f"in process, through the ASGI app (no server): µs per request, median over {rounds} processes of")
    print("the best of 7 runs of 1,000 requests")
    for app in apps:
        print(f"  {app:<12}{statistics.median(figures[app]):>8.1f}")


def _command(app: str, port: int, workers: int, canned: Path) -> list[str]:
    common = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if app == "bare":
        return [sys.executable, "-m", "uvicorn", "benchmarks.bare_app:app", *common]
    if app.endswith("canned"):
        return [sys.executable, "-P", "-c", _SERVE_CANNED, str(canned), "serve", *common]
    return [sys.executable, "-P", "-c", _SERVE, "serve", *common]  # -P: mixcalc from PYTHONPATH, not the cwd


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("--seconds", type=float, default=10.0, help="load per run and app")
    options.add_argument("--runs", type=int, default=3)
    options.add_argument("--workers", type=int, default=1)
    options.add_argument("--connections", type=int, default=32)
    options.add_argument("--core-seconds", type=float, default=2.0)
    options.add_argument("--base", type=Path, help="another tree of mixcalc, measured beside this one")
    options.add_argument("--no-canned", action="store_true", help="leave out the canned-core apps")
    options.add_argument("--cold-starts", type=int, default=10, help="cold starts per app beyond one per run")
    options.add_argument(
        "--in-process", type=int, metavar="ROUNDS", help="only time each app's ASGI app in process, ROUNDS times"
    )
    options.add_argument("--profile", metavar="APP", help="with --in-process: print APP's profile (stderr)")
    args = options.parse_args()
    canned_too = not args.no_canned and args.workers == 1  # the launcher patches one process

    body = json.dumps(TYPICAL).encode()
    answer = plan_mixture(TYPICAL).model_dump_json().encode()
    print(f"machine: {machine()}")
    print(f"load: wrk, 1 thread, {args.connections} connections, {args.seconds:g} s per run, {args.runs} runs")
    print(f"server: uvicorn, {args.workers} worker(s), log level warning; bodies {len(body)} B in, {len(answer)} B out")
    if not args.no_canned and not canned_too:
        print("canned-core apps left out: they run one worker only")

    apps = ["service", *(["canned"] if canned_too else []), "bare"]
    if args.base is not None:
        apps += ["base", *(["base-canned"] if canned_too else [])]

    loads: dict[str, list[Load]] = {app: [] for app in apps}
    cold: dict[str, list[float]] = {app: [] for app in apps}
    peak_mib: dict[str, list[float]] = {app: [] for app in apps}
    with tempfile.TemporaryDirectory() as scratch:
        canned = Path(scratch) / "answer.json"
        canned.write_bytes(answer)
        os.environ["MIXCALC_BARE_ANSWER"] = str(canned)
        common_env = {"PYTHONPYCACHEPREFIX": str(Path(scratch) / "pycache")}
        envs = {app: dict(common_env) for app in apps}
        for app in apps:
            if app.startswith("base"):
                envs[app]["PYTHONPATH"] = str(args.base.resolve())
            if app != "bare":  # say which tree each service runs
                where = [sys.executable, "-P", "-c", "import mixcalc; print(mixcalc.__file__)"]
                found = subprocess.run(where, env={**os.environ, **envs[app]}, capture_output=True, text=True)
                print(f"{app}: {found.stdout.strip() or found.stderr.strip()}")
        if args.in_process:
            _in_process(apps, envs, canned, args.in_process, args.profile or "")
            return 0
        core_rates = [rate(args.core_seconds) for _ in range(args.runs)]
        for app in apps:
            port = free_port()  # the unmeasured start that writes the bytecode
            with serve(_command(app, port, args.workers, canned), "/v1/mixtures", body, port,
                       env={**envs[app], "PYTHONDONTWRITEBYTECODE": ""}):  # fmt: skip
                pass
        for run in range(args.runs):
            shift = run % len(apps)
            for app in apps[shift:] + apps[:shift]:
                port = free_port()
                command = _command(app, port, args.workers, canned)
                with serve(command, "/v1/mixtures", body, port, env=envs[app]) as server:
                    cold[app].append(server.cold_start)
                    wrk(server.url, [(body, 200)], seconds=2, connections=args.connections)  # warm-up
                    load = wrk(server.url, [(body, 200)], seconds=args.seconds, connections=args.connections)
                    if load.errors:
                        raise SystemExit(f"{app}: {load.errors} errors under load: {load}")
                    loads[app].append(load)
                    peak_mib[app].append(server.peak_rss_kib() / 1024)
        for start in range(args.cold_starts):  # more cold starts, rotating too: they vary more than loads
            shift = start % len(apps)
            for app in apps[shift:] + apps[:shift]:
                port = free_port()
                with serve(
                    _command(app, port, args.workers, canned), "/v1/mixtures", body, port, env=envs[app]
                ) as server:
                    cold[app].append(server.cold_start)

    def median(values: list[float]) -> float:
        return statistics.median(values)

    rates = {app: median([x.rate for x in loads[app]]) for app in apps}
    print()
    columns = f"{'requests/s':>12}{'µs/request':>12}{'p50 ms':>9}{'p99 ms':>9}{'cold start s':>14}{'RSS MiB':>9}"
    print(f"{'app':<12}{columns}")
    for app in apps:
        print(
            f"{app:<12}{rates[app]:>12,.0f}{1e6 / rates[app]:>12,.0f}"
            f"{median([x.p50_ms for x in loads[app]]):>9.2f}{median([x.p99_ms for x in loads[app]]):>9.2f}"
            f"{median(cold[app]):>14.2f}{median(peak_mib[app]):>9.1f}"
        )
    throughput = rates["service"] / rates["bare"]
    cold_ratio = median(cold["service"]) / median(cold["bare"])
    figures = [
        ("throughput service ÷ bare", throughput, f">= {TARGETS['throughput']}", throughput >= TARGETS["throughput"]),
        ("cold start service ÷ bare", cold_ratio, f"<= {TARGETS['cold_start']}", cold_ratio <= TARGETS["cold_start"]),
        (
            "service peak RSS MiB",
            median(peak_mib["service"]),
            f"<= {TARGETS['rss_mib']:g}",
            median(peak_mib["service"]) <= TARGETS["rss_mib"],
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
        print(f"{label:<30}{shown:>10}   target {target:<10}{'met' if met else 'NOT MET'}")
    for app in apps:
        if app not in ("service", "bare"):
            print(f"{'throughput ' + app + ' ÷ bare':<30}{rates[app] / rates['bare']:>10.2f}")
    if "base" in apps:
        print(f"{'throughput service ÷ base':<30}{rates['service'] / rates['base']:>10.2f}")
        print(f"{'cold start base ÷ bare':<30}{median(cold['base']) / median(cold['bare']):>10.2f}")
    if canned_too:
        bare_us, canned_us, service_us = (1e6 / rates[app] for app in ("bare", "canned", "service"))
        print()
        print(
            f"µs per request: bare {bare_us:,.0f}; the service {service_us:,.0f}, of which beyond the bare app "
            f"{canned_us - bare_us:+,.0f} in the shell (canned core; validation included) "
            f"and {service_us - canned_us:+,.0f} in the core"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
