"""The EHR's keys and the replay store in production: an issuer's JWK Set fetched from its
HTTPS URL (a real TLS server on loopback, its certificate from a CA made here), a Redis
replay store shared by replicas (a real ``redis-server``), and tokens whose claims have the
wrong JSON type (issue 13: a 401, never a 500)."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from jwks_server import JwksServer, make_certificates
from redis_server import RedisServer, free_port
from strategies import json_values

from mixcalc.api import create_app
from mixcalc.api.cds_auth import (
    BASE_URL_ENV,
    CA_BUNDLE_ENV,
    ISSUERS_ENV,
    LEEWAY_S,
    REPLAY_STORE_ENV,
    CdsAuthError,
    CdsAuthSettings,
    CdsAuthUnavailable,
    Verifier,
)
from mixcalc.api.jwks import COOLDOWN_S, MAX_AGE_S, HttpsFetcher
from mixcalc.api.replay import MemoryReplayStore, RedisReplayStore, Replayed, StoreUnavailable, redis_key
from mixcalc.api.settings import SettingsError
from mixcalc.formulary import Formulary

BASE = "https://mixcalc.example.org"
SIGN = "/cds-services/mixcalc-tpi-order-sign"
ISSUER = "https://ehr.example.org/"
OTHER_ISSUER = "https://other-ehr.example.org/"
CALL = json.loads((Path(__file__).parent / "fixtures" / "cds" / "order-sign-ehr.json").read_text())

# One key per role, made once (key generation is the slow part).
EC_KEY = ec.generate_private_key(ec.SECP384R1())
NEW_KEY = ec.generate_private_key(ec.SECP384R1())
OTHER_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    algorithm = (
        jwt.algorithms.ECAlgorithm if isinstance(key, ec.EllipticCurvePrivateKey) else jwt.algorithms.RSAAlgorithm
    )
    data: dict[str, Any] = json.loads(algorithm.to_jwk(key.public_key()))
    return data | {"kid": kid, "use": "sig"}


def _claims(**claims: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": BASE + SIGN, "exp": now + 120, "iat": now, "jti": str(uuid.uuid4())} | claims


def _token(key: Any = EC_KEY, *, kid: str = "ec-1", alg: str = "ES384", headers: Any = None, **claims: Any) -> str:
    return jwt.encode(_claims(**claims), key, algorithm=alg, headers={"kid": kid, "typ": "JWT"} | (headers or {}))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_token(header: bytes, payload: bytes, key: Any = EC_KEY) -> str:
    """A token with exactly these header and payload bytes, validly signed with ``key`` (ES384)."""
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    signature = jwt.algorithms.get_default_algorithms()["ES384"].sign(signing_input.encode(), key)
    return f"{signing_input}.{_b64(signature)}"


def _inline_env(*issuers: str) -> dict[str, str]:
    keys = {"keys": [_jwk(EC_KEY, "ec-1"), _jwk(RSA_KEY, "rsa-1")]}
    return {ISSUERS_ENV: json.dumps(dict.fromkeys(issuers or (ISSUER,), keys)), BASE_URL_ENV: BASE}


def _refused(verifier: Verifier, token: str) -> str:
    with pytest.raises(CdsAuthError) as caught:
        verifier.verify(f"Bearer {token}", [BASE + SIGN])
    return caught.value.reason


class Clock:
    """A monotonic clock the test moves (the key-set cache reads it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- an issuer's JWK Set from its URL ----------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def server(certificates: tuple[Path, Path, Path]) -> Iterator[JwksServer]:
    jwks_server = JwksServer(certificates[1], certificates[2])
    yield jwks_server
    jwks_server.stop()


@pytest.fixture
def jwks(server: JwksServer) -> JwksServer:
    server.reset([_jwk(EC_KEY, "ec-1")])
    return server


def _remote_env(url: str, ca: Path | None) -> dict[str, str]:
    env = {ISSUERS_ENV: json.dumps({ISSUER: {"jwks_url": url}}), BASE_URL_ENV: BASE}
    return env | ({CA_BUNDLE_ENV: str(ca)} if ca else {})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def remote(jwks: JwksServer, certificates: tuple[Path, Path, Path], clock: Clock) -> Verifier:
    return Verifier(CdsAuthSettings.from_env(_remote_env(jwks.url, certificates[0])), monotonic=clock)


def test_keys_are_fetched_from_the_issuers_url_once_and_cached(remote: Verifier, jwks: JwksServer) -> None:
    for _ in range(3):
        assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    assert jwks.behaviour.hits == 1
    assert jwks.behaviour.paths == ["/jwks"]


def test_key_rotation_works_without_a_restart(remote: Verifier, jwks: JwksServer, clock: Clock) -> None:
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    jwks.reset([_jwk(NEW_KEY, "ec-2")])  # the EHR publishes its new key and withdraws the old one
    clock.advance(COOLDOWN_S)
    assert remote.verify(f"Bearer {_token(NEW_KEY, kid='ec-2')}", [BASE + SIGN]) is not None
    assert jwks.behaviour.hits == 1
    assert "kid" in _refused(remote, _token())  # the withdrawn key is no longer trusted


def test_key_rotation_through_the_hook_route(
    formulary: Formulary, jwks: JwksServer, certificates: tuple[Path, Path, Path], clock: Clock
) -> None:
    app = create_app(formulary)
    app.state.cds_verifier = Verifier(CdsAuthSettings.from_env(_remote_env(jwks.url, certificates[0])), monotonic=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post(SIGN, json=CALL, headers={"Authorization": f"Bearer {_token()}"})
        assert r.status_code == 200, r.text
        jwks.reset([_jwk(EC_KEY, "ec-1"), _jwk(NEW_KEY, "ec-2")])
        clock.advance(COOLDOWN_S)
        r = client.post(SIGN, json=CALL, headers={"Authorization": f"Bearer {_token(NEW_KEY, kid='ec-2')}"})
        assert r.status_code == 200, r.text


def test_a_flood_of_unknown_kids_fetches_at_most_once_per_cooldown(
    remote: Verifier, jwks: JwksServer, clock: Clock
) -> None:
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    for n in range(30):
        assert "kid" in _refused(remote, _token(kid=f"unknown-{n}"))
    assert jwks.behaviour.hits == 1  # within the cooldown of the first fetch: none again
    clock.advance(COOLDOWN_S)
    with ThreadPoolExecutor(max_workers=8) as pool:  # at once, from many threads: one fetch
        reasons = list(pool.map(lambda n: _refused(remote, _token(kid=f"again-{n}")), range(40)))
    assert all("kid" in reason for reason in reasons)
    assert jwks.behaviour.hits == 2


def test_the_set_is_fetched_again_when_older_than_its_max_age(remote: Verifier, jwks: JwksServer, clock: Clock) -> None:
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    clock.advance(MAX_AGE_S - 1)
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    assert jwks.behaviour.hits == 1
    clock.advance(1)
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    assert jwks.behaviour.hits == 2


def test_an_out_of_date_set_is_not_used_when_it_cannot_be_fetched_again(
    remote: Verifier, jwks: JwksServer, clock: Clock
) -> None:
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    jwks.behaviour.mode = "error"
    clock.advance(MAX_AGE_S)
    assert "could not be fetched: the key set URL answered HTTP 503" in _refused(remote, _token())
    assert "could not be fetched" in _refused(remote, _token())  # within the cooldown: no new fetch
    assert jwks.behaviour.hits == 2
    jwks.behaviour.mode = "ok"
    clock.advance(COOLDOWN_S)
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("error", "HTTP 503"),
        ("not-json", "not JSON"),
        ("redirect", "HTTP 302"),  # never followed (its target is plain http)
        ("gzip", "compressed"),
        ("huge", "larger than"),  # announced by Content-Length
        ("huge-chunked", "larger than"),  # found while reading
    ],
)
def test_a_key_set_that_cannot_be_used_is_a_401(remote: Verifier, jwks: JwksServer, mode: str, reason: str) -> None:
    jwks.behaviour.mode = mode
    found = _refused(remote, _token())
    assert "could not be fetched" in found
    assert reason in found
    assert jwks.behaviour.hits == 1


def test_a_slow_key_server_times_out_within_seconds(remote: Verifier, jwks: JwksServer) -> None:
    jwks.behaviour.mode = "slow"
    started = time.monotonic()
    assert "timed out" in _refused(remote, _token())
    assert time.monotonic() - started < 5  # the read timeout (2 s), not the server's 6 s


def test_a_key_server_trickling_its_answer_meets_the_deadline(
    jwks: JwksServer, certificates: tuple[Path, Path, Path]
) -> None:
    jwks.behaviour.mode = "trickle"  # a byte every half second: no single read times out
    settings_ = CdsAuthSettings.from_env(_remote_env(jwks.url, certificates[0]))
    verifier = Verifier(settings_, fetch=HttpsFetcher(str(certificates[0]), deadline_s=1.0))
    assert "took longer than 1 s" in _refused(verifier, _token())


def test_a_certificate_from_an_untrusted_authority_is_refused(jwks: JwksServer) -> None:
    verifier = Verifier(CdsAuthSettings.from_env(_remote_env(jwks.url, None)))
    assert "certificate did not verify" in _refused(verifier, _token())
    assert jwks.behaviour.hits == 0


def test_a_key_server_that_is_down_is_a_401(certificates: tuple[Path, Path, Path]) -> None:
    verifier = Verifier(CdsAuthSettings.from_env(_remote_env(f"https://127.0.0.1:{free_port()}/jwks", certificates[0])))
    assert "fetching the key set failed (ConnectError)" in _refused(verifier, _token())


def test_a_tokens_jku_is_never_followed(jwks: JwksServer) -> None:
    jwks.reset([_jwk(OTHER_KEY, "evil")])  # an attacker's key set
    verifier = Verifier(CdsAuthSettings.from_env(_inline_env()))
    token = _token(OTHER_KEY, kid="evil", headers={"jku": jwks.url, "x5u": jwks.url})
    assert "kid" in _refused(verifier, token)
    assert jwks.behaviour.hits == 0


def test_unusable_keys_in_a_fetched_set_are_left_out(remote: Verifier, jwks: JwksServer) -> None:
    private = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(OTHER_KEY)) | {"kid": "private"}
    jwks.reset(
        [
            private,
            {"kty": "oct", "k": "c2VjcmV0", "kid": "shared"},
            _jwk(NEW_KEY, "twice"),
            _jwk(OTHER_KEY, "twice"),
            _jwk(NEW_KEY, "enc") | {"use": "enc"},
            {"kty": "RSA", "kid": "junk", "n": [1], "e": {"x": 1}},
            _jwk(EC_KEY, "ec-1"),
        ]
    )
    assert remote.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    assert "kid" in _refused(remote, _token(OTHER_KEY, kid="private"))
    assert "kid" in _refused(remote, _token(OTHER_KEY, kid="twice"))
    assert "kid" in _refused(remote, _token(NEW_KEY, kid="enc"))


def test_a_configured_key_wins_over_a_published_one(jwks: JwksServer, certificates: tuple[Path, Path, Path]) -> None:
    jwks.reset([_jwk(OTHER_KEY, "ec-1")])
    env = _remote_env(jwks.url, certificates[0])
    env[ISSUERS_ENV] = json.dumps({ISSUER: {"jwks_url": jwks.url, "keys": [_jwk(EC_KEY, "ec-1")]}})
    verifier = Verifier(CdsAuthSettings.from_env(env))
    assert verifier.verify(f"Bearer {_token()}", [BASE + SIGN]) is not None
    assert "signature" in _refused(verifier, _token(OTHER_KEY))
    assert jwks.behaviour.hits == 0


@pytest.mark.parametrize(
    "entry",
    [
        {"jwks_url": "http://ehr.example.org/jwks"},
        {"jwks_url": "ftp://ehr.example.org/jwks"},
        {"jwks_url": "https://user:secret@ehr.example.org/jwks"},
        {"jwks_url": "https:///jwks"},
        {"jwks_url": "https://ehr.example.org:99999/jwks"},
        {"jwks_url": 5},
        {"jwks_url": "https://ehr.example.org/jwks", "jku": "https://x"},
        {},
        {"keys": "not a list", "jwks_url": "https://ehr.example.org/jwks"},
    ],
)
def test_a_jwks_url_that_is_not_plain_https_stops_start_up(entry: dict[str, Any]) -> None:
    with pytest.raises(SettingsError) as caught:
        CdsAuthSettings.from_env({ISSUERS_ENV: json.dumps({ISSUER: entry}), BASE_URL_ENV: BASE})
    assert caught.value.setting == ISSUERS_ENV
    assert "secret" not in str(caught.value)


def test_a_ca_bundle_that_cannot_be_read_stops_start_up(tmp_path: Path) -> None:
    (tmp_path / "empty.pem").write_text("not a certificate")
    for path in (tmp_path / "missing.pem", tmp_path / "empty.pem"):
        with pytest.raises(SettingsError) as caught:
            CdsAuthSettings.from_env(_inline_env() | {CA_BUNDLE_ENV: str(path)})
        assert caught.value.setting == CA_BUNDLE_ENV


# --- claims and headers of the wrong JSON type (issue 13) ---------------------------------------


@pytest.fixture(scope="module")
def secured(formulary: Formulary) -> Iterator[TestClient]:
    app = create_app(formulary)
    app.state.cds_verifier = Verifier(CdsAuthSettings.from_env(_inline_env()))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


_HEADER = b'{"alg":"ES384","kid":"ec-1","typ":"JWT"}'
_DEEP = "[" * 2000 + "]" * 2000  # deeper than the JSON reader recurses; the token stays under 8192 characters


def _payload(**claims: Any) -> bytes:
    return json.dumps(_claims(**claims)).encode()


def _with(name: str, raw: str) -> bytes:
    """The payload with claim ``name`` set to the raw JSON text ``raw``."""
    return _payload(**{name: "__RAW__"}).replace(b'"__RAW__"', raw.encode())


@pytest.mark.parametrize(
    ("header", "payload", "reason"),
    [
        (_HEADER, _with("exp", '"9999999999"'), "exp must be a number"),
        (_HEADER, _with("exp", str(int(time.time()) + 60).join('""')), "exp must be a number"),
        (_HEADER, _with("iat", '"now"'), "iat must be a number"),
        (_HEADER, _with("nbf", '"0"'), "nbf must be a number"),
        (_HEADER, _with("nbf", "{}"), "nbf must be a number"),
        (_HEADER, _with("exp", "[1]"), "exp must be a number"),
        (_HEADER, _with("exp", "true"), "exp must be a number"),
        (_HEADER, _with("exp", "null"), "exp must be a number"),
        (_HEADER, _with("exp", "Infinity"), "exp must be a finite number"),
        (_HEADER, _with("iat", "NaN"), "iat must be a finite number"),
        (_HEADER, _with("nbf", "-Infinity"), "nbf must be a finite number"),
        (_HEADER, _with("exp", "1" + "0" * 300), "seconds from now"),
        (_HEADER, _with("exp", "1e308"), "seconds from now"),
        (_HEADER, _with("iat", "1e308"), "in the future"),
        (_HEADER, _with("exp", "9" * 5000), "well-formed"),
        (_HEADER, _with("jti", '{"a": 1}'), "jti must be a string"),
        (_HEADER, _with("jti", "12345"), "jti must be a string"),
        (_HEADER, _with("jti", '""'), "jti must be a non-empty"),
        (_HEADER, _with("iss", '["https://ehr.example.org/"]'), "iss must be a string"),
        (_HEADER, _with("aud", '{"a": 1}'), "aud"),
        (_HEADER, _with("aud", "[[1]]"), "aud"),
        (_HEADER, _with("x", _DEEP), "well-formed"),
        (_HEADER, b"[1, 2]", "well-formed"),
        (_HEADER, b'"a string"', "well-formed"),
        (b'{"alg":"ES384","kid":{"nested":["junk"]}}', _payload(), "well-formed"),
        (b'{"alg":["ES384"],"kid":"ec-1"}', _payload(), "not accepted"),
        (b'{"alg":"ES384","kid":' + _DEEP.encode() + b"}", _payload(), "well-formed"),
        (b'{"alg":"ES384","kid":"ec-1","crit":["exp"]}', _payload(), "well-formed"),
        (b'{"alg":"ES384","kid":"ec-1","b64":false}', _payload(), "well-formed"),
        (b"[]", _payload(), "well-formed"),
    ],
)
def test_claims_of_the_wrong_type_from_a_trusted_issuer_are_a_401(
    secured: TestClient, header: bytes, payload: bytes, reason: str
) -> None:
    token = _raw_token(header, payload)
    r = secured.post(SIGN, json=CALL, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert reason in r.json()["detail"], r.json()


def test_a_well_typed_token_from_a_trusted_issuer_is_accepted(secured: TestClient) -> None:
    r = secured.post(SIGN, json=CALL, headers={"Authorization": f"Bearer {_raw_token(_HEADER, _payload())}"})
    assert r.status_code == 200, r.text


_VERIFIER = Verifier(CdsAuthSettings.from_env(_inline_env()))


def _outcome(token: str) -> str:
    try:
        _VERIFIER.verify(f"Bearer {token}", [BASE + SIGN])
    except CdsAuthError:
        return "refused"
    return "accepted"


@given(name=st.sampled_from(["exp", "iat", "nbf", "jti", "iss", "aud", "sub"]), value=json_values())
@example(name="exp", value=str(int(time.time()) + 60))  # a string exp was a 500 (issue 13)
@example(name="iat", value=str(int(time.time())))
@example(name="nbf", value=[[[]]])
def test_any_json_in_a_claim_is_accepted_or_refused_never_an_error(name: str, value: object) -> None:
    token = _raw_token(_HEADER, json.dumps(_claims(**{name: value})).encode())
    assert _outcome(token) in {"accepted", "refused"}  # any other exception fails the test


@given(name=st.sampled_from(["alg", "kid", "typ", "crit", "jku", "cty"]), value=json_values())
def test_any_json_in_a_header_field_is_accepted_or_refused_never_an_error(name: str, value: object) -> None:
    header = json.dumps({"alg": "ES384", "kid": "ec-1", "typ": "JWT", name: value}).encode()
    assert _outcome(_raw_token(header, _payload())) in {"accepted", "refused"}


# --- the replay store: in memory, or Redis shared by replicas -----------------------------------


def test_the_memory_store_refuses_a_replay_and_new_tokens_when_full() -> None:
    store = MemoryReplayStore(limit=2)
    store.admit(ISSUER, "a", ttl_s=60, now=0)
    store.admit(OTHER_ISSUER, "a", ttl_s=60, now=0)  # namespaced by issuer: not a replay
    with pytest.raises(Replayed):
        store.admit(ISSUER, "a", ttl_s=60, now=1)
    with pytest.raises(StoreUnavailable):
        store.admit(ISSUER, "b", ttl_s=60, now=1)
    store.admit(ISSUER, "b", ttl_s=60, now=61)  # the first two have expired: room again


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


def _replica(formulary: Formulary, env: dict[str, str]) -> TestClient:
    app = create_app(formulary)
    app.state.cds_verifier = Verifier(CdsAuthSettings.from_env(env))
    return TestClient(app, raise_server_exceptions=False)


def _call(client: TestClient, token: str) -> Any:
    return client.post(SIGN, json=CALL, headers={"Authorization": f"Bearer {token}"})


def test_replicas_sharing_redis_refuse_a_token_replayed_on_another(
    formulary: Formulary, redis_server: RedisServer
) -> None:
    env = _inline_env() | {REPLAY_STORE_ENV: redis_server.url}
    with _replica(formulary, env) as first, _replica(formulary, env) as second:
        token = _token()
        assert _call(first, token).status_code == 200
        r = _call(second, token)
        assert r.status_code == 401, r.text
        assert "replayed" in r.json()["detail"]
        assert _call(second, _token()).status_code == 200


def test_replicas_in_memory_each_keep_their_own_jti(formulary: Formulary) -> None:
    """The default, and why Redis is needed with replicas: each process remembers alone."""
    with _replica(formulary, _inline_env()) as first, _replica(formulary, _inline_env()) as second:
        token = _token()
        assert _call(first, token).status_code == 200
        assert _call(second, token).status_code == 200
        assert _call(first, token).status_code == 401


def test_a_jti_is_kept_in_redis_until_the_token_could_no_longer_be_accepted(redis_server: RedisServer) -> None:
    verifier = Verifier(
        CdsAuthSettings.from_env(_inline_env(ISSUER, OTHER_ISSUER) | {REPLAY_STORE_ENV: redis_server.url})
    )
    jti = f"jti-{uuid.uuid4()}"
    now = int(time.time())
    assert verifier.verify(f"Bearer {_token(jti=jti, exp=now + 100)}", [BASE + SIGN]) is not None
    client = redis_server.client()
    ttl = client.ttl(redis_key(ISSUER, jti))
    assert 100 <= ttl <= 100 + LEEWAY_S + 1
    assert not client.keys(f"*{jti}*")  # the key holds digests, not the token's text
    # the same jti from another issuer is another token
    assert verifier.verify(f"Bearer {_token(jti=jti, iss=OTHER_ISSUER)}", [BASE + SIGN]) is not None
    assert "replayed" in _refused(verifier, _token(jti=jti, iss=OTHER_ISSUER))
    client.close()


def test_redis_unreachable_is_a_503_never_a_pass(formulary: Formulary) -> None:
    env = _inline_env() | {REPLAY_STORE_ENV: f"redis://127.0.0.1:{free_port()}/0"}
    with _replica(formulary, env) as client:
        started = time.monotonic()
        r = _call(client, _token())
        assert time.monotonic() - started < 3
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "5"
    assert "replay store" in r.json()["detail"]
    assert "cards" not in r.text


def test_redis_that_accepts_but_never_answers_is_a_503_within_seconds() -> None:
    with socket.socket() as listener:  # a black hole: connections are accepted, nothing is ever said
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        env = _inline_env() | {REPLAY_STORE_ENV: f"redis://127.0.0.1:{listener.getsockname()[1]}/0"}
        verifier = Verifier(CdsAuthSettings.from_env(env))
        started = time.monotonic()
        with pytest.raises(CdsAuthUnavailable) as caught:
            verifier.verify(f"Bearer {_token()}", [BASE + SIGN])
        assert time.monotonic() - started < 3
    assert "TimeoutError" in caught.value.reason


def test_the_hook_waits_on_redis_off_the_event_loop(formulary: Formulary) -> None:
    """While a hook call waits on a replay store that never answers, /healthz still answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        app = create_app(formulary)
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        store = RedisReplayStore(url, timeout_s=2)
        app.state.cds_verifier = Verifier(CdsAuthSettings.from_env(_inline_env()), replay=store)
        with TestClient(app, raise_server_exceptions=False) as client:
            results: list[int] = []
            waiting = threading.Thread(target=lambda: results.append(_call(client, _token()).status_code))
            waiting.start()
            time.sleep(0.2)
            assert client.get("/healthz").status_code == 200
            assert waiting.is_alive()  # the hook call is still waiting on Redis
            waiting.join()
    assert results == [503]


@pytest.mark.parametrize("value", ["http://cache:6379", "cache:6379", "redis://:s3cret@cache:notaport/0"])
def test_a_replay_store_that_is_not_redis_stops_start_up(value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        CdsAuthSettings.from_env({REPLAY_STORE_ENV: value})
    assert caught.value.setting == REPLAY_STORE_ENV
    assert "s3cret" not in str(caught.value)


def test_the_replay_store_defaults_to_memory() -> None:
    assert CdsAuthSettings.from_env({}).replay_store_url is None
    assert CdsAuthSettings.from_env({REPLAY_STORE_ENV: "memory"}).replay_store_url is None
    assert CdsAuthSettings.from_env({REPLAY_STORE_ENV: "rediss://cache.example.org:6380/0"}).replay_store_url
