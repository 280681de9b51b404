"""No patient data in any log line: every fixture with patient data, sent through every route
(the ones that succeed and the ones that fail), against a real server logging at debug;
then the whole captured log (uvicorn's loggers and ours) is searched for the patient's data."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLE_REQUEST
from hostile_server import Server, running_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cds"
# Values no log line has any other reason to hold.
WEIGHT, HEIGHT, AGE = "71.37", "166.9", "47.25"
PATIENT_ID, FAMILY, GIVEN, BIRTH = "hostile7731", "Zyxwvut", "Quorra", "1979-04-13"
MARKERS = [WEIGHT, HEIGHT, AGE, PATIENT_ID, FAMILY, GIVEN, BIRTH, "pregnancy"]


def _mixture(**patient: Any) -> dict[str, Any]:
    return {
        **EXAMPLE_REQUEST,
        "patient": {
            "weight": f"{WEIGHT} kg",
            "height": f"{HEIGHT} cm",
            "sex": "female",
            "age": f"{AGE} a",
            "conditions": ["pregnancy"],
            **patient,
        },
    }


def _mark(document: Any) -> Any:
    """A CDS fixture with our patient: id, name, birth date, weight and height."""
    marked = copy.deepcopy(document)
    prefetch = marked.get("prefetch") or {}
    if "patient" in prefetch:
        prefetch["patient"].update(
            {"id": PATIENT_ID, "name": [{"family": FAMILY, "given": [GIVEN]}], "birthDate": BIRTH}
        )
    for key, value in (("weight", float(WEIGHT)), ("height", float(HEIGHT))):
        for entry in (prefetch.get(key) or {}).get("entry", []):
            entry["resource"]["valueQuantity"]["value"] = value
            entry["resource"]["subject"]["reference"] = f"Patient/{PATIENT_ID}"
    if "context" in marked:
        marked["context"]["patientId"] = PATIENT_ID
    return marked


def _hook_calls() -> list[tuple[str, dict[str, Any]]]:
    calls = []
    for path in sorted(FIXTURES.glob("order-*.json")):
        document = _mark(json.loads(path.read_text(encoding="utf-8")))
        service = "mixcalc-tpi-" + document["hook"]
        calls.append((f"/cds-services/{service}", document))
    return calls


def _bodies() -> list[tuple[str, bytes]]:
    """(path, body): each patient-bearing request, valid and broken in every way we answer."""
    sent: list[tuple[str, bytes]] = []
    mixtures = [
        _mixture(),  # 200
        _mixture(weight=f"40{WEIGHT} kg"),  # 422: out of range (the value is not echoed)
        _mixture(sex=f"{FAMILY}"),  # 422: not a sex
        {**_mixture(), "components": [{"agent": f"{GIVEN}caine", "concentration": "1 %", "volume_per_site": "1 mL"}]},
    ]
    for mixture in mixtures:
        text = json.dumps(mixture)
        for path in ("/v1/mixtures", f"/v1/mixtures/fhir?subject=Patient/{PATIENT_ID}"):
            sent.append((path, text.encode()))
            sent.append((path, text.replace('"female"', '"\\ud800"').encode()))  # 400 lone surrogate
            sent.append((path, text.replace('"sites": 6', '"sites": ' + "[" * 300 + "]" * 300).encode()))  # 400 deep
            sent.append((path, text.encode() + b"\xff"))  # 400 not UTF-8
            sent.append((path, text[:-3].encode()))  # 400 truncated
            sent.append((path, text.encode() + b" " * 70_000))  # 413
    for path, call in _hook_calls():
        text = json.dumps(call)
        sent.append((path, text.encode()))  # 200 cards
        sent.append((path, text.replace(FAMILY, "\\udc00" + FAMILY).encode()))  # 400 lone surrogate
        sent.append((path, text.replace(f'"{PATIENT_ID}"', f'"{PATIENT_ID}", "deep": ' + "[" * 40 + "]" * 40).encode()))
        sent.append((path, text.replace('"hook": ', '"hook": 7, "x": ').encode()))  # 422 not a hook call
        broken = copy.deepcopy(call)
        broken["prefetch"]["patient"]["birthDate"] = f"{BIRTH}T99"
        sent.append((path, json.dumps(broken).encode()))  # an unreadable birth date: a card, or a 4xx
    return sent


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


def test_no_patient_data_reaches_any_log_line(server: Server) -> None:
    statuses = set()
    for path, body in _bodies():
        answer = server.request("POST", path, body)
        assert answer.status != 500, (path, answer.body[:300])
        statuses.add(answer.status)
    for path in (f"/Patient/{PATIENT_ID}", f"/healthz?subject=Patient/{PATIENT_ID}", f"/v1/{FAMILY}/{BIRTH}"):
        server.request("GET", path)
    assert {200, 400, 413, 422} <= statuses, statuses  # successes and failures of every kind were sent
    log = server.log()
    assert '"POST /v1/mixtures/fhir HTTP/1.1" 200' in log  # the access log is on, and it was captured
    assert "(path withheld)" in log
    for marker in MARKERS:
        assert marker.lower() not in log.lower(), (marker, [line for line in log.splitlines() if marker in line][:3])
    assert "Traceback" not in log
    assert server.healthz_seconds() < 2.0
