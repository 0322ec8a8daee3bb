"""Who has an open `lobbyEvents` subscription, per lobby, across every server process.

Each subscription is one entry, (user, connection id) in its lobby, that
expires `ttl_seconds` after it was last refreshed. A running `Presence`
refreshes the entries of its own process every `ttl / 3` (its heartbeat), so
the entries of a process that died without `stop()` stop counting by
themselves within `ttl_seconds`: no ghosts. An entry is live until it expires;
a user is online in a lobby while they hold a live entry there.

`join()` says whether it was the user's first live entry in the lobby, and
`leave()` whether it was their last, and each decides it atomically with its
change: two tabs on two processes joining (or leaving) at the same moment get
exactly one True. `redis_url=None` keeps the entries in this process (one
store per `Presence`, like broadcaster's `memory://`); otherwise each lobby is
a Redis sorted set, member "user_id:connection_id", score its expiry in
milliseconds, changed only by Lua scripts that read the time from Redis (so
the processes' clocks do not matter).

The heartbeat only extends entries that still exist, so it can never bring
back one that `leave()` removed while the refresh was on its way. An entry
that expired without leaving (a process stalled, or Redis unreachable, for a
whole ttl) is kept, dead, for one more ttl: until then the heartbeat revives
it, and a later `leave()` still reports it. Expiry and revival emit nothing.

After that ttl the entry is beyond revival and the heartbeat of every process
with entries in the lobby (its audience) reaps it: one script per lobby
removes such entries and returns the users left with no entry at all there,
so exactly one process learns of each and hands it to the `on_gone` callback
(which publishes their PresenceLeaveEvent). A killed process's users thus
leave within about 2 x ttl + ttl / 3. Only the reaper removes entries beyond
revival (or the key's expiry, once no process holds an entry in the lobby:
then no subscriber is left to tell but invisible staff, who are not told): a
join or leave in between does not, so none goes unreported. A user
who still holds a revivable entry is not reported: its own process revives
it, leaves it (reported then) or dies too (reaped later). In process there is
nothing to reap: the store's only process refreshes its entries just before,
so none is ever beyond revival when its own heartbeat looks.

The connection id names one subscription (the caller makes one per
subscription): joining the same (lobby, user, connection id) twice registers
it once. `stop()` also closes the Redis connections: call it once at
shutdown, even if `start()` was not called. A Redis failure raises
`PresenceUnavailable`; the heartbeat only logs it and tries again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from premiumchat.realtime.heartbeat import LocalEntries
from premiumchat.realtime.redis_support import LUA_PRELUDE, connect, unavailable
from premiumchat.realtime.typing_state import TypingState

__all__ = ["Presence", "PresenceUnavailable", "TypingState"]

logger = logging.getLogger("premiumchat.realtime")

# Entries by lobby: (user id, connection id) of each subscription.
Entries = dict[int, list[tuple[int, str]]]
# Told, per lobby, the users whose last entry there was reaped.
OnGone = Callable[[int, list[int]], Awaitable[None]]


class PresenceUnavailable(ConnectionError):
    """Redis did not answer a presence call."""


class Presence:
    def __init__(
        self, redis_url: str | None, *, ttl_seconds: float = 30.0, prefix: str = "premiumchat"
    ) -> None:
        if ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive, not {ttl_seconds}")
        self._ttl = ttl_seconds
        self._store: _Store = (
            _MemoryStore(ttl_seconds) if redis_url is None else _RedisStore(redis_url, prefix, ttl_seconds)
        )
        # This process's subscriptions: what the heartbeat refreshes and stop() removes.
        self._mine: LocalEntries[int, tuple[int, str]] = LocalEntries(
            "presence", ttl_seconds, self._beat, self._store.remove, PresenceUnavailable
        )
        self._on_gone: OnGone | None = None

    async def start(self, on_gone: OnGone | None = None) -> None:
        """Start the heartbeat; `on_gone(lobby_id, user_ids)` is told of the users it reaps."""
        self._on_gone = on_gone
        self._mine.start()

    async def stop(self) -> None:
        try:
            await self._mine.stop()
        finally:
            await self._store.close()

    async def join(self, lobby_id: int, user_id: int, connection_id: str) -> bool:
        """Register a subscription; True when it is the user's first live one in the lobby."""
        entry = (user_id, connection_id)
        self._mine.remember(lobby_id, entry)
        try:
            return await self._store.join(lobby_id, user_id, connection_id)
        except BaseException:
            # Unknown whether it arrived; if it did, unrefreshed, it expires.
            self._mine.forget(lobby_id, entry)
            raise

    async def leave(self, lobby_id: int, user_id: int, connection_id: str) -> bool:
        """Remove a subscription; True when it was the user's last live one in the lobby."""
        self._mine.forget(lobby_id, (user_id, connection_id))
        return await self._store.leave(lobby_id, user_id, connection_id)

    async def online(self, lobby_ids: Sequence[int]) -> dict[int, list[int]]:
        """The users online in each lobby (sorted, each once), in one round trip."""
        return await self._store.online(list(dict.fromkeys(lobby_ids)))

    async def _beat(self, entries: Entries) -> None:
        gone = await self._store.beat(entries)
        for lobby_id, user_ids in gone.items():
            if self._on_gone is None:
                continue
            try:
                await self._on_gone(lobby_id, user_ids)
            except Exception:
                logger.exception("presence: users %s reaped in lobby %s, not reported", user_ids, lobby_id)


class _Store(Protocol):
    """One backend: each call is atomic with respect to every other call on the same store."""

    async def join(self, lobby_id: int, user_id: int, connection_id: str) -> bool: ...
    async def leave(self, lobby_id: int, user_id: int, connection_id: str) -> bool: ...
    async def online(self, lobby_ids: list[int]) -> dict[int, list[int]]: ...
    async def beat(self, entries: Entries) -> dict[int, list[int]]:
        """Refresh this process's entries, then reap their lobbies (refreshed first: none of
        this process's own entries is beyond revival when reaped); the users gone, by lobby."""
        ...

    async def remove(self, entries: Entries) -> None: ...
    async def close(self) -> None: ...


class _MemoryStore:
    # No await inside a call: each runs to completion before any other starts.

    def __init__(self, ttl: float) -> None:
        self._ttl = ttl
        # Expiry (monotonic seconds) by (user id, connection id), by lobby.
        self._lobbies: dict[int, dict[tuple[int, str], float]] = {}

    async def join(self, lobby_id: int, user_id: int, connection_id: str) -> bool:
        now = time.monotonic()
        entries = self._pruned(lobby_id, now)
        first = not any(user == user_id and expiry > now for (user, _), expiry in entries.items())
        entries[(user_id, connection_id)] = now + self._ttl
        return first

    async def leave(self, lobby_id: int, user_id: int, connection_id: str) -> bool:
        now = time.monotonic()
        entries = self._pruned(lobby_id, now)
        removed = entries.pop((user_id, connection_id), None) is not None
        last = removed and not any(user == user_id and expiry > now for (user, _), expiry in entries.items())
        if not entries:
            del self._lobbies[lobby_id]
        return last

    async def online(self, lobby_ids: list[int]) -> dict[int, list[int]]:
        now = time.monotonic()
        return {
            lobby_id: sorted(
                {user for (user, _), expiry in self._lobbies.get(lobby_id, {}).items() if expiry > now}
            )
            for lobby_id in lobby_ids
        }

    async def beat(self, entries: Entries) -> dict[int, list[int]]:
        # Nothing to reap: see the module's docstring, one process never outlives its own entries.
        expiry = time.monotonic() + self._ttl
        for lobby_id, mine in entries.items():
            stored = self._lobbies.get(lobby_id, {})
            for entry in mine:
                if entry in stored:  # never revive one that left
                    stored[entry] = expiry
        return {}

    async def remove(self, entries: Entries) -> None:
        for lobby_id, mine in entries.items():
            stored = self._lobbies.get(lobby_id, {})
            for entry in mine:
                stored.pop(entry, None)
            if not stored:
                self._lobbies.pop(lobby_id, None)

    async def close(self) -> None:
        self._lobbies.clear()

    def _pruned(self, lobby_id: int, now: float) -> dict[tuple[int, str], float]:
        """The lobby's entries, without those dead for longer than a ttl (they can no longer be revived)."""
        entries = self._lobbies.setdefault(lobby_id, {})
        for entry in [entry for entry, expiry in entries.items() if expiry <= now - self._ttl]:
            del entries[entry]
        return entries


# Every script starts with LUA_PRELUDE (`now`, Redis's time in milliseconds, and
# keep_at_least()) and live_entry_of(). Only _REAP removes dead entries, once
# they have been dead for one more ttl (the grace, when their own heartbeat can
# still revive them), and it reports whom it removed.
# Finding a user's entries scans the lobby's live ones: a lobby holds at most
# 64 members (`maxParticipants`), so one key per lobby beats an index per user.
_LIVE_ENTRY_OF = """
local function live_entry_of(key, prefix)
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf')) do
        if string.sub(member, 1, #prefix) == prefix then return true end
    end
    return false
end
"""

# KEYS: the lobby; ARGV: member, "user_id:", ttl ms. Returns 1 when no live entry of the user was there.
_JOIN = """
local ttl = tonumber(ARGV[3])
local first = not live_entry_of(KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
keep_at_least(KEYS[1], 2 * ttl)
return first and 1 or 0
"""

# KEYS: the lobby; ARGV: member, "user_id:", ttl ms. Returns 1 when it was there and no other live one is.
_LEAVE = """
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
if removed == 1 and not live_entry_of(KEYS[1], ARGV[2]) then return 1 end
return 0
"""

# KEYS: the lobby; ARGV: ttl ms, members. XX: only those still there.
_REFRESH = """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i]) end
keep_at_least(KEYS[1], 2 * ttl)
"""

# KEYS: the lobby; ARGV: ttl ms. Removes the entries beyond revival; returns the "user_id:"
# prefixes of those users with no entry left in the lobby, each once.
_REAP = """
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
if #dead == 0 then return {} end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
local remaining = {}
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
    remaining[string.match(member, '^[^:]*:')] = true
end
local gone = {}
for _, member in ipairs(dead) do
    local prefix = string.match(member, '^[^:]*:')
    if not remaining[prefix] then
        remaining[prefix] = true
        gone[#gone + 1] = prefix
    end
end
return gone
"""

# KEYS: the lobbies. Returns the live members of each.
_ONLINE = """
local result = {}
for i, key in ipairs(KEYS) do result[i] = redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf') end
return result
"""


class _RedisStore:
    def __init__(self, url: str, prefix: str, ttl: float) -> None:
        self._client = connect(url, what="presence")
        self._prefix = prefix
        self._ttl_ms = max(round(ttl * 1000), 1)
        register = self._client.register_script
        prelude = LUA_PRELUDE + _LIVE_ENTRY_OF
        self._join = register(prelude + _JOIN)
        self._leave = register(prelude + _LEAVE)
        self._refresh = register(prelude + _REFRESH)
        self._online = register(prelude + _ONLINE)
        self._reap = register(prelude + _REAP)

    async def join(self, lobby_id: int, user_id: int, connection_id: str) -> bool:
        with unavailable(PresenceUnavailable, "presence"):
            return bool(await self._join([self._key(lobby_id)], self._args(user_id, connection_id)))

    async def leave(self, lobby_id: int, user_id: int, connection_id: str) -> bool:
        with unavailable(PresenceUnavailable, "presence"):
            return bool(await self._leave([self._key(lobby_id)], self._args(user_id, connection_id)))

    async def online(self, lobby_ids: list[int]) -> dict[int, list[int]]:
        if not lobby_ids:
            return {}
        with unavailable(PresenceUnavailable, "presence"):
            members = await self._online([self._key(lobby_id) for lobby_id in lobby_ids])
        return {
            lobby_id: sorted({int(member.split(b":", 1)[0]) for member in live})
            for lobby_id, live in zip(lobby_ids, members, strict=True)
        }

    async def beat(self, entries: Entries) -> dict[int, list[int]]:
        # One round trip: every refresh, then every reap, in one pipeline (Redis runs it in order).
        lobby_ids = list(entries)
        with unavailable(PresenceUnavailable, "presence"):
            async with self._client.pipeline(transaction=False) as pipe:
                for lobby_id, mine in entries.items():
                    members = [f"{user_id}:{connection_id}" for user_id, connection_id in mine]
                    await self._refresh([self._key(lobby_id)], [self._ttl_ms, *members], client=pipe)
                for lobby_id in lobby_ids:
                    await self._reap([self._key(lobby_id)], [self._ttl_ms], client=pipe)
                results = await pipe.execute()
        reaped = results[len(lobby_ids) :]
        return {
            lobby_id: [int(prefix[:-1]) for prefix in gone]
            for lobby_id, gone in zip(lobby_ids, reaped, strict=True)
            if gone
        }

    async def remove(self, entries: Entries) -> None:
        with unavailable(PresenceUnavailable, "presence"):
            async with self._client.pipeline(transaction=False) as pipe:
                for lobby_id, mine in entries.items():
                    pipe.zrem(
                        self._key(lobby_id),
                        *(f"{user_id}:{connection_id}" for user_id, connection_id in mine),
                    )
                await pipe.execute()

    async def close(self) -> None:
        await self._client.aclose()

    def _key(self, lobby_id: int) -> str:
        return f"{self._prefix}:presence:lobby:{lobby_id}"

    def _args(self, user_id: int, connection_id: str) -> list[str | int]:
        # The member, and the prefix shared by all of the user's members in the lobby.
        return [f"{user_id}:{connection_id}", f"{user_id}:", self._ttl_ms]
