"""Queries on message reports. They never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db.models import Message, MessageReport


async def page(
    session: AsyncSession, lobby_id: int | None, unresolved_only: bool, before_id: int | None, limit: int
) -> list[MessageReport]:
    """Newest first, after a keyset position (a report id)."""
    statement = select(MessageReport)
    if lobby_id is not None:
        statement = statement.where(col(MessageReport.lobby_id) == lobby_id)
    if unresolved_only:
        statement = statement.where(col(MessageReport.resolved_at).is_(None))
    if before_id is not None:
        statement = statement.where(col(MessageReport.id) < before_id)
    result = await session.execute(statement.order_by(col(MessageReport.id).desc()).limit(limit))
    return list(result.scalars())


async def messages_by_id(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, Message]:
    result = await session.execute(select(Message).where(col(Message.id).in_(message_ids)))
    return {message.id: message for message in result.scalars() if message.id is not None}
