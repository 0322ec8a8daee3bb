"""JWT access and refresh tokens (PyJWT, algorithm pinned, `type` checked)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from premiumchat.config import Settings
from premiumchat.errors import Unauthenticated
from premiumchat.timeutil import utcnow

REQUIRED_CLAIMS = ["exp", "iat", "sub", "type", "jti"]


class TokenType(StrEnum):
    ACCESS = "access"
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TokenClaims:
    user_id: int
    jti: str
    type: TokenType


def issue(settings: Settings, user_id: int, token_type: TokenType) -> IssuedToken:
    ttl = (
        settings.access_token_ttl_seconds
        if token_type is TokenType.ACCESS
        else settings.refresh_token_ttl_seconds
    )
    now = utcnow()
    expires_at = now + timedelta(seconds=ttl)
    jti = secrets.token_urlsafe(24)
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "type": token_type.value,
        "jti": jti,
        "iat": now,
        "nbf": now,
        "exp": expires_at,
    }
    token = jwt.encode(payload, settings.secret_key, algorithm=settings.jwt_algorithm)
    return IssuedToken(token=token, jti=jti, expires_at=expires_at)


def decode(settings: Settings, token: str, expected: TokenType) -> TokenClaims:
    """Verify signature, lifetime and type; any failure is the same UNAUTHENTICATED."""
    invalid = Unauthenticated(
        "Invalid or expired token: log in again."
        if expected is TokenType.ACCESS
        else "Invalid or expired refresh token: log in again."
    )
    if not token.isascii():
        # A JWT is base64url and dots; anything else (a lone surrogate would not even encode) is not one.
        raise invalid
    try:
        payload = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[settings.jwt_algorithm],
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as error:
        raise invalid from error
    sub, jti, kind = payload.get("sub"), payload.get("jti"), payload.get("type")
    if kind != expected.value or not isinstance(jti, str) or not isinstance(sub, str):
        raise invalid
    if not sub.isdigit() or len(sub) > 19:
        raise invalid
    return TokenClaims(user_id=int(sub), jti=jti, type=expected)


def bearer_token(value: object, *, allow_bare: bool = False) -> str | None:
    """The JWT from `Bearer <jwt>`; socket payloads may also carry the bare JWT."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if rest and scheme.lower() == "bearer":
        return rest.strip() or None
    if allow_bare and value and " " not in value:
        return value
    return None
