"""Purge and edit: who may, the window, what is counted, the rules that apply, the log."""

from __future__ import annotations

import asyncio

from tests.extras import cast_in_lobby
from tests.lobbies import log_summary, parse_time


async def test_purge_soft_deletes_the_users_recent_messages(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member, other = users["owner"], users["member"], users["other"]
        theirs = [(await api.send(member, lobby_id, f"spam {i}"))["id"] for i in range(4)]
        kept = (await api.send(other, lobby_id, "innocent"))["id"]
        await api.delete(member, theirs[0])
        elsewhere = (await api.create_lobby(owner, "Elsewhere"))["id"]
        await api.join(member, elsewhere)
        await api.send(member, elsewhere, "not here")

        assert await api.purge(users["moderator"], lobby_id, member) == 3  # already deleted: not counted
        nodes = {edge["node"]["id"]: edge["node"] for edge in (await api.history(owner, lobby_id))["edges"]}
        for message_id in theirs:
            assert (nodes[message_id]["deleted"], nodes[message_id]["content"]) == (True, "")
        assert nodes[kept]["deleted"] is False
        assert [edge["node"]["deleted"] for edge in (await api.history(owner, elsewhere))["edges"]] == [False]
        assert await api.purge(owner, lobby_id, member, 604_800) == 0
        entries = log_summary(await api.log(owner, lobby_id))
        assert entries[-2:] == [
            ("MESSAGES_PURGED", users["moderator"].id, member.id),
            ("MESSAGES_PURGED", owner.id, member.id),
        ]


async def test_purge_keeps_to_its_window_and_reaches_users_who_left(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        old = (await api.send(member, lobby_id, "old"))["id"]
        await asyncio.sleep(2.5)
        recent = (await api.send(member, lobby_id, "recent"))["id"]
        await api.leave(member, lobby_id)
        assert await api.purge(owner, lobby_id, member, 2) == 1
        nodes = {
            edge["node"]["id"]: edge["node"]["deleted"]
            for edge in (await api.history(owner, lobby_id))["edges"]
        }
        assert (nodes[old], nodes[recent]) == (False, True)
        assert await api.purge(users["staff"], lobby_id, member) == 1


async def test_purge_rules_and_errors(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, moderator, member = users["owner"], users["moderator"], users["member"]
        for within in (0, 604_801, -1):
            error = await api.purge(owner, lobby_id, member, within, expect="BAD_USER_INPUT")
            assert error["extensions"]["field"] == "withinSeconds"
        # The ban's rules of who acts on whom.
        await api.purge(moderator, lobby_id, owner, expect="FORBIDDEN")
        await api.purge(owner, lobby_id, owner, expect="FORBIDDEN")
        await api.purge(users["staff"], lobby_id, owner, expect="FORBIDDEN")
        await api.purge(member, lobby_id, users["other"], expect="FORBIDDEN")
        await api.purge(users["outsider"], lobby_id, member, expect="FORBIDDEN")
        await api.add_moderator(owner, lobby_id, users["other"])
        await api.purge(moderator, lobby_id, users["other"], expect="FORBIDDEN")
        assert await api.purge(owner, lobby_id, users["other"]) == 0
        await api.purge(owner, lobby_id, "999999", expect="NOT_FOUND")
        await api.purge(owner, "999999", member, expect="NOT_FOUND")
        await api.purge(None, lobby_id, member, expect="UNAUTHENTICATED")
        await api.close(owner, lobby_id)
        await api.purge(owner, lobby_id, member, expect="LOBBY_NOT_OPEN")


async def test_editing_a_message(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        sent = await api.send(member, lobby_id, "helo", "c-1")
        edited = await api.edit(member, sent["id"], "  hello  ")
        assert (edited["id"], edited["content"], edited["clientMessageId"]) == (sent["id"], "hello", "c-1")
        assert parse_time(edited["editedAt"]) >= parse_time(edited["createdAt"])
        [node] = [edge["node"] for edge in (await api.history(owner, lobby_id))["edges"]]
        assert (node["content"], node["clientMessageId"]) == ("hello", None)
        # Only the sender, and not once deleted.
        for name in ("owner", "moderator", "other", "staff", "outsider"):
            await api.edit(users[name], sent["id"], "mine now", expect="FORBIDDEN")
        await api.delete(owner, sent["id"])
        await api.edit(member, sent["id"], "again", expect="FORBIDDEN")
        await api.edit(None, sent["id"], "anonymous", expect="UNAUTHENTICATED")
        await api.edit(member, "999999", "nothing", expect="NOT_FOUND")
        error = await api.edit(member, "abc", "nothing", expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "messageId"
        # Content rules apply.
        second = await api.send(member, lobby_id, "second")
        for content in ("   ", "x" * 501, "bad\x00"):
            error = await api.edit(member, second["id"], content, expect="BAD_USER_INPUT")
            assert error["extensions"]["field"] == "content"
        await api.leave(member, lobby_id)
        await api.edit(member, second["id"], "after leaving", expect="FORBIDDEN")


async def test_editing_in_a_private_or_closed_lobby(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        sent = await api.send(member, lobby_id, "hi")
        await api.update(owner, lobby_id, isPublic=False)
        await api.edit(users["outsider"], sent["id"], "peek", expect="NOT_FOUND")
        await api.close(owner, lobby_id)
        await api.edit(member, sent["id"], "too late", expect="LOBBY_NOT_OPEN")
        await api.edit(users["other"], sent["id"], "not mine", expect="FORBIDDEN")


async def test_the_edit_window(database_url: str) -> None:
    async with cast_in_lobby(
        database_url, names=["owner", "moderator", "member", "other"], edit_window_seconds=1
    ) as (
        api,
        users,
        lobby_id,
    ):
        member = users["member"]
        sent = await api.send(member, lobby_id, "quick")
        await api.edit(member, sent["id"], "quick fix")
        await asyncio.sleep(1.2)
        error = await api.edit(member, sent["id"], "too slow", expect="FORBIDDEN")
        assert "1 s" in error["message"]


async def test_an_edit_counts_towards_the_rate_limit(database_url: str) -> None:
    names = ["owner", "moderator", "member", "other"]
    async with cast_in_lobby(
        database_url, names=names, rate_limit_messages=2, rate_limit_window_seconds=2
    ) as (
        api,
        users,
        lobby_id,
    ):
        member = users["member"]
        sent = await api.send(member, lobby_id, "one")
        await api.edit(member, sent["id"], "one, edited")
        error = await api.edit(member, sent["id"], "one, edited twice", expect="RATE_LIMITED")
        assert 0 < error["extensions"]["retryAfter"] <= 2.01
        await api.send(member, lobby_id, "two", expect="RATE_LIMITED")
        [node] = [edge["node"] for edge in (await api.history(member, lobby_id))["edges"]]
        assert node["content"] == "one, edited"
