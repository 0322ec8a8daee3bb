"""/healthz and /readyz, with and without a reachable Redis."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager

from premiumchat.main import create_app
from tests import services
from tests.conftest import make_settings


async def get(settings_url: str, path: str, **overrides: object) -> httpx.Response:
    app = create_app(make_settings(settings_url, **overrides))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get(path)


async def test_healthz(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/healthz")
    assert response.json() == {"status": "ok"}


async def test_readyz_checks_the_database(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_readyz_checks_redis_when_set(database_url: str) -> None:
    if not services.reachable(services.REDIS_URL, 6379):
        services.unavailable("Redis", services.REDIS_URL)
    response = await get(database_url, "/readyz", redis_url=services.REDIS_URL)
    assert response.status_code == 200
    assert response.json()["redis"] == "ok"


async def test_readyz_reports_an_unreachable_redis(database_url: str) -> None:
    from tests.servers import free_port

    response = await get(database_url, "/readyz", redis_url=f"redis://127.0.0.1:{free_port()}/0")
    assert response.status_code == 503
    assert response.json()["redis"].startswith("unavailable")
    assert response.json()["database"] == "ok"
