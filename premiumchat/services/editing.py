"""Editing a message: its sender, within EDIT_WINDOW_SECONDS, under the lobby's rules for new messages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlmodel import col

from premiumchat import validation
from premiumchat.db.models import LobbyStatus, Message, User
from premiumchat.errors import Forbidden, LobbyNotOpen, NotFound, RateLimited
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services import chat_rules
from premiumchat.services.access import lobby_and_role
from premiumchat.timeutil import utcnow


async def edit(res: Resources, actor: User, message_id: int, content: str) -> Message:
    assert actor.id is not None
    content = validation.message_content(content)
    settings = res.settings
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        # Locked: two edits of one message apply, and publish, one after the other.
        result = await session.execute(select(Message).where(col(Message.id) == message_id).with_for_update())
        message = result.scalar_one_or_none()
        if message is None:
            raise NotFound("No such message.")
        lobby, role = await lobby_and_role(session, message.lobby_id, actor)
        if message.sender_id != actor.id or role is None:
            raise Forbidden("Only its sender, while a member of the lobby, edits a message.")
        if lobby.status == LobbyStatus.CLOSED:
            raise LobbyNotOpen("This lobby is closed.")
        now = utcnow()
        if message.deleted:
            raise Forbidden("A deleted message cannot be edited.")
        if now - message.created_at > timedelta(seconds=settings.edit_window_seconds):
            raise Forbidden(f"Messages can be edited for {settings.edit_window_seconds} s after sending.")
        await chat_rules.require_not_muted(session, message.lobby_id, actor.id, now)
        chat_rules.require_allowed_content(lobby, actor, role, content)
        message.content = content
        message.edited_at = now
        # An edit is a message's worth of traffic: it counts towards the rate limit (not slow mode).
        retry_after = await res.limiter.hit(
            "messages", str(actor.id), settings.rate_limit_messages, settings.rate_limit_window_seconds
        )
        if retry_after is not None:
            res.metrics.rate_limited_messages.inc()
            raise RateLimited(retry_after)
        batch.message_edited(message, actor)
    await batch.publish(res.bus)
    return message
