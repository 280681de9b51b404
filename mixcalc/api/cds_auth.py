"""Who may call the CDS Hooks service: the EHR's signed JWT, verified as CDS Hooks 2.0 asks.

Settings (read once when the app is built; a malformed one stops start-up with a
:class:`~mixcalc.api.settings.SettingsError` naming it):

=============================  =========================================================
``MIXCALC_CDS_ISSUERS``        the trusted EHRs: a JSON object (inline, or the path of a
                               JSON file) mapping each issuer (the JWT ``iss``) to its
                               keys: a JWK Set of public keys, a ``jwks_url`` where the
                               EHR publishes them, or both: ``{"https://ehr.example.org":
                               {"jwks_url": "https://ehr.example.org/jwks", "keys": [...]}}``.
                               RSA (2048 bits or more) and EC keys, each with a ``kid``; no
                               private or symmetric keys (:func:`~mixcalc.api.jwks.parse_jwk`).
                               A URL is HTTPS only and fetched as :mod:`mixcalc.api.jwks`
                               says (cached, refreshed on an unknown ``kid``, bounded in
                               time and size); a configured key wins over a fetched one
                               with the same ``kid``.  A token's ``jku``/``x5u`` is ignored.
``MIXCALC_CDS_CA_BUNDLE``      a PEM file of the certificate authorities trusted for
                               ``jwks_url`` instead of the system's (e.g. a hospital CA).
``MIXCALC_CDS_BASE_URL``       the service's public base URL, e.g.
                               ``https://mixcalc.example.org``; required with issuers.
                               A token's ``aud`` must be the URL of the endpoint called:
                               ``{base}/cds-services/{id}`` (for feedback, that or
                               ``{base}/cds-services/{id}/feedback``).
``MIXCALC_REPLAY_STORE``       where accepted ``jti`` values are kept: ``memory`` (the
                               default, per process) or a ``redis://``/``rediss://``/
                               ``unix://`` URL shared by replicas (:mod:`mixcalc.api.replay`).
``MIXCALC_CDS_INSECURE_DEV``   ``1``: accept hook calls without any token.  For local
                               development only; refused together with issuers.
=============================  =========================================================

With issuers configured every hook and feedback call must carry ``Authorization: Bearer
<JWT>`` signed with RS256/384/512, PS256/384/512 or ES256/384/512 by a trusted key
(``none`` and HMAC are refused), with ``iss`` a configured issuer, ``aud`` as above,
``exp`` at most five minutes ahead, ``iat`` not in the future, ``exp``/``iat``/``nbf``
JSON numbers, and a string ``jti`` not seen before (30 seconds of clock leeway).  A
refused token is :class:`CdsAuthError` (401); a replay store that cannot answer is
:class:`CdsAuthUnavailable` (503: the call is not let through unchecked).  With neither
issuers nor the development setting, hook calls are refused with 401 saying how to
configure; discovery (``GET /cds-services``) is always open.

Verification may wait on the network (the key set, Redis): :meth:`Verifier.verify_in_thread`
runs it in a worker thread, never on the event loop.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import CdsAuthError, CdsAuthUnavailable
from .jwks import ALGORITHMS, HttpsFetcher, KeyRefused, KeysUnavailable, RemoteKeys, TrustedKey, parse_jwk
from .replay import MemoryReplayStore, RedisReplayStore, Replayed, ReplayStore, StoreUnavailable
from .settings import SettingsError

__all__ = [
    "ALGORITHMS",
    "BASE_URL_ENV",
    "CA_BUNDLE_ENV",
    "INSECURE_ENV",
    "ISSUERS_ENV",
    "REPLAY_STORE_ENV",
    "CdsAuthError",
    "CdsAuthSettings",
    "CdsAuthUnavailable",
    "Issuer",
    "TrustedKey",
    "Verifier",
]

ISSUERS_ENV = "MIXCALC_CDS_ISSUERS"
CA_BUNDLE_ENV = "MIXCALC_CDS_CA_BUNDLE"
BASE_URL_ENV = "MIXCALC_CDS_BASE_URL"
REPLAY_STORE_ENV = "MIXCALC_REPLAY_STORE"
INSECURE_ENV = "MIXCALC_CDS_INSECURE_DEV"

_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
MAX_LIFETIME_S = 300
LEEWAY_S = 30
MAX_TOKEN_CHARS = 8192
_BASE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")
_REDIS_SCHEMES = ("redis", "rediss", "unix")
_NUMERIC_DATES = ("exp", "iat", "nbf")


@dataclass(frozen=True)
class Issuer:
    """A trusted EHR: its configured keys by ``kid``, and the URL of its JWK Set, if any."""

    keys: Mapping[str, TrustedKey] = field(default_factory=dict)
    jwks_url: str | None = None


def _https_url(url: object, where: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme != "https" or not parts.hostname or parts.fragment or "@" in parts.netloc:
        raise SettingsError(ISSUERS_ENV, f"{where}: jwks_url must be an https:// URL without user name or fragment")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise SettingsError(ISSUERS_ENV, f"{where}: jwks_url has an invalid port") from None
    assert isinstance(url, str)
    return url


def _load_issuers(raw: str) -> dict[str, Issuer]:
    text = raw.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(ISSUERS_ENV, f"cannot read {text!r}: {exc.__class__.__name__}") from None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SettingsError(ISSUERS_ENV, f"not valid JSON ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not data:
        raise SettingsError(ISSUERS_ENV, "must be a JSON object mapping each issuer to its keys")
    issuers: dict[str, Issuer] = {}
    for issuer, entry in data.items():
        where = f"issuer {issuer!r}"
        if not isinstance(entry, dict) or not issuer:
            raise SettingsError(ISSUERS_ENV, f"{where}: give {{'keys': [...]}}, {{'jwks_url': 'https://...'}} or both")
        unknown = sorted(set(entry) - {"keys", "jwks_url"})
        if unknown:
            raise SettingsError(ISSUERS_ENV, f"{where}: unknown member {unknown[0]!r} (known: keys, jwks_url)")
        keys, url = entry.get("keys"), entry.get("jwks_url")
        if url is None and (not isinstance(keys, list) or not keys):
            raise SettingsError(ISSUERS_ENV, f"{where}: give a JWK Set {{'keys': [...]}} with a key, or a jwks_url")
        if keys is not None and not isinstance(keys, list):
            raise SettingsError(ISSUERS_ENV, f"{where}: keys must be a list of JWKs")
        trusted: dict[str, TrustedKey] = {}
        for n, key in enumerate(keys or [], start=1):
            try:
                kid, parsed = parse_jwk(key)
            except KeyRefused as exc:
                raise SettingsError(ISSUERS_ENV, f"{where} key {n}: {exc.problem}") from None
            if kid in trusted:
                raise SettingsError(ISSUERS_ENV, f"{where} key {n}: needs a kid, unique within the issuer")
            trusted[kid] = parsed
        issuers[issuer] = Issuer(trusted, None if url is None else _https_url(url, where))
    return issuers


def _replay_store_url(raw: str) -> str | None:
    """None for the in-memory store; else a Redis URL (never echoed: it may hold a password)."""
    if raw in ("", "memory"):
        return None
    scheme = raw.partition("://")[0].lower() if "://" in raw else ""
    if scheme not in _REDIS_SCHEMES:
        raise SettingsError(REPLAY_STORE_ENV, "must be memory or a redis://, rediss:// or unix:// URL")
    import redis

    try:
        redis.ConnectionPool.from_url(raw)  # checks the URL's form only; connects at first use
    except (ValueError, TypeError) as exc:
        raise SettingsError(REPLAY_STORE_ENV, f"not a usable Redis URL ({exc.__class__.__name__})") from None
    return raw


def _ca_bundle(raw: str) -> str | None:
    if not raw:
        return None
    import ssl

    try:
        ssl.create_default_context(cafile=raw)
    except (OSError, ssl.SSLError) as exc:
        problem = f"cannot read certificates from {raw!r} ({exc.__class__.__name__})"
        raise SettingsError(CA_BUNDLE_ENV, problem) from None
    return raw


@dataclass(frozen=True)
class CdsAuthSettings:
    """Trusted issuers, the service URL and the replay store, or the explicit development setting."""

    issuers: Mapping[str, Issuer] = field(default_factory=dict)
    base_url: str | None = None
    insecure_dev: bool = False
    ca_bundle: str | None = None
    replay_store_url: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CdsAuthSettings:
        env = os.environ if environ is None else environ
        raw = env.get(ISSUERS_ENV, "").strip()
        insecure = env.get(INSECURE_ENV, "").strip().lower()
        if insecure not in ("", "0", "1", "true", "false"):
            raise SettingsError(INSECURE_ENV, "must be 1 or 0")
        dev = insecure in ("1", "true")
        base = env.get(BASE_URL_ENV, "").strip().rstrip("/") or None
        if base is not None and not _BASE_URL.fullmatch(base):
            raise SettingsError(BASE_URL_ENV, f"{base!r} is not a URL such as https://mixcalc.example.org")
        store = _replay_store_url(env.get(REPLAY_STORE_ENV, "").strip())
        ca_bundle = _ca_bundle(env.get(CA_BUNDLE_ENV, "").strip())
        if not raw:
            return cls(base_url=base, insecure_dev=dev, ca_bundle=ca_bundle, replay_store_url=store)
        if dev:
            raise SettingsError(INSECURE_ENV, f"cannot be set together with {ISSUERS_ENV}: verification stays on")
        if base is None:
            raise SettingsError(BASE_URL_ENV, f"is required with {ISSUERS_ENV}: tokens' aud is checked against it")
        issuers = _load_issuers(raw)
        return cls(issuers=issuers, base_url=base, ca_bundle=ca_bundle, replay_store_url=store)

    @property
    def verifies(self) -> bool:
        return bool(self.issuers)


def _shape(header: Mapping[str, Any], claims: Mapping[str, Any]) -> None:
    """Refuses claims and header fields of the wrong JSON type before anything compares them."""
    if not isinstance(header.get("alg"), str) or header["alg"] not in ALGORITHMS:
        shown = str(header.get("alg"))[:16]
        raise CdsAuthError(f"algorithm {shown!r} is not accepted: use one of {', '.join(ALGORITHMS)}")
    if not isinstance(header.get("kid"), str):
        raise CdsAuthError("the token's header needs a kid (a string) naming the issuer's key")
    for name in ("iss", "jti"):
        if name in claims and not isinstance(claims[name], str):
            raise CdsAuthError(f"the token's {name} must be a string")
    for name in (n for n in _NUMERIC_DATES if n in claims):
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CdsAuthError(f"the token's {name} must be a number of seconds (NumericDate)")
        if isinstance(value, float) and not math.isfinite(value):
            raise CdsAuthError(f"the token's {name} must be a finite number")


@dataclass
class Verifier:
    """Checks ``Authorization`` headers against :class:`CdsAuthSettings`.

    ``fetch`` gets a JWK Set's bytes from its URL (default: :class:`~mixcalc.api.jwks.HttpsFetcher`);
    ``replay``: the store for ``jti`` values (default: from the settings)."""

    settings: CdsAuthSettings
    clock: Callable[[], float] = time.time
    replay: ReplayStore | None = None
    fetch: Callable[[str], bytes] | None = None
    monotonic: Callable[[], float] = time.monotonic
    _remote: dict[str, RemoteKeys] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.replay is None:
            url = self.settings.replay_store_url
            self.replay = MemoryReplayStore() if url is None else RedisReplayStore(url)
        urls = {name: issuer.jwks_url for name, issuer in self.settings.issuers.items() if issuer.jwks_url}
        if urls and self.fetch is None:
            self.fetch = HttpsFetcher(self.settings.ca_bundle)
        for name, url in urls.items():
            assert self.fetch is not None
            self._remote[name] = RemoteKeys(name, url, self.fetch, clock=self.monotonic)

    def audiences(self, path: str, *alternatives: str) -> list[str]:
        base = self.settings.base_url or ""
        return [base + p for p in (path, *alternatives)]

    async def verify_in_thread(self, authorization: str | None, audiences: Sequence[str]) -> Mapping[str, Any] | None:
        """:meth:`verify` in a worker thread: it may wait (bounded) on the key set or Redis."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(functools.partial(self.verify, authorization, list(audiences)))

    def _key(self, issuer: str, kid: str) -> TrustedKey | None:
        configured = self.settings.issuers[issuer].keys.get(kid)
        remote = self._remote.get(issuer)
        if configured is not None or remote is None:
            return configured
        try:
            return remote.key(kid)
        except KeysUnavailable as exc:
            raise CdsAuthError(f"the issuer's keys could not be fetched: {exc.reason}") from None

    def verify(self, authorization: str | None, audiences: Sequence[str]) -> Mapping[str, Any] | None:
        """The verified claims; None in development mode; :class:`CdsAuthError` or
        :class:`CdsAuthUnavailable` otherwise."""
        if not self.settings.verifies:
            if self.settings.insecure_dev:
                return None
            raise CdsAuthError(
                f"no trusted EHR is configured: set {ISSUERS_ENV} and {BASE_URL_ENV} "
                f"(or, for local development only, {INSECURE_ENV}=1)"
            )
        import jwt

        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise CdsAuthError("send the EHR's signed JWT as Authorization: Bearer <token>")
        if len(token) > MAX_TOKEN_CHARS:
            raise CdsAuthError("the token is too long")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise CdsAuthError("the token is not a well-formed JWT") from None
        _shape(header, unverified)
        alg, kid, issuer = header["alg"], header["kid"], unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.settings.issuers:
            raise CdsAuthError("the token's issuer (iss) is not a trusted EHR")
        key = self._key(issuer, kid)
        if key is None:
            raise CdsAuthError("the token's kid names no key configured or published for its issuer")
        if key.jwk.key_type != _KEY_TYPE[alg[:2]] or (key.alg or alg) != alg:
            raise CdsAuthError(f"key {kid[:64]!r} is not a key for {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[alg],
                audience=list(audiences),
                issuer=issuer,
                leeway=LEEWAY_S,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise CdsAuthError(f"the token has no {exc.claim} claim") from None
        except jwt.ExpiredSignatureError:
            raise CdsAuthError("the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise CdsAuthError("the token's iat or nbf is in the future") from None
        except jwt.InvalidAudienceError:
            raise CdsAuthError("the token's aud is not the URL of this CDS service") from None
        except jwt.InvalidSignatureError:
            raise CdsAuthError("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise CdsAuthError(f"the token is not valid ({exc.__class__.__name__})") from None
        now = self.clock()
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if iat > now + LEEWAY_S:
            raise CdsAuthError("the token's iat is in the future")
        if exp > now + MAX_LIFETIME_S + LEEWAY_S:
            raise CdsAuthError(f"the token expires more than {MAX_LIFETIME_S} seconds from now")
        if not jti or len(jti) > 256:
            raise CdsAuthError("the token's jti must be a non-empty string of at most 256 characters")
        assert self.replay is not None
        try:
            self.replay.admit(issuer, jti, ttl_s=math.ceil(exp + LEEWAY_S - now), now=now)
        except Replayed:
            raise CdsAuthError("this token was already used (jti replayed)") from None
        except StoreUnavailable as exc:
            raise CdsAuthUnavailable(exc.reason) from None
        return claims
