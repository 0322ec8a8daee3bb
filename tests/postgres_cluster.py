"""A private PostgreSQL cluster on a free port, for tests that stop and restart it.

Never the shared server on 5432: a test that breaks the database on purpose owns its cluster.
PostgreSQL refuses to run as root, so as root every command runs as the `postgres` user.
"""

from __future__ import annotations

import asyncio
import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from tests import services
from tests.servers import free_port

STARTUP_TIMEOUT_SECONDS = 30


def postgres_bin_dir() -> Path | None:
    """The newest installed server binaries (Debian's layout), else whatever is on $PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PostgresCluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="premiumchat-pg-"))
        self._as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")
            self._as_postgres = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data_dir), "--auth=trust", "-U", "postgres", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [*self._as_postgres, str(self.bin_dir / tool), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def start(self) -> PostgresCluster:
        options = (
            f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=on -c full_page_writes=off"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.data_dir / "server.log"),
            "-o",
            options,
            "start",
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not asyncio.run(self._answers()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def kill(self) -> None:
        """Immediate shutdown: every backend dies at once, as in a crash (recovery runs on start)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "stop")

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def log(self) -> str:
        path = self.data_dir / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    async def _answers(self) -> bool:
        try:
            connection = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user="postgres", database="postgres", timeout=2
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True


def start_private_postgres() -> PostgresCluster:
    """A cluster of the test's own; skips (or, in CI, fails) without the server binaries."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        services.unavailable("PostgreSQL server binaries (for a private cluster)", "/usr/lib/postgresql")
    assert bin_dir is not None
    cluster = PostgresCluster(bin_dir)
    try:
        return cluster.start()
    except BaseException:
        cluster.remove()
        raise
