"""Draws a syringe can really measure, one load calculation, consistent group loads and
percentages that round up (issue 11): each behaviour with a case that shows it and one
that does not."""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest

from mixcalc import display, plan_mixture
from mixcalc.dosing import PatientMaxDose
from mixcalc.formulary import Formulary, default_formulary, parse_formulary
from mixcalc.loads import Dose, crossed, epinephrine_cap, group_loads, load
from mixcalc.schema import MixtureResponse

BUNDLED_TEXT = (resources.files("mixcalc") / "_data" / "default.toml").read_text(encoding="utf-8")

LIDOCAINE_1 = {"agent": "lidocaine", "concentration": "1 %"}
TRIAMCINOLONE_40 = {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL"}


def codes(answer: MixtureResponse) -> dict[str, str]:
    """code -> the most severe severity found."""
    rank = {"info": 0, "warning": 1, "critical": 2}
    found: dict[str, str] = {}
    for w in answer.warnings:
        if rank[w.severity] >= rank.get(found.get(w.code, "info"), 0):
            found[w.code] = w.severity
    return found


def messages(answer: MixtureResponse, code: str) -> list[str]:
    return [w.message for w in answer.warnings if w.code == code]


@functools.cache
def formulary_with_tolerance(tolerance: str) -> Formulary:
    """The bundled formulary with another draw tolerance."""
    assert 'draw_tolerance = "0.05"' in BUNDLED_TEXT
    return parse_formulary(
        BUNDLED_TEXT.replace('draw_tolerance = "0.05"', f'draw_tolerance = "{tolerance}"', 1), "tolerance.toml"
    )


@functools.cache
def two_syringe_formulary() -> Formulary:
    """A formulary stocking only a 5 mL syringe graduated in 0.1 mL and a 20 mL one in 1 mL."""
    start = BUNDLED_TEXT.index("[[syringes]]")
    end = BUNDLED_TEXT.index("# ----", start)
    syringes = "".join(
        f'[[syringes]]\ncapacity = "{c}"\ngraduation = "{g}"\ndead_space = "0.1 mL"\nbasis = "reference"\n'
        'source = "S71"\n\n'
        for c, g in (("5 mL", "0.1 mL"), ("20 mL", "1 mL"))
    )
    text = BUNDLED_TEXT[:start] + syringes + BUNDLED_TEXT[end:]
    text = text.replace('default_syringe = "10 mL"', 'default_syringe = "20 mL"', 1)
    return parse_formulary(text, "two-syringes.toml")


# --- draws a syringe can really measure -------------------------------------------------------


def test_a_draw_the_mixing_syringe_cannot_measure_is_measured_in_a_finer_syringe() -> None:
    """Issue 11: triamcinolone 40 mg/mL, 24 mg asked (0.6 mL) with 12 mL of lidocaine: the
    20 mL mixing syringe reads 1 mL steps and would draw 1 mL (40 mg, +67 %)."""
    answer = plan_mixture(
        {
            "sites": 1,
            "components": [{**TRIAMCINOLONE_40, "dose_per_site": "24 mg"}, {**LIDOCAINE_1, "volume_per_site": "12 mL"}],
        }
    )
    (syringe,) = answer.syringes
    assert syringe.capacity.value == 20
    steroid, lidocaine = syringe.draws
    assert (steroid.volume.value, steroid.dose.value) == (0.6, 24.0)
    assert steroid.measured_in is not None
    assert (steroid.measured_in.capacity.value, steroid.measured_in.graduation.value) == (1.0, 0.01)
    assert lidocaine.measured_in is None
    assert syringe.fill_volume.value == 12.6  # the draws are what goes into the mixing syringe
    assert "Draw triamcinolone acetonide 0.6 mL in a 1 mL syringe" in syringe.label
    assert "add it to syringe 1" in syringe.label
    assert codes(answer)["draw_measured_separately"] == "info"
    assert "volume_rounded" not in codes(answer)


def test_a_draw_the_mixing_syringe_measures_within_tolerance_stays_in_it() -> None:
    # 14.6 mL on 1 mL steps: 15 mL is 2.7 % off, within 5 %.
    answer = plan_mixture({"sites": 1, "components": [{**LIDOCAINE_1, "volume_per_site": "14.6 mL"}]})
    (draw,) = answer.syringes[0].draws
    assert draw.measured_in is None
    assert draw.volume.value == 15
    assert "draw_measured_separately" not in codes(answer)
    assert codes(answer)["volume_rounded"] == "info"


SPLIT_OVER_TWO_SYRINGES: dict[str, Any] = {
    "sites": 6,
    "syringe": "3 mL",  # 4 sites, then 2: 0.67 mL and 0.33 mL of bupivacaine 0.75 %
    "components": [
        {"agent": "lidocaine", "concentration": "2 %", "dose_per_site": "5 mg"},
        {"agent": "bupivacaine", "concentration": "0.75 %", "dose_per_site": "1.25 mg"},
        {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "10 mg"},
    ],
    "patient": {"weight": "70 kg", "height": "165 cm", "sex": "female", "age": "45 a"},
}


def test_a_component_measured_in_a_finer_syringe_is_measured_so_in_every_mixing_syringe() -> None:
    """Found trying it as a pharmacist: the 3 mL syringe reads 0.7 mL for 0.667 mL (5 % over,
    within the tolerance) in the first syringe, while the second needs the 1 mL syringe for
    0.333 mL; the two syringes then held bupivacaine at different strengths.  Now both use
    the finer syringe, and every syringe delivers the same dose per site as near as its
    graduations allow."""
    answer = plan_mixture(SPLIT_OVER_TWO_SYRINGES)
    assert [s.sites for s in answer.syringes] == [4, 2]
    bupivacaine = [next(d for d in s.draws if d.agent == "bupivacaine") for s in answer.syringes]
    assert [d.measured_in.capacity.value if d.measured_in else None for d in bupivacaine] == [1.0, 1.0]
    per_site = [Decimal(repr(d.dose.value)) / s.sites for d, s in zip(bupivacaine, answer.syringes, strict=True)]
    assert all(abs(dose - Decimal("1.25")) / Decimal("1.25") <= Decimal("0.01") for dose in per_site), per_site


def test_one_mixing_syringe_keeps_a_draw_its_own_graduations_measure() -> None:
    one = {**SPLIT_OVER_TWO_SYRINGES, "sites": 4}  # one 3 mL syringe: 0.67 mL reads as 0.7 mL, within 5 %
    (syringe,) = plan_mixture(one).syringes
    bupivacaine = next(d for d in syringe.draws if d.agent == "bupivacaine")
    assert bupivacaine.measured_in is None
    assert bupivacaine.volume.value == 0.7


def test_a_requested_syringe_is_honoured_and_a_finer_one_offered_for_a_draw() -> None:
    request = {
        "sites": 1,
        "syringe": "20 mL",
        "components": [{**TRIAMCINOLONE_40, "dose_per_site": "24 mg"}, {**LIDOCAINE_1, "volume_per_site": "1 mL"}],
    }
    answer = plan_mixture(request)
    (syringe,) = answer.syringes
    assert syringe.capacity.value == 20
    assert syringe.draws[0].measured_in is not None
    assert syringe.draws[0].dose.value == 24


def test_smaller_mixing_syringes_are_tried_when_no_separate_syringe_can_measure_a_draw() -> None:
    """Only 5 mL (0.1 mL steps) and 20 mL (1 mL steps) syringes: 4 sites of 1.4 mL lidocaine
    and 1 mL saline fit the 20 mL syringe, which would draw 5.6 mL of lidocaine as 6 mL (+7 %);
    5.6 mL does not fit the 5 mL syringe, so two 5 mL mixing syringes are used."""
    request = {
        "sites": 4,
        "components": [
            {**LIDOCAINE_1, "volume_per_site": "1.4 mL"},
            {"agent": "sodium-chloride", "volume_per_site": "1 mL"},
        ],
    }
    answer = plan_mixture(request, two_syringe_formulary())
    assert [(s.capacity.value, s.sites) for s in answer.syringes] == [(5, 2), (5, 2)]
    assert all(d.volume.value == 2.8 for s in answer.syringes for d in s.draws if d.agent == "lidocaine")
    assert "draw_outside_tolerance" not in codes(answer)
    # the same request on a requested 20 mL syringe keeps it, and says the draw is off
    kept = plan_mixture({**request, "syringe": "20 mL"}, two_syringe_formulary())
    assert [s.capacity.value for s in kept.syringes] == [20]
    assert codes(kept)["draw_outside_tolerance"] == "critical"  # 6 mL drawn for 5.6 asked: more lidocaine


def test_a_draw_no_syringe_measures_within_tolerance_is_a_warning_when_less_is_drawn() -> None:
    # 1 mg of 40 mg/mL is 0.025 mL: 0.02 mL on the finest (0.01 mL) syringe, 20 % less.
    answer = plan_mixture({"sites": 1, "components": [{**TRIAMCINOLONE_40, "dose_per_site": "1 mg"}]})
    assert codes(answer)["draw_outside_tolerance"] == "warning"
    assert "-20 %" in messages(answer, "draw_outside_tolerance")[0]


def test_a_draw_no_syringe_measures_within_tolerance_is_critical_when_more_is_delivered() -> None:
    # 1.08 mg of 40 mg/mL is 0.027 mL: 0.03 mL on the finest syringe, 12 % more.
    answer = plan_mixture({"sites": 1, "components": [{**TRIAMCINOLONE_40, "dose_per_site": "1.08 mg"}]})
    assert codes(answer)["draw_outside_tolerance"] == "critical"
    assert "+12 %" in messages(answer, "draw_outside_tolerance")[0]


def test_a_draw_measured_exactly_on_the_finest_syringe_raises_no_tolerance_warning() -> None:
    answer = plan_mixture({"sites": 1, "components": [{**TRIAMCINOLONE_40, "dose_per_site": "1.2 mg"}]})
    assert "draw_outside_tolerance" not in codes(answer)


def test_more_saline_than_asked_beyond_the_tolerance_is_only_a_warning() -> None:
    """A diluent has no dose: more of it is not an overdose."""
    request = {
        "sites": 4,
        "syringe": "20 mL",
        "components": [
            {**LIDOCAINE_1, "volume_per_site": "1 mL"},
            {"agent": "sodium-chloride", "volume_per_site": "1.4 mL"},
        ],
    }
    answer = plan_mixture(request, two_syringe_formulary())
    assert codes(answer)["draw_outside_tolerance"] == "warning"


def test_the_tolerance_is_the_formularys() -> None:
    request = {
        "sites": 1,
        "components": [{**TRIAMCINOLONE_40, "dose_per_site": "24 mg"}, {**LIDOCAINE_1, "volume_per_site": "12 mL"}],
    }
    loose = plan_mixture(request, formulary_with_tolerance("0.9"))
    assert loose.syringes[0].draws[0].measured_in is None
    assert loose.syringes[0].draws[0].volume.value == 1  # 40 mg: what a 90 % tolerance allows


def test_a_draw_too_small_for_every_syringe_is_refused() -> None:
    from mixcalc.errors import ComponentNotComputable

    with pytest.raises(ComponentNotComputable, match="finest syringe"):
        plan_mixture({"sites": 1, "components": [{**TRIAMCINOLONE_40, "dose_per_site": "0.1 mg"}]})


# --- one load calculation -------------------------------------------------------------------


def test_rounding_never_carries_a_group_over_its_limit_with_a_prior_dose_outside_the_mixture() -> None:
    """Issue 11: lidocaine 1 % 14.6 mL with 88 mg bupivacaine given earlier is 0.9895 as
    asked; 15 mL drawn would be 1.0029 (shown as "100 %")."""
    answer = plan_mixture(
        {
            "sites": 1,
            "syringe": "20 mL",
            "components": [{**LIDOCAINE_1, "volume_per_site": "14.6 mL"}],
            "prior_doses": [{"agent": "bupivacaine", "dose": "88 mg"}],
        }
    )
    assert answer.syringes[0].draws[0].volume.value == 14
    assert answer.local_anesthetic_fraction == 0.9896  # the larger: 0.98952 as asked, rounded up
    assert codes(answer)["combined_local_anesthetic_near"] == "warning"
    assert "combined_local_anesthetic_exceeded" not in codes(answer)


def test_rounding_never_carries_a_group_over_its_limit_under_the_most_toxic_rule() -> None:
    """Most toxic [S16]: lidocaine and bupivacaine counted against bupivacaine's 175 mg.
    Lidocaine 1 % 16.6 mL with 8.25 mg bupivacaine given earlier: (166 + 8.25) / 175 =
    0.9957 as asked; 17 mL drawn would be 178.25 / 175 = 1.0186 (the old guard summed
    fractions of agents in the mixture whatever the rule)."""
    most_toxic = parse_formulary(
        BUNDLED_TEXT.replace('combination = "additive"', 'combination = "most_toxic"', 1), "most_toxic.toml"
    )
    request = {
        "sites": 1,
        "syringe": "20 mL",
        "components": [{**LIDOCAINE_1, "volume_per_site": "16.6 mL"}],
        "prior_doses": [{"agent": "bupivacaine", "dose": "8.25 mg"}],
    }
    answer = plan_mixture(request, most_toxic)
    assert answer.syringes[0].draws[0].volume.value == 16
    (group,) = answer.groups
    assert (group.rule, group.fraction, group.agents) == ("most_toxic", 0.9958, ("lidocaine", "bupivacaine"))
    assert "combined_local_anesthetic_exceeded" not in codes(answer)
    # additive, the same plan is far from the limit and rounds to the nearest graduation
    assert plan_mixture(request).syringes[0].draws[0].volume.value == 17


def test_loads_count_a_prior_dose_of_an_agent_outside_the_mixture_under_both_rules() -> None:
    formulary = default_formulary()
    lidocaine, bupivacaine = formulary.agents_by_id["lidocaine"], formulary.agents_by_id["bupivacaine"]
    cap = epinephrine_cap(formulary.epinephrine, ())
    doses = [
        Dose(lidocaine, Decimal(150), Decimal(0), PatientMaxDose(Decimal(300), "", ())),
        Dose(bupivacaine, Decimal(0), Decimal(35), PatientMaxDose(Decimal(175), "", ()), in_mixture=False),
    ]
    additive = load(doses, groups=formulary.groups, rule="additive", epinephrine_mg=None, cap=cap)
    most_toxic = load(doses, groups=formulary.groups, rule="most_toxic", epinephrine_mg=None, cap=cap)
    assert additive.groups[0].fraction == Decimal("0.5") + Decimal("0.2")
    assert most_toxic.groups[0].fraction == Decimal(185) / Decimal(175)
    assert additive.groups[0].agents == ("lidocaine", "bupivacaine")


def test_a_maximum_that_cannot_be_stated_gives_no_fraction_and_no_limit_to_cross() -> None:
    formulary = default_formulary()
    lidocaine, bupivacaine = formulary.agents_by_id["lidocaine"], formulary.agents_by_id["bupivacaine"]
    cap = epinephrine_cap(formulary.epinephrine, ())
    unstated = PatientMaxDose(None, "a child without a weight", ())

    def at(mg: int) -> Any:
        doses = [
            Dose(lidocaine, Decimal(mg), Decimal(0), unstated),
            Dose(bupivacaine, Decimal(170), Decimal(0), PatientMaxDose(Decimal(175), "", ())),
        ]
        return load(doses, groups=formulary.groups, rule="additive", epinephrine_mg=None, cap=cap)

    asked, drawn = at(10), at(20)
    assert asked.doses[0].fraction is None
    assert asked.groups[0].fraction is None
    assert crossed(asked, drawn) == ()
    (group,) = group_loads(asked, drawn)
    assert group.fraction is None


def test_the_planner_answers_an_unstated_maximum_with_nulls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The contract with the patient side: ``PatientMaxDose.mg is None`` for an agent gives it no
    max_dose and no fraction, its group a null fraction, and the rounding guard does not crash."""
    import mixcalc.plan

    real = mixcalc.plan.max_dose

    def unstated(agent: Any, **kwargs: Any) -> PatientMaxDose | None:
        limit = real(agent, **kwargs)
        if agent.id == "lidocaine" and limit is not None:
            return PatientMaxDose(None, "maximum cannot be stated", limit.sources)
        return limit

    monkeypatch.setattr(mixcalc.plan, "max_dose", unstated)
    answer = plan_mixture(
        {
            "sites": 3,
            "components": [
                {**LIDOCAINE_1, "volume_per_site": "1.5 mL"},
                {"agent": "bupivacaine", "concentration": "0.25 %", "volume_per_site": "1 mL"},
            ],
        }
    )
    lidocaine = answer.components[0]
    assert (lidocaine.max_dose, lidocaine.fraction_of_max) == (None, None)
    assert answer.components[1].fraction_of_max is not None
    assert answer.local_anesthetic_fraction is None
    assert [g.fraction for g in answer.groups] == [None]
    assert not any(w.code.startswith("combined_") for w in answer.warnings)


def test_the_epinephrine_cap_is_the_lowest_restriction_the_patient_has() -> None:
    formulary = default_formulary()
    assert epinephrine_cap(formulary.epinephrine, ()).mg == Decimal("0.2")
    lowered = epinephrine_cap(formulary.epinephrine, ("cardiovascular-disease",))  # type: ignore[arg-type]
    assert lowered.mg == Decimal("0.04")
    assert lowered.reason == "cardiovascular disease"


# --- group loads are consistent ----------------------------------------------------------------

#: Four steroids near a quarter of the 80 mg triamcinolone-equivalent cap each, one site on
#: a 3 mL syringe (0.1 mL steps): triamcinolone 19 mg (0.475 mL) rounds up to 0.5 mL and
#: betamethasone 3.15 mg (0.525 mL) down to 0.5 mL.  As asked 0.2375 + 0.25 + 0.24 + 0.2625
#: = 0.99; as drawn 0.25 + 0.25 + 0.24 + 0.25 = 0.99.  The per-agent larger values summed
#: (0.25 + 0.25 + 0.24 + 0.2625 = 1.0025) made a critical "100 %" next to 0.99.
FOUR_STEROIDS = {
    "sites": 1,
    "components": [
        {**TRIAMCINOLONE_40, "dose_per_site": "19 mg"},
        {"agent": "methylprednisolone-acetate", "concentration": "40 mg/mL", "dose_per_site": "20 mg"},
        {"agent": "dexamethasone-sodium-phosphate", "concentration": "4 mg/mL", "dose_per_site": "3.6 mg"},
        {"agent": "betamethasone", "concentration": "6 mg/mL", "dose_per_site": "3.15 mg"},
    ],
    "patient": {"weight": "70 kg"},
}


def test_a_combined_warning_judges_whole_sums_not_per_agent_larger_values() -> None:
    # a loose tolerance keeps every draw in the mixing syringe, as before issue 11
    answer = plan_mixture(FOUR_STEROIDS, formulary_with_tolerance("0.5"))
    assert [d.volume.value for d in answer.syringes[0].draws] == [0.5, 0.5, 0.9, 0.5]
    assert answer.steroid_fraction == 0.99
    assert codes(answer)["combined_steroid_near"] == "warning"
    assert "combined_steroid_exceeded" not in codes(answer)


def test_a_combined_warning_fires_when_the_sum_is_over_one_way() -> None:
    over = {
        **FOUR_STEROIDS,
        "components": [
            *FOUR_STEROIDS["components"][:3],
            {"agent": "betamethasone", "concentration": "6 mg/mL", "dose_per_site": "3.3 mg"},
        ],
    }
    answer = plan_mixture(over, formulary_with_tolerance("0.5"))
    # 3.3 mg betamethasone (0.55 mL) is drawn as 0.5 mL: 1.0025 as asked, 0.99 as drawn
    assert answer.steroid_fraction is not None
    assert answer.steroid_fraction > 1
    assert codes(answer)["combined_steroid_exceeded"] == "critical"
    (message,) = messages(answer, "combined_steroid_exceeded")
    assert "101 %" in message
    assert "as asked" in message


def test_a_critical_combined_warning_never_sits_next_to_a_group_fraction_under_one() -> None:
    for request in (FOUR_STEROIDS, {**FOUR_STEROIDS, "sites": 2}):
        answer = plan_mixture(request)
        for group in answer.groups:
            critical = [w for w in answer.warnings if w.code.startswith("combined_") and w.severity == "critical"]
            assert not critical or (group.fraction is not None and group.fraction > 1)


# --- percentages round up --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fraction", "shown"),
    [("1.0029", "101 %"), ("0.1333", "14 %"), ("1", "100 %"), ("0.9895", "99 %"), ("0", "0 %"), ("12.3401", "1,235 %")],
)
def test_a_percentage_shown_to_people_is_whole_and_rounded_up(fraction: str, shown: str) -> None:
    assert display.percent(Decimal(fraction)) == shown


def test_a_dose_just_over_its_maximum_never_reads_as_100_percent() -> None:
    # 301 mg of a 300 mg cap is 100.33 %: shown as 101 %, never "100 %"
    answer = plan_mixture(
        {
            "sites": 1,
            "components": [{**LIDOCAINE_1, "volume_per_site": "1 mL"}],
            "prior_doses": [{"agent": "lidocaine", "dose": "291 mg"}],
        }
    )
    (message,) = messages(answer, "max_dose_exceeded")
    assert "101 %" in message
    assert not re.search(r"\b100 %", message)


def test_the_sources_of_a_rounded_volume_are_those_the_formulary_lists() -> None:
    request = {"sites": 1, "components": [{**LIDOCAINE_1, "volume_per_site": "14.6 mL"}]}
    text = BUNDLED_TEXT.replace('volume_rounded = ["S71"]', 'volume_rounded = ["S64", "S71"]', 1)
    assert text != BUNDLED_TEXT
    ours = parse_formulary(text, "ours.toml")
    (bundled,) = [w for w in plan_mixture(request).warnings if w.code == "volume_rounded"]
    (cited,) = [w for w in plan_mixture(request, ours).warnings if w.code == "volume_rounded"]
    assert [s.split("]")[0] for s in bundled.source] == ["[S71"]
    assert [s.split("]")[0] for s in cited.source] == ["[S64", "[S71"]
