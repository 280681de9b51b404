"""Checks: the warnings a pharmacist checking the syringe would raise.

Each rule is a small function over the computed :class:`Assessment` that yields
:class:`Finding` values; :func:`findings` runs them all and orders the result by
severity.  A breach of a limit is a critical finding, never an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from . import display, loads
from .dosing import DosingWeight, LowestWeight, PatientFacts, PatientMaxDose, max_dose
from .formulary import Agent, AgentClass, Form, Formulary, RuleSources, Selector, Syringe
from .growth import DAYS_PER_MONTH, implausible
from .loads import GroupLoad, Load
from .mixture import FilledSyringe
from .units import DAY, MG_PER_ML, ML

__all__ = ["Assessment", "Finding", "GroupLoad", "Line", "findings"]

Severity = Literal["info", "warning", "critical"]
_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    agents: tuple[str, ...]
    message: str
    source: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Line:
    """One component as computed: stock, volumes and doses delivered, its limit."""

    agent: Agent
    concentration: Decimal  # mg/mL
    epinephrine: Decimal | None  # mg/mL of epinephrine in the product
    nonstandard: bool
    requested_volume_per_site: Decimal  # mL
    total_volume: Decimal  # mL delivered, after rounding
    total_dose: Decimal  # mg delivered, after rounding
    prior_dose: Decimal  # mg already given today
    max_dose: PatientMaxDose | None
    form: Form | None = None
    #: What the product used contains (from its form and its epinephrine product).
    contains: frozenset[str] = frozenset()

    def may_contain(self, what: str) -> bool:
        """True when the form is not given and some form of the agent contains ``what``."""
        return self.form is None and any(what in f.contains for f in self.agent.forms)

    sites: int = 1

    @property
    def fraction(self) -> Decimal | None:
        """(delivered dose + prior dose) / maximum: what the answer reports."""
        return loads.fraction(self.total_dose + self.prior_dose, self.max_dose)

    @property
    def checked_dose(self) -> Decimal:
        """The larger of the dose asked for and the dose delivered after rounding, plus
        the prior dose: warnings judge this, so that rounding down to a coarse
        graduation never hides a warning the plan as asked deserves."""
        asked = self.requested_volume_per_site * self.sites * self.concentration
        return max(asked, self.total_dose) + self.prior_dose

    @property
    def checked_fraction(self) -> Decimal | None:
        return loads.fraction(self.checked_dose, self.max_dose)


@dataclass(frozen=True, slots=True)
class Assessment:
    formulary: Formulary
    sites: int
    lines: Sequence[Line]
    #: Each group's load as asked and as drawn (:func:`mixcalc.loads.group_loads`).
    groups: Sequence[GroupLoad]
    weight: DosingWeight | None
    patient: PatientFacts
    epinephrine_total: Decimal | None  # mg
    epinephrine_cap: Decimal | None  # mg
    epinephrine_cap_reason: str
    rounded: Sequence[tuple[str, Decimal, Decimal]]  # agent, requested total mL, drawn mL
    syringe_site_counts: Sequence[int]
    #: The loads as asked and as drawn (:mod:`mixcalc.loads`).
    asked: Load
    drawn: Load
    #: The mixing syringe, and what goes into each of them (draws in the order of ``lines``).
    mixing: Syringe
    filled: Sequence[FilledSyringe]
    #: With height or sex missing, the lowest weight the patient could be dosed on.
    lowest_weight: LowestWeight | None = None


Rule = Callable[[Assessment], Iterator[Finding]]


def _cited(a: Assessment) -> RuleSources:
    """The sources of the rules whose findings no formulary number cites (formulary data:
    ``[rule_sources]``, checked at start-up)."""
    return a.formulary.rule_sources


def max_dose_rule(a: Assessment) -> Iterator[Finding]:
    threshold = a.formulary.policy.near_limit_threshold
    for line in a.lines:
        fraction = line.checked_fraction
        if fraction is None or line.max_dose is None or line.max_dose.mg is None:
            continue  # no maximum, or one that cannot be stated (weight_required speaks for it)
        name = line.agent.display_name
        given = display.amount(line.checked_dose, "mg")
        limit = display.amount(line.max_dose.mg, "mg")
        prior = f" (including {display.amount(line.prior_dose, 'mg')} given earlier today)" if line.prior_dose else ""
        if fraction > 1:
            yield Finding(
                "max_dose_exceeded",
                "critical",
                (line.agent.id,),
                f"{name} {given}{prior} is {display.percent(fraction)} of its maximum {limit} for this patient",
                line.max_dose.sources,
            )
        elif fraction >= threshold:
            yield Finding(
                "max_dose_near",
                "warning",
                (line.agent.id,),
                f"{name} {given}{prior} is {display.percent(fraction)} of its maximum {limit}",
                line.max_dose.sources,
            )


def group_rule(a: Assessment) -> Iterator[Finding]:
    """A group's load is judged on the larger of its sum as asked and its sum as drawn,
    each taken whole (the same number the answer reports as the group's fraction)."""
    threshold = a.formulary.policy.near_limit_threshold
    for load in a.groups:
        fraction = load.fraction
        if len(load.agents) < 2 or fraction is None:
            continue  # a single agent's own rule speaks for it; an unstated maximum has its own finding
        name = load.group.name.lower()
        how = "sum of fractions" if load.rule == "additive" else "whole mixture as the most toxic agent"
        both = ""
        if load.asked is not None and load.drawn is not None and load.asked != load.drawn:
            both = f"; {display.percent(load.asked)} as asked, {display.percent(load.drawn)} as drawn"
        if fraction > 1:
            yield Finding(
                f"combined_{load.group.code}_exceeded",
                "critical",
                load.agents,
                f"combined {name} load is {display.percent(fraction)} of the maximum ({how}{both}), "
                "even if each agent alone is under its own",
                load.group.source,
            )
        elif fraction >= threshold:
            yield Finding(
                f"combined_{load.group.code}_near",
                "warning",
                load.agents,
                f"combined {name} load is {display.percent(fraction)} of the maximum ({how}{both})",
                load.group.source,
            )


def weight_rule(a: Assessment) -> Iterator[Finding]:
    if a.weight is None:
        unstated = tuple(line.agent.id for line in a.lines if line.max_dose is not None and line.max_dose.mg is None)
        if unstated:
            sources = tuple(
                dict.fromkeys(
                    s for line in a.lines if line.max_dose and line.max_dose.mg is None for s in line.max_dose.why
                )
            )
            yield Finding(
                "weight_required",
                "critical",
                unstated,
                f"weight needed: a child's maximum is weight-based, so no maximum can be stated for "
                f"{', '.join(unstated)} without the weight (the adult cap is never a child's maximum); "
                "give the patient's weight",
                sources,
            )
        needs_weight = tuple(
            line.agent.id
            for line in a.lines
            if line.agent.id not in unstated
            and line.agent.max_dose is not None
            and any(
                r is not None and r.per_kg is not None
                for r in (line.agent.max_dose.plain, line.agent.max_dose.epinephrine)
            )
        )
        if needs_weight:
            child = "" if a.patient.age_days is not None else "; no age given either: a child cannot be ruled out"
            yield Finding(
                "weight_missing",
                "warning",
                needs_weight,
                "no weight given: only the absolute caps were applied; a smaller patient's maximum may be lower"
                f"{child}: give the patient's weight",
            )
        return
    reason = f"dosing weight: {a.weight.reason}"
    if a.weight.fell_back:
        yield Finding("dosing_weight_fallback", "warning", (), reason, _cited(a).dosing_weight_fallback)
    elif a.weight.changed:
        yield Finding("dosing_weight_adjusted", "info", (), reason, _cited(a).dosing_weight_adjusted)


def dosing_weight_rule(a: Assessment) -> Iterator[Finding]:
    """Height or sex missing, and knowing them could change the verdict: at the lowest
    lean body weight this weight could have over the obese range, an agent or a group
    would be near or over its maximum where it is not at the weight used."""
    lowest = a.lowest_weight
    if lowest is None or a.weight is None:
        return
    threshold = a.formulary.policy.near_limit_threshold
    at_lowest = DosingWeight(lowest.kg, "lean", lowest.reason)
    changed: list[str] = []
    worst = Decimal(0)
    for line in a.lines:
        used = line.checked_fraction
        if used is None:
            continue
        limit = max_dose(line.agent, with_epinephrine=line.epinephrine is not None, weight=at_lowest, patient=a.patient)
        if limit is None or limit.mg is None:
            continue
        low = line.checked_dose / limit.mg
        if _verdict(low, threshold) > _verdict(used, threshold):
            changed.append(line.agent.id)
            worst = max(worst, low)
    # Each group's load with every member's maximum at the lowest weight (prior doses of
    # agents outside the mixture included), computed by the one load calculation.
    epinephrine = {line.agent.id: line.epinephrine is not None for line in a.lines}

    def at_lowest_weight(load: Load) -> Load:
        doses = tuple(
            replace(
                dose,
                limit=max_dose(
                    dose.agent,
                    with_epinephrine=epinephrine.get(dose.agent.id, False),
                    weight=at_lowest,
                    patient=a.patient,
                ),
            )
            for dose in load.doses
        )
        groups = tuple({g.group.id: g.group for g in load.groups}.values())
        return loads.load(
            doses,
            groups=groups,
            rule=a.formulary.policy.combination,
            epinephrine_mg=load.epinephrine_mg,
            cap=load.epinephrine_cap,
        )

    lowered = {g.group.id: g.fraction for g in loads.group_loads(at_lowest_weight(a.asked), at_lowest_weight(a.drawn))}
    for group_load in a.groups:
        now, then = group_load.fraction, lowered.get(group_load.group.id)
        if now is None or then is None or len(group_load.agents) < 2:
            continue
        if _verdict(then, threshold) > _verdict(now, threshold):
            changed.extend(agent for agent in group_load.agents if agent not in changed)
            worst = max(worst, then)
    if changed:
        yield Finding(
            "dosing_weight_not_assessed",
            "warning",
            tuple(changed),
            f"dosing weight not assessed: {lowest.missing} not given; {lowest.reason}, and then the plan "
            f"could be up to {display.percent(worst)} of a maximum; give the patient's {lowest.missing} to check",
            _cited(a).dosing_weight_not_assessed,
        )


def _verdict(fraction: Decimal, threshold: Decimal) -> int:
    """0 under the near threshold, 1 near, 2 over."""
    return 2 if fraction > 1 else 1 if fraction >= threshold else 0


def infant_presumed_rule(a: Assessment) -> Iterator[Finding]:
    presumed = tuple(line.agent.id for line in a.lines if line.max_dose is not None and line.max_dose.presumed)
    if presumed:
        reasons = sorted({r for line in a.lines if line.max_dose for r in line.max_dose.presumed})
        sources = tuple(dict.fromkeys(s for line in a.lines if line.max_dose for s in line.max_dose.why))
        yield Finding(
            "infant_dose_presumed",
            "warning",
            presumed,
            f"age not given: {'; '.join(reasons)}; give the patient's age",
            sources,
        )


def implausible_patient_rule(a: Assessment) -> Iterator[Finding]:
    """An age and a weight that cannot belong together (CDC 2000 weight-for-age, modified
    z-score outside the formulary's cut-offs; with the sex unknown, for both sexes)."""
    patient, growth = a.patient, a.formulary.growth
    if patient.weight_kg is None or patient.age_days is None or patient.age_days >= growth.until_age.in_(DAY):
        return
    found = implausible(
        weight_kg=patient.weight_kg,
        age_days=patient.age_days,
        sex=patient.sex,
        z_below=growth.modified_z_below,
        z_above=growth.modified_z_above,
    )
    if found is None:
        return
    z, sex = found
    who = f"a {'boy' if sex == 'male' else 'girl'}" if patient.sex is not None else "a child of either sex"
    bound = growth.modified_z_below if z < 0 else growth.modified_z_above
    yield Finding(
        "implausible_patient",
        "critical",
        (),
        f"the weight {display.amount(patient.weight_kg, 'kg')} cannot belong to {who} aged {_age(patient.age_days)}: "
        f"CDC 2000 weight-for-age modified z-score {z:+.1f}, beyond {bound:+} (biologically implausible); "
        "check the age and the weight before using any number here",
        growth.source,
    )


def _age(days: Decimal) -> str:
    if days < 2 * 365:
        return f"{display.number(days / DAYS_PER_MONTH, places=Decimal('0.1'))} months"
    return f"{display.number(days / Decimal('365.25'), places=Decimal('0.1'))} years"


def restriction_rule(a: Assessment) -> Iterator[Finding]:
    """A lower maximum that could not be assessed (age or weight unknown) is raised only
    where it would change the verdict: the dose would be near or over that maximum."""
    threshold = a.formulary.policy.near_limit_threshold
    for line in a.lines:
        limit = line.max_dose
        fraction = line.checked_fraction
        if limit is None or fraction is None or not limit.unassessed:
            continue
        given, lowest = line.checked_dose, limit.lowest_possible
        if lowest is None:
            continue
        if given / lowest >= threshold > fraction or given / lowest > 1 >= fraction:
            yield Finding(
                "max_dose_restriction_not_assessed",
                "warning",
                (line.agent.id,),
                f"{line.agent.display_name} {display.amount(given, 'mg')} would be "
                f"{display.percent(given / lowest)} of a lower maximum "
                f"({display.amount(lowest, 'mg')}) that applies for: {'; '.join(limit.unassessed)}; "
                "give the patient's age and weight to check",
                limit.sources,
            )


def concentration_rule(a: Assessment) -> Iterator[Finding]:
    for line in a.lines:
        if line.nonstandard:
            stocked = ", ".join(
                display.strength(s, percent=line.agent.agent_class in _PERCENT)
                for s in sorted(line.agent.strengths_mg_per_ml)
            )
            yield Finding(
                "nonstandard_concentration",
                "warning",
                (line.agent.id,),
                f"{line.agent.display_name} {display.amount(line.concentration, 'mg/mL')} is not a stocked "
                f"strength (stocked: {stocked}); check the vial",
            )


def rounding_rule(a: Assessment) -> Iterator[Finding]:
    changed = [(agent, want, got) for agent, want, got in a.rounded if want != got]
    if changed:
        parts = "; ".join(
            f"{agent}: {display.amount(want, 'mL')} asked, {display.amount(got, 'mL')} drawn"
            for agent, want, got in changed
        )
        yield Finding(
            "volume_rounded",
            "info",
            tuple(dict.fromkeys(agent for agent, _, _ in changed)),
            f"volumes rounded to the syringe graduation; doses are those delivered: {parts}",
            _cited(a).volume_rounded,
        )


def _ml(volume: Decimal) -> str:
    return display.amount(volume, "mL")


def _syringe_name(capacity: Decimal, graduation: Decimal) -> str:
    return f"a {_ml(capacity)} syringe (graduated in {_ml(graduation)})"


def separate_syringe_rule(a: Assessment) -> Iterator[Finding]:
    """Say each draw measured in a separate, finer syringe: the step a preparer must take."""
    steps, agents = [], []
    for number, syringe in enumerate(a.filled, start=1):
        for line, draw in zip(a.lines, syringe.draws, strict=True):
            if draw.measured_in is None:
                continue
            where = _syringe_name(draw.measured_in.capacity.in_(ML), draw.measured_in.graduation.in_(ML))
            steps.append(f"draw {line.agent.display_name} {_ml(draw.volume)} in {where}, add it to syringe {number}")
            agents.append(line.agent.id)
    if steps:
        yield Finding(
            "draw_measured_separately",
            "info",
            tuple(dict.fromkeys(agents)),
            f"the {_ml(a.mixing.capacity.in_(ML))} mixing syringe, graduated in {_ml(a.mixing.graduation.in_(ML))}, "
            f"cannot measure every draw within {display.percent(a.formulary.policy.draw_tolerance)}: "
            + "; ".join(steps),
            _cited(a).draw_measured_separately,
        )


def draw_tolerance_rule(a: Assessment) -> Iterator[Finding]:
    """A draw no syringe of the formulary measures within the tolerance: a warning, critical
    when it delivers more of a dose-limited agent than asked by more than the tolerance."""
    tolerance = a.formulary.policy.draw_tolerance
    parts, agents, over = [], [], False
    for number, syringe in enumerate(a.filled, start=1):
        for line, draw in zip(a.lines, syringe.draws, strict=True):
            if draw.deviation <= tolerance:
                continue
            more = draw.volume > draw.asked
            over = over or (more and line.agent.agent_class is not AgentClass.DILUENT)
            sign = "+" if more else "-"
            parts.append(
                f"{line.agent.display_name} in syringe {number}: {_ml(draw.asked)} asked, {_ml(draw.volume)} drawn "
                f"({sign}{display.percent(draw.deviation)})"
            )
            agents.append(line.agent.id)
    if parts:
        yield Finding(
            "draw_outside_tolerance",
            "critical" if over else "warning",
            tuple(dict.fromkeys(agents)),
            f"no syringe in the formulary measures these draws within {display.percent(tolerance)} of the volume "
            f"asked: {'; '.join(parts)}; doses reported are those drawn"
            + ("; more is delivered than asked" if over else ""),
            _cited(a).draw_outside_tolerance,
        )


def epinephrine_rule(a: Assessment) -> Iterator[Finding]:
    if a.epinephrine_total is None or a.epinephrine_cap is None:
        return
    agents = tuple(line.agent.id for line in a.lines if line.epinephrine is not None)
    total = display.amount(a.epinephrine_total * 1000, "ug")
    cap = display.amount(a.epinephrine_cap * 1000, "ug")
    source = a.formulary.epinephrine.source
    # Judged, like the doses, on the larger of what was asked and what is drawn.
    asked = a.asked.epinephrine_mg if a.asked.epinephrine_mg is not None else a.epinephrine_total
    if max(asked, a.epinephrine_total) > a.epinephrine_cap:
        as_asked = "" if asked <= a.epinephrine_total else f" ({display.amount(asked * 1000, 'ug')} as asked)"
        yield Finding(
            "epinephrine_limit_exceeded",
            "critical",
            agents,
            f"total EPINEPHrine {total}{as_asked} is over the {cap} limit per visit ({a.epinephrine_cap_reason})",
            source,
        )
    else:
        yield Finding(
            "epinephrine_total",
            "info",
            agents,
            f"total EPINEPHrine {total} of the {cap} limit per visit ({a.epinephrine_cap_reason}); "
            "avoid end-artery sites (digits, nose, ears)",
            source,
        )


def off_label_mixture_rule(a: Assessment) -> Iterator[Finding]:
    anesthetics = tuple(line.agent.id for line in a.lines if line.agent.agent_class is AgentClass.LOCAL_ANESTHETIC)
    if len(anesthetics) >= 2:
        yield Finding(
            "off_label_mixture",
            "info",
            anesthetics,
            "two or more local anesthetics share a syringe: mixing is not covered by the labels (off-label); "
            "their toxicity adds up",
            _cited(a).off_label_mixture,
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
    for rule in a.formulary.conditions:
        if rule.condition not in a.patient.conditions:
            continue
        concerned = _concerned(rule.concerns, a.lines)
        certain = tuple(line.agent.id for line, maybe in concerned if not maybe)
        possible = tuple(line.agent.id for line, maybe in concerned if maybe)
        if certain:
            yield Finding(rule.code, rule.severity, certain, f"{rule.message} ({', '.join(certain)})", rule.source)
        if possible:
            yield Finding(
                rule.code,
                "warning",
                possible,
                f"{rule.message.split(':')[0]}: some forms of {', '.join(possible)} do; "
                "confirm the product used is free of it (give the component's form)",
                rule.source,
            )


def population_rule(a: Assessment) -> Iterator[Finding]:
    age = a.patient.age_days
    if age is None:
        yield from _populations_not_assessed(a)
        return
    for rule in a.formulary.populations:
        if rule.age_below is not None and not age < rule.age_below.in_(DAY):
            continue
        if rule.age_above is not None and not age > rule.age_above.in_(DAY):
            continue
        if rule.age_at_least is not None and not age >= rule.age_at_least.in_(DAY):
            continue
        concerned = tuple(line.agent.id for line, _ in _concerned(rule.concerns, a.lines))
        if concerned:
            yield Finding(rule.code, rule.severity, concerned, f"{rule.message} ({', '.join(concerned)})", rule.source)


def _populations_not_assessed(a: Assessment) -> Iterator[Finding]:
    """No age given: a critical age rule that could apply (the weight does not rule the
    age out) is named, so that leaving the age out never hides it."""
    for rule in a.formulary.populations:
        if rule.severity != "critical" or rule.age_below is None:
            continue
        if not a.patient.could_be_younger_than(rule.age_below.in_(DAY)):
            continue
        concerned = tuple(line.agent.id for line, _ in _concerned(rule.concerns, a.lines))
        if concerned:
            yield Finding(
                "population_not_assessed",
                "warning",
                concerned,
                f"age not given, and it matters: {rule.message} ({', '.join(concerned)}); give the patient's age",
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
    preserved = tuple(line.agent.id for line in anesthetics if any(p in line.contains for p in preservatives))
    maybe = tuple(line.agent.id for line in anesthetics if any(line.may_contain(p) for p in preservatives))
    if preserved:
        yield Finding(
            "preservative_flocculation",
            "warning",
            (*preserved, *depots),
            f"{named}-preserved (multi-dose) {', '.join(preserved)} with depot steroid {', '.join(depots)} "
            "may flocculate: use a preservative-free (MPF) local anesthetic",
            a.formulary.mixing.source,
        )
    elif maybe:
        yield Finding(
            "preservative_flocculation",
            "info",
            (*maybe, *depots),
            f"with depot steroid {', '.join(depots)}, use preservative-free (MPF) {', '.join(maybe)}: "
            f"{named}-preserved multi-dose vials may flocculate",
            a.formulary.mixing.source,
        )


def route_rule(a: Assessment) -> Iterator[Finding]:
    wanted = set(a.formulary.policy.tpi_routes)
    for line in a.lines:
        for label in line.agent.routes:
            if line.concentration not in {s.in_(MG_PER_ML) for s in label.strengths}:
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


_PERCENT = frozenset({AgentClass.LOCAL_ANESTHETIC, AgentClass.DILUENT})

RULES: tuple[Rule, ...] = (
    max_dose_rule,
    group_rule,
    epinephrine_rule,
    weight_rule,
    dosing_weight_rule,
    infant_presumed_rule,
    implausible_patient_rule,
    restriction_rule,
    concentration_rule,
    rounding_rule,
    separate_syringe_rule,
    draw_tolerance_rule,
    off_label_mixture_rule,
    condition_rule,
    population_rule,
    incompatibility_rule,
    flocculation_rule,
    route_rule,
    notice_rule,
)


def findings(assessment: Assessment, rules: Sequence[Rule] = RULES) -> list[Finding]:
    """Every finding of every rule, most severe first (stable within a severity)."""
    found = [f for rule in rules for f in rule(assessment)]
    found.sort(key=lambda f: _RANK[f.severity])
    return found
