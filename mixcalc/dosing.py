"""Dosing: the dosing weight and each agent's maximum dose for this patient.

Magnitudes here are Decimals in the core's units: body mass in kg, height in cm, age
in days, doses in mg.  Every result carries the text that explains how it was reached,
so the answer can show its working (CLINICAL.md sections 2 and 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from typing import Literal

from .errors import ImplausiblePatient
from .formulary import Agent, Condition, DoseRule, DosingWeightRule, Restriction
from .growth import heaviest_plausible
from .schema import HEIGHT_CM

__all__ = [
    "DosingWeight",
    "LowestWeight",
    "PatientFacts",
    "PatientMaxDose",
    "dosing_weight",
    "lowest_weight",
    "max_dose",
]

WeightBasis = Literal["total", "ideal", "adjusted", "lean"]

_BMI_RANGE = (Decimal(10), Decimal(100))
_DEVINE_BASE = {"male": Decimal(50), "female": Decimal("45.5")}  # kg [S56]
_DEVINE_PER_CM = Decimal("0.906")  # kg per cm above 152.4 cm [S56]
_DEVINE_FROM_CM = Decimal("152.4")
_ADJUSTED_SHARE = Decimal("0.4")  # [S56]
_OBESE_BMI = Decimal(30)
#: The top of the obese range searched for the lowest lean body weight a patient of
#: unknown height could have: the highest BMI the service accepts (policy), so that no
#: height given later can lower the dosing weight below the one the warning assumed.
OBESE_BMI_BOUND = _BMI_RANGE[1]
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
    #: The formulary's upper modified z-score cut-off for weight-for-age (``[growth]``):
    #: with it, a weight can rule out an unknown age (70 kg is no infant's weight).
    growth_z_above: Decimal | None = None

    def could_be_younger_than(self, days: Decimal) -> bool:
        """Whether the patient may be younger than ``days``: the age says so, or, with no
        age, the weight is not above the heaviest plausible (CDC 2000) at that age."""
        if self.age_days is not None:
            return self.age_days < days
        if self.weight_kg is None or self.growth_z_above is None:
            return True
        return self.weight_kg <= heaviest_plausible(days, self.growth_z_above)

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


def _kg(value: Decimal) -> str:  # not cached: a dosing weight is the patient's own figure
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
    over 100.  A weight other than total body weight is never larger than it, and asking
    for more never makes it less safe: a rule that cannot be computed for this patient
    falls back to the lowest weight among the rules that can (``fell_back``).
    """
    total = patient.weight_kg
    if total is None:
        return None
    bmi = patient.bmi
    if bmi is not None and not _BMI_RANGE[0] <= bmi <= _BMI_RANGE[1]:
        raise ImplausiblePatient(
            "/patient",
            {"weight": _kg(total), "height": f"{patient.height_cm} cm"},
            # No value of the patient's in the text: answers never echo what is under /patient.
            f"the weight and the height give a BMI outside {_BMI_RANGE[0]} to {_BMI_RANGE[1]}: check both",
        )
    bmi_text = f"BMI {bmi.quantize(_WEIGHT_PLACES)}" if bmi is not None else "BMI unknown"

    def total_because(why: str) -> DosingWeight:
        return DosingWeight(total, "total", f"total body weight {_kg(total)}: {why}")

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
            return _fallback(patient, "lean body weight needs height and sex")
        lean = _lean(patient, bmi)
        return DosingWeight(min(lean, total), "lean", f"lean body weight (Janmahasatian) {_kg(lean)}, {bmi_text}")
    ideal = _ideal(patient)
    if ideal is None:
        return _fallback(patient, "ideal body weight (Devine) needs sex and a height of at least 152.4 cm")
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


def _fallback(patient: PatientFacts, why: str) -> DosingWeight:
    """The lowest weight among the rules that can be computed for this patient: lean body
    weight when height and sex are known, else total body weight."""
    total = patient.weight_kg
    assert total is not None
    bmi = patient.bmi
    if bmi is not None and patient.sex is not None:
        lean = _lean(patient, bmi)
        if lean < total:
            return DosingWeight(
                lean,
                "lean",
                f"lean body weight (Janmahasatian) {_kg(lean)}, the lowest that can be computed: {why}",
                fell_back=True,
            )
    return DosingWeight(
        total, "total", f"total body weight {_kg(total)}, the only one that can be computed: {why}", True
    )


@dataclass(frozen=True, slots=True)
class LowestWeight:
    """The lowest lean body weight this patient could have, had the missing facts been
    given (``missing``: ``"height"``, ``"sex"`` or ``"height and sex"``)."""

    kg: Decimal
    missing: str
    reason: str


def lowest_weight(patient: PatientFacts, rule: DosingWeightRule, used: DosingWeight | None) -> LowestWeight | None:
    """With height or sex missing, the lowest lean body weight this weight could have
    over the obese range (BMI 30 up to :data:`OBESE_BMI_BOUND` or the BMI this weight has
    at the shortest height a request may give, 30 cm, whichever is lower; or the known
    BMI; with the sex unknown, the sex giving the lower value), when it is below the
    weight used;
    ``None`` when nothing is missing, the rule is total body weight, or knowing the
    missing facts could not lower the weight."""
    if used is None or patient.weight_kg is None or rule == "total":
        return None
    missing = [name for name, value in (("height", patient.height_cm), ("sex", patient.sex)) if value is None]
    if not missing:
        return None
    bmi = patient.bmi
    if bmi is not None and bmi < _OBESE_BMI and rule == "lean_when_obese":
        return None  # not obese: the sex cannot change the weight
    if bmi is not None:
        at_bmi = bmi
    else:  # the highest BMI a valid request could give: at most 100, and no one under 30 cm
        shortest = HEIGHT_CM[0] / 100
        at_bmi = min(OBESE_BMI_BOUND, patient.weight_kg / (shortest * shortest))
        if at_bmi < _OBESE_BMI and rule == "lean_when_obese":
            return None  # too light to be obese at any valid height
    sexes: tuple[Literal["female", "male"], ...] = (patient.sex,) if patient.sex is not None else ("female", "male")
    lowest = min(
        Decimal(9270) * patient.weight_kg / (_JANMAHASATIAN[sex][0] + _JANMAHASATIAN[sex][1] * at_bmi) for sex in sexes
    )
    if lowest >= used.kg:
        return None
    where = f"BMI {at_bmi.quantize(_WEIGHT_PLACES)}" if bmi is not None else f"BMI up to {at_bmi.quantize(Decimal(1))}"
    return LowestWeight(lowest, " and ".join(missing), f"lean body weight could be as low as {_kg(lowest)} ({where})")


@dataclass(frozen=True, slots=True)
class PatientMaxDose:
    """An agent's maximum for this patient.  ``mg`` is ``None`` when the agent has a
    maximum that cannot be stated (a child with no weight): no number, no fraction, and
    ``explanation`` says why."""

    mg: Decimal | None
    explanation: str
    sources: tuple[str, ...]
    #: Restrictions whose trigger could not be assessed (age or weight unknown) ...
    unassessed: tuple[str, ...] = ()
    #: ... and the maximum if they all applied (equal to ``mg`` when there are none).
    conservative_mg: Decimal | None = None
    #: Restrictions applied on a presumption (no age, an infant's weight), for the answer.
    presumed: tuple[str, ...] = ()
    #: The sources behind a maximum that cannot be stated, or behind the presumptions.
    why: tuple[str, ...] = ()

    @property
    def lowest_possible(self) -> Decimal | None:
        return self.mg if self.conservative_mg is None else self.conservative_mg


_MG_PLACES = Decimal("0.01")


def _mg(value: Decimal) -> str:
    return f"{value.quantize(_MG_PLACES).normalize():,f} mg"


# The formulary's numbers in the max-dose explanation (caps, mg/kg): a small, fixed set,
# each formatted once.  Equal Decimals give the same text (both are normalised), so
# keying by value is safe.
@cache
def _cap_text(cap: Decimal) -> str:
    return _mg(cap)


@cache
def _per_kg_text(per_kg: Decimal) -> str:
    return f"{per_kg.normalize():f}"


def _applies(restriction: Restriction, patient: PatientFacts) -> bool | None:
    """Whether a restriction applies; ``None`` when a fact it needs is unknown."""
    verdicts: list[bool | None] = []
    at_least = restriction.age_at_least_days
    if at_least is not None:
        age = patient.age_days
        verdicts.append(None if age is None else age >= at_least)
    below = restriction.age_below_days
    if below is not None:
        if patient.age_days is not None:
            verdicts.append(patient.age_days < below)
        else:  # unknown, unless the weight rules the age out
            verdicts.append(None if patient.could_be_younger_than(below) else False)
    weight_below = restriction.weight_below_kg
    if weight_below is not None:
        weight = patient.weight_kg
        verdicts.append(None if weight is None else weight < weight_below)
    if restriction.condition is not None:
        verdicts.append(restriction.condition in patient.conditions)
    if False in verdicts:
        return False
    return None if None in verdicts else True


def _presumed(restriction: Restriction, patient: PatientFacts) -> bool:
    """No age given, and the weight presumes the age trigger met (an infant's weight)."""
    presumed = restriction.presumed
    return (
        presumed is not None
        and patient.age_days is None
        and patient.weight_kg is not None
        and patient.weight_kg < presumed.weight_below_kg
    )


def max_dose(
    agent: Agent, *, with_epinephrine: bool, weight: DosingWeight | None, patient: PatientFacts
) -> PatientMaxDose | None:
    """The agent's maximum single dose for this patient, or ``None`` when it has none.

    min(mg/kg x dosing weight, cap), the with-epinephrine rule for epinephrine
    products, then the formulary's restrictions (a lower cap, or a factor).  When a
    restriction says a weight is required and none is known (a child), the maximum has
    no number (``mg`` is ``None``).
    """
    if agent.max_dose is None:
        return None
    rule: DoseRule | None = agent.max_dose.epinephrine if with_epinephrine else agent.max_dose.plain
    if rule is None:  # the formulary guarantees a with-epinephrine rule for epinephrine products
        raise AssertionError(f"{agent.id} has no {'epinephrine' if with_epinephrine else 'plain'} rule")
    cap = rule.cap.mg
    sources = list(rule.cap.source)
    kind = "with epinephrine" if with_epinephrine else "plain"
    cap_text = _cap_text(cap)
    if rule.per_kg is not None and weight is None:
        for restriction in agent.max_dose.restrictions:
            if restriction.weight_required and _applies(restriction, patient):
                return PatientMaxDose(
                    None,
                    f"no maximum can be stated: {restriction.reason} (the adult cap of {cap_text} does not apply)",
                    tuple(dict.fromkeys([*restriction.source, *sources])),
                    why=restriction.source,
                )
    if rule.per_kg is not None and weight is not None:
        per_kg = rule.per_kg.mg_per_kg
        by_weight = per_kg * weight.kg
        sources = list(rule.weighted_sources)
        limit = min(by_weight, cap)
        explanation = f"{_per_kg_text(per_kg)} mg/kg × {_kg(weight.kg)} = {_mg(by_weight)}" + (
            f", capped at {cap_text}" if by_weight > cap else f" (cap {cap_text} not reached)"
        )
        # A Basis is a StrEnum: formatted, it is its value.
        explanation += f" ({kind}; mg/kg: {rule.per_kg.basis}, cap: {rule.cap.basis})"
    elif rule.per_kg is not None:
        limit = cap
        explanation = f"cap {cap_text} only: no weight given ({kind}; {rule.cap.basis})"
    else:
        limit = cap
        explanation = f"cap {cap_text} ({kind}; {rule.cap.basis})"
    unassessed: list[Restriction] = []
    presumed: list[str] = []
    why: list[str] = []
    for restriction in agent.max_dose.restrictions:
        if restriction.weight_required:
            continue  # handled above: it has no effect once a weight is known
        applies = _applies(restriction, patient)
        on_presumption = applies is None and _presumed(restriction, patient)
        if on_presumption:
            applies = True
            assert restriction.presumed is not None
            presumed.append(
                f"{restriction.reason}, presumed from a weight under {_kg(restriction.presumed.weight_below_kg)}"
            )
            sources += [s for s in restriction.presumed.source if s not in sources]
            why += [s for s in (*restriction.source, *restriction.presumed.source) if s not in why]
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
        if on_presumption:
            explanation += " (presumed: no age given, an infant's weight)"
    conservative = limit
    for restriction in unassessed:
        conservative = _restricted(conservative, restriction)
    return PatientMaxDose(
        limit,
        explanation,
        tuple(sources),
        tuple(r.reason for r in unassessed),
        conservative if unassessed else None,
        tuple(presumed),
        tuple(why),
    )


def _restricted(limit: Decimal, restriction: Restriction) -> Decimal:
    if restriction.factor is not None:
        return limit * restriction.factor
    assert restriction.cap_mg is not None  # the formulary model guarantees cap or factor
    return min(limit, restriction.cap_mg)


def _restriction_text(restriction: Restriction, limit: Decimal) -> str:
    if restriction.factor is not None:
        return f"× {restriction.factor.normalize():f} = {_mg(limit)}"
    return f"lowered to {_mg(limit)}"
