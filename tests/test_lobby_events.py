"""Events on the bus: what each lobby operation publishes, on the lobby's channel and on the lobby list."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from premiumchat.realtime.channels import LOBBY_LIST_CHANNEL, lobby_channel
from tests.graphql import ME, GraphQLClient
from tests.lobbies import Account, Api, make_users, parse_time

if TYPE_CHECKING:
    from premiumchat.resources import Resources

WAIT_SECONDS = 5
QUIET_SECONDS = 0.3

USER_KEYS = {"id", "username", "isPremium", "isStaff", "createdAt"}
LOBBY_KEYS = {
    "id",
    "name",
    "owner",
    "isPublic",
    "hasPassword",
    "maxParticipants",
    "participantCount",
    "status",
    "createdAt",
    "startedAt",
    "closedAt",
    "slowModeSeconds",
    "blockedTerms",
    "isLocked",
    "tags",
    "readyCount",
}


class Listener:
    """One subscription to a bus channel, read as decoded events."""

    def __init__(self, subscription: Any) -> None:
        self.subscription = subscription

    async def next(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.subscription.get(), WAIT_SECONDS)
        event: dict[str, Any] = json.loads(message)
        check_envelope(event)
        return event

    async def until(self, **expected: Any) -> dict[str, Any]:
        """The next event whose lobby has the expected fields (other events of the list are skipped)."""
        while True:
            event = await self.next()
            if all(event["lobby"].get(key) == value for key, value in expected.items()):
                return event

    async def nothing(self) -> None:
        try:
            message = await asyncio.wait_for(self.subscription.get(), QUIET_SECONDS)
        except TimeoutError:
            return
        pytest.fail(f"unexpected event {message}")


@asynccontextmanager
async def listen(resources: Resources, *channels: str) -> AsyncIterator[list[Listener]]:
    async with AsyncExitStack() as stack:
        listeners = [Listener(await stack.enter_async_context(resources.bus.subscribe(c))) for c in channels]
        yield listeners


def check_envelope(event: dict[str, Any]) -> None:
    assert isinstance(event["type"], str), event
    assert isinstance(event["lobbyId"], str), event
    assert event["lobbyId"].isdecimal(), event
    occurred = parse_time(event["occurredAt"])
    assert abs(datetime.now(UTC) - occurred) < timedelta(seconds=30), event
    assert "email" not in json.dumps(event), event


def check_user(user: dict[str, Any], account: Account) -> None:
    assert set(user) == USER_KEYS, user
    assert (user["id"], user["username"]) == (account.id, account.username)
    parse_time(user["createdAt"])


def check_lobby(event: dict[str, Any], lobby_id: str, **expected: Any) -> dict[str, Any]:
    assert event["type"] == "LobbyUpdatedEvent", event
    assert event["lobbyId"] == lobby_id
    lobby: dict[str, Any] = event["lobby"]
    assert set(lobby) == LOBBY_KEYS, lobby
    assert lobby["id"] == lobby_id
    assert set(lobby["owner"]) == USER_KEYS
    for key, value in expected.items():
        assert lobby[key] == value, (key, lobby)
    return lobby


def check_moderation(
    event: dict[str, Any],
    lobby_id: str,
    action: str,
    actor: Account,
    target: Account,
    reason: str | None = None,
) -> None:
    assert event["type"] == "ModerationEvent", event
    assert event["lobbyId"] == lobby_id
    assert event["action"] == action
    check_user(event["actor"], actor)
    check_user(event["target"], target)
    assert event["reason"] == reason
    assert "expiresAt" in event


@pytest.fixture
def api(gql: GraphQLClient) -> Api:
    return Api(gql)


async def test_join_publishes_member_joined(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Events"))["id"]
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.join(mia, lobby_id)
        event = await room.next()
        assert event["type"] == "MemberJoinedEvent", event
        assert event["lobbyId"] == lobby_id
        assert set(event["member"]) == {"user", "role", "joinedAt", "isReady"}
        check_user(event["member"]["user"], mia)
        me = (await gql.data(ME, token=mia.token))["me"]
        assert event["member"]["user"]["isPremium"] is False
        assert event["member"]["user"]["isStaff"] is False
        assert parse_time(event["member"]["user"]["createdAt"]) == parse_time(me["createdAt"])
        assert event["member"]["role"] == "MEMBER"
        parse_time(event["member"]["joinedAt"])

        listed = check_lobby(await lobbies.next(), lobby_id, participantCount=2, status="OPEN", isPublic=True)
        check_user(listed["owner"], olive)
        assert listed["name"] == "Events"
        assert listed["maxParticipants"] == 8
        assert listed["hasPassword"] is False


async def test_leave_publishes_member_left(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Events"))["id"]
    await api.join(mia, lobby_id)
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.leave(mia, lobby_id)
        event = await room.next()
        assert event["type"] == "MemberLeftEvent", event
        assert event["lobbyId"] == lobby_id
        check_user(event["user"], mia)
        check_lobby(await lobbies.next(), lobby_id, participantCount=1, status="OPEN")
        await room.nothing()


async def test_owner_leaving_publishes_the_new_owner(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Events"))["id"]
    await api.join(mia, lobby_id)
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.leave(olive, lobby_id)
        left = await room.next()
        assert left["type"] == "MemberLeftEvent", left
        check_user(left["user"], olive)
        updated = check_lobby(await room.next(), lobby_id, participantCount=1, status="OPEN")
        check_user(updated["owner"], mia)
        listed = await lobbies.until(participantCount=1)
        check_user(check_lobby(listed, lobby_id)["owner"], mia)


async def test_the_last_leave_publishes_the_closing(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive"], premium=["olive"])
    olive = users["olive"]
    lobby_id = (await api.create_lobby(olive, "Events"))["id"]
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.leave(olive, lobby_id)
        left = await room.next()
        assert left["type"] == "MemberLeftEvent", left
        check_user(left["user"], olive)
        closed = check_lobby(await room.next(), lobby_id, status="CLOSED", participantCount=0)
        assert closed["closedAt"] is not None
        check_lobby(await lobbies.until(status="CLOSED"), lobby_id, participantCount=0)


async def test_moderation_publishes_moderation_events(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["olive", "mod", "mia", "bob", "sam"], premium=["olive"], staff=["sam"]
    )
    olive, mod, mia, bob, sam = (users[n] for n in ("olive", "mod", "mia", "bob", "sam"))
    lobby_id = (await api.create_lobby(olive, "Events"))["id"]
    await api.join_all([mod, mia, bob], lobby_id)
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.add_moderator(olive, lobby_id, mod)
        event = await room.next()
        check_moderation(event, lobby_id, "MODERATOR_ADDED", olive, mod)
        assert event["expiresAt"] is None

        await api.kick(mod, lobby_id, mia, "too loud")
        event = await room.next()
        check_moderation(event, lobby_id, "KICK", mod, mia, "too loud")
        assert event["expiresAt"] is None
        check_lobby(await lobbies.until(participantCount=3), lobby_id)

        ban = await api.ban(mod, lobby_id, bob, "spam", 600)
        event = await room.next()
        check_moderation(event, lobby_id, "BAN", mod, bob, "spam")
        assert parse_time(event["expiresAt"]) == parse_time(ban["expiresAt"])
        check_lobby(await lobbies.until(participantCount=2), lobby_id)

        await api.ban(sam, lobby_id, mia)  # not a member any more: still banned, permanently
        event = await room.next()
        check_moderation(event, lobby_id, "BAN", sam, mia)
        assert event["expiresAt"] is None

        await api.unban(olive, lobby_id, bob)
        event = await room.next()
        check_moderation(event, lobby_id, "UNBAN", olive, bob)
        assert event["expiresAt"] is None

        await api.remove_moderator(sam, lobby_id, mod)
        event = await room.next()
        check_moderation(event, lobby_id, "MODERATOR_REMOVED", sam, mod)
        assert event["expiresAt"] is None
        await room.nothing()


async def test_lifecycle_publishes_lobby_updates(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive"], premium=["olive"])
    olive = users["olive"]
    lobby_id = (await api.create_lobby(olive, "Events"))["id"]
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.update(olive, lobby_id, name="Renamed", maxParticipants=4, password="ignored")
        for listener in (room, lobbies):
            lobby = check_lobby(await listener.next(), lobby_id, name="Renamed", maxParticipants=4)
            assert lobby["hasPassword"] is False
            check_user(lobby["owner"], olive)

        await api.start(olive, lobby_id)
        for listener in (room, lobbies):
            lobby = check_lobby(await listener.next(), lobby_id, status="IN_GAME")
            assert lobby["startedAt"] is not None

        await api.end(olive, lobby_id)
        for listener in (room, lobbies):
            check_lobby(await listener.next(), lobby_id, status="OPEN")

        await api.close(olive, lobby_id)
        for listener in (room, lobbies):
            lobby = check_lobby(await listener.next(), lobby_id, status="CLOSED")
            assert lobby["closedAt"] is not None
        await room.nothing()


async def test_the_lobby_list_carries_public_lobbies_only(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia", "bob"], premium=["olive"])
    olive, mia, bob = users["olive"], users["mia"], users["bob"]
    async with listen(resources, LOBBY_LIST_CHANNEL) as (lobbies,):
        public = await api.create_lobby(olive, "Public")
        listed = check_lobby(
            await lobbies.next(), public["id"], status="OPEN", participantCount=1, isPublic=True
        )
        check_user(listed["owner"], olive)
        assert parse_time(listed["createdAt"]) == parse_time(public["createdAt"])

        private = await api.create_lobby(olive, "Private", isPublic=False)
        await api.join(mia, private["id"])
        await api.update(olive, private["id"], name="Still private")
        await api.start(olive, private["id"])
        await api.close(olive, private["id"])
        await lobbies.nothing()

        # Turning private: one last event so lists drop it, then silence.
        await api.update(olive, public["id"], isPublic=False)
        check_lobby(await lobbies.next(), public["id"], isPublic=False)
        await api.join(bob, public["id"])
        await api.update(olive, public["id"], name="Hidden now")
        await lobbies.nothing()

        # Public again: it is listed again.
        await api.update(olive, public["id"], isPublic=True)
        check_lobby(await lobbies.next(), public["id"], isPublic=True, name="Hidden now", participantCount=2)


async def test_private_lobbies_publish_on_their_own_channel(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Private", isPublic=False))["id"]
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.join(mia, lobby_id)
        assert (await room.next())["type"] == "MemberJoinedEvent"
        await api.start(olive, lobby_id)
        check_lobby(await room.next(), lobby_id, status="IN_GAME", isPublic=False)
        await lobbies.nothing()


async def test_refused_operations_publish_nothing(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia", "bob", "otto"], premium=["olive"])
    olive, mia, bob, otto = users["olive"], users["mia"], users["bob"], users["otto"]
    lobby_id = (await api.create_lobby(olive, "Quiet", maxParticipants=2))["id"]
    await api.join(mia, lobby_id)
    async with listen(resources, lobby_channel(int(lobby_id)), LOBBY_LIST_CHANNEL) as (room, lobbies):
        await api.join(bob, lobby_id, expect="LOBBY_FULL")
        await api.kick(mia, lobby_id, olive, expect="FORBIDDEN")
        await api.kick(olive, lobby_id, otto, expect="NOT_FOUND")
        await api.end(olive, lobby_id, expect="CONFLICT")
        await api.update(olive, lobby_id, maxParticipants=1, expect="BAD_USER_INPUT")
        await api.leave(otto, lobby_id, expect="FORBIDDEN")
        await api.unban(olive, lobby_id, otto, expect="NOT_FOUND")
        await room.nothing()
        await lobbies.nothing()


async def test_deactivation_publishes_the_leaves(
    api: Api, gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["sam", "dee", "mia"], staff=["sam"], premium=["dee"])
    sam, dee, mia = users["sam"], users["dee"], users["mia"]
    owned = (await api.create_lobby(dee, "Owned"))["id"]
    await api.join(mia, owned)
    alone = (await api.create_lobby(dee, "Alone", isPublic=False))["id"]
    async with listen(resources, lobby_channel(int(owned)), lobby_channel(int(alone))) as (room, solo):
        await api.set_active(sam, dee, False)
        left = await room.next()
        assert left["type"] == "MemberLeftEvent", left
        check_user(left["user"], dee)
        check_user(check_lobby(await room.next(), owned, participantCount=1)["owner"], mia)
        left = await solo.next()
        assert left["type"] == "MemberLeftEvent", left
        check_user(left["user"], dee)
        check_lobby(await solo.next(), alone, status="CLOSED", isPublic=False)
