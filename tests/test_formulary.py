"""The bundled formulary: what it holds, that its numbers match CLINICAL.md and carry
their basis and sources, and that a broken formulary file stops start-up with a
:class:`FormularyError` naming the file, the key and the problem.

Broken variants are made from the text of the bundled file by one string replacement
each, so every test shows the one thing it breaks.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from mixcalc.errors import FormularyError
from mixcalc.formulary import Agent, Basis, DoseRule, Formulary, load_formulary, parse_formulary
from mixcalc.units import KG, MG, MG_PER_KG, MG_PER_ML, ML, YEAR

TEXT = (resources.files("mixcalc") / "_data" / "default.toml").read_text(encoding="utf-8")
BROKEN = "broken.toml"

AGENT_IDS = {
    "lidocaine",
    "bupivacaine",
    "ropivacaine",
    "mepivacaine",
    "chloroprocaine",
    "levobupivacaine",
    "triamcinolone-acetonide",
    "methylprednisolone-acetate",
    "dexamethasone-sodium-phosphate",
    "betamethasone",
    "ketorolac",
    "sodium-chloride",
}


@pytest.fixture(scope="module")
def bundled() -> Formulary:
    return parse_formulary(TEXT, "default.toml")


def agent(formulary: Formulary, agent_id: str) -> Agent:
    return formulary.agents_by_id[agent_id]


def index_of(agent_id: str) -> int:
    """Where the agent sits in the bundled file's [[agents]] list."""
    ids = [a["id"] for a in tomllib.loads(TEXT)["agents"]]
    return ids.index(agent_id)


def rule(formulary: Formulary, agent_id: str, kind: str = "plain") -> DoseRule:
    max_dose = agent(formulary, agent_id).max_dose
    assert max_dose is not None
    found = getattr(max_dose, kind)
    assert found is not None, f"{agent_id} has no {kind} rule"
    return found


def cap_mg(formulary: Formulary, agent_id: str, kind: str = "plain") -> Decimal:
    return rule(formulary, agent_id, kind).cap.value.in_(MG)


def per_kg(formulary: Formulary, agent_id: str, kind: str = "plain") -> Decimal | None:
    found = rule(formulary, agent_id, kind).per_kg
    return None if found is None else found.value.in_(MG_PER_KG)


def percent(*values: str) -> set[Decimal]:
    """Stock strengths written in % as mg/mL (1 % = 10 mg/mL)."""
    return {Decimal(v) * 10 for v in values}


# --- what the bundled formulary holds ----------------------------------------------------


def test_bundled_formulary_loads_through_the_package_resources() -> None:
    formulary = load_formulary()
    assert {a.id for a in formulary.agents} == AGENT_IDS


def test_bundled_formulary_holds_exactly_the_twelve_agents(bundled: Formulary) -> None:
    ids = [a.id for a in bundled.agents]
    assert len(ids) == len(set(ids)) == 12
    assert set(ids) == AGENT_IDS


@pytest.mark.parametrize(
    ("agent_id", "strengths_mg_per_ml"),
    [
        ("lidocaine", percent("0.5", "1", "1.5", "2")),
        ("bupivacaine", percent("0.25", "0.5", "0.75")),
        ("ropivacaine", percent("0.2", "0.5", "0.75", "1")),
        ("mepivacaine", percent("1", "1.5", "2")),
        ("chloroprocaine", percent("1", "2", "3")),
        ("levobupivacaine", percent("0.25", "0.5", "0.75")),
        ("triamcinolone-acetonide", {Decimal(10), Decimal(40)}),
        ("methylprednisolone-acetate", {Decimal(20), Decimal(40), Decimal(80)}),
        ("dexamethasone-sodium-phosphate", {Decimal(4), Decimal(10)}),
        ("betamethasone", {Decimal(6)}),
        ("ketorolac", {Decimal(15), Decimal(30)}),
        ("sodium-chloride", {Decimal(9)}),
    ],
)
def test_stocked_strengths_are_those_of_clinical_md(
    bundled: Formulary, agent_id: str, strengths_mg_per_ml: set[Decimal]
) -> None:
    assert agent(bundled, agent_id).strengths_mg_per_ml == strengths_mg_per_ml


@pytest.mark.parametrize(
    ("agent_id", "plain", "with_epinephrine"),
    [
        # agent, (mg/kg, cap mg) plain, (mg/kg, cap mg) with epinephrine: CLINICAL.md section 2
        ("lidocaine", ("4.5", "300"), ("7", "500")),
        ("bupivacaine", ("2.5", "175"), ("3", "225")),
        ("ropivacaine", ("3", "200"), None),
        ("mepivacaine", ("7", "400"), None),
        ("chloroprocaine", ("11", "800"), ("14", "1000")),
        ("levobupivacaine", ("2", "150"), ("3", "225")),
    ],
)
def test_local_anesthetic_maxima_match_clinical_md(
    bundled: Formulary,
    agent_id: str,
    plain: tuple[str, str],
    with_epinephrine: tuple[str, str] | None,
) -> None:
    assert (per_kg(bundled, agent_id), cap_mg(bundled, agent_id)) == (Decimal(plain[0]), Decimal(plain[1]))
    max_dose = agent(bundled, agent_id).max_dose
    assert max_dose is not None
    if with_epinephrine is None:
        assert max_dose.epinephrine is None
        assert agent(bundled, agent_id).epinephrine_products == ()
    else:
        assert (per_kg(bundled, agent_id, "epinephrine"), cap_mg(bundled, agent_id, "epinephrine")) == (
            Decimal(with_epinephrine[0]),
            Decimal(with_epinephrine[1]),
        )


def test_lidocaine_is_4_5_mg_per_kg_capped_at_300_mg_and_7_mg_per_kg_capped_at_500_mg_with_epinephrine(
    bundled: Formulary,
) -> None:
    assert per_kg(bundled, "lidocaine") == Decimal("4.5")
    assert cap_mg(bundled, "lidocaine") == 300
    assert per_kg(bundled, "lidocaine", "epinephrine") == 7
    assert cap_mg(bundled, "lidocaine", "epinephrine") == 500
    assert rule(bundled, "lidocaine").cap.basis is Basis.LABEL


def test_bupivacaine_cap_is_175_mg_from_the_label_and_its_mg_per_kg_from_references(bundled: Formulary) -> None:
    assert cap_mg(bundled, "bupivacaine") == 175
    assert rule(bundled, "bupivacaine").cap.basis is Basis.LABEL
    per_kg_limit = rule(bundled, "bupivacaine").per_kg
    assert per_kg_limit is not None
    assert per_kg_limit.basis is Basis.REFERENCE


def test_ropivacaine_is_3_mg_per_kg_capped_at_200_mg_with_no_epinephrine_product(bundled: Formulary) -> None:
    assert per_kg(bundled, "ropivacaine") == 3
    assert cap_mg(bundled, "ropivacaine") == 200
    assert agent(bundled, "ropivacaine").epinephrine_products == ()


def test_lidocaine_epinephrine_products_are_those_of_the_labels(bundled: Formulary) -> None:
    products = {
        (strength.in_(MG_PER_ML), product.epinephrine.in_(MG_PER_ML))
        for product in agent(bundled, "lidocaine").epinephrine_products
        for strength in product.strengths
    }
    one_to_200000, one_to_100000 = Decimal("0.005"), Decimal("0.01")
    assert products == {
        (Decimal(5), one_to_200000),
        (Decimal(10), one_to_100000),
        (Decimal(20), one_to_100000),
        (Decimal(10), one_to_200000),
        (Decimal(15), one_to_200000),
        (Decimal(20), one_to_200000),
    }


@pytest.mark.parametrize(
    ("agent_id", "cap"),
    [
        ("triamcinolone-acetonide", "80"),
        ("methylprednisolone-acetate", "80"),
        ("dexamethasone-sodium-phosphate", "15"),
        ("betamethasone", "12"),
    ],
)
def test_steroid_session_caps_are_80_mg_triamcinolone_equivalent_by_policy(
    bundled: Formulary, agent_id: str, cap: str
) -> None:
    assert cap_mg(bundled, agent_id) == Decimal(cap)
    assert rule(bundled, agent_id).cap.basis is Basis.POLICY
    assert agent(bundled, agent_id).group == "corticosteroids"


def test_ketorolac_is_60_mg_or_30_mg_at_65_under_50_kg_or_with_renal_impairment(bundled: Formulary) -> None:
    assert cap_mg(bundled, "ketorolac") == 60
    max_dose = agent(bundled, "ketorolac").max_dose
    assert max_dose is not None
    lowered = {
        (
            None if r.age_at_least is None else r.age_at_least.in_(YEAR),
            None if r.weight_below is None else r.weight_below.in_(MG) / 1_000_000,
            None if r.condition is None else r.condition.value,
            r.cap.in_(MG) if r.cap is not None else None,
        )
        for r in max_dose.restrictions
    }
    assert lowered == {
        (Decimal(65), None, None, Decimal(30)),
        (None, Decimal(50), None, Decimal(30)),
        (None, None, "renal-impairment", Decimal(30)),
    }


def test_amide_maxima_are_reduced_by_30_percent_for_infants_under_6_months(bundled: Formulary) -> None:
    for agent_id in ("lidocaine", "bupivacaine", "ropivacaine", "mepivacaine", "levobupivacaine"):
        max_dose = agent(bundled, agent_id).max_dose
        assert max_dose is not None
        factors = [(r.factor, r.age_below.in_(YEAR) * 12) for r in max_dose.restrictions if r.factor is not None]
        assert factors == [(Decimal("0.7"), Decimal(6))], agent_id


def test_epinephrine_is_capped_at_0_2_mg_per_visit_and_0_04_mg_with_cardiovascular_disease(bundled: Formulary) -> None:
    """Heart failure is a cardiovascular disease: the same cap (CLINICAL.md section 7) [S67]."""
    assert bundled.epinephrine.cap.in_(MG) == Decimal("0.2")
    caps = {
        (r.condition.value if r.condition else None): (r.cap.in_(MG) if r.cap else None, r.source)
        for r in bundled.epinephrine.restrictions
    }
    assert caps == {
        "cardiovascular-disease": (Decimal("0.04"), ("S67",)),
        "heart-failure": (Decimal("0.04"), ("S67",)),
    }


def test_syringes_have_the_graduations_and_dead_spaces_of_clinical_md(bundled: Formulary) -> None:
    table = {
        s.capacity.in_(ML): (s.graduation.in_(ML), s.dead_space.in_(ML))
        for s in bundled.syringes  # capacity: (graduation, dead space), CLINICAL.md section 11
    }
    assert table == {
        Decimal(1): (Decimal("0.01"), Decimal("0.07")),
        Decimal(3): (Decimal("0.1"), Decimal("0.07")),
        Decimal(5): (Decimal("0.2"), Decimal("0.075")),
        Decimal(10): (Decimal("0.2"), Decimal("0.1")),
        Decimal(12): (Decimal("0.2"), Decimal("0.1")),
        Decimal(20): (Decimal(1), Decimal("0.15")),
    }


def test_every_syringe_graduation_divides_its_capacity(bundled: Formulary) -> None:
    for syringe in bundled.syringes:
        assert syringe.capacity.in_(ML) % syringe.graduation.in_(ML) == 0


def test_local_anesthetics_and_steroids_each_add_up_in_their_own_group(bundled: Formulary) -> None:
    groups = {a.id: a.group for a in bundled.agents}
    assert {a for a, g in groups.items() if g == "local-anesthetics"} == {
        "lidocaine",
        "bupivacaine",
        "ropivacaine",
        "mepivacaine",
        "chloroprocaine",
        "levobupivacaine",
    }
    assert {a for a, g in groups.items() if g == "corticosteroids"} == {
        "triamcinolone-acetonide",
        "methylprednisolone-acetate",
        "dexamethasone-sodium-phosphate",
        "betamethasone",
    }
    assert groups["sodium-chloride"] is None
    assert agent(bundled, "sodium-chloride").max_dose is None


# --- every number has a basis and a source ------------------------------------------------


def dose_limits(formulary: Formulary) -> Iterator[tuple[str, Any]]:
    """Every cited dose limit: per-kg and cap parts of each rule, and each restriction."""
    for a in formulary.agents:
        if a.max_dose is None:
            continue
        for kind in ("plain", "epinephrine"):
            found: DoseRule | None = getattr(a.max_dose, kind)
            if found is None:
                continue
            yield f"{a.id} {kind} cap", found.cap
            if found.per_kg is not None:
                yield f"{a.id} {kind} per_kg", found.per_kg
        for restriction in a.max_dose.restrictions:
            yield f"{a.id} restriction {restriction.reason}", restriction
    yield "epinephrine cap", formulary.epinephrine
    for restriction in formulary.epinephrine.restrictions:
        yield f"epinephrine restriction {restriction.reason}", restriction
    for group in formulary.groups:
        yield f"group {group.id}", group


def test_every_dose_limit_has_a_basis_and_at_least_one_source(bundled: Formulary) -> None:
    limits = list(dose_limits(bundled))
    assert len(limits) > 20
    for where, cited in limits:
        assert isinstance(cited.basis, Basis), where
        assert cited.source, where
        assert all(s in bundled.sources for s in cited.source), where


def sources_cited(node: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every (location, source id) in the raw TOML data."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "source":
                for source in [value] if isinstance(value, str) else value:
                    yield where, source
            elif where or key != "sources":
                yield from sources_cited(value, f"{where}.{key}" if where else key)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from sources_cited(item, f"{where}[{i}]")


def test_every_source_id_cited_anywhere_in_the_file_resolves() -> None:
    data = tomllib.loads(TEXT)
    cited = list(sources_cited(data))
    assert len(cited) > 50
    unknown = [(where, source) for where, source in cited if source not in data["sources"]]
    assert unknown == []
    assert all(entry["citation"].strip() for entry in data["sources"].values())


def test_every_basis_in_the_file_is_label_reference_or_policy() -> None:
    def bases(node: object) -> Iterator[object]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "basis":
                    yield value
                else:
                    yield from bases(value)
        elif isinstance(node, list):
            for item in node:
                yield from bases(item)

    found = list(bases(tomllib.loads(TEXT)))
    assert found
    assert set(found) <= {"label", "reference", "policy"}


def test_every_syringe_and_epinephrine_product_carries_a_basis_as_well_as_a_source() -> None:
    """CLINICAL.md: every number that goes into the formulary file carries its source and a
    basis (label, reference or policy); syringe graduations and dead spaces and the
    epinephrine content of products are such numbers."""
    data = tomllib.loads(TEXT)
    missing = [f"syringes[{i}]" for i, s in enumerate(data["syringes"]) if "basis" not in s or "source" not in s]
    for a in data["agents"]:
        for j, product in enumerate(a.get("epinephrine_products", [])):
            if "basis" not in product or "source" not in product:
                missing.append(f"agents[{a['id']}].epinephrine_products[{j}]")
    assert missing == []


# --- a broken formulary stops start-up ----------------------------------------------------


def broken(old: str, new: str, *, text: str = TEXT) -> str:
    """The bundled text with the first ``old`` replaced by ``new``."""
    assert old in text, f"the bundled formulary no longer contains {old!r}: update this test"
    return text.replace(old, new, 1)


def rejected(text: str) -> FormularyError:
    with pytest.raises(FormularyError) as caught:
        parse_formulary(text, BROKEN)
    error = caught.value
    assert error.path == BROKEN
    assert str(error).startswith(f"{BROKEN}: ")
    assert error.problem in str(error)
    return error


LIDOCAINE = f"agents[{index_of('lidocaine')}:lidocaine]"
LIDOCAINE_PLAIN_CAP = '{ value = "300 mg", basis = "label", source = ["S1", "S2"] }'
#: The text of the first [[syringes]] table (the 1 mL syringe), up to the next table.
FIRST_SYRINGE = TEXT[TEXT.index("[[syringes]]") : TEXT.index("[[syringes]]", TEXT.index("[[syringes]]") + 1)]


def test_the_bundled_text_is_accepted_as_is() -> None:
    assert {a.id for a in parse_formulary(TEXT, BROKEN).agents} == AGENT_IDS


def test_an_unknown_key_is_rejected() -> None:
    error = rejected(broken('id = "lidocaine"\n', 'id = "lidocaine"\ncolour = "blue"\n'))
    assert error.key == f"{LIDOCAINE}.colour"
    assert error.problem == "unknown key"


def test_an_unknown_top_level_key_is_rejected() -> None:
    error = rejected(broken('version = "', 'edition = "2"\nversion = "'))
    assert error.key == "edition"
    assert error.problem == "unknown key"


def test_a_dose_limit_without_a_source_is_rejected() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, '{ value = "300 mg", basis = "label" }'))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.cap.source"
    assert "required" in error.problem.lower()


def test_a_dose_limit_without_a_basis_is_rejected() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, '{ value = "300 mg", source = ["S1", "S2"] }'))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.cap.basis"
    assert "required" in error.problem.lower()


def test_a_basis_other_than_label_reference_or_policy_is_rejected() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, '{ value = "300 mg", basis = "hearsay", source = ["S1", "S2"] }'))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.cap.basis"
    assert "label" in error.problem
    assert "reference" in error.problem


def test_a_dose_limit_with_an_empty_source_list_is_rejected() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, '{ value = "300 mg", basis = "label", source = [] }'))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.cap.source"


def test_a_syringe_without_a_source_is_rejected() -> None:
    assert 'source = "S71"\n' in FIRST_SYRINGE
    error = rejected(broken(FIRST_SYRINGE, FIRST_SYRINGE.replace('source = "S71"\n', "")))
    assert error.key == "syringes[0].source"
    assert "required" in error.problem.lower()


def test_an_unknown_source_id_is_rejected_naming_where_it_is_cited() -> None:
    assert '"S71"' in FIRST_SYRINGE
    error = rejected(broken(FIRST_SYRINGE, FIRST_SYRINGE.replace('"S71"', '"S999"')))
    assert "'S999'" in error.problem
    assert error.key.startswith("syringes[0]"), error.key


def test_an_unknown_source_id_in_a_dose_limit_is_rejected_naming_the_limit() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, '{ value = "300 mg", basis = "label", source = ["S1", "S99"] }'))
    assert "'S99'" in error.problem
    assert error.key.startswith(f"{LIDOCAINE}.max_dose.plain.cap"), error.key


def test_a_source_with_an_empty_citation_is_rejected() -> None:
    error = rejected(broken('S71 = { citation = "', 'S71 = { citation = "", old = "'))
    assert error.key.startswith("sources.S71")


def test_a_negative_cap_is_rejected() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, LIDOCAINE_PLAIN_CAP.replace('"300 mg"', '"-300 mg"')))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.cap.value"
    assert "must be greater than zero" in error.problem
    assert "-300 mg" in error.problem


def test_a_zero_cap_is_rejected() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, LIDOCAINE_PLAIN_CAP.replace('"300 mg"', '"0 mg"')))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.cap.value"
    assert "must be greater than zero" in error.problem


def test_a_cap_in_the_wrong_dimension_is_rejected() -> None:
    error = rejected(broken(LIDOCAINE_PLAIN_CAP, LIDOCAINE_PLAIN_CAP.replace('"300 mg"', '"300 mL"')))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.cap.value"
    assert "mL is a volume; expected a mass" in error.problem


def test_a_per_kg_limit_written_as_a_plain_mass_is_rejected() -> None:
    error = rejected(broken('value = "4.5 mg/kg"', 'value = "4.5 mg"'))
    assert error.key == f"{LIDOCAINE}.max_dose.plain.per_kg.value"
    assert "expected a mass per body mass" in error.problem


def test_a_negative_epinephrine_cap_is_rejected() -> None:
    error = rejected(broken('cap = "0.2 mg"', 'cap = "-0.2 mg"'))
    assert error.key == "epinephrine.cap"
    assert "must be greater than zero" in error.problem


def test_a_strength_in_cc_is_rejected() -> None:
    error = rejected(broken('strengths = ["10 mg/mL", "40 mg/mL"]', 'strengths = ["10 mg/mL", "40 mg/cc"]'))
    assert error.key.startswith(f"agents[{index_of('triamcinolone-acetonide')}:triamcinolone-acetonide].strengths")
    assert "mg/cc" in error.problem


def test_an_agent_naming_an_unknown_group_is_rejected() -> None:
    error = rejected(broken('group = "local-anesthetics"', 'group = "local-anaesthetics"'))
    assert "'local-anaesthetics'" in error.problem
    assert error.key.startswith(LIDOCAINE), error.key


def test_a_duplicate_agent_id_is_rejected_at_the_second_occurrence() -> None:
    error = rejected(broken('id = "bupivacaine"', 'id = "lidocaine"'))
    assert "duplicate" in error.problem
    assert "lidocaine" in error.problem
    assert error.key.startswith(f"agents[{index_of('bupivacaine')}:lidocaine]"), error.key


def test_a_duplicate_group_id_is_rejected() -> None:
    first_group = TEXT[TEXT.index("[[groups]]") : TEXT.index("[[groups]]", TEXT.index("[[groups]]") + 1)]
    assert 'id = "local-anesthetics"' in first_group
    error = rejected(broken(first_group, first_group + first_group))
    assert "duplicate" in error.problem
    assert "local-anesthetics" in error.problem
    assert error.key.startswith("groups[1:local-anesthetics]"), error.key


def test_an_epinephrine_product_strength_not_stocked_for_the_agent_is_rejected() -> None:
    error = rejected(
        broken(
            '{ strengths = ["0.5 %"], epinephrine = "1:200000"', '{ strengths = ["0.75 %"], epinephrine = "1:200000"'
        )
    )
    assert "not among the agent's strengths" in error.problem
    assert "7.5" in error.problem or "0.75" in error.problem
    assert error.key.startswith(LIDOCAINE), error.key


def test_an_agent_with_epinephrine_products_but_no_with_epinephrine_maximum_is_rejected() -> None:
    line = next(
        line for line in TEXT.splitlines() if line.startswith('max_dose.epinephrine = { per_kg = { value = "7 mg/kg"')
    )
    error = rejected(broken(line + "\n", ""))
    assert "max_dose.epinephrine" in error.problem
    assert error.key.startswith(LIDOCAINE), error.key


def test_a_local_anesthetic_without_a_family_is_rejected() -> None:
    error = rejected(broken('family = "amide"\n', ""))
    assert "family" in error.problem
    assert error.key.startswith(LIDOCAINE), error.key


def test_a_restriction_with_both_a_cap_and_a_factor_is_rejected() -> None:
    error = rejected(broken('cap = "30 mg", basis = "label"', 'cap = "30 mg", factor = "0.5", basis = "label"'))
    assert "exactly one of cap, factor and weight_required" in error.problem
    assert error.key.startswith(f"agents[{index_of('ketorolac')}:ketorolac].max_dose.restrictions[0]"), error.key


def test_a_graduation_that_does_not_divide_the_capacity_is_rejected() -> None:
    error = rejected(broken('capacity = "3 mL"\ngraduation = "0.1 mL"', 'capacity = "3 mL"\ngraduation = "0.7 mL"'))
    assert "does not divide" in error.problem
    assert error.key.startswith("syringes[1]"), error.key


def test_a_graduation_larger_than_the_capacity_is_rejected() -> None:
    error = rejected(broken('capacity = "1 mL"\ngraduation = "0.01 mL"', 'capacity = "1 mL"\ngraduation = "2 mL"'))
    assert "does not divide" in error.problem
    assert error.key.startswith("syringes[0]"), error.key


def test_two_syringes_of_the_same_capacity_are_rejected() -> None:
    error = rejected(broken('capacity = "12 mL"', 'capacity = "10 mL"'))
    assert "same capacity" in error.problem
    assert error.key.startswith("syringes["), error.key


def test_a_default_syringe_that_is_not_listed_is_rejected() -> None:
    error = rejected(broken('default_syringe = "10 mL"', 'default_syringe = "7 mL"'))
    assert "not a listed syringe" in error.problem
    assert error.key == "policy.default_syringe"


def test_a_near_limit_threshold_above_one_is_rejected() -> None:
    error = rejected(broken('near_limit_threshold = "0.8"', 'near_limit_threshold = "1.5"'))
    assert error.key == "policy.near_limit_threshold"


def test_an_incompatibility_naming_an_unknown_agent_is_rejected() -> None:
    error = rejected(broken('agents = ["ropivacaine", "betamethasone"]', 'agents = ["ropivacaine", "betametasone"]'))
    assert "'betametasone'" in error.problem
    assert error.key.startswith("incompatibilities[0]"), error.key


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('name = "mixcalc default TPI formulary"', 'name = "mixcalc default TPI formulary'),
        ("[policy]", "[policy"),
        ('default_syringe = "10 mL"', "default_syringe = 10 mL"),
        ('near_limit_threshold = "0.8"', 'near_limit_threshold = "0.8"\nnear_limit_threshold = "0.9"'),
    ],
)
def test_invalid_toml_is_rejected_as_such(old: str, new: str) -> None:
    error = rejected(broken(old, new))
    assert error.key == ""
    assert error.problem.startswith("not valid TOML")


def test_several_problems_are_counted_in_the_message() -> None:
    text = broken('id = "lidocaine"\n', 'id = "lidocaine"\ncolour = "blue"\n')
    text = broken('id = "bupivacaine"\n', 'id = "bupivacaine"\nflavour = "mint"\n', text=text)
    error = rejected(text)
    assert "and 1 more problem" in error.problem


def test_a_formulary_file_is_loaded_from_a_path_and_errors_name_that_path(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(TEXT, encoding="utf-8")
    assert {a.id for a in load_formulary(good).agents} == AGENT_IDS

    bad = tmp_path / "bad.toml"
    bad.write_text(broken('default_syringe = "10 mL"', 'default_syringe = "7 mL"'), encoding="utf-8")
    with pytest.raises(FormularyError) as caught:
        load_formulary(bad)
    assert caught.value.path == str(bad)


def test_a_missing_formulary_file_is_a_formulary_error_not_an_os_error(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(FormularyError) as caught:
        load_formulary(missing)
    assert caught.value.path == str(missing)
    assert "cannot be read" in caught.value.problem


def test_the_environment_variable_selects_another_formulary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.toml"
    other.write_text(broken('version = "', 'version = "test-'), encoding="utf-8")
    monkeypatch.setenv("MIXCALC_FORMULARY", str(other))
    assert load_formulary().version.startswith("test-")


# --- an implausible formulary stops start-up unless the number is a marked override ---------

LIDOCAINE_CAP = 'cap = { value = "300 mg", basis = "label", source = ["S1", "S2"] }'


def loaded(tmp_path: Path, text: str) -> Formulary:
    file = tmp_path / "institution.toml"
    file.write_text(text, encoding="utf-8")
    return load_formulary(file)


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("3001 mg", "3,001 mg is 10.003 times"),
        ("29.9 mg", "29.9 mg is 1/10.033 of"),
        ("3.5 g", "3,500 mg is 11.667 times"),
    ],
)
def test_a_cap_more_than_tenfold_from_the_bundled_one_stops_start_up_naming_file_key_and_value(
    tmp_path: Path, value: str, said: str
) -> None:
    text = broken(LIDOCAINE_CAP, LIDOCAINE_CAP.replace('"300 mg"', f'"{value}"'))
    with pytest.raises(FormularyError) as caught:
        loaded(tmp_path, text)
    error = caught.value
    assert error.path == str(tmp_path / "institution.toml")
    assert error.key == f"agents[{index_of('lidocaine')}:lidocaine].max_dose.plain.cap"
    assert f"{said} the bundled formulary's 300 mg" in error.problem
    assert "override" in error.problem


@pytest.mark.parametrize("value", ["3000 mg", "30 mg", "450 mg"])
def test_a_cap_within_tenfold_of_the_bundled_one_is_accepted(tmp_path: Path, value: str) -> None:
    text = broken(LIDOCAINE_CAP, LIDOCAINE_CAP.replace('"300 mg"', f'"{value}"'))
    assert cap_mg(loaded(tmp_path, text), "lidocaine") == Decimal(value.split()[0])


def test_a_marked_override_with_its_reason_is_accepted(tmp_path: Path) -> None:
    text = broken(
        LIDOCAINE_CAP,
        LIDOCAINE_CAP.replace('"300 mg"', '"3500 mg"').replace(
            "basis =", 'override = "test rig: deliberately high", basis ='
        ),
    )
    assert cap_mg(loaded(tmp_path, text), "lidocaine") == Decimal(3500)


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('value = "4.5 mg/kg"', 'value = "45.5 mg/kg"', "agents[0:lidocaine].max_dose.plain.per_kg"),
        ('cap = "0.2 mg"', 'cap = "2.5 mg"', "epinephrine.cap"),
        ('cap = "0.04 mg"', 'cap = "0.0039 mg"', "epinephrine.restrictions[0].cap"),
        ('age_at_least = "65 a", cap = "30 mg"', 'age_at_least = "65 a", cap = "2.9 mg"', "ketorolac"),
    ],
)
def test_every_dose_limit_is_guarded(tmp_path: Path, old: str, new: str, key: str) -> None:
    with pytest.raises(FormularyError) as caught:
        loaded(tmp_path, broken(old, new))
    assert caught.value.key == key or caught.value.key.startswith(
        f"agents[{index_of(key)}:{key}].max_dose.restrictions"
    )


def test_the_plausibility_guard_is_not_applied_to_the_bundled_text_itself() -> None:
    """parse_formulary without a reference (the bundled file, test variants) only validates."""
    text = broken(LIDOCAINE_CAP, LIDOCAINE_CAP.replace('"300 mg"', '"3001 mg"'))
    assert cap_mg(parse_formulary(text, BROKEN), "lidocaine") == Decimal(3001)


# --- the patient-side data -----------------------------------------------------------------------


def test_every_weight_based_local_anesthetic_needs_a_weight_for_a_child(bundled: Formulary) -> None:
    for a in bundled.agents:
        if a.max_dose is None or a.max_dose.plain is None or a.max_dose.plain.per_kg is None:
            assert a.max_dose is None or not any(r.weight_required for r in a.max_dose.restrictions), a.id
            continue
        (required,) = [r for r in a.max_dose.restrictions if r.weight_required]
        assert required.age_below is not None
        assert required.age_below.in_(YEAR) == 18, a.id
        assert "C14" in required.source


def test_the_infant_presumption_is_a_policy_of_10_kg(bundled: Formulary) -> None:
    for a in bundled.agents:
        for r in a.max_dose.restrictions if a.max_dose else ():
            if r.presumed is not None:
                assert r.presumed.weight_below.in_(KG) == 10
                assert r.presumed.basis is Basis.POLICY


def test_growth_cut_offs_are_the_cdc_biv_ones(bundled: Formulary) -> None:
    assert (bundled.growth.modified_z_below, bundled.growth.modified_z_above) == (Decimal(-5), Decimal(8))
    assert bundled.growth.until_age.in_(YEAR) == 20
    assert set(bundled.growth.source) == {"S75", "S76"}


def test_ketorolac_label_contraindications_are_critical_conditions(bundled: Formulary) -> None:
    critical = {
        r.condition.value for r in bundled.conditions if r.severity == "critical" and "ketorolac" in r.concerns.agents
    }
    assert critical == {
        "bleeding-disorder",
        "anticoagulation",
        "advanced-renal-impairment",
        "labor",
        "peptic-ulcer",
        "nsaid-allergy",
        "nsaid-use",
    }


def test_phenol_flocculates_like_parabens(tmp_path: Path) -> None:
    """The preservative list is data: a product recorded as phenol-preserved is judged
    like a paraben-preserved one (no bundled product is: no cited source names one)."""
    from mixcalc import plan_mixture

    assert parse_formulary(TEXT, "default.toml").mixing.flocculating_preservatives == ("paraben", "phenol")
    text = broken(
        '{ id = "multi-dose", contains = ["paraben"], source = ["S2", "S34"] }',
        '{ id = "multi-dose", contains = ["phenol"], source = ["S2", "S34"] }',
    )
    formulary = parse_formulary(text, "phenol.toml")
    request = {
        "sites": 1,
        "components": [
            {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "1 mL", "form": "multi-dose"},
            {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "volume_per_site": "0.25 mL"},
        ],
    }
    found = {(w.code, w.severity) for w in plan_mixture(request, formulary).warnings}
    assert ("preservative_flocculation", "warning") in found
    request["components"][0]["form"] = "preservative-free"
    found = {(w.code, w.severity) for w in plan_mixture(request, formulary).warnings}
    assert not any(code == "preservative_flocculation" for code, _ in found)


# --- the sources of the checks are formulary data ([rule_sources]) ---------------------------


def test_the_checks_cite_the_rule_sources_of_the_formulary(bundled: Formulary) -> None:
    assert bundled.rule_sources.volume_rounded == ("S71",)
    assert bundled.rule_sources.off_label_mixture == ("S3", "S5")


def test_a_rule_source_the_formulary_lacks_stops_start_up() -> None:
    error = rejected(broken('volume_rounded = ["S71"]', 'volume_rounded = ["S710"]'))
    assert error.key == "rule_sources.volume_rounded.source"
    assert error.problem == "unknown source 'S710'"


def test_a_formulary_without_the_source_of_a_rule_stops_start_up() -> None:
    error = rejected(broken('off_label_mixture = ["S3", "S5"]\n', ""))
    assert error.key == "rule_sources.off_label_mixture"
    assert "required" in error.problem.lower()


def test_a_rule_source_of_a_warning_code_the_checks_do_not_raise_is_rejected() -> None:
    error = rejected(broken('volume_rounded = ["S71"]', 'volume_rounded = ["S71"]\nvolume_rounding = ["S71"]'))
    assert error.key == "rule_sources.volume_rounding"
    assert error.problem == "unknown key"
