"""How many sockets each user has open, across every server process: `MAX_CONNECTIONS_PER_USER`.

Each accepted socket is one entry, (user, connection id), that expires
`ttl_seconds` after it was last refreshed. A running `ConnectionCounter`
refreshes the entries of its own process every `ttl / 3` (its heartbeat), so
the entries of a process that was killed vanish by themselves within
`ttl_seconds`, and with them the slots they held. An entry is live until it
expires; a user's count is their number of live entries.

`open()` checks the limit and stores the entry in one atomic step: however
many sockets of one user arrive at once, on however many processes, exactly
as many as there are free slots are admitted. `redis_url=None` keeps the
entries in this process (one store per `ConnectionCounter`, like
broadcaster's `memory://`); otherwise each user is a Redis sorted set,
member the connection id, score its expiry in milliseconds, changed only by
Lua scripts that read the time from Redis (so the processes' clocks do not
matter). The Redis conventions (client, pool, clock, key expiry) are
presence's (`redis_support` holds them), and so is this lifecycle:

The heartbeat only extends entries that still exist, so it can never bring
back one that `close()` removed while the refresh was on its way. An entry
that expired without closing (a process stalled, or Redis unreachable, for a
whole ttl) no longer counts, but is kept, dead, for one more ttl: until then
the heartbeat revives it, since its socket is still open, which may leave the
user over the limit until one of their sockets closes. Entries that Redis
lost (a restart without persistence) are not brought back: the sockets open
then go uncounted until they close.

The connection id names one socket (the caller makes one per socket, unique
across processes): opening a live one again admits it without taking another
slot. `stop()` also closes the Redis connections: call it once at shutdown,
even if `start()` was not called. A Redis failure raises
`ConnectionCounterUnavailable`; the heartbeat only logs it and tries again.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from premiumchat.realtime.heartbeat import LocalEntries
from premiumchat.realtime.redis_support import LUA_PRELUDE, connect, unavailable

__all__ = ["ConnectionCounter", "ConnectionCounterUnavailable"]

logger = logging.getLogger("premiumchat.realtime")

# Connection ids by user.
Entries = dict[int, list[str]]


class ConnectionCounterUnavailable(ConnectionError):
    """Redis did not answer a connection-counter call."""


class ConnectionCounter:
    def __init__(
        self, redis_url: str | None, *, ttl_seconds: float = 30.0, prefix: str = "premiumchat"
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        self._ttl = ttl_seconds
        self._store: _Store = (
            _MemoryStore(ttl_seconds) if redis_url is None else _RedisStore(redis_url, prefix, ttl_seconds)
        )
        # This process's sockets: what the heartbeat refreshes and stop() removes.
        self._mine: LocalEntries[int, str] = LocalEntries(
            "connections", ttl_seconds, self._store.refresh, self._store.remove, ConnectionCounterUnavailable
        )

    async def start(self) -> None:
        self._mine.start()

    async def stop(self) -> None:
        try:
            await self._mine.stop()
        finally:
            await self._store.close()

    async def open(self, user_id: int, connection_id: str, limit: int) -> bool:
        """Take one of the user's `limit` slots for this socket; False (nothing stored) when all are taken."""
        self._mine.remember(user_id, connection_id)
        try:
            opened = await self._store.open(user_id, connection_id, limit)
        except BaseException:
            # Unknown whether it arrived; if it did, unrefreshed, it expires.
            self._mine.forget(user_id, connection_id)
            raise
        if not opened:
            self._mine.forget(user_id, connection_id)
        return opened

    async def close(self, user_id: int, connection_id: str) -> None:
        """Free the socket's slot (nothing happens for one not open)."""
        self._mine.forget(user_id, connection_id)
        await self._store.close_one(user_id, connection_id)

    async def count(self, user_id: int) -> int:
        """The user's live connections, on every process."""
        return await self._store.count(user_id)


class _Store(Protocol):
    """One backend: each call is atomic with respect to every other call on the same store."""

    async def open(self, user_id: int, connection_id: str, limit: int) -> bool: ...
    async def close_one(self, user_id: int, connection_id: str) -> None: ...
    async def count(self, user_id: int) -> int: ...
    async def refresh(self, entries: Entries) -> None: ...
    async def remove(self, entries: Entries) -> None: ...
    async def close(self) -> None: ...


class _MemoryStore:
    # No await inside a call: each runs to completion before any other starts.

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        # Expiry (monotonic seconds) by connection id, by user.
        self._users: dict[int, dict[str, float]] = {}

    async def open(self, user_id: int, connection_id: str, limit: int) -> bool:
        now = time.monotonic()
        entries = self._pruned(user_id, now)
        if entries.get(connection_id, now) <= now and _live(entries, now) >= limit:
            if not entries:
                del self._users[user_id]
            return False
        entries[connection_id] = now + self._ttl
        return True

    async def close_one(self, user_id: int, connection_id: str) -> None:
        self._discard(user_id, [connection_id])

    async def count(self, user_id: int) -> int:
        return _live(self._users.get(user_id, {}), time.monotonic())

    async def refresh(self, entries: Entries) -> None:
        expiry = time.monotonic() + self._ttl
        for user_id, mine in entries.items():
            stored = self._users.get(user_id, {})
            for connection_id in mine:
                if connection_id in stored:  # never revive one that closed
                    stored[connection_id] = expiry

    async def remove(self, entries: Entries) -> None:
        for user_id, mine in entries.items():
            self._discard(user_id, mine)

    async def close(self) -> None:
        self._users.clear()

    def _discard(self, user_id: int, connection_ids: list[str]) -> None:
        stored = self._users.get(user_id, {})
        for connection_id in connection_ids:
            stored.pop(connection_id, None)
        if not stored:
            self._users.pop(user_id, None)

    def _pruned(self, user_id: int, now: float) -> dict[str, float]:
        """The user's entries, without those dead for longer than a ttl (they can no longer be revived)."""
        entries = self._users.setdefault(user_id, {})
        for connection_id in [key for key, expiry in entries.items() if expiry <= now - self._ttl]:
            del entries[connection_id]
        return entries


def _live(entries: dict[str, float], now: float) -> int:
    return sum(expiry > now for expiry in entries.values())


# Every script starts with the shared LUA_PRELUDE: `now` from Redis's clock in milliseconds,
# and keep_at_least(). Dead entries stay for one more ttl (the grace) so that their own
# heartbeat can revive them.

# KEYS: the user; ARGV: connection id, limit, ttl ms. Returns 1 when admitted (and stored).
_OPEN = """
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
local already_live = expiry and tonumber(expiry) > now
if not already_live and redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') >= tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
keep_at_least(KEYS[1], 2 * ttl)
return 1
"""

# KEYS: the user. Returns the number of live entries.
_COUNT = """
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
"""

# KEYS: the user; ARGV: ttl ms, connection ids. XX: only those still there.
_REFRESH = """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i]) end
keep_at_least(KEYS[1], 2 * ttl)
"""


class _RedisStore:
    def __init__(self, url: str, prefix: str, ttl: float) -> None:
        self._client = connect(url, what="connections")
        self._prefix = prefix
        self._ttl_ms = max(round(ttl * 1000), 1)
        register = self._client.register_script
        self._open = register(LUA_PRELUDE + _OPEN)
        self._count = register(LUA_PRELUDE + _COUNT)
        self._refresh = register(LUA_PRELUDE + _REFRESH)

    async def open(self, user_id: int, connection_id: str, limit: int) -> bool:
        with unavailable(ConnectionCounterUnavailable, "connections"):
            return bool(await self._open([self._key(user_id)], [connection_id, limit, self._ttl_ms]))

    async def close_one(self, user_id: int, connection_id: str) -> None:
        with unavailable(ConnectionCounterUnavailable, "connections"):
            await self._client.zrem(self._key(user_id), connection_id)

    async def count(self, user_id: int) -> int:
        with unavailable(ConnectionCounterUnavailable, "connections"):
            return int(await self._count([self._key(user_id)]))

    async def refresh(self, entries: Entries) -> None:
        with unavailable(ConnectionCounterUnavailable, "connections"):
            async with self._client.pipeline(transaction=False) as pipe:
                for user_id, mine in entries.items():
                    await self._refresh([self._key(user_id)], [self._ttl_ms, *mine], client=pipe)
                await pipe.execute()

    async def remove(self, entries: Entries) -> None:
        with unavailable(ConnectionCounterUnavailable, "connections"):
            async with self._client.pipeline(transaction=False) as pipe:
                for user_id, mine in entries.items():
                    pipe.zrem(self._key(user_id), *mine)
                await pipe.execute()

    async def close(self) -> None:
        await self._client.aclose()

    def _key(self, user_id: int) -> str:
        return f"{self._prefix}:connections:user:{user_id}"
