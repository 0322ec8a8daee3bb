"""Resolvers of chat: history, sending, deleting, typing, and the live streams."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from premiumchat import validation
from premiumchat.context import Info
from premiumchat.errors import BadUserInput
from premiumchat.schema.events import LobbyEvent, LobbyUpdatedEvent
from premiumchat.schema.messages import Message, MessageConnection, message_connection
from premiumchat.services import editing, live, messages


async def history(
    info: Info,
    lobby_key: int,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> MessageConnection:
    viewer = await info.context.require_user()
    page = await messages.history(
        info.context.resources, viewer, lobby_key, first=first, after=after, last=last, before=before
    )
    return message_connection(page)


async def messages_(
    info: Info,
    lobby_id: strawberry.ID,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> MessageConnection:
    return await history(info, validation.object_id(lobby_id, "lobbyId"), first, after, last, before)


async def send_message(
    info: Info, lobby_id: strawberry.ID, content: str, client_message_id: str | None = None
) -> Message:
    context = info.context
    # The token is verified here; the account is read in the send's own transaction.
    user_id = await context.claimed_user_id()
    try:
        lobby_key = validation.object_id(lobby_id, "lobbyId")
        validation.message_content(content)
        validation.client_message_id(client_message_id)
    except BadUserInput:
        await context.require_user()  # authentication comes first: a deactivated caller is UNAUTHENTICATED
        raise
    row, actor = await messages.send_as(context.resources, user_id, lobby_key, content, client_message_id)
    context.remember_user(actor)
    # The sender is the caller, just read in the send: `sender` needs no read of its own.
    return Message.from_row(row, actor)


async def delete_message(info: Info, message_id: strawberry.ID) -> Message:
    actor = await info.context.require_user()
    row = await messages.delete(info.context.resources, actor, validation.object_id(message_id, "messageId"))
    return Message.from_row(row)


async def edit_message(info: Info, message_id: strawberry.ID, content: str) -> Message:
    actor = await info.context.require_user()
    message_key = validation.object_id(message_id, "messageId")
    return Message.from_row(await editing.edit(info.context.resources, actor, message_key, content))


async def set_typing(info: Info, lobby_id: strawberry.ID, is_typing: bool) -> bool:
    actor = await info.context.require_user()
    return await messages.set_typing(
        info.context.resources, actor, validation.object_id(lobby_id, "lobbyId"), is_typing
    )


async def lobby_events(
    info: Info, lobby_id: strawberry.ID, since: str | None = None
) -> AsyncGenerator[LobbyEvent, None]:
    viewer = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    return await live.lobby_stream(info.context.resources, viewer, lobby_key, since)  # type: ignore[return-value]


async def lobby_list_updates(info: Info) -> AsyncGenerator[LobbyUpdatedEvent, None]:
    await info.context.require_user()
    return live.lobby_list_stream(info.context.resources)  # type: ignore[return-value]
