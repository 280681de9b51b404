"""Mixture: which syringes, how many sites each, and what volume of each agent to draw.

Volumes are Decimals in mL.  A volume to draw is a multiple of the graduation of the
syringe it is measured in (CLINICAL.md section 11): it is rounded to the nearest
graduation, or down where the caller says rounding up would cross a limit.

A draw must also be close to what the plan asks: no draw may differ from its asked volume
by more than the formulary's ``policy.draw_tolerance`` (a share of the asked volume).  The
mixing syringe is chosen as before (a requested one; else the smallest that holds the
whole mixture; else the default size split over whole sites); a draw it cannot measure
within the tolerance is measured in a separate, finer syringe of the formulary and added
to the mixing syringe; only when that is not enough are smaller mixing syringes tried.
What cannot be measured within the tolerance at all is drawn as closely as the formulary
allows and left to the checks to warn about.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_DOWN, Decimal

from .errors import SiteDoesNotFit, UnknownSyringe
from .formulary import Formulary, Syringe
from .units import ML

__all__ = [
    "FilledSyringe",
    "MeasuredDraw",
    "SyringePlan",
    "choose_syringes",
    "draw_volumes",
    "fill_syringes",
    "measure",
    "plan_syringes",
    "round_to_graduation",
    "within_tolerance",
]


@dataclass(frozen=True, slots=True)
class SyringePlan:
    syringe: Syringe
    #: Sites held by each syringe, in order; they add up to the number of sites.
    site_counts: tuple[int, ...]
    #: Why this syringe: "requested", "holds the whole mixture" or "default size".
    reason: str


@dataclass(frozen=True, slots=True)
class MeasuredDraw:
    """One component's draw for one mixing syringe."""

    #: mL, a multiple of the graduation of the syringe it is measured in.
    volume: Decimal
    #: mL the plan asks for in this syringe (volume per site x its sites), unrounded.
    asked: Decimal
    #: The separate, finer syringe it is measured in before it is added to the mixing
    #: syringe; ``None``: measured in the mixing syringe itself.
    measured_in: Syringe | None = None

    @property
    def deviation(self) -> Decimal:
        """How far the draw is off what was asked, as a share of what was asked."""
        return abs(self.volume - self.asked) / self.asked if self.asked else Decimal(0)


@dataclass(frozen=True, slots=True)
class FilledSyringe:
    """One mixing syringe: its sites and what goes into it, in component order."""

    sites: int
    draws: tuple[MeasuredDraw, ...]

    @property
    def fill(self) -> Decimal:
        return sum((d.volume for d in self.draws), Decimal(0))


def _ml(value: Decimal) -> str:
    return f"{value.normalize():f} mL"


def _split(syringe: Syringe, *, volume_per_site: Decimal, sites: int, reason: str, pointer: str) -> SyringePlan:
    capacity = syringe.capacity_ml
    per_syringe = min(sites, int(capacity // volume_per_site))
    if per_syringe == 0:
        raise SiteDoesNotFit(
            pointer,
            _ml(volume_per_site),
            f"one site takes {_ml(volume_per_site)}, more than a {_ml(capacity)} syringe holds",
        )
    full, rest = divmod(sites, per_syringe)
    counts = (per_syringe,) * full + ((rest,) if rest else ())
    return SyringePlan(syringe, counts, reason)


def choose_syringes(
    formulary: Formulary, *, volume_per_site: Decimal, sites: int, requested: Decimal | None
) -> SyringePlan:
    """Choose the syringe size and split the sites over as few syringes as possible,
    each holding whole sites.

    With a requested capacity, that syringe.  Otherwise the smallest formulary syringe
    that holds the whole mixture, else the formulary's default size (or, where one site
    does not fit that, the smallest size that holds one site).
    """
    by_capacity = formulary.syringes_by_capacity
    total = volume_per_site * sites
    if requested is not None:
        syringe = by_capacity.get(requested)
        if syringe is None:
            raise UnknownSyringe("/syringe", _ml(requested), [_ml(c) for c in by_capacity])
        return _split(syringe, volume_per_site=volume_per_site, sites=sites, reason="requested", pointer="/syringe")
    smallest = next((s for c, s in by_capacity.items() if c >= total), None)  # by capacity, smallest first
    if smallest is not None:
        return SyringePlan(smallest, (sites,), "the smallest syringe that holds the whole mixture")
    syringe = by_capacity[formulary.policy.default_syringe.in_(ML)]
    reason = "the default syringe size; the mixture is split over whole sites"
    if syringe.capacity_ml < volume_per_site:
        larger = [s for c, s in by_capacity.items() if c >= volume_per_site]
        if larger:
            syringe = larger[0]
            reason = "the smallest syringe that holds one site"
    return _split(syringe, volume_per_site=volume_per_site, sites=sites, reason=reason, pointer="/components")


_WHOLE = Decimal(1)


def round_to_graduation(volume: Decimal, graduation: Decimal, *, down: bool = False) -> Decimal:
    """``volume`` as a multiple of ``graduation``: the nearest (an exact half goes down: less drug), or the one
    below when ``down``."""
    steps = (volume / graduation).quantize(_WHOLE, rounding=ROUND_FLOOR if down else ROUND_HALF_DOWN)
    return steps * graduation


def within_tolerance(volume: Decimal, asked: Decimal, tolerance: Decimal) -> bool:
    """Whether ``volume`` is within ``tolerance`` (a share) of ``asked``."""
    return abs(volume - asked) <= tolerance * asked


def measure(
    asked: Decimal, *, mixing: Syringe, syringes: Sequence[Syringe], tolerance: Decimal, down: bool = False
) -> MeasuredDraw:
    """The draw of ``asked`` mL for a ``mixing`` syringe.

    In the mixing syringe when its graduation measures it within ``tolerance``; else in
    the smallest of ``syringes`` with a finer graduation that holds it and measures it
    within ``tolerance``; else wherever it comes closest (the mixing syringe on a tie).
    ``down``: never more than asked.  ``syringes`` are in order of capacity, smallest first.
    """
    coarse = mixing.graduation_ml
    volume = round_to_graduation(asked, coarse, down=down)
    closest = MeasuredDraw(volume, asked)  # in the mixing syringe
    if within_tolerance(volume, asked, tolerance):
        return closest
    for syringe in syringes:
        graduation = syringe.graduation_ml
        if graduation >= coarse:
            continue
        volume = round_to_graduation(asked, graduation, down=down)
        if volume <= 0 or volume > syringe.capacity_ml:
            continue
        candidate = MeasuredDraw(volume, asked, syringe)
        if within_tolerance(volume, asked, tolerance):
            return candidate
        if candidate.deviation < closest.deviation:
            closest = candidate
    return closest


def fill_syringes(
    volumes_per_site: Sequence[Decimal],
    plan: SyringePlan,
    *,
    syringes: Sequence[Syringe],
    tolerance: Decimal,
    round_down: frozenset[int] = frozenset(),
) -> tuple[FilledSyringe, ...]:
    """What goes into each mixing syringe of ``plan``: for each component (same order as
    ``volumes_per_site``) its draw, measured as :func:`measure` says; components whose
    index is in ``round_down`` are never rounded up.

    A component measured in a separate, finer syringe for one mixing syringe is measured
    that way for every mixing syringe of the plan where that is at least as close (one
    way of drawing each agent, and the same strength in every syringe as near as the
    graduations allow), rather than rounded on a coarse scale in some of them."""
    capacity = plan.syringe.capacity_ml
    counts = plan.site_counts

    def draws(count: int, *, all_down: bool, finer: dict[int, Syringe]) -> tuple[MeasuredDraw, ...]:
        found = []
        for index, volume in enumerate(volumes_per_site):
            down = all_down or index in round_down
            draw = measure(volume * count, mixing=plan.syringe, syringes=syringes, tolerance=tolerance, down=down)
            separate = finer.get(index)
            if separate is not None and draw.measured_in is None:
                again = round_to_graduation(volume * count, separate.graduation_ml, down=down)
                candidate = MeasuredDraw(again, volume * count, separate)
                if 0 < again <= separate.capacity_ml and candidate.deviation <= draw.deviation:
                    draw = candidate
            found.append(draw)
        return tuple(found)

    def fill(finer: dict[int, Syringe]) -> tuple[FilledSyringe, ...]:
        filled = []
        for count in counts:
            syringe = FilledSyringe(count, draws(count, all_down=False, finer=finer))
            if syringe.fill > capacity:
                # Rounding up overfilled this syringe: every draw rounded down fits, since
                # the unrounded volumes do.
                syringe = FilledSyringe(count, draws(count, all_down=True, finer=finer))
            filled.append(syringe)
        return tuple(filled)

    first = fill({})
    if len(counts) == 1:
        return first  # one mixing syringe: each draw is measured one way already
    finer = {
        index: draw.measured_in
        for syringe in first
        for index, draw in enumerate(syringe.draws)
        if draw.measured_in is not None
    }
    return fill(finer) if finer else first


def _all_within(filled: Sequence[FilledSyringe], tolerance: Decimal) -> bool:
    return all(within_tolerance(d.volume, d.asked, tolerance) for s in filled for d in s.draws)


def _smaller(formulary: Formulary, plan: SyringePlan, volume_per_site: Decimal) -> Iterator[Syringe]:
    """Mixing syringes smaller than the plan's that hold one site, largest first."""
    capacity = plan.syringe.capacity_ml
    for size, syringe in reversed(list(formulary.syringes_by_capacity.items())):
        if volume_per_site <= size < capacity:
            yield syringe


def plan_syringes(
    formulary: Formulary, *, volumes_per_site: Sequence[Decimal], sites: int, requested: Decimal | None
) -> tuple[SyringePlan, tuple[FilledSyringe, ...]]:
    """The mixing syringes and what goes into each.

    :func:`choose_syringes` picks the mixing syringe; a draw it cannot measure within
    the formulary's tolerance is measured in a separate, finer syringe.  When even that
    leaves a draw outside the tolerance (and no syringe was requested), smaller mixing
    syringes are tried, largest first; the first that measures every draw within the
    tolerance is taken, else the first plan stands (the checks warn).
    """
    tolerance = formulary.policy.draw_tolerance
    volume_per_site = sum(volumes_per_site, Decimal(0))
    plan = choose_syringes(formulary, volume_per_site=volume_per_site, sites=sites, requested=requested)
    by_size = formulary.syringes_in_order
    filled = fill_syringes(volumes_per_site, plan, syringes=by_size, tolerance=tolerance)
    if requested is not None or _all_within(filled, tolerance):
        return plan, filled
    for syringe in _smaller(formulary, plan, volume_per_site):
        smaller = _split(
            syringe,
            volume_per_site=volume_per_site,
            sites=sites,
            reason="a smaller syringe, whose finer graduation measures every draw within tolerance",
            pointer="/components",
        )
        smaller_filled = fill_syringes(volumes_per_site, smaller, syringes=by_size, tolerance=tolerance)
        if _all_within(smaller_filled, tolerance):
            return smaller, smaller_filled
    return plan, filled


def draw_volumes(
    volumes_per_site: Sequence[Decimal], plan: SyringePlan, *, round_down: frozenset[int] = frozenset()
) -> tuple[tuple[Decimal, ...], ...]:
    """For each syringe, the volume of each component drawn in the mixing syringe itself
    (same order as ``volumes_per_site``), with no separate syringe and no tolerance;
    components whose index is in ``round_down`` are never rounded up.  (The planner uses
    :func:`fill_syringes`; this is the plain rounding an adapter may use to compare
    syringe sizes.)"""
    filled = fill_syringes(volumes_per_site, plan, syringes=(), tolerance=Decimal(0), round_down=round_down)
    return tuple(tuple(d.volume for d in syringe.draws) for syringe in filled)
