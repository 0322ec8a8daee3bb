"""Benchmark data written straight into a migrated database, then users logged in through the API.

Rows are inserted in bulk (registering 800 users one by one would dominate the
run); every user then logs in with the real `login` mutation. Their password
hashes are Argon2id with minimal cost parameters, which the hash string
carries, so logging 800 users in takes seconds instead of a minute: this
changes how long login takes, nothing that is measured.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import orjson
from argon2 import PasswordHasher
from sqlalchemy import insert, text

from premiumchat.db.engine import create_engine
from premiumchat.db.models import Lobby, LobbyMember, LobbyRole, LobbyStatus, LobbyTag, User
from premiumchat.timeutil import utcnow
from premiumchat.validation import email_key, username_key

PASSWORD = "bench-password-1"
LOGIN = "mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }"
LOGIN_CONCURRENCY = 16
CHUNK = 2000


@dataclass
class BenchUser:
    id: int
    username: str
    token: str = ""


@dataclass
class BenchLobby:
    id: int
    members: list[BenchUser] = field(default_factory=list)


def _cheap_hash() -> str:
    return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


async def seed_users(
    database_url: str, count: int, *, prefix: str = "bench", premium: bool = False
) -> list[BenchUser]:
    password_hash = _cheap_hash()
    now = utcnow()
    rows = [
        {
            "username": f"{prefix}{index}",
            "username_key": username_key(f"{prefix}{index}"),
            "email": f"{prefix}{index}@bench.example",
            "email_key": email_key(f"{prefix}{index}@bench.example"),
            "password_hash": password_hash,
            "is_premium": premium,
            "is_staff": False,
            "is_active": True,
            "created_at": now,
        }
        for index in range(count)
    ]
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            for start in range(0, len(rows), CHUNK):
                await connection.execute(insert(User), rows[start : start + CHUNK])
            result = await connection.execute(
                User.__table__.select()  # type: ignore[attr-defined]
                .where(User.__table__.c.username.like(f"{prefix}%"))  # type: ignore[attr-defined]
                .order_by(User.__table__.c.id)  # type: ignore[attr-defined]
            )
            by_name = {row.username: row.id for row in result}
    finally:
        await engine.dispose()
    names = [f"{prefix}{index}" for index in range(count)]
    return [BenchUser(by_name[name], name) for name in names]


async def seed_lobbies(
    database_url: str,
    owners: list[BenchUser],
    members_per_lobby: list[list[BenchUser]],
    *,
    name_prefix: str = "lobby",
    tags: list[list[str]] | None = None,
) -> list[BenchLobby]:
    """One lobby per member list; its first member owns it (the owner is the first of `owners` cycled).

    `tags`, when given, holds each lobby's tags, stored as the service stores them: on the row
    for reading and in lobby_tags for the filter.
    """
    tag_lists = tags or [[] for _ in members_per_lobby]
    start = utcnow() - timedelta(hours=1)
    lobby_rows = []
    for index, members in enumerate(members_per_lobby):
        owner = members[0] if members else owners[index % len(owners)]
        lobby_rows.append(
            {
                "name": f"{name_prefix} {index}",
                "owner_id": owner.id,
                "is_public": True,
                "max_participants": max(8, len(members)),
                "participant_count": len(members),
                "status": LobbyStatus.OPEN.value,
                # Distinct creation times: NEWEST pages are then a plain keyset walk.
                "created_at": start + timedelta(milliseconds=index),
                "tags": tag_lists[index],
            }
        )
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            ids: list[int] = []
            for offset in range(0, len(lobby_rows), CHUNK):
                result = await connection.execute(
                    insert(Lobby).returning(Lobby.__table__.c.id),  # type: ignore[attr-defined]
                    lobby_rows[offset : offset + CHUNK],
                    execution_options={"insertmanyvalues_page_size": CHUNK},
                )
                ids.extend(row[0] for row in result)
            member_rows = [
                {
                    "lobby_id": lobby_id,
                    "user_id": user.id,
                    "role": (LobbyRole.OWNER if position == 0 else LobbyRole.MEMBER).value,
                    "joined_at": start + timedelta(milliseconds=position),
                }
                for lobby_id, members in zip(ids, members_per_lobby, strict=True)
                for position, user in enumerate(members)
            ]
            for offset in range(0, len(member_rows), CHUNK):
                await connection.execute(insert(LobbyMember), member_rows[offset : offset + CHUNK])
            tag_rows = [
                {"lobby_id": lobby_id, "tag": tag}
                for lobby_id, lobby_tags in zip(ids, tag_lists, strict=True)
                for tag in lobby_tags
            ]
            for offset in range(0, len(tag_rows), CHUNK):
                await connection.execute(insert(LobbyTag), tag_rows[offset : offset + CHUNK])
            if connection.dialect.name == "postgresql":
                # Planner statistics, as autovacuum would have them on a live database: without
                # them the freshly filled tables are planned as if nearly empty.
                await connection.execute(text("ANALYZE"))
    finally:
        await engine.dispose()
    return [
        BenchLobby(lobby_id, list(members)) for lobby_id, members in zip(ids, members_per_lobby, strict=True)
    ]


async def log_in(http_url: str, users: list[BenchUser]) -> None:
    """Each user logs in with the real `login` mutation; their access token is kept."""
    gate = asyncio.Semaphore(LOGIN_CONCURRENCY)
    async with httpx.AsyncClient(base_url=http_url, timeout=60) as client:

        async def one(user: BenchUser) -> None:
            async with gate:
                response = await client.post(
                    "/graphql", json={"query": LOGIN, "variables": {"u": user.username, "p": PASSWORD}}
                )
            body = orjson.loads(response.content)
            if body.get("errors"):
                raise RuntimeError(f"login of {user.username} failed: {body['errors']}")
            user.token = body["data"]["login"]["accessToken"]

        await asyncio.gather(*(one(user) for user in users))


async def fanout_world(database_url: str, lobbies: int, subscribers: int) -> list[BenchLobby]:
    """`lobbies` lobbies of `subscribers` members each; every member a distinct user."""
    users = await seed_users(database_url, lobbies * subscribers, premium=True)
    groups = [users[i * subscribers : (i + 1) * subscribers] for i in range(lobbies)]
    return await seed_lobbies(database_url, users, groups)


REGION_TAGS = ["eu", "na", "asia", "sa"]
GAME_TAGS = [f"game-{number}" for number in range(20)]


async def lobby_list_world(database_url: str, lobbies: int, *, seed: int = 7) -> BenchUser:
    """`lobbies` public lobbies with 1 to 8 members each; returns the viewer (not a member of any).

    Each lobby has one region tag of four (so `eu` is on about a quarter), about one in five
    `ranked`, and up to two of twenty game tags: the tags filter then has work to do.
    """
    rng = random.Random(seed)
    owners = await seed_users(database_url, max(1, lobbies // 5), prefix="owner", premium=True)
    people = await seed_users(database_url, 500, prefix="member")
    groups = []
    tags = []
    for index in range(lobbies):
        owner = owners[index // 5 % len(owners)]
        others = rng.sample(people, rng.randint(0, 7))
        groups.append([owner, *others])
        lobby_tags = [rng.choice(REGION_TAGS), *rng.sample(GAME_TAGS, rng.randint(0, 2))]
        if rng.random() < 0.2:
            lobby_tags.append("ranked")
        tags.append(lobby_tags)
    await seed_lobbies(database_url, owners, groups, name_prefix="room", tags=tags)
    return (await seed_users(database_url, 1, prefix="viewer"))[0]
