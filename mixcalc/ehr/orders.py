"""Reading orders: a draft ``MedicationRequest`` (R4) or ``MedicationOrder`` (DSTU2), as
EHRs send them, into a mixture request the core can check, or into the exact list of what
could not be read.

What names the drug (first match wins):

* ``medicationCodeableConcept``; or ``medicationReference`` to a contained ``Medication``
  (``#id``), to a Medication elsewhere in the call (the draft-orders Bundle, a prefetched
  Bundle) or fetched from the EHR's FHIR server by the shell (``references``);
* within a Medication: ``ingredient[]`` (R4 ``itemCodeableConcept``/``itemReference``,
  DSTU2 ``product.ingredient[].item``) with ``strength`` (R4) or ``amount`` (DSTU2) as
  the concentration in what is injected; else its ``code`` as one product;
* a concept names an agent by a product code in the code tables (agent, strength,
  epinephrine), by an ingredient code (RxNorm, SNOMED CT substance) or by name in its
  text (:mod:`mixcalc.ehr.names`).

Our own orders are first read back through our extension (:mod:`mixcalc.ehr.roundtrip`).

The dose: R4 ``dosageInstruction[0].doseAndRate[].doseQuantity`` (or the upper end of
``doseRange``), DSTU2 ``dosageInstruction[0].doseQuantity``; in mL or mg.  The number of
sites: ``timing.repeat.count``, or the instruction text when it says "N sites" or
"N trigger points" (the larger when both are given and differ, with a note).

Every number is bounded (:mod:`mixcalc.ehr.jsonsafe`) before arithmetic.  Whatever cannot
be read is a problem naming the field; ``least`` keeps the doses that can be read for
certain, so that an unreadable order already over a maximum is still flagged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .. import display
from ..errors import PlanError
from ..formulary import Agent, AgentClass, Formulary
from ..mixture import choose_syringes, draw_volumes
from ..schema import MAX_SITES, MAX_VOLUME_PER_SITE_ML
from ..units import MG_PER_ML, ML, Amount
from .codes import CodeTables
from .jsonsafe import MASS, VOLUME, amount, bounded_count, first, json_array, json_object, json_str, quantity_code
from .names import Named, name_concept

__all__ = [
    "ORDER_TYPES",
    "Named",
    "OrderReading",
    "medication_references",
    "name_concept",
    "order_label",
    "read_order",
    "unresolved_reference",
]

#: "6 sites", "6 trigger points", "6 trigger point sites", "6 tender points" (not a bare
#: "7 points", which is as likely a pain score).
_SITES = re.compile(
    r"(?<![\d.])(\d{1,7})\s*(?:separate\s+|injection\s+|trigger[\s-]*point\s+)?"
    r"(?:trigger[\s-]*points?|tender[\s-]*points?|sites?)\b",
    re.I,
)
ORDER_TYPES = frozenset({"MedicationRequest", "MedicationOrder"})


# --- finding the Medication -------------------------------------------------------------------


def _resolve(
    resource: Mapping[str, Any], references: Mapping[str, Mapping[str, Any]]
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, str | None]:
    """(Medication resource, CodeableConcept, problem): what the order's drug is."""
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, Mapping):
        return None, concept, None
    reference = json_object(resource.get("medicationReference"))
    target = json_str(reference.get("reference"), 300)
    if target is None:
        if reference.get("display"):
            return None, {"text": reference.get("display")}, "the medicationReference has no reference"
        return None, None, "the order names no medication (medicationCodeableConcept or medicationReference)"
    if target.startswith("#"):
        for contained in json_array(resource.get("contained")):
            item = json_object(contained)
            if item.get("resourceType") == "Medication" and item.get("id") == target[1:]:
                return item, None, None
        return None, _display(reference), f"the contained Medication {target} is missing"
    found = references.get(target) or references.get(_relative(target))
    if found is not None:
        return found, None, None
    return None, _display(reference), f"the Medication {target[:80]} was not sent and could not be fetched"


def _display(reference: Mapping[str, Any]) -> Mapping[str, Any] | None:
    text = json_str(reference.get("display"), 200)
    return None if text is None else {"text": text}


def _relative(reference: str) -> str:
    """``https://ehr/fhir/Medication/12`` -> ``Medication/12`` (history suffixes dropped)."""
    parts = reference.split("/_history/")[0].rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference


def medication_references(*bundles: object) -> dict[str, Mapping[str, Any]]:
    """Medications found in Bundles (draft orders, prefetch), by ``Medication/id`` and by
    ``fullUrl``."""
    found: dict[str, Mapping[str, Any]] = {}
    for bundle in bundles:
        for entry in json_array(json_object(bundle).get("entry")):
            item = json_object(entry)
            resource = json_object(item.get("resource"))
            if resource.get("resourceType") != "Medication":
                continue
            if isinstance(resource.get("id"), str):
                found[f"Medication/{resource['id']}"] = resource
            if isinstance(item.get("fullUrl"), str):
                found[item["fullUrl"]] = resource
    return found


def unresolved_reference(resource: Mapping[str, Any]) -> str | None:
    """The order's medicationReference when it points outside the order, else None."""
    target = json_str(json_object(resource.get("medicationReference")).get("reference"), 300)
    return None if target is None or target.startswith("#") else target


# --- what the Medication lists ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ingredient:
    named: Named
    strength: Decimal | None  # mg/mL in what is injected (from the Ratio), or the product's
    unreadable_strength: bool = False


def _ratio_strength(ratio: object) -> tuple[Decimal | None, bool]:
    """A Ratio as mg/mL: (value, whether a strength was given but could not be read)."""
    strength = json_object(ratio)
    if not strength:
        return None, False
    mass = amount(strength.get("numerator"), MASS)
    volume = amount(strength.get("denominator"), VOLUME)
    if mass is None or volume is None or volume == 0:
        return None, True
    return mass / volume, False


def _ingredients(medication: Mapping[str, Any], formulary: Formulary, tables: CodeTables) -> list[_Ingredient]:
    raw = json_array(medication.get("ingredient")) or json_array(
        json_object(medication.get("product")).get("ingredient")
    )
    found = []
    for entry in list(raw)[:16]:
        item = json_object(entry)
        concept = json_object(item.get("itemCodeableConcept"))
        if not concept:
            reference = json_object(item.get("itemReference") or item.get("item"))
            concept = {"text": reference.get("display")} if isinstance(reference.get("display"), str) else {}
        named = name_concept(concept, formulary, tables)
        strength, bad = _ratio_strength(item.get("strength") or item.get("amount"))
        found.append(_Ingredient(named, strength if strength is not None else named.strength, bad))
    if not found:
        named = name_concept(json_object(medication.get("code")), formulary, tables)
        found.append(_Ingredient(named, named.strength))
    return found


# --- the dosage -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dosage:
    dose: Decimal | None  # in mL or mg, per site
    unit: str | None  # "mL" or "mg"
    sites: int | None
    problems: tuple[str, ...]
    notes: tuple[str, ...]


def _dosage(resource: Mapping[str, Any]) -> _Dosage:
    problems: list[str] = []
    notes: list[str] = []
    instructions = json_array(resource.get("dosageInstruction"))
    if len(instructions) > 1:
        problems.append(f"the order has {len(instructions)} dosage instructions; one per TPI order is checked")
    dosage = first(instructions)
    quantity: Mapping[str, Any] | None = None
    for rate in json_array(dosage.get("doseAndRate"))[:8]:
        entry = json_object(rate)
        if "doseQuantity" in entry:
            quantity = json_object(entry["doseQuantity"])
            break
        if "doseRange" in entry:
            quantity = json_object(json_object(entry["doseRange"]).get("high"))
            notes.append("the dose is a range: checked at its upper end")
            break
    if quantity is None and "doseQuantity" in dosage:  # DSTU2 MedicationOrder
        quantity = json_object(dosage["doseQuantity"])
    elif quantity is None and "doseRange" in dosage:
        quantity = json_object(json_object(dosage["doseRange"]).get("high"))
        notes.append("the dose is a range: checked at its upper end")
    dose: Decimal | None = None
    unit: str | None = None
    if quantity is None:
        problems.append("the dose per site (dosageInstruction.doseAndRate.doseQuantity) is missing")
    else:
        volume, mass = amount(quantity, VOLUME), amount(quantity, MASS)
        if volume is not None and volume > 0:
            dose, unit = volume, "mL"
        elif mass is not None and mass > 0:
            dose, unit = mass, "mg"
        else:
            shown = quantity_code(quantity)
            problems.append(
                f"the dose per site ({_shown(quantity.get('value'))} {shown or 'without unit'}) is not a positive "
                "amount in mL or mg within range"
            )
    sites = _sites(resource, dosage, problems, notes)
    return _Dosage(dose, unit, sites, tuple(problems), tuple(notes))


def _shown(value: object) -> str:
    text = repr(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else "no value"
    return text if len(text) <= 24 else text[:20] + "…"


def _sites(resource: Mapping[str, Any], dosage: Mapping[str, Any], problems: list[str], notes: list[str]) -> int | None:
    raw = json_object(json_object(dosage.get("timing")).get("repeat")).get("count")
    count = bounded_count(raw, largest=MAX_SITES)
    if raw is not None and count is None:
        problems.append(f"timing.repeat.count ({_shown(raw)}) is not a number of sites from 1 to {MAX_SITES}")
        return None
    texts = [dosage.get("text"), dosage.get("patientInstruction")]
    texts += [json_object(n).get("text") for n in json_array(resource.get("note"))[:8]]
    said: set[int] = set()
    for text in texts:
        if isinstance(text, str):
            said.update(int(m.group(1)) for m in _SITES.finditer(text[:2000]))
    if any(n < 1 or n > MAX_SITES for n in said):
        problems.append(f"the instructions name a number of sites outside 1 to {MAX_SITES}")
        return None
    if count is None and not said:
        problems.append('the number of sites (timing.repeat.count, or "N sites" in the instructions) is missing')
        return None
    candidates = ({count} if count is not None else set()) | said
    if len(candidates) > 1:
        notes.append(
            f"the order gives {', '.join(str(n) for n in sorted(candidates))} as the number of sites: "
            f"checked with the largest ({max(candidates)})"
        )
    elif count is None:
        notes.append(f"the number of sites ({max(candidates)}) was read from the instructions text")
    return max(candidates)


# --- the reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderReading:
    """One order read: ``agents`` the formulary agents it names (empty: not a TPI order);
    ``request`` a mixture request without patient, or None with ``problems``; ``least``
    the total dose per agent (mg) that can be read for certain, for an order that cannot
    be checked whole."""

    label: str
    agents: tuple[str, ...]
    request: dict[str, Any] | None
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    least: Mapping[str, Decimal] = field(default_factory=dict)
    volume_per_site: Decimal | None = None
    compound: bool = False


def order_label(resource: Mapping[str, Any], fallback: str) -> str:
    kind = resource.get("resourceType") if str(resource.get("resourceType")) in ORDER_TYPES else "order"
    ident = json_str(resource.get("id"), 64)
    return f"{kind}/{ident}" if ident else fallback


def read_order(
    resource: Mapping[str, Any],
    formulary: Formulary,
    tables: CodeTables,
    references: Mapping[str, Mapping[str, Any]],
    label: str,
) -> OrderReading:
    """Read one order (see the module docstring)."""
    medication, concept, problem = _resolve(resource, references)
    if medication is not None:
        ingredients = _ingredients(medication, formulary, tables)
        compound = len(json_array(medication.get("ingredient"))) > 1
    elif concept is not None:
        named = name_concept(concept, formulary, tables)
        ingredients = [_Ingredient(named, named.strength)]
        compound = False
    else:
        ingredients, compound = [], False
    problems: list[str] = [problem] if problem else []
    named_agents = [i.named.agent for i in ingredients if i.named.agent is not None]
    several = sorted({a for i in ingredients for a in i.named.several})
    agents = tuple(
        dict.fromkeys(
            [a.id for a in named_agents if a.agent_class is not AgentClass.DILUENT]
            + [a for a in several if formulary.agents_by_id[a].agent_class is not AgentClass.DILUENT]
        )
    )
    if not agents:
        return OrderReading(label, (), None)
    if several:
        problems.append(
            f"one code names several agents ({', '.join(several)}): list each as an ingredient with its strength"
        )
    dosage = _dosage(resource)
    problems += dosage.problems
    notes = list(dosage.notes)
    for ingredient in ingredients:
        if ingredient.named.agent is None and not ingredient.named.is_epinephrine and not ingredient.named.several:
            problems.append(f"{ingredient.named.label} is not in the formulary")
        if ingredient.unreadable_strength:
            problems.append(f"{ingredient.named.label}: the strength is not mass per volume within range")
    ids = [a.id for a in named_agents]
    if len(ids) != len(set(ids)):
        problems.append("an agent is listed twice")
    return _build(label, agents, ingredients, dosage, compound, problems, notes, formulary)


def _build(
    label: str,
    agents: tuple[str, ...],
    ingredients: Sequence[_Ingredient],
    dosage: _Dosage,
    compound: bool,
    problems: list[str],
    notes: list[str],
    formulary: Formulary,
) -> OrderReading:
    drugs = [i for i in ingredients if i.named.agent is not None]
    epinephrine_items = [i for i in ingredients if i.named.is_epinephrine and i.named.agent is None]
    sites_known = dosage.sites or 1
    least: dict[str, Decimal] = {}
    single = len(drugs) == 1 and not compound
    if dosage.dose is not None:
        for item in drugs:
            assert item.named.agent is not None
            agent = item.named.agent
            if dosage.unit == "mg" and single:
                least[agent.id] = dosage.dose * sites_known
            elif dosage.unit == "mL":
                strength = item.strength if item.strength is not None else min(agent.strengths_mg_per_ml)
                least[agent.id] = strength * dosage.dose * sites_known
    if dosage.unit == "mL" and dosage.dose is not None and dosage.dose > MAX_VOLUME_PER_SITE_ML:
        problems.append(
            f"{display.amount(dosage.dose, 'mL')} per site is more than {display.amount(MAX_VOLUME_PER_SITE_ML, 'mL')}"
        )
    if single and not problems:
        item = drugs[0]
        assert item.named.agent is not None
        agent = item.named.agent
        if item.strength is None and dosage.unit == "mL":
            problems.append(
                f"the strength of {agent.name} is not given (by product code, ingredient strength or a % in its "
                "name): a dose in mL cannot be turned into mg"
            )
    if problems or dosage.dose is None or dosage.sites is None:
        return OrderReading(label, agents, None, tuple(problems), tuple(notes), least, compound=compound)
    if single:
        return _single(label, agents, drugs[0], epinephrine_items, dosage, notes, least)
    return _compound(label, agents, drugs, epinephrine_items, dosage, notes, least, formulary)


def _single(
    label: str,
    agents: tuple[str, ...],
    item: _Ingredient,
    epinephrine_items: Sequence[_Ingredient],
    dosage: _Dosage,
    notes: list[str],
    least: Mapping[str, Decimal],
) -> OrderReading:
    agent = item.named.agent
    assert agent is not None
    assert dosage.dose is not None
    assert dosage.sites is not None
    strength = item.strength
    if strength is None:
        strength = agent.highest_strength
        notes.append(
            f"the strength of {agent.name} is not given: the dose in mg was checked, drawn from "
            f"{display.amount(strength, 'mg/mL')} (the highest stocked)"
        )
    component: dict[str, Any] = {"agent": agent.id, "concentration": Amount.of(strength, "mg/mL")}
    epinephrine = item.named.epinephrine
    if epinephrine is None and epinephrine_items and epinephrine_items[0].strength is not None:
        epinephrine = epinephrine_items[0].strength
    if epinephrine is not None:
        component["epinephrine"] = Amount.of(epinephrine, "mg/mL")
    elif epinephrine_items:
        return OrderReading(label, agents, None, ("the epinephrine's strength is not given",), tuple(notes), least)
    volume: Decimal | None
    if dosage.unit == "mL":
        component["volume_per_site"] = Amount.of(dosage.dose, "mL")
        volume = dosage.dose
    else:
        component["dose_per_site"] = Amount.of(dosage.dose, "mg")
        volume = dosage.dose / strength if strength else None
    request = {"sites": dosage.sites, "components": [component]}
    return OrderReading(label, agents, request, (), tuple(notes), least, volume_per_site=volume)


def _compound(
    label: str,
    agents: tuple[str, ...],
    drugs: Sequence[_Ingredient],
    epinephrine_items: Sequence[_Ingredient],
    dosage: _Dosage,
    notes: list[str],
    least: Mapping[str, Decimal],
    formulary: Formulary,
) -> OrderReading:
    assert dosage.dose is not None
    assert dosage.sites is not None
    problems: list[str] = []
    if dosage.unit != "mL":
        problems.append("a mixture's dose must be a volume per site (mL): a dose in mg does not say of which agent")
    for item in drugs:
        if item.strength is None:
            problems.append(f"{item.named.label}: no strength as mass per volume of the mixture")
    if problems:
        return OrderReading(label, agents, None, tuple(problems), tuple(notes), least, compound=True)
    volume = dosage.dose
    sites = dosage.sites
    components: list[dict[str, Any]] = []
    drawn = Decimal(0)
    per_site: list[Decimal] = []
    stock_of: dict[str, Decimal] = {}
    found: list[tuple[Agent, Decimal]] = []
    for item in drugs:
        agent = item.named.agent
        assert agent is not None
        assert item.strength is not None
        strength = item.strength
        found.append((agent, strength))
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
        per_site.append(dose / stock)
        component: dict[str, Any] = {"agent": agent.id, "concentration": Amount.of(stock, "mg/mL")}
        if agent.agent_class is AgentClass.DILUENT:
            component["volume_per_site"] = Amount.of(dose / stock, "mL")
        else:
            component["dose_per_site"] = Amount.of(dose, "mg")
        components.append(component)
    epinephrine = next((i.strength for i in epinephrine_items), None)
    if epinephrine_items and epinephrine is None:
        problems.append("the epinephrine's strength in the mixture is not given")
    if epinephrine is not None and not problems:
        matched = _epinephrine_product(found, epinephrine)
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
    if drawn > volume * Decimal("1.0001") and not problems:
        problems.append(
            f"the ingredients do not fit in {display.amount(volume, 'mL')} per site even at their highest "
            "stocked strengths"
        )
    if problems:
        return OrderReading(label, agents, None, tuple(problems), tuple(notes), least, compound=True)
    request: dict[str, Any] = {"sites": sites, "components": components}
    syringe = _closest_syringe(per_site, sites, formulary)
    if syringe is not None:
        request["syringe"] = Amount.of(syringe, "mL")
    notes.append(
        "the order does not name the stock strengths: doses were checked as ordered, drawn from "
        + ", ".join(f"{a.name} {display.amount(stock_of[a.id], 'mg/mL')}" for a, _ in found if a.id in stock_of)
        + "; preparation and product labeling were not checked"
    )
    return OrderReading(label, agents, request, (), tuple(notes), least, volume_per_site=volume, compound=True)


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
    found: Sequence[tuple[Agent, Decimal]], epinephrine: Decimal
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
