"""The socket protocol of `premiumchat serve`: uvicorn's, lighter per socket, with the same frames."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn
from websockets.asyncio.client import connect

from premiumchat.wsprotocol import ServerWebSocketProtocol
from tests.wsclient import TRANSPORT_WS

MESSAGES = 300


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Accepts with the client's subprotocol and answers every text message with itself."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    headers = dict(scope["headers"])
    await send({"type": "websocket.accept", "subprotocol": scope["subprotocols"][0]})
    await send({"type": "websocket.send", "text": headers[b"x-probe"].decode()})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", "text": message["text"]})


async def test_an_accepted_socket_keeps_no_handshake_and_delivers_in_order() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(_echo, ws=ServerWebSocketProtocol, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.01)
        url = f"ws://127.0.0.1:{port}/graphql"
        probe = {"X-Probe": "seen"}
        async with connect(url, subprotocols=[TRANSPORT_WS], additional_headers=probe) as ws:  # type: ignore[list-item]
            assert ws.subprotocol == TRANSPORT_WS
            assert ws.response is not None
            assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
            assert await ws.recv() == "seen"  # the app read the handshake's headers from its scope
            [protocol] = server.server_state.connections
            assert isinstance(protocol, ServerWebSocketProtocol)
            # ... and the protocol kept neither the request nor the response once accepted.
            assert not hasattr(protocol, "request")
            assert not hasattr(protocol, "response")
            # Many frames in few reads: all of them reach the app, in order.
            for number in range(MESSAGES):
                await ws.send(f"m{number}")
            assert [await ws.recv() for _ in range(MESSAGES)] == [f"m{n}" for n in range(MESSAGES)]
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10)
