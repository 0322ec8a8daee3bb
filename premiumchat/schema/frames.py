"""Subscription events written to their socket as frames, not handed to Strawberry as results.

Strawberry delivers each event of a subscription as a result: graphql-core's
stream mapping executes it, Strawberry's stream loop runs the extensions'
hooks on it, its socket handler builds the message and the view encodes it,
once per subscriber. For a lobby event all of that gives the same bytes for
every subscriber whose execution is the same (see schema/sharing.py), except
the operation id. So a `FramedStream` executes the event itself through the
subscription's own executor (the shared execution), takes the `payload` that
sharing encoded once, and writes the frame Strawberry would have written:

    graphql-transport-ws:  {"id":<id>,"type":"next","payload":<payload>}
    graphql-ws (legacy):   {"type":"data","id":<id>,"payload":<payload>}

Everything else still goes through Strawberry, from the same stream: a result
with errors is yielded to it already executed (`sharing.Executed`), and so are
the refusal before the first event, the error that ends a stream, and
`complete`. Without a socket handler that offers frames (the operation runs
elsewhere, or over another transport) the stream yields its events as before.
tests/test_fast_path_equality.py compares the frames with Strawberry's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextvars import ContextVar
from typing import Any, Protocol

import orjson
from graphql import ExecutionResult
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from premiumchat.schema.sharing import Executed, SharedEventExecutor, event_payload


class _Operation(Protocol):
    completed: bool


class SocketGone(Exception):
    """The socket closed under a frame: the stream ends, the handler cleans up."""


class FrameWriter:
    """Writes one operation's `next` (or legacy `data`) frames to its socket."""

    __slots__ = ("_operation", "_prefix", "_websocket")

    def __init__(self, websocket: WebSocket, prefix: bytes, operation: _Operation | None) -> None:
        self._websocket = websocket
        self._prefix = prefix
        self._operation = operation

    @classmethod
    def transport_ws(cls, websocket: WebSocket, operation_id: str, operation: _Operation) -> FrameWriter:
        prefix = b'{"id":' + orjson.dumps(operation_id) + b',"type":"next","payload":'
        return cls(websocket, prefix, operation)

    @classmethod
    def legacy_ws(cls, websocket: WebSocket, operation_id: str) -> FrameWriter:
        return cls(websocket, b'{"type":"data","id":' + orjson.dumps(operation_id) + b',"payload":', None)

    async def send(self, payload: bytes) -> None:
        # As Strawberry's Operation: nothing more once the operation completed.
        if self._operation is not None and self._operation.completed:
            return
        if self._websocket.application_state is WebSocketState.DISCONNECTED:
            raise SocketGone()  # closed by the server meanwhile (Starlette would raise RuntimeError)
        try:
            await self._websocket.send_text((self._prefix + payload + b"}").decode())
        except WebSocketDisconnect as error:
            raise SocketGone() from error


# Set by the socket handlers (view.py) in each operation's task, read by the resolver.
OPERATION_FRAMES: ContextVar[FrameWriter | None] = ContextVar("premiumchat_operation_frames", default=None)


class FramedStream:
    """The source stream a resolver returns: its events function delivers through `deliver`."""

    __slots__ = ("_events", "_executor", "_frames")

    def __init__(self, events: Callable[[FramedStream], AsyncIterator[Any]]) -> None:
        self._frames = OPERATION_FRAMES.get()
        self._executor: SharedEventExecutor | None = None
        self._events = events(self)

    def attach_executor(self, executor: SharedEventExecutor) -> None:
        """graphql-core's executor of this subscription (see SharedEventExecutor.cancellable_iterable)."""
        if self._frames is not None:
            self._executor = executor

    def __aiter__(self) -> FramedStream:
        return self

    def __anext__(self) -> Any:
        return self._events.__anext__()

    async def aclose(self) -> None:
        aclose = getattr(self._events, "aclose", None)
        if aclose is not None:
            await aclose()

    async def deliver(self, event: Any) -> Any:
        """None once the event went out as a frame; otherwise what to yield to graphql-core.

        Raises SocketGone when the socket closed under the frame.
        """
        executor = self._executor
        if executor is None or self._frames is None:
            return event
        outcome = await event_payload(executor, event)
        if isinstance(outcome, ExecutionResult):
            return Executed(outcome)
        await self._frames.send(outcome)
        return None
