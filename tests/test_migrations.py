"""Migrations: empty → head on both databases, and the result matches the models."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import inspect, text

from premiumchat.db.engine import create_engine
from premiumchat.db.migrate import downgrade_url, pending_model_changes, upgrade_url
from tests.databases import PostgresDatabases, SqliteDatabases

TABLES = {
    "users",
    "refresh_tokens",
    "lobbies",
    "lobby_members",
    "lobby_bans",
    "lobby_mutes",
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


INITIAL_REVISION = "9f07e562896c"
SEED_ROWS = [
    "INSERT INTO users (username, username_key, email, email_key, password_hash, is_premium, is_staff,"
    " is_active, created_at) VALUES ('u', 'u', 'u@example.com', 'u@example.com', 'x', true, false, true,"
    " CURRENT_TIMESTAMP)",
    "INSERT INTO lobbies (name, owner_id, is_public, max_participants, participant_count, status, created_at)"
    " VALUES ('L', 1, true, 8, 1, 'OPEN', CURRENT_TIMESTAMP)",
    "INSERT INTO lobby_members (lobby_id, user_id, role, joined_at)"
    " VALUES (1, 1, 'OWNER', CURRENT_TIMESTAMP)",
    "INSERT INTO messages (lobby_id, sender_id, content, created_at, deleted) VALUES (1, 1, 'hi',"
    " CURRENT_TIMESTAMP, false)",
]


async def rows(url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return [tuple(row) for row in await connection.execute(text(query))]
    finally:
        await engine.dispose()


async def test_later_migrations_keep_existing_rows(empty_database_url: str) -> None:
    """Altering `lobbies` must not recreate it on SQLite: dropping the old table would cascade."""
    url = empty_database_url
    await upgrade_url(url, INITIAL_REVISION)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for statement in SEED_ROWS:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()
    await upgrade_url(url)
    assert await rows(url, "SELECT id, is_locked, ready_count FROM lobbies") == [(1, False, 0)]
    assert await rows(url, "SELECT user_id, is_ready FROM lobby_members") == [(1, False)]
    assert await rows(url, "SELECT id FROM messages") == [(1,)]
    await downgrade_url(url, INITIAL_REVISION)
    assert await rows(url, "SELECT user_id FROM lobby_members") == [(1,)]
    assert await rows(url, "SELECT id FROM messages") == [(1,)]
