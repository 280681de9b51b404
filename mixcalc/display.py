"""Display: numbers and amounts as people should read them (ISMP, CLINICAL.md section 12).

Leading zero (0.5 mL, never .5 mL), no trailing zero (5 mL, never 5.0 mL), ``mcg`` for
people (``ug`` stays in data), ``mL`` never ``cc``, a space between number and unit,
thousands separators (1,000 mg).  Tall Man names live in the formulary's
``display_name``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from functools import lru_cache

__all__ = ["amount", "epinephrine_ratio", "number", "percent", "strength", "volume_read"]

_PLACES = Decimal("0.001")
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
