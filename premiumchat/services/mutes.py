"""Mutes: a muted user stays in the lobby and reads, but neither sends, edits nor types."""

from __future__ import annotations

from datetime import timedelta

from premiumchat import validation
from premiumchat.db import lobbies as queries
from premiumchat.db import mutes
from premiumchat.db.models import LobbyMute, LogKind, User
from premiumchat.errors import NotFound
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services.access import load_user, open_lobby
from premiumchat.timeutil import utcnow


async def mute(
    res: Resources, actor: User, lobby_id: int, user_id: int, reason: str | None, duration_seconds: int | None
) -> LobbyMute:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        target = await load_user(session, user_id)
        member = await queries.get_membership(session, access.lobby_id, user_id)
        # As for bans: a mute may name a non-member, and holds when they join later.
        access.require_may_act_on(user_id, member.role if member else None, "mute")
        access.require_writable()
        reason = validation.reason(reason)
        validation.duration_seconds(duration_seconds)
        now = utcnow()
        expires_at = now + timedelta(seconds=duration_seconds) if duration_seconds else None
        # A new mute replaces any earlier one (expired or not).
        await mutes.delete_mute(session, access.lobby_id, user_id)
        row = LobbyMute(
            lobby_id=access.lobby_id,
            user_id=user_id,
            muted_by_id=access.actor_id,
            reason=reason,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(row)
        queries.log(
            session,
            access.lobby_id,
            LogKind.MUTED,
            actor_id=access.actor_id,
            target_id=user_id,
            reason=reason,
        )
        batch.moderation(access.lobby_id, "MUTE", actor, target, reason=reason, expires_at=expires_at)
        await session.flush()
    await batch.publish(res.bus)
    return row


async def unmute(res: Resources, actor: User, lobby_id: int, user_id: int) -> bool:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        target = await load_user(session, user_id)
        member = await queries.get_membership(session, access.lobby_id, user_id)
        # Unlike a banned user, a muted one may still be a moderator: the rules of who acts on
        # whom keep a muted moderator from unmuting themselves.
        access.require_may_act_on(user_id, member.role if member else None, "unmute")
        access.require_writable()
        if await mutes.active_mute(session, access.lobby_id, user_id, utcnow()) is None:
            raise NotFound("That user is not muted in this lobby.")
        await mutes.delete_mute(session, access.lobby_id, user_id)
        queries.log(session, access.lobby_id, LogKind.UNMUTED, actor_id=access.actor_id, target_id=user_id)
        batch.moderation(access.lobby_id, "UNMUTE", actor, target)
    await batch.publish(res.bus)
    return True
