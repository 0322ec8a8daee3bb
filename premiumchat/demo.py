"""Demo data: a few users and three lobbies with members and messages, made through the services.

Loading is idempotent: every piece is looked up before it is made, and messages carry a
client message id of their own, so a second run adds nothing. Clearing removes the demo
users and everything they own, sent or joined, and nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from premiumchat import validation
from premiumchat.config import Settings
from premiumchat.db.models import (
    Lobby,
    LobbyBan,
    LobbyInvite,
    LobbyLogEntry,
    LobbyMember,
    LobbyMute,
    LobbyRole,
    LobbyStatus,
    LobbyTag,
    Message,
    MessageReport,
    RefreshToken,
    User,
)
from premiumchat.errors import Conflict, LobbyNotOpen, RateLimited
from premiumchat.resources import Resources
from premiumchat.services import accounts, lobbies, membership, messages, moderation

DEMO_PASSWORD = "testpass123"
PREMIUM_USERS = ("premium_user_1", "premium_user_2")
NORMAL_USERS = tuple(f"user_{n}" for n in range(1, 6))
DEMO_USERS = PREMIUM_USERS + NORMAL_USERS
RATE_LIMIT_RETRIES = 20


def demo_email(username: str) -> str:
    return f"{username}@example.com"


@dataclass(frozen=True, slots=True)
class DemoLobby:
    key: str  # names the lobby's client message ids
    name: str
    owner: str
    members: tuple[str, ...]
    moderators: tuple[str, ...] = ()
    is_public: bool = True
    max_participants: int = 8
    password: str | None = None
    tags: tuple[str, ...] = ()
    messages: tuple[tuple[str, str], ...] = ()


DEMO_LOBBIES = (
    DemoLobby(
        key="trivia",
        name="Friday Night Trivia",
        owner="premium_user_1",
        members=("user_1", "user_2", "user_3"),
        moderators=("user_1",),
        tags=("trivia", "quiz"),
        messages=(
            ("premium_user_1", "Welcome to trivia night! The first question comes in five minutes."),
            ("user_1", "Ready when you are."),
            ("user_2", "Is there a theme tonight?"),
            ("premium_user_1", "Eighties films and space exploration."),
            ("user_3", "Perfect, I have been revising both."),
        ),
    ),
    DemoLobby(
        key="chess",
        name="Chess Club",
        owner="premium_user_2",
        members=("user_3", "user_4"),
        max_participants=4,
        tags=("chess", "tournament"),
        messages=(
            ("premium_user_2", "The blitz tournament starts at eight: 5+3 time control."),
            ("user_4", "Count me in."),
            ("user_3", "Same here. Who has white in round one?"),
            ("premium_user_2", "The pairings go out once everyone is here."),
        ),
    ),
    DemoLobby(
        key="speedrun",
        name="Speedrun Strategy",
        owner="premium_user_1",
        members=("user_5", "premium_user_2"),
        is_public=False,
        password="letmein",
        tags=("speedrun",),
        messages=(
            ("user_5", "The new route skips the second dungeon entirely."),
            ("premium_user_2", "Can you show us a recording tonight?"),
            ("premium_user_1", "Let's keep this room to route talk until the showcase."),
        ),
    ),
)


@dataclass(slots=True)
class SeedReport:
    users_created: int = 0
    lobbies_created: int = 0
    members_added: int = 0
    messages_sent: int = 0
    users_removed: int = 0
    lobbies_removed: int = 0


@asynccontextmanager
async def app_resources(settings: Settings) -> AsyncIterator[Resources]:
    """The resources a server has (engine, event bus, rate limiter), opened by the app's own lifespan,
    so events reach running servers through Redis when REDIS_URL is set."""
    from premiumchat.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        assert state is not None
        resources: Resources = state["resources"]
        yield resources


async def _demo_users(session: AsyncSession, *, strict: bool = False) -> dict[str, User]:
    """The demo accounts that exist: demo username and demo email both, so a real `user_1` is safe.

    `strict`: refuse (CONFLICT) when a demo name belongs to an account that is not demo data.
    """
    keys = {validation.username_key(name): name for name in DEMO_USERS}
    result = await session.execute(select(User).where(col(User.username_key).in_(keys)))
    found: dict[str, User] = {}
    for user in result.scalars():
        name = keys[user.username_key]
        if user.email_key == validation.email_key(demo_email(name)):
            found[name] = user
        elif strict:
            raise Conflict(f"The username {user.username!r} belongs to an account that is not demo data.")
    return found


async def load(res: Resources) -> SeedReport:
    report = SeedReport()
    async with res.sessions() as session:
        users = await _demo_users(session, strict=True)
    for name in DEMO_USERS:
        if name not in users:
            users[name] = await accounts.create_user(
                res.sessions,
                username=name,
                email=demo_email(name),
                password=DEMO_PASSWORD,
                is_premium=name in PREMIUM_USERS,
            )
            report.users_created += 1
    for spec in DEMO_LOBBIES:
        await _load_lobby(res, spec, users, report)
    return report


async def _load_lobby(res: Resources, spec: DemoLobby, users: dict[str, User], report: SeedReport) -> None:
    owner = users[spec.owner]
    async with res.sessions() as session:
        found = await session.execute(
            select(Lobby)
            .where(
                col(Lobby.owner_id) == owner.id,
                col(Lobby.name) == spec.name,
                col(Lobby.status) != LobbyStatus.CLOSED,
            )
            .order_by(col(Lobby.id))
            .limit(1)
        )
        lobby = found.scalar_one_or_none()
    if lobby is None:
        lobby = await lobbies.create(
            res,
            owner,
            name=spec.name,
            is_public=spec.is_public,
            max_participants=spec.max_participants,
            password=spec.password,
            tags=list(spec.tags),
        )
        report.lobbies_created += 1
    assert lobby.id is not None
    lobby_id = lobby.id
    async with res.sessions() as session:
        rows = await session.execute(
            select(col(LobbyMember.user_id), col(LobbyMember.role)).where(
                col(LobbyMember.lobby_id) == lobby_id
            )
        )
        roles = {row.user_id: row.role for row in rows}
    for name in spec.members:
        if users[name].id not in roles:
            await membership.join(res, users[name], lobby_id, spec.password)
            roles[users[name].id] = LobbyRole.MEMBER
            report.members_added += 1
    for name in spec.moderators:
        moderator_id = users[name].id
        assert moderator_id is not None
        if roles.get(moderator_id) == LobbyRole.MEMBER:
            await moderation.add_moderator(res, owner, lobby_id, moderator_id)
    for index, (sender, content) in enumerate(spec.messages, start=1):
        if await _send_once(res, users[sender], lobby_id, content, f"demo-{spec.key}-{index}"):
            report.messages_sent += 1


async def _send_once(res: Resources, sender: User, lobby_id: int, content: str, client_id: str) -> bool:
    """Send unless this demo message is already there (the service's own retry window is 24 hours)."""
    async with res.sessions() as session:
        exists = await session.execute(
            select(func.count())
            .select_from(Message)
            .where(
                col(Message.lobby_id) == lobby_id,
                col(Message.sender_id) == sender.id,
                col(Message.client_message_id) == client_id,
            )
        )
        if exists.scalar_one():
            return False
    for _ in range(RATE_LIMIT_RETRIES):
        try:
            await messages.send(res, sender, lobby_id, content, client_id)
            return True
        except RateLimited as error:
            # The demo users obey the message rate like everyone else.
            await asyncio.sleep(error.retry_after + 0.05)
    raise RuntimeError("the message rate limit never let the demo messages through")


async def clear(res: Resources) -> SeedReport:
    """Remove the demo users and everything they own, sent or joined; nothing else."""
    report = SeedReport()
    async with res.sessions() as session:
        users = await _demo_users(session)
    if not users:
        return report
    by_id = {user.id: user for user in users.values()}
    ids = list(by_id)
    async with res.sessions() as session:
        owned = list(
            (await session.execute(select(Lobby).where(col(Lobby.owner_id).in_(ids)))).scalars().all()
        )
        joined = (
            await session.execute(
                select(col(LobbyMember.user_id), col(LobbyMember.lobby_id))
                .join(Lobby, col(Lobby.id) == col(LobbyMember.lobby_id))
                .where(col(LobbyMember.user_id).in_(ids), col(Lobby.owner_id).not_in(ids))
                .order_by(col(LobbyMember.id))
            )
        ).all()
    # Through the services first, so subscribers see the lobbies close and the members leave,
    # and the lobbies that stay keep their participant counts.
    for lobby in owned:
        if lobby.status != LobbyStatus.CLOSED:
            assert lobby.id is not None
            await lobbies.close(res, by_id[lobby.owner_id], lobby.id)
    for user_id, lobby_id in joined:
        try:
            await membership.leave(res, by_id[user_id], lobby_id)
        except LobbyNotOpen:
            pass  # a closed lobby: its membership goes below with the rest
    owned_ids = [lobby.id for lobby in owned]
    async with res.sessions() as session, session.begin():
        report.lobbies_removed = len(owned_ids)
        report.users_removed = len(ids)
        await _delete_rows(session, ids, owned_ids)
    return report


async def _delete_rows(
    session: AsyncSession, user_ids: list[int | None], lobby_ids: list[int | None]
) -> None:
    # Demo lobbies whole, children first (no reliance on ON DELETE CASCADE).
    lobby_children: tuple[type[Any], ...] = (
        LobbyLogEntry,
        MessageReport,
        Message,
        LobbyBan,
        LobbyMute,
        LobbyInvite,
        LobbyTag,
        LobbyMember,
    )
    for model in lobby_children:
        await session.execute(delete(model).where(col(model.lobby_id).in_(lobby_ids)))
    await session.execute(delete(Lobby).where(col(Lobby.id).in_(lobby_ids)))
    # What the demo users left in other lobbies.
    await session.execute(
        delete(LobbyLogEntry).where(
            or_(col(LobbyLogEntry.actor_id).in_(user_ids), col(LobbyLogEntry.target_id).in_(user_ids))
        )
    )
    sent = select(col(Message.id)).where(col(Message.sender_id).in_(user_ids))
    await session.execute(
        delete(MessageReport).where(
            or_(col(MessageReport.reporter_id).in_(user_ids), col(MessageReport.message_id).in_(sent))
        )
    )
    await session.execute(
        update(MessageReport)
        .where(col(MessageReport.resolved_by_id).in_(user_ids))
        .values(resolved_by_id=None)
    )
    await session.execute(
        delete(LobbyMute).where(
            or_(col(LobbyMute.user_id).in_(user_ids), col(LobbyMute.muted_by_id).in_(user_ids))
        )
    )
    await session.execute(delete(LobbyInvite).where(col(LobbyInvite.created_by_id).in_(user_ids)))
    await session.execute(delete(Message).where(col(Message.sender_id).in_(user_ids)))
    await session.execute(
        update(Message).where(col(Message.deleted_by_id).in_(user_ids)).values(deleted_by_id=None)
    )
    await session.execute(
        delete(LobbyBan).where(
            or_(col(LobbyBan.user_id).in_(user_ids), col(LobbyBan.banned_by_id).in_(user_ids))
        )
    )
    # Memberships left in closed lobbies (open ones were left through the service above).
    left = await session.execute(select(LobbyMember).where(col(LobbyMember.user_id).in_(user_ids)))
    for member in left.scalars().all():
        await session.execute(
            update(Lobby)
            .where(col(Lobby.id) == member.lobby_id)
            .values(participant_count=col(Lobby.participant_count) - 1)
        )
        await session.delete(member)
    await session.execute(delete(RefreshToken).where(col(RefreshToken.user_id).in_(user_ids)))
    await session.execute(delete(User).where(col(User.id).in_(user_ids)))


async def seed(settings: Settings, *, clear_first: bool) -> tuple[SeedReport | None, SeedReport]:
    async with app_resources(settings) as res:
        cleared = await clear(res) if clear_first else None
        return cleared, await load(res)
