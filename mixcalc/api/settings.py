"""Service settings from the environment, read once when the app is built.

============================  ==========================================================
``MIXCALC_API_KEYS``          comma-separated API keys; when set, every ``/v1/`` request
                              must carry one in the ``X-API-Key`` header (401 otherwise).
                              Unset: no keys (local use).  Each key is at least 16
                              characters; only their SHA-256 digests are kept.
``MIXCALC_CORS_ORIGINS``      comma-separated origins (``https://ehr.example.org``) allowed
                              to call the API from a browser.  Unset: none (closed).
============================  ==========================================================

The server's connection limits (:class:`ServerLimits`, read by ``mixcalc serve`` and its
workers; seconds may have decimals):

============================  ==========================================================
``MIXCALC_HEADER_TIMEOUT``    seconds from a connection's opening (or the end of the
                              previous answer) to the end of the request headers; then
                              the connection is closed (default 10).
``MIXCALC_BODY_TIMEOUT``      seconds from the end of the headers to the end of the body;
                              then 408 and close (default 10).  Also bounds how long an
                              unread body is drained after an early answer.
``MIXCALC_KEEP_ALIVE``        seconds an idle keep-alive connection is kept (default 5).
``MIXCALC_SHUTDOWN_GRACE``    seconds after SIGTERM for requests in flight to be answered
                              before the process exits anyway (default 10).
``MIXCALC_MAX_HEADER_BYTES``  request line and headers, bytes; over it, 431 (default 16384).
``MIXCALC_MAX_CONNECTIONS``   open connections per worker; over it, 503 (default 1000).
============================  ==========================================================

A malformed setting stops start-up with a :class:`SettingsError` naming the setting and
the problem (never the key itself).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import SettingsError

__all__ = [
    "API_KEYS_ENV",
    "API_KEY_HEADER",
    "CORS_ORIGINS_ENV",
    "MIN_KEY_LENGTH",
    "ServerLimits",
    "Settings",
    "SettingsError",
    "digest",
]

API_KEYS_ENV = "MIXCALC_API_KEYS"
#: The header that carries an API key.
API_KEY_HEADER = "X-API-Key"
CORS_ORIGINS_ENV = "MIXCALC_CORS_ORIGINS"
MIN_KEY_LENGTH = 16

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_KEY = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what an HTTP header carries verbatim


def digest(key: str | bytes) -> bytes:
    """The SHA-256 digest keys are compared by (fixed length: no length leak)."""
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).digest()


@dataclass(frozen=True)
class Settings:
    """What the HTTP shell is configured with.  The default is open and local."""

    api_key_digests: tuple[bytes, ...] = ()
    cors_origins: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        keys = _split(env.get(API_KEYS_ENV, ""))
        for n, key in enumerate(keys, start=1):
            if len(key) < MIN_KEY_LENGTH or not _KEY.fullmatch(key):
                raise SettingsError(
                    API_KEYS_ENV, f"key {n} must be at least {MIN_KEY_LENGTH} visible ASCII characters without spaces"
                )
        origins = _split(env.get(CORS_ORIGINS_ENV, ""))
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise SettingsError(
                    CORS_ORIGINS_ENV, f"{origin!r} is not an origin such as https://ehr.example.org (no path, no '*')"
                )
        return cls(api_key_digests=tuple(digest(k) for k in keys), cors_origins=tuple(origins))

    @property
    def requires_key(self) -> bool:
        return bool(self.api_key_digests)


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


@dataclass(frozen=True)
class ServerLimits:
    """Deadlines and sizes the server enforces on every connection (see the table above)."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    keep_alive: float = 5.0
    shutdown_grace: float = 10.0
    max_header_bytes: int = 16 * 1024
    max_connections: int = 1000
    #: An unread request body is read and discarded up to this size after an early answer
    #: (a 413, a 404), so that the client reads the answer instead of a reset.
    drain_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerLimits:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            header_timeout=_seconds(env, "MIXCALC_HEADER_TIMEOUT", default.header_timeout),
            body_timeout=_seconds(env, "MIXCALC_BODY_TIMEOUT", default.body_timeout),
            keep_alive=_seconds(env, "MIXCALC_KEEP_ALIVE", default.keep_alive),
            shutdown_grace=_seconds(env, "MIXCALC_SHUTDOWN_GRACE", default.shutdown_grace),
            max_header_bytes=_count(env, "MIXCALC_MAX_HEADER_BYTES", default.max_header_bytes, low=1024),
            max_connections=_count(env, "MIXCALC_MAX_CONNECTIONS", default.max_connections, low=1),
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"{raw!r} is not a number of seconds") from None
    if not 0.05 <= value <= 3600:
        raise SettingsError(name, f"{raw} is not between 0.05 and 3600 seconds")
    return value


def _count(env: Mapping[str, str], name: str, default: int, *, low: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= 1_000_000_000:
        raise SettingsError(name, f"{raw!r} is not a whole number from {low}")
    return int(raw)
