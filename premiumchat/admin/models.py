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
