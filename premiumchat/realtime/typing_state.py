"""Who is typing where, until when: the state behind `setTyping`, in process or shared through Redis.

The server never announces an indicator's end by itself (clients fade it at
`expiresAt`); it only needs to know, when a user sends a message, whether
they were still typing, so that it sends `isTyping: false` then and only
then. So the state is one expiring flag per (lobby, user): a Redis key with a
PX expiry, or an expiry time in a dict. `start()` sets it (a renewal moves
the expiry), `stop()` deletes it and says whether it was there and not yet
expired; Redis does not return a key past its expiry, even one not yet evicted.

A Redis failure raises `TypingStateUnavailable`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from redis.asyncio import Redis

CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 2.0
MAX_CONNECTIONS = 50


class TypingStateUnavailable(ConnectionError):
    """Redis did not answer a typing-state call."""


class TypingState:
    def __init__(self, redis_url: str | None, *, prefix: str = "premiumchat") -> None:
        self._client: Redis | None = None if redis_url is None else _connect(redis_url)
        self._prefix = prefix
        # In process: expiry (monotonic seconds) by (lobby id, user id).
        self._until: dict[tuple[int, int], float] = {}
        self._sweep_at = 0

    async def start(self, lobby_id: int, user_id: int, ttl_seconds: float) -> None:
        """The user is typing until now + ttl_seconds (a renewal moves the end)."""
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        if self._client is None:
            self._sweep()
            self._until[(lobby_id, user_id)] = time.monotonic() + ttl_seconds
            return
        with _unavailable():
            await self._client.set(self._key(lobby_id, user_id), 1, px=max(round(ttl_seconds * 1000), 1))

    async def stop(self, lobby_id: int, user_id: int) -> bool:
        """Clear the flag; True when the user was typing (it had not expired yet)."""
        if self._client is None:
            until = self._until.pop((lobby_id, user_id), None)
            return until is not None and until > time.monotonic()
        with _unavailable():
            return bool(await self._client.delete(self._key(lobby_id, user_id)))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
        self._until.clear()

    def _key(self, lobby_id: int, user_id: int) -> str:
        return f"{self._prefix}:typing:{lobby_id}:{user_id}"

    def _sweep(self) -> None:
        # Users who stop typing without sending leave flags behind; sweeping them
        # whenever the dict has doubled costs O(1) per call, amortised.
        if len(self._until) < self._sweep_at:
            return
        now = time.monotonic()
        self._until = {key: until for key, until in self._until.items() if until > now}
        self._sweep_at = 2 * len(self._until) + 64


@contextmanager
def _unavailable() -> Iterator[None]:
    from redis.exceptions import RedisError

    try:
        yield
    except RedisError as error:
        raise TypingStateUnavailable(f"typing state: cannot reach Redis: {error}") from error


def _connect(url: str) -> Redis:
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported typing state URL scheme {scheme!r} (use redis:// or rediss://)")
    # Imported here so that the in-process state needs no Redis client installed.
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    # Blocking: redis-py's default pool fails the 101st concurrent command
    # ("Too many connections") where a burst should wait its turn. One retry,
    # and only on a failed connection (a pooled one Redis had closed):
    # a DEL that timed out may have run, and running it again would answer False.
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=COMMAND_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
    )
    return Redis.from_pool(pool)
