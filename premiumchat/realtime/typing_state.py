"""Who is typing where, until when: the state behind `setTyping`, in process or shared through Redis.

The server never announces an indicator's end by itself (clients fade it at
`expiresAt`); it only needs to know, when a user sends a message, whether
they were still typing, so that it sends `isTyping: false` then and only
then. So the state is one expiring flag per (lobby, user): a Redis key with a
PX expiry, or an expiry time in a dict. `start()` sets it (a renewal moves
the expiry), `stop()` deletes it and says whether it was there and not yet
expired; Redis does not return a key past its expiry, even one not yet evicted.

A Redis failure raises `TypingStateUnavailable`.

`stop_and_publish()` is what sending does, after its commit: on the event
bus's Redis, one script deletes the flag and publishes the message, then
`isTyping: false` if the flag was there, in one round trip (see
EventBus.delete_and_publish). Like any publish, it then never fails for an
outage: the message is committed, and subscribers recover it with `since`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from premiumchat.realtime.redis_support import connect, unavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from premiumchat.realtime.bus import EventBus
    from premiumchat.realtime.events import Outgoing


class TypingStateUnavailable(ConnectionError):
    """Redis did not answer a typing-state call."""


class TypingState:
    def __init__(self, redis_url: str | None, *, prefix: str = "premiumchat") -> None:
        self._url = redis_url
        self._client: Redis | None = None if redis_url is None else connect(redis_url, what="typing state")
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
        with unavailable(TypingStateUnavailable, "typing state"):
            await self._client.set(self._key(lobby_id, user_id), 1, px=max(round(ttl_seconds * 1000), 1))

    async def stop(self, lobby_id: int, user_id: int) -> bool:
        """Clear the flag; True when the user was typing (it had not expired yet)."""
        if self._client is None:
            until = self._until.pop((lobby_id, user_id), None)
            return until is not None and until > time.monotonic()
        with unavailable(TypingStateUnavailable, "typing state"):
            return bool(await self._client.delete(self._key(lobby_id, user_id)))

    async def stop_and_publish(
        self,
        bus: EventBus,
        lobby_id: int,
        user_id: int,
        events: Sequence[Outgoing],
        if_typing: Sequence[Outgoing],
    ) -> None:
        """Clear the flag, publish `events`, then `if_typing` only when the user was typing.

        On the bus's Redis, one round trip; otherwise `stop()`, then the events.
        """
        if self._client is not None and bus.url == self._url:
            await bus.delete_and_publish(
                self._key(lobby_id, user_id),
                [(event.channel, event.message) for event in events],
                [(event.channel, event.message) for event in if_typing],
            )
            return
        was_typing = await self.stop(lobby_id, user_id)
        for event in (*events, *if_typing) if was_typing else events:
            await bus.publish(event.channel, event.message)

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
