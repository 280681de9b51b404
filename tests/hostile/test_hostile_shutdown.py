"""SIGTERM: requests in flight are answered, idle connections closed, a slow client cannot
hold the process; it exits within the grace period (2 s here, MIXCALC_SHUTDOWN_GRACE)."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from conftest import EXAMPLE_REQUEST
from hostile_server import post_head, read_all, running_server, status_of

GRACE = 2.0


def test_sigterm_answers_what_is_in_flight_then_exits_despite_a_slow_client() -> None:
    body = json.dumps(EXAMPLE_REQUEST).encode()
    with running_server() as server:
        in_flight = server.connect()
        in_flight.sendall(post_head("/v1/mixtures", len(body)) + body[:20])
        slow = server.connect()
        slow.sendall(post_head("/v1/mixtures", len(body)) + body[:5])  # and never the rest
        idle = server.connect()
        time.sleep(0.3)
        started = time.perf_counter()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        in_flight.sendall(body[20:])
        answered, _, _ = read_all(in_flight)
        idle_ending = read_all(idle)[0]
        try:
            server.process.wait(timeout=GRACE + 3)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {GRACE + 3} s after SIGTERM") from None
        took = time.perf_counter() - started
        for sock in (in_flight, slow, idle):
            sock.close()
        log = server.log()
    assert status_of(answered) == 200, answered[:200]
    assert b"connection: close" in answered.split(b"\r\n\r\n")[0]
    assert idle_ending == b""
    assert took < GRACE + 1.5, took
    # uvicorn finishes cleanly, then re-raises the signal it caught (exit status: killed by SIGTERM)
    assert server.process.returncode in {0, -signal.SIGTERM}, log
    assert "Finished server process" in log
    assert "Traceback" not in log
