"""Queries on users and refresh tokens. They never commit: the calling service does."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db.models import RefreshToken, User


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def find_by_username_key(session: AsyncSession, key: str) -> User | None:
    result = await session.execute(select(User).where(col(User.username_key) == key))
    return result.scalar_one_or_none()


async def username_or_email_taken(
    session: AsyncSession, username_key: str, email_key: str
) -> tuple[bool, bool]:
    result = await session.execute(
        select(col(User.username_key), col(User.email_key)).where(
            (col(User.username_key) == username_key) | (col(User.email_key) == email_key)
        )
    )
    rows = result.all()
    return (
        any(row.username_key == username_key for row in rows),
        any(row.email_key == email_key for row in rows),
    )


async def spend_refresh_token(session: AsyncSession, jti: str, user_id: int, now: datetime) -> bool:
    """Atomically mark a live refresh token spent; False if it was spent, expired or unknown."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.jti) == jti,
            col(RefreshToken.user_id) == user_id,
            col(RefreshToken.spent_at).is_(None),
            col(RefreshToken.expires_at) > now,
        )
        .values(spent_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def refresh_token_exists(session: AsyncSession, jti: str, user_id: int) -> bool:
    result = await session.execute(
        select(col(RefreshToken.id)).where(col(RefreshToken.jti) == jti, col(RefreshToken.user_id) == user_id)
    )
    return result.first() is not None


async def revoke_refresh_tokens(session: AsyncSession, user_id: int, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.spent_at).is_(None))
        .values(spent_at=now)
    )
