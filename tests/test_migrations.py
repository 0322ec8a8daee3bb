"""Migrations: empty → head on both databases, and the result matches the models."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect

from premiumchat.db.engine import create_engine
from premiumchat.db.migrate import downgrade_url, pending_model_changes, upgrade_url
from tests.databases import PostgresDatabases, SqliteDatabases

TABLES = {
    "users",
    "refresh_tokens",
    "lobbies",
    "lobby_members",
    "lobby_bans",
    "messages",
    "lobby_log",
    "lobby_tags",
    "lobby_invites",
    "message_reports",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, sqlite_databases: SqliteDatabases) -> str:
    if request.param == "sqlite":
        return asyncio.run(sqlite_databases.create(migrated=False))
    postgres: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return asyncio.run(postgres.create(migrated=False))


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            names: list[str] = await connection.run_sync(lambda c: inspect(c).get_table_names())
            return set(names)
    finally:
        await engine.dispose()


async def test_upgrade_from_empty_to_head_matches_the_models(empty_database_url: str) -> None:
    assert await table_names(empty_database_url) == set()
    await upgrade_url(empty_database_url)
    assert await table_names(empty_database_url) == TABLES | {"alembic_version"}
    engine = create_engine(empty_database_url)
    try:
        assert await pending_model_changes(engine) == []
    finally:
        await engine.dispose()


async def test_downgrade_to_base_and_back(empty_database_url: str) -> None:
    await upgrade_url(empty_database_url)
    await downgrade_url(empty_database_url, "base")
    assert await table_names(empty_database_url) <= {"alembic_version"}
    await upgrade_url(empty_database_url)
    assert TABLES <= await table_names(empty_database_url)


async def test_upgrade_is_idempotent(empty_database_url: str) -> None:
    await upgrade_url(empty_database_url)
    await upgrade_url(empty_database_url)
    assert TABLES <= await table_names(empty_database_url)
