"""The formulary: frozen models of agents, limits, syringes and policy, and their loader.

The bundled formulary is ``formulary/default.toml`` (packaged as ``mixcalc/_data``, read
with ``importlib.resources``).  Every clinical number in it carries a ``basis``
(``label``, ``reference`` or ``policy``) and the ids of its ``source``; a file that
breaks any rule here raises :class:`~mixcalc.errors.FormularyError` naming the file,
the key and the problem, so a broken formulary stops start-up.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import display
from .errors import FormularyError, MixcalcError, QuantityError
from .fields import AgeField, ConcentrationField, DosePerWeightField, MassField, VolumeField
from .growth import weight_for_age
from .units import DAY, KG, MG, MG_PER_KG, MG_PER_ML, ML

__all__ = [
    "DEFAULT_FORMULARY",
    "Agent",
    "AgentClass",
    "Basis",
    "Condition",
    "DoseRule",
    "Formulary",
    "Growth",
    "Restriction",
    "RuleSources",
    "Syringe",
    "check_plausible",
    "default_formulary",
    "load_formulary",
]

#: Name of the environment variable that selects another formulary file.
FORMULARY_ENV = "MIXCALC_FORMULARY"
DEFAULT_FORMULARY = "default.toml"


class Basis(StrEnum):
    """Where a clinical number comes from."""

    LABEL = "label"
    REFERENCE = "reference"
    POLICY = "policy"


class AgentClass(StrEnum):
    LOCAL_ANESTHETIC = "local-anesthetic"
    CORTICOSTEROID = "corticosteroid"
    NSAID = "nsaid"
    DILUENT = "diluent"


class Condition(StrEnum):
    """The patient conditions a request may carry (CLINICAL.md section 10)."""

    INFECTION_AT_SITE = "infection-at-site"
    SYSTEMIC_INFECTION = "systemic-infection"
    AMIDE_ALLERGY = "amide-allergy"
    ESTER_ALLERGY = "ester-allergy"
    PARABEN_ALLERGY = "paraben-allergy"
    SULFITE_ALLERGY = "sulfite-allergy"
    ANTICOAGULATION = "anticoagulation"
    BLEEDING_DISORDER = "bleeding-disorder"
    PREGNANCY = "pregnancy"
    HEART_FAILURE = "heart-failure"
    LIVER_FAILURE = "liver-failure"
    CARDIOVASCULAR_DISEASE = "cardiovascular-disease"
    RENAL_IMPAIRMENT = "renal-impairment"
    SYSTEMIC_FUNGAL_INFECTION = "systemic-fungal-infection"
    # Ketorolac label contraindications (CLINICAL.md section 6) [S49]
    ADVANCED_RENAL_IMPAIRMENT = "advanced-renal-impairment"
    LABOR = "labor"  # labor and delivery
    PEPTIC_ULCER = "peptic-ulcer"  # active or past peptic ulcer or GI bleeding
    NSAID_ALLERGY = "nsaid-allergy"  # allergy to aspirin or another NSAID
    NSAID_USE = "nsaid-use"  # current aspirin or NSAID use
    # Epinephrine caution (CLINICAL.md section 7) [S67]
    MAOI_OR_TCA_USE = "maoi-or-tca-use"  # takes an MAO inhibitor or a tricyclic antidepressant


DosingWeightRule = Literal["total", "ideal", "adjusted", "lean", "lean_when_obese"]
CombinationRule = Literal["additive", "most_toxic"]


class Misplaced(MixcalcError, ValueError):
    """Raised inside formulary validation for a fault found across entries; ``key`` is
    where it lies, so the loader can name it."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__()
        self.key = key
        self.problem = problem

    def __str__(self) -> str:
        return self.problem


PositiveDecimal = Annotated[Decimal, Field(gt=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class _Cited(_Frozen):
    basis: Basis
    source: Annotated[tuple[str, ...], Field(min_length=1)]

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class Source(_Frozen):
    citation: Annotated[str, Field(min_length=1)]


class _Overridable(_Cited):
    #: Why this number departs more than tenfold from the bundled formulary's (see
    #: :func:`check_plausible`); without it such a number stops start-up.
    override: Annotated[str, Field(min_length=1)] | None = None


class PerKgLimit(_Overridable):
    value: DosePerWeightField

    # Per-formulary tables: the numbers read per request, in the core's units, worked
    # out once (``in_`` is exact, so they equal what each request computed before).
    @cached_property
    def mg_per_kg(self) -> Decimal:
        return self.value.in_(MG_PER_KG)


class CapLimit(_Overridable):
    value: MassField

    @cached_property
    def mg(self) -> Decimal:
        return self.value.in_(MG)


class DoseRule(_Frozen):
    """Maximum single dose: min(per_kg x dosing weight, cap), each part with its source."""

    per_kg: PerKgLimit | None = None
    cap: CapLimit

    @cached_property
    def weighted_sources(self) -> tuple[str, ...]:
        """The sources of min(mg/kg x weight, cap): the mg/kg's, then the cap's, each once."""
        return tuple(dict.fromkeys([*(() if self.per_kg is None else self.per_kg.source), *self.cap.source]))


class Presumption(_Cited):
    """When the age is not given, a weight under ``weight_below`` presumes the age
    trigger met (an infant's weight presumes an infant), and the answer says so."""

    weight_below: MassField

    @cached_property
    def weight_below_kg(self) -> Decimal:
        return self.weight_below.in_(KG)


class Restriction(_Overridable):
    """A lower maximum that applies to some patients: ``cap`` replaces the rule's cap when
    smaller, ``factor`` scales the whole maximum, and ``weight_required`` says that no
    maximum can be stated without a weight (a child's maximum is weight-based; the adult
    cap is never a child's).  It applies when every trigger given is true; ``reason``
    says why, for the answer."""

    reason: Annotated[str, Field(min_length=1)]
    cap: MassField | None = None
    factor: Annotated[Decimal, Field(gt=0, lt=1)] | None = None
    weight_required: bool = False
    presumed: Presumption | None = None
    age_at_least: AgeField | None = None
    age_below: AgeField | None = None
    weight_below: MassField | None = None
    condition: Condition | None = None
    #: When a fact it needs is unknown: "warn" if it would change the verdict, or "note"
    #: (assume it does not apply, and say so in the max-dose explanation).
    when_unknown: Literal["warn", "note"] = "warn"

    @model_validator(mode="after")
    def _has_effect_and_trigger(self) -> Restriction:
        if sum((self.cap is not None, self.factor is not None, self.weight_required)) != 1:
            raise ValueError("give exactly one of cap, factor and weight_required")
        if self.presumed is not None and self.age_below is None:
            raise ValueError("a presumption stands in for an age_below trigger: give age_below")
        if all(t is None for t in (self.age_at_least, self.age_below, self.weight_below, self.condition)):
            raise ValueError("give at least one trigger: age_at_least, age_below, weight_below or condition")
        return self

    # Its thresholds in the core's units (mg, days, kg), worked out once per formulary.
    @cached_property
    def cap_mg(self) -> Decimal | None:
        return None if self.cap is None else self.cap.in_(MG)

    @cached_property
    def age_at_least_days(self) -> Decimal | None:
        return None if self.age_at_least is None else self.age_at_least.in_(DAY)

    @cached_property
    def age_below_days(self) -> Decimal | None:
        return None if self.age_below is None else self.age_below.in_(DAY)

    @cached_property
    def weight_below_kg(self) -> Decimal | None:
        return None if self.weight_below is None else self.weight_below.in_(KG)


class MaxDose(_Frozen):
    plain: DoseRule | None = None
    epinephrine: DoseRule | None = None
    restrictions: tuple[Restriction, ...] = ()


class EpinephrineProduct(_Cited):
    strengths: Annotated[tuple[ConcentrationField, ...], Field(min_length=1)]
    epinephrine: ConcentrationField
    contains: tuple[str, ...] = ()


Severity = Literal["info", "warning", "critical"]


class Form(_Frozen):
    """A product form of an agent (e.g. preservative-free single-dose, multi-dose vial)
    and what it contains that matters for allergies and mixing (``paraben``, ``sulfite``,
    ``benzyl-alcohol``)."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    contains: tuple[str, ...] = ()
    source: Annotated[tuple[str, ...], Field(min_length=1)]

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class RouteLabel(_Cited):
    """The labeled routes of some strengths of an agent, and routes the label excludes."""

    strengths: Annotated[tuple[ConcentrationField, ...], Field(min_length=1)]
    routes: Annotated[tuple[str, ...], Field(min_length=1)]
    not_for: tuple[str, ...] = ()

    @cached_property
    def strengths_mg_per_ml(self) -> frozenset[Decimal]:
        return frozenset(s.in_(MG_PER_ML) for s in self.strengths)


class Notice(_Cited):
    """A warning that comes with an agent whenever it is used (off-label use, boxed warnings)."""

    code: Annotated[str, Field(pattern=r"^[a-z][a-z_]*$")]
    severity: Severity
    message: Annotated[str, Field(min_length=1)]


class Agent(_Frozen):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$", max_length=64)]
    name: Annotated[str, Field(min_length=1)]
    display_name: Annotated[str, Field(min_length=1)]
    agent_class: Annotated[AgentClass, Field(alias="class")]
    family: Literal["amide", "ester"] | None = None
    onset: Literal["fast", "intermediate", "long"] | None = None
    rxnorm: Annotated[str, Field(pattern=r"^[0-9]+$")] | None = None
    group: str | None = None
    strengths: Annotated[tuple[ConcentrationField, ...], Field(min_length=1)]
    epinephrine_products: tuple[EpinephrineProduct, ...] = ()
    max_dose: MaxDose | None = None
    forms: tuple[Form, ...] = ()
    routes: tuple[RouteLabel, ...] = ()
    depot: bool = False
    notices: tuple[Notice, ...] = ()
    note: str | None = None

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, arbitrary_types_allowed=True)

    @model_validator(mode="after")
    def _consistent(self) -> Agent:
        if self.agent_class is AgentClass.LOCAL_ANESTHETIC and self.family is None:
            raise ValueError("a local anesthetic needs a family (amide or ester)")
        if self.agent_class is not AgentClass.DILUENT and (self.max_dose is None or self.max_dose.plain is None):
            raise ValueError("every agent but a diluent needs max_dose.plain")
        for product in self.epinephrine_products:
            for strength in product.strengths:
                if strength.in_(MG_PER_ML) not in {s.in_(MG_PER_ML) for s in self.strengths}:
                    raise ValueError(f"epinephrine product strength {strength} is not among the agent's strengths")
        if self.epinephrine_products and (self.max_dose is None or self.max_dose.epinephrine is None):
            raise ValueError("an agent with epinephrine products needs max_dose.epinephrine")
        return self

    def epinephrine_product(self, strength: Decimal, epinephrine: Decimal) -> EpinephrineProduct | None:
        """The stocked product of this strength (mg/mL) with this epinephrine (mg/mL), if any."""
        for product in self.epinephrine_products:
            if product.epinephrine.in_(MG_PER_ML) == epinephrine and any(
                s.in_(MG_PER_ML) == strength for s in product.strengths
            ):
                return product
        return None

    @cached_property
    def highest_strength(self) -> Decimal:
        """The highest stocked strength, in mg/mL."""
        return max(s.in_(MG_PER_ML) for s in self.strengths)

    @cached_property
    def strengths_mg_per_ml(self) -> frozenset[Decimal]:
        return frozenset(s.in_(MG_PER_ML) for s in self.strengths)

    @cached_property
    def forms_contain(self) -> frozenset[str]:
        """What some form of this agent contains (``paraben``, ``sulfite``, ...)."""
        return frozenset(what for form in self.forms for what in form.contains)


class Selector(_Frozen):
    """Which components a rule concerns; an empty selector concerns every component."""

    agents: tuple[str, ...] = ()
    agent_class: tuple[AgentClass, ...] = ()
    family: tuple[Literal["amide", "ester"], ...] = ()
    contains: tuple[str, ...] = ()
    #: Only components drawn from an epinephrine-containing product.
    with_epinephrine: bool = False


class ConditionRule(_Cited):
    """What a patient condition means for the components it concerns (CLINICAL.md s. 10)."""

    condition: Condition
    code: Annotated[str, Field(pattern=r"^[a-z][a-z_]*$")]
    severity: Severity
    message: Annotated[str, Field(min_length=1)]
    concerns: Selector = Selector()


class PopulationRule(_Cited):
    """A warning for an age band (CLINICAL.md section 4)."""

    code: Annotated[str, Field(pattern=r"^[a-z][a-z_]*$")]
    severity: Severity
    message: Annotated[str, Field(min_length=1)]
    age_below: AgeField | None = None
    age_above: AgeField | None = None
    age_at_least: AgeField | None = None
    concerns: Selector = Selector()

    # Its age bounds in days, worked out once per formulary.
    @cached_property
    def age_below_days(self) -> Decimal | None:
        return None if self.age_below is None else self.age_below.in_(DAY)

    @cached_property
    def age_above_days(self) -> Decimal | None:
        return None if self.age_above is None else self.age_above.in_(DAY)

    @cached_property
    def age_at_least_days(self) -> Decimal | None:
        return None if self.age_at_least is None else self.age_at_least.in_(DAY)


class Growth(_Cited):
    """Which weights cannot belong to a child's age (CLINICAL.md section 14): the CDC 2000
    weight-for-age reference (packaged LMS tables, see :mod:`mixcalc.growth`) and the
    modified z-score cut-offs outside which a weight is biologically implausible, for
    ages under ``until_age`` (the reference ends at 20 years)."""

    reference: Literal["cdc-2000-weight-for-age"]
    modified_z_below: Annotated[Decimal, Field(lt=0)]
    modified_z_above: Annotated[Decimal, Field(gt=0)]
    until_age: AgeField

    @cached_property
    def until_age_days(self) -> Decimal:
        return self.until_age.in_(DAY)


class Mixing(_Cited):
    """What a depot steroid flocculates with (CLINICAL.md section 9): local anesthetics
    whose product contains one of these preservatives."""

    flocculating_preservatives: Annotated[tuple[str, ...], Field(min_length=1)]


class Incompatibility(_Cited):
    """Two agents that should not share a syringe (CLINICAL.md section 9); ``"*"`` as the
    second agent means any other component."""

    agents: Annotated[tuple[str, str], Field()]
    severity: Severity
    message: Annotated[str, Field(min_length=1)]


class Group(_Cited):
    """Agents whose fractions of their maxima add up (CLINICAL.md section 3)."""

    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    name: str
    code: Annotated[str, Field(pattern=r"^[a-z][a-z_]*$")]


class Syringe(_Cited):
    capacity: VolumeField
    graduation: VolumeField
    dead_space: VolumeField

    @model_validator(mode="after")
    def _graduation_divides(self) -> Syringe:
        capacity, graduation = self.capacity.in_(ML), self.graduation.in_(ML)
        if graduation > capacity or capacity % graduation != 0:
            raise ValueError(f"graduation {self.graduation} does not divide capacity {self.capacity}")
        return self

    # Read per draw: plain mL, worked out once per syringe.
    @cached_property
    def capacity_ml(self) -> Decimal:
        return self.capacity.in_(ML)

    @cached_property
    def graduation_ml(self) -> Decimal:
        return self.graduation.in_(ML)

    @cached_property
    def dead_space_ml(self) -> Decimal:
        return self.dead_space.in_(ML)


class EpinephrineLimit(_Overridable):
    cap: MassField
    restrictions: tuple[Restriction, ...] = ()

    @cached_property
    def cap_mg(self) -> Decimal:
        return self.cap.in_(MG)


class LipidRescue(_Cited):
    """20 % lipid emulsion for local anesthetic systemic toxicity (CLINICAL.md section 15).

    Above ``weight_above`` a fixed bolus and infusion volume; at or below it, volumes per
    kilogram of the dosing weight.  ``upper_limit_per_kg`` (mL/kg) over the first
    ``upper_limit_minutes`` bounds everything given."""

    product: Annotated[str, Field(min_length=1)]
    weight_above: MassField
    bolus_minutes: tuple[PositiveDecimal, PositiveDecimal]
    fixed_bolus: VolumeField
    fixed_infusion: tuple[VolumeField, VolumeField]
    fixed_infusion_minutes: tuple[PositiveDecimal, PositiveDecimal]
    bolus_per_kg: Annotated[PositiveDecimal, Field(description="mL of emulsion per kg of dosing weight")]
    infusion_per_kg_per_minute: Annotated[PositiveDecimal, Field(description="mL per kg per minute")]
    upper_limit_per_kg: Annotated[PositiveDecimal, Field(description="mL per kg")]
    upper_limit_minutes: PositiveDecimal
    steps: tuple[str, ...] = ()

    # In the core's units (kg, mL), worked out once per formulary.
    @cached_property
    def weight_above_kg(self) -> Decimal:
        return self.weight_above.in_(KG)

    @cached_property
    def fixed_bolus_ml(self) -> Decimal:
        return self.fixed_bolus.in_(ML)

    @cached_property
    def fixed_infusion_ml(self) -> tuple[Decimal, Decimal]:
        low, high = self.fixed_infusion
        return low.in_(ML), high.in_(ML)


_RuleCitation = Annotated[tuple[str, ...], Field(min_length=1)]


class RuleSources(_Frozen):
    """The sources behind the checks whose warnings the formulary's numbers do not
    already cite (``[rule_sources]``, one key per warning code).  Every key is required
    and every id must be listed under ``[sources]``: a missing one stops start-up."""

    dosing_weight_fallback: _RuleCitation
    dosing_weight_adjusted: _RuleCitation
    dosing_weight_not_assessed: _RuleCitation
    volume_rounded: _RuleCitation
    draw_measured_separately: _RuleCitation
    draw_outside_tolerance: _RuleCitation
    off_label_mixture: _RuleCitation


class Policy(_Frozen):
    near_limit_threshold: Annotated[Decimal, Field(gt=0, le=1)] = Decimal("0.8")
    dosing_weight: DosingWeightRule = "lean_when_obese"
    combination: CombinationRule = "additive"
    default_syringe: VolumeField
    #: No draw may differ from its asked volume by more than this share of it; a draw
    #: the mixing syringe cannot measure so is measured in a separate, finer syringe.
    draw_tolerance: Annotated[Decimal, Field(gt=0, lt=1)] = Decimal("0.05")
    #: A product is labeled for TPI when it is labeled for one of these routes and its
    #: label excludes none of them.
    tpi_routes: tuple[str, ...] = ("intramuscular", "soft-tissue")
    basis: Basis = Basis.POLICY
    note: str | None = None


class Formulary(_Frozen):
    name: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(min_length=1)]
    policy: Policy
    sources: Mapping[str, Source]
    groups: tuple[Group, ...]
    agents: Annotated[tuple[Agent, ...], Field(min_length=1)]
    syringes: Annotated[tuple[Syringe, ...], Field(min_length=1)]
    epinephrine: EpinephrineLimit
    growth: Growth
    mixing: Mixing
    conditions: tuple[ConditionRule, ...] = ()
    populations: tuple[PopulationRule, ...] = ()
    incompatibilities: tuple[Incompatibility, ...] = ()
    rescue: LipidRescue | None = None
    rule_sources: RuleSources

    @model_validator(mode="after")
    def _references_resolve(self) -> Formulary:
        seen: set[str] = set()
        for i, agent in enumerate(self.agents):
            key = f"agents[{i}:{agent.id}]"
            if agent.id in seen:
                raise Misplaced(key, f"duplicate agent id {agent.id!r}")
            seen.add(agent.id)
        group_ids: set[str] = set()
        for i, group in enumerate(self.groups):
            if group.id in group_ids:
                raise Misplaced(f"groups[{i}:{group.id}]", f"duplicate group id {group.id!r}")
            group_ids.add(group.id)
        for i, agent in enumerate(self.agents):
            if agent.group is not None and agent.group not in group_ids:
                raise Misplaced(f"agents[{i}:{agent.id}].group", f"unknown group {agent.group!r}")
        known = {*seen, "*"}
        selectors = [(f"conditions[{i}]", r.concerns) for i, r in enumerate(self.conditions)]
        selectors += [(f"populations[{i}]", r.concerns) for i, r in enumerate(self.populations)]
        for where, selector in selectors:
            for agent_id in selector.agents:
                if agent_id not in known:
                    raise Misplaced(f"{where}.concerns.agents", f"unknown agent {agent_id!r}")
        for i, pair in enumerate(self.incompatibilities):
            for agent_id in pair.agents:
                if agent_id not in known:
                    raise Misplaced(f"incompatibilities[{i}].agents", f"unknown agent {agent_id!r}")
        for key, cited in self._citations():
            for source in cited:
                if source not in self.sources:
                    raise Misplaced(f"{key}.source", f"unknown source {source!r}")
        capacities: set[Decimal] = set()
        for i, syringe in enumerate(self.syringes):
            if syringe.capacity.in_(ML) in capacities:
                raise Misplaced(f"syringes[{i}]", f"two syringes have the same capacity ({syringe.capacity})")
            capacities.add(syringe.capacity.in_(ML))
        if self.policy.default_syringe.in_(ML) not in capacities:
            raise Misplaced("policy.default_syringe", f"{self.policy.default_syringe} is not a listed syringe")
        return self

    def _citations(self) -> list[tuple[str, tuple[str, ...]]]:
        """(key, source ids) for everything in the file that cites sources."""
        found: list[tuple[str, tuple[str, ...]]] = []
        for i, agent in enumerate(self.agents):
            at = f"agents[{i}:{agent.id}]"
            found += [(f"{at}.epinephrine_products[{j}]", p.source) for j, p in enumerate(agent.epinephrine_products)]
            if agent.max_dose is not None:
                for kind in ("plain", "epinephrine"):
                    rule = getattr(agent.max_dose, kind)
                    if rule is not None:
                        found.append((f"{at}.max_dose.{kind}.cap", rule.cap.source))
                        if rule.per_kg is not None:
                            found.append((f"{at}.max_dose.{kind}.per_kg", rule.per_kg.source))
                found += [
                    (f"{at}.max_dose.restrictions[{j}]", r.source) for j, r in enumerate(agent.max_dose.restrictions)
                ]
            found += [(f"{at}.forms[{j}]", f.source) for j, f in enumerate(agent.forms)]
            found += [(f"{at}.routes[{j}]", r.source) for j, r in enumerate(agent.routes)]
            found += [(f"{at}.notices[{j}]", n.source) for j, n in enumerate(agent.notices)]
        found += [(f"conditions[{i}]", r.source) for i, r in enumerate(self.conditions)]
        found += [(f"populations[{i}]", r.source) for i, r in enumerate(self.populations)]
        found += [(f"incompatibilities[{i}]", r.source) for i, r in enumerate(self.incompatibilities)]
        found += [(f"groups[{i}:{g.id}]", g.source) for i, g in enumerate(self.groups)]
        found += [(f"syringes[{i}]", s.source) for i, s in enumerate(self.syringes)]
        found.append(("epinephrine", self.epinephrine.source))
        found += [(f"epinephrine.restrictions[{i}]", r.source) for i, r in enumerate(self.epinephrine.restrictions)]
        found += [("growth", self.growth.source), ("mixing", self.mixing.source)]
        for i, agent in enumerate(self.agents):
            if agent.max_dose is not None:
                found += [
                    (f"agents[{i}:{agent.id}].max_dose.restrictions[{j}].presumed", r.presumed.source)
                    for j, r in enumerate(agent.max_dose.restrictions)
                    if r.presumed is not None
                ]
        if self.rescue is not None:
            found.append(("rescue", self.rescue.source))
        found += [(f"rule_sources.{code}", cited) for code, cited in self.rule_sources]
        return found

    # Look-ups used per request: built once per formulary.
    @cached_property
    def agents_by_id(self) -> Mapping[str, Agent]:
        return {a.id: a for a in self.agents}

    @cached_property
    def groups_by_id(self) -> Mapping[str, Group]:
        return {g.id: g for g in self.groups}

    @cached_property
    def syringes_by_capacity(self) -> Mapping[Decimal, Syringe]:
        return {s.capacity.in_(ML): s for s in sorted(self.syringes, key=lambda s: s.capacity.in_(ML))}

    @cached_property
    def syringes_in_order(self) -> tuple[Syringe, ...]:
        """The syringes by capacity, smallest first."""
        return tuple(self.syringes_by_capacity.values())

    def cite(self, ids: tuple[str, ...]) -> str:
        """The citations of source ids, joined for a message (made once per set of ids)."""
        text = self._cited.get(ids)
        if text is None:
            text = self._cited[ids] = "; ".join(f"[{i}] {self.sources[i].citation}" for i in ids)
        return text

    @cached_property
    def _cited(self) -> dict[tuple[str, ...], str]:
        return {}


def _key(loc: tuple[int | str, ...], data: object) -> str:
    """A readable dotted key for a pydantic error location (``agents[0].strengths[1]``),
    naming list items by their id where they have one."""
    key = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and part < len(node):
                item = node[part]
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    label = f"{part}:{item['id']}"
                node = item
            else:
                node = None
            key += f"[{label}]"
        else:
            key += f".{part}" if key else part
            node = node.get(part) if isinstance(node, dict) else None
    return key


#: A dose limit more than this many times the bundled formulary's, or less than its
#: inverse, stops start-up unless the file marks it ``override = "<reason>"``.
PLAUSIBLE_FACTOR = Decimal(10)


@dataclass(frozen=True, slots=True)
class _Limit:
    key: str  # where it is in the file, as the loader names keys
    value: Decimal  # in core units
    unit: str
    entry: _Overridable


def _limits(formulary: Formulary) -> dict[tuple[str, ...], _Limit]:
    """Every dose limit of the formulary, by what it limits (so that a file's limit is
    compared with the bundled one's wherever each sits in its file)."""
    found: dict[tuple[str, ...], _Limit] = {}
    for i, agent in enumerate(formulary.agents):
        if agent.max_dose is None:
            continue
        at = f"agents[{i}:{agent.id}].max_dose"
        for kind in ("plain", "epinephrine"):
            rule: DoseRule | None = getattr(agent.max_dose, kind)
            if rule is None:
                continue
            found[(agent.id, kind, "cap")] = _Limit(f"{at}.{kind}.cap", rule.cap.value.in_(MG), "mg", rule.cap)
            if rule.per_kg is not None:
                found[(agent.id, kind, "per_kg")] = _Limit(
                    f"{at}.{kind}.per_kg", rule.per_kg.value.in_(MG_PER_KG), "mg/kg", rule.per_kg
                )
        for j, restriction in enumerate(agent.max_dose.restrictions):
            if restriction.cap is not None:
                found[(agent.id, "restriction", restriction.reason)] = _Limit(
                    f"{at}.restrictions[{j}].cap", restriction.cap.in_(MG), "mg", restriction
                )
    epinephrine = formulary.epinephrine
    found[("epinephrine", "cap")] = _Limit("epinephrine.cap", epinephrine.cap.in_(MG), "mg", epinephrine)
    for j, restriction in enumerate(epinephrine.restrictions):
        if restriction.cap is not None:
            found[("epinephrine", "restriction", restriction.reason)] = _Limit(
                f"epinephrine.restrictions[{j}].cap", restriction.cap.in_(MG), "mg", restriction
            )
    return found


def check_plausible(formulary: Formulary, reference: Formulary, path: str) -> None:
    """Refuse a dose limit far outside the bundled formulary's (more than
    :data:`PLAUSIBLE_FACTOR` times larger or smaller: a slipped unit or digit) unless the
    file marks it as a deliberate override with its reason.  Limits the bundled
    formulary does not have (a new agent, a new restriction) are not compared.

    Raises :class:`FormularyError` naming the file, the key and the value."""
    bundled = _limits(reference)
    for what, limit in _limits(formulary).items():
        if what not in bundled or limit.entry.override is not None:
            continue
        expected, value = bundled[what].value, limit.value
        if expected / PLAUSIBLE_FACTOR <= value <= expected * PLAUSIBLE_FACTOR:
            continue
        ratio = value / expected
        step = Decimal("0.001")
        how = (
            f"{display.number(ratio, places=step)} times"
            if ratio > 1
            else f"1/{display.number(1 / ratio, places=step)} of"
        )
        raise FormularyError(
            path,
            limit.key,
            f"{display.number(value)} {limit.unit} is {how} the bundled formulary's {display.number(expected)} "
            f"{limit.unit} (more than {PLAUSIBLE_FACTOR}-fold apart): if it is deliberate, mark it with "
            'override = "<the reason>"',
        )


def parse_formulary(text: str, path: str, *, reference: Formulary | None = None) -> Formulary:
    """Validate formulary TOML ``text``; ``path`` is only used in error messages.  With a
    ``reference`` (the bundled formulary), also :func:`check_plausible` against it."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormularyError(path, "", f"not valid TOML: {exc}") from None
    try:
        formulary = Formulary.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        problem = first["msg"].removeprefix("Value error, ")
        key = _key(first["loc"], data)
        cause = (first.get("ctx") or {}).get("error")
        if isinstance(cause, Misplaced):
            key, problem = cause.key, cause.problem
        if isinstance(cause, QuantityError):  # its message leaves the value out; the formulary's may be shown
            problem = cause.with_value()
        if first["type"] == "extra_forbidden":
            problem = "unknown key"
        count = exc.error_count()
        more = f" (and {count - 1} more problem{'s' if count > 2 else ''})" if count > 1 else ""
        raise FormularyError(path, key, problem + more) from None
    if reference is not None:
        check_plausible(formulary, reference, path)
    weight_for_age()  # read the growth reference now: a broken file stops start-up
    # Build the per-request look-ups now, at start-up, not on the first request.
    _ = formulary.agents_by_id, formulary.groups_by_id, formulary.syringes_by_capacity, formulary.syringes_in_order
    for syringe in formulary.syringes:
        _ = syringe.capacity_ml, syringe.graduation_ml
    for agent in formulary.agents:
        _ = agent.highest_strength, agent.strengths_mg_per_ml, agent.forms_contain
        for label in agent.routes:
            _ = label.strengths_mg_per_ml
    return formulary


def load_formulary(path: str | os.PathLike[str] | None = None) -> Formulary:
    """Load a formulary file; with no path, ``$MIXCALC_FORMULARY`` or the bundled default."""
    chosen = path if path is not None else os.environ.get(FORMULARY_ENV) or None
    if chosen is None:
        return _bundled()
    file = Path(chosen)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FormularyError(str(file), "", f"cannot be read: {exc.__class__.__name__}: {exc}") from None
    return parse_formulary(text, str(file), reference=_bundled())


@cache
def _bundled() -> Formulary:
    resource = resources.files("mixcalc") / "_data" / DEFAULT_FORMULARY
    return parse_formulary(resource.read_text(encoding="utf-8"), f"mixcalc/_data/{DEFAULT_FORMULARY}")


_DEFAULT: Formulary | None = None


def default_formulary() -> Formulary:
    """The bundled (or ``$MIXCALC_FORMULARY``) formulary, loaded once per process."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_formulary()
    return _DEFAULT
