"""Where the ``jti`` of each accepted CDS Hooks token is kept until it expires.

``MIXCALC_REPLAY_STORE`` chooses (see :func:`replay_store`):

* unset or ``memory``: :class:`MemoryReplayStore`, in this process.  With N workers or
  replicas, a token could be replayed once on each.
* ``redis://``, ``rediss://`` (TLS) or ``unix://`` URL: :class:`RedisReplayStore`, shared by
  every worker and replica that names the same Redis.  Each ``jti`` is written with one
  atomic ``SET key 1 NX EX ttl`` under ``mixcalc:jti:<issuer digest>:<jti digest>``;
  the key vanishes when the token could no longer be accepted anyway.  Redis that does
  not answer within :data:`REDIS_TIMEOUT_S` (connect, then each command; one retry on a
  fresh connection) or answers an error raises :class:`StoreUnavailable`: the call is
  refused (503), never let through unchecked.
"""

from __future__ import annotations

import hashlib
import threading
from typing import TYPE_CHECKING, Protocol

from ..errors import Replayed, StoreUnavailable

if TYPE_CHECKING:
    import redis

__all__ = [
    "MEMORY_LIMIT",
    "REDIS_TIMEOUT_S",
    "MemoryReplayStore",
    "RedisReplayStore",
    "ReplayStore",
    "Replayed",
    "StoreUnavailable",
    "redis_key",
]

MEMORY_LIMIT = 100_000
REDIS_TIMEOUT_S = 0.5
_PREFIX = b"mixcalc:jti:"


class ReplayStore(Protocol):
    def admit(self, issuer: str, jti: str, *, ttl_s: int, now: float) -> None:
        """Records ``(issuer, jti)`` for ``ttl_s`` seconds from ``now``; :class:`Replayed`
        if it is already recorded, :class:`StoreUnavailable` if that cannot be known."""


class MemoryReplayStore:
    """In this process; bounded (a full store refuses new tokens rather than forget one
    that could be replayed)."""

    def __init__(self, limit: int = MEMORY_LIMIT) -> None:
        self.limit = limit
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def admit(self, issuer: str, jti: str, *, ttl_s: int, now: float) -> None:
        key = (issuer, jti)
        with self._lock:
            if len(self._seen) >= self.limit:
                self._seen = {k: until for k, until in self._seen.items() if until >= now}
            if key in self._seen and self._seen[key] >= now:
                raise Replayed
            if len(self._seen) >= self.limit:
                raise StoreUnavailable("too many tokens in flight; retry shortly")
            self._seen[key] = now + max(1, ttl_s)


def redis_key(issuer: str, jti: str) -> bytes:
    """The Redis key of a ``jti``: namespaced by issuer, fixed length, no raw token text."""
    issuer_digest = hashlib.sha256(issuer.encode()).hexdigest()[:32]
    jti_digest = hashlib.sha256(jti.encode("utf-8", "surrogatepass")).hexdigest()
    return _PREFIX + f"{issuer_digest}:{jti_digest}".encode()


class RedisReplayStore:
    """In Redis, shared by every process that names the same server (atomic ``SET NX EX``)."""

    def __init__(self, url: str, *, timeout_s: float = REDIS_TIMEOUT_S) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self._errors = redis.RedisError
        self._redis: redis.Redis = redis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),  # once more on a fresh connection (e.g. after a Redis restart)
            client_name="mixcalc",
        )

    def admit(self, issuer: str, jti: str, *, ttl_s: int, now: float) -> None:
        try:
            fresh = self._redis.set(redis_key(issuer, jti), b"1", nx=True, ex=max(1, ttl_s))
        except self._errors as exc:  # unreachable, timed out, or an error answer (auth, read-only replica)
            raise StoreUnavailable(f"the replay store (Redis) did not answer ({exc.__class__.__name__})") from None
        if not fresh:
            raise Replayed

    def close(self) -> None:
        self._redis.close()
