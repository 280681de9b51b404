"""The HTTP shell: FastAPI routes over the pure core.

``create_app()`` loads the formulary once (a malformed one stops start-up with a
message naming file, key and problem) and returns the ASGI app.  Routes translate
nothing themselves: the request model is the core's, errors are mapped in
``problems``.

``POST /v1/mixtures``, the hot path, is served by :class:`MixturesEndpoint`, a plain ASGI
endpoint matched before every other route; the FastAPI route of the same path behind it
documents the operation in the OpenAPI document and is never reached.  The endpoint
validates the body as FastAPI's body parameter did (same error types, pointers and
messages, raised as the same ``RequestValidationError``), without FastAPI's dependency
injection; ``tests/test_api_route.py`` holds the two to the same answers.
"""

from __future__ import annotations

import email.message
import functools
import json
from typing import Any, Final

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from pydantic import ValidationError
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from .. import __version__
from ..formulary import Formulary, load_formulary
from ..plan import plan_mixture_json
from ..schema import MixtureRequest, MixtureResponse
from .body import JSON_DOCUMENT
from .cds import install_cds
from .middleware import API_KEY_HEADER, KEY_OPTIONAL, ApiKeys, BodyGuard, Outermost, document_security
from .page import page_router
from .problems import document_problems, documented, install
from .settings import Settings

__all__ = ["CDS_MAX_BODY_BYTES", "MAX_BODY_BYTES", "MixturesEndpoint", "create_app", "read_mixture"]

#: Largest request body accepted; a full 8-component request is under 2 KiB.
MAX_BODY_BYTES = 64 * 1024
#: Largest CDS Hooks call accepted: an EHR's prefetch and draft orders (issue 12).
CDS_MAX_BODY_BYTES = 1024 * 1024
#: The routes that read a JSON body (prefixes end in "/"), all read through the body guard.
_JSON_PATHS = frozenset({"/v1/mixtures", "/v1/mixtures/fhir", "/cds-services/"})


@functools.lru_cache(maxsize=64)
def _declares_json(content_type: bytes) -> bool:
    """Whether FastAPI reads a body with this ``Content-Type`` as JSON (``application/json``
    or ``application/*+json``, parsed as it parses it; cached: clients send few distinct ones)."""
    message = email.message.Message()
    message["content-type"] = content_type.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def _validation_error(error_type: str, msg: str, *, ctx: dict[str, Any] | None = None) -> RequestValidationError:
    """A body-level fault, as FastAPI reports it (location ``("body",)``)."""
    error: dict[str, Any] = {"type": error_type, "loc": ("body",), "msg": msg, "input": None}
    if ctx is not None:
        error["ctx"] = ctx
    return RequestValidationError([error])


_UNREAD: Final = object()


def read_mixture(body: bytes, content_type: bytes | None, document: object = _UNREAD) -> MixtureRequest:
    """The request in ``body``, validated as FastAPI validates a ``MixtureRequest`` body
    parameter, or the :class:`RequestValidationError` FastAPI would raise (answered by the
    same handler): an empty body is ``missing``; a body FastAPI reads as JSON goes through
    ``json.loads`` (``document``: the same document already parsed by ``BodyGuard``);
    one of another content type is validated as bytes (and refused)."""
    if not body:
        raise _validation_error("missing", "Field required")
    value: Any = body
    if content_type is not None and _declares_json(content_type):
        if document is _UNREAD or document is None:  # None: null, or blank, which json.loads refuses
            try:
                document = json.loads(body)
            except json.JSONDecodeError as exc:
                raise _validation_error("json_invalid", "JSON decode error", ctx={"error": exc.msg}) from None
        value = document
    try:
        return MixtureRequest.model_validate(value, from_attributes=True)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


class MixturesEndpoint:
    """``POST /v1/mixtures`` as a plain ASGI endpoint: request bytes (already bounded and
    checked by ``BodyGuard``) → :func:`read_mixture` → :func:`~mixcalc.plan.plan_mixture_json`
    → the answer's bytes.  Errors are raised to the app's exception handlers, as from any
    route."""

    def __init__(self, formulary: Formulary) -> None:
        self.formulary = formulary

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chunks = []
        while True:  # BodyGuard replays the body as one message
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = next((value for name, value in scope["headers"] if name == b"content-type"), None)
        mixture = read_mixture(body, content_type, scope.get(JSON_DOCUMENT, _UNREAD))
        answer = plan_mixture_json(mixture, self.formulary)
        headers = [(b"content-length", str(len(answer)).encode()), (b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


class _NamedRoute(Route):
    """A Starlette route that leaves itself in the scope as ``route`` (as FastAPI's routes
    do), so that a failure is logged with its path."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


class _Service(FastAPI):
    """FastAPI with :class:`~mixcalc.api.middleware.Outermost` around everything, Starlette's
    own error middleware included (so that even its 500 carries the security headers)."""

    def build_middleware_stack(self) -> ASGIApp:
        return Outermost(super().build_middleware_stack())


def create_app(formulary: Formulary | None = None, settings: Settings | None = None) -> FastAPI:
    """The ASGI app over ``formulary`` (default: ``$MIXCALC_FORMULARY`` or the bundled one)
    with ``settings`` (default: from the environment, see :mod:`mixcalc.api.settings`)."""
    formulary = formulary if formulary is not None else load_formulary()
    settings = settings if settings is not None else Settings.from_env()
    app = _Service(
        title="mixcalc",
        version=__version__,
        summary="Trigger point injection mixtures: syringe draws, doses, maximum-dose fractions and safety warnings.",
        description=(
            'Quantities are `{value, unit}` objects with UCUM codes or short strings such as `"0.5 mL"`, '
            '`"1 %"` (w/v: 10 mg/mL) and `"1:200000"` (1 g in 200,000 mL). '
            "An over-limit plan is a 200 with critical warnings; errors are RFC 9457 problem details. "
            f"Limits: request body {MAX_BODY_BYTES // 1024} KiB ({CDS_MAX_BODY_BYTES // 1024} KiB for CDS Hooks "
            "calls), JSON nested at most 32 deep, 1-50 sites, 8 components, 8 prior doses, "
            "weight 0.5-400 kg, height 30-250 cm, age 0-130 years, 20 mL per site."
        ),
        openapi_url="/openapi.json",
        # No docs pages: they load scripts from a CDN, which our CSP refuses (and which
        # would be a third party at the bedside).  The document is at /openapi.json.
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,  # a redirect would be built from the Host header
    )
    install(app)
    # The last added runs first: CORS (preflights need no key), then the key, then the
    # body guard; Outermost (headers, HEAD, the 500) wraps them all (see _Service).
    app.add_middleware(
        BodyGuard,
        limits={"/cds-services/": CDS_MAX_BODY_BYTES},
        default=MAX_BODY_BYTES,
        json_paths=_JSON_PATHS,
        lenient_media=frozenset({"/cds-services/"}),
    )
    if settings.requires_key:
        app.add_middleware(ApiKeys, key_digests=settings.api_key_digests)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["content-type", "accept", API_KEY_HEADER.lower(), "authorization"],
            max_age=600,
        )
    document_problems(app)
    document_security(
        app,
        "apiKey",
        {
            "type": "apiKey",
            "in": "header",
            "name": API_KEY_HEADER,
            "description": "Required on /v1/ when the service sets MIXCALC_API_KEYS; off by default.",
        },
    )
    install_cds(app)  # FHIR output and the CDS Hooks service (after the API-key document: it extends it)
    app.state.formulary = formulary

    # Served by the plain endpoint, matched first; the FastAPI route below documents it.
    app.router.routes.insert(0, _NamedRoute("/v1/mixtures", MixturesEndpoint(formulary), methods=["POST"]))

    @app.post(
        "/v1/mixtures",
        response_model=MixtureResponse,
        summary="Compute and check a TPI mixture",
        responses=documented(400, 401, 413, 415, 422),
        openapi_extra=KEY_OPTIONAL,
        tags=["mixtures"],
    )
    async def post_mixture(request: Request, mixture: MixtureRequest) -> Response:
        # Not reached while MixturesEndpoint is in front (the tests take it away to compare
        # the two).  Serialised once.  Returned as the model, FastAPI would validate the answer again
        # against response_model (which here documents it): the planner builds it from
        # checked parts, and the contract tests check its shape.
        return Response(plan_mixture_json(mixture, request.app.state.formulary), media_type="application/json")

    @app.get(
        "/v1/formulary",
        summary="The formulary in force, with its sources",
        tags=["formulary"],
        responses=documented(401),
        openapi_extra=KEY_OPTIONAL,
    )
    async def get_formulary(request: Request) -> dict[str, Any]:
        current: Formulary = request.app.state.formulary
        return current.model_dump(mode="json", by_alias=True)

    app.include_router(page_router())  # GET / and its assets: the bedside page (not in the OpenAPI document)

    @app.get("/healthz", summary="Liveness", tags=["service"])
    async def healthz(request: Request) -> dict[str, str]:
        current: Formulary = request.app.state.formulary
        return {"status": "ok", "formulary": current.name, "version": current.version}

    return app
