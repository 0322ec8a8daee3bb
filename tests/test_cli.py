"""The premiumchat command: migrate, create-admin and serve on a fresh SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest_settings import TEST_SECRET_KEY
from tests.graphql import GraphQLClient
from tests.servers import ServerProcess


def premiumchat(
    *args: str, cwd: Path, database_url: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": TEST_SECRET_KEY}
    return subprocess.run(
        [sys.executable, "-m", "premiumchat", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        input=stdin,
        timeout=120,
    )


def test_migrate_creates_the_schema(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    result = premiumchat("migrate", cwd=tmp_path, database_url=url)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m.db").exists()
    assert premiumchat("migrate", cwd=tmp_path, database_url=url).returncode == 0


async def test_create_admin_creates_then_promotes(tmp_path: Path, database_url: str) -> None:
    created = premiumchat(
        "create-admin", "--username", "root", "--email", "root@example.com", "--password", "adminpass1",
        cwd=tmp_path, database_url=database_url,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "created" in created.stdout

    server = ServerProcess(database_url, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            gql = GraphQLClient(http)
            plain = await gql.register("someone")
            assert plain["user"]["isStaff"] is False
            promoted = premiumchat(
                "create-admin", "--username", "SOMEONE", "--email", "x@example.com",
                cwd=tmp_path, database_url=database_url, stdin="newpass123\nnewpass123\n",
            )  # fmt: skip
            # Without a terminal getpass falls back to stdin; the password is never echoed.
            assert promoted.returncode == 0, promoted.stderr
            assert "promoted" in promoted.stdout
            assert "newpass123" not in promoted.stdout + promoted.stderr
            login = await gql.data(
                'mutation { login(username: "someone", password: "newpass123") { user { isStaff } } }'
            )
            assert login["login"]["user"]["isStaff"] is True
            root = await gql.data(
                'mutation { login(username: "root", password: "adminpass1") { user { isStaff } } }'
            )
            assert root["login"]["user"]["isStaff"] is True
    finally:
        server.stop()


def test_create_admin_reports_bad_input_plainly(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    result = premiumchat(
        "create-admin", "--username", "x", "--email", "x@example.com", "--password", "adminpass1",
        cwd=tmp_path, database_url=url,
    )  # fmt: skip
    assert result.returncode != 0
    assert "Usernames have 3 to 32 characters" in result.stderr
    assert "Traceback" not in result.stderr


async def test_serve_migrates_a_fresh_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    server = ServerProcess(url, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            payload = await GraphQLClient(http).register("first_user")
            assert payload["user"]["id"] == "1"
    finally:
        server.stop()
