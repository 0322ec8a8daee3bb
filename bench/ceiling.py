"""The ceiling: a raw Starlette WebSocket server doing what sendMessage must, with no GraphQL.

Same wire as the real server, so one load generator drives both: `POST /graphql`
and graphql-transport-ws on `/graphql`. A message is one INSERT through asyncpg
and one PUBLISH through redis; one Redis subscriber connection fans each event
out to the local sockets of its lobby. There is no validation, no membership
check, no rate limit and no per-subscriber execution: it is how fast Python,
Starlette, uvicorn, asyncpg and redis can go on this machine, the yardstick the
real server's figures are divided by.

    python -m bench.ceiling --port 8100   # DATABASE_URL, REDIS_URL, SECRET_KEY from the environment
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import jwt
import orjson
import uvicorn
from redis.asyncio import Redis
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

INSERT = (
    "INSERT INTO messages (lobby_id, sender_id, content, created_at, deleted, client_message_id) "
    "VALUES ($1, $2, $3, $4, false, $5) RETURNING id"
)


class Ceiling:
    def __init__(self, database_url: str, redis_url: str, secret_key: str) -> None:
        self.dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self.redis_url = redis_url
        self.secret_key = secret_key
        self.pool: asyncpg.Pool | None = None
        self.redis: Redis | None = None
        self.usernames: dict[int, str] = {}
        # lobby id -> {(socket, operation id)}
        self.subscribers: dict[str, set[tuple[WebSocket, str]]] = {}
        self.reader: asyncio.Task[None] | None = None
        self.pubsub: Any = None

    async def start(self) -> None:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=5, max_size=20)
        self.redis = Redis.from_url(self.redis_url)
        self.pubsub = self.redis.pubsub()
        await self.pubsub.psubscribe("lobby:*")
        self.reader = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        if self.pubsub is not None:
            await self.pubsub.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        if self.pool is not None:
            await self.pool.close()

    async def _read(self) -> None:
        async for reply in self.pubsub.listen():
            if reply["type"] != "pmessage":
                continue
            lobby_id = reply["channel"][len(b"lobby:") :].decode()
            data: bytes = reply["data"]
            for websocket, operation_id in list(self.subscribers.get(lobby_id, ())):
                frame = b'{"id":"%s","type":"next","payload":{"data":{"lobbyEvents":%s}}}' % (
                    operation_id.encode(),
                    data,
                )
                with contextlib.suppress(Exception):
                    await websocket.send_text(frame.decode())

    def user_id(self, token: str | None) -> int:
        if not token:
            raise PermissionError("no token")
        token = token.removeprefix("Bearer ").strip()
        claims = jwt.decode(token, self.secret_key, algorithms=["HS256"])
        return int(claims["sub"])

    async def send_message(self, user_id: int, variables: dict[str, Any]) -> dict[str, Any]:
        assert self.pool is not None
        assert self.redis is not None
        lobby_id = str(variables["lobbyId"])
        content = variables["content"]
        now = datetime.now(UTC)
        async with self.pool.acquire() as connection:
            if user_id not in self.usernames:
                self.usernames[user_id] = await connection.fetchval(
                    "SELECT username FROM users WHERE id = $1", user_id
                )
            message_id = await connection.fetchval(
                INSERT, int(lobby_id), user_id, content, now, variables.get("clientMessageId")
            )
        message = {
            "id": str(message_id),
            "content": content,
            "createdAt": now.isoformat(),
            "sender": {"id": str(user_id), "username": self.usernames[user_id]},
        }
        event = {"__typename": "ChatMessageEvent", "message": {**message, "clientMessageId": None}}
        await self.redis.publish(f"lobby:{lobby_id}", orjson.dumps(event))
        return {"sendMessage": {**message, "clientMessageId": variables.get("clientMessageId")}}


def create_app(ceiling: Ceiling) -> Starlette:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await ceiling.start()
        try:
            yield
        finally:
            await ceiling.stop()

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def http(request: Request) -> Response:
        body = orjson.loads(await request.body())
        try:
            user_id = ceiling.user_id(request.headers.get("authorization"))
        except (PermissionError, jwt.PyJWTError):
            return JSONResponse({"data": None, "errors": [{"message": "unauthenticated"}]})
        try:
            data = await ceiling.send_message(user_id, body.get("variables") or {})
        except Exception as error:  # reported to the load generator, which counts it
            message = f"{type(error).__name__}: {error}"
            return Response(orjson.dumps({"data": None, "errors": [{"message": message}]}))
        return Response(orjson.dumps({"data": data}), media_type="application/json")

    async def ws(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol="graphql-transport-ws")
        user_id: int | None = None
        subscribed: list[tuple[str, tuple[WebSocket, str]]] = []
        try:
            while True:
                message = orjson.loads(await websocket.receive_text())
                kind = message.get("type")
                if kind == "connection_init":
                    payload = message.get("payload") or {}
                    try:
                        user_id = ceiling.user_id(payload.get("authorization"))
                    except (PermissionError, jwt.PyJWTError):
                        await websocket.close(4403)
                        return
                    await websocket.send_text('{"type":"connection_ack"}')
                elif kind == "ping":
                    await websocket.send_text('{"type":"pong"}')
                elif kind == "subscribe" and user_id is not None:
                    operation_id = message["id"]
                    payload = message["payload"]
                    variables = payload.get("variables") or {}
                    if "lobbyEvents" in payload["query"]:
                        key = (websocket, operation_id)
                        lobby_id = str(variables["lobbyId"])
                        ceiling.subscribers.setdefault(lobby_id, set()).add(key)
                        subscribed.append((lobby_id, key))
                    else:
                        data = await ceiling.send_message(user_id, variables)
                        frame = {"id": operation_id, "type": "next", "payload": {"data": data}}
                        await websocket.send_text(orjson.dumps(frame).decode())
                        await websocket.send_text(
                            orjson.dumps({"id": operation_id, "type": "complete"}).decode()
                        )
        except WebSocketDisconnect:
            pass
        finally:
            for lobby_id, key in subscribed:
                ceiling.subscribers.get(lobby_id, set()).discard(key)

    return Starlette(
        routes=[
            Route("/graphql", http, methods=["POST"]),
            WebSocketRoute("/graphql", ws),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    ceiling = Ceiling(os.environ["DATABASE_URL"], os.environ["REDIS_URL"], os.environ["SECRET_KEY"])
    uvicorn.run(create_app(ceiling), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
