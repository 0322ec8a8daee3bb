"""Staff operations: setPremium and setUserActive."""

from __future__ import annotations

import pytest

from tests.graphql import LOGIN, ME, PASSWORD, REFRESH, GraphQLClient
from tests.lobbies import Api, code_of, log_summary, make_users


@pytest.fixture
def api(gql: GraphQLClient) -> Api:
    return Api(gql)


async def test_set_premium_applies_at_once(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["sam", "pat"], staff=["sam"])
    sam, pat = users["sam"], users["pat"]
    await api.create_lobby(pat, expect="PREMIUM_REQUIRED")

    user = await api.set_premium(sam, pat, True)
    assert {key: user[key] for key in ("id", "username", "isPremium", "isStaff")} == {
        "id": pat.id,
        "username": "pat",
        "isPremium": True,
        "isStaff": False,
    }
    assert user["createdAt"].endswith("Z")
    # The token issued before the change works with the new status.
    assert (await gql.data(ME, token=pat.token))["me"]["isPremium"] is True
    lobby = await api.create_lobby(pat, "Premium at last")
    assert lobby["owner"]["id"] == pat.id

    assert (await api.set_premium(sam, pat, False))["isPremium"] is False
    await api.create_lobby(pat, "Not any more", expect="PREMIUM_REQUIRED")
    # What they created stays theirs.
    assert (await api.lobby(pat, lobby["id"]))["myRole"] == "OWNER"
    # Setting what is already set is fine.
    assert (await api.set_premium(sam, pat, False))["isPremium"] is False


async def test_staff_operations_are_for_staff_only(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["sam", "pat", "olive"], staff=["sam"], premium=["olive"])
    sam, pat, olive = users["sam"], users["pat"], users["olive"]
    await api.set_premium(None, pat, True, expect="UNAUTHENTICATED")
    await api.set_active(None, pat, False, expect="UNAUTHENTICATED")
    for caller in (pat, olive):
        await api.set_premium(caller, pat, True, expect="FORBIDDEN")
        await api.set_premium(caller, caller, True, expect="FORBIDDEN")
        await api.set_active(caller, sam, False, expect="FORBIDDEN")
        await api.set_active(caller, caller, True, expect="FORBIDDEN")
    me = (await gql.data(ME, token=pat.token))["me"]
    assert (me["isPremium"], me["isStaff"]) == (False, False)

    await api.set_premium(sam, "999999", True, expect="NOT_FOUND")
    await api.set_active(sam, "999999", False, expect="NOT_FOUND")
    for malformed in ("abc", "1.5", ""):
        error = await api.set_premium(sam, malformed, True, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "userId"
        error = await api.set_active(sam, malformed, False, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "userId"


async def test_staff_cannot_deactivate_themselves(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["sam"], staff=["sam"])
    await api.set_active(users["sam"], users["sam"], False, expect="FORBIDDEN")
    assert (await gql.data(ME, token=users["sam"].token))["me"]["isStaff"] is True


async def test_deactivation_locks_the_user_out_at_once(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["sam"], staff=["sam"])
    dee = await gql.register("dee")
    user = await api.set_active(users["sam"], dee["user"]["id"], False)
    assert user["id"] == dee["user"]["id"]
    assert code_of(await gql.error(ME, token=dee["accessToken"])) == "UNAUTHENTICATED"
    error = await gql.error(LOGIN, {"username": "dee", "password": PASSWORD})
    assert code_of(error) == "UNAUTHENTICATED"
    error = await gql.error(REFRESH, {"token": dee["refreshToken"]})
    assert code_of(error) == "UNAUTHENTICATED"

    restored = await api.set_active(users["sam"], dee["user"]["id"], True)
    assert restored["username"] == "dee"
    login = (await gql.data(LOGIN, {"username": "dee", "password": PASSWORD}))["login"]
    assert (await gql.data(ME, token=login["accessToken"]))["me"]["username"] == "dee"


async def test_deactivation_leaves_every_lobby_by_the_leave_rules(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["sam", "dee", "olive", "mod", "mia"], staff=["sam"], premium=["dee", "olive"]
    )
    sam, dee, olive, mod, mia = (users[n] for n in ("sam", "dee", "olive", "mod", "mia"))
    # dee owns one lobby with a moderator and a member, owns one alone, and is a member of olive's.
    passed = (await api.create_lobby(dee, "Passed on"))["id"]
    await api.join_all([mia, mod], passed)
    await api.add_moderator(dee, passed, mod)
    alone = (await api.create_lobby(dee, "Alone"))["id"]
    member_of = (await api.create_lobby(olive, "Olive's"))["id"]
    await api.join_all([dee, mia], member_of)
    untouched = (await api.create_lobby(olive, "Without dee"))["id"]
    await api.join(mia, untouched)

    await api.set_active(sam, dee, False)
    await api.lobbies(dee, expect="UNAUTHENTICATED")

    lobby = await api.lobby(sam, passed)
    assert lobby["owner"]["id"] == mod.id
    assert lobby["status"] == "OPEN"
    assert lobby["participantCount"] == 2
    assert {m["user"]["id"]: m["role"] for m in lobby["members"]} == {mod.id: "OWNER", mia.id: "MEMBER"}
    assert log_summary(await api.log(sam, passed))[-2:] == [
        ("LEFT", dee.id, dee.id),
        ("OWNER_CHANGED", None, mod.id),
    ]

    lobby = await api.lobby(sam, alone)
    assert (lobby["status"], lobby["participantCount"]) == ("CLOSED", 0)
    assert lobby["closedAt"] is not None
    assert log_summary(await api.log(sam, alone))[-2:] == [("LEFT", dee.id, dee.id), ("CLOSED", None, None)]

    lobby = await api.lobby(sam, member_of)
    assert lobby["owner"]["id"] == olive.id
    assert lobby["participantCount"] == 2
    assert {m["user"]["id"] for m in lobby["members"]} == {olive.id, mia.id}
    assert log_summary(await api.log(sam, member_of))[-1] == ("LEFT", dee.id, dee.id)

    lobby = await api.lobby(sam, untouched)
    assert lobby["participantCount"] == 2
    assert [e["kind"] for e in await api.log(sam, untouched)] == ["CREATED", "JOINED"]

    # Reactivated, dee is in no lobby and may join again like anyone.
    await api.set_active(sam, dee, True)
    login = (await gql.data(LOGIN, {"username": "dee", "password": PASSWORD}))["login"]
    assert (await api.lobby(sam, member_of))["participantCount"] == 2
    joined = await gql.data(
        "mutation($id: ID!) { joinLobby(lobbyId: $id) { myRole participantCount } }",
        {"id": member_of},
        login["accessToken"],
    )
    assert joined["joinLobby"] == {"myRole": "MEMBER", "participantCount": 3}
