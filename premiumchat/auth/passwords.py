"""Argon2id password hashing, off the event loop (a hash costs tens of milliseconds)."""

from __future__ import annotations

from functools import lru_cache

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("a password nobody has")


def _secret(password: str) -> bytes:
    # What argon2 would do itself, except that a lone surrogate (valid in a JSON string,
    # not in UTF-8) is kept rather than failing the request: it simply matches no hash.
    return password.encode("utf-8", "surrogatepass")


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, _secret(password))
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Check a password; with no hash (unknown user) spend the same time and fail."""
    if password_hash is None:
        await anyio.to_thread.run_sync(_verify, _dummy_hash(), password)
        return False
    return await anyio.to_thread.run_sync(_verify, password_hash, password)
