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

Speed: a plan makes five loads (as asked and as drawn, for the plan and for the
verification of its largest volume per site, and one with the mixture left out), so what
does not change between them is worked out once per request (:class:`LoadRules`: the
maxima, prior doses and group members) and each :class:`Load` computes its fractions
once, in one pass over the doses.  The arithmetic stays Decimal: measured in CPython
3.11, a Decimal product or comparison costs ~35 or ~20 ns against ~26 or ~12 ns for
integers, and a quotient at a fixed integer scale costs more than Decimal's (~77 against
~62 ns), while converting to and from the answer's Decimals would cost more than any of
that; the plan's time is in Python calls and objects, not in the arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from .dosing import PatientMaxDose
from .formulary import Agent, CombinationRule, Condition, EpinephrineLimit, Group

__all__ = [
    "EPINEPHRINE",
    "Dose",
    "EpinephrineCap",
    "GroupLoad",
    "Load",
    "LoadRules",
    "crossed",
    "epinephrine_cap",
    "fraction",
    "group_loads",
    "larger",
    "load",
]

#: The key of the epinephrine load in :meth:`Load.fractions`.
EPINEPHRINE = "epinephrine"
_ZERO = Decimal(0)


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
    cap = EpinephrineCap(limit.cap_mg, f"{limit.basis} default")  # a Basis is a StrEnum: formatted, its value
    for restriction in limit.restrictions:
        if restriction.condition is None or restriction.condition not in present:
            continue
        assert restriction.cap_mg is not None  # the formulary model guarantees a cap here
        if restriction.cap_mg < cap.mg:
            cap = EpinephrineCap(restriction.cap_mg, restriction.reason)
    return cap


@dataclass(frozen=True, slots=True)
class GroupFraction:
    group: Group
    rule: CombinationRule
    agents: tuple[str, ...]
    fraction: Decimal | None


@dataclass(frozen=True, slots=True)
class _Members:
    """A group's members among the doses of :class:`LoadRules` (agents without a
    maximum are not members)."""

    group: Group
    #: Their ids: the mixture's first, then those given earlier only.
    agents: tuple[str, ...]
    #: Their positions among the doses, in order.
    positions: tuple[int, ...]
    #: The smallest of their maxima (mg); ``None`` when one of them cannot be stated,
    #: and then the group's load cannot be either.
    smallest: Decimal | None
    #: The group's key in :meth:`Load.fractions`: ``group:<id>``.
    key: str


@dataclass(frozen=True, slots=True)
class LoadRules:
    """What the loads of one plan are judged against, worked out once per request: for
    each dose (the mixture's components, then agents given earlier only) its agent, its
    maximum, its dose given earlier today and whether it is in the mixture; each group's
    members; the combination rule and the epinephrine cap.  :meth:`load` then needs only
    the mixture's doses.

    Maxima are positive (the formulary's caps, mg/kg and factors are, and so is a dosing
    weight), so a load is always a plain quotient."""

    agents: tuple[Agent, ...]
    limits: tuple[PatientMaxDose | None, ...]
    prior: tuple[Decimal, ...]  # mg
    in_mixture: tuple[bool, ...]
    rule: CombinationRule
    members: tuple[_Members, ...]
    #: For each dose, the position in ``members`` of its group (``None``: not a member).
    member_of: tuple[int | None, ...]
    cap: EpinephrineCap
    #: What :meth:`load` reads of each dose with a maximum, worked out once: its position
    #: among the doses, its agent's id, its prior dose (mg), its maximum (mg; ``None``
    #: when it cannot be stated) and its group's position in ``members``.
    rows: tuple[tuple[int, str, Decimal, Decimal | None, int | None], ...] = field(repr=False, compare=False)

    @classmethod
    def of(
        cls,
        agents: Sequence[Agent],
        limits: Sequence[PatientMaxDose | None],
        prior: Sequence[Decimal],
        in_mixture: Sequence[bool],
        *,
        groups: Sequence[Group],
        rule: CombinationRule,
        cap: EpinephrineCap,
    ) -> LoadRules:
        """The rules for doses of ``agents`` with these maxima, doses given earlier today
        (mg) and whether each is in the mixture (one of each per dose)."""
        if not len(agents) == len(limits) == len(prior) == len(in_mixture):
            raise ValueError("one agent, maximum, prior dose and in_mixture flag per dose")
        positions: dict[str, list[tuple[int, PatientMaxDose]]] = {}  # each group's members, in order
        for position, agent in enumerate(agents):
            limit = limits[position]
            if agent.group is not None and limit is not None:
                positions.setdefault(agent.group, []).append((position, limit))
        members: list[_Members] = []
        member_of: list[int | None] = [None] * len(agents)
        for group in groups if positions else ():
            found = positions.get(group.id)
            if not found:
                continue
            # One pass over the members: their ids (the mixture's first), their positions
            # and the smallest of their maxima (the first of equals; None if one is unstated).
            in_it: list[str] = []
            earlier_only: list[str] = []
            smallest: Decimal | None = None
            unstated = False
            for position, limit in found:
                member_of[position] = len(members)
                (in_it if in_mixture[position] else earlier_only).append(agents[position].id)
                if limit.mg is None:
                    unstated = True
                elif smallest is None or limit.mg < smallest:
                    smallest = limit.mg
            members.append(
                _Members(
                    group,
                    tuple(in_it + earlier_only),
                    tuple(position for position, _ in found),
                    None if unstated else smallest,
                    "group:" + group.id,
                )
            )
        rows = tuple(
            (position, agents[position].id, prior[position], limit.mg, member_of[position])
            for position, limit in enumerate(limits)
            if limit is not None
        )
        return cls(
            tuple(agents),
            tuple(limits),
            tuple(prior),
            tuple(in_mixture),
            rule,
            tuple(members),
            tuple(member_of),
            cap,
            rows,
        )

    def load(self, mg: Sequence[Decimal], epinephrine_mg: Decimal | None) -> Load:
        """The loads when the doses hold ``mg`` (one per dose, 0 for an agent given
        earlier only) and the mixture ``epinephrine_mg`` of epinephrine (``None``: no
        epinephrine product): each agent's fraction of its maximum, prior dose included;
        each group's load under the rule (the members' fractions summed for
        ``additive`` [S5][S52][S54]; their total dose over the smallest maximum for
        ``most_toxic``, the whole group counted as its most toxic member [S16]); the
        epinephrine total over its cap."""
        if len(mg) != len(self.agents):
            raise ValueError(f"{len(mg)} doses for {len(self.agents)} agents")
        by_key: dict[str, Decimal | None] = {}
        additive = self.rule == "additive"
        summed = [_ZERO] * len(self.members)  # each group's sum, in the order of the doses
        for position, agent_id, prior, maximum, member_of in self.rows:  # agents without a maximum have no row
            total = mg[position] + prior
            share = by_key[agent_id] = None if maximum is None else total / maximum  # as :func:`fraction`
            if member_of is not None:
                term = share if additive else total
                if term is not None:  # else the group's load cannot be stated (its ``smallest`` is None)
                    summed[member_of] += term
        for members, value in zip(self.members, summed, strict=True):
            if members.smallest is None:
                by_key[members.key] = None
            else:
                by_key[members.key] = value if additive else value / members.smallest
        if epinephrine_mg is not None:
            by_key[EPINEPHRINE] = epinephrine_mg / self.cap.mg
        return Load(self, tuple(mg), epinephrine_mg, by_key)


@dataclass(frozen=True, slots=True)
class Load:
    """The loads of one set of doses (as asked, or as drawn), made by
    :meth:`LoadRules.load`: every fraction is worked out when the load is made
    (:meth:`fractions`); the doses and the groups' loads are read from them on demand."""

    rules: LoadRules
    #: The mixture's dose of each agent of ``rules`` (mg; 0 for one given earlier only).
    mg: tuple[Decimal, ...]
    #: Total epinephrine, mg; ``None`` when no component is an epinephrine product.
    epinephrine_mg: Decimal | None
    #: Every load by key (see :meth:`fractions`).
    by_key: Mapping[str, Decimal | None] = field(repr=False, compare=False)

    @property
    def doses(self) -> tuple[Dose, ...]:
        rules = self.rules
        return tuple(map(Dose, rules.agents, self.mg, rules.prior, rules.limits, rules.in_mixture))

    @property
    def groups(self) -> tuple[GroupFraction, ...]:
        rules = self.rules
        return tuple(GroupFraction(m.group, rules.rule, m.agents, self.by_key[m.key]) for m in rules.members)

    @property
    def epinephrine_cap(self) -> EpinephrineCap:
        return self.rules.cap

    def fractions(self) -> Mapping[str, Decimal | None]:
        """Every load by key: agent id (agents with a maximum), ``group:<id>`` and
        ``epinephrine`` (when a component is an epinephrine product), in that order."""
        return self.by_key

    def within(self) -> bool:
        """Whether every load can be stated and is at most 1 (what a plan must keep to)."""
        return all(f is not None and f <= 1 for f in self.by_key.values())


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
    the mixture is), and the epinephrine total (:meth:`LoadRules.load`)."""
    rules = LoadRules.of(
        [d.agent for d in doses],
        [d.limit for d in doses],
        [d.prior_mg for d in doses],
        [d.in_mixture for d in doses],
        groups=groups,
        rule=rule,
        cap=cap,
    )
    return rules.load([d.mg for d in doses], epinephrine_mg)


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
    as_asked, as_drawn, rule = asked.by_key, drawn.by_key, drawn.rules.rule
    return tuple(GroupLoad(m.group, rule, m.agents, as_asked.get(m.key), as_drawn[m.key]) for m in drawn.rules.members)
