"""What a lobby asks of a message beyond the basics: mutes, blocked terms and slow mode."""

from __future__ import annotations

import unicodedata
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from premiumchat.db import mutes
from premiumchat.db.models import Lobby, LobbyRole, User
from premiumchat.errors import MessageBlocked, Muted, RateLimited
from premiumchat.resources import Resources

SLOW_MODE = "slowmode"


def is_exempt(actor: User, role: str | None) -> bool:
    """Owner, moderators and staff: neither blocked terms nor slow mode apply to them."""
    return actor.is_staff or role in (LobbyRole.OWNER, LobbyRole.MODERATOR)


async def require_not_muted(session: AsyncSession, lobby_id: int, user_id: int, now: datetime) -> None:
    mute = await mutes.active_mute(session, lobby_id, user_id, now)
    if mute is not None:
        raise Muted(mute.expires_at)


def _is_word_character(ch: str) -> bool:
    # Letters, digits and "_" make a word; a combining mark belongs to the letter it follows.
    return ch == "_" or ch.isalpha() or ch.isdigit() or unicodedata.category(ch).startswith("M")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text.casefold())


def contains_blocked_term(text: str, terms: list[str]) -> bool:
    """True when a term occurs as a whole word, comparing case-folded text with case-folded terms."""
    folded = _fold(text)
    for term in terms:
        needle = _fold(term)
        start = folded.find(needle)
        while start != -1:
            end = start + len(needle)
            before = folded[start - 1] if start > 0 else ""
            after = folded[end] if end < len(folded) else ""
            if not (before and _is_word_character(before)) and not (after and _is_word_character(after)):
                return True
            start = folded.find(needle, start + 1)
    return False


def require_allowed_content(lobby: Lobby, actor: User, role: str | None, content: str) -> None:
    if (
        lobby.blocked_terms
        and not is_exempt(actor, role)
        and contains_blocked_term(content, lobby.blocked_terms)
    ):
        raise MessageBlocked()


def _slow_mode_key(lobby: Lobby, actor: User) -> str:
    return f"{lobby.id}:{actor.id}"


async def enter_slow_mode(res: Resources, lobby: Lobby, actor: User, role: str | None) -> bool:
    """Count this message against the lobby's slow mode; RATE_LIMITED with the seconds left when too soon.

    One message per window: limits' moving window with a limit of 1 is exactly "wait that long after
    the previous one", atomic in Redis across processes. True when a hit was counted (see leave_slow_mode).
    """
    seconds = lobby.slow_mode_seconds
    if seconds <= 0 or is_exempt(actor, role):
        return False
    retry_after = await res.limiter.hit(SLOW_MODE, _slow_mode_key(lobby, actor), 1, seconds)
    if retry_after is not None:
        res.metrics.rate_limited.labels(SLOW_MODE).inc()
        raise RateLimited(
            retry_after, f"Slow mode: one message every {seconds} s here. Retry in {retry_after:.2f} s."
        )
    return True


async def leave_slow_mode(res: Resources, lobby: Lobby, actor: User) -> None:
    """Undo the slow-mode hit of a message refused afterwards (one hit per window: it was the only one)."""
    await res.limiter.reset(SLOW_MODE, _slow_mode_key(lobby, actor), 1, lobby.slow_mode_seconds)
