"""CDS Hooks 2.0: discovery, cards for realistic hook calls (written from the specification's
example shapes and from our own FHIR output), suggestions verified under the limits, and
the EHR's JWT verified as the specification asks."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import jwt
import pytest
import schemathesis
from conftest import EXAMPLE_REQUEST
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from fhir.resources.R4B.medicationrequest import MedicationRequest
from hypothesis import given, settings
from hypothesis import strategies as st

from mixcalc import plan_mixture
from mixcalc.api import create_app
from mixcalc.api.cds_auth import BASE_URL_ENV, INSECURE_ENV, ISSUERS_ENV, CdsAuthSettings, Verifier
from mixcalc.api.settings import SettingsError
from mixcalc.ehr import hook as ehr_hook
from mixcalc.ehr.cards import SUMMARY_LIMIT
from mixcalc.ehr.chart import ChartReading, read_chart
from mixcalc.ehr.check import OrderCheck
from mixcalc.ehr.check import check_order as _check_order
from mixcalc.ehr.codes import default_tables
from mixcalc.ehr.exact import computed
from mixcalc.ehr.orders import read_order
from mixcalc.ehr.write import COMPONENT_EXTENSION, medication_request
from mixcalc.formulary import Formulary
from mixcalc.schema import MixtureRequest

FIXTURES = Path(__file__).parent / "fixtures" / "cds"
SIGN = "/cds-services/mixcalc-tpi-order-sign"
SELECT = "/cds-services/mixcalc-tpi-order-select"
BASE = "https://mixcalc.example.org"
ISSUER = "https://ehr.example.org/"


def _moment(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time().replace(hour=12), UTC)


def hook_response(hook: str, body: dict[str, Any], formulary: Formulary, day: date, **kwargs: Any) -> dict[str, Any]:
    return ehr_hook.hook_response(hook, body, formulary, default_tables(), _moment(day), **kwargs)


def read_patient(prefetch: dict[str, Any], patient_id: str | None, day: date) -> ChartReading:
    from mixcalc.formulary import default_formulary

    return read_chart(prefetch, patient_id, _moment(day), default_formulary(), default_tables())


def check_order(resource: dict[str, Any], chart: ChartReading, formulary: Formulary) -> OrderCheck:
    reading = read_order(resource, formulary, default_tables(), {}, "order")
    return _check_order(resource, reading, chart, formulary)


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def _today() -> date:
    return datetime.now(UTC).date()


def _cards(client: TestClient, path: str, call: dict[str, Any], **headers: str) -> list[dict[str, Any]]:
    r = client.post(path, json=call, headers=headers)
    assert r.status_code == 200, r.text
    cards: list[dict[str, Any]] = r.json()["cards"]
    for card in cards:
        assert len(card["summary"]) < 140, card["summary"]
        assert card["indicator"] in {"info", "warning", "critical"}
        uuid.UUID(card["uuid"])
    return cards


def _dev_app(formulary: Formulary) -> FastAPI:
    app = create_app(formulary)
    app.state.cds_verifier = Verifier(CdsAuthSettings(insecure_dev=True))
    return app


@pytest.fixture(scope="module")
def dev(formulary: Formulary) -> Iterator[TestClient]:
    """Hook calls without tokens (MIXCALC_CDS_INSECURE_DEV=1)."""
    with TestClient(_dev_app(formulary), raise_server_exceptions=False) as test_client:
        yield test_client


# --- discovery ------------------------------------------------------------------------------------


def test_discovery_lists_order_select_and_order_sign_with_prefetch(client: TestClient) -> None:
    r = client.get("/cds-services")
    assert r.status_code == 200, r.text
    services = {s["hook"]: s for s in r.json()["services"]}
    assert set(services) == {"order-select", "order-sign"}
    prefetch = services["order-sign"]["prefetch"]
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert "code=http://loinc.org|29463-7" in prefetch["weight"]
    assert "code=http://loinc.org|8302-2" in prefetch["height"]
    assert all("_sort=-date&_count=1" in prefetch[k] for k in ("weight", "height"))


# --- cards ----------------------------------------------------------------------------------------


def test_ehr_order_within_limits_gets_one_info_card_with_the_table(dev: TestClient, formulary: Formulary) -> None:
    cards = [c for c in _cards(dev, SIGN, fixture("order-sign-ehr.json")) if not c["summary"].startswith("Chart:")]
    assert len(cards) == 1
    card = cards[0]
    assert card["indicator"] == "info"
    assert card["source"]["label"] == f"{formulary.name} {formulary.version}"
    assert "| agent | per site | total | max | % of max |" in card["detail"]
    assert "| lidocaine | 5 mg | 30 mg | 300 mg | 10 % |" in card["detail"]
    assert "Combined load of local anesthetics" in card["detail"]
    assert "weight 70 kg" in card["detail"]
    assert "suggestions" not in card


def test_over_limit_order_gets_critical_cards_and_a_verified_suggestion(dev: TestClient, formulary: Formulary) -> None:
    call = fixture("order-sign-ehr-over-limit.json")
    cards = _cards(dev, SIGN, call)
    summary = cards[0]
    assert summary["indicator"] == "critical"
    assert summary["summary"].startswith("TPI mixture exceeds a maximum dose")
    assert summary["overrideReasons"]
    assert all(reason["display"] for reason in summary["overrideReasons"])
    assert {c["indicator"] for c in cards[1:] if not c["summary"].startswith("Chart:")} == {"critical"}
    assert summary["selectionBehavior"] == "at-most-one"
    (suggestion,) = summary["suggestions"]
    (action,) = suggestion["actions"]
    assert action["type"] == "update"
    updated = action["resource"]
    original = call["context"]["draftOrders"]["entry"][0]["resource"]
    assert updated["id"] == original["id"]
    MedicationRequest.model_validate(updated)
    volume = Decimal(repr(updated["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"]))
    assert volume % Decimal("0.1") == 0
    assert volume < 3

    # the suggested order, sent back, is under every limit ...
    again = copy.deepcopy(call)
    again["context"]["draftOrders"]["entry"][0]["resource"] = updated
    verdict = _cards(dev, SIGN, again)
    assert verdict[0]["indicator"] != "critical", verdict[0]
    # ... and it is the largest such volume: 0.1 mL more is over
    patient = read_patient(call["prefetch"], call["context"]["patientId"], _today())
    from mixcalc.ehr.suggestion import with_volume_per_site

    current = check_order(original, patient, formulary).volume_per_site
    assert current is not None
    bigger = volume + Decimal("0.1")
    check = check_order(with_volume_per_site(original, bigger / current, bigger), patient, formulary)
    assert check.over_limit


def test_missing_prefetch_is_a_card_not_an_error(dev: TestClient) -> None:
    call = fixture("order-sign-ehr.json")
    del call["prefetch"]
    cards = _cards(dev, SIGN, call)
    missing = cards[-1]  # the chart card follows the order cards
    assert missing["indicator"] == "warning"
    assert "no body weight" in missing["summary"]
    assert "caps only" in missing["detail"]
    assert "allergies" in missing["detail"]  # every chart fact not sent is named
    # the dose check still runs, on the caps
    assert "weight_missing" in cards[0]["detail"]


def test_order_select_spec_shape_checks_only_the_selected_tpi_order(dev: TestClient) -> None:
    call = fixture("order-select-epinephrine.json")  # also holds a ServiceRequest and a tablet order
    cards = _cards(dev, SELECT, call)
    summary, missing = cards
    assert "no body weight" in missing["summary"]
    assert "epinephrine_total" in summary["detail"]
    assert "Total EPINEPHrine: 16 mcg" in summary["detail"]
    unselected = copy.deepcopy(call)
    unselected["context"]["selections"] = ["ServiceRequest/example-MRI-59879846"]
    assert _cards(dev, SELECT, unselected) == []


def test_a_call_without_a_tpi_mixture_gets_no_cards(dev: TestClient) -> None:
    call = fixture("order-select-epinephrine.json")
    call["context"]["draftOrders"]["entry"] = call["context"]["draftOrders"]["entry"][:2]
    assert _cards(dev, SELECT, call) == []


def test_an_unreadable_order_gets_a_card_naming_what_is_missing(dev: TestClient) -> None:
    call = fixture("order-sign-ehr.json")
    del call["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0]["timing"]
    del call["context"]["draftOrders"]["entry"][0]["resource"]["dosageInstruction"][0]["text"]  # "6 ... sites"
    cards = _cards(dev, SIGN, call)
    assert cards[0]["indicator"] == "warning"
    assert "not checked" in cards[0]["summary"]
    assert "number of sites" in cards[0]["detail"]


def test_prefetch_for_another_patient_is_not_used(formulary: Formulary) -> None:
    call = fixture("order-sign-ehr.json")
    call["prefetch"]["patient"]["id"] = "someone-else"
    call["prefetch"]["weight"]["entry"][0]["resource"]["subject"]["reference"] = "Patient/someone-else"
    patient = read_patient(call["prefetch"], call["context"]["patientId"], _today())
    assert "weight" not in patient.facts
    assert "sex" not in patient.facts
    assert any("not the patient" in m for m in patient.not_checked)


def test_weight_in_pounds_and_height_in_inches_are_converted(formulary: Formulary) -> None:
    call = fixture("order-sign-ehr-over-limit.json")
    patient = read_patient(call["prefetch"], call["context"]["patientId"], date(2026, 6, 1))
    request = MixtureRequest.model_validate(
        {"sites": 1, "components": EXAMPLE_REQUEST["components"][:1]} | {"patient": dict(patient.facts)}
    )
    assert request.patient is not None
    assert request.patient.weight is not None
    assert round(float(request.patient.weight.in_(formulary_unit("kg"))), 2) == 49.99
    assert request.patient.age is not None
    assert request.patient.age.magnitude == 67  # born 1958-11-02


def test_every_summary_is_under_140_characters(formulary: Formulary) -> None:
    long_name = fixture("order-sign-ehr-over-limit.json")
    for name in ("order-sign-ehr.json", "order-select-epinephrine.json"):
        for hook in ("order-sign", "order-select"):
            for card in hook_response(hook, fixture(name), formulary, _today())["cards"]:
                assert len(card["summary"]) <= SUMMARY_LIMIT
    for card in hook_response("order-sign", long_name, formulary, _today())["cards"]:
        assert len(card["summary"]) <= SUMMARY_LIMIT


# --- the round trip -------------------------------------------------------------------------------


def _prefetch_for(patient: dict[str, Any], today: date) -> dict[str, Any]:
    """EHR prefetch for the README example's patient (female, 45 years, 70 kg, 175 cm)."""
    born = date(today.year - 45, 1, 1)
    obs = fixture("order-sign-ehr.json")["prefetch"]
    prefetch = {
        "patient": {"resourceType": "Patient", "id": "1288992", "gender": "female", "birthDate": born.isoformat()},
        "weight": obs["weight"],
        "height": copy.deepcopy(obs["height"]),
    }
    prefetch["height"]["entry"][0]["resource"]["valueQuantity"]["value"] = 175
    return prefetch


def test_round_trip_our_fhir_output_gets_the_json_api_verdict(
    client: TestClient, dev: TestClient, formulary: Formulary
) -> None:
    today = _today()
    answer = client.post("/v1/mixtures", json=EXAMPLE_REQUEST)
    assert answer.status_code == 200, answer.text
    order = client.post("/v1/mixtures/fhir?subject=Patient/1288992", json=EXAMPLE_REQUEST).json()
    order["id"] = "tpi-1"
    call = fixture("order-sign-ehr.json")
    call["context"]["draftOrders"]["entry"] = [{"resource": order}]
    call["prefetch"] = _prefetch_for(EXAMPLE_REQUEST["patient"], today)

    patient = read_patient(call["prefetch"], "1288992", today)
    check = check_order(order, patient, formulary)
    assert check.origin == "mixcalc"
    assert check.answer == plan_mixture(EXAMPLE_REQUEST, formulary)  # the same answer, field for field
    assert check.answer.model_dump(mode="json") == answer.json()

    (card,) = [c for c in _cards(dev, SIGN, call) if not c["summary"].startswith("Chart:")]
    expected = max((w["severity"] for w in answer.json()["warnings"]), key=["info", "warning", "critical"].index)
    assert card["indicator"] == expected
    assert "| triamcinolone acetonide | 10 mg | 60 mg | 80 mg | 75 % |" in card["detail"]


def test_round_trip_of_an_over_limit_mixture_keeps_the_critical_verdict(formulary: Formulary) -> None:
    request = {**EXAMPLE_REQUEST, "sites": 20, "syringe": None}
    request["components"] = [
        {"agent": "lidocaine", "concentration": "2 %", "volume_per_site": "1 mL"},
        {"agent": "bupivacaine", "concentration": "0.5 %", "volume_per_site": "0.5 mL"},
    ]
    answer = plan_mixture(request, formulary)
    assert any(w.severity == "critical" for w in answer.warnings)
    order = medication_request(computed(MixtureRequest.model_validate(request), formulary), formulary, order_id="tpi-2")
    call = {"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "1288992"}}
    call["context"]["draftOrders"] = {"resourceType": "Bundle", "entry": [{"resource": order}]}
    call["prefetch"] = _prefetch_for(request["patient"], _today())
    cards = hook_response("order-sign", call, formulary, _today())["cards"]
    assert cards[0]["indicator"] == "critical"
    updated = cards[0]["suggestions"][0]["actions"][0]["resource"]
    MedicationRequest.model_validate(updated)
    assert updated["id"] == "tpi-2"
    patient = read_patient(call["prefetch"], "1288992", _today())
    again = check_order(updated, patient, formulary)
    assert again.origin == "mixcalc"  # our suggestion is our own output: it still rebuilds exactly
    assert not again.over_limit


# --- exact values: the cards and our orders are computed from the plan, not from rounded floats ---


def _our_order_call(request: dict[str, Any], formulary: Formulary) -> dict[str, Any]:
    """A hook call with one order we wrote for ``request``, for the README example's patient."""
    order = medication_request(computed(MixtureRequest.model_validate(request), formulary), formulary, order_id="tpi-1")
    return {
        "hook": "order-sign",
        "hookInstance": "x",
        "context": {"patientId": "1288992", "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": order}]}},
        "prefetch": _prefetch_for({}, _today()),  # the README example's patient
    }


def _component_part(resource: dict[str, Any], url: str) -> Any:
    (ingredient,) = [i for i in resource["contained"][0]["ingredient"] if "extension" in i]
    (extension,) = [e for e in ingredient["extension"] if e["url"] == COMPONENT_EXTENSION]
    return next(p["valueQuantity"]["value"] for p in extension["extension"] if p["url"] == url)


def test_a_suggestion_scales_our_order_from_the_exact_volume_per_site(formulary: Formulary) -> None:
    # ketorolac 25 mg per site at 30 mg/mL in 3 sites: 75 mg, over its 60 mg maximum.  The
    # plan draws 2.5 mL, 0.8333... mL per site; at 0.6 mL per site each site gets
    # 0.6 mL x 30 mg/mL = 18 mg exactly.  Scaled from the answer's rounded 0.8333 mL, the
    # suggested order asked 18.0007 mg per site (54.002 mg in all).
    request = {
        "sites": 3,
        "components": [{"agent": "ketorolac", "concentration": "30 mg/mL", "dose_per_site": "25 mg"}],
    }
    (card, *_) = hook_response("order-sign", _our_order_call(request, formulary), formulary, _today())["cards"]
    assert card["indicator"] == "critical"
    (suggestion,) = card["suggestions"]
    assert suggestion["label"] == "Reduce to 0.6 mL per site"
    updated = suggestion["actions"][0]["resource"]
    assert _component_part(updated, "dosePerSite") == 18
    assert updated["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 0.6
    assert "ketorolac 54 mg is 90 % of its maximum 60 mg" in suggestion["actions"][0]["description"]  # 3 x 18 mg


def test_a_card_totals_the_exact_volume_not_a_rounded_volume_per_site(formulary: Formulary) -> None:
    # ketorolac 70 mg per site at 30 mg/mL in 13 sites: 30.6 mL drawn, 2.3538... mL per site.
    # The rounded 2.3538 mL x 13 sites made "30.599 mL in all".
    request = {
        "sites": 13,
        "components": [{"agent": "ketorolac", "concentration": "30 mg/mL", "dose_per_site": "70 mg"}],
    }
    (card, *_) = hook_response("order-sign", _our_order_call(request, formulary), formulary, _today())["cards"]
    assert "**13 sites, 2.354 mL per site, 30.6 mL in all.**" in card["detail"]
    assert "| ketorolac | 70.615 mg | 918 mg | 60 mg | 1,530 % |" in card["detail"]


def test_a_card_rounds_a_dose_per_site_once(formulary: Formulary) -> None:
    # methylprednisolone 53 mg per site at 40 mg/mL in 11 sites: 15 mL drawn, 600 mg, so
    # 54.5454... mg per site: 54.545 mg.  Rounded to 4 places first (54.5455), then to 3
    # places half to even, it showed 54.546 mg.
    request = {
        "sites": 11,
        "components": [{"agent": "methylprednisolone-acetate", "concentration": "40 mg/mL", "dose_per_site": "53 mg"}],
    }
    (card, *_) = hook_response("order-sign", _our_order_call(request, formulary), formulary, _today())["cards"]
    assert "**11 sites, 1.364 mL per site, 15 mL in all.**" in card["detail"]
    assert "| methylPREDNISolone acetate | 54.545 mg | 600 mg |" in card["detail"]


def test_no_float_is_turned_back_into_a_decimal_in_the_ehr_adapters() -> None:
    # the adapters take numbers from the plan (mixcalc.ehr.exact); only untrusted JSON
    # numbers are read from floats (mixcalc.ehr.jsonsafe.bounded_decimal)
    root = Path(__file__).parents[1] / "mixcalc" / "ehr"
    for path in sorted(root.glob("*.py")):
        text = path.read_text()
        if path.name != "jsonsafe.py":
            assert "Decimal(repr(" not in text, path.name
            assert "Decimal(str(" not in text, path.name


# --- security -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "ec": ec.generate_private_key(ec.SECP384R1()),
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "other": ec.generate_private_key(ec.SECP384R1()),
    }


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    algorithm = (
        jwt.algorithms.ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else jwt.algorithms.RSAAlgorithm
    )
    data: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return data | {"kid": kid, "use": "sig"}


def _settings(keys: dict[str, Any]) -> dict[str, str]:
    issuers = {ISSUER: {"keys": [_jwk(keys["ec"], "ec-1"), _jwk(keys["rsa"], "rsa-1")]}}
    return {ISSUERS_ENV: json.dumps(issuers), BASE_URL_ENV: BASE}


@pytest.fixture(scope="module")
def secured(formulary: Formulary, keys: dict[str, Any]) -> Iterator[TestClient]:
    app = create_app(formulary)
    app.state.cds_verifier = Verifier(CdsAuthSettings.from_env(_settings(keys)))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def _token(key: Any, *, alg: str = "ES384", kid: str = "ec-1", drop: tuple[str, ...] = (), **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": BASE + SIGN, "exp": now + 120, "iat": now, "jti": str(uuid.uuid4())} | claims
    for name in drop:
        payload.pop(name)
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid, "typ": "JWT"})


def _hook(client: TestClient, token: str | None, path: str = SIGN) -> Any:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    return client.post(path, json=fixture("order-sign-ehr.json"), headers=headers)


def test_a_valid_token_is_accepted(secured: TestClient, keys: dict[str, Any]) -> None:
    assert _hook(secured, _token(keys["ec"])).status_code == 200
    r = _hook(secured, _token(keys["rsa"], alg="RS384", kid="rsa-1"))
    assert r.status_code == 200, r.text
    assert r.json()["cards"]


def test_aud_may_be_a_list(secured: TestClient, keys: dict[str, Any]) -> None:
    assert _hook(secured, _token(keys["ec"], aud=[BASE + SIGN])).status_code == 200


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("missing", "Authorization: Bearer"),
        ("wrong-aud", "aud"),
        ("aud-of-another-service", "aud"),
        ("expired", "expired"),
        ("no-exp", "no exp"),
        ("no-jti", "no jti"),
        ("no-iat", "no iat"),
        ("too-long-lived", "seconds from now"),
        ("alg-none", "not accepted"),
        ("hs256-shared-secret", "not accepted"),
        ("unknown-issuer", "issuer"),
        ("unknown-kid", "kid"),
        ("bad-signature", "signature"),
        ("rsa-key-for-es", "not a key for"),
        ("garbage", "well-formed"),
    ],
)
def test_a_bad_token_is_refused_with_a_problem(
    secured: TestClient, keys: dict[str, Any], case: str, reason: str
) -> None:
    now = int(time.time())
    key = keys["ec"]
    token: str | None
    if case == "missing":
        token = None
    elif case == "wrong-aud":
        token = _token(key, aud="https://attacker.example/cds-services/mixcalc-tpi-order-sign")
    elif case == "aud-of-another-service":
        token = _token(key, aud=BASE + SELECT)
    elif case == "expired":
        token = _token(key, exp=now - 120, iat=now - 300)
    elif case == "no-exp":
        token = _token(key, drop=("exp",))
    elif case == "no-jti":
        token = _token(key, drop=("jti",))
    elif case == "no-iat":
        token = _token(key, drop=("iat",))
    elif case == "too-long-lived":
        token = _token(key, exp=now + 3600)
    elif case == "alg-none":
        token = jwt.encode({"iss": ISSUER, "aud": BASE + SIGN, "exp": now + 60, "iat": now, "jti": "n"}, None, "none")
    elif case == "hs256-shared-secret":
        token = _token("a-shared-secret-of-thirty-two-bytes!!", alg="HS256")
    elif case == "unknown-issuer":
        token = _token(key, iss="https://other-ehr.example.org/")
    elif case == "unknown-kid":
        token = _token(key, kid="nope")
    elif case == "bad-signature":
        token = _token(keys["other"])  # another key, presenting the trusted kid
    elif case == "rsa-key-for-es":
        token = _token(keys["rsa"], alg="RS384", kid="ec-1")
    else:
        token = "not.a.jwt"  # noqa: S105 - a malformed token, not a password
    r = _hook(secured, token)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert reason in r.json()["detail"], r.json()
    assert "cards" not in r.text


def test_a_replayed_token_is_refused(secured: TestClient, keys: dict[str, Any]) -> None:
    token = _token(keys["ec"])
    assert _hook(secured, token).status_code == 200
    r = _hook(secured, token)
    assert r.status_code == 401, r.text
    assert "replayed" in r.json()["detail"]


def test_feedback_is_acknowledged_with_an_empty_200(secured: TestClient, keys: dict[str, Any]) -> None:
    feedback = {
        "feedback": [
            {
                "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                "outcome": "overridden",
                "overrideReason": {"reason": {"code": "pharmacist-verified", "system": "x"}, "userComment": "ok"},
                "outcomeTimestamp": "2026-01-01T00:00:00Z",
            }
        ]
    }
    path = SIGN + "/feedback"
    r = secured.post(path, json=feedback, headers={"Authorization": f"Bearer {_token(keys['ec'], aud=BASE + path)}"})
    assert r.status_code == 200, r.text
    assert r.content == b""
    assert secured.post(path, json=feedback).status_code == 401


def test_without_configuration_hook_calls_are_refused_and_discovery_is_open(client: TestClient) -> None:
    r = client.post(SIGN, json=fixture("order-sign-ehr.json"))
    assert r.status_code == 401, r.text
    assert ISSUERS_ENV in r.json()["detail"]
    assert client.get("/cds-services").status_code == 200


def test_unknown_service_is_404_and_an_unknown_hook_422(dev: TestClient) -> None:
    assert dev.post("/cds-services/nope", json=fixture("order-sign-ehr.json")).status_code == 404
    assert dev.post(SIGN, json=fixture("order-sign-ehr.json") | {"hook": "patient-view"}).status_code == 422


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({ISSUERS_ENV: "{}", BASE_URL_ENV: BASE}, ISSUERS_ENV),
        ({ISSUERS_ENV: "not json", BASE_URL_ENV: BASE}, ISSUERS_ENV),
        ({INSECURE_ENV: "yes"}, INSECURE_ENV),
        ({BASE_URL_ENV: "ftp://x"}, BASE_URL_ENV),
    ],
)
def test_malformed_settings_stop_start_up(env: dict[str, str], setting: str) -> None:
    with pytest.raises(SettingsError) as caught:
        CdsAuthSettings.from_env(env)
    assert caught.value.setting == setting


def test_settings_refuse_private_symmetric_and_conflicting_keys(keys: dict[str, Any]) -> None:
    good = json.loads(_settings(keys)[ISSUERS_ENV])
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(keys["ec"])) | {"kid": "p"}
    symmetric = {"kty": "oct", "k": "c2VjcmV0", "kid": "s"}
    for bad_key in (private, symmetric):
        with pytest.raises(SettingsError):
            CdsAuthSettings.from_env({ISSUERS_ENV: json.dumps({ISSUER: {"keys": [bad_key]}}), BASE_URL_ENV: BASE})
    with pytest.raises(SettingsError) as caught:
        CdsAuthSettings.from_env({ISSUERS_ENV: json.dumps(good), INSECURE_ENV: "1", BASE_URL_ENV: BASE})
    assert caught.value.setting == INSECURE_ENV
    with pytest.raises(SettingsError) as caught:
        CdsAuthSettings.from_env({ISSUERS_ENV: json.dumps(good)})
    assert caught.value.setting == BASE_URL_ENV


def test_issuers_may_be_a_file(tmp_path: Path, keys: dict[str, Any]) -> None:
    path = tmp_path / "issuers.json"
    path.write_text(_settings(keys)[ISSUERS_ENV])
    settings = CdsAuthSettings.from_env({ISSUERS_ENV: str(path), BASE_URL_ENV: BASE + "/"})
    assert settings.verifies
    assert settings.base_url == BASE


# --- contract fuzzing of the hook endpoints, with verification off ---------------------------------

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
_schema = schemathesis.openapi.from_path(str(SPEC)).include(path_regex="^/cds-services")


@pytest.fixture(scope="module")
def dev_app(formulary: Formulary) -> FastAPI:
    return _dev_app(formulary)


@_schema.parametrize()
def test_cds_endpoints_never_fail_on_any_input(case: schemathesis.Case, dev_app: FastAPI) -> None:
    """Every generated body reaches the card logic (no token needed here) and gets a
    documented status, never a 500."""
    response = case.call(app=dev_app)
    assert response.status_code < 500, response.text
    # Verification is off here, so calls without the token are answered, as configured.
    unauthenticated = [
        schemathesis.checks.ignored_auth,
        schemathesis.checks.missing_required_header,
        schemathesis.checks.negative_data_rejection,
    ]
    case.validate_response(response, excluded_checks=unauthenticated)


def formulary_unit(code: str) -> Any:
    from mixcalc.units import vocabulary

    return vocabulary()[code]


# --- robustness: realistic calls with any part replaced by any JSON --------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


@settings(deadline=None)
@given(
    name=st.sampled_from(["order-sign-ehr.json", "order-sign-ehr-over-limit.json", "order-select-epinephrine.json"]),
    data=st.data(),
)
def test_a_damaged_call_is_answered_with_cards_never_an_exception(name: str, data: st.DataObject) -> None:
    from mixcalc.formulary import default_formulary

    call = fixture(name)
    path = data.draw(st.sampled_from(_paths(call)[1:]))
    node: Any = call
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = data.draw(_JSON)
    response = hook_response(
        call.get("hook") if isinstance(call.get("hook"), str) else "order-sign",
        call,
        default_formulary(),
        date(2026, 6, 1),
    )
    for card in response["cards"]:
        assert len(card["summary"]) <= SUMMARY_LIMIT
