"""The core's steps side by side: another tree of mixcalc (e.g. main, exported) against
this one, each timed in its own process, the two alternated, medians of several runs.

    git archive <commit> | tar -x -C /tmp/base
    python benchmarks/steps_versus.py /tmp/base [--rounds 7] [--number 400]

Prints µs per typical request for validation, resolve, plan, answer + serialisation
(``answer_json``, the HTTP path), ``answer()`` (the model, for the CLI and the EHR code)
and request dict → answer bytes, with the ratio base ÷ this tree.  Both trees run with
this interpreter; each must have ``answer_json`` and ``plan_mixture_json`` (since fe2d4c4).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys, timeit
sys.path.insert(0, "benchmarks")
from harness import TYPICAL
from mixcalc import MixtureRequest, default_formulary
from mixcalc.answer import answer, answer_json
from mixcalc.plan import compute, plan_mixture_json
from mixcalc.resolve import resolve
formulary = default_formulary()
request = MixtureRequest.model_validate(TYPICAL)
resolved = resolve(request, formulary)
plan = compute(resolved, formulary)
steps = {
    "validation (dict -> MixtureRequest)": lambda: MixtureRequest.model_validate(TYPICAL),
    "resolve": lambda: resolve(request, formulary),
    "plan (compute)": lambda: compute(resolved, formulary),
    "answer + serialisation (answer_json)": lambda: answer_json(plan),
    "answer() (the model: CLI, EHR)": lambda: answer(plan),
    "request dict -> answer bytes": lambda: plan_mixture_json(MixtureRequest.model_validate(TYPICAL), formulary),
}
number = int(sys.argv[1])
print(json.dumps({k: min(timeit.repeat(f, number=number, repeat=5)) / number * 1e6 for k, f in steps.items()}))
"""


def run(tree: Path, number: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(number)], cwd=tree, env=env, capture_output=True, text=True, check=True
    )
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    options.add_argument("base", type=Path, help="the other tree (its mixcalc/ and benchmarks/harness.py)")
    options.add_argument("--rounds", type=int, default=7)
    options.add_argument("--number", type=int, default=400)
    args = options.parse_args()
    trees = {"base": args.base.resolve(), "this": ROOT}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
        for name in order:
            runs[name].append(run(trees[name], args.number))
    print(f"µs per typical request, median of {args.rounds} alternated runs (each the best of 5 x {args.number})")
    print(f"  {'step':44} {'base':>8} {'this':>8} {'base/this':>10}")
    for step in runs["this"][0]:
        base = statistics.median(r[step] for r in runs["base"])
        this = statistics.median(r[step] for r in runs["this"])
        print(f"  {step:44} {base:8.1f} {this:8.1f} {base / this:9.2f}x")


if __name__ == "__main__":
    main()
