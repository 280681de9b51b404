"""FHIR R4: a computed mixture as a ``MedicationRequest``, and a ``MedicationRequest`` read
back as a mixture to check.

Plain dicts in and out (JSON-shaped); no FHIR library is needed at run time, and the
tests validate every resource made here with the ``fhir.resources`` R4B models.

What we write (:func:`medication_request`), for an answer and the request it came from:

* ``status`` ``draft``, ``intent`` ``order``, ``medicationReference`` ``#med`` to a
  contained ``Medication`` whose ``ingredient[]`` lists every agent: RxNorm coding where
  the formulary has a confirmed code (``Agent.rxnorm``), text otherwise (epinephrine is
  text only: the formulary carries no code for it); ``isActive`` (false for the diluent);
  ``strength`` the concentration **in the final mixture**, a Ratio of UCUM ``mg`` (``ug``
  for epinephrine) over 1 ``mL``.
* ``dosageInstruction[0]``: ``doseAndRate[0].doseQuantity`` and
  ``maxDosePerAdministration`` the volume per site (mL); ``timing.repeat.count`` the
  number of sites; route intramuscular (SNOMED CT 78421000); ``text`` saying both.
  ``dispenseRequest.quantity`` is the whole volume.  ``note[]`` carries the preparation
  (each syringe's label and draws).
* What standard fields cannot carry, so that the exact request can be rebuilt: on each
  ingredient the extension :data:`COMPONENT_EXTENSION` (``agent`` id, stock
  ``concentration`` in mg/mL, ``epinephrine`` of the stock product in ug/mL, product
  ``form``, and the ``volumePerSite`` or ``dosePerSite`` as asked); on the order
  :data:`ORDER_EXTENSION` (``syringe`` capacity and ``dosingWeight`` rule when the
  request named them).  Patient facts and prior doses are not part of an order: a hook
  call takes them from the EHR.

What we read (:func:`ordered_mixture`), for orders written by an EHR: a contained
``Medication`` whose ingredients each have a strength in the final mixture (mass per
volume), the volume per site in ``doseAndRate[0].doseQuantity`` and the number of sites
in ``timing.repeat.count``.  An order does not say which stock strengths will be drawn:
without our extension, each agent's dose is checked as ordered, drawn from its highest
stocked strength (the fewest mL), and the answer says so.  Anything that cannot be read
is a problem listed by name; nothing is guessed silently.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from . import display
from .errors import PlanError
from .formulary import Agent, AgentClass, Formulary
from .mixture import choose_syringes, draw_volumes
from .schema import ComponentRequest, MixtureRequest, MixtureResponse
from .units import MG, MG_PER_ML, ML, UG_PER_ML, Amount

__all__ = [
    "COMPONENT_EXTENSION",
    "EPINEPHRINE_RXNORM",
    "ORDER_EXTENSION",
    "RXNORM",
    "SNOMED",
    "UCUM",
    "OrderedMixture",
    "as_number",
    "contained_medication",
    "is_mixture_order",
    "json_array",
    "json_decimal",
    "json_object",
    "medication_request",
    "mixcalc_request",
    "ordered_mixture",
    "same_order",
    "with_volume_per_site",
]

UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
_BASE = "https://mixcalc.example/fhir/StructureDefinition/"
COMPONENT_EXTENSION = _BASE + "tpi-component"
ORDER_EXTENSION = _BASE + "tpi-order"
#: Recognised when reading an EHR's order (CLINICAL.md section 13); never written, as the
#: formulary carries no code for epinephrine.
EPINEPHRINE_RXNORM = "3992"

_INTRAMUSCULAR = {"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}
_PLACES = Decimal("0.0001")
_MASS = {"mg": Decimal(1), "ug": Decimal("0.001"), "g": Decimal(1000)}
_VOLUME = {"mL": Decimal(1), "L": Decimal(1000)}
_EPINEPHRINE_NAMES = frozenset({"epinephrine", "adrenaline"})


# --- small helpers --------------------------------------------------------------------------


def as_number(value: Decimal) -> int | float:
    """A Decimal as a JSON number: an int when whole, else the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


_UNIT_TEXT = {"ug": "mcg", "ug/mL": "mcg/mL"}


def _quantity(value: Decimal, code: str) -> dict[str, Any]:
    return {"value": as_number(value), "unit": _UNIT_TEXT.get(code, code), "system": UCUM, "code": code}


def _ratio(value: Decimal, code: str) -> dict[str, Any]:
    return {"numerator": _quantity(value, code), "denominator": _quantity(Decimal(1), "mL")}


def json_decimal(value: object) -> Decimal | None:
    """A JSON number as a Decimal (floats by their shortest repr); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:  # pragma: no cover - repr of a finite float always parses
        return None
    return number if number.is_finite() else None


def json_object(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one (for reading untrusted FHIR)."""
    return value if isinstance(value, Mapping) else {}


def json_array(value: object) -> Sequence[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else ()


def _code(quantity: Mapping[str, Any]) -> str | None:
    """The UCUM code of a FHIR Quantity (``code`` with the UCUM system, else ``unit``)."""
    code = quantity.get("code") if quantity.get("system") in (UCUM, None) else None
    code = code if isinstance(code, str) else quantity.get("unit")
    if not isinstance(code, str):
        return None
    return {"ml": "mL", "mcg": "ug", "l": "L"}.get(code.lower(), code)


def _amount(quantity: object, units: Mapping[str, Decimal]) -> Decimal | None:
    """A Quantity in one of ``units`` (code -> factor to the base unit), in the base unit."""
    q = json_object(quantity)
    value, code = json_decimal(q.get("value")), _code(q)
    if value is None or code is None or code not in units or value < 0:
        return None
    return value * units[code]


# --- writing ---------------------------------------------------------------------------------


def _component_extension(component: ComponentRequest, agent_id: str) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "agent", "valueCode": agent_id}]
    if component.concentration is not None:
        parts.append(
            {"url": "concentration", "valueQuantity": _quantity(component.concentration.in_(MG_PER_ML), "mg/mL")}
        )
    if component.epinephrine is not None:
        epinephrine = component.epinephrine.in_(UG_PER_ML)
        parts.append({"url": "epinephrine", "valueQuantity": _quantity(epinephrine, "ug/mL")})
    if component.form is not None:
        parts.append({"url": "form", "valueCode": component.form})
    if component.volume_per_site is not None:
        parts.append({"url": "volumePerSite", "valueQuantity": _quantity(component.volume_per_site.in_(ML), "mL")})
    elif component.dose_per_site is not None:
        parts.append({"url": "dosePerSite", "valueQuantity": _quantity(component.dose_per_site.in_(MG), "mg")})
    return {"url": COMPONENT_EXTENSION, "extension": parts}


def _item(agent: Agent) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": agent.name}
    if agent.rxnorm is not None:
        concept["coding"] = [{"system": RXNORM, "code": agent.rxnorm, "display": agent.name.lower()}]
    return concept


def contained_medication(answer: MixtureResponse, request: MixtureRequest, formulary: Formulary) -> dict[str, Any]:
    """The contained ``Medication`` (id ``med``): one ingredient per agent, and epinephrine."""
    by_agent = {c.agent: c for c in request.components}
    ingredients = []
    total_volume = Decimal(repr(answer.total_volume.value))
    for result in answer.components:
        agent = formulary.agents_by_id[result.agent]
        ingredients.append(
            {
                "extension": [_component_extension(by_agent[result.agent], agent.id)],
                "itemCodeableConcept": _item(agent),
                "isActive": agent.agent_class is not AgentClass.DILUENT,
                "strength": _ratio(Decimal(repr(result.final_concentration.value)), "mg"),
            }
        )
    if answer.epinephrine_total is not None:
        per_ml = (Decimal(repr(answer.epinephrine_total.value)) / total_volume).quantize(_PLACES, ROUND_HALF_EVEN)
        ingredients.append(
            {"itemCodeableConcept": {"text": "epinephrine"}, "isActive": True, "strength": _ratio(per_ml, "ug")}
        )
    names = " + ".join(formulary.agents_by_id[c.agent].display_name for c in answer.components)
    return {
        "resourceType": "Medication",
        "id": "med",
        "code": {"text": f"Trigger point injection mixture: {names}"},
        "ingredient": ingredients,
    }


def medication_request(
    answer: MixtureResponse,
    request: MixtureRequest,
    formulary: Formulary,
    *,
    subject: str | None = None,
    order_id: str | None = None,
) -> dict[str, Any]:
    """The mixture as a draft FHIR R4 ``MedicationRequest`` (see the module docstring).

    ``subject`` is a reference such as ``Patient/123``; without one the subject is a
    display-only reference asking for it to be set before signing.
    """
    medication = contained_medication(answer, request, formulary)
    volume = Decimal(repr(answer.volume_per_site.value))
    total = Decimal(repr(answer.total_volume.value))
    sites = answer.sites
    text = (
        f"Inject {display.amount(volume, 'mL')} of the mixture into each of {sites} trigger point "
        f"site{'s' if sites != 1 else ''} ({display.amount(total, 'mL')} in all), intramuscular."
    )
    notes = [{"text": f"Prepare: {syringe.label}"} for syringe in answer.syringes]
    notes.append({"text": f"Computed by mixcalc with {answer.formulary.name} {answer.formulary.version}."})
    order_parts: list[dict[str, Any]] = []
    if request.syringe is not None:
        order_parts.append({"url": "syringe", "valueQuantity": _quantity(request.syringe.in_(ML), "mL")})
    if request.dosing_weight is not None:
        order_parts.append({"url": "dosingWeight", "valueCode": request.dosing_weight})
    resource: dict[str, Any] = {"resourceType": "MedicationRequest"}
    if order_id is not None:
        resource["id"] = order_id
    resource["contained"] = [medication]
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
                    "doseAndRate": [{"doseQuantity": _quantity(volume, "mL")}],
                    "maxDosePerAdministration": _quantity(volume, "mL"),
                }
            ],
            "dispenseRequest": {"quantity": _quantity(total, "mL")},
        }
    )
    return resource


# --- reading ---------------------------------------------------------------------------------


def _medication(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
    reference = json_object(resource.get("medicationReference")).get("reference")
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    for contained in json_array(resource.get("contained")):
        item = json_object(contained)
        if item.get("resourceType") == "Medication" and item.get("id") == reference[1:]:
            return item
    return None


def _sub(extension: Mapping[str, Any], url: str) -> Mapping[str, Any]:
    for part in json_array(extension.get("extension")):
        if json_object(part).get("url") == url:
            return json_object(part)
    return {}


def _extension(element: Mapping[str, Any], url: str) -> Mapping[str, Any] | None:
    for item in json_array(element.get("extension")):
        if json_object(item).get("url") == url:
            return json_object(item)
    return None


def mixcalc_request(resource: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request our own extensions describe (no patient), or None when the order does
    not carry them whole.  The caller must check it reproduces the order's standard
    fields (:func:`same_order`): an order edited after we wrote it no longer matches."""
    medication = _medication(resource)
    sites = json_object(json_object(_first(resource.get("dosageInstruction")).get("timing")).get("repeat")).get("count")
    if medication is None or not isinstance(sites, int) or isinstance(sites, bool):
        return None
    components = []
    for ingredient in json_array(medication.get("ingredient")):
        extension = _extension(json_object(ingredient), COMPONENT_EXTENSION)
        if extension is None:
            if _is_epinephrine(json_object(ingredient)):
                continue
            return None
        agent = _sub(extension, "agent").get("valueCode")
        if not isinstance(agent, str):
            return None
        component: dict[str, Any] = {"agent": agent}
        for url, key, units in (
            ("concentration", "concentration", "mg/mL"),
            ("epinephrine", "epinephrine", "ug/mL"),
            ("volumePerSite", "volume_per_site", "mL"),
            ("dosePerSite", "dose_per_site", "mg"),
        ):
            quantity = _sub(extension, url).get("valueQuantity")
            if quantity is None:
                continue
            value = json_decimal(json_object(quantity).get("value"))
            if value is None or _code(json_object(quantity)) != units:
                return None
            component[key] = Amount.of(value, units)
        form = _sub(extension, "form").get("valueCode")
        if isinstance(form, str):
            component["form"] = form
        components.append(component)
    if not components:
        return None
    request: dict[str, Any] = {"sites": sites, "components": components}
    order = _extension(resource, ORDER_EXTENSION)
    if order is not None:
        syringe = _amount(_sub(order, "syringe").get("valueQuantity"), _VOLUME)
        if syringe is not None:
            request["syringe"] = Amount.of(syringe, "mL")
        rule = _sub(order, "dosingWeight").get("valueCode")
        if isinstance(rule, str):
            request["dosing_weight"] = rule
    return request


def _first(value: object) -> Mapping[str, Any]:
    items = json_array(value)
    return json_object(items[0]) if items else {}


def _standard(resource: Mapping[str, Any]) -> tuple[Any, ...]:
    """The fields a clinician signs: ingredients and strengths, sites, volume per site."""
    medication = _medication(resource) or {}
    ingredients = []
    for ingredient in json_array(medication.get("ingredient")):
        item = json_object(ingredient)
        concept = json_object(item.get("itemCodeableConcept"))
        codes = tuple(sorted(str(json_object(c).get("code")) for c in json_array(concept.get("coding"))))
        strength = json_object(item.get("strength"))
        ingredients.append(
            (
                codes,
                str(concept.get("text", "")).lower(),
                _amount(strength.get("numerator"), _MASS),
                _amount(strength.get("denominator"), _VOLUME),
            )
        )
    dosage = _first(resource.get("dosageInstruction"))
    count = json_object(json_object(dosage.get("timing")).get("repeat")).get("count")
    volume = _amount(_first(dosage.get("doseAndRate")).get("doseQuantity"), _VOLUME)
    return tuple(sorted(ingredients, key=repr)), count, volume


def same_order(resource: Mapping[str, Any], regenerated: Mapping[str, Any]) -> bool:
    """Whether two orders agree on every field a clinician signs."""
    return _standard(resource) == _standard(regenerated)


def _is_epinephrine(ingredient: Mapping[str, Any]) -> bool:
    concept = json_object(ingredient.get("itemCodeableConcept"))
    coded = any(
        json_object(c).get("system") == RXNORM and json_object(c).get("code") == EPINEPHRINE_RXNORM
        for c in json_array(concept.get("coding"))
    )
    text = concept.get("text")
    return coded or (isinstance(text, str) and text.strip().lower() in _EPINEPHRINE_NAMES)


def _normal(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


def _agent_for(ingredient: Mapping[str, Any], formulary: Formulary) -> Agent | None:
    """The formulary agent an ingredient names: by RxNorm code, else by its text (the
    agent's id, name or display name; a trailing salt such as "hydrochloride" allowed)."""
    concept = json_object(ingredient.get("itemCodeableConcept"))
    for coding in json_array(concept.get("coding")):
        c = json_object(coding)
        if c.get("system") == RXNORM:
            for agent in formulary.agents:
                if agent.rxnorm is not None and agent.rxnorm == c.get("code"):
                    return agent
    texts = [concept.get("text")] + [json_object(c).get("display") for c in json_array(concept.get("coding"))]
    for text in texts:
        if not isinstance(text, str):
            continue
        wanted = _normal(text)
        for agent in formulary.agents:
            names = {_normal(agent.id), _normal(agent.name), _normal(agent.display_name)}
            if wanted in names or any(wanted in (f"{n} hydrochloride", f"{n} hcl") for n in names):
                return agent
    return None


def is_mixture_order(resource: Mapping[str, Any], formulary: Formulary) -> bool:
    """Whether an order is a mixture this service checks: a contained Medication with at
    least one ingredient the formulary knows."""
    medication = _medication(resource)
    if medication is None:
        return False
    return any(_agent_for(json_object(i), formulary) is not None for i in json_array(medication.get("ingredient")))


@dataclass(frozen=True)
class OrderedMixture:
    """An EHR order read from its standard fields: ``request`` is a mixture request
    (without patient) whose doses are those ordered, or None with ``problems`` saying
    what could not be read; ``ordered`` the total dose per agent as ordered (mg; the key
    ``"epinephrine"`` for epinephrine), ``notes`` what was assumed."""

    request: dict[str, Any] | None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    ordered: Mapping[str, Decimal] = field(default_factory=dict)
    volume_per_site: Decimal | None = None


def _strength(ingredient: Mapping[str, Any]) -> Decimal | None:
    """An ingredient's concentration in the mixture, mg/mL."""
    strength = json_object(ingredient.get("strength"))
    mass = _amount(strength.get("numerator"), _MASS)
    volume = _amount(strength.get("denominator"), _VOLUME)
    if mass is None or volume is None or volume == 0:
        return None
    return mass / volume


def _label(ingredient: Mapping[str, Any]) -> str:
    concept = json_object(ingredient.get("itemCodeableConcept"))
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text.strip()[:60]
    for coding in json_array(concept.get("coding")):
        shown = json_object(coding).get("display") or json_object(coding).get("code")
        if isinstance(shown, str):
            return shown[:60]
    return "an ingredient"


def ordered_mixture(resource: Mapping[str, Any], formulary: Formulary) -> OrderedMixture:
    """Read an order from its standard fields (see the module docstring)."""
    problems: list[str] = []
    notes: list[str] = []
    medication = _medication(resource)
    if medication is None:
        return OrderedMixture(None, ("the order has no contained Medication listing the mixture",))
    dosage = _first(resource.get("dosageInstruction"))
    volume = _amount(_first(dosage.get("doseAndRate")).get("doseQuantity"), _VOLUME)
    if volume is None or volume == 0:
        problems.append("the volume per site (dosageInstruction.doseAndRate.doseQuantity, in mL) is missing")
    sites = json_object(json_object(dosage.get("timing")).get("repeat")).get("count")
    if not isinstance(sites, int) or isinstance(sites, bool) or sites < 1:
        problems.append("the number of sites (dosageInstruction.timing.repeat.count) is missing")
        sites = None
    found: list[tuple[Agent, Decimal]] = []
    epinephrine: Decimal | None = None
    for raw in json_array(medication.get("ingredient")):
        ingredient = json_object(raw)
        strength = _strength(ingredient)
        if strength is None:
            problems.append(f"{_label(ingredient)}: no strength as mass per volume of the mixture")
            continue
        if _is_epinephrine(ingredient):
            epinephrine = strength
            continue
        agent = _agent_for(ingredient, formulary)
        if agent is None:
            problems.append(f"{_label(ingredient)} is not in the formulary")
        elif any(a.id == agent.id for a, _ in found):
            problems.append(f"{agent.name} is listed twice")
        else:
            found.append((agent, strength))
    if not found and not problems:
        problems.append("the Medication lists no ingredient")
    if problems or volume is None or sites is None:
        return OrderedMixture(None, tuple(problems))

    components: list[dict[str, Any]] = []
    ordered: dict[str, Decimal] = {}
    drawn = Decimal(0)
    stock_of: dict[str, Decimal] = {}
    per_site: list[tuple[Decimal, Decimal]] = []
    for agent, strength in found:
        stock = agent.highest_strength
        if strength > stock:
            problems.append(
                f"{agent.name} {display.amount(strength, 'mg/mL')} in the mixture is above its highest stocked "
                f"strength ({display.amount(stock, 'mg/mL')})"
            )
            continue
        stock_of[agent.id] = stock
        dose = strength * volume
        drawn += dose / stock
        per_site.append((dose, stock))
        ordered[agent.id] = dose * sites
        component: dict[str, Any] = {"agent": agent.id, "concentration": Amount.of(stock, "mg/mL")}
        if agent.agent_class is AgentClass.DILUENT:
            component["volume_per_site"] = Amount.of(dose / stock, "mL")
        else:
            component["dose_per_site"] = Amount.of(dose, "mg")
        components.append(component)
    if epinephrine is not None and not problems:
        matched = _epinephrine_product(found, epinephrine, formulary)
        if matched is None:
            problems.append(
                "the epinephrine in the mixture matches no stocked local anesthetic product with epinephrine"
            )
        else:
            agent, stock, epinephrine_stock = matched
            for component in components:
                if component["agent"] == agent.id:
                    component["concentration"] = Amount.of(stock, "mg/mL")
                    component["epinephrine"] = Amount.of(epinephrine_stock, "mg/mL")
            ordered["epinephrine"] = epinephrine * volume * sites
    if drawn > volume * Decimal("1.0001") and not problems:
        problems.append(
            f"the ingredients do not fit in {display.amount(volume, 'mL')} per site even at their highest "
            "stocked strengths"
        )
    if problems:
        return OrderedMixture(None, tuple(problems))
    request: dict[str, Any] = {"sites": sites, "components": components}
    syringe = _closest_syringe([dose / stock for dose, stock in per_site], sites, formulary)
    if syringe is not None:
        request["syringe"] = Amount.of(syringe, "mL")
    notes.append(
        "the order does not name the stock strengths: doses were checked as ordered, drawn from "
        + ", ".join(f"{a.name} {display.amount(stock_of[a.id], 'mg/mL')}" for a, _ in found)
        + "; preparation and product labeling were not checked"
    )
    return OrderedMixture(request, (), tuple(notes), ordered, volume_per_site=volume)


def _closest_syringe(volumes: Sequence[Decimal], sites: int, formulary: Formulary) -> Decimal | None:
    """The syringe size in which drawing to the graduation changes the ordered volumes
    least (then the fewest syringes, then the smallest), in mL."""
    best: tuple[Decimal, int, Decimal] | None = None
    for syringe in formulary.syringes:
        capacity = syringe.capacity.in_(ML)
        try:
            plan = choose_syringes(formulary, volume_per_site=sum(volumes, Decimal(0)), sites=sites, requested=capacity)
        except PlanError:
            continue
        draws = draw_volumes(volumes, plan)
        error = sum(
            (abs(sum(d[i] for d in draws) - v * sites) / (v * sites) for i, v in enumerate(volumes) if v > 0),
            Decimal(0),
        )
        key = (error, len(plan.site_counts), capacity)
        if best is None or key < best:
            best = key
    return None if best is None else best[2]


def _epinephrine_product(
    found: Sequence[tuple[Agent, Decimal]], epinephrine: Decimal, formulary: Formulary
) -> tuple[Agent, Decimal, Decimal] | None:
    """The one local anesthetic of the mixture whose stocked epinephrine product gives this
    ratio of epinephrine to anesthetic (highest strength among equal ratios); all in mg/mL."""
    matches = []
    for agent, strength in found:
        if strength == 0:
            continue
        wanted = epinephrine / strength
        best: tuple[Decimal, Decimal] | None = None
        for product in agent.epinephrine_products:
            epi = product.epinephrine.in_(MG_PER_ML)
            for stocked in product.strengths:
                s = stocked.in_(MG_PER_ML)
                if abs(epi / s - wanted) <= wanted * Decimal("0.002") and (best is None or s > best[0]):
                    best = (s, epi)
        if best is not None:
            matches.append((agent, *best))
    return matches[0] if len(matches) == 1 else None


def with_volume_per_site(resource: Mapping[str, Any], volume: Decimal) -> dict[str, Any]:
    """A copy of an EHR order with another volume per site (the same concentrations):
    dose, maximum per administration, dispensed quantity and instruction text updated."""
    updated = copy.deepcopy(dict(resource))
    dosage_list = json_array(updated.get("dosageInstruction"))
    if not dosage_list or not isinstance(dosage_list[0], dict):
        return updated
    dosage = dosage_list[0]
    sites = json_object(json_object(dosage.get("timing")).get("repeat")).get("count")
    for rate in json_array(dosage.get("doseAndRate")):
        if isinstance(rate, dict) and "doseQuantity" in rate:
            rate["doseQuantity"] = _quantity(volume, "mL")
            break
    if "maxDosePerAdministration" in dosage:
        dosage["maxDosePerAdministration"] = _quantity(volume, "mL")
    if isinstance(sites, int) and not isinstance(sites, bool):
        dosage["text"] = (
            f"Inject {display.amount(volume, 'mL')} of the mixture into each of {sites} trigger point "
            f"site{'s' if sites != 1 else ''} ({display.amount(volume * sites, 'mL')} in all)."
        )
        dispense = updated.get("dispenseRequest")
        if isinstance(dispense, dict) and "quantity" in dispense:
            dispense["quantity"] = _quantity(volume * sites, "mL")
    return updated
