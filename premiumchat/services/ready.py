"""The ready check: members mark themselves ready while the lobby is OPEN; endGame resets it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat.db import lobbies as queries
from premiumchat.db.models import Lobby, LobbyMember, LobbyStatus, User
from premiumchat.errors import Forbidden, LobbyNotOpen
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services.access import open_lobby, owner_of


async def set_ready(res: Resources, actor: User, lobby_id: int, is_ready: bool) -> LobbyMember:
    """A member sets their own flag; a change sends MemberUpdatedEvent (setting it again sends nothing)."""
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        member = access.membership
        if member is None:
            raise Forbidden("Only members of a lobby mark themselves ready.")
        if access.lobby.status != LobbyStatus.OPEN:
            raise LobbyNotOpen("The ready check runs while the lobby is OPEN.")
        if member.is_ready != is_ready:
            member.is_ready = is_ready
            # Under the lobby's row lock, like participant_count.
            access.lobby.ready_count += 1 if is_ready else -1
            batch.member_updated(member, actor)
            # The room list shows readyCount too.
            batch.lobby_updated(access.lobby, await owner_of(session, access.lobby), to_subscribers=False)
    await batch.publish(res.bus)
    return member


async def reset(session: AsyncSession, lobby: Lobby, batch: EventBatch) -> None:
    """Everyone back to not ready (endGame), one MemberUpdatedEvent per member who was ready."""
    assert lobby.id is not None
    result = await session.execute(
        select(LobbyMember).where(col(LobbyMember.lobby_id) == lobby.id, col(LobbyMember.is_ready))
    )
    members = list(result.scalars())
    users = await queries.users_by_id(session, [member.user_id for member in members])
    for member in members:
        member.is_ready = False
        batch.member_updated(member, users[member.user_id])
    lobby.ready_count = 0
