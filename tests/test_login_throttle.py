"""Login throttling: failures per client address (strict) and per username (generous), across processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from premiumchat.main import create_app
from tests import services
from tests.conftest import make_settings
from tests.databases import PostgresDatabases
from tests.graphql import LOGIN, PASSWORD, GraphQLClient
from tests.servers import ServerProcess

PER_ADDRESS, PER_USERNAME, WINDOW = 3, 5, 60


def unique(prefix: str) -> str:
    # Redis keeps counts for the window: fresh names keep runs and tests apart.
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


async def login(gql: GraphQLClient, username: str, password: str) -> dict[str, Any]:
    return await gql.execute(LOGIN, {"username": username, "password": password})


def rate_limited(body: dict[str, Any]) -> float:
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", body
    retry_after: float = error["extensions"]["retryAfter"]
    assert 0 < retry_after <= WINDOW + 1
    return retry_after


def unauthenticated(body: dict[str, Any]) -> None:
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"], body


class Clients:
    """One app, reached from several client addresses (as uvicorn would report them)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._clients: list[httpx.AsyncClient] = []

    def at(self, host: str) -> GraphQLClient:
        transport = httpx.ASGITransport(app=self.app, client=(host, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://localhost")
        self._clients.append(client)
        return GraphQLClient(client)

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


@asynccontextmanager
async def throttled_app(database_url: str, redis_url: str | None) -> AsyncIterator[Clients]:
    settings = make_settings(
        database_url,
        redis_url=redis_url,
        login_failures_per_address=PER_ADDRESS,
        login_failures_per_username=PER_USERNAME,
        login_failure_window_seconds=WINDOW,
    )
    async with LifespanManager(create_app(settings)) as manager:
        clients = Clients(manager.app)
        try:
            yield clients
        finally:
            await clients.close()


async def test_an_address_is_throttled_after_its_failures_and_others_are_not(
    database_url: str, redis_url: str | None
) -> None:
    async with throttled_app(database_url, redis_url) as clients:
        attacker, victim = clients.at(address()), clients.at(address())
        alice, bob = unique("alice"), unique("bob")
        await victim.register(alice)
        await victim.register(bob)
        # Spraying different usernames from one address: the address limit counts them all.
        for name in (bob, unique("nobody"), unique("nobody")):
            unauthenticated(await login(attacker, name, "wrong-password"))
        rate_limited(await login(attacker, unique("nobody"), "wrong-password"))
        # Even the right password is refused from there: the limit is not an oracle.
        rate_limited(await login(attacker, alice, PASSWORD))
        # Someone else, elsewhere, logs in as usual, also as the user the attacker tried.
        assert (await victim.data(LOGIN, {"username": alice, "password": PASSWORD}))["login"]["accessToken"]
        assert (await victim.data(LOGIN, {"username": bob, "password": PASSWORD}))["login"]["accessToken"]


async def test_a_username_is_throttled_after_failures_from_many_addresses(
    database_url: str, redis_url: str | None
) -> None:
    async with throttled_app(database_url, redis_url) as clients:
        target, other = unique("target"), unique("other")
        setup = clients.at(address())
        await setup.register(target)
        await setup.register(other)
        for _ in range(PER_USERNAME):
            unauthenticated(await login(clients.at(address()), target.upper(), "wrong-password"))
        # Case does not make a new username; a fresh address does not help.
        retry_after = rate_limited(await login(clients.at(address()), target, PASSWORD))
        assert retry_after > WINDOW / 2
        # Other usernames are not affected.
        ok = await clients.at(address()).data(LOGIN, {"username": other, "password": PASSWORD})
        assert ok["login"]["user"]["username"] == other


async def test_successful_logins_cost_nothing(database_url: str) -> None:
    async with throttled_app(database_url, None) as clients:
        gql = clients.at(address())
        name = unique("often")
        await gql.register(name)
        for _ in range(PER_ADDRESS + PER_USERNAME + 2):
            assert (await gql.data(LOGIN, {"username": name, "password": PASSWORD}))["login"]["accessToken"]


@pytest.mark.parametrize("username", ["x" * 100_000, "\x00", "ü" * 5000, ""])
async def test_hostile_usernames_are_throttled_like_any_other(database_url: str, username: str) -> None:
    async with throttled_app(database_url, None) as clients:
        gql = clients.at(address())
        for _ in range(PER_ADDRESS):
            unauthenticated(await login(gql, username, "wrong-password"))
        rate_limited(await login(gql, username, "wrong-password"))


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases) -> str:
    return asyncio.run(postgres_databases.create())


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_throttle_is_shared_by_two_server_processes(postgres_url: str, tmp_path: Path) -> None:
    redis_url = services.require_redis()
    settings = {
        "redis_url": redis_url,
        "login_failures_per_address": str(PER_ADDRESS),
        "login_failures_per_username": str(PER_USERNAME),
        "login_failure_window_seconds": str(WINDOW),
    }
    first = ServerProcess(postgres_url, tmp_path, **settings).start()
    second = ServerProcess(postgres_url, tmp_path, **settings).start()
    try:
        attacker, bystander = address(), address()
        async with (
            httpx.AsyncClient(base_url=first.http_url, headers={"x-forwarded-for": attacker}) as a,
            httpx.AsyncClient(base_url=second.http_url, headers={"x-forwarded-for": attacker}) as b,
            httpx.AsyncClient(base_url=second.http_url, headers={"x-forwarded-for": bystander}) as c,
        ):
            on_first, on_second, elsewhere = GraphQLClient(a), GraphQLClient(b), GraphQLClient(c)
            name = unique("shared")
            await elsewhere.register(name)
            for _ in range(PER_ADDRESS):
                unauthenticated(await login(on_first, unique("guess"), "wrong-password"))
            # The other process refuses the same address at once.
            rate_limited(await login(on_second, name, PASSWORD))
            # And serves another address as usual.
            assert (await elsewhere.data(LOGIN, {"username": name, "password": PASSWORD}))["login"]
    finally:
        first.stop()
        second.stop()
