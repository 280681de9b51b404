"""``POST /v1/mixtures`` is served by a plain ASGI endpoint matched first (issue 15); the
FastAPI route behind it documents the operation.  The law here: the plain endpoint answers
every body, valid or not, with the status, headers and bytes the FastAPI route gave."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from strategies import json_values, less_tidy_mixtures, mixtures

from mixcalc.api import create_app
from mixcalc.api.routes import MixturesEndpoint, read_mixture
from mixcalc.formulary import Formulary


@pytest.fixture(scope="module")
def apps(formulary: Formulary) -> Iterator[tuple[TestClient, TestClient]]:
    """(the service as served, the same app with the plain endpoint taken away)."""
    served = create_app(formulary)
    reference = create_app(formulary)
    first = reference.router.routes[0]
    assert isinstance(getattr(first, "app", None), MixturesEndpoint)
    del reference.router.routes[0]
    with (
        TestClient(served, raise_server_exceptions=False) as plain,
        TestClient(reference, raise_server_exceptions=False) as documented,
    ):
        yield plain, documented


def _same_answer(apps: tuple[TestClient, TestClient], body: bytes, content_type: str | None) -> None:
    plain, documented = apps
    headers = {} if content_type is None else {"content-type": content_type}
    ours = plain.post("/v1/mixtures", content=body, headers=headers)
    theirs = documented.post("/v1/mixtures", content=body, headers=headers)
    assert ours.status_code == theirs.status_code, (ours.text, theirs.text)
    assert ours.content == theirs.content
    assert ours.headers.raw == theirs.headers.raw


def test_the_plain_endpoint_is_matched_first_and_the_fastapi_route_documents_it(formulary: Formulary) -> None:
    app = create_app(formulary)
    assert isinstance(getattr(app.router.routes[0], "app", None), MixturesEndpoint)
    documented = [r for r in app.router.routes if isinstance(r, APIRoute) and r.path == "/v1/mixtures"]
    assert len(documented) == 1
    assert "/v1/mixtures" in app.openapi()["paths"]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (b" ", "application/json"),
        (b"\x0c", "application/json"),
        (b"null", "application/json"),
        (b"[]", "application/json"),
        (b"1", "application/json"),
        (b'"mixture"', "application/json"),
        (b"{}", "application/json"),
        (b'{"sites": 6', "application/json"),
        (b'{"sites": "6", "components": []}', "application/json"),
        (b'{"sites": 6, "components": [{"agent": "lidocaine"}], "extra": 1}', "application/json"),
        (json.dumps({"sites": 6, "components": [{"agent": "lidocaine", "concentration": "1 %"}]}).encode(), None),
        (b'{"sites": 2, "components": [{}]}', "application/merge-patch+json"),
        (b'{"sites": 2, "components": [{}]}', "application/json; charset=utf-8"),
        (b'{"sites": 2, "components": [{}]}', "APPLICATION/JSON"),
        (b'{"sites": 2, "components": [{}]}', "application/x/y+json"),
        (b'{"sites": 2, "components": [{}]}', "text/plain"),
        (b'{"sites": 2, "components": [{}]}', "application/json-seq"),
    ],
)
def test_bodies_of_every_kind_get_the_fastapi_routes_answer(
    apps: tuple[TestClient, TestClient], body: bytes, content_type: str | None
) -> None:
    _same_answer(apps, body, content_type)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_other_methods_get_the_fastapi_routes_405(apps: tuple[TestClient, TestClient], method: str) -> None:
    plain, documented = apps
    ours, theirs = plain.request(method, "/v1/mixtures"), documented.request(method, "/v1/mixtures")
    assert ours.status_code == 405, ours.text
    assert (ours.content, ours.headers.raw) == (theirs.content, theirs.headers.raw)


def test_a_trailing_slash_is_not_the_route(apps: tuple[TestClient, TestClient]) -> None:
    plain, _ = apps
    assert plain.post("/v1/mixtures/", json={}).status_code == 404


def _paths(value: Any, at: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    yield at
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*at, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _paths(item, (*at, n))


@st.composite
def damaged_mixtures(draw: st.DrawFn) -> dict[str, Any]:
    """A mixture of :func:`strategies.mixtures` with one member replaced by any JSON value,
    or an unknown member added."""
    request = draw(mixtures(with_prior_doses=draw(st.booleans())))
    damaged = copy.deepcopy(request)
    path = draw(st.sampled_from([p for p in _paths(damaged) if p]))
    holder: Any = damaged
    for step in path[:-1]:
        holder = holder[step]
    if draw(st.booleans()):
        holder[path[-1]] = draw(json_values())
    elif isinstance(holder, dict):
        holder[draw(st.text(max_size=8))] = draw(json_values())
    return damaged


@given(body=st.one_of(less_tidy_mixtures(), damaged_mixtures(), json_values()))
@example(body={"sites": 6, "components": [{"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "0"}]})
@example(body={"sites": True, "components": [], "patient": {"weight": "-1 kg"}})
def test_random_bodies_get_the_fastapi_routes_answer(apps: tuple[TestClient, TestClient], body: Any) -> None:
    _same_answer(apps, json.dumps(body, allow_nan=True).encode(), "application/json")


def test_without_the_guards_document_the_endpoint_parses_the_body_itself() -> None:
    component = {"agent": "lidocaine", "concentration": "1 %", "dose_per_site": "5 mg"}
    body = json.dumps({"sites": 6, "components": [component]})
    alone = read_mixture(body.encode(), b"application/json")
    assert alone == read_mixture(body.encode(), b"application/json", json.loads(body))
    with pytest.raises(RequestValidationError) as refused:
        read_mixture(b"{", b"application/json")
    assert [e["type"] for e in refused.value.errors()] == ["json_invalid"]
