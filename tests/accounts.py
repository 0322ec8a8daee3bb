"""Test helpers for accounts: flags set in the database, as staff tooling would."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import col

from premiumchat.db.engine import create_engine
from premiumchat.db.models import User


async def set_user_flags(database_url: str, user_id: str | int, **values: bool) -> None:
    """Set is_premium / is_staff / is_active directly (there is no API for staff yet)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(update(User).where(col(User.id) == int(user_id)).values(**values))
    finally:
        await engine.dispose()
