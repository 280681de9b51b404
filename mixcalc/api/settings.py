"""Service settings from the environment, read once when the app is built.

============================  ==========================================================
``MIXCALC_API_KEYS``          comma-separated API keys; when set, every ``/v1/`` request
                              must carry one in the ``X-API-Key`` header (401 otherwise).
                              Unset: no keys (local use).  Each key is at least 16
                              characters; only their SHA-256 digests are kept.
``MIXCALC_CORS_ORIGINS``      comma-separated origins (``https://ehr.example.org``) allowed
                              to call the API from a browser.  Unset: none (closed).
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

from ..errors import MixcalcError

__all__ = ["API_KEYS_ENV", "CORS_ORIGINS_ENV", "MIN_KEY_LENGTH", "Settings", "SettingsError", "digest"]

API_KEYS_ENV = "MIXCALC_API_KEYS"
CORS_ORIGINS_ENV = "MIXCALC_CORS_ORIGINS"
MIN_KEY_LENGTH = 16

_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?")
_KEY = re.compile(r"[\x21-\x7e]+")  # visible ASCII: what an HTTP header carries verbatim


class SettingsError(MixcalcError):
    """Raised at start-up when an environment setting is malformed."""

    def __init__(self, setting: str, problem: str) -> None:
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


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
