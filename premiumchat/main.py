"""The Starlette application: `create_app(settings)` and the lifespan that owns the resources."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import TypedDict

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

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


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    metrics = Metrics()  # observability: one registry per app
    admin_sessions = async_sessionmaker(class_=AsyncSession, expire_on_commit=False)  # bound below

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[State]:
        engine = create_engine(settings.database_url)
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
    if not settings.debug:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts))
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
    app = Starlette(
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
