"""SIGTERM: the server stops accepting, tells subscribers it is going away (1001), and exits in time."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.accounts import set_user_flags
from tests.graphql import GraphQLClient
from tests.lobbies import Account, Api
from tests.realtime import LOBBY_EVENTS
from tests.servers import ServerProcess
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, RawSocket

SHUTDOWN_TIMEOUT_SECONDS = 4
# Process exit after the timeout: the lifespan closes the pool and the bus. Generous for a busy machine.
EXIT_SLACK_SECONDS = 15


async def subscribed(server: ServerProcess, account: Account, lobby_id: str, protocol: str) -> RawSocket:
    """A socket with a live lobbyEvents subscription (its own PresenceJoinEvent has arrived)."""
    raw = await RawSocket.open(server.ws_url, protocol)
    ack = await raw.init({"authorization": f"Bearer {account.token}"})
    assert ack["type"] == "connection_ack"
    payload = {"query": LOBBY_EVENTS, "variables": {"lobbyId": lobby_id}}
    await raw.send({"id": "1", "type": "start" if protocol == LEGACY_WS else "subscribe", "payload": payload})
    while True:
        message = await raw.receive()
        if message.get("type") in ("next", "data"):
            assert message["payload"]["data"]["lobbyEvents"]["__typename"] == "PresenceJoinEvent"
            return raw


def slow_upload(port: int) -> socket.socket:
    """A request whose body never finishes arriving: it holds the shutdown until the timeout."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )
    return sock


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


async def test_sigterm_closes_sockets_with_1001_and_exits_within_the_bound(
    tmp_path: Path, fresh_database_url: str
) -> None:
    server = ServerProcess(
        fresh_database_url, tmp_path, shutdown_timeout_seconds=str(SHUTDOWN_TIMEOUT_SECONDS), log_level="INFO"
    ).start()
    assert server.process is not None
    upload = None
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            gql = GraphQLClient(http)
            payload = await gql.register("owner")
            await set_user_flags(fresh_database_url, payload["user"]["id"], is_premium=True)
            owner = Account(payload["user"]["id"], "owner", payload["accessToken"])
            lobby = await Api(gql).create_lobby(owner, "Closing time")
            joined = await gql.register("member")
            member = Account(joined["user"]["id"], "member", joined["accessToken"])
            await Api(gql).join(member, lobby["id"])
        # One socket per subprotocol (each user's first subscription announces its presence).
        sockets = [
            await subscribed(server, owner, lobby["id"], TRANSPORT_WS),
            await subscribed(server, member, lobby["id"], LEGACY_WS),
        ]
        upload = slow_upload(server.port)
        await asyncio.sleep(0.2)  # the request has reached the app

        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(raw.close_code() for raw in sockets))
        assert codes == [1001, 1001]  # uvicorn alone says 1012 (Service Restart)

        # Not accepting any more while the slow request still holds the process.
        assert await asyncio.to_thread(refuses_connections, server.port)
        assert server.process.poll() is None

        await asyncio.to_thread(server.process.wait, SHUTDOWN_TIMEOUT_SECONDS + EXIT_SLACK_SECONDS)
        elapsed = time.monotonic() - started
        assert elapsed < SHUTDOWN_TIMEOUT_SECONDS + EXIT_SLACK_SECONDS
        log = server.log_path.read_text()
        # The bound, not the slow client, ended the wait (its one request was cancelled);
        # then the lifespan shut down cleanly.
        assert "Cancel 1 running task(s), timeout graceful shutdown exceeded" in log
        assert "Application shutdown complete" in log
    finally:
        if upload is not None:
            upload.close()
        server.stop()


def start_with_workers(server: ServerProcess, workers: int) -> ServerProcess:
    """`premiumchat serve --workers N`: uvicorn's supervisor, each worker its own process."""
    with server.log_path.open("wb") as log:
        server.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "premiumchat",
                "serve",
                "--port",
                str(server.port),
                "--workers",
                str(workers),
            ],
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.process.poll() is None, server.log_path.read_text()
        try:
            if httpx.get(f"{server.http_url}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"server did not start:\n{server.log_path.read_text()}")


async def test_every_worker_closes_its_sockets_with_1001(tmp_path: Path, fresh_database_url: str) -> None:
    server = start_with_workers(ServerProcess(fresh_database_url, tmp_path), workers=2)
    assert server.process is not None
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            gql = GraphQLClient(http)
            payload = await gql.register("owner")
            await set_user_flags(fresh_database_url, payload["user"]["id"], is_premium=True)
            owner = Account(payload["user"]["id"], "owner", payload["accessToken"])
            lobby = await Api(gql).create_lobby(owner, "Two workers")
            members = []
            for name in ("ann", "bob", "cat"):
                joined = await gql.register(name)
                members.append(Account(joined["user"]["id"], name, joined["accessToken"]))
                await Api(gql).join(members[-1], lobby["id"])
        # Several sockets, spread over the workers as the kernel hands out connections: whichever
        # worker holds one, it says 1001 (uvicorn's supervisor builds plain workers otherwise).
        sockets = [await subscribed(server, user, lobby["id"], TRANSPORT_WS) for user in (owner, *members)]
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.gather(*(raw.close_code() for raw in sockets)) == [1001] * len(sockets)
        await asyncio.to_thread(server.process.wait, SHUTDOWN_TIMEOUT_SECONDS + EXIT_SLACK_SECONDS)
    finally:
        server.stop()
