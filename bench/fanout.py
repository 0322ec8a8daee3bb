"""The fan-out load: subscribers on lobbyEvents, one sender per lobby, every delivery accounted for.

Each message carries its send time (the load generator's `perf_counter_ns`) in
its content, so a delivery's latency is read off the frame itself. A message
the server accepted (it answered with an id) is expected once on every
subscriber socket of its lobby: anything short of that is lost, anything more
is duplicated.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.clients import HttpConnection, TransportSocket
from bench.infra import Server, cpu_percent, self_cpu
from bench.seed import BenchLobby, BenchUser

SUBSCRIPTION = """
subscription LobbyEvents($lobbyId: ID!) {
  lobbyEvents(lobbyId: $lobbyId) {
    __typename
    ... on ChatMessageEvent { message { id content clientMessageId createdAt sender { id username } } }
  }
}
"""
SEND_MESSAGE = """
mutation SendMessage($lobbyId: ID!, $content: String!, $clientMessageId: String) {
  sendMessage(lobbyId: $lobbyId, content: $content, clientMessageId: $clientMessageId) { id createdAt }
}
"""
OPEN_CONCURRENCY = 50
WARM_ROUNDS = 20
# The load generator counts as the bottleneck when it used this share of its core.
LOADGEN_BOUND_PERCENT = 85.0
TEXT = " gl hf, see you in the next round"


@dataclass(eq=False)
class Subscriber:
    lobby: BenchLobby
    user: BenchUser
    socket: TransportSocket
    warm: bool = False
    seen: set[int] = field(default_factory=set)


@dataclass
class Tally:
    latencies_ns: list[int] = field(default_factory=list)
    duplicated: int = 0
    other_events: int = 0
    stream_errors: Counter[str] = field(default_factory=Counter)
    last_delivery_ns: int = 0
    delivered: int = 0


def _on_next(subscriber: Subscriber, tally: Tally) -> Any:
    def handle(payload: dict[str, Any], received_ns: int) -> None:
        event = (payload.get("data") or {}).get("lobbyEvents")
        if payload.get("errors"):
            for error in payload["errors"]:
                tally.stream_errors[(error.get("extensions") or {}).get("code", "?")] += 1
        if not event or event.get("__typename") != "ChatMessageEvent":
            tally.other_events += 1
            return
        message = event["message"]
        content: str = message["content"]
        if content.startswith("w"):
            subscriber.warm = True
            return
        message_id = int(message["id"])
        if message_id in subscriber.seen:
            tally.duplicated += 1
            return
        subscriber.seen.add(message_id)
        tally.delivered += 1
        tally.latencies_ns.append(received_ns - int(content[2 : content.index(" ")]))
        tally.last_delivery_ns = received_ns

    return handle


async def open_subscribers(
    server: Server, pairs: list[tuple[BenchLobby, BenchUser]], tally: Tally
) -> list[Subscriber]:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(lobby: BenchLobby, user: BenchUser) -> Subscriber:
        async with gate:
            socket = TransportSocket(server.ws_url, user.token)
            await socket.open()
            subscriber = Subscriber(lobby, user, socket)
            await socket.subscribe(SUBSCRIPTION, {"lobbyId": str(lobby.id)}, _on_next(subscriber, tally))
            return subscriber

    return list(await asyncio.gather(*(one(lobby, user) for lobby, user in pairs)))


def _variables(lobby: BenchLobby, tag: str, sent_ns: int) -> dict[str, Any]:
    return {"lobbyId": str(lobby.id), "content": f"{tag}:{sent_ns}{TEXT}"}


async def warm_up(
    server: Server, subscribers: list[Subscriber], *, rounds: int = WARM_ROUNDS, round_seconds: float = 0.5
) -> None:
    """Until every subscriber has received a message of its lobby: then every subscription is live.

    A message per cold lobby a round, then up to `round_seconds` for them to arrive (long
    enough, and the default rate limit never refuses a round).
    """
    host, port = _host_port(server)
    by_lobby: dict[int, list[Subscriber]] = {}
    for subscriber in subscribers:
        by_lobby.setdefault(subscriber.lobby.id, []).append(subscriber)
    connections = [HttpConnection(host, port) for _ in range(min(20, len(by_lobby)))]
    try:
        for _ in range(rounds):
            queue = [group for group in by_lobby.values() if not all(s.warm for s in group)]
            if not queue:
                return

            async def worker(connection: HttpConnection, queue: list[list[Subscriber]] = queue) -> None:
                while queue:
                    lobby = queue.pop()[0].lobby
                    body = {"query": SEND_MESSAGE, "variables": _variables(lobby, "w", 0)}
                    answer = await connection.post_json("/graphql", body, lobby.members[0].token)
                    if answer.get("errors"):
                        raise RuntimeError(f"warm-up send failed: {answer['errors']}")

            await asyncio.gather(*(worker(connection) for connection in connections))
            sent = time.monotonic()
            while time.monotonic() - sent < round_seconds:
                if all(s.warm for s in subscribers):
                    break
                await asyncio.sleep(0.1)
        if cold := sum(1 for s in subscribers if not s.warm):
            raise RuntimeError(f"{cold} subscriptions never went live")
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))


def _host_port(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.http_url)
    assert parts.hostname is not None
    assert parts.port is not None
    return parts.hostname, parts.port


@dataclass
class SendLog:
    ids: dict[int, list[int]] = field(default_factory=dict)  # lobby id -> accepted message ids
    errors: Counter[str] = field(default_factory=Counter)
    late: int = 0

    def answer(self, lobby: BenchLobby, result: dict[str, Any]) -> None:
        if result.get("errors"):
            for error in result["errors"]:
                self.errors[(error.get("extensions") or {}).get("code", error.get("message", "?"))] += 1
            return
        self.ids.setdefault(lobby.id, []).append(int(result["data"]["sendMessage"]["id"]))


Send = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _http_send(connection: HttpConnection, token: str) -> Send:
    async def send(variables: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = await connection.post_json(
            "/graphql", {"query": SEND_MESSAGE, "variables": variables}, token
        )
        return answer

    return send


def _socket_send(socket: TransportSocket) -> Send:
    async def send(variables: dict[str, Any]) -> dict[str, Any]:
        return await socket.execute(SEND_MESSAGE, variables)

    return send


def sender_send(
    transport: str, server: Server, token: str, socket: TransportSocket, connections: list[HttpConnection]
) -> Send:
    """How one sender sends: its own HTTP keep-alive connection (kept in `connections`) or its socket."""
    if transport == "http":
        connection = HttpConnection(*_host_port(server))
        connections.append(connection)
        return _http_send(connection, token)
    return _socket_send(socket)


async def drain(tally: Tally, expected: int, *, quiet: float, deadline: float = float("inf")) -> None:
    """Wait until `expected` deliveries arrived, nothing arrived for `quiet` s, or `deadline` (monotonic)."""
    last_count, last_change = -1, time.monotonic()
    while tally.delivered < expected and time.monotonic() < deadline:
        if tally.delivered != last_count:
            last_count, last_change = tally.delivered, time.monotonic()
        elif time.monotonic() - last_change > quiet:
            return
        await asyncio.sleep(0.05)


async def _sender(
    lobby: BenchLobby,
    send: Send,
    log: SendLog,
    *,
    stop_at: float,
    rate: float | None,
    rng: random.Random,
) -> None:
    """Closed loop (rate None: the next message as soon as the last is answered) or paced at `rate`/s.

    Paced sends stamp their scheduled time, so a send delayed by a slow answer counts its wait.
    """
    if rate is None:
        while time.perf_counter() < stop_at:
            log.answer(lobby, await send(_variables(lobby, "m", time.perf_counter_ns())))
        return
    interval = 1.0 / rate
    scheduled = time.perf_counter() + rng.uniform(0, interval)
    while scheduled < stop_at:
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            log.late += 1
        log.answer(lobby, await send(_variables(lobby, "m", int(scheduled * 1e9))))
        scheduled += interval


def _profile(server: Server, duration: float) -> subprocess.Popen[bytes] | None:
    """With BENCH_PY_SPY=<file>: py-spy samples the server for the sending phase (collapsed stacks)."""
    output = os.environ.get("BENCH_PY_SPY")
    if not output:
        return None
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    argv = [py_spy, "record", "--nonblocking", "--format", "raw", "--rate", "250"]
    argv += ["--duration", str(max(1, int(duration))), "--pid", str(server.pid), "-o", output]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _percentile(sorted_values: list[int], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return round(sorted_values[index] / 1e6, 2)


async def run(
    servers: list[Server],
    lobbies: list[BenchLobby],
    *,
    transport: str,
    duration: float,
    rate: float | None,
    senders_per_lobby: int = 1,
    drain_quiet: float = 3.0,
    drain_max: float = 60.0,
    seed: int = 1,
) -> dict[str, Any]:
    """One measured run. Sockets go round-robin over `servers` (one per process under test)."""
    tally = Tally()
    pairs = [(lobby, user) for lobby in lobbies for user in lobby.members]
    subscribers: list[Subscriber] = []
    for index, server in enumerate(servers):
        subscribers += await open_subscribers(server, pairs[index :: len(servers)], tally)
    connections: list[HttpConnection] = []
    try:
        await warm_up(servers[0], subscribers)
        tally.other_events = 0
        log = SendLog()
        rng = random.Random(seed)
        tasks = []
        senders_socket = {
            (s.lobby.id, s.user.id): s.socket for s in subscribers if s.user.id == s.lobby.members[0].id
        }
        profiler = _profile(servers[0], duration)
        start_ns = time.perf_counter_ns()
        stop_at = time.perf_counter() + duration
        server_cpu = [server.cpu() for server in servers]
        own_cpu = self_cpu()
        for index, lobby in enumerate(lobbies):
            sender = lobby.members[0]
            server = servers[index % len(servers)]
            for _ in range(senders_per_lobby):
                socket = senders_socket[(lobby.id, sender.id)]
                send = sender_send(transport, server, sender.token, socket, connections)
                tasks.append(
                    asyncio.create_task(
                        _sender(lobby, send, log, stop_at=stop_at, rate=rate, rng=random.Random(rng.random()))
                    )
                )
        await asyncio.gather(*tasks)
        sends_done_ns = time.perf_counter_ns()
        members = {lobby.id: len(lobby.members) for lobby in lobbies}
        expected = sum(len(ids) * members[lobby_id] for lobby_id, ids in log.ids.items())
        # Drain: until everything expected arrived, or nothing more arrives for a while.
        await drain(tally, expected, quiet=drain_quiet, deadline=time.monotonic() + drain_max)
        server_cpu_after = [server.cpu() for server in servers]
        own_cpu_after = self_cpu()
        if profiler is not None:
            await asyncio.to_thread(profiler.wait)
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
        await asyncio.gather(*(subscriber.socket.close() for subscriber in subscribers))

    accepted = {lobby_id: set(ids) for lobby_id, ids in log.ids.items()}
    delivered = sum(len(s.seen & accepted.get(s.lobby.id, set())) for s in subscribers)
    unexpected = sum(len(s.seen - accepted.get(s.lobby.id, set())) for s in subscribers)
    end_ns = max(tally.last_delivery_ns, sends_done_ns)
    window = (end_ns - start_ns) / 1e9
    latencies = sorted(tally.latencies_ns)
    loadgen_cpu = cpu_percent(own_cpu, own_cpu_after)
    server_pct = [cpu_percent(a, b) for a, b in zip(server_cpu, server_cpu_after, strict=True)]
    sent = sum(len(ids) for ids in log.ids.values())
    return {
        "transport": transport,
        "mode": "saturation" if rate is None else f"{rate:g} msg/s per lobby",
        "lobbies": len(lobbies),
        "subscribers_per_lobby": len(lobbies[0].members) if lobbies else 0,
        "processes": len(servers),
        "duration_s": round(window, 2),
        "sent": sent,
        "send_errors": dict(log.errors),
        "late_sends": log.late,
        "expected_deliveries": expected,
        "delivered": delivered,
        "lost": expected - delivered,
        "duplicated": tally.duplicated,
        "unexpected": unexpected,
        "stream_errors": dict(tally.stream_errors),
        "sends_per_s": round(sent / window, 1) if window else None,
        "deliveries_per_s": round(delivered / window, 1) if window else None,
        "p50_ms": _percentile(latencies, 0.50),
        "p95_ms": _percentile(latencies, 0.95),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": round(latencies[-1] / 1e6, 2) if latencies else None,
        "server_cpu_pct": [round(pct, 1) for pct in server_pct],
        # Deliveries per second of server CPU: comparable across runs when other load steals the core.
        "deliveries_per_server_cpu_s": round(delivered / window / (sum(server_pct) / 100), 1)
        if window and sum(server_pct)
        else None,
        "loadgen_cpu_pct": round(loadgen_cpu, 1),
        "loadgen_bound": loadgen_cpu >= LOADGEN_BOUND_PERCENT,
    }


async def idle_rss(
    server: Server, lobbies: list[BenchLobby], sockets: int, *, baseline: int = 100
) -> dict[str, Any]:
    """Marginal server RSS per idle subscribed socket: (RSS at `sockets` - RSS at `baseline`) / difference."""
    tally = Tally()
    pairs = [(lobby, user) for lobby in lobbies for user in lobby.members]
    wanted = [pairs[index % len(pairs)] for index in range(sockets)]
    subscribers: list[Subscriber] = []
    try:
        subscribers += await open_subscribers(server, wanted[:baseline], tally)
        await warm_up(server, subscribers)
        await asyncio.sleep(2)
        rss_before = server.rss_bytes()
        subscribers += await open_subscribers(server, wanted[baseline:], tally)
        await warm_up(server, subscribers)
        await asyncio.sleep(3)
        rss_after = server.rss_bytes()
    finally:
        await asyncio.gather(*(subscriber.socket.close() for subscriber in subscribers))
    added = sockets - baseline
    return {
        "idle_sockets": sockets,
        "rss_before_mib": round(rss_before / 2**20, 1),
        "rss_after_mib": round(rss_after / 2**20, 1),
        "rss_per_idle_socket_kib": round((rss_after - rss_before) / added / 1024, 1),
    }
