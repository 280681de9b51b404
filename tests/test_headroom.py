"""The largest volume per site that breaks no limit (``max_volume_per_site``) and each
agent's volume at its maximum alone (``components[].max_volume``)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from hypothesis import example, given
from strategies import component_volume_per_site, computable_plan, decimal_text, magnitude, mixtures

from mixcalc import MixtureResponse, plan_mixture
from mixcalc.errors import PlanError
from mixcalc.headroom import STEP, Load, candidate, step_down

TENTH = Decimal("0.1")


def lido_bupi(volume: str = "1 mL", sites: int = 6, weight: str = "60 kg", **extra: Any) -> dict[str, Any]:
    return {
        "sites": sites,
        "components": [
            {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": volume},
            {"agent": "bupivacaine", "concentration": "0.25 %", "volume_per_site": volume},
        ],
        "patient": {"weight": weight},
        **extra,
    }


def scaled(request: Mapping[str, Any], volume: Decimal, rounding: str = ROUND_FLOOR) -> dict[str, Any]:
    """The request with ``volume`` per site, every component scaled alike (a dose as a
    dose) and rounded to 4 places (down unless told), written independently of the
    planner's own scaling."""
    asked = sum((component_volume_per_site(c) for c in request["components"]), Decimal(0))
    factor = volume / asked
    components = []
    for component in request["components"]:
        new = dict(component)
        for key, unit in (("volume_per_site", "mL"), ("dose_per_site", "mg")):
            if key in component:
                value = (magnitude(component[key]) * factor).quantize(Decimal("0.0001"), rounding=rounding)
                new[key] = f"{decimal_text(value)} {unit}"
        components.append(new)
    return {**request, "components": components}


def over_limit(answer: MixtureResponse) -> bool:
    return any(w.severity == "critical" and w.code.endswith("_exceeded") for w in answer.warnings)


# --- the search itself ----------------------------------------------------------------------


def test_candidate_is_the_tightest_load_rounded_down_to_a_step() -> None:
    # 2 mL per site: one load reaches 1 at s = 3.103, the other at s = 10.
    loads = [Load(Decimal(0), Decimal("0.3223")), Load(Decimal(0), Decimal("0.1"))]
    assert candidate(Decimal(2), loads, ceiling=Decimal(20)) == Decimal("6.2")


def test_candidate_counts_doses_given_earlier_today() -> None:
    # Half the maximum already given: only half the room is left.
    assert candidate(Decimal(1), [Load(Decimal("0.5"), Decimal("0.25"))], ceiling=Decimal(20)) == Decimal(2)


def test_candidate_is_none_without_a_load_that_grows_with_the_volume() -> None:
    assert candidate(Decimal(1), [Load(Decimal("0.3"), Decimal(0))], ceiling=Decimal(20)) is None
    assert candidate(Decimal(1), [], ceiling=Decimal(20)) is None


def test_candidate_is_none_when_earlier_doses_already_reach_the_maximum() -> None:
    assert candidate(Decimal(1), [Load(Decimal("1.2"), Decimal("0.1"))], ceiling=Decimal(20)) is None


def test_candidate_stops_at_the_ceiling() -> None:
    assert candidate(Decimal(1), [Load(Decimal(0), Decimal("0.01"))], ceiling=Decimal(20)) == Decimal(20)


def test_step_down_returns_the_first_volume_that_fits_with_its_result() -> None:
    tried: list[Decimal] = []

    def fits(volume: Decimal) -> str | None:
        tried.append(volume)
        return "ok" if volume <= Decimal("5.8") else None

    assert step_down(Decimal("6.1"), fits) == (Decimal("5.8"), "ok")
    assert tried == [Decimal("6.1"), Decimal("6.0"), Decimal("5.9"), Decimal("5.8")]


def test_step_down_is_bounded() -> None:
    tried: list[Decimal] = []

    def never(volume: Decimal) -> str | None:
        tried.append(volume)
        return None

    assert step_down(Decimal(20), never, steps=5) is None
    assert len(tried) == 5
    assert step_down(Decimal("0.2"), never) is None  # stops below one step


# --- in the answer ----------------------------------------------------------------------------


def test_max_volume_per_site_worked_example_lidocaine_and_bupivacaine_60_kg() -> None:
    """Lidocaine 1 % (10 mg/mL) and bupivacaine 0.25 % (2.5 mg/mL), 1 mL each per site,
    6 sites, 60 kg [S1][S2][S3][S8]: lidocaine 60 mg of 4.5 x 60 = 270 mg (0.2222),
    bupivacaine 15 mg of 2.5 x 60 = 150 mg (0.1); additive load 0.3222 for 2 mL per site,
    so 2 / 0.3222 = 6.207 mL per site reaches it: 6.2 mL in 0.1 mL steps."""
    answer = plan_mixture(lido_bupi())
    assert answer.max_volume_per_site is not None
    assert answer.max_volume_per_site.value == 6.2
    assert answer.max_volume_per_site.unit == "mL"
    assert not over_limit(plan_mixture(scaled(lido_bupi(), Decimal("6.2"))))
    assert over_limit(plan_mixture(scaled(lido_bupi(), Decimal("6.3"))))


def test_max_volume_per_site_is_below_the_asked_volume_of_an_over_limit_plan() -> None:
    answer = plan_mixture(lido_bupi(volume="4 mL"))
    assert over_limit(answer)
    assert answer.max_volume_per_site is not None
    assert answer.max_volume_per_site.value == 6.2


def test_max_volume_per_site_counts_a_dose_given_earlier_today() -> None:
    # 135 mg lidocaine earlier: lidocaine load starts at 0.5; 0.5 + s * 0.3222 <= 1 at s = 1.5517.
    answer = plan_mixture(lido_bupi(prior_doses=[{"agent": "lidocaine", "dose": "135 mg"}]))
    assert answer.max_volume_per_site is not None
    assert answer.max_volume_per_site.value == 3.1


def test_max_volume_per_site_scales_a_dose_as_a_dose() -> None:
    # Triamcinolone 10 mg per site is 0.25 mL of 40 mg/mL; its own cap does not bind here.
    request = lido_bupi(sites=2, volume="0.5 mL")
    request["components"].append(
        {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "10 mg"}
    )
    answer = plan_mixture(request)
    assert answer.max_volume_per_site is not None
    volume = Decimal(repr(answer.max_volume_per_site.value))
    assert not over_limit(plan_mixture(scaled(request, volume)))


def test_max_volume_per_site_is_null_with_no_dose_limited_agent() -> None:
    answer = plan_mixture({"sites": 4, "components": [{"agent": "sodium-chloride", "volume_per_site": "1 mL"}]})
    assert answer.max_volume_per_site is None


def test_max_volume_per_site_stops_at_the_requested_syringe() -> None:
    answer = plan_mixture(lido_bupi(volume="0.5 mL", sites=1, weight="100 kg", syringe="3 mL"))
    assert answer.max_volume_per_site is not None
    assert answer.max_volume_per_site.value <= 3


def test_component_max_volume_is_its_maximum_over_its_strength() -> None:
    """Lidocaine 1 % at 60 kg: 270 mg / 10 mg/mL = 27 mL; bupivacaine 0.25 %: 150 / 2.5 = 60 mL."""
    by_agent = {c.agent: c.max_volume for c in plan_mixture(lido_bupi()).components}
    assert by_agent["lidocaine"] is not None
    assert by_agent["lidocaine"].value == 27
    assert by_agent["bupivacaine"] is not None
    assert by_agent["bupivacaine"].value == 60


def test_component_max_volume_less_a_dose_given_earlier_today() -> None:
    answer = plan_mixture(lido_bupi(prior_doses=[{"agent": "lidocaine", "dose": "100 mg"}]))
    lidocaine = next(c for c in answer.components if c.agent == "lidocaine")
    assert lidocaine.max_volume is not None
    assert lidocaine.max_volume.value == 17


def test_component_max_volume_is_zero_when_earlier_doses_used_it_all() -> None:
    answer = plan_mixture(lido_bupi(prior_doses=[{"agent": "lidocaine", "dose": "300 mg"}]))
    lidocaine = next(c for c in answer.components if c.agent == "lidocaine")
    assert lidocaine.max_volume is not None
    assert lidocaine.max_volume.value == 0


def test_component_max_volume_is_null_without_a_maximum() -> None:
    request = lido_bupi()
    request["components"].append({"agent": "sodium-chloride", "volume_per_site": "1 mL"})
    saline = next(c for c in plan_mixture(request).components if c.agent == "sodium-chloride")
    assert saline.max_volume is None


@given(mixtures(with_patient=True))
@example(lido_bupi())
@example(  # 40 mL of 1:200,000 is exactly the 0.2 mg epinephrine cap: 10 mL per site, not 9.9
    {
        "sites": 4,
        "components": [
            {"agent": "lidocaine", "concentration": "0.5 %", "epinephrine": "1:200000", "volume_per_site": "2.8 mL"}
        ],
        "patient": {},
    }
)
@example(  # 2.6 mL exactly scaled is 12.0000092 mg betamethasone: over its 12 mg by a hair
    {
        "sites": 1,
        "components": [
            {"agent": "lidocaine", "concentration": "0.5 %", "volume_per_site": "0.1 mL"},
            {"agent": "betamethasone", "dose_per_site": "2 mg"},
        ],
        "patient": {},
    }
)
@example(  # 1.1 mL per site needs a 5 mL syringe, which cannot measure the saline
    {
        "sites": 3,
        "components": [
            {"agent": "ropivacaine", "concentration": "0.2 %", "volume_per_site": "0.1 mL"},
            {"agent": "sodium-chloride", "volume_per_site": "0.1 mL"},
            {"agent": "mepivacaine", "concentration": "1 %", "volume_per_site": "1.2 mL"},
            {"agent": "betamethasone", "volume_per_site": "1.9 mL"},
        ],
        "patient": {},
    }
)
def test_law_max_volume_per_site_breaks_no_limit_and_a_step_more_would(request: dict[str, Any]) -> None:
    answer = computable_plan(request)
    if answer.max_volume_per_site is None:
        return
    volume = Decimal(repr(answer.max_volume_per_site.value))
    assert volume % STEP == 0
    at = plan_mixture(scaled(request, volume))
    assert not over_limit(at), at.warnings
    try:
        plan_mixture(scaled(request, volume + STEP))  # as the planner scales it
        # Rounded up: exactly scaled, a step more is over a limit, however little.
        above = plan_mixture(scaled(request, volume + STEP, ROUND_CEILING))
    except (PlanError, ValueError):
        return  # a step more cannot be planned at all (syringe, limits of the request)
    ceiling_hit = volume + STEP > 20 or any(
        magnitude(c["volume_per_site"]) > 20
        for c in scaled(request, volume + STEP)["components"]
        if "volume_per_site" in c
    )
    assert over_limit(above) or ceiling_hit, (request, volume, above.warnings)


def test_max_volume_per_site_in_the_api_answer(client: Any) -> None:
    r = client.post("/v1/mixtures", json=lido_bupi())
    assert r.status_code == 200, r.text
    assert r.json()["max_volume_per_site"] == {"value": 6.2, "unit": "mL"}
    assert r.json()["components"][0]["max_volume"] == {"value": 27.0, "unit": "mL"}


def test_max_volume_per_site_and_rescue_are_in_the_openapi_document(client: Any) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "max_volume_per_site" in schema["MixtureResponse"]["properties"]
    assert "rescue" in schema["MixtureResponse"]["properties"]
