"""UTC time helpers: one clock and one wire format for the whole service."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Attach UTC to naive values (SQLite returns them) and convert aware ones."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def isoformat(value: datetime | None) -> str | None:
    if value is None:
        return None
    return as_utc(value).isoformat().replace("+00:00", "Z")


def parse_datetime(value: str) -> datetime:
    """The inverse of `isoformat`."""
    return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def parse_optional_datetime(value: str | None) -> datetime | None:
    return None if value is None else parse_datetime(value)
