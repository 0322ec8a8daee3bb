"""Lobbies: creation, settings, the game lifecycle, browsing, paging and visibility."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.graphql import GraphQLClient
from tests.lobbies import (
    LOBBY_BANS,
    Api,
    app_with,
    code_of,
    log_summary,
    make_users,
    parse_time,
)


@pytest.fixture
def api(gql: GraphQLClient) -> Api:
    return Api(gql)


async def test_create_lobby_with_defaults_makes_the_owner_a_member(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive"], premium=["olive"])
    olive = users["olive"]
    before = datetime.now(UTC)
    lobby = await api.create_lobby(olive, "  Chess night  ")
    assert lobby["id"].isdecimal()
    assert lobby["name"] == "Chess night"
    assert lobby["owner"] == {"id": olive.id, "username": "olive"}
    assert lobby["isPublic"] is True
    assert lobby["hasPassword"] is False
    assert lobby["maxParticipants"] == 8
    assert lobby["participantCount"] == 1
    assert lobby["status"] == "OPEN"
    assert lobby["myRole"] == "OWNER"
    assert lobby["startedAt"] is None
    assert lobby["closedAt"] is None
    created = parse_time(lobby["createdAt"])
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)

    seen = await api.lobby(olive, lobby["id"])
    assert seen["name"] == "Chess night"
    assert [(m["user"]["id"], m["role"]) for m in seen["members"]] == [(olive.id, "OWNER")]
    assert parse_time(seen["members"][0]["joinedAt"]) >= created - timedelta(seconds=1)
    assert log_summary(await api.log(olive, lobby["id"])) == [("CREATED", olive.id, None)]


async def test_create_lobby_with_every_setting(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive"], premium=["olive"])
    lobby = await api.create_lobby(
        users["olive"], "Secret", isPublic=False, maxParticipants=2, password="hunter22"
    )
    assert (lobby["isPublic"], lobby["maxParticipants"], lobby["hasPassword"]) == (False, 2, True)


async def test_only_premium_users_and_staff_create_lobbies(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["plain", "staffer"], staff=["staffer"])
    await api.create_lobby(None, expect="UNAUTHENTICATED")
    await api.create_lobby(users["plain"], expect="PREMIUM_REQUIRED")
    lobby = await api.create_lobby(users["staffer"], "Staff room")
    assert lobby["owner"]["id"] == users["staffer"].id
    assert lobby["myRole"] == "OWNER"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "  " + "x" * 65 + "  "}, "name"),
        ({"maxParticipants": 1}, "maxParticipants"),
        ({"maxParticipants": 65}, "maxParticipants"),
        ({"maxParticipants": -5}, "maxParticipants"),
        ({"password": "abc"}, "password"),
        ({"password": "x" * 65}, "password"),
    ],
)
async def test_create_lobby_validation(
    api: Api, gql: GraphQLClient, database_url: str, fields: dict[str, Any], field: str
) -> None:
    users = await make_users(gql, database_url, ["olive"], premium=["olive"])
    variables = {"name": "Valid", **fields}
    name = variables.pop("name")
    error = await api.create_lobby(users["olive"], name, expect="BAD_USER_INPUT", **variables)
    assert error["extensions"]["field"] == field
    assert (await api.lobbies(users["olive"]))["totalCount"] == 0


async def test_create_lobby_boundaries_are_accepted(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive"], premium=["olive"])
    olive = users["olive"]
    assert (await api.create_lobby(olive, "x"))["name"] == "x"
    assert (await api.create_lobby(olive, "  " + "y" * 64 + "  "))["name"] == "y" * 64
    assert (await api.create_lobby(olive, "two", maxParticipants=2))["maxParticipants"] == 2
    assert (await api.create_lobby(olive, "many", maxParticipants=64, password="abcd"))["hasPassword"]
    assert (await api.create_lobby(olive, "long password", password="p" * 64))["hasPassword"]


async def test_an_owner_has_at_most_five_lobbies_that_are_not_closed(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "other"], premium=["olive", "other"])
    olive = users["olive"]
    lobbies = [await api.create_lobby(olive, f"Lobby {i}") for i in range(5)]
    await api.start(olive, lobbies[0]["id"])  # IN_GAME still counts
    await api.create_lobby(olive, "Sixth", expect="CONFLICT")
    # The limit is per owner.
    await api.create_lobby(users["other"], "Other's")
    await api.close(olive, lobbies[0]["id"])
    sixth = await api.create_lobby(olive, "Sixth")
    assert sixth["status"] == "OPEN"
    await api.create_lobby(olive, "Seventh", expect="CONFLICT")


async def test_the_lobby_limit_follows_the_setting(database_url: str) -> None:
    async with app_with(database_url, max_lobbies_per_owner=2) as (gql, _):
        api = Api(gql)
        users = await make_users(gql, database_url, ["olive"], premium=["olive"])
        await api.create_lobby(users["olive"], "one")
        await api.create_lobby(users["olive"], "two")
        await api.create_lobby(users["olive"], "three", expect="CONFLICT")


async def test_lobby_by_id_is_null_when_missing_malformed_or_invisible(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["olive", "mia", "otto", "sam"], premium=["olive"], staff=["sam"]
    )
    olive, mia, otto, sam = users["olive"], users["mia"], users["otto"], users["sam"]
    private = await api.create_lobby(olive, "Hidden", isPublic=False)
    await api.join(mia, private["id"])
    for lobby_id in ("999999", "abc", "", "-1", "1.5"):
        body = await gql.execute("query($id: ID!) { lobby(id: $id) { id } }", {"id": lobby_id}, otto.token)
        assert body == {"data": {"lobby": None}}, lobby_id
    assert await api.lobby(otto, private["id"]) is None
    assert (await api.lobby(mia, private["id"]))["myRole"] == "MEMBER"
    staff_view = await api.lobby(sam, private["id"])
    assert staff_view["name"] == "Hidden"
    assert staff_view["myRole"] is None
    error = await gql.error("query($id: ID!) { lobby(id: $id) { id } }", {"id": private["id"]})
    assert code_of(error) == "UNAUTHENTICATED"


async def test_members_and_my_role_by_viewer(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(
        gql, database_url, ["olive", "mod", "mia", "otto", "sam"], premium=["olive"], staff=["sam"]
    )
    olive, mod, mia, otto, sam = (users[n] for n in ("olive", "mod", "mia", "otto", "sam"))
    lobby = await api.create_lobby(olive, "Roles")
    await api.join_all([mod, mia], lobby["id"])
    await api.add_moderator(olive, lobby["id"], mod)
    expected = {olive.id: "OWNER", mod.id: "MODERATOR", mia.id: "MEMBER"}
    for viewer, role in ((olive, "OWNER"), (mod, "MODERATOR"), (mia, "MEMBER")):
        seen = await api.lobby(viewer, lobby["id"])
        assert seen["myRole"] == role
        assert {m["user"]["id"]: m["role"] for m in seen["members"]} == expected
    outsider_view = await api.lobby(otto, lobby["id"])
    assert outsider_view["myRole"] is None
    assert outsider_view["members"] == []
    assert outsider_view["participantCount"] == 3
    staff_view = await api.lobby(sam, lobby["id"])
    assert staff_view["myRole"] is None
    assert {m["user"]["id"]: m["role"] for m in staff_view["members"]} == expected


async def test_bans_are_for_owner_moderators_and_staff(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["olive", "mod", "mia", "otto", "bob", "sam"], premium=["olive"], staff=["sam"]
    )
    olive, mod, mia, otto, bob, sam = (users[n] for n in ("olive", "mod", "mia", "otto", "bob", "sam"))
    lobby = await api.create_lobby(olive, "Bans")
    await api.join_all([mod, mia], lobby["id"])
    await api.add_moderator(olive, lobby["id"], mod)
    await api.ban(olive, lobby["id"], bob, "spam")
    for viewer in (olive, mod, sam):
        (ban,) = await api.bans(viewer, lobby["id"])
        assert ban["user"]["id"] == bob.id
        assert ban["bannedBy"]["id"] == olive.id
        assert ban["reason"] == "spam"
        assert ban["expiresAt"] is None
    for viewer in (mia, otto):
        body = await gql.execute(LOBBY_BANS, {"id": lobby["id"]}, viewer.token)
        (error,) = body["errors"]
        assert code_of(error) == "FORBIDDEN"
        assert error["path"][-1] == "bans"


async def test_has_password_never_reveals_the_password(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "sam"], premium=["olive"], staff=["sam"])
    lobby = await api.create_lobby(users["olive"], "Locked", password="s3cret-pass")
    assert lobby["hasPassword"] is True
    body = await gql.execute('{ __type(name: "Lobby") { fields { name } } }', token=users["olive"].token)
    fields = {field["name"] for field in body["data"]["__type"]["fields"]}
    assert "hasPassword" in fields
    assert not {name for name in fields if "password" in name.lower()} - {"hasPassword"}
    for viewer in (users["olive"], users["sam"]):
        response = await gql.execute(
            "query($id: ID!) { lobby(id: $id) { hasPassword } lobbies { edges { node { hasPassword } } } }",
            {"id": lobby["id"]},
            viewer.token,
        )
        assert "s3cret-pass" not in str(response)
        assert response["data"]["lobby"]["hasPassword"] is True


async def test_update_lobby_settings(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "mia", "otto"], premium=["olive"])
    olive, mia, otto = users["olive"], users["mia"], users["otto"]
    lobby = await api.create_lobby(olive, "Before")
    lobby_id = lobby["id"]
    await api.join(mia, lobby_id)

    updated = await api.update(olive, lobby_id, name="  After  ", maxParticipants=4, isPublic=False)
    assert (updated["name"], updated["maxParticipants"], updated["isPublic"]) == ("After", 4, False)
    assert updated["participantCount"] == 2
    assert updated["myRole"] == "OWNER"
    # Untouched fields stay.
    assert (await api.update(olive, lobby_id, isPublic=True))["name"] == "After"

    for fields, field in (
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "z" * 65}, "name"),
        ({"maxParticipants": 1}, "maxParticipants"),  # below participantCount (2) and below 2
        ({"maxParticipants": 65}, "maxParticipants"),
    ):
        error = await api.update(olive, lobby_id, expect="BAD_USER_INPUT", **fields)
        assert error["extensions"]["field"] == field, fields
    await api.join(otto, lobby_id)
    error = await api.update(olive, lobby_id, maxParticipants=2, expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "maxParticipants"
    assert (await api.update(olive, lobby_id, maxParticipants=3))["maxParticipants"] == 3
    seen = await api.lobby(olive, lobby_id)
    assert (seen["name"], seen["maxParticipants"], seen["participantCount"]) == ("After", 3, 3)
    kinds = [entry["kind"] for entry in await api.log(olive, lobby_id)]
    assert kinds.count("UPDATED") == 3  # one per successful update, none for the refused ones


async def test_update_lobby_passwords(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "ann", "ben", "cid", "dan"], premium=["olive"])
    olive = users["olive"]
    open_lobby = await api.create_lobby(olive, "No password")
    # A password given to a lobby without one is ignored.
    assert (await api.update(olive, open_lobby["id"], password="newpass1"))["hasPassword"] is False
    await api.join(users["ann"], open_lobby["id"])

    locked = await api.create_lobby(olive, "Password", password="first-pass")
    lobby_id = locked["id"]
    error = await api.update(olive, lobby_id, password="abc", expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "password"
    assert (await api.update(olive, lobby_id, password="second-pass"))["hasPassword"] is True
    await api.join(users["ben"], lobby_id, "first-pass", expect="WRONG_PASSWORD")
    await api.join(users["ben"], lobby_id, "second-pass")
    assert (await api.update(olive, lobby_id, clearPassword=True))["hasPassword"] is False
    await api.join(users["cid"], lobby_id)
    # Cleared means the lobby has no password: a later password is ignored again.
    assert (await api.update(olive, lobby_id, password="third-pass"))["hasPassword"] is False
    await api.join(users["dan"], lobby_id)


async def test_start_and_end_game(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "mia"], premium=["olive"])
    olive, mia = users["olive"], users["mia"]
    lobby_id = (await api.create_lobby(olive, "Game"))["id"]
    await api.end(olive, lobby_id, expect="CONFLICT")
    started = await api.start(olive, lobby_id)
    assert started["status"] == "IN_GAME"
    assert parse_time(started["startedAt"]) >= parse_time(started["createdAt"])
    await api.start(olive, lobby_id, expect="LOBBY_NOT_OPEN")
    await api.join(mia, lobby_id, expect="LOBBY_NOT_OPEN")
    ended = await api.end(olive, lobby_id)
    assert ended["status"] == "OPEN"
    await api.end(olive, lobby_id, expect="CONFLICT")
    await api.join(mia, lobby_id)
    again = await api.start(olive, lobby_id)
    assert again["status"] == "IN_GAME"
    kinds = [entry["kind"] for entry in await api.log(olive, lobby_id)]
    assert kinds == ["CREATED", "GAME_STARTED", "GAME_ENDED", "JOINED", "GAME_STARTED"]


async def test_close_lobby(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "mia", "sam"], premium=["olive"], staff=["sam"])
    olive, mia, sam = users["olive"], users["mia"], users["sam"]
    first = (await api.create_lobby(olive, "First"))["id"]
    second = (await api.create_lobby(olive, "Second"))["id"]
    await api.join(mia, first)
    await api.start(olive, second)

    closed = await api.close(olive, first)
    assert closed["status"] == "CLOSED"
    assert parse_time(closed["closedAt"]) >= parse_time(closed["createdAt"])
    by_staff = await api.close(sam, second)  # from IN_GAME, by staff who is not a member
    assert by_staff["status"] == "CLOSED"
    assert by_staff["closedAt"] is not None
    await api.close(olive, first, expect="LOBBY_NOT_OPEN")
    await api.join(users["sam"], first, expect="LOBBY_NOT_OPEN")
    assert log_summary(await api.log(sam, first))[-1] == ("CLOSED", olive.id, None)
    assert log_summary(await api.log(sam, second))[-1] == ("CLOSED", sam.id, None)
    assert await api.lobby_ids(mia) == []
    assert await api.lobby_ids(mia, filter={"status": "CLOSED"}) == [second, first]


async def test_lobbies_lists_what_the_viewer_may_see(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(
        gql, database_url, ["olive", "mia", "otto", "sam"], premium=["olive"], staff=["sam"]
    )
    olive, mia, otto, sam = users["olive"], users["mia"], users["otto"], users["sam"]
    public_open = (await api.create_lobby(olive, "Public open"))["id"]
    public_game = (await api.create_lobby(olive, "Public game"))["id"]
    private = (await api.create_lobby(olive, "Private", isPublic=False))["id"]
    private_member = (await api.create_lobby(olive, "Private with Mia", isPublic=False))["id"]
    closed = (await api.create_lobby(olive, "Closed"))["id"]
    await api.start(olive, public_game)
    await api.join(mia, private_member)
    await api.close(olive, closed)

    assert await api.lobby_ids(otto) == [public_game, public_open]
    assert await api.lobby_ids(mia) == [private_member, public_game, public_open]
    assert await api.lobby_ids(olive) == [private_member, private, public_game, public_open]
    assert await api.lobby_ids(sam) == [private_member, private, public_game, public_open]
    assert (await api.lobbies(otto))["totalCount"] == 2
    assert (await api.lobbies(sam))["totalCount"] == 4
    await api.lobbies(None, expect="UNAUTHENTICATED")

    assert await api.lobby_ids(otto, filter={"status": "OPEN"}) == [public_open]
    assert await api.lobby_ids(otto, filter={"status": "IN_GAME"}) == [public_game]
    assert await api.lobby_ids(otto, filter={"status": "CLOSED"}) == [closed]
    assert await api.lobby_ids(mia, filter={"isPublic": False}) == [private_member]
    assert await api.lobby_ids(otto, filter={"isPublic": False}) == []
    assert await api.lobby_ids(sam, filter={"isPublic": False}) == [private_member, private]
    assert await api.lobby_ids(sam, filter={"isPublic": True, "status": "IN_GAME"}) == [public_game]
    connection = await api.lobbies(sam, filter={"isPublic": False}, first=1)
    assert connection["totalCount"] == 2
    assert len(connection["edges"]) == 1
    assert connection["pageInfo"]["hasNextPage"] is True


async def test_lobbies_search_is_a_literal_case_insensitive_substring(database_url: str) -> None:
    names = ["100% fun", "100 fun", "a_b", "axb", "Chess Club", "the CHESS club 2", "ab"]
    async with app_with(database_url, max_lobbies_per_owner=20) as (client, _):
        api = Api(client)
        users = await make_users(client, database_url, ["olive", "otto"], premium=["olive"])
        ids = {name: (await api.create_lobby(users["olive"], name))["id"] for name in names}

        async def search(term: str) -> set[str]:
            connection = await api.lobbies(users["otto"], filter={"search": term}, first=100)
            assert connection["totalCount"] == len(connection["edges"])
            return {edge["node"]["name"] for edge in connection["edges"]}

        assert await search("chess") == {"Chess Club", "the CHESS club 2"}
        assert await search("cHeSs cLuB") == {"Chess Club", "the CHESS club 2"}
        assert await search("%") == {"100% fun"}
        assert await search("0%") == {"100% fun"}
        assert await search("_") == {"a_b"}
        assert await search("a_b") == {"a_b"}
        assert await search("a%b") == set()
        assert await search("nothing like it") == set()
        assert await search("FUN") == {"100% fun", "100 fun"}
        assert len(ids) == len(names)


async def test_orders_and_their_tie_breaks(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "ann", "ben", "cid"], premium=["olive"])
    olive = users["olive"]
    # Created in this order; "bravo" and "Bravo" tie on NAME, several tie on participants.
    names = ["charlie", "bravo", "alpha", "Bravo", "delta"]
    ids = [(await api.create_lobby(olive, name))["id"] for name in names]
    charlie, bravo, alpha, bravo2, delta = ids
    await api.join_all([users["ann"], users["ben"]], alpha)  # 3
    await api.join_all([users["ann"], users["ben"]], bravo)  # 3
    await api.join_all([users["cid"]], charlie)  # 2

    assert await api.lobby_ids(olive) == [delta, bravo2, alpha, bravo, charlie]
    assert await api.lobby_ids(olive, orderBy="NEWEST") == [delta, bravo2, alpha, bravo, charlie]
    assert await api.lobby_ids(olive, orderBy="NAME") == [alpha, bravo2, bravo, charlie, delta]
    assert await api.lobby_ids(olive, orderBy="MOST_PARTICIPANTS") == [alpha, bravo, charlie, delta, bravo2]


async def test_lobbies_argument_validation(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive"], premium=["olive"])
    olive = users["olive"]
    for i in range(3):
        await api.create_lobby(olive, f"Lobby {i}")
    for first in (101, -1, 1000):
        error = await api.lobbies(olive, first=first, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "first", first
    assert len((await api.lobbies(olive, first=100))["edges"]) == 3
    for after in ("garbage", "%%%", "bm90IGEgY3Vyc29y"):
        error = await api.lobbies(olive, first=1, after=after, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "after", after
    # The default page is 20, and totalCount counts every match whatever the page.
    connection = await api.lobbies(olive, first=2)
    assert len(connection["edges"]) == 2
    assert connection["totalCount"] == 3
    assert connection["pageInfo"]["hasNextPage"] is True
    assert connection["pageInfo"]["endCursor"] == connection["edges"][-1]["cursor"]
    rest = await api.lobbies(olive, first=2, after=connection["pageInfo"]["endCursor"])
    assert len(rest["edges"]) == 1
    assert rest["totalCount"] == 3
    assert rest["pageInfo"]["hasNextPage"] is False


def _order_key(order: str, node: dict[str, Any]) -> tuple[Any, ...]:
    newest_first = (-parse_time(node["createdAt"]).timestamp(), -int(node["id"]))
    if order == "NAME":
        return (node["name"].lower(), *newest_first)
    if order == "MOST_PARTICIPANTS":
        return (-node["participantCount"], *newest_first)
    return newest_first


def _names(count: int) -> list[str]:
    """Letters only, mixed case, so every collation agrees with Python on the order."""
    letters = string.ascii_lowercase
    names = []
    for i in range(count):
        word = letters[(i * 7) % 26] + letters[(i * 11) % 26] + letters[(i * 5) % 26] + letters[i % 26]
        names.append(word.capitalize() if i % 3 == 0 else word)
    return names


async def test_paging_with_every_order_while_lobbies_are_created(database_url: str) -> None:
    async with app_with(database_url, max_lobbies_per_owner=500) as (gql, _):
        api = Api(gql)
        users = await make_users(
            gql, database_url, ["olive", "joiner1", "joiner2", "joiner3", "viewer"], premium=["olive"]
        )
        olive, viewer = users["olive"], users["viewer"]
        joiners = [users["joiner1"], users["joiner2"], users["joiner3"]]
        original: list[str] = []
        for i, name in enumerate(_names(55)):
            lobby_id = (await api.create_lobby(olive, name))["id"]
            await api.join_all(joiners[: i % 4], lobby_id)
            original.append(lobby_id)
        extra = 0

        for order in ("NEWEST", "NAME", "MOST_PARTICIPANTS"):
            seen: list[dict[str, Any]] = []
            after = None
            pages = 0
            while True:
                connection = await api.lobbies(viewer, orderBy=order, first=10, after=after)
                nodes = [edge["node"] for edge in connection["edges"]]
                seen.extend(nodes)
                pages += 1
                assert pages <= 20, "paging does not end"
                info = connection["pageInfo"]
                if not info["hasNextPage"]:
                    break
                assert len(nodes) == 10
                assert info["endCursor"] == connection["edges"][-1]["cursor"]
                after = info["endCursor"]
                # New lobbies between pages: some sort before the cursor, some after it.
                extra += 1
                newcomer = (await api.create_lobby(olive, _names(60 + extra)[-1]))["id"]
                await api.join_all(joiners[: extra % 4], newcomer)
            ids = [node["id"] for node in seen]
            assert len(ids) == len(set(ids)), f"{order}: duplicates"
            missing = set(original) - set(ids)
            assert not missing, f"{order}: {len(missing)} of the original lobbies were skipped"
            keys = [_order_key(order, node) for node in seen]
            assert keys == sorted(keys), f"{order}: out of order"
            assert connection["totalCount"] == 55 + extra


async def test_paging_with_filters_keeps_the_filter(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["olive", "otto"], premium=["olive"])
    olive = users["olive"]
    wanted = [(await api.create_lobby(olive, f"match {i}"))["id"] for i in range(3)]
    await api.create_lobby(olive, "other")
    await api.create_lobby(olive, "another")
    page = await api.lobbies(users["otto"], filter={"search": "MATCH"}, first=2)
    assert [edge["node"]["id"] for edge in page["edges"]] == wanted[::-1][:2]
    assert page["totalCount"] == 3
    rest = await api.lobbies(
        users["otto"], filter={"search": "MATCH"}, first=2, after=page["pageInfo"]["endCursor"]
    )
    assert [edge["node"]["id"] for edge in rest["edges"]] == [wanted[0]]
    assert rest["pageInfo"]["hasNextPage"] is False
