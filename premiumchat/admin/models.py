"""Read models for the admin panel: the product's own tables, mapped once more with relationships.

The table models (db/models.py) carry no relationships, and the services need none. sqladmin
shows related rows (a lobby's owner, a message's sender) and searches across them through
relationships, so the panel maps the same `Table` objects to classes of its own, in a registry
of its own. Columns come from the tables, so a column added there appears here too. These
classes only read: every change the panel makes goes through the services.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, relationship
from sqlmodel import SQLModel

from premiumchat.db import models


def _table(model: type[SQLModel]) -> Table:
    return cast(Table, inspect(model).local_table)


USERS, LOBBIES, MESSAGES = _table(models.User), _table(models.Lobby), _table(models.Message)
BANS, LOG = _table(models.LobbyBan), _table(models.LobbyLogEntry)
MUTES, REPORTS = _table(models.LobbyMute), _table(models.MessageReport)


class AdminBase(DeclarativeBase):
    pass


class User(AdminBase):
    __table__ = USERS

    id: Mapped[int]
    username: Mapped[str]
    email: Mapped[str]
    is_premium: Mapped[bool]
    is_staff: Mapped[bool]
    is_active: Mapped[bool]
    created_at: Mapped[datetime]

    def __str__(self) -> str:
        return self.username


class Lobby(AdminBase):
    __table__ = LOBBIES

    id: Mapped[int]
    name: Mapped[str]
    owner_id: Mapped[int]
    status: Mapped[str]
    is_public: Mapped[bool]
    participant_count: Mapped[int]
    owner: Mapped[User] = relationship(User)
    # Every mute row, expired ones included: the lobby's page loads only the active ones.
    mutes: Mapped[list[LobbyMute]] = relationship(
        "LobbyMute", viewonly=True, order_by=MUTES.c.id, foreign_keys=[MUTES.c.lobby_id]
    )

    def __str__(self) -> str:
        return f"{self.name} (#{self.id})"


class Message(AdminBase):
    __table__ = MESSAGES

    id: Mapped[int]
    lobby_id: Mapped[int]
    sender_id: Mapped[int]
    content: Mapped[str]
    deleted: Mapped[bool]
    lobby: Mapped[Lobby] = relationship(Lobby)
    sender: Mapped[User] = relationship(User, foreign_keys=[MESSAGES.c.sender_id])
    deleted_by: Mapped[User | None] = relationship(User, foreign_keys=[MESSAGES.c.deleted_by_id])

    def __str__(self) -> str:
        return f"message #{self.id}"


class LobbyBan(AdminBase):
    __table__ = BANS

    id: Mapped[int]
    lobby_id: Mapped[int]
    user_id: Mapped[int]
    lobby: Mapped[Lobby] = relationship(Lobby)
    user: Mapped[User] = relationship(User, foreign_keys=[BANS.c.user_id])
    banned_by: Mapped[User] = relationship(User, foreign_keys=[BANS.c.banned_by_id])

    def __str__(self) -> str:
        return f"ban #{self.id}"


class LobbyLogEntry(AdminBase):
    __table__ = LOG

    id: Mapped[int]
    lobby_id: Mapped[int]
    kind: Mapped[str]
    actor_id: Mapped[int | None]
    lobby: Mapped[Lobby] = relationship(Lobby)
    actor: Mapped[User | None] = relationship(User, foreign_keys=[LOG.c.actor_id])
    target: Mapped[User | None] = relationship(User, foreign_keys=[LOG.c.target_id])

    def __str__(self) -> str:
        return f"log entry #{self.id}"


class LobbyMute(AdminBase):
    __table__ = MUTES

    id: Mapped[int]
    lobby_id: Mapped[int]
    user_id: Mapped[int]
    reason: Mapped[str | None]
    expires_at: Mapped[datetime | None]
    lobby: Mapped[Lobby] = relationship(Lobby, viewonly=True)
    user: Mapped[User] = relationship(User, foreign_keys=[MUTES.c.user_id])
    muted_by: Mapped[User] = relationship(User, foreign_keys=[MUTES.c.muted_by_id])

    def __str__(self) -> str:
        return f"mute #{self.id}"


class MessageReport(AdminBase):
    __table__ = REPORTS

    id: Mapped[int]
    message_id: Mapped[int]
    lobby_id: Mapped[int]
    reason: Mapped[str]
    resolved_at: Mapped[datetime | None]
    message: Mapped[Message] = relationship(Message)
    lobby: Mapped[Lobby] = relationship(Lobby)
    reporter: Mapped[User] = relationship(User, foreign_keys=[REPORTS.c.reporter_id])
    resolved_by: Mapped[User | None] = relationship(User, foreign_keys=[REPORTS.c.resolved_by_id])
    # The reported message's sender, through the message (reports do not copy it).
    sender: Mapped[User] = relationship(
        User,
        secondary=MESSAGES,
        primaryjoin=REPORTS.c.message_id == MESSAGES.c.id,
        secondaryjoin=MESSAGES.c.sender_id == USERS.c.id,
        viewonly=True,
        uselist=False,
    )

    def __str__(self) -> str:
        return f"report #{self.id}"
