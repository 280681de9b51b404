"""Hostile bodies on every JSON route of a real server: each is a named 400/413 problem with
the security headers, never a 500, and the server stays quick."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from conftest import EXAMPLE_REQUEST
from hostile_server import (
    SECURITY_HEADERS,
    Server,
    post_head,
    raw_body,
    raw_headers,
    read_all,
    running_server,
    status_of,
)

JSON_ROUTES = [
    "/v1/mixtures",
    "/v1/mixtures/fhir",
    "/cds-services/mixcalc-tpi-order-sign",
    "/cds-services/mixcalc-tpi-order-select/feedback",
]
DEEP = b'{"sites": 6, "components": ' + b"[" * 486 + b"]" * 486 + b"}"
ATTACKS = [
    pytest.param(DEEP, "json-too-deep", id="486-nested-brackets"),
    pytest.param(b'{"a": ' + b'{"b": ' * 40 + b"1" + b"}" * 40 + b"}", "json-too-deep", id="41-nested-objects"),
    pytest.param(b'{"sites": 6, "note": "\\ud800"}', "invalid-unicode", id="lone-high-surrogate"),
    pytest.param(b'{"sites": 6, "\\udfff": 1}', "invalid-unicode", id="lone-low-surrogate-in-a-key"),
    pytest.param(b'{"sites": ' + b"9" * 4000 + b"}", "number-out-of-range", id="4000-digit-number"),
    pytest.param(b'{"sites": 1e400}', "number-out-of-range", id="beyond-a-double"),
    pytest.param(b'{"sites": NaN}', "malformed-json", id="NaN"),
    pytest.param(b'{"sites": -Infinity}', "malformed-json", id="Infinity"),
    pytest.param(b'{"sites": "\xc3\x28"}', "invalid-encoding", id="not-utf-8"),
    pytest.param(b'{"sites": 6,', "malformed-json", id="truncated"),
    pytest.param(b'{"sites": 2, "components": [], "sites": 20}', "duplicate-key", id="a-key-named-twice"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


def _assert_problem(status: int, headers: dict[str, str], body: bytes, expected: int, slug: str) -> None:
    assert status == expected, body[:300]
    assert headers["content-type"] == "application/problem+json", headers
    for name in SECURITY_HEADERS:
        assert name in headers, (name, headers)
    assert json.loads(body)["type"].endswith("/" + slug), body[:300]


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize(("body", "slug"), ATTACKS)
def test_a_hostile_json_body_is_a_named_400_on_every_route(server: Server, path: str, body: bytes, slug: str) -> None:
    answer = server.request("POST", path, body)
    _assert_problem(answer.status, answer.headers, answer.body, 400, slug)
    assert server.healthz_seconds() < 2.0


def test_a_duplicate_key_problem_names_its_field_but_not_its_values(server: Server) -> None:
    without_patient = {key: value for key, value in EXAMPLE_REQUEST.items() if key != "patient"}
    body = json.dumps(without_patient)[:-1].encode() + b', "patient": {"weight": "70 kg", "weight": "7 kg"}}'
    answer = server.request("POST", "/v1/mixtures", body)
    _assert_problem(answer.status, answer.headers, answer.body, 400, "duplicate-key")
    assert answer.json()["errors"] == [{"pointer": "/patient/weight", "detail": answer.json()["detail"]}]
    assert b"70 kg" not in answer.body
    assert b"7 kg" not in answer.body


def test_a_lone_surrogate_problem_names_its_field_but_not_its_value(server: Server) -> None:
    body = json.dumps({**EXAMPLE_REQUEST, "patient": {"weight": "70 kg", "sex": "\ud800"}}).encode()
    answer = server.request("POST", "/v1/mixtures", body)
    _assert_problem(answer.status, answer.headers, answer.body, 400, "invalid-unicode")
    assert answer.json()["errors"] == [{"pointer": "/patient/sex", "detail": answer.json()["detail"]}]
    assert b"70 kg" not in answer.body


def test_a_paired_surrogate_escape_is_an_ordinary_character(server: Server) -> None:
    body = json.dumps({**EXAMPLE_REQUEST, "syringe": "\U0001f489"}).encode()  # json.dumps writes \ud83d\udc89
    assert b"\\ud83d\\udc89" in body
    answer = server.request("POST", "/v1/mixtures", body)
    assert answer.status == 422, answer.body  # not a syringe we know: the ordinary validation answers
    assert answer.json()["type"].endswith("/invalid-request") or answer.json()["type"].endswith("/unknown-syringe")


@pytest.mark.parametrize(
    ("path", "size"), [("/v1/mixtures", 10_000_000), ("/cds-services/mixcalc-tpi-order-sign", 2_000_000)]
)
def test_urllib_with_a_large_body_reads_the_413_not_a_reset(server: Server, path: str, size: int) -> None:
    answer = server.request("POST", path, b"[" + b" " * (size - 2) + b"]")  # urllib sends Connection: close
    _assert_problem(answer.status, answer.headers, answer.body, 413, "request-body-too-large")
    assert server.healthz_seconds() < 2.0


def test_the_cds_routes_take_bodies_up_to_1_mib(server: Server) -> None:
    body = b'{"padding": "' + b"x" * 900_000 + b'"}'
    answer = server.request("POST", "/cds-services/mixcalc-tpi-order-sign", body)
    assert answer.status == 422, answer.body[:300]  # read and refused as not a CDS Hooks call, not as too large
    assert server.request("POST", "/v1/mixtures", body).status == 413


def test_a_chunked_body_over_the_limit_is_a_413_and_the_connection_closes(server: Server) -> None:
    chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"
    with server.connect() as sock:
        sock.sendall(post_head("/v1/mixtures", None) + chunk * 12 + b"0\r\n\r\n")
        raw, _, ending = read_all(sock)
    assert status_of(raw) == 413, raw[:300]
    assert raw_body(raw)["type"] == "https://mixcalc.example/problems/request-body-too-large"
    assert raw_headers(raw)["connection"] == "close"
    assert ending == "closed"


def test_a_keep_alive_connection_is_closed_after_an_early_413(server: Server) -> None:
    follow_up = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n"
    with server.connect() as sock:
        sock.sendall(post_head("/v1/mixtures", 100_000) + b" " * 100_000 + follow_up)
        raw, _, ending = read_all(sock)
    assert status_of(raw) == 413, raw[:300]
    assert raw.count(b"HTTP/1.1 ") == 1, raw  # the request after it is not answered on this connection
    assert raw_headers(raw)["connection"] == "close"
    assert ending == "closed"


def test_a_body_that_is_not_json_is_a_415_on_the_mixture_routes(server: Server) -> None:
    answer = server.request("POST", "/v1/mixtures", b"sites=6", headers={"content-type": "text/plain"})
    _assert_problem(answer.status, answer.headers, answer.body, 415, "unsupported-media-type")
