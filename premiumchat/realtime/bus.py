"""The process-wide event bus: broadcaster's backends under a fan-out that survives Redis.

Messages are already-encoded strings; each subscriber gets those of its
channel in publish order. `memory://` stays inside one bus; `redis://` and
`rediss://` reach every bus on that Redis, in any process.

It keeps broadcaster's backend contract (`BroadcastBackend`, `Event`, its
`MemoryBackend`) and replaces the fan-out of `broadcaster.Broadcast`, where its
traps are: subscribers of one channel arriving together overwrite each other,
queues are unbounded and filled with `await put`, and a lost Redis connection
goes unnoticed. Subclassing `Broadcast` would mean overriding every method but
its URL switch, against its types; so the bus wraps the backend instead.

A subscription ends with an exception from `Subscription.get()`, raised at
once, even if messages are still queued (they are discarded: the client
recovers from the database with `since` either way):

- `SubscriberLagging`: its queue already held `queue_size` messages when one
  more came. Only that subscriber is dropped; the others lose nothing and the
  dispatch loop never waits.
- `BusConnectionLost`: the Redis connection dropped, so messages may have been
  missed. It ends every live subscription; the bus reconnects by itself (0.1 s
  to 2 s apart) and subscribes afresh for whoever subscribes next. Until then,
  entering `subscribe()` raises it too.
- `SubscriptionEnded` itself: the bus was closed, or the subscription left;
  `async for` then simply stops.

`publish()` never fails for a Redis outage: it retries for a second, then logs
the message as dropped. On Redis, `delete_and_publish()` also deletes a key
in the same round trip, publishing some messages only if the key was there
(a send clears its author's typing flag so, see typing_state.py); it fails
the same way.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Self
from urllib.parse import urlsplit

from broadcaster import BroadcastBackend

logger = logging.getLogger("premiumchat.realtime")

RECONNECT_MIN_DELAY_SECONDS = 0.1
RECONNECT_MAX_DELAY_SECONDS = 2.0
PUBLISH_RETRY_SECONDS = 1.0
PUBLISH_RETRY_DELAY_SECONDS = 0.05


class SubscriptionEnded(Exception):
    """The subscription is over: the bus was closed (base class of the reasons below)."""


class SubscriberLagging(SubscriptionEnded):
    """This subscriber fell too far behind: its bounded queue filled up."""


class BusConnectionLost(SubscriptionEnded):
    """The connection to Redis dropped: messages may have been missed."""


class Subscription:
    """The messages of one channel for one subscriber (one reader), as an async iterator of strings."""

    # A deque and one waiter rather than an asyncio.Queue: ending must take
    # effect at once, also when the queue is full or its reader is waiting.
    # The deque exists only while messages wait: an idle subscription (most of a
    # socket's life) holds none (about 600 B each).

    __slots__ = ("_ended", "_messages", "_queue_size", "_waiter", "channel")

    def __init__(self, channel: str, queue_size: int) -> None:
        self.channel = channel
        self._messages: deque[str] | None = None
        self._queue_size = queue_size
        self._waiter: asyncio.Future[None] | None = None
        self._ended: SubscriptionEnded | None = None

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> str:
        try:
            return await self.get()
        except SubscriptionEnded as ended:
            if type(ended) is SubscriptionEnded:  # closed, not failed
                raise StopAsyncIteration from None
            raise

    async def get(self) -> str:
        while True:
            if self._ended is not None:
                # A fresh exception each time: re-raising one instance grows its traceback.
                raise type(self._ended)(*self._ended.args)
            messages = self._messages
            if messages:
                message = messages.popleft()
                if not messages:
                    self._messages = None
                return message
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    @property
    def ended(self) -> bool:
        return self._ended is not None

    def _offer(self, message: str) -> bool:
        """Queue a message without waiting; False when the queue is full."""
        messages = self._messages
        if (0 if messages is None else len(messages)) >= self._queue_size:
            return False
        if messages is None:
            messages = self._messages = deque()
        messages.append(message)
        self._wake()
        return True

    def _end(self, reason: SubscriptionEnded) -> None:
        if self._ended is None:
            self._ended = reason
            self._messages = None
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


@dataclass(eq=False)
class _Channel:
    """One channel's subscribers in this process, and whether the backend is subscribed."""

    # Who receives the channel's messages; a subscriber leaves it when it ends.
    subscribers: set[Subscription] = field(default_factory=set)
    # `subscribe()` calls under way for the channel, ended or not: the record
    # lives exactly as long as they do, so there is only ever one per channel.
    users: int = 0
    # The backend connection (see EventBus._epoch) on which the channel is
    # subscribed, or None; the lock orders the backend's (un)subscribe calls.
    epoch: int | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class EventBus:
    def __init__(self, url: str, *, queue_size: int = 1024) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        self._queue_size = queue_size
        self._url = url
        self._backend = _create_backend(url)
        self._channels: dict[str, _Channel] = {}
        # Counts backend connections: bumped on every loss, so a subscription
        # made on an earlier connection is known to be gone.
        self._epoch = 0
        self._online = False
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        """Whether the backend connection is up (for readiness checks)."""
        return self._online

    def subscriber_count(self, channel: str) -> int:
        state = self._channels.get(channel)
        return len(state.subscribers) if state is not None else 0

    async def connect(self) -> None:
        if self._task is not None:
            raise RuntimeError("the event bus is already connected")
        try:
            await self._backend.connect()
            self._online = True
        except OSError as error:  # how backends report a failed connection
            # Start anyway and keep trying: Redis may simply be starting too.
            logger.warning("event bus: cannot connect (%s); retrying in the background", error)
        self._task = asyncio.create_task(self._run(), name="premiumchat event bus")

    async def disconnect(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait([task])
        self._online = False
        self._epoch += 1  # leaving subscribers have nothing left to unsubscribe
        self._end_all(SubscriptionEnded("the event bus was closed"))
        await self._backend.disconnect()

    @property
    def url(self) -> str:
        return self._url

    async def publish(self, channel: str, message: str) -> None:
        await self._publishing(channel, 1, partial(self._backend.publish, channel, message))

    async def delete_and_publish(
        self, key: str, messages: Sequence[tuple[str, str]], if_deleted: Sequence[tuple[str, str]]
    ) -> None:
        """On Redis only: DEL `key`, publish `messages`, then `if_deleted` only if the key was there.

        One round trip, in that order. Like `publish()`, it never fails for an outage; a retry
        after a lost reply may publish `messages` twice (as `publish()` may) and, the key gone
        by then, leave `if_deleted` out.
        """
        # Duck-typed: the Redis backend is imported only for redis:// URLs.
        delete_and_publish = getattr(self._backend, "delete_and_publish", None)
        if delete_and_publish is None:
            raise RuntimeError(f"the event bus on {urlsplit(self._url).scheme}:// keeps no keys")
        channel = messages[0][0] if messages else key
        await self._publishing(channel, len(messages), partial(delete_and_publish, key, messages, if_deleted))

    async def _publishing(self, channel: str, count: int, publish: Callable[[], Awaitable[object]]) -> None:
        if self._task is None:
            raise RuntimeError("the event bus is not connected")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + PUBLISH_RETRY_SECONDS
        delay = PUBLISH_RETRY_DELAY_SECONDS
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    await publish()
                return
            except OSError as error:  # ConnectionError, or TimeoutError at the deadline
                if loop.time() + delay >= deadline:
                    # Every event is committed to the database before it is
                    # published, so subscribers that miss it recover it with
                    # `since`; failing the request that caused it would not.
                    what = "a message" if count == 1 else f"{count} messages"
                    logger.error("event bus: dropped %s to %s: %s", what, channel, str(error) or "timed out")
                    return
            await asyncio.sleep(delay)
            delay *= 2

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        if self._task is None:
            raise RuntimeError("the event bus is not connected")
        subscription = Subscription(channel, self._queue_size)
        state = self._channels.get(channel)
        if state is None:
            state = self._channels[channel] = _Channel()
        # Joined before the first await, so subscribers arriving together all
        # land in the one set (broadcaster's race) and none misses a message.
        state.users += 1
        state.subscribers.add(subscription)
        try:
            await self._ensure_subscribed(channel, state, subscription)
            yield subscription
        finally:
            state.subscribers.discard(subscription)
            subscription._end(SubscriptionEnded("unsubscribed"))  # a stray get() fails, not hangs
            try:
                if not state.subscribers:
                    await self._release(channel, state)
            finally:
                state.users -= 1
                if state.users == 0:
                    del self._channels[channel]

    async def _ensure_subscribed(self, channel: str, state: _Channel, subscription: Subscription) -> None:
        if state.epoch == self._epoch:
            return
        async with state.lock:
            if subscription.ended:
                return  # ended while waiting: its get() says why, and it needs no backend
            if state.epoch == self._epoch:
                return
            if not self._online:
                raise BusConnectionLost("the event bus is reconnecting to Redis")
            epoch = self._epoch
            try:
                await self._backend.subscribe(channel)
            except OSError as error:
                raise BusConnectionLost(str(error)) from error
            if epoch != self._epoch:
                raise BusConnectionLost("the connection to Redis dropped while subscribing")
            state.epoch = epoch

    async def _release(self, channel: str, state: _Channel) -> None:
        async with state.lock:
            if state.subscribers or state.epoch != self._epoch:
                return  # someone joined meanwhile, or the connection it was on is gone
            state.epoch = None
            try:
                await self._backend.unsubscribe(channel)
            except OSError:
                pass  # a dead connection takes its subscriptions with it

    async def _run(self) -> None:
        delay = RECONNECT_MIN_DELAY_SECONDS
        while True:
            if not self._online:
                # Jitter keeps many processes from reconnecting in lockstep.
                await asyncio.sleep(delay * random.uniform(0.5, 1))
                try:
                    await self._backend.connect()
                except OSError as error:
                    delay = min(delay * 2, RECONNECT_MAX_DELAY_SECONDS)
                    logger.warning("event bus: still cannot connect (%s)", error)
                    continue
                self._online = True
                delay = RECONNECT_MIN_DELAY_SECONDS
                logger.warning("event bus: connected again")
            try:
                event = await self._backend.next_published()
                self._dispatch(event.channel, event.message)
            except OSError as error:
                self._lose_connection(str(error))
            except Exception:
                # A bug here must not silence the bus for the life of the process.
                logger.exception("event bus: the dispatch loop failed; reconnecting")
                self._lose_connection("the event bus failed")

    def _dispatch(self, channel: str, message: str) -> None:
        state = self._channels.get(channel)
        if state is None:
            return
        lagging: list[Subscription] | None = None
        for subscription in state.subscribers:
            if not subscription._offer(message):
                lagging = lagging or []
                lagging.append(subscription)
        for subscription in lagging or ():
            state.subscribers.discard(subscription)
            subscription._end(SubscriberLagging(f"more than {self._queue_size} messages behind"))
            logger.warning("event bus: dropped a lagging subscriber of %s", channel)

    def _lose_connection(self, reason: str) -> None:
        self._online = False
        self._epoch += 1
        count = sum(len(state.subscribers) for state in self._channels.values())
        logger.warning("event bus: lost the connection (%s); ending %d subscriptions", reason, count)
        self._end_all(BusConnectionLost(reason))

    def _end_all(self, reason: SubscriptionEnded) -> None:
        for state in self._channels.values():
            for subscription in state.subscribers:
                subscription._end(reason)
            state.subscribers.clear()


def _create_backend(url: str) -> BroadcastBackend:
    scheme = urlsplit(url).scheme
    if scheme == "memory":
        # broadcaster exports only the interface; its backends live in `_backends`.
        from broadcaster._backends.memory import MemoryBackend

        return MemoryBackend(url)
    if scheme in ("redis", "rediss"):
        # Imported here so that `memory://` needs no Redis client installed.
        from premiumchat.realtime.redis_backend import RedisBackend

        return RedisBackend(url)
    raise ValueError(f"unsupported event bus URL scheme {scheme!r} (use memory://, redis:// or rediss://)")
