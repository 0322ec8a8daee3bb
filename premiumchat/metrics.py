"""Prometheus metrics: one registry per app, and the `/metrics` endpoint.

Each process counts for itself: with `serve --workers N`, every worker has its
own numbers and a scrape reaches one of them (multiprocess mode is not used).
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter as Tally
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import Response

T = TypeVar("T")

# Operation names come from clients: only plain names become labels, and only so many.
OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATION_NAMES = 500
ANONYMOUS, OTHER = "anonymous", "other"
STREAMS = ("lobbyEvents", "lobbyListUpdates")


class Metrics:
    def __init__(self) -> None:
        # Per app, not the global default registry: several apps in one process stay apart.
        self.registry = registry = CollectorRegistry()
        self.operations = Counter(
            "premiumchat_graphql_operations",
            "GraphQL operations over HTTP, by operation name, type and outcome.",
            ["operation", "type", "outcome"],
            registry=registry,
        )
        self.operation_seconds = Histogram(
            "premiumchat_graphql_operation_duration_seconds",
            "Duration of GraphQL operations over HTTP.",
            ["operation", "type"],
            registry=registry,
        )
        self.errors = Counter(
            "premiumchat_graphql_errors",
            "GraphQL errors sent to clients (HTTP and sockets), by extensions.code.",
            ["code"],
            registry=registry,
        )
        self.websocket_connections = Gauge(
            "premiumchat_websocket_connections", "Open WebSocket connections.", registry=registry
        )
        self.subscriptions = Gauge(
            "premiumchat_subscriptions_active",
            "Active subscriptions, by stream.",
            ["stream"],
            registry=registry,
        )
        self.lobbies_subscribed = Gauge(
            "premiumchat_lobbies_with_subscribers",
            "Lobbies with at least one lobbyEvents subscriber on this process.",
            registry=registry,
        )
        # Read on scrape (the scrape's own task included): with every socket gone it is back to
        # its idle level, or something left a task running.
        self.asyncio_tasks = Gauge(
            "premiumchat_asyncio_tasks",
            "asyncio tasks alive in this process, read on scrape.",
            registry=registry,
        )
        self.asyncio_tasks.set_function(_asyncio_task_count)
        self.events_delivered = Counter(
            "premiumchat_events_delivered",
            "Events yielded to subscribers, by stream.",
            ["stream"],
            registry=registry,
        )
        self.socket_frames = Counter(
            "premiumchat_socket_frames",
            "lobbyEvents events written to their socket as frames of the shared execution.",
            registry=registry,
        )
        self.messages_sent = Counter("premiumchat_messages_sent", "Chat messages sent.", registry=registry)
        self.rate_limited = Counter(
            "premiumchat_rate_limited",
            "Attempts refused as RATE_LIMITED, by limit.",
            ["limit"],
            registry=registry,
        )
        # Labelled children made once, so the hot paths only increment.
        self.rate_limited_messages = self.rate_limited.labels("messages")
        self.rate_limited_typing = self.rate_limited.labels("typing")
        for stream in STREAMS:
            self.subscriptions.labels(stream)
            self.events_delivered.labels(stream)
        self._lobby_subscribers: Tally[int] = Tally()
        self._operation_names: set[str] = set()
        # Labelled children by their labels: prometheus_client's labels() takes a lock and
        # builds its key on every call. Bounded like the labels themselves.
        self._operation_series: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}
        self._error_counters: dict[str, Counter] = {}

    def operation_label(self, name: str | None) -> str:
        if name is None:
            return ANONYMOUS
        if name in self._operation_names:
            return name
        if len(self._operation_names) >= MAX_OPERATION_NAMES or not OPERATION_NAME.fullmatch(name):
            return OTHER
        self._operation_names.add(name)
        return name

    def operation_series(self, name: str | None, kind: str, outcome: str) -> tuple[Counter, Histogram]:
        """The operation's counter and duration histogram (HTTP operations)."""
        label = self.operation_label(name)
        key = (label, kind, outcome)
        series = self._operation_series.get(key)
        if series is None:
            series = self.operations.labels(label, kind, outcome), self.operation_seconds.labels(label, kind)
            self._operation_series[key] = series
        return series

    def error_counter(self, code: str) -> Counter:
        counter = self._error_counters.get(code)
        if counter is None:
            counter = self._error_counters[code] = self.errors.labels(code)
        return counter

    @contextmanager
    def subscribed(self, stream: str, lobby_id: int | None = None) -> Iterator[Counter]:
        """An active subscription (of its lobby) while inside; gives the counter of its deliveries."""
        active = self.subscriptions.labels(stream)
        active.inc()
        if lobby_id is not None:
            self._lobby_subscribers[lobby_id] += 1
            if self._lobby_subscribers[lobby_id] == 1:
                self.lobbies_subscribed.inc()
        try:
            yield self.events_delivered.labels(stream)
        finally:
            active.dec()
            if lobby_id is not None:
                self._lobby_subscribers[lobby_id] -= 1
                if self._lobby_subscribers[lobby_id] <= 0:
                    del self._lobby_subscribers[lobby_id]
                    self.lobbies_subscribed.dec()

    async def counted(
        self, stream: str, events: AsyncIterator[T], lobby_id: int | None = None
    ) -> AsyncIterator[T]:
        """The stream, counted as an active subscription (of its lobby) while it runs, and per event."""
        with self.subscribed(stream, lobby_id) as delivered:
            try:
                async for event in events:
                    delivered.inc()
                    yield event
            finally:
                # Closing this stream closes the inner one at once (presence, bus subscription).
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()


def _asyncio_task_count() -> float:
    try:
        return float(len(asyncio.all_tasks()))
    except RuntimeError:  # collected outside the event loop's thread: no loop to count
        return float("nan")


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.state.resources.metrics
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)
