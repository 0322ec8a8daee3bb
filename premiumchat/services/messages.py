"""Chat: sending (retry-safe, rate-limited), deleting, history and typing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from premiumchat import pagination, validation
from premiumchat.db import lobbies as lobby_queries
from premiumchat.db import messages as queries
from premiumchat.db.direct import DirectConnection
from premiumchat.db.models import LobbyRole, LobbyStatus, LogKind, Message, User
from premiumchat.errors import (
    BadUserInput,
    Forbidden,
    LobbyNotOpen,
    Muted,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services import accounts, chat_rules
from premiumchat.services.access import NO_SUCH_LOBBY, can_see, lobby_and_role
from premiumchat.services.browse import Page
from premiumchat.timeutil import utcnow

CLIENT_ID_RETRY_WINDOW = timedelta(hours=24)
# pg_advisory_lock(int, int): a key space of our own, then the lobby id.
ADVISORY_SPACE = 0x7063  # "pc"
DEFAULT_HISTORY_PAGE = 50
MESSAGE_CURSOR = "MSG"
TYPING_LIMIT, TYPING_WINDOW_SECONDS = 10, 5


async def send(
    res: Resources, actor: User, lobby_id: int, content: str, client_message_id: str | None
) -> Message:
    assert actor.id is not None
    return (await send_as(res, actor.id, lobby_id, content, client_message_id))[0]


async def send_as(
    res: Resources, user_id: int, lobby_id: int, content: str, client_message_id: str | None
) -> tuple[Message, User]:
    """Send as the account a verified token (or socket) names, and return it as read now.

    The account is read in the send's own transaction, with the lobby, the membership and
    any mute, in one query: a deleted or deactivated account is UNAUTHENTICATED, before
    any other check, as when the caller is read first. The caller validates the
    arguments before (see resolvers/messages.py).
    """
    content = validation.message_content(content)
    client_id = validation.client_message_id(client_message_id)
    try:
        async with _in_lobby_order(res, lobby_id) as db:
            return await _send(res, db, user_id, lobby_id, content, client_id)
    except IntegrityError:
        # A concurrent send with the same client id won the unique constraint: its message is the answer.
        if client_id is None:
            raise
        async with res.sessions() as session:
            existing = await queries.by_client_id(session, lobby_id, user_id, client_id)
            actor = await session.get(User, user_id) if existing is not None else None
        if existing is None or actor is None:
            raise
        return existing, actor


@asynccontextmanager
async def _in_lobby_order(res: Resources, lobby_id: int) -> AsyncIterator[DirectConnection]:
    """A transaction in which sends to one lobby run one at a time, from insert through publish.

    Ids are given at insert, events go out after commit: without this, two sends could
    publish in the opposite order of their ids. Within a process an asyncio lock orders
    them; across processes, a PostgreSQL advisory lock held on the connection through
    commit and publish (SQLite serves a single process), taken in the same round trip as
    BEGIN and released in the same one as a ROLLBACK, if any.

    The send runs its few statements straight on the driver (db/direct.py): the same
    statements and checks on both databases, without SQLAlchemy's per-query cost.
    """
    async with res.lobby_order.hold(lobby_id), res.engine.connect() as connection:
        db = await DirectConnection.of(connection)
        try:
            await db.begin(lock=(ADVISORY_SPACE, lobby_id))
            yield db
        finally:
            await db.end()


async def _send(
    res: Resources, db: DirectConnection, user_id: int, lobby_id: int, content: str, client_id: str | None
) -> tuple[Message, User]:
    settings = res.settings
    batch = EventBatch()
    now = utcnow()
    message = Message(
        lobby_id=lobby_id,
        sender_id=user_id,
        content=content,
        created_at=now,
        client_message_id=client_id,
    )
    # The checks of accounts.authenticate_user_id and access.lobby_and_role, in their order, on
    # one read; on PostgreSQL the same round trip inserts the message, which a refusal below
    # rolls back with the transaction (see db/messages.py).
    access = await queries.send_access(db, message, now)
    if access is None:
        raise Unauthenticated("Invalid or expired token: log in again.")
    actor = access.user
    if not actor.is_active:
        raise Unauthenticated(accounts.DEACTIVATED)
    lobby, role = access.lobby, access.role
    if lobby is None or not can_see(lobby, actor, role is not None):
        raise NotFound(NO_SUCH_LOBBY)
    if role is None:
        raise Forbidden("Only members of a lobby can send messages to it.")
    if lobby.status == LobbyStatus.CLOSED:
        raise LobbyNotOpen("This lobby is closed.")
    earlier = access.earlier  # read with the rest; None without a client id
    if earlier is not None and earlier.created_at > now - CLIENT_ID_RETRY_WINDOW:
        return earlier, actor  # a retry: nothing new, no event, no rate-limit cost
    if earlier is not None:
        assert earlier.id is not None
        await queries.release_client_id(db, earlier.id)
    # After the retry look-up: a retry returns its message whatever changed since.
    if access.muted:
        raise Muted(access.mute_expires_at)
    chat_rules.require_allowed_content(lobby, actor, role, content)
    # The row first, then the limit: only an accepted message may cost a hit, and a
    # concurrent retry with the same client id waits here for this one's outcome.
    if message.id is None:  # not inserted with the read (SQLite, or a client id just released)
        await queries.insert(db, message)
    # Slow mode first: its one hit can be taken back if the global limit refuses, the
    # global limit's cannot, so a refused message costs neither.
    slowed = await chat_rules.enter_slow_mode(res, lobby, actor, role)
    retry_after = await res.limiter.hit(
        "messages", str(actor.id), settings.rate_limit_messages, settings.rate_limit_window_seconds
    )
    if retry_after is not None:
        if slowed:
            await chat_rules.leave_slow_mode(res, lobby, actor)
        res.metrics.rate_limited_messages.inc()
        raise RateLimited(
            retry_after,
            f"Slow down: at most {settings.rate_limit_messages} messages every "
            f"{settings.rate_limit_window_seconds} s. Retry in {retry_after:.2f} s.",
        )
    batch.chat_message(message, actor)
    # Sending ends the typing: `isTyping: false` follows the message when the user was typing.
    stopped = EventBatch()
    stopped.typing(lobby_id, actor, is_typing=False, expires_at=None)
    await db.commit()
    await res.typing.stop_and_publish(res.bus, lobby_id, user_id, batch.items, stopped.items)
    res.metrics.messages_sent.inc()
    return message, actor


async def delete(res: Resources, actor: User, message_id: int) -> Message:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        message = await session.get(Message, message_id)
        if message is None:
            raise NotFound("No such message.")
        lobby, role = await lobby_and_role(session, message.lobby_id, actor)
        allowed = (
            message.sender_id == actor.id or actor.is_staff or role in (LobbyRole.OWNER, LobbyRole.MODERATOR)
        )
        if not allowed:
            raise Forbidden("Only the sender, the lobby's owner, its moderators and staff delete a message.")
        if lobby.status == LobbyStatus.CLOSED:
            raise LobbyNotOpen("This lobby is closed.")
        if not message.deleted:
            message.deleted = True
            message.deleted_at = utcnow()
            message.deleted_by_id = actor.id
            lobby_queries.log(
                session,
                message.lobby_id,
                LogKind.MESSAGE_DELETED,
                actor_id=actor.id,
                target_id=message.sender_id,
            )
            batch.message_deleted(message, actor)
    await batch.publish(res.bus)
    return message


async def history(
    res: Resources,
    viewer: User,
    lobby_id: int,
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Page[Message]:
    """Oldest to newest: `first`/`after` to catch up, `last`/`before` to scroll back (default: 50 newest)."""
    if first is not None and last is not None:
        raise BadUserInput("last", "Give `first` or `last`, not both.")
    forward = first is not None or (after is not None and last is None)
    size = pagination.page_size(
        first if forward else last, "first" if forward else "last", DEFAULT_HISTORY_PAGE
    )
    after_id = message_cursor_id(after, "after")
    before_id = message_cursor_id(before, "before")
    async with res.sessions() as session:
        _, role = await lobby_and_role(session, lobby_id, viewer)
        if role is None and not viewer.is_staff:
            raise Forbidden("Only members (and staff) read a lobby's messages.")
        if forward:
            rows = await queries.page_forward(session, lobby_id, after_id, size + 1)
            if before_id is not None:
                rows = [row for row in rows if row.id is not None and row.id < before_id]
            items, more = rows[:size], len(rows) > size
            has_next, has_previous = more, after_id is not None
        else:
            rows = await queries.page_backward(session, lobby_id, before_id, size + 1)
            if after_id is not None:
                rows = [row for row in rows if row.id is not None and row.id > after_id]
            more = len(rows) > size
            items = list(reversed(rows[:size]))
            has_next, has_previous = before_id is not None, more
    return Page(
        items=[(message_cursor(row), row) for row in items], has_next=has_next, has_previous=has_previous
    )


def message_cursor(message: Message) -> str:
    return pagination.encode_cursor(MESSAGE_CURSOR, message.id)


def message_cursor_id(cursor: str | None, field: str) -> int | None:
    """A message cursor; a bare message id is accepted too (what `since` may carry)."""
    if cursor is None:
        return None
    if cursor.isascii() and cursor.isdigit():
        return validation.object_id(cursor, field)
    return int(pagination.decode_cursor(cursor, MESSAGE_CURSOR, field, (int,))[0])


async def set_typing(res: Resources, actor: User, lobby_id: int, is_typing: bool) -> bool:
    assert actor.id is not None
    async with res.sessions() as session:
        lobby, role = await lobby_and_role(session, lobby_id, actor)
        if role is None and not actor.is_staff:
            raise Forbidden("Only members (and staff) of a lobby type in it.")
        if lobby.status == LobbyStatus.CLOSED:
            raise LobbyNotOpen("This lobby is closed.")
        await chat_rules.require_not_muted(session, lobby_id, actor.id, utcnow())
    # Its own, looser limit: typing indicators must not flood a lobby either.
    retry_after = await res.limiter.hit("typing", str(actor.id), TYPING_LIMIT, TYPING_WINDOW_SECONDS)
    if retry_after is not None:
        res.metrics.rate_limited_typing.inc()
        raise RateLimited(retry_after)
    ttl = res.settings.typing_ttl_seconds
    batch = EventBatch()
    if is_typing:
        await res.typing.start(lobby_id, actor.id, ttl)
        batch.typing(lobby_id, actor, is_typing=True, expires_at=utcnow() + timedelta(seconds=ttl))
    else:
        await res.typing.stop(lobby_id, actor.id)
        batch.typing(lobby_id, actor, is_typing=False, expires_at=None)
    await batch.publish(res.bus)
    return True
