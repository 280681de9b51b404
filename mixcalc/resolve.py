"""Step 1 of 3, resolve: a mixture request → frozen values the plan computes on.

:func:`resolve` reads a validated :class:`~mixcalc.schema.MixtureRequest` against the
formulary: each component's agent, stock strength, epinephrine product, form and volume
per site (:class:`ResolvedComponent`), the patient's facts and dosing weight, and the
doses given earlier today.  This is the only code that knows the request's JSON pointers:
what it cannot resolve is a :class:`~mixcalc.errors.PlanError` naming the pointer and the
value, and each component carries its own pointer for what the plan finds later (a draw
too small to measure).  Errors come in the request's order: the patient, the prior doses,
then each component (agent, duplicate, strength, epinephrine, form, amount).

Then :mod:`mixcalc.plan` computes and :mod:`mixcalc.answer` writes the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Literal

from . import display
from .dosing import DosingWeight, PatientFacts, dosing_weight
from .errors import ComponentNotComputable, ConcentrationNotStocked, DuplicateAgent, EpinephrineNotStocked, UnknownAgent
from .formulary import Agent, AgentClass, DosingWeightRule, Form, Formulary
from .schema import ComponentRequest, MixtureRequest
from .units import CM, DAY, KG, MG, MG_PER_ML, ML

__all__ = ["Asked", "Resolved", "ResolvedComponent", "resolve"]

#: Agents whose strength people read as w/v percent (with mg/mL beside it).
PERCENT_CLASSES = frozenset({AgentClass.LOCAL_ANESTHETIC, AgentClass.DILUENT})
#: A scaled amount (the search for the largest volume per site) is rounded down to this.
_SCALED_PLACES = Decimal("0.0001")
#: What a product without a stated form or epinephrine is known to contain.
_NOTHING: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Asked:
    """What the request gave for a component, per site: a volume (mL) or a dose (mg)."""

    per_site: Decimal
    kind: Literal["volume", "dose"]


@dataclass(frozen=True, slots=True)
class ResolvedComponent:
    """One component of the mixture, resolved against the formulary."""

    agent: Agent
    #: The component's JSON pointer in the request (``/components/2``), for errors.
    pointer: str
    concentration: Decimal  # mg/mL, the stock strength
    epinephrine: Decimal | None  # mg/mL of epinephrine in the product, None without
    #: A strength within the stocked range that no product has (diluted on the ward).
    nonstandard: bool
    form: Form | None
    #: What the product used contains (from its form and its epinephrine product).
    contains: frozenset[str]
    volume_per_site: Decimal  # mL
    asked: Asked

    @property
    def percent(self) -> bool:
        """Whether people read this strength as w/v percent."""
        return self.agent.agent_class in PERCENT_CLASSES

    def scaled_per_site(self, factor: Decimal) -> tuple[Decimal, Decimal]:
        """The asked amount per site (a volume as a volume, a dose as a dose) times
        ``factor``, rounded down to 4 places, and its volume per site (mL): what
        :meth:`scaled` changes, without building the component (the search for the
        largest volume per site needs only these)."""
        per_site = (self.asked.per_site * factor).quantize(_SCALED_PLACES, rounding=ROUND_FLOOR)
        return per_site, per_site if self.asked.kind == "volume" else per_site / self.concentration

    def scaled(self, factor: Decimal) -> ResolvedComponent:
        """This component with its asked amount times ``factor`` (:meth:`scaled_per_site`)."""
        per_site, volume = self.scaled_per_site(factor)
        return ResolvedComponent(
            agent=self.agent,
            pointer=self.pointer,
            concentration=self.concentration,
            epinephrine=self.epinephrine,
            nonstandard=self.nonstandard,
            form=self.form,
            contains=self.contains,
            volume_per_site=volume,
            asked=Asked(per_site, self.asked.kind),
        )


@dataclass(frozen=True, slots=True)
class Resolved:
    """A request resolved: what :func:`mixcalc.plan.compute` takes."""

    sites: int
    components: tuple[ResolvedComponent, ...]
    patient: PatientFacts
    weight_rule: DosingWeightRule
    weight: DosingWeight | None
    #: Local anesthetic given earlier today, mg per agent id.
    prior: Mapping[str, Decimal]
    #: The syringe capacity the request asks for (mL), None to let the plan choose.
    syringe: Decimal | None


def resolve(request: MixtureRequest, formulary: Formulary) -> Resolved:
    """Resolve ``request`` against ``formulary``; raises a :class:`~mixcalc.errors.PlanError`
    naming the JSON pointer of what cannot be resolved."""
    patient = _patient(request, formulary)
    weight_rule = request.dosing_weight or formulary.policy.dosing_weight
    weight = dosing_weight(patient, weight_rule)
    prior = _prior_doses(request, formulary)
    components: list[ResolvedComponent] = []
    seen: set[str] = set()
    agents = formulary.agents_by_id
    for index, component in enumerate(request.components):
        agent = agents.get(component.agent)
        if agent is None:
            raise UnknownAgent(f"/components/{index}/agent", component.agent, agents)
        if agent.id in seen:
            raise DuplicateAgent(f"/components/{index}/agent", agent.id)
        seen.add(agent.id)
        components.append(_component(index, agent, component))
    return Resolved(
        sites=request.sites,
        components=tuple(components),
        patient=patient,
        weight_rule=weight_rule,
        weight=weight,
        prior=prior,
        syringe=None if request.syringe is None else request.syringe.in_(ML),
    )


def _agent(formulary: Formulary, pointer: str, agent_id: str) -> Agent:
    agent = formulary.agents_by_id.get(agent_id)
    if agent is None:
        raise UnknownAgent(pointer, agent_id, formulary.agents_by_id)
    return agent


def _patient(request: MixtureRequest, formulary: Formulary) -> PatientFacts:
    patient = request.patient
    if patient is None:
        return PatientFacts()
    return PatientFacts(
        weight_kg=None if patient.weight is None else patient.weight.in_(KG),
        height_cm=None if patient.height is None else patient.height.in_(CM),
        sex=patient.sex,
        age_days=None if patient.age is None else patient.age.in_(DAY),
        conditions=frozenset(patient.conditions),
        growth_z_above=formulary.growth.modified_z_above,
    )


def _prior_doses(request: MixtureRequest, formulary: Formulary) -> dict[str, Decimal]:
    prior: dict[str, Decimal] = {}
    for index, dose in enumerate(request.prior_doses):
        agent = _agent(formulary, f"/prior_doses/{index}/agent", dose.agent)
        if agent.agent_class is not AgentClass.LOCAL_ANESTHETIC:
            raise ComponentNotComputable(
                f"/prior_doses/{index}/agent", dose.agent, "prior doses are counted for local anesthetics only"
            )
        prior[agent.id] = prior.get(agent.id, Decimal(0)) + dose.dose.in_(MG)
    return prior


def _component(index: int, agent: Agent, component: ComponentRequest) -> ResolvedComponent:
    strength, nonstandard = _concentration(index, agent, component)
    epinephrine = _epinephrine(index, agent, component, strength)
    form = _form(index, agent, component)
    asked = _asked(index, agent, component)
    return ResolvedComponent(
        agent=agent,
        pointer=f"/components/{index}",
        concentration=strength,
        epinephrine=epinephrine,
        nonstandard=nonstandard,
        form=form,
        contains=_contains(agent, form, strength, epinephrine),
        volume_per_site=asked.per_site if asked.kind == "volume" else asked.per_site / strength,
        asked=asked,
    )


def _concentration(index: int, agent: Agent, component: ComponentRequest) -> tuple[Decimal, bool]:
    """The stock strength (mg/mL) and whether it is one no product has."""
    pointer = f"/components/{index}/concentration"
    if component.concentration is None:
        if len(agent.strengths_mg_per_ml) != 1:
            raise ComponentNotComputable(
                pointer, None, f"{agent.id} is stocked in several strengths: give its concentration"
            )
        return next(iter(agent.strengths_mg_per_ml)), False
    concentration = component.concentration.in_(MG_PER_ML)
    if concentration > agent.highest_strength:
        percent = agent.agent_class in PERCENT_CLASSES
        raise ConcentrationNotStocked(
            pointer,
            agent.id,
            display.strength(concentration, percent=percent),
            display.strength(agent.highest_strength, percent=percent),
        )
    return concentration, concentration not in agent.strengths_mg_per_ml


def _epinephrine(index: int, agent: Agent, component: ComponentRequest, strength: Decimal) -> Decimal | None:
    if component.epinephrine is None:
        return None
    epinephrine = component.epinephrine.in_(MG_PER_ML)
    if agent.epinephrine_product(strength, epinephrine) is not None:
        return epinephrine
    available = [
        f"{display.number(s.in_(MG_PER_ML) / 10)} % with {display.epinephrine_ratio(p.epinephrine.in_(MG_PER_ML))}"
        for p in agent.epinephrine_products
        for s in p.strengths
    ]
    raise EpinephrineNotStocked(
        f"/components/{index}/epinephrine",
        agent.id,
        f"{display.epinephrine_ratio(epinephrine)} at {display.number(strength / 10)} %",
        available,
    )


def _form(index: int, agent: Agent, component: ComponentRequest) -> Form | None:
    if component.form is None:
        return None
    for form in agent.forms:
        if form.id == component.form:
            return form
    known = ", ".join(f.id for f in agent.forms) or "none listed"
    raise ComponentNotComputable(
        f"/components/{index}/form", component.form, f"{agent.id} has no form {component.form!r}; forms: {known}"
    )


def _contains(agent: Agent, form: Form | None, strength: Decimal, epinephrine: Decimal | None) -> frozenset[str]:
    if form is None and epinephrine is None:
        return _NOTHING
    found = set(form.contains) if form is not None else set()
    if epinephrine is not None:
        product = agent.epinephrine_product(strength, epinephrine)
        if product is not None:
            found.update(product.contains)
    return frozenset(found)


def _asked(index: int, agent: Agent, component: ComponentRequest) -> Asked:
    if component.volume_per_site is not None:
        return Asked(component.volume_per_site.in_(ML), "volume")
    assert component.dose_per_site is not None  # the request model guarantees one of the two
    if agent.agent_class is AgentClass.DILUENT:
        raise ComponentNotComputable(
            f"/components/{index}/dose_per_site",
            str(component.dose_per_site),
            f"{agent.id} is a diluent: give its volume_per_site, not a dose",
        )
    return Asked(component.dose_per_site.in_(MG), "dose")
