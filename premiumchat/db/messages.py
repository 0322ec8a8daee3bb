"""Queries on messages. They never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, and_, bindparam, func, inspect, null, or_, select, update
from sqlalchemy import insert as sa_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db import direct
from premiumchat.db.models import Lobby, LobbyMember, LobbyMute, Message, User

# What a send writes; the other columns start NULL.
_INSERTED = ("lobby_id", "sender_id", "content", "created_at", "deleted", "client_message_id")


async def by_client_id(
    session: AsyncSession, lobby_id: int, sender_id: int, client_id: str
) -> Message | None:
    result = await session.execute(
        select(Message).where(
            col(Message.lobby_id) == lobby_id,
            col(Message.sender_id) == sender_id,
            col(Message.client_message_id) == client_id,
        )
    )
    return result.scalar_one_or_none()


async def page_forward(
    session: AsyncSession, lobby_id: int, after_id: int | None, limit: int
) -> list[Message]:
    """Oldest first, after a message."""
    statement = select(Message).where(col(Message.lobby_id) == lobby_id)
    if after_id is not None:
        statement = statement.where(col(Message.id) > after_id)
    result = await session.execute(statement.order_by(col(Message.id)).limit(limit))
    return list(result.scalars())


async def page_backward(
    session: AsyncSession, lobby_id: int, before_id: int | None, limit: int
) -> list[Message]:
    """Newest first, before a message (the caller puts them back in order)."""
    statement = select(Message).where(col(Message.lobby_id) == lobby_id)
    if before_id is not None:
        statement = statement.where(col(Message.id) < before_id)
    result = await session.execute(statement.order_by(col(Message.id).desc()).limit(limit))
    return list(result.scalars())


async def count_after(session: AsyncSession, lobby_id: int, after_id: int, up_to: int) -> int:
    """How many messages follow `after_id`, counting at most `up_to` (enough to decide a replay)."""
    limited = (
        select(col(Message.id))
        .where(col(Message.lobby_id) == lobby_id, col(Message.id) > after_id)
        .limit(up_to)
        .subquery()
    )
    result = await session.execute(select(func.count()).select_from(limited))
    return int(result.scalar_one())


async def purge(
    session: AsyncSession, lobby_id: int, sender_id: int, since: datetime, deleted_by_id: int, now: datetime
) -> list[int]:
    """Soft-delete the sender's messages in the lobby created since then; the ids of those deleted now."""
    result = await session.execute(
        select(col(Message.id))
        .where(
            col(Message.lobby_id) == lobby_id,
            col(Message.sender_id) == sender_id,
            col(Message.created_at) >= since,
            col(Message.deleted).is_(False),
        )
        .order_by(col(Message.id))
        .with_for_update()
    )
    ids = [message_id for message_id in result.scalars() if message_id is not None]
    if ids:
        await session.execute(
            update(Message)
            .where(col(Message.id).in_(ids))
            .values(deleted=True, deleted_at=now, deleted_by_id=deleted_by_id)
        )
    return ids


# The send path runs straight on the driver (see db/direct.py): its statements are built once, here.
_users, _lobbies, _members, _mutes, _messages = (
    cast(Table, inspect(model).local_table) for model in (User, Lobby, LobbyMember, LobbyMute, Message)
)
# A message of the sender in the lobby with the same client id, sent earlier (a retry's original).
_earlier = _messages.alias("earlier")
_USER_KEYS = tuple(column.key for column in _users.c)
_LOBBY_KEYS = tuple(column.key for column in _lobbies.c)
_MESSAGE_KEYS = tuple(column.key for column in _messages.c)
_access_columns = (*_users.c, *_lobbies.c, _members.c.role, _mutes.c.id, _mutes.c.expires_at, *_earlier.c)
_lobby_id = bindparam("lobby_id", type_=_lobbies.c.id.type)
_user_id = bindparam("user_id", type_=_users.c.id.type)
_client_id = bindparam("client_id", type_=_earlier.c.client_message_id.type)
_now = bindparam("now", type_=_mutes.c.expires_at.type)
_access = (
    select(*_access_columns)
    .select_from(_users)
    .outerjoin(_lobbies, _lobbies.c.id == _lobby_id)
    .outerjoin(_members, and_(_members.c.lobby_id == _lobbies.c.id, _members.c.user_id == _users.c.id))
    .outerjoin(
        _mutes,
        and_(
            _mutes.c.lobby_id == _lobbies.c.id,
            _mutes.c.user_id == _users.c.id,
            or_(_mutes.c.expires_at.is_(None), _mutes.c.expires_at > _now),
        ),
    )
    .outerjoin(
        _earlier,
        and_(
            _earlier.c.lobby_id == _lobbies.c.id,
            _earlier.c.sender_id == _users.c.id,
            # NULL (no client id) matches nothing.
            _earlier.c.client_message_id == _client_id,
        ),
    )
    .where(_users.c.id == _user_id)
)
SEND_ACCESS = direct.Statement(_access, _access_columns)


def _access_then_insert() -> direct.Statement:
    """The access read, inserting the message in the same round trip (PostgreSQL: a CTE may write).

    The insert needs only what the statement itself needs: the user and the lobby exist (its
    foreign keys) and no earlier message holds the client id (its unique constraint). Every
    rule is the caller's to check on the row read; a refusal rolls the insert back with the
    transaction.
    """
    access = _access.cte("access")
    read = list(access.c)
    lobby_found = read[len(_USER_KEYS)]
    earlier_id = read[len(_USER_KEYS) + len(_LOBBY_KEYS) + 3]
    inserted = (
        sa_insert(_messages)
        .from_select(
            list(_INSERTED),
            select(
                _lobby_id,
                _user_id,
                bindparam("content", type_=_messages.c.content.type),
                bindparam("created_at", type_=_messages.c.created_at.type),
                bindparam("deleted", type_=_messages.c.deleted.type),
                _client_id,
            ).where(lobby_found.is_not(None), earlier_id.is_(None)),
        )
        .returning(_messages.c.id)
        .cte("inserted")
    )
    new_id = select(inserted.c.id).scalar_subquery()
    return direct.Statement(select(*read, new_id), (*_access_columns, _messages.c.id))


SEND_ACCESS_THEN_INSERT = _access_then_insert()
INSERT = direct.Statement(
    sa_insert(_messages)
    .values({key: bindparam(key, type_=_messages.c[key].type) for key in _INSERTED})
    .returning(_messages.c.id),
    (_messages.c.id,),
)
RELEASE_CLIENT_ID = direct.Statement(
    update(_messages)
    .where(_messages.c.id == bindparam("message_id", type_=_messages.c.id.type))
    .values(client_message_id=null()),
    (),
)


@dataclass(frozen=True, slots=True)
class SendAccess:
    """What a send checks, read in one query: the sender, the lobby, the sender's role, an active mute,
    and the sender's earlier message with the same client id."""

    user: User
    lobby: Lobby | None
    role: str | None
    muted: bool
    mute_expires_at: datetime | None
    earlier: Message | None


async def send_access(db: direct.DirectConnection, message: Message, now: datetime) -> SendAccess | None:
    """Account, lobby, membership, any active mute and a retry's original in one round trip.

    None: no such user. Where the database can (PostgreSQL), the same round trip inserts
    `message` tentatively and sets its id, unless the lobby does not exist or an earlier
    message holds its client id: the caller checks everything on what was read and rolls
    back on a refusal, and inserts the message itself when `message.id` is still None.
    """
    user_id, lobby_id, client_id = message.sender_id, message.lobby_id, message.client_message_id
    params = {"user_id": user_id, "lobby_id": lobby_id, "client_id": client_id, "now": now}
    if db.writes_in_cte:
        rows = await db.fetch(
            SEND_ACCESS_THEN_INSERT,
            **params,
            content=message.content,
            created_at=message.created_at,
            deleted=message.deleted,
        )
    else:
        rows = await db.fetch(SEND_ACCESS, **params)
    if not rows:
        return None
    row = rows[0]
    users_end = len(_USER_KEYS)
    lobbies_end = users_end + len(_LOBBY_KEYS)
    role, mute_id, mute_expires_at = row[lobbies_end : lobbies_end + 3]
    messages_end = lobbies_end + 3 + len(_MESSAGE_KEYS)
    earlier_values = row[lobbies_end + 3 : messages_end]
    if db.writes_in_cte:
        message.id = row[messages_end]
    return SendAccess(
        user=direct.load(User, _USER_KEYS, row[:users_end]),
        lobby=None if row[users_end] is None else direct.load(Lobby, _LOBBY_KEYS, row[users_end:lobbies_end]),
        role=role,
        muted=mute_id is not None,
        mute_expires_at=mute_expires_at,
        earlier=None if earlier_values[0] is None else direct.load(Message, _MESSAGE_KEYS, earlier_values),
    )


async def release_client_id(db: direct.DirectConnection, message_id: int) -> None:
    """Free an expired client id (older than the retry window) for reuse."""
    await db.fetch(RELEASE_CLIENT_ID, message_id=message_id)


async def insert(db: direct.DirectConnection, message: Message) -> None:
    """Insert a new message and set its id (one INSERT … RETURNING)."""
    rows = await db.fetch(INSERT, **{key: getattr(message, key) for key in _INSERTED})
    message.id = rows[0][0]
