"""Faults injected into real `premiumchat serve` processes: PostgreSQL restarted under load, a process
killed with SIGKILL, a client that vanishes without a close frame, Redis restarted under load.

Each test owns what it breaks: a private PostgreSQL cluster (tests/postgres_cluster.py), a private
redis-server (tests/redis_server.py), its own server processes. The figures of a run are printed
(`pytest -s`) for docs/RELIABILITY.md.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.cluster import Cluster, http_chat, live, live_both_ways, lobby_with, make_cluster
from tests.databases import PostgresDatabases
from tests.graphql import LOGIN, PASSWORD, GraphQLClient
from tests.lobbies import Account, make_users
from tests.postgres_cluster import PostgresCluster, start_private_postgres
from tests.realtime import LOBBY_EVENTS, MESSAGES, SEND_MESSAGE, Chat, LiveClient, unique_names
from tests.servers import ServerProcess
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, RawSocket

UNAVAILABLE = "temporarily unavailable"
RECOVERY_SECONDS = 30
# Longer runs on demand: PREMIUMCHAT_FAULTS_ROUNDS=5 restarts PostgreSQL five times.
ROUNDS = int(os.environ.get("PREMIUMCHAT_FAULTS_ROUNDS", "1"))


def report(line: str) -> None:
    sys.stdout.write(f"\n[faults] {line}\n")


# --- Load: senders that record what was acknowledged and how every failure looked -----------------


@dataclass
class Load:
    """Senders looping sendMessage over HTTP; every answer is an id or a clean error, never a hang."""

    chat: Chat
    lobby_id: str
    senders: list[Account]
    acknowledged: list[str] = field(default_factory=list)
    clean_failures: list[str] = field(default_factory=list)  # the error messages
    unclean: list[str] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._send(sender)) for sender in self.senders]

    async def stop(self) -> None:
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), 30)

    async def _send(self, sender: Account) -> None:
        number = 0
        while not self._stop.is_set():
            number += 1
            variables = {"lobbyId": self.lobby_id, "content": f"{sender.username} {number}"}
            try:
                response = await self.chat.gql.http.post(
                    "/graphql",
                    json={"query": SEND_MESSAGE, "variables": variables},
                    headers={"Authorization": f"Bearer {sender.token}"},
                    timeout=15,
                )
            except httpx.HTTPError as error:  # no answer at all: a hang or a dropped connection
                self.unclean.append(f"{type(error).__name__}: {error}")
                await asyncio.sleep(0.05)
                continue
            outcome = classify(response)
            if outcome.startswith("id:"):
                self.acknowledged.append(outcome[3:])
            elif outcome.startswith("clean:"):
                self.clean_failures.append(outcome[6:])
            else:
                self.unclean.append(outcome)
            await asyncio.sleep(0.01)


def classify(response: httpx.Response) -> str:
    """`id:<id>`, `clean:<message>` (INTERNAL, says to retry, nothing leaked) or what was wrong."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:200]}"
    body = response.json()
    if not body.get("errors"):
        return f"id:{body['data']['sendMessage']['id']}"
    return clean_error(body["errors"]) or f"unclean: {body}"


def clean_error(errors: list[dict[str, Any]]) -> str | None:
    """`clean:<message>` when the errors are one INTERNAL that says the service is unavailable."""
    if len(errors) != 1:
        return None
    [error] = errors
    message = error.get("message", "")
    leaks = ("Traceback", "asyncpg", "sqlalchemy", "127.0.0.1", "Error:")
    if (
        (error.get("extensions") or {}).get("code") == "INTERNAL"
        and UNAVAILABLE in message
        and "retry" in message
        and not any(leak in message for leak in leaks)
        and set(error.get("extensions") or {}) == {"code"}
    ):
        return f"clean:{message}"
    return None


def socket_errors(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for message in messages:
        payload = message.get("payload")
        if message["type"] == "error":
            errors.extend(payload if isinstance(payload, list) else [payload])
        elif message["type"] == "next":
            errors.extend(payload.get("errors") or [])
    return errors


async def stored_ids(cluster_url_or_dsn: str, lobby_id: str) -> set[str]:
    connection = await asyncpg.connect(cluster_url_or_dsn.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await connection.fetch("SELECT id FROM messages WHERE lobby_id = $1", int(lobby_id))
    finally:
        await connection.close()
    return {str(row["id"]) for row in rows}


def running(server: ServerProcess) -> bool:
    return server.process is not None and server.process.poll() is None


def tracebacks(server: ServerProcess) -> int:
    return server.log_path.read_text(errors="replace").count("Traceback")


# --- 1. PostgreSQL restarted under load ---------------------------------------------------------


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster of this module's own, on a spare port: the tests stop and start it."""
    cluster = start_private_postgres()
    yield cluster
    cluster.remove()


@pytest.fixture(scope="module")
def on_private_postgres(
    private_postgres: PostgresCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server (in-memory bus, no Redis) on a migrated database of the private cluster."""
    url = asyncio.run(PostgresDatabases(private_postgres.url).create())
    server = ServerProcess(url, tmp_path_factory.mktemp("faults-pg"), rate_limit_messages="100000")
    yield server.start()
    server.stop()


@asynccontextmanager
async def chat_on(server: ServerProcess) -> AsyncIterator[Chat]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        yield Chat(GraphQLClient(client))


@pytest.mark.postgres
async def test_a_postgres_restart_under_load_fails_cleanly_then_recovers_without_losing_anything(
    private_postgres: PostgresCluster, on_private_postgres: ServerProcess
) -> None:
    server, database = on_private_postgres, private_postgres
    database_url = server.env["DATABASE_URL"]
    async with chat_on(server) as chat:
        names = unique_names("owner", "s1", "s2", "s3", "watcher")
        users = await make_users(chat.gql, database_url, names, premium=[names[0]])
        owner, *senders, watcher = (users[name] for name in names)
        lobby_id = (await chat.create_lobby(owner, "Restarted"))["id"]
        for user in (*senders, watcher):
            await chat.join(user, lobby_id)

        async with LiveClient(server.ws_url, watcher) as live:
            stream = await live.joined(lobby_id)
            socket = await RawSocket.open(server.ws_url, TRANSPORT_WS)
            assert (await socket.init({"authorization": f"Bearer {watcher.token}"}))[
                "type"
            ] == "connection_ack"
            load = Load(chat, lobby_id, senders)
            load.start()
            init_codes: list[int | None] = []
            probes: list[str] = []  # each failure of a query or socket action while PostgreSQL is down
            try:
                for round_number in range(ROUNDS):
                    await asyncio.sleep(1)
                    acknowledged_before = len(load.acknowledged)
                    await asyncio.to_thread(database.kill)
                    await asyncio.sleep(0.5)
                    # While it is down: a query, a mutation and a subscription over a socket.
                    body = await chat.gql.execute(MESSAGES, {"lobbyId": lobby_id, "last": 5}, watcher.token)
                    probes.append(clean_error(body.get("errors") or []) or f"query: {body}")
                    messages = await socket.run(
                        f"send-{round_number}", SEND_MESSAGE, {"lobbyId": lobby_id, "content": "down"}
                    )
                    probes.append(clean_error(socket_errors(messages)) or f"socket mutation: {messages}")
                    messages = await socket.run(f"sub-{round_number}", LOBBY_EVENTS, {"lobbyId": lobby_id})
                    probes.append(clean_error(socket_errors(messages)) or f"socket subscription: {messages}")
                    for protocol in (TRANSPORT_WS, LEGACY_WS):
                        fresh = await RawSocket.open(server.ws_url, protocol)
                        await fresh.send(
                            {
                                "type": "connection_init",
                                "payload": {"authorization": f"Bearer {watcher.token}"},
                            }
                        )
                        init_codes.append(await fresh.close_code())
                    await asyncio.sleep(1)
                    assert running(server), "the server died"
                    await asyncio.to_thread(database.start)
                    # Recovery, without restarting the server: sends succeed again.
                    deadline = time.monotonic() + RECOVERY_SECONDS
                    while len(load.acknowledged) < acknowledged_before + 20:
                        assert time.monotonic() < deadline, (
                            f"no recovery {RECOVERY_SECONDS} s after PostgreSQL came back",
                            load.unclean[-3:],
                            load.clean_failures[-3:],
                        )
                        await asyncio.sleep(0.1)
            finally:
                await load.stop()

            # After recovery nothing is poisoned: every request succeeds, over HTTP and the socket.
            failures_before = len(load.clean_failures)
            for _ in range(20):
                await chat.history(watcher, lobby_id, last=5)
            after = await chat.send(watcher, lobby_id, "after the restart")
            messages = await socket.run(
                "after", SEND_MESSAGE, {"lobbyId": lobby_id, "content": "over the socket"}
            )
            assert socket_errors(messages) == [], messages
            fresh = await RawSocket.open(server.ws_url, TRANSPORT_WS)
            assert (await fresh.init({"authorization": f"Bearer {watcher.token}"}))[
                "type"
            ] == "connection_ack"
            await fresh.close()
            # The subscription opened before the outage still delivers.
            await stream.until_message(after["id"], wait=10)
            await socket.close()

        # A socket opened while it is down is told to come back later (1013), not dropped.
        assert init_codes == [1013] * 2 * ROUNDS, init_codes
        unclean_probes = [probe for probe in probes if not probe.startswith("clean:")]
        assert unclean_probes == [], unclean_probes
        assert load.unclean == [], load.unclean[:5]
        assert load.clean_failures, "PostgreSQL was down and no send failed: the fault was not injected"
        assert len(load.clean_failures) == failures_before
        stored = await stored_ids(database_url, lobby_id)
        lost = sorted(set(load.acknowledged) - stored, key=int)
        assert lost == [], f"{len(lost)} acknowledged messages are not in the database: {lost[:10]}"
        assert running(server)
        assert tracebacks(server) == 0, server.log_path.read_text()[-3000:]
        log_lines = server.log_path.read_text().count("unavailable (database or Redis)")
        # One line per failed operation (the senders', the probes' and the new sockets'), no flood.
        assert 0 < log_lines <= len(load.clean_failures) + len(probes) + len(init_codes), log_lines
        report(
            f"postgres restart x{ROUNDS}: {len(load.acknowledged)} sends acknowledged, all stored "
            f"({len(stored)} rows), {len(load.clean_failures)} sends + {len(probes)} probes failed cleanly, "
            f"{len(init_codes)} new sockets closed with 1013, "
            f"0 unclean, {log_lines} log lines, 0 tracebacks"
        )


# --- 4. A client that vanishes without a close frame ---------------------------------------------

PING_INTERVAL_SECONDS, PING_TIMEOUT_SECONDS = 1.0, 1.0
DETECTION_MARGIN_SECONDS = 3.0


class SilentSocket:
    """A WebSocket client by hand over plain TCP: it subscribes, then neither reads nor answers
    pings, and never sends a close frame (a laptop closed, a network gone)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> SilentSocket:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Sec-WebSocket-Protocol: {TRANSPORT_WS}\r\n\r\n"
            ).encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert head.startswith(b"HTTP/1.1 101"), head
        return cls(reader, writer)

    def send_text(self, text: str) -> None:
        payload, mask = text.encode(), os.urandom(4)
        length = len(payload)
        header = bytes([0x81])
        if length < 126:
            header += bytes([0x80 | length])
        else:
            header += bytes([0x80 | 126]) + length.to_bytes(2, "big")
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.writer.write(header + mask + masked)

    async def read_until(self, marker: bytes) -> None:
        buffer = b""
        while marker not in buffer:
            buffer += await asyncio.wait_for(self.reader.read(65536), 10)
            assert buffer, "closed early"

    async def server_closed(self, wait: float) -> bool:
        """Whether the server ended the TCP connection within `wait` (reading only to see the end)."""
        try:
            async with asyncio.timeout(wait):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    def abort(self) -> None:
        self.writer.transport.abort()


def gauge(text: str, name: str) -> float:
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert match, name
    return float(match.group(1))


@pytest.fixture(scope="module")
def keepalive_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    from tests.databases import SqliteDatabases

    directory = tmp_path_factory.mktemp("faults-keepalive")
    url = asyncio.run(SqliteDatabases(directory).create())
    server = ServerProcess(
        url,
        directory,
        ws_ping_interval_seconds=str(PING_INTERVAL_SECONDS),
        ws_ping_timeout_seconds=str(PING_TIMEOUT_SECONDS),
    )
    yield server.start()
    server.stop()


async def test_a_client_gone_without_a_close_frame_is_dropped_by_the_keepalive(
    keepalive_server: ServerProcess,
) -> None:
    server = keepalive_server
    async with chat_on(server) as chat:
        owner_name, ghost_name = unique_names("owner", "ghost")
        users = await make_users(
            chat.gql, server.env["DATABASE_URL"], [owner_name, ghost_name], premium=[owner_name]
        )
        owner, ghost = users[owner_name], users[ghost_name]
        lobby_id = (await chat.create_lobby(owner, "Keepalive"))["id"]
        await chat.join(ghost, lobby_id)

        async with LiveClient(server.ws_url, owner) as live:
            stream = await live.joined(lobby_id)
            silent = await SilentSocket.open(server.port)
            silent.send_text(
                f'{{"type":"connection_init","payload":{{"authorization":"Bearer {ghost.token}"}}}}'
            )
            await silent.read_until(b"connection_ack")
            query = LOBBY_EVENTS.replace("\n", " ").replace('"', '\\"')
            silent.send_text(
                f'{{"id":"1","type":"subscribe","payload":{{"query":"{query}","variables":{{"lobbyId":"{lobby_id}"}}}}}}'
            )
            await stream.until_presence(ghost.username)
            assert await chat.online(owner, lobby_id) == {owner.username, ghost.username}
            sockets_before = gauge(
                (await chat.gql.http.get("/metrics")).text, "premiumchat_websocket_connections"
            )
            assert sockets_before == 2

            # From now on the ghost reads nothing (its receive buffer fills, no pong goes back).
            gone_at = time.monotonic()
            bound = PING_INTERVAL_SECONDS + PING_TIMEOUT_SECONDS + DETECTION_MARGIN_SECONDS
            left = await stream.until_presence(ghost.username, joined=False)
            detected = time.monotonic() - gone_at
            assert left["user"]["id"] == ghost.id
            assert detected < bound, f"presence left after {detected:.1f} s, over {bound} s"
            assert await chat.online(owner, lobby_id) == {owner.username}
            assert gauge((await chat.gql.http.get("/metrics")).text, "premiumchat_websocket_connections") == 1
            # The server hung up on its side too (the TCP connection ends without the client's help).
            assert await silent.server_closed(wait=bound), "the server kept the dead socket open"
            silent.abort()
        report(
            f"keepalive (ping {PING_INTERVAL_SECONDS:g} s, timeout {PING_TIMEOUT_SECONDS:g} s): "
            f"silent client dropped, presence left after {detected:.2f} s (bound {bound:g} s)"
        )


# --- 3. A server process killed with SIGKILL ---------------------------------------------------------

PRESENCE_TTL_SECONDS = 3.0


@pytest.fixture
def killable(postgres_databases: PostgresDatabases, tmp_path: Path) -> Iterator[Cluster]:
    """Two processes on one database and a private Redis; B is the one to kill."""
    cluster = make_cluster(
        postgres_databases,
        tmp_path,
        rate_limit_messages="100000",
        presence_ttl_seconds=str(PRESENCE_TTL_SECONDS),
    )
    yield cluster
    cluster.stop()


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_process_killed_with_sigkill_loses_no_acknowledged_message_and_its_users_go_offline(
    killable: Cluster,
) -> None:
    cluster = killable
    async with http_chat(cluster.a) as chat_a, http_chat(cluster.b) as chat_b:
        users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob", "cat"])
        ann, bob, cat = users["ann"], users["bob"], users["cat"]
        async with live(cluster.a, cat) as on_a:
            survivor_stream = await on_a.joined(lobby_id)
            on_b = live(cluster.b, ann)
            await on_b.__aenter__()
            await on_b.joined(lobby_id)
            await survivor_stream.until_presence(ann.username)
            assert await chat_a.online(cat, lobby_id) == {ann.username, cat.username}

            load = Load(chat_b, lobby_id, [bob, ann])  # both send through the process to be killed
            load.start()
            await asyncio.sleep(1)
            assert cluster.b.process is not None
            cluster.b.process.kill()  # SIGKILL: no shutdown, no leave, no goodbye
            killed_at = time.monotonic()
            await asyncio.to_thread(cluster.b.process.wait, 10)
            await load.stop()  # what was in flight when it died failed on the client's side
            with contextlib.suppress(Exception):
                await on_b.close()

            # Its users drop out of onlineUsers on the survivor once their entries expire.
            bound = 2 * PRESENCE_TTL_SECONDS + 2
            while ann.username in await chat_a.online(cat, lobby_id):
                assert time.monotonic() - killed_at < bound, f"ann still online {bound} s after the kill"
                await asyncio.sleep(0.1)
            offline_after = time.monotonic() - killed_at
            assert await chat_a.online(cat, lobby_id) == {cat.username}
            # The survivor, audience of the lobby, reaps ann's entry once it is beyond revival
            # (a ttl after it expired) and tells its subscribers, as a last leave would.
            leave_bound = 2 * PRESENCE_TTL_SECONDS + PRESENCE_TTL_SECONDS / 3 + 2
            left = await survivor_stream.until(
                "PresenceLeaveEvent",
                lambda event: event["user"]["id"] == ann.id,
                wait=max(leave_bound - (time.monotonic() - killed_at), 0.1),
            )
            left_after = time.monotonic() - killed_at
            assert left["user"]["username"] == ann.username

            stored = await stored_ids(cluster.database_url, lobby_id)
            lost = sorted(set(load.acknowledged) - stored, key=int)
            assert load.acknowledged, "nothing was sent before the kill"
            assert lost == [], f"{len(lost)} acknowledged messages are not in the database: {lost[:10]}"
            # The survivor keeps serving. Sent after more heartbeats: a second leave would come first.
            await asyncio.sleep(PRESENCE_TTL_SECONDS / 3 * 2)
            after = await chat_a.send(bob, lobby_id, "after the kill")
            await survivor_stream.until_message(after["id"])
            leave_events = [
                event
                for event in survivor_stream.of_type("PresenceLeaveEvent")
                if event["user"]["id"] == ann.id
            ]
            assert len(leave_events) == 1, f"ann left {len(leave_events)} times"
        report(
            f"SIGKILL of one of two processes: {len(load.acknowledged)} sends acknowledged, all stored, "
            f"{len(load.unclean)} refused at the client once it died; its user offline after "
            f"{offline_after:.2f} s and PresenceLeaveEvent after {left_after:.2f} s "
            f"(presence ttl {PRESENCE_TTL_SECONDS:g} s)"
        )


# --- 2. Redis restarted under load -------------------------------------------------------------------


@pytest.fixture
def redis_restartable(postgres_databases: PostgresDatabases, tmp_path: Path) -> Iterator[Cluster]:
    cluster = make_cluster(
        postgres_databases, tmp_path, rate_limit_messages="100000", replay_max_messages="5000"
    )
    yield cluster
    cluster.stop()


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_redis_restart_under_load_loses_nothing_and_since_replays_each_message_once(
    redis_restartable: Cluster,
) -> None:
    """test_scale_out covers a restart with one send at a time; here both processes take sends
    continuously across the restart."""
    cluster = redis_restartable
    async with http_chat(cluster.a) as chat_a, http_chat(cluster.b) as chat_b:
        users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob", "cat", "dan"])
        anchor = (await chat_a.send(users["ann"], lobby_id, "anchor"))["id"]
        probe_id = (await chat_a.create_lobby(users["ann"], "Probe"))["id"]
        probe_anchor = (await chat_a.send(users["ann"], probe_id, "anchor"))["id"]
        loads = [Load(chat_a, lobby_id, [users["bob"]]), Load(chat_b, lobby_id, [users["cat"]])]
        for load in loads:
            load.start()
        try:
            await asyncio.sleep(1)
            before = sum(len(load.acknowledged) for load in loads)
            cluster.redis.kill()
            await asyncio.sleep(0.5)
            # Login counts failures in Redis (auth/throttle.py): while it is down a login, right or
            # wrong, is refused cleanly (never let through uncounted), then works again.
            logins_down = [
                clean_error(
                    (await chat_a.gql.execute(LOGIN, {"username": dan, "password": password}))["errors"]
                )
                for dan, password in (
                    (users["dan"].username, PASSWORD),
                    (users["dan"].username, "wrong-pass"),
                )
            ]
            await asyncio.sleep(1)
            await asyncio.to_thread(cluster.redis.start)
            deadline = time.monotonic() + RECOVERY_SECONDS
            while sum(len(load.acknowledged) for load in loads) < before + 20:
                assert time.monotonic() < deadline, f"no recovery {RECOVERY_SECONDS} s after Redis came back"
                await asyncio.sleep(0.1)
        finally:
            for load in loads:
                await load.stop()
        acknowledged = [i for load in loads for i in load.acknowledged]
        failed = [f for load in loads for f in load.clean_failures]
        unclean = [f for load in loads for f in load.unclean]
        assert unclean == [], unclean[:5]
        assert all(login is not None for login in logins_down), logins_down
        login = await chat_b.gql.data(LOGIN, {"username": users["dan"].username, "password": PASSWORD})
        assert login["login"]["user"]["id"] == users["dan"].id
        stored = (await stored_ids(cluster.database_url, lobby_id)) - {anchor}
        lost = sorted(set(acknowledged) - stored, key=int)
        assert lost == [], f"{len(lost)} acknowledged messages are not in the database: {lost[:10]}"

        # Once both processes are live again (their buses reconnected), a resubscription from before
        # the restart gets every stored message, each once, in order.
        deadline = time.monotonic() + RECOVERY_SECONDS
        while not await live_both_ways(cluster, (chat_a, chat_b), probe_id, probe_anchor, users["ann"]):
            assert time.monotonic() < deadline, f"not live again {RECOVERY_SECONDS} s after Redis came back"
            await asyncio.sleep(0.5)
        expected = sorted(stored, key=int)
        for server in (cluster.a, cluster.b):
            async with live(server, users["dan"]) as client:
                stream = await client.joined(lobby_id, since=anchor)
                [completed] = stream.of_type("ReplayCompletedEvent")
                assert (completed["recovered"], completed["replayedCount"]) == (True, len(expected))
                assert stream.chat_message_ids() == expected
        report(
            f"redis restart under load (2 processes): {len(acknowledged)} sends acknowledged, all stored, "
            f"{len(failed)} failed cleanly, 0 unclean; {len(logins_down)} logins refused cleanly while down, "
            f"login works after; `since` replayed {len(expected)} messages, each once"
        )
