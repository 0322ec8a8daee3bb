"""Message types and their connection."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry

from premiumchat.context import Info
from premiumchat.db import models
from premiumchat.schema.common import PageInfo, load_user
from premiumchat.schema.users import User
from premiumchat.timeutil import parse_datetime, parse_optional_datetime

if TYPE_CHECKING:
    from premiumchat.services.browse import Page


@strawberry.type
class Message:
    id: strawberry.ID
    lobby_id: strawberry.ID
    content: str
    created_at: datetime
    deleted: bool
    edited_at: datetime | None
    sender_id: strawberry.Private[int]
    client_id: strawberry.Private[str | None]
    # Events carry their sender; history loads it in batches.
    sender_snapshot: strawberry.Private[User | None]

    # The resolvers below answer synchronously when they can (an event carries its sender, a
    # socket knows its viewer) and return an awaitable only when they must read: one async
    # resolver makes graphql-core run the whole execution asynchronously, and every lobby
    # event's execution paid for that.

    @strawberry.field
    def sender(self, info: Info) -> User:
        if self.sender_snapshot is not None:
            return self.sender_snapshot
        return self._loaded_sender(info)  # type: ignore[return-value]  # awaited by graphql-core

    async def _loaded_sender(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.sender_id)

    @strawberry.field(description="The sender's own id for it; null for everyone else.")
    def client_message_id(self, info: Info) -> str | None:
        if self.client_id is None:
            return None
        # is_viewer first: it needs no read, and lets subscribers share event results (schema/sharing.py).
        mine = info.context.is_viewer(self.sender_id)
        if mine is None:
            return self._client_id_if_viewer(info)  # type: ignore[return-value]  # awaited by graphql-core
        return self.client_id if mine else None

    async def _client_id_if_viewer(self, info: Info) -> str | None:
        return self.client_id if await info.context.viewer_id() == self.sender_id else None

    @classmethod
    def from_row(cls, row: models.Message, sender: models.User | None = None) -> Message:
        """`sender`: the sender's row when the caller has it at hand (no read to resolve `sender`)."""
        return cls(
            id=strawberry.ID(str(row.id)),
            lobby_id=strawberry.ID(str(row.lobby_id)),
            content="" if row.deleted else row.content,
            created_at=row.created_at,
            deleted=row.deleted,
            edited_at=row.edited_at,
            sender_id=row.sender_id,
            client_id=row.client_message_id,
            sender_snapshot=None if sender is None else User.from_row(sender),
        )

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> Message:
        sender = User.from_snapshot(snapshot["sender"])
        return cls(
            id=strawberry.ID(snapshot["id"]),
            lobby_id=strawberry.ID(snapshot["lobbyId"]),
            content=snapshot["content"],
            created_at=parse_datetime(snapshot["createdAt"]),
            deleted=snapshot["deleted"],
            edited_at=parse_optional_datetime(snapshot.get("editedAt")),
            sender_id=sender.user_id,
            client_id=snapshot["clientMessageId"],
            sender_snapshot=sender,
        )


@strawberry.type
class MessageEdge:
    cursor: str
    node: Message


@strawberry.type
class MessageConnection:
    edges: list[MessageEdge]
    page_info: PageInfo


def message_connection(page: Page[models.Message]) -> MessageConnection:
    return MessageConnection(
        edges=[MessageEdge(cursor=cursor, node=Message.from_row(row)) for cursor, row in page.items],
        page_info=PageInfo.of(page),  # type: ignore[arg-type]
    )
