"""Loads: each agent's share of its maximum, each group's load and the epinephrine total
against its cap, computed in one place.

The rounding guard (:mod:`mixcalc.plan`), the checks and the answer all read these
values, so that they cannot drift apart (a second copy once forgot prior doses of agents
outside the mixture).  Everything here is exact Decimal arithmetic over the core's units
(doses in mg); nothing is rounded for display.

A plan has two loads: **as asked** (the volumes the request asks for) and **as drawn**
(the volumes measured to a graduation).  The rounding guard compares them; a warning
judges each load on the larger of the two, each taken whole (a group's sum as asked and
its sum as drawn, never a per-agent larger value summed).

An agent whose maximum exists but cannot be stated (``PatientMaxDose.mg is None``, e.g. a child
without a weight) has no fraction, and neither does any group containing it: ``None``,
never a number that reads as "within limits".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .dosing import PatientMaxDose
from .formulary import Agent, CombinationRule, Condition, EpinephrineLimit, Group
from .units import MG

__all__ = [
    "EPINEPHRINE",
    "Dose",
    "EpinephrineCap",
    "GroupLoad",
    "Load",
    "crossed",
    "epinephrine_cap",
    "fraction",
    "group_loads",
    "larger",
    "load",
]

#: The key of the epinephrine load in :meth:`Load.fractions`.
EPINEPHRINE = "epinephrine"


def fraction(dose: Decimal, limit: PatientMaxDose | None) -> Decimal | None:
    """``dose`` (mg, prior doses included) as a share of ``limit``; ``None`` when the agent
    has no maximum or its maximum cannot be stated."""
    if limit is None or limit.mg is None:
        return None
    return dose / limit.mg


def larger(one: Decimal | None, other: Decimal | None) -> Decimal | None:
    """The larger of two loads; ``None`` when either is unknown."""
    if one is None or other is None:
        return None
    return max(one, other)


@dataclass(frozen=True, slots=True)
class Dose:
    """One agent's dose in this plan: what the mixture holds and what was given earlier today."""

    agent: Agent
    mg: Decimal  # in this mixture (0 for an agent given earlier only)
    prior_mg: Decimal
    limit: PatientMaxDose | None  # None: the agent has no maximum
    in_mixture: bool = True

    @property
    def total(self) -> Decimal:
        return self.mg + self.prior_mg

    @property
    def fraction(self) -> Decimal | None:
        return fraction(self.total, self.limit)


@dataclass(frozen=True, slots=True)
class EpinephrineCap:
    mg: Decimal
    reason: str


def epinephrine_cap(limit: EpinephrineLimit, conditions: Iterable[Condition]) -> EpinephrineCap:
    """The epinephrine cap per visit for this patient: the formulary's default, or the
    lowest cap of a restriction whose condition the patient has (CLINICAL.md section 7)."""
    present = frozenset(conditions)
    cap = EpinephrineCap(limit.cap.in_(MG), f"{limit.basis.value} default")
    for restriction in limit.restrictions:
        if restriction.condition is None or restriction.condition not in present:
            continue
        assert restriction.cap is not None  # the formulary model guarantees a cap here
        if restriction.cap.in_(MG) < cap.mg:
            cap = EpinephrineCap(restriction.cap.in_(MG), restriction.reason)
    return cap


@dataclass(frozen=True, slots=True)
class GroupFraction:
    group: Group
    rule: CombinationRule
    agents: tuple[str, ...]
    fraction: Decimal | None


@dataclass(frozen=True, slots=True)
class Load:
    """The loads of one set of doses (as asked, or as drawn)."""

    doses: tuple[Dose, ...]
    groups: tuple[GroupFraction, ...]
    #: Total epinephrine, mg; ``None`` when no component is an epinephrine product.
    epinephrine_mg: Decimal | None
    epinephrine_cap: EpinephrineCap

    @property
    def epinephrine_fraction(self) -> Decimal | None:
        return None if self.epinephrine_mg is None else self.epinephrine_mg / self.epinephrine_cap.mg

    def fractions(self) -> dict[str, Decimal | None]:
        """Every load by key: agent id, ``group:<id>`` and ``epinephrine``."""
        found: dict[str, Decimal | None] = {d.agent.id: d.fraction for d in self.doses if d.limit is not None}
        found.update({f"group:{g.group.id}": g.fraction for g in self.groups})
        if self.epinephrine_mg is not None:
            found[EPINEPHRINE] = self.epinephrine_fraction
        return found


def _group_fraction(members: Sequence[Dose], rule: CombinationRule) -> Decimal | None:
    if any(d.limit is None or d.limit.mg is None for d in members):
        return None
    if rule == "additive":  # fractions add up [S5][S52][S54]
        return sum((d.total / d.limit.mg for d in members if d.limit and d.limit.mg), Decimal(0))
    # the whole group counted as its most toxic member [S16]
    smallest = min(d.limit.mg for d in members if d.limit and d.limit.mg)
    return sum((d.total for d in members), Decimal(0)) / smallest


def load(
    doses: Sequence[Dose],
    *,
    groups: Sequence[Group],
    rule: CombinationRule,
    epinephrine_mg: Decimal | None,
    cap: EpinephrineCap,
) -> Load:
    """The loads of ``doses``: each agent's fraction, each group's load under ``rule``
    (agents without a maximum are not members; a dose given earlier of an agent not in
    the mixture is), and the epinephrine total."""
    found = []
    for group in groups:
        members = [d for d in doses if d.agent.group == group.id and d.limit is not None]
        if members:
            agents = tuple(d.agent.id for d in members if d.in_mixture)
            agents += tuple(d.agent.id for d in members if not d.in_mixture)
            found.append(GroupFraction(group, rule, agents, _group_fraction(members, rule)))
    return Load(tuple(doses), tuple(found), epinephrine_mg, cap)


def crossed(asked: Load, drawn: Load) -> tuple[str, ...]:
    """The loads (keys of :meth:`Load.fractions`) that were at most 1 as asked and are over
    1 as drawn: what rounding must never do.  A load that cannot be stated has no limit
    to cross."""
    before, after = asked.fractions(), drawn.fractions()
    return tuple(
        key for key, was in before.items() if was is not None and (now := after.get(key)) is not None and was <= 1 < now
    )


@dataclass(frozen=True, slots=True)
class GroupLoad:
    """A group's load as asked and as drawn, each the group's whole sum."""

    group: Group
    rule: CombinationRule
    agents: tuple[str, ...]
    asked: Decimal | None
    drawn: Decimal | None

    @property
    def fraction(self) -> Decimal | None:
        """The larger of the load as asked and as drawn (``None`` when it cannot be
        stated): what the warnings judge and what the answer reports."""
        return larger(self.asked, self.drawn)


def group_loads(asked: Load, drawn: Load) -> tuple[GroupLoad, ...]:
    """Each group's load, pairing the load as asked with the load as drawn."""
    as_asked: Mapping[str, GroupFraction] = {g.group.id: g for g in asked.groups}
    return tuple(
        GroupLoad(
            g.group,
            g.rule,
            g.agents,
            as_asked[g.group.id].fraction if g.group.id in as_asked else None,
            g.fraction,
        )
        for g in drawn.groups
    )
