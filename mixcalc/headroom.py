"""Headroom: the largest volume per site of a mixture that breaks no limit.

Every component is scaled by the same factor ``s`` (a component asked as a dose is
scaled as a dose), so every load the checks judge on the plan *as asked* is a straight
line in ``s``: ``fraction(s) = fixed + s * scaled``, where ``fixed`` is what was given
earlier today and ``scaled`` is this mixture's share at ``s = 1``.  The largest ``s``
that keeps every load at or under 1 gives a candidate volume per site, rounded down to
a multiple of :data:`STEP`.  The candidate is only a starting point: the caller
verifies it with the real plan (graduation rounding, syringes, every rule) and
:func:`step_down` walks down by :data:`STEP`, a bounded number of times, until a
volume's own plan breaks no limit.  Nothing is extrapolated.

The same search serves the answer's ``max_volume_per_site`` and the CDS Hooks
suggestion to reduce an order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TypeVar

__all__ = ["MAX_STEPS", "STEP", "Load", "candidate", "step_down"]

#: Volumes per site are multiples of this (mL).
STEP = Decimal("0.1")
#: How many volumes :func:`step_down` tries before giving up.
MAX_STEPS = 60

T = TypeVar("T")
_SLACK = Decimal("1e-12")


@dataclass(frozen=True, slots=True)
class Load:
    """A load (dose / maximum) as a straight line in the scale factor ``s``."""

    fixed: Decimal  # at s = 0: doses given earlier today
    scaled: Decimal  # added per unit of s: this mixture as asked

    def at(self, s: Decimal) -> Decimal:
        return self.fixed + s * self.scaled


def _floor(volume: Decimal) -> Decimal:
    return (volume / STEP).to_integral_value(ROUND_FLOOR) * STEP


def candidate(volume_per_site: Decimal, loads: Iterable[Load], *, ceiling: Decimal) -> Decimal | None:
    """The largest multiple of :data:`STEP` (at most ``ceiling`` mL) per site at which
    no load, scaled from ``volume_per_site``, is over 1; None when no load grows with
    the volume (no maximum can be stated) or not even one step fits."""
    growing = [load for load in loads if load.scaled > 0]
    if not growing:
        return None

    # Without division, and with a hair of slack for Decimal's 28 digits (2 mg in 6 mg/mL
    # is 0.333...3 mL): the real plan, not this estimate, decides.
    bound = volume_per_site + volume_per_site * _SLACK
    terms = [(load.fixed * volume_per_site, load.scaled) for load in growing]  # the same for every volume

    def within(volume: Decimal) -> bool:
        return volume <= ceiling and all(fixed + volume * scaled <= bound for fixed, scaled in terms)

    volume = _floor(min(min((1 - load.fixed) * volume_per_site / load.scaled for load in growing), ceiling))
    while within(volume + STEP):  # a quotient rounded just under a whole step
        volume += STEP
    while volume >= STEP and not within(volume):
        volume -= STEP
    return volume if volume >= STEP else None


def step_down(
    start: Decimal, fits: Callable[[Decimal], T | None], *, steps: int = MAX_STEPS
) -> tuple[Decimal, T] | None:
    """The first volume from ``start`` down (by :data:`STEP`, at most ``steps`` tries)
    for which ``fits`` returns a result (the verified plan), with that result."""
    volume = start
    for _ in range(steps):
        if volume < STEP:
            return None
        result = fits(volume)
        if result is not None:
            return volume, result
        volume -= STEP
    return None
