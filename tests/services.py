"""Where the real PostgreSQL and Redis are, and whether a test may skip without them."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import pytest

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

# CI sets this: a missing service is then a failure, never a skip.
REQUIRE_SERVICES = os.environ.get("PREMIUMCHAT_TEST_REQUIRE_SERVICES", "") not in ("", "0", "false")
POSTGRES_URL = os.environ.get("PREMIUMCHAT_TEST_POSTGRES_URL", "")
REDIS_URL = os.environ.get("PREMIUMCHAT_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), 1):
            return True
    except OSError:
        return False


def unavailable(service: str, url: str) -> None:
    message = f"{service} is not reachable at {url}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and PREMIUMCHAT_TEST_REQUIRE_SERVICES is set", pytrace=False)
    pytest.skip(f"{message} (set PREMIUMCHAT_TEST_POSTGRES_URL / _REDIS_URL, or start it)")


def require_redis() -> str:
    """The test Redis URL; skips (or, in CI, fails) the test when Redis does not answer."""
    if not reachable(REDIS_URL, 6379):
        unavailable("Redis", REDIS_URL)
    return REDIS_URL
