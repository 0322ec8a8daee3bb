"""One place that turns failures into the contract's errors."""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from sqlalchemy import exc as sqlalchemy_exc
from strawberry.types.execution import ExecutionContext

from premiumchat.errors import DomainError

logger = logging.getLogger("premiumchat.errors")

INTERNAL_MESSAGE = "Internal server error."
UNAVAILABLE_MESSAGE = (
    "The service is temporarily unavailable (it cannot reach its database or Redis): retry in a moment."
)
# asyncpg's errors for a connection refused, lost or not accepted yet (a restart in progress).
_ASYNCPG_UNAVAILABLE = {
    "PostgresConnectionError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "CannotConnectNowError",
    "AdminShutdownError",
    "CrashShutdownError",
}


def is_unavailable(error: BaseException | None) -> bool:
    """PostgreSQL (or Redis) cannot be reached: down, restarting, the connection dropped. Worth a retry."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sqlalchemy_exc.DisconnectionError):
            return True
        if isinstance(error, sqlalchemy_exc.DBAPIError) and error.connection_invalidated:
            return True
        if isinstance(error, OSError):  # refused, reset, timed out
            return True
        if type(error).__module__.startswith("asyncpg"):
            name = type(error).__name__
            if name in _ASYNCPG_UNAVAILABLE or (
                name == "InterfaceError" and "connection is closed" in str(error)
            ):
                return True
        error = error.__cause__ or error.__context__
    return False


def is_unexpected(error: GraphQLError) -> bool:
    """A fault of ours rather than of the request: it becomes INTERNAL."""
    original = error.original_error
    if original is None or isinstance(original, (DomainError, GraphQLError)):
        return False
    # graphql-core reports a variable or literal it refused at its place in the
    # document (no field path): that is about the request. A fault of ours has a
    # field path, or no place at all (raised while a subscription streams).
    return error.path is not None or not error.nodes


def to_contract_error(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        extensions: dict[str, Any] = original.extensions()
        message = original.message
    elif is_unexpected(error):
        extensions = {"code": "INTERNAL"}
        message = UNAVAILABLE_MESSAGE if is_unavailable(original) else INTERNAL_MESSAGE
    else:
        # Parse, validation and variable errors keep graphql-core's standard message.
        extensions = {**(error.extensions or {}), "code": "BAD_USER_INPUT"}
        message = error.message
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions=extensions,
    )


def contract_code(error: GraphQLError) -> str:
    """The `extensions.code` the client gets (or got) for this error, mapped yet or not."""
    original = error.original_error
    if isinstance(original, DomainError):
        return original.code
    if is_unexpected(error):
        return "INTERNAL"
    code = (error.extensions or {}).get("code")
    return code if isinstance(code, str) else "BAD_USER_INPUT"


def log_unexpected(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    for error in errors:
        if is_unexpected(error):
            operation = execution_context.operation_name if execution_context else None
            if is_unavailable(error.original_error):
                # One line per failure: an outage is not a bug, and tracebacks would flood the log.
                logger.warning(
                    "unavailable (database or Redis) in %s at %s: %s",
                    operation or "anonymous operation",
                    ".".join(str(p) for p in error.path or ()),
                    one_line(error.original_error),
                )
                continue
            logger.error(
                "unexpected error in %s at %s",
                operation or "anonymous operation",
                ".".join(str(p) for p in error.path or ()),
                exc_info=error.original_error,
            )


def map_contract_errors(result: object) -> None:
    """Replace a result's errors with the contract's, before they reach a client (streamed ones included)."""
    errors = getattr(result, "errors", None)
    if errors:
        result.errors = [to_contract_error(error) for error in errors]  # type: ignore[attr-defined]


def one_line(error: BaseException | None) -> str:
    """The error's type and message on one line, for a log line without its traceback."""
    text = f"{type(error).__name__}: {error}" if error is not None else "unknown"
    return " ".join(text.split())[:300]
