"""Hostile connections to a real server: oversized headers, slowloris, idle crowds, slow
bodies.  Each is refused or closed within its (short, configured) deadline, and /healthz
answers quickly afterwards.  Deadlines here: 1 s for headers and bodies (hostile_server.SHORT)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from hostile_server import (
    SECURITY_HEADERS,
    Server,
    post_head,
    raw_body,
    raw_headers,
    read_all,
    running_server,
    status_of,
)

DEADLINE = 1.0
SLACK = 1.5  # scheduling on a shared 2-core machine


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


def test_headers_over_16_kib_are_a_431_problem(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: " + b"a" * 20_000 + b"\r\n\r\n")
        raw, _, _ = read_all(sock)
    assert status_of(raw) == 431, raw[:300]
    assert raw_body(raw)["type"] == "https://mixcalc.example/problems/request-header-fields-too-large"
    headers = raw_headers(raw)
    assert headers["connection"] == "close"
    assert all(name in headers for name in SECURITY_HEADERS), headers
    assert server.healthz_seconds() < 2.0


def test_eight_50_mb_headers_in_parallel_do_not_grow_the_server(server: Server) -> None:
    before = server.rss_mib()
    header = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-padding: " + b"a" * 50_000_000 + b"\r\n\r\n"
    answers: list[bytes] = []

    def attack() -> None:
        with server.connect() as sock:
            with contextlib.suppress(OSError):  # refused mid-way, as it should be
                sock.sendall(header)
            answers.append(read_all(sock)[0])

    threads = [threading.Thread(target=attack) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 8
    assert any(answer.startswith(b"HTTP/1.1 431 ") for answer in answers), [a[:40] for a in answers]
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 431 ") for answer in answers)
    assert server.rss_mib() - before < 20, (before, server.rss_mib())
    assert server.healthz_seconds() < 2.0


def test_a_slowloris_sending_a_header_byte_a_second_is_cut_off_with_408(server: Server) -> None:
    request = b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + b"a" * 100
    with server.connect() as sock:
        started = time.perf_counter()
        closed = False
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.2)
            if time.perf_counter() - started > DEADLINE + SLACK:
                break
        raw, _, ending = read_all(sock, timeout=DEADLINE + SLACK)
    assert closed or ending in {"closed", "reset"}, ending
    assert raw == b"" or status_of(raw) == 408, raw[:200]
    assert time.perf_counter() - started < DEADLINE + 2 * SLACK
    assert server.healthz_seconds() < 2.0


def test_a_partial_request_gets_408_at_the_header_deadline(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        raw, waited, ending = read_all(sock)
    assert status_of(raw) == 408, raw[:200]
    assert raw_body(raw)["type"] == "https://mixcalc.example/problems/request-timeout"
    assert ending == "closed"
    assert DEADLINE * 0.8 < waited < DEADLINE + SLACK


def test_500_idle_connections_are_closed_and_healthz_answers_meanwhile(server: Server) -> None:
    idle = [server.connect() for _ in range(500)]
    try:
        assert server.healthz_seconds() < 2.0  # while they are open
        time.sleep(DEADLINE + SLACK)
        still_open = 0
        for sock in idle:
            sock.setblocking(False)
            try:
                if sock.recv(1) != b"":
                    still_open += 1
            except BlockingIOError:
                still_open += 1  # nothing to read: the server has not closed it
            except ConnectionResetError:
                pass
        assert still_open == 0
    finally:
        for sock in idle:
            sock.close()
    assert server.healthz_seconds() < 2.0


def test_an_idle_keep_alive_connection_is_closed_after_an_answer(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        raw, waited, ending = read_all(sock)
    assert status_of(raw) == 200, raw[:200]
    assert raw.count(b"HTTP/1.1 ") == 1, raw[:200]
    assert ending == "closed"
    assert waited < DEADLINE + SLACK


def test_a_slow_body_gets_408_at_the_body_deadline_and_the_app_moves_on(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(post_head("/v1/mixtures", 1000) + b'{"sites": 6')
        raw, waited, ending = read_all(sock)
    assert status_of(raw) == 408, raw[:200]
    assert raw_body(raw)["detail"] == "the request body came too slowly"
    assert ending == "closed"
    assert waited < DEADLINE + SLACK
    assert server.healthz_seconds() < 2.0


def test_headers_alone_then_silence_get_408_at_the_body_deadline(server: Server) -> None:
    """The body deadline also runs when not one byte of the body came with the headers."""
    with server.connect() as sock:
        sock.sendall(post_head("/v1/mixtures", 1000))
        raw, waited, ending = read_all(sock)
    assert status_of(raw) == 408, raw[:200]
    assert raw_body(raw)["detail"] == "the request body came too slowly"
    assert ending == "closed"
    assert waited < DEADLINE + SLACK


def test_an_unread_body_after_a_404_is_drained_then_the_connection_closes(server: Server) -> None:
    head = b"GET /no-such-route HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 3000000\r\n\r\n"
    with server.connect() as sock:
        sock.sendall(head + b" " * 3_000_000)  # a GET's body is never read: drained after the 404
        raw, _, ending = read_all(sock)
    assert status_of(raw) == 404, raw[:200]
    assert ending == "closed"


@pytest.mark.parametrize(
    "garbage",
    [b"HELLO\r\n\r\n", b"GET / HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n"],
)
def test_what_is_not_http_is_a_400_problem(server: Server, garbage: bytes) -> None:
    with server.connect() as sock:
        sock.sendall(garbage)
        raw, _, ending = read_all(sock)
    assert status_of(raw) == 400, raw[:200]
    assert raw_body(raw)["type"] == "https://mixcalc.example/problems/malformed-request"
    assert all(name in raw_headers(raw) for name in SECURITY_HEADERS)
    assert ending == "closed"


def test_the_server_names_no_software_and_redirects_nothing(server: Server) -> None:
    answer = server.request("GET", "/healthz/")
    assert answer.status == 404
    assert "location" not in answer.headers
    assert "server" not in server.request("GET", "/healthz").headers


def test_head_works_where_get_does(server: Server) -> None:
    with server.connect() as sock:
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
        raw, _, _ = read_all(sock)
    assert status_of(raw) == 200, raw[:200]
    assert raw.endswith(b"\r\n\r\n"), raw  # headers only
    assert int(raw_headers(raw)["content-length"]) > 0


def test_too_many_connections_get_a_503_problem() -> None:
    with running_server({"MIXCALC_MAX_CONNECTIONS": "3"}) as small:
        held = [small.connect() for _ in range(3)]
        try:
            with small.connect() as extra:
                raw, _, _ = read_all(extra)
            assert status_of(raw) == 503, raw[:200]
        finally:
            for sock in held:
                sock.close()
        time.sleep(0.2)
        assert small.healthz_seconds() < 2.0


@pytest.mark.parametrize("size", [0, 1])
def test_socket_closed_mid_request_leaves_the_server_well(server: Server, size: int) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(post_head("/v1/mixtures", 500) + b"{" * size)
    sock.close()
    assert server.healthz_seconds() < 2.0
