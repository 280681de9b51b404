"""Step 2 of 3, plan: pure computation on the resolved request's exact values.

:func:`plan_mixture` is the documented entry point of the core.  It takes the same
request as ``POST /v1/mixtures`` (a :class:`~mixcalc.schema.MixtureRequest` or the
equivalent JSON-like mapping) and returns the same answer
(:class:`~mixcalc.schema.MixtureResponse`) in three steps:
:func:`mixcalc.resolve.resolve` (request → :class:`~mixcalc.resolve.Resolved`),
:func:`compute` (→ :class:`Plan`: maximum doses, draws, loads, checks, the largest volume
per site, the lipid rescue) and :func:`mixcalc.answer.answer` (→ the JSON contract, every
number rounded by :mod:`mixcalc.display`).  It raises :class:`~mixcalc.errors.PlanError`
for what cannot be computed and :class:`pydantic.ValidationError` for a mapping that is
not a valid request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from . import display, headroom
from .answer import answer, answer_json
from .checks import Assessment, Finding, Line, findings
from .dosing import PatientMaxDose, lowest_weight, max_dose
from .errors import ComponentNotComputable, PlanError
from .formulary import Formulary, default_formulary
from .loads import Load, LoadRules, crossed, epinephrine_cap, group_loads
from .mixture import FilledSyringe, SyringePlan, fill_syringes, plan_syringes
from .rescue import RescuePlan, lipid_rescue
from .resolve import Resolved, resolve
from .schema import MAX_VOLUME_PER_SITE_ML, MixtureRequest, MixtureResponse
from .units import ML

__all__ = ["Plan", "compute", "plan_mixture", "plan_mixture_json"]


def plan_mixture(request: MixtureRequest | Mapping[str, Any], formulary: Formulary | None = None) -> MixtureResponse:
    """Compute and check a TPI mixture: what to draw into each syringe, the doses, each
    agent's share of its maximum for this patient, and the warnings."""
    if not isinstance(request, MixtureRequest):
        request = MixtureRequest.model_validate(request)
    formulary = formulary or default_formulary()
    return answer(compute(resolve(request, formulary), formulary))


def plan_mixture_json(request: MixtureRequest, formulary: Formulary) -> bytes:
    """What the HTTP shell sends for a validated ``request``: the bytes of
    ``plan_mixture(request, formulary).model_dump_json()``."""
    return answer_json(compute(resolve(request, formulary), formulary))


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the answer states, as exact values."""

    formulary: Formulary
    resolved: Resolved
    assessment: Assessment
    syringes: SyringePlan
    findings: tuple[Finding, ...]
    #: The largest volume per site that breaks no limit (mL), None when it cannot be stated.
    max_volume_per_site: Decimal | None
    rescue: RescuePlan | None


@dataclass(frozen=True, slots=True)
class _Limits:
    """What the loads of one request are judged against, worked out once per request:
    each component's maximum and its dose given earlier today (both in the order of the
    components), and the rules of its loads (:class:`~mixcalc.loads.LoadRules`: those
    and the doses given earlier today of agents outside the mixture, the groups, the
    epinephrine cap)."""

    maxima: tuple[PatientMaxDose | None, ...]
    prior: tuple[Decimal, ...]  # mg, per component
    rules: LoadRules
    #: The mg of the doses given earlier only, after the components' (all 0).
    earlier: tuple[Decimal, ...]
    #: The components' strengths (mg/mL) and epinephrine (mg/mL; None without), in order.
    concentrations: tuple[Decimal, ...]
    epinephrine: tuple[Decimal | None, ...]
    #: Whether a component is an epinephrine product (else the loads have no epinephrine total).
    with_epinephrine: bool


@dataclass(frozen=True, slots=True)
class _Drawn:
    """The syringes and draws of a plan, with its loads as asked and as drawn."""

    syringes: SyringePlan
    filled: tuple[FilledSyringe, ...]
    totals: tuple[Decimal, ...]  # mL of each component drawn, all syringes together
    asked: Load
    drawn: Load


def compute(resolved: Resolved, formulary: Formulary) -> Plan:
    """The plan of a resolved request: doses, draws, loads, findings, headroom, rescue."""
    limits = _limits(resolved, formulary)
    drawn = _draw(resolved, [c.volume_per_site for c in resolved.components], formulary, limits)
    assessment = _assessment(resolved, formulary, limits, drawn)
    return Plan(
        formulary=formulary,
        resolved=resolved,
        assessment=assessment,
        syringes=drawn.syringes,
        findings=tuple(findings(assessment)),
        max_volume_per_site=_max_volume_per_site(resolved, formulary, limits, assessment),
        rescue=_rescue(formulary, assessment),
    )


def _limits(resolved: Resolved, formulary: Formulary) -> _Limits:
    weight, patient, components = resolved.weight, resolved.patient, resolved.components
    maxima = tuple(
        max_dose(c.agent, with_epinephrine=c.epinephrine is not None, weight=weight, patient=patient)
        for c in components
    )
    nothing = Decimal(0)
    prior = tuple(resolved.prior.get(c.agent.id, nothing) for c in components)
    in_mixture = {c.agent.id for c in components}
    # A dose given earlier today of an agent not in this mixture counts against that
    # agent's plain maximum for this patient [S55].
    earlier = [
        (formulary.agents_by_id[agent_id], dose)
        for agent_id, dose in resolved.prior.items()
        if agent_id not in in_mixture
    ]
    rules = LoadRules.of(
        [c.agent for c in components] + [agent for agent, _ in earlier],
        maxima + tuple(max_dose(agent, with_epinephrine=False, weight=weight, patient=patient) for agent, _ in earlier),
        prior + tuple(dose for _, dose in earlier),
        [True] * len(components) + [False] * len(earlier),
        groups=formulary.groups,
        rule=formulary.policy.combination,
        cap=epinephrine_cap(formulary.epinephrine, patient.conditions),
    )
    epinephrine = tuple(c.epinephrine for c in components)
    return _Limits(
        maxima,
        prior,
        rules,
        (nothing,) * len(earlier),
        tuple(c.concentration for c in components),
        epinephrine,
        any(epinephrine),
    )


def _load(limits: _Limits, totals: Sequence[Decimal]) -> Load:
    """The loads of these total volumes (mL per component, in the components' order)."""
    epinephrine = None
    if limits.with_epinephrine:
        for per_ml, total in zip(limits.epinephrine, totals, strict=True):
            if per_ml:
                epinephrine = (Decimal(0) if epinephrine is None else epinephrine) + total * per_ml
    mg = [total * per_ml for per_ml, total in zip(limits.concentrations, totals, strict=True)]
    if limits.earlier:
        mg += limits.earlier
    return limits.rules.load(mg, epinephrine)


def _draw(resolved: Resolved, volumes: Sequence[Decimal], formulary: Formulary, limits: _Limits) -> _Drawn:
    """The syringes and draws of the request's components at these ``volumes`` per site
    (mL, in the components' order: the request's, or the request's scaled by the search
    for the largest volume per site), with the rounding guard: draws never
    carry a dose, a group's load or the epinephrine total over a limit it was under as
    asked (the loads of :mod:`mixcalc.loads`, so prior doses and the combination rule
    count as everywhere else).  Where rounding would, every component that went up is
    rounded down instead."""
    sites, components = resolved.sites, resolved.components
    plan, filled = plan_syringes(formulary, volumes_per_site=volumes, sites=sites, requested=resolved.syringe)
    asked = _load(limits, [v * sites for v in volumes])

    def totals_of(filled: Sequence[FilledSyringe]) -> tuple[Decimal, ...]:
        if len(filled) == 1:  # the same sums, one term each
            return tuple(Decimal(0) + d.volume for d in filled[0].draws)
        return tuple(sum((s.draws[i].volume for s in filled), Decimal(0)) for i in range(len(volumes)))

    totals = totals_of(filled)
    drawn = _load(limits, totals)
    if crossed(asked, drawn):
        went_up = frozenset(i for i, total in enumerate(totals) if total > volumes[i] * sites)
        filled = fill_syringes(
            volumes,
            plan,
            syringes=formulary.syringes_in_order,
            tolerance=formulary.policy.draw_tolerance,
            round_down=went_up,
        )
        totals = totals_of(filled)
        drawn = _load(limits, totals)
    if any(draw.volume == 0 for syringe in filled for draw in syringe.draws):  # rare: one pass to find out
        index = next(i for i in range(len(components)) if any(s.draws[i].volume == 0 for s in filled))
        component = components[index]
        finest = min(s.graduation.in_(ML) for s in formulary.syringes)
        raise ComponentNotComputable(
            component.pointer,
            component.agent.id,
            f"{component.agent.id} {display.amount(volumes[index], 'mL')} per site is too small to measure: "
            f"the finest syringe of the formulary is graduated in {display.amount(finest, 'mL')}; "
            "give a larger volume or a weaker strength",
        )
    return _Drawn(plan, filled, totals, asked, drawn)


def _assessment(resolved: Resolved, formulary: Formulary, limits: _Limits, drawn: _Drawn) -> Assessment:
    sites = resolved.sites
    lines = tuple(
        Line(
            agent=c.agent,
            concentration=c.concentration,
            epinephrine=c.epinephrine,
            nonstandard=c.nonstandard,
            requested_volume_per_site=c.volume_per_site,
            sites=sites,
            total_volume=total,
            total_dose=total * c.concentration,
            prior_dose=prior,
            max_dose=maximum,
            form=c.form,
            contains=c.contains,
        )
        for c, total, prior, maximum in zip(resolved.components, drawn.totals, limits.prior, limits.maxima, strict=True)
    )
    epinephrine = drawn.drawn.epinephrine_mg
    return Assessment(
        formulary=formulary,
        sites=sites,
        lines=lines,
        groups=group_loads(drawn.asked, drawn.drawn),
        weight=resolved.weight,
        patient=resolved.patient,
        epinephrine_total=epinephrine,
        epinephrine_cap=None if epinephrine is None else limits.rules.cap.mg,
        epinephrine_cap_reason="" if epinephrine is None else limits.rules.cap.reason,
        syringe_site_counts=drawn.syringes.site_counts,
        asked=drawn.asked,
        drawn=drawn.drawn,
        mixing=drawn.syringes.syringe,
        filled=drawn.filled,
        lowest_weight=lowest_weight(resolved.patient, resolved.weight_rule, resolved.weight),
    )


# -- headroom: the largest volume per site that breaks no limit (mixcalc.headroom) ----------


def _straight_loads(limits: _Limits, a: Assessment) -> list[headroom.Load] | None:
    """Every load the checks judge (:mod:`mixcalc.loads`: agents, groups with prior
    doses, epinephrine), as a straight line in the scale factor: its value with the
    mixture left out, and its growth per unit of the plan as asked.  None when a
    dose-limited agent's maximum cannot be stated for this patient."""
    if any(line.max_dose is not None and line.max_dose.mg is None for line in a.lines):
        return None
    nothing = limits.rules.load(
        [Decimal(0)] * len(limits.rules.agents), None if a.asked.epinephrine_mg is None else Decimal(0)
    )
    at_zero, at_one = nothing.fractions(), a.asked.fractions()
    lines = []
    for key, one in at_one.items():
        zero = at_zero.get(key)
        if one is None or zero is None:
            return None
        lines.append(headroom.Load(zero, one - zero))
    return lines


def _max_volume_per_site(resolved: Resolved, formulary: Formulary, limits: _Limits, a: Assessment) -> Decimal | None:
    """The largest volume per site (a multiple of :data:`mixcalc.headroom.STEP`) whose own
    plan, drawn as it would be, breaks no limit.  The loads are straight lines in the
    scale factor, so the analytic candidate usually verifies first time; verifying a
    volume needs only its draws and loads, not a whole plan."""
    loads = _straight_loads(limits, a)
    if loads is None:
        return None
    asked = sum((c.volume_per_site for c in resolved.components), Decimal(0))
    largest_component = max(c.volume_per_site for c in resolved.components)
    capacity = resolved.syringe if resolved.syringe is not None else max(formulary.syringes_by_capacity)
    ceiling = min(capacity, asked * MAX_VOLUME_PER_SITE_ML / largest_component)
    start = headroom.candidate(asked, loads, ceiling=ceiling)
    if start is None:
        return None

    def fits(volume: Decimal) -> _Drawn | None:
        """The draws at ``volume`` per site when they break no limit: every load (an
        agent's, a group's, epinephrine's), as asked and as drawn, at most 1."""
        factor = volume / asked
        scaled = [c.scaled_per_site(factor) for c in resolved.components]
        if any(per_site <= 0 for per_site, _ in scaled):
            return None  # rounded down to nothing: not a request anyone could make
        try:
            drawn = _draw(resolved, [volume for _, volume in scaled], formulary, limits)
        except PlanError:
            return None
        return drawn if drawn.asked.within() and drawn.drawn.within() else None

    found = headroom.step_down(start, fits)
    return None if found is None else found[0]


def _rescue(formulary: Formulary, a: Assessment) -> RescuePlan | None:
    rule = formulary.rescue
    if rule is None:
        return None
    weight = None if a.weight is None else a.weight.kg
    basis = "dosing weight" if a.weight is None else f"dosing weight: {a.weight.basis} body weight"
    return lipid_rescue(rule, weight, basis)
