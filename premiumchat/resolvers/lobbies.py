"""Resolvers of lobby browsing, the lobby lifecycle and membership."""

from __future__ import annotations

import strawberry

from premiumchat import validation
from premiumchat.context import Info
from premiumchat.errors import BadUserInput
from premiumchat.schema.common import PageInfo
from premiumchat.schema.lobbies import (
    CreateLobbyInput,
    Lobby,
    LobbyConnection,
    LobbyEdge,
    LobbyFilter,
    LobbyOrder,
    LogEntry,
    LogEntryConnection,
    LogEntryEdge,
    UpdateLobbyInput,
)
from premiumchat.services import browse, lobbies, membership


async def lobbies_(
    info: Info,
    filter: LobbyFilter | None = None,
    order_by: LobbyOrder | None = LobbyOrder.NEWEST,
    first: int | None = 20,
    after: str | None = None,
) -> LobbyConnection:
    viewer = await info.context.require_user()
    res = info.context.resources
    filter = filter or LobbyFilter()
    query = browse.lobby_query(
        viewer,
        status=filter.status.value if filter.status else None,
        is_public=filter.is_public,
        search=filter.search,
        tags=filter.tags,
    )
    order = (order_by or LobbyOrder.NEWEST).value
    page = await browse.list_lobbies(res, query, order, first, after)
    return LobbyConnection(
        edges=[LobbyEdge(cursor=cursor, node=Lobby.from_listing(row)) for cursor, row in page.items],
        page_info=PageInfo.of(page),  # type: ignore[arg-type]
        count=lambda: browse.count_lobbies(res, query),
    )


async def lobby(info: Info, id: strawberry.ID) -> Lobby | None:
    viewer = await info.context.require_user()
    try:
        lobby_id = validation.object_id(id, "id")
    except BadUserInput:
        return None  # the contract: a malformed id reads as a lobby that does not exist
    row = await browse.visible_lobby(info.context.resources, viewer, lobby_id)
    return Lobby.from_row(row) if row else None


async def lobby_log(
    info: Info, lobby_id: strawberry.ID, first: int | None = 50, after: str | None = None
) -> LogEntryConnection:
    viewer = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    page = await browse.log_page(info.context.resources, viewer, lobby_key, first, after)
    return LogEntryConnection(
        edges=[LogEntryEdge(cursor=cursor, node=LogEntry.from_row(row)) for cursor, row in page.items],
        page_info=PageInfo.of(page),  # type: ignore[arg-type]
    )


async def create_lobby(info: Info, input: CreateLobbyInput) -> Lobby:
    actor = await info.context.require_user()
    row = await lobbies.create(
        info.context.resources,
        actor,
        name=input.name,
        is_public=True if input.is_public is None else input.is_public,
        max_participants=8 if input.max_participants is None else input.max_participants,
        password=input.password,
        slow_mode_seconds=input.slow_mode_seconds or 0,
        tags=input.tags,
    )
    return Lobby.from_row(row)


async def update_lobby(info: Info, lobby_id: strawberry.ID, input: UpdateLobbyInput) -> Lobby:
    actor = await info.context.require_user()
    changes = lobbies.LobbyChanges(
        name=input.name,
        is_public=input.is_public,
        max_participants=input.max_participants,
        password=input.password,
        clear_password=input.clear_password,
        slow_mode_seconds=input.slow_mode_seconds,
        blocked_terms=input.blocked_terms,
        is_locked=input.is_locked,
        tags=input.tags,
    )
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    return Lobby.from_row(await lobbies.update(info.context.resources, actor, lobby_key, changes))


async def join_lobby(info: Info, lobby_id: strawberry.ID, password: str | None = None) -> Lobby:
    actor = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    return Lobby.from_row(await membership.join(info.context.resources, actor, lobby_key, password))


async def leave_lobby(info: Info, lobby_id: strawberry.ID) -> bool:
    actor = await info.context.require_user()
    return await membership.leave(info.context.resources, actor, validation.object_id(lobby_id, "lobbyId"))


async def start_game(info: Info, lobby_id: strawberry.ID) -> Lobby:
    actor = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    return Lobby.from_row(await lobbies.start_game(info.context.resources, actor, lobby_key))


async def end_game(info: Info, lobby_id: strawberry.ID) -> Lobby:
    actor = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    return Lobby.from_row(await lobbies.end_game(info.context.resources, actor, lobby_key))


async def close_lobby(info: Info, lobby_id: strawberry.ID) -> Lobby:
    actor = await info.context.require_user()
    lobby_key = validation.object_id(lobby_id, "lobbyId")
    return Lobby.from_row(await lobbies.close(info.context.resources, actor, lobby_key))
