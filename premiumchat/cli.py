"""premiumchat serve | migrate | seed-demo | create-admin | export-schema."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys

from pydantic import ValidationError

from premiumchat.config import Settings
from premiumchat.errors import DomainError


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        messages = "; ".join(str(e.get("ctx", {}).get("error") or e["msg"]) for e in error.errors())
        sys.exit(f"premiumchat: invalid settings: {messages}")


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def cmd_migrate(_: argparse.Namespace) -> None:
    from premiumchat.db.migrate import upgrade

    settings = _settings()
    _configure_logging(settings)
    upgrade(settings.database_url)
    print("database is at the latest migration", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from premiumchat.db.migrate import upgrade
    from premiumchat.wsprotocol import ServerWebSocketProtocol

    settings = _settings()
    _configure_logging(settings)
    upgrade(settings.database_url)
    uvicorn.run(
        "premiumchat.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        # Strawberry's graphql-transport-ws handler answers pings but never sends
        # any: uvicorn's protocol-level pings are what find dead sockets.
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        # SIGTERM: stop accepting, close sockets with 1001, give the rest a bounded time.
        # Lighter per open socket than uvicorn's own (premiumchat/wsprotocol.py).
        ws=ServerWebSocketProtocol,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
        # A bigger frame closes the socket with 1009 before it is read into memory.
        ws_max_size=settings.ws_max_message_bytes,
        proxy_headers=True,
        log_level=settings.log_level.lower(),
    )


def cmd_create_admin(args: argparse.Namespace) -> None:
    from premiumchat.db.engine import create_engine, create_session_factory
    from premiumchat.db.migrate import upgrade_engine
    from premiumchat.services.accounts import create_admin

    settings = _settings()
    password = args.password
    if password is None:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            sys.exit("premiumchat: the passwords differ")

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await upgrade_engine(engine)
            user, created = await create_admin(
                create_session_factory(engine),
                username=args.username,
                email=args.email,
                password=password,
            )
        finally:
            await engine.dispose()
        verb = "created" if created else "promoted"
        print(f"staff user {user.username!r} {verb} (id {user.id})")

    try:
        asyncio.run(run())
    except DomainError as error:
        sys.exit(f"premiumchat: {error.message}")


def cmd_seed_demo(args: argparse.Namespace) -> None:
    from premiumchat import demo
    from premiumchat.db.migrate import upgrade

    settings = _settings()
    _configure_logging(settings)
    upgrade(settings.database_url)
    try:
        cleared, loaded = asyncio.run(demo.seed(settings, clear_first=args.clear))
    except DomainError as error:
        sys.exit(f"premiumchat: {error.message}")
    if cleared is not None:
        print(f"demo data cleared: {cleared.users_removed} users, {cleared.lobbies_removed} lobbies removed")
    print(
        f"demo data loaded: {loaded.users_created} users, {loaded.lobbies_created} lobbies, "
        f"{loaded.members_added} members and {loaded.messages_sent} messages added "
        f"(log in as any of {', '.join(demo.DEMO_USERS)} with the password {demo.DEMO_PASSWORD!r})"
    )


def cmd_export_schema(_: argparse.Namespace) -> None:
    from premiumchat.schema.root import build_schema

    sys.stdout.write(build_schema().as_str() + "\n")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="premiumchat", description="Premium Chat Lobby server")
    commands = root.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate if needed, then serve HTTP and WebSocket")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true")
    serve.set_defaults(func=cmd_serve)

    commands.add_parser("migrate", help="apply the migrations to DATABASE_URL").set_defaults(func=cmd_migrate)

    seed = commands.add_parser("seed-demo", help="load the demo users, lobbies and messages")
    seed.add_argument("--clear", action="store_true", help="remove the demo data first (nothing else)")
    seed.set_defaults(func=cmd_seed_demo)

    admin = commands.add_parser("create-admin", help="create or promote a staff user")
    admin.add_argument("--username", required=True)
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", help="prompted for when omitted")
    admin.set_defaults(func=cmd_create_admin)

    commands.add_parser("export-schema", help="print the GraphQL SDL").set_defaults(func=cmd_export_schema)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.func(args)
