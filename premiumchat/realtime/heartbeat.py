"""This process's entries in an expiring store, kept alive by a heartbeat.

Presence and the connection counter both store one entry per subscription or
socket that expires unless refreshed, so a killed process's entries vanish by
themselves. This is the part they share: remembering which entries are ours,
refreshing them every `ttl / 3`, and removing them all at shutdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

logger = logging.getLogger("premiumchat.realtime")

STOP_TIMEOUT_SECONDS = 5

K = TypeVar("K", bound=Hashable)
E = TypeVar("E", bound=Hashable)


class LocalEntries(Generic[K, E]):
    def __init__(
        self,
        what: str,
        ttl_seconds: float,
        refresh: Callable[[dict[K, list[E]]], Awaitable[None]],
        remove: Callable[[dict[K, list[E]]], Awaitable[None]],
        unavailable: type[ConnectionError],
    ) -> None:
        self._what = what
        self._interval = ttl_seconds / 3
        self._refresh = refresh
        self._remove = remove
        self._unavailable = unavailable
        self._mine: dict[K, set[E]] = {}
        self._heartbeat: asyncio.Task[None] | None = None

    def remember(self, key: K, entry: E) -> None:
        """Before the entry is sent, so the heartbeat may refresh it as soon as it exists."""
        self._mine.setdefault(key, set()).add(entry)

    def forget(self, key: K, entry: E) -> None:
        """Before the entry is removed, so a heartbeat sent from then on cannot touch it."""
        entries = self._mine.get(key)
        if entries is not None:
            entries.discard(entry)
            if not entries:
                del self._mine[key]

    def start(self) -> None:
        if self._heartbeat is not None:
            raise RuntimeError(f"{self._what} is already started")
        self._heartbeat = asyncio.create_task(self._beat(), name=f"premiumchat {self._what} heartbeat")

    async def stop(self) -> None:
        """Stop the heartbeat and remove every entry of this process (logged if the store is away)."""
        task, self._heartbeat = self._heartbeat, None
        if task is not None:
            task.cancel()
            # Bounded: shutdown must not hang on a refresh stuck in a dead connection.
            await asyncio.wait([task], timeout=STOP_TIMEOUT_SECONDS)
        mine, self._mine = self._mine, {}
        if not mine:
            return
        try:
            await self._remove({key: list(entries) for key, entries in mine.items()})
        except self._unavailable as error:
            logger.warning(
                "%s: cannot remove this process's entries (%s); they expire by themselves", self._what, error
            )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self._mine:
                continue
            try:
                await self._refresh({key: list(entries) for key, entries in self._mine.items()})
            except self._unavailable as error:
                logger.warning(
                    "%s: heartbeat failed (%s); retrying in %.1f s", self._what, error, self._interval
                )
            except Exception:
                # A bug here must not let every entry of the process expire.
                logger.exception("%s: heartbeat failed", self._what)
