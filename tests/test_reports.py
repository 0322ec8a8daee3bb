"""Message reports: who reports what, one open report each, who reads and resolves them, paging."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.graphql import GraphQLClient
from tests.lobbies import log_summary, make_users
from tests.lobby_extras import REPORT_MESSAGE, Extras


@pytest.fixture
def api(gql: GraphQLClient) -> Extras:
    return Extras(gql)


async def test_members_report_messages_of_others_once(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    names = ["olive", "sam", "ann", "out", "boss"]
    users = await make_users(gql, database_url, names, premium=["olive"], staff=["boss"])
    olive, sam, ann, out, boss = (users[n] for n in names)
    lobby_id = (await api.create_lobby(olive, "Hall"))["id"]
    hidden = (await api.create_lobby(olive, "Hidden", isPublic=False))["id"]
    await api.join_all([sam, ann], lobby_id)
    message = await api.send(sam, lobby_id, "buy gold")
    secret = await api.send(olive, hidden, "members only")

    report = await api.report(ann, message["id"], "  spam  ")
    assert report["reason"] == "spam"
    assert report["message"] == {
        "id": message["id"],
        "lobbyId": lobby_id,
        "content": "buy gold",
        "sender": {"id": sam.id},
    }
    assert (report["reporter"]["id"], report["resolvedAt"], report["resolvedBy"]) == (ann.id, None, None)
    await api.report(ann, message["id"], "again", expect="CONFLICT")
    await api.report(sam, message["id"], expect="FORBIDDEN")  # their own
    await api.report(out, message["id"], expect="FORBIDDEN")  # not a member
    await api.report(boss, message["id"], expect="FORBIDDEN")  # staff read reports; members make them
    await api.report(ann, secret["id"], expect="NOT_FOUND")  # a lobby they may not see
    await api.report(ann, "987654321", expect="NOT_FOUND")
    for reason in ("", "   ", "x" * 501, "bad\x00"):
        error = await api.report(olive, message["id"], reason, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "reason"
    error = await api.report(olive, "nope", expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "messageId"
    assert (await api.report(olive, message["id"], "x" * 500))["reason"] == "x" * 500

    # Once resolved, the same reporter may report the message again.
    resolved = await api.resolve(olive, report["id"])
    assert (resolved["resolvedBy"]["id"], resolved["resolvedAt"] is not None) == (olive.id, True)
    again = await api.report(ann, message["id"], "still spam")
    assert again["id"] != report["id"]
    assert log_summary(await api.log(olive, lobby_id))[-4:] == [
        ("MESSAGE_REPORTED", ann.id, sam.id),
        ("MESSAGE_REPORTED", olive.id, sam.id),
        ("REPORT_RESOLVED", olive.id, sam.id),
        ("MESSAGE_REPORTED", ann.id, sam.id),
    ]
    assert (await api.log(olive, lobby_id))[-1]["reason"] == "still spam"
    await api.close(olive, lobby_id)
    await api.report(sam, (await api.send(olive, hidden, "x"))["id"], expect="NOT_FOUND")
    await api.report(olive, message["id"], "late", expect="LOBBY_NOT_OPEN")


async def test_concurrent_reports_by_one_reporter_make_one(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "sam", "ann"], premium=["olive"])
    lobby_id = (await api.create_lobby(users["olive"], "Race"))["id"]
    await api.join_all([users["sam"], users["ann"]], lobby_id)
    message_id = (await api.send(users["sam"], lobby_id))["id"]
    variables = {"messageId": message_id, "reason": "spam"}
    bodies = await asyncio.gather(
        *(gql.execute(REPORT_MESSAGE, variables, users["ann"].token) for _ in range(6))
    )
    codes = sorted(body["errors"][0]["extensions"]["code"] for body in bodies if body.get("errors"))
    assert codes == ["CONFLICT"] * 5
    assert len((await api.reports(users["olive"], lobbyId=lobby_id))["edges"]) == 1


async def test_reading_and_resolving_reports(api: Extras, gql: GraphQLClient, database_url: str) -> None:
    names = ["olive", "mod", "sam", "ann", "bob", "pia", "boss"]
    users = await make_users(gql, database_url, names, premium=["olive", "pia"], staff=["boss"])
    olive, mod, sam, ann, bob, pia, boss = (users[n] for n in names)
    lobby_id = (await api.create_lobby(olive, "Busy"))["id"]
    other_id = (await api.create_lobby(pia, "Other"))["id"]
    await api.join_all([mod, sam, ann, bob], lobby_id)
    await api.add_moderator(olive, lobby_id, mod)
    await api.join(sam, other_id)
    messages = await api.send_many(sam, lobby_id, 3)
    reports = []
    for message in messages:
        for reporter in (ann, bob):
            reports.append((await api.report(reporter, message["id"], f"by {reporter.username}"))["id"])
    elsewhere = (await api.report(sam, (await api.send(pia, other_id, "x"))["id"]))["id"]
    newest_first = list(reversed(reports))

    def ids(connection: dict[str, Any]) -> list[str]:
        return [edge["node"]["id"] for edge in connection["edges"]]

    assert ids(await api.reports(olive, lobbyId=lobby_id)) == newest_first
    assert ids(await api.reports(mod, lobbyId=lobby_id)) == newest_first
    assert ids(await api.reports(boss)) == [elsewhere, *newest_first]
    assert ids(await api.reports(boss, lobbyId=other_id)) == [elsewhere]
    error = await api.reports(olive, expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "lobbyId"
    await api.reports(ann, lobbyId=lobby_id, expect="FORBIDDEN")
    await api.reports(olive, lobbyId=other_id, expect="FORBIDDEN")
    await api.reports(olive, lobbyId="123456789", expect="NOT_FOUND")
    error = await api.reports(olive, lobbyId=lobby_id, after="garbage", expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "after"
    error = await api.reports(olive, lobbyId=lobby_id, first=101, expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "first"

    # Keyset pages, newest first.
    seen: list[str] = []
    after = None
    while True:
        page = await api.reports(olive, lobbyId=lobby_id, first=4, after=after)
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += ids(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == newest_first

    await api.resolve(ann, reports[0], expect="FORBIDDEN")
    await api.resolve(olive, "99999999", expect="NOT_FOUND")
    await api.resolve(olive, elsewhere, expect="FORBIDDEN")
    done = await api.resolve(mod, reports[0])
    assert done["resolvedBy"]["id"] == mod.id
    await api.resolve(olive, reports[0], expect="CONFLICT")
    assert (await api.resolve(boss, elsewhere))["resolvedBy"]["id"] == boss.id
    assert ids(await api.reports(olive, lobbyId=lobby_id)) == newest_first[:-1]
    everything = await api.reports(olive, lobbyId=lobby_id, unresolvedOnly=False)
    assert ids(everything) == newest_first
    assert everything["edges"][-1]["node"]["resolvedBy"]["id"] == mod.id
    assert ids(await api.reports(boss)) == newest_first[:-1]
    resolved = [e for e in log_summary(await api.log(olive, lobby_id)) if e[0] == "REPORT_RESOLVED"]
    assert resolved == [("REPORT_RESOLVED", mod.id, sam.id)]
