"""Open sockets per user, in process and on Redis: the limit, concurrent opens, expiry, several processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from premiumchat.realtime.connections import ConnectionCounter, ConnectionCounterUnavailable
from tests import services
from tests.servers import free_port

WAIT_SECONDS = 5
POLL_SECONDS = 0.02


def new_prefix() -> str:
    # Redis is shared with other tests and processes: never reuse a key.
    return f"test-connections:{uuid.uuid4().hex}"


@pytest.fixture
async def counter(redis_url: str | None) -> AsyncIterator[ConnectionCounter]:
    counter = ConnectionCounter(redis_url, prefix=new_prefix())
    await counter.start()
    yield counter
    await counter.stop()


@pytest.fixture
async def two_processes(redis_url: str | None) -> AsyncIterator[tuple[ConnectionCounter, ConnectionCounter]]:
    """Two counters on one store: two processes on one Redis; in process, the one store twice."""
    prefix = new_prefix()
    first = ConnectionCounter(redis_url, prefix=prefix)
    second = first if redis_url is None else ConnectionCounter(redis_url, prefix=prefix)
    await first.start()
    if second is not first:
        await second.start()
    yield first, second
    await first.stop()
    if second is not first:
        await second.stop()


async def eventually_counts(counter: ConnectionCounter, user_id: int, expected: int) -> None:
    for _ in range(round(WAIT_SECONDS / POLL_SECONDS)):
        if await counter.count(user_id) == expected:
            return
        await asyncio.sleep(POLL_SECONDS)
    raise AssertionError(f"user {user_id} still not at {expected} connections after {WAIT_SECONDS} s")


async def crash(counter: ConnectionCounter) -> None:
    """End a counter as a killed process would: no more heartbeats, nothing removed."""
    assert counter._mine._heartbeat is not None
    counter._mine._heartbeat.cancel()
    await asyncio.wait([counter._mine._heartbeat])
    await counter._store.close()


async def test_the_limit_is_enforced_and_close_frees_a_slot(counter: ConnectionCounter) -> None:
    assert [await counter.open(7, f"socket-{number}", 3) for number in range(4)] == [True, True, True, False]
    assert await counter.count(7) == 3
    assert await counter.open(7, "socket-4", 3) is False
    assert counter._mine._mine == {7: {"socket-0", "socket-1", "socket-2"}}  # refused ones are not refreshed
    # Users are counted apart; one with nothing open counts 0.
    assert await counter.open(8, "socket-0", 3) is True
    assert await counter.count(8) == 1
    assert await counter.count(9) == 0
    # A lower limit (settings changed) refuses new sockets, and closes none.
    assert await counter.open(7, "socket-5", 2) is False
    assert await counter.count(7) == 3

    await counter.close(7, "socket-1")
    assert await counter.count(7) == 2
    await counter.close(7, "socket-1")  # already closed
    await counter.close(7, "unknown")
    await counter.close(10, "socket-0")
    assert await counter.count(7) == 2
    assert await counter.open(7, "socket-6", 3) is True
    assert await counter.open(7, "socket-7", 3) is False

    # A socket opened twice holds one slot, and is admitted again even when all are taken.
    assert await counter.open(7, "socket-6", 3) is True
    assert await counter.count(7) == 3
    assert await counter.open(8, "socket-0", 1) is True
    assert await counter.count(8) == 1


async def test_concurrent_opens_admit_exactly_the_limit(
    two_processes: tuple[ConnectionCounter, ConnectionCounter],
) -> None:
    first, second = two_processes
    for user_id in range(10):  # several rounds: a race seldom shows on the first
        opened = await asyncio.gather(
            *((first if number % 2 else second).open(user_id, f"socket-{number}", 5) for number in range(20))
        )
        assert opened.count(True) == 5
        assert await first.count(user_id) == await second.count(user_id) == 5
    # More at once than the Redis pool has connections: they wait, none fails.
    opened = await asyncio.gather(*(first.open(99, f"socket-{number}", 100) for number in range(150)))
    assert opened.count(True) == 100
    assert await second.count(99) == 100


async def test_entries_expire_without_a_heartbeat(redis_url: str | None) -> None:
    counter = ConnectionCounter(redis_url, ttl_seconds=0.3, prefix=new_prefix())  # never started
    try:
        assert await counter.open(7, "socket-1", 1) is True
        assert await counter.open(7, "socket-2", 1) is False
        started = time.monotonic()
        await eventually_counts(counter, 7, 0)
        assert time.monotonic() - started > 0.2
        # The expired one no longer holds the slot.
        assert await counter.open(7, "socket-2", 1) is True
    finally:
        await counter.stop()


async def test_the_heartbeat_keeps_entries_alive(redis_url: str | None) -> None:
    counter = ConnectionCounter(redis_url, ttl_seconds=0.2, prefix=new_prefix())
    await counter.start()
    try:
        assert await counter.open(7, "socket-1", 1) is True
        await asyncio.sleep(0.7)  # more than three ttl
        assert await counter.count(7) == 1
        assert await counter.open(7, "socket-2", 1) is False
    finally:
        await counter.stop()


async def test_a_stalled_heartbeat_revives_its_entries_but_never_one_that_closed(
    redis_url: str | None,
) -> None:
    counter = ConnectionCounter(redis_url, ttl_seconds=0.6, prefix=new_prefix())
    try:
        assert await counter.open(7, "stalled", 5) is True
        assert await counter.open(7, "closed", 5) is True
        await counter.close(7, "closed")
        # A heartbeat that was on its way while "closed" closed arrives late.
        await counter._store.refresh({7: ["closed"]})
        assert await counter.count(7) == 1

        # The process stalls for longer than a ttl, then its heartbeat runs again.
        await eventually_counts(counter, 7, 0)
        await counter.start()
        await eventually_counts(counter, 7, 1)
    finally:
        await counter.stop()


@pytest.mark.redis
async def test_a_crashed_process_frees_its_slots_and_a_live_one_keeps_them() -> None:
    url, prefix = services.require_redis(), new_prefix()
    crashed = ConnectionCounter(url, ttl_seconds=0.5, prefix=prefix)
    survivor = ConnectionCounter(url, ttl_seconds=0.5, prefix=prefix)
    await crashed.start()
    await survivor.start()
    try:
        assert await crashed.open(7, "socket-1", 4) is True
        assert await crashed.open(7, "socket-2", 4) is True
        assert await survivor.open(7, "socket-3", 4) is True
        assert await survivor.open(7, "socket-4", 4) is True
        assert await survivor.open(7, "socket-5", 4) is False
        await crash(crashed)
        assert await survivor.count(7) == 4
        started = time.monotonic()
        await eventually_counts(survivor, 7, 2)
        assert 0.2 < time.monotonic() - started < 2
        await asyncio.sleep(1)  # two more ttl: the survivor's heartbeat keeps its own
        assert await survivor.count(7) == 2
        assert [await survivor.open(7, f"socket-{number}", 4) for number in (5, 6, 7)] == [True, True, False]
    finally:
        await survivor.stop()


@pytest.mark.redis
async def test_stop_removes_the_entries_of_its_process_only() -> None:
    url, prefix = services.require_redis(), new_prefix()
    leaving, staying = ConnectionCounter(url, prefix=prefix), ConnectionCounter(url, prefix=prefix)
    await leaving.start()
    await staying.start()
    try:
        await leaving.open(7, "socket-1", 5)
        await leaving.open(8, "socket-2", 5)
        await staying.open(7, "socket-3", 5)
        await leaving.stop()
        assert (await staying.count(7), await staying.count(8)) == (1, 0)
    finally:
        await staying.stop()
    assert await _keys(url, prefix) == []


async def test_stop_removes_the_entries_in_process() -> None:
    counter = ConnectionCounter(None)
    await counter.start()
    await counter.open(7, "socket-1", 5)
    await counter.stop()
    assert counter._mine._mine == {}
    assert await counter.count(7) == 0


@pytest.mark.redis
async def test_redis_keys_carry_the_prefix_and_expire() -> None:
    url, prefix = services.require_redis(), new_prefix()
    counter = ConnectionCounter(url, ttl_seconds=5, prefix=prefix)
    client = Redis.from_url(url)
    try:
        await counter.open(7, "socket", 5)
        assert await client.zrange(f"{prefix}:connections:user:7", 0, -1) == [b"socket"]
        # A user nobody refreshes disappears: at most ttl, plus ttl of grace.
        assert 0 < await client.pttl(f"{prefix}:connections:user:7") <= 10_000
        # A refused socket leaves nothing behind, not even an empty key.
        assert await counter.open(8, "socket", 0) is False
        assert await client.exists(f"{prefix}:connections:user:8") == 0
    finally:
        await client.aclose()
        await counter.stop()
    assert await _keys(url, prefix) == []


async def test_an_unreachable_redis_raises_and_stop_still_closes() -> None:
    counter = ConnectionCounter(f"redis://127.0.0.1:{free_port()}/0", prefix=new_prefix())
    await counter.start()
    started = time.monotonic()
    with pytest.raises(ConnectionCounterUnavailable, match="cannot reach Redis"):
        await counter.open(7, "socket", 5)
    with pytest.raises(ConnectionError):  # callers may catch the built-in base
        await counter.count(7)
    assert counter._mine._mine == {}  # a failed open is not refreshed by the heartbeat
    await counter.stop()
    assert time.monotonic() - started < WAIT_SECONDS


async def test_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="redis://"):
        ConnectionCounter("memory://")
    with pytest.raises(ValueError, match="positive"):
        ConnectionCounter(None, ttl_seconds=0)
    counter = ConnectionCounter(None)
    await counter.start()
    try:
        with pytest.raises(RuntimeError, match="already started"):
            await counter.start()
    finally:
        await counter.stop()


async def _keys(url: str, prefix: str) -> list[bytes]:
    client = Redis.from_url(url)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}:*")]
    finally:
        await client.aclose()
