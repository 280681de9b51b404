"""Mixture: which syringes, how many sites each, and what volume of each agent to draw.

Volumes are Decimals in mL.  A volume to draw is a multiple of the graduation of the
syringe it is measured in (CLINICAL.md section 11): it is rounded to the nearest
graduation, or down where the caller says rounding up would cross a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_DOWN, Decimal

from .errors import SiteDoesNotFit, UnknownSyringe
from .formulary import Formulary, Syringe
from .units import ML

__all__ = ["SyringePlan", "choose_syringes", "draw_volumes", "round_to_graduation"]


@dataclass(frozen=True, slots=True)
class SyringePlan:
    syringe: Syringe
    #: Sites held by each syringe, in order; they add up to the number of sites.
    site_counts: tuple[int, ...]
    #: Why this syringe: "requested", "holds the whole mixture" or "default size".
    reason: str


def _ml(value: Decimal) -> str:
    return f"{value.normalize():f} mL"


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
        reason = "requested"
    else:
        fitting = [s for c, s in by_capacity.items() if c >= total]
        if fitting:
            return SyringePlan(fitting[0], (sites,), "the smallest syringe that holds the whole mixture")
        syringe = by_capacity[formulary.policy.default_syringe.in_(ML)]
        reason = "the default syringe size; the mixture is split over whole sites"
        if syringe.capacity.in_(ML) < volume_per_site:
            larger = [s for c, s in by_capacity.items() if c >= volume_per_site]
            if larger:
                syringe = larger[0]
                reason = "the smallest syringe that holds one site"
    capacity = syringe.capacity.in_(ML)
    per_syringe = min(sites, int(capacity // volume_per_site))
    if per_syringe == 0:
        raise SiteDoesNotFit(
            "/syringe" if requested is not None else "/components",
            _ml(volume_per_site),
            f"one site takes {_ml(volume_per_site)}, more than a {_ml(capacity)} syringe holds",
        )
    full, rest = divmod(sites, per_syringe)
    counts = (per_syringe,) * full + ((rest,) if rest else ())
    return SyringePlan(syringe, counts, reason)


def round_to_graduation(volume: Decimal, graduation: Decimal, *, down: bool = False) -> Decimal:
    """``volume`` as a multiple of ``graduation``: the nearest (an exact half goes down: less drug), or the one
    below when ``down``."""
    steps = (volume / graduation).quantize(Decimal(1), rounding=ROUND_FLOOR if down else ROUND_HALF_DOWN)
    return steps * graduation


def draw_volumes(
    volumes_per_site: Sequence[Decimal], plan: SyringePlan, *, round_down: frozenset[int] = frozenset()
) -> tuple[tuple[Decimal, ...], ...]:
    """For each syringe, the volume of each component to draw (same order as
    ``volumes_per_site``); components whose index is in ``round_down`` are never
    rounded up."""
    graduation = plan.syringe.graduation.in_(ML)
    capacity = plan.syringe.capacity.in_(ML)
    syringes = []
    for count in plan.site_counts:
        draws = tuple(
            round_to_graduation(volume * count, graduation, down=index in round_down)
            for index, volume in enumerate(volumes_per_site)
        )
        if sum(draws, Decimal(0)) > capacity:
            # Rounding up overfilled this syringe: every draw rounded down fits, since
            # the unrounded volumes do.
            draws = tuple(round_to_graduation(v * count, graduation, down=True) for v in volumes_per_site)
        syringes.append(draws)
    return tuple(syringes)
