"""Queries on lobbies, memberships, bans and the lobby log. They never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Integer, Select, String, and_, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db.models import (
    Lobby,
    LobbyBan,
    LobbyLogEntry,
    LobbyMember,
    LobbyRole,
    LobbyStatus,
    LobbyTag,
    User,
)

ACTIVE_STATUSES = (LobbyStatus.OPEN, LobbyStatus.IN_GAME)


async def lock_lobby(session: AsyncSession, lobby_id: int) -> Lobby | None:
    """The lobby row, locked until the transaction ends (SQLite: BEGIN IMMEDIATE already holds the lock)."""
    result = await session.execute(select(Lobby).where(col(Lobby.id) == lobby_id).with_for_update())
    return result.scalar_one_or_none()


async def get_membership(session: AsyncSession, lobby_id: int, user_id: int) -> LobbyMember | None:
    result = await session.execute(
        select(LobbyMember).where(col(LobbyMember.lobby_id) == lobby_id, col(LobbyMember.user_id) == user_id)
    )
    return result.scalar_one_or_none()


async def count_active_owned(session: AsyncSession, owner_id: int) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(Lobby)
        .where(col(Lobby.owner_id) == owner_id, col(Lobby.status).in_(ACTIVE_STATUSES))
    )
    return int(result.scalar_one())


async def successor(session: AsyncSession, lobby_id: int) -> LobbyMember | None:
    """Who inherits a lobby: the longest-standing moderator, else the longest-standing member."""
    moderator_first = (col(LobbyMember.role) != LobbyRole.MODERATOR).asc()
    result = await session.execute(
        select(LobbyMember)
        .where(col(LobbyMember.lobby_id) == lobby_id, col(LobbyMember.role) != LobbyRole.OWNER)
        .order_by(moderator_first, col(LobbyMember.joined_at), col(LobbyMember.id))
        .limit(1)
    )
    return result.scalar_one_or_none()


async def remove_membership(session: AsyncSession, member: LobbyMember, lobby: Lobby) -> None:
    await session.delete(member)
    lobby.participant_count -= 1
    if member.is_ready:
        lobby.ready_count -= 1


async def active_ban(session: AsyncSession, lobby_id: int, user_id: int, now: datetime) -> LobbyBan | None:
    result = await session.execute(
        select(LobbyBan).where(
            col(LobbyBan.lobby_id) == lobby_id,
            col(LobbyBan.user_id) == user_id,
            or_(col(LobbyBan.expires_at).is_(None), col(LobbyBan.expires_at) > now),
        )
    )
    return result.scalar_one_or_none()


async def delete_ban(session: AsyncSession, lobby_id: int, user_id: int) -> None:
    await session.execute(
        delete(LobbyBan).where(col(LobbyBan.lobby_id) == lobby_id, col(LobbyBan.user_id) == user_id)
    )


async def set_tags(session: AsyncSession, lobby: Lobby, tags: list[str]) -> None:
    """The lobby's tags, on its row (to read) and in lobby_tags (to filter), kept equal here."""
    assert lobby.id is not None
    lobby.tags = list(tags)
    await session.execute(delete(LobbyTag).where(col(LobbyTag.lobby_id) == lobby.id))
    session.add_all(LobbyTag(lobby_id=lobby.id, tag=tag) for tag in tags)


def log(
    session: AsyncSession,
    lobby_id: int,
    kind: str,
    *,
    actor_id: int | None,
    target_id: int | None = None,
    reason: str | None = None,
) -> None:
    session.add(
        LobbyLogEntry(lobby_id=lobby_id, kind=kind, actor_id=actor_id, target_id=target_id, reason=reason)
    )


async def memberships_of_user(session: AsyncSession, user_id: int) -> list[LobbyMember]:
    result = await session.execute(
        select(LobbyMember)
        .join(Lobby, col(Lobby.id) == col(LobbyMember.lobby_id))
        .where(col(LobbyMember.user_id) == user_id, col(Lobby.status).in_(ACTIVE_STATUSES))
        .order_by(col(LobbyMember.lobby_id))
    )
    return list(result.scalars())


# Batched reads for the DataLoaders: one query per batch, whatever its size.


async def members_by_lobby(session: AsyncSession, lobby_ids: Sequence[int]) -> dict[int, list[LobbyMember]]:
    result = await session.execute(
        select(LobbyMember)
        .where(col(LobbyMember.lobby_id).in_(lobby_ids))
        .order_by(col(LobbyMember.lobby_id), col(LobbyMember.joined_at), col(LobbyMember.id))
    )
    grouped: dict[int, list[LobbyMember]] = {lobby_id: [] for lobby_id in lobby_ids}
    for member in result.scalars():
        grouped[member.lobby_id].append(member)
    return grouped


async def roles_of_user(session: AsyncSession, user_id: int, lobby_ids: Sequence[int]) -> dict[int, str]:
    result = await session.execute(
        select(col(LobbyMember.lobby_id), col(LobbyMember.role)).where(
            col(LobbyMember.user_id) == user_id, col(LobbyMember.lobby_id).in_(lobby_ids)
        )
    )
    return {row.lobby_id: row.role for row in result}


async def active_bans_by_lobby(
    session: AsyncSession, lobby_ids: Sequence[int], now: datetime
) -> dict[int, list[LobbyBan]]:
    result = await session.execute(
        select(LobbyBan)
        .where(
            col(LobbyBan.lobby_id).in_(lobby_ids),
            or_(col(LobbyBan.expires_at).is_(None), col(LobbyBan.expires_at) > now),
        )
        .order_by(col(LobbyBan.lobby_id), col(LobbyBan.created_at), col(LobbyBan.id))
    )
    grouped: dict[int, list[LobbyBan]] = {lobby_id: [] for lobby_id in lobby_ids}
    for ban in result.scalars():
        grouped[ban.lobby_id].append(ban)
    return grouped


async def users_by_id(session: AsyncSession, user_ids: Sequence[int]) -> dict[int, User]:
    result = await session.execute(select(User).where(col(User.id).in_(user_ids)))
    return {user.id: user for user in result.scalars() if user.id is not None}


async def lobbies_by_id(session: AsyncSession, lobby_ids: Sequence[int]) -> dict[int, Lobby]:
    result = await session.execute(select(Lobby).where(col(Lobby.id).in_(lobby_ids)))
    return {lobby.id: lobby for lobby in result.scalars() if lobby.id is not None}


# Browsing.


@dataclass(frozen=True, slots=True)
class LobbyQuery:
    viewer_id: int
    viewer_is_staff: bool
    statuses: tuple[str, ...]
    is_public: bool | None
    search: str | None
    tags: tuple[str, ...] = ()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A LobbyQuery's shape: whether it filters on is_public, on a search, how many tags, and staff
# or not. Statements are built once per shape with their values as bound parameters: building
# one and computing its cache key took a quarter of a millisecond, on every list request.
_Shape = tuple[bool, bool, int, bool]


def _shape(query: LobbyQuery) -> _Shape:
    return (query.is_public is not None, bool(query.search), len(query.tags), query.viewer_is_staff)


def _filter_values(query: LobbyQuery) -> dict[str, Any]:
    """The bound values of `_filtered(*_shape(query))`."""
    values: dict[str, Any] = {"statuses": list(query.statuses)}
    if query.is_public is not None:
        values["is_public"] = query.is_public
    if query.search:
        values["search"] = f"%{_escape_like(query.search.lower())}%"
    for index, tag in enumerate(query.tags):
        values[f"tag_{index}"] = tag
    if not query.viewer_is_staff:
        values["viewer_id"] = query.viewer_id
    return values


def _filtered(public: bool, search: bool, tags: int, staff: bool) -> Select[Lobby]:
    """The lobbies a LobbyQuery of this shape selects; its values are `_filter_values`."""
    statement = select(Lobby).where(col(Lobby.status).in_(bindparam("statuses", expanding=True)))
    if public:
        statement = statement.where(col(Lobby.is_public) == bindparam("is_public"))
    if search:
        statement = statement.where(func.lower(col(Lobby.name)).like(bindparam("search"), escape="\\"))
    for index in range(tags):
        # One semi-join per tag on lobby_tags' primary key (lobby_id, tag) or its (tag, lobby_id)
        # index: the planner walks whichever side is smaller, keyset order intact.
        carries = select(col(LobbyTag.lobby_id)).where(
            col(LobbyTag.lobby_id) == col(Lobby.id), col(LobbyTag.tag) == bindparam(f"tag_{index}")
        )
        statement = statement.where(carries.exists())
    if not staff:
        mine = select(col(LobbyMember.lobby_id)).where(col(LobbyMember.user_id) == bindparam("viewer_id"))
        statement = statement.where(or_(col(Lobby.is_public), col(Lobby.id).in_(mine)))
    return statement


@lru_cache(maxsize=256)
def _count_statement(*shape: Any) -> Select[int]:
    subquery = _filtered(*shape).with_only_columns(col(Lobby.id)).subquery()
    return select(func.count()).select_from(subquery)


async def count_lobbies(session: AsyncSession, query: LobbyQuery) -> int:
    result = await session.execute(_count_statement(*_shape(query)), _filter_values(query))
    return int(result.scalar_one())


async def log_entries(
    session: AsyncSession, lobby_id: int, after_id: int | None, limit: int
) -> list[LobbyLogEntry]:
    statement = select(LobbyLogEntry).where(col(LobbyLogEntry.lobby_id) == lobby_id)
    if after_id is not None:
        statement = statement.where(col(LobbyLogEntry.id) > after_id)
    result = await session.execute(statement.order_by(col(LobbyLogEntry.id)).limit(limit))
    return list(result.scalars())


class LobbyListing(NamedTuple):
    """One lobby of a list page, with what the page shows of its owner: one row of `ordered_page`."""

    id: int
    name: str
    owner_id: int
    is_public: bool
    has_password: bool
    max_participants: int
    participant_count: int
    status: str
    created_at: datetime
    started_at: datetime | None
    closed_at: datetime | None
    slow_mode_seconds: int
    blocked_terms: list[str]
    is_locked: bool
    ready_count: int
    tags: list[str]
    owner_username: str
    owner_email: str
    owner_is_premium: bool
    owner_is_staff: bool
    owner_created_at: datetime
    name_key: str  # the NAME order's key


_NAME_KEY = func.lower(col(Lobby.name))
# The page and its owners come in one SELECT, as plain columns: no ORM instances to build.
_LISTING_SOURCES: dict[str, Any] = {
    "id": col(Lobby.id),
    "name": col(Lobby.name),
    "owner_id": col(Lobby.owner_id),
    "is_public": col(Lobby.is_public),
    "has_password": col(Lobby.password_hash).is_not(None),
    "max_participants": col(Lobby.max_participants),
    "participant_count": col(Lobby.participant_count),
    "status": col(Lobby.status),
    "created_at": col(Lobby.created_at),
    "started_at": col(Lobby.started_at),
    "closed_at": col(Lobby.closed_at),
    "slow_mode_seconds": col(Lobby.slow_mode_seconds),
    "blocked_terms": col(Lobby.blocked_terms),
    "is_locked": col(Lobby.is_locked),
    "ready_count": col(Lobby.ready_count),
    "tags": col(Lobby.tags),
    "owner_username": col(User.username),
    "owner_email": col(User.email),
    "owner_is_premium": col(User.is_premium),
    "owner_is_staff": col(User.is_staff),
    "owner_created_at": col(User.created_at),
    "name_key": _NAME_KEY,
}
LISTING_COLUMNS = tuple(_LISTING_SOURCES[name].label(name) for name in LobbyListing._fields)


async def lobby_page(
    session: AsyncSession, query: LobbyQuery, order: str, after: list[Any] | None, limit: int
) -> list[LobbyListing]:
    """One page in `order` after a keyset position; ties always break newest (highest id) first."""
    values = _filter_values(query)
    values["limit"] = limit
    if after is not None:
        values["after_id"] = after[-1]
        if order in ("NAME", "MOST_PARTICIPANTS"):
            values["after_key"] = after[0]
    statement = ordered_page(order, after is not None, *_shape(query))
    result = await session.execute(statement, values)
    return [LobbyListing._make(row) for row in result]


@lru_cache(maxsize=256)
def ordered_page(order: str, keyed: bool, *shape: Any) -> Select[Any]:
    """The page statement of one order and query shape; its rows have the columns of `LobbyListing`.

    Bound values: the filter's (`_filter_values`), `limit`, and after a keyset position
    `after_id` with, for NAME and MOST_PARTICIPANTS, `after_key`.
    """
    name_key = _NAME_KEY
    statement = (
        _filtered(*shape)
        .with_only_columns(*LISTING_COLUMNS)
        .join_from(Lobby, User, col(User.id) == col(Lobby.owner_id))
    )
    newest = col(Lobby.id).desc()
    after_id = col(Lobby.id) < bindparam("after_id")
    if order == "NAME":
        statement = statement.order_by(name_key.asc(), newest)
        if keyed:
            after_key: Any = bindparam("after_key", type_=String)
            statement = statement.where(or_(name_key > after_key, and_(name_key == after_key, after_id)))
    elif order == "MOST_PARTICIPANTS":
        count = col(Lobby.participant_count)
        statement = statement.order_by(count.desc(), newest)
        if keyed:
            after_key = bindparam("after_key", type_=Integer)
            statement = statement.where(or_(count < after_key, and_(count == after_key, after_id)))
    else:
        statement = statement.order_by(newest)
        if keyed:
            statement = statement.where(after_id)
    return statement.limit(bindparam("limit", type_=Integer))
