"""A model of who may do and see what in the lobbies, for the randomized authorization test.

It follows the contract (docs: /work/shared/API.md, "Rules of the domain" and "The fine print"): the
outcome each operation must have (None for success, else the error code, in the contract's check
order: existence/visibility, permission, state), and the lobby events a successful one publishes to
the lobby's subscribers, as signatures that `signature()` also computes from received events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OWNER, MODERATOR, MEMBER = "OWNER", "MODERATOR", "MEMBER"

Signature = tuple[str, ...]


@dataclass
class Person:
    id: str
    username: str
    premium: bool = False
    staff: bool = False


@dataclass
class LobbyState:
    id: str
    kind: str  # "public", "private" or "password"
    is_public: bool
    password: str | None
    max_participants: int
    owner: str
    # user id -> role, in order of joining (the owner first): "longest-standing" is this order.
    members: dict[str, str] = field(default_factory=dict)
    bans: set[str] = field(default_factory=set)
    closed: bool = False
    messages: list[str] = field(default_factory=list)


class World:
    def __init__(self, people: list[Person]) -> None:
        self.people = {person.id: person for person in people}
        self.lobbies: dict[str, LobbyState] = {}

    # Who may see and follow what.

    def staff(self, user: str) -> bool:
        return self.people[user].staff

    def visible(self, user: str, lobby: LobbyState) -> bool:
        """`lobby(id:)` is not null; writes do not answer NOT_FOUND."""
        return lobby.is_public or user in lobby.members or self.staff(user)

    def reads(self, user: str, lobby: LobbyState) -> bool:
        """Members and staff: members, onlineUsers, messages, lobbyEvents."""
        return user in lobby.members or self.staff(user)

    def entitled(self, user: str, lobby: LobbyState) -> bool:
        """May hold a lobbyEvents subscription now."""
        return not lobby.closed and self.reads(user, lobby)

    # Outcomes.

    def _moderates(self, user: str, lobby: LobbyState) -> bool:
        return self.staff(user) or lobby.members.get(user) in (OWNER, MODERATOR)

    def _act_on(self, actor: str, lobby: LobbyState, target: str) -> str | None:
        if not self._moderates(actor, lobby) or target in (actor, lobby.owner):
            return "FORBIDDEN"
        acting_as_moderator = not self.staff(actor) and lobby.members.get(actor) == MODERATOR
        if acting_as_moderator and lobby.members.get(target) not in (None, MEMBER):
            return "FORBIDDEN"
        return None

    def join(self, user: str, lobby: LobbyState, password: str | None) -> str | None:
        if lobby.closed:
            return "LOBBY_NOT_OPEN"
        if user in lobby.members:
            return "CONFLICT"
        if user in lobby.bans:
            return "BANNED"
        if lobby.password is not None and password != lobby.password:
            return "WRONG_PASSWORD"
        if len(lobby.members) >= lobby.max_participants:
            return "LOBBY_FULL"
        return None

    def leave(self, user: str, lobby: LobbyState) -> str | None:
        if not self.visible(user, lobby):
            return "NOT_FOUND"
        if user not in lobby.members:
            return "FORBIDDEN"
        return "LOBBY_NOT_OPEN" if lobby.closed else None

    def kick(self, actor: str, lobby: LobbyState, target: str) -> str | None:
        if not self.visible(actor, lobby) or target not in lobby.members:
            return "NOT_FOUND"
        refused = self._act_on(actor, lobby, target)
        if refused:
            return refused
        return "LOBBY_NOT_OPEN" if lobby.closed else None

    def ban(self, actor: str, lobby: LobbyState, target: str) -> str | None:
        if not self.visible(actor, lobby):
            return "NOT_FOUND"
        refused = self._act_on(actor, lobby, target)
        if refused:
            return refused
        return "LOBBY_NOT_OPEN" if lobby.closed else None

    def unban(self, actor: str, lobby: LobbyState, target: str) -> str | None:
        if not self.visible(actor, lobby):
            return "NOT_FOUND"
        if not self._moderates(actor, lobby):
            return "FORBIDDEN"
        if lobby.closed:
            return "LOBBY_NOT_OPEN"
        return None if target in lobby.bans else "NOT_FOUND"

    def set_role(self, actor: str, lobby: LobbyState, target: str, *, appoint: bool) -> str | None:
        if not self.visible(actor, lobby) or target not in lobby.members:
            return "NOT_FOUND"
        if not (self.staff(actor) or lobby.members.get(actor) == OWNER):
            return "FORBIDDEN"
        refused = self._act_on(actor, lobby, target)
        if refused:
            return refused
        if lobby.closed:
            return "LOBBY_NOT_OPEN"
        if (lobby.members[target] == MODERATOR) == appoint:
            return "CONFLICT"
        return None

    def close(self, actor: str, lobby: LobbyState) -> str | None:
        if not self.visible(actor, lobby):
            return "NOT_FOUND"
        if not (self.staff(actor) or lobby.owner == actor):
            return "FORBIDDEN"
        return "LOBBY_NOT_OPEN" if lobby.closed else None

    def send(self, user: str, lobby: LobbyState) -> str | None:
        if not self.visible(user, lobby):
            return "NOT_FOUND"
        if user not in lobby.members:
            return "FORBIDDEN"
        return "LOBBY_NOT_OPEN" if lobby.closed else None

    def typing(self, user: str, lobby: LobbyState) -> str | None:
        if not self.visible(user, lobby):
            return "NOT_FOUND"
        if not self.reads(user, lobby):
            return "FORBIDDEN"
        return "LOBBY_NOT_OPEN" if lobby.closed else None

    def history(self, user: str, lobby: LobbyState) -> str | None:
        if not self.visible(user, lobby):
            return "NOT_FOUND"
        return None if self.reads(user, lobby) else "FORBIDDEN"

    def subscribe(self, user: str, lobby: LobbyState) -> str | None:
        if not self.visible(user, lobby):
            return "NOT_FOUND"
        if not self.reads(user, lobby):
            return "FORBIDDEN"
        return "LOBBY_NOT_OPEN" if lobby.closed else None

    # Effects: each returns the signatures of the events the lobby's subscribers get, in order.

    def joined(self, user: str, lobby: LobbyState) -> list[Signature]:
        lobby.members[user] = MEMBER
        return [("joined", user)]

    def _remove(self, lobby: LobbyState, user: str) -> list[Signature]:
        role = lobby.members.pop(user)
        if role != OWNER:
            return []
        heirs = [u for u, r in lobby.members.items() if r == MODERATOR] or list(lobby.members)
        if not heirs:
            lobby.closed = True
            return [("closed",)]
        lobby.owner = heirs[0]
        lobby.members[heirs[0]] = OWNER
        return []

    def left(self, user: str, lobby: LobbyState) -> list[Signature]:
        return [("left", user), *self._remove(lobby, user)]

    def kicked(self, target: str, lobby: LobbyState) -> list[Signature]:
        return [("mod", "KICK", target), *self._remove(lobby, target)]

    def banned(self, target: str, lobby: LobbyState) -> list[Signature]:
        lobby.bans.add(target)
        return [("mod", "BAN", target), *(self._remove(lobby, target) if target in lobby.members else [])]

    def unbanned(self, target: str, lobby: LobbyState) -> list[Signature]:
        lobby.bans.discard(target)
        return [("mod", "UNBAN", target)]

    def role_set(self, target: str, lobby: LobbyState, *, appoint: bool) -> list[Signature]:
        lobby.members[target] = MODERATOR if appoint else MEMBER
        return [("mod", "MODERATOR_ADDED" if appoint else "MODERATOR_REMOVED", target)]

    def closed(self, lobby: LobbyState) -> list[Signature]:
        lobby.closed = True
        return [("closed",)]


def signature(event: dict[str, Any]) -> Signature | None:
    """What the model predicts of a received lobby event; None for the events it does not track
    (presence, typing stopped, lobby updates other than closing)."""
    kind = event["__typename"]
    if kind == "ChatMessageEvent":
        return ("msg", event["message"]["id"])
    if kind == "TypingEvent":
        return ("typing", event["user"]["id"]) if event["isTyping"] else None
    if kind == "ModerationEvent":
        return ("mod", event["action"], event["target"]["id"])
    if kind == "MemberJoinedEvent":
        return ("joined", event["member"]["user"]["id"])
    if kind == "MemberLeftEvent":
        return ("left", event["user"]["id"])
    if kind == "LobbyUpdatedEvent" and event["lobby"]["status"] == "CLOSED":
        return ("closed",)
    return None


def ends_stream(sig: Signature, user: str) -> bool:
    """After this event the user's subscriptions to the lobby complete."""
    if sig == ("closed",):
        return True
    if sig[0] == "mod":
        return sig[1] in ("KICK", "BAN") and sig[2] == user
    return sig == ("left", user)
