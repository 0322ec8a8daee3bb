"""The Starlette application: `create_app(settings)` and the lifespan that owns the resources."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any, TypedDict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette._utils import get_route_path, parse_host_header
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from premiumchat.admin import mount_admin
from premiumchat.config import Settings
from premiumchat.db.engine import create_engine, create_session_factory
from premiumchat.metrics import Metrics, metrics_endpoint
from premiumchat.realtime.bus import EventBus
from premiumchat.realtime.connections import ConnectionCounter
from premiumchat.realtime.presence import Presence
from premiumchat.realtime.ratelimit import RateLimiter
from premiumchat.realtime.typing_state import TypingState
from premiumchat.resources import Resources
from premiumchat.schema.root import build_schema
from premiumchat.security import RequestBodyLimit, SecurityHeaders
from premiumchat.services.live import reaped_presence
from premiumchat.view import GraphQLView
from premiumchat.web import web_client_routes

logger = logging.getLogger("premiumchat")

# Young-generation collections between two full ones (CPython's default is 10).
FULL_COLLECTION_EVERY = 1000


class State(TypedDict):
    resources: Resources


async def healthz(_: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    resources: Resources = request.state.resources
    checks: dict[str, str] = {}
    try:
        async with resources.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    if resources.redis is not None:
        try:
            await resources.redis.ping()
            checks["redis"] = "ok"
        except Exception as error:
            checks["redis"] = f"unavailable: {type(error).__name__}"
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status_code=200 if ready else 503
    )


class App(Starlette):
    """Starlette, with `/graphql` sockets handed straight to the GraphQL view.

    Every middleware awaits what it wraps for as long as a socket stays open, so each kept a
    coroutine frame (and its locals) per socket: about 3.5 KiB with the stack below. None of
    them does anything to a socket but the trusted-host check, which is made here with
    TrustedHostMiddleware's own matching; a socket it would refuse goes through the whole
    stack, which refuses it as before. Everything else (HTTP, the lifespan, other paths)
    takes the stack as usual.
    """

    def __init__(
        self, *, socket_app: ASGIApp, socket_path: str, allowed_hosts: Sequence[str] | None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._socket_app = socket_app
        self._socket_path = socket_path
        # None: any host (TrustedHostMiddleware is not in the stack, or allows "*").
        self._allowed_hosts = None
        if allowed_hosts is not None and "*" not in allowed_hosts:
            self._allowed_hosts = [host.lower() for host in allowed_hosts]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "websocket"
            and get_route_path(scope) == self._socket_path
            and self._trusted_host(scope)
        ):
            scope["app"] = self
            await self._socket_app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _trusted_host(self, scope: Scope) -> bool:
        """Whether TrustedHostMiddleware would let the socket through (its matching, verbatim)."""
        if self._allowed_hosts is None:
            return True
        parsed_host = parse_host_header(Headers(scope=scope).get("host"))
        if parsed_host is None:
            return False
        host = parsed_host.host.lower()
        return any(
            host == pattern or (pattern.startswith("*") and host.endswith(pattern[1:]))
            for pattern in self._allowed_hosts
        )


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    metrics = Metrics()  # observability: one registry per app
    admin_sessions = async_sessionmaker(class_=AsyncSession, expire_on_commit=False)  # bound below

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[State]:
        engine = create_engine(
            settings.database_url,
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_max_overflow,
        )
        admin_sessions.configure(bind=engine)
        redis = None
        if settings.redis_url:
            from redis.asyncio import Redis

            redis = Redis.from_url(settings.redis_url)
        bus = EventBus(settings.redis_url or "memory://")
        await bus.connect()
        presence = Presence(settings.redis_url, ttl_seconds=settings.presence_ttl_seconds)
        connections = ConnectionCounter(settings.redis_url)
        await connections.start()
        resources = Resources(
            settings=settings,
            engine=engine,
            sessions=create_session_factory(engine),
            bus=bus,
            limiter=RateLimiter(settings.redis_url),
            presence=presence,
            typing=TypingState(settings.redis_url),
            connections=connections,
            redis=redis,
            metrics=metrics,
        )
        await presence.start(on_gone=partial(reaped_presence, resources))
        # Everything alive now lives as long as the app: freezing it keeps every full
        # collection from walking the modules, the schema and the pools again.
        gc.collect()
        gc.freeze()
        # With hundreds of open sockets a full collection took 100-180 ms, and ran every few
        # seconds at 800 deliveries/s: the whole tail of the latency. Young collections stay
        # as they are; the full one waits for 1,000 of them instead of 10.
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], thresholds[1], FULL_COLLECTION_EVERY)
        try:
            yield {"resources": resources}
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
            await presence.stop()
            await connections.stop()
            await resources.typing.close()
            await resources.limiter.close()
            await bus.disconnect()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    view = GraphQLView(
        build_schema(settings),
        graphql_ide="graphiql" if settings.graphiql_enabled else None,
        allow_queries_via_get=False,
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        connection_init_wait_timeout=timedelta(seconds=10),
        allowed_origins=settings.cors_origins,
    )
    middleware = [Middleware(SecurityHeaders)]
    trusted_hosts = None
    if not settings.debug:
        trusted_hosts = settings.allowed_hosts
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=trusted_hosts))
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    # Inside CORS, so that a browser can read the 413.
    middleware.append(Middleware(RequestBodyLimit, max_bytes=settings.max_request_body_bytes))
    app = App(
        socket_app=view,
        socket_path="/graphql",
        allowed_hosts=trusted_hosts,  # checked for the sockets that skip the stack
        debug=False,  # never render tracebacks, whatever DEBUG says
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),  # no authentication (API.md)
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    mount_admin(app, settings, admin_sessions)
    # Last: the client at `/` is a fallback that shadows none of the routes above, `/admin` included.
    app.router.routes.extend(web_client_routes(settings.web_client_dir))
    return app
