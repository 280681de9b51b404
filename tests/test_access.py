"""Access control: API keys off by default and on with one setting; CORS closed by default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import EXAMPLE_REQUEST
from fastapi.testclient import TestClient

from mixcalc.api import create_app
from mixcalc.api.settings import API_KEYS_ENV, CORS_ORIGINS_ENV, ServerLimits, Settings, SettingsError
from mixcalc.formulary import Formulary

KEY = "k3y-for-the-ward-0001"
OTHER_KEY = "k3y-for-the-ehr-0002"
EHR = "https://ehr.example.org"


@pytest.fixture(scope="module")
def keyed(formulary: Formulary) -> Iterator[TestClient]:
    settings = Settings.from_env({API_KEYS_ENV: f"{KEY}, {OTHER_KEY}", CORS_ORIGINS_ENV: EHR})
    with TestClient(create_app(formulary, settings), raise_server_exceptions=False) as client:
        yield client


def test_no_key_is_needed_by_default(client: TestClient) -> None:
    r = client.post("/v1/mixtures", json=EXAMPLE_REQUEST)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "not-a-key-at-all-000"}, {"X-API-Key": KEY[:-1]}])
def test_a_missing_or_wrong_key_is_a_401_problem(keyed: TestClient, headers: dict[str, str]) -> None:
    r = keyed.post("/v1/mixtures", json=EXAMPLE_REQUEST, headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/unauthorized")
    assert "X-API-Key" in r.json()["detail"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "70 kg" not in r.text


@pytest.mark.parametrize("key", [KEY, OTHER_KEY])
def test_any_configured_key_is_accepted(keyed: TestClient, key: str) -> None:
    r = keyed.post("/v1/mixtures", json=EXAMPLE_REQUEST, headers={"X-API-Key": key})
    assert r.status_code == 200, r.text
    assert keyed.get("/v1/formulary", headers={"X-API-Key": key}).status_code == 200


def test_the_key_is_checked_before_the_body_is_read(keyed: TestClient) -> None:
    r = keyed.post("/v1/mixtures", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401, r.text


def test_liveness_needs_no_key(keyed: TestClient) -> None:
    r = keyed.get("/healthz")
    assert r.status_code == 200, r.text
    assert keyed.get("/v1/formulary").status_code == 401


@pytest.mark.parametrize("raw", ["short", f"{KEY},tiny", "has a space in the key"])
def test_a_weak_key_stops_start_up_without_showing_it(raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({API_KEYS_ENV: raw})
    assert caught.value.setting == API_KEYS_ENV
    assert raw not in str(caught.value)


@pytest.mark.parametrize("origin", ["*", "ehr.example.org", "https://ehr.example.org/path"])
def test_a_malformed_cors_origin_stops_start_up(origin: str) -> None:
    with pytest.raises(SettingsError, match=CORS_ORIGINS_ENV):
        Settings.from_env({CORS_ORIGINS_ENV: origin})


def test_cors_is_closed_by_default(client: TestClient) -> None:
    r = client.post("/v1/mixtures", json=EXAMPLE_REQUEST, headers={"Origin": EHR})
    assert r.status_code == 200, r.text
    assert "access-control-allow-origin" not in r.headers
    preflight = client.options("/v1/mixtures", headers={"Origin": EHR, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_a_configured_origin_may_call_with_its_key(keyed: TestClient) -> None:
    preflight = keyed.options(
        "/v1/mixtures",
        headers={
            "Origin": EHR,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-api-key",
        },
    )
    assert preflight.status_code == 200, preflight.text  # a preflight carries no key
    assert preflight.headers["access-control-allow-origin"] == EHR
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    r = keyed.post("/v1/mixtures", json=EXAMPLE_REQUEST, headers={"Origin": EHR, "X-API-Key": KEY})
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == EHR


def test_another_origin_gets_no_cors_grant(keyed: TestClient) -> None:
    r = keyed.post("/v1/mixtures", json=EXAMPLE_REQUEST, headers={"Origin": "https://evil.example", "X-API-Key": KEY})
    assert "access-control-allow-origin" not in r.headers


def test_the_contract_documents_the_optional_key(keyed: TestClient) -> None:
    document = keyed.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "Required on /v1/ when the service sets MIXCALC_API_KEYS; off by default.",
    }
    operation = document["paths"]["/v1/mixtures"]["post"]
    assert operation["security"] == [{"apiKey": []}, {}]
    assert "401" in operation["responses"]


def test_the_server_limits_default_to_bounded_values() -> None:
    limits = ServerLimits.from_env({})
    assert limits == ServerLimits()
    assert (limits.header_timeout, limits.body_timeout, limits.keep_alive, limits.shutdown_grace) == (10, 10, 5, 10)
    assert (limits.max_header_bytes, limits.max_connections) == (16384, 1000)


def test_the_server_limits_are_read_from_the_environment() -> None:
    limits = ServerLimits.from_env(
        {"MIXCALC_HEADER_TIMEOUT": "2.5", "MIXCALC_SHUTDOWN_GRACE": "30", "MIXCALC_MAX_HEADER_BYTES": "8192"}
    )
    assert (limits.header_timeout, limits.shutdown_grace, limits.max_header_bytes) == (2.5, 30, 8192)
    assert limits.body_timeout == 10


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("MIXCALC_HEADER_TIMEOUT", "ten"),
        ("MIXCALC_BODY_TIMEOUT", "0"),
        ("MIXCALC_KEEP_ALIVE", "nan"),
        ("MIXCALC_SHUTDOWN_GRACE", "1e9"),
        ("MIXCALC_MAX_HEADER_BYTES", "100"),
        ("MIXCALC_MAX_CONNECTIONS", "-5"),
    ],
)
def test_a_malformed_server_limit_stops_start_up_naming_it(name: str, raw: str) -> None:
    with pytest.raises(SettingsError) as caught:
        ServerLimits.from_env({name: raw})
    assert caught.value.setting == name
