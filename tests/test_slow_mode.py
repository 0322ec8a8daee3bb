"""Slow mode: who sets it, who waits, retryAfter, retry-safe sends, the global limit, two processes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.cluster import Cluster, http_chat, lobby_with, make_cluster
from tests.databases import PostgresDatabases
from tests.extras import cast_in_lobby
from tests.realtime import SEND_MESSAGE


async def test_who_sets_slow_mode_and_its_bounds(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner = users["owner"]
        created = await api.create_lobby(owner, "Slow", slowModeSeconds=30)
        assert (await api.extras(owner, created["id"]))["slowModeSeconds"] == 30
        assert (await api.extras(users["member"], lobby_id))["slowModeSeconds"] == 0
        for value in (-1, 3_601):
            error = await api.update(owner, lobby_id, slowModeSeconds=value, expect="BAD_USER_INPUT")
            assert error["extensions"]["field"] == "slowModeSeconds"
            error = await api.create_lobby(owner, "Bad", slowModeSeconds=value, expect="BAD_USER_INPUT")
            assert error["extensions"]["field"] == "slowModeSeconds"
        await api.update(users["moderator"], lobby_id, slowModeSeconds=5, expect="FORBIDDEN")
        await api.update(users["member"], lobby_id, slowModeSeconds=5, expect="FORBIDDEN")
        await api.update(users["staff"], lobby_id, slowModeSeconds=3_600)
        await api.update(owner, lobby_id, slowModeSeconds=0)
        assert (await api.extras(users["member"], lobby_id))["slowModeSeconds"] == 0


async def test_a_member_waits_between_messages_and_the_privileged_do_not(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member, other = users["owner"], users["member"], users["other"]
        await api.update(owner, lobby_id, slowModeSeconds=2)
        await api.send(member, lobby_id, "first")
        error = await api.send(member, lobby_id, "second", expect="RATE_LIMITED")
        retry_after = error["extensions"]["retryAfter"]
        assert 0 < retry_after <= 2.01, error
        # Another member, another lobby and the exempt are not held back.
        await api.send(other, lobby_id, "mine")
        elsewhere = (await api.create_lobby(owner, "Elsewhere", slowModeSeconds=2))["id"]
        await api.join(member, elsewhere)
        await api.send(member, elsewhere, "here is fine")
        for name in ("owner", "moderator"):
            for i in range(3):
                await api.send(users[name], lobby_id, f"{name} {i}")
        await api.join(users["staff"], lobby_id)
        await api.send(users["staff"], lobby_id, "staff 1")
        await api.send(users["staff"], lobby_id, "staff 2")
        # A refused message costs nothing: the wait still ends when retryAfter said.
        await asyncio.sleep(retry_after)
        await api.send(member, lobby_id, "second, later")
        await api.send(member, lobby_id, "third", expect="RATE_LIMITED")


async def test_a_retried_send_is_never_refused_by_slow_mode(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        await api.update(owner, lobby_id, slowModeSeconds=60)
        first = await api.send(member, lobby_id, "once", "client-1")
        again = await api.send(member, lobby_id, "once, retried", "client-1")
        assert again["id"] == first["id"]
        variables = {"lobbyId": lobby_id, "content": "together", "clientMessageId": "client-2"}
        await api.update(owner, lobby_id, slowModeSeconds=0)
        await api.update(owner, lobby_id, slowModeSeconds=30)  # a fresh window
        bodies = await asyncio.gather(
            *(api.gql.execute(SEND_MESSAGE, variables, member.token) for _ in range(5))
        )
        assert [body.get("errors") for body in bodies] == [None] * 5, bodies
        assert len({body["data"]["sendMessage"]["id"] for body in bodies}) == 1


async def test_the_global_limit_refusing_does_not_start_a_slow_mode_wait(database_url: str) -> None:
    async with cast_in_lobby(database_url, rate_limit_messages=1, rate_limit_window_seconds=1) as (
        api,
        users,
        lobby_id,
    ):
        owner, member = users["owner"], users["member"]
        quiet = (await api.create_lobby(owner, "Quiet"))["id"]
        await api.join(member, quiet)
        await api.update(owner, lobby_id, slowModeSeconds=30)
        await api.send(member, quiet, "uses the global limit")
        error = await api.send(member, lobby_id, "refused by the global limit", expect="RATE_LIMITED")
        assert error["extensions"]["retryAfter"] <= 1.01, error
        await asyncio.sleep(error["extensions"]["retryAfter"])
        # Not refused by slow mode: the refused message above did not count.
        await api.send(member, lobby_id, "accepted")
        error = await api.send(member, lobby_id, "now slow mode", expect="RATE_LIMITED")
        assert error["extensions"]["retryAfter"] > 25, error


@pytest.fixture(scope="module")
def cluster(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cluster = make_cluster(
        postgres_databases, tmp_path_factory.mktemp("slow-mode"), rate_limit_messages="1000"
    )
    yield cluster
    cluster.stop()


@pytest.mark.postgres
@pytest.mark.redis
async def test_slow_mode_holds_across_two_processes(cluster: Cluster) -> None:
    async with http_chat(cluster.a) as chat_a, http_chat(cluster.b) as chat_b:
        users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob"])
        ann, bob = users["ann"], users["bob"]
        await chat_b.update(ann, lobby_id, slowModeSeconds=2)
        await chat_a.send(bob, lobby_id, "on A")
        error = await chat_b.send(bob, lobby_id, "on B", expect="RATE_LIMITED")
        assert 0 < error["extensions"]["retryAfter"] <= 2.01, error
        # Racing on both processes at once: exactly one gets through.
        await asyncio.sleep(error["extensions"]["retryAfter"])
        variables = {"lobbyId": lobby_id, "content": "race"}
        bodies = await asyncio.gather(
            *(chat.gql.execute(SEND_MESSAGE, variables, bob.token) for chat in (chat_a, chat_b) * 4)
        )
        codes = sorted(
            body["errors"][0]["extensions"]["code"] if body.get("errors") else "ok" for body in bodies
        )
        assert codes == ["RATE_LIMITED"] * 7 + ["ok"], bodies
        assert len(await chat_a.history_ids(ann, lobby_id)) == 2
