"""The live streams: a lobby's events (with presence and replay) and the room list."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import strawberry
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

from premiumchat.db import lobbies as lobby_queries
from premiumchat.db import messages as message_queries
from premiumchat.db.models import LobbyStatus, Message, User
from premiumchat.errors import BadUserInput, DomainError, Forbidden, LobbyNotOpen
from premiumchat.realtime.bus import BusConnectionLost, SubscriberLagging, Subscription, SubscriptionEnded
from premiumchat.realtime.channels import LOBBY_LIST_CHANNEL, lobby_channel
from premiumchat.realtime.events import EventBatch, message_snapshot
from premiumchat.resources import Resources
from premiumchat.schema.events import LobbyEvent, ReplayCompletedEvent, build, decode
from premiumchat.schema.frames import FramedStream, SocketGone
from premiumchat.services.access import lobby_and_role
from premiumchat.services.messages import message_cursor_id
from premiumchat.timeutil import isoformat, utcnow

logger = logging.getLogger("premiumchat.live")


class StreamInterrupted(DomainError):
    code = "INTERNAL"
    default_message = (
        "The live stream was interrupted on the server; subscribe again with `since` "
        "(the id of the last message you have) to catch up without losing anything."
    )


async def lobby_stream(
    res: Resources, viewer: User, lobby_id: int, since: str | None
) -> AsyncIterator[LobbyEvent]:
    """Check now, so a refusal is an error before any event; stream when iterated."""
    if not res.bus.connected:
        raise StreamInterrupted("The server is reconnecting to its event bus: subscribe again in a moment.")
    async with res.sessions() as session:
        await _follower_role(session, viewer, lobby_id)
        since_id = message_cursor_id(since, "since")
        if since_id is not None:
            anchor = await session.get(Message, since_id)
            if anchor is None or anchor.lobby_id != lobby_id:
                raise BadUserInput("since", "`since` names no message of this lobby.")
    # Frames go to the socket from the stream itself (schema/frames.py); the stream counts
    # itself, as Metrics.counted would, one generator fewer per subscription.
    return FramedStream(lambda stream: _lobby_events(res, viewer, lobby_id, since_id=since_id, stream=stream))


async def _follower_role(session: AsyncSession, viewer: User, lobby_id: int) -> str | None:
    """The viewer's role if they may follow the lobby's events now (None: staff, not a member)."""
    lobby, role = await lobby_and_role(session, lobby_id, viewer)
    if role is None and not viewer.is_staff:
        raise Forbidden("Only members (and staff) follow a lobby's events.")
    if lobby.status == LobbyStatus.CLOSED:
        raise LobbyNotOpen("This lobby is closed.")
    return role


async def _visible_follower(res: Resources, viewer: User, lobby_id: int) -> bool:
    """`_follower_role` in a session of its own: a session left in the stream's frame would
    stay there, closed, for the subscription's life (about 2 KiB per subscribed socket)."""
    async with res.sessions() as session:
        return await _follower_role(session, viewer, lobby_id) is not None


def _ends_stream(payload: dict[str, Any], viewer_id: str) -> bool:
    """After these events the subscriber's stream completes: they are out, or the lobby is."""
    kind = payload["type"]
    if kind == "ModerationEvent":
        return bool(payload["action"] in ("KICK", "BAN") and payload["target"]["id"] == viewer_id)
    if kind == "MemberLeftEvent":
        return bool(payload["user"]["id"] == viewer_id)
    if kind == "LobbyUpdatedEvent":
        return bool(payload["lobby"]["status"] == LobbyStatus.CLOSED)
    return False


async def _lobby_events(
    res: Resources, viewer: User, lobby_id: int, *, since_id: int | None, stream: FramedStream
) -> AsyncIterator[Any]:
    """The subscriber's events, each delivered through `stream` (a frame on its socket), or
    yielded when the stream cannot write it (no socket, or a result with errors)."""
    assert viewer.id is not None
    viewer_key = str(viewer.id)
    connection_id = uuid.uuid4().hex
    framed = res.metrics.socket_frames
    # Subscribed before the replay is read: whatever is published meanwhile waits in the
    # queue, and the messages the replay already sent are skipped. No gap, no duplicate.
    with res.metrics.subscribed("lobbyEvents", lobby_id) as delivered:
        async with _subscribed(res, lobby_channel(lobby_id)) as live:
            # Checked again now that nothing published can be missed: a kick, ban, leave or close
            # that committed after the first check, before this subscription (on Redis, possibly
            # another process's event), would otherwise leave the stream open to an outsider.
            visible = await _visible_follower(res, viewer, lobby_id)
            # Staff who are not members watch invisibly.
            if visible and await res.presence.join(lobby_id, viewer.id, connection_id):
                await _publish_presence(res, lobby_id, viewer, joined=True)
            try:
                replayed_ids: set[int] = set()
                if since_id is not None:
                    replayed = await _replay(res, lobby_id, since_id)
                    backlog: list[LobbyEvent] = []
                    for message_id, event in replayed or ():
                        backlog.append(event)
                        replayed_ids.add(message_id)
                    backlog.append(
                        ReplayCompletedEvent(
                            lobby_id=strawberry.ID(str(lobby_id)),
                            occurred_at=utcnow(),
                            recovered=replayed is not None,
                            replayed_count=len(replayed or ()),
                        )
                    )
                    for event in backlog:
                        if (pending := await _deliver(stream, event, delivered, framed)) is not None:
                            yield pending
                    # Delivered: not kept in the stream's frame for the subscription's life.
                    del backlog, replayed
                while True:
                    try:
                        message = await live.get()
                    except (BusConnectionLost, SubscriberLagging) as error:
                        logger.warning(
                            "lobby %s stream of user %s ended: %s", lobby_id, viewer.id, type(error).__name__
                        )
                        raise StreamInterrupted() from error
                    except SubscriptionEnded:
                        return  # the server is shutting down
                    payload, event = decode(message)
                    # By id, not "up to the last replayed id": on another process a lower id can
                    # commit after a higher one, and must still arrive.
                    if replayed_ids and payload["type"] == "ChatMessageEvent":
                        message_id = int(payload["message"]["id"])
                        if message_id in replayed_ids:
                            replayed_ids.discard(message_id)
                            continue
                    if (pending := await _deliver(stream, event, delivered, framed)) is not None:
                        yield pending
                    if _ends_stream(payload, viewer_key):
                        return
            except SocketGone:
                return  # the socket handler ends the operation
            finally:
                if visible:
                    await _leave_presence(res, lobby_id, viewer, connection_id)


async def _deliver(stream: FramedStream, event: LobbyEvent, delivered: Counter, framed: Counter) -> Any:
    """Write the event's frame on the socket, counted; what the stream could not write, to yield."""
    pending = await stream.deliver(event)
    delivered.inc()
    if pending is None:
        framed.inc()
    return pending


async def _replay(res: Resources, lobby_id: int, since_id: int) -> list[tuple[int, LobbyEvent]] | None:
    """The messages after `since_id` as events, oldest first; None when more were missed than
    REPLAY_MAX_MESSAGES (the client then reloads history). Deleted ones replay as deleted."""
    limit = res.settings.replay_max_messages
    async with res.sessions() as session:
        rows = await message_queries.page_forward(session, lobby_id, since_id, limit + 1)
        if len(rows) > limit:
            return None
        senders = await lobby_queries.users_by_id(session, list({row.sender_id for row in rows}))
    replayed = []
    for row in rows:
        assert row.id is not None
        payload = {
            "type": "ChatMessageEvent",
            "lobbyId": str(lobby_id),
            "occurredAt": isoformat(row.created_at),
            "message": message_snapshot(row, senders[row.sender_id]),
        }
        replayed.append((row.id, build(payload)))
    return replayed


@asynccontextmanager
async def _subscribed(res: Resources, channel: str) -> AsyncIterator[Subscription]:
    try:
        async with res.bus.subscribe(channel) as subscription:
            yield subscription
    except BusConnectionLost as error:
        raise StreamInterrupted() from error


async def _leave_presence(res: Resources, lobby_id: int, user: User, connection_id: str) -> None:
    try:
        last = await res.presence.leave(lobby_id, user.id or 0, connection_id)
    except ConnectionError:
        # Redis is gone: the entry expires by itself; don't hide why the stream ended.
        logger.warning("presence of user %s in lobby %s not cleared: Redis unavailable", user.id, lobby_id)
        return
    if last:
        await _publish_presence(res, lobby_id, user, joined=False)


async def reaped_presence(res: Resources, lobby_id: int, user_ids: list[int]) -> None:
    """Presence's `on_gone`: users whose process died without leaving leave as a last leave does."""
    async with res.sessions() as session:
        users = await lobby_queries.users_by_id(session, user_ids)
    for user in users.values():
        await _publish_presence(res, lobby_id, user, joined=False)


async def _publish_presence(res: Resources, lobby_id: int, user: User, *, joined: bool) -> None:
    batch = EventBatch()
    batch.presence(lobby_id, user, joined=joined)
    await batch.publish(res.bus)


def lobby_list_stream(res: Resources) -> AsyncIterator[LobbyEvent]:
    """The live room list: every change of a public lobby (and its last one when it turns private)."""
    return res.metrics.counted("lobbyListUpdates", _lobby_list_events(res))


async def _lobby_list_events(res: Resources) -> AsyncIterator[LobbyEvent]:
    async with _subscribed(res, LOBBY_LIST_CHANNEL) as updates:
        while True:
            try:
                message = await updates.get()
            except (BusConnectionLost, SubscriberLagging) as error:
                raise StreamInterrupted("The room list stream was interrupted; subscribe again.") from error
            except SubscriptionEnded:
                return
            yield decode(message)[1]
