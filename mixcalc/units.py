"""Units: the one pint registry, the closed unit vocabulary and the quantity grammar.

Quantities enter mixcalc here and nowhere else.  User text never reaches pint's own
parser (``"1 %"`` would become the dimensionless 0.01 and ``"1:200000"`` the number
200000, see CLINICAL.md section 1).  Instead:

* the vocabulary is a closed table of UCUM codes (plus the aliases people type), each
  bound once, at import, to a pint unit built from a trusted definition;
* pint is the authority on dimensions and conversion factors: every factor to the
  canonical unit of a dimension is computed by pint once, at import, with Decimal
  magnitudes;
* the grammar accepts ``"<number> <unit>"`` (space optional), ``"<number> %"`` (w/v:
  1 % = 10 mg/mL) and ``"1:N"`` (1 g in N mL), or an object ``{"value", "unit"}``.

A parsed quantity is an :class:`Amount`: a Decimal magnitude in a known vocabulary
unit.  The core asks an amount for its magnitude in the unit it computes in
(``amount.in_(MG)``); that is one Decimal multiplication with a cached factor, so no
unit parsing or registry work happens per request.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any, Final

import pint

from .errors import QuantityError

__all__ = [
    "CM",
    "DAY",
    "KG",
    "MG",
    "MG_PER_KG",
    "MG_PER_ML",
    "ML",
    "PINT_CACHE_ENV",
    "UG",
    "UG_PER_ML",
    "YEAR",
    "Amount",
    "Dimension",
    "QuantityError",
    "Unit",
    "parse_quantity",
    "quantity_parser",
    "ureg",
    "vocabulary",
]

#: ``off`` disables pint's start-up cache; a folder chooses where it lives.
PINT_CACHE_ENV = "MIXCALC_PINT_CACHE"


def _registry() -> pint.UnitRegistry[Decimal]:
    """pint's own start-up cache (its parsed definition files, pickled in the user's cache
    folder and keyed by their content) builds the registry in ~25 ms instead of ~190 ms.
    Where that folder cannot be written, the registry is built from the files as usual."""
    options: dict[str, Any] = {"non_int_type": Decimal, "autoconvert_offset_to_baseunit": False}
    cache = os.environ.get(PINT_CACHE_ENV, ":auto:")
    if cache != "off":
        try:
            return pint.UnitRegistry(cache_folder=cache, **options)
        except OSError:
            pass
    return pint.UnitRegistry(**options)


#: The application's one pint registry.  Decimal magnitudes keep 0.7 mL x 3 = 2.1 mL.
ureg: Final[pint.UnitRegistry[Decimal]] = _registry()


class Dimension(Enum):
    """What a quantity measures; each has one canonical unit the core computes in."""

    MASS = "mass"
    VOLUME = "volume"
    CONCENTRATION = "mass per volume"
    LENGTH = "length"
    TIME = "time"
    DOSE_PER_WEIGHT = "mass per body mass"


@dataclass(frozen=True, slots=True)
class Unit:
    """One entry of the closed vocabulary.

    ``code`` is the UCUM code used in data; ``display`` is what people read (ISMP:
    ``mcg``, never ``ug``); ``factor`` converts a magnitude in this unit to the
    canonical unit of its dimension (computed by pint at import).
    """

    code: str
    display: str
    dimension: Dimension
    factor: Decimal

    def __repr__(self) -> str:
        return f"Unit({self.code!r})"


# Trusted pint definitions for each UCUM code, and the canonical unit of each dimension.
_PINT_DEFINITIONS: Final[dict[str, tuple[str, str, Dimension]]] = {
    # code: (pint expression, display text, dimension)
    "mg": ("milligram", "mg", Dimension.MASS),
    "ug": ("microgram", "mcg", Dimension.MASS),
    "g": ("gram", "g", Dimension.MASS),
    "kg": ("kilogram", "kg", Dimension.MASS),
    "[lb_av]": ("avoirdupois_pound", "lb", Dimension.MASS),
    "mL": ("milliliter", "mL", Dimension.VOLUME),
    "L": ("liter", "L", Dimension.VOLUME),
    "mg/mL": ("milligram / milliliter", "mg/mL", Dimension.CONCENTRATION),
    "ug/mL": ("microgram / milliliter", "mcg/mL", Dimension.CONCENTRATION),
    "g/mL": ("gram / milliliter", "g/mL", Dimension.CONCENTRATION),
    "mg/kg": ("milligram / kilogram", "mg/kg", Dimension.DOSE_PER_WEIGHT),
    "cm": ("centimeter", "cm", Dimension.LENGTH),
    "m": ("meter", "m", Dimension.LENGTH),
    "[in_i]": ("inch", "in", Dimension.LENGTH),
    "a": ("year", "years", Dimension.TIME),
    "mo": ("month", "months", Dimension.TIME),
    "wk": ("week", "weeks", Dimension.TIME),
    "d": ("day", "days", Dimension.TIME),
}

_CANONICAL: Final[dict[Dimension, str]] = {
    Dimension.MASS: "mg",
    Dimension.VOLUME: "mL",
    Dimension.CONCENTRATION: "mg/mL",
    Dimension.LENGTH: "cm",
    Dimension.TIME: "d",
    Dimension.DOSE_PER_WEIGHT: "mg/kg",
}

#: What people type that is not a UCUM code but means one unambiguously.
_ALIASES: Final[dict[str, str]] = {
    "mcg": "ug",
    "µg": "ug",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "in": "[in_i]",
    "ml": "mL",
    "l": "L",
    "mcg/mL": "ug/mL",
    "mcg/ml": "ug/mL",
    "mg/ml": "mg/mL",
    "ug/ml": "ug/mL",
}

#: Units that look plausible but are refused, with the reason given to the user.
_REFUSED: Final[dict[str, str]] = {
    "cc": "write mL, not cc (ISMP)",
    "U": "units are not a mass or volume",
    "IU": "international units are not a mass or volume",
    "mEq": "milliequivalents are not used for these agents",
}


def _build_vocabulary() -> dict[str, Unit]:
    canonical = {dim: ureg.parse_units(_PINT_DEFINITIONS[code][0]) for dim, code in _CANONICAL.items()}
    table: dict[str, Unit] = {}
    for code, (expression, display, dimension) in _PINT_DEFINITIONS.items():
        unit = ureg.parse_units(expression)
        target = canonical[dimension]
        if unit.dimensionality != target.dimensionality:  # pragma: no cover - import-time guard
            raise RuntimeError(f"unit {code!r} is not of dimension {dimension.value}")
        factor = ureg.Quantity(Decimal(1), unit).to(target).magnitude
        table[code] = Unit(code, display, dimension, Decimal(factor).normalize())
    return table


_VOCABULARY: Final = _build_vocabulary()


def vocabulary() -> Mapping[str, Unit]:
    """The closed set of accepted UCUM codes."""
    return _VOCABULARY


MG: Final = _VOCABULARY["mg"]
UG: Final = _VOCABULARY["ug"]
ML: Final = _VOCABULARY["mL"]
KG: Final = _VOCABULARY["kg"]
CM: Final = _VOCABULARY["cm"]
YEAR: Final = _VOCABULARY["a"]
DAY: Final = _VOCABULARY["d"]
MG_PER_ML: Final = _VOCABULARY["mg/mL"]
UG_PER_ML: Final = _VOCABULARY["ug/mL"]
MG_PER_KG: Final = _VOCABULARY["mg/kg"]

_TEN: Final = Decimal(10)


@dataclass(frozen=True, slots=True)
class Amount:
    """A Decimal magnitude in a vocabulary unit."""

    magnitude: Decimal
    unit: Unit

    @property
    def dimension(self) -> Dimension:
        return self.unit.dimension

    def in_(self, unit: Unit) -> Decimal:
        """The magnitude expressed in ``unit`` (which must have the same dimension)."""
        if unit.dimension is not self.unit.dimension:
            raise ValueError(f"cannot express {self} in {unit.code}")
        if unit is self.unit:
            return self.magnitude
        return self.magnitude * self.unit.factor / unit.factor

    def to_pint(self) -> pint.Quantity[Any]:
        """The same amount as a pint quantity (for interoperability; not used per request)."""
        return ureg.Quantity(self.magnitude, ureg.parse_units(_PINT_DEFINITIONS[self.unit.code][0]))

    def __str__(self) -> str:
        return f"{self.magnitude} {self.unit.code}"

    @classmethod
    def of(cls, magnitude: Decimal | int | str, code: str) -> Amount:
        """An amount from trusted code (tests, data): ``Amount.of("0.5", "mL")``."""
        return cls(Decimal(magnitude), _VOCABULARY[code])


# Digits are ASCII 0-9 only: Python's \d and Decimal() also read other scripts' digits
# ("٠.٥ mL" as 0.5 mL, "１ mL" as 1 mL), which the person checking the order may not read so.
_NUMBER = r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?|[+-]?\.[0-9]+"
_QUANTITY_RE: Final = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>[^\s0-9.,+-][^\s]*)\s*$")
_RATIO_RE: Final = re.compile(r"^\s*1\s*:\s*(?P<n>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)\s*$")
_MAX_DIGITS: Final = 12


def _decimal_from_text(text: str, raw: object) -> Decimal:
    digits = text.replace(",", "")
    if len(digits.lstrip("+-").replace(".", "")) > _MAX_DIGITS:
        raise QuantityError(raw, f"has more than {_MAX_DIGITS} digits")
    return Decimal(digits)


def _decimal_from_number(value: object, raw: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise QuantityError(raw, "value must be a JSON number")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise QuantityError(raw, "value must be a finite number")
        # repr() gives the shortest text that round-trips: 0.1 stays 0.1, not 0.1000000000000000055...
        number = Decimal(repr(value))
    else:
        number = Decimal(value)
    if not number.is_finite():
        raise QuantityError(raw, "value must be a finite number")
    if number != 0 and abs(number.adjusted()) > _MAX_DIGITS:
        raise QuantityError(raw, "value is out of any plausible range")
    return number


_EXPONENT_RE = re.compile(r"^[eE][+-]?[0-9]")


def _lookup(code: object, raw: object) -> Unit | None:
    """The vocabulary unit for a code, ``None`` for ``%``; a QuantityError otherwise."""
    if not isinstance(code, str):
        raise QuantityError(raw, "unit must be a string")
    if code == "%":
        return None
    code = _ALIASES.get(code, code)
    if code in _VOCABULARY:
        return _VOCABULARY[code]
    if code in _REFUSED:
        raise QuantityError(raw, f"unit {code!r} is not accepted: {_REFUSED[code]}")
    if _EXPONENT_RE.match(code):  # "1e308 mL" reads as the number 1 and the unit "e308 mL"
        raise QuantityError(raw, "write the number in full: exponent notation (1e3) is not accepted")
    known = ", ".join([*_VOCABULARY, "%", *_ALIASES])
    raise QuantityError(raw, f"unknown unit {code!r}; known units: {known}")


# The fast path: what clients send almost always ("0.5 mL", "1 %", "40 mg/mL", "70 kg"):
# plain digits with an optional decimal point, at most one space, and a unit spelled
# exactly as in the vocabulary or its aliases, of the expected dimension.  It accepts a
# subset of the full grammar below and gives the same Amount (the same Decimal text, the
# same unit, ``%`` times ten in mg/mL); anything else (commas, signs, other spaces, ratios,
# a unit of another dimension, zero, more than 12 characters of number, every error) goes
# through the full grammar, which alone writes errors.  tests/test_units.py checks the two
# agree on valid and invalid strings.
_PLAIN_RE: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?) ?([^\s0-9.,+-][^\s]*)")
_PLAIN_NUMBER_LENGTH: Final = _MAX_DIGITS  # at most 12 characters: never more than 12 digits


def _plain_units(dimension: Dimension) -> dict[str, tuple[Unit, bool]]:
    """Each spelling of a unit of ``dimension`` → (the unit, whether it is ``%``)."""
    table = {
        spelling: (_VOCABULARY[code], False)
        for spelling, code in [*((c, c) for c in _VOCABULARY), *_ALIASES.items()]
        if _VOCABULARY[code].dimension is dimension
    }
    if dimension is Dimension.CONCENTRATION:
        table["%"] = (MG_PER_ML, True)  # w/v: 1 % = 10 mg/mL
    return table


_PLAIN_UNITS: Final = {dimension: _plain_units(dimension) for dimension in Dimension}


def parse_quantity(
    raw: object,
    *,
    expect: Dimension,
    allow_zero: bool = False,
) -> Amount:
    """Turn a request or formulary quantity into an :class:`Amount` of dimension ``expect``.

    ``raw`` is ``{"value": number, "unit": code}`` or a string in the closed grammar.
    Raises :class:`QuantityError` naming the value and the problem; never passes user
    text to pint.
    """
    return _plain(raw, _PLAIN_UNITS[expect]) or _parse_quantity(raw, expect=expect, allow_zero=allow_zero)


def quantity_parser(expect: Dimension, *, allow_zero: bool = False) -> Callable[[object], Amount]:
    """:func:`parse_quantity` with ``expect`` and ``allow_zero`` bound (and the unit table
    of ``expect`` looked up once): what a request field's validator calls."""
    units = _PLAIN_UNITS[expect]

    def parse(raw: object) -> Amount:
        return _plain(raw, units) or _parse_quantity(raw, expect=expect, allow_zero=allow_zero)

    return parse


def _plain(raw: object, units: Mapping[str, tuple[Unit, bool]]) -> Amount | None:
    """The fast path's amount, or None to take the full grammar."""
    if type(raw) is not str:
        return None
    plain = _PLAIN_RE.fullmatch(raw)
    if plain is None:
        return None
    number, spelling = plain.groups()
    known = units.get(spelling)
    if known is None or len(number) > _PLAIN_NUMBER_LENGTH:
        return None
    value = Decimal(number)
    if not value:  # zero: the full grammar says whether it is allowed
        return None
    unit, percent = known
    return Amount(value * _TEN if percent else value, unit)


def _parse_quantity(raw: object, *, expect: Dimension, allow_zero: bool) -> Amount:
    """The full grammar of :func:`parse_quantity` and every error it gives."""
    if isinstance(raw, str):
        if len(raw) > 64:
            raise QuantityError(raw, "is too long to be a quantity")
        ratio = _RATIO_RE.match(raw)
        if ratio is not None:
            if expect is not Dimension.CONCENTRATION:
                raise QuantityError(raw, f"a ratio 1:N is a concentration, not a {expect.value}")
            denominator = _decimal_from_text(ratio["n"], raw)
            if denominator == 0:
                raise QuantityError(raw, "1:0 is not a concentration")
            # 1:N means 1 g in N mL; kept in g/mL so that 1:100000 stays exact.
            return _checked(Amount(Decimal(1) / denominator, _VOCABULARY["g/mL"]), raw, expect, allow_zero)
        match = _QUANTITY_RE.match(raw)
        if match is None:
            raise QuantityError(raw, 'is not a quantity: write a number and a unit, e.g. "0.5 mL", "1 %" or "1:200000"')
        number = _decimal_from_text(match["number"], raw)
        unit = _lookup(match["unit"], raw)
    elif isinstance(raw, Mapping):
        extra = set(raw) - {"value", "unit"}
        if extra or "value" not in raw or "unit" not in raw:
            raise QuantityError(raw, 'a quantity object has exactly the keys "value" and "unit"')
        number = _decimal_from_number(raw["value"], raw)
        unit = _lookup(raw["unit"], raw)
    else:
        raise QuantityError(raw, 'must be a string such as "0.5 mL" or an object {"value": 0.5, "unit": "mL"}')
    if unit is None:  # percent, w/v: 1 % = 1 g per 100 mL = 10 mg/mL
        if expect is not Dimension.CONCENTRATION:
            raise QuantityError(raw, f"% means w/v (mg per 100 mL), a concentration, not a {expect.value}")
        return _checked(Amount(number * _TEN, MG_PER_ML), raw, expect, allow_zero)
    return _checked(Amount(number, unit), raw, expect, allow_zero)


def _checked(amount: Amount, raw: object, expect: Dimension, allow_zero: bool) -> Amount:
    if amount.dimension is not expect:
        raise QuantityError(raw, f"{amount.unit.code} is a {amount.dimension.value}; expected a {expect.value}")
    if amount.magnitude < 0 or (amount.magnitude == 0 and not allow_zero):
        raise QuantityError(raw, "must be greater than zero" if not allow_zero else "must not be negative")
    return amount
