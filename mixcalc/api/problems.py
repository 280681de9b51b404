"""Problems: every error the API answers is an RFC 9457 ``application/problem+json``.

The one table from core errors to HTTP lives here (:data:`STATUS`); the core never sees
a status code.  Validation problems list each fault with a JSON pointer (RFC 6901) to
the field, what was wrong, and the value sent, except under ``/patient``: patient data
is never echoed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    ComponentNotComputable,
    ConcentrationNotStocked,
    DuplicateAgent,
    EpinephrineNotStocked,
    ImplausiblePatient,
    MixcalcError,
    PlanError,
    SiteDoesNotFit,
    UnknownAgent,
    UnknownSyringe,
)
from ..units import QuantityError
from .middleware import API_KEY_HEADER, REQUEST_ID, new_request_id

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "ProblemItem",
    "ProblemResponse",
    "document_problems",
    "documented",
    "install",
    "problem",
]

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://mixcalc.example/problems/"

#: Core error class -> (HTTP status, problem type slug).  The only such table.
STATUS: Mapping[type[MixcalcError], tuple[int, str]] = {
    UnknownAgent: (422, "unknown-agent"),
    UnknownSyringe: (422, "unknown-syringe"),
    ConcentrationNotStocked: (422, "concentration-not-stocked"),
    EpinephrineNotStocked: (422, "epinephrine-not-stocked"),
    ComponentNotComputable: (422, "component-not-computable"),
    DuplicateAgent: (422, "duplicate-agent"),
    SiteDoesNotFit: (422, "site-does-not-fit"),
    ImplausiblePatient: (422, "implausible-patient"),
    PlanError: (422, "plan-error"),
}


class ProblemItem(BaseModel):
    pointer: str = Field(description="JSON pointer (RFC 6901) to the field at fault")
    detail: str
    value: Any = Field(None, description="The value sent (never shown for patient fields)")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemItem] | None = None
    suggestion: str | None = None
    instance: str | None = Field(None, description="This occurrence (500: urn:uuid:<request id>, as logged)")


#: What each problem status means on the JSON endpoints (the OpenAPI ``responses``).
_MEANING = {
    400: (
        "Malformed JSON (NaN and Infinity included), an empty body, a body that is not UTF-8, arrays and objects "
        "nested over 32 deep, a number over 40 characters or beyond a double, a lone surrogate escape"
    ),
    401: f"API keys are configured and the {API_KEY_HEADER} header is missing or wrong",
    413: "Request body over 64 KiB (1 MiB under /cds-services/)",
    415: "Content type is not application/json",
    422: "Invalid request, or a mixture that cannot be computed (each fault with its JSON pointer)",
}


def documented(*statuses: int, **meaning: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for problem statuses: the standard meaning of each, or the one
    given by keyword (``s401="..."``) where an endpoint means something else by it."""
    schema = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {s: {"description": meaning.get(f"s{s}", _MEANING.get(s, "")), "content": schema} for s in statuses}


def document_problems(app: FastAPI) -> None:
    """Puts ``Problem`` and ``ProblemItem`` in the document's ``components/schemas``, where
    the ``$ref`` of every :func:`documented` answer points."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem_schema.pop("$defs", {}))
        schemas["Problem"] = problem_schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> ProblemResponse:
    body = {"type": _TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra}
    return ProblemResponse(body, status_code=status)


def _private(pointer: str) -> bool:
    return pointer == "/patient" or pointer.startswith("/patient/")


def _finite(value: object) -> object:
    """JSON-safe: NaN and infinities (which JSON cannot carry) become their names."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _shown(value: object) -> object:
    """The value as sent, JSON-safe and shortened so that a huge input never comes back whole."""
    value = _finite(value)
    if isinstance(value, str):
        return value if len(value) <= 80 else value[:77] + "..."
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    text = json.dumps(value)
    return value if len(text) <= 200 else text[:197] + "..."


def _pointer(loc: Sequence[int | str]) -> str:
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    # pydantic adds the name of a validator or union member to some locations
    parts = [p for p in parts if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def validation_problems(errors: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for error in errors:
        pointer = _pointer(error.get("loc", ()))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, QuantityError):
            message = cause.reason  # the value goes in "value", not in the text
        else:
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "extra_forbidden":
            message = "unknown field"
        item: dict[str, Any] = {"pointer": pointer, "detail": message}
        if not _private(pointer) and error.get("type") != "missing":
            item["value"] = _shown(error.get("input"))
        found.append(item)
    return found


async def _on_validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "malformed-json", "Malformed JSON", "the request body is not valid JSON")
    if [(e.get("type"), tuple(e.get("loc", ()))) for e in errors] == [("missing", ("body",))]:
        return problem(400, "empty-body", "Empty body", "the request body is empty: send the mixture as a JSON object")
    items = validation_problems(errors)
    detail = "; ".join(f"{i['pointer'] or '/'}: {i['detail']}" for i in items[:5])
    return problem(422, "invalid-request", "Invalid request", detail, errors=items)


async def _on_plan_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, PlanError)
    status, slug = next(v for k, v in STATUS.items() if isinstance(exc, k))
    item: dict[str, Any] = {"pointer": exc.pointer, "detail": exc.detail}
    if not _private(exc.pointer):
        item["value"] = _shown(exc.value)
    extra: dict[str, Any] = {"errors": [item]}
    if isinstance(exc, UnknownAgent) and exc.suggestion:
        extra["suggestion"] = exc.suggestion
    detail = exc.detail if not _private(exc.pointer) else exc.title
    return problem(status, slug, exc.title, detail, **extra)


async def _on_http(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large", 415: "Unsupported media type"}
    title = titles.get(exc.status_code, "HTTP error")
    slug, detail = title.lower().replace(" ", "-"), str(exc.detail)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's body parsing
        title, slug, detail = "Invalid encoding", "invalid-encoding", "the request body is not valid UTF-8"
    response = problem(exc.status_code, slug, title, detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def _on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    # Answered here; logged once, as one line without the exception's arguments, by the
    # outermost middleware (Starlette re-raises the exception after this answer).
    request_id = new_request_id()
    request.scope[REQUEST_ID] = request_id
    return problem(
        500,
        "internal-error",
        "Internal error",
        "the service could not answer; nothing was computed",
        instance=f"urn:uuid:{request_id}",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(PlanError, _on_plan_error)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
