"""The one place the EHR adapters take numbers from a computed plan.

A request is computed once, in the core's three steps (:func:`mixcalc.resolve.resolve`,
:func:`mixcalc.plan.compute`, :func:`mixcalc.answer.answer`), into a :class:`Computed`:
the :class:`~mixcalc.plan.Plan` with its exact values, the answer
(:class:`~mixcalc.schema.MixtureResponse`) for its words (warnings, labels, reasons) and
the :class:`ExactAnswer` the adapters compute and show numbers from.

:class:`ExactAnswer` reads the plan's exact Decimals (``plan.assessment``), never the
answer's floats: those are rounded for JSON, and a number rounded once and then used for
further arithmetic (a total from a rounded volume per site, a strength per mL, a scaled
volume) would be rounded twice.  What people read is rounded by :mod:`mixcalc.display`;
what a FHIR quantity carries, by the one rule of :mod:`mixcalc.ehr.write`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..answer import answer
from ..formulary import Formulary
from ..plan import Plan, compute
from ..resolve import resolve
from ..schema import MixtureRequest, MixtureResponse

__all__ = ["Computed", "ExactAnswer", "ExactComponent", "ExactGroup", "computed", "exact_answer"]

_UG_PER_MG = 1000


@dataclass(frozen=True, slots=True)
class ExactComponent:
    agent: str
    name: str  # the display name (Tall Man where ISMP asks)
    agent_class: str
    final_concentration: Decimal  # mg/mL in the mixture
    dose_per_site: Decimal  # mg
    total_dose: Decimal  # mg, as drawn
    prior_dose: Decimal  # mg given earlier today
    max_dose: Decimal | None  # mg; None: no maximum, or one that cannot be stated
    fraction: Decimal | None  # (total + prior) / maximum


@dataclass(frozen=True, slots=True)
class ExactGroup:
    id: str
    name: str
    fraction: Decimal | None  # the larger of the load as asked and as drawn
    agents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExactAnswer:
    """The numbers of a plan, exact (the answer's numbers before it rounds them)."""

    sites: int
    volume_per_site: Decimal  # mL, as drawn
    total_volume: Decimal  # mL, as drawn
    components: tuple[ExactComponent, ...]
    groups: tuple[ExactGroup, ...]
    epinephrine_total: Decimal | None  # ug
    dosing_weight: Decimal | None  # kg
    #: The core's largest volume per site that breaks no limit (mL, 0.1 mL steps), if any.
    max_volume_per_site: Decimal | None = None

    @property
    def over_limit(self) -> bool:
        """Whether a dose or a group's load is over its maximum (fraction above 1)."""
        fractions = [c.fraction for c in self.components] + [g.fraction for g in self.groups]
        return any(f is not None and f > 1 for f in fractions)


def exact_answer(plan: Plan) -> ExactAnswer:
    """The plan's numbers, exact (see the module docstring)."""
    a = plan.assessment
    sites = a.sites
    total_volume = sum((line.total_volume for line in a.lines), Decimal(0))
    components = tuple(
        ExactComponent(
            agent=line.agent.id,
            name=line.agent.display_name,
            agent_class=line.agent.agent_class.value,
            final_concentration=line.total_dose / total_volume,
            dose_per_site=line.total_dose / sites,
            total_dose=line.total_dose,
            prior_dose=line.prior_dose,
            max_dose=None if line.max_dose is None else line.max_dose.mg,
            fraction=line.fraction,
        )
        for line in a.lines
    )
    groups = tuple(
        ExactGroup(id=load.group.id, name=load.group.name, fraction=load.fraction, agents=load.agents)
        for load in a.groups
    )
    return ExactAnswer(
        sites=sites,
        volume_per_site=total_volume / sites,
        total_volume=total_volume,
        components=components,
        groups=groups,
        epinephrine_total=None if a.epinephrine_total is None else a.epinephrine_total * _UG_PER_MG,
        dosing_weight=None if a.weight is None else a.weight.kg,
        max_volume_per_site=plan.max_volume_per_site,
    )


@dataclass(frozen=True, slots=True)
class Computed:
    """A request computed once: its plan, the answer's words and the exact numbers."""

    request: MixtureRequest
    plan: Plan
    answer: MixtureResponse
    exact: ExactAnswer

    @classmethod
    def of(cls, request: MixtureRequest, plan: Plan) -> Computed:
        """The answer and the exact numbers of ``plan``, computed for ``request``."""
        return cls(request, plan, answer(plan), exact_answer(plan))


def computed(request: MixtureRequest, formulary: Formulary) -> Computed:
    """``request`` computed in the core's three steps (may raise
    :class:`~mixcalc.errors.PlanError`)."""
    return Computed.of(request, compute(resolve(request, formulary), formulary))
