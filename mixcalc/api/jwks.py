"""The EHR's public keys: a JWK read from configuration or fetched from its issuer's JWKS URL.

A key is accepted only if it is an RSA (2048 to 16384 bits) or EC public key for
signatures, with a ``kid`` and, if it names one, an algorithm CDS Hooks allows
(:func:`parse_jwk`).  An issuer's JWK Set URL (:class:`RemoteKeys`) is fetched:

* only from the URL configured for that issuer, over HTTPS with certificate and host name
  verified (a token's ``jku``, ``x5u`` or embedded ``jwk`` is never followed or used);
* bounded: :data:`CONNECT_TIMEOUT_S` to connect, :data:`READ_TIMEOUT_S` per read,
  :data:`DEADLINE_S` for the whole answer, at most :data:`MAX_BYTES`, no redirects, no
  compressed answer (so its size is the size read);
* lazily, when a call needs it: the set is kept :data:`MAX_AGE_S`, then fetched again; a
  ``kid`` not in the set fetches it again at once (an EHR's key rotation needs no
  restart), but never more than once per :data:`COOLDOWN_S` per issuer, however many
  unknown ``kid`` values arrive; one fetch at a time per issuer, other calls wait for it.

A fetch that fails raises :class:`KeysUnavailable` (the call is refused: 401), and with it
a set older than :data:`MAX_AGE_S` is no longer used (a key the EHR withdrew is not
trusted on).  Keys in a fetched set that cannot be used are left out and logged (issuer,
position and why; never a token).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import KeyRefused, KeysUnavailable

if TYPE_CHECKING:  # PyJWT, cryptography and httpx2 load only when issuers are configured (start-up time)
    import httpx2
    import jwt

__all__ = [
    "ALGORITHMS",
    "CONNECT_TIMEOUT_S",
    "COOLDOWN_S",
    "DEADLINE_S",
    "MAX_AGE_S",
    "MAX_BYTES",
    "READ_TIMEOUT_S",
    "HttpsFetcher",
    "KeyRefused",
    "KeysUnavailable",
    "RemoteKeys",
    "TrustedKey",
    "parse_jwk",
    "parse_jwks",
]

log = logging.getLogger("mixcalc.api.jwks")

#: Asymmetric signatures only (CDS Hooks 2.0 forbids ``none`` and symmetric algorithms).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 16384
MAX_RSA_EXPONENT = 2**32  # verification time grows with the exponent; real keys use 65537
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

MAX_BYTES = 128 * 1024
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 2.0
DEADLINE_S = 4.0
MAX_AGE_S = 600.0
COOLDOWN_S = 30.0


@dataclass(frozen=True)
class TrustedKey:
    """A public key and the algorithm its JWK names, if it names one."""

    jwk: jwt.PyJWK
    alg: str | None


def parse_jwk(key: object) -> tuple[str, TrustedKey]:
    """``(kid, key)`` for an acceptable public signing key; :class:`KeyRefused` otherwise."""
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    if not isinstance(key, dict) or key.get("kty") not in ("RSA", "EC"):
        raise KeyRefused("only RSA and EC public keys are accepted")
    if any(member in key for member in _PRIVATE_MEMBERS):
        raise KeyRefused("is a private key; configure the public key only")
    if key.get("use", "sig") != "sig":
        raise KeyRefused("its use is not sig")
    alg = key.get("alg")
    if alg is not None and alg not in ALGORITHMS:
        raise KeyRefused(f"alg {str(alg)[:16]!r} is not one of {', '.join(ALGORITHMS)}")
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise KeyRefused("needs a kid (a string of at most 256 characters)")
    try:
        parsed = jwt.PyJWK(key)
    except (jwt.PyJWTError, TypeError, ValueError) as exc:
        raise KeyRefused(f"not a usable key ({exc.__class__.__name__})") from None
    if isinstance(parsed.key, rsa.RSAPublicKey):
        if not MIN_RSA_BITS <= parsed.key.key_size <= MAX_RSA_BITS:
            raise KeyRefused(f"RSA keys need {MIN_RSA_BITS} to {MAX_RSA_BITS} bits")
        if parsed.key.public_numbers().e > MAX_RSA_EXPONENT:
            raise KeyRefused("the RSA public exponent is implausibly large")
    return kid, TrustedKey(parsed, alg if isinstance(alg, str) else None)


def parse_jwks(body: bytes, *, issuer: str) -> dict[str, TrustedKey]:
    """The usable keys of a fetched JWK Set; keys that cannot be used, and any ``kid`` that
    appears twice, are left out (and logged)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested too deep
        raise KeysUnavailable("the key set is not JSON") from None
    keys = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(keys, list):
        raise KeysUnavailable("the key set has no 'keys' list")
    usable: dict[str, TrustedKey] = {}
    twice: set[str] = set()
    for n, key in enumerate(keys, start=1):
        try:
            kid, trusted = parse_jwk(key)
        except KeyRefused as exc:
            log.warning("JWKS of issuer %r: key %d left out: %s", issuer[:200], n, exc.problem)
            continue
        if kid in usable or kid in twice:
            twice.add(kid)
            usable.pop(kid, None)
            log.warning("JWKS of issuer %r: kid %r appears twice; neither is used", issuer[:200], kid[:64])
            continue
        usable[kid] = trusted
    return usable


class HttpsFetcher:
    """GETs a JWK Set over HTTPS within the bounds above.  ``ca_bundle``: a PEM file of
    the certificate authorities to trust instead of the system's (``SSL_CERT_FILE`` and
    ``HTTPS_PROXY`` are honoured as usual)."""

    def __init__(self, ca_bundle: str | None = None, *, deadline_s: float = DEADLINE_S) -> None:
        import httpx2

        verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True
        self.deadline_s = deadline_s
        self._httpx = httpx2
        self._client: httpx2.Client = httpx2.Client(
            verify=verify,
            timeout=httpx2.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            follow_redirects=False,
            headers={"Accept": "application/jwk-set+json, application/json", "Accept-Encoding": "identity"},
        )

    def __call__(self, url: str) -> bytes:
        httpx2 = self._httpx
        if not url.startswith("https://"):  # settings refuse these first; never fetch in clear
            raise KeysUnavailable("the key set URL is not https")
        deadline = time.monotonic() + self.deadline_s
        try:
            with self._client.stream("GET", url) as answer:
                if answer.status_code != 200:
                    raise KeysUnavailable(f"the key set URL answered HTTP {answer.status_code}")
                if answer.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
                    raise KeysUnavailable("the key set came compressed although identity was asked")
                length = answer.headers.get("content-length", "").strip()
                if length and (not length.isdigit() or int(length) > MAX_BYTES):
                    raise KeysUnavailable(f"the key set is larger than {MAX_BYTES} bytes")
                body = bytearray()
                for chunk in answer.iter_raw():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise KeysUnavailable(f"the key set is larger than {MAX_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise KeysUnavailable(f"the key set took longer than {self.deadline_s:g} s")
                return bytes(body)
        except httpx2.TimeoutException:
            raise KeysUnavailable("fetching the key set timed out") from None
        except httpx2.HTTPError as exc:  # connection refused, TLS verification failed, protocol errors
            if _caused_by(exc, ssl.SSLCertVerificationError):
                raise KeysUnavailable(
                    "the key set server's certificate did not verify (a private CA: set MIXCALC_CDS_CA_BUNDLE)"
                ) from None
            raise KeysUnavailable(f"fetching the key set failed ({exc.__class__.__name__})") from None

    def close(self) -> None:
        self._client.close()


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # the chain an HTTP client builds is short; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@dataclass
class RemoteKeys:
    """One issuer's JWK Set from its URL, cached and refreshed as the module says."""

    issuer: str
    url: str
    fetch: Callable[[str], bytes]
    clock: Callable[[], float] = time.monotonic
    _keys: Mapping[str, TrustedKey] = field(default_factory=dict, init=False)
    _fetched_at: float | None = field(default=None, init=False)
    _tried_at: float | None = field(default=None, init=False)
    _failure: str | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def _fresh(self, now: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at < MAX_AGE_S

    def key(self, kid: str) -> TrustedKey | None:
        """The key named ``kid``, or None if the issuer publishes none by that name;
        :class:`KeysUnavailable` when the set is needed and cannot be fetched."""
        found = self._keys.get(kid)  # one read of the set another thread may be replacing
        if found is not None and self._fresh(self.clock()):
            return found
        with self._lock:  # one fetch at a time; the others then find its result
            now = self.clock()
            if self._fresh(now) and kid in self._keys:
                return self._keys[kid]
            if self._tried_at is None or now - self._tried_at >= COOLDOWN_S:
                self._tried_at = now
                try:
                    self._keys = parse_jwks(self.fetch(self.url), issuer=self.issuer)
                except KeysUnavailable as exc:
                    self._failure = exc.reason
                    log.warning("JWKS of issuer %r: %s", self.issuer[:200], exc.reason)
                    raise
                self._fetched_at, self._failure = now, None
            elif not self._fresh(now):
                raise KeysUnavailable(self._failure or "the key set is out of date and fetched again shortly")
            return self._keys.get(kid)
