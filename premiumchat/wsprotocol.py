"""uvicorn's WebSocket protocol for `premiumchat serve`, lighter per open socket.

An idle socket is mostly what its connection holds for as long as it stays open, so, on top
of the 1001 at shutdown (premiumchat/shutdown.py):

- the handshake's request and response are let go once the socket is accepted: uvicorn keeps
  both for the socket's life (and websockets' parser keeps the request), though the scope
  already holds everything the app reads of them (about 4.5 KiB per socket);
- the app's inbox and the flow-control flag are a plain list and flag: asyncio's Queue (four
  deques and an Event) and Event (a deque) cost about 3.3 KiB per socket, and uvicorn uses
  only put_nowait/get/empty and wait/set/clear of them.

Frames, their order, the flow control and every close code are uvicorn's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.http11 import Request

from premiumchat.shutdown import GoingAwayWebSocketProtocol

# Consumed items are dropped from the inbox's list in one step once this many have piled up.
_COMPACT_AFTER = 32


class _Inbox:
    """The part of asyncio.Queue (unbounded) that uvicorn's protocol uses, with its semantics."""

    __slots__ = ("_getters", "_head", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._head = 0  # the next item to get
        self._getters: list[asyncio.Future[None]] = []

    def empty(self) -> bool:
        return self._head == len(self._items)

    def qsize(self) -> int:
        return len(self._items) - self._head

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_next()

    def get_nowait(self) -> Any:
        if self.empty():
            raise asyncio.QueueEmpty
        items, head = self._items, self._head
        item = items[head]
        head += 1
        if head == len(items):
            items.clear()
            head = 0
        elif head >= _COMPACT_AFTER and head * 2 >= len(items):
            del items[:head]
            head = 0
        else:
            items[head - 1] = None
        self._head = head
        return item

    async def get(self) -> Any:
        # asyncio.Queue.get, getter for getter.
        while self.empty():
            getter = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                if getter in self._getters:
                    self._getters.remove(getter)
                if not self.empty() and not getter.cancelled():
                    self._wake_next()
                raise
        return self.get_nowait()

    def _wake_next(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return


class _Flag:
    """The part of asyncio.Event that uvicorn's protocol uses (wait, set, clear), with its semantics."""

    __slots__ = ("_value", "_waiters")

    def __init__(self) -> None:
        self._value = False
        self._waiters: list[asyncio.Future[bool]] | None = None

    def is_set(self) -> bool:
        return self._value

    def set(self) -> None:
        if not self._value:
            self._value = True
            for waiter in self._waiters or ():
                if not waiter.done():
                    waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    async def wait(self) -> bool:
        if self._value:
            return True
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
            return True
        finally:
            self._waiters.remove(waiter)


class ServerWebSocketProtocol(GoingAwayWebSocketProtocol):
    """uvicorn's websockets-sansio protocol, closing with 1001 at shutdown, lighter per socket."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = _Inbox()  # type: ignore[assignment]
        self.writable = _Flag()  # type: ignore[assignment]
        self.writable.set()

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The scope has its own copy of the path, query and headers: nothing reads these again.
        # websockets' parser still refers to the request, so its headers are emptied in place.
        del self.request
        event.headers.clear()

    def start_keepalive(self) -> None:
        # Called once, when the accepted handshake's response has been written.
        super().start_keepalive()
        del self.response
