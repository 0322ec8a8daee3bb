"""Lobby tags: normalised and checked on input, and the all-tags filter with keyset paging."""

from __future__ import annotations

import pytest

from tests.graphql import GraphQLClient
from tests.lobbies import make_users
from tests.lobby_extras import Extras

TAGS_QUERY = "query Tags($id: ID!) { lobby(id: $id) { id tags } }"


@pytest.fixture
def api(gql: GraphQLClient) -> Extras:
    return Extras(gql)


async def test_tags_are_lower_cased_deduplicated_and_checked(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "mod", "boss"], premium=["olive"], staff=["boss"])
    olive, mod, boss = users["olive"], users["mod"], users["boss"]
    lobby_id = (await api.create_lobby(olive, "Tagged", tags=["Chill", "EU-West", "chill", "r6"]))["id"]
    assert (await api.extras(olive, lobby_id))["tags"] == ["chill", "eu-west", "r6"]
    assert (await api.create_lobby(olive, "Untagged"))["id"]
    untagged = (await api.lobbies(olive, filter={"search": "Untagged"}))["edges"][0]["node"]["id"]
    assert (await api.extras(olive, untagged))["tags"] == []

    bad = [[""], ["a" * 25], ["two words"], ["über"], ["tag!"], ["x_y"], [f"t{i}" for i in range(9)]]
    for tags in bad:
        error = await api.create_lobby(olive, "Bad", tags=tags, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "tags", tags
        error = await api.update(olive, lobby_id, tags=tags, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "tags", tags
        error = await api.lobbies(olive, filter={"tags": tags}, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "tags", tags
    ok = ["a" * 24, "0-9", *(f"t{i}" for i in range(6))]
    assert (await api.update(olive, untagged, tags=ok))["id"] == untagged
    assert (await api.extras(olive, untagged))["tags"] == ok
    # Nine given, eight once duplicates are dropped: fine.
    assert (await api.update(olive, untagged, tags=[*ok, "T0"]))["id"] == untagged

    await api.join(mod, lobby_id)
    await api.add_moderator(olive, lobby_id, mod)
    await api.update(mod, lobby_id, tags=["x"], expect="FORBIDDEN")
    await api.update(boss, lobby_id, tags=["Staff-Pick"])
    assert (await api.extras(olive, lobby_id))["tags"] == ["staff-pick"]
    assert await api.lobby_ids(olive, filter={"tags": ["chill"]}) == []
    await api.update(olive, lobby_id, tags=[])
    assert (await api.extras(olive, lobby_id))["tags"] == []
    assert await api.lobby_ids(olive, filter={"tags": ["staff-pick"]}) == []
    await api.update(olive, lobby_id, name="Renamed")  # tags left out: kept
    assert (await api.extras(olive, lobby_id))["tags"] == []


async def test_the_tags_filter_returns_lobbies_with_every_tag(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "pia", "ann", "boss"], premium=["olive", "pia"])
    olive, pia, ann = users["olive"], users["pia"], users["ann"]
    both = (await api.create_lobby(olive, "Both", tags=["eu", "chill"]))["id"]
    eu = (await api.create_lobby(olive, "Eu only", tags=["eu"]))["id"]
    chill = (await api.create_lobby(olive, "Chill only", tags=["chill"]))["id"]
    more = (await api.create_lobby(pia, "Both and more", tags=["ranked", "chill", "eu"], maxParticipants=4))[
        "id"
    ]
    hidden = (await api.create_lobby(pia, "Private both", tags=["eu", "chill"], isPublic=False))["id"]
    await api.join(ann, more)

    assert await api.lobby_ids(ann, filter={"tags": ["EU", "chill"]}) == [more, both]
    assert await api.lobby_ids(ann, filter={"tags": ["eu"]}) == [more, eu, both]
    assert await api.lobby_ids(ann, filter={"tags": ["chill", "eu", "ranked"]}) == [more]
    assert await api.lobby_ids(ann, filter={"tags": ["nowhere"]}) == []
    assert await api.lobby_ids(ann, filter={"tags": []}) == [more, chill, eu, both]
    assert await api.lobby_ids(pia, filter={"tags": ["eu", "chill"]}) == [hidden, more, both]
    # With the other filters and every order.
    assert await api.lobby_ids(ann, filter={"tags": ["eu"], "search": "only"}) == [eu]
    assert await api.lobby_ids(ann, filter={"tags": ["chill"]}, orderBy="NAME") == [both, more, chill]
    assert await api.lobby_ids(ann, filter={"tags": ["eu"]}, orderBy="MOST_PARTICIPANTS") == [more, eu, both]
    await api.start(olive, both)
    assert await api.lobby_ids(ann, filter={"tags": ["eu", "chill"], "status": "IN_GAME"}) == [both]

    # Keyset pages through the filtered list: no duplicates, no gaps, totalCount of every match.
    for order in ("NEWEST", "NAME", "MOST_PARTICIPANTS"):
        expected = await api.lobby_ids(ann, filter={"tags": ["eu"]}, orderBy=order)
        seen: list[str] = []
        after = None
        late = 0
        while True:
            page = await api.lobbies(ann, filter={"tags": ["eu"]}, orderBy=order, first=1, after=after)
            assert page["totalCount"] == len(expected) + late
            seen += [edge["node"]["id"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
            # A lobby created while paging does not shift the pages.
            if len(seen) == 1 and order == "NEWEST":
                await api.create_lobby(pia, "Late", tags=["eu"])
                late = 1
        assert seen == expected, order
