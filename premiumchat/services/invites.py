"""Invite links: create, revoke, and join by code (through the one join path of membership)."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from premiumchat import validation
from premiumchat.db import invites as queries
from premiumchat.db import lobbies as lobby_queries
from premiumchat.db.models import Lobby, LobbyInvite, LogKind, User
from premiumchat.errors import NotFound
from premiumchat.resources import Resources
from premiumchat.services.access import open_lobby
from premiumchat.services.membership import admit
from premiumchat.timeutil import utcnow

NO_SUCH_INVITE = "No such invite (it may have expired, been used up or revoked)."
# 12 random bytes: 96 bits, 16 URL-safe characters.
CODE_BYTES = 12
# What a code can look like: anything else names no invite and never reaches the database
# (PostgreSQL refuses NUL and unpaired surrogates in text, and a long string is no code).
_CODE_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,64}")


async def create(
    res: Resources, actor: User, lobby_id: int, max_uses: int | None, expires_in_seconds: int | None
) -> tuple[LobbyInvite, Lobby]:
    """The invite and its lobby."""
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        access.require_moderator("create invites")
        access.require_writable()
        validation.invite_max_uses(max_uses)
        validation.invite_seconds(expires_in_seconds)
        now = utcnow()
        invite = LobbyInvite(
            code=secrets.token_urlsafe(CODE_BYTES),
            lobby_id=access.lobby_id,
            created_by_id=access.actor_id,
            created_at=now,
            expires_at=now + timedelta(seconds=expires_in_seconds) if expires_in_seconds else None,
            max_uses=max_uses,
        )
        session.add(invite)
        lobby_queries.log(session, access.lobby_id, LogKind.INVITE_CREATED, actor_id=access.actor_id)
        await session.flush()
    return invite, access.lobby


async def _usable(session: AsyncSession, code: str) -> LobbyInvite:
    if not _CODE_SHAPE.fullmatch(code):
        raise NotFound(NO_SUCH_INVITE)
    invite = await queries.usable_by_code(session, code, utcnow())
    if invite is None:
        raise NotFound(NO_SUCH_INVITE)
    return invite


async def revoke(res: Resources, actor: User, code: str) -> bool:
    async with res.sessions() as session, session.begin():
        lobby_id = (await _usable(session, code)).lobby_id
        # Whoever holds a code reaches its lobby, private or not; the lobby's lock orders this
        # revocation with joins spending the same invite.
        access = await open_lobby(session, lobby_id, actor, by_id_only=True)
        invite = await _usable(session, code)
        if invite.created_by_id != access.actor_id:
            access.require_moderator("revoke invites")
        access.require_writable()
        invite.revoked_at = utcnow()
        lobby_queries.log(session, access.lobby_id, LogKind.INVITE_REVOKED, actor_id=access.actor_id)
    return True


async def join(res: Resources, actor: User, code: str) -> Lobby:
    """Join with no password, private lobbies too; every other join rule holds."""
    async with res.sessions() as session:
        invite = await _usable(session, code)
    assert invite.id is not None
    invite_id = invite.id

    async def spend(session: AsyncSession) -> None:
        if not await queries.spend(session, invite_id, utcnow()):
            raise NotFound(NO_SUCH_INVITE)

    return await admit(res, actor, invite.lobby_id, lambda _lobby: True, spend)
