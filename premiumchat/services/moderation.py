"""Moderation: kick, ban, unban, and appointing moderators."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from premiumchat import validation
from premiumchat.db import lobbies as queries
from premiumchat.db.models import LobbyBan, LobbyMember, LobbyRole, LogKind, User
from premiumchat.errors import Conflict, NotFound
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services.access import load_user, open_lobby
from premiumchat.services.membership import remove_member
from premiumchat.timeutil import utcnow

NOT_A_MEMBER = "That user is not a member of this lobby."


async def _member(session: AsyncSession, lobby_id: int, user_id: int) -> tuple[User, LobbyMember]:
    """The user acted on and their membership; NOT_FOUND for an unknown user or a non-member."""
    target = await load_user(session, user_id)
    member = await queries.get_membership(session, lobby_id, user_id)
    if member is None:
        raise NotFound(NOT_A_MEMBER)
    return target, member


async def kick(res: Resources, actor: User, lobby_id: int, user_id: int, reason: str | None) -> bool:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        target, member = await _member(session, access.lobby_id, user_id)
        access.require_may_act_on(user_id, member.role, "kick")
        access.require_writable()
        reason = validation.reason(reason)
        queries.log(
            session,
            access.lobby_id,
            LogKind.KICKED,
            actor_id=access.actor_id,
            target_id=user_id,
            reason=reason,
        )
        batch.moderation(access.lobby_id, "KICK", actor, target, reason=reason)
        await remove_member(session, access.lobby, member, batch)
    await batch.publish(res.bus)
    return True


async def ban(
    res: Resources, actor: User, lobby_id: int, user_id: int, reason: str | None, duration_seconds: int | None
) -> LobbyBan:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        target = await load_user(session, user_id)
        member = await queries.get_membership(session, access.lobby_id, user_id)
        # A ban may name a non-member, to keep them out.
        access.require_may_act_on(user_id, member.role if member else None, "ban")
        access.require_writable()
        reason = validation.reason(reason)
        validation.duration_seconds(duration_seconds)
        now = utcnow()
        expires_at = now + timedelta(seconds=duration_seconds) if duration_seconds else None
        # A new ban replaces any earlier one (expired or not).
        await queries.delete_ban(session, access.lobby_id, user_id)
        ban = LobbyBan(
            lobby_id=access.lobby_id,
            user_id=user_id,
            banned_by_id=access.actor_id,
            reason=reason,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(ban)
        queries.log(
            session,
            access.lobby_id,
            LogKind.BANNED,
            actor_id=access.actor_id,
            target_id=user_id,
            reason=reason,
        )
        batch.moderation(access.lobby_id, "BAN", actor, target, reason=reason, expires_at=expires_at)
        if member is not None:
            await remove_member(session, access.lobby, member, batch)
        await session.flush()
    await batch.publish(res.bus)
    return ban


async def unban(res: Resources, actor: User, lobby_id: int, user_id: int) -> bool:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        target = await load_user(session, user_id)
        access.require_moderator("unban")
        access.require_writable()
        if await queries.active_ban(session, access.lobby_id, user_id, utcnow()) is None:
            raise NotFound("That user is not banned from this lobby.")
        await queries.delete_ban(session, access.lobby_id, user_id)
        queries.log(session, access.lobby_id, LogKind.UNBANNED, actor_id=access.actor_id, target_id=user_id)
        batch.moderation(access.lobby_id, "UNBAN", actor, target)
    await batch.publish(res.bus)
    return True


async def _set_role(
    res: Resources, actor: User, lobby_id: int, user_id: int, *, appoint: bool
) -> tuple[LobbyMember, User]:
    action = "appoint moderators" if appoint else "remove moderators"
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        target, member = await _member(session, access.lobby_id, user_id)
        access.require_owner_or_staff(action)
        access.require_may_act_on(user_id, member.role, "change the role of")
        access.require_writable()
        if appoint and member.role == LobbyRole.MODERATOR:
            raise Conflict("That user is already a moderator.")
        if not appoint and member.role != LobbyRole.MODERATOR:
            raise Conflict("That user is not a moderator.")
        member.role = LobbyRole.MODERATOR if appoint else LobbyRole.MEMBER
        kind = LogKind.MODERATOR_ADDED if appoint else LogKind.MODERATOR_REMOVED
        queries.log(session, access.lobby_id, kind, actor_id=access.actor_id, target_id=user_id)
        batch.moderation(access.lobby_id, kind.value, actor, target)
    await batch.publish(res.bus)
    return member, target


async def add_moderator(res: Resources, actor: User, lobby_id: int, user_id: int) -> tuple[LobbyMember, User]:
    return await _set_role(res, actor, lobby_id, user_id, appoint=True)


async def remove_moderator(
    res: Resources, actor: User, lobby_id: int, user_id: int
) -> tuple[LobbyMember, User]:
    return await _set_role(res, actor, lobby_id, user_id, appoint=False)
