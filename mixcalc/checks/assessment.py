"""What the checks judge: one :class:`Line` per component, the whole :class:`Assessment`
of a plan, and the :class:`Finding` values the rules yield."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .. import loads
from ..dosing import DosingWeight, LowestWeight, PatientFacts, PatientMaxDose
from ..formulary import Agent, Form, Formulary, RuleSources, Syringe
from ..loads import GroupLoad, Load
from ..mixture import FilledSyringe

__all__ = ["RANK", "Assessment", "Finding", "Line", "Rule", "Severity", "cited", "names"]


Severity = Literal["info", "warning", "critical"]
RANK = {"critical": 0, "warning": 1, "info": 2}


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
        return self.form is None and what in self.agent.forms_contain

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


def cited(a: Assessment) -> RuleSources:
    """The sources of the rules whose findings no formulary number cites (formulary data:
    ``[rule_sources]``, checked at start-up)."""
    return a.formulary.rule_sources


def names(a: Assessment, agent_ids: Iterable[str]) -> str:
    """The agents as people read them (the formulary's display names, Tall Man where ISMP
    asks), for a finding's message; the finding's ``agents`` keep the ids."""
    return ", ".join(a.formulary.agents_by_id[agent_id].display_name for agent_id in agent_ids)
