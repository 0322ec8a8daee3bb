"""The table models of the whole product. They never leave through the API."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Index, PrimaryKeyConstraint, String, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from premiumchat.db.types import IdType, UTCDateTime
from premiumchat.timeutil import utcnow

# Stable constraint names keep migrations identical on SQLite (batch mode) and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class LobbyStatus(enum.StrEnum):
    OPEN = "OPEN"
    IN_GAME = "IN_GAME"
    CLOSED = "CLOSED"


class LobbyRole(enum.StrEnum):
    OWNER = "OWNER"
    MODERATOR = "MODERATOR"
    MEMBER = "MEMBER"


class LogKind(enum.StrEnum):
    CREATED = "CREATED"
    JOINED = "JOINED"
    LEFT = "LEFT"
    KICKED = "KICKED"
    BANNED = "BANNED"
    UNBANNED = "UNBANNED"
    MODERATOR_ADDED = "MODERATOR_ADDED"
    MODERATOR_REMOVED = "MODERATOR_REMOVED"
    OWNER_CHANGED = "OWNER_CHANGED"
    GAME_STARTED = "GAME_STARTED"
    GAME_ENDED = "GAME_ENDED"
    CLOSED = "CLOSED"
    MESSAGE_DELETED = "MESSAGE_DELETED"
    UPDATED = "UPDATED"
    MUTED = "MUTED"
    UNMUTED = "UNMUTED"
    MESSAGES_PURGED = "MESSAGES_PURGED"
    INVITE_CREATED = "INVITE_CREATED"
    INVITE_REVOKED = "INVITE_REVOKED"
    MESSAGE_REPORTED = "MESSAGE_REPORTED"
    REPORT_RESOLVED = "REPORT_RESOLVED"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    username: str = Field(sa_type=String(32))
    # Case-insensitive uniqueness as a plain unique column: portable, and no
    # expression index for SQLite reflection or autogenerate to trip over.
    username_key: str = Field(sa_type=String(64), unique=True)
    email: str = Field(sa_type=String(254))
    email_key: str = Field(sa_type=String(254), unique=True)
    password_hash: str = Field(sa_type=String(255))
    is_premium: bool = False
    is_staff: bool = False
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_tokens"

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    jti: str = Field(sa_type=String(64), unique=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True, sa_type=IdType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # Set when the token is rotated, logged out or revoked: a spent token never works again.
    spent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Lobby(SQLModel, table=True):
    __tablename__ = "lobbies"
    __table_args__ = (
        Index("ix_lobbies_status_public_id", "status", "is_public", "id"),
        Index("ix_lobbies_owner_status", "owner_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    name: str = Field(sa_type=String(64))
    owner_id: int = Field(foreign_key="users.id", sa_type=IdType)
    is_public: bool = True
    password_hash: str | None = Field(default=None, sa_type=String(255))
    max_participants: int = 8
    # Maintained with the memberships in one transaction; a conditional UPDATE on
    # it is what keeps capacity exact under concurrent joins.
    participant_count: int = 0
    status: str = Field(default=LobbyStatus.OPEN, sa_type=String(16))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    slow_mode_seconds: int = 0  # 0 = off
    blocked_terms: list[str] = Field(default_factory=list, sa_type=JSON)
    is_locked: bool = False
    # Kept with the memberships' is_ready under the lobby's row lock: no count per read.
    ready_count: int = 0
    # The tags as set, for reading; lobby_tags holds the same tags indexed, for filtering.
    tags: list[str] = Field(default_factory=list, sa_type=JSON)


class LobbyMember(SQLModel, table=True):
    __tablename__ = "lobby_members"
    __table_args__ = (
        UniqueConstraint("lobby_id", "user_id"),
        Index("ix_lobby_members_lobby_joined", "lobby_id", "joined_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True, sa_type=IdType)
    role: str = Field(default=LobbyRole.MEMBER, sa_type=String(16))
    joined_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    is_ready: bool = False


class LobbyBan(SQLModel, table=True):
    __tablename__ = "lobby_bans"
    __table_args__ = (UniqueConstraint("lobby_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", sa_type=IdType)
    banned_by_id: int = Field(foreign_key="users.id", sa_type=IdType)
    reason: str | None = Field(default=None, sa_type=String(500))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Null is permanent; an expired ban is simply ignored, no background job needed.
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LobbyMute(SQLModel, table=True):
    """Belongs to the user and the lobby, not to the membership: leaving does not lift it."""

    __tablename__ = "lobby_mutes"
    __table_args__ = (UniqueConstraint("lobby_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", sa_type=IdType)
    muted_by_id: int = Field(foreign_key="users.id", sa_type=IdType)
    reason: str | None = Field(default=None, sa_type=String(500))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Null until unmuted; an expired mute is ignored, like an expired ban.
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_lobby_id_id", "lobby_id", "id"),
        UniqueConstraint("lobby_id", "sender_id", "client_message_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    sender_id: int = Field(foreign_key="users.id", sa_type=IdType)
    content: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deleted: bool = False
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deleted_by_id: int | None = Field(default=None, foreign_key="users.id", sa_type=IdType)
    client_message_id: str | None = Field(default=None, sa_type=String(64))
    edited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LobbyLogEntry(SQLModel, table=True):
    __tablename__ = "lobby_log"
    __table_args__ = (Index("ix_lobby_log_lobby_id_id", "lobby_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    kind: str = Field(sa_type=String(32))
    actor_id: int | None = Field(default=None, foreign_key="users.id", sa_type=IdType)
    target_id: int | None = Field(default=None, foreign_key="users.id", sa_type=IdType)
    reason: str | None = Field(default=None, sa_type=String(500))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class LobbyTag(SQLModel, table=True):
    """One tag of a lobby; (tag, lobby_id) finds the lobbies carrying a tag without a scan."""

    __tablename__ = "lobby_tags"
    __table_args__ = (
        PrimaryKeyConstraint("lobby_id", "tag"),
        Index("ix_lobby_tags_tag_lobby_id", "tag", "lobby_id"),
    )

    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    tag: str = Field(sa_type=String(24))


class LobbyInvite(SQLModel, table=True):
    __tablename__ = "lobby_invites"
    __table_args__ = (Index("ix_lobby_invites_lobby_id_id", "lobby_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    code: str = Field(sa_type=String(32), unique=True)
    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    created_by_id: int = Field(foreign_key="users.id", sa_type=IdType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    max_uses: int | None = None
    uses: int = 0
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class MessageReport(SQLModel, table=True):
    __tablename__ = "message_reports"
    __table_args__ = (
        Index("ix_message_reports_lobby_id_id", "lobby_id", "id"),
        # One open report per reporter and message, enforced by the database, not by a read first.
        Index(
            "uq_message_reports_open",
            "reporter_id",
            "message_id",
            unique=True,
            sqlite_where=text("resolved_at IS NULL"),
            postgresql_where=text("resolved_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=IdType)
    message_id: int = Field(foreign_key="messages.id", ondelete="CASCADE", sa_type=IdType)
    # The message's lobby, copied so a lobby's reports are one index range.
    lobby_id: int = Field(foreign_key="lobbies.id", ondelete="CASCADE", sa_type=IdType)
    reporter_id: int = Field(foreign_key="users.id", ondelete="CASCADE", sa_type=IdType)
    reason: str = Field(sa_type=String(500))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_by_id: int | None = Field(default=None, foreign_key="users.id", sa_type=IdType)
