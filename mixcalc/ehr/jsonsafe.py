"""Safe accessors for untrusted FHIR JSON: every value is checked for its JSON type, and
every number is bounded before any arithmetic sees it.

An EHR (or anyone holding its key) may send ``1e308``, ``1e-300``, a count with 4,000
digits or a million sites; such a value is read as "not usable" here, and the caller
names the field it came from.  Nothing in this module raises on bad input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "LARGEST",
    "MASS",
    "SMALLEST",
    "UCUM",
    "VOLUME",
    "amount",
    "bounded_count",
    "bounded_decimal",
    "first",
    "json_array",
    "json_object",
    "json_str",
    "quantity_code",
]

UCUM = "http://unitsofmeasure.org"
#: Numbers read from an EHR are used only within these magnitudes (zero aside).
LARGEST = Decimal("1e6")
SMALLEST = Decimal("1e-6")
_MAX_INT_BITS = 64


def json_object(value: object) -> Mapping[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def json_array(value: object) -> Sequence[Any]:
    """``value`` if it is a JSON array, else an empty one."""
    return value if isinstance(value, list) else ()


def json_str(value: object, limit: int = 1000) -> str | None:
    """``value`` if it is a non-empty string (cut to ``limit`` characters), else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:limit]


def first(value: object) -> Mapping[str, Any]:
    """The first element of a JSON array, if it is an object; else an empty object."""
    items = json_array(value)
    return json_object(items[0]) if items else {}


def bounded_decimal(value: object) -> Decimal | None:
    """A JSON number as a Decimal when 0 or between :data:`SMALLEST` and :data:`LARGEST`
    in magnitude; None for anything else (booleans, strings, huge or tiny numbers).

    Floats are read by their shortest repr; integers are checked by size before any
    conversion, so a 4,000-digit integer costs nothing."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if value.bit_length() > _MAX_INT_BITS:
            return None
        number = Decimal(value)
    elif isinstance(value, float):
        try:
            number = Decimal(repr(value))
        except InvalidOperation:  # pragma: no cover - repr of a float always parses
            return None
    else:
        return None
    if not number.is_finite():
        return None
    if number != 0 and not SMALLEST <= abs(number) <= LARGEST:
        return None
    return number


def bounded_count(value: object, *, largest: int) -> int | None:
    """A JSON integer between 1 and ``largest``; None otherwise (no conversion of huge
    integers, no floats, no booleans)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if value.bit_length() > _MAX_INT_BITS or not 1 <= value <= largest:
        return None
    return value


def quantity_code(quantity: Mapping[str, Any]) -> str | None:
    """The UCUM code of a FHIR Quantity (``code`` under the UCUM system, else ``unit``),
    with the common spellings folded (``ml`` -> ``mL``, ``mcg`` -> ``ug``)."""
    code = quantity.get("code") if quantity.get("system") in (UCUM, None) else None
    code = code if isinstance(code, str) else quantity.get("unit")
    if not isinstance(code, str):
        return None
    folded = code.strip()
    return {"ml": "mL", "mcg": "ug", "µg": "ug", "l": "L", "milligram": "mg", "milliliter": "mL"}.get(
        folded.lower(), folded
    )


#: UCUM mass and volume codes -> factor to mg and mL.
MASS: Mapping[str, Decimal] = {"mg": Decimal(1), "ug": Decimal("0.001"), "g": Decimal(1000)}
VOLUME: Mapping[str, Decimal] = {"mL": Decimal(1), "L": Decimal(1000)}


def amount(quantity: object, units: Mapping[str, Decimal]) -> Decimal | None:
    """A FHIR Quantity in one of ``units`` (code -> factor to the base unit), in the base
    unit; None when it is not a bounded, non-negative number in one of them."""
    q = json_object(quantity)
    value, code = bounded_decimal(q.get("value")), quantity_code(q)
    if value is None or code is None or code not in units or value < 0:
        return None
    return value * units[code]
