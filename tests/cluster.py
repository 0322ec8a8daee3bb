"""Two `premiumchat serve` processes on one PostgreSQL database and one private Redis, and the helpers
the multi-process tests (scale-out, faults, slow mode, randomized authorization) share."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.databases import PostgresDatabases
from tests.graphql import GraphQLClient
from tests.lobbies import Account, Users, make_users
from tests.realtime import SEND_MESSAGE, Chat, LiveClient, unique_names
from tests.redis_server import RedisServer, start_private_redis
from tests.servers import ServerProcess


@asynccontextmanager
async def http_chat(server: ServerProcess) -> AsyncIterator[Chat]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        yield Chat(GraphQLClient(client))


class Cluster:
    """Two processes, A and B, on one database and one Redis, with an HTTP client for each."""

    def __init__(self, a: ServerProcess, b: ServerProcess, redis: RedisServer) -> None:
        self.a, self.b, self.redis = a, b, redis
        self.database_url = a.env["DATABASE_URL"]

    def start(self) -> None:
        self.a.start()
        self.b.start()

    def stop(self) -> None:
        self.a.stop()
        self.b.stop()
        self.redis.stop()


def make_cluster(postgres_databases: PostgresDatabases, work_dir: Path, **settings: str) -> Cluster:
    redis = start_private_redis(work_dir)
    url = asyncio.run(postgres_databases.create())
    a = ServerProcess(url, work_dir, redis_url=redis.url, **settings)
    b = ServerProcess(url, work_dir, redis_url=redis.url, **settings)
    cluster = Cluster(a, b, redis)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


async def lobby_with(
    chat: Chat, database_url: str, members: list[str], others: list[str] | None = None
) -> tuple[Users, str]:
    """Fresh accounts: the first member owns a new public lobby, the others joined it."""
    others = others or []
    everyone = members + others
    real = dict(zip(everyone, unique_names(*everyone), strict=True))
    accounts = await make_users(chat.gql, database_url, list(real.values()), premium=[real[members[0]]])
    users = {name: accounts[real[name]] for name in everyone}
    lobby_id = (await chat.create_lobby(users[members[0]], "Scaled"))["id"]
    for name in members[1:]:
        await chat.join(users[name], lobby_id)
    return users, lobby_id


def live(server: ServerProcess, account: Account) -> LiveClient:
    return LiveClient(server.ws_url, account)


async def send_outcome(chat: Chat, user: Account, lobby_id: str, content: str) -> dict[str, Any]:
    """The response to one send, which must come (and cleanly: HTTP 200, data or coded errors)."""
    variables = {"lobbyId": lobby_id, "content": content}
    body = await asyncio.wait_for(chat.gql.execute(SEND_MESSAGE, variables, user.token), 15)
    if body.get("errors"):
        assert all(error.get("extensions", {}).get("code") for error in body["errors"]), body
        assert body.get("data") is None, body
    return body


def assert_internal(errors: list[dict[str, Any]], redis: RedisServer) -> None:
    """An outage is the server's fault: INTERNAL (not the client's BAD_USER_INPUT), and no details leak."""
    [error] = errors
    assert error["extensions"]["code"] == "INTERNAL", error
    assert str(redis.port) not in error["message"], error


async def live_both_ways(
    cluster: Cluster, chats: tuple[Chat, Chat], probe: str, anchor: str, owner: Account
) -> bool:
    """One probe: a fresh subscription on each process (live once its replay is done) hears a message
    sent on the other."""
    for server, sender_chat in ((cluster.a, chats[1]), (cluster.b, chats[0])):
        try:
            async with live(server, owner) as client:
                await client.joined(probe, since=anchor)
                body = await send_outcome(sender_chat, owner, probe, "probe")
                if body.get("errors"):
                    return False
                await client.streams[-1].until_message(body["data"]["sendMessage"]["id"], wait=2)
        except Exception:  # not yet: any failure means try again (bounded by the caller)
            return False
    return True
