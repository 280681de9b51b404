"""FHIR R4 output: every MedicationRequest we emit parses with the ``fhir.resources`` R4B
models, carries what the issue asks for, and can be read back (ours exactly, an EHR's from
its standard fields)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_REQUEST
from fastapi.testclient import TestClient
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationrequest import MedicationRequest

from mixcalc import plan_mixture
from mixcalc.ehr.codes import default_tables
from mixcalc.ehr.exact import computed
from mixcalc.ehr.jsonsafe import UCUM
from mixcalc.ehr.orders import read_order
from mixcalc.ehr.roundtrip import mixcalc_request, same_order
from mixcalc.ehr.write import RXNORM, SNOMED, medication_request
from mixcalc.formulary import Formulary
from mixcalc.schema import MixtureRequest

FIXTURES = Path(__file__).parent / "fixtures" / "cds"

REQUESTS = {
    "example": EXAMPLE_REQUEST,
    "epinephrine": {
        "sites": 4,
        "components": [
            {"agent": "lidocaine", "concentration": "1 %", "epinephrine": "1:200000", "volume_per_site": "0.8 mL"},
            {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "8 mg"},
        ],
        "patient": {"weight": "80 kg"},
    },
    "saline": {
        "sites": 3,
        "components": [
            {"agent": "lidocaine", "concentration": "2 %", "volume_per_site": "0.5 mL", "form": "preservative-free"},
            {"agent": "sodium-chloride", "volume_per_site": "1.5 mL"},
        ],
        "syringe": "10 mL",
        "dosing_weight": "ideal",
    },
}


def _resource(formulary: Formulary, name: str, **kwargs: Any) -> tuple[MixtureRequest, dict[str, Any]]:
    request = MixtureRequest.model_validate(REQUESTS[name])
    return request, medication_request(computed(request, formulary), formulary, **kwargs)


def _ingredient(resource: dict[str, Any], text: str) -> dict[str, Any]:
    medication = resource["contained"][0]
    return next(i for i in medication["ingredient"] if i["itemCodeableConcept"]["text"].lower() == text)


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_every_emitted_medication_request_parses_as_fhir_r4b(formulary: Formulary, name: str) -> None:
    _, resource = _resource(formulary, name, subject="Patient/123", order_id="o-1")
    parsed = MedicationRequest.model_validate(resource)
    assert parsed.status == "draft"
    assert parsed.intent == "order"
    assert isinstance(parsed.contained[0], Medication)
    # and without a subject reference (display only) it still parses
    MedicationRequest.model_validate(_resource(formulary, name)[1])


def test_ingredients_carry_rxnorm_only_where_the_formulary_confirms_it(formulary: Formulary) -> None:
    _, resource = _resource(formulary, "example")
    lidocaine = _ingredient(resource, "lidocaine")["itemCodeableConcept"]
    assert lidocaine["coding"] == [{"system": RXNORM, "code": "6387", "display": "lidocaine"}]
    assert "coding" not in _ingredient(resource, "bupivacaine")["itemCodeableConcept"]  # not confirmed
    assert _ingredient(resource, "triamcinolone acetonide")["itemCodeableConcept"]["coding"][0]["code"] == "10759"


def test_strength_is_the_final_concentration_in_ucum(formulary: Formulary) -> None:
    request, resource = _resource(formulary, "epinephrine")
    answer = plan_mixture(request, formulary)
    lidocaine = _ingredient(resource, "lidocaine")["strength"]
    assert lidocaine["numerator"] == {"value": answer.components[0].final_concentration.value, "unit": "mg"} | {
        "system": UCUM,
        "code": "mg",
    }
    assert lidocaine["denominator"] == {"value": 1, "unit": "mL", "system": UCUM, "code": "mL"}
    epinephrine = _ingredient(resource, "epinephrine")
    assert epinephrine["itemCodeableConcept"]["coding"][0]["code"] == "3992"  # RxNorm, CLINICAL.md section 13
    assert epinephrine["strength"]["numerator"]["code"] == "ug"
    # 0.8 mL of 1:200,000 (5 ug/mL) in 1 mL per site: 4 ug/mL
    assert epinephrine["strength"]["numerator"]["value"] == 4


def test_dosage_states_volume_sites_and_intramuscular_route(formulary: Formulary) -> None:
    request, resource = _resource(formulary, "example")
    answer = plan_mixture(request, formulary)
    dosage = resource["dosageInstruction"][0]
    assert dosage["route"]["coding"][0] == {"system": SNOMED, "code": "78421000", "display": "Intramuscular route"}
    assert dosage["timing"]["repeat"]["count"] == 6
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == answer.volume_per_site.value
    assert dosage["maxDosePerAdministration"] == dosage["doseAndRate"][0]["doseQuantity"]
    assert "6 trigger point sites" in dosage["text"]
    assert "1.25 mL" in dosage["text"]
    assert resource["dispenseRequest"]["quantity"]["value"] == 7.5


def test_note_carries_the_preparation(formulary: Formulary) -> None:
    request, resource = _resource(formulary, "example")
    answer = plan_mixture(request, formulary)
    notes = [n["text"] for n in resource["note"]]
    assert notes[0] == f"Prepare: {answer.syringes[0].label}"


def test_saline_is_an_inactive_ingredient(formulary: Formulary) -> None:
    _, resource = _resource(formulary, "saline")
    assert _ingredient(resource, "sodium chloride 0.9 %")["isActive"] is False
    assert _ingredient(resource, "lidocaine")["isActive"] is True


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_our_extensions_rebuild_the_exact_request(formulary: Formulary, name: str) -> None:
    request, resource = _resource(formulary, name)
    rebuilt = MixtureRequest.model_validate(mixcalc_request(resource))
    assert rebuilt.patient is None  # patient facts come from the EHR, not from the order
    again = rebuilt.model_copy(update={"patient": request.patient})
    assert plan_mixture(again, formulary) == plan_mixture(request, formulary)
    assert same_order(resource, medication_request(computed(again, formulary), formulary))


def test_an_edited_order_no_longer_matches_what_we_wrote(formulary: Formulary) -> None:
    _, resource = _resource(formulary, "example")
    edited = json.loads(json.dumps(resource))
    edited["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["value"] = 2
    assert not same_order(edited, resource)


def test_committed_fixture_is_our_current_output(formulary: Formulary) -> None:
    """tests/fixtures/cds/medication-request-mixcalc.json is what we emit for the README's
    example; if the output changes on purpose, write the file again."""
    _, resource = _resource(formulary, "example", subject="Patient/1288992", order_id="tpi-mixcalc-1")
    assert json.loads((FIXTURES / "medication-request-mixcalc.json").read_text()) == resource


def ordered_mixture(resource: dict[str, Any], formulary: Formulary) -> Any:
    return read_order(resource, formulary, default_tables(), {}, "order")


def test_an_ehr_order_is_read_from_its_standard_fields(formulary: Formulary) -> None:
    call = json.loads((FIXTURES / "order-sign-ehr.json").read_text())
    resource = call["context"]["draftOrders"]["entry"][0]["resource"]
    MedicationRequest.model_validate(resource)
    read = ordered_mixture(resource, formulary)
    assert read.request is not None, read.problems
    doses = {c["agent"]: c["dose_per_site"].in_(formulary_unit("mg")) for c in read.request["components"]}
    assert doses == {"lidocaine": 5, "bupivacaine": Decimal("1.25"), "triamcinolone-acetonide": 10}
    assert read.request["sites"] == 6
    assert any("stock strengths" in note for note in read.notes)


def test_epinephrine_in_an_ehr_order_is_matched_to_a_stocked_product(formulary: Formulary) -> None:
    call = json.loads((FIXTURES / "order-select-epinephrine.json").read_text())
    resource = call["context"]["draftOrders"]["entry"][2]["resource"]
    read = ordered_mixture(resource, formulary)
    assert read.request is not None, read.problems
    lidocaine = read.request["components"][0]
    # 8 mg/mL with 4 ug/mL is 1:2000 by mass: 2 % with 1:100,000 (the highest such strength)
    assert lidocaine["concentration"].in_(formulary_unit("mg/mL")) == 20
    assert lidocaine["epinephrine"].in_(formulary_unit("ug/mL")) == 10


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            lambda r: (r["dosageInstruction"][0]["timing"].pop("repeat"), r["dosageInstruction"][0].pop("text")),
            "number of sites",
        ),
        (lambda r: r["dosageInstruction"][0].pop("doseAndRate"), "dose per site"),
        (lambda r: r["contained"][0]["ingredient"][0].pop("strength"), "no strength"),
        (lambda r: r["contained"][0]["ingredient"][1]["itemCodeableConcept"].update(text="procaine"), "procaine"),
        (lambda r: r["contained"][0]["ingredient"][0]["strength"]["numerator"].update(value=50), "above its highest"),
    ],
)
def test_what_cannot_be_read_is_named(formulary: Formulary, change: Any, problem: str) -> None:
    call = json.loads((FIXTURES / "order-sign-ehr.json").read_text())
    resource = call["context"]["draftOrders"]["entry"][0]["resource"]
    change(resource)
    read = ordered_mixture(resource, formulary)
    assert read.request is None
    assert any(problem in p for p in read.problems), read.problems


def test_fhir_endpoint_answers_fhir_json(client: TestClient) -> None:
    r = client.post("/v1/mixtures/fhir?subject=Patient/abc-1", json=EXAMPLE_REQUEST)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/fhir+json")
    resource = r.json()
    MedicationRequest.model_validate(resource)
    assert resource["subject"] == {"reference": "Patient/abc-1"}


def test_fhir_endpoint_refuses_what_the_json_api_refuses(client: TestClient) -> None:
    bad = {**EXAMPLE_REQUEST, "components": [{"agent": "lidocain", "concentration": "1 %", "volume_per_site": "1 mL"}]}
    r = client.post("/v1/mixtures/fhir", json=bad)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert client.post("/v1/mixtures/fhir?subject=Practitioner/1", json=EXAMPLE_REQUEST).status_code == 422


def formulary_unit(code: str) -> Any:
    from mixcalc.units import vocabulary

    return vocabulary()[code]
