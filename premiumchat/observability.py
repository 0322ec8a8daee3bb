"""One Strawberry extension per operation: the access log line, the operation metrics, the error counter."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import orjson
from strawberry.extensions import SchemaExtension

from premiumchat.context import Context
from premiumchat.metrics import Metrics
from premiumchat.schema.errors import contract_code

logger = logging.getLogger("premiumchat.access")

MAX_LOGGED_NAME = 64


class Observability(SchemaExtension):
    """Times every operation, HTTP and socket alike; a subscription lasts as long as its stream.

    The log line carries no query text, variables or tokens: only names, codes and ids.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        self._metrics: Metrics | None = context.resources.metrics if isinstance(context, Context) else None
        self._codes: set[str] = set()
        self._streamed = False
        started = time.perf_counter()
        try:
            yield
        finally:
            if not self._streamed:
                self._count_errors(self.execution_context.result)
            self._finish(context, time.perf_counter() - started)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        self._count_errors(result)
        yield None

    def _count_errors(self, result: object) -> None:
        for error in getattr(result, "errors", None) or ():
            code = contract_code(error)
            self._codes.add(code)
            if self._metrics is not None:
                self._metrics.errors.labels(code).inc()

    def _finish(self, context: object, elapsed: float) -> None:
        ctx = self.execution_context
        name = ctx.operation_name
        try:
            kind = ctx.operation_type.value
        except RuntimeError:  # the document did not parse, or names no such operation
            kind = "unknown"
        websocket = isinstance(context, Context) and context.is_websocket
        if self._metrics is not None and not websocket:
            label = self._metrics.operation_label(name)
            outcome = "error" if self._codes else "ok"
            self._metrics.operations.labels(label, kind, outcome).inc()
            self._metrics.operation_seconds.labels(label, kind).observe(elapsed)
        if logger.isEnabledFor(logging.INFO):
            fields = {
                "operation": name[:MAX_LOGGED_NAME] if name else None,
                "type": kind,
                "transport": "ws" if websocket else "http",
                "duration_ms": round(elapsed * 1000, 2),
                "user_id": context.known_user_id() if isinstance(context, Context) else None,
                "errors": sorted(self._codes),
            }
            logger.info("%s", orjson.dumps(fields).decode(), extra={"graphql": fields})
