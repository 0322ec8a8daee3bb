"""JWT access and refresh tokens (PyJWT, algorithm pinned, `type` checked)."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from premiumchat.config import Settings
from premiumchat.errors import Unauthenticated
from premiumchat.timeutil import utcnow

REQUIRED_CLAIMS = ["exp", "iat", "sub", "type", "jti"]
# Verified access tokens kept per process: a client presents the same token on every request
# for its whole lifetime, and verifying it again (HMAC, JSON, claim checks) was most of the
# authentication's CPU. 4,096 live clients' tokens, ~2 MB at most.
VERIFIED_ACCESS_TOKENS_MAX = 4096


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


@dataclass(frozen=True, slots=True)
class _Verified:
    """An access token that passed every check, with what must be checked again on each use."""

    key: str
    algorithm: str
    claims: TokenClaims
    exp: int
    nbf: int | None
    iat: int


_verified: OrderedDict[str, _Verified] = OrderedDict()


def decode(settings: Settings, token: str, expected: TokenType) -> TokenClaims:
    """Verify signature, lifetime and type; any failure is the same UNAUTHENTICATED.

    An access token verified before is not verified again: its claims come from a bounded
    LRU, and its lifetime (exp, nbf, iat) is checked against the clock on every use, as
    PyJWT does (no leeway). Only verified tokens are kept, never a failure. Nothing about
    the account is kept: whether the user exists and is active is read on every request.
    """
    if expected is TokenType.ACCESS:
        verified = _verified.get(token)
        if (
            verified is not None
            and verified.key == settings.secret_key
            and verified.algorithm == settings.jwt_algorithm
        ):
            now = time.time()
            if verified.exp <= now:
                _verified.pop(token, None)
            elif verified.iat <= now and (verified.nbf is None or verified.nbf <= now):
                _verified.move_to_end(token)
                return verified.claims
    claims, payload = _verify(settings, token, expected)
    if expected is TokenType.ACCESS:
        _remember(settings, token, claims, payload)
    return claims


def _remember(settings: Settings, token: str, claims: TokenClaims, payload: dict[str, Any]) -> None:
    try:
        nbf = payload.get("nbf")
        entry = _Verified(
            key=settings.secret_key,
            algorithm=settings.jwt_algorithm,
            claims=claims,
            exp=int(payload["exp"]),
            nbf=None if nbf is None else int(nbf),
            iat=int(payload["iat"]),
        )
    except (TypeError, ValueError, OverflowError):
        return  # PyJWT accepted it, but it cannot be re-checked cheaply: verify it every time
    _verified[token] = entry
    _verified.move_to_end(token)
    if len(_verified) > VERIFIED_ACCESS_TOKENS_MAX:
        _verified.popitem(last=False)


def _verify(settings: Settings, token: str, expected: TokenType) -> tuple[TokenClaims, dict[str, Any]]:
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
    return TokenClaims(user_id=int(sub), jti=jti, type=expected), payload


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
