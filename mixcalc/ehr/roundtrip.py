"""Our own orders, read back: the request our extension describes, and whether an order
still says what we wrote (the fields a clinician signs).  An order edited after we
wrote it is read from its standard fields instead (:mod:`mixcalc.ehr.orders`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..schema import MAX_SITES
from ..units import Amount
from .codes import normal_words
from .jsonsafe import (
    MASS,
    VOLUME,
    amount,
    bounded_count,
    bounded_decimal,
    first,
    json_array,
    json_object,
    quantity_code,
)
from .write import COMPONENT_EXTENSION, ORDER_EXTENSION

__all__ = ["mixcalc_request", "same_order"]


def _contained_medication(resource: Mapping[str, Any]) -> Mapping[str, Any] | None:
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
    medication = _contained_medication(resource)
    raw = json_object(json_object(first(resource.get("dosageInstruction")).get("timing")).get("repeat")).get("count")
    sites = bounded_count(raw, largest=MAX_SITES)
    if medication is None or sites is None:
        return None
    components = []
    for ingredient in json_array(medication.get("ingredient"))[:16]:
        extension = _extension(json_object(ingredient), COMPONENT_EXTENSION)
        if extension is None:
            concept = json_object(json_object(ingredient).get("itemCodeableConcept"))
            if normal_words(str(concept.get("text", ""))).strip() in {"epinephrine", "adrenaline"}:
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
            value = bounded_decimal(json_object(quantity).get("value"))
            if value is None or quantity_code(json_object(quantity)) != units:
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
        syringe = amount(_sub(order, "syringe").get("valueQuantity"), VOLUME)
        if syringe is not None:
            request["syringe"] = Amount.of(syringe, "mL")
        rule = _sub(order, "dosingWeight").get("valueCode")
        if isinstance(rule, str):
            request["dosing_weight"] = rule
    return request


def _standard(resource: Mapping[str, Any]) -> tuple[Any, ...]:
    """The fields a clinician signs: ingredients and strengths, sites, volume per site."""
    medication = _contained_medication(resource) or {}
    ingredients = []
    for ingredient in json_array(medication.get("ingredient"))[:16]:
        item = json_object(ingredient)
        concept = json_object(item.get("itemCodeableConcept"))
        codes = tuple(sorted(str(json_object(c).get("code")) for c in json_array(concept.get("coding"))[:8]))
        strength = json_object(item.get("strength"))
        ingredients.append(
            (
                codes,
                str(concept.get("text", "")).lower(),
                amount(strength.get("numerator"), MASS),
                amount(strength.get("denominator"), VOLUME),
            )
        )
    dosage = first(resource.get("dosageInstruction"))
    count = bounded_count(json_object(json_object(dosage.get("timing")).get("repeat")).get("count"), largest=MAX_SITES)
    volume = amount(first(dosage.get("doseAndRate")).get("doseQuantity"), VOLUME)
    return tuple(sorted(ingredients, key=repr)), count, volume, len(json_array(resource.get("dosageInstruction")))


def same_order(resource: Mapping[str, Any], regenerated: Mapping[str, Any]) -> bool:
    """Whether two orders agree on every field a clinician signs."""
    return _standard(resource) == _standard(regenerated)
