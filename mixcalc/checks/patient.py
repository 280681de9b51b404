"""Rules on the patient: weight, dosing weight, age and the restrictions they trigger."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from .. import display, loads
from ..dosing import DosingWeight, max_dose
from ..growth import DAYS_PER_MONTH, implausible
from ..loads import LoadRules
from .assessment import Assessment, Finding, cited, names

__all__ = [
    "dosing_weight_rule",
    "implausible_patient_rule",
    "infant_presumed_rule",
    "restriction_rule",
    "weight_rule",
]


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
                f"{names(a, unstated)} without the weight (the adult cap is never a child's maximum); "
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
        yield Finding("dosing_weight_fallback", "warning", (), reason, cited(a).dosing_weight_fallback)
    elif a.weight.changed:
        yield Finding("dosing_weight_adjusted", "info", (), reason, cited(a).dosing_weight_adjusted)


def dosing_weight_rule(a: Assessment) -> Iterator[Finding]:
    """Height or sex missing, and knowing them could change the verdict: at the lowest
    lean body weight this weight could have over the obese range, an agent or a group
    would be near or over its maximum where it is not at the weight used."""
    lowest = a.lowest_weight
    if lowest is None or a.weight is None:
        return
    threshold = a.formulary.policy.near_limit_threshold
    at_lowest = DosingWeight(lowest.kg, "lean", lowest.reason)
    # Every dose's maximum at the lowest weight, worked out once: the mixture's components
    # (the lines, in the same order), then the agents given earlier only.
    rules = a.asked.rules
    epinephrine = [line.epinephrine is not None for line in a.lines]
    epinephrine += [False] * (len(rules.agents) - len(a.lines))
    lowered_limits = [
        max_dose(agent, with_epinephrine=with_epinephrine, weight=at_lowest, patient=a.patient)
        for agent, with_epinephrine in zip(rules.agents, epinephrine, strict=True)
    ]
    changed: list[str] = []
    worst = Decimal(0)
    for line, limit in zip(a.lines, lowered_limits, strict=False):  # the lines come first
        used = line.checked_fraction
        if used is None:
            continue
        if limit is None or limit.mg is None:
            continue
        low = line.checked_dose / limit.mg
        if _verdict(low, threshold) > _verdict(used, threshold):
            changed.append(line.agent.id)
            worst = max(worst, low)
    # Each group's load with every member's maximum at the lowest weight (prior doses of
    # agents outside the mixture included), computed by the one load calculation: the
    # plan's load rules with those maxima, for the doses as asked and as drawn.
    at_lowest_rules = LoadRules.of(
        rules.agents,
        lowered_limits,
        rules.prior,
        rules.in_mixture,
        groups=[members.group for members in rules.members],
        rule=a.formulary.policy.combination,
        cap=rules.cap,
    )
    lowered = {
        g.group.id: g.fraction
        for g in loads.group_loads(
            at_lowest_rules.load(a.asked.mg, a.asked.epinephrine_mg),
            at_lowest_rules.load(a.drawn.mg, a.drawn.epinephrine_mg),
        )
    }
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
            cited(a).dosing_weight_not_assessed,
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
    if patient.weight_kg is None or patient.age_days is None or patient.age_days >= growth.until_age_days:
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
        if limit is None or not limit.unassessed:
            continue
        fraction = line.checked_fraction
        if fraction is None:
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
