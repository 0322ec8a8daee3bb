"""Membership: joining and leaving, ownership passing on, closing, and capacity under concurrency."""

from __future__ import annotations

import asyncio

import pytest

from tests.graphql import GraphQLClient
from tests.lobbies import JOIN_LOBBY, Api, log_summary, make_users, parse_time


@pytest.fixture
def api(gql: GraphQLClient) -> Api:
    return Api(gql)


async def test_join_and_leave(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Hall"))["id"]

    joined = await api.join(mia, lobby_id)
    assert joined["id"] == lobby_id
    assert joined["participantCount"] == 2
    assert joined["myRole"] == "MEMBER"
    assert await api.members(olive, lobby_id) == {olive.id: "OWNER", mia.id: "MEMBER"}

    assert await api.leave(mia, lobby_id) is True
    after = await api.lobby(mia, lobby_id)
    assert after["participantCount"] == 1
    assert after["myRole"] is None
    assert after["members"] == []  # no longer a member
    assert await api.members(olive, lobby_id) == {olive.id: "OWNER"}

    rejoined = await api.join(mia, lobby_id)
    assert rejoined["participantCount"] == 2
    assert log_summary(await api.log(olive, lobby_id)) == [
        ("CREATED", olive.id, None),
        ("JOINED", mia.id, mia.id),
        ("LEFT", mia.id, mia.id),
        ("JOINED", mia.id, mia.id),
    ]


async def test_join_and_leave_need_a_valid_lobby_and_a_user(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    mia = users["mia"]
    lobby_id = (await api.create_lobby(users["olive"], "Hall"))["id"]
    await api.join(None, lobby_id, expect="UNAUTHENTICATED")
    await api.leave(None, lobby_id, expect="UNAUTHENTICATED")
    await api.join(mia, "999999", expect="NOT_FOUND")
    await api.leave(mia, "999999", expect="NOT_FOUND")
    for malformed in ("abc", "1e3", "-"):
        error = await api.join(mia, malformed, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "lobbyId"
        error = await api.leave(mia, malformed, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "lobbyId"
    # Refused joins changed nothing.
    assert (await api.lobby(mia, lobby_id))["participantCount"] == 1


async def test_leaving_a_lobby_one_is_not_in(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    public = (await api.create_lobby(olive, "Public"))["id"]
    private = (await api.create_lobby(olive, "Private", isPublic=False))["id"]
    await api.leave(mia, public, expect="FORBIDDEN")
    await api.leave(mia, private, expect="NOT_FOUND")


async def test_join_needs_the_password(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Locked", password="open-sesame"))["id"]
    await api.join(mia, lobby_id, expect="WRONG_PASSWORD")
    await api.join(mia, lobby_id, "wrong-one", expect="WRONG_PASSWORD")
    await api.join(mia, lobby_id, "OPEN-SESAME", expect="WRONG_PASSWORD")
    assert (await api.join(mia, lobby_id, "open-sesame"))["myRole"] == "MEMBER"


async def test_anyone_may_join_a_private_lobby_by_id(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Hidden", isPublic=False))["id"]
    assert await api.lobby(mia, lobby_id) is None
    assert await api.lobby_ids(mia) == []
    joined = await api.join(mia, lobby_id)
    assert joined["name"] == "Hidden"
    assert (await api.lobby(mia, lobby_id))["myRole"] == "MEMBER"
    assert await api.lobby_ids(mia) == [lobby_id]
    await api.leave(mia, lobby_id)
    assert await api.lobby(mia, lobby_id) is None


async def test_join_checks_come_in_the_documented_order(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia", "bob", "otto", "fill"], premium=["olive"])
    olive, mia, bob, otto = users["olive"], users["mia"], users["bob"], users["otto"]
    lobby_id = (await api.create_lobby(olive, "Strict", password="pass-word", maxParticipants=3))["id"]
    await api.join(mia, lobby_id, "pass-word")
    await api.ban(olive, lobby_id, bob)
    await api.join(users["fill"], lobby_id, "pass-word")  # now full: 3 of 3

    # Full, password: the password comes first; with it, the lobby is full.
    await api.join(otto, lobby_id, expect="WRONG_PASSWORD")
    await api.join(otto, lobby_id, "pass-word", expect="LOBBY_FULL")
    # Banned beats both, with the expiry (null: permanent).
    error = await api.join(bob, lobby_id, expect="BANNED")
    assert error["extensions"]["expiresAt"] is None
    error = await api.join(bob, lobby_id, "pass-word", expect="BANNED")
    assert error["extensions"]["expiresAt"] is None
    # Already a member beats the password and a full lobby.
    await api.join(mia, lobby_id, expect="CONFLICT")
    await api.join(mia, lobby_id, "pass-word", expect="CONFLICT")
    # A lobby that is not OPEN beats everything.
    await api.start(olive, lobby_id)
    for user in (mia, bob, otto):
        await api.join(user, lobby_id, expect="LOBBY_NOT_OPEN")
    await api.end(olive, lobby_id)
    await api.close(olive, lobby_id)
    for user in (mia, bob, otto):
        await api.join(user, lobby_id, "pass-word", expect="LOBBY_NOT_OPEN")


async def test_the_owner_passes_ownership_to_the_longest_standing_moderator(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mod1", "mod2", "mod3"], premium=["olive"])
    olive, m1, m2, m3 = users["olive"], users["mod1"], users["mod2"], users["mod3"]
    lobby_id = (await api.create_lobby(olive, "Succession"))["id"]
    for member in (m1, m2, m3):
        await api.join(member, lobby_id)
    # m3 is appointed first, but m2 joined earlier: joining time decides. m1 is no moderator.
    await api.add_moderator(olive, lobby_id, m3)
    await api.add_moderator(olive, lobby_id, m2)

    await api.leave(olive, lobby_id)
    lobby = await api.lobby(m2, lobby_id)
    assert lobby["owner"]["id"] == m2.id
    assert lobby["myRole"] == "OWNER"
    assert lobby["status"] == "OPEN"
    assert lobby["participantCount"] == 3
    assert {m["user"]["id"]: m["role"] for m in lobby["members"]} == {
        m2.id: "OWNER",
        m3.id: "MODERATOR",
        m1.id: "MEMBER",
    }
    assert log_summary(await api.log(m2, lobby_id))[-2:] == [
        ("LEFT", olive.id, olive.id),
        ("OWNER_CHANGED", None, m2.id),
    ]
    # The new owner has the owner's powers, the old one none.
    await api.start(m2, lobby_id)
    await api.end(olive, lobby_id, expect="FORBIDDEN")
    await api.end(m2, lobby_id)


async def test_without_moderators_the_longest_standing_member_becomes_owner(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "first", "second"], premium=["olive"])
    olive, first, second = users["olive"], users["first"], users["second"]
    lobby_id = (await api.create_lobby(olive, "Succession"))["id"]
    await api.join(first, lobby_id)
    await api.join(second, lobby_id)
    await api.leave(olive, lobby_id)
    assert await api.members(second, lobby_id) == {first.id: "OWNER", second.id: "MEMBER"}
    assert (await api.lobby(first, lobby_id))["owner"]["id"] == first.id
    # And on again when the new owner leaves.
    await api.leave(first, lobby_id)
    assert await api.members(second, lobby_id) == {second.id: "OWNER"}
    assert log_summary(await api.log(second, lobby_id))[-4:] == [
        ("LEFT", olive.id, olive.id),
        ("OWNER_CHANGED", None, first.id),
        ("LEFT", first.id, first.id),
        ("OWNER_CHANGED", None, second.id),
    ]


async def test_rejoining_counts_from_the_new_join(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "early", "late"], premium=["olive"])
    olive, early, late = users["olive"], users["early"], users["late"]
    lobby_id = (await api.create_lobby(olive, "Rejoin"))["id"]
    await api.join(early, lobby_id)
    await api.join(late, lobby_id)
    await api.leave(early, lobby_id)
    await api.join(early, lobby_id)  # now the newest member
    await api.leave(olive, lobby_id)
    assert (await api.lobby(late, lobby_id))["owner"]["id"] == late.id


async def test_the_last_member_leaving_closes_the_lobby(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mia", "sam"], premium=["olive"], staff=["sam"])
    olive, mia, sam = users["olive"], users["mia"], users["sam"]
    lobby_id = (await api.create_lobby(olive, "Short-lived"))["id"]
    await api.join(mia, lobby_id)
    await api.leave(olive, lobby_id)
    await api.leave(mia, lobby_id)

    lobby = await api.lobby(sam, lobby_id)
    assert lobby["status"] == "CLOSED"
    assert lobby["participantCount"] == 0
    assert lobby["members"] == []
    assert parse_time(lobby["closedAt"]) >= parse_time(lobby["createdAt"])
    assert log_summary(await api.log(sam, lobby_id)) == [
        ("CREATED", olive.id, None),
        ("JOINED", mia.id, mia.id),
        ("LEFT", olive.id, olive.id),
        ("OWNER_CHANGED", None, mia.id),
        ("LEFT", mia.id, mia.id),
        ("CLOSED", None, None),
    ]
    await api.join(olive, lobby_id, expect="LOBBY_NOT_OPEN")
    await api.close(sam, lobby_id, expect="LOBBY_NOT_OPEN")
    assert await api.lobby_ids(olive) == []
    assert await api.lobby_ids(olive, filter={"status": "CLOSED"}) == [lobby_id]


async def test_an_owner_alone_leaving_closes_the_lobby_and_frees_a_place_in_the_limit(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "sam"], premium=["olive"], staff=["sam"])
    olive = users["olive"]
    ids = [(await api.create_lobby(olive, f"Lobby {i}"))["id"] for i in range(5)]
    await api.create_lobby(olive, "Sixth", expect="CONFLICT")
    await api.leave(olive, ids[0])
    closed = await api.lobby(users["sam"], ids[0])
    assert (closed["status"], closed["participantCount"]) == ("CLOSED", 0)
    assert closed["closedAt"] is not None
    assert log_summary(await api.log(users["sam"], ids[0]))[-2:] == [
        ("LEFT", olive.id, olive.id),
        ("CLOSED", None, None),
    ]
    await api.create_lobby(olive, "Sixth")


async def test_ownership_passing_on_ignores_the_lobby_limit(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "heir"], premium=["olive", "heir"])
    olive, heir = users["olive"], users["heir"]
    inherited = (await api.create_lobby(olive, "Inherited"))["id"]
    await api.join(heir, inherited)
    for i in range(5):
        await api.create_lobby(heir, f"Own {i}")
    await api.leave(olive, inherited)
    lobby = await api.lobby(heir, inherited)
    assert lobby["owner"]["id"] == heir.id
    assert lobby["status"] == "OPEN"
    owned = [e for e in (await api.lobbies(heir, first=100))["edges"] if e["node"]["owner"]["id"] == heir.id]
    assert len(owned) == 6
    await api.create_lobby(heir, "One too many", expect="CONFLICT")


async def test_concurrent_joins_never_overfill_a_lobby(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    names = ["olive", "first"] + [f"racer{i:02d}" for i in range(20)]
    users = await make_users(gql, database_url, names, premium=["olive"])
    lobby_id = (await api.create_lobby(users["olive"], "Race", maxParticipants=6))["id"]
    await api.join(users["first"], lobby_id)  # 2 of 6: four free places

    racers = [users[f"racer{i:02d}"] for i in range(20)]
    bodies = await asyncio.gather(
        *(gql.execute(JOIN_LOBBY, {"lobbyId": lobby_id, "password": None}, r.token) for r in racers)
    )
    winners = [body for body in bodies if not body.get("errors")]
    codes = sorted(body["errors"][0]["extensions"]["code"] for body in bodies if body.get("errors"))
    assert len(winners) == 4, codes
    assert codes == ["LOBBY_FULL"] * 16
    counts = [body["data"]["joinLobby"]["participantCount"] for body in winners]
    assert all(3 <= count <= 6 for count in counts), counts

    lobby = await api.lobby(users["olive"], lobby_id)
    assert lobby["participantCount"] == lobby["maxParticipants"] == len(lobby["members"]) == 6
    winner_ids = {body["data"]["joinLobby"]["id"] for body in winners}
    assert winner_ids == {lobby_id}
    joined = [entry for entry in await api.log(users["olive"], lobby_id) if entry["kind"] == "JOINED"]
    assert len(joined) == 5


async def test_concurrent_joins_by_one_user_make_one_membership(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "eager"], premium=["olive"])
    lobby_id = (await api.create_lobby(users["olive"], "Once"))["id"]
    variables = {"lobbyId": lobby_id, "password": None}
    bodies = await asyncio.gather(
        *(gql.execute(JOIN_LOBBY, variables, users["eager"].token) for _ in range(5))
    )
    codes = sorted(body["errors"][0]["extensions"]["code"] for body in bodies if body.get("errors"))
    assert codes == ["CONFLICT"] * 4
    lobby = await api.lobby(users["olive"], lobby_id)
    assert lobby["participantCount"] == len(lobby["members"]) == 2
