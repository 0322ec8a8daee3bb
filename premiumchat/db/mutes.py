"""Queries on mutes. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db.models import LobbyMute


def _active(now: datetime) -> ColumnElement[bool]:
    return or_(col(LobbyMute.expires_at).is_(None), col(LobbyMute.expires_at) > now)


async def active_mute(session: AsyncSession, lobby_id: int, user_id: int, now: datetime) -> LobbyMute | None:
    result = await session.execute(
        select(LobbyMute).where(
            col(LobbyMute.lobby_id) == lobby_id, col(LobbyMute.user_id) == user_id, _active(now)
        )
    )
    return result.scalar_one_or_none()


async def delete_mute(session: AsyncSession, lobby_id: int, user_id: int) -> None:
    await session.execute(
        delete(LobbyMute).where(col(LobbyMute.lobby_id) == lobby_id, col(LobbyMute.user_id) == user_id)
    )


async def active_mutes_by_lobby(
    session: AsyncSession, lobby_ids: Sequence[int], now: datetime
) -> dict[int, list[LobbyMute]]:
    result = await session.execute(
        select(LobbyMute)
        .where(col(LobbyMute.lobby_id).in_(lobby_ids), _active(now))
        .order_by(col(LobbyMute.lobby_id), col(LobbyMute.created_at), col(LobbyMute.id))
    )
    grouped: dict[int, list[LobbyMute]] = {lobby_id: [] for lobby_id in lobby_ids}
    for mute in result.scalars():
        grouped[mute.lobby_id].append(mute)
    return grouped
