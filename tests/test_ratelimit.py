"""The rate limiter, in process and on Redis: a sliding window, free refusals, one limit across processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from premiumchat.realtime import ratelimit
from premiumchat.realtime.ratelimit import RateLimiter, RateLimiterUnavailable
from tests import services
from tests.redis_server import RedisServer
from tests.servers import free_port

WAIT_SECONDS = 5


def new_namespace() -> str:
    # Redis is shared with other tests and processes: never reuse a key.
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
async def limiter(redis_url: str | None) -> AsyncIterator[RateLimiter]:
    limiter = RateLimiter(redis_url)
    yield limiter
    await limiter.close()


async def sleep_until(deadline: float) -> None:
    await asyncio.sleep(max(deadline - time.monotonic(), 0))


async def test_the_window_slides_and_refusals_cost_nothing(limiter: RateLimiter) -> None:
    namespace = new_namespace()
    started = time.monotonic()
    assert await limiter.hit(namespace, "alice", 2, 1) is None  # first, at ~0.0
    await sleep_until(started + 0.5)
    assert await limiter.hit(namespace, "alice", 2, 1) is None  # second, at ~0.5

    # Full: the first hit leaves the window at ~1.0. However often she tries.
    refusals = [await limiter.hit(namespace, "alice", 2, 1) for _ in range(10)]
    assert all(refusal is not None and 0.3 < refusal <= 0.5 + 0.05 for refusal in refusals)
    retry_after = refusals[-1]
    assert retry_after is not None

    # Waiting exactly as long as told is enough (nothing refused was counted).
    await asyncio.sleep(retry_after)
    assert await limiter.hit(namespace, "alice", 2, 1) is None  # third, at ~1.0

    # A fixed window would have started afresh at 1.0; a sliding one still
    # holds the second hit, which leaves at ~1.5.
    retry_after = await limiter.hit(namespace, "alice", 2, 1)
    assert retry_after is not None
    assert 0.3 < retry_after <= 0.5 + 0.05


async def test_namespaces_keys_and_limits_are_independent(limiter: RateLimiter) -> None:
    namespace, other = new_namespace(), new_namespace()
    assert await limiter.hit(namespace, "alice", 1, 60) is None
    assert await limiter.hit(namespace, "alice", 1, 60) is not None
    assert await limiter.hit(other, "alice", 1, 60) is None
    assert await limiter.hit(namespace, "bob", 1, 60) is None
    # limits joins key parts with "/": a key holding one must not meet another key.
    assert await limiter.hit(namespace, "alice/1", 1, 60) is None
    # Another limit on the same key counts on its own.
    assert await limiter.hit(namespace, "alice", 2, 60) is None


async def test_reset_forgets_the_hits(limiter: RateLimiter) -> None:
    namespace = new_namespace()
    assert await limiter.hit(namespace, "alice", 1, 60) is None
    retry_after = await limiter.hit(namespace, "alice", 1, 60)
    assert retry_after is not None
    assert 59 < retry_after <= 60.01
    await limiter.reset(namespace, "alice", 1, 60)
    assert await limiter.hit(namespace, "alice", 1, 60) is None


async def test_a_burst_of_concurrent_hits_is_counted_exactly(limiter: RateLimiter) -> None:
    namespace = new_namespace()
    # More at once than redis-py's default pool has connections: they wait, none fails.
    results = await asyncio.gather(*(limiter.hit(namespace, "alice", 3, 60) for _ in range(250)))
    assert results.count(None) == 3


@pytest.mark.redis
async def test_two_processes_on_one_redis_enforce_one_limit() -> None:
    url = services.require_redis()
    first, second = RateLimiter(url), RateLimiter(url)
    namespace = new_namespace()
    try:
        for _ in range(5):  # several rounds: a race seldom shows on the first
            key = uuid.uuid4().hex
            hits = [(first if number % 2 else second).hit(namespace, key, 3, 60) for number in range(20)]
            results = await asyncio.wait_for(asyncio.gather(*hits), WAIT_SECONDS)
            assert results.count(None) == 3
            assert all(retry_after is not None and retry_after > 59 for retry_after in results if retry_after)
        # Each refusal on one process agrees with the hits counted on the other.
        key = uuid.uuid4().hex
        assert await first.hit(namespace, key, 1, 1) is None
        retry_after = await second.hit(namespace, key, 1, 1)
        assert retry_after is not None
        await asyncio.sleep(retry_after)
        assert await second.hit(namespace, key, 1, 1) is None
    finally:
        await first.close()
        await second.close()


@pytest.mark.redis
async def test_redis_keys_carry_the_prefix_and_expire() -> None:
    url = services.require_redis()
    prefix = f"test-ratelimit-{uuid.uuid4().hex}"
    limiter = RateLimiter(url, prefix=prefix)
    client = Redis.from_url(url)
    try:
        assert await limiter.hit("messages", "alice", 3, 2) is None
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        assert len(keys) == 1
        # No key outlives its window, so an idle user leaves nothing behind.
        assert 0 < await client.ttl(keys[0]) <= 2
    finally:
        await client.delete(*keys)
        await client.aclose()
        await limiter.close()


async def test_an_unreachable_redis_refuses_loudly() -> None:
    limiter = RateLimiter(f"redis://127.0.0.1:{free_port()}/0")
    try:
        started = time.monotonic()
        with pytest.raises(RateLimiterUnavailable, match="cannot reach Redis"):
            await limiter.hit(new_namespace(), "alice", 3, 2)
        with pytest.raises(ConnectionError):  # callers may catch the built-in base
            await limiter.reset(new_namespace(), "alice", 3, 2)
        assert time.monotonic() - started < WAIT_SECONDS
    finally:
        await limiter.close()


@pytest.mark.redis
async def test_a_redis_that_stops_answering_refuses_within_the_command_timeout(
    private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "COMMAND_TIMEOUT_SECONDS", 0.3)
    limiter, namespace = RateLimiter(private_redis.url), new_namespace()
    try:
        assert await limiter.hit(namespace, "alice", 3, 2) is None  # a pooled connection, then
        private_redis.pause()  # the socket stays open, nothing answers
        try:
            for call in (limiter.hit, limiter.retry_after, limiter.reset):
                started = time.monotonic()
                with pytest.raises(RateLimiterUnavailable, match="cannot reach Redis"):
                    await call(namespace, "alice", 3, 2)
                assert time.monotonic() - started < 1
        finally:
            private_redis.resume()
        # A call that timed out closed its connection: the next ones read their own replies.
        await limiter.reset(namespace, "alice", 3, 2)
        assert [await limiter.hit(namespace, "alice", 3, 2) for _ in range(3)] == [None, None, None]
        assert (await limiter.retry_after(namespace, "alice", 3, 2) or 0) > 1.5
    finally:
        await limiter.close()


async def test_rejects_what_limits_cannot_express() -> None:
    with pytest.raises(ValueError, match="redis://"):
        RateLimiter("memcached://localhost")
    limiter = RateLimiter(None)
    try:
        with pytest.raises(ValueError, match="whole number of seconds"):
            await limiter.hit("messages", "alice", 3, 0)
        with pytest.raises(ValueError, match="at least 1 hit"):
            await limiter.hit("messages", "alice", 0, 2)
        with pytest.raises(ValueError, match="cannot contain '/'"):
            await limiter.hit("mess/ages", "alice", 3, 2)
    finally:
        await limiter.close()
