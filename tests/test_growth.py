"""CDC 2000 weight-for-age: which weights cannot belong to a child's age [S75][S76].

The reference rows are the CDC's own files (formulary/cdc-wtageinf.csv, cdc-wtage.csv);
every row's 3rd and 97th percentile weights must be plausible, and the issue's case (8
months, 70 kg) must not."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from importlib import resources

import pytest

from mixcalc.growth import DAYS_PER_MONTH, heaviest_plausible, implausible, modified_z, weight_for_age

LOW, HIGH = Decimal(-5), Decimal(8)
SEXES = {"1": "male", "2": "female"}


def rows(name: str) -> list[dict[str, str]]:
    text = (resources.files("mixcalc") / "_data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def days(months: str) -> Decimal:
    return Decimal(months) * DAYS_PER_MONTH


def flag(weight: str, age_days: Decimal, sex: str | None) -> tuple[float, str] | None:
    return implausible(weight_kg=Decimal(weight), age_days=age_days, sex=sex, z_below=LOW, z_above=HIGH)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["cdc-wtageinf.csv", "cdc-wtage.csv"])
def test_the_3rd_and_97th_percentiles_of_every_cdc_row_are_plausible(name: str) -> None:
    for row in rows(name):
        if name == "cdc-wtageinf.csv" and Decimal(row["Agemos"]) >= 24:
            continue  # from 24 months the 2-to-20-year table is used, as in the CDC program
        for percentile in ("P3", "P97"):
            for sex in (SEXES[row["Sex"]], None):
                assert flag(row[percentile], days(row["Agemos"]), sex) is None, (name, row["Agemos"], percentile)


@pytest.mark.parametrize("name", ["cdc-wtageinf.csv", "cdc-wtage.csv"])
def test_the_median_has_a_modified_z_score_of_zero(name: str) -> None:
    for row in rows(name):
        z = modified_z(float(row["M"]), float(row["L"]), float(row["M"]), float(row["S"]))
        assert z == 0


@pytest.mark.parametrize("sex", ["female", "male", None])
def test_8_months_and_70_kg_cannot_belong_together(sex: str | None) -> None:
    found = flag("70", days("8"), sex)
    assert found is not None
    assert found[0] > 8


def test_a_plausible_infant_is_not_flagged() -> None:
    assert flag("8.5", days("8"), None) is None


def test_with_the_sex_unknown_a_weight_is_implausible_only_if_so_for_both_sexes() -> None:
    """At 20 years, the weight at a girl's modified z of +8 is under a boy's: between the two
    bounds the weight is implausible for a girl, plausible for a boy, so not flagged."""
    age = days("240")
    reference = weight_for_age()
    girl = reference.lms("female", 240.0)
    boy = reference.lms("male", 240.0)
    girls_bound = girl[1] + 8 * (girl[1] * (1 + 2 * girl[0] * girl[2]) ** (1 / girl[0]) - girl[1]) / 2
    boys_bound = boy[1] + 8 * (boy[1] * (1 + 2 * boy[0] * boy[2]) ** (1 / boy[0]) - boy[1]) / 2
    assert girls_bound < boys_bound
    between = f"{(girls_bound + boys_bound) / 2:.1f}"
    assert flag(between, age, "female") is not None
    assert flag(between, age, "male") is None
    assert flag(between, age, None) is None


def test_adults_are_beyond_the_reference() -> None:
    assert flag("8", Decimal(20 * 366), None) is None


def test_no_child_under_6_months_plausibly_weighs_70_kg() -> None:
    heaviest = heaviest_plausible(days("6"), HIGH)
    assert Decimal(10) < heaviest < Decimal(70)
