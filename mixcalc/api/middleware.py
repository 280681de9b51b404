"""ASGI middleware: API keys, a bound on request bodies, a JSON-only POST, security headers.

Each answers its own refusals as RFC 9457 problems before the router runs, so a caller
without a key learns nothing about the body it sent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_KEY_HEADER", "KEY_OPTIONAL", "ApiKeys", "BodyLimit", "SecurityHeaders", "document_security"]

API_KEY_HEADER = "X-API-Key"
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


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'"),
]


async def _send_problem(send: Send, status: int, slug: str, title: str, detail: str) -> None:
    body = json.dumps(
        {"type": f"https://mixcalc.example/problems/{slug}", "title": title, "status": status, "detail": detail}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


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
                await _send_problem(
                    send, 401, "unauthorized", "Unauthorized", f"send a valid API key in the {API_KEY_HEADER} header"
                )
                return
        await self.app(scope, receive, send)


#: CDS Hooks calls carry whole order sessions (issue 12): they may be up to 1 MiB.
CDS_MAX_BODY_BYTES = 1024 * 1024


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuses bodies over ``max_bytes`` (413), and POST bodies that are not JSON (415) on
    ``json_paths``; other methods and paths go on to the router (404, 405)."""

    def __init__(self, app: ASGIApp, max_bytes: int, json_paths: frozenset[str]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_paths = json_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in {"POST", "PUT", "PATCH"}:
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        is_json = media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))
        if scope["method"] == "POST" and scope["path"] in self.json_paths and not is_json:
            await _send_problem(
                send, 415, "unsupported-media-type", "Unsupported media type", "send the body as application/json"
            )
            return
        declared = headers.get(b"content-length")
        max_bytes = CDS_MAX_BODY_BYTES if scope["path"].startswith("/cds-services/") else self.max_bytes
        too_large = f"the request body is over {max_bytes} bytes"
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await _send_problem(send, 413, "request-body-too-large", "Request body too large", too_large)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_problem(send, 413, "request-body-too-large", "Request body too large", too_large)


class SecurityHeaders:
    """Adds conservative security headers to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, with_headers)
