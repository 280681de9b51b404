"""Display: numbers and amounts as people should read them (ISMP, CLINICAL.md section 12).

Leading zero (0.5 mL, never .5 mL), no trailing zero (5 mL, never 5.0 mL), ``mcg`` for
people (``ug`` stays in data), ``mL`` never ``cc``, a space between number and unit,
thousands separators (1,000 mg).  Tall Man names live in the formulary's
``display_name``.

The numbers of the JSON answer are rounded here too, once, by these rules:

- amounts (``{value, unit}``): 4 decimal places, half to even (:func:`rounded`);
  a maximum dose, a maximum volume and the largest volume per site are rounded down
  (``floor=True``), so that a limit is never overstated;
- fractions of a maximum: 4 places, rounded up (:func:`fraction`), so that a shown
  load is never understated;
- the dosing weight: 0.1 kg, half to even (:func:`weight`).

The amount and fraction rules keep the floats they have written, per exact value, in a
bounded table (:class:`_Rounding`): an answer holds ~45 numbers and a ward's strengths,
volumes, doses and syringe sizes repeat, and a look-up costs a tenth of ``quantize`` and
``float``.  The dosing weight has no table: it is one number per answer, and the
patient's own.  The tables hold bare numbers, never with a name, a field or a request.
Equal Decimals (``1.25`` and ``1.250``) round to the same float, so the table never
changes a number; zero is never kept, as ``0`` and ``-0`` are equal keys but different
floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from functools import lru_cache

__all__ = [
    "DOWN",
    "HALF_EVEN",
    "UP",
    "amount",
    "epinephrine_ratio",
    "fraction",
    "limit_amount",
    "number",
    "percent",
    "rounded",
    "strength",
    "volume_read",
    "weight",
    "weight_amount",
]

_PLACES = Decimal("0.001")
_ANSWER_PLACES = Decimal("0.0001")
_WEIGHT_PLACES = Decimal("0.1")
_DISPLAY_UNITS = {"ug": "mcg", "ug/mL": "mcg/mL", "[lb_av]": "lb", "[in_i]": "in"}


@lru_cache(maxsize=4096)  # pure; a ward's volumes and doses are a small set
def number(value: Decimal, *, places: Decimal = _PLACES) -> str:
    """``value`` rounded to ``places`` (half to even), without trailing zeros, with a
    leading zero and thousands separators."""
    rounded = value.quantize(places, rounding=ROUND_HALF_EVEN)
    if rounded == 0 and value != 0:
        return f"{value.normalize():,f}"  # never show a non-zero amount as 0
    text = f"{rounded.normalize():,f}"
    return "0" if text in {"-0", "0"} else text


def percent(fraction: Decimal) -> str:
    """A share of a limit for people: whole percent, rounded up (a shown share never
    understates the load), so ``percent(Decimal("1.0029"))`` is ``"101 %"`` and
    ``percent(Decimal("0.1333"))`` is ``"14 %"``."""
    whole = (fraction * 100).to_integral_value(rounding=ROUND_CEILING)
    return f"{number(whole, places=Decimal(1))} %"


@lru_cache(maxsize=4096)  # pure, as number() is
def amount(value: Decimal, unit: str) -> str:
    """An amount for people: ``amount(Decimal("1000"), "mg")`` is ``"1,000 mg"``."""
    return f"{number(value)} {_DISPLAY_UNITS.get(unit, unit)}"


def strength(mg_per_ml: Decimal, *, percent: bool) -> str:
    """A stock strength: local anesthetics and saline by w/v percent with mg/mL beside,
    others in mg/mL."""
    if percent:
        return f"{number(mg_per_ml / 10)} % ({amount(mg_per_ml, 'mg/mL')})"
    return amount(mg_per_ml, "mg/mL")


def epinephrine_ratio(mg_per_ml: Decimal) -> str:
    """Epinephrine as the ratio strength on LA combination labels (the one place ISMP
    allows a ratio): 0.005 mg/mL is ``1:200,000``."""
    return f"1:{number(Decimal(1000) / mg_per_ml, places=Decimal(1))}"


def volume_read(value: Decimal, graduation: Decimal) -> str:
    """A volume at the precision a syringe graduated in ``graduation`` is read at (as
    many decimals as the graduation has), ``about`` when that rounds it:
    ``volume_read(Decimal("1.2333"), graduation=Decimal("0.2"))`` is ``"about 1.2 mL"``."""
    places = Decimal(1).scaleb(min(graduation.normalize().as_tuple().exponent, 0))  # type: ignore[arg-type]
    shown = value.quantize(places, rounding=ROUND_HALF_EVEN)
    text = amount(shown, "mL") if shown != 0 else amount(value, "mL")
    return text if shown == value or shown == 0 else f"about {text}"


# --- the numbers of the JSON answer ------------------------------------------------------

#: How many rounded values each rule keeps before it starts its table afresh.
_KEPT = 4096


class _Rounding:
    """One rounding rule of the answer: ``places`` by ``mode``, as a float (the float
    nearest the rounded Decimal), remembered per value (see the module docstring).

    :attr:`kept` is the table itself, cleared in place and never replaced, so a caller
    may hold it and look a value up before calling (one dict look-up per number, where
    :mod:`mixcalc.answer` writes ~50); a value it lacks must go through the call."""

    __slots__ = ("_kept", "_mode", "_places")

    def __init__(self, places: Decimal, mode: str) -> None:
        self._places, self._mode = places, mode
        self._kept: dict[Decimal, float] = {}

    @property
    def kept(self) -> Mapping[Decimal, float]:
        """The floats written so far, per exact value (read only; zero never in it)."""
        return self._kept

    def __call__(self, value: Decimal) -> float:
        shown = self._kept.get(value)
        if shown is None:
            shown = float(value.quantize(self._places, self._mode))
            if value:  # zero is never kept: 0 and -0 are equal keys, not the same float
                if len(self._kept) >= _KEPT:
                    self._kept.clear()
                self._kept[value] = shown
        return shown


#: The rules of the answer's numbers: amounts (half to even), limits (down), fractions (up).
HALF_EVEN = _Rounding(_ANSWER_PLACES, ROUND_HALF_EVEN)
DOWN = _Rounding(_ANSWER_PLACES, ROUND_FLOOR)
UP = _Rounding(_ANSWER_PLACES, ROUND_CEILING)


def rounded(value: Decimal, *, floor: bool = False) -> float:
    """An amount of the answer: 4 places, half to even, or rounded down with ``floor``
    (a limit is never overstated)."""
    return DOWN(value) if floor else HALF_EVEN(value)


def fraction(value: Decimal | None) -> float | None:
    """A fraction of a maximum in the answer: 4 places, rounded up (a shown load never
    understates the load); None stays None (no maximum, or one that cannot be stated)."""
    return None if value is None else UP(value)


def weight(kg: Decimal) -> float:
    """The dosing weight in the answer: 0.1 kg, half to even."""
    return float(kg.quantize(_WEIGHT_PLACES, rounding=ROUND_HALF_EVEN))


def weight_amount(kg: Decimal) -> str:
    """The dosing weight for people, rounded as in the answer (:func:`weight`): "61.4 kg"."""
    return amount(kg.quantize(_WEIGHT_PLACES, rounding=ROUND_HALF_EVEN), "kg")


def limit_amount(value: Decimal, unit: str) -> str:
    """A maximum for people, rounded down to the places :func:`amount` shows, so that a
    limit is never overstated: ``limit_amount(Decimal("276.1655"), "mg")`` is ``"276.165 mg"``."""
    return amount(value.quantize(_PLACES, rounding=ROUND_FLOOR), unit)
