"""Throwaway databases: a migrated SQLite file or PostgreSQL database per need."""

from __future__ import annotations

import itertools
import os
import shutil
from pathlib import Path

import asyncpg
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from premiumchat.db import models  # noqa: F401
from premiumchat.db.engine import create_engine
from premiumchat.db.migrate import upgrade_url

_counter = itertools.count()


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


class PostgresDatabases:
    """Creates databases beside the base one (the server's `postgres` user may)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.created: list[str] = []
        base_name = make_url(base_url).database or "postgres"
        self.prefix = f"{base_name}_t{os.getpid()}"

    async def create(self, *, migrated: bool = True) -> str:
        name = f"{self.prefix}_{next(_counter)}"
        connection = await asyncpg.connect(_asyncpg_dsn(self.base_url))
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self.created.append(name)
        url = make_url(self.base_url).set(database=name).render_as_string(hide_password=False)
        if migrated:
            await upgrade_url(url)
        return url

    async def drop_all(self) -> None:
        connection = await asyncpg.connect(_asyncpg_dsn(self.base_url))
        try:
            for name in self.created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


class SqliteDatabases:
    """Copies of one migrated file: migrating once per test session keeps tests fast."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template: Path | None = None

    async def create(self, *, migrated: bool = True) -> str:
        path = self.directory / f"db{next(_counter)}.sqlite"
        if migrated:
            if self.template is None:
                self.template = self.directory / "template.sqlite"
                await upgrade_url(f"sqlite+aiosqlite:///{self.template}")
            shutil.copyfile(self.template, path)
        return f"sqlite+aiosqlite:///{path}"


async def truncate_all(url: str) -> None:
    """Empty every table of a migrated PostgreSQL database, identities included."""
    tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()
