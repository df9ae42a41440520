"""A real Redis server for tests: Debian's redis-server on a free loopback port.

Its own temp folder and config, no persistence (a test that needs "the broker lost
its data" calls flush()), stopped and removed by the fixture.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.servers import end_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One throwaway redis-server; url(n) gives each test its own database number."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: `make test` installs Debian's redis-server"
            )
        self.binary = binary
        self.root = Path(tempfile.mkdtemp(prefix="mailroom-redis-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._db = 0

    def start(self) -> RedisServer:
        conf = self.root / "redis.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {self.root}",
                    'save ""',
                    "appendonly no",
                    "protected-mode yes",
                    "databases 64",
                    f"logfile {self.root / 'redis.log'}",
                    "daemonize no",
                ]
            )
            + "\n"
        )
        self.proc = subprocess.Popen(
            [self.binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.ping():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        log = self.root / "redis.log"
        raise RuntimeError(f"redis-server did not start: {log.read_text() if log.exists() else ''}")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def url(self, db: int | None = None) -> str:
        """A broker URL on a database number no other test has used."""
        if db is None:
            self._db += 1
            db = self._db
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        end_process(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)
