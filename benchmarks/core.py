"""Core benchmark: plans per second computed in-process, no HTTP.

    python benchmarks/core.py [--seconds 3] [--runs 5]

Prints the median and spread of several runs for the typical request (lidocaine 1 % +
bupivacaine 0.25 % + triamcinolone 40 mg/mL, 6 sites, weight, height and sex).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from harness import TYPICAL

from mixcalc import MixtureRequest, default_formulary, plan_mixture


def rate(seconds: float, validate: bool) -> float:
    formulary = default_formulary()
    request = MixtureRequest.model_validate(TYPICAL)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(100):
            plan_mixture(TYPICAL if validate else request, formulary)
        count += 100
    return count / (time.perf_counter() - start)


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--seconds", type=float, default=2.0)
    options.add_argument("--runs", type=int, default=5)
    args = options.parse_args()
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    for label, validate in (
        ("request dict -> answer (validation included)", True),
        ("validated request -> answer", False),
    ):
        rates = [rate(args.seconds, validate) for _ in range(args.runs)]
        print(
            f"{label}: median {statistics.median(rates):,.0f} plans/s "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {args.runs} runs of {args.seconds:g} s, one core)"
        )


if __name__ == "__main__":
    main()
