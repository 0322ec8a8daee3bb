"""Close a user's sockets when their account is deactivated: one watch per user and process.

A watch is one task and one bus subscription to the user's channel, shared by every socket
of that user on this process (it used to be one of each per socket: a few KiB per idle
socket). It starts with the user's first socket and stops when the last one leaves. On
`UserDeactivated` it closes every socket it holds with 4403 and ends; if the bus loses
Redis it ends too (every operation still re-reads the account), and the next socket of
the user starts a fresh one.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable
from contextlib import suppress

import orjson

from premiumchat.realtime.bus import EventBus, SubscriptionEnded
from premiumchat.realtime.channels import user_channel

__all__ = ["AccountWatches"]

logger = logging.getLogger("premiumchat.view")

# Closes one socket because the account was deactivated.
Closer = Callable[[], Awaitable[None]]


class _Watch:
    __slots__ = ("sockets", "started", "task")

    def __init__(self) -> None:
        self.sockets: dict[object, Closer] = {}
        # Done once the watch listens (or has ended): a future, lighter than an Event's deque.
        self.started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task: asyncio.Task[None] | None = None

    def set_started(self) -> None:
        if not self.started.done():
            self.started.set_result(None)


class AccountWatches:
    """The watches of one event bus, by user id."""

    _of_bus: weakref.WeakKeyDictionary[EventBus, AccountWatches] = weakref.WeakKeyDictionary()

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._watches: dict[int, _Watch] = {}

    @classmethod
    def of(cls, bus: EventBus) -> AccountWatches:
        watches = cls._of_bus.get(bus)
        if watches is None:
            watches = cls._of_bus[bus] = cls(bus)
        return watches

    async def add(self, user_id: int, key: object, close: Closer, wait_seconds: float) -> None:
        """Watch `key` (a socket) for the user; waits until the watch listens, at most `wait_seconds`."""
        watch = self._watches.get(user_id)
        if watch is None:
            watch = self._watches[user_id] = _Watch()
            watch.task = asyncio.create_task(self._run(user_id, watch))
        watch.sockets[key] = close
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(watch.started), wait_seconds)

    async def remove(self, user_id: int, key: object) -> None:
        """Stop watching `key`; the last socket of the user stops the watch."""
        watch = self._watches.get(user_id)
        if watch is None or watch.sockets.pop(key, None) is None or watch.sockets:
            return
        del self._watches[user_id]
        assert watch.task is not None
        watch.task.cancel()
        with suppress(asyncio.CancelledError):
            await watch.task

    async def _run(self, user_id: int, watch: _Watch) -> None:
        try:
            async with self._bus.subscribe(user_channel(user_id)) as account_events:
                watch.set_started()
                async for message in account_events:
                    if orjson.loads(message).get("type") == "UserDeactivated":
                        self._forget(user_id, watch)
                        for close in list(watch.sockets.values()):
                            await close()
                        return
        except SubscriptionEnded:
            # The bus lost Redis: every operation still re-reads the account, so a
            # deactivated user can do nothing more on these sockets.
            logger.warning("stopped watching the account of user %s: the event bus was interrupted", user_id)
            self._forget(user_id, watch)
        finally:
            watch.set_started()

    def _forget(self, user_id: int, watch: _Watch) -> None:
        if self._watches.get(user_id) is watch:
            del self._watches[user_id]
