"""Input validators: each returns the normalised value or raises BAD_USER_INPUT for its field."""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError, validate_email

from premiumchat.errors import BadUserInput

USERNAME_MIN, USERNAME_MAX = 3, 32
PASSWORD_MIN, PASSWORD_MAX = 8, 256
EMAIL_MAX = 254
MAX_ID_DIGITS = 18  # fits a signed 64-bit key
_USERNAME_PUNCTUATION = frozenset("_.-")


def has_control_characters(text: str) -> bool:
    """True for NUL and other control characters; newline and tab are allowed."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\n\t" for ch in text)


def username(value: str, field: str = "username") -> str:
    value = unicodedata.normalize("NFC", value)
    if not USERNAME_MIN <= len(value) <= USERNAME_MAX:
        raise BadUserInput(field, f"Usernames have {USERNAME_MIN} to {USERNAME_MAX} characters.")
    if not all(ch.isalpha() or ch.isdecimal() or ch in _USERNAME_PUNCTUATION for ch in value):
        raise BadUserInput(field, "Usernames may contain only letters, digits, '_', '.' and '-'.")
    return value


def username_key(value: str) -> str:
    """The case-insensitive identity of a username, used for uniqueness and login."""
    return unicodedata.normalize("NFC", value).casefold()


def email(value: str, field: str = "email") -> str:
    value = value.strip()
    if len(value) > EMAIL_MAX or has_control_characters(value):
        raise BadUserInput(field, "That is not a valid email address.")
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise BadUserInput(field, f"That is not a valid email address: {error}") from None
    return value


def email_key(value: str) -> str:
    return value.strip().casefold()


def password(value: str, field: str = "password") -> str:
    if len(value) < PASSWORD_MIN:
        raise BadUserInput(field, f"Passwords have at least {PASSWORD_MIN} characters.")
    if len(value) > PASSWORD_MAX:
        raise BadUserInput(field, f"Passwords have at most {PASSWORD_MAX} characters.")
    if "\x00" in value or any(unicodedata.category(ch) == "Cs" for ch in value):
        raise BadUserInput(field, "Passwords may not contain NUL characters or unpaired surrogates.")
    return value


def object_id(value: str, field: str) -> int:
    """A public ID (decimal digits) as the integer key; anything else is BAD_USER_INPUT."""
    text = value.strip() if isinstance(value, str) else ""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_ID_DIGITS:
        raise BadUserInput(field, f"`{field}` is not a valid ID.")
    return int(text)


LOBBY_NAME_MAX = 64
LOBBY_PASSWORD_MIN, LOBBY_PASSWORD_MAX = 4, 64
PARTICIPANTS_MIN, PARTICIPANTS_MAX = 2, 64
REASON_MAX = 500
BAN_SECONDS_MAX = 2_592_000


def lobby_name(value: str, field: str = "name") -> str:
    value = value.strip()
    if not 1 <= len(value) <= LOBBY_NAME_MAX or has_control_characters(value):
        raise BadUserInput(
            field,
            f"Lobby names have 1 to {LOBBY_NAME_MAX} characters (after trimming), no control characters.",
        )
    return value


def max_participants(value: int, field: str = "maxParticipants") -> int:
    if not PARTICIPANTS_MIN <= value <= PARTICIPANTS_MAX:
        raise BadUserInput(field, f"`{field}` must be between {PARTICIPANTS_MIN} and {PARTICIPANTS_MAX}.")
    return value


def lobby_password(value: str, field: str = "password") -> str:
    if (
        not LOBBY_PASSWORD_MIN <= len(value) <= LOBBY_PASSWORD_MAX
        or "\x00" in value
        or any(unicodedata.category(ch) == "Cs" for ch in value)
    ):
        raise BadUserInput(
            field, f"Lobby passwords have {LOBBY_PASSWORD_MIN} to {LOBBY_PASSWORD_MAX} characters."
        )
    return value


def reason(value: str | None, field: str = "reason") -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > REASON_MAX or has_control_characters(value):
        raise BadUserInput(field, f"A reason has at most {REASON_MAX} characters, no control characters.")
    return value or None


def duration_seconds(
    value: int | None, field: str = "durationSeconds", maximum: int = BAN_SECONDS_MAX
) -> int | None:
    if value is not None and not 1 <= value <= maximum:
        raise BadUserInput(field, f"`{field}` must be between 1 and {maximum}, or null for no end.")
    return value


MESSAGE_MAX = 500
CLIENT_MESSAGE_ID_MAX = 64


def message_content(value: str, field: str = "content") -> str:
    value = value.strip()
    if not value:
        raise BadUserInput(field, "A message needs some text.")
    if len(value) > MESSAGE_MAX:
        raise BadUserInput(field, f"A message has at most {MESSAGE_MAX} characters.")
    if has_control_characters(value):
        raise BadUserInput(field, "A message may not contain control characters (newline and tab are fine).")
    return value


def client_message_id(value: str | None, field: str = "clientMessageId") -> str | None:
    if value is None:
        return None
    if not 1 <= len(value) <= CLIENT_MESSAGE_ID_MAX or has_control_characters(value):
        raise BadUserInput(field, f"`{field}` has 1 to {CLIENT_MESSAGE_ID_MAX} printable characters.")
    return value


SLOW_MODE_MAX = 3_600
BLOCKED_TERMS_MAX, BLOCKED_TERM_MAX = 100, 64
PURGE_SECONDS_MAX = 604_800


def slow_mode_seconds(value: int, field: str = "slowModeSeconds") -> int:
    if not 0 <= value <= SLOW_MODE_MAX:
        raise BadUserInput(field, f"`{field}` must be between 0 (off) and {SLOW_MODE_MAX}.")
    return value


def blocked_terms(values: list[str], field: str = "blockedTerms") -> list[str]:
    """Trimmed, each 1–64 characters without control characters; case-insensitive duplicates dropped."""
    if len(values) > BLOCKED_TERMS_MAX:
        raise BadUserInput(field, f"A lobby has at most {BLOCKED_TERMS_MAX} blocked terms.")
    terms: dict[str, str] = {}
    for value in values:
        term = value.strip()
        if not 1 <= len(term) <= BLOCKED_TERM_MAX or has_control_characters(term):
            raise BadUserInput(
                field, f"A blocked term has 1 to {BLOCKED_TERM_MAX} characters (after trimming)."
            )
        terms.setdefault(term.casefold(), term)
    return list(terms.values())


def within_seconds(value: int, field: str = "withinSeconds") -> int:
    if not 1 <= value <= PURGE_SECONDS_MAX:
        raise BadUserInput(field, f"`{field}` must be between 1 and {PURGE_SECONDS_MAX}.")
    return value


TAGS_MAX, TAG_MAX = 8, 24
_TAG_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
INVITE_USES_MAX = 1_000
INVITE_SECONDS_MIN, INVITE_SECONDS_MAX = 60, 2_592_000


def tags(values: list[str], field: str = "tags") -> list[str]:
    """Lower-cased, duplicates dropped (first one kept): 0–8 tags of 1–24 of a–z, 0–9 and '-'."""
    result: list[str] = []
    for value in values:
        tag = value.lower()
        if not 1 <= len(tag) <= TAG_MAX or not set(tag) <= _TAG_CHARACTERS:
            raise BadUserInput(field, f"A tag has 1 to {TAG_MAX} characters of a–z, 0–9 and '-'.")
        if tag not in result:
            result.append(tag)
    if len(result) > TAGS_MAX:
        raise BadUserInput(field, f"A lobby has at most {TAGS_MAX} tags.")
    return result


def invite_max_uses(value: int | None, field: str = "maxUses") -> int | None:
    if value is not None and not 1 <= value <= INVITE_USES_MAX:
        raise BadUserInput(field, f"`{field}` must be between 1 and {INVITE_USES_MAX}, or null for no limit.")
    return value


def invite_seconds(value: int | None, field: str = "expiresInSeconds") -> int | None:
    if value is not None and not INVITE_SECONDS_MIN <= value <= INVITE_SECONDS_MAX:
        raise BadUserInput(
            field,
            f"`{field}` must be between {INVITE_SECONDS_MIN} and {INVITE_SECONDS_MAX}, or null for never.",
        )
    return value


def report_reason(value: str, field: str = "reason") -> str:
    value = value.strip()
    if not 1 <= len(value) <= REASON_MAX or has_control_characters(value):
        raise BadUserInput(
            field, f"A report gives a reason of 1 to {REASON_MAX} characters, no control characters."
        )
    return value
