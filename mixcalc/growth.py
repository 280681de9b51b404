"""Growth: whether a child's weight can belong to its age (CDC 2000 weight-for-age).

The reference is the CDC 2000 growth charts' weight-for-age LMS parameters, shipped
unchanged as the CDC's own data files ``formulary/cdc-wtageinf.csv`` (birth to 36
months) and ``formulary/cdc-wtage.csv`` (24 months to 20 years) [S75], read once per
process.  A weight is *implausible* for an age when its modified weight-for-age
z-score is outside the cut-offs the CDC's SAS program for these charts uses to flag
biologically implausible values (below -5 or above +8) [S76]; the cut-offs live in the
formulary (``[growth]``).

Modified z-score (CDC): the distance from the median M in units of half the distance
between M and the weight at z = +2 (above the median) or z = -2 (below), where the
weight at z is ``M (1 + L S z)^(1/L)``.  This is a screening flag on measurements, not
dose arithmetic, so it is computed in floats.
"""

from __future__ import annotations

import csv
import io
from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

__all__ = ["DAYS_PER_MONTH", "WeightForAge", "heaviest_plausible", "implausible", "modified_z", "weight_for_age"]

Sex = Literal["female", "male"]

#: The CDC programs' month: 365.25 / 12 days.
DAYS_PER_MONTH = Decimal("30.4375")
_INFANT = "cdc-wtageinf.csv"  # 0 to 36 months, used below 24 months
_CHILD = "cdc-wtage.csv"  # 24 to 240 months
_CHILD_FROM_MONTHS = 24.0
_CODES: dict[str, Sex] = {"1": "male", "2": "female"}


@dataclass(frozen=True, slots=True)
class _Table:
    months: tuple[float, ...]
    lms: tuple[tuple[float, float, float], ...]

    def at(self, months: float) -> tuple[float, float, float]:
        """L, M and S at ``months``, linearly interpolated between the table's ages."""
        i = bisect_right(self.months, months)
        if i == 0:
            return self.lms[0]
        if i == len(self.months):
            return self.lms[-1]
        a, b = self.months[i - 1], self.months[i]
        t = (months - a) / (b - a)
        low, high = self.lms[i - 1], self.lms[i]
        return (
            low[0] + t * (high[0] - low[0]),
            low[1] + t * (high[1] - low[1]),
            low[2] + t * (high[2] - low[2]),
        )


@dataclass(frozen=True, slots=True)
class WeightForAge:
    """The CDC 2000 weight-for-age reference, by sex, from birth to 240 months."""

    infant: dict[Sex, _Table]
    child: dict[Sex, _Table]
    last_month: float

    def lms(self, sex: Sex, months: float) -> tuple[float, float, float]:
        table = self.child if months >= _CHILD_FROM_MONTHS else self.infant
        return table[sex].at(months)

    def covers(self, age_days: Decimal) -> bool:
        return age_days / DAYS_PER_MONTH <= Decimal(str(self.last_month))

    def modified_z(self, *, weight_kg: Decimal, age_days: Decimal, sex: Sex) -> float:
        return modified_z(float(weight_kg), *self.lms(sex, float(age_days / DAYS_PER_MONTH)))

    def heaviest(self, *, age_days: Decimal, z_above: Decimal) -> Decimal:
        """The largest weight (either sex) with a modified z-score of at most ``z_above``
        at any age up to ``age_days``: no heavier child of that age or younger is plausible."""
        months = float(age_days / DAYS_PER_MONTH)
        cut = float(z_above)
        ages = {months}
        for tables in (self.infant, self.child):
            for table in tables.values():
                ages.update(m for m in table.months if m <= months)
        heaviest = 0.0
        for sex in ("female", "male"):
            for age in ages:
                lam, mu, sigma = self.lms(sex, age)
                heaviest = max(heaviest, mu + cut * (_at_z(lam, mu, sigma, 2.0) - mu) / 2)
        return Decimal(repr(heaviest))


def _at_z(lam: float, mu: float, sigma: float, z: float) -> float:
    return float(mu * (1 + lam * sigma * z) ** (1 / lam))


def modified_z(value: float, lam: float, mu: float, sigma: float) -> float:
    """The CDC modified z-score of ``value`` for LMS parameters ``lam``, ``mu``, ``sigma``."""
    if value >= mu:
        return 2 * (value - mu) / (_at_z(lam, mu, sigma, 2.0) - mu)
    return 2 * (value - mu) / (mu - _at_z(lam, mu, sigma, -2.0))


def _read(name: str) -> dict[Sex, _Table]:
    text = (resources.files("mixcalc") / "_data" / name).read_text(encoding="utf-8")
    rows: dict[Sex, list[tuple[float, tuple[float, float, float]]]] = {"male": [], "female": []}
    for row in csv.DictReader(io.StringIO(text)):
        rows[_CODES[row["Sex"]]].append((float(row["Agemos"]), (float(row["L"]), float(row["M"]), float(row["S"]))))
    return {
        sex: _Table(tuple(m for m, _ in sorted(found)), tuple(p for _, p in sorted(found)))
        for sex, found in rows.items()
    }


@cache
def weight_for_age() -> WeightForAge:
    """The packaged reference, read once per process (the formulary loader calls this at
    start-up, so a missing or broken file stops the service before the first request)."""
    infant, child = _read(_INFANT), _read(_CHILD)
    return WeightForAge(infant, child, min(t.months[-1] for t in child.values()))


@lru_cache(maxsize=256)  # a formulary has a handful of age limits
def heaviest_plausible(age_days: Decimal, z_above: Decimal) -> Decimal:
    """The heaviest plausible weight (either sex) of a child younger than ``age_days``."""
    return weight_for_age().heaviest(age_days=age_days, z_above=z_above)


def implausible(
    *, weight_kg: Decimal, age_days: Decimal, sex: Sex | None, z_below: Decimal, z_above: Decimal
) -> tuple[float, Sex] | None:
    """The modified z-score (and the sex it was computed for) that makes ``weight_kg``
    implausible at ``age_days``, or ``None`` when it is plausible or the age is beyond
    the reference.  With the sex unknown, implausible only if so for both sexes (the
    score nearer the plausible range is reported)."""
    reference = weight_for_age()
    if not reference.covers(age_days):
        return None
    sexes: tuple[Sex, ...] = (sex,) if sex is not None else ("female", "male")
    scores = [(reference.modified_z(weight_kg=weight_kg, age_days=age_days, sex=s), s) for s in sexes]
    low, high = float(z_below), float(z_above)
    if all(z < low for z, _ in scores):
        return max(scores)
    if all(z > high for z, _ in scores):
        return min(scores)
    return None
