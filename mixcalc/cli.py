"""Command line: ``mixcalc serve`` runs the API, ``mixcalc plan`` computes one mixture.

    mixcalc plan --sites 6 -c lidocaine,1%,0.5mL -c bupivacaine,0.25%,0.5mL \\
        -c triamcinolone-acetonide,40mg/mL,10mg --weight 70kg --height 175cm --sex female
    mixcalc plan --request mixture.json --json
    mixcalc serve --port 8000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

from . import display
from .errors import MixcalcError, PlanError
from .formulary import FORMULARY_ENV, load_formulary
from .plan import plan_mixture
from .schema import MixtureResponse
from .units import Dimension, QuantityError, parse_quantity

__all__ = ["main"]


def _component(text: str) -> dict[str, Any]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4) or not all(parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: write AGENT,CONCENTRATION,AMOUNT_PER_SITE[,EPINEPHRINE], e.g. lidocaine,1%,0.5mL"
        )
    agent, concentration, amount = parts[:3]
    component: dict[str, Any] = {"agent": agent, "concentration": concentration}
    try:
        parse_quantity(amount, expect=Dimension.VOLUME)
        component["volume_per_site"] = amount
    except QuantityError:
        component["dose_per_site"] = amount
    if len(parts) == 4:
        component["epinephrine"] = parts[3]
    return component


def _request(args: argparse.Namespace) -> dict[str, Any]:
    if args.request:
        handle = sys.stdin if args.request == "-" else open(args.request, encoding="utf-8")  # noqa: SIM115
        with handle:
            loaded: dict[str, Any] = json.load(handle)
            return loaded
    if not args.sites or not args.component:
        raise SystemExit("mixcalc plan: give --sites and at least one --component, or --request FILE")
    request: dict[str, Any] = {"sites": args.sites, "components": args.component}
    patient = {
        k: v
        for k, v in {"weight": args.weight, "height": args.height, "sex": args.sex, "age": args.age}.items()
        if v is not None
    }
    if args.condition:
        patient["conditions"] = args.condition
    if patient:
        request["patient"] = patient
    if args.syringe:
        request["syringe"] = args.syringe
    if args.dosing_weight:
        request["dosing_weight"] = args.dosing_weight
    return request


def _q(q: Any) -> str:
    from decimal import Decimal

    return display.amount(Decimal(str(q.value)), q.unit)


def render(answer: MixtureResponse) -> str:
    """A plain-text report of an answer: syringes, doses, fractions and warnings."""
    out = [f"{answer.sites} sites, {_q(answer.volume_per_site)} per site, {_q(answer.total_volume)} in all"]
    if answer.dosing_weight is not None:
        out.append(f"Dosing weight: {answer.dosing_weight.value:g} kg ({answer.dosing_weight.reason})")
    out.append("")
    out.append(f"{'agent':34} {'per site':>10} {'total':>10} {'max':>10} {'of max':>8}")
    for c in answer.components:
        fraction = "-" if c.fraction_of_max is None else f"{c.fraction_of_max * 100:.0f} %"
        maximum = "-" if c.max_dose is None else _q(c.max_dose)
        out.append(f"{c.name:34} {_q(c.dose_per_site):>10} {_q(c.total_dose):>10} {maximum:>10} {fraction:>8}")
    if answer.local_anesthetic_fraction is not None:
        out.append(f"Combined local anesthetic load: {answer.local_anesthetic_fraction * 100:.0f} % of maximum")
    if answer.steroid_fraction is not None:
        out.append(f"Combined corticosteroid load: {answer.steroid_fraction * 100:.0f} % of maximum")
    out.append("")
    for syringe in answer.syringes:
        out.append(syringe.label)
        for draw in syringe.draws:
            out.append(f"  draw {draw.agent:32} {_q(draw.volume):>10}  ({_q(draw.dose)})")
    if answer.warnings:
        out.append("")
        out.append("Warnings:")
        for w in answer.warnings:
            out.append(f"  [{w.severity.upper()}] {w.code}: {w.message}")
    out.append("")
    out.append("Aftercare: " + " ".join(answer.aftercare))
    out.append(f"Formulary: {answer.formulary.name} {answer.formulary.version}")
    return "\n".join(out)


def _plan(args: argparse.Namespace) -> int:
    try:
        formulary = load_formulary(args.formulary)
        answer = plan_mixture(_request(args), formulary)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = "/" + "/".join(str(p) for p in error["loc"])
            print(f"mixcalc plan: {where}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    except PlanError as exc:
        print(f"mixcalc plan: {exc.pointer}: {exc.detail}", file=sys.stderr)
        return 2
    except MixcalcError as exc:
        print(f"mixcalc plan: {exc}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError) as exc:
        print(f"mixcalc plan: cannot read the request: {exc}", file=sys.stderr)
        return 2
    print(answer.model_dump_json(indent=2) if args.json else render(answer))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .api import server
    from .api.settings import ServerLimits, Settings

    if args.formulary:
        os.environ[FORMULARY_ENV] = args.formulary
    try:
        load_formulary()  # fail before binding the port, with file, key and problem
        Settings.from_env()  # and with a malformed setting named
        ServerLimits.from_env()
    except MixcalcError as exc:
        print(f"mixcalc serve: {exc}", file=sys.stderr)
        return 2
    server.run(args.host, args.port, workers=args.workers, log_level=args.log_level)  # limits, logs: see server
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mixcalc", description="Trigger point injection mixture calculator")
    commands = top.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve", help="run the HTTP API (limits and timeouts: MIXCALC_* settings, see mixcalc.api.server)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes (the service is stateless)")
    serve.add_argument("--formulary", help=f"formulary TOML file (default: ${FORMULARY_ENV} or the bundled one)")
    serve.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    serve.set_defaults(run=_serve)

    plan = commands.add_parser("plan", help="compute one mixture and print it")
    plan.add_argument("--sites", type=int)
    plan.add_argument(
        "-c",
        "--component",
        action="append",
        type=_component,
        metavar="AGENT,CONC,PER_SITE[,EPI]",
        help="e.g. lidocaine,1%%,0.5mL or triamcinolone-acetonide,40mg/mL,10mg or lidocaine,1%%,0.5mL,1:200000",
    )
    plan.add_argument("--weight")
    plan.add_argument("--height")
    plan.add_argument("--sex", choices=["female", "male"])
    plan.add_argument("--age")
    plan.add_argument("--condition", action="append")
    plan.add_argument("--syringe")
    plan.add_argument("--dosing-weight", choices=["total", "ideal", "adjusted", "lean", "lean_when_obese"])
    plan.add_argument("--request", help="a JSON request file, as for POST /v1/mixtures (- for stdin)")
    plan.add_argument("--formulary", help=f"formulary TOML file (default: ${FORMULARY_ENV} or the bundled one)")
    plan.add_argument("--json", action="store_true", help="print the API's JSON answer")
    plan.set_defaults(run=_plan)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
