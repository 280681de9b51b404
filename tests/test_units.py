"""The quantity grammar (CLINICAL.md section 1) and the closed unit vocabulary.

``parse_quantity`` is the one door through which quantities enter mixcalc: w/v percent,
ratio strengths ``1:N``, ``"<number> <unit>"`` strings and ``{"value", "unit"}``
objects.  Everything else is a :class:`QuantityError` that keeps what was sent
(``.value``) and says what is wrong with it (``.reason``).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mixcalc.units import (
    _ALIASES,
    _REFUSED,
    CM,
    KG,
    MG,
    MG_PER_ML,
    ML,
    UG,
    UG_PER_ML,
    Amount,
    Dimension,
    QuantityError,
    _parse_quantity,
    parse_quantity,
    quantity_parser,
    ureg,
    vocabulary,
)

CONCENTRATION = Dimension.CONCENTRATION

#: The unit the core computes in, for each dimension (mixcalc.units docstring).
CANONICAL = {
    Dimension.MASS: "mg",
    Dimension.VOLUME: "mL",
    Dimension.CONCENTRATION: "mg/mL",
    Dimension.LENGTH: "cm",
    Dimension.TIME: "d",
    Dimension.DOSE_PER_WEIGHT: "mg/kg",
}


def mg_per_ml(raw: object) -> Decimal:
    return parse_quantity(raw, expect=CONCENTRATION).in_(MG_PER_ML)


# --- percent and ratio strengths --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1 %", Decimal(10)),
        ("1%", Decimal(10)),
        ("0.25%", Decimal("2.5")),
        ("0.25 %", Decimal("2.5")),
        ("0.5 %", Decimal(5)),
        ("2 %", Decimal(20)),
        ("0.9 %", Decimal(9)),
        ({"value": 1, "unit": "%"}, Decimal(10)),
        ({"value": 0.25, "unit": "%"}, Decimal("2.5")),
    ],
)
def test_percent_is_weight_per_volume_one_percent_is_10_mg_per_ml(raw: object, expected: Decimal) -> None:
    assert mg_per_ml(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected_ug_per_ml"),
    [
        ("1:200000", Decimal(5)),
        ("1:200,000", Decimal(5)),
        ("1 : 200000", Decimal(5)),
        ("1:100000", Decimal(10)),
        ("1:100,000", Decimal(10)),
        ("1:1000", Decimal(1000)),
        ("1:1,000", Decimal(1000)),
    ],
)
def test_ratio_one_to_n_is_one_gram_in_n_ml(raw: str, expected_ug_per_ml: Decimal) -> None:
    amount = parse_quantity(raw, expect=CONCENTRATION)
    assert amount.in_(UG_PER_ML) == expected_ug_per_ml
    assert amount.in_(MG_PER_ML) == expected_ug_per_ml / 1000


def test_one_to_200000_is_exactly_5_mcg_per_ml_and_0_005_mg_per_ml() -> None:
    ratio = parse_quantity("1:200000", expect=CONCENTRATION)
    assert ratio.in_(MG_PER_ML) == Decimal("0.005")
    assert ratio.in_(MG_PER_ML) == parse_quantity("5 ug/mL", expect=CONCENTRATION).in_(MG_PER_ML)
    assert ratio.in_(MG_PER_ML) == parse_quantity("5 mcg/mL", expect=CONCENTRATION).in_(MG_PER_ML)
    assert ratio.in_(MG_PER_ML) == parse_quantity("0.005 mg/mL", expect=CONCENTRATION).in_(MG_PER_ML)


@given(st.integers(1, 10_000).map(lambda hundredths: Decimal(hundredths) / 100))
def test_any_percent_equals_ten_times_as_many_mg_per_ml(percent: Decimal) -> None:
    text = format(percent.normalize(), "f")
    assert mg_per_ml(f"{text} %") == mg_per_ml(f"{format((percent * 10).normalize(), 'f')} mg/mL")


@given(st.integers(0, 9), st.integers(0, 9))
def test_any_ratio_with_a_terminating_value_is_exactly_one_gram_over_n_ml(twos: int, fives: int) -> None:
    n = 2**twos * 5**fives
    plain = parse_quantity(f"1:{n}", expect=CONCENTRATION)
    with_commas = parse_quantity(f"1:{n:,}", expect=CONCENTRATION)
    assert plain.in_(MG_PER_ML) * n == 1000
    assert with_commas.in_(MG_PER_ML) == plain.in_(MG_PER_ML)


@given(st.integers(1, 10**9))
def test_any_ratio_is_one_gram_over_n_ml_to_decimal_precision(n: int) -> None:
    plain = parse_quantity(f"1:{n}", expect=CONCENTRATION)
    assert abs(plain.in_(MG_PER_ML) * n - 1000) <= Decimal("1e-20")
    assert parse_quantity(f"1:{n:,}", expect=CONCENTRATION).in_(MG_PER_ML) == plain.in_(MG_PER_ML)


# --- number and unit ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "dimension", "unit", "expected"),
    [
        ("0.5mL", Dimension.VOLUME, ML, Decimal("0.5")),
        ("0.5 mL", Dimension.VOLUME, ML, Decimal("0.5")),
        ("  0.5 mL  ", Dimension.VOLUME, ML, Decimal("0.5")),
        (".5 mL", Dimension.VOLUME, ML, Decimal("0.5")),
        ("0.5 ml", Dimension.VOLUME, ML, Decimal("0.5")),
        ("0.01 L", Dimension.VOLUME, ML, Decimal(10)),
        ("1,000 mg", Dimension.MASS, MG, Decimal(1000)),
        ("500 mcg", Dimension.MASS, MG, Decimal("0.5")),
        ("500 ug", Dimension.MASS, MG, Decimal("0.5")),
        ("500 µg", Dimension.MASS, MG, Decimal("0.5")),
        ("1 g", Dimension.MASS, MG, Decimal(1000)),
        ("1 lb", Dimension.MASS, KG, Decimal("0.45359237")),
        ("1 lbs", Dimension.MASS, KG, Decimal("0.45359237")),
        ("1 [lb_av]", Dimension.MASS, KG, Decimal("0.45359237")),
        ("154 lb", Dimension.MASS, KG, Decimal("69.85322498")),
        ("1 in", Dimension.LENGTH, CM, Decimal("2.54")),
        ("1 [in_i]", Dimension.LENGTH, CM, Decimal("2.54")),
        ("1.75 m", Dimension.LENGTH, CM, Decimal(175)),
        ("40 mg/mL", Dimension.CONCENTRATION, MG_PER_ML, Decimal(40)),
        ("40 mg/ml", Dimension.CONCENTRATION, MG_PER_ML, Decimal(40)),
        ("4.5 mg/kg", Dimension.DOSE_PER_WEIGHT, vocabulary()["mg/kg"], Decimal("4.5")),
    ],
)
def test_number_and_unit_strings_convert_exactly(
    raw: str, dimension: Dimension, unit: object, expected: Decimal
) -> None:
    assert parse_quantity(raw, expect=dimension).in_(unit) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "dimension", "unit", "expected"),
    [
        ({"value": 0.5, "unit": "mL"}, Dimension.VOLUME, ML, Decimal("0.5")),
        ({"value": 0.1, "unit": "mL"}, Dimension.VOLUME, ML, Decimal("0.1")),
        ({"value": 70, "unit": "kg"}, Dimension.MASS, KG, Decimal(70)),
        ({"value": 154, "unit": "lb"}, Dimension.MASS, KG, Decimal("69.85322498")),
        ({"value": 154, "unit": "[lb_av]"}, Dimension.MASS, KG, Decimal("69.85322498")),
        ({"value": 500, "unit": "mcg"}, Dimension.MASS, UG, Decimal(500)),
        ({"value": 69, "unit": "in"}, Dimension.LENGTH, CM, Decimal("175.26")),
        ({"value": 5, "unit": "ug/mL"}, Dimension.CONCENTRATION, MG_PER_ML, Decimal("0.005")),
        ({"value": 5, "unit": "mcg/mL"}, Dimension.CONCENTRATION, MG_PER_ML, Decimal("0.005")),
        ({"value": Decimal("0.7"), "unit": "mL"}, Dimension.VOLUME, ML, Decimal("0.7")),
    ],
)
def test_value_unit_objects_convert_exactly(raw: object, dimension: Dimension, unit: object, expected: Decimal) -> None:
    assert parse_quantity(raw, expect=dimension).in_(unit) == expected  # type: ignore[arg-type]


def test_a_float_value_keeps_its_shortest_decimal_form_so_three_times_0_7_ml_is_2_1_ml() -> None:
    volume = parse_quantity({"value": 0.7, "unit": "mL"}, expect=Dimension.VOLUME).in_(ML)
    assert volume * 3 == Decimal("2.1")


def test_zero_is_accepted_only_where_allowed() -> None:
    assert parse_quantity("0 a", expect=Dimension.TIME, allow_zero=True).magnitude == 0
    assert parse_quantity({"value": 0, "unit": "mo"}, expect=Dimension.TIME, allow_zero=True).magnitude == 0


# --- what is refused ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "dimension", "reason"),
    [
        ("1 cc", Dimension.VOLUME, "not accepted: write mL, not cc"),
        ({"value": 1, "unit": "cc"}, Dimension.VOLUME, "not accepted: write mL, not cc"),
        ("5 U", Dimension.MASS, "units are not a mass or volume"),
        ("5 IU", Dimension.MASS, "international units"),
        ("5 mEq", Dimension.MASS, "milliequivalents"),
        ("5 furlongs", Dimension.MASS, "unknown unit 'furlongs'"),
        ("abc", Dimension.MASS, "is not a quantity"),
        ("", Dimension.MASS, "is not a quantity"),
        ("   ", Dimension.MASS, "is not a quantity"),
        ("mg", Dimension.MASS, "is not a quantity"),
        ("5", Dimension.MASS, "is not a quantity"),
        ("1e308 mg", Dimension.MASS, "is not a quantity"),
        ("1e3mg", Dimension.MASS, "exponent notation (1e3) is not accepted"),
        ("1 g/100 mL", Dimension.CONCENTRATION, "is not a quantity"),
        ("1:0", Dimension.CONCENTRATION, "1:0 is not a concentration"),
        ("2:200000", Dimension.CONCENTRATION, "unknown unit"),
        ("1:200000", Dimension.MASS, "a ratio 1:N is a concentration, not a mass"),
        ("1 %", Dimension.MASS, "% means w/v"),
        ("1 %", Dimension.VOLUME, "% means w/v"),
        ("5 mL", Dimension.MASS, "mL is a volume; expected a mass"),
        ("5 mg", Dimension.VOLUME, "mg is a mass; expected a volume"),
        ("5 mg", Dimension.CONCENTRATION, "mg is a mass; expected a mass per volume"),
        ("70 kg", Dimension.LENGTH, "kg is a mass; expected a length"),
        ("10 mg/mL", Dimension.MASS, "mg/mL is a mass per volume; expected a mass"),
        ({"value": 5, "unit": "mL"}, Dimension.MASS, "mL is a volume; expected a mass"),
        ("-5 mg", Dimension.MASS, "must be greater than zero"),
        ({"value": -5, "unit": "mg"}, Dimension.MASS, "must be greater than zero"),
        ("0 mg", Dimension.MASS, "must be greater than zero"),
        ({"value": 0, "unit": "mL"}, Dimension.VOLUME, "must be greater than zero"),
        ("0 %", Dimension.CONCENTRATION, "must be greater than zero"),
        ({"value": float("nan"), "unit": "mg"}, Dimension.MASS, "finite number"),
        ({"value": float("inf"), "unit": "mg"}, Dimension.MASS, "finite number"),
        ({"value": float("-inf"), "unit": "mg"}, Dimension.MASS, "finite number"),
        ({"value": Decimal("NaN"), "unit": "mg"}, Dimension.MASS, "finite number"),
        ({"value": 1e308, "unit": "mg"}, Dimension.MASS, "out of any plausible range"),
        ({"value": 1e-300, "unit": "mg"}, Dimension.MASS, "out of any plausible range"),
        ({"value": True, "unit": "mg"}, Dimension.MASS, "value must be a JSON number"),
        ({"value": False, "unit": "mg"}, Dimension.MASS, "value must be a JSON number"),
        ({"value": "5", "unit": "mg"}, Dimension.MASS, "value must be a JSON number"),
        ({"value": None, "unit": "mg"}, Dimension.MASS, "value must be a JSON number"),
        ({"value": [5], "unit": "mg"}, Dimension.MASS, "value must be a JSON number"),
        ({"value": 5, "unit": 5}, Dimension.MASS, "unit must be a string"),
        ({"value": 5, "unit": None}, Dimension.MASS, "unit must be a string"),
        ({"value": 5, "unit": "mg", "note": "x"}, Dimension.MASS, 'exactly the keys "value" and "unit"'),
        ({"value": 5}, Dimension.MASS, 'exactly the keys "value" and "unit"'),
        ({"unit": "mg"}, Dimension.MASS, 'exactly the keys "value" and "unit"'),
        ({}, Dimension.MASS, 'exactly the keys "value" and "unit"'),
        (True, Dimension.MASS, "must be a string"),
        (5, Dimension.MASS, "must be a string"),
        (5.0, Dimension.MASS, "must be a string"),
        (None, Dimension.MASS, "must be a string"),
        (["5 mg"], Dimension.MASS, "must be a string"),
        ("1234567890123 mg", Dimension.MASS, "more than 12 digits"),
        ("1" * 70 + " mg", Dimension.MASS, "too long"),
    ],
)
def test_what_is_not_a_quantity_raises_quantity_error_naming_value_and_reason(
    raw: object, dimension: Dimension, reason: str
) -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity(raw, expect=dimension)
    error = caught.value
    assert error.value is raw
    assert reason in error.reason, error.reason
    assert error.reason in str(error)


def test_negative_with_zero_allowed_says_it_must_not_be_negative() -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity("-1 a", expect=Dimension.TIME, allow_zero=True)
    assert caught.value.value == "-1 a"
    assert "must not be negative" in caught.value.reason


def test_quantity_error_is_a_value_error_so_pydantic_reports_it_as_a_validation_error() -> None:
    assert issubclass(QuantityError, ValueError)


def test_user_text_never_reaches_pint_percent_is_not_the_dimensionless_hundredth() -> None:
    """pint alone reads "1 %" as 0.01 and "1:200000" as 200000 (CLINICAL.md section 1)."""
    assert mg_per_ml("1 %") != Decimal("0.01")
    assert mg_per_ml("1:200000") != Decimal(200000)


# --- the vocabulary agrees with pint ------------------------------------------------------


def test_every_dimension_has_its_canonical_unit_with_factor_one() -> None:
    units = vocabulary()
    for dimension, code in CANONICAL.items():
        assert units[code].dimension is dimension
        assert units[code].factor == 1


@pytest.mark.parametrize("code", sorted(vocabulary()))
def test_each_unit_factor_agrees_with_pint_converting_directly(code: str) -> None:
    unit = vocabulary()[code]
    canonical = Amount.of(1, CANONICAL[unit.dimension]).to_pint().units
    converted = Amount.of(1, code).to_pint().to(canonical).magnitude
    assert Decimal(converted) == unit.factor


@pytest.mark.parametrize("code", sorted(vocabulary()))
def test_each_unit_converts_to_every_unit_of_its_dimension_as_pint_does(code: str) -> None:
    units = vocabulary()
    amount = Amount.of("2.5", code)
    for other in units.values():
        if other.dimension is not amount.dimension:
            continue
        expected = Decimal(amount.to_pint().to(Amount.of(1, other.code).to_pint().units).magnitude)
        got = amount.in_(other)
        assert abs(got - expected) <= abs(expected) * Decimal("1e-20"), (code, other.code, got, expected)


def test_the_registry_computes_in_decimal() -> None:
    assert isinstance(ureg.Quantity(Decimal("0.7"), "milliliter").magnitude, Decimal)
    assert (Amount.of("0.7", "mL").to_pint() * 3).magnitude == Decimal("2.1")


@pytest.mark.parametrize(
    ("code", "factor"),
    [
        ("ug", Decimal("0.001")),
        ("g", Decimal(1000)),
        ("kg", Decimal(1_000_000)),
        ("[lb_av]", Decimal("453592.37")),
        ("L", Decimal(1000)),
        ("ug/mL", Decimal("0.001")),
        ("g/mL", Decimal(1000)),
        ("m", Decimal(100)),
        ("[in_i]", Decimal("2.54")),
        ("wk", Decimal(7)),
    ],
)
def test_known_conversion_factors(code: str, factor: Decimal) -> None:
    """Exact by definition: 1 lb = 0.45359237 kg, 1 in = 2.54 cm."""
    assert vocabulary()[code].factor == factor


def test_display_codes_follow_ismp_mcg_not_ug() -> None:
    units = vocabulary()
    assert units["ug"].display == "mcg"
    assert units["ug/mL"].display == "mcg/mL"
    assert units["mL"].display == "mL"
    assert "cc" not in units


@pytest.mark.parametrize("setting", ["off", "/proc/no-such-folder"])
def test_the_registry_is_built_without_pints_cache_when_it_is_off_or_unwritable(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mixcalc import units

    monkeypatch.setenv(units.PINT_CACHE_ENV, setting)
    registry = units._registry()
    assert registry.Quantity(Decimal("2.5"), "milliliter").to("liter").magnitude == Decimal("0.0025")


def test_exponent_notation_is_refused_saying_so() -> None:
    """ "1e308mL" would read as the number 1 and a unit "e308mL": the error says what to do."""
    with pytest.raises(QuantityError, match="exponent notation"):
        parse_quantity("1e308mL", expect=Dimension.VOLUME)


# --- the fast path agrees with the full grammar -------------------------------------------

_SPELLINGS = [*vocabulary(), *_ALIASES, "%", *_REFUSED, "e308mL", "mL/min", "mg/ml ", "ML", "Kg", "µg", "٥", ""]
_NUMBERS = st.one_of(
    st.from_regex(r"[0-9]{1,14}(\.[0-9]{1,6})?", fullmatch=True),
    st.sampled_from(["0", "0.0", "00.5", "1,000", "-1", "+2", ".5", "5.", "1e3", "0.000", "١", "１", "999999999999.9"]),
)


@st.composite
def quantity_texts(draw: st.DrawFn) -> str:
    """Strings near the fast path's edge: numbers of every form, every unit spelling (and
    some that are not), spaces of every kind."""
    space = st.sampled_from(["", " ", "  ", "\t", "\u00a0"])
    return draw(space) + draw(_NUMBERS) + draw(space) + draw(st.sampled_from(_SPELLINGS)) + draw(space)


def _outcome(parse: Callable[[], Amount]) -> tuple[str, str, str]:
    try:
        amount = parse()
    except QuantityError as error:
        return "error", repr(error.value), error.reason
    return "amount", str(amount.magnitude), amount.unit.code


@given(
    st.one_of(quantity_texts(), st.text(max_size=12), st.sampled_from(["1:200000", "1 : 1,000", "1:0"])),
    st.sampled_from(Dimension),
    st.booleans(),
)
def test_the_fast_path_gives_what_the_full_grammar_gives(raw: str, dimension: Dimension, allow_zero: bool) -> None:
    fast = _outcome(lambda: parse_quantity(raw, expect=dimension, allow_zero=allow_zero))
    full = _outcome(lambda: _parse_quantity(raw, expect=dimension, allow_zero=allow_zero))
    assert fast == full
    bound = _outcome(lambda: quantity_parser(dimension, allow_zero=allow_zero)(raw))
    assert bound == full


@pytest.mark.parametrize(
    ("raw", "dimension", "expected"),
    [
        ("1 %", CONCENTRATION, "10 mg/mL"),
        ("0.25 %", CONCENTRATION, "2.50 mg/mL"),
        ("40 mg/mL", CONCENTRATION, "40 mg/mL"),
        ("0.5 mL", Dimension.VOLUME, "0.5 mL"),
        ("0.5mL", Dimension.VOLUME, "0.5 mL"),
        ("70 kg", Dimension.MASS, "70 kg"),
        ("154 lb", Dimension.MASS, "154 [lb_av]"),
        ("10 mcg", Dimension.MASS, "10 ug"),
    ],
)
def test_the_fast_path_reads_what_clients_send(raw: str, dimension: Dimension, expected: str) -> None:
    assert str(parse_quantity(raw, expect=dimension)) == expected
