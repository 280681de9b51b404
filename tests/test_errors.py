"""One error hierarchy and one problem builder (issue 15).

* every exception class mixcalc defines is a :class:`MixcalcError`, found by walking the
  package, and the tree drawn in ``mixcalc/errors.py`` is the real one;
* each error keeps its facts as attributes and builds its message from them; no value
  that may be the patient's reaches the message (or ``repr``), which may reach a log;
* each error class in the table is answered as the table says, and every problem the
  service sends, whoever sends it, is the one builder's serialisation of its document.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import EXAMPLE_REQUEST
from fastapi.testclient import TestClient
from hypothesis import example, given
from strategies import implausible_patients

import mixcalc
from mixcalc import plan_mixture
from mixcalc.api import create_app
from mixcalc.api.problems import PROBLEM_TYPES, problem, problem_for, render
from mixcalc.api.server import _raw_problem
from mixcalc.api.settings import Settings, digest
from mixcalc.cli import UsageError
from mixcalc.errors import (
    BodyRefused,
    CdsAuthError,
    CdsAuthUnavailable,
    ComponentNotComputable,
    ConcentrationNotStocked,
    DuplicateAgent,
    EpinephrineNotStocked,
    FormularyError,
    ImplausiblePatient,
    KeyRefused,
    KeysUnavailable,
    MixcalcError,
    PlanError,
    QuantityError,
    Replayed,
    SettingsError,
    SiteDoesNotFit,
    StoreUnavailable,
    UnknownAgent,
    UnknownService,
    UnknownSyringe,
    about_patient,
)
from mixcalc.formulary import Formulary, Misplaced
from mixcalc.units import Dimension, parse_quantity

# --- the hierarchy -----------------------------------------------------------------------------


def _modules() -> Iterator[Any]:
    yield mixcalc
    for info in pkgutil.walk_packages(mixcalc.__path__, prefix="mixcalc."):
        yield importlib.import_module(info.name)


def _exception_classes() -> dict[str, type[BaseException]]:
    """Every exception class defined in a mixcalc module, by name."""
    found: dict[str, type[BaseException]] = {}
    for module in _modules():
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                assert value.__name__ not in found, f"two exception classes named {value.__name__}"
                found[value.__name__] = value
    return found


def test_the_walk_finds_the_errors_defined_outside_errors_py() -> None:
    found = _exception_classes()
    assert found["Misplaced"] is Misplaced
    assert found["UsageError"] is UsageError
    assert len(found) >= 23, sorted(found)


def test_every_exception_class_in_the_package_is_a_mixcalc_error() -> None:
    outside = sorted(name for name, cls in _exception_classes().items() if not issubclass(cls, MixcalcError))
    assert outside == []


def _drawn_tree() -> dict[str, str]:
    """The tree drawn in ``mixcalc/errors.py``'s docstring, as ``{class: parent}``."""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in (mixcalc.errors.__doc__ or "").splitlines():
        found = re.match(r"^( *)(?:[|+ -]*?\+-- )?([A-Z][A-Za-z]+)(?:\s|$)", line)
        if found is None or not ("+-- " in line or found.group(2) == "MixcalcError"):
            continue
        column = line.index(found.group(2))
        while stack and stack[-1][0] >= column:
            stack.pop()
        if stack:
            parents[found.group(2)] = stack[-1][1]
        stack.append((column, found.group(2)))
    return parents


def test_the_tree_drawn_in_errors_py_is_the_real_hierarchy() -> None:
    drawn = _drawn_tree()
    real = {
        name: next(base.__name__ for base in cls.__bases__ if issubclass(base, MixcalcError))
        for name, cls in _exception_classes().items()
        if cls is not MixcalcError
    }
    assert drawn == real


def test_quantity_and_formulary_faults_stay_value_errors_for_pydantic() -> None:
    assert issubclass(QuantityError, ValueError)
    assert issubclass(Misplaced, ValueError)


# --- facts and messages ------------------------------------------------------------------------

#: One instance of every error class, the facts it keeps and the message they make.
FACTS: list[tuple[MixcalcError, dict[str, object], str]] = [
    (
        FormularyError("site.toml", "agents[0:lidocaine].max_dose", "unknown key"),
        {"path": "site.toml", "key": "agents[0:lidocaine].max_dose", "problem": "unknown key"},
        "site.toml: agents[0:lidocaine].max_dose: unknown key",
    ),
    (
        FormularyError("site.toml", "", "not valid TOML"),
        {"key": ""},
        "site.toml: (top level): not valid TOML",
    ),
    (
        SettingsError("MIXCALC_API_KEYS", "key 2 must be at least 16 visible ASCII characters"),
        {"setting": "MIXCALC_API_KEYS", "problem": "key 2 must be at least 16 visible ASCII characters"},
        "MIXCALC_API_KEYS: key 2 must be at least 16 visible ASCII characters",
    ),
    (
        Misplaced("groups[0:amide]", "duplicate group id 'amide'"),
        {"key": "groups[0:amide]"},
        "duplicate group id 'amide'",
    ),
    (UsageError("give --sites"), {"problem": "give --sites"}, "give --sites"),
    (
        QuantityError("70 kgs", "unknown unit 'kgs'"),
        {"value": "70 kgs", "reason": "unknown unit 'kgs'"},
        "unknown unit 'kgs'",
    ),
    (
        PlanError("/components/0", {"agent": "x"}, "cannot be prepared"),
        {"pointer": "/components/0", "value": {"agent": "x"}, "detail": "cannot be prepared", "about_patient": False},
        "/components/0: cannot be prepared",
    ),
    (
        UnknownAgent("/components/0/agent", "lidocain", ["lidocaine", "bupivacaine"]),
        {"agent": "lidocain", "known": ("bupivacaine", "lidocaine"), "suggestion": "lidocaine", "value": "lidocain"},
        "/components/0/agent: 'lidocain' is not in the formulary; did you mean 'lidocaine'? "
        "Known agents: bupivacaine, lidocaine",
    ),
    (
        UnknownAgent("/components/0/agent", "xylitol", ["lidocaine"]),
        {"suggestion": None},
        "/components/0/agent: 'xylitol' is not in the formulary Known agents: lidocaine",
    ),
    (
        UnknownSyringe("/syringe", "7 mL", ["3 mL", "5 mL", "10 mL"]),
        {"capacity": "7 mL", "known": ("3 mL", "5 mL", "10 mL")},
        "/syringe: no 7 mL syringe in the formulary; syringes: 3 mL, 5 mL, 10 mL",
    ),
    (
        ConcentrationNotStocked("/components/0/concentration", "lidocaine", "20 %", "2 %"),
        {"agent": "lidocaine", "concentration": "20 %", "highest": "2 %", "value": "20 %"},
        "/components/0/concentration: lidocaine 20 % is above the highest stocked strength (2 %); "
        "a concentrate is never injected",
    ),
    (
        EpinephrineNotStocked("/components/0/epinephrine", "lidocaine", "1:50000", ["1 % with 1:100000"]),
        {"epinephrine": "1:50000", "available": ("1 % with 1:100000",)},
        "/components/0/epinephrine: the formulary has no lidocaine product with epinephrine 1:50000; "
        "products: 1 % with 1:100000",
    ),
    (
        EpinephrineNotStocked("/components/0/epinephrine", "ropivacaine", "1:200000", []),
        {"available": ()},
        "/components/0/epinephrine: the formulary has no ropivacaine product with epinephrine 1:200000",
    ),
    (
        ComponentNotComputable("/components/1/dose_per_site", "5 mg", "a diluent has no dose"),
        {"pointer": "/components/1/dose_per_site"},
        "/components/1/dose_per_site: a diluent has no dose",
    ),
    (
        DuplicateAgent("/components/1/agent", "lidocaine"),
        {"agent": "lidocaine", "value": "lidocaine"},
        "/components/1/agent: 'lidocaine' appears more than once; give one component per agent",
    ),
    (
        SiteDoesNotFit("/components", "19 mL", "one site takes 19 mL, more than a 3 mL syringe holds"),
        {"value": "19 mL"},
        "/components: one site takes 19 mL, more than a 3 mL syringe holds",
    ),
    (
        ImplausiblePatient("/patient", {"weight": "20 kg"}, "weight 20 kg and height 250 cm give a BMI of 3.2"),
        {"about_patient": True, "value": {"weight": "20 kg"}},
        "/patient: Implausible patient measurements",
    ),
    (
        BodyRefused("json-too-deep", "JSON nested too deeply", "arrays and objects nest more than 32 levels deep"),
        {"slug": "json-too-deep", "title": "JSON nested too deeply", "pointer": None},
        "json-too-deep: arrays and objects nest more than 32 levels deep",
    ),
    (
        UnknownService("nope", ["mixcalc-tpi-order-select", "mixcalc-tpi-order-sign"]),
        {"service_id": "nope", "known": ("mixcalc-tpi-order-select", "mixcalc-tpi-order-sign")},
        "no CDS service 'nope'; services: mixcalc-tpi-order-select, mixcalc-tpi-order-sign",
    ),
    (CdsAuthError("the token has expired"), {"reason": "the token has expired"}, "the token has expired"),
    (CdsAuthUnavailable("Redis did not answer"), {"reason": "Redis did not answer"}, "Redis did not answer"),
    (KeyRefused("its use is not sig"), {"problem": "its use is not sig"}, "its use is not sig"),
    (KeysUnavailable("the key set is not JSON"), {"reason": "the key set is not JSON"}, "the key set is not JSON"),
    (Replayed(), {}, "the token's jti was already accepted"),
    (StoreUnavailable("too many tokens"), {"reason": "too many tokens"}, "too many tokens"),
]


def test_every_error_class_has_a_facts_case() -> None:
    assert {type(error) for error, _, _ in FACTS} == set(_exception_classes().values()) - {MixcalcError}


@pytest.mark.parametrize(
    ("error", "facts", "message"), FACTS, ids=lambda v: type(v).__name__ if isinstance(v, Exception) else ""
)
def test_each_error_keeps_its_facts_and_builds_its_message_from_them(
    error: MixcalcError, facts: dict[str, object], message: str
) -> None:
    for name, value in facts.items():
        assert getattr(error, name) == value, name
    assert str(error) == message
    assert repr(error) == f"{type(error).__name__}({message!r})"
    assert error.args == ()  # the facts travel as attributes only


def test_a_quantity_error_shows_its_value_only_when_asked() -> None:
    with pytest.raises(QuantityError) as caught:
        parse_quantity("70 kgs", expect=Dimension.MASS)
    assert "70" not in str(caught.value)
    assert "70" not in repr(caught.value)
    assert caught.value.with_value() == f"'70 kgs': {caught.value.reason}"
    long = QuantityError("9" * 80 + " mg", "is too long to be a quantity")
    assert long.with_value() == "'" + "9" * 56 + "...: is too long to be a quantity"


@pytest.mark.parametrize(
    ("pointer", "patient"),
    [
        ("/patient", True),
        ("/patient/weight", True),
        ("/patients", False),
        ("/components/0/patient", False),
        ("", False),
    ],
)
def test_about_patient_is_the_patient_object_and_below_it(pointer: str, patient: bool) -> None:
    assert about_patient(pointer) is patient


@given(patient=implausible_patients())
@example(patient={"weight": "20 kg", "height": "250 cm"})
def test_an_implausible_patient_error_carries_no_measurement_in_its_message(patient: dict[str, str]) -> None:
    with pytest.raises(ImplausiblePatient) as caught:
        plan_mixture({**EXAMPLE_REQUEST, "patient": patient})
    error = caught.value
    assert not re.search(r"[0-9]", str(error) + repr(error)), error
    # what to check, never the values (the same sentence for every patient)
    assert error.detail == "the weight and the height give a BMI outside 10 to 100: check both"


def test_no_log_line_carries_the_patient_measurements(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    client = TestClient(create_app(), raise_server_exceptions=False)
    r = client.post("/v1/mixtures", json={**EXAMPLE_REQUEST, "patient": {"weight": "20.3 kg", "height": "247.9 cm"}})
    assert r.status_code == 422, r.text
    assert "20.3" not in caplog.text
    assert "247.9" not in caplog.text


# --- the problem builder -----------------------------------------------------------------------

_TYPE = "https://mixcalc.example/problems/"
_AGENT = "/components/0/agent"

#: One error of every class in the table and the problem it is answered with.
ANSWERS: list[tuple[MixcalcError, int, dict[str, object], dict[str, str]]] = [
    (
        UnknownAgent(_AGENT, "lidocain", ["lidocaine"]),
        422,
        {
            "type": _TYPE + "unknown-agent",
            "title": "Unknown agent",
            "status": 422,
            "detail": "'lidocain' is not in the formulary; did you mean 'lidocaine'? Known agents: lidocaine",
            "errors": [
                {
                    "pointer": _AGENT,
                    "detail": "'lidocain' is not in the formulary; did you mean 'lidocaine'? Known agents: lidocaine",
                    "value": "lidocain",
                }
            ],
            "suggestion": "lidocaine",
        },
        {},
    ),
    (
        UnknownSyringe("/syringe", "7 mL", ["10 mL"]),
        422,
        {
            "type": _TYPE + "unknown-syringe",
            "title": "Unknown syringe",
            "status": 422,
            "detail": "no 7 mL syringe in the formulary; syringes: 10 mL",
            "errors": [
                {"pointer": "/syringe", "detail": "no 7 mL syringe in the formulary; syringes: 10 mL", "value": "7 mL"}
            ],
        },
        {},
    ),
    *[
        (
            error,
            422,
            {
                "type": _TYPE + slug,
                "title": type(error).title,
                "status": 422,
                "detail": error.detail,
                "errors": [{"pointer": error.pointer, "detail": error.detail, "value": error.value}],
            },
            {},
        )
        for error, slug in [
            (ConcentrationNotStocked("/c", "lidocaine", "20 %", "2 %"), "concentration-not-stocked"),
            (EpinephrineNotStocked("/e", "lidocaine", "1:50000", []), "epinephrine-not-stocked"),
            (ComponentNotComputable("/c", "5 mg", "a diluent has no dose"), "component-not-computable"),
            (DuplicateAgent("/components/1/agent", "lidocaine"), "duplicate-agent"),
            (SiteDoesNotFit("/components", "19 mL", "too big"), "site-does-not-fit"),
            (PlanError("/sites", 6, "cannot be computed"), "plan-error"),
        ]
    ],
    (
        ImplausiblePatient("/patient", {"weight": "20 kg"}, "weight 20 kg and height 250 cm give a BMI of 3.2"),
        422,
        {
            "type": _TYPE + "implausible-patient",
            "title": "Implausible patient measurements",
            "status": 422,
            "detail": "Implausible patient measurements",
            "errors": [{"pointer": "/patient", "detail": "weight 20 kg and height 250 cm give a BMI of 3.2"}],
        },
        {},
    ),
    (
        BodyRefused("invalid-unicode", "Invalid Unicode", "/a: a lone surrogate", pointer="/a"),
        400,
        {
            "type": _TYPE + "invalid-unicode",
            "title": "Invalid Unicode",
            "status": 400,
            "detail": "/a: a lone surrogate",
            "errors": [{"pointer": "/a", "detail": "/a: a lone surrogate"}],
        },
        {},
    ),
    (
        BodyRefused("json-too-deep", "JSON nested too deeply", "nested more than 32 deep"),
        400,
        {
            "type": _TYPE + "json-too-deep",
            "title": "JSON nested too deeply",
            "status": 400,
            "detail": "nested more than 32 deep",
        },
        {},
    ),
    (
        UnknownService("nope", ["a", "b"]),
        404,
        {
            "type": _TYPE + "not-found",
            "title": "Not found",
            "status": 404,
            "detail": "no CDS service 'nope'; services: a, b",
        },
        {},
    ),
    (
        CdsAuthError("the token has expired"),
        401,
        {"type": _TYPE + "unauthorized", "title": "Unauthorized", "status": 401, "detail": "the token has expired"},
        {"WWW-Authenticate": 'Bearer realm="cds-services"'},
    ),
    (
        CdsAuthUnavailable("Redis did not answer"),
        503,
        {
            "type": _TYPE + "service-unavailable",
            "title": "Service unavailable",
            "status": 503,
            "detail": "Redis did not answer",
        },
        {"Retry-After": "5"},
    ),
]


def test_every_class_in_the_table_has_an_answer_case() -> None:
    assert {type(error) for error, *_ in ANSWERS} == set(PROBLEM_TYPES)


@pytest.mark.parametrize(
    ("error", "status", "document", "headers"),
    ANSWERS,
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else "",
)
def test_each_mapped_error_is_answered_as_the_table_says(
    error: MixcalcError, status: int, document: dict[str, object], headers: dict[str, str]
) -> None:
    answer = problem_for(error)
    assert answer.status == status
    assert answer.document == document
    assert list(answer.document) == list(document)  # the members' order too
    assert dict(answer.headers) == headers
    assert answer.body == render(document)
    response = answer.response()
    assert response.status_code == status
    assert response.body == answer.body
    assert response.media_type == "application/problem+json"
    assert all(response.headers[name] == value for name, value in headers.items())


@pytest.mark.parametrize("error", [SettingsError("X", "y"), QuantityError("1 x", "unknown unit 'x'"), Replayed()])
def test_an_error_outside_the_table_has_no_problem_of_its_own(error: MixcalcError) -> None:
    with pytest.raises(LookupError, match=type(error).__name__):
        problem_for(error)


def test_an_unmapped_error_escaping_a_route_is_the_500_and_says_nothing_of_it() -> None:
    app = create_app()

    @app.get("/v1/broken")
    async def broken() -> None:
        raise SettingsError("MIXCALC_SECRET", "the secret is hunter2")

    r = TestClient(app, raise_server_exceptions=False).get("/v1/broken")
    assert r.status_code == 500, r.text
    assert r.json()["type"] == _TYPE + "internal-error"
    assert "hunter2" not in r.text
    assert "MIXCALC_SECRET" not in r.text


def test_render_is_compact_utf8_and_survives_a_lone_surrogate() -> None:
    assert render({"detail": "0.5 mL é"}) == '{"detail":"0.5 mL é"}'.encode()
    assert json.loads(render({"detail": "\ud800"})) == {"detail": "\ud800"}
    assert problem(418, "x", "X", "y", instance="urn:z").body == (
        b'{"type":"https://mixcalc.example/problems/x","title":"X","status":418,"detail":"y","instance":"urn:z"}'
    )


_JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("who", "path", "kwargs", "status"),
    [
        ("body guard: too large", "/v1/mixtures", {"content": b" " * (65 * 1024), "headers": _JSON}, 413),
        (
            "body guard: media type",
            "/v1/mixtures",
            {"content": b"sites=6", "headers": {"content-type": "text/plain"}},
            415,
        ),
        ("body guard: refused body", "/v1/mixtures", {"content": b'{"k\xc3\xa9y": "\\ud800"}', "headers": _JSON}, 400),
        ("api keys", "/v1/formulary", {"method": "GET"}, 401),
        ("validation", "/v1/mixtures", {"json": {"sites": 0}}, 422),
        ("plan error", "/v1/mixtures", {"json": {**EXAMPLE_REQUEST, "syringe": "7 mL"}}, 422),
        ("router", "/nowhere", {"method": "GET"}, 404),
        ("cds: unknown service", "/cds-services/nope", {"json": {}}, 404),
        ("cds: no trusted EHR", "/cds-services/mixcalc-tpi-order-sign", {"json": {}}, 401),
    ],
)
def test_every_problem_sent_is_the_one_builders_serialisation(
    formulary: Formulary, who: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    settings = Settings(api_key_digests=(digest("k" * 20),)) if who == "api keys" else Settings()
    client = TestClient(create_app(formulary, settings), raise_server_exceptions=False)
    method = kwargs.pop("method", "POST")
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json", r.text
    assert r.content == render(r.json()), who
    assert int(r.headers["content-length"]) == len(r.content)


def test_the_servers_own_answers_are_the_one_builders_too() -> None:
    raw = _raw_problem(408, "request-timeout", "Request timeout", "the request headers came too slowly")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert body == problem(408, "request-timeout", "Request timeout", "the request headers came too slowly").body
    assert f"content-length: {len(body)}".encode() in head
