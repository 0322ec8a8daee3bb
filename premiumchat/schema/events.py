"""The events of `lobbyEvents` and `lobbyListUpdates`, built from bus messages without the database."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
import strawberry

from premiumchat.db.models import LobbyRole
from premiumchat.schema.lobbies import Lobby, LobbyMember, ModerationAction
from premiumchat.schema.messages import Message
from premiumchat.schema.users import User
from premiumchat.timeutil import parse_datetime, parse_optional_datetime


@strawberry.interface
class LobbyEvent:
    lobby_id: strawberry.ID
    occurred_at: datetime


@strawberry.type
class ChatMessageEvent(LobbyEvent):
    message: Message


@strawberry.type
class MessageDeletedEvent(LobbyEvent):
    message_id: strawberry.ID
    deleted_by: User


@strawberry.type
class PresenceJoinEvent(LobbyEvent):
    user: User


@strawberry.type
class PresenceLeaveEvent(LobbyEvent):
    user: User


@strawberry.type
class TypingEvent(LobbyEvent):
    user: User
    is_typing: bool
    expires_at: datetime | None = strawberry.field(
        description="isTyping true: show it until then unless renewed; null when false."
    )


@strawberry.type
class MemberJoinedEvent(LobbyEvent):
    member: LobbyMember


@strawberry.type(description="A member changed (their ready flag).")
class MemberUpdatedEvent(LobbyEvent):
    member: LobbyMember


@strawberry.type
class MemberLeftEvent(LobbyEvent):
    user: User


@strawberry.type
class ModerationEvent(LobbyEvent):
    action: ModerationAction
    actor: User
    target: User
    reason: str | None
    expires_at: datetime | None


@strawberry.type
class MessageEditedEvent(LobbyEvent):
    message: Message


@strawberry.type
class MessagesPurgedEvent(LobbyEvent):
    user: User
    purged_by: User
    message_ids: list[strawberry.ID]


@strawberry.type
class LobbyUpdatedEvent(LobbyEvent):
    lobby: Lobby


@strawberry.type(description="Sent once after a `since` replay, before any live event.")
class ReplayCompletedEvent(LobbyEvent):
    recovered: bool = strawberry.field(
        description="False: more were missed than the server replays; refetch history."
    )
    replayed_count: int


EVENT_TYPES: tuple[type, ...] = (
    ChatMessageEvent,
    MessageDeletedEvent,
    PresenceJoinEvent,
    PresenceLeaveEvent,
    TypingEvent,
    MemberJoinedEvent,
    MemberLeftEvent,
    ModerationEvent,
    LobbyUpdatedEvent,
    ReplayCompletedEvent,
    MessageEditedEvent,
    MessagesPurgedEvent,
    MemberUpdatedEvent,
)


USER_EVENTS: dict[str, type[PresenceJoinEvent | PresenceLeaveEvent | MemberLeftEvent]] = {
    "PresenceJoinEvent": PresenceJoinEvent,
    "PresenceLeaveEvent": PresenceLeaveEvent,
    "MemberLeftEvent": MemberLeftEvent,
}


def _member(snapshot: dict[str, Any], lobby_id: str) -> LobbyMember:
    user = User.from_snapshot(snapshot["user"])
    return LobbyMember(
        role=LobbyRole(snapshot["role"]),
        joined_at=parse_datetime(snapshot["joinedAt"]),
        user_id=user.user_id,
        member_lobby_id=int(lobby_id),
        user_snapshot=user,
        is_ready=snapshot.get("isReady", False),
    )


def build(payload: dict[str, Any]) -> LobbyEvent:
    """A Strawberry event from its bus payload."""
    lobby_id, at = strawberry.ID(payload["lobbyId"]), parse_datetime(payload["occurredAt"])
    kind = payload["type"]
    if kind == "ChatMessageEvent":
        return ChatMessageEvent(
            lobby_id=lobby_id, occurred_at=at, message=Message.from_snapshot(payload["message"])
        )
    if kind == "MessageDeletedEvent":
        return MessageDeletedEvent(
            lobby_id=lobby_id,
            occurred_at=at,
            message_id=strawberry.ID(payload["messageId"]),
            deleted_by=User.from_snapshot(payload["deletedBy"]),
        )
    if kind in USER_EVENTS:
        event_type = USER_EVENTS[kind]
        return event_type(lobby_id=lobby_id, occurred_at=at, user=User.from_snapshot(payload["user"]))
    if kind == "TypingEvent":
        return TypingEvent(
            lobby_id=lobby_id,
            occurred_at=at,
            user=User.from_snapshot(payload["user"]),
            is_typing=payload["isTyping"],
            expires_at=parse_optional_datetime(payload["expiresAt"]),
        )
    if kind == "MemberJoinedEvent":
        return MemberJoinedEvent(
            lobby_id=lobby_id, occurred_at=at, member=_member(payload["member"], lobby_id)
        )
    if kind == "MessageEditedEvent":
        return MessageEditedEvent(
            lobby_id=lobby_id, occurred_at=at, message=Message.from_snapshot(payload["message"])
        )
    if kind == "MessagesPurgedEvent":
        return MessagesPurgedEvent(
            lobby_id=lobby_id,
            occurred_at=at,
            user=User.from_snapshot(payload["user"]),
            purged_by=User.from_snapshot(payload["purgedBy"]),
            message_ids=[strawberry.ID(message_id) for message_id in payload["messageIds"]],
        )
    if kind == "MemberUpdatedEvent":
        return MemberUpdatedEvent(
            lobby_id=lobby_id, occurred_at=at, member=_member(payload["member"], lobby_id)
        )
    if kind == "ModerationEvent":
        return ModerationEvent(
            lobby_id=lobby_id,
            occurred_at=at,
            action=ModerationAction(payload["action"]),
            actor=User.from_snapshot(payload["actor"]),
            target=User.from_snapshot(payload["target"]),
            reason=payload["reason"],
            expires_at=parse_optional_datetime(payload["expiresAt"]),
        )
    if kind == "LobbyUpdatedEvent":
        return LobbyUpdatedEvent(
            lobby_id=lobby_id, occurred_at=at, lobby=Lobby.from_snapshot(payload["lobby"])
        )
    if kind == "ReplayCompletedEvent":
        return ReplayCompletedEvent(
            lobby_id=lobby_id,
            occurred_at=at,
            recovered=payload["recovered"],
            replayed_count=payload["replayedCount"],
        )
    raise ValueError(f"unknown event type {kind!r}")


@lru_cache(maxsize=4096)
def decode(message: str) -> tuple[dict[str, Any], LobbyEvent]:
    """Decoded once per process: every subscriber of the lobby shares the same immutable event."""
    payload: dict[str, Any] = orjson.loads(message)
    return payload, build(payload)
