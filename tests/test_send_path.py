"""The send path straight on the driver (db/direct.py): values, an expired client id, a clean connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from premiumchat.db import direct
from premiumchat.db import messages as queries
from premiumchat.db.models import Lobby, Message, User
from tests.lobbies import app_with, make_users
from tests.realtime import Chat


async def backdate(engine: AsyncEngine, message_id: str, by: timedelta) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(Message)
            .where(col(Message.id) == int(message_id))
            .values(created_at=datetime.now(UTC) - by)
        )


async def test_a_client_id_older_than_the_retry_window_is_released_for_a_new_message(
    database_url: str,
) -> None:
    async with app_with(database_url, rate_limit_messages=1000) as (gql, resources):
        chat = Chat(gql)
        users = await make_users(gql, database_url, ["ann", "bob"], premium=["ann"])
        lobby_id = (await chat.create_lobby(users["ann"], "Old ids"))["id"]
        await chat.join(users["bob"], lobby_id)
        bob = users["bob"]
        old = await chat.send(bob, lobby_id, "long ago", "cid")
        await backdate(resources.engine, old["id"], timedelta(hours=24, minutes=1))

        new = await chat.send(bob, lobby_id, "today", "cid")
        assert new["id"] != old["id"]
        assert (new["content"], new["clientMessageId"]) == ("today", "cid")
        # The old message lost its client id; a retry now finds the new one.
        nodes = [edge["node"] for edge in (await chat.history(bob, lobby_id))["edges"]]
        assert [(node["id"], node["clientMessageId"]) for node in nodes] == [
            (old["id"], None),
            (new["id"], "cid"),
        ]
        assert await chat.send(bob, lobby_id, "retried", "cid") == new

        # Just inside the window, it is still a retry.
        await backdate(resources.engine, new["id"], timedelta(hours=23, minutes=59))
        again = await chat.send(bob, lobby_id, "retried late", "cid")
        assert (again["id"], again["content"]) == (new["id"], "today")


async def test_the_access_read_returns_the_rows_as_the_orm_reads_them(database_url: str) -> None:
    async with app_with(database_url, rate_limit_messages=1000) as (gql, resources):
        chat = Chat(gql)
        users = await make_users(gql, database_url, ["ann", "bob"], premium=["ann"])
        lobby_id = int((await chat.create_lobby(users["ann"], "Values", tags=["eu", "ranked"]))["id"])
        sent = await chat.send(users["ann"], str(lobby_id), "hi", "cid-1")
        async with resources.sessions() as session:
            lobby = await session.get(Lobby, lobby_id)
            lobby.blocked_terms = ["darn", "héllo"]  # JSON with a non-ASCII term
            await session.commit()
        user_id = int(users["ann"].id)

        now = datetime.now(UTC)

        def draft(client_id: str | None, sender_id: int = user_id) -> Message:
            return Message(
                lobby_id=lobby_id,
                sender_id=sender_id,
                content="x",
                created_at=now,
                client_message_id=client_id,
            )

        retry, fresh = draft("cid-1"), draft(None)
        async with resources.engine.connect() as connection:
            db = await direct.DirectConnection.of(connection)
            try:
                await db.begin()
                access = await queries.send_access(db, retry, now)
                missing = await queries.send_access(db, fresh, now)
                nobody = await queries.send_access(db, draft(None, 10**9), now)
                tentative = db.writes_in_cte
            finally:
                await db.end()
        # PostgreSQL inserted the new one with the read (rolled back here), never a retry's.
        assert retry.id is None
        assert (fresh.id is not None) == tentative
        assert await Chat(gql).history_ids(users["ann"], str(lobby_id)) == [sent["id"]]
        async with resources.sessions() as session:
            user, lobby, message = (
                await session.get(User, user_id),
                await session.get(Lobby, lobby_id),
                await session.get(Message, int(sent["id"])),
            )
        assert access is not None
        assert missing is not None
        assert nobody is None
        assert missing.earlier is None
        assert (access.role, access.muted, access.mute_expires_at) == ("OWNER", False, None)
        for read, expected in ((access.user, user), (access.lobby, lobby), (access.earlier, message)):
            assert read is not None
            assert expected is not None
            assert read.model_dump() == expected.model_dump()
        assert access.lobby is not None
        assert access.lobby.blocked_terms == ["darn", "héllo"]
        assert access.lobby.created_at.tzinfo is not None
        assert access.user.is_premium is True


@contextmanager
def driver_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every statement asyncpg sends while the block runs, on any pooled connection."""
    statements: list[str] = []

    def record(query: Any) -> None:
        statements.append(query.query)

    def on_checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(record)

    def on_checkin(dbapi_connection: Any, _record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(record)

    event.listen(engine.sync_engine, "checkout", on_checkout)
    event.listen(engine.sync_engine, "checkin", on_checkin)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "checkout", on_checkout)
        event.remove(engine.sync_engine, "checkin", on_checkin)


async def stuck(engine: AsyncEngine) -> tuple[int, int]:
    """Advisory locks held and transactions left open, over the database's other connections."""
    async with engine.connect() as connection:
        locks = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
            )
        )
        open_transactions = await connection.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
            )
        )
    return int(locks or 0), int(open_transactions or 0)


@pytest.mark.parametrize(
    "database_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_send_is_four_round_trips_and_leaves_its_connection_clean(database_url: str) -> None:
    async with app_with(database_url, rate_limit_messages=2) as (gql, resources):
        chat = Chat(gql)
        users = await make_users(gql, database_url, ["ann", "bob", "cat"], premium=["ann"])
        lobby_id = (await chat.create_lobby(users["ann"], "Round trips"))["id"]
        await chat.join(users["bob"], lobby_id)
        bob = users["bob"]
        await chat.send(bob, lobby_id, "warm up")  # statements are prepared once per connection

        with driver_statements(resources.engine) as statements:
            await chat.send(bob, lobby_id, "counted", "cid")
        # Lock and BEGIN, the access read (retry look-up included) with the INSERT, COMMIT, unlock.
        assert len(statements) == 4, statements
        assert statements[1].startswith("WITH access AS")
        assert statements[0].startswith("SELECT pg_advisory_lock(")
        assert statements[0].endswith("; BEGIN")
        assert statements[-2:] == ["COMMIT", f"SELECT pg_advisory_unlock(28771, {lobby_id})"]

        # A retry, a refusal (its tentative row rolled back) and one after the row: ROLLBACK and unlock
        # in one round trip, nothing stored.
        for user, content, expect in (
            (bob, "retry", None),
            (users["cat"], "not a member", "FORBIDDEN"),
            (bob, "over the limit", "RATE_LIMITED"),
        ):
            with driver_statements(resources.engine) as statements:
                await chat.send(user, lobby_id, content, "cid" if expect is None else None, expect=expect)
            assert statements[-1] == f"ROLLBACK; SELECT pg_advisory_unlock(28771, {lobby_id})", statements
        assert await stuck(resources.engine) == (0, 0)
        assert len(await chat.history_ids(bob, lobby_id)) == 2
