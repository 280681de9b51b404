"""The HTTP contract: status codes, problem details, and the committed OpenAPI file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_REQUEST
from fastapi.testclient import TestClient

from mixcalc import plan_mixture
from mixcalc.api.openapi import REGENERATE, formulary_schema, render, spec

ROOT = Path(__file__).resolve().parent.parent


def test_committed_openapi_matches_the_app() -> None:
    committed = (ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8")
    assert committed == render(spec()), f"openapi/openapi.json is out of date; regenerate it with: {REGENERATE}"


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [
            ref for value in node.values() for ref in _refs(value)
        ]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_every_ref_in_the_openapi_document_resolves() -> None:
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    refs = _refs(document)
    assert "#/components/schemas/Problem" in refs
    assert "#/components/schemas/ProblemItem" in refs
    unresolved = []
    for ref in set(refs):
        try:
            _resolve(document, ref)
        except (KeyError, AssertionError):
            unresolved.append(ref)
    assert unresolved == []


def test_every_problem_answer_is_described_by_the_problem_schema() -> None:
    document = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if int(status) >= 400:
                    schema = answer["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (path, method, status)


def test_committed_formulary_schema_matches_the_models() -> None:
    committed = (ROOT / "formulary" / "formulary.schema.json").read_text(encoding="utf-8")
    assert committed == render(formulary_schema()), f"formulary.schema.json is out of date; regenerate: {REGENERATE}"


def test_example_request_gives_the_documented_answer(client: TestClient) -> None:
    r = client.post("/v1/mixtures", json=EXAMPLE_REQUEST)
    assert r.status_code == 200, r.text
    body = r.json()
    by_agent = {c["agent"]: c for c in body["components"]}
    assert by_agent["lidocaine"]["total_dose"] == {"value": 30.0, "unit": "mg"}
    assert by_agent["bupivacaine"]["total_dose"] == {"value": 7.5, "unit": "mg"}
    # 10 mg/site of 40 mg/mL is 1.5 mL for 6 sites; a 10 mL syringe reads 0.2 mL steps, so
    # 1.4 mL would be 7 % short (over the 5 % draw tolerance): it is measured in a 3 mL syringe.
    assert by_agent["triamcinolone-acetonide"]["total_volume"] == {"value": 1.5, "unit": "mL"}
    assert by_agent["triamcinolone-acetonide"]["total_dose"] == {"value": 60.0, "unit": "mg"}
    (steroid,) = [d for d in body["syringes"][0]["draws"] if d["agent"] == "triamcinolone-acetonide"]
    assert steroid["measured_in"] == {
        "capacity": {"value": 3.0, "unit": "mL"},
        "graduation": {"value": 0.1, "unit": "mL"},
    }
    assert body["local_anesthetic_fraction"] == pytest.approx(30 / 300 + 7.5 / 175, abs=1e-4)
    assert body["syringes"][0]["capacity"] == {"value": 10.0, "unit": "mL"}
    assert {w["code"] for w in body["warnings"]} >= {"draw_measured_separately", "off_label_mixture"}


def test_http_answer_equals_the_python_entry_point(client: TestClient) -> None:
    r = client.post("/v1/mixtures", json=EXAMPLE_REQUEST)
    assert r.status_code == 200, r.text
    assert r.json() == json.loads(plan_mixture(EXAMPLE_REQUEST).model_dump_json())


def test_over_limit_plan_is_200_with_a_critical_warning(client: TestClient) -> None:
    body = {
        "sites": 10,
        "components": [{"agent": "lidocaine", "concentration": "2 %", "volume_per_site": "2 mL"}],
        "patient": {"weight": "50 kg"},
    }
    r = client.post("/v1/mixtures", json=body)
    assert r.status_code == 200, r.text
    critical = [w for w in r.json()["warnings"] if w["severity"] == "critical"]
    assert [w["code"] for w in critical] == ["max_dose_exceeded"], r.text


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.text
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail"} <= set(body), r.text
    assert body["status"] == status
    return body


def _with_component(**changes: Any) -> dict[str, Any]:
    component = {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "0.5 mL", **changes}
    return {"sites": 6, "components": [{k: v for k, v in component.items() if v is not None}]}


@pytest.mark.parametrize(
    ("body", "pointer", "needle"),
    [
        (_with_component(agent="lidocain"), "/components/0/agent", "did you mean 'lidocaine'"),
        (_with_component(concentration="20 %"), "/components/0/concentration", "highest stocked strength"),
        (_with_component(concentration="1 cc"), "/components/0/concentration", "write mL, not cc"),
        (_with_component(volume_per_site="5 mg"), "/components/0/volume_per_site", "expected a volume"),
        (_with_component(dose_per_site="5 mg"), "/components/0", "exactly one of volume_per_site and dose_per_site"),
        (_with_component(epinephrine="1:50000"), "/components/0/epinephrine", "no lidocaine product"),
        ({"sites": 0, "components": []}, "/sites", "greater than or equal to 1"),
        ({"sites": "6", "components": _with_component()["components"]}, "/sites", "valid integer"),
        ({**_with_component(), "extra": 1}, "/extra", "unknown field"),
        ({**_with_component(), "syringe": "7 mL"}, "/syringe", "no 7 mL syringe"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field(
    client: TestClient, body: dict[str, Any], pointer: str, needle: str
) -> None:
    problem = _problem(client.post("/v1/mixtures", json=body), 422)
    items = {item["pointer"]: item for item in problem["errors"]}
    assert pointer in items, problem
    assert needle in items[pointer]["detail"], problem


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e308", "-0.5", "0"])
def test_non_finite_or_non_positive_numbers_are_refused(client: TestClient, number: str) -> None:
    raw = (
        '{"sites": 6, "components": [{"agent": "lidocaine", "concentration": "1 %", '
        f'"volume_per_site": {{"value": {number}, "unit": "mL"}}}}]}}'
    )
    r = client.post("/v1/mixtures", content=raw.encode(), headers={"content-type": "application/json"})
    assert r.status_code in (400, 422), r.text
    if r.status_code == 422:
        assert _problem(r, 422)["errors"][0]["pointer"] == "/components/0/volume_per_site"


def test_unknown_agent_suggests_the_nearest_id(client: TestClient) -> None:
    problem = _problem(client.post("/v1/mixtures", json=_with_component(agent="bupivicaine")), 422)
    assert problem["suggestion"] == "bupivacaine"
    assert problem["errors"][0]["value"] == "bupivicaine"


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post("/v1/mixtures", content=b'{"sites": 6,', headers={"content-type": "application/json"})
    _problem(r, 400)


@pytest.mark.parametrize(
    ("raw", "status", "slug"),
    [
        (b"", 400, "empty-body"),
        (b"sites=6&components=lidocaine", 400, "malformed-json"),
        (b'{"sites": "\xc3\x28"}', 400, "invalid-encoding"),
        (b"\xff\xfe{}", 400, "invalid-encoding"),  # a UTF-16 byte order mark: not UTF-8
        (b"[]", 422, "invalid-request"),
        (b"null", 422, "invalid-request"),
        (b'{"sites": 6, "components": "lidocaine 1 %"}', 422, "invalid-request"),
    ],
)
def test_bodies_that_are_not_a_mixture_get_a_specific_problem(
    client: TestClient, raw: bytes, status: int, slug: str
) -> None:
    r = client.post("/v1/mixtures", content=raw, headers={"content-type": "application/json"})
    assert _problem(r, status)["type"].endswith("/" + slug), r.text


def test_a_duplicate_agent_is_a_problem_pointing_at_the_second(client: TestClient) -> None:
    component = _with_component()["components"][0]
    r = client.post("/v1/mixtures", json={"sites": 6, "components": [component, component]})
    problem = _problem(r, 422)
    assert problem["type"].endswith("/duplicate-agent")
    assert problem["errors"][0]["pointer"] == "/components/1/agent"


@pytest.mark.parametrize("path", ["/v1/mixtures", "/v1/mixtures/fhir"])
def test_wrong_content_type_is_415(client: TestClient, path: str) -> None:
    r = client.post(path, content=b"sites=6", headers={"content-type": "application/x-www-form-urlencoded"})
    _problem(r, 415)


def test_oversized_body_is_413(client: TestClient) -> None:
    r = client.post("/v1/mixtures", content=b" " * (65 * 1024), headers={"content-type": "application/json"})
    _problem(r, 413)


def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    _problem(client.get("/v2/nothing"), 404)


def test_patient_values_are_never_echoed(client: TestClient) -> None:
    body = {**_with_component(), "patient": {"weight": "987 kg", "height": "17 cm", "age": "140 a"}}
    problem = _problem(client.post("/v1/mixtures", json=body), 422)
    text = json.dumps(problem)
    for secret in ("987", "17 cm", "140"):
        assert secret not in text, text
    assert {i["pointer"] for i in problem["errors"]} == {"/patient/weight", "/patient/height", "/patient/age"}


def test_implausible_measurements_are_named_without_their_values(client: TestClient) -> None:
    """Each value is within its own range, together they are not (BMI 3.3): the answer says
    which facts to check, never what they were."""
    body = {**_with_component(), "patient": {"weight": "20.7 kg", "height": "249 cm"}}
    problem = _problem(client.post("/v1/mixtures", json=body), 422)
    text = json.dumps(problem)
    for secret in ("20.7", "249", "3.3"):
        assert secret not in text, text
    assert problem["type"].endswith("/implausible-patient")
    assert problem["errors"][0]["detail"] == "the weight and the height give a BMI outside 10 to 100: check both"


def test_formulary_endpoint_lists_agents_limits_and_sources(client: TestClient) -> None:
    r = client.get("/v1/formulary")
    assert r.status_code == 200, r.text
    body = r.json()
    lidocaine = next(a for a in body["agents"] if a["id"] == "lidocaine")
    assert lidocaine["max_dose"]["plain"]["cap"]["value"] == {"value": 300.0, "unit": "mg"}
    assert lidocaine["max_dose"]["plain"]["cap"]["source"] == ["S1", "S2"]
    assert "Xylocaine" in body["sources"]["S1"]["citation"]
    assert body["name"]
    assert body["version"]


def test_security_headers_on_every_response(client: TestClient) -> None:
    for r in (client.get("/healthz"), client.get("/nowhere"), client.post("/v1/mixtures", json={})):
        assert r.headers["x-content-type-options"] == "nosniff", r.headers
        assert r.headers["cache-control"] == "no-store"


def test_logs_carry_no_request_body_or_patient_data(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    body = {**_with_component(), "patient": {"weight": "83.7 kg", "height": "171.3 cm", "age": "57 a"}}
    assert client.post("/v1/mixtures", json=body).status_code == 200
    bad = {**_with_component(), "patient": {"weight": "483.7 kg"}}
    assert client.post("/v1/mixtures", json=bad).status_code == 422
    for secret in ("83.7", "171.3", "57 a", "483.7", "lidocaine"):
        assert secret not in caplog.text, caplog.text


def test_an_unexpected_failure_is_a_bare_500_problem(
    formulary: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from mixcalc.api import create_app, routes

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("weight 83.7 kg leaked")

    monkeypatch.setattr(routes, "plan_mixture_json", broken)
    with TestClient(create_app(formulary), raise_server_exceptions=False) as broken_client:
        r = broken_client.post("/v1/mixtures", json=_with_component())
    problem = _problem(r, 500)
    assert "83.7" not in r.text
    assert "Traceback" not in r.text
    assert problem["title"] == "Internal error"
    assert "83.7" not in caplog.text
    assert "RuntimeError on POST /v1/mixtures," in caplog.text  # the route is named in the log line
