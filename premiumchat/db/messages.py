"""Queries on messages. They never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db.models import Lobby, LobbyMember, LobbyMute, Message, User


async def by_client_id(
    session: AsyncSession, lobby_id: int, sender_id: int, client_id: str
) -> Message | None:
    result = await session.execute(
        select(Message).where(
            col(Message.lobby_id) == lobby_id,
            col(Message.sender_id) == sender_id,
            col(Message.client_message_id) == client_id,
        )
    )
    return result.scalar_one_or_none()


async def release_client_id(session: AsyncSession, message_id: int) -> None:
    """Free an expired client id (older than the retry window) for reuse."""
    await session.execute(update(Message).where(col(Message.id) == message_id).values(client_message_id=None))


async def page_forward(
    session: AsyncSession, lobby_id: int, after_id: int | None, limit: int
) -> list[Message]:
    """Oldest first, after a message."""
    statement = select(Message).where(col(Message.lobby_id) == lobby_id)
    if after_id is not None:
        statement = statement.where(col(Message.id) > after_id)
    result = await session.execute(statement.order_by(col(Message.id)).limit(limit))
    return list(result.scalars())


async def page_backward(
    session: AsyncSession, lobby_id: int, before_id: int | None, limit: int
) -> list[Message]:
    """Newest first, before a message (the caller puts them back in order)."""
    statement = select(Message).where(col(Message.lobby_id) == lobby_id)
    if before_id is not None:
        statement = statement.where(col(Message.id) < before_id)
    result = await session.execute(statement.order_by(col(Message.id).desc()).limit(limit))
    return list(result.scalars())


async def count_after(session: AsyncSession, lobby_id: int, after_id: int, up_to: int) -> int:
    """How many messages follow `after_id`, counting at most `up_to` (enough to decide a replay)."""
    limited = (
        select(col(Message.id))
        .where(col(Message.lobby_id) == lobby_id, col(Message.id) > after_id)
        .limit(up_to)
        .subquery()
    )
    result = await session.execute(select(func.count()).select_from(limited))
    return int(result.scalar_one())


async def purge(
    session: AsyncSession, lobby_id: int, sender_id: int, since: datetime, deleted_by_id: int, now: datetime
) -> list[int]:
    """Soft-delete the sender's messages in the lobby created since then; the ids of those deleted now."""
    result = await session.execute(
        select(col(Message.id))
        .where(
            col(Message.lobby_id) == lobby_id,
            col(Message.sender_id) == sender_id,
            col(Message.created_at) >= since,
            col(Message.deleted).is_(False),
        )
        .order_by(col(Message.id))
        .with_for_update()
    )
    ids = [message_id for message_id in result.scalars() if message_id is not None]
    if ids:
        await session.execute(
            update(Message)
            .where(col(Message.id).in_(ids))
            .values(deleted=True, deleted_at=now, deleted_by_id=deleted_by_id)
        )
    return ids


@dataclass(frozen=True, slots=True)
class SendAccess:
    """What a send checks, read in one query: the sender, the lobby, the sender's role, an active mute."""

    user: User
    lobby: Lobby | None
    role: str | None
    muted: bool
    mute_expires_at: datetime | None


async def send_access(session: AsyncSession, user_id: int, lobby_id: int, now: datetime) -> SendAccess | None:
    """Account, lobby, membership and any active mute in one round trip; None: no such user."""
    result = await session.execute(
        select(User, Lobby, col(LobbyMember.role), col(LobbyMute.id), col(LobbyMute.expires_at))
        .select_from(User)
        .outerjoin(Lobby, col(Lobby.id) == lobby_id)
        .outerjoin(
            LobbyMember,
            and_(col(LobbyMember.lobby_id) == col(Lobby.id), col(LobbyMember.user_id) == col(User.id)),
        )
        .outerjoin(
            LobbyMute,
            and_(
                col(LobbyMute.lobby_id) == col(Lobby.id),
                col(LobbyMute.user_id) == col(User.id),
                or_(col(LobbyMute.expires_at).is_(None), col(LobbyMute.expires_at) > now),
            ),
        )
        .where(col(User.id) == user_id)
    )
    row = result.first()
    if row is None:
        return None
    user, lobby, role, mute_id, mute_expires_at = row
    return SendAccess(
        user=user, lobby=lobby, role=role, muted=mute_id is not None, mute_expires_at=mute_expires_at
    )


async def insert(session: AsyncSession, message: Message) -> None:
    """Insert a new message and set its id (no unit of work: one INSERT … RETURNING)."""
    result = await session.execute(
        sa_insert(Message)
        .values(
            lobby_id=message.lobby_id,
            sender_id=message.sender_id,
            content=message.content,
            created_at=message.created_at,
            deleted=message.deleted,
            client_message_id=message.client_message_id,
        )
        .returning(col(Message.id))
    )
    message.id = result.scalar_one()
