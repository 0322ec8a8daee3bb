"""broadcaster's backend interface over redis-py's asyncio client, reporting a lost connection.

broadcaster's RedisBackend reads in a task that dies silently with the
connection (leaving `next_published` waiting forever) and returns from
`subscribe` before Redis has subscribed. Fixing that means replacing all of its
methods but `publish`, so this is a backend of its own on the same interface. It

- reports every connection failure as the built-in `ConnectionError`, so the
  bus needs no Redis imports;
- opens a fresh subscriber connection, with no channels, on each `connect()`:
  after a loss the bus subscribes again to what is still wanted;
- returns from `subscribe()` once Redis has confirmed it, so a message
  published afterwards cannot be missed;
- probes a quiet connection with PING, so a silently dead one (a paused
  server, a dropped NAT entry) is found too;
- deletes a key and publishes in one script (`delete_and_publish`), so that
  sending a message clears its author's typing flag and announces both in
  one round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from broadcaster import BroadcastBackend, Event
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 5.0
SUBSCRIBE_TIMEOUT_SECONDS = 5.0
# A connection quiet for this long gets a PING; quiet for as long again, it is dead.
IDLE_PING_SECONDS = 10.0

# DEL KEYS[1]; then PUBLISH the pairs (channel, message) of ARGV after ARGV[1]: the first
# ARGV[1] pairs always, the rest only when the key was there. Returns what DEL returned.
DELETE_AND_PUBLISH = """
local deleted = redis.call('DEL', KEYS[1])
local last = #ARGV
if deleted == 0 then last = 1 + 2 * tonumber(ARGV[1]) end
for i = 2, last, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end
return deleted
"""


class RedisBackend(BroadcastBackend):
    def __init__(self, url: str) -> None:
        # No retries inside redis-py: its PubSub would reconnect and re-subscribe
        # behind our back, hiding the gap in which messages were lost. The bus
        # decides when to reconnect and tells the subscribers.
        self._client: Redis = Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
        )
        self._delete_and_publish = self._client.register_script(DELETE_AND_PUBLISH)
        self._pubsub: PubSub | None = None
        # SUBSCRIBE replies awaited, by channel: True once confirmed, False if the connection went.
        self._confirmations: dict[str, asyncio.Future[bool]] = {}
        self._ping_unanswered = False

    async def connect(self) -> None:
        await self._close_pubsub()
        self._pubsub = self._client.pubsub()
        self._ping_unanswered = False
        try:
            await self._pubsub.connect()  # type: ignore[no-untyped-call]  # unannotated in redis-py
        except RedisError as error:
            await self._close_pubsub()
            raise ConnectionError(f"cannot connect to Redis: {error}") from error

    async def disconnect(self) -> None:
        await self._close_pubsub()
        await self._client.aclose()

    async def subscribe(self, channel: str) -> None:
        pubsub = self._connected_pubsub()
        confirmed: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._confirmations[channel] = confirmed
        try:
            await pubsub.subscribe(channel)
            # The reply is read by `next_published`, which the bus is always running.
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_SECONDS):
                if not await confirmed:
                    raise ConnectionError(f"lost the connection to Redis while subscribing to {channel!r}")
        except RedisError as error:
            raise ConnectionError(f"cannot subscribe to {channel!r}: {error}") from error
        except TimeoutError as error:
            raise ConnectionError(f"Redis did not confirm the subscription to {channel!r}") from error
        finally:
            if self._confirmations.get(channel) is confirmed:
                del self._confirmations[channel]

    async def unsubscribe(self, channel: str) -> None:
        if self._pubsub is None:
            return  # the connection is gone, and its subscriptions with it
        try:
            await self._pubsub.unsubscribe(channel)
        except RedisError as error:
            raise ConnectionError(f"cannot unsubscribe from {channel!r}: {error}") from error

    async def publish(self, channel: str, message: Any) -> None:
        try:
            await self._client.publish(channel, message)
        except RedisError as error:
            raise ConnectionError(f"cannot publish to {channel!r}: {error}") from error

    async def delete_and_publish(
        self, key: str, messages: Sequence[tuple[str, str]], if_deleted: Sequence[tuple[str, str]]
    ) -> bool:
        """DEL `key`, PUBLISH `messages`, then `if_deleted` only if the key was there: one script, in order.

        True when the key was there. A retry after a lost reply may find the key already deleted.
        """
        args: list[str | int] = [len(messages)]
        for channel, message in (*messages, *if_deleted):
            args += (channel, message)
        try:
            return bool(await self._delete_and_publish(keys=[key], args=args))
        except RedisError as error:
            raise ConnectionError(f"cannot delete {key!r} and publish: {error}") from error

    async def next_published(self) -> Event:
        pubsub = self._connected_pubsub()
        try:
            while True:
                reply = await pubsub.get_message(timeout=IDLE_PING_SECONDS)
                if reply is None:
                    if self._ping_unanswered:
                        raise ConnectionError("Redis did not answer PING")
                    self._ping_unanswered = True
                    await pubsub.ping()
                    continue
                self._ping_unanswered = False  # any reply shows the connection is alive
                if reply["type"] == "message":
                    return Event(channel=reply["channel"].decode(), message=reply["data"].decode())
                if reply["type"] == "subscribe":
                    confirmed = self._confirmations.get(reply["channel"].decode())
                    if confirmed is not None and not confirmed.done():
                        confirmed.set_result(True)
        except (RedisError, ConnectionError) as error:
            self._fail_confirmations()
            raise ConnectionError(f"lost the connection to Redis: {error}") from error

    def _connected_pubsub(self) -> PubSub:
        if self._pubsub is None:
            raise ConnectionError("not connected to Redis")
        return self._pubsub

    def _fail_confirmations(self) -> None:
        for confirmed in self._confirmations.values():
            if not confirmed.done():
                confirmed.set_result(False)
        self._confirmations.clear()

    async def _close_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        self._fail_confirmations()
        if pubsub is not None:
            await pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py
