"""Lean clients for the load generator: HTTP/1.1 keep-alive POSTs and graphql-transport-ws sockets.

httpx costs more CPU per request than the server under test spends on some of
them, so sends go through a few lines of asyncio streams instead: one
connection per sender, one request at a time, `Content-Length` bodies only
(which is what uvicorn answers with).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

SUBPROTOCOL = Subprotocol("graphql-transport-ws")


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post_json(self, path: str, body: dict[str, Any], token: str | None = None) -> Any:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        payload = orjson.dumps(body)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        )
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        self._writer.write(head.encode() + b"\r\n" + payload)
        headers = await self._reader.readuntil(b"\r\n\r\n")
        length = None
        for line in headers.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise RuntimeError(f"response without Content-Length: {headers[:200]!r}")
        content = await self._reader.readexactly(length)
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError:
            # A server failure (a plain-text 500): counted as a send error, not a crash.
            status = headers.split(b"\r\n", 1)[0].decode(errors="replace")
            return {"errors": [{"message": f"{status}: {content[:200]!r}"}]}

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
            self._writer = None


class TransportSocket:
    """One graphql-transport-ws socket: subscriptions call back per frame, operations are awaited."""

    _ids = itertools.count(1)

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.ws: ClientConnection | None = None
        self._handlers: dict[str, Callable[[dict[str, Any], int], None]] = {}
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.closed_with: int | None = None

    async def open(self) -> None:
        # No compression and no client pings: the server's work is what is measured.
        self.ws = await connect(
            self.url,
            subprotocols=[SUBPROTOCOL],
            compression=None,
            ping_interval=None,
            max_size=None,
        )
        await self.ws.send(
            orjson.dumps(
                {"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}
            ).decode()
        )
        ack = orjson.loads(await self.ws.recv())
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        self._reader = asyncio.create_task(self._read())

    async def subscribe(
        self, query: str, variables: dict[str, Any], on_next: Callable[[dict[str, Any], int], None]
    ) -> str:
        assert self.ws is not None
        operation_id = f"s{next(self._ids)}"
        self._handlers[operation_id] = on_next
        await self.ws.send(
            orjson.dumps(
                {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
            ).decode()
        )
        return operation_id

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """A query or mutation over the socket: its one `next` payload."""
        assert self.ws is not None
        operation_id = f"m{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[operation_id] = future
        await self.ws.send(
            orjson.dumps(
                {"id": operation_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
            ).decode()
        )
        return await future

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                received = time.perf_counter_ns()
                frame = orjson.loads(raw)
                kind = frame.get("type")
                operation_id = frame.get("id")
                if kind == "next":
                    handler = self._handlers.get(operation_id)
                    if handler is not None:
                        handler(frame["payload"], received)
                        continue
                    future = self._pending.pop(operation_id, None)
                    if future is not None and not future.done():
                        future.set_result(frame["payload"])
                elif kind == "error":
                    future = self._pending.pop(operation_id, None)
                    if future is not None and not future.done():
                        future.set_result({"errors": frame.get("payload")})
                    self._handlers.pop(operation_id, None)
                elif kind == "ping":
                    await self.ws.send('{"type":"pong"}')
        except Exception:  # a closed socket ends reading; the caller counts what arrived
            pass
        finally:
            self.closed_with = self.ws.close_code
            for future in self._pending.values():
                if not future.done():
                    future.set_result({"errors": [{"message": f"socket closed ({self.closed_with})"}]})

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
