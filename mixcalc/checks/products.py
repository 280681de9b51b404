"""Rules on the products and the patient's conditions: off-label mixtures, conditions,
populations, incompatibilities, flocculation, routes, notices."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .. import display
from ..formulary import AgentClass, Selector
from .assessment import Assessment, Finding, Line, cited, names

__all__ = [
    "condition_rule",
    "flocculation_rule",
    "incompatibility_rule",
    "notice_rule",
    "off_label_mixture_rule",
    "population_rule",
    "route_rule",
]


def off_label_mixture_rule(a: Assessment) -> Iterator[Finding]:
    anesthetics = tuple(line.agent.id for line in a.lines if line.agent.agent_class is AgentClass.LOCAL_ANESTHETIC)
    if len(anesthetics) >= 2:
        yield Finding(
            "off_label_mixture",
            "info",
            anesthetics,
            "two or more local anesthetics share a syringe: mixing is not covered by the labels (off-label); "
            "their toxicity adds up",
            cited(a).off_label_mixture,
        )


def _concerned(selector: Selector, lines: Sequence[Line]) -> list[tuple[Line, bool]]:
    """The lines a selector concerns, each with True when only possibly (form unknown)."""
    found = []
    for line in lines:
        agent = line.agent
        if selector.agents and agent.id not in selector.agents:
            continue
        if selector.agent_class and agent.agent_class not in selector.agent_class:
            continue
        if selector.family and agent.family not in selector.family:
            continue
        if selector.with_epinephrine and line.epinephrine is None:
            continue
        if selector.contains:
            if any(c in line.contains for c in selector.contains):
                found.append((line, False))
            elif any(line.may_contain(c) for c in selector.contains):
                found.append((line, True))
            continue
        found.append((line, False))
    return found


def condition_rule(a: Assessment) -> Iterator[Finding]:
    if not a.patient.conditions:
        return
    for rule in a.formulary.conditions:
        if rule.condition not in a.patient.conditions:
            continue
        concerned = _concerned(rule.concerns, a.lines)
        certain = tuple(line.agent.id for line, maybe in concerned if not maybe)
        possible = tuple(line.agent.id for line, maybe in concerned if maybe)
        if certain:
            yield Finding(rule.code, rule.severity, certain, f"{rule.message} ({names(a, certain)})", rule.source)
        if possible:
            yield Finding(
                rule.code,
                "warning",
                possible,
                f"{rule.message.split(':')[0]}: some forms of {names(a, possible)} do; "
                "confirm the product used is free of it (give the component's form)",
                rule.source,
            )


def population_rule(a: Assessment) -> Iterator[Finding]:
    age = a.patient.age_days
    if age is None:
        yield from _populations_not_assessed(a)
        return
    for rule in a.formulary.populations:
        below, above, at_least = rule.age_below_days, rule.age_above_days, rule.age_at_least_days
        if below is not None and not age < below:
            continue
        if above is not None and not age > above:
            continue
        if at_least is not None and not age >= at_least:
            continue
        concerned = tuple(line.agent.id for line, _ in _concerned(rule.concerns, a.lines))
        if concerned:
            yield Finding(rule.code, rule.severity, concerned, f"{rule.message} ({names(a, concerned)})", rule.source)


def _populations_not_assessed(a: Assessment) -> Iterator[Finding]:
    """No age given: a critical age rule that could apply (the weight does not rule the
    age out) is named, so that leaving the age out never hides it."""
    for rule in a.formulary.populations:
        if rule.severity != "critical" or rule.age_below_days is None:
            continue
        if not a.patient.could_be_younger_than(rule.age_below_days):
            continue
        concerned = tuple(line.agent.id for line, _ in _concerned(rule.concerns, a.lines))
        if concerned:
            yield Finding(
                "population_not_assessed",
                "warning",
                concerned,
                f"age not given, and it matters: {rule.message} ({names(a, concerned)}); give the patient's age",
                rule.source,
            )


def incompatibility_rule(a: Assessment) -> Iterator[Finding]:
    present = [line.agent.id for line in a.lines]
    for pair in a.formulary.incompatibilities:
        first, second = pair.agents
        if first not in present:
            continue
        partners = [p for p in present if p != first] if second == "*" else [second] if second in present else []
        if partners:
            yield Finding("incompatible_mixture", pair.severity, (first, *partners), pair.message, pair.source)


def flocculation_rule(a: Assessment) -> Iterator[Finding]:
    depots = tuple(line.agent.id for line in a.lines if line.agent.depot)
    if not depots:
        return
    preservatives = a.formulary.mixing.flocculating_preservatives
    named = " or ".join(preservatives)
    anesthetics = [line for line in a.lines if line.agent.agent_class is AgentClass.LOCAL_ANESTHETIC]
    # Contains one of them; or may (no form given, and some form of the agent does: Line.may_contain).
    preserved = tuple(line.agent.id for line in anesthetics if not line.contains.isdisjoint(preservatives))
    maybe = tuple(
        line.agent.id
        for line in anesthetics
        if line.form is None and not line.agent.forms_contain.isdisjoint(preservatives)
    )
    if preserved:
        yield Finding(
            "preservative_flocculation",
            "warning",
            (*preserved, *depots),
            f"{named}-preserved (multi-dose) {names(a, preserved)} with depot steroid {names(a, depots)} "
            "may flocculate: use a preservative-free (MPF) local anesthetic",
            a.formulary.mixing.source,
        )
    elif maybe:
        yield Finding(
            "preservative_flocculation",
            "info",
            (*maybe, *depots),
            f"with depot steroid {names(a, depots)}, use preservative-free (MPF) {names(a, maybe)}: "
            f"{named}-preserved multi-dose vials may flocculate",
            a.formulary.mixing.source,
        )


def route_rule(a: Assessment) -> Iterator[Finding]:
    wanted = set(a.formulary.policy.tpi_routes)
    for line in a.lines:
        for label in line.agent.routes:
            if line.concentration not in label.strengths_mg_per_ml:
                continue
            if not wanted & set(label.routes) or wanted & set(label.not_for):
                strength = display.amount(line.concentration, "mg/mL")
                excluded = f"; not for {', '.join(label.not_for)}" if label.not_for else ""
                yield Finding(
                    "route_not_labeled",
                    "warning",
                    (line.agent.id,),
                    f"{line.agent.display_name} {strength} is labeled for {', '.join(label.routes)}{excluded}: "
                    "not labeled for trigger point (intramuscular / soft-tissue) injection",
                    label.source,
                )


def notice_rule(a: Assessment) -> Iterator[Finding]:
    for line in a.lines:
        for notice in line.agent.notices:
            yield Finding(notice.code, notice.severity, (line.agent.id,), notice.message, notice.source)
