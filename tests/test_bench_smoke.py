"""The benchmark runs end to end on a tiny load and accounts for every delivery (never its speed)."""

from __future__ import annotations

import shutil

import pytest

from bench.__main__ import fanout_once
from tests import services

TINY = {"lobbies": 3, "subscribers": 3, "duration": 1.0}


def _check(record: dict[str, object]) -> None:
    assert record["sent"], record
    assert record["send_errors"] == {}, record
    assert record["expected_deliveries"] == record["sent"] * 3  # type: ignore[operator]
    assert record["delivered"] == record["expected_deliveries"], record
    assert record["lost"] == 0, record
    assert record["duplicated"] == 0, record
    assert record["unexpected"] == 0, record
    assert record["p99_ms"] is not None, record


async def test_premiumchat_on_sqlite_over_http() -> None:
    record = await fanout_once(
        "premiumchat", database_kind="sqlite", use_redis=False, transport="http", rate=None, **TINY
    )
    _check(record)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize(("target", "transport"), [("premiumchat", "ws"), ("ceiling", "http")])
async def test_postgres_and_redis(target: str, transport: str) -> None:
    base = services.POSTGRES_URL or services.DEFAULT_POSTGRES_URL
    if not services.reachable(base, 5432):
        services.unavailable("PostgreSQL", base)
    if shutil.which("redis-server") is None:
        services.unavailable("redis-server (for a private Redis)", "$PATH")
    record = await fanout_once(
        target, base_url=base, transport=transport, rate=None, synchronous_commit=False, **TINY
    )
    _check(record)
    assert record["synchronous_commit"] == "off"


async def test_paced_sends_count_every_delivery() -> None:
    record = await fanout_once(
        "premiumchat", database_kind="sqlite", use_redis=False, transport="ws", rate=5.0, **TINY
    )
    _check(record)
    assert record["mode"] == "5 msg/s per lobby"
