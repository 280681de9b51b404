"""The suggestion on an over-limit card: the same order at the largest volume per site,
in 0.1 mL steps with every component scaled alike, whose own plan exceeds no limit.

The volume is the core's own search (the answer's ``max_volume_per_site``,
:mod:`mixcalc.headroom`), computed with everything the order's plan knows (the chart's
conditions and doses, the session's other orders); the order rewritten at that volume is
checked again through :func:`~mixcalc.ehr.check.check_order`, never extrapolated, and
stepped down by 0.1 mL only if the EHR's own representation of it does not pass.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from pydantic import ValidationError

from .. import display
from ..errors import PlanError
from ..formulary import Formulary
from ..schema import MixtureRequest
from ..units import MG, ML, Amount
from .chart import ChartReading
from .check import OrderCheck, check_order
from .codes import CodeTables
from .exact import computed
from .jsonsafe import bounded_decimal, json_array, json_object, json_str
from .orders import read_order
from .write import fhir_decimal, medication_request, quantity

__all__ = ["STEP", "largest_safe_volume", "with_volume_per_site"]

STEP = Decimal("0.1")  # suggested volumes per site are multiples of this (mL)
_MAX_TRIES = 60


def with_volume_per_site(resource: Mapping[str, Any], factor: Decimal, volume: Decimal) -> dict[str, Any]:
    """A copy of an EHR order with every dose scaled by ``factor`` (the same
    concentrations), so that ``volume`` mL go into each site: dose, maximum per
    administration, dispensed quantity and instruction text updated."""
    updated = copy.deepcopy(dict(resource))
    dosage_list = json_array(updated.get("dosageInstruction"))
    if not dosage_list or not isinstance(dosage_list[0], dict):
        return updated
    dosage = dosage_list[0]

    def scale(holder: dict[str, Any], key: str) -> None:
        old = json_object(holder.get(key))
        value = bounded_decimal(old.get("value"))
        if value is not None:
            new = fhir_decimal(value * factor, floor=True)
            code = json_str(old.get("code"), 20) or json_str(old.get("unit"), 20) or "mL"
            holder[key] = {**quantity(new, code), "unit": old.get("unit", code)}

    for rate in json_array(dosage.get("doseAndRate")):
        if isinstance(rate, dict) and "doseQuantity" in rate:
            scale(rate, "doseQuantity")
            break
    if "doseQuantity" in dosage:  # DSTU2
        scale(dosage, "doseQuantity")
    if "maxDosePerAdministration" in dosage:
        scale(dosage, "maxDosePerAdministration")
    sites = json_object(json_object(dosage.get("timing")).get("repeat")).get("count")
    count = sites if isinstance(sites, int) and not isinstance(sites, bool) and 0 < sites <= 50 else None
    if count is not None:
        dosage["text"] = (
            f"Inject {display.amount(volume, 'mL')} of the mixture into each of {count} trigger point "
            f"site{'s' if count != 1 else ''} ({display.amount(volume * count, 'mL')} in all)."
        )
    dispense = updated.get("dispenseRequest")
    if isinstance(dispense, dict) and "quantity" in dispense:
        scale(dispense, "quantity")
    return updated


def _scaled_mixcalc(
    resource: Mapping[str, Any], check: OrderCheck, factor: Decimal, formulary: Formulary
) -> dict[str, Any]:
    assert check.request is not None
    components = []
    for component in check.request.components:
        scaled = component.model_dump(exclude_none=True)
        for key, code, unit in (("volume_per_site", "mL", ML), ("dose_per_site", "mg", MG)):
            amount = getattr(component, key)
            if amount is not None:
                value = fhir_decimal(amount.in_(unit) * factor, floor=True)
                scaled[key] = Amount.of(value, code)
        components.append(scaled)
    data = check.request.model_dump(exclude_none=True)
    data.pop("patient", None)
    data.pop("prior_doses", None)
    request = MixtureRequest.model_validate({**data, "components": components})
    subject = json_object(resource.get("subject")).get("reference")
    fresh = medication_request(
        computed(request, formulary), formulary, subject=subject if isinstance(subject, str) else None
    )
    updated = copy.deepcopy(dict(resource))
    for key in ("extension", "medicationReference", "dosageInstruction", "dispenseRequest", "note", "detectedIssue"):
        if key in fresh:
            updated[key] = fresh[key]
        else:
            updated.pop(key, None)
    reference = str(json_object(resource.get("medicationReference")).get("reference", "#med"))[1:]
    kept = [c for c in json_array(resource.get("contained")) if json_object(c).get("id") not in (reference, "med")]
    kept = [c for c in kept if json_object(c).get("resourceType") != "DetectedIssue"]
    updated["contained"] = [*fresh["contained"], *copy.deepcopy(kept)]
    return updated


def largest_safe_volume(
    resource: Mapping[str, Any],
    check: OrderCheck,
    chart: ChartReading,
    formulary: Formulary,
    tables: CodeTables,
    references: Mapping[str, Mapping[str, Any]],
) -> tuple[Decimal, dict[str, Any], OrderCheck] | None:
    """The largest per-site volume (a multiple of 0.1 mL, below the order's) whose order,
    computed again, exceeds no dose limit; with the updated order and its check."""
    current = check.volume_per_site
    exact = check.exact
    if current is None or current <= STEP or exact is None:
        return None
    if exact.max_volume_per_site is None:
        return None  # the core found no volume per site that breaks no limit
    below = ((current - Decimal("0.000001")) / STEP).to_integral_value(ROUND_FLOOR) * STEP
    # The core's volume is per site of the mixture it planned (the order's agents drawn
    # from stock); the order's own volume per site may hold more (a diluent it implies).
    # Scaled to the order, one step above the core's (which is rounded down), then checked.
    scaled = (exact.max_volume_per_site + STEP) * current / exact.volume_per_site
    volume = min(below, (scaled / STEP).to_integral_value(ROUND_FLOOR) * STEP)
    for _ in range(_MAX_TRIES):
        if volume < STEP:
            return None
        factor = volume / current
        try:
            if check.origin == "mixcalc":
                candidate = _scaled_mixcalc(resource, check, factor, formulary)
            else:
                candidate = with_volume_per_site(resource, factor, volume)
        except (ValidationError, PlanError):
            volume -= STEP
            continue
        reading = read_order(candidate, formulary, tables, references, check.reading.label)
        result = check_order(candidate, reading, chart, formulary)
        if result.answer is not None and not result.over_limit:
            return volume, candidate, result
        volume -= STEP
    return None
