"""Rules on doses against their maxima: each agent's, each group's, epinephrine's."""

from __future__ import annotations

from collections.abc import Iterator

from .. import display
from .assessment import Assessment, Finding

__all__ = ["epinephrine_rule", "group_rule", "max_dose_rule"]


def max_dose_rule(a: Assessment) -> Iterator[Finding]:
    threshold = a.formulary.policy.near_limit_threshold
    for line in a.lines:
        fraction = line.checked_fraction
        if fraction is None or line.max_dose is None or line.max_dose.mg is None:
            continue  # no maximum, or one that cannot be stated (weight_required speaks for it)
        if fraction < threshold:
            continue  # neither near nor over: nothing to say
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
        else:
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
    elif max(asked, a.epinephrine_total) >= a.formulary.policy.near_limit_threshold * a.epinephrine_cap:
        # near the cap, like a dose near its maximum (the formulary's near-limit threshold)
        share = display.percent(max(asked, a.epinephrine_total) / a.epinephrine_cap)
        yield Finding(
            "epinephrine_limit_near",
            "warning",
            agents,
            f"total EPINEPHrine {total} is {share} of the {cap} limit per visit ({a.epinephrine_cap_reason}); "
            "avoid end-artery sites (digits, nose, ears)",
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
