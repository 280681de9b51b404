"""The lipid emulsion rescue plan (CLINICAL.md section 15, ASRA 2020 checklist [S74])."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from mixcalc import plan_mixture
from mixcalc.formulary import Basis, Formulary
from mixcalc.rescue import lipid_rescue


def request(patient: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sites": 4,
        "components": [{"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "1 mL"}],
    }
    if patient is not None:
        body["patient"] = patient
    return body


def test_the_rescue_numbers_are_cited_formulary_data(formulary: Formulary) -> None:
    rule = formulary.rescue
    assert rule is not None
    assert rule.source == ("S74",)
    assert rule.basis is Basis.REFERENCE
    assert "ASRA" in formulary.sources["S74"].citation


def test_at_or_under_70_kg_bolus_and_infusion_are_per_kg(formulary: Formulary) -> None:
    """60 kg: bolus 1.5 x 60 = 90 mL over 2-3 min, infusion 0.25 x 60 = 15 mL/min,
    at most 12 x 60 = 720 mL in the first 30 min."""
    assert formulary.rescue is not None
    plan = lipid_rescue(formulary.rescue, Decimal(60))
    assert plan.regimen == "per_kg"
    assert plan.bolus == Decimal(90)
    assert plan.infusion_rate == (Decimal(15), Decimal(15))
    assert plan.infusion_volume is None
    assert plan.upper_limit == Decimal(720)
    assert "90 mL" in plan.summary
    assert "15 mL/min" in plan.summary
    assert "720 mL" in plan.summary


def test_exactly_70_kg_is_still_per_kg(formulary: Formulary) -> None:
    assert formulary.rescue is not None
    plan = lipid_rescue(formulary.rescue, Decimal(70))
    assert plan.regimen == "per_kg"
    assert plan.bolus == Decimal(105)  # 1.5 x 70
    assert plan.infusion_rate == (Decimal("17.5"), Decimal("17.5"))  # 0.25 x 70
    assert plan.upper_limit == Decimal(840)  # 12 x 70


def test_above_70_kg_the_bolus_and_infusion_are_fixed(formulary: Formulary) -> None:
    """80 kg: bolus 100 mL over 2-3 min, infusion 200-250 mL over 15-20 min, that is
    200 / 20 = 10 to 250 / 15 = 16.7 mL/min; at most 12 x 80 = 960 mL in 30 min."""
    assert formulary.rescue is not None
    plan = lipid_rescue(formulary.rescue, Decimal("70.1"))
    assert plan.regimen == "fixed"
    plan = lipid_rescue(formulary.rescue, Decimal(80))
    assert plan.bolus == Decimal(100)
    assert plan.infusion_volume == (Decimal(200), Decimal(250))
    assert plan.infusion_minutes == (Decimal(15), Decimal(20))
    assert plan.infusion_rate == (Decimal(10), Decimal("16.7"))
    assert plan.upper_limit == Decimal(960)
    assert "200\u2013250 mL over 15\u201320 min" in plan.summary


def test_a_small_child_gets_small_numbers_and_the_upper_limit_rounds_down(formulary: Formulary) -> None:
    assert formulary.rescue is not None
    plan = lipid_rescue(formulary.rescue, Decimal("12.37"))  # shown as 12.4 kg
    assert plan.weight_kg == Decimal("12.4")
    assert plan.bolus == Decimal("18.6")  # 1.5 x 12.4
    assert plan.infusion_rate == (Decimal("3.1"), Decimal("3.1"))  # 0.25 x 12.4
    assert plan.upper_limit == Decimal("148.8")  # 12 x 12.4


def test_without_a_weight_there_are_no_numbers_and_it_says_why(formulary: Formulary) -> None:
    assert formulary.rescue is not None
    plan = lipid_rescue(formulary.rescue, None)
    assert (plan.bolus, plan.infusion_rate, plan.upper_limit, plan.regimen) == (None, None, None, None)
    assert "no weight" in plan.summary
    assert "mL" not in plan.summary


def test_the_answer_states_the_rescue_for_the_dosing_weight() -> None:
    answer = plan_mixture(request({"weight": "60 kg"}))
    assert answer.rescue is not None
    assert answer.dosing_weight is not None
    assert answer.rescue.weight is not None
    assert answer.rescue.weight.value == answer.dosing_weight.value == 60
    assert answer.rescue.bolus is not None
    assert answer.rescue.bolus.value == 90
    assert answer.rescue.source
    assert "S74" in answer.rescue.source[0]
    assert "60 kg" in answer.rescue.summary


def test_an_obese_patient_is_dosed_on_the_weight_the_answer_states() -> None:
    answer = plan_mixture(request({"weight": "150 kg", "height": "165 cm", "sex": "female"}))
    assert answer.dosing_weight is not None
    assert answer.dosing_weight.basis != "total"
    assert answer.rescue is not None
    assert answer.rescue.weight is not None
    assert answer.rescue.weight.value == answer.dosing_weight.value
    assert answer.rescue.upper_limit is not None
    assert answer.rescue.upper_limit.value <= 12 * answer.dosing_weight.value


def test_the_answer_without_a_weight_has_a_rescue_without_numbers() -> None:
    answer = plan_mixture(request(None))
    assert answer.rescue is not None
    assert answer.rescue.bolus is None
    assert answer.rescue.weight is None
    assert "no weight" in answer.rescue.summary
