"""ASGI middleware: the outermost guard, API keys, the body guard.

* :class:`Outermost` wraps the whole app (outside Starlette's own error middleware): it
  adds the security headers to every answer, serves ``HEAD`` wherever ``GET`` is served,
  asks the server to close a connection whose request body was left unread, and answers
  any failure that escapes the app with the 500 problem, logging one line (problem type,
  route template, request id): never a traceback, never an exception's arguments.
* :class:`ApiKeys` checks ``X-API-Key`` before the body is read.
* :class:`BodyGuard` bounds every request body by path (413), requires JSON where the
  route reads JSON (415), and reads JSON bodies through :func:`mixcalc.api.body.check_json`
  (400 for bodies too deep, not UTF-8, with lone surrogates, ...) before the router runs.

Each answers its own refusals as RFC 9457 problems before the router runs (built by
:mod:`mixcalc.api.problems`, like every other problem), so a caller without a key learns
nothing about the body it sent.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from typing import Any, Final

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import BodyRefused
from .body import JSON_DOCUMENT, check_json
from .problems import PROBLEM_JSON, REQUEST_ID, ProblemAnswer, internal_error, new_request_id, problem, problem_for
from .settings import API_KEY_HEADER

__all__ = [
    "API_KEY_HEADER",
    "KEY_OPTIONAL",
    "REQUEST_ID",
    "SECURITY_HEADERS",
    "ApiKeys",
    "BodyGuard",
    "Outermost",
    "document_security",
]

log = logging.getLogger("mixcalc.api")

#: OpenAPI ``security`` of ``/v1/`` operations: the key when keys are configured, else none.
KEY_OPTIONAL: dict[str, Any] = {"security": [{"apiKey": []}, {}]}


def document_security(app: FastAPI, name: str, scheme: dict[str, Any]) -> None:
    """Adds a security scheme to ``app``'s OpenAPI document (each guard documents its own)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # FastAPI builds it once and caches it as app.openapi_schema
        document.setdefault("components", {}).setdefault("securitySchemes", {})[name] = scheme
        return document

    app.openapi = openapi  # type: ignore[method-assign]


#: Added to every HTTP answer, the 500 problem included.
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
]


async def _send_problem(send: Send, answer: ProblemAnswer) -> None:
    """Sends a problem from middleware, before (or instead of) the router."""
    body = answer.body
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in answer.headers]
    if answer.status == 413:  # whatever is left of the body is not read: the connection ends with this answer
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _expects_body(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-length":
            return value.strip() not in (b"0", b"")
        if name == b"transfer-encoding":
            return True
    return False


class Outermost:
    """The outermost layer of the app: see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        if head:  # routed as GET; the answer's headers stay, its body goes
            scope = {**scope, "method": "GET"}
        body_pending = _expects_body(scope["headers"])
        started = False

        async def tracked_receive() -> Message:
            nonlocal body_pending
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_pending = False
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [*message.get("headers", []), *SECURITY_HEADERS]
                if body_pending and all(name != b"connection" for name, _ in headers):
                    headers.append((b"connection", b"close"))  # answered before the body was read: not reusable
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body" and message.get("body"):
                message = {**message, "body": b""}
            await send(message)

        try:
            await self.app(scope, tracked_receive, guarded_send)
        except Exception as exc:  # noqa: BLE001 - the one outermost handler: nothing may escape to the server's log
            request_id = scope.get(REQUEST_ID) or new_request_id()
            route = getattr(scope.get("route"), "path", None) or "(no route)"
            log.error("internal-error: %s on %s %s, request %s", type(exc).__name__, scope["method"], route, request_id)
            if not started:
                await _send_problem(guarded_send, internal_error(request_id))


class ApiKeys:
    """Requires one of the configured keys in ``X-API-Key`` on paths under ``prefix``.

    Keys are compared as SHA-256 digests with :func:`hmac.compare_digest`, against every
    configured key (no early exit), so neither a key's content nor its length leaks
    through timing.  With no keys configured the middleware is not installed at all.
    """

    def __init__(self, app: ASGIApp, key_digests: tuple[bytes, ...], prefix: str = "/v1/") -> None:
        self.app = app
        self.key_digests = key_digests
        self.prefix = prefix

    def _accepts(self, given: bytes | None) -> bool:
        if given is None:
            return False
        offered = hashlib.sha256(given).digest()
        accepted = False
        for known in self.key_digests:
            accepted |= hmac.compare_digest(offered, known)
        return accepted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            given = next((v for k, v in scope["headers"] if k == b"x-api-key"), None)
            if not self._accepts(given):
                detail = f"send a valid API key in the {API_KEY_HEADER} header"
                await _send_problem(send, problem(401, "unauthorized", "Unauthorized", detail))
                return
        await self.app(scope, receive, send)


_JSON_MEDIA = b"application/json"


def _is_json(media: bytes) -> bool:
    return media == _JSON_MEDIA or (media.startswith(b"application/") and media.endswith(b"+json"))


class _PathSet:
    """Exact paths, and prefixes (the entries ending in ``/``): ``path in paths``."""

    def __init__(self, paths: frozenset[str]) -> None:
        self.exact = paths
        self.prefixes = tuple(p for p in paths if p.endswith("/"))

    def __contains__(self, path: object) -> bool:
        return path in self.exact or (isinstance(path, str) and path.startswith(self.prefixes))


def _too_large(max_bytes: int) -> ProblemAnswer:
    detail = f"the request body is over {max_bytes} bytes"
    return problem(413, "request-body-too-large", "Request body too large", detail)


_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


class BodyGuard:
    """Bounds request bodies and reads JSON ones safely, before the router runs.

    ``limits`` maps path prefixes to the largest body accepted there (the longest prefix
    wins; ``default`` elsewhere): a declared ``Content-Length`` over it is refused at
    once, a chunked body as soon as it passes it (413).  On ``json_paths`` (exact paths or
    prefixes ending in ``/``) a POST must be JSON (415), except on ``lenient_media``
    paths, where a missing content type is read as JSON (as FastAPI does) and another one
    goes on to the route, which refuses it.  A JSON body is read whole, checked with
    :func:`~mixcalc.api.body.check_json`, then handed to the route unchanged, and the
    document read is left in the scope under :data:`~mixcalc.api.body.JSON_DOCUMENT`.
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: Mapping[str, int],
        default: int,
        json_paths: frozenset[str],
        lenient_media: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.limits = sorted(limits.items(), key=lambda item: -len(item[0]))
        self.default = default
        self.json_paths = _PathSet(json_paths)
        self.lenient_media = _PathSet(lenient_media)

    def limit(self, path: str) -> int:
        return next((size for prefix, size in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        max_bytes = self.limit(path)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.strip().isdigit() or int(declared) > max_bytes):
            await _send_problem(send, _too_large(max_bytes))
            return
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        guarded = False
        if scope["method"] == "POST" and path in self.json_paths:
            lenient = path in self.lenient_media
            if _is_json(media) or (lenient and not media):
                guarded = True
            elif not lenient:
                detail = "send the body as application/json"
                await _send_problem(send, problem(415, "unsupported-media-type", "Unsupported media type", detail))
                return
            # else: another content type where JSON is optional; the route says what it expected
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: nobody to answer
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > max_bytes:
                await _send_problem(send, _too_large(max_bytes))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if guarded:
            try:
                scope[JSON_DOCUMENT] = check_json(body)
            except BodyRefused as refused:
                await _send_problem(send, problem_for(refused))
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
