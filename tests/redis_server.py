"""A private redis-server on a free port, for tests that kill, pause and restart it.

Never the shared Redis: a test that breaks the connection on purpose owns its server.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests import services
from tests.servers import free_port

STARTUP_TIMEOUT_SECONDS = 10


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


class RedisServer:
    def __init__(self, binary: str, work_dir: Path) -> None:
        self.binary = binary
        self.work_dir = work_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        """Start (or restart) the server on its port, and wait until it answers PING."""
        assert self.process is None or self.process.poll() is not None, "already running"
        with (self.work_dir / "redis.log").open("ab") as log:
            # Nothing on disk: no RDB snapshots, no append-only file.
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
                + ["--appendonly", "no", "--dir", str(self.work_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited early:\n{(self.work_dir / 'redis.log').read_text()}")
            if self._answers_ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not start in time")

    def kill(self) -> None:
        """SIGKILL, by its PID: its clients see the connection drop at once."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers, like a dead peer."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.resume()  # a stopped process cannot act on SIGTERM
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


def start_private_redis(work_dir: Path) -> RedisServer:
    """A redis-server of the test's own; skips (or, in CI, fails) without the binary."""
    binary = redis_server_binary()
    if binary is None:
        services.unavailable("redis-server (for a private Redis)", "$PATH")
    assert binary is not None
    return RedisServer(binary, work_dir).start()
