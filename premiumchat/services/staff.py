"""Staff operations on accounts: premium status and deactivation."""

from __future__ import annotations

from premiumchat import validation
from premiumchat.auth import passwords
from premiumchat.db import users as user_queries
from premiumchat.db.models import User
from premiumchat.errors import Forbidden
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services.access import load_user
from premiumchat.services.membership import leave_every_lobby
from premiumchat.timeutil import utcnow


def _require_staff(actor: User) -> None:
    if not actor.is_staff:
        raise Forbidden("Only staff can do this.")


async def set_premium(res: Resources, actor: User, user_id: int, is_premium: bool) -> User:
    _require_staff(actor)
    async with res.sessions() as session, session.begin():
        user = await load_user(session, user_id)
        user.is_premium = is_premium
    return user


async def set_active(res: Resources, actor: User, user_id: int, is_active: bool) -> User:
    """(De)activate an account; a deactivated user leaves every lobby and loses every session."""
    _require_staff(actor)
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        user = await load_user(session, user_id)
        if user.id == actor.id:
            raise Forbidden("You cannot change your own account's active status.")
        was_active, user.is_active = user.is_active, is_active
        if was_active and not is_active:
            await user_queries.revoke_refresh_tokens(session, user_id, utcnow())
            await leave_every_lobby(session, user, batch)
            batch.user_deactivated(user_id)
    await batch.publish(res.bus)
    return user


async def set_password(res: Resources, actor: User, user_id: int, password: str) -> User:
    """Give an account a new password (the admin panel); its refresh tokens stop working."""
    _require_staff(actor)
    password_hash = await passwords.hash_password(validation.password(password))
    async with res.sessions() as session, session.begin():
        user = await load_user(session, user_id)
        user.password_hash = password_hash
        await user_queries.revoke_refresh_tokens(session, user_id, utcnow())
    return user
