"""python -m bench fanout | idle | lobbies | soak: one JSON line per measured run on stdout.

Every run gets its own PostgreSQL database (created, migrated, dropped) and its
own redis-server on a free port; the server under test is pinned to core 0
(`taskset -c 0`) and this process, the load generator, to core 1. Progress
goes to stderr. See bench/README.md for the figures and how they were taken.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import fanout, lobbylist, seed, soak
from bench.infra import (
    DEFAULT_POSTGRES_URL,
    LOADGEN_CORE,
    SECRET_KEY,
    Server,
    ceiling_server,
    load_average,
    pin_self_to,
    premiumchat_server,
    private_redis,
    throwaway_postgres,
)
from premiumchat.auth.tokens import TokenType, issue
from premiumchat.config import Settings

# The message rate limit, raised by setting (never by code) so that the load is not refused.
BENCH_RATE_LIMIT = "1000000"


def say(text: str) -> None:
    sys.stderr.write(f"[bench] {text}\n")
    sys.stderr.flush()


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(orjson.dumps(record).decode() + "\n")
    sys.stdout.flush()


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _context() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": _commit(),
        "server_source": os.environ.get("BENCH_SERVER_SOURCE") or "this checkout",
        "cpus": os.cpu_count(),
        "load_avg_before": load_average(),
    }


@asynccontextmanager
async def database(
    kind: str, base_url: str, work_dir: Path, *, synchronous_commit: bool
) -> AsyncIterator[str]:
    if kind == "sqlite":
        from premiumchat.db.migrate import upgrade_url

        url = f"sqlite+aiosqlite:///{work_dir / 'bench.sqlite'}"
        await upgrade_url(url)
        yield url
        return
    async with throwaway_postgres(base_url, synchronous_commit=synchronous_commit) as url:
        yield url


def _direct_tokens(users: list[seed.BenchUser]) -> None:
    """Tokens signed with the shared key, for the ceiling (which has no login)."""
    settings = Settings(_env_file=None, secret_key=SECRET_KEY, debug=False)
    for user in users:
        user.token = issue(settings, user.id, TokenType.ACCESS).token


async def fanout_once(
    target: str,
    *,
    database_kind: str = "postgres",
    base_url: str = DEFAULT_POSTGRES_URL,
    lobbies: int,
    subscribers: int,
    transport: str,
    duration: float,
    rate: float | None,
    synchronous_commit: bool = True,
    processes: int = 1,
    use_redis: bool = True,
    server_settings: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One fan-out run against `premiumchat` or `ceiling` on a fresh database; its result record."""
    record = {"bench": "fanout", "server": target, **_context()}
    with tempfile.TemporaryDirectory(prefix="premiumchat-bench-") as tmp:
        work_dir = Path(tmp)
        async with database(database_kind, base_url, work_dir, synchronous_commit=synchronous_commit) as url:
            world = await seed.fanout_world(url, lobbies, subscribers)
            users = [user for lobby in world for user in lobby.members]
            with private_redis(work_dir) if use_redis else _no_redis() as redis_url:
                servers: list[Server] = []
                try:
                    for index in range(processes):
                        if target == "ceiling":
                            assert redis_url is not None
                            server = ceiling_server(url, redis_url, work_dir)
                        else:
                            server = premiumchat_server(
                                url,
                                redis_url,
                                work_dir,
                                core=index,
                                rate_limit_messages=BENCH_RATE_LIMIT,
                                # A saturating sender over its socket would pass the per-socket flood limit.
                                ws_rate_limit_messages=BENCH_RATE_LIMIT,
                                **(server_settings or {}),
                            )
                        server.log_path = work_dir / f"{target}-{index}.log"
                        servers.append(await server.start())
                    if target == "ceiling":
                        _direct_tokens(users)
                    else:
                        await seed.log_in(servers[0].http_url, users)
                    say(f"{target}: {len(users)} users, {lobbies} lobbies; {transport}, {duration:g} s")
                    result = await fanout.run(
                        servers, world, transport=transport, duration=duration, rate=rate
                    )
                    result["server_rss_mib"] = [round(s.rss_bytes() / 2**20, 1) for s in servers]
                finally:
                    for server in servers:
                        server.stop()
                    for server in servers:
                        if server.process is not None and server.process.returncode not in (0, -15):
                            say(f"{server.name} log:\n{server.log_path.read_text()[-3000:]}")
    record.update(result)
    record["database"] = database_kind
    record["synchronous_commit"] = "on" if synchronous_commit else "off"
    record["load_avg_after"] = load_average()
    return record


class _no_redis:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


async def cmd_fanout(args: argparse.Namespace) -> int:
    rate = None if args.mode == "saturation" else args.rate
    failures = 0
    for transport in args.transport.split(","):
        ceiling: dict[str, Any] | None = None
        targets = ["premiumchat"] if args.no_ceiling else ["ceiling", "premiumchat"]
        for target in targets:
            record = await fanout_once(
                target,
                base_url=args.postgres_url,
                lobbies=args.lobbies,
                subscribers=args.subscribers,
                transport=transport,
                duration=args.duration,
                rate=rate,
                synchronous_commit=args.synchronous_commit == "on",
                processes=args.processes if target == "premiumchat" else 1,
            )
            if target == "ceiling":
                ceiling = record
            elif ceiling is not None and ceiling["deliveries_per_s"]:
                record["ceiling_deliveries_per_s"] = ceiling["deliveries_per_s"]
                record["ratio"] = round(record["deliveries_per_s"] / ceiling["deliveries_per_s"], 3)
            failures += record["lost"] != 0 or record["duplicated"] != 0
            emit(record)
    return 1 if failures else 0


async def cmd_idle(args: argparse.Namespace) -> int:
    record = {"bench": "idle", "server": "premiumchat", **_context()}
    per_user = -(-args.sockets // (args.lobbies * args.subscribers))
    with tempfile.TemporaryDirectory(prefix="premiumchat-bench-") as tmp:
        work_dir = Path(tmp)
        async with throwaway_postgres(args.postgres_url) as url:
            world = await seed.fanout_world(url, args.lobbies, args.subscribers)
            with private_redis(work_dir) as redis_url:
                server = premiumchat_server(
                    url,
                    redis_url,
                    work_dir,
                    rate_limit_messages=BENCH_RATE_LIMIT,
                    max_connections_per_user=str(max(20, per_user + 1)),
                )
                await server.start()
                try:
                    await seed.log_in(server.http_url, [u for lobby in world for u in lobby.members])
                    say(f"idle: opening {args.sockets} subscribed sockets")
                    record.update(await fanout.idle_rss(server, world, args.sockets))
                finally:
                    server.stop()
    record["load_avg_after"] = load_average()
    emit(record)
    return 0


async def cmd_lobbies(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="premiumchat-bench-") as tmp:
        work_dir = Path(tmp)
        async with throwaway_postgres(args.postgres_url) as url:
            say(f"lobbies: seeding {args.count} lobbies")
            viewer = await seed.lobby_list_world(url, args.count)
            with private_redis(work_dir) as redis_url:
                server = premiumchat_server(url, redis_url, work_dir)
                await server.start()
                try:
                    await seed.log_in(server.http_url, [viewer])
                    # The plain list, with totalCount, and filtered by two tags (about 500 match).
                    variants: list[tuple[bool, list[str] | None]] = [
                        (False, None),
                        (True, None),
                        (False, ["ranked", "eu"]),
                    ]
                    for total, tags in variants:
                        record = {
                            "bench": "lobbies",
                            "server": "premiumchat",
                            **_context(),
                            "lobbies": args.count,
                        }
                        record.update(
                            await lobbylist.run(
                                server, viewer, requests=args.requests, total_count=total, tags=tags
                            )
                        )
                        record["load_avg_after"] = load_average()
                        emit(record)
                finally:
                    server.stop()
    return 0


async def cmd_soak(args: argparse.Namespace) -> int:
    say(f"soak: {args.sockets} sockets over {args.lobbies} lobbies, {args.duration:g} s")
    record = {"bench": "soak", "server": "premiumchat", **_context()}
    record.update(
        await soak.soak_once(
            base_url=args.postgres_url,
            sockets=args.sockets,
            lobbies=args.lobbies,
            duration=args.duration,
            senders_per_lobby=args.senders_per_lobby,
            transport=args.transport,
            rss_warmup=args.rss_warmup,
            rss_tolerance=args.rss_tolerance,
        )
    )
    emit(record)
    healthy = record["lost"] == 0 and record["duplicated"] == 0 and record["rss_flat"]
    return 0 if healthy else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n", 1)[0])
    root.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL))
    root.add_argument("--no-pin", action="store_true", help="do not pin the load generator to core 1")
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "fanout", help="subscribers, senders, deliveries/s and latency (with the ceiling)"
    )
    run.add_argument("--lobbies", type=int, default=100)
    run.add_argument("--subscribers", type=int, default=8, help="per lobby")
    run.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    run.add_argument("--mode", choices=["saturation", "rate"], default="saturation")
    run.add_argument("--rate", type=float, default=2.0, help="messages/s per lobby in --mode rate")
    run.add_argument("--transport", default="http,ws", help="http, ws or both (comma-separated)")
    run.add_argument("--synchronous-commit", choices=["on", "off"], default="on")
    run.add_argument("--processes", type=int, default=1, help="premiumchat processes on one Redis+PostgreSQL")
    run.add_argument("--no-ceiling", action="store_true", help="skip the ceiling server")
    run.set_defaults(func=cmd_fanout)

    idle = commands.add_parser("idle", help="server RSS per idle subscribed socket")
    idle.add_argument("--sockets", type=int, default=5000)
    idle.add_argument("--lobbies", type=int, default=100)
    idle.add_argument("--subscribers", type=int, default=8)
    idle.set_defaults(func=cmd_idle)

    lobbies = commands.add_parser("lobbies", help="lobbies(first: 50) latency over many lobbies")
    lobbies.add_argument("--count", type=int, default=10_000)
    lobbies.add_argument("--requests", type=int, default=500)
    lobbies.set_defaults(func=cmd_lobbies)

    run = commands.add_parser(
        "soak", help="sockets and senders at the rate limit for minutes: loss, RSS, cleanup"
    )
    run.add_argument("--sockets", type=int, default=2000)
    run.add_argument("--lobbies", type=int, default=200)
    run.add_argument("--duration", type=float, default=600.0, help="seconds of sending")
    run.add_argument("--senders-per-lobby", type=int, default=1)
    run.add_argument("--transport", choices=["ws", "http"], default="ws")
    run.add_argument(
        "--rss-warmup", type=float, default=None, help="seconds before the RSS fit (default: half a long run)"
    )
    run.add_argument("--rss-tolerance", type=float, default=soak.RSS_TOLERANCE_MIB_PER_MIN, help="MiB/min")
    run.set_defaults(func=cmd_soak)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.no_pin and not pin_self_to(LOADGEN_CORE):
        say("one core only: the load generator shares it with the server")
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    code: int = runner(args.func(args))
    return code


if __name__ == "__main__":
    sys.exit(main())
