"""A real ``mixcalc serve`` on a loopback port, with short deadlines, its log captured; and
raw-socket helpers to attack it the way a hostile client would."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]

#: Short deadlines so that the slow attacks end in seconds (the defaults are 10 s, 10 s, 5 s, 10 s).
SHORT = {
    "MIXCALC_HEADER_TIMEOUT": "1",
    "MIXCALC_BODY_TIMEOUT": "1",
    "MIXCALC_KEEP_ALIVE": "1",
    "MIXCALC_SHUTDOWN_GRACE": "2",
    "MIXCALC_CDS_INSECURE_DEV": "1",  # hook calls are read without a token (so their bodies are reached)
}
SECURITY_HEADERS = ("x-content-type-options", "x-frame-options", "content-security-policy", "cache-control")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        loaded: dict[str, object] = json.loads(self.body)
        return loaded


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_file: IO[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        """Everything the server has written to stdout and stderr so far (uvicorn's loggers included)."""
        self.log_file.flush()
        return Path(self.log_file.name).read_text(encoding="utf-8", errors="backslashreplace")

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Answer:
        """One request with urllib (as Python's ordinary client sends it: ``Connection: close``)."""
        sent = {"content-type": "application/json", **(headers or {})} if body is not None else dict(headers or {})
        request = urllib.request.Request(self.url + path, data=body, method=method, headers=sent)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (loopback)
                return Answer(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
        except urllib.error.HTTPError as failed:
            return Answer(failed.code, {k.lower(): v for k, v in failed.headers.items()}, failed.read())

    def healthz_seconds(self) -> float:
        """Seconds /healthz takes to answer 200 (it must, after any attack)."""
        started = time.perf_counter()
        answer = self.request("GET", "/healthz", timeout=5.0)
        assert answer.status == 200, answer.body
        return time.perf_counter() - started

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10.0)


@contextmanager
def running_server(extra_env: dict[str, str] | None = None) -> Iterator[Server]:
    port = free_port()
    env = {**os.environ, **SHORT, **(extra_env or {}), "PYTHONDONTWRITEBYTECODE": "1"}
    command = [sys.executable, "-m", "mixcalc.cli", "serve", "--port", str(port), "--log-level", "debug"]
    with tempfile.NamedTemporaryFile(prefix="mixcalc-hostile-", suffix=".log") as log_file:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)  # noqa: S603
        server = Server(process, port, log_file)
        try:
            deadline = time.monotonic() + 30
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"mixcalc serve exited: {server.log()}")
                try:
                    if server.request("GET", "/healthz", timeout=1.0).status == 200:
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"mixcalc serve did not answer: {server.log()}") from None
                    time.sleep(0.05)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def read_all(sock: socket.socket, timeout: float = 10.0) -> tuple[bytes, float, str]:
    """What the server sends until it closes: bytes, seconds waited, and how it ended
    (``"closed"``, ``"reset"`` or ``"timeout"``)."""
    sock.settimeout(timeout)
    started = time.perf_counter()
    received = b""
    ending = "closed"
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        ending = "reset"
    except TimeoutError:
        ending = "timeout"
    return received, time.perf_counter() - started, ending


def status_of(raw: bytes) -> int:
    assert raw.startswith(b"HTTP/1.1 "), raw[:200]
    return int(raw[9:12])


def raw_headers(raw: bytes) -> dict[str, str]:
    head = raw.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head)}


def raw_body(raw: bytes) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(raw.split(b"\r\n\r\n", 1)[1])
    return loaded


def post_head(path: str, length: int | None, content_type: str = "application/json", extra: str = "") -> bytes:
    size = "transfer-encoding: chunked\r\n" if length is None else f"content-length: {length}\r\n"
    return f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: {content_type}\r\n{size}{extra}\r\n".encode()
