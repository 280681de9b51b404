"""What the HTTP benchmarks share: start a server, time its cold start, drive it with wrk,
read its memory.

Nothing here is timed by a unit test; the scripts print figures (medians of several
runs) for a person to read.  wrk comes from Debian (``apt-get install wrk``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: The typical request of issue 5: three agents, six sites, weight, height and sex.
TYPICAL = {
    "sites": 6,
    "components": [
        {"agent": "lidocaine", "concentration": "1 %", "volume_per_site": "0.5 mL"},
        {"agent": "bupivacaine", "concentration": "0.25 %", "volume_per_site": "0.5 mL"},
        {"agent": "triamcinolone-acetonide", "concentration": "40 mg/mL", "dose_per_site": "10 mg"},
    ],
    "patient": {"weight": "70 kg", "height": "175 cm", "sex": "female"},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def post(url: str, body: bytes, timeout: float = 5.0) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (loopback only)
            return answer.status, answer.read()
    except urllib.error.HTTPError as failed:
        return failed.code, failed.read()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    cold_start: float  # seconds from process start to the first 200 on ``url``

    def rss_kib(self) -> int:
        """Resident memory now, summed over the server and its worker processes."""
        return sum(_status_kib(pid, "VmRSS") for pid in _tree(self.process.pid))

    def peak_rss_kib(self) -> int:
        """The high-water mark of resident memory, summed over the processes."""
        return sum(_status_kib(pid, "VmHWM") for pid in _tree(self.process.pid))


@contextmanager
def serve(
    command: Sequence[str],
    path: str,
    body: bytes,
    port: int,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Starts ``command`` (with ``env`` added to the environment), waits for a 200 to
    ``body`` POSTed at ``path``, stops it after."""
    url = f"http://127.0.0.1:{port}{path}"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited: {process.stderr.read().decode() if process.stderr else ''}")
            try:
                status, _ = post(url, body, timeout=1.0)
                if status == 200:
                    break
                raise RuntimeError(f"{url} answered {status} to the benchmark request")
            except (ConnectionError, urllib.error.URLError):
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{url} did not answer within {timeout:g} s") from None
                time.sleep(0.005)
        yield Server(process, url, time.perf_counter() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class Load:
    requests: int
    seconds: float
    socket_errors: int  # connect, read, write, timeout
    wrong: int  # answers with a status no body expects
    drift: int  # sum over statuses of |answers - requests sent for it|
    connections: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        """Socket errors, wrong statuses, and status counts off by more than the requests a
        stopped run leaves unanswered (wrk: one in flight and one prepared per connection)."""
        return self.socket_errors + self.wrong + max(0, self.drift - 2 * self.connections)


_LUA = """
-- Bodies sent in turn.  Answers on many connections come back in any order, so each
-- status is tallied and set against what was sent: a status no body expects is wrong,
-- and each expected status's count must match what was sent for it, give or take the
-- requests left unanswered when the run stops (see Load.errors).
bodies = {BODIES}
expected = {EXPECTED}
statuses = {STATUSES}
threads = {}
n = 0
sent = {}
got = {}
wrong = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for i, b in ipairs(bodies) do
    bodies[i] = wrk.format("POST", nil, {["Content-Type"] = "application/json"}, b)
  end
  for _, s in ipairs(statuses) do
    sent[s] = 0
    got[s] = 0
  end
end

function request()
  n = n % #bodies + 1
  sent[expected[n]] = sent[expected[n]] + 1
  return bodies[n]
end

function response(status, headers, body)
  if got[status] == nil then
    wrong = wrong + 1
  else
    got[status] = got[status] + 1
  end
end

function done(summary, latency, requests)
  local bad, drift = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("wrong")
    local s, g = t:get("sent"), t:get("got")
    for _, status in ipairs(statuses) do
      drift = drift + math.abs(s[status] - g[status])
    end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "us": %d, "socket_errors": %d, "wrong": %d, "drift": %d, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "max": %d}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout, bad, drift,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk(
    url: str,
    bodies: Sequence[tuple[bytes, int]],
    seconds: float,
    connections: int = 32,
    threads: int = 1,
) -> Load:
    """Drives ``url`` with ``bodies`` in turn (each with the status it must get) for
    ``seconds`` on ``connections`` keep-alive connections."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get update && apt-get install -y wrk")
    script = (
        _LUA.replace("{BODIES}", "{" + ", ".join(_lua_string(b.decode()) for b, _ in bodies) + "}")
        .replace("{EXPECTED}", "{" + ", ".join(str(status) for _, status in bodies) + "}")
        .replace("{STATUSES}", "{" + ", ".join(str(status) for status in sorted({s for _, s in bodies})) + "}")
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        result = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "5s",
                "-s",
                handle.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    return Load(
        requests=figures["requests"],
        seconds=figures["us"] / 1e6,
        socket_errors=figures["socket_errors"],
        wrong=figures["wrong"],
        drift=figures["drift"],
        connections=connections,
        p50_ms=figures["p50"] / 1000,
        p90_ms=figures["p90"] / 1000,
        p99_ms=figures["p99"] / 1000,
        max_ms=figures["max"] / 1000,
    )


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's workers are children of the supervisor)."""
    found = [pid]
    for candidate in found:
        try:
            children = Path(f"/proc/{candidate}/task/{candidate}/children").read_text().split()
        except OSError:
            continue
        found.extend(int(child) for child in children)
    return found


def _status_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine() -> str:
    import platform

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def asgi_timings(app: Any, body: bytes, number: int = 1000, repeat: int = 7, profile: bool = False) -> list[float]:
    """µs per request of ``body`` POSTed to ``/v1/mixtures`` through the ASGI ``app`` in
    process (no server, no socket): one figure per run of ``number`` requests, after a
    warm-up; with ``profile``, one run under cProfile, whose top functions are printed."""
    import asyncio

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/mixtures",
        "raw_path": b"/v1/mixtures",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def one() -> None:
        delivered = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # no disconnect while the answer is sent
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app({**scope, "headers": list(scope["headers"]), "state": {}}, receive, send)
        if status != 200:
            raise RuntimeError(f"the app answered {status}")

    async def runs() -> list[float]:
        for _ in range(200):
            await one()
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(number):
                await one()
            profiler.disable()
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
        figures = []
        for _ in range(repeat):
            started = time.perf_counter()
            for _ in range(number):
                await one()
            figures.append((time.perf_counter() - started) / number * 1e6)
        return figures

    return asyncio.run(runs())
