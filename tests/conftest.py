"""Fixtures: databases over SQLite and PostgreSQL, the app over HTTP, real servers for sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from playwright.async_api import Browser
from sqlalchemy.engine import make_url

from premiumchat.config import Settings
from premiumchat.main import create_app
from premiumchat.resources import Resources
from tests import services
from tests.browser import launch_chromium
from tests.conftest_settings import TEST_SECRET_KEY
from tests.databases import PostgresDatabases, SqliteDatabases, truncate_all
from tests.graphql import GraphQLClient
from tests.redis_server import RedisServer, start_private_redis
from tests.servers import ServerProcess


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET_KEY,
        "debug": True,
        "redis_url": None,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("sqlite"))


# Database fixtures are synchronous (each step runs its own short event loop) so
# that parametrised fixtures can pick PostgreSQL lazily with getfixturevalue.


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    base = services.POSTGRES_URL or services.DEFAULT_POSTGRES_URL
    if not services.reachable(base, 5432):
        services.unavailable("PostgreSQL", make_url(base).render_as_string(hide_password=True))
    databases = PostgresDatabases(base)
    yield databases
    asyncio.run(databases.drop_all())


@pytest.fixture(scope="session")
def shared_postgres_url(postgres_databases: PostgresDatabases) -> str:
    """One migrated database for the in-process tests, emptied before each of them."""
    return asyncio.run(postgres_databases.create())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_databases: SqliteDatabases) -> str:
    """A migrated, empty database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return asyncio.run(sqlite_databases.create())
    url: str = request.getfixturevalue("shared_postgres_url")
    asyncio.run(truncate_all(url))
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def app_manager(settings: Settings) -> AsyncIterator[LifespanManager]:
    """The app with its lifespan running (engine, event bus), as a server would run it."""
    async with LifespanManager(create_app(settings)) as manager:
        yield manager


@pytest.fixture
def resources(app_manager: LifespanManager) -> Resources:
    """The running app's long-lived resources (its engine, sessions and event bus)."""
    resources: Resources = app_manager._state["resources"]
    return resources


@pytest.fixture
async def app_client(app_manager: LifespanManager) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_manager.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        yield client


@pytest.fixture
def gql(app_client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(app_client)


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(
    request: pytest.FixtureRequest,
    sqlite_databases: SqliteDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    """A real `premiumchat serve` process on its own fresh database, one per module and database."""
    if request.param == "sqlite":
        url = asyncio.run(sqlite_databases.create())
    else:
        postgres: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = asyncio.run(postgres.create())
    process = ServerProcess(url, tmp_path_factory.mktemp("server")).start()
    yield process
    process.stop()


@pytest.fixture
async def server_gql(server: ServerProcess) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        yield GraphQLClient(client)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_database_url(request: pytest.FixtureRequest, sqlite_databases: SqliteDatabases) -> str:
    """A database of its own, for tests that break it on purpose."""
    if request.param == "sqlite":
        return asyncio.run(sqlite_databases.create())
    postgres: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return asyncio.run(postgres.create())


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-process backend, else the test Redis: one suite for both."""
    return None if request.param == "memory" else services.require_redis()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own, to stop and restart (never the shared one)."""
    server = start_private_redis(tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """Headless Debian Chromium (skips without it, fails in CI)."""
    async for launched in launch_chromium():
        yield launched
