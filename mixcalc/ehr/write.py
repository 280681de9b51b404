"""Writing FHIR R4: a computed mixture as a draft ``MedicationRequest``.

Plain dicts out (JSON-shaped); no FHIR library is needed at run time, and the tests
validate every resource made here with the ``fhir.resources`` R4B models.

What we write (:func:`medication_request`), for a request computed once
(:class:`~mixcalc.ehr.exact.Computed`): numbers from its plan's exact values, words
(labels, warnings) from its answer:

* ``status`` ``draft``, ``intent`` ``order``, ``medicationReference`` ``#med`` to a
  contained ``Medication`` whose ``ingredient[]`` lists every agent: RxNorm coding where
  the formulary has a confirmed code (``Agent.rxnorm``), text otherwise; epinephrine with
  its RxNorm ingredient code 3992 (CLINICAL.md section 13); ``isActive`` (false for the
  diluent); ``strength`` the concentration **in the final mixture**, a Ratio of UCUM
  ``mg`` (``ug`` for epinephrine) over 1 ``mL``.
* ``dosageInstruction[0]``: ``doseAndRate[0].doseQuantity`` and
  ``maxDosePerAdministration`` the volume per site (mL); ``timing.repeat.count`` the
  number of sites; route intramuscular (SNOMED CT 78421000); ``text`` saying both.
  ``dispenseRequest.quantity`` is the whole volume.  ``note[]`` carries the preparation
  (each syringe's label and draws).
* Every critical or warning finding of the answer as a contained ``DetectedIssue``
  (severity ``high`` for critical, ``moderate`` for warning), referenced from
  ``detectedIssue``: an over-limit or contraindicated mixture is never a plain signable
  draft.
* What standard fields cannot carry, so that the exact request can be rebuilt: on each
  ingredient the extension :data:`COMPONENT_EXTENSION` (``agent`` id, stock
  ``concentration`` in mg/mL, ``epinephrine`` of the stock product in ug/mL, product
  ``form``, and the ``volumePerSite`` or ``dosePerSite`` as asked); on the order
  :data:`ORDER_EXTENSION` (``syringe`` capacity and ``dosingWeight`` rule when the
  request named them).  Patient facts and prior doses are not part of an order: a hook
  call takes them from the EHR.

**The FHIR rounding rule** (:func:`fhir_decimal`, here and nowhere else): a computed
value a FHIR quantity carries (a strength in the mixture, the volume per site, the whole
volume) is written to 4 decimal places, half to even, from the plan's exact value (the
precision of the JSON answer's amounts); a dose scaled down for a suggestion is rounded
down to 4 places instead, so that scaling never makes it larger.  Values the request gave
(the extensions) are written as given, so that the request can be rebuilt exactly.  Text
for people goes through :mod:`mixcalc.display`.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from .. import display
from ..formulary import Agent, AgentClass, Formulary
from ..schema import ComponentRequest, MixtureResponse
from ..units import MG, MG_PER_ML, ML, UG_PER_ML
from .exact import Computed
from .jsonsafe import UCUM

__all__ = [
    "COMPONENT_EXTENSION",
    "EPINEPHRINE_RXNORM",
    "ISSUE_SYSTEM",
    "ORDER_EXTENSION",
    "RXNORM",
    "SNOMED",
    "as_number",
    "contained_medication",
    "detected_issues",
    "fhir_decimal",
    "medication_request",
    "quantity",
]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
_BASE = "https://mixcalc.example/fhir/StructureDefinition/"
COMPONENT_EXTENSION = _BASE + "tpi-component"
ORDER_EXTENSION = _BASE + "tpi-order"
#: The code system of our warning codes in ``DetectedIssue.code``.
ISSUE_SYSTEM = "https://mixcalc.example/fhir/CodeSystem/warning"
#: RxNorm ingredient epinephrine (CLINICAL.md section 13, confirmed).
EPINEPHRINE_RXNORM = "3992"

_INTRAMUSCULAR = {"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}
_PLACES = Decimal("0.0001")
#: R4 DetectedIssue.severity (required binding: high | moderate | low).
_ISSUE_SEVERITY = {"critical": "high", "warning": "moderate"}


def fhir_decimal(value: Decimal, *, floor: bool = False) -> Decimal:
    """A computed value as a FHIR quantity carries it: 4 places, half to even, or rounded
    down with ``floor`` (the module docstring's rounding rule)."""
    return value.quantize(_PLACES, rounding=ROUND_FLOOR if floor else ROUND_HALF_EVEN)


def as_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number: an int when whole, else the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


_UNIT_TEXT = {"ug": "mcg", "ug/mL": "mcg/mL"}


def quantity(value: Decimal, code: str) -> dict[str, Any]:
    """A FHIR Quantity in a UCUM code (``unit`` the human spelling: mcg, not ug)."""
    return {"value": as_number(value), "unit": _UNIT_TEXT.get(code, code), "system": UCUM, "code": code}


def _ratio(value: Decimal, code: str) -> dict[str, Any]:
    return {"numerator": quantity(value, code), "denominator": quantity(Decimal(1), "mL")}


def _component_extension(component: ComponentRequest, agent_id: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "agent", "valueCode": agent_id}]
    if component.concentration is not None:
        parts.append(
            {"url": "concentration", "valueQuantity": quantity(component.concentration.in_(MG_PER_ML), "mg/mL")}
        )
    if component.epinephrine is not None:
        epinephrine = component.epinephrine.in_(UG_PER_ML)
        parts.append({"url": "epinephrine", "valueQuantity": quantity(epinephrine, "ug/mL")})
    if component.form is not None:
        parts.append({"url": "form", "valueCode": component.form})
    if component.volume_per_site is not None:
        parts.append({"url": "volumePerSite", "valueQuantity": quantity(component.volume_per_site.in_(ML), "mL")})
    elif component.dose_per_site is not None:
        parts.append({"url": "dosePerSite", "valueQuantity": quantity(component.dose_per_site.in_(MG), "mg")})
    return {"url": COMPONENT_EXTENSION, "extension": parts}


def _item(agent: Agent) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": agent.name}
    if agent.rxnorm is not None:
        concept["coding"] = [{"system": RXNORM, "code": agent.rxnorm, "display": agent.name.lower()}]
    return concept


def contained_medication(mixture: Computed, formulary: Formulary) -> dict[str, Any]:
    """The contained ``Medication`` (id ``med``): one ingredient per agent, and epinephrine."""
    by_agent = {c.agent: c for c in mixture.request.components}
    exact = mixture.exact
    ingredients = []
    for result in exact.components:
        agent = formulary.agents_by_id[result.agent]
        ingredients.append(
            {
                "extension": [_component_extension(by_agent[result.agent], agent.id)],
                "itemCodeableConcept": _item(agent),
                "isActive": agent.agent_class is not AgentClass.DILUENT,
                "strength": _ratio(fhir_decimal(result.final_concentration), "mg"),
            }
        )
    if exact.epinephrine_total is not None:
        per_ml = fhir_decimal(exact.epinephrine_total / exact.total_volume)
        ingredients.append(
            {
                "itemCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": EPINEPHRINE_RXNORM, "display": "epinephrine"}],
                    "text": "epinephrine",
                },
                "isActive": True,
                "strength": _ratio(per_ml, "ug"),
            }
        )
    names = " + ".join(formulary.agents_by_id[c.agent].display_name for c in exact.components)
    return {
        "resourceType": "Medication",
        "id": "med",
        "code": {"text": f"Trigger point injection mixture: {names}"},
        "ingredient": ingredients,
    }


def detected_issues(answer: MixtureResponse) -> list[dict[str, Any]]:
    """The answer's critical and warning findings as contained ``DetectedIssue`` resources
    (ids ``issue-1``...), each implicating the contained Medication ``#med``."""
    issues: list[dict[str, Any]] = []
    for warning in answer.warnings:
        severity = _ISSUE_SEVERITY.get(warning.severity)
        if severity is None:
            continue
        issue: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "id": f"issue-{len(issues) + 1}",
            "status": "preliminary",
            "code": {
                "coding": [{"system": ISSUE_SYSTEM, "code": warning.code}],
                "text": warning.code.replace("_", " "),
            },
            "severity": severity,
            "implicated": [{"reference": "#med"}],
            "detail": warning.message,
        }
        if warning.source:
            issue["detail"] = f"{warning.message} (sources: {'; '.join(warning.source)})"
        issues.append(issue)
    return issues


def medication_request(
    mixture: Computed,
    formulary: Formulary,
    *,
    subject: str | None = None,
    order_id: str | None = None,
) -> dict[str, Any]:
    """The mixture as a draft FHIR R4 ``MedicationRequest`` (see the module docstring).

    ``subject`` is a reference such as ``Patient/123``; without one the subject is a
    display-only reference asking for it to be set before signing.
    """
    request, answer, exact = mixture.request, mixture.answer, mixture.exact
    medication = contained_medication(mixture, formulary)
    issues = detected_issues(answer)
    volume, total, sites = exact.volume_per_site, exact.total_volume, exact.sites
    text = (
        f"Inject {display.amount(volume, 'mL')} of the mixture into each of {sites} trigger point "
        f"site{'s' if sites != 1 else ''} ({display.amount(total, 'mL')} in all), intramuscular."
    )
    notes = [{"text": f"Prepare: {syringe.label}"} for syringe in answer.syringes]
    notes.append({"text": f"Computed by mixcalc with {answer.formulary.name} {answer.formulary.version}."})
    order_parts: list[dict[str, Any]] = []
    if request.syringe is not None:
        order_parts.append({"url": "syringe", "valueQuantity": quantity(request.syringe.in_(ML), "mL")})
    if request.dosing_weight is not None:
        order_parts.append({"url": "dosingWeight", "valueCode": request.dosing_weight})
    resource: dict[str, Any] = {"resourceType": "MedicationRequest"}
    if order_id is not None:
        resource["id"] = order_id
    resource["contained"] = [medication, *issues]
    if order_parts:
        resource["extension"] = [{"url": ORDER_EXTENSION, "extension": order_parts}]
    resource.update(
        {
            "status": "draft",
            "intent": "order",
            "medicationReference": {"reference": "#med", "display": medication["code"]["text"]},
            "subject": {"reference": subject}
            if subject
            else {"display": "patient not given: set the subject before signing"},
            "note": notes,
            "dosageInstruction": [
                {
                    "text": text,
                    "timing": {"repeat": {"count": sites}},
                    "route": {"coding": [_INTRAMUSCULAR], "text": "intramuscular"},
                    "doseAndRate": [{"doseQuantity": quantity(fhir_decimal(volume), "mL")}],
                    "maxDosePerAdministration": quantity(fhir_decimal(volume), "mL"),
                }
            ],
            "dispenseRequest": {"quantity": quantity(fhir_decimal(total), "mL")},
        }
    )
    if issues:
        resource["detectedIssue"] = [{"reference": f"#{issue['id']}"} for issue in issues]
    return resource
