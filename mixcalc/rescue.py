"""Rescue: the 20 % lipid emulsion plan for local anesthetic systemic toxicity (LAST).

CLINICAL.md section 15, ASRA 2020 checklist [S74]; the numbers are formulary data
(``[rescue]``).  Worked out for the dosing weight the answer states (rounded to 0.1 kg,
as the answer shows it): above the formulary's threshold (70 kg) a fixed bolus and a
fixed infusion volume; at or below it, a bolus per kg and an infusion rate per kg per
minute.  The upper limit (mL/kg over the first 30 minutes) is worked out for every
weight.  Without a weight there are no numbers, and the plan says why.

Rounding, stated once: volumes and rates to 0.1 mL (half to even); the upper limit
rounded down, so it is never overstated.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Literal

from . import display
from .formulary import LipidRescue

__all__ = ["RescuePlan", "lipid_rescue"]

_TENTH = Decimal("0.1")


@dataclass(frozen=True, slots=True, kw_only=True)
class RescuePlan:
    """Lipid emulsion for one patient; every amount is None when no weight is known."""

    product: str
    weight_kg: Decimal | None
    regimen: Literal["fixed", "per_kg"] | None
    bolus: Decimal | None  # mL
    bolus_minutes: tuple[Decimal, Decimal]
    infusion_rate: tuple[Decimal, Decimal] | None  # mL/min, lowest and highest
    infusion_volume: tuple[Decimal, Decimal] | None  # mL, the fixed regimen only
    infusion_minutes: tuple[Decimal, Decimal] | None  # the fixed regimen only
    upper_limit: Decimal | None  # mL over the first ``upper_limit_minutes``
    upper_limit_minutes: Decimal
    summary: str
    steps: tuple[str, ...]
    source: tuple[str, ...]


def _tenth(value: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    return value.quantize(_TENTH, rounding=rounding)


def _range(low: Decimal, high: Decimal, unit: str) -> str:
    if low == high:
        return display.amount(low, unit)
    return f"{display.number(low)}\u2013{display.amount(high, unit)}"


def _minutes(span: tuple[Decimal, Decimal]) -> str:
    return _range(span[0], span[1], "min")


def lipid_rescue(rule: LipidRescue, weight_kg: Decimal | None, weight_basis: str = "dosing weight") -> RescuePlan:
    """The lipid emulsion plan for a patient of ``weight_kg`` (the dosing weight), or the
    reason there is none."""

    def plan(**numbers: object) -> RescuePlan:
        return RescuePlan(
            product=rule.product,
            bolus_minutes=rule.bolus_minutes,
            upper_limit_minutes=rule.upper_limit_minutes,
            steps=rule.steps,
            source=rule.source,
            **numbers,  # type: ignore[arg-type]
        )

    if weight_kg is None:
        return plan(
            weight_kg=None,
            regimen=None,
            bolus=None,
            infusion_rate=None,
            infusion_volume=None,
            infusion_minutes=None,
            upper_limit=None,
            summary=(
                f"{rule.product}: no doses shown because no weight is given; the bolus, the infusion and "
                "the upper limit depend on the patient's weight. Enter the weight to see them."
            ),
        )
    weight = _tenth(weight_kg)
    upper = (weight * rule.upper_limit_per_kg).quantize(_TENTH, rounding=ROUND_FLOOR)
    limit = (
        f"at most {display.amount(upper, 'mL')} in the first {display.amount(rule.upper_limit_minutes, 'min')} "
        f"({display.number(rule.upper_limit_per_kg)} mL/kg)"
    )
    who = f"for {display.amount(weight, 'kg')} ({weight_basis})"
    if weight > rule.weight_above_kg:
        bolus = rule.fixed_bolus_ml
        low, high = rule.fixed_infusion_ml
        short, long = rule.fixed_infusion_minutes
        rate = (_tenth(low / long), _tenth(high / short))
        summary = (
            f"{rule.product} {who}: bolus {display.amount(bolus, 'mL')} over {_minutes(rule.bolus_minutes)}, "
            f"then infusion {_range(low, high, 'mL')} over {_minutes(rule.fixed_infusion_minutes)} "
            f"({_range(rate[0], rate[1], 'mL/min')}); {limit}."
        )
        return plan(
            weight_kg=weight,
            regimen="fixed",
            bolus=bolus,
            infusion_rate=rate,
            infusion_volume=(low, high),
            infusion_minutes=rule.fixed_infusion_minutes,
            upper_limit=upper,
            summary=summary,
        )
    bolus = _tenth(weight * rule.bolus_per_kg)
    per_minute = _tenth(weight * rule.infusion_per_kg_per_minute)
    summary = (
        f"{rule.product} {who}: bolus {display.amount(bolus, 'mL')} "
        f"({display.number(rule.bolus_per_kg)} mL/kg) over {_minutes(rule.bolus_minutes)}, "
        f"then infusion {display.amount(per_minute, 'mL/min')} "
        f"({display.number(rule.infusion_per_kg_per_minute)} mL/kg/min); {limit}."
    )
    return plan(
        weight_kg=weight,
        regimen="per_kg",
        bolus=bolus,
        infusion_rate=(per_minute, per_minute),
        infusion_volume=None,
        infusion_minutes=None,
        upper_limit=upper,
        summary=summary,
    )
