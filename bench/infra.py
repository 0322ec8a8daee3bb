"""What a benchmark run stands on: a throwaway database, a private Redis, pinned server processes.

Everything here is loopback only and is torn down by the run that made it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
from sqlalchemy.engine import make_url

from premiumchat.db.migrate import upgrade_url

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
SECRET_KEY = "bench-secret-key-0123456789abcdef0123456789abcdef"
STARTUP_TIMEOUT_SECONDS = 60
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# The server gets core 0, the load generator core 1 (on a two-core machine: all there is).
SERVER_CORE = 0
LOADGEN_CORE = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pin_self_to(core: int) -> bool:
    """Pin the calling process (the load generator) to one core, when the machine has it."""
    if core >= (os.cpu_count() or 1):
        return False
    os.sched_setaffinity(0, {core})
    return True


def taskset(core: int) -> list[str]:
    if shutil.which("taskset") is None or core >= (os.cpu_count() or 1):
        return []
    return ["taskset", "-c", str(core)]


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@asynccontextmanager
async def throwaway_postgres(
    base_url: str = DEFAULT_POSTGRES_URL, *, synchronous_commit: bool = True
) -> AsyncIterator[str]:
    """A migrated PostgreSQL database of this run's own, dropped afterwards."""
    name = f"premiumchat_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_asyncpg_dsn(base_url))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        if not synchronous_commit:
            # Only on this run's own database: commits return before the WAL reaches disk.
            await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_url(url)
        yield url
    finally:
        admin = await asyncpg.connect(_asyncpg_dsn(base_url))
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextmanager
def private_redis(work_dir: Path) -> Iterator[str]:
    """A redis-server of this run's own: no other client's pub/sub traffic reaches the benchmark."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not on PATH")
    port = free_port()
    with (work_dir / "redis.log").open("ab") as log:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
            + ["--dir", str(work_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.02)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class CpuSample:
    ticks: int
    at: float


@dataclass
class Server:
    """A server process pinned to one core, with its CPU and memory read from /proc."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    # Where `python -m premiumchat` is run from: another checkout serves its own code.
    cwd: str | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> Server:
        argv = [arg.replace("{port}", str(self.port)) for arg in self.argv]
        with self.log_path.open("ab") as log:
            self.process = await asyncio.to_thread(
                subprocess.Popen, argv, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited early:\n{self.log_path.read_text()[-4000:]}")
                try:
                    if (await client.get(f"{self.http_url}/healthz", timeout=1)).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start in time:\n{self.log_path.read_text()[-4000:]}")

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    def cpu(self) -> CpuSample:
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of the whole line (11 and 12 after the name).
        return CpuSample(int(fields[11]) + int(fields[12]), time.monotonic())

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/statm") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE


def cpu_percent(before: CpuSample, after: CpuSample) -> float:
    elapsed = after.at - before.at
    return 100.0 * (after.ticks - before.ticks) / CLOCK_TICKS / elapsed if elapsed > 0 else 0.0


def self_cpu() -> CpuSample:
    times = os.times()
    return CpuSample(round((times.user + times.system) * CLOCK_TICKS), time.monotonic())


def premiumchat_server(
    database_url: str, redis_url: str | None, log_dir: Path, core: int = SERVER_CORE, **settings: str
) -> Server:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        **{key.upper(): value for key, value in settings.items()},
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    argv = [*taskset(core), sys.executable, "-m", "premiumchat", "serve", "--port", "{port}"]
    # BENCH_SERVER_SOURCE: a checkout of another revision (e.g. `git archive <rev> | tar -x -C dir`)
    # to measure against; it must share this checkout's migrations.
    source = os.environ.get("BENCH_SERVER_SOURCE") or None
    return Server("premiumchat", argv, env, log_dir / "premiumchat.log", cwd=source)


def ceiling_server(database_url: str, redis_url: str, log_dir: Path, core: int = SERVER_CORE) -> Server:
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": SECRET_KEY}
    argv = [*taskset(core), sys.executable, "-m", "bench.ceiling", "--port", "{port}"]
    return Server("ceiling", argv, env, log_dir / "ceiling.log")


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
