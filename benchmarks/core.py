"""Core benchmark: plans per second computed in-process, no HTTP.

    python benchmarks/core.py [--seconds 3] [--runs 5]

Prints the median and spread of several runs of plans per second, request bytes → answer
bytes as the HTTP path computes them (``MixtureRequest.model_validate_json``, then
:func:`mixcalc.plan.plan_mixture_json`): for the typical request (lidocaine 1 % +
bupivacaine 0.25 % + triamcinolone 40 mg/mL, 6 sites, weight, height and sex) sent again
and again, and for a mix of 500 different requests (:func:`varied`: other weights,
heights, sites and volumes, some over a limit), where the display policy's tables of
rounded values and strings do not find every number already made.  Then the
time of each step of the core (validation, resolve, plan, answer + serialisation: the
HTTP path's ``answer_json``) and of the parts of the plan (the limits, the draws, the
checks, the largest-volume search, the lipid rescue), µs of CPU time per request (the
best of several runs).  Each part is timed alone on the same inputs, so the parts add
up to less than the plan: in the plan each works on fresh objects.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import random
import statistics
import time
import timeit
from collections.abc import Callable

from harness import TYPICAL

from mixcalc import MixtureRequest, default_formulary
from mixcalc import plan as plan_module
from mixcalc.answer import answer_json
from mixcalc.checks import findings
from mixcalc.plan import compute, plan_mixture_json
from mixcalc.resolve import resolve


def varied(count: int = 500, seed: int = 15) -> list[bytes]:
    """``count`` different typical-shaped requests (the same seed gives the same ones):
    weight 40-140 kg, height 150-195 cm, either sex, 1-12 sites, lidocaine 0.2-1.5 mL and
    bupivacaine 0.2-1 mL per site, triamcinolone 5-20 mg per site."""
    draw = random.Random(seed)  # noqa: S311 (a benchmark's mix, not a secret)
    bodies = []
    for _ in range(count):
        body = {
            "sites": draw.randint(1, 12),
            "components": [
                {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": f"{draw.randint(2, 15) / 10} mL"},
                {
                    "agent": "bupivacaine",
                    "concentration": "0.25 %",
                    "volume_per_site": f"{draw.randint(2, 10) / 10} mL",
                },
                {
                    "agent": "triamcinolone-acetonide",
                    "concentration": "40 mg/mL",
                    "dose_per_site": f"{draw.randint(5, 20)} mg",
                },
            ],
            "patient": {
                "weight": f"{draw.randint(400, 1400) / 10} kg",
                "height": f"{draw.randint(150, 195)} cm",
                "sex": draw.choice(["female", "male"]),
            },
        }
        bodies.append(json.dumps(body).encode())
    return bodies


def rate(seconds: float, bodies: list[bytes] | None = None) -> float:
    """Plans per second, request bytes -> answer bytes, over ``bodies`` in turn (default:
    the typical request only)."""
    formulary = default_formulary()
    turn = itertools.cycle(bodies or [json.dumps(TYPICAL).encode()])
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for body in itertools.islice(turn, 100):
            plan_mixture_json(MixtureRequest.model_validate_json(body), formulary)
        count += 100
    return count / (time.perf_counter() - start)


def steps(number: int = 500, repeat: int = 7) -> dict[str, float]:
    """µs per typical request of each step of the core (the best of ``repeat`` runs)."""
    formulary = default_formulary()
    request = MixtureRequest.model_validate(TYPICAL)
    resolved = resolve(request, formulary)
    plan = compute(resolved, formulary)
    limits = plan_module._limits(resolved, formulary)  # worked out once per plan, before the search
    volumes = [c.volume_per_site for c in resolved.components]
    timed: dict[str, Callable[[], object]] = {
        "validation (dict -> MixtureRequest)": lambda: MixtureRequest.model_validate(TYPICAL),
        "resolve": lambda: resolve(request, formulary),
        "plan (compute), of which:": lambda: compute(resolved, formulary),
        "  the limits (maximum doses, load rules)": lambda: plan_module._limits(resolved, formulary),
        "  the draws (syringes, rounding guard, loads)": lambda: plan_module._draw(
            resolved, volumes, formulary, limits
        ),
        "  the checks (every rule)": lambda: findings(plan.assessment),
        "  the largest volume per site (search and verification)": lambda: plan_module._max_volume_per_site(
            resolved, formulary, limits, plan.assessment
        ),
        "  the lipid rescue": lambda: plan_module._rescue(formulary, plan.assessment),
        "answer + serialisation (answer_json: plain data, orjson)": lambda: answer_json(plan),
    }
    # CPU time of this process: on a shared machine, time spent waiting for a core is not the step's.
    return {
        label: min(timeit.repeat(f, number=number, repeat=repeat, timer=time.process_time)) / number * 1e6
        for label, f in timed.items()
    }


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__)
    options.add_argument("--seconds", type=float, default=2.0)
    options.add_argument("--runs", type=int, default=5)
    args = options.parse_args()
    print(f"machine: {platform.machine()} {platform.python_implementation()} {platform.python_version()}")
    for label, bodies in (
        ("typical request, again and again", None),
        ("500 different requests in turn", varied()),
    ):
        rates = [rate(args.seconds, bodies) for _ in range(args.runs)]
        print(
            f"{label}: median {statistics.median(rates):,.0f} plans/s "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {args.runs} runs of {args.seconds:g} s, one core)"
        )
    print("steps, µs per typical request (best of 7 runs of 500):")
    for label, micros in steps().items():
        print(f"  {label:58} {micros:7.1f}")


if __name__ == "__main__":
    main()
