"""Purge: soft-delete every recent message of one user in a lobby, in one action."""

from __future__ import annotations

from datetime import timedelta

from premiumchat import validation
from premiumchat.db import lobbies as queries
from premiumchat.db import messages
from premiumchat.db.models import LogKind, User
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services.access import load_user, open_lobby
from premiumchat.timeutil import utcnow


async def purge(res: Resources, actor: User, lobby_id: int, user_id: int, within_seconds: int) -> int:
    """How many messages were deleted now (those already deleted are not counted)."""
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        target = await load_user(session, user_id)
        member = await queries.get_membership(session, access.lobby_id, user_id)
        # The ban's rules; the user may have left already (a spammer usually has).
        access.require_may_act_on(user_id, member.role if member else None, "purge the messages of")
        access.require_writable()
        validation.within_seconds(within_seconds)
        now = utcnow()
        since = now - timedelta(seconds=within_seconds)
        ids = await messages.purge(session, access.lobby_id, user_id, since, access.actor_id, now)
        queries.log(
            session, access.lobby_id, LogKind.MESSAGES_PURGED, actor_id=access.actor_id, target_id=user_id
        )
        # One event for all the messages, so clients redraw once; then the moderation notice.
        batch.messages_purged(access.lobby_id, target, actor, ids, now)
        batch.moderation(access.lobby_id, "PURGE", actor, target)
    await batch.publish(res.bus)
    return len(ids)
