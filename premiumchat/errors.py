"""The domain errors, each carrying the contract's `extensions.code`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from premiumchat.timeutil import isoformat


class DomainError(Exception):
    code: ClassVar[str] = "INTERNAL"
    default_message: ClassVar[str] = "Internal server error."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code}


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"
    default_message = "Authentication required: send a valid access token."


class Forbidden(DomainError):
    code = "FORBIDDEN"
    default_message = "You are not allowed to do this."


class PremiumRequired(DomainError):
    code = "PREMIUM_REQUIRED"
    default_message = "Only premium users can create lobbies."


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_message = "Not found."


class BadUserInput(DomainError):
    code = "BAD_USER_INPUT"

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field}


class Conflict(DomainError):
    code = "CONFLICT"
    default_message = "This conflicts with the current state."


class LobbyFull(DomainError):
    code = "LOBBY_FULL"
    default_message = "The lobby is full."


class LobbyNotOpen(DomainError):
    code = "LOBBY_NOT_OPEN"
    default_message = "The lobby is not open."


class Banned(DomainError):
    code = "BANNED"

    def __init__(self, expires_at: datetime | None) -> None:
        self.expires_at = expires_at
        until = f"until {isoformat(expires_at)}" if expires_at else "permanently"
        super().__init__(f"You are banned from this lobby {until}.")

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "expiresAt": isoformat(self.expires_at)}


class WrongPassword(DomainError):
    code = "WRONG_PASSWORD"
    default_message = "This lobby needs its password; the one given is missing or wrong."


class RateLimited(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after: float, message: str | None = None) -> None:
        self.retry_after = max(0.0, retry_after)
        super().__init__(message or f"Too many requests: retry in {self.retry_after:.2f} s.")

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": round(self.retry_after, 3)}


class Muted(DomainError):
    code = "MUTED"

    def __init__(self, expires_at: datetime | None) -> None:
        self.expires_at = expires_at
        until = f"until {isoformat(expires_at)}" if expires_at else "until a moderator unmutes you"
        super().__init__(f"You are muted in this lobby {until}.")

    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "expiresAt": isoformat(self.expires_at)}


class MessageBlocked(DomainError):
    code = "MESSAGE_BLOCKED"
    # Which term matched is not said: naming it would teach how to dodge it.
    default_message = "This message contains a term this lobby does not allow."


class LobbyLocked(DomainError):
    code = "LOBBY_LOCKED"
    default_message = "The lobby is locked: nobody can join it now."
