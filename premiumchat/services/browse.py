"""Reading lobbies: the room list with keyset paging, one lobby, and the lobby log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from premiumchat import pagination, validation
from premiumchat.db import lobbies as queries
from premiumchat.db.engine import reading
from premiumchat.db.models import Lobby, LobbyLogEntry, LobbyRole, User
from premiumchat.errors import BadUserInput, Forbidden, NotFound
from premiumchat.resources import Resources
from premiumchat.services.access import NO_SUCH_LOBBY, can_see

T = TypeVar("T")

DEFAULT_LOBBY_PAGE = 20
DEFAULT_LOG_PAGE = 50
SEARCH_MAX = 64
CURSOR_TYPES: dict[str, tuple[type, ...]] = {
    "NEWEST": (int,),
    "NAME": (str, int),
    "MOST_PARTICIPANTS": (int, int),
}


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]  # (cursor, item)
    has_next: bool
    has_previous: bool


def lobby_query(
    viewer: User,
    *,
    status: str | None,
    is_public: bool | None,
    search: str | None,
    tags: list[str] | None = None,
) -> queries.LobbyQuery:
    if search is not None and len(search) > SEARCH_MAX:
        raise BadUserInput("search", f"`search` has at most {SEARCH_MAX} characters.")
    if search is not None and validation.has_control_characters(search):
        # No name holds one, and PostgreSQL refuses NUL in text: say so rather than fail.
        raise BadUserInput("search", "`search` may not contain control characters.")
    assert viewer.id is not None
    return queries.LobbyQuery(
        viewer_id=viewer.id,
        viewer_is_staff=viewer.is_staff,
        statuses=(status,) if status else queries.ACTIVE_STATUSES,
        is_public=is_public,
        search=search or None,
        tags=tuple(validation.tags(tags or [])),
    )


async def list_lobbies(
    res: Resources, query: queries.LobbyQuery, order: str, first: int | None, after: str | None
) -> Page[queries.LobbyListing]:
    """One page of the room list, each lobby with its owner (one SELECT)."""
    limit = pagination.page_size(first, "first", DEFAULT_LOBBY_PAGE)
    key = pagination.decode_cursor(after, order, "after", CURSOR_TYPES[order]) if after is not None else None
    async with reading(res.sessions) as session:
        rows = await queries.lobby_page(session, query, order, key, limit + 1)
    items = []
    for row in rows[:limit]:
        if order == "NAME":
            cursor = pagination.encode_cursor(order, row.name_key, row.id)
        elif order == "MOST_PARTICIPANTS":
            cursor = pagination.encode_cursor(order, row.participant_count, row.id)
        else:
            cursor = pagination.encode_cursor(order, row.id)
        items.append((cursor, row))
    return Page(items=items, has_next=len(rows) > limit, has_previous=after is not None)


async def count_lobbies(res: Resources, query: queries.LobbyQuery) -> int:
    async with reading(res.sessions) as session:
        return await queries.count_lobbies(session, query)


async def visible_lobby(res: Resources, viewer: User, lobby_id: int) -> Lobby | None:
    """The lobby, or None when it does not exist or the viewer may not see it."""
    assert viewer.id is not None
    async with res.sessions() as session:
        lobby = await session.get(Lobby, lobby_id)
        if lobby is None:
            return None
        is_member = await queries.get_membership(session, lobby_id, viewer.id) is not None
    return lobby if can_see(lobby, viewer, is_member) else None


async def log_page(
    res: Resources, viewer: User, lobby_id: int, first: int | None, after: str | None
) -> Page[LobbyLogEntry]:
    limit = pagination.page_size(first, "first", DEFAULT_LOG_PAGE)
    after_id = pagination.decode_cursor(after, "LOG", "after", (int,))[0] if after is not None else None
    assert viewer.id is not None
    async with res.sessions() as session:
        lobby = await session.get(Lobby, lobby_id)
        membership = await queries.get_membership(session, lobby_id, viewer.id)
        if lobby is None or not can_see(lobby, viewer, membership is not None):
            raise NotFound(NO_SUCH_LOBBY)
        role = membership.role if membership else None
        if not viewer.is_staff and role not in (LobbyRole.OWNER, LobbyRole.MODERATOR):
            raise Forbidden("Only the owner, moderators and staff read a lobby's log.")
        rows = await queries.log_entries(session, lobby_id, after_id, limit + 1)
    items = [(pagination.encode_cursor("LOG", row.id), row) for row in rows[:limit]]
    return Page(items=items, has_next=len(rows) > limit, has_previous=after is not None)
