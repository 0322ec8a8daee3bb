"""Lobby lifecycle: create, update, start and end a game, close."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat import validation
from premiumchat.auth import passwords
from premiumchat.db import lobbies as queries
from premiumchat.db.models import Lobby, LobbyMember, LobbyRole, LobbyStatus, LogKind, User
from premiumchat.errors import BadUserInput, Conflict, LobbyNotOpen, PremiumRequired
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.services import ready
from premiumchat.services.access import open_lobby, owner_of
from premiumchat.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class LobbyChanges:
    """The fields of updateLobby; None leaves a field as it is."""

    name: str | None = None
    is_public: bool | None = None
    max_participants: int | None = None
    password: str | None = None
    clear_password: bool | None = None
    slow_mode_seconds: int | None = None
    blocked_terms: list[str] | None = None

    def only_blocked_terms(self) -> bool:
        """Moderators may change this one setting and no other."""
        return self.blocked_terms is not None and self == LobbyChanges(blocked_terms=self.blocked_terms)

    is_locked: bool | None = None
    tags: list[str] | None = None


async def create(
    res: Resources,
    actor: User,
    *,
    name: str,
    is_public: bool,
    max_participants: int,
    password: str | None,
    slow_mode_seconds: int = 0,
    tags: list[str] | None = None,
) -> Lobby:
    if not (actor.is_premium or actor.is_staff):
        raise PremiumRequired("Only premium users can create lobbies.")
    name = validation.lobby_name(name)
    validation.max_participants(max_participants)
    validation.slow_mode_seconds(slow_mode_seconds)
    tag_list = validation.tags(tags or [])
    password_hash = None
    if password:  # an empty password field means no password
        password_hash = await passwords.hash_password(validation.lobby_password(password))
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        # The owner's row lock serialises their concurrent creates, so the limit holds.
        await session.execute(select(col(User.id)).where(col(User.id) == actor.id).with_for_update())
        assert actor.id is not None
        limit = res.settings.max_lobbies_per_owner
        if await queries.count_active_owned(session, actor.id) >= limit:
            raise Conflict(f"You already have {limit} open lobbies: close one before creating another.")
        lobby = Lobby(
            name=name,
            owner_id=actor.id,
            is_public=is_public,
            password_hash=password_hash,
            max_participants=max_participants,
            participant_count=1,
            slow_mode_seconds=slow_mode_seconds,
        )
        session.add(lobby)
        await session.flush()
        assert lobby.id is not None
        await queries.set_tags(session, lobby, tag_list)
        session.add(LobbyMember(lobby_id=lobby.id, user_id=actor.id, role=LobbyRole.OWNER))
        queries.log(session, lobby.id, LogKind.CREATED, actor_id=actor.id)
        batch.lobby_updated(lobby, actor, to_subscribers=False)
    await batch.publish(res.bus)
    return lobby


async def update(res: Resources, actor: User, lobby_id: int, changes: LobbyChanges) -> Lobby:
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        if changes.only_blocked_terms():
            access.require_moderator("change its blocked terms")
        else:
            access.require_owner_or_staff("change its settings")
        access.require_writable()
        lobby = access.lobby
        was_public = lobby.is_public
        if changes.name is not None:
            lobby.name = validation.lobby_name(changes.name)
        if changes.max_participants is not None:
            validation.max_participants(changes.max_participants)
            if changes.max_participants < lobby.participant_count:
                raise BadUserInput(
                    "maxParticipants",
                    f"The lobby has {lobby.participant_count} members: maxParticipants cannot be lower.",
                )
            lobby.max_participants = changes.max_participants
        if changes.is_public is not None:
            lobby.is_public = changes.is_public
        if changes.clear_password:
            lobby.password_hash = None
        elif changes.password and lobby.password_hash is not None:
            # The contract: a password given to a lobby without one is ignored.
            lobby.password_hash = await passwords.hash_password(validation.lobby_password(changes.password))
        if changes.slow_mode_seconds is not None:
            lobby.slow_mode_seconds = validation.slow_mode_seconds(changes.slow_mode_seconds)
        if changes.blocked_terms is not None:
            lobby.blocked_terms = validation.blocked_terms(changes.blocked_terms)
        if changes.is_locked is not None:
            lobby.is_locked = changes.is_locked
        if changes.tags is not None:
            await queries.set_tags(session, lobby, validation.tags(changes.tags))
        queries.log(session, access.lobby_id, LogKind.UPDATED, actor_id=access.actor_id)
        batch.lobby_updated(lobby, await owner_of(session, lobby), was_public=was_public)
    await batch.publish(res.bus)
    return lobby


async def _lifecycle(
    res: Resources,
    actor: User,
    lobby_id: int,
    action: str,
    kind: LogKind,
    apply: Callable[[Lobby], None],
    then: Callable[[AsyncSession, Lobby, EventBatch], Awaitable[None]] | None = None,
) -> Lobby:
    """Owner or staff change the lobby's status: one log entry, one LobbyUpdatedEvent."""
    batch = EventBatch()
    async with res.sessions() as session, session.begin():
        access = await open_lobby(session, lobby_id, actor)
        access.require_owner_or_staff(action)
        access.require_writable()
        apply(access.lobby)
        if then is not None:
            await then(session, access.lobby, batch)
        queries.log(session, access.lobby_id, kind, actor_id=access.actor_id)
        batch.lobby_updated(access.lobby, await owner_of(session, access.lobby))
    await batch.publish(res.bus)
    return access.lobby


def _start(lobby: Lobby) -> None:
    if lobby.status != LobbyStatus.OPEN:
        raise LobbyNotOpen("The game can only start in an OPEN lobby.")
    lobby.status = LobbyStatus.IN_GAME
    lobby.started_at = utcnow()


def _end(lobby: Lobby) -> None:
    if lobby.status != LobbyStatus.IN_GAME:
        raise Conflict("No game is running in this lobby.")
    lobby.status = LobbyStatus.OPEN


def _close(lobby: Lobby) -> None:
    lobby.status = LobbyStatus.CLOSED
    lobby.closed_at = utcnow()


async def start_game(res: Resources, actor: User, lobby_id: int) -> Lobby:
    return await _lifecycle(res, actor, lobby_id, "start the game", LogKind.GAME_STARTED, _start)


async def end_game(res: Resources, actor: User, lobby_id: int) -> Lobby:
    return await _lifecycle(res, actor, lobby_id, "end the game", LogKind.GAME_ENDED, _end, ready.reset)


async def close(res: Resources, actor: User, lobby_id: int) -> Lobby:
    return await _lifecycle(res, actor, lobby_id, "close it", LogKind.CLOSED, _close)
