"""Names: what a coded concept names (a formulary agent or epinephrine, and the product's
strength and epinephrine), by product code, ingredient code or name in text.

"lidocaine HCl 1 % injection" names lidocaine at 1 % (10 mg/mL); "lidocaine-epinephrine
1 %-1:100,000" adds epinephrine 0.01 mg/mL.  Names match as whole words, so procaine is
not chloroprocaine; a text naming two agents names none (it is not guessed).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..formulary import Agent, Formulary
from .codes import CodeTables, normal_words
from .jsonsafe import json_array, json_object, json_str
from .write import RXNORM

__all__ = ["Named", "name_concept"]

_PERCENT = re.compile(r"(?<![\d.])(\d{1,2}(?:\.\d{1,3})?)\s*%")
_MG_PER_ML = re.compile(r"(?<![\d.])(\d{1,4}(?:\.\d{1,3})?)\s*mg\s*/\s*(\d{1,3}(?:\.\d{1,3})?)?\s*ml\b", re.I)
_RATIO = re.compile(r"(?<![\d.])1\s*:\s*(\d{1,3}(?:,\d{3})+|\d{3,7})(?![\d,])")


@dataclass(frozen=True, slots=True)
class Named:
    """What one coded concept names: a formulary agent (or epinephrine), the strength and
    epinephrine of the product when the code or text says, and how it was recognised."""

    label: str
    agent: Agent | None = None
    strength: Decimal | None = None  # mg/mL
    epinephrine: Decimal | None = None  # mg/mL
    is_epinephrine: bool = False
    how: str = ""
    several: tuple[str, ...] = ()  # more than one agent named in one concept


def _concept_label(concept: Mapping[str, Any]) -> str:
    text = json_str(concept.get("text"), 80)
    if text is not None:
        return text.strip()
    for coding in json_array(concept.get("coding")):
        shown = json_str(json_object(coding).get("display"), 80) or json_str(json_object(coding).get("code"), 40)
        if shown is not None:
            return shown
    return "an unnamed medication"


def _text_strength(text: str) -> Decimal | None:
    """The one strength a product's name states (1 % -> 10 mg/mL; 40 mg/mL), or None."""
    found: set[Decimal] = set()
    for match in _PERCENT.finditer(text):
        found.add(Decimal(match.group(1)) * 10)
    for match in _MG_PER_ML.finditer(text):
        per = Decimal(match.group(2)) if match.group(2) else Decimal(1)
        if per != 0:
            found.add(Decimal(match.group(1)) / per)
    return found.pop() if len(found) == 1 else None


def _text_epinephrine(text: str) -> Decimal | None:
    """The epinephrine ratio a product's name states (1:100,000 -> 0.01 mg/mL)."""
    ratios = {Decimal(m.group(1).replace(",", "")) for m in _RATIO.finditer(text)}
    if len(ratios) != 1:
        return None
    return Decimal(1000) / ratios.pop()


def name_concept(concept: Mapping[str, Any], formulary: Formulary, tables: CodeTables) -> Named:
    """What a CodeableConcept names (see the module docstring)."""
    label = _concept_label(concept)
    codings = [json_object(c) for c in json_array(concept.get("coding"))][:32]
    for coding in codings:
        system, code = json_str(coding.get("system"), 200), json_str(coding.get("code"), 64)
        for product in tables.products:
            if product.matches(system, code) and product.agent in formulary.agents_by_id:
                return Named(
                    label,
                    formulary.agents_by_id[product.agent],
                    product.strength_mg_per_ml,
                    product.epinephrine_mg_per_ml,
                    how=f"product code {code}",
                )
    texts = [label] + [t for c in codings if (t := json_str(c.get("display"), 200)) is not None]
    words = normal_words(" ".join(texts))
    joined = " ".join(texts)
    agent: Agent | None = None
    how = ""
    for coding in codings:
        system, code = json_str(coding.get("system"), 200), json_str(coding.get("code"), 64)
        for entry in tables.agents:
            if entry.agent in formulary.agents_by_id and entry.matches_code(system, code):
                agent, how = formulary.agents_by_id[entry.agent], f"code {code}"
                break
        else:
            if system == RXNORM and code is not None:
                agent = next((a for a in formulary.agents if a.rxnorm == code), None)
                how = f"RxNorm {code}" if agent else ""
        if agent is not None:
            break
    named_by_text = [
        formulary.agents_by_id[entry.agent]
        for entry in tables.agents
        if entry.agent in formulary.agents_by_id and entry.matches_text(words) is not None
    ]
    named_ids = {a.id for a in named_by_text}  # whole words: "levobupivacaine" is not "bupivacaine"
    if agent is None:
        if len(named_ids) > 1:
            return Named(label, several=tuple(sorted(named_ids)))
        if named_ids:
            agent, how = formulary.agents_by_id[named_ids.pop()], "name in text"
    epinephrine_named = any(tables.epinephrine.matches_code(c.get("system"), c.get("code")) for c in codings) or (
        tables.epinephrine.matches_text(words) is not None
    )
    if agent is None:
        return Named(label, is_epinephrine=epinephrine_named, how="epinephrine" if epinephrine_named else "")
    epinephrine = _text_epinephrine(joined) if epinephrine_named else None
    return Named(label, agent, _text_strength(joined), epinephrine, how=how)
