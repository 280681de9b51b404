"""Step 3 of 3, answer: a :class:`~mixcalc.plan.Plan` → the JSON contract.

Every label, citation and number of :class:`~mixcalc.schema.MixtureResponse` is written
here, from the plan's exact values; each number is rounded once, by the rules of
:mod:`mixcalc.display` (amounts 4 places half to even, limits rounded down, fractions
rounded up, the dosing weight to 0.1 kg).  Nothing here computes a dose or a load.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING

import orjson

from . import display
from .checks import Line
from .formulary import AgentClass, Formulary
from .mixture import FilledSyringe, SyringePlan
from .rescue import RescuePlan
from .resolve import PERCENT_CLASSES
from .schema import MixtureResponse

if TYPE_CHECKING:
    from .plan import Plan

__all__ = ["AFTERCARE", "answer", "answer_json"]

#: Advice for the patient after TPI (CLINICAL.md section 10).
AFTERCARE = (
    "Rest the treated area for one or two days.",
    "Stretch the treated muscles through their full range of motion.",
    "Report redness, pain or swelling at an injection site.",
)


# The answer is built as plain data (dicts, lists, floats, strings) in the contract's key
# order: the order of the fields of MixtureResponse and its parts in mixcalc.schema, every
# field present (null when absent).  answer_json serialises it once with orjson, whose
# floats are written exactly as pydantic writes them (shortest repr that round-trips:
# 0.1, 0.00001, 1e+16, 5.0); answer() validates the same data into the model.  A test
# (tests/test_answer_json.py) checks both give the same bytes.

Data = dict[str, object]


# The floats each rounding rule of mixcalc.display has written, per exact value: looked up
# here first (one dict look-up for each of the ~50 numbers of an answer, mostly found);
# a value not yet kept goes through the rule itself, which stays in mixcalc.display.
_HALF_EVEN, _DOWN, _UP = display.HALF_EVEN.kept, display.DOWN.kept, display.UP.kept


def _q(value: Decimal, unit: str) -> Data:
    """A ``{value, unit}`` amount: 4 places, half to even (:func:`display.rounded`)."""
    shown = _HALF_EVEN.get(value)
    return {"value": display.HALF_EVEN(value) if shown is None else shown, "unit": unit}


def _floor(value: Decimal, unit: str) -> Data:
    """A limit as a ``{value, unit}`` amount: 4 places, rounded down (never overstated)."""
    shown = _DOWN.get(value)
    return {"value": display.DOWN(value) if shown is None else shown, "unit": unit}


def _fraction(value: Decimal | None) -> float | None:
    """A fraction of a maximum: 4 places, rounded up (:func:`display.fraction`)."""
    if value is None:
        return None
    shown = _UP.get(value)
    return display.UP(value) if shown is None else shown


def answer(plan: Plan) -> MixtureResponse:
    """The answer to the request ``plan`` was computed for (the data of
    :func:`answer_json`, validated into the contract's model)."""
    return MixtureResponse.model_validate(_answer(plan))


def answer_json(plan: Plan) -> bytes:
    """The answer as the JSON bytes ``POST /v1/mixtures`` sends: exactly
    ``answer(plan).model_dump_json()``, encoded."""
    return orjson.dumps(_answer(plan))


def _answer(plan: Plan) -> Data:
    a, formulary = plan.assessment, plan.formulary
    sites = a.sites
    lines = a.lines
    total_volume = sum((line.total_volume for line in lines), Decimal(0))
    by_group = {load.group.id: load.fraction for load in a.groups}
    filled = a.filled
    weight = a.weight
    return {
        "sites": sites,
        "volume_per_site": _q(total_volume / sites, "mL"),
        "total_volume": _q(total_volume, "mL"),
        "dosing_weight": None
        if weight is None
        else {"value": display.weight(weight.kg), "basis": weight.basis, "reason": weight.reason, "unit": "kg"},
        "components": [_component(formulary, line, total_volume, sites) for line in lines],
        "local_anesthetic_fraction": _fraction(by_group.get("local-anesthetics")),
        "steroid_fraction": _fraction(by_group.get("corticosteroids")),
        "epinephrine_total": None if a.epinephrine_total is None else _q(a.epinephrine_total * 1000, "ug"),
        "groups": [
            {
                "id": load.group.id,
                "name": load.group.name,
                "rule": load.rule,
                "fraction": _fraction(load.fraction),
                "agents": load.agents,
            }
            for load in a.groups
        ],
        "syringes": [
            _syringe(plan.syringes, syringe, lines, number, len(filled))
            for number, syringe in enumerate(filled, start=1)
        ],
        "warnings": [
            {
                "code": f.code,
                "severity": f.severity,
                "agents": f.agents,
                "message": f.message,
                "source": [formulary.cite((s,)) for s in f.source],
            }
            for f in plan.findings
        ],
        "aftercare": AFTERCARE,
        "formulary": {"name": formulary.name, "version": formulary.version},
        "max_volume_per_site": None if plan.max_volume_per_site is None else _floor(plan.max_volume_per_site, "mL"),
        "rescue": None if plan.rescue is None else _rescue(formulary, plan.rescue),
    }


def _component(formulary: Formulary, line: Line, total_volume: Decimal, sites: int) -> Data:
    agent = line.agent
    limit = line.max_dose
    stated = None if limit is None else limit.mg
    return {
        "agent": agent.id,
        "name": agent.display_name,
        "agent_class": agent.agent_class.value,
        "concentration": _q(line.concentration, "mg/mL"),
        "epinephrine": None if line.epinephrine is None else _q(line.epinephrine * 1000, "ug/mL"),
        "final_concentration": _q(line.total_dose / total_volume, "mg/mL"),
        "volume_per_site": _q(line.total_volume / sites, "mL"),
        "dose_per_site": _q(line.total_dose / sites, "mg"),
        "total_volume": _q(line.total_volume, "mL"),
        "total_dose": _q(line.total_dose, "mg"),
        "prior_dose": _q(line.prior_dose, "mg") if line.prior_dose else None,
        "max_dose": None if stated is None else _floor(stated, "mg"),
        "max_dose_basis": None if limit is None else f"{limit.explanation}; source: {formulary.cite(limit.sources)}",
        "max_dose_source": () if limit is None else limit.sources,
        "fraction_of_max": _fraction(line.fraction),
        "group": agent.group,
        "max_volume": None
        if stated is None
        else _floor(max(stated - line.prior_dose, Decimal(0)) / line.concentration, "mL"),
    }


def _syringe(plan: SyringePlan, filled: FilledSyringe, lines: Sequence[Line], number: int, of: int) -> Data:
    """Syringe ``number`` (from 1) of ``of``, with its label."""
    syringe = plan.syringe
    fill, count = filled.fill, filled.sites
    parts, steps, draws = [], [], []
    for line, draw in zip(lines, filled.draws, strict=True):
        agent = line.agent
        volume = draw.volume
        dose = volume * line.concentration
        product = _product(agent.display_name, line.concentration, agent.agent_class, line.epinephrine)
        shown_dose = "" if agent.agent_class is AgentClass.DILUENT else f" ({display.amount(dose, 'mg')})"
        where = ""
        separate = draw.measured_in
        if separate is not None:
            capacity = display.amount(separate.capacity_ml, "mL")
            where = f" measured in a {capacity} syringe"
            steps.append(
                f"Draw {agent.display_name} {display.amount(volume, 'mL')} in a {capacity} syringe "
                f"(graduated in {display.amount(separate.graduation_ml, 'mL')}) "
                f"and add it to syringe {number}."
            )
        parts.append(f"{product} {display.amount(volume, 'mL')}{shown_dose}{where}")
        draws.append(
            {
                "agent": agent.id,
                "volume": _q(volume, "mL"),
                "dose": _q(dose, "mg"),
                "measured_in": None
                if separate is None
                else {
                    "capacity": _q(separate.capacity_ml, "mL"),
                    "graduation": _q(separate.graduation_ml, "mL"),
                },
            }
        )
    label = (
        f"Syringe {number} of {of} ({display.amount(syringe.capacity_ml, 'mL')}): "
        + " + ".join(parts)
        + f". Total {display.amount(fill, 'mL')} for {count} site{'s' if count != 1 else ''}, "
        f"{display.amount(fill / count, 'mL')} per site." + "".join(f" {step}" for step in steps)
    )
    return {
        "capacity": _q(syringe.capacity_ml, "mL"),
        "graduation": _q(syringe.graduation_ml, "mL"),
        "dead_space": _q(syringe.dead_space_ml, "mL"),
        "sites": count,
        "fill_volume": _q(fill, "mL"),
        "volume_per_site": _q(fill / count, "mL"),
        "draws": draws,
        "label": label,
    }


@lru_cache(maxsize=1024)  # pure; a formulary's products and a ward's strengths are few
def _product(name: str, concentration: Decimal, agent_class: AgentClass, epinephrine: Decimal | None) -> str:
    """A product as a label names it: "LIDOCAINE 1 % (10 mg/mL) with EPINEPHrine 1:200,000"."""
    strength = display.strength(concentration, percent=agent_class in PERCENT_CLASSES)
    if epinephrine:
        return f"{name} {strength} with EPINEPHrine {display.epinephrine_ratio(epinephrine)}"
    return f"{name} {strength}"


def _rescue(formulary: Formulary, plan: RescuePlan) -> Data:
    def amount(value: Decimal | None, unit: str = "mL") -> Data | None:
        return None if value is None else _q(value, unit)

    def pair(values: tuple[Decimal, Decimal] | None, unit: str) -> list[Data] | None:
        return None if values is None else [_q(values[0], unit), _q(values[1], unit)]

    return {
        "product": plan.product,
        "weight": amount(plan.weight_kg, "kg"),
        "regimen": plan.regimen,
        "bolus": amount(plan.bolus),
        "bolus_minutes": [float(plan.bolus_minutes[0]), float(plan.bolus_minutes[1])],
        "infusion_rate": pair(plan.infusion_rate, "mL/min"),
        "infusion_volume": pair(plan.infusion_volume, "mL"),
        "infusion_minutes": None
        if plan.infusion_minutes is None
        else [float(plan.infusion_minutes[0]), float(plan.infusion_minutes[1])],
        "upper_limit": amount(plan.upper_limit),
        "upper_limit_minutes": float(plan.upper_limit_minutes),
        "summary": plan.summary,
        "steps": plan.steps,
        "source": [formulary.cite((s,)) for s in plan.source],
    }
