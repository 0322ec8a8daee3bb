"""Queries on lobby invites. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db.models import LobbyInvite


def _usable(now: datetime) -> tuple[Any, ...]:
    """Not revoked, not expired, not used up."""
    return (
        col(LobbyInvite.revoked_at).is_(None),
        or_(col(LobbyInvite.expires_at).is_(None), col(LobbyInvite.expires_at) > now),
        or_(col(LobbyInvite.max_uses).is_(None), col(LobbyInvite.uses) < col(LobbyInvite.max_uses)),
    )


async def usable_by_code(session: AsyncSession, code: str, now: datetime) -> LobbyInvite | None:
    result = await session.execute(select(LobbyInvite).where(col(LobbyInvite.code) == code, *_usable(now)))
    return result.scalar_one_or_none()


async def spend(session: AsyncSession, invite_id: int, now: datetime) -> bool:
    """One use, if the invite is still usable: one conditional UPDATE, so `uses` never passes
    `max_uses` whatever runs concurrently (and whether or not the lobby row is locked)."""
    result = await session.execute(
        update(LobbyInvite)
        .where(col(LobbyInvite.id) == invite_id, *_usable(now))
        .values(uses=col(LobbyInvite.uses) + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def usable_by_lobby(
    session: AsyncSession, lobby_ids: Sequence[int], now: datetime
) -> dict[int, list[LobbyInvite]]:
    result = await session.execute(
        select(LobbyInvite)
        .where(col(LobbyInvite.lobby_id).in_(lobby_ids), *_usable(now))
        .order_by(col(LobbyInvite.lobby_id), col(LobbyInvite.id))
    )
    grouped: dict[int, list[LobbyInvite]] = {lobby_id: [] for lobby_id in lobby_ids}
    for invite in result.scalars():
        grouped[invite.lobby_id].append(invite)
    return grouped
