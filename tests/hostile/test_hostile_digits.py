"""Quantities are read from ASCII digits only: other scripts' digits are refused, not converted."""

from __future__ import annotations

import pytest

from mixcalc.units import Dimension, QuantityError, parse_quantity


@pytest.mark.parametrize(
    "raw",
    [
        "٠.٥ mL",  # Arabic-Indic digits: Decimal() would read 0.5
        "۰.۵ mL",  # Extended Arabic-Indic
        "１ mL",  # fullwidth
        "०.५ mL",  # Devanagari
        "0.𝟓 mL",  # mathematical bold
    ],
)
def test_digits_of_other_scripts_are_not_a_quantity(raw: str) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(raw, expect=Dimension.VOLUME)
    assert caught.value.value == raw
    assert "not a quantity" in caught.value.reason


def test_a_ratio_with_other_scripts_digits_is_refused() -> None:
    with pytest.raises(QuantityError):
        parse_quantity("1:٢00000", expect=Dimension.CONCENTRATION)


@pytest.mark.parametrize("raw", ["0.5 mL", "0.5\u00a0mL", " 0.5 mL ", "1,000 mL"])
def test_ascii_digits_with_any_spacing_are_still_read(raw: str) -> None:
    assert parse_quantity(raw, expect=Dimension.VOLUME).magnitude > 0
