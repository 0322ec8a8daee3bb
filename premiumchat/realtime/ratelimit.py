"""Sliding-window rate limits over the `limits` library, in process or shared through Redis.

`hit()` counts one hit when fewer than `limit` were counted in the last
`window_seconds`, or else counts nothing and says how long until the oldest
of them leaves the window. This is limits' moving window, a true sliding
window that keeps one timestamp per counted hit (at most `limit` per key):

- in process (`redis_url=None`): limits' `MemoryStorage`; each `RateLimiter`
  is its own store, like broadcaster's `memory://`;
- on Redis: limits' `RedisStorage` over redis-py, where checking and counting
  are one Lua script (`acquire_moving_window.lua`: LINDEX the `limit`-th
  newest timestamp, LPUSH, LTRIM, EXPIRE), so every process on that Redis
  enforces one limit together.

What limits decides for us, and the edges it leaves:

- Windows are whole seconds (its items have a granularity of one second, and
  the Redis key's EXPIRE takes seconds): `window_seconds` is an int >= 1.
- The timestamps come from each process's clock (`time.time()`), not from
  Redis: the processes' clocks must agree (NTP), any skew between them is
  an error of that size in the window.
- Refusing and finding the oldest hit are two calls; when the window emptied
  in between, `hit()` simply tries again.

A store that cannot be reached raises `RateLimiterUnavailable` from `hit()`:
the hit is then neither counted nor allowed, never silently let through.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from limits import RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

if TYPE_CHECKING:
    from redis.asyncio import BlockingConnectionPool

CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 2.0
MAX_CONNECTIONS = 50
# Added to every retry_after: Redis keeps the script's timestamps to 14
# significant digits (0.1 ms today), and a hit exactly one window old still counts.
RETRY_MARGIN_SECONDS = 0.001
# Refusal and look-up are two calls; a window that keeps emptying in between is retried this often.
HIT_ATTEMPTS = 3


class RateLimiterUnavailable(ConnectionError):
    """The rate limit store (Redis) did not answer: the hit was neither counted nor allowed."""


class RateLimiter:
    def __init__(self, redis_url: str | None, *, prefix: str = "premiumchat") -> None:
        self._pool: BlockingConnectionPool | None = None
        if redis_url is None:
            self._storage: MemoryStorage | RedisStorage = MemoryStorage(wrap_exceptions=True)
        else:
            self._pool = _connection_pool(redis_url)
            self._storage = RedisStorage(
                f"async+{redis_url}",
                wrap_exceptions=True,
                implementation="redispy",
                key_prefix=f"{prefix}:ratelimit",
                # Our own pool, so that we choose its timeouts and retries and close it.
                connection_pool=self._pool,  # type: ignore[arg-type]  # limits types options as scalars
            )
        self._limiter = MovingWindowRateLimiter(self._storage)

    async def hit(self, namespace: str, key: str, limit: int, window_seconds: int) -> float | None:
        """None when the hit is accepted (and counted); else the seconds until a retry succeeds."""
        item = _item(namespace, limit, window_seconds)
        retry_after = 0.0
        for _ in range(HIT_ATTEMPTS):
            try:
                if await self._limiter.hit(item, namespace, key):
                    return None
                oldest_leaves_at, remaining = await self._limiter.get_window_stats(item, namespace, key)
            except StorageError as error:
                raise _unavailable(error) from error
            retry_after = max(oldest_leaves_at - time.time(), 0.0) + RETRY_MARGIN_SECONDS
            if remaining <= 0:
                break
        return retry_after

    async def retry_after(self, namespace: str, key: str, limit: int, window_seconds: int) -> float | None:
        """Like `hit()`, but counts nothing: None when a hit would be accepted now."""
        item = _item(namespace, limit, window_seconds)
        try:
            if await self._limiter.test(item, namespace, key):
                return None
            oldest_leaves_at, _ = await self._limiter.get_window_stats(item, namespace, key)
        except StorageError as error:
            raise _unavailable(error) from error
        return max(oldest_leaves_at - time.time(), 0.0) + RETRY_MARGIN_SECONDS

    async def reset(self, namespace: str, key: str, limit: int, window_seconds: int) -> None:
        """Forget the hits counted for this key under this limit."""
        try:
            await self._limiter.clear(_item(namespace, limit, window_seconds), namespace, key)
        except StorageError as error:
            raise _unavailable(error) from error

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
        elif isinstance(self._storage, MemoryStorage) and self._storage.timer is not None:
            # The memory store prunes old timestamps in a task of its own.
            self._storage.timer.cancel()
            await asyncio.wait([self._storage.timer])


def _item(namespace: str, limit: int, window_seconds: int) -> RateLimitItemPerSecond:
    # limits joins the parts of a key with "/": one in the namespace could make two keys meet.
    if "/" in namespace:
        raise ValueError(f"a rate limit namespace cannot contain '/': {namespace!r}")
    if limit < 1:
        raise ValueError(f"a rate limit allows at least 1 hit, not {limit}")
    if window_seconds < 1:
        raise ValueError(f"a rate limit window is a whole number of seconds >= 1, not {window_seconds}")
    return RateLimitItemPerSecond(limit, window_seconds)


def _unavailable(error: StorageError) -> RateLimiterUnavailable:
    return RateLimiterUnavailable(f"rate limiter: cannot reach Redis: {error.storage_error}")


def _connection_pool(url: str) -> BlockingConnectionPool:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported rate limiter URL scheme {scheme!r} (use redis:// or rediss://)")
    # Imported here so that the in-process limiter needs no Redis client installed.
    from redis.asyncio import BlockingConnectionPool
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    # Blocking: redis-py's default pool fails the 101st concurrent command
    # ("Too many connections") where a burst should wait its turn. One retry,
    # and only on a failed connection (a pooled one Redis had closed): a
    # timed-out script may have run, and running it again would count twice.
    return BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=COMMAND_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
    )
