"""The three steps of the core, each on its own: resolve (request → frozen values, the JSON
pointers), plan (exact values) and answer (rounded once, by display's rules)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mixcalc import display
from mixcalc.answer import answer
from mixcalc.errors import ImplausiblePatient, UnknownAgent
from mixcalc.formulary import Formulary
from mixcalc.plan import compute
from mixcalc.resolve import Asked, resolve
from mixcalc.schema import MixtureRequest

TRIAMCINOLONE_10_MG = {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "10 mg"}
LIDOCAINE_HALF_ML = {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "0.5 mL"}


def request(**fields: object) -> MixtureRequest:
    return MixtureRequest.model_validate({"sites": 4, "components": [LIDOCAINE_HALF_ML], **fields})


def test_a_dose_per_site_resolves_to_its_volume_at_the_stock_strength(formulary: Formulary) -> None:
    (steroid,) = resolve(request(components=[TRIAMCINOLONE_10_MG]), formulary).components
    assert steroid.asked == Asked(Decimal(10), "dose")
    assert steroid.volume_per_site == Decimal("0.25")  # 10 mg / 40 mg/mL
    assert steroid.pointer == "/components/0"


def test_a_volume_per_site_resolves_as_asked(formulary: Formulary) -> None:
    (lidocaine,) = resolve(request(), formulary).components
    assert lidocaine.asked == Asked(Decimal("0.5"), "volume")
    assert (lidocaine.volume_per_site, lidocaine.concentration, lidocaine.percent) == (Decimal("0.5"), 10, True)


def test_a_component_scaled_as_a_dose_is_rounded_down_to_4_places_of_its_dose(formulary: Formulary) -> None:
    (steroid,) = resolve(request(components=[TRIAMCINOLONE_10_MG]), formulary).components
    scaled = steroid.scaled(Decimal(1) / 3)
    assert scaled.asked == Asked(Decimal("3.3333"), "dose")  # 3.33333... mg rounded down
    assert scaled.volume_per_site == Decimal("3.3333") / 40
    assert steroid.scaled(Decimal(1)) == steroid  # scaling by one changes nothing


def test_the_patient_is_judged_before_the_components(formulary: Formulary) -> None:
    # Both are wrong; the error names the patient first, as the old core did.
    wrong = request(
        components=[{**LIDOCAINE_HALF_ML, "agent": "lidocane"}], patient={"weight": "300 kg", "height": "100 cm"}
    )
    with pytest.raises(ImplausiblePatient):
        resolve(wrong, formulary)
    with pytest.raises(UnknownAgent) as caught:
        resolve(request(components=[{**LIDOCAINE_HALF_ML, "agent": "lidocane"}]), formulary)
    assert caught.value.pointer == "/components/0/agent"


def test_the_plan_is_exact_and_the_answer_rounds_it_once(formulary: Formulary) -> None:
    # 10 mg of 40 mg/mL at 3 sites in a syringe read in 0.01 mL: 0.75 mL drawn, 30 mg.
    plan = compute(resolve(request(sites=3, components=[TRIAMCINOLONE_10_MG]), formulary), formulary)
    (line,) = plan.assessment.lines
    assert (line.total_volume, line.total_dose) == (Decimal("0.75"), Decimal(30))
    (component,) = answer(plan).components
    assert component.total_dose.value == display.rounded(line.total_dose) == 30.0
    assert component.fraction_of_max == display.fraction(line.fraction)


@pytest.mark.parametrize(
    ("value", "floor", "shown"),
    [
        (Decimal("0.33335"), False, 0.3334),  # half to even: up to the even digit
        (Decimal("0.33345"), False, 0.3334),  # half to even: down to the even digit
        (Decimal("0.33339"), True, 0.3333),  # a limit is rounded down
    ],
)
def test_answer_amounts_are_rounded_to_4_places(value: Decimal, floor: bool, shown: float) -> None:
    assert display.rounded(value, floor=floor) == shown


def test_answer_fractions_are_rounded_up_and_none_stays_none() -> None:
    assert display.fraction(Decimal("0.99991")) == 1.0
    assert display.fraction(Decimal("0.5")) == 0.5
    assert display.fraction(None) is None


def test_the_dosing_weight_is_shown_to_a_tenth_of_a_kg_half_to_even() -> None:
    assert display.weight(Decimal("61.25")) == 61.2
    assert display.weight(Decimal("61.35")) == 61.4


@pytest.mark.parametrize(
    ("first", "second"),
    [(Decimal("1.25"), Decimal("1.250")), (Decimal(0), Decimal("-0")), (Decimal("-0"), Decimal(0))],
)
def test_a_remembered_rounding_is_the_rounding_of_the_value_asked(first: Decimal, second: Decimal) -> None:
    """display keeps the floats it wrote per value; equal Decimals give the same float,
    and a negative zero stays -0.0 after a zero (and the other way round)."""
    for value in (first, second):
        for floor in (False, True):
            quantized = value.quantize(Decimal("0.0001"), rounding="ROUND_FLOOR" if floor else "ROUND_HALF_EVEN")
            assert repr(display.rounded(value, floor=floor)) == repr(float(quantized))
        assert repr(display.fraction(value)) == repr(float(value.quantize(Decimal("0.0001"), "ROUND_CEILING")))
        assert repr(display.weight(value)) == repr(float(value.quantize(Decimal("0.1"), "ROUND_HALF_EVEN")))
