"""The lock and the ready check: who sets them, what they refuse, and the events they send."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.graphql import GraphQLClient
from tests.lobbies import Account, Users, make_users
from tests.lobby_extras import Extras
from tests.realtime import LiveClient, Stream, unique_names
from tests.servers import ServerProcess

USER = "id username"
EVENTS = f"""
subscription LobbyEvents($lobbyId: ID!) {{
  lobbyEvents(lobbyId: $lobbyId) {{
    __typename lobbyId occurredAt
    ... on PresenceJoinEvent {{ user {{ {USER} }} }}
    ... on MemberUpdatedEvent {{ member {{ user {{ {USER} }} role joinedAt isReady }} }}
    ... on MemberJoinedEvent {{ member {{ user {{ {USER} }} isReady }} }}
    ... on LobbyUpdatedEvent {{ lobby {{ id status isLocked tags readyCount participantCount }} }}
  }}
}}
"""
LIST_UPDATES = "subscription { lobbyListUpdates { __typename lobbyId lobby { id readyCount } } }"


@pytest.fixture
def api(gql: GraphQLClient) -> Extras:
    return Extras(gql)


async def test_a_locked_lobby_refuses_joins_and_keeps_its_members(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    names = ["olive", "mod", "mia", "ann", "boss"]
    users = await make_users(gql, database_url, names, premium=["olive"], staff=["boss"])
    olive, mod, mia, ann, boss = (users[n] for n in names)
    lobby_id = (await api.create_lobby(olive, "Den"))["id"]
    await api.join_all([mod, mia], lobby_id)
    await api.add_moderator(olive, lobby_id, mod)
    code = (await api.create_invite(olive, lobby_id))["code"]
    assert (await api.extras(olive, lobby_id))["isLocked"] is False

    await api.update(mod, lobby_id, isLocked=True, expect="FORBIDDEN")
    await api.update(mia, lobby_id, isLocked=True, expect="FORBIDDEN")
    await api.update(olive, lobby_id, isLocked=True)
    lobby = await api.extras(mia, lobby_id)
    assert (lobby["isLocked"], lobby["participantCount"], len(lobby["members"])) == (True, 3, 3)
    error = await api.join(ann, lobby_id, expect="LOBBY_LOCKED")
    assert error["extensions"] == {"code": "LOBBY_LOCKED"}
    await api.join_by_invite(ann, code, expect="LOBBY_LOCKED")
    await api.join(mia, lobby_id, expect="CONFLICT")  # a member is told so, locked or not
    # Members still chat and leave; the owner still runs the game.
    await api.send(mia, lobby_id, "still here")
    await api.leave(mia, lobby_id)
    await api.join(mia, lobby_id, expect="LOBBY_LOCKED")

    await api.update(boss, lobby_id, isLocked=False)  # staff too
    await api.join(ann, lobby_id)
    assert (await api.extras(olive, lobby_id))["participantCount"] == 3
    kinds = [entry["kind"] for entry in await api.log(olive, lobby_id)]
    assert kinds.count("UPDATED") == 2


# --- the ready check, with a live subscriber on a real server ------------------------------------


@pytest.fixture
async def live_api(server: ServerProcess) -> AsyncIterator[Extras]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as client:
        yield Extras(GraphQLClient(client))


async def _lobby(api: Extras, server: ServerProcess, names: list[str], staff: list[str]) -> tuple[Users, str]:
    real = dict(zip(names, unique_names(*names), strict=True))
    accounts = await make_users(
        api.gql,
        server.env["DATABASE_URL"],
        list(real.values()),
        premium=[real[names[0]]],
        staff=[real[n] for n in staff],
    )
    users = {name: accounts[real[name]] for name in names}
    lobby_id = (await api.create_lobby(users[names[0]], "Ready room"))["id"]
    return users, lobby_id


async def _subscribed(client: LiveClient, lobby_id: str, account: Account) -> Stream:
    stream = client.subscribe(EVENTS, {"lobbyId": lobby_id})
    await stream.until("PresenceJoinEvent", lambda e: e["user"]["id"] == account.id)
    return stream


def _ready_event(event: dict[str, Any]) -> tuple[str, bool]:
    return event["member"]["user"]["id"], event["member"]["isReady"]


async def _until_list_live(api: Extras, owner: Account, lobby_id: str, room_list: Stream) -> None:
    """Rename the lobby until the room list stream reports it: then the stream is live (an update
    published before its subscription was on the bus reaches nobody, and a loaded machine can
    take seconds to get there)."""
    for attempt in range(10):
        await api.update(owner, lobby_id, name=f"Ready room {attempt}")
        try:
            await room_list.until("LobbyUpdatedEvent", lambda e: e["lobbyId"] == lobby_id, wait=1.5)
        except TimeoutError:
            continue
        return
    raise AssertionError("the room list stream never went live")


async def test_ready_flags_reach_subscribers_and_end_game_resets_them(
    live_api: Extras, server: ServerProcess
) -> None:
    api = live_api
    users, lobby_id = await _lobby(api, server, ["olive", "ann", "bob", "out", "boss"], staff=["boss"])
    olive, ann, bob, out, boss = (users[n] for n in ("olive", "ann", "bob", "out", "boss"))
    await api.join_all([ann, bob], lobby_id)
    async with LiveClient(server.ws_url, olive) as watcher:
        events = await _subscribed(watcher, lobby_id, olive)
        room_list = watcher.subscribe(LIST_UPDATES)
        await _until_list_live(api, olive, lobby_id, room_list)

        member = await api.set_ready(ann, lobby_id, True)
        assert (member["user"]["id"], member["role"], member["isReady"]) == (ann.id, "MEMBER", True)
        updated = await events.until("MemberUpdatedEvent")
        assert updated["lobbyId"] == lobby_id
        assert _ready_event(updated) == (ann.id, True)
        assert updated["member"]["role"] == "MEMBER"
        await api.set_ready(olive, lobby_id, True)
        assert _ready_event(await events.until("MemberUpdatedEvent")) == (olive.id, True)
        counts = [(await room_list.until("LobbyUpdatedEvent"))["lobby"]["readyCount"] for _ in range(2)]
        assert counts == [1, 2]
        lobby = await api.extras(bob, lobby_id)
        assert lobby["readyCount"] == 2
        assert {m["user"]["id"]: m["isReady"] for m in lobby["members"]} == {
            olive.id: True,
            ann.id: True,
            bob.id: False,
        }
        listed = (await api.lobbies(bob, first=100))["edges"]
        assert [e["node"]["id"] for e in listed].count(lobby_id) == 1

        # Setting it again changes nothing and sends nothing.
        assert (await api.set_ready(ann, lobby_id, True))["isReady"] is True
        await events.quiet(ignore=("PresenceJoinEvent",))
        assert (await api.extras(bob, lobby_id))["readyCount"] == 2

        await api.set_ready(out, lobby_id, True, expect="FORBIDDEN")  # not a member
        await api.set_ready(boss, lobby_id, True, expect="FORBIDDEN")  # staff, not a member
        await api.start(olive, lobby_id)
        await events.until("LobbyUpdatedEvent", lambda e: e["lobby"]["status"] == "IN_GAME")
        await api.set_ready(bob, lobby_id, True, expect="LOBBY_NOT_OPEN")
        assert (await api.extras(bob, lobby_id))["readyCount"] == 2  # a game keeps the flags

        await api.end(olive, lobby_id)
        reset = [_ready_event(await events.until("MemberUpdatedEvent")) for _ in range(2)]
        assert sorted(reset) == sorted([(ann.id, False), (olive.id, False)])
        ended = await events.until("LobbyUpdatedEvent")
        assert (ended["lobby"]["status"], ended["lobby"]["readyCount"]) == ("OPEN", 0)
        lobby = await api.extras(bob, lobby_id)
        assert lobby["readyCount"] == 0
        assert not any(m["isReady"] for m in lobby["members"])

        # A ready member who leaves no longer counts; one who comes back is not ready.
        await api.set_ready(bob, lobby_id, True)
        await api.set_ready(ann, lobby_id, True)
        assert (await api.extras(olive, lobby_id))["readyCount"] == 2
        await api.leave(bob, lobby_id)
        assert (await api.extras(olive, lobby_id))["readyCount"] == 1
        assert (await api.set_ready(ann, lobby_id, False))["isReady"] is False
        assert (await api.extras(olive, lobby_id))["readyCount"] == 0
        rejoined = await api.join(bob, lobby_id)
        assert rejoined["participantCount"] == 3
        joined = await events.until("MemberJoinedEvent", lambda e: e["member"]["user"]["id"] == bob.id)
        assert joined["member"]["isReady"] is False
        await api.close(olive, lobby_id)
        await api.set_ready(ann, lobby_id, True, expect="LOBBY_NOT_OPEN")


async def test_set_ready_checks_its_input(live_api: Extras, server: ServerProcess) -> None:
    api = live_api
    users, lobby_id = await _lobby(api, server, ["olive", "out"], staff=[])
    await api.set_ready(users["out"], "999999999", True, expect="NOT_FOUND")
    error = await api.set_ready(users["out"], "not-an-id", True, expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "lobbyId"
    private = (await api.create_lobby(users["olive"], "Hidden", isPublic=False))["id"]
    await api.set_ready(users["out"], private, True, expect="NOT_FOUND")
    await api.set_ready(users["out"], lobby_id, True, expect="FORBIDDEN")


@pytest.mark.parametrize(
    "operation",
    [
        'mutation { createInvite(lobbyId: "1") { code } }',
        'mutation { revokeInvite(code: "abc") }',
        'mutation { joinByInvite(code: "abc") { id } }',
        'mutation { setReady(lobbyId: "1", isReady: true) { isReady } }',
        'mutation { reportMessage(messageId: "1", reason: "spam") { id } }',
        'mutation { resolveReport(reportId: "1") { id } }',
        "query { messageReports { edges { cursor } } }",
    ],
)
async def test_the_extras_need_a_token(gql: GraphQLClient, operation: str) -> None:
    error = await gql.error(operation)
    assert error["extensions"] == {"code": "UNAUTHENTICATED"}
