"""Dosing: the dosing weight and each agent's maximum dose for this patient.

Magnitudes here are Decimals in the core's units: body mass in kg, height in cm, age
in days, doses in mg.  Every result carries the text that explains how it was reached,
so the answer can show its working (CLINICAL.md sections 2 and 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from .errors import ImplausiblePatient
from .formulary import Agent, Condition, DoseRule, DosingWeightRule, Restriction
from .units import DAY, KG, MG, MG_PER_KG

__all__ = ["DosingWeight", "MaxDose", "PatientFacts", "dosing_weight", "max_dose"]

WeightBasis = Literal["total", "ideal", "adjusted", "lean"]

_BMI_RANGE = (Decimal(10), Decimal(100))
_DEVINE_BASE = {"male": Decimal(50), "female": Decimal("45.5")}  # kg [S56]
_DEVINE_PER_CM = Decimal("0.906")  # kg per cm above 152.4 cm [S56]
_DEVINE_FROM_CM = Decimal("152.4")
_ADJUSTED_SHARE = Decimal("0.4")  # [S56]
_OBESE_BMI = Decimal(30)
# Janmahasatian 2005 [S59]: 9270 x TBW / (A + B x BMI)
_JANMAHASATIAN = {"male": (Decimal(6680), Decimal(216)), "female": (Decimal(8780), Decimal(244))}
_WEIGHT_PLACES = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """What the core knows of the patient, in core units; ``None`` where unknown."""

    weight_kg: Decimal | None = None
    height_cm: Decimal | None = None
    sex: Literal["female", "male"] | None = None
    age_days: Decimal | None = None
    conditions: frozenset[Condition] = field(default_factory=frozenset)

    @property
    def bmi(self) -> Decimal | None:
        if self.weight_kg is None or self.height_cm is None:
            return None
        metres = self.height_cm / 100
        return self.weight_kg / (metres * metres)


@dataclass(frozen=True, slots=True)
class DosingWeight:
    kg: Decimal
    basis: WeightBasis
    reason: str
    #: True when the rule asked for more than could be known (height or sex missing).
    fell_back: bool = False

    @property
    def changed(self) -> bool:
        return self.basis != "total"


def _kg(value: Decimal) -> str:
    return f"{value.quantize(_WEIGHT_PLACES, ROUND_HALF_EVEN).normalize():f} kg"


def _ideal(patient: PatientFacts) -> Decimal | None:
    if patient.height_cm is None or patient.sex is None or patient.height_cm < _DEVINE_FROM_CM:
        return None
    return _DEVINE_BASE[patient.sex] + _DEVINE_PER_CM * (patient.height_cm - _DEVINE_FROM_CM)


def _lean(patient: PatientFacts, bmi: Decimal) -> Decimal:
    assert patient.weight_kg is not None
    assert patient.sex is not None
    a, b = _JANMAHASATIAN[patient.sex]
    return Decimal(9270) * patient.weight_kg / (a + b * bmi)


def dosing_weight(patient: PatientFacts, rule: DosingWeightRule) -> DosingWeight | None:
    """The weight to dose on under ``rule``, or ``None`` when no weight is known.

    Raises :class:`ImplausiblePatient` when weight and height give a BMI under 10 or
    over 100.  A weight other than total body weight is never larger than it.
    """
    total = patient.weight_kg
    if total is None:
        return None
    bmi = patient.bmi
    if bmi is not None and not _BMI_RANGE[0] <= bmi <= _BMI_RANGE[1]:
        raise ImplausiblePatient(
            "/patient",
            {"weight": _kg(total), "height": f"{patient.height_cm} cm"},
            f"weight {_kg(total)} and height {patient.height_cm:f} cm give a BMI of "
            f"{bmi.quantize(_WEIGHT_PLACES)}, outside {_BMI_RANGE[0]} to {_BMI_RANGE[1]}",
        )
    bmi_text = f"BMI {bmi.quantize(_WEIGHT_PLACES)}" if bmi is not None else "BMI unknown"

    def total_because(why: str, fell_back: bool = False) -> DosingWeight:
        return DosingWeight(total, "total", f"total body weight {_kg(total)}: {why}", fell_back)

    if rule == "total":
        return total_because("the dosing-weight rule is total body weight")
    if rule == "lean_when_obese":
        if bmi is None or patient.sex is None:
            return total_because("height and sex are needed to assess obesity (lean body weight when BMI >= 30)")
        if bmi < _OBESE_BMI:
            return total_because(f"{bmi_text} is under 30")
        lean = _lean(patient, bmi)
        return DosingWeight(
            min(lean, total), "lean", f"lean body weight (Janmahasatian) {_kg(lean)}: {bmi_text} is 30 or more"
        )
    if rule == "lean":
        if bmi is None or patient.sex is None:
            return total_because("lean body weight needs height and sex", fell_back=True)
        lean = _lean(patient, bmi)
        return DosingWeight(min(lean, total), "lean", f"lean body weight (Janmahasatian) {_kg(lean)}, {bmi_text}")
    ideal = _ideal(patient)
    if ideal is None:
        return total_because("ideal body weight (Devine) needs sex and a height of at least 152.4 cm", fell_back=True)
    if ideal >= total:
        return total_because(f"ideal body weight (Devine) {_kg(ideal)} is not below it")
    if rule == "ideal":
        return DosingWeight(ideal, "ideal", f"ideal body weight (Devine) {_kg(ideal)}")
    adjusted = ideal + _ADJUSTED_SHARE * (total - ideal)
    return DosingWeight(
        adjusted,
        "adjusted",
        f"adjusted body weight {_kg(adjusted)} = IBW {_kg(ideal)} + 0.4 × (TBW {_kg(total)} - IBW)",
    )


@dataclass(frozen=True, slots=True)
class MaxDose:
    #: ``None``: the agent has a maximum, but it cannot be stated (e.g. a child without a weight).
    mg: Decimal | None
    explanation: str
    sources: tuple[str, ...]
    #: Restrictions whose trigger could not be assessed (age or weight unknown) ...
    unassessed: tuple[str, ...] = ()
    #: ... and the maximum if they all applied (equal to ``mg`` when there are none).
    conservative_mg: Decimal | None = None

    @property
    def lowest_possible(self) -> Decimal | None:
        return self.mg if self.conservative_mg is None else self.conservative_mg


def _mg(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')).normalize():,f} mg"


def _applies(restriction: Restriction, patient: PatientFacts) -> bool | None:
    """Whether a restriction applies; ``None`` when a fact it needs is unknown."""
    verdicts: list[bool | None] = []
    if restriction.age_at_least is not None:
        age = patient.age_days
        verdicts.append(None if age is None else age >= restriction.age_at_least.in_(DAY))
    if restriction.age_below is not None:
        age = patient.age_days
        verdicts.append(None if age is None else age < restriction.age_below.in_(DAY))
    if restriction.weight_below is not None:
        weight = patient.weight_kg
        verdicts.append(None if weight is None else weight < restriction.weight_below.in_(KG))
    if restriction.condition is not None:
        verdicts.append(restriction.condition in patient.conditions)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def max_dose(
    agent: Agent, *, with_epinephrine: bool, weight: DosingWeight | None, patient: PatientFacts
) -> MaxDose | None:
    """The agent's maximum single dose for this patient, or ``None`` when it has none.

    min(mg/kg x dosing weight, cap), the with-epinephrine rule for epinephrine
    products, then the formulary's restrictions (a lower cap, or a factor).
    """
    if agent.max_dose is None:
        return None
    rule: DoseRule | None = agent.max_dose.epinephrine if with_epinephrine else agent.max_dose.plain
    if rule is None:  # the formulary guarantees a with-epinephrine rule for epinephrine products
        raise AssertionError(f"{agent.id} has no {'epinephrine' if with_epinephrine else 'plain'} rule")
    cap = rule.cap.value.in_(MG)
    sources = list(rule.cap.source)
    kind = "with epinephrine" if with_epinephrine else "plain"
    if rule.per_kg is not None and weight is not None:
        per_kg = rule.per_kg.value.in_(MG_PER_KG)
        by_weight = per_kg * weight.kg
        sources = list(dict.fromkeys([*rule.per_kg.source, *sources]))
        limit = min(by_weight, cap)
        explanation = f"{per_kg.normalize():f} mg/kg × {_kg(weight.kg)} = {_mg(by_weight)}" + (
            f", capped at {_mg(cap)}" if by_weight > cap else f" (cap {_mg(cap)} not reached)"
        )
        explanation += f" ({kind}; mg/kg: {rule.per_kg.basis.value}, cap: {rule.cap.basis.value})"
    elif rule.per_kg is not None:
        limit = cap
        explanation = f"cap {_mg(cap)} only: no weight given ({kind}; {rule.cap.basis.value})"
    else:
        limit = cap
        explanation = f"cap {_mg(cap)} ({kind}; {rule.cap.basis.value})"
    unassessed: list[Restriction] = []
    for restriction in agent.max_dose.restrictions:
        applies = _applies(restriction, patient)
        if applies is None:
            if restriction.when_unknown == "warn":
                unassessed.append(restriction)
            else:
                explanation += f"; not applied, age or weight not given: {restriction.reason}"
            continue
        if not applies:
            continue
        sources += [s for s in restriction.source if s not in sources]
        limit = _restricted(limit, restriction)
        explanation += f"; {_restriction_text(restriction, limit)} ({restriction.reason})"
    conservative = limit
    for restriction in unassessed:
        conservative = _restricted(conservative, restriction)
    return MaxDose(
        limit, explanation, tuple(sources), tuple(r.reason for r in unassessed), conservative if unassessed else None
    )


def _restricted(limit: Decimal, restriction: Restriction) -> Decimal:
    if restriction.factor is not None:
        return limit * restriction.factor
    assert restriction.cap is not None  # the formulary model guarantees cap or factor
    return min(limit, restriction.cap.in_(MG))


def _restriction_text(restriction: Restriction, limit: Decimal) -> str:
    if restriction.factor is not None:
        return f"× {restriction.factor.normalize():f} = {_mg(limit)}"
    return f"lowered to {_mg(limit)}"
