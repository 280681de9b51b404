"""EHR hook benchmark: how long one CDS Hooks answer takes in-process, for a typical
order, a 26-order session and hostile orders (a million sites, a 4,000-digit count,
a dose of 1e308 mL).  Prints the median of several runs per case.

    python benchmarks/ehr_hook.py [--runs 7]
    python benchmarks/ehr_hook.py --against /path/to/other/checkout [--rounds 5]

``--against`` measures another checkout (e.g. ``git worktree add /tmp/base fe2d4c4``)
and this one side by side: the two alternate, each in its own process, ``--rounds``
times, and each case's median of medians is printed with the ratio this / other.

Before issue 12 a count of 1,000,000 took 9.7 s on the event loop.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_ehr import _q, call, r4_order

from mixcalc import default_formulary
from mixcalc.ehr.codes import default_tables
from mixcalc.ehr.hook import hook_response

ROOT = Path(__file__).resolve().parents[1]


def _hostile(count: Any = None, dose: Any = None) -> dict[str, Any]:
    order = r4_order("h", _q(1 if dose is None else dose, "mL"))
    if count is not None:
        order["dosageInstruction"][0]["timing"]["repeat"]["count"] = count
    return call(order)


def side_by_side(other: Path, runs: int, rounds: int) -> None:
    """This checkout and ``other`` alternately, each run in a process of its own."""
    found: dict[tuple[str, str], list[float]] = defaultdict(list)
    for _ in range(rounds):
        for name, root in (("other", other), ("this", ROOT)):
            env = {**os.environ, "PYTHONPATH": str(root)}
            script = root / "benchmarks" / "ehr_hook.py"
            out = subprocess.run(
                [sys.executable, str(script), "--runs", str(runs)], env=env, cwd=root, capture_output=True, text=True
            )
            for line in out.stdout.splitlines():
                match = re.match(r"(.*?)\s+median\s+([\d.]+) ms", line)
                if match:
                    found[(match.group(1), name)].append(float(match.group(2)))
    for case in dict.fromkeys(case for case, _ in found):
        before, after = (statistics.median(found[(case, name)]) for name in ("other", "this"))
        print(f"{case:<60} other {before:8.1f} ms  this {after:8.1f} ms  ratio {after / before:5.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--against", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.against is not None:
        side_by_side(args.against.resolve(), args.runs, args.rounds)
        return
    formulary, tables = default_formulary(), default_tables()
    cases = {
        "lidocaine 1 % 5 mL x 10 sites (over: suggestion searched)": call(r4_order("t", _q(5, "mL"))),
        "26 orders in one session": call(*[r4_order(f"o{i}", _q(0.5, "mL"), sites=2) for i in range(26)]),
        "count = 1,000,000": _hostile(count=1_000_000),
        "count with 4,000 digits": _hostile(count=int("9" * 4000)),
        "dose 1e308 mL": _hostile(dose=1e308),
    }
    for name, body in cases.items():
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            hook_response("order-sign", body, formulary, tables, datetime.now(UTC))
            times.append(time.perf_counter() - start)
        print(f"{name:<60} median {statistics.median(times) * 1000:8.1f} ms  max {max(times) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
