"""Message reports: members report, owner, moderators and staff read and resolve them."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from premiumchat import pagination, validation
from premiumchat.db import lobbies as lobby_queries
from premiumchat.db import reports as queries
from premiumchat.db.models import LobbyRole, LogKind, Message, MessageReport, User
from premiumchat.errors import BadUserInput, Conflict, Forbidden, NotFound
from premiumchat.resources import Resources
from premiumchat.services.access import lobby_and_role, open_lobby
from premiumchat.services.browse import Page
from premiumchat.timeutil import utcnow

DEFAULT_REPORT_PAGE = 50
REPORT_CURSOR = "REPORT"
NO_SUCH_MESSAGE = "No such message."


async def report(res: Resources, actor: User, message_id: int, reason: str) -> MessageReport:
    try:
        async with res.sessions() as session, session.begin():
            message = await session.get(Message, message_id)
            if message is None:
                raise NotFound(NO_SUCH_MESSAGE)
            access = await open_lobby(session, message.lobby_id, actor)
            if access.membership is None:
                raise Forbidden("Only members of its lobby report a message.")
            if message.sender_id == access.actor_id:
                raise Forbidden("You cannot report your own message.")
            access.require_writable()
            reason = validation.report_reason(reason)
            row = MessageReport(
                message_id=message_id, lobby_id=access.lobby_id, reporter_id=access.actor_id, reason=reason
            )
            session.add(row)
            lobby_queries.log(
                session,
                access.lobby_id,
                LogKind.MESSAGE_REPORTED,
                actor_id=access.actor_id,
                target_id=message.sender_id,
                reason=reason,
            )
            # The partial unique index on open reports decides a race between two reports.
            await session.flush()
    except IntegrityError as error:
        raise Conflict("You already have an open report on this message.") from error
    return row


async def resolve(res: Resources, actor: User, report_id: int) -> MessageReport:
    """Owner, moderators and staff (the admin panel's "Resolve" too). A CLOSED lobby takes no
    writes, from staff neither: its reports stay as they are (LOBBY_NOT_OPEN), as for every write."""
    async with res.sessions() as session, session.begin():
        row = await session.get(MessageReport, report_id)
        if row is None:
            raise NotFound("No such report.")
        access = await open_lobby(session, row.lobby_id, actor)
        access.require_moderator("resolve reports")
        access.require_writable()
        # Re-read under the lobby's lock: a concurrent resolve has committed by now.
        await session.refresh(row)
        if row.resolved_at is not None:
            raise Conflict("This report is already resolved.")
        row.resolved_at, row.resolved_by_id = utcnow(), access.actor_id
        message = await session.get(Message, row.message_id)
        assert message is not None
        lobby_queries.log(
            session,
            access.lobby_id,
            LogKind.REPORT_RESOLVED,
            actor_id=access.actor_id,
            target_id=message.sender_id,
        )
    return row


async def reports_page(
    res: Resources,
    viewer: User,
    lobby_id: int | None,
    *,
    unresolved_only: bool,
    first: int | None,
    after: str | None,
) -> Page[MessageReport]:
    """Staff: every lobby's or one lobby's; owner and moderators: their lobby's. Newest first."""
    limit = pagination.page_size(first, "first", DEFAULT_REPORT_PAGE)
    before_id = (
        pagination.decode_cursor(after, REPORT_CURSOR, "after", (int,))[0] if after is not None else None
    )
    async with res.sessions() as session:
        if lobby_id is None:
            if not viewer.is_staff:
                raise BadUserInput("lobbyId", "Name the lobby whose reports you want (`lobbyId`).")
        else:
            _, role = await lobby_and_role(session, lobby_id, viewer)
            if not viewer.is_staff and role not in (LobbyRole.OWNER, LobbyRole.MODERATOR):
                raise Forbidden("Only the owner, moderators and staff read a lobby's reports.")
        rows = await queries.page(session, lobby_id, unresolved_only, before_id, limit + 1)
    items = [(pagination.encode_cursor(REPORT_CURSOR, row.id), row) for row in rows[:limit]]
    return Page(items=items, has_next=len(rows) > limit, has_previous=after is not None)
