"""Who may call the CDS Hooks service: the EHR's signed JWT, verified as CDS Hooks 2.0 asks.

Settings (read once when the app is built; a malformed one stops start-up with a
:class:`~mixcalc.api.settings.SettingsError` naming it):

=============================  =========================================================
``MIXCALC_CDS_ISSUERS``        the trusted EHRs: a JSON object (inline, or the path of a
                               JSON file) mapping each issuer (the JWT ``iss``) to its JWK
                               Set of public keys, ``{"https://ehr.example.org":
                               {"keys": [{"kty": "EC", "kid": "...", ...}]}}``.  RSA (2048
                               bits or more) and EC keys; each with a ``kid``; no private
                               or symmetric keys.  Keys are never fetched (a ``jku``
                               header is ignored): the service needs no network at run
                               time, and a key changes only by configuration.
``MIXCALC_CDS_BASE_URL``       the service's public base URL, e.g.
                               ``https://mixcalc.example.org``; required with issuers.
                               A token's ``aud`` must be the URL of the endpoint called:
                               ``{base}/cds-services/{id}`` (for feedback, that or
                               ``{base}/cds-services/{id}/feedback``).
``MIXCALC_CDS_INSECURE_DEV``   ``1``: accept hook calls without any token.  For local
                               development only; refused together with issuers.
=============================  =========================================================

With issuers configured every hook and feedback call must carry ``Authorization: Bearer
<JWT>`` signed with RS256/384/512, PS256/384/512 or ES256/384/512 by a configured key
(``none`` and HMAC are refused), with ``iss`` a configured issuer, ``aud`` as above,
``exp`` at most five minutes ahead, ``iat`` not in the future, and a ``jti`` not seen
before (30 seconds of clock leeway).  Replay protection keeps the ``jti`` of each
accepted token until it expires, in memory, per process: with several workers or
replicas a token could be replayed once on each.  With neither issuers nor the
development setting, hook calls are refused with 401 saying how to configure; discovery
(``GET /cds-services``) is always open.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .settings import SettingsError

if TYPE_CHECKING:  # PyJWT and cryptography load only when issuers are configured (start-up time)
    import jwt

__all__ = [
    "ALGORITHMS",
    "BASE_URL_ENV",
    "INSECURE_ENV",
    "ISSUERS_ENV",
    "CdsAuthError",
    "CdsAuthSettings",
    "ReplayCache",
    "TrustedKey",
    "Verifier",
]

ISSUERS_ENV = "MIXCALC_CDS_ISSUERS"
BASE_URL_ENV = "MIXCALC_CDS_BASE_URL"
INSECURE_ENV = "MIXCALC_CDS_INSECURE_DEV"

#: Asymmetric signatures only (CDS Hooks 2.0 forbids ``none`` and symmetric algorithms).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
_KEY_TYPE = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
MAX_LIFETIME_S = 300
LEEWAY_S = 30
MAX_TOKEN_CHARS = 8192
MIN_RSA_BITS = 2048
_BASE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?")


@dataclass(frozen=True)
class TrustedKey:
    """A configured public key and the algorithm its JWK names, if it names one."""

    jwk: jwt.PyJWK
    alg: str | None


class CdsAuthError(Exception):
    """Raised when a hook call's token is refused; ``reason`` says why (never the token)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _load_issuers(raw: str) -> dict[str, dict[str, TrustedKey]]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    text = raw.strip()
    if not text.startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(ISSUERS_ENV, f"cannot read {text!r}: {exc.__class__.__name__}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(ISSUERS_ENV, f"not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or not data:
        raise SettingsError(ISSUERS_ENV, "must be a JSON object mapping each issuer to its JWK Set")
    issuers: dict[str, dict[str, TrustedKey]] = {}
    for issuer, jwks in data.items():
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not issuer or not isinstance(keys, list) or not keys:
            raise SettingsError(ISSUERS_ENV, f"issuer {issuer!r}: give a JWK Set {{'keys': [...]}} with a key")
        issuers[issuer] = {}
        for n, key in enumerate(keys, start=1):
            where = f"issuer {issuer!r} key {n}"
            if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
                raise SettingsError(ISSUERS_ENV, f"{where}: only RSA and EC public keys are accepted")
            if "d" in key or "p" in key:
                raise SettingsError(ISSUERS_ENV, f"{where}: is a private key; configure the public key only")
            alg = key.get("alg")
            if alg is not None and alg not in ALGORITHMS:
                raise SettingsError(ISSUERS_ENV, f"{where}: alg {alg!r} is not one of {', '.join(ALGORITHMS)}")
            kid = key.get("kid")
            if not isinstance(kid, str) or not kid or kid in issuers[issuer]:
                raise SettingsError(ISSUERS_ENV, f"{where}: needs a kid, unique within the issuer")
            try:
                parsed = jwt.PyJWK(key)
            except jwt.PyJWTError as exc:
                raise SettingsError(ISSUERS_ENV, f"{where}: not a usable key ({exc.__class__.__name__})") from None
            if isinstance(parsed.key, rsa.RSAPublicKey) and parsed.key.key_size < MIN_RSA_BITS:
                raise SettingsError(ISSUERS_ENV, f"{where}: RSA keys need at least {MIN_RSA_BITS} bits")
            issuers[issuer][kid] = TrustedKey(parsed, alg)
    return issuers


@dataclass(frozen=True)
class CdsAuthSettings:
    """Trusted issuers and the service URL, or the explicit development setting."""

    issuers: Mapping[str, Mapping[str, TrustedKey]] = field(default_factory=dict)
    base_url: str | None = None
    insecure_dev: bool = False

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
        if not raw:
            return cls(base_url=base, insecure_dev=dev)
        if dev:
            raise SettingsError(INSECURE_ENV, f"cannot be set together with {ISSUERS_ENV}: verification stays on")
        if base is None:
            raise SettingsError(BASE_URL_ENV, f"is required with {ISSUERS_ENV}: tokens' aud is checked against it")
        return cls(issuers=_load_issuers(raw), base_url=base)

    @property
    def verifies(self) -> bool:
        return bool(self.issuers)


class ReplayCache:
    """The ``(iss, jti)`` of accepted tokens until they expire; bounded (a full cache
    refuses new tokens rather than forget one that could be replayed)."""

    def __init__(self, limit: int = 100_000) -> None:
        self.limit = limit
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def admit(self, key: tuple[str, str], expires: float, now: float) -> None:
        with self._lock:
            if len(self._seen) >= self.limit:
                self._seen = {k: e for k, e in self._seen.items() if e + LEEWAY_S >= now}
            if key in self._seen:
                raise CdsAuthError("this token was already used (jti replayed)")
            if len(self._seen) >= self.limit:
                raise CdsAuthError("too many tokens in flight; retry shortly")
            self._seen[key] = expires


@dataclass
class Verifier:
    """Checks ``Authorization`` headers against :class:`CdsAuthSettings`."""

    settings: CdsAuthSettings
    clock: Callable[[], float] = time.time
    replay: ReplayCache = field(default_factory=ReplayCache)

    def audiences(self, path: str, *alternatives: str) -> list[str]:
        base = self.settings.base_url or ""
        return [base + p for p in (path, *alternatives)]

    def verify(self, authorization: str | None, audiences: Sequence[str]) -> Mapping[str, Any] | None:
        """The verified claims; None in development mode; :class:`CdsAuthError` otherwise."""
        import jwt

        if not self.settings.verifies:
            if self.settings.insecure_dev:
                return None
            raise CdsAuthError(
                f"no trusted EHR is configured: set {ISSUERS_ENV} and {BASE_URL_ENV} "
                f"(or, for local development only, {INSECURE_ENV}=1)"
            )
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
        alg, kid, issuer = header.get("alg"), header.get("kid"), unverified.get("iss")
        if alg not in ALGORITHMS:
            raise CdsAuthError(f"algorithm {str(alg)[:16]!r} is not accepted: use one of {', '.join(ALGORITHMS)}")
        if not isinstance(issuer, str) or issuer not in self.settings.issuers:
            raise CdsAuthError("the token's issuer (iss) is not a trusted EHR")
        key = self.settings.issuers[issuer].get(kid) if isinstance(kid, str) else None
        if key is None:
            raise CdsAuthError("the token's kid names no key configured for its issuer")
        if key.jwk.key_type != _KEY_TYPE[alg[:2]] or (key.alg or alg) != alg:
            raise CdsAuthError(f"key {kid!r} is not a key for {alg}")
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
        except jwt.InvalidAudienceError:
            raise CdsAuthError("the token's aud is not the URL of this CDS service") from None
        except jwt.InvalidSignatureError:
            raise CdsAuthError("the token's signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise CdsAuthError(f"the token is not valid ({exc.__class__.__name__})") from None
        now = self.clock()
        exp, iat, jti = claims["exp"], claims["iat"], claims["jti"]
        if not isinstance(iat, (int, float)) or iat > now + LEEWAY_S:
            raise CdsAuthError("the token's iat is in the future")
        if exp > now + MAX_LIFETIME_S + LEEWAY_S:
            raise CdsAuthError(f"the token expires more than {MAX_LIFETIME_S} seconds from now")
        if not isinstance(jti, str) or not jti or len(jti) > 256:
            raise CdsAuthError("the token's jti must be a non-empty string")
        self.replay.admit((issuer, jti), float(exp), now)
        return claims
