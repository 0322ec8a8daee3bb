"""Property tests of every input validator and of the cursors: a value or BAD_USER_INPUT, never a crash."""

from __future__ import annotations

import base64
import string
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from premiumchat import pagination, validation
from premiumchat.errors import BadUserInput

# Unicode at large, surrogates and control characters included, plus the usual troublemakers.
EDGE_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 10,
    "\t\n",
    "\r",
    "\u202e" + "evil",  # right-to-left override
    "\ufeff",  # byte order mark
    "\u200b",  # zero width space
    "e\u0301",  # combining accent (NFC makes one character)
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # one emoji of five code points
    "\ud800",  # lone surrogate
    "ǅ",  # title-case digraph
    "ß",  # casefolds to two letters
    "İ",  # lowercases to two code points
    "１２３",  # full-width digits
    "\u0661\u0662\u0663",  # Arabic-Indic digits
    "²³",  # superscripts: isdigit() but not decimal
    "9" * 100,
    "-" + "9" * 100,
    "x" * 100_000,
    "ü" * 100_000,
    "a@b.c",
    "a@" + "b" * 300 + ".com",
    "%_",
    "'; DROP TABLE users; --",
]
any_text = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=())),
    st.text(max_size=600),
    st.sampled_from(EDGE_STRINGS),
    st.text(string.ascii_letters + string.digits + "_.-@ ", max_size=80),
)
any_int = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 1, 2**31, -(2**31) - 1, 2**63, -(2**63) - 1, 10**100, -(10**100)]),
)

PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(check: Callable[[], Any], field: str) -> tuple[bool, Any]:
    """(True, value) or (False, None) for BAD_USER_INPUT naming `field`; anything else fails the test."""
    refused: BadUserInput | None = None
    try:
        return True, check()
    except BadUserInput as error:
        refused = error
    assert refused.field == field
    assert refused.extensions() == {"code": "BAD_USER_INPUT", "field": field}
    assert refused.message
    return False, None


def lone_surrogates(value: str) -> bool:
    # Valid in a JSON string ("\\ud800"), not encodable as UTF-8: argon2 and the database refuse them.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def controls(value: str) -> bool:
    return validation.has_control_characters(value)


@PROPERTY_SETTINGS
@given(any_text)
@example("Alice_1.b-c")
def test_username(value: str) -> None:
    ok, result = outcome(lambda: validation.username(value), "username")
    if ok:
        assert validation.USERNAME_MIN <= len(result) <= validation.USERNAME_MAX
        assert all(ch.isalpha() or ch.isdecimal() or ch in "_.-" for ch in result)
        assert not controls(result)
        # The key is stable: keying the key changes nothing.
        key = validation.username_key(result)
        assert validation.username_key(key) == key
    # username_key never fails, whatever it is given (login calls it on raw input).
    assert isinstance(validation.username_key(value), str)


@PROPERTY_SETTINGS
@given(any_text)
@example("alice@example.com")
@example(" Bob@Example.COM ")
def test_email(value: str) -> None:
    ok, result = outcome(lambda: validation.email(value), "email")
    if ok:
        assert result == result.strip()
        assert "@" in result
        assert len(result) <= validation.EMAIL_MAX
        assert not controls(result)
    assert isinstance(validation.email_key(value), str)


@PROPERTY_SETTINGS
@given(any_text)
@example("testpass123")
@example("\ud800" * 8)
def test_password(value: str) -> None:
    ok, result = outcome(lambda: validation.password(value), "password")
    assert ok == (
        validation.PASSWORD_MIN <= len(value) <= validation.PASSWORD_MAX
        and "\x00" not in value
        and not lone_surrogates(value)
    )
    if ok:
        assert result == value  # passwords are never altered


@PROPERTY_SETTINGS
@given(st.one_of(any_text, st.integers(min_value=0, max_value=10**30).map(str)))
@example("1")
@example(" 42 ")
@example("9" * 18)
@example("9" * 19)
def test_object_id(value: str) -> None:
    ok, result = outcome(lambda: validation.object_id(value, "lobbyId"), "lobbyId")
    if ok:
        assert isinstance(result, int)
        assert 0 <= result < 2**63  # fits the database key
        assert str(result) == value.strip().lstrip("0") or result == 0


@PROPERTY_SETTINGS
@given(any_text)
def test_lobby_name(value: str) -> None:
    ok, result = outcome(lambda: validation.lobby_name(value), "name")
    if ok:
        assert result == result.strip()
        assert 1 <= len(result) <= validation.LOBBY_NAME_MAX
        assert not controls(result)


@PROPERTY_SETTINGS
@given(any_text)
def test_lobby_password(value: str) -> None:
    ok, _ = outcome(lambda: validation.lobby_password(value), "password")
    assert ok == (
        validation.LOBBY_PASSWORD_MIN <= len(value) <= validation.LOBBY_PASSWORD_MAX
        and "\x00" not in value
        and not lone_surrogates(value)
    )


@PROPERTY_SETTINGS
@given(st.one_of(st.none(), any_text))
def test_reason(value: str | None) -> None:
    ok, result = outcome(lambda: validation.reason(value), "reason")
    if ok and result is not None:
        assert result
        assert result == result.strip()
        assert len(result) <= validation.REASON_MAX
        assert not controls(result)


@PROPERTY_SETTINGS
@given(any_text)
@example("gl hf\n\twp")
def test_message_content(value: str) -> None:
    ok, result = outcome(lambda: validation.message_content(value), "content")
    if ok:
        assert result == result.strip()
        assert 1 <= len(result) <= validation.MESSAGE_MAX
        assert not controls(result)
    if "\x00" in value.strip():
        assert not ok


@PROPERTY_SETTINGS
@given(st.one_of(st.none(), any_text))
def test_client_message_id(value: str | None) -> None:
    ok, result = outcome(lambda: validation.client_message_id(value), "clientMessageId")
    if ok and result is not None:
        assert 1 <= len(result) <= validation.CLIENT_MESSAGE_ID_MAX
        assert not controls(result)


@PROPERTY_SETTINGS
@given(any_int)
def test_max_participants(value: int) -> None:
    ok, _ = outcome(lambda: validation.max_participants(value), "maxParticipants")
    assert ok == (validation.PARTICIPANTS_MIN <= value <= validation.PARTICIPANTS_MAX)


@PROPERTY_SETTINGS
@given(st.one_of(st.none(), any_int))
def test_duration_seconds(value: int | None) -> None:
    ok, result = outcome(lambda: validation.duration_seconds(value), "durationSeconds")
    assert ok == (value is None or 1 <= value <= validation.BAN_SECONDS_MAX)
    if ok:
        assert result == value


@PROPERTY_SETTINGS
@given(st.one_of(st.none(), any_int))
def test_page_size(value: int | None) -> None:
    ok, result = outcome(lambda: pagination.page_size(value, "first", 20), "first")
    assert ok == (value is None or 0 <= value <= pagination.MAX_PAGE_SIZE)
    if ok:
        assert result == (20 if value is None else value)


KEY_TYPES: list[tuple[type, ...]] = [(int,), (str, int), (int, int), (str,)]


@PROPERTY_SETTINGS
@given(st.one_of(any_text, st.binary().map(lambda b: pagination.encode_cursor("x", b.hex()))))
@example(pagination.encode_cursor("lobby", "name", 1))
@example(pagination.encode_cursor("lobby", 1.5))
@example(pagination.encode_cursor("lobby", True))
@example(pagination.encode_cursor("lobby", None))
@example(base64.urlsafe_b64encode(b'["lobby", ' + b"9" * 100 + b"]").decode())
@example(base64.urlsafe_b64encode(b'["lobby", "a\\u0000b"]').decode())
@example("W10")  # []
@example("e30")  # {}
@example("====")
def test_decode_cursor_never_crashes(value: str) -> None:
    for types in KEY_TYPES:
        ok, key = outcome(lambda t=types: pagination.decode_cursor(value, "lobby", "after", t), "after")  # type: ignore[misc]
        if ok:
            assert len(key) == len(types)
            assert all(isinstance(k, t) and not isinstance(k, bool) for k, t in zip(key, types, strict=True))


@PROPERTY_SETTINGS
@given(
    st.lists(
        # Keys are values read from the database: valid Unicode (the validators refuse lone surrogates).
        st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(max_size=200)),
        min_size=1,
        max_size=3,
    )
)
def test_cursors_round_trip(key: list[Any]) -> None:
    types = tuple(type(k) for k in key)
    cursor = pagination.encode_cursor("message", *key)
    assert cursor.isascii()
    assert "=" not in cursor
    assert pagination.decode_cursor(cursor, "message", "after", types) == key
    # A cursor of one list is refused by another.
    with pytest.raises(BadUserInput):
        pagination.decode_cursor(cursor, "lobby", "after", types)
