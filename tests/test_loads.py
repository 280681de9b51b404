"""Loads worked out from per-request rules (:class:`mixcalc.loads.LoadRules`): the same
loads as the old core's under either combination rule, and a load that cannot be stated
stays unstated."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from typing import Any

from hypothesis import given
from oracle_plan import plan_mixture as old_plan_mixture
from strategies import less_tidy_mixtures

from mixcalc.dosing import PatientMaxDose
from mixcalc.errors import MixcalcError
from mixcalc.formulary import Formulary, default_formulary, parse_formulary
from mixcalc.loads import EpinephrineCap, LoadRules
from mixcalc.plan import plan_mixture

BUNDLED_TEXT = (resources.files("mixcalc") / "_data" / "default.toml").read_text(encoding="utf-8")
MOST_TOXIC: Formulary = parse_formulary(
    BUNDLED_TEXT.replace('combination = "additive"', 'combination = "most_toxic"', 1), "most_toxic.toml"
)
CAP = EpinephrineCap(Decimal("0.2"), "default")


def _outcome(plan: Any, request: dict[str, Any], formulary: Formulary) -> tuple[str, str]:
    try:
        return "answer", plan(request, formulary).model_dump_json()
    except MixcalcError as error:
        return type(error).__name__, f"{getattr(error, 'pointer', '')}: {error}"


@given(less_tidy_mixtures())
def test_under_the_most_toxic_rule_the_plan_answers_as_the_old_core(request: dict[str, Any]) -> None:
    assert _outcome(plan_mixture, request, MOST_TOXIC) == _outcome(old_plan_mixture, request, MOST_TOXIC)


def _rules(rule: Any, bupivacaine_max: PatientMaxDose) -> LoadRules:
    agents = default_formulary().agents_by_id
    return LoadRules.of(
        [agents["lidocaine"], agents["triamcinolone-acetonide"], agents["bupivacaine"]],
        [PatientMaxDose(Decimal(300), "", ()), None, bupivacaine_max],
        [Decimal(0), Decimal(0), Decimal(35)],
        [True, True, False],
        groups=default_formulary().groups,
        rule=rule,
        cap=CAP,
    )


def test_a_group_sums_its_members_fractions_prior_doses_included() -> None:
    loads = _rules("additive", PatientMaxDose(Decimal(175), "", ())).load([Decimal(150), Decimal(40), Decimal(0)], None)
    assert loads.fractions() == {
        "lidocaine": Decimal("0.5"),
        "bupivacaine": Decimal("0.2"),
        "group:local-anesthetics": Decimal("0.7"),
    }
    assert [(g.group.id, g.agents, g.fraction) for g in loads.groups] == [
        ("local-anesthetics", ("lidocaine", "bupivacaine"), Decimal("0.7"))
    ]
    assert loads.within()


def test_under_the_most_toxic_rule_a_group_is_its_total_over_the_smallest_maximum() -> None:
    loads = _rules("most_toxic", PatientMaxDose(Decimal(175), "", ())).load(
        [Decimal(150), Decimal(40), Decimal(0)], Decimal("0.25")
    )
    assert loads.fractions()["group:local-anesthetics"] == Decimal(185) / Decimal(175)
    assert loads.fractions()["epinephrine"] == Decimal("1.25")
    assert not loads.within()


def test_a_group_with_a_maximum_that_cannot_be_stated_has_no_load() -> None:
    loads = _rules("additive", PatientMaxDose(None, "a child without a weight", ())).load(
        [Decimal(150), Decimal(40), Decimal(0)], None
    )
    assert loads.fractions()["bupivacaine"] is None
    assert loads.fractions()["group:local-anesthetics"] is None
    assert not loads.within()
