"""Who may do what in a lobby: loading a lobby for a write, and the role rules."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from premiumchat.db import lobbies as queries
from premiumchat.db.models import Lobby, LobbyMember, LobbyRole, LobbyStatus, User
from premiumchat.errors import Forbidden, LobbyNotOpen, NotFound

NO_SUCH_LOBBY = "No such lobby."


@dataclass(slots=True)
class LobbyAccess:
    """A locked lobby, the caller, and the caller's membership of it."""

    lobby: Lobby
    actor: User
    membership: LobbyMember | None

    @property
    def lobby_id(self) -> int:
        assert self.lobby.id is not None
        return self.lobby.id

    @property
    def actor_id(self) -> int:
        assert self.actor.id is not None
        return self.actor.id

    @property
    def role(self) -> str | None:
        return self.membership.role if self.membership else None

    def require_owner_or_staff(self, action: str) -> None:
        if not (self.actor.is_staff or self.role == LobbyRole.OWNER):
            raise Forbidden(f"Only the lobby's owner (or staff) can {action}.")

    def require_moderator(self, action: str) -> None:
        if not (self.actor.is_staff or self.role in (LobbyRole.OWNER, LobbyRole.MODERATOR)):
            raise Forbidden(f"Only the lobby's owner, its moderators (or staff) can {action}.")

    def require_may_act_on(self, target_id: int, target_role: str | None, action: str) -> None:
        """The moderation rules: never on oneself or the owner; a moderator only on plain members."""
        self.require_moderator(action)
        if target_id == self.actor_id:
            raise Forbidden(f"You cannot {action} yourself.")
        if target_id == self.lobby.owner_id:
            raise Forbidden(f"Nobody can {action} the lobby's owner.")
        if (
            not self.actor.is_staff
            and self.role == LobbyRole.MODERATOR
            and target_role
            not in (
                None,
                LobbyRole.MEMBER,
            )
        ):
            raise Forbidden(f"A moderator can only {action} plain members.")

    def require_writable(self) -> None:
        if self.lobby.status == LobbyStatus.CLOSED:
            raise LobbyNotOpen("This lobby is closed: nothing can be changed in it.")


def can_see(lobby: Lobby, viewer: User, is_member: bool) -> bool:
    return lobby.is_public or is_member or viewer.is_staff


async def open_lobby(
    session: AsyncSession, lobby_id: int, actor: User, *, by_id_only: bool = False
) -> LobbyAccess:
    """Lock a lobby for a write; a lobby the caller may not see does not exist for them.

    `by_id_only`: anyone may reach a private lobby by its id (to join it).
    """
    lobby = await queries.lock_lobby(session, lobby_id)
    if lobby is None:
        raise NotFound(NO_SUCH_LOBBY)
    assert actor.id is not None
    membership = await queries.get_membership(session, lobby_id, actor.id)
    if not by_id_only and not can_see(lobby, actor, membership is not None):
        raise NotFound(NO_SUCH_LOBBY)
    return LobbyAccess(lobby=lobby, actor=actor, membership=membership)


async def load_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


async def owner_of(session: AsyncSession, lobby: Lobby) -> User:
    owner = await session.get(User, lobby.owner_id)
    assert owner is not None
    return owner


async def lobby_and_role(session: AsyncSession, lobby_id: int, user: User) -> tuple[Lobby, str | None]:
    """The lobby as this user may see it, and their role in it; NOT_FOUND when invisible."""
    assert user.id is not None
    lobby = await session.get(Lobby, lobby_id)
    if lobby is None:
        raise NotFound(NO_SUCH_LOBBY)
    member = await queries.get_membership(session, lobby_id, user.id)
    if not can_see(lobby, user, member is not None):
        raise NotFound(NO_SUCH_LOBBY)
    return lobby, member.role if member else None
