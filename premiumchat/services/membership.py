"""Membership: joining and leaving, with ownership passing on and empty lobbies closing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from premiumchat.auth import passwords
from premiumchat.db import lobbies as queries
from premiumchat.db.models import Lobby, LobbyMember, LobbyRole, LobbyStatus, LogKind, User
from premiumchat.errors import (
    Banned,
    Conflict,
    Forbidden,
    LobbyFull,
    LobbyLocked,
    LobbyNotOpen,
    NotFound,
    WrongPassword,
)
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services.access import NO_SUCH_LOBBY, open_lobby, owner_of
from premiumchat.timeutil import utcnow


async def _verified_password_hash(res: Resources, lobby_id: int, password: str | None) -> str | None:
    """Check a lobby password before taking any lock: a hash costs tens of milliseconds.

    Returns the hash the password matched (None when it did not, or there is none); the join
    then admits the caller only if that is still the lobby's hash.
    """
    async with res.sessions() as session:
        lobby = await session.get(Lobby, lobby_id)
    if lobby is None:
        raise NotFound(NO_SUCH_LOBBY)
    if lobby.password_hash and password and await passwords.verify_password(lobby.password_hash, password):
        return lobby.password_hash
    return None


async def join(res: Resources, actor: User, lobby_id: int, password: str | None) -> Lobby:
    verified_hash = await _verified_password_hash(res, lobby_id, password)

    def password_ok(lobby: Lobby) -> bool:
        return lobby.password_hash is None or lobby.password_hash == verified_hash

    return await admit(res, actor, lobby_id, password_ok)


async def admit(
    res: Resources,
    actor: User,
    lobby_id: int,
    password_ok: Callable[[Lobby], bool],
    spend_invite: Callable[[AsyncSession], Awaitable[None]] | None = None,
) -> Lobby:
    """The one join path: every rule of joining, in one transaction under the lobby's row lock.

    `spend_invite` (joinByInvite) runs after every check has passed and before the membership
    is written, inside the same transaction: a join that fails uses nothing.
    """
    batch = EventBatch()
    try:
        async with res.sessions() as session, session.begin():
            access = await open_lobby(session, lobby_id, actor, by_id_only=True)
            lobby = access.lobby
            if lobby.status != LobbyStatus.OPEN:
                raise LobbyNotOpen("Only OPEN lobbies can be joined.")
            if access.membership is not None:
                raise Conflict("You are already a member of this lobby.")
            if lobby.is_locked:
                raise LobbyLocked()
            ban = await queries.active_ban(session, access.lobby_id, access.actor_id, utcnow())
            if ban is not None:
                raise Banned(ban.expires_at)
            if not password_ok(lobby):
                raise WrongPassword()
            # The lobby row is locked (FOR UPDATE; BEGIN IMMEDIATE on SQLite), so
            # concurrent joins see each other's count and capacity holds.
            if lobby.participant_count >= lobby.max_participants:
                raise LobbyFull(f"The lobby is full ({lobby.max_participants} members).")
            if spend_invite is not None:
                await spend_invite(session)
            member = LobbyMember(lobby_id=access.lobby_id, user_id=access.actor_id, role=LobbyRole.MEMBER)
            session.add(member)
            lobby.participant_count += 1
            queries.log(
                session, access.lobby_id, LogKind.JOINED, actor_id=access.actor_id, target_id=access.actor_id
            )
            await session.flush()
            batch.member_joined(member, actor)
            batch.lobby_updated(lobby, await owner_of(session, lobby), to_subscribers=False)
    except IntegrityError as error:
        # Only the (lobby, user) unique constraint can fire here: the same user joining twice at once.
        raise Conflict("You are already a member of this lobby.") from error
    await batch.publish(res.bus)
    return lobby


async def remove_member(
    session: AsyncSession,
    lobby: Lobby,
    member: LobbyMember,
    batch: EventBatch,
) -> None:
    """Take a member out; if it was the owner, pass the lobby on or close it when nobody is left.

    Adds the OWNER_CHANGED or CLOSED log entry and the lobby events; the caller logs why the
    member went (LEFT, KICKED, BANNED) and publishes its own event first.
    """
    assert lobby.id is not None
    await queries.remove_membership(session, member, lobby)
    await session.flush()
    if member.role != LobbyRole.OWNER:
        batch.lobby_updated(lobby, await owner_of(session, lobby), to_subscribers=False)
        return
    heir = await queries.successor(session, lobby.id)
    if heir is None:
        lobby.status = LobbyStatus.CLOSED
        lobby.closed_at = utcnow()
        queries.log(session, lobby.id, LogKind.CLOSED, actor_id=None)
    else:
        heir.role = LobbyRole.OWNER
        lobby.owner_id = heir.user_id
        queries.log(session, lobby.id, LogKind.OWNER_CHANGED, actor_id=None, target_id=heir.user_id)
    batch.lobby_updated(lobby, await owner_of(session, lobby))


async def leave(res: Resources, actor: User, lobby_id: int) -> bool:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        if access.membership is None:
            raise Forbidden("You are not a member of this lobby.")
        access.require_writable()
        queries.log(
            session, access.lobby_id, LogKind.LEFT, actor_id=access.actor_id, target_id=access.actor_id
        )
        batch.member_left(access.lobby_id, actor)
        await remove_member(session, access.lobby, access.membership, batch)
    await batch.publish(res.bus)
    return True


async def leave_every_lobby(session: AsyncSession, user: User, batch: EventBatch) -> None:
    """Take a user out of every open lobby, with the leave rules (for deactivation)."""
    assert user.id is not None
    for membership in await queries.memberships_of_user(session, user.id):
        lobby = await queries.lock_lobby(session, membership.lobby_id)
        assert lobby is not None
        queries.log(session, membership.lobby_id, LogKind.LEFT, actor_id=user.id, target_id=user.id)
        batch.member_left(membership.lobby_id, user)
        await remove_member(session, lobby, membership, batch)
