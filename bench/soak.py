"""The soak: many subscribed sockets, senders at the message rate limit, for minutes on end.

`soak_once` seeds `lobbies` lobbies of `sockets / lobbies` members (PostgreSQL,
synchronous_commit on), starts one `premiumchat serve` with its default settings
(the message rate limit is NOT raised) on a private Redis, logs every member in,
opens one graphql-transport-ws socket per member subscribed to `lobbyEvents` of
its lobby, and then, for `duration` seconds, has `senders_per_lobby` members of
each lobby send over their own socket as fast as the rate limit allows.

A sender never provokes RATE_LIMITED: it sends its next message no earlier than
`window / limit` after the last one was due, and no earlier than `window` (plus
10 ms) after the answer to the message `limit` sends back arrived. The server
counted that one before answering and counts the new one after it is sent, so
the two are always more than a window apart. On a quick server this is
3 messages every ~2.01 s per sender; a slower answer delays the next send (the
sender is closed-loop), which `late_sends` counts.

What the record shows, and `tests/test_soak.py` asserts:

- deliveries: the messages the database holds after the run (warm-ups aside)
  are each expected once on every socket of their lobby that stayed connected
  throughout; `lost` = expected - received, `duplicated` = a message id seen
  twice on one socket; acknowledged and persisted ids are compared too;
- memory: the server's RSS from /proc every `sample_every` seconds while
  sending; `rss_slope_mib_per_min` is the least-squares slope after the first
  `rss_warmup` seconds (allocator arenas and caches fill up first; see
  `default_rss_warmup`);
- cleanup: `/metrics` gauges after every socket is closed (connections,
  subscriptions, lobbies with subscribers back to 0; asyncio tasks back to
  their level before any socket was opened).
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sys
import tempfile
import time
from collections import deque
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench import seed
from bench.clients import HttpConnection
from bench.fanout import (
    SEND_MESSAGE,
    Send,
    SendLog,
    Subscriber,
    Tally,
    _variables,
    drain,
    open_subscribers,
    sender_send,
    warm_up,
)
from bench.infra import (
    DEFAULT_POSTGRES_URL,
    Server,
    _asyncpg_dsn,
    cpu_percent,
    load_average,
    premiumchat_server,
    private_redis,
    self_cpu,
    throwaway_postgres,
)
from premiumchat.config import Settings
from premiumchat.metrics import STREAMS
from premiumchat.schema.sharing import MAX_KEPT

# A sender's next message leaves this long after a full window since an answered one.
LIMIT_MARGIN_SECONDS = 0.01
WARM_ROUNDS = 10
# Between warm-up rounds: longer than the rate window, so warm-ups are never refused either.
WARM_ROUND_SECONDS = 2.5
SETTLE_SECONDS = 30.0
# The server keeps its last 4,096 decoded events (schema/events.decode) and shared subscription
# results (schema/sharing.RESULTS) per process: its RSS grows until they are full, which a short
# run at ~100 messages/s would mistake for a leak. So before measuring, this many warm-up
# messages pass through them, while three sockets per lobby are open (less fan-out work): two
# of them send in turn, so every event has a sender's and another member's result, as later.
PREFILL_MESSAGES = MAX_KEPT + MAX_KEPT // 8
PREFILL_IN_FLIGHT = 20
# MiB per minute after the warm-up (runs of 4 minutes or more): docs/RELIABILITY.md, part 4.
RSS_TOLERANCE_MIB_PER_MIN = 2.0
GAUGES = {
    "websocket_connections": ("premiumchat_websocket_connections", {}),
    **{
        f"subscriptions_{stream}": ("premiumchat_subscriptions_active", {"stream": stream})
        for stream in STREAMS
    },
    "lobbies_with_subscribers": ("premiumchat_lobbies_with_subscribers", {}),
    "asyncio_tasks": ("premiumchat_asyncio_tasks", {}),
}

# From this length on a run is a long one: its slope is fitted over its second half.
LONG_RUN_SECONDS = 240.0


def default_rss_warmup(duration: float) -> float:
    """Seconds of sending before the RSS slope is fitted.

    A short run (CI's 60 s) skips a quarter, at most a minute. A long run fits its second
    half: at 260 messages/s a 10-minute run kept rising for its first 2.5 minutes to a
    plateau (allocator arenas growing to the concurrency of 200 sends), then stayed within
    11 MiB, so a fit from the first minute reported the settling, not a leak. A leak
    keeps growing, and shows in the second half as in the first.
    """
    return duration / 2 if duration >= LONG_RUN_SECONDS else min(60.0, duration / 4)


def _say(text: str) -> None:
    sys.stderr.write(f"[soak] {text}\n")
    sys.stderr.flush()


async def gauges(server: Server) -> dict[str, float]:
    """The cleanup gauges from one scrape of `/metrics` (a fresh connection each time)."""
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as client:
        response = await client.get("/metrics")
    response.raise_for_status()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            for key, (name, labels) in GAUGES.items():
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    found[key] = sample.value
    return found


async def settled_gauges(server: Server, idle_tasks: float) -> tuple[dict[str, float], float]:
    """Scrapes until everything is back to idle (or `SETTLE_SECONDS` pass): the gauges and the wait."""
    started = time.monotonic()
    while True:
        values = await gauges(server)
        settled = values["asyncio_tasks"] <= idle_tasks and all(
            value == 0 for key, value in values.items() if key != "asyncio_tasks"
        )
        if settled or time.monotonic() - started > SETTLE_SECONDS:
            return values, round(time.monotonic() - started, 2)
        await asyncio.sleep(0.5)


async def prefill(subscribers: list[Subscriber], count: int, *, limit: int, window: float) -> None:
    """`count` warm-up messages from the given subscribers over their own sockets, within the rate limit."""
    left = [count]
    # A few in flight, like the measured senders' pace would have: hundreds at once only queue
    # for the server's 30 database connections (a wait over 30 s is an INTERNAL error).
    gate = asyncio.Semaphore(PREFILL_IN_FLIGHT)

    async def one(subscriber: Subscriber) -> None:
        answered: deque[float] = deque(maxlen=limit)
        while left[0] > 0:
            left[0] -= 1
            if len(answered) == limit:
                await asyncio.sleep(answered[0] + window + LIMIT_MARGIN_SECONDS - time.perf_counter())
            async with gate:
                answer = await subscriber.socket.execute(SEND_MESSAGE, _variables(subscriber.lobby, "w", 0))
            if answer.get("errors"):
                raise RuntimeError(f"prefill send failed: {answer['errors']}")
            answered.append(time.perf_counter())

    await asyncio.gather(*(one(subscriber) for subscriber in subscribers))


async def limited_sender(
    lobby: seed.BenchLobby,
    send: Send,
    log: SendLog,
    *,
    stop_at: float,
    limit: int,
    window: float,
    rng: random.Random,
) -> None:
    """`limit` messages per `window` seconds, never one the server's sliding window would refuse."""
    interval = window / limit
    answered: deque[float] = deque(maxlen=limit)
    due = time.perf_counter() + rng.uniform(0, interval)
    while True:
        if len(answered) == limit:
            due = max(due, answered[0] + window + LIMIT_MARGIN_SECONDS)
        if due >= stop_at:
            return
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            log.late += 1
        log.answer(lobby, await send(_variables(lobby, "m", time.perf_counter_ns())))
        answered.append(time.perf_counter())
        due += interval


def slope_per_minute(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_v = sum(v for _, v in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return None
    return 60 * sum((t - mean_t) * (v - mean_v) for t, v in samples) / spread


async def _sample_rss(server: Server, every: float, into: list[tuple[float, float]], start: float) -> None:
    while True:
        into.append((time.perf_counter() - start, server.rss_bytes() / 2**20))
        await asyncio.sleep(every)


async def persisted_ids(database_url: str) -> dict[int, set[int]]:
    """Lobby id -> ids of the measured messages the database holds (warm-ups start with `w:`)."""
    connection = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        rows = await connection.fetch("SELECT lobby_id, id FROM messages WHERE content LIKE 'm:%'")
    finally:
        await connection.close()
    found: dict[int, set[int]] = {}
    for row in rows:
        found.setdefault(row["lobby_id"], set()).add(row["id"])
    return found


async def soak_once(
    *,
    base_url: str = DEFAULT_POSTGRES_URL,
    sockets: int = 2000,
    lobbies: int = 200,
    duration: float = 600.0,
    senders_per_lobby: int = 1,
    transport: str = "ws",
    sample_every: float | None = None,
    rss_warmup: float | None = None,
    rss_tolerance: float = RSS_TOLERANCE_MIB_PER_MIN,
    seed_value: int = 1,
) -> dict[str, Any]:
    """One soak on a fresh database and Redis; its record (see the module docstring)."""
    if sockets % lobbies:
        raise ValueError(f"{sockets} sockets do not split evenly over {lobbies} lobbies")
    per_lobby = sockets // lobbies
    if not 1 <= senders_per_lobby <= per_lobby:
        raise ValueError(f"senders per lobby must be 1..{per_lobby}")
    every = sample_every or max(1.0, min(5.0, duration / 30))
    warmup = rss_warmup if rss_warmup is not None else default_rss_warmup(duration)
    defaults = Settings(_env_file=None, secret_key="x" * 32)
    limit, window = defaults.rate_limit_messages, float(defaults.rate_limit_window_seconds)
    record: dict[str, Any] = {
        "bench": "soak",
        "load_avg_before": load_average(),
        "sockets": sockets,
        "lobbies": lobbies,
        "subscribers_per_lobby": per_lobby,
        "senders_per_lobby": senders_per_lobby,
        "transport": transport,
        "rate_limit": f"{limit} per {window:g} s per sender",
    }
    with tempfile.TemporaryDirectory(prefix="premiumchat-soak-") as tmp:
        work_dir = Path(tmp)
        async with throwaway_postgres(base_url) as url:
            world = await seed.fanout_world(url, lobbies, per_lobby)
            with private_redis(work_dir) as redis_url:
                server = premiumchat_server(url, redis_url, work_dir)
                await server.start()
                try:
                    await seed.log_in(server.http_url, [u for lobby in world for u in lobby.members])
                    record.update(
                        await _soak(
                            server,
                            url,
                            world,
                            duration=duration,
                            senders_per_lobby=senders_per_lobby,
                            transport=transport,
                            limit=limit,
                            window=window,
                            every=every,
                            warmup=warmup,
                            seed_value=seed_value,
                        )
                    )
                except BaseException:
                    kept = Path(tempfile.gettempdir()) / f"premiumchat-soak-{server.port}.log"
                    shutil.copyfile(server.log_path, kept)
                    _say(f"the run failed; the server's log is kept in {kept}")
                    raise
                finally:
                    server.stop()
                    if server.process is not None and server.process.returncode not in (0, -15):
                        _say(f"server log:\n{server.log_path.read_text()[-3000:]}")
    slope = record["rss_slope_mib_per_min"]
    record["rss_tolerance_mib_per_min"] = rss_tolerance
    record["rss_flat"] = slope is not None and abs(slope) <= rss_tolerance
    record["load_avg_after"] = load_average()
    return record


async def _soak(
    server: Server,
    database_url: str,
    world: list[seed.BenchLobby],
    *,
    duration: float,
    senders_per_lobby: int,
    transport: str,
    limit: int,
    window: float,
    every: float,
    warmup: float,
    seed_value: int,
) -> dict[str, Any]:
    idle = await gauges(server)
    tally = Tally()
    log = SendLog()
    samples: list[tuple[float, float]] = []
    connections: list[HttpConnection] = []
    subscribers: list[Subscriber] = []
    try:
        first = [(lobby, user) for lobby in world for user in lobby.members[:3]]
        subscribers += await open_subscribers(server, first, tally)
        await warm_up(server, subscribers, rounds=WARM_ROUNDS, round_seconds=WARM_ROUND_SECONDS)
        filled = time.perf_counter()
        fillers = [s for s in subscribers if s.user.id != s.lobby.members[0].id]
        await prefill(fillers, PREFILL_MESSAGES, limit=limit, window=window)
        prefill_s = time.perf_counter() - filled
        rss_prefilled = server.rss_bytes() / 2**20
        _say(f"{PREFILL_MESSAGES} prefill messages in {prefill_s:.1f} s; opening the other sockets")
        opened = time.perf_counter()
        others = [(lobby, user) for lobby in world for user in lobby.members[3:]]
        subscribers += await open_subscribers(server, others, tally)
        _say(f"{len(subscribers)} sockets open in {time.perf_counter() - opened:.1f} s; warming up")
        await warm_up(server, subscribers, rounds=WARM_ROUNDS, round_seconds=WARM_ROUND_SECONDS)
        # The warm-up senders' own hits leave the rate window before the measured sends start.
        await asyncio.sleep(window + LIMIT_MARGIN_SECONDS)
        during = await gauges(server)
        tally.other_events = 0
        by_user = {(s.lobby.id, s.user.id): s.socket for s in subscribers}
        rng = random.Random(seed_value)
        start = time.perf_counter()
        stop_at = start + duration
        sampler = asyncio.create_task(_sample_rss(server, every, samples, start))
        server_cpu, own_cpu = server.cpu(), self_cpu()
        tasks = []
        for lobby in world:
            for sender in lobby.members[:senders_per_lobby]:
                socket = by_user[(lobby.id, sender.id)]
                send = sender_send(transport, server, sender.token, socket, connections)
                tasks.append(
                    asyncio.create_task(
                        limited_sender(
                            lobby,
                            send,
                            log,
                            stop_at=stop_at,
                            limit=limit,
                            window=window,
                            rng=random.Random(rng.random()),
                        )
                    )
                )
        _say(f"{len(tasks)} senders for {duration:g} s")
        await asyncio.gather(*tasks)
        sending_s = time.perf_counter() - start
        server_cpu_after, own_cpu_after = server.cpu(), self_cpu()
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        rss_end = server.rss_bytes() / 2**20
        # Drain: until every acknowledged message arrived everywhere, or nothing arrives for 5 s.
        acked_deliveries = sum(len(ids) for ids in log.ids.values()) * len(world[0].members)
        await drain(tally, acked_deliveries, quiet=5)
        dropped = [s for s in subscribers if s.socket._reader is not None and s.socket._reader.done()]
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
        await asyncio.gather(*(subscriber.socket.close() for subscriber in subscribers))
    after, settle_s = await settled_gauges(server, idle["asyncio_tasks"])

    persisted = await persisted_ids(database_url)
    acked = {lobby_id: set(ids) for lobby_id, ids in log.ids.items()}
    through = [s for s in subscribers if s not in dropped]
    expected = sum(len(persisted.get(s.lobby.id, ())) for s in through)
    received = sum(len(s.seen & persisted.get(s.lobby.id, set())) for s in through)
    sent = sum(len(ids) for ids in persisted.values())
    lobby_ids = set(persisted) | set(acked)
    fit = [(t, v) for t, v in samples if t >= warmup]
    slope = slope_per_minute(fit)
    offered = len(world) * senders_per_lobby * limit / window
    return {
        "duration_s": round(sending_s, 1),
        "offered_sends_per_s": round(offered, 1),
        "messages_sent": sent,
        "sends_per_s": round(sent / sending_s, 1),
        "send_errors": dict(log.errors),
        "late_sends": log.late,
        "acked_not_persisted": sum(len(acked.get(i, set()) - persisted.get(i, set())) for i in lobby_ids),
        "persisted_not_acked": sum(len(persisted.get(i, set()) - acked.get(i, set())) for i in lobby_ids),
        "sockets_dropped": len(dropped),
        "deliveries_expected": expected,
        "deliveries_received": received,
        "lost": expected - received,
        "duplicated": tally.duplicated,
        "unexpected": sum(len(s.seen - persisted.get(s.lobby.id, set())) for s in subscribers),
        "stream_errors": dict(tally.stream_errors),
        "deliveries_per_s": round(received / sending_s, 1),
        "rss_sample_every_s": every,
        "rss_warmup_s": warmup,
        "rss_samples": len(samples),
        "rss_fit_samples": len(fit),
        "prefill_messages": PREFILL_MESSAGES,
        "prefill_s": round(prefill_s, 1),
        "rss_after_prefill_mib": round(rss_prefilled, 1),
        "rss_start_mib": round(samples[0][1], 1) if samples else None,
        "rss_after_warmup_mib": round(fit[0][1], 1) if fit else None,
        "rss_end_mib": round(rss_end, 1),
        "rss_max_mib": round(max(v for _, v in samples), 1) if samples else None,
        "rss_slope_mib_per_min": round(slope, 3) if slope is not None else None,
        "rss_trace_mib": [round(v, 1) for _, v in samples],
        "server_cpu_pct": round(cpu_percent(server_cpu, server_cpu_after), 1),
        "loadgen_cpu_pct": round(cpu_percent(own_cpu, own_cpu_after), 1),
        "gauges_idle": idle,
        "gauges_during": during,
        "gauges_after": after,
        "gauges_settle_s": settle_s,
    }
