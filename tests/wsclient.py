"""A raw protocol client over a real socket, for what a GraphQL client library hides (close codes)."""

from __future__ import annotations

import json
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
RECEIVE_TIMEOUT = 10


class RawSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str, subprotocol: str) -> RawSocket:
        connection = await websockets.connect(url, subprotocols=[subprotocol])  # type: ignore[list-item]
        return cls(connection)

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        import asyncio

        raw = await asyncio.wait_for(self.connection.recv(), RECEIVE_TIMEOUT)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def close_code(self) -> int | None:
        """Read until the server closes; the close code it sent."""
        import asyncio

        try:
            while True:
                await asyncio.wait_for(self.connection.recv(), RECEIVE_TIMEOUT)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        await self.connection.close()

    async def init(self, payload: dict[str, Any] | None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            message["payload"] = payload
        await self.send(message)
        return await self.receive()

    async def run(
        self, operation_id: str, query: str, variables: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Start an operation and collect its messages up to `complete` or `error`."""
        legacy = self.connection.subprotocol == LEGACY_WS
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": operation_id, "type": "start" if legacy else "subscribe", "payload": payload})
        messages = []
        while True:
            message = await self.receive()
            if message.get("type") == "ka":
                continue
            messages.append(message)
            if message.get("type") in ("complete", "error"):
                return messages
