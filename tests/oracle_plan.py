"""The core as it stood before issue 15 (mixcalc/plan.py at cf4b508), kept only as the
oracle of tests/test_same_answers.py: the new resolve / plan / answer steps must give
its JSON byte for byte.  Test-only; remove once the comparison has run clean.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from typing import Any

from pydantic import ValidationError

from mixcalc import display, headroom
from mixcalc.checks import Assessment, Finding, Line, findings
from mixcalc.dosing import DosingWeight, PatientFacts, dosing_weight, lowest_weight, max_dose
from mixcalc.errors import (
    ComponentNotComputable,
    ConcentrationNotStocked,
    DuplicateAgent,
    EpinephrineNotStocked,
    PlanError,
    UnknownAgent,
)
from mixcalc.formulary import Agent, AgentClass, Form, Formulary, default_formulary
from mixcalc.loads import Dose, Load, crossed, epinephrine_cap, group_loads, load
from mixcalc.mixture import FilledSyringe, MeasuredDraw, SyringePlan, fill_syringes, plan_syringes
from mixcalc.rescue import lipid_rescue
from mixcalc.schema import (
    MAX_VOLUME_PER_SITE_ML,
    ComponentRequest,
    ComponentResult,
    DosingWeightResult,
    Draw,
    FormularyRef,
    GroupResult,
    MeasuredIn,
    MixtureRequest,
    MixtureResponse,
    Quantity,
    Rescue,
    SyringeResult,
)
from mixcalc.schema import WarningResult as Warning
from mixcalc.units import CM, DAY, KG, MG, MG_PER_ML, ML, Amount

__all__ = ["AFTERCARE", "plan_mixture"]

#: Advice for the patient after TPI (CLINICAL.md section 10).
AFTERCARE = (
    "Rest the treated area for one or two days.",
    "Stretch the treated muscles through their full range of motion.",
    "Report redness, pain or swelling at an injection site.",
)

_FRACTION_PLACES = Decimal("0.0001")
_AMOUNT_PLACES = Decimal("0.0001")
_PERCENT_CLASSES = frozenset({AgentClass.LOCAL_ANESTHETIC, AgentClass.DILUENT})


def plan_mixture(request: MixtureRequest | Mapping[str, Any], formulary: Formulary | None = None) -> MixtureResponse:
    """Compute and check a TPI mixture: what to draw into each syringe, the doses, each
    agent's share of its maximum for this patient, and the warnings."""
    if not isinstance(request, MixtureRequest):
        request = MixtureRequest.model_validate(request)
    return _Planner(request, formulary or default_formulary()).answer()


# --- rounding at the edge of the answer ---------------------------------------------------


def _q(value: Decimal, unit: str, rounding: str = ROUND_HALF_EVEN) -> Quantity:
    return Quantity(value=float(value.quantize(_AMOUNT_PLACES, rounding=rounding)), unit=unit)


def _fraction(value: Decimal | None) -> float | None:
    # Rounded up: a shown fraction never understates the load.
    return None if value is None else float(value.quantize(_FRACTION_PLACES, rounding=ROUND_CEILING))


class _Planner:
    def __init__(self, request: MixtureRequest, formulary: Formulary, *, headroom: bool = True) -> None:
        self.request = request
        self.formulary = formulary
        self.headroom = headroom  # False while verifying a candidate volume (no search within a search)

    # -- resolving the request against the formulary ------------------------------------

    def _agent(self, pointer: str, agent_id: str) -> Agent:
        agent = self.formulary.agents_by_id.get(agent_id)
        if agent is None:
            raise UnknownAgent(pointer, agent_id, self.formulary.agents_by_id)
        return agent

    def _concentration(self, index: int, agent: Agent, component: ComponentRequest) -> tuple[Decimal, bool]:
        pointer = f"/components/{index}/concentration"
        if component.concentration is None:
            if len(agent.strengths_mg_per_ml) != 1:
                raise ComponentNotComputable(
                    pointer, None, f"{agent.id} is stocked in several strengths: give its concentration"
                )
            return next(iter(agent.strengths_mg_per_ml)), False
        concentration = component.concentration.in_(MG_PER_ML)
        if concentration > agent.highest_strength:
            percent = agent.agent_class in _PERCENT_CLASSES
            raise ConcentrationNotStocked(
                pointer,
                agent.id,
                display.strength(concentration, percent=percent),
                display.strength(agent.highest_strength, percent=percent),
            )
        return concentration, concentration not in agent.strengths_mg_per_ml

    def _epinephrine(self, index: int, agent: Agent, component: ComponentRequest, strength: Decimal) -> Decimal | None:
        if component.epinephrine is None:
            return None
        epinephrine = component.epinephrine.in_(MG_PER_ML)
        products = agent.epinephrine_products
        if agent.epinephrine_product(strength, epinephrine) is not None:
            return epinephrine
        available = [
            f"{display.number(s.in_(MG_PER_ML) / 10)} % with {display.epinephrine_ratio(p.epinephrine.in_(MG_PER_ML))}"
            for p in products
            for s in p.strengths
        ]
        raise EpinephrineNotStocked(
            f"/components/{index}/epinephrine",
            agent.id,
            f"{display.epinephrine_ratio(epinephrine)} at {display.number(strength / 10)} %",
            available,
        )

    def _form(self, index: int, agent: Agent, component: ComponentRequest) -> Form | None:
        if component.form is None:
            return None
        for form in agent.forms:
            if form.id == component.form:
                return form
        known = ", ".join(f.id for f in agent.forms) or "none listed"
        raise ComponentNotComputable(
            f"/components/{index}/form", component.form, f"{agent.id} has no form {component.form!r}; forms: {known}"
        )

    @staticmethod
    def _contains(agent: Agent, form: Form | None, strength: Decimal, epinephrine: Decimal | None) -> frozenset[str]:
        found = set(form.contains) if form is not None else set()
        if epinephrine is not None:
            product = agent.epinephrine_product(strength, epinephrine)
            if product is not None:
                found.update(product.contains)
        return frozenset(found)

    def _volume_per_site(self, index: int, agent: Agent, component: ComponentRequest, strength: Decimal) -> Decimal:
        if component.volume_per_site is not None:
            return component.volume_per_site.in_(ML)
        assert component.dose_per_site is not None  # the request model guarantees one of the two
        if agent.agent_class is AgentClass.DILUENT:
            raise ComponentNotComputable(
                f"/components/{index}/dose_per_site",
                str(component.dose_per_site),
                f"{agent.id} is a diluent: give its volume_per_site, not a dose",
            )
        return component.dose_per_site.in_(MG) / strength

    def _patient(self) -> PatientFacts:
        patient = self.request.patient
        if patient is None:
            return PatientFacts()
        return PatientFacts(
            weight_kg=None if patient.weight is None else patient.weight.in_(KG),
            height_cm=None if patient.height is None else patient.height.in_(CM),
            sex=patient.sex,
            age_days=None if patient.age is None else patient.age.in_(DAY),
            conditions=frozenset(patient.conditions),
            growth_z_above=self.formulary.growth.modified_z_above,
        )

    def _prior_doses(self) -> dict[str, Decimal]:
        prior: dict[str, Decimal] = {}
        for index, dose in enumerate(self.request.prior_doses):
            agent = self._agent(f"/prior_doses/{index}/agent", dose.agent)
            if agent.agent_class is not AgentClass.LOCAL_ANESTHETIC:
                raise ComponentNotComputable(
                    f"/prior_doses/{index}/agent", dose.agent, "prior doses are counted for local anesthetics only"
                )
            prior[agent.id] = prior.get(agent.id, Decimal(0)) + dose.dose.in_(MG)
        return prior

    # -- the computation -------------------------------------------------------------------

    def answer(self) -> MixtureResponse:
        assessment, plan, filled = self._assess()
        return self._response(assessment, plan, filled, findings(assessment))

    def _assess(self) -> tuple[Assessment, SyringePlan, tuple[FilledSyringe, ...]]:
        request, formulary = self.request, self.formulary
        sites = request.sites
        patient = self._patient()
        weight_rule = request.dosing_weight or formulary.policy.dosing_weight
        weight = dosing_weight(patient, weight_rule)
        prior = self._prior_doses()

        agents: list[Agent] = []
        stock: list[tuple[Decimal, Decimal | None, bool]] = []
        volumes: list[Decimal] = []
        forms: list[Form | None] = []
        seen: set[str] = set()
        for index, component in enumerate(request.components):
            agent = self._agent(f"/components/{index}/agent", component.agent)
            if agent.id in seen:
                raise DuplicateAgent(f"/components/{index}/agent", agent.id)
            seen.add(agent.id)
            strength, nonstandard = self._concentration(index, agent, component)
            epinephrine = self._epinephrine(index, agent, component, strength)
            forms.append(self._form(index, agent, component))
            agents.append(agent)
            stock.append((strength, epinephrine, nonstandard))
            volumes.append(self._volume_per_site(index, agent, component, strength))

        limits = [
            max_dose(agent, with_epinephrine=epi is not None, weight=weight, patient=patient)
            for agent, (_, epi, _) in zip(agents, stock, strict=True)
        ]
        # A dose given earlier today of an agent not in this mixture counts against that
        # agent's plain maximum for this patient [S55].
        earlier = tuple(
            Dose(
                agent,
                Decimal(0),
                dose,
                max_dose(agent, with_epinephrine=False, weight=weight, patient=patient),
                in_mixture=False,
            )
            for agent_id, dose in prior.items()
            if agent_id not in seen
            for agent in (self.formulary.agents_by_id[agent_id],)
        )
        cap = epinephrine_cap(formulary.epinephrine, patient.conditions)

        def load_of(totals: Sequence[Decimal]) -> Load:
            """The loads of these total volumes (mL per component)."""
            doses = tuple(
                Dose(agent, totals[i] * stock[i][0], prior.get(agent.id, Decimal(0)), limits[i])
                for i, agent in enumerate(agents)
            )
            with_epinephrine = [(total, epi) for total, (_, epi, _) in zip(totals, stock, strict=True) if epi]
            epinephrine = sum((t * e for t, e in with_epinephrine), Decimal(0)) if with_epinephrine else None
            return load(
                doses + earlier,
                groups=formulary.groups,
                rule=formulary.policy.combination,
                epinephrine_mg=epinephrine,
                cap=cap,
            )

        plan, filled = plan_syringes(
            formulary,
            volumes_per_site=volumes,
            sites=sites,
            requested=None if request.syringe is None else request.syringe.in_(ML),
        )
        asked = load_of([v * sites for v in volumes])
        filled, totals, drawn = self._guarded(plan, filled, volumes, asked, load_of)

        lines = []
        rounded = []
        for index, agent in enumerate(agents):
            strength, epinephrine, nonstandard = stock[index]
            lines.append(
                Line(
                    agent=agent,
                    concentration=strength,
                    epinephrine=epinephrine,
                    nonstandard=nonstandard,
                    requested_volume_per_site=volumes[index],
                    sites=sites,
                    total_volume=totals[index],
                    total_dose=totals[index] * strength,
                    prior_dose=prior.get(agent.id, Decimal(0)),
                    max_dose=limits[index],
                    form=forms[index],
                    contains=self._contains(agent, forms[index], strength, epinephrine),
                )
            )
            rounded.append((agent.id, volumes[index] * sites, totals[index]))

        assessment = Assessment(
            formulary=formulary,
            sites=sites,
            lines=lines,
            groups=group_loads(asked, drawn),
            weight=weight,
            patient=patient,
            epinephrine_total=drawn.epinephrine_mg,
            epinephrine_cap=None if drawn.epinephrine_mg is None else cap.mg,
            epinephrine_cap_reason="" if drawn.epinephrine_mg is None else cap.reason,
            syringe_site_counts=plan.site_counts,
            asked=asked,
            drawn=drawn,
            mixing=plan.syringe,
            filled=filled,
            lowest_weight=lowest_weight(patient, weight_rule, weight),
        )
        return assessment, plan, filled

    # -- headroom: the largest volume per site that breaks no limit (mixcalc.headroom) --------

    def _loads(self, a: Assessment) -> list[headroom.Load] | None:
        """Every load the checks judge (:mod:`mixcalc.loads`: agents, groups with prior
        doses, epinephrine), as a straight line in the scale factor: its value with the
        mixture left out, and its growth per unit of the plan as asked.  None when a
        dose-limited agent's maximum cannot be stated for this patient."""
        if any(line.max_dose is not None and line.max_dose.mg is None for line in a.lines):
            return None
        nothing = load(
            tuple(dataclasses.replace(dose, mg=Decimal(0)) for dose in a.asked.doses),
            groups=self.formulary.groups,
            rule=self.formulary.policy.combination,
            epinephrine_mg=None if a.asked.epinephrine_mg is None else Decimal(0),
            cap=a.asked.epinephrine_cap,
        )
        at_zero, at_one = nothing.fractions(), a.asked.fractions()
        lines = []
        for key, one in at_one.items():
            zero = at_zero.get(key)
            if one is None or zero is None:
                return None
            lines.append(headroom.Load(zero, one - zero))
        return lines

    def _scaled(self, factor: Decimal) -> MixtureRequest:
        """This request with every component scaled by ``factor`` (a dose as a dose),
        rounded down to 4 places.  Built from the request's own checked values, not
        parsed again (the ceiling of the search keeps every volume within the request's
        limits)."""
        components = []
        for component in self.request.components:
            update: dict[str, Amount] = {}
            for key, amount, unit, code in (
                ("volume_per_site", component.volume_per_site, ML, "mL"),
                ("dose_per_site", component.dose_per_site, MG, "mg"),
            ):
                if amount is not None:
                    scaled = (amount.in_(unit) * factor).quantize(_AMOUNT_PLACES, rounding=ROUND_FLOOR)
                    update[key] = Amount.of(scaled, code)
            components.append(component.model_copy(update=update))
        return self.request.model_copy(update={"components": components})

    def _max_volume_per_site(self, a: Assessment) -> Decimal | None:
        loads = self._loads(a)
        if loads is None:
            return None
        asked = sum((line.requested_volume_per_site for line in a.lines), Decimal(0))
        largest_component = max(line.requested_volume_per_site for line in a.lines)
        capacity = (
            self.request.syringe.in_(ML)
            if self.request.syringe is not None
            else max(self.formulary.syringes_by_capacity)
        )
        ceiling = min(capacity, asked * MAX_VOLUME_PER_SITE_ML / largest_component)
        start = headroom.candidate(asked, loads, ceiling=ceiling)
        if start is None:
            return None

        def fits(volume: Decimal) -> Assessment | None:
            """The plan at ``volume`` per site when it breaks no limit: every load (an
            agent's, a group's, epinephrine's), as asked and as drawn, at most 1."""
            try:
                assessment = _Planner(self._scaled(volume / asked), self.formulary, headroom=False)._assess()[0]
            except (PlanError, ValidationError):
                return None
            for judged in (assessment.asked, assessment.drawn):
                if any(f is None or f > 1 for f in judged.fractions().values()):
                    return None
            return assessment

        found = headroom.step_down(start, fits)
        return None if found is None else found[0]

    def _rescue(self, a: Assessment) -> Rescue | None:
        rule = self.formulary.rescue
        if rule is None:
            return None
        weight = None if a.weight is None else a.weight.kg
        basis = "dosing weight" if a.weight is None else f"dosing weight: {a.weight.basis} body weight"
        plan = lipid_rescue(rule, weight, basis)

        def ml(value: Decimal | None, unit: str = "mL") -> Quantity | None:
            return None if value is None else _q(value, unit)

        def pair(values: tuple[Decimal, Decimal] | None, unit: str) -> tuple[Quantity, Quantity] | None:
            return None if values is None else (_q(values[0], unit), _q(values[1], unit))

        return Rescue(
            product=plan.product,
            weight=ml(plan.weight_kg, "kg"),
            regimen=plan.regimen,
            bolus=ml(plan.bolus),
            bolus_minutes=(float(plan.bolus_minutes[0]), float(plan.bolus_minutes[1])),
            infusion_rate=pair(plan.infusion_rate, "mL/min"),
            infusion_volume=pair(plan.infusion_volume, "mL"),
            infusion_minutes=None
            if plan.infusion_minutes is None
            else (float(plan.infusion_minutes[0]), float(plan.infusion_minutes[1])),
            upper_limit=ml(plan.upper_limit),
            upper_limit_minutes=float(plan.upper_limit_minutes),
            summary=plan.summary,
            steps=plan.steps,
            source=tuple(self.formulary.cite((s,)) for s in plan.source if s in self.formulary.sources),
        )

    def _guarded(
        self,
        plan: SyringePlan,
        filled: tuple[FilledSyringe, ...],
        volumes: Sequence[Decimal],
        asked: Load,
        load_of: Callable[[Sequence[Decimal]], Load],
    ) -> tuple[tuple[FilledSyringe, ...], list[Decimal], Load]:
        """The rounding guard: draws never carry a dose, a group's load or the epinephrine
        total over a limit it was under as asked (the loads of :mod:`mixcalc.loads`, so
        prior doses and the combination rule count as everywhere else).  Where rounding
        would, every component that went up is rounded down instead.  Returns the draws,
        each component's total volume drawn and the load as drawn."""
        sites = self.request.sites

        def totals_of(filled: Sequence[FilledSyringe]) -> list[Decimal]:
            return [sum((s.draws[i].volume for s in filled), Decimal(0)) for i in range(len(volumes))]

        totals = totals_of(filled)
        drawn = load_of(totals)
        if crossed(asked, drawn):
            went_up = frozenset(i for i, total in enumerate(totals) if total > volumes[i] * sites)
            filled = fill_syringes(
                volumes,
                plan,
                syringes=tuple(self.formulary.syringes_by_capacity.values()),
                tolerance=self.formulary.policy.draw_tolerance,
                round_down=went_up,
            )
            totals = totals_of(filled)
            drawn = load_of(totals)
        finest = min(s.graduation.in_(ML) for s in self.formulary.syringes)
        for index, component in enumerate(self.request.components):
            if any(syringe.draws[index].volume == 0 for syringe in filled):
                raise ComponentNotComputable(
                    f"/components/{index}",
                    component.agent,
                    f"{component.agent} {display.amount(volumes[index], 'mL')} per site is too small to measure: "
                    f"the finest syringe of the formulary is graduated in {display.amount(finest, 'mL')}; "
                    "give a larger volume or a weaker strength",
                )
        return filled, totals, drawn

    # -- the answer ------------------------------------------------------------------------

    def _response(
        self,
        a: Assessment,
        plan: SyringePlan,
        filled: tuple[FilledSyringe, ...],
        found: list[Finding],
    ) -> MixtureResponse:
        sites = a.sites
        total_volume = sum((line.total_volume for line in a.lines), Decimal(0))
        components = tuple(self._component(line, total_volume, sites) for line in a.lines)
        by_group = {load.group.id: load.fraction for load in a.groups}
        syringes = tuple(self._syringe(plan, syringe, a.lines, i, len(filled)) for i, syringe in enumerate(filled))
        return MixtureResponse.model_construct(
            sites=sites,
            volume_per_site=_q(total_volume / sites, "mL"),
            total_volume=_q(total_volume, "mL"),
            dosing_weight=_dosing_weight(a.weight),
            components=components,
            local_anesthetic_fraction=_fraction(by_group.get("local-anesthetics")),
            steroid_fraction=_fraction(by_group.get("corticosteroids")),
            epinephrine_total=None if a.epinephrine_total is None else _q(a.epinephrine_total * 1000, "ug"),
            groups=tuple(
                GroupResult(
                    id=load.group.id,
                    name=load.group.name,
                    rule=load.rule,
                    fraction=_fraction(load.fraction),
                    agents=load.agents,
                )
                for load in a.groups
            ),
            syringes=syringes,
            warnings=tuple(
                Warning(
                    code=f.code,
                    severity=f.severity,
                    agents=f.agents,
                    message=f.message,
                    source=tuple(self.formulary.cite((s,)) for s in f.source if s in self.formulary.sources),
                )
                for f in found
            ),
            aftercare=AFTERCARE,
            formulary=FormularyRef(name=self.formulary.name, version=self.formulary.version),
            max_volume_per_site=_max_volume(self._max_volume_per_site(a) if self.headroom else None),
            rescue=self._rescue(a) if self.headroom else None,
        )

    def _component(self, line: Line, total_volume: Decimal, sites: int) -> ComponentResult:
        agent = line.agent
        limit = line.max_dose
        return ComponentResult(
            agent=agent.id,
            name=agent.display_name,
            agent_class=agent.agent_class.value,
            concentration=_q(line.concentration, "mg/mL"),
            epinephrine=None if line.epinephrine is None else _q(line.epinephrine * 1000, "ug/mL"),
            final_concentration=_q(line.total_dose / total_volume, "mg/mL"),
            volume_per_site=_q(line.total_volume / sites, "mL"),
            dose_per_site=_q(line.total_dose / sites, "mg"),
            total_volume=_q(line.total_volume, "mL"),
            total_dose=_q(line.total_dose, "mg"),
            prior_dose=_q(line.prior_dose, "mg") if line.prior_dose else None,
            max_dose=None if limit is None or limit.mg is None else _q(limit.mg, "mg", ROUND_FLOOR),
            max_dose_basis=None
            if limit is None
            else f"{limit.explanation}; source: {self.formulary.cite(limit.sources)}",
            max_dose_source=() if limit is None else limit.sources,
            fraction_of_max=_fraction(line.fraction),
            group=agent.group,
            max_volume=None
            if limit is None or limit.mg is None
            else _q(max(limit.mg - line.prior_dose, Decimal(0)) / line.concentration, "mL", ROUND_FLOOR),
        )

    def _syringe(
        self, plan: SyringePlan, filled: FilledSyringe, lines: Sequence[Line], number: int, of: int
    ) -> SyringeResult:
        syringe = plan.syringe
        fill, count = filled.fill, filled.sites
        parts, steps = [], []
        for line, draw in zip(lines, filled.draws, strict=True):
            agent = line.agent
            strength = display.strength(line.concentration, percent=agent.agent_class in _PERCENT_CLASSES)
            epi = f" with EPINEPHrine {display.epinephrine_ratio(line.epinephrine)}" if line.epinephrine else ""
            dose = (
                ""
                if agent.agent_class is AgentClass.DILUENT
                else f" ({display.amount(draw.volume * line.concentration, 'mg')})"
            )
            where = ""
            if draw.measured_in is not None:
                separate = display.amount(draw.measured_in.capacity.in_(ML), "mL")
                where = f" measured in a {separate} syringe"
                steps.append(
                    f"Draw {agent.display_name} {display.amount(draw.volume, 'mL')} in a {separate} syringe "
                    f"(graduated in {display.amount(draw.measured_in.graduation.in_(ML), 'mL')}) "
                    f"and add it to syringe {number + 1}."
                )
            parts.append(f"{agent.display_name} {strength}{epi} {display.amount(draw.volume, 'mL')}{dose}{where}")
        label = (
            f"Syringe {number + 1} of {of} ({display.amount(syringe.capacity.in_(ML), 'mL')}): "
            + " + ".join(parts)
            + f". Total {display.amount(fill, 'mL')} for {count} site{'s' if count != 1 else ''}, "
            f"{display.amount(fill / count, 'mL')} per site." + "".join(f" {step}" for step in steps)
        )
        return SyringeResult(
            capacity=_q(syringe.capacity.in_(ML), "mL"),
            graduation=_q(syringe.graduation.in_(ML), "mL"),
            dead_space=_q(syringe.dead_space.in_(ML), "mL"),
            sites=count,
            fill_volume=_q(fill, "mL"),
            volume_per_site=_q(fill / count, "mL"),
            draws=tuple(_draw(line, draw) for line, draw in zip(lines, filled.draws, strict=True)),
            label=label,
        )


def _draw(line: Line, draw: MeasuredDraw) -> Draw:
    separate = draw.measured_in
    return Draw(
        agent=line.agent.id,
        volume=_q(draw.volume, "mL"),
        dose=_q(draw.volume * line.concentration, "mg"),
        measured_in=None
        if separate is None
        else MeasuredIn(capacity=_q(separate.capacity.in_(ML), "mL"), graduation=_q(separate.graduation.in_(ML), "mL")),
    )


def _dosing_weight(weight: DosingWeight | None) -> DosingWeightResult | None:
    if weight is None:
        return None
    return DosingWeightResult(
        value=float(weight.kg.quantize(Decimal("0.1"), rounding=ROUND_HALF_EVEN)),
        basis=weight.basis,
        reason=weight.reason,
    )


def _max_volume(volume: Decimal | None) -> Quantity | None:
    return None if volume is None else _q(volume, "mL", ROUND_FLOOR)
