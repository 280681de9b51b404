"""The EHR integration against orders and charts as EHRs send them (issue 12).

Order shapes follow the FHIR R4 ``MedicationRequest`` and DSTU2 ``MedicationOrder``
resource definitions (hl7.org/fhir/R4/medicationrequest.html, hl7.org/fhir/DSTU2/
medicationorder.html) in the layouts Epic's and Oracle Health's public FHIR
documentation describe (drug by RxNorm-coded ``medicationCodeableConcept`` or a
``medicationReference`` to a Medication, dose in ``doseAndRate``, DSTU2 dose directly on
``dosageInstruction``).  The vendor pages themselves could not be consulted from this
machine: the fixtures are hand-made from the specification's shapes.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.medicationrequest import MedicationRequest

from mixcalc.api import create_app
from mixcalc.api.cds_auth import CdsAuthSettings, Verifier
from mixcalc.ehr.chart import read_chart
from mixcalc.ehr.codes import default_tables
from mixcalc.formulary import Condition, Formulary

SIGN = "/cds-services/mixcalc-tpi-order-sign"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
NOW = datetime.now(UTC)


@pytest.fixture(scope="module")
def dev(formulary: Formulary) -> Iterator[TestClient]:
    app = create_app(formulary)
    app.state.cds_verifier = Verifier(CdsAuthSettings(insecure_dev=True))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# --- builders ---------------------------------------------------------------------------------


def _q(value: Any, code: str) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def lidocaine_concept() -> dict[str, Any]:
    """RxNorm ingredient 6387 and the product's name, as an EHR's order picker writes it."""
    return {
        "coding": [{"system": RXNORM, "code": "6387", "display": "lidocaine"}],
        "text": "lidocaine HCl 1 % injection",
    }


def r4_order(order_id: str, dose: dict[str, Any], sites: int | None = 10, **drug: Any) -> dict[str, Any]:
    dosage: dict[str, Any] = {"text": "Inject into trigger points", "doseAndRate": [{"doseQuantity": dose}]}
    if sites is not None:
        dosage["timing"] = {"repeat": {"count": sites}}
    order = {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "dosageInstruction": [dosage],
    }
    order.update(drug or {"medicationCodeableConcept": lidocaine_concept()})
    return order


def dstu2_order(order_id: str) -> dict[str, Any]:
    """DSTU2 MedicationOrder: the dose directly on dosageInstruction, sites only in the sig."""
    return {
        "resourceType": "MedicationOrder",
        "id": order_id,
        "status": "draft",
        "patient": {"reference": "Patient/p1"},
        "medicationCodeableConcept": lidocaine_concept(),
        "dosageInstruction": [{"text": "50 mg IM into each of 10 trigger points", "doseQuantity": _q(50, "mg")}],
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": r} for r in resources]}


def patient_prefetch(weight_kg: Any = 70, *, weighed: datetime | None = None) -> dict[str, Any]:
    weighed = weighed or NOW - timedelta(days=2)
    return {
        "patient": {"resourceType": "Patient", "id": "p1", "gender": "male", "birthDate": "1980-05-01"},
        "weight": bundle(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
                "subject": {"reference": "Patient/p1"},
                "effectiveDateTime": weighed.isoformat(),
                "valueQuantity": _q(weight_kg, "kg"),
            }
        ),
        "height": bundle(),
        "allergies": bundle(),
        "conditions": bundle(),
        "medications": bundle(),
        "statements": bundle(),
        "administrations": bundle(),
    }


def call(*orders: dict[str, Any], prefetch: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "hook": "order-sign",
        "hookInstance": "h-1",
        "context": {"userId": "Practitioner/1", "patientId": "p1", "draftOrders": bundle(*orders)},
        "prefetch": patient_prefetch() if prefetch is None else prefetch,
        **extra,
    }


def cards_of(dev: TestClient, body: dict[str, Any]) -> list[dict[str, Any]]:
    r = dev.post(SIGN, json=body)
    assert r.status_code == 200, r.text
    cards: list[dict[str, Any]] = r.json()["cards"]
    return cards


def order_cards(cards: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cards if c["summary"].startswith(("TPI mixture", "TPI order not", "TPI order over"))]


# --- order shapes: every one gets the verdict, never "no concerns" -----------------------------

# 10 sites x 5 mL of 1 % = 500 mg lidocaine; 70 kg adult: max 300 mg -> 167 %.
OVER = 500


@pytest.mark.parametrize(
    "order",
    [
        r4_order("cc", _q(5, "mL")),
        r4_order("mg", _q(50, "mg")),
        r4_order("sig", _q(5, "mL"), sites=None) | {"note": [{"text": "10 trigger points, upper trapezius"}]},
        dstu2_order("dstu2"),
        r4_order(
            "contained",
            _q(5, "mL"),
            medicationReference={"reference": "#m"},
            contained=[{"resourceType": "Medication", "id": "m", "code": {"text": "lidocaine HCl 1 % injection"}}],
        ),
        r4_order(
            "compound",
            _q(10, "mL"),
            medicationReference={"reference": "#c"},
            contained=[
                {
                    "resourceType": "Medication",
                    "id": "c",
                    "code": {"text": "TPI compound"},
                    "ingredient": [
                        {
                            "itemCodeableConcept": {
                                "coding": [{"system": RXNORM, "code": "6387"}],
                                "text": "lidocaine",
                            },
                            "strength": {"numerator": _q(5, "mg"), "denominator": _q(1, "mL")},
                        },
                        {
                            "itemCodeableConcept": {"text": "sodium chloride 0.9 %"},
                            "strength": {"numerator": _q(4.5, "mg"), "denominator": _q(1, "mL")},
                        },
                    ],
                }
            ],
        ),
    ],
    ids=lambda o: str(o["id"]),
)
def test_lidocaine_at_167_percent_is_critical_in_every_order_shape(dev: TestClient, order: dict[str, Any]) -> None:
    cards = order_cards(cards_of(dev, call(order)))
    assert cards, "an order naming lidocaine must never get no card"
    assert cards[0]["indicator"] == "critical", cards[0]
    assert "167 %" in cards[0]["summary"] or "167 %" in cards[0]["detail"], cards[0]["detail"]


def test_a_medication_in_the_prefetch_bundle_is_read(dev: TestClient) -> None:
    order = r4_order("ref", _q(5, "mL"), medicationReference={"reference": "Medication/lido1"})
    body = call(order)
    body["prefetch"]["medications"] = bundle({"resourceType": "Medication", "id": "lido1", "code": lidocaine_concept()})
    (card, *_) = order_cards(cards_of(dev, body))
    assert card["indicator"] == "critical"


class _Fhir(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str | None]]] = []

    def do_GET(self) -> None:
        _Fhir.seen.append((self.path, self.headers.get("authorization")))
        if self.path.endswith("/Medication/lido9"):
            body = json.dumps({"resourceType": "Medication", "id": "lido9", "code": lidocaine_concept()}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/fhir+json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_response(404)
            self.end_headers()

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass


def test_a_medication_not_sent_is_fetched_from_the_fhir_server_with_its_token(dev: TestClient) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fhir)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        order = r4_order("far", _q(5, "mL"), medicationReference={"reference": "Medication/lido9"})
        body = call(
            order,
            fhirServer=f"http://127.0.0.1:{server.server_address[1]}/fhir",
            fhirAuthorization={"access_token": "tok-1", "token_type": "Bearer", "scope": "x", "subject": "s"},
        )
        (card, *_) = order_cards(cards_of(dev, body))
    finally:
        server.shutdown()
        server.server_close()
    assert card["indicator"] == "critical"
    assert ("/fhir/Medication/lido9", "Bearer tok-1") in _Fhir.seen


def test_without_fhir_server_an_unsent_medication_named_in_display_gets_a_not_checked_card(dev: TestClient) -> None:
    order = r4_order("gone", _q(5, "mL"), medicationReference={"reference": "Medication/x", "display": "Lidocaine 1%"})
    (card,) = order_cards(cards_of(dev, call(order)))
    assert card["indicator"] == "warning"
    assert "not checked" in card["detail"]
    assert "Medication/x" in card["detail"]


# --- never silent ------------------------------------------------------------------------------


def test_an_unreadable_order_already_over_any_maximum_is_critical(dev: TestClient) -> None:
    order = r4_order("u1", _q(50, "mL"), sites=None)  # 1 % x 50 mL = 500 mg > 500 mg? no: > 300, not > 500
    order["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = _q(20, "mL")
    order["medicationCodeableConcept"] = {"text": "lidocaine HCl 4 % injection"}  # 800 mg at one site
    (card,) = order_cards(cards_of(dev, call(order)))
    assert card["indicator"] == "critical"
    assert "number of sites" in card["detail"]
    assert "800 mg" in card["detail"]


def test_an_unreadable_order_under_every_maximum_is_a_warning_that_says_not_checked(dev: TestClient) -> None:
    order = r4_order("u2", _q(2, "mL"), sites=None)
    (card,) = order_cards(cards_of(dev, call(order)))
    assert card["indicator"] == "warning"
    assert "not checked" in card["detail"]
    assert "number of sites" in card["detail"]


def test_orders_without_a_tpi_agent_get_no_cards(dev: TestClient) -> None:
    order = r4_order("abx", _q(1, "g"), medicationCodeableConcept={"text": "cefazolin 1 g injection"})
    saline = r4_order("ns", _q(1000, "mL"), medicationCodeableConcept={"text": "sodium chloride 0.9 % infusion"})
    assert cards_of(dev, call(order, saline)) == []


@pytest.mark.parametrize("count", [1_000_000, int("9" * 4000), 0, -3, 1e308, True, "10"], ids=lambda c: repr(c)[:12])
def test_hostile_site_counts_are_refused_quickly(dev: TestClient, count: Any) -> None:
    order = r4_order("h", _q(1, "mL"))
    order["dosageInstruction"][0]["timing"]["repeat"]["count"] = count
    order["dosageInstruction"][0]["text"] = "Inject"
    body = json.dumps(call(order), default=str)
    r = dev.post(SIGN, content=body, headers={"content-type": "application/json"})
    if isinstance(count, int) and len(str(count)) > 40:  # the body guard refuses it before any parsing (issue 13)
        assert r.status_code == 400, r.text
        assert r.json()["type"].endswith("/number-out-of-range")
        return
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        (card,) = order_cards(r.json()["cards"])
        assert card["indicator"] in {"warning", "critical"}
        assert "not checked" in card["detail"]


@pytest.mark.parametrize("value", [1e308, 1e-300, 0, -5])
def test_hostile_doses_are_named_not_computed(dev: TestClient, value: float) -> None:
    (card,) = order_cards(cards_of(dev, call(r4_order("d", _q(value, "mL")))))
    assert card["indicator"] == "warning"
    assert "dose per site" in card["detail"]


# --- the chart ---------------------------------------------------------------------------------


def chart_prefetch() -> dict[str, Any]:
    """An amide allergy, cellulitis, warfarin and 200 mg lidocaine given this morning."""
    prefetch = patient_prefetch()
    morning = (NOW - timedelta(hours=3)).isoformat(timespec="seconds")
    prefetch["allergies"] = bundle(
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "387480006"}], "text": "Lidocaine"},
        }
    )
    prefetch["conditions"] = bundle(
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {
                "coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "L03.113"}],
                "text": "Cellulitis of right upper limb",
            },
        }
    )
    prefetch["medications"] = bundle(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "11289"}], "text": "warfarin 5 mg"},
        }
    )
    prefetch["administrations"] = bundle(
        {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "medicationCodeableConcept": lidocaine_concept(),
            "effectiveDateTime": morning,
            "dosage": {"dose": _q(20, "mL")},
        },
        {
            "resourceType": "MedicationAdministration",
            "status": "completed",
            "medicationCodeableConcept": lidocaine_concept(),
            "effectiveDateTime": (NOW - timedelta(hours=30)).isoformat(),
            "dosage": {"dose": _q(100, "mg")},
        },
    )
    return prefetch


def test_the_chart_gives_conditions_and_the_dose_given_this_morning(formulary: Formulary) -> None:
    chart = read_chart(chart_prefetch(), "p1", NOW, formulary, default_tables())
    assert set(chart.facts["conditions"]) == {
        Condition.AMIDE_ALLERGY,
        Condition.INFECTION_AT_SITE,
        Condition.ANTICOAGULATION,
    }
    assert [(d["agent"], d["dose"].magnitude) for d in chart.prior_doses] == [("lidocaine", 200)]  # not the 30 h one
    assert any("confirm the sites are clear" in n for n in chart.site_notes)


def test_a_small_order_for_that_patient_is_critical_and_the_card_lists_the_chart(dev: TestClient) -> None:
    small = r4_order("s", _q(1, "mL"), sites=2)  # 20 mg alone: well within limits
    cards = cards_of(dev, call(small, prefetch=chart_prefetch()))
    card = order_cards(cards)[0]
    assert card["indicator"] == "critical"
    assert "amide-allergy" in card["detail"]
    assert "infection-at-site" in card["detail"]
    assert "anticoagulation" in card["detail"]
    assert "200 mg" in card["detail"]
    assert "confirm the sites are clear" in card["detail"]


@pytest.mark.parametrize(
    ("key", "resource", "condition"),
    [
        (
            "statements",
            {
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "704"}]},
            },
            Condition.MAOI_OR_TCA_USE,
        ),
        (
            "medications",
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "medicationCodeableConcept": {"text": "Ibuprofen 600 mg tablet"},
            },
            Condition.NSAID_USE,
        ),
        ("allergies", {"resourceType": "AllergyIntolerance", "code": {"text": "Aspirin"}}, Condition.NSAID_ALLERGY),
        (
            "conditions",
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "N18.5"}]},
            },
            Condition.ADVANCED_RENAL_IMPAIRMENT,
        ),
        ("conditions", {"resourceType": "Condition", "code": {"text": "Pregnant"}}, Condition.PREGNANCY),
        (
            "conditions",
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "K25.4"}]},
            },
            Condition.PEPTIC_ULCER,
        ),
    ],
)
def test_chart_entries_map_to_conditions(
    formulary: Formulary, key: str, resource: dict[str, Any], condition: Condition
) -> None:
    prefetch = patient_prefetch()
    prefetch[key] = bundle(resource)
    chart = read_chart(prefetch, "p1", NOW, formulary, default_tables())
    assert condition in chart.facts.get("conditions", ())


def test_resolved_or_refuted_entries_are_not_used(formulary: Formulary) -> None:
    prefetch = patient_prefetch()
    prefetch["conditions"] = bundle(
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"code": "resolved"}]},
            "code": {"text": "Cellulitis"},
        },
        {
            "resourceType": "Condition",
            "verificationStatus": {"coding": [{"code": "refuted"}]},
            "code": {"text": "Pregnant"},
        },
    )
    assert "conditions" not in read_chart(prefetch, "p1", NOW, formulary, default_tables()).facts


def test_absent_prefetch_names_every_fact_not_checked(formulary: Formulary) -> None:
    chart = read_chart({"patient": patient_prefetch()["patient"]}, "p1", NOW, formulary, default_tables())
    text = " ".join(chart.not_checked)
    for what in ("allergies", "conditions", "medication orders", "statements", "24 hours", "body weight"):
        assert what in text


def test_an_old_weight_is_flagged_and_a_recent_one_is_not(formulary: Formulary) -> None:
    old = read_chart(patient_prefetch(weighed=NOW - timedelta(days=45)), "p1", NOW, formulary, default_tables())
    fresh = read_chart(patient_prefetch(weighed=NOW - timedelta(days=5)), "p1", NOW, formulary, default_tables())
    assert any("45 days old" in c for c in old.cautions)
    assert fresh.cautions == ()


# --- the whole session -------------------------------------------------------------------------


def test_two_orders_at_60_percent_each_get_a_critical_session_card_naming_both(dev: TestClient) -> None:
    a = r4_order("tpi-a", _q(3, "mL"), sites=6)  # 180 mg = 60 % of 300 mg
    b = r4_order("tpi-b", _q(3, "mL"), sites=6)
    cards = cards_of(dev, call(a, b))
    # each alone is within limits; a warning only because the chart has no height (the lean body weight of
    # an obese patient could make 180 mg over: dosing_weight_not_assessed)
    assert [c["indicator"] for c in order_cards(cards)] == ["warning", "warning"]
    assert all("within limits" not in c["summary"] for c in order_cards(cards))
    assert all("over the maximum" in c["summary"] for c in order_cards(cards))
    session = [c for c in cards if c["summary"].startswith("TPI orders together")]
    assert len(session) == 1
    assert session[0]["indicator"] == "critical"
    assert "120 %" in session[0]["summary"]
    assert "MedicationRequest/tpi-a" in session[0]["detail"]
    assert "MedicationRequest/tpi-b" in session[0]["detail"]


def test_two_small_orders_together_under_the_limit_get_an_info_session_card(dev: TestClient) -> None:
    a, b = r4_order("a", _q(1, "mL"), sites=3), r4_order("b", _q(1, "mL"), sites=3)
    session = [c for c in cards_of(dev, call(a, b)) if c["summary"].startswith("TPI orders together")]
    assert [c["indicator"] for c in session] == ["info"]


def test_orders_near_the_limit_together_never_say_within_limits(dev: TestClient) -> None:
    a = r4_order("a", _q(2.5, "mL"), sites=5)  # 125 mg of 300
    b = r4_order("b", _q(2.5, "mL"), sites=5)  # together 250 mg: 84 %, near
    cards = cards_of(dev, call(a, b))
    (session,) = [c for c in cards if c["summary"].startswith("TPI orders together")]
    assert session["indicator"] == "warning"
    for card in order_cards(cards):
        assert "within limits" not in card["summary"]
        assert "with the session's other TPI orders near the limit" in card["summary"]


def test_a_session_of_26_orders_over_64_kib_is_checked(dev: TestClient) -> None:
    orders = [r4_order(f"o{i}", _q(0.5, "mL"), sites=2) for i in range(26)]
    for order in orders:
        order["note"] = [{"text": "x" * 4000}]
    body = call(*orders)
    assert len(json.dumps(body)) > 64 * 1024
    cards = cards_of(dev, body)
    assert len(order_cards(cards)) == 26
    session = [c for c in cards if c["summary"].startswith("TPI orders together")]
    assert session[0]["indicator"] == "warning"  # at or above the formulary's near-limit threshold (80 %)
    assert "87 %" in session[0]["summary"]  # 26 x 10 mg = 260 mg of 300 mg


# --- verdicts equal the JSON API's for the same facts --------------------------------------------

VERDICTS = [
    (
        r4_order("v1", _q(5, "mL")),
        None,
        {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "5 mL"},
        10,
        [],
    ),
    (dstu2_order("v2"), None, {"agent": "lidocaine", "concentration": "1 %", "dose_per_site": "50 mg"}, 10, []),
    (
        r4_order("v3", _q(1, "mL"), sites=2),
        "chart",
        {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "1 mL"},
        2,
        ["amide-allergy", "infection-at-site", "anticoagulation"],
    ),
    (
        r4_order("v4", _q(2, "mL"), sites=3),
        None,
        {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "2 mL"},
        3,
        [],
    ),
]


@pytest.mark.parametrize(("order", "chart", "component", "sites", "conditions"), VERDICTS, ids=lambda v: str(v)[:12])
def test_card_verdict_equals_the_json_api_for_the_same_facts(
    dev: TestClient,
    order: dict[str, Any],
    chart: str | None,
    component: dict[str, Any],
    sites: int,
    conditions: list[str],
) -> None:
    prefetch = chart_prefetch() if chart else patient_prefetch()
    card = order_cards(cards_of(dev, call(copy.deepcopy(order), prefetch=prefetch)))[0]
    request: dict[str, Any] = {
        "sites": sites,
        "components": [component],
        "patient": {
            "weight": "70 kg",
            "sex": "male",
            "age": f"{NOW.year - 1980 - (1 if (NOW.month, NOW.day) < (5, 1) else 0)} a",
            "conditions": conditions,
        },
    }
    if chart:
        request["prior_doses"] = [{"agent": "lidocaine", "dose": "200 mg"}]
    r = dev.post("/v1/mixtures", json=request)
    assert r.status_code == 200, r.text
    expected = max(
        (w["severity"] for w in r.json()["warnings"]), key=["info", "warning", "critical"].index, default="info"
    )
    assert card["indicator"] == expected


# --- FHIR output ---------------------------------------------------------------------------------


def test_an_over_limit_mixture_from_the_fhir_endpoint_carries_detected_issues(dev: TestClient) -> None:
    request = {
        "sites": 10,
        "components": [{"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "5 mL"}],
        "patient": {"weight": "70 kg"},
    }
    r = dev.post("/v1/mixtures/fhir", json=request)
    assert r.status_code == 200, r.text
    resource = r.json()
    MedicationRequest.model_validate(resource)
    issues = {c["id"]: c for c in resource["contained"] if c["resourceType"] == "DetectedIssue"}
    assert issues
    assert {ref["reference"][1:] for ref in resource["detectedIssue"]} == set(issues)
    assert "high" in {i["severity"] for i in issues.values()}
    assert any(i["code"]["coding"][0]["code"] == "max_dose_exceeded" for i in issues.values())


def test_a_mixture_within_limits_and_without_warnings_has_no_detected_issue(dev: TestClient) -> None:
    request = {
        "sites": 2,
        "components": [{"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "1 mL"}],
        "patient": {"weight": "70 kg", "age": "40 a"},
    }
    resource = dev.post("/v1/mixtures/fhir", json=request).json()
    MedicationRequest.model_validate(resource)
    assert "detectedIssue" not in resource or all(
        c["severity"] != "high" for c in resource["contained"] if c["resourceType"] == "DetectedIssue"
    )


# --- sizes and suggestions ---------------------------------------------------------------------


def test_hook_bodies_up_to_1_mib_are_read_and_larger_ones_refused(dev: TestClient) -> None:
    order = r4_order("big", _q(1, "mL"), sites=2)
    order["note"] = [{"text": "x" * (900 * 1024)}]
    assert dev.post(SIGN, json=call(order)).status_code == 200
    order["note"] = [{"text": "x" * (1100 * 1024)}]
    assert dev.post(SIGN, json=call(order)).status_code == 413
    big = {"sites": 2, "components": [{"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "1 mL"}]}
    big["padding"] = "x" * (70 * 1024)  # the JSON mixture API keeps 64 KiB
    assert dev.post("/v1/mixtures", json=big).status_code == 413


@pytest.mark.parametrize("order", [r4_order("s1", _q(5, "mL")), r4_order("s2", _q(50, "mg"))], ids=["mL", "mg"])
def test_the_suggestion_on_an_ehr_order_is_a_valid_order_under_every_limit(
    dev: TestClient, order: dict[str, Any]
) -> None:
    (card, *_) = order_cards(cards_of(dev, call(order)))
    assert card["indicator"] == "critical"
    (suggestion,) = card["suggestions"]
    updated = suggestion["actions"][0]["resource"]
    MedicationRequest.model_validate(updated)
    assert updated["id"] == order["id"]
    again = order_cards(cards_of(dev, call(updated)))
    assert again[0]["indicator"] != "critical", again[0]["summary"]
    assert "3 mL per site" in suggestion["label"]  # 300 mg / 10 sites / 10 mg/mL


def test_a_check_that_does_not_finish_in_time_answers_a_warning_not_silence(
    dev: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading as _threading

    from mixcalc.api import cds as routes
    from mixcalc.ehr import hook

    release = _threading.Event()

    def stuck(*args: Any, **kwargs: Any) -> dict[str, Any]:
        release.wait(5)
        return {"cards": []}

    monkeypatch.setattr(hook, "hook_response", stuck)  # read at the call (the routes import it then)
    monkeypatch.setattr(routes, "HOOK_SECONDS", 0.05)
    try:
        cards = cards_of(dev, call(r4_order("slow", _q(1, "mL"))))
    finally:
        release.set()
    assert [c["indicator"] for c in cards] == ["warning"]
    assert "not checked" in cards[0]["detail"]
