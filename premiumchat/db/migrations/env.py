"""Alembic environment: runs on the connection it is handed, or opens one from the URL."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from premiumchat.db import models  # noqa: F401  (registers the tables on the metadata)
from premiumchat.db.engine import create_engine

target_metadata = SQLModel.metadata
config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_new_engine(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from premiumchat.config import Settings

        url = Settings().database_url
    asyncio.run(_run_with_new_engine(url))


if context.is_offline_mode():
    raise SystemExit("Offline (SQL script) migrations are not supported; run `premiumchat migrate`.")
run_migrations_online()
