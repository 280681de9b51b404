"""Problems: every problem the service answers is an RFC 9457 ``application/problem+json``,
built here and nowhere else.

* :func:`problem` shapes the document (``type``, ``title``, ``status``, ``detail``, then
  ``errors``, ``suggestion`` or ``instance`` where given) and :class:`ProblemAnswer`
  serialises it once (compact UTF-8 JSON, as a JSON response is).  Every problem goes
  through it: the route handlers' (below), the middleware's refusals before the router
  (:mod:`mixcalc.api.middleware`), the CDS Hooks refusals, and the answers the server's
  protocol writes itself (:mod:`mixcalc.api.server`).
* :data:`PROBLEM_TYPES` is the one table from error classes to HTTP status and problem
  type; :func:`problem_for` answers an error through it.  The core never sees a status code.

Validation problems list each fault with a JSON pointer (RFC 6901) to the field, what
was wrong, and the value sent, except under ``/patient``: patient values are never
echoed.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    BodyRefused,
    CdsAuthError,
    CdsAuthUnavailable,
    ComponentNotComputable,
    ConcentrationNotStocked,
    DuplicateAgent,
    EpinephrineNotStocked,
    ImplausiblePatient,
    MixcalcError,
    PlanError,
    QuantityError,
    SiteDoesNotFit,
    UnknownAgent,
    UnknownService,
    UnknownSyringe,
    about_patient,
)
from .settings import API_KEY_HEADER

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_TYPES",
    "REQUEST_ID",
    "Problem",
    "ProblemAnswer",
    "ProblemItem",
    "ProblemResponse",
    "ProblemType",
    "document_problems",
    "documented",
    "install",
    "internal_error",
    "new_request_id",
    "problem",
    "problem_for",
    "problem_type",
    "render",
]

PROBLEM_JSON = "application/problem+json"
_TYPE_BASE = "https://mixcalc.example/problems/"
#: The scope key under which the 500 handler leaves the request id it answered with.
REQUEST_ID = "mixcalc.request_id"


@dataclass(frozen=True)
class ProblemType:
    """How one error class is answered: its HTTP status, its problem type (``slug`` after
    ``https://mixcalc.example/problems/``) and title, and headers that go with it.  ``slug`` or ``title`` left
    ``None``: the error's own (``BodyRefused.slug``, ``PlanError.title``)."""

    status: int
    slug: str | None = None
    title: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


#: Error class -> how it is answered.  The only such table: the most specific class wins.
PROBLEM_TYPES: Mapping[type[MixcalcError], ProblemType] = {
    UnknownAgent: ProblemType(422, "unknown-agent"),
    UnknownSyringe: ProblemType(422, "unknown-syringe"),
    ConcentrationNotStocked: ProblemType(422, "concentration-not-stocked"),
    EpinephrineNotStocked: ProblemType(422, "epinephrine-not-stocked"),
    ComponentNotComputable: ProblemType(422, "component-not-computable"),
    DuplicateAgent: ProblemType(422, "duplicate-agent"),
    SiteDoesNotFit: ProblemType(422, "site-does-not-fit"),
    ImplausiblePatient: ProblemType(422, "implausible-patient"),
    PlanError: ProblemType(422, "plan-error"),
    BodyRefused: ProblemType(400),
    UnknownService: ProblemType(404, "not-found", "Not found"),
    CdsAuthError: ProblemType(
        401, "unauthorized", "Unauthorized", (("WWW-Authenticate", 'Bearer realm="cds-services"'),)
    ),
    CdsAuthUnavailable: ProblemType(503, "service-unavailable", "Service unavailable", (("Retry-After", "5"),)),
}


def render(document: Mapping[str, Any]) -> bytes:
    """A problem document as bytes: compact JSON in UTF-8, byte for byte what a JSON
    response renders.  A lone surrogate (which UTF-8 cannot carry) is written as its
    ``\\uXXXX`` escape rather than failing the answer."""
    text = json.dumps(document, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    return text.encode("utf-8", "backslashreplace")


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return render(content)


@dataclass(frozen=True)
class ProblemAnswer:
    """A problem ready to send: the status, the document and the headers that go with it."""

    status: int
    document: Mapping[str, Any]
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def body(self) -> bytes:
        return render(self.document)

    def response(self) -> ProblemResponse:
        """As a Starlette response (from an exception handler)."""
        response = ProblemResponse(self.document, status_code=self.status)
        for name, value in self.headers:
            response.headers[name] = value
        return response


def problem(
    status: int, slug: str, title: str, detail: str, *, headers: Iterable[tuple[str, str]] = (), **extra: Any
) -> ProblemAnswer:
    """The one builder of problem documents; ``extra`` members (``errors``,
    ``suggestion``, ``instance``) follow the four standard ones, in the order given."""
    document = {"type": _TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra}
    return ProblemAnswer(status, document, tuple(headers))


def problem_type(error: MixcalcError) -> ProblemType | None:
    """The table's entry for the most specific class of ``error`` that has one."""
    return next((PROBLEM_TYPES[cls] for cls in type(error).__mro__ if cls in PROBLEM_TYPES), None)


def _own(error: MixcalcError, name: str) -> str:
    """The error's own ``slug`` or ``title``, where the table defers to it."""
    value = getattr(error, name, None)
    if not isinstance(value, str):
        raise LookupError(f"{type(error).__name__} has no {name} for its problem")
    return value


def problem_for(error: MixcalcError) -> ProblemAnswer:
    """``error`` answered as :data:`PROBLEM_TYPES` says; :class:`LookupError` for an error
    the table does not map (the caller answers it as an internal error)."""
    kind = problem_type(error)
    if kind is None:
        raise LookupError(f"no problem type for {type(error).__name__}")
    slug = kind.slug if kind.slug is not None else _own(error, "slug")
    title = kind.title if kind.title is not None else _own(error, "title")
    extra: dict[str, Any] = {}
    detail = str(error)
    if isinstance(error, PlanError):
        item: dict[str, Any] = {"pointer": error.pointer, "detail": error.detail}
        if not error.about_patient:
            item["value"] = _shown(error.value)
        extra["errors"] = [item]
        if isinstance(error, UnknownAgent) and error.suggestion:
            extra["suggestion"] = error.suggestion
        detail = error.title if error.about_patient else error.detail
    elif isinstance(error, BodyRefused):
        detail = error.detail
        if error.pointer is not None:
            extra["errors"] = [{"pointer": error.pointer, "detail": error.detail}]
    return problem(kind.status, slug, title, detail, headers=kind.headers, **extra)


def new_request_id() -> str:
    return str(uuid.uuid4())


def internal_error(request_id: str) -> ProblemAnswer:
    """The 500: nothing about the failure, and the request id it is logged under."""
    return problem(
        500,
        "internal-error",
        "Internal error",
        "the service could not answer; nothing was computed",
        instance=f"urn:uuid:{request_id}",
    )


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
        if not about_patient(pointer) and error.get("type") != "missing":
            item["value"] = _shown(error.get("input"))
        found.append(item)
    return found


async def _on_validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "malformed-json", "Malformed JSON", "the request body is not valid JSON").response()
    if [(e.get("type"), tuple(e.get("loc", ()))) for e in errors] == [("missing", ("body",))]:
        detail = "the request body is empty: send the mixture as a JSON object"
        return problem(400, "empty-body", "Empty body", detail).response()
    items = validation_problems(errors)
    detail = "; ".join(f"{i['pointer'] or '/'}: {i['detail']}" for i in items[:5])
    return problem(422, "invalid-request", "Invalid request", detail, errors=items).response()


async def _on_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, MixcalcError)
    return problem_for(exc).response()


async def _on_http(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large", 415: "Unsupported media type"}
    title = titles.get(exc.status_code, "HTTP error")
    slug, detail = title.lower().replace(" ", "-"), str(exc.detail)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):  # FastAPI's body parsing
        title, slug, detail = "Invalid encoding", "invalid-encoding", "the request body is not valid UTF-8"
    return problem(exc.status_code, slug, title, detail, headers=(exc.headers or {}).items()).response()


async def _on_unexpected(request: Request, exc: Exception) -> ProblemResponse:
    # Answered here; logged once, as one line without the exception's arguments, by the
    # outermost middleware (Starlette re-raises the exception after this answer).
    request_id = new_request_id()
    request.scope[REQUEST_ID] = request_id
    return internal_error(request_id).response()


def install(app: FastAPI) -> None:
    """The exception handlers: validation, every error class in :data:`PROBLEM_TYPES`,
    Starlette's HTTP errors, and anything else as the 500."""
    app.add_exception_handler(RequestValidationError, _on_validation)
    for error_class in PROBLEM_TYPES:
        app.add_exception_handler(error_class, _on_error)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
