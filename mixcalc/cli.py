"""Command line: ``mixcalc serve`` runs the API, ``mixcalc plan`` computes one mixture,
``mixcalc agents`` and ``mixcalc conditions`` list what the formulary knows.

    mixcalc plan --sites 6 -c lidocaine,1%,0.5mL -c bupivacaine,0.25%,0.5mL \\
        -c triamcinolone-acetonide,40mg/mL,10mg --weight 70kg --height 175cm --sex female
    mixcalc plan --request mixture.json --json
    mixcalc serve --port 8000 --workers 2

``mixcalc plan`` prints its verdict first and exits with :data:`EXIT_OK` (0: no warning;
info notes do not count), :data:`EXIT_WARNINGS` (1), :data:`EXIT_USAGE` (2: the request
could not be read or computed) or :data:`EXIT_CRITICAL` (3: a critical warning).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from . import display
from .errors import MixcalcError, PlanError
from .formulary import FORMULARY_ENV, Condition, Formulary, load_formulary
from .plan import plan_mixture
from .schema import ComponentResult, Draw, MixtureResponse, Quantity, SyringeResult
from .units import MG_PER_ML, Dimension, QuantityError, parse_quantity

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_CRITICAL", "EXIT_OK", "EXIT_USAGE", "EXIT_WARNINGS", "main", "render"]

EXIT_OK = 0
EXIT_WARNINGS = 1
EXIT_USAGE = 2
EXIT_CRITICAL = 3
EXIT_BROKEN_PIPE = 141  # the reader closed standard output early: what a shell reports for SIGPIPE


_PERCENT_CLASSES = frozenset({"local-anesthetic", "diluent"})
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
#: What people type after an age, and the API's unit (UCUM) for it.
_AGE_UNITS = {
    "": "a",
    "a": "a",
    "y": "a",
    "yr": "a",
    "yrs": "a",
    "year": "a",
    "years": "a",
    "mo": "mo",
    "month": "mo",
    "months": "mo",
    "wk": "wk",
    "week": "wk",
    "weeks": "wk",
    "d": "d",
    "day": "d",
    "days": "d",
}


def _component(text: str) -> dict[str, Any]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) not in (3, 4) or not all(parts):
        raise argparse.ArgumentTypeError(
            f"{text!r}: write AGENT,CONCENTRATION,AMOUNT_PER_SITE[,EPINEPHRINE], e.g. lidocaine,1%,0.5mL"
        )
    agent, concentration, amount = parts[:3]
    component: dict[str, Any] = {"agent": agent, "concentration": concentration}
    # The unit says which: a volume per site or a dose per site.  Zero passes here so that
    # the API names the right field ("volume_per_site: must be greater than zero").
    reasons = []
    for field, dimension in (("volume_per_site", Dimension.VOLUME), ("dose_per_site", Dimension.MASS)):
        try:
            parse_quantity(amount, expect=dimension, allow_zero=True)
        except QuantityError as error:
            reasons.append(error.reason)
            continue
        component[field] = amount
        break
    else:  # say what is wrong with it, not that a volume is not a mass
        reason = next((r for r in reasons if "; expected a " not in r), reasons[0])
        raise argparse.ArgumentTypeError(
            f"{text!r}: the amount per site {amount!r} is neither a volume (e.g. 0.5mL) nor a dose "
            f"(e.g. 10mg): {reason}"
        )
    if len(parts) == 4:
        component["epinephrine"] = parts[3]
    return component


def _age(text: str) -> str:
    """An age as people type it (``45``, ``45 y``, ``45 years``, ``6 mo``) in the API's
    grammar (``45 a``, ``6 mo``); a bare number is years."""
    found = _AGE.match(text)
    unit = None if found is None else _AGE_UNITS.get(found.group(2).lower())
    if found is None or unit is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: write the age as a number of years (45, 45 y, 45 years) or months, weeks or days "
            "(6 mo, 3 wk, 10 d)"
        )
    return f"{found.group(1)} {unit}"


class UsageError(MixcalcError):
    """Raised when the command line does not describe a request; ``problem`` says what is missing."""

    def __init__(self, problem: str) -> None:
        super().__init__()
        self.problem = problem

    def __str__(self) -> str:
        return self.problem


def _once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object of a request file, each key named once (as the API's body guard asks)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        twice = next(key for n, (key, _) in enumerate(pairs) if key in dict(pairs[:n]))
        raise UsageError(f"the request names {twice!r} twice in one object; give each key once")
    return found


def _request(args: argparse.Namespace) -> dict[str, Any]:
    if args.request:
        handle = sys.stdin if args.request == "-" else open(args.request, encoding="utf-8")  # noqa: SIM115
        with handle:
            loaded: dict[str, Any] = json.load(handle, object_pairs_hook=_once)
            return loaded
    if not args.sites or not args.component:
        raise UsageError("give --sites and at least one --component, or --request FILE")
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


# --- the report -----------------------------------------------------------------------------


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def _q(q: Quantity) -> str:
    return display.amount(_dec(q.value), q.unit)


def _product(component: ComponentResult) -> str:
    text = display.strength(_dec(component.concentration.value), percent=component.agent_class in _PERCENT_CLASSES)
    if component.epinephrine is not None:
        text += f" with EPINEPHrine {display.epinephrine_ratio(_dec(component.epinephrine.value) / 1000)}"
    return f"{component.name} {text}"


def _plural(count: int, one: str) -> str:
    return f"{count} {one}{'' if count == 1 else 's'}"


def named(message: str, answer: MixtureResponse) -> str:
    """``message`` with the answer's agent ids replaced by the names people read (the
    formulary's display names, Tall Man where ISMP asks)."""
    for component in sorted(answer.components, key=lambda c: -len(c.agent)):
        if component.agent != component.name:
            message = re.sub(rf"(?<![\w-]){re.escape(component.agent)}(?![\w-])", component.name, message)
    return message


def exit_status(answer: MixtureResponse) -> int:
    """3 with a critical warning, 1 with a warning, else 0 (info notes do not count)."""
    severities = {w.severity for w in answer.warnings}
    if "critical" in severities:
        return EXIT_CRITICAL
    return EXIT_WARNINGS if "warning" in severities else EXIT_OK


def verdict(answer: MixtureResponse) -> list[str]:
    """The verdict line, and under a STOP each critical warning."""
    critical = [w for w in answer.warnings if w.severity == "critical"]
    warnings = [w for w in answer.warnings if w.severity == "warning"]
    if critical:
        lines = [f"STOP: {_plural(len(critical), 'critical warning')}. Do not prepare this mixture as planned."]
        lines += [f"  ! {named(w.message, answer)}" for w in critical]
        return lines
    if warnings:
        return [f"CHECK: {_plural(len(warnings), 'warning')} to weigh before preparing (no critical warning)."]
    return ["OK: no warning; within the formulary's limits for this patient."]


def _draw_line(step: int, draw: Draw, components: dict[str, ComponentResult], syringe: int) -> str:
    component = components[draw.agent]
    dose = "" if component.agent_class == "diluent" else f"  ({_q(draw.dose)})"
    measured = getattr(draw, "measured_in", None)  # a draw measured in a separate, finer syringe
    if measured is not None:
        where = (
            f" in a {_q(measured.capacity)} syringe (read in {_q(measured.graduation)} steps), "
            f"then add it to syringe {syringe}"
        )
        volume = display.volume_read(_dec(draw.volume.value), _dec(measured.graduation.value))
        return f"  {step}. {_product(component)}: measure {volume}{where}{dose}"
    return f"  {step}. {_product(component)}: draw {_q(draw.volume)}{dose}"


def _runs(syringes: Sequence[SyringeResult]) -> list[tuple[SyringeResult, int]]:
    """Consecutive identical syringes as (syringe, how many)."""
    runs: list[tuple[SyringeResult, int]] = []
    for syringe in syringes:
        if runs and dataclasses.replace(runs[-1][0], label="") == dataclasses.replace(syringe, label=""):
            runs[-1] = (syringe, runs[-1][1] + 1)
        else:
            runs.append((syringe, 1))
    return runs


def _syringe(
    index: int, syringe: SyringeResult, total: int, components: dict[str, ComponentResult], alike: int = 1
) -> list[str]:
    graduation = _dec(syringe.graduation.value)
    which = f"Syringe {index} of {total}" if alike == 1 else f"Syringes {index} to {index + alike - 1} of {total}, each"
    lines = [
        f"{which}: {_q(syringe.capacity)} syringe read in {_q(syringe.graduation)} steps, "
        f"{_plural(syringe.sites, 'site')}"
    ]
    lines += [_draw_line(step, draw, components, index) for step, draw in enumerate(syringe.draws, start=1)]
    per_site = display.volume_read(_dec(syringe.volume_per_site.value), graduation)
    lines.append(f"     fill {_q(syringe.fill_volume)}; inject {per_site} per site")
    return lines


def _share(component: ComponentResult) -> tuple[str, str]:
    """(max, of max) cells: a weight-based agent without a weight says so, never a number."""
    if component.fraction_of_max is None or component.max_dose is None:
        return ("weight needed", "-") if component.agent_class != "diluent" else ("-", "-")
    return _q(component.max_dose), display.percent(_dec(component.fraction_of_max))


def render(answer: MixtureResponse) -> str:
    """A plain-text report of an answer: the verdict, what to draw into each syringe, the
    doses against the maximum, the warnings and notes, the lipid emulsion rescue."""
    components = {c.agent: c for c in answer.components}
    out = verdict(answer)
    if answer.max_volume_per_site is not None:
        out.append(
            f"Largest volume per site that breaks no limit: {_q(answer.max_volume_per_site)} "
            "(every agent scaled alike)."
        )
    out.append("")
    index = 1
    for syringe, alike in _runs(answer.syringes):
        out += _syringe(index, syringe, len(answer.syringes), components, alike)
        index += alike
    out.append("")
    per_site = display.volume_read(_dec(answer.volume_per_site.value), _dec(answer.syringes[0].graduation.value))
    out.append(f"{_plural(answer.sites, 'site')}, {per_site} per site, {_q(answer.total_volume)} in all")
    if answer.dosing_weight is not None:
        weight = answer.dosing_weight
        out.append(f"Dosing weight: {display.amount(_dec(weight.value), 'kg')} ({weight.reason})")
    else:
        out.append("Dosing weight: none (no weight given)")
    out.append(f"  {'agent':26} {'per site':>10} {'total':>10} {'max':>13} {'of max':>7} {'max volume':>11}")
    for c in answer.components:
        maximum, share = _share(c)
        volume = "-" if c.max_volume is None else _q(c.max_volume)
        out.append(
            f"  {c.name:26} {_q(c.dose_per_site):>10} {_q(c.total_dose):>10} {maximum:>13} {share:>7} {volume:>11}"
        )
    for group in answer.groups:
        share = "weight needed" if group.fraction is None else f"{display.percent(_dec(group.fraction))} of maximum"
        out.append(f"Combined {group.name.lower()}: {share}")
    if answer.epinephrine_total is not None:
        out.append(f"EPINEPHrine in all: {_q(answer.epinephrine_total)}")
    warnings = [w for w in answer.warnings if w.severity == "warning"]
    notes = [w for w in answer.warnings if w.severity == "info"]
    if warnings:
        out.append("")
        out.append("Warnings:")
        out += [f"  - {named(w.message, answer)}" for w in warnings]
    if notes:
        out.append("")
        out.append(f"Notes ({len(notes)}):")
        out += [f"  - {named(w.message, answer)}" for w in notes]
    if answer.rescue is not None:
        out.append("")
        out.append(f"If local anesthetic toxicity (LAST): {answer.rescue.summary}")
    out.append("")
    out.append("Aftercare: " + " ".join(answer.aftercare))
    out.append(f"Formulary: {answer.formulary.name} {answer.formulary.version}")
    return "\n".join(out)


def _plan(args: argparse.Namespace) -> int:
    try:
        formulary = load_formulary(args.formulary)
        answer = plan_mixture(_request(args), formulary)
    except UsageError as exc:
        print(f"mixcalc plan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            where = "/" + "/".join(str(p) for p in error["loc"])
            print(f"mixcalc plan: {where}: {error['msg'].removeprefix('Value error, ')}", file=sys.stderr)
        return EXIT_USAGE
    except PlanError as exc:
        print(f"mixcalc plan: {exc.pointer}: {exc.detail}", file=sys.stderr)
        return EXIT_USAGE
    except MixcalcError as exc:
        print(f"mixcalc plan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, json.JSONDecodeError) as exc:
        print(f"mixcalc plan: cannot read the request: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(answer.model_dump_json(indent=2) if args.json else render(answer))
    return exit_status(answer)


# --- listings ---------------------------------------------------------------------------------


def _formulary_or_exit(path: str | None, command: str) -> Formulary | None:
    try:
        return load_formulary(path)
    except MixcalcError as exc:
        print(f"mixcalc {command}: {exc}", file=sys.stderr)
        return None


def agents_text(formulary: Formulary) -> str:
    """One line per agent: id (what --component takes), name, class and stock strengths."""
    lines = []
    for agent in formulary.agents:
        percent = agent.agent_class.value in _PERCENT_CLASSES
        strengths = ", ".join(display.strength(s.in_(MG_PER_ML), percent=percent) for s in agent.strengths)
        lines.append(f"{agent.id:32} {agent.display_name} ({agent.agent_class.value}): {strengths}")
    return "\n".join(lines)


#: Words for the condition ids (the page's words.js says the same).
CONDITION_WORDS = {
    "infection-at-site": "infection at the injection site (e.g. cellulitis)",
    "systemic-infection": "systemic infection",
    "systemic-fungal-infection": "systemic fungal infection",
    "amide-allergy": "allergy to amide local anesthetics",
    "ester-allergy": "allergy to ester local anesthetics",
    "paraben-allergy": "paraben allergy",
    "sulfite-allergy": "sulfite allergy",
    "anticoagulation": "takes an anticoagulant",
    "bleeding-disorder": "bleeding disorder",
    "pregnancy": "pregnancy",
    "heart-failure": "severe heart failure",
    "liver-failure": "advanced liver failure",
    "cardiovascular-disease": "cardiovascular disease",
    "renal-impairment": "renal impairment",
    "advanced-renal-impairment": "advanced renal impairment or risk of renal failure",
    "labor": "labor and delivery",
    "peptic-ulcer": "peptic ulcer or GI bleeding (active or past)",
    "nsaid-allergy": "allergy to aspirin or another NSAID",
    "nsaid-use": "takes aspirin or another NSAID",
    "maoi-or-tca-use": "takes an MAO inhibitor or a tricyclic antidepressant",
}


def conditions_text(formulary: Formulary) -> str:
    """One line per condition id (what --condition takes), in words, with the severity of
    the rules it triggers in this formulary."""
    lines = []
    for condition in Condition:
        rules = sorted({rule.severity for rule in formulary.conditions if rule.condition is condition})
        said = f" [{', '.join(rules)}]" if rules else ""
        lines.append(f"{condition.value:28} {CONDITION_WORDS.get(condition.value, condition.value)}{said}")
    return "\n".join(lines)


def _agents(args: argparse.Namespace) -> int:
    formulary = _formulary_or_exit(args.formulary, "agents")
    if formulary is None:
        return EXIT_USAGE
    print(agents_text(formulary))
    return EXIT_OK


def _conditions(args: argparse.Namespace) -> int:
    formulary = _formulary_or_exit(args.formulary, "conditions")
    if formulary is None:
        return EXIT_USAGE
    print(conditions_text(formulary))
    return EXIT_OK


def _plan_epilog(formulary: Formulary | None) -> str:
    text = """examples:
  mixcalc plan --sites 6 -c lidocaine,1%,0.5mL -c bupivacaine,0.25%,0.5mL --weight 70kg
  mixcalc plan --sites 4 -c lidocaine,1%,1mL -c triamcinolone-acetonide,40mg/mL,10mg \\
      --weight 154lb --age 45 --condition anticoagulation
  mixcalc plan --sites 2 -c lidocaine,1%,1mL,1:200000 --age "6 mo" --weight 7kg
  mixcalc plan --request mixture.json --json

exit status: 0 no warning (info notes do not count), 1 warnings to weigh,
2 usage error (nothing computed), 3 critical warning (STOP)
"""
    if formulary is None:
        return text
    return (
        text
        + "\nagents (--component AGENT,...):\n  "
        + ", ".join(a.id for a in formulary.agents)
        + "\n\nconditions (--condition, repeatable):\n  "
        + ", ".join(c.value for c in Condition)
        + "\n"
    )


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
    top = argparse.ArgumentParser(
        prog="mixcalc",
        description="Trigger point injection mixture calculator",
        epilog="exit status of plan: 0 ok, 1 warnings, 2 usage error, 3 critical (see mixcalc plan --help)",
    )
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

    try:
        formulary: Formulary | None = load_formulary()
    except MixcalcError:
        formulary = None  # the listings then say nothing; plan itself names the fault
    plan = commands.add_parser(
        "plan",
        help="compute one mixture and print it, verdict first",
        description="Compute one TPI mixture: the verdict first, then what to draw into each syringe, "
        "the doses against the maximum for this patient, the warnings and the lipid emulsion rescue.",
        epilog=_plan_epilog(formulary),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    plan.add_argument("--sites", type=int, help="number of trigger point sites (1 to 50)")
    plan.add_argument(
        "-c",
        "--component",
        action="append",
        type=_component,
        metavar="AGENT,CONC,PER_SITE[,EPI]",
        help="e.g. lidocaine,1%%,0.5mL or triamcinolone-acetonide,40mg/mL,10mg or lidocaine,1%%,0.5mL,1:200000",
    )
    plan.add_argument("--weight", help="e.g. 70kg or 154lb")
    plan.add_argument("--height", help="e.g. 175cm or 69in")
    plan.add_argument("--sex", choices=["female", "male"])
    plan.add_argument("--age", type=_age, help="45, 45 y, 45 years (years) or 6 mo, 3 wk, 10 d")
    plan.add_argument("--condition", action="append", help="repeatable; see the list below")
    plan.add_argument("--syringe", help="syringe capacity, e.g. 10mL (default: the smallest that holds the mixture)")
    plan.add_argument("--dosing-weight", choices=["total", "ideal", "adjusted", "lean", "lean_when_obese"])
    plan.add_argument("--request", help="a JSON request file, as for POST /v1/mixtures (- for stdin)")
    plan.add_argument("--formulary", help=f"formulary TOML file (default: ${FORMULARY_ENV} or the bundled one)")
    plan.add_argument("--json", action="store_true", help="print the API's JSON answer")
    plan.set_defaults(run=_plan)

    for name, run, what in (
        ("agents", _agents, "list the formulary's agents: id, name, class, stock strengths"),
        ("conditions", _conditions, "list the patient conditions --condition takes"),
    ):
        listing = commands.add_parser(name, help=what, description=what)
        listing.add_argument("--formulary", help=f"formulary TOML file (default: ${FORMULARY_ENV} or the bundled one)")
        listing.set_defaults(run=run)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``mixcalc plan ... | head``): nothing more to say, and the
        # interpreter must not fail flushing at exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
