"""The contract's DateTime: ISO 8601 in UTC with a `Z` suffix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from premiumchat.timeutil import isoformat, parse_datetime


def _serialize(value: datetime) -> str:
    return isoformat(value) or ""


def _parse(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    return parse_datetime(value)


DateTime = strawberry.scalar(
    name="DateTime",
    description='ISO 8601, UTC, e.g. "2024-01-01T12:00:00Z"',
    serialize=_serialize,
    parse_value=_parse,
)
