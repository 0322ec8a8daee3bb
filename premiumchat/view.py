"""The GraphQL endpoint: Strawberry's ASGI view with the contract's details on top."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.async_base_view import AsyncWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage as TransportInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import ConnectionInitMessage
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.unset import UnsetType

from premiumchat.auth.tokens import bearer_token
from premiumchat.config import Settings
from premiumchat.context import Context
from premiumchat.errors import Unauthenticated
from premiumchat.realtime.account_watch import AccountWatches
from premiumchat.resources import Resources
from premiumchat.schema.errors import INTERNAL_MESSAGE, is_unavailable, one_line
from premiumchat.schema.frames import OPERATION_FRAMES, FrameWriter
from premiumchat.services import accounts

logger = logging.getLogger("premiumchat.view")

WS_FORBIDDEN = 4403
PAYLOAD_TOKEN_KEYS = ("authorization", "Authorization", "token")
WS_TOO_MANY_CONNECTIONS = 4429
WS_TOO_MANY_MESSAGES = 4429  # the same "slow down" code, with its own reason
# PostgreSQL or Redis out of reach at `connection_init`: RFC 6455's "Try Again Later".
WS_TRY_AGAIN_LATER = 1013
WS_BAD_MESSAGE = 4400  # what graphql-transport-ws sends for a message that is no protocol message
ACCOUNT_WATCHER = "premiumchat.account_watcher"
CONNECTION_SLOT = "premiumchat.connection_slot"
WATCH_START_TIMEOUT_SECONDS = 5


def socket_token(params: dict[str, Any] | None, websocket: WebSocket) -> str | None:
    """The JWT a socket presents: connection_init payload first, then `?token=`."""
    for key in PAYLOAD_TOKEN_KEYS:
        if params and params.get(key):
            return bearer_token(params[key], allow_bare=True)
    return bearer_token(websocket.query_params.get("token"), allow_bare=True)


async def _take_connection_slot(resources: Resources, user_id: int, scope: Scope) -> None:
    """Count the socket against MAX_CONNECTIONS_PER_USER, across processes."""
    connection_id = uuid.uuid4().hex
    try:
        admitted = await resources.connections.open(
            user_id, connection_id, resources.settings.max_connections_per_user
        )
    except ConnectionError:
        # Without Redis the limit cannot be counted; letting the socket in beats refusing everyone.
        logger.warning("socket of user %s admitted uncounted: the connection counter is unavailable", user_id)
        return
    if not admitted:
        raise TooManyConnections()
    scope[CONNECTION_SLOT] = (resources, user_id, connection_id)


async def _release_socket(scope: Scope) -> None:
    watched: tuple[AccountWatches, int, WebSocket] | None = scope.get(ACCOUNT_WATCHER)
    if watched is not None:
        watches, user_id, websocket = watched
        await watches.remove(user_id, websocket)
    slot: tuple[Resources, int, str] | None = scope.get(CONNECTION_SLOT)
    if slot is not None:
        resources, user_id, connection_id = slot
        try:
            await resources.connections.close(user_id, connection_id)
        except ConnectionError:
            logger.warning("socket slot of user %s not released: it expires by itself", user_id)


def _deactivation_closer(websocket: WebSocket) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        with suppress(RuntimeError):  # already closed
            await websocket.close(code=WS_FORBIDDEN, reason="Account deactivated")

    return close


class TooManyConnections(Exception):
    """The user already has MAX_CONNECTIONS_PER_USER sockets open."""


def is_protocol_message(message: object) -> bool:
    """A JSON object with a string `type`: Strawberry reads message["type"] blindly, and
    `[]`, `"text"` or `null` would fail the socket with 1011 and a traceback."""
    return isinstance(message, dict) and isinstance(message.get("type"), str)


class SocketMessageRate:
    """A sliding window over one socket's incoming messages (WS_RATE_LIMIT_* settings).

    In process on purpose: a socket lives on one process, so there is nothing to share.
    The arrival times of the last `limit` messages, in a list that grows with them and then
    serves as a ring: a socket that sent a few messages keeps a few times, not a deque
    block sized for `limit` (about 700 B per idle socket).
    """

    __slots__ = ("flooded", "limit", "times", "window_seconds", "_oldest")

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.times: list[float] = []
        self._oldest = 0  # once full: the index of the oldest time, the next to replace
        self.flooded = False

    def allow(self) -> bool:
        now = time.monotonic()
        times = self.times
        if len(times) < self.limit:
            times.append(now)
            return True
        if now - times[self._oldest] < self.window_seconds:
            self.flooded = True
            return False
        times[self._oldest] = now
        self._oldest = (self._oldest + 1) % self.limit
        return True

    @classmethod
    def for_settings(cls, settings: Settings) -> SocketMessageRate:
        return cls(settings.ws_rate_limit_messages, settings.ws_rate_limit_window_seconds)


async def admit_message(rate: SocketMessageRate, websocket: AsyncWebSocketAdapter, message: Any) -> bool:
    """The checks both subprotocols run first: the per-socket rate, then the message's shape."""
    if rate.flooded:
        return False  # closed already; what was still in flight is dropped
    if not rate.allow():
        await websocket.close(code=WS_TOO_MANY_MESSAGES, reason="Too many messages")
        return False
    if not is_protocol_message(message):
        await websocket.close(code=WS_BAD_MESSAGE, reason="Invalid message")
        return False
    return True


class SocketUnavailable(Exception):
    """`connection_init` could not be checked: PostgreSQL or Redis is out of reach."""


def _starlette_socket(websocket: AsyncWebSocketAdapter) -> WebSocket | None:
    socket = getattr(websocket, "ws", None)
    return socket if isinstance(socket, WebSocket) else None


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with the contract's 4429 for a socket over the per-user limit."""

    _rate: SocketMessageRate | None = None

    async def handle_message(self, message: Any) -> None:
        if self._rate is None:
            self._rate = SocketMessageRate.for_settings(self.context.settings)
        if await admit_message(self._rate, self.websocket, message):
            await super().handle_message(message)

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        # In the operation's own task: a lobbyEvents stream writes its `next` frames itself.
        socket = _starlette_socket(self.websocket)
        if socket is not None and self.context.settings.socket_frames:
            OPERATION_FRAMES.set(FrameWriter.transport_ws(socket, operation.id, operation))
        await super().run_operation(operation)

    async def handle_connection_init(self, message: TransportInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except TooManyConnections:
            await self.websocket.close(code=WS_TOO_MANY_CONNECTIONS, reason="Too many connections")
        except SocketUnavailable:
            await self.websocket.close(code=WS_TRY_AGAIN_LATER, reason="Temporarily unavailable, retry")


class LegacyGraphQLWSHandler(BaseGraphQLWSHandler[Context, None]):
    """subscriptions-transport-ws, brought in line with the contract.

    Strawberry closes a refused `connection_init` with 1011, runs only
    subscriptions and reports a refused subscription as a protocol `error`; the
    contract wants 4403, queries and mutations too, and `data` with the errors
    followed by `complete` for a refusal.
    """

    _rate: SocketMessageRate | None = None

    async def handle_message(self, message: Any) -> None:
        if self._rate is None:
            self._rate = SocketMessageRate.for_settings(self.context.settings)
        if await admit_message(self._rate, self.websocket, message):
            await super().handle_message(message)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload")
        if payload is not None and not isinstance(payload, dict):
            await self.send_message({"type": "connection_error"})
            await self.websocket.close(code=WS_FORBIDDEN, reason="Forbidden")
            return
        self.context.connection_params = payload
        try:
            ack_payload = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as error:
            await self.send_message({"type": "connection_error", "payload": error.payload})
            await self.websocket.close(code=WS_FORBIDDEN, reason="Forbidden")
            return
        except TooManyConnections:
            await self.send_message(
                {"type": "connection_error", "payload": {"message": "Too many connections"}}
            )
            await self.websocket.close(code=WS_TOO_MANY_CONNECTIONS, reason="Too many connections")
            return
        except SocketUnavailable:
            await self.websocket.close(code=WS_TRY_AGAIN_LATER, reason="Temporarily unavailable, retry")
            return
        if isinstance(ack_payload, UnsetType) or ack_payload is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": ack_payload})
        self.connection_acknowledged = True

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        # In the operation's own task: a lobbyEvents stream writes its `data` frames itself.
        socket = _starlette_socket(self.websocket)
        if socket is not None and self.context.settings.socket_frames:
            OPERATION_FRAMES.set(FrameWriter.legacy_ws(socket, operation_id))
        try:
            result_source = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = result_source
            is_first_result = True
            async for result in result_source:
                if is_first_result and isinstance(result, PreExecutionError):
                    assert result.errors
                    if result.errors[0].path is None:
                        # An invalid document: the protocol's own error message.
                        await self.send_message(
                            {"type": "error", "id": operation_id, "payload": result.errors[0].formatted}
                        )
                        return
                    # A refused subscription (FORBIDDEN, NOT_FOUND...): `data` with the errors,
                    # then `complete`, as subscriptions-transport-ws clients expect.
                    await self.send_data_message(result, operation_id)
                    await self.send_message({"type": "complete", "id": operation_id})
                    return
                if not isinstance(result, ExecutionResult):
                    # @defer/@stream frames have no representation in this protocol.
                    await self.send_message(
                        {
                            "type": "error",
                            "id": operation_id,
                            "payload": {"message": "Incremental delivery is not supported over graphql-ws."},
                        }
                    )
                    return
                await self.send_data_message(result, operation_id)
                is_first_result = False
            await self.send_message({"type": "complete", "id": operation_id})
        except asyncio.CancelledError:
            await self.send_message({"type": "complete", "id": operation_id})
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)


class GraphQLView(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyGraphQLWSHandler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            sockets = scope["state"]["resources"].metrics.websocket_connections  # observability
            sockets.inc()
            try:
                await super().__call__(scope, receive, send)
            finally:
                sockets.dec()
                await _release_socket(scope)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:
            # The client hung up before its body arrived: nobody to answer, nothing went wrong here.
            return
        except Exception:
            # Nothing reaches a client as a 5xx or a traceback.
            logger.exception("unexpected error outside GraphQL execution")
            response = JSONResponse(
                {"data": None, "errors": [{"message": INTERNAL_MESSAGE, "extensions": {"code": "INTERNAL"}}]}
            )
            await response(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        resources: Resources = request.state.resources
        return Context(resources=resources, request=request, response=response)

    def encode_json(self, data: object) -> str:
        # orjson: several times faster than json.dumps on every response and socket frame.
        # Text, not bytes: bytes would go out as binary WebSocket frames.
        return orjson.dumps(data).decode()

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict):
            raise HTTPException(
                400, "The request body must be a JSON object with `query` (batching is not supported)."
            )
        return parsed

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        assert isinstance(context.request, WebSocket)
        token = socket_token(context.connection_params, context.request)
        # Read once, here: the payload (the token in it) would otherwise stay in memory for the
        # socket's whole life (about 600 B per socket), and nothing reads it again.
        context.connection_params = None
        if token is None:
            raise ConnectionRejectionError({"message": "An access token is required."})
        try:
            user = await accounts.authenticate(context.sessions, context.settings, token)
            assert user.id is not None
            await _take_connection_slot(context.resources, user.id, context.request.scope)
        except Unauthenticated as error:
            raise ConnectionRejectionError({"message": error.message}) from None
        except Exception as error:
            if not is_unavailable(error):
                raise
            # One line, no traceback: the client is told to come back (1013), and will.
            logger.warning("unavailable (database or Redis) at connection_init: %s", one_line(error))
            raise SocketUnavailable from None
        context.socket_user_id = user.id
        # Deactivation closes the socket at once, whichever process it happens on.
        watches = AccountWatches.of(context.resources.bus)
        context.request.scope[ACCOUNT_WATCHER] = (watches, user.id, context.request)
        await watches.add(
            user.id, context.request, _deactivation_closer(context.request), WATCH_START_TIMEOUT_SECONDS
        )
        return await super().on_ws_connect(context)
