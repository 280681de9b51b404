"""Every EHR fixture (tests/fixtures/ehr/, each citing what it is modelled on) gets the
card a pharmacist expects, and that card's verdict equals ``POST /v1/mixtures`` for the
same facts (each fixture states them in ``same_facts``).

Fixture times are relative (``{{now-3h}}``...): they are filled in at test time, so the
same-day dose is always this morning's and the weight always two days old.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mixcalc.api import create_app
from mixcalc.api.cds_auth import CdsAuthSettings, Verifier
from mixcalc.formulary import Formulary

FIXTURES = Path(__file__).parent / "fixtures" / "ehr"
SIGN = "/cds-services/mixcalc-tpi-order-sign"
_RANK = ["info", "warning", "critical"]


@pytest.fixture(scope="module")
def dev(formulary: Formulary) -> Iterator[TestClient]:
    app = create_app(formulary)
    app.state.cds_verifier = Verifier(CdsAuthSettings(insecure_dev=True))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def load(name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    text = (FIXTURES / name).read_text()
    for token, delta in (
        ("{{now-2d}}", timedelta(days=2)),
        ("{{now-3h}}", timedelta(hours=3)),
        ("{{now-30h}}", timedelta(hours=30)),
    ):
        text = text.replace(token, (now - delta).isoformat(timespec="seconds"))
    text = text.replace("{{age}}", f"{_age(date(1980, 5, 1), now.date())} a")
    data: dict[str, Any] = json.loads(text)
    return data


def verdict(dev: TestClient, facts: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    r = dev.post("/v1/mixtures", json=facts)
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return max((w["severity"] for w in answer["warnings"]), key=_RANK.index, default="info"), answer


NAMES = sorted(p.name for p in FIXTURES.glob("*.json"))


def test_there_is_a_fixture_for_each_shape_the_issue_names() -> None:
    for wanted in (
        "r4-codeable-concept",
        "r4-dose-in-mg",
        "r4-sites-in-sig",
        "r4-contained-product",
        "r4-contained-compound",
        "r4-reference",
        "dstu2",
        "chart-",
        "session-two",
        "session-26",
        "unreadable",
    ):
        assert any(name.startswith(wanted) for name in NAMES), wanted


@pytest.mark.parametrize("name", NAMES)
def test_each_fixture_gets_the_expected_cards_and_the_json_api_verdict(dev: TestClient, name: str) -> None:
    fixture = load(name)
    assert fixture["source"]
    r = dev.post(SIGN, json=fixture["call"])
    assert r.status_code == 200, r.text
    cards = r.json()["cards"]
    orders = [c for c in cards if c["summary"].startswith(("TPI mixture", "TPI order not", "TPI order over"))]
    assert [c["indicator"] for c in orders] == fixture["expected"], [c["summary"] for c in orders]
    for card, facts in zip(orders, fixture["same_facts"], strict=True):
        if facts is None:  # unreadable: the card says so, and no verdict is given
            assert "not checked" in card["detail"]
            continue
        expected, _ = verdict(dev, facts)
        assert card["indicator"] == expected, (card["summary"], expected)
    session = fixture.get("session")
    together = [c for c in cards if c["summary"].startswith("TPI orders together")]
    if session is None:
        assert together == []
        return
    (card,) = together
    assert card["indicator"] == session["indicator"]
    assert session["percent"] in card["summary"]
    expected, answer = verdict(dev, session["same_facts"])
    assert card["indicator"] == expected
    combined = next(g for g in answer["groups"] if g["id"] == "local-anesthetics")["fraction"]
    assert f"{-int(-combined * 100 // 1)} %" == session["percent"]  # whole percent, rounded up
