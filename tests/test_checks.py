"""Each safety rule of CLINICAL.md with a case that fires it and one that does not.

The ``source`` in each case is the reference behind the rule (ids from the formulary)."""

from __future__ import annotations

from typing import Any

import pytest

from mixcalc import plan_mixture

LIDOCAINE = {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "1 mL"}
BUPIVACAINE = {"agent": "bupivacaine", "concentration": "0.25 %", "volume_per_site": "1 mL"}
ROPIVACAINE = {"agent": "ropivacaine", "concentration": "0.2 %", "volume_per_site": "1 mL"}
TRIAMCINOLONE = {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "8 mg"}
BETAMETHASONE = {"agent": "betamethasone", "concentration": "6 mg/mL", "volume_per_site": "0.2 mL"}
DEXAMETHASONE = {"agent": "dexamethasone-sodium-phosphate", "concentration": "4 mg/mL", "volume_per_site": "0.2 mL"}
KETOROLAC = {"agent": "ketorolac", "concentration": "30 mg/mL", "volume_per_site": "0.5 mL"}


def mixture(*components: dict[str, Any], sites: int = 4, **patient: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"sites": sites, "components": list(components)}
    request["patient"] = {"weight": "70 kg", **patient}
    return request


def findings(request: dict[str, Any]) -> dict[str, set[str]]:
    """code -> severities found."""
    found: dict[str, set[str]] = {}
    for warning in plan_mixture(request).warnings:
        found.setdefault(warning.code, set()).add(warning.severity)
    return found


# (name, source, request that fires, code, severity, request that does not fire)
CASES = [
    (
        "infection at the site is contraindicated",
        "C10",
        mixture(LIDOCAINE, conditions=["infection-at-site"]),
        "contraindicated",
        "critical",
        mixture(LIDOCAINE),
    ),
    (
        "systemic infection is critical for steroids",
        "C10",
        mixture(LIDOCAINE, TRIAMCINOLONE, conditions=["systemic-infection"]),
        "contraindicated",
        "critical",
        mixture(LIDOCAINE, conditions=["systemic-infection"]),
    ),
    (
        "systemic infection is a warning without steroids",
        "C10",
        mixture(LIDOCAINE, conditions=["systemic-infection"]),
        "condition_caution",
        "warning",
        mixture(LIDOCAINE),
    ),
    (
        "systemic fungal infection is critical for steroids",
        "C10, S26",
        mixture(TRIAMCINOLONE, conditions=["systemic-fungal-infection"]),
        "contraindicated",
        "critical",
        mixture(LIDOCAINE, conditions=["systemic-fungal-infection"]),
    ),
    (
        "amide allergy is critical for an amide",
        "C10, S1",
        mixture(LIDOCAINE, conditions=["amide-allergy"]),
        "allergy",
        "critical",
        mixture(
            {"agent": "chloroprocaine", "concentration": "1 %", "volume_per_site": "1 mL"}, conditions=["amide-allergy"]
        ),
    ),
    (
        "ester allergy is critical for an ester",
        "C10, S18",
        mixture(
            {"agent": "chloroprocaine", "concentration": "1 %", "volume_per_site": "1 mL"}, conditions=["ester-allergy"]
        ),
        "allergy",
        "critical",
        mixture(LIDOCAINE, conditions=["ester-allergy"]),
    ),
    (
        "paraben allergy is critical for a multi-dose (paraben) vial",
        "C10, S34",
        mixture({**LIDOCAINE, "form": "multi-dose"}, conditions=["paraben-allergy"]),
        "allergy",
        "critical",
        mixture({**LIDOCAINE, "form": "preservative-free"}, conditions=["paraben-allergy"]),
    ),
    (
        "sulfite allergy is critical for an epinephrine product",
        "C10, S1",
        mixture({**LIDOCAINE, "epinephrine": "1:200000"}, conditions=["sulfite-allergy"]),
        "allergy",
        "critical",
        mixture(LIDOCAINE, conditions=["sulfite-allergy"]),
    ),
    (
        "anticoagulation warns of bleeding",
        "C10",
        mixture(LIDOCAINE, conditions=["anticoagulation"]),
        "bleeding_risk",
        "warning",
        mixture(LIDOCAINE),
    ),
    (
        "pregnancy: labels advise a reduced dose",
        "C10, S1, S5, S62",
        mixture(LIDOCAINE, conditions=["pregnancy"]),
        "reduced_dose_advised",
        "warning",
        mixture(LIDOCAINE),
    ),
    (
        "ropivacaine with betamethasone crystallises",
        "S43, S45",
        mixture(ROPIVACAINE, BETAMETHASONE),
        "incompatible_mixture",
        "critical",
        mixture(LIDOCAINE, BETAMETHASONE),
    ),
    (
        "ropivacaine with dexamethasone crystallises",
        "S43, S45, S48",
        mixture(ROPIVACAINE, DEXAMETHASONE),
        "incompatible_mixture",
        "warning",
        mixture(LIDOCAINE, DEXAMETHASONE),
    ),
    (
        "bupivacaine with betamethasone forms fine particles",
        "S43",
        mixture(BUPIVACAINE, BETAMETHASONE),
        "incompatible_mixture",
        "warning",
        mixture(BUPIVACAINE, TRIAMCINOLONE),
    ),
    (
        "methylprednisolone acetate is not to be mixed",
        "S28",
        mixture(
            LIDOCAINE, {"agent": "methylprednisolone-acetate", "concentration": "40 mg/mL", "dose_per_site": "8 mg"}
        ),
        "incompatible_mixture",
        "warning",
        mixture({"agent": "methylprednisolone-acetate", "concentration": "40 mg/mL", "dose_per_site": "8 mg"}),
    ),
    (
        "paraben-preserved LA with a depot steroid flocculates",
        "S34",
        mixture({**LIDOCAINE, "form": "multi-dose"}, TRIAMCINOLONE),
        "preservative_flocculation",
        "warning",
        mixture({**LIDOCAINE, "form": "preservative-free"}, TRIAMCINOLONE),
    ),
    (
        "two local anesthetics in one syringe are off-label",
        "S3, S5",
        mixture(LIDOCAINE, BUPIVACAINE),
        "off_label_mixture",
        "info",
        mixture(LIDOCAINE, TRIAMCINOLONE),
    ),
    (
        "triamcinolone 10 mg/mL is not for IM use",
        "S23",
        mixture(
            LIDOCAINE, {"agent": "triamcinolone-acetonide", "concentration": "10 mg/mL", "volume_per_site": "0.5 mL"}
        ),
        "route_not_labeled",
        "warning",
        mixture(
            LIDOCAINE, {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "volume_per_site": "0.2 mL"}
        ),
    ),
    (
        "dexamethasone 10 mg/mL is IV/IM only",
        "S32",
        mixture(LIDOCAINE, {**DEXAMETHASONE, "concentration": "10 mg/mL"}),
        "route_not_labeled",
        "warning",
        mixture(LIDOCAINE, DEXAMETHASONE),
    ),
    (
        "epinephrine over 0.04 mg with cardiovascular disease",
        "S67",
        mixture({**LIDOCAINE, "epinephrine": "1:100000"}, sites=6, conditions=["cardiovascular-disease"]),
        "epinephrine_limit_exceeded",
        "critical",
        mixture({**LIDOCAINE, "epinephrine": "1:100000"}, sites=6),
    ),
    (
        "epinephrine over 0.2 mg per visit",
        "S67",
        mixture({**LIDOCAINE, "epinephrine": "1:100000", "volume_per_site": "2 mL"}, sites=11, weight="90 kg"),
        "epinephrine_limit_exceeded",
        "critical",
        mixture({**LIDOCAINE, "epinephrine": "1:100000", "volume_per_site": "2 mL"}, sites=10, weight="90 kg"),
    ),
    (
        "bupivacaine under 18 is off-label (adult-only label)",
        "S3, S14",
        mixture(BUPIVACAINE, age="12 a"),
        "pediatric_off_label",
        "warning",
        mixture(BUPIVACAINE, age="18 a"),
    ),
    (
        "over 70: labels advise a reduced dose",
        "S1, S5, S62",
        mixture(LIDOCAINE, age="71 a"),
        "reduced_dose_advised",
        "warning",
        mixture(LIDOCAINE, age="70 a"),
    ),
    (
        "infants under 6 months: amide maximum reduced",
        "S14",
        mixture({**LIDOCAINE, "volume_per_site": "0.5 mL"}, sites=1, weight="6 kg", age="5 mo"),
        "infant_dose_reduced",
        "info",
        mixture({**LIDOCAINE, "volume_per_site": "0.5 mL"}, sites=1, weight="8 kg", age="7 mo"),
    ),
    (
        "ketorolac 60 mg at 65 or over exceeds the 30 mg maximum",
        "S49",
        mixture({**KETOROLAC, "volume_per_site": "2 mL"}, sites=1, age="66 a"),
        "max_dose_exceeded",
        "critical",
        mixture({**KETOROLAC, "volume_per_site": "2 mL"}, sites=1, age="64 a"),
    ),
    (
        "ketorolac 60 mg with renal impairment exceeds 30 mg",
        "S49",
        mixture({**KETOROLAC, "volume_per_site": "2 mL"}, sites=1, age="40 a", conditions=["renal-impairment"]),
        "max_dose_exceeded",
        "critical",
        mixture({**KETOROLAC, "volume_per_site": "2 mL"}, sites=1, age="40 a"),
    ),
    (
        "ketorolac 60 mg with age unknown: the 30 mg maximum for 65+ is raised",
        "S49",
        {"sites": 1, "components": [{**KETOROLAC, "volume_per_site": "2 mL"}], "patient": {"weight": "70 kg"}},
        "max_dose_restriction_not_assessed",
        "warning",
        {"sites": 1, "components": [{**KETOROLAC, "volume_per_site": "0.5 mL"}], "patient": {"weight": "70 kg"}},
    ),
    (
        "ketorolac in TPI is off-label",
        "S49",
        mixture(LIDOCAINE, KETOROLAC),
        "off_label_use",
        "warning",
        mixture(LIDOCAINE),
    ),
]


@pytest.mark.parametrize(
    ("source", "fires", "code", "severity", "quiet"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_fires_and_stays_quiet(
    source: str, fires: dict[str, Any], code: str, severity: str, quiet: dict[str, Any]
) -> None:
    assert source
    assert severity in findings(fires).get(code, set()), (code, findings(fires))
    assert code not in findings(quiet) or severity not in findings(quiet)[code], (code, findings(quiet))


def test_prior_lidocaine_today_counts_toward_the_fraction() -> None:
    """[S55] count all lidocaine given the same day."""
    request = mixture(LIDOCAINE, sites=10)  # 100 mg of 300
    request["prior_doses"] = [{"agent": "lidocaine", "dose": "200 mg"}]
    answer = plan_mixture(request)
    assert answer.components[0].fraction_of_max == 1.0
    assert answer.components[0].prior_dose is not None
    request["prior_doses"] = [{"agent": "lidocaine", "dose": "201 mg"}]
    assert "max_dose_exceeded" in findings(request)


def test_unknown_condition_is_refused_listing_the_known_ones() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="infection-at-site"):
        plan_mixture(mixture(LIDOCAINE, conditions=["gout"]))


@pytest.mark.parametrize("rule", ["total", "ideal", "adjusted", "lean"])
def test_dosing_weight_rule_is_selectable_per_request_and_echoed(rule: str) -> None:
    request = mixture(LIDOCAINE, weight="110 kg", height="180 cm", sex="male")
    request["dosing_weight"] = rule
    answer = plan_mixture(request)
    assert answer.dosing_weight is not None
    assert answer.dosing_weight.basis == rule
    assert answer.dosing_weight.reason


def test_implausible_bmi_is_an_error() -> None:
    from mixcalc.errors import ImplausiblePatient

    with pytest.raises(ImplausiblePatient):
        plan_mixture(mixture(LIDOCAINE, weight="300 kg", height="150 cm"))  # BMI 133


def test_labels_follow_ismp_display_rules() -> None:
    answer = plan_mixture(
        mixture({**LIDOCAINE, "epinephrine": "1:200000", "volume_per_site": "0.5 mL"}, DEXAMETHASONE, sites=2)
    )
    label = answer.syringes[0].label
    assert "EPINEPHrine 1:200,000" in label
    assert "dexAMETHasone" in label
    assert " .5" not in label
    assert ".0 " not in label
    assert "cc" not in label
    assert answer.aftercare


def test_rounding_down_never_hides_an_epinephrine_total_over_its_cap() -> None:
    # 2.7 mL x 3 sites = 8.1 mL of 1:200,000 (5 mcg/mL) is 40.5 mcg, over the 40 mcg cap
    # with cardiovascular disease [S67]; a 10 mL syringe (0.2 mL steps) draws 8 mL (40 mcg).
    request = mixture(
        {**LIDOCAINE, "epinephrine": "1:200000", "volume_per_site": "2.7 mL"},
        sites=3,
        conditions=["cardiovascular-disease"],
    )
    request["syringe"] = "10 mL"
    answer = plan_mixture(request)
    assert answer.epinephrine_total is not None
    assert answer.epinephrine_total.value == 40.0  # what is drawn is at the cap, not over it
    exceeded = [w for w in answer.warnings if w.code == "epinephrine_limit_exceeded"]
    assert [w.severity for w in exceeded] == ["critical"], answer.warnings
    assert "40.5 mcg as asked" in exceeded[0].message
