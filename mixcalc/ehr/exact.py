"""The one place the EHR adapters take numbers from a computed answer.

The answer (:class:`~mixcalc.schema.MixtureResponse`) carries rounded floats for JSON.
The adapters need Decimals; :func:`exact_answer` is the single function that turns the
answer into them, so that when the core exposes its exact values this is the one function
to point at them (no float is turned back into a Decimal anywhere else in
:mod:`mixcalc.ehr`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..schema import MixtureResponse

__all__ = ["ExactAnswer", "ExactComponent", "exact_answer"]


@dataclass(frozen=True, slots=True)
class ExactComponent:
    agent: str
    name: str
    agent_class: str
    final_concentration: Decimal  # mg/mL in the mixture
    dose_per_site: Decimal  # mg
    total_dose: Decimal  # mg
    prior_dose: Decimal  # mg
    max_dose: Decimal | None  # mg
    fraction: Decimal | None


@dataclass(frozen=True, slots=True)
class ExactGroup:
    id: str
    name: str
    fraction: Decimal | None
    agents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ExactAnswer:
    sites: int
    volume_per_site: Decimal  # mL
    total_volume: Decimal  # mL
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


def _d(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))


def exact_answer(answer: MixtureResponse) -> ExactAnswer:
    """The answer's numbers as Decimals (see the module docstring)."""
    components = tuple(
        ExactComponent(
            agent=c.agent,
            name=c.name,
            agent_class=c.agent_class,
            final_concentration=Decimal(repr(c.final_concentration.value)),
            dose_per_site=Decimal(repr(c.dose_per_site.value)),
            total_dose=Decimal(repr(c.total_dose.value)),
            prior_dose=Decimal(0) if c.prior_dose is None else Decimal(repr(c.prior_dose.value)),
            max_dose=None if c.max_dose is None else Decimal(repr(c.max_dose.value)),
            fraction=_d(c.fraction_of_max),
        )
        for c in answer.components
    )
    groups = tuple(
        ExactGroup(id=g.id, name=g.name, fraction=_d(g.fraction), agents=tuple(g.agents)) for g in answer.groups
    )
    return ExactAnswer(
        sites=answer.sites,
        volume_per_site=Decimal(repr(answer.volume_per_site.value)),
        total_volume=Decimal(repr(answer.total_volume.value)),
        components=components,
        groups=groups,
        epinephrine_total=None if answer.epinephrine_total is None else Decimal(repr(answer.epinephrine_total.value)),
        dosing_weight=None if answer.dosing_weight is None else Decimal(repr(answer.dosing_weight.value)),
        max_volume_per_site=None
        if answer.max_volume_per_site is None
        else Decimal(repr(answer.max_volume_per_site.value)),
    )
