"""Mutes: who may mute whom, what a muted member can and cannot do, expiry, leave/rejoin, the log."""

from __future__ import annotations

import asyncio

import pytest

from tests.extras import cast_in_lobby
from tests.lobbies import log_summary, parse_time


async def test_a_muted_member_reads_but_cannot_send_edit_or_type(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        before = await api.send(member, lobby_id, "said before")
        mute = await api.mute(owner, lobby_id, member, "  calm down ", 600)
        assert (mute["user"]["id"], mute["mutedBy"]["id"], mute["reason"]) == (
            member.id,
            owner.id,
            "calm down",
        )
        expires_at = mute["expiresAt"]
        assert 590 < (parse_time(expires_at) - parse_time(mute["createdAt"])).total_seconds() <= 600

        for error in (
            await api.send(member, lobby_id, "hello?", expect="MUTED"),
            await api.edit(member, before["id"], "edited", expect="MUTED"),
            await api.typing(member, lobby_id, True, expect="MUTED"),
        ):
            assert error["extensions"] == {"code": "MUTED", "expiresAt": expires_at}, error
        # Still a member who reads; nothing was stored.
        assert await api.history_ids(member, lobby_id) == [before["id"]]
        assert (await api.members(member, lobby_id))[member.id] == "MEMBER"
        assert await api.muted(owner, lobby_id, member) == (True, expires_at)
        assert await api.muted(member, lobby_id, users["other"]) == (False, None)
        await api.send(users["other"], lobby_id, "others talk on")

        assert await api.unmute(users["moderator"], lobby_id, member)
        assert await api.muted(owner, lobby_id, member) == (False, None)
        await api.send(member, lobby_id, "back")
        await api.unmute(owner, lobby_id, member, expect="NOT_FOUND")
        entries = log_summary(await api.log(owner, lobby_id))
        assert entries[-2:] == [("MUTED", owner.id, member.id), ("UNMUTED", users["moderator"].id, member.id)]
        assert (await api.log(owner, lobby_id))[-2]["reason"] == "calm down"


async def test_until_unmuted_has_a_null_expiry(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        mute = await api.mute(users["staff"], lobby_id, users["member"])
        assert (mute["expiresAt"], mute["reason"], mute["mutedBy"]["id"]) == (None, None, users["staff"].id)
        error = await api.send(users["member"], lobby_id, "hi", expect="MUTED")
        assert error["extensions"] == {"code": "MUTED", "expiresAt": None}
        assert await api.muted(users["owner"], lobby_id, users["member"]) == (True, None)


async def test_a_mute_lapses_by_itself(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        await api.mute(owner, lobby_id, member, duration=1)
        await api.send(member, lobby_id, "too early", expect="MUTED")
        assert [m["user"]["id"] for m in await api.mutes(owner, lobby_id)] == [member.id]
        await asyncio.sleep(1.2)
        assert await api.muted(owner, lobby_id, member) == (False, None)
        assert await api.mutes(owner, lobby_id) == []
        await api.send(member, lobby_id, "free again")
        await api.typing(member, lobby_id, True)
        await api.unmute(owner, lobby_id, member, expect="NOT_FOUND")


async def test_leaving_and_rejoining_does_not_lift_a_mute(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member, outsider = users["owner"], users["member"], users["outsider"]
        await api.mute(owner, lobby_id, member, "no", 3600)
        await api.leave(member, lobby_id)
        await api.join(member, lobby_id)
        await api.send(member, lobby_id, "fresh start?", expect="MUTED")
        # A non-member can be muted ahead of joining, as they can be banned.
        await api.mute(owner, lobby_id, outsider)
        await api.join(outsider, lobby_id)
        await api.send(outsider, lobby_id, "hi", expect="MUTED")
        assert await api.muted(owner, lobby_id, outsider) == (True, None)
        # Re-muting replaces the earlier mute.
        again = await api.mute(owner, lobby_id, member, None, 60)
        [replaced] = [m for m in await api.mutes(owner, lobby_id) if m["user"]["id"] == member.id]
        assert replaced["expiresAt"] == again["expiresAt"]


# fmt: off
# Who may mute (and unmute) whom: the ban's rules. Rows: actor; columns: target.
RULES = {
    #              owner  moderator  member  outsider  self
    "owner":      ("F",   "ok",      "ok",   "ok",     "F"),
    "moderator":  ("F",   "F",       "ok",   "ok",     "F"),
    "member":     ("F",   "F",       "F",    "F",      "F"),
    "outsider":   ("F",   "F",       "F",    "F",      "F"),
    "staff":      ("F",   "ok",      "ok",   "ok",     "F"),
}
# fmt: on


@pytest.mark.parametrize("actor", list(RULES))
async def test_who_may_mute_whom(database_url: str, actor: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        targets = ["owner", "moderator", "member", "outsider", actor]
        for target, expected in zip(targets, RULES[actor], strict=True):
            code = None if expected == "ok" else "FORBIDDEN"
            outcome = await api.outcome(
                "mutation($l: ID!, $u: ID!) { muteUser(lobbyId: $l, userId: $u) { expiresAt } }",
                {"l": lobby_id, "u": users[target].id},
                users[actor],
            )
            assert outcome == code, (actor, target)
            unmute = await api.outcome(
                "mutation($l: ID!, $u: ID!) { unmuteUser(lobbyId: $l, userId: $u) }",
                {"l": lobby_id, "u": users[target].id},
                users[actor],
            )
            assert unmute == code, (actor, "unmute", target)


async def test_mute_errors(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        for duration in (0, -5, 2_592_001):
            error = await api.mute(owner, lobby_id, member, duration=duration, expect="BAD_USER_INPUT")
            assert error["extensions"]["field"] == "durationSeconds"
        assert (await api.mute(owner, lobby_id, member, duration=2_592_000))["expiresAt"]
        await api.mute(owner, "999999", member, expect="NOT_FOUND")
        await api.mute(owner, lobby_id, "999999", expect="NOT_FOUND")
        await api.mute(None, lobby_id, member, expect="UNAUTHENTICATED")
        await api.unmute(None, lobby_id, member, expect="UNAUTHENTICATED")
        error = await api.mute(owner, "x", member, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "lobbyId"
        # Lobby.mutes: owner, moderators, staff; FORBIDDEN for members; the lobby is null to strangers.
        for viewer in ("owner", "moderator", "staff"):
            assert [m["user"]["id"] for m in await api.mutes(users[viewer], lobby_id)] == [member.id]
        await api.mutes(member, lobby_id, expect="FORBIDDEN")
        await api.mutes(users["outsider"], lobby_id, expect="FORBIDDEN")
        await api.update(owner, lobby_id, isPublic=False)
        await api.mute(users["outsider"], lobby_id, member, expect="NOT_FOUND")
        await api.unmute(users["outsider"], lobby_id, member, expect="NOT_FOUND")
        await api.close(owner, lobby_id)
        await api.mute(owner, lobby_id, users["other"], expect="LOBBY_NOT_OPEN")
        await api.unmute(owner, lobby_id, member, expect="LOBBY_NOT_OPEN")
        await api.mute(member, lobby_id, users["other"], expect="FORBIDDEN")


async def test_a_mute_is_per_lobby(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, member = users["owner"], users["member"]
        elsewhere = (await api.create_lobby(owner, "Elsewhere"))["id"]
        await api.join(member, elsewhere)
        await api.mute(owner, lobby_id, member)
        await api.send(member, elsewhere, "fine here")
        assert await api.muted(owner, elsewhere, member) == (False, None)
