"""Events as they travel between processes: built from rows once, encoded once.

An event carries everything a subscriber's selection can ask for, so delivering
it touches no database. Users never carry their email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from premiumchat.db.models import Lobby, LobbyMember, Message, User
from premiumchat.realtime.channels import LOBBY_LIST_CHANNEL, lobby_channel, user_channel
from premiumchat.timeutil import isoformat, utcnow

if TYPE_CHECKING:
    from premiumchat.realtime.bus import EventBus

Payload = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One encoded event for one channel."""

    channel: str
    message: str


def user_snapshot(user: User) -> Payload:
    return {
        "id": str(user.id),
        "username": user.username,
        "isPremium": user.is_premium,
        "isStaff": user.is_staff,
        "createdAt": isoformat(user.created_at),
    }


def lobby_snapshot(lobby: Lobby, owner: User) -> Payload:
    return {
        "id": str(lobby.id),
        "name": lobby.name,
        "owner": user_snapshot(owner),
        "isPublic": lobby.is_public,
        "hasPassword": lobby.password_hash is not None,
        "maxParticipants": lobby.max_participants,
        "participantCount": lobby.participant_count,
        "status": lobby.status,
        "createdAt": isoformat(lobby.created_at),
        "startedAt": isoformat(lobby.started_at),
        "closedAt": isoformat(lobby.closed_at),
        "slowModeSeconds": lobby.slow_mode_seconds,
        # Shown to the owner, moderators and staff only: the type resolves it per viewer.
        "blockedTerms": lobby.blocked_terms,
        "isLocked": lobby.is_locked,
        "tags": lobby.tags,
        "readyCount": lobby.ready_count,
    }


def member_snapshot(member: LobbyMember, user: User) -> Payload:
    return {
        "user": user_snapshot(user),
        "role": member.role,
        "joinedAt": isoformat(member.joined_at),
        "isReady": member.is_ready,
    }


def message_snapshot(message: Message, sender: User) -> Payload:
    return {
        "id": str(message.id),
        "lobbyId": str(message.lobby_id),
        "sender": user_snapshot(sender),
        "content": "" if message.deleted else message.content,
        "createdAt": isoformat(message.created_at),
        "deleted": message.deleted,
        # Shown to its sender only: the subscription resolves it per viewer.
        "clientMessageId": message.client_message_id,
        "editedAt": isoformat(message.edited_at),
    }


def encode(payload: Payload) -> str:
    return orjson.dumps(payload).decode()


class EventBatch:
    """The events of one service call, collected in its transaction and published after commit."""

    def __init__(self) -> None:
        self.items: list[Outgoing] = []

    def _lobby_event(self, kind: str, lobby_id: int | None, at: datetime | None, **fields: Any) -> None:
        assert lobby_id is not None
        payload = {"type": kind, "lobbyId": str(lobby_id), "occurredAt": isoformat(at or utcnow()), **fields}
        self.items.append(Outgoing(lobby_channel(lobby_id), encode(payload)))

    def member_joined(self, member: LobbyMember, user: User) -> None:
        self._lobby_event(
            "MemberJoinedEvent", member.lobby_id, member.joined_at, member=member_snapshot(member, user)
        )

    def member_updated(self, member: LobbyMember, user: User) -> None:
        self._lobby_event("MemberUpdatedEvent", member.lobby_id, None, member=member_snapshot(member, user))

    def chat_message(self, message: Message, sender: User) -> None:
        self._lobby_event(
            "ChatMessageEvent",
            message.lobby_id,
            message.created_at,
            message=message_snapshot(message, sender),
        )

    def message_deleted(self, message: Message, deleted_by: User) -> None:
        self._lobby_event(
            "MessageDeletedEvent",
            message.lobby_id,
            message.deleted_at,
            messageId=str(message.id),
            deletedBy=user_snapshot(deleted_by),
        )

    def message_edited(self, message: Message, sender: User) -> None:
        self._lobby_event(
            "MessageEditedEvent",
            message.lobby_id,
            message.edited_at,
            message=message_snapshot(message, sender),
        )

    def messages_purged(
        self, lobby_id: int, user: User, purged_by: User, message_ids: list[int], at: datetime
    ) -> None:
        self._lobby_event(
            "MessagesPurgedEvent",
            lobby_id,
            at,
            user=user_snapshot(user),
            purgedBy=user_snapshot(purged_by),
            messageIds=[str(message_id) for message_id in message_ids],
        )

    def typing(self, lobby_id: int, user: User, *, is_typing: bool, expires_at: datetime | None) -> None:
        self._lobby_event(
            "TypingEvent",
            lobby_id,
            None,
            user=user_snapshot(user),
            isTyping=is_typing,
            expiresAt=isoformat(expires_at),
        )

    def presence(self, lobby_id: int, user: User, *, joined: bool) -> None:
        kind = "PresenceJoinEvent" if joined else "PresenceLeaveEvent"
        self._lobby_event(kind, lobby_id, None, user=user_snapshot(user))

    def member_left(self, lobby_id: int, user: User) -> None:
        self._lobby_event("MemberLeftEvent", lobby_id, None, user=user_snapshot(user))

    def moderation(
        self,
        lobby_id: int,
        action: str,
        actor: User,
        target: User,
        *,
        reason: str | None = None,
        expires_at: datetime | None = None,
    ) -> None:
        self._lobby_event(
            "ModerationEvent",
            lobby_id,
            None,
            action=action,
            actor=user_snapshot(actor),
            target=user_snapshot(target),
            reason=reason,
            expiresAt=isoformat(expires_at),
        )

    def lobby_updated(
        self, lobby: Lobby, owner: User, *, to_subscribers: bool = True, was_public: bool = False
    ) -> None:
        """LobbyUpdatedEvent to the lobby's subscribers and, when public, to the room list.

        A lobby that has just turned private sends the list one last event so clients drop it.
        """
        assert lobby.id is not None
        payload = {
            "type": "LobbyUpdatedEvent",
            "lobbyId": str(lobby.id),
            "occurredAt": isoformat(utcnow()),
            "lobby": lobby_snapshot(lobby, owner),
        }
        message = encode(payload)
        if to_subscribers:
            self.items.append(Outgoing(lobby_channel(lobby.id), message))
        if lobby.is_public or was_public:
            self.items.append(Outgoing(LOBBY_LIST_CHANNEL, message))

    def user_deactivated(self, user_id: int) -> None:
        payload = {"type": "UserDeactivated", "userId": str(user_id)}
        self.items.append(Outgoing(user_channel(user_id), encode(payload)))

    async def publish(self, bus: EventBus) -> None:
        for item in self.items:
            await bus.publish(item.channel, item.message)
