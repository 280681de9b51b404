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
        "epinephrine at 80 % of its cap or more is near the limit (200 of 200 mcg)",
        "S67",
        mixture({**LIDOCAINE, "epinephrine": "1:100000", "volume_per_site": "2 mL"}, sites=10, weight="90 kg"),
        "epinephrine_limit_near",
        "warning",
        mixture({**LIDOCAINE, "epinephrine": "1:100000", "volume_per_site": "2 mL"}, sites=7, weight="90 kg"),
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


# --- the patient side of issue 11: children, missing facts, label contraindications ------------

EPI_LIDOCAINE = {"agent": "lidocaine", "concentration": "1 %", "epinephrine": "1:100000", "volume_per_site": "3 mL"}
LEVOBUPIVACAINE = {"agent": "levobupivacaine", "concentration": "0.25 %", "volume_per_site": "1 mL"}
MULTI_DOSE_LIDOCAINE = {**LIDOCAINE, "form": "multi-dose"}


def patient(*components: dict[str, Any], sites: int = 1, **facts: Any) -> dict[str, Any]:
    """A request with exactly these patient facts (no default weight)."""
    return {"sites": sites, "components": list(components), "patient": facts}


def ketorolac_with(*conditions: str) -> dict[str, Any]:
    return mixture(KETOROLAC, sites=1, age="40 a", conditions=list(conditions))


# (name, source, request that fires, code, severity, request that does not fire)
PATIENT_CASES = [
    (
        "a child with no weight has no maximum for a weight-based agent",
        "C14, S14",
        patient(LIDOCAINE, age="3 mo"),
        "weight_required",
        "critical",
        patient(LIDOCAINE, age="3 mo", weight="6 kg"),
    ),
    (
        "an adult with no weight keeps the cap and a weight_missing warning, not weight_required",
        "CLINICAL.md section 2",
        patient(LIDOCAINE, age="30 a"),
        "weight_missing",
        "warning",
        patient(LIDOCAINE, age="30 a", weight="70 kg"),
    ),
    (
        "a child of 17 with no weight still needs one",
        "C14",
        patient(BUPIVACAINE, age="17 a"),
        "weight_required",
        "critical",
        patient(BUPIVACAINE, age="18 a"),
    ),
    (
        "a weight under 10 kg with no age presumes an infant: the amide maximum is reduced and said so",
        "S14, C14",
        patient({**LIDOCAINE, "volume_per_site": "0.5 mL"}, weight="4 kg"),
        "infant_dose_presumed",
        "warning",
        patient({**LIDOCAINE, "volume_per_site": "0.5 mL"}, weight="10 kg"),
    ),
    (
        "corticosteroids under 18 warn",
        "C14",
        mixture(TRIAMCINOLONE, sites=1, weight="30 kg", age="9 a"),
        "pediatric_off_label",
        "warning",
        mixture(TRIAMCINOLONE, sites=1, weight="60 kg", age="18 a"),
    ),
    (
        "levobupivacaine under 18 warns (adult-only label)",
        "S21, C14",
        mixture(LEVOBUPIVACAINE, sites=1, weight="50 kg", age="15 a"),
        "pediatric_off_label",
        "warning",
        mixture(LEVOBUPIVACAINE, sites=1, weight="50 kg", age="18 a"),
    ),
    (
        "an epinephrine product under 18 warns: the per-visit cap is an adult figure",
        "S67, C14",
        mixture({**EPI_LIDOCAINE, "volume_per_site": "1 mL"}, sites=2, weight="30 kg", age="9 a"),
        "pediatric_epinephrine_limit",
        "warning",
        mixture({**EPI_LIDOCAINE, "volume_per_site": "1 mL"}, sites=2, weight="60 kg", age="18 a"),
    ),
    (
        "a child without an epinephrine product is not warned about epinephrine",
        "S67, C14",
        mixture({**EPI_LIDOCAINE, "volume_per_site": "1 mL"}, sites=2, weight="30 kg", age="9 a"),
        "pediatric_epinephrine_limit",
        "warning",
        mixture({**LIDOCAINE, "volume_per_site": "1 mL"}, sites=2, weight="30 kg", age="9 a"),
    ),
    (
        "ketorolac under 17 warns",
        "S49",
        mixture(KETOROLAC, sites=1, weight="40 kg", age="12 a"),
        "pediatric_off_label",
        "warning",
        mixture(KETOROLAC, sites=1, weight="60 kg", age="17 a"),
    ),
    (
        "ketorolac under 1 year is critical",
        "S73, S49",
        mixture(KETOROLAC, sites=1, weight="8 kg", age="11 mo"),
        "pediatric_contraindicated",
        "critical",
        mixture(KETOROLAC, sites=1, weight="10 kg", age="12 mo"),
    ),
    (
        "ketorolac with no age and an infant's possible weight: the age is asked for",
        "S73",
        patient(KETOROLAC, weight="8 kg"),
        "population_not_assessed",
        "warning",
        patient(KETOROLAC, weight="70 kg"),
    ),
    (
        "an 8-month-old weighing 70 kg is implausible",
        "S75, S76",
        patient(LIDOCAINE, weight="70 kg", age="8 mo"),
        "implausible_patient",
        "critical",
        patient(LIDOCAINE, weight="8.5 kg", age="8 mo"),
    ),
    (
        "a 10-year-old of 8 kg is implausible (too light)",
        "S75, S76",
        patient(LIDOCAINE, weight="8 kg", age="10 a"),
        "implausible_patient",
        "critical",
        patient(LIDOCAINE, weight="32 kg", age="10 a"),
    ),
    *[
        (
            f"ketorolac with {condition} is contraindicated",
            "S49",
            ketorolac_with(condition),
            code,
            "critical",
            mixture(LIDOCAINE, sites=1, age="40 a", conditions=[condition]),
        )
        for condition, code in [
            ("bleeding-disorder", "contraindicated"),
            ("anticoagulation", "contraindicated"),
            ("advanced-renal-impairment", "contraindicated"),
            ("labor", "contraindicated"),
            ("peptic-ulcer", "contraindicated"),
            ("nsaid-use", "contraindicated"),
            ("nsaid-allergy", "allergy"),
        ]
    ],
    (
        "pregnancy with ketorolac is a warning",
        "S49",
        ketorolac_with("pregnancy"),
        "condition_caution",
        "warning",
        ketorolac_with(),
    ),
    (
        "heart failure lowers the epinephrine cap to 40 mcg",
        "S67",
        mixture(EPI_LIDOCAINE, sites=5, age="50 a", conditions=["heart-failure"]),  # 150 mcg
        "epinephrine_limit_exceeded",
        "critical",
        mixture(EPI_LIDOCAINE, sites=5, age="50 a"),
    ),
    (
        "an MAO inhibitor or tricyclic warns with an epinephrine product",
        "C10, S67",
        mixture(EPI_LIDOCAINE, sites=1, conditions=["maoi-or-tca-use"]),
        "condition_caution",
        "warning",
        mixture(LIDOCAINE, sites=1, conditions=["maoi-or-tca-use"]),
    ),
    (
        "an obese patient with no height or sex, near a maximum only at a lower weight: give them",
        "S58, S59",
        mixture({**LIDOCAINE, "volume_per_site": "2.8 mL"}, sites=10, weight="150 kg", age="50 a"),  # 280 mg
        "dosing_weight_not_assessed",
        "warning",
        mixture({**LIDOCAINE, "volume_per_site": "2.8 mL"}, sites=10, weight="150 kg", age="50 a", height="170 cm"),
    ),
]


@pytest.mark.parametrize(
    ("source", "fires", "code", "severity", "quiet"),
    [c[1:] for c in PATIENT_CASES],
    ids=[c[0] for c in PATIENT_CASES],
)
def test_patient_rule_fires_and_stays_quiet(
    source: str, fires: dict[str, Any], code: str, severity: str, quiet: dict[str, Any]
) -> None:
    assert source
    assert severity in findings(fires).get(code, set()), (code, findings(fires))
    assert code not in findings(quiet) or severity not in findings(quiet)[code], (code, findings(quiet))


def test_a_child_with_no_weight_gets_no_number_and_no_fraction() -> None:
    """CLINICAL.md section 14: the adult cap is never a child's maximum."""
    answer = plan_mixture(patient(LIDOCAINE, TRIAMCINOLONE, BUPIVACAINE, age="3 mo"))
    components = {c.agent: c for c in answer.components}
    for agent_id in ("lidocaine", "bupivacaine"):
        assert components[agent_id].max_dose is None
        assert components[agent_id].fraction_of_max is None
        assert "no maximum can be stated" in (components[agent_id].max_dose_basis or "")
    assert components["triamcinolone-acetonide"].max_dose is not None  # a cap, not weight-based
    assert answer.local_anesthetic_fraction is None
    assert answer.steroid_fraction is not None
    (la,) = [g for g in answer.groups if g.id == "local-anesthetics"]
    assert la.fraction is None
    (required,) = [w for w in answer.warnings if w.code == "weight_required"]
    assert required.severity == "critical"
    assert set(required.agents) == {"lidocaine", "bupivacaine"}
    assert "weight" in required.message


def test_a_4_kg_patient_with_no_age_gets_the_infant_reduction() -> None:
    """4.5 mg/kg x 4 kg = 18 mg, x 0.7 = 12.6 mg [S14]; the age is asked for."""
    answer = plan_mixture(patient({**LIDOCAINE, "volume_per_site": "0.5 mL"}, weight="4 kg"))
    assert answer.components[0].max_dose is not None
    assert answer.components[0].max_dose.value == 12.6
    assert "presumed" in (answer.components[0].max_dose_basis or "")


def test_a_heavy_patient_with_no_age_is_not_presumed_an_infant() -> None:
    """70 kg is no infant's weight (CDC 2000): the infant reduction neither applies nor warns."""
    answer = plan_mixture(patient({**LIDOCAINE, "volume_per_site": "20 mL"}, sites=1, weight="70 kg"))
    assert answer.components[0].max_dose is not None
    assert answer.components[0].max_dose.value == 300
    codes = {w.code for w in answer.warnings}
    assert "infant_dose_presumed" not in codes
    assert "max_dose_restriction_not_assessed" not in codes


def test_ideal_weight_for_a_short_patient_falls_back_to_the_lowest_computable_weight() -> None:
    """Devine needs 152.4 cm; a 145 cm, 95 kg woman is dosed on lean body weight
    (Janmahasatian: 9270 x 95 / (8780 + 244 x 45.18) = 44.5 kg), never on total weight."""
    request = mixture(LIDOCAINE, weight="95 kg", height="145 cm", sex="female", age="50 a")
    default = plan_mixture(request)
    ideal = plan_mixture({**request, "dosing_weight": "ideal"})
    assert ideal.dosing_weight is not None
    assert default.dosing_weight is not None
    assert ideal.dosing_weight.basis == "lean"
    assert ideal.dosing_weight.value == 44.5
    assert ideal.dosing_weight.value <= default.dosing_weight.value
    assert "dosing_weight_fallback" in {w.code for w in ideal.warnings}


def test_ketorolac_contraindications_are_critical_and_the_compress_warning_stays() -> None:
    found = findings(ketorolac_with("bleeding-disorder", "anticoagulation", "pregnancy"))
    assert found["contraindicated"] == {"critical"}
    assert found["bleeding_risk"] == {"warning"}
    assert found["condition_caution"] == {"warning"}
    assert "critical" in findings(ketorolac_with("pregnancy", "labor"))["contraindicated"]


@pytest.mark.parametrize(
    ("fraction", "shown"),
    [("1.0029", "101 %"), ("0.1333", "14 %"), ("1", "100 %"), ("0.99999", "100 %"), ("0", "0 %"), ("12.5", "1,250 %")],
)
def test_a_percentage_shown_to_people_is_whole_and_rounded_up(fraction: str, shown: str) -> None:
    from decimal import Decimal

    from mixcalc.display import percent

    assert percent(Decimal(fraction)) == shown
