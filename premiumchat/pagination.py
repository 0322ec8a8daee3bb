"""Opaque keyset cursors and page-size rules shared by every connection."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from premiumchat.errors import BadUserInput

MAX_PAGE_SIZE = 100


def page_size(value: int | None, field: str, default: int) -> int:
    if value is None:
        return default
    if value < 0 or value > MAX_PAGE_SIZE:
        raise BadUserInput(field, f"`{field}` must be between 0 and {MAX_PAGE_SIZE}.")
    return value


def encode_cursor(kind: str, *key: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([kind, *key])).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, field: str, types: tuple[type, ...]) -> list[Any]:
    """The key a cursor of `kind` holds; anything else (another kind, garbage) is BAD_USER_INPUT."""
    invalid = BadUserInput(field, f"`{field}` is not a valid cursor for this list.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise invalid from None
    if not isinstance(decoded, list) or len(decoded) != len(types) + 1 or decoded[0] != kind:
        raise invalid
    key = decoded[1:]
    for value, expected in zip(key, types, strict=True):
        # bool is an int in Python; a cursor never holds one.
        if not isinstance(value, expected) or isinstance(value, bool):
            raise invalid
    return key
