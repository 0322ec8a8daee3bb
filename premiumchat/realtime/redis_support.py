"""The Redis plumbing shared by presence, the typing state and the connection counter.

`connect()` makes their client: a blocking pool with short timeouts and one
retry, on a failed connection only. `unavailable()` turns a Redis error into
the caller's own `ConnectionError` subclass. `LUA_PRELUDE` starts each of
their scripts: it reads the time from Redis (so the processes' clocks do not
matter) and defines `keep_at_least()` for key expiry.

Nothing here imports redis until a Redis-backed store is made, so the
in-process stores need no Redis client installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "COMMAND_TIMEOUT_SECONDS",
    "CONNECT_TIMEOUT_SECONDS",
    "LUA_PRELUDE",
    "MAX_CONNECTIONS",
    "connect",
    "unavailable",
]

CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 2.0
MAX_CONNECTIONS = 50

# `now`: Redis's clock, in milliseconds.
# keep_at_least(key, ms): the key expires in ms at the earliest (its expiry is never shortened).
LUA_PRELUDE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function keep_at_least(key, ms)
    if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
"""


def connect(url: str, *, what: str) -> Redis:
    """A client for `url` (redis:// or rediss://); `what` names the caller in errors, e.g. "presence"."""
    scheme = urlsplit(url).scheme
    if scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported {what} URL scheme {scheme!r} (use redis:// or rediss://)")
    from redis.asyncio import BlockingConnectionPool, Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError

    # Blocking: redis-py's default pool fails the 101st concurrent command
    # ("Too many connections") where a burst should wait its turn. One retry,
    # and only on a failed connection (a pooled one Redis had closed): a
    # command that timed out may have run, and running it again could change
    # its answer (a join or a DEL run twice answers False the second time).
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=COMMAND_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
    )
    return Redis.from_pool(pool)


@contextmanager
def unavailable(error_type: type[ConnectionError], what: str) -> Iterator[None]:
    """Raise a Redis error from the block as `error_type`, its message starting with `what`."""
    from redis.exceptions import RedisError

    try:
        yield
    except RedisError as error:
        raise error_type(f"{what}: cannot reach Redis: {error}") from error
