"""EHR hook benchmark: how long one CDS Hooks answer takes in-process, for a typical
order, a 26-order session and hostile orders (a million sites, a 4,000-digit count,
a dose of 1e308 mL).  Prints the median of several runs per case.

    python benchmarks/ehr_hook.py [--runs 7]

Before issue 12 a count of 1,000,000 took 9.7 s on the event loop.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_ehr import _q, call, r4_order

from mixcalc import default_formulary
from mixcalc.ehr.codes import default_tables
from mixcalc.ehr.hook import hook_response


def _hostile(count: Any = None, dose: Any = None) -> dict[str, Any]:
    order = r4_order("h", _q(1 if dose is None else dose, "mL"))
    if count is not None:
        order["dosageInstruction"][0]["timing"]["repeat"]["count"] = count
    return call(order)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
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
