"""A real ``redis-server`` (Debian's package) on a free loopback port, in a temporary folder,
for the tests of the shared replay store.  Without it the tests fail saying how to install
it (``scripts/system-packages``), never skip."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

__all__ = ["INSTALL", "RedisServer", "free_port"]

INSTALL = "scripts/system-packages (apt-get install redis-server)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisServer:
    """``redis-server`` without persistence, listening on 127.0.0.1 only."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, f"redis-server is not installed: run {INSTALL}"
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        args = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self._process = subprocess.Popen(  # noqa: S603 - the test starts a known program with fixed arguments
            [*args, "--dir", str(folder), "--daemonize", "no", "--logfile", str(folder / "redis.log")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            self.stop()
            raise AssertionError(f"redis-server did not answer on port {self.port}")
        client.close()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=1)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=10)
