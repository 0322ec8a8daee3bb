"""Lobby test helpers: accounts with roles, the lobby operations, and an app with other settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from premiumchat.main import create_app
from tests.accounts import set_user_flags
from tests.conftest import make_settings
from tests.graphql import GraphQLClient

if TYPE_CHECKING:
    from premiumchat.resources import Resources

USER_FIELDS = "id username isPremium isStaff createdAt"

LOBBY_FRAGMENT = """
fragment LobbyFields on Lobby {
  id name isPublic hasPassword maxParticipants participantCount status
  createdAt startedAt closedAt myRole owner { id username }
}
"""

CREATE_LOBBY = (
    "mutation CreateLobby($input: CreateLobbyInput!) { createLobby(input: $input) { ...LobbyFields } }"
    + LOBBY_FRAGMENT
)
UPDATE_LOBBY = (
    "mutation UpdateLobby($lobbyId: ID!, $input: UpdateLobbyInput!) {"
    " updateLobby(lobbyId: $lobbyId, input: $input) { ...LobbyFields } }" + LOBBY_FRAGMENT
)
JOIN_LOBBY = (
    "mutation JoinLobby($lobbyId: ID!, $password: String) {"
    " joinLobby(lobbyId: $lobbyId, password: $password) { ...LobbyFields } }" + LOBBY_FRAGMENT
)
LEAVE_LOBBY = "mutation LeaveLobby($lobbyId: ID!) { leaveLobby(lobbyId: $lobbyId) }"
START_GAME = (
    "mutation StartGame($lobbyId: ID!) { startGame(lobbyId: $lobbyId) { ...LobbyFields } }" + LOBBY_FRAGMENT
)
END_GAME = (
    "mutation EndGame($lobbyId: ID!) { endGame(lobbyId: $lobbyId) { ...LobbyFields } }" + LOBBY_FRAGMENT
)
CLOSE_LOBBY = (
    "mutation CloseLobby($lobbyId: ID!) { closeLobby(lobbyId: $lobbyId) { ...LobbyFields } }" + LOBBY_FRAGMENT
)
KICK_USER = (
    "mutation KickUser($lobbyId: ID!, $userId: ID!, $reason: String) {"
    " kickUser(lobbyId: $lobbyId, userId: $userId, reason: $reason) }"
)
BAN_USER = """
mutation BanUser($lobbyId: ID!, $userId: ID!, $reason: String, $durationSeconds: Int) {
  banUser(lobbyId: $lobbyId, userId: $userId, reason: $reason, durationSeconds: $durationSeconds) {
    user { id username } bannedBy { id username } reason createdAt expiresAt
  }
}
"""
UNBAN_USER = (
    "mutation UnbanUser($lobbyId: ID!, $userId: ID!) { unbanUser(lobbyId: $lobbyId, userId: $userId) }"
)
ADD_MODERATOR = """
mutation AddModerator($lobbyId: ID!, $userId: ID!) {
  addModerator(lobbyId: $lobbyId, userId: $userId) { user { id username } role joinedAt }
}
"""
REMOVE_MODERATOR = """
mutation RemoveModerator($lobbyId: ID!, $userId: ID!) {
  removeModerator(lobbyId: $lobbyId, userId: $userId) { user { id username } role joinedAt }
}
"""
SET_PREMIUM = f"""
mutation SetPremium($userId: ID!, $isPremium: Boolean!) {{
  setPremium(userId: $userId, isPremium: $isPremium) {{ {USER_FIELDS} }}
}}
"""
SET_USER_ACTIVE = f"""
mutation SetUserActive($userId: ID!, $isActive: Boolean!) {{
  setUserActive(userId: $userId, isActive: $isActive) {{ {USER_FIELDS} }}
}}
"""
LOBBY = (
    "query Lobby($id: ID!) { lobby(id: $id) {"
    " ...LobbyFields members { user { id username } role joinedAt } } }" + LOBBY_FRAGMENT
)
LOBBY_BANS = """
query LobbyBans($id: ID!) {
  lobby(id: $id) { id bans { user { id username } bannedBy { id username } reason createdAt expiresAt } }
}
"""
LOBBIES = (
    """
query Lobbies($filter: LobbyFilter, $orderBy: LobbyOrder, $first: Int, $after: String) {
  lobbies(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ...LobbyFields } }
  }
}
"""
    + LOBBY_FRAGMENT
)
LOBBY_LOG = """
query LobbyLog($lobbyId: ID!, $first: Int, $after: String) {
  lobbyLog(lobbyId: $lobbyId, first: $first, after: $after) {
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id kind actor { id } target { id } reason createdAt } }
  }
}
"""


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    token: str


Users = dict[str, Account]

# Argon2 is CPU-bound: a little concurrency hides the request overhead, more only queues.
_REGISTER_CONCURRENCY = 4


async def make_users(
    gql: GraphQLClient,
    database_url: str,
    names: Iterable[str],
    *,
    premium: Iterable[str] = (),
    staff: Iterable[str] = (),
) -> Users:
    """Registers the users concurrently, then makes some premium or staff (read on every request)."""
    gate = asyncio.Semaphore(_REGISTER_CONCURRENCY)

    async def register(name: str) -> Account:
        async with gate:
            payload = await gql.register(name)
        return Account(payload["user"]["id"], payload["user"]["username"], payload["accessToken"])

    names = list(names)
    accounts = await asyncio.gather(*(register(name) for name in names))
    users = dict(zip(names, accounts, strict=True))
    premium, staff = set(premium), set(staff)
    for name in sorted(premium | staff):
        flags = {"is_premium": True} if name in premium else {}
        if name in staff:
            flags["is_staff"] = True
        await set_user_flags(database_url, users[name].id, **flags)
    return users


def code_of(error: dict[str, Any]) -> str:
    code: str = error["extensions"]["code"]
    return code


def parse_time(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


class Api:
    """The lobby operations as one call each: data on success, or the error when `expect` names its code."""

    def __init__(self, gql: GraphQLClient) -> None:
        self.gql = gql

    async def run(
        self, query: str, variables: dict[str, Any], user: Account | None, expect: str | None = None
    ) -> Any:
        token = user.token if user else None
        if expect is None:
            return await self.gql.data(query, variables, token)
        error = await self.gql.error(query, variables, token)
        assert code_of(error) == expect, error
        return error

    async def outcome(self, query: str, variables: dict[str, Any], user: Account | None) -> str | None:
        """None on success, else the single error's code."""
        body = await self.gql.execute(query, variables, user.token if user else None)
        if not body.get("errors"):
            return None
        assert len(body["errors"]) == 1, body["errors"]
        return code_of(body["errors"][0])

    async def create_lobby(
        self, user: Account | None, name: str = "Lobby", *, expect: str | None = None, **fields: Any
    ) -> Any:
        result = await self.run(CREATE_LOBBY, {"input": {"name": name, **fields}}, user, expect)
        return result if expect else result["createLobby"]

    async def update(
        self, user: Account | None, lobby_id: str, *, expect: str | None = None, **fields: Any
    ) -> Any:
        result = await self.run(UPDATE_LOBBY, {"lobbyId": lobby_id, "input": fields}, user, expect)
        return result if expect else result["updateLobby"]

    async def join(
        self, user: Account | None, lobby_id: str, password: str | None = None, *, expect: str | None = None
    ) -> Any:
        result = await self.run(JOIN_LOBBY, {"lobbyId": lobby_id, "password": password}, user, expect)
        return result if expect else result["joinLobby"]

    async def join_all(self, users: Iterable[Account], lobby_id: str) -> None:
        for user in users:
            await self.join(user, lobby_id)

    async def leave(self, user: Account | None, lobby_id: str, *, expect: str | None = None) -> Any:
        result = await self.run(LEAVE_LOBBY, {"lobbyId": lobby_id}, user, expect)
        if expect:
            return result
        assert result["leaveLobby"] is True
        return True

    async def start(self, user: Account | None, lobby_id: str, *, expect: str | None = None) -> Any:
        result = await self.run(START_GAME, {"lobbyId": lobby_id}, user, expect)
        return result if expect else result["startGame"]

    async def end(self, user: Account | None, lobby_id: str, *, expect: str | None = None) -> Any:
        result = await self.run(END_GAME, {"lobbyId": lobby_id}, user, expect)
        return result if expect else result["endGame"]

    async def close(self, user: Account | None, lobby_id: str, *, expect: str | None = None) -> Any:
        result = await self.run(CLOSE_LOBBY, {"lobbyId": lobby_id}, user, expect)
        return result if expect else result["closeLobby"]

    async def kick(
        self,
        user: Account | None,
        lobby_id: str,
        target: Account | str,
        reason: str | None = None,
        *,
        expect: str | None = None,
    ) -> Any:
        variables = {"lobbyId": lobby_id, "userId": _id(target), "reason": reason}
        result = await self.run(KICK_USER, variables, user, expect)
        if expect:
            return result
        assert result["kickUser"] is True
        return True

    async def ban(
        self,
        user: Account | None,
        lobby_id: str,
        target: Account | str,
        reason: str | None = None,
        duration: int | None = None,
        *,
        expect: str | None = None,
    ) -> Any:
        variables = {
            "lobbyId": lobby_id,
            "userId": _id(target),
            "reason": reason,
            "durationSeconds": duration,
        }
        result = await self.run(BAN_USER, variables, user, expect)
        return result if expect else result["banUser"]

    async def unban(
        self, user: Account | None, lobby_id: str, target: Account | str, *, expect: str | None = None
    ) -> Any:
        result = await self.run(UNBAN_USER, {"lobbyId": lobby_id, "userId": _id(target)}, user, expect)
        if expect:
            return result
        assert result["unbanUser"] is True
        return True

    async def add_moderator(
        self, user: Account | None, lobby_id: str, target: Account | str, *, expect: str | None = None
    ) -> Any:
        result = await self.run(ADD_MODERATOR, {"lobbyId": lobby_id, "userId": _id(target)}, user, expect)
        return result if expect else result["addModerator"]

    async def remove_moderator(
        self, user: Account | None, lobby_id: str, target: Account | str, *, expect: str | None = None
    ) -> Any:
        result = await self.run(REMOVE_MODERATOR, {"lobbyId": lobby_id, "userId": _id(target)}, user, expect)
        return result if expect else result["removeModerator"]

    async def set_premium(
        self, user: Account | None, target: Account | str, value: bool, *, expect: str | None = None
    ) -> Any:
        result = await self.run(SET_PREMIUM, {"userId": _id(target), "isPremium": value}, user, expect)
        return result if expect else result["setPremium"]

    async def set_active(
        self, user: Account | None, target: Account | str, value: bool, *, expect: str | None = None
    ) -> Any:
        result = await self.run(SET_USER_ACTIVE, {"userId": _id(target), "isActive": value}, user, expect)
        return result if expect else result["setUserActive"]

    async def lobby(self, user: Account | None, lobby_id: str) -> Any:
        """The lobby with its members, or None when the viewer may not see it."""
        return (await self.run(LOBBY, {"id": lobby_id}, user))["lobby"]

    async def bans(self, user: Account | None, lobby_id: str) -> list[dict[str, Any]]:
        lobby = (await self.run(LOBBY_BANS, {"id": lobby_id}, user))["lobby"]
        assert lobby is not None
        bans: list[dict[str, Any]] = lobby["bans"]
        return bans

    async def lobbies(self, user: Account | None, *, expect: str | None = None, **variables: Any) -> Any:
        result = await self.run(LOBBIES, variables, user, expect)
        return result if expect else result["lobbies"]

    async def lobby_ids(self, user: Account | None, **variables: Any) -> list[str]:
        connection = await self.lobbies(user, first=100, **variables)
        return [edge["node"]["id"] for edge in connection["edges"]]

    async def log_page(
        self,
        user: Account | None,
        lobby_id: str,
        first: int | None = None,
        after: str | None = None,
        *,
        expect: str | None = None,
    ) -> Any:
        variables: dict[str, Any] = {"lobbyId": lobby_id, "after": after}
        if first is not None:
            variables["first"] = first
        result = await self.run(LOBBY_LOG, variables, user, expect)
        return result if expect else result["lobbyLog"]

    async def log(self, user: Account | None, lobby_id: str) -> list[dict[str, Any]]:
        """Every log entry, oldest first."""
        page = await self.log_page(user, lobby_id, first=100)
        assert page["pageInfo"]["hasNextPage"] is False
        return [edge["node"] for edge in page["edges"]]

    async def members(self, user: Account | None, lobby_id: str) -> dict[str, str]:
        """user id → role, as the viewer sees the members."""
        lobby = await self.lobby(user, lobby_id)
        assert lobby is not None
        return {member["user"]["id"]: member["role"] for member in lobby["members"]}


def _id(target: Account | str) -> str:
    return target.id if isinstance(target, Account) else target


def log_summary(entries: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None]]:
    """(kind, actor id, target id) of each log entry."""
    return [
        (
            entry["kind"],
            entry["actor"]["id"] if entry["actor"] else None,
            entry["target"]["id"] if entry["target"] else None,
        )
        for entry in entries
    ]


@asynccontextmanager
async def app_with(database_url: str, **overrides: Any) -> AsyncIterator[tuple[GraphQLClient, Resources]]:
    """The app on other settings (e.g. max_lobbies_per_owner), with its GraphQL client and resources."""
    async with LifespanManager(create_app(make_settings(database_url, **overrides))) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield GraphQLClient(client), manager._state["resources"]


def fresh_database(request: pytest.FixtureRequest) -> str:
    """A migrated database of its own on request.param's backend ("sqlite" or "postgres"), for wider-scoped
    fixtures (the conftest's databases are per test)."""
    if request.param == "sqlite":
        return asyncio.run(request.getfixturevalue("sqlite_databases").create())
    return asyncio.run(request.getfixturevalue("postgres_databases").create())
