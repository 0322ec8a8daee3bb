"""Lobby types: Lobby, members, bans, the log, their connections and inputs."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import strawberry

from premiumchat.context import Info
from premiumchat.db import models
from premiumchat.db.models import LobbyRole, LobbyStatus, LogKind
from premiumchat.errors import Forbidden
from premiumchat.schema.common import PageInfo, load_user
from premiumchat.schema.messages import MessageConnection, message_connection
from premiumchat.schema.mutes import LobbyMute
from premiumchat.schema.users import User
from premiumchat.services import messages as message_service
from premiumchat.timeutil import parse_datetime, parse_optional_datetime

if TYPE_CHECKING:
    from premiumchat.db.lobbies import LobbyListing

# The table models' enums become GraphQL enums as they are (strawberry.enum marks the class).
for _enum in (LobbyStatus, LobbyRole, LogKind):
    strawberry.enum(_enum)


@strawberry.enum
class LobbyOrder(enum.StrEnum):
    NEWEST = "NEWEST"
    MOST_PARTICIPANTS = "MOST_PARTICIPANTS"
    NAME = "NAME"


@strawberry.enum
class ModerationAction(enum.StrEnum):
    KICK = "KICK"
    BAN = "BAN"
    UNBAN = "UNBAN"
    MODERATOR_ADDED = "MODERATOR_ADDED"
    MODERATOR_REMOVED = "MODERATOR_REMOVED"
    MUTE = "MUTE"
    UNMUTE = "UNMUTE"
    PURGE = "PURGE"


@strawberry.type
class LobbyMember:
    role: LobbyRole
    joined_at: datetime
    user_id: strawberry.Private[int]
    member_lobby_id: strawberry.Private[int]
    user_snapshot: strawberry.Private[User | None] = None
    is_ready: bool = False

    @strawberry.field
    async def user(self, info: Info) -> User:
        if self.user_snapshot is not None:
            return self.user_snapshot
        return await load_user(await info.context.loaders(), self.user_id)

    async def _mute(self, info: Info) -> models.LobbyMute | None:
        active = await (await info.context.loaders()).mutes.load(self.member_lobby_id)
        return next((mute for mute in active if mute.user_id == self.user_id), None)

    @strawberry.field(description="True while an active mute holds (false once it lapses).")
    async def is_muted(self, info: Info) -> bool:
        return await self._mute(info) is not None

    @strawberry.field(description="When the active mute ends; null when not muted or muted until unmuted.")
    async def muted_until(self, info: Info) -> datetime | None:
        mute = await self._mute(info)
        return mute.expires_at if mute else None

    @classmethod
    def from_row(cls, row: models.LobbyMember) -> LobbyMember:
        return cls(
            role=models.LobbyRole(row.role),
            joined_at=row.joined_at,
            user_id=row.user_id,
            member_lobby_id=row.lobby_id,
            is_ready=row.is_ready,
        )


@strawberry.type
class LobbyBan:
    reason: str | None
    created_at: datetime
    expires_at: datetime | None
    user_id: strawberry.Private[int]
    banned_by_id: strawberry.Private[int]

    @strawberry.field
    async def user(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.user_id)

    @strawberry.field
    async def banned_by(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.banned_by_id)

    @classmethod
    def from_row(cls, row: models.LobbyBan) -> LobbyBan:
        return cls(
            reason=row.reason,
            created_at=row.created_at,
            expires_at=row.expires_at,
            user_id=row.user_id,
            banned_by_id=row.banned_by_id,
        )


@strawberry.type
class Lobby:
    id: strawberry.ID
    name: str
    is_public: bool
    has_password: bool
    max_participants: int
    participant_count: int
    status: LobbyStatus
    created_at: datetime
    started_at: datetime | None
    closed_at: datetime | None
    slow_mode_seconds: int = strawberry.field(description="0 = off.")
    is_locked: bool = strawberry.field(description="Nobody joins while locked; members stay.")
    tags: list[str]
    ready_count: int = strawberry.field(description="Members with isReady.")
    lobby_id: strawberry.Private[int]
    owner_id: strawberry.Private[int]
    terms: strawberry.Private[list[str]]
    # Events and list pages carry the owner; other lobbies load it when asked (in batches).
    owner_snapshot: strawberry.Private[User | None] = None

    @strawberry.field(graphql_type=User)
    def owner(self, info: Info) -> User | Awaitable[User]:
        # Synchronous when the owner came with the lobby (lists, events): graphql-core then
        # completes the node without a coroutine, and a page of them without a gather.
        if self.owner_snapshot is not None:
            return self.owner_snapshot
        return self._load_owner(info)

    async def _load_owner(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.owner_id)

    async def _viewer_role(self, info: Info) -> tuple[str | None, bool]:
        viewer = await info.context.require_user()
        role = await (await info.context.loaders()).viewer_roles.load(self.lobby_id)
        return role, viewer.is_staff

    @strawberry.field(description="Null when the viewer is not a member.")
    async def my_role(self, info: Info) -> LobbyRole | None:
        role, _ = await self._viewer_role(info)
        return models.LobbyRole(role) if role else None

    @strawberry.field(description="Members and staff; [] for others. Oldest member first.")
    async def members(self, info: Info) -> list[LobbyMember]:
        role, is_staff = await self._viewer_role(info)
        if role is None and not is_staff:
            return []
        rows = await (await info.context.loaders()).members.load(self.lobby_id)
        return [LobbyMember.from_row(row) for row in rows]

    @strawberry.field(description="Members with an open lobbyEvents subscription; [] for non-members.")
    async def online_users(self, info: Info) -> list[User]:
        role, is_staff = await self._viewer_role(info)
        if role is None and not is_staff:
            return []
        loaders = await info.context.loaders()
        user_ids = await loaders.online.load(self.lobby_id)
        return [await load_user(loaders, user_id) for user_id in user_ids]

    @strawberry.field(description="Members and staff. Oldest to newest; by default the 50 newest.")
    async def messages(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> MessageConnection:
        viewer = await info.context.require_user()
        page = await message_service.history(
            info.context.resources, viewer, self.lobby_id, first=first, after=after, last=last, before=before
        )
        return message_connection(page)

    @strawberry.field(description="Active bans: owner, moderators and staff; FORBIDDEN for others.")
    async def bans(self, info: Info) -> list[LobbyBan]:
        role, is_staff = await self._viewer_role(info)
        if not is_staff and role not in (models.LobbyRole.OWNER, models.LobbyRole.MODERATOR):
            raise Forbidden("Only the owner, moderators and staff see a lobby's bans.")
        rows = await (await info.context.loaders()).bans.load(self.lobby_id)
        return [LobbyBan.from_row(row) for row in rows]

    async def _is_moderating(self, info: Info) -> bool:
        role, is_staff = await self._viewer_role(info)
        return is_staff or role in (models.LobbyRole.OWNER, models.LobbyRole.MODERATOR)

    @strawberry.field(description="Owner, moderators and staff; [] for others.")
    async def blocked_terms(self, info: Info) -> list[str]:
        return list(self.terms) if await self._is_moderating(info) else []

    @strawberry.field(description="Active mutes: owner, moderators and staff; FORBIDDEN for others.")
    async def mutes(self, info: Info) -> list[LobbyMute]:
        if not await self._is_moderating(info):
            raise Forbidden("Only the owner, moderators and staff see a lobby's mutes.")
        rows = await (await info.context.loaders()).mutes.load(self.lobby_id)
        return [LobbyMute.from_row(row) for row in rows]

    @strawberry.field(description="Usable invites: owner, moderators and staff; FORBIDDEN for others.")
    async def invites(self, info: Info) -> list[LobbyInvite]:
        role, is_staff = await self._viewer_role(info)
        if not is_staff and role not in (models.LobbyRole.OWNER, models.LobbyRole.MODERATOR):
            raise Forbidden("Only the owner, moderators and staff see a lobby's invites.")
        rows = await (await info.context.loaders()).invites.load(self.lobby_id)
        return [LobbyInvite.from_row(row, self) for row in rows]

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> Lobby:
        owner = User.from_snapshot(snapshot["owner"])
        return cls(
            id=strawberry.ID(snapshot["id"]),
            name=snapshot["name"],
            is_public=snapshot["isPublic"],
            has_password=snapshot["hasPassword"],
            max_participants=snapshot["maxParticipants"],
            participant_count=snapshot["participantCount"],
            status=LobbyStatus(snapshot["status"]),
            created_at=parse_datetime(snapshot["createdAt"]),
            started_at=parse_optional_datetime(snapshot["startedAt"]),
            closed_at=parse_optional_datetime(snapshot["closedAt"]),
            # Defaults for events published by a process of the previous version during a rollout.
            slow_mode_seconds=snapshot.get("slowModeSeconds", 0),
            terms=snapshot.get("blockedTerms", []),
            is_locked=snapshot.get("isLocked", False),
            tags=snapshot.get("tags", []),
            ready_count=snapshot.get("readyCount", 0),
            lobby_id=int(snapshot["id"]),
            owner_id=owner.user_id,
            owner_snapshot=owner,
        )

    @classmethod
    def from_listing(cls, row: LobbyListing) -> Lobby:
        """A lobby of a list page, its owner attached (see `db.lobbies.LISTING_COLUMNS`)."""
        owner = User(
            id=strawberry.ID(str(row.owner_id)),
            username=row.owner_username,
            is_premium=row.owner_is_premium,
            is_staff=row.owner_is_staff,
            created_at=row.owner_created_at,
            user_id=row.owner_id,
            private_email=row.owner_email,
            email_visible=False,
        )
        return cls._of(row, has_password=row.has_password, owner=owner)

    @classmethod
    def from_row(cls, row: models.Lobby) -> Lobby:
        return cls._of(row, has_password=row.password_hash is not None)

    @classmethod
    def _of(cls, row: models.Lobby | LobbyListing, *, has_password: bool, owner: User | None = None) -> Lobby:
        """The fields a table row and a list page's row share (their columns have the same names)."""
        assert row.id is not None
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            is_public=row.is_public,
            has_password=has_password,
            max_participants=row.max_participants,
            participant_count=row.participant_count,
            status=models.LobbyStatus(row.status),
            created_at=row.created_at,
            started_at=row.started_at,
            closed_at=row.closed_at,
            slow_mode_seconds=row.slow_mode_seconds,
            terms=row.blocked_terms,
            is_locked=row.is_locked,
            tags=list(row.tags),
            ready_count=row.ready_count,
            lobby_id=row.id,
            owner_id=row.owner_id,
            owner_snapshot=owner,
        )


@strawberry.type
class LobbyInvite:
    code: str
    created_at: datetime
    expires_at: datetime | None = strawberry.field(description="Null: never.")
    max_uses: int | None = strawberry.field(description="Null: unlimited.")
    uses: int
    created_by_id: strawberry.Private[int]
    lobby_node: strawberry.Private[Lobby]

    @strawberry.field
    def lobby(self) -> Lobby:
        return self.lobby_node

    @strawberry.field
    async def created_by(self, info: Info) -> User:
        return await load_user(await info.context.loaders(), self.created_by_id)

    @classmethod
    def from_row(cls, row: models.LobbyInvite, lobby: Lobby) -> LobbyInvite:
        return cls(
            code=row.code,
            created_at=row.created_at,
            expires_at=row.expires_at,
            max_uses=row.max_uses,
            uses=row.uses,
            created_by_id=row.created_by_id,
            lobby_node=lobby,
        )


@strawberry.type
class LobbyEdge:
    cursor: str
    node: Lobby


@strawberry.type
class LobbyConnection:
    edges: list[LobbyEdge]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Every lobby matching the filter, whatever the page.")
    async def total_count(self) -> int:
        # Counted only when asked for: most list views never read it.
        return await self.count()


@strawberry.type
class LogEntry:
    id: strawberry.ID
    kind: LogKind
    reason: str | None
    created_at: datetime
    actor_id: strawberry.Private[int | None]
    target_id: strawberry.Private[int | None]

    @strawberry.field(description="Null for system actions.")
    async def actor(self, info: Info) -> User | None:
        if self.actor_id is None:
            return None
        return await load_user(await info.context.loaders(), self.actor_id)

    @strawberry.field
    async def target(self, info: Info) -> User | None:
        if self.target_id is None:
            return None
        return await load_user(await info.context.loaders(), self.target_id)

    @classmethod
    def from_row(cls, row: models.LobbyLogEntry) -> LogEntry:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=models.LogKind(row.kind),
            reason=row.reason,
            created_at=row.created_at,
            actor_id=row.actor_id,
            target_id=row.target_id,
        )


@strawberry.type
class LogEntryEdge:
    cursor: str
    node: LogEntry


@strawberry.type
class LogEntryConnection:
    edges: list[LogEntryEdge]
    page_info: PageInfo


@strawberry.input
class LobbyFilter:
    is_public: bool | None = None
    status: LobbyStatus | None = None
    search: str | None = strawberry.field(default=None, description="Case-insensitive substring of the name.")
    tags: list[str] | None = strawberry.field(default=None, description="Lobbies that carry every given tag.")


@strawberry.input
class CreateLobbyInput:
    name: str
    # Nullable with defaults, as the contract has them; an explicit null means the default.
    is_public: bool | None = True
    max_participants: int | None = 8
    password: str | None = None
    slow_mode_seconds: int | None = 0
    tags: list[str] | None = None


@strawberry.input
class UpdateLobbyInput:
    name: str | None = None
    is_public: bool | None = None
    max_participants: int | None = None
    password: str | None = None
    clear_password: bool | None = None
    slow_mode_seconds: int | None = None
    blocked_terms: list[str] | None = strawberry.field(
        default=None, description="Owner, moderators and staff (moderators may change only this)."
    )
    tags: list[str] | None = None
    is_locked: bool | None = None
