"""What every operation leaves behind: the access log line, the operation metrics, the error counter."""

from __future__ import annotations

import logging

import orjson
from strawberry.types.execution import ExecutionContext

from premiumchat.context import Context
from premiumchat.metrics import Metrics
from premiumchat.schema.errors import contract_code

logger = logging.getLogger("premiumchat.access")

MAX_LOGGED_NAME = 64


class OperationRecord:
    """One operation's observations, HTTP and socket alike; a subscription lasts as long as its stream.

    The log line carries no query text, variables or tokens: only names, codes and ids.
    """

    __slots__ = ("codes", "context", "metrics")

    def __init__(self, context: object) -> None:
        self.context = context
        self.metrics: Metrics | None = context.resources.metrics if isinstance(context, Context) else None
        self.codes: set[str] = set()

    def count_errors(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if not errors:
            return
        for error in errors:
            code = contract_code(error)
            self.codes.add(code)
            if self.metrics is not None:
                self.metrics.error_counter(code).inc()

    def finish(self, ctx: ExecutionContext, elapsed: float) -> None:
        context = self.context
        name = ctx.operation_name
        try:
            kind = ctx.operation_type.value
        except RuntimeError:  # the document did not parse, or names no such operation
            kind = "unknown"
        websocket = isinstance(context, Context) and context.is_websocket
        if self.metrics is not None and not websocket:
            count, duration = self.metrics.operation_series(name, kind, "error" if self.codes else "ok")
            count.inc()
            duration.observe(elapsed)
        if logger.isEnabledFor(logging.INFO):
            fields = {
                "operation": name[:MAX_LOGGED_NAME] if name else None,
                "type": kind,
                "transport": "ws" if websocket else "http",
                "duration_ms": round(elapsed * 1000, 2),
                "user_id": context.known_user_id() if isinstance(context, Context) else None,
                "errors": sorted(self.codes),
            }
            logger.info("%s", orjson.dumps(fields).decode(), extra={"graphql": fields})
