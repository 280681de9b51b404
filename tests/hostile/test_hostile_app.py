"""The app's own defences, in process: the one outermost handler, the log filters, the docs pages."""

from __future__ import annotations

import logging
import sys

import pytest
from fastapi.testclient import TestClient

from mixcalc.api import create_app
from mixcalc.api.server import RedactedAccess, WithoutTraceback, log_config
from mixcalc.formulary import Formulary

PATIENT_TEXT = "weight 71.37 kg, pregnancy"


@pytest.fixture(scope="module")
def failing(formulary: Formulary) -> TestClient:
    app = create_app(formulary)

    @app.get("/v1/boom/{item}")
    async def boom(item: str) -> None:
        try:
            raise ValueError(PATIENT_TEXT)
        except ValueError as inner:
            raise RuntimeError(f"while reading {PATIENT_TEXT}") from inner

    return TestClient(app, raise_server_exceptions=False)


def test_an_unexpected_failure_is_the_500_problem_with_security_headers(
    failing: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        r = failing.get("/v1/boom/x?subject=Patient/1")
    assert r.status_code == 500, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" in r.headers
    problem = r.json()
    assert problem["type"] == "https://mixcalc.example/problems/internal-error"
    assert problem["instance"].startswith("urn:uuid:")
    assert PATIENT_TEXT not in r.text
    request_id = problem["instance"].removeprefix("urn:uuid:")
    lines = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(lines) == 1, [record.getMessage() for record in lines]
    message = lines[0].getMessage()
    assert message == f"internal-error: RuntimeError on GET /v1/boom/{{item}}, request {request_id}"
    assert lines[0].exc_info is None
    assert all(PATIENT_TEXT not in record.getMessage() for record in caplog.records)


def test_a_head_request_answers_the_get_headers_without_a_body(client: TestClient) -> None:
    r = client.head("/healthz")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) > 0
    assert client.head("/v1/mixtures").status_code == 405  # GET is not served there either


def test_a_trailing_slash_is_not_redirected(client: TestClient) -> None:
    r = client.get("/healthz/", headers={"host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 404
    assert "location" not in r.headers


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_docs_pages_are_off_and_the_document_is_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404
    assert client.get("/openapi.json").status_code == 200


def _record(msg: str, args: tuple[object, ...] | None, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, msg, args, info)


ACCESS = '%s - "%s %s HTTP/%s" %d'


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/v1/mixtures/fhir?subject=Patient/1288992", "/v1/mixtures/fhir"),
        ("/healthz", "/healthz"),
        ("/cds-services/mixcalc-tpi-order-sign/feedback", "/cds-services/mixcalc-tpi-order-sign/feedback"),
        ("/Patient/Jane-Doe-1981", "(path withheld)"),
        ("/static/page.js?x=1", "/static/page.js"),
    ],
)
def test_the_access_log_drops_query_strings_and_unknown_paths(path: str, shown: str) -> None:
    record = _record(ACCESS, ("127.0.0.1:5000", "POST", path, "1.1", 200))
    assert RedactedAccess().filter(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "POST {shown} HTTP/1.1" 200'


def test_a_record_with_a_traceback_keeps_only_the_exception_class() -> None:
    try:
        raise ValueError(PATIENT_TEXT)
    except ValueError:
        record = _record("Exception in ASGI application\n", None, sys.exc_info()[1])
    assert WithoutTraceback().filter(record)
    formatted = logging.Formatter().format(record)
    assert formatted == "Exception in ASGI application (ValueError; traceback withheld)"
    assert PATIENT_TEXT not in formatted


def test_a_record_without_a_traceback_is_unchanged() -> None:
    record = _record("Started server process [%d]", (42,))
    assert WithoutTraceback().filter(record)
    assert record.getMessage() == "Started server process [42]"


def test_every_log_handler_of_the_server_filters() -> None:
    config = log_config("debug")
    assert config["handlers"]["access"]["filters"] == ["redacted_access", "without_traceback"]
    assert config["handlers"]["default"]["filters"] == ["without_traceback"]
    assert config["loggers"]["mixcalc"]["handlers"] == ["default"]
