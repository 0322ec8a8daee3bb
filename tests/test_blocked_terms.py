"""Blocked terms: who sets and sees them, whole-word case-folded matching (Unicode too), refusals."""

from __future__ import annotations

import pytest

from tests.extras import cast_in_lobby

# (terms, message, blocked?)
CASES = [
    (["cat"], "CAT!", True),
    (["cat"], "the cat sat", True),
    (["cat"], "cat", True),
    (["cat"], "(cat) and cat's toy", True),
    (["cat"], "concatenate", False),
    (["cat"], "cats", False),
    (["cat"], "bobcat", False),
    (["cat"], "cat_1 _cat", False),
    (["cat"], "cat1 2cat", False),
    (["cat"], "cat\u0663", False),  # ARABIC-INDIC DIGIT THREE is a digit
    (["cat"], "\u00e9cat", False),  # é is a letter
    (["cat"], "c-a-t, c a t", False),
    (["cat"], "concat, then cat.", True),  # a later whole-word occurrence counts
    (["straße"], "STRASSE", True),  # casefold: ß → ss
    (["STRASSE"], "die Straße hier", True),
    (["straße"], "Strassenbahn", False),
    (["İstanbul"], "İSTANBUL!", True),  # both fold to i + COMBINING DOT ABOVE + stanbul
    (["İstanbul"], "istanbul", False),  # … which plain "istanbul" is not
    (["λόγος"], "ΛΌΓΟΣ", True),  # final sigma and capital sigma both fold to σ
    (["λόγος"], "ο λόγοσ εδώ", True),
    (["λόγος"], "αλόγος", False),  # preceded by a Greek letter
    (["bad word"], "what a BAD WORD to say", True),
    (["bad word"], "bad words", False),
    (["ok", "nope"], "NOPE.", True),
    (["cafe\u0301"], "CAFÉ", True),  # decomposed and composed é compare equal
]


async def test_matching(database_url: str) -> None:
    async with cast_in_lobby(database_url, names=["owner", "moderator", "member", "other"]) as (
        api,
        users,
        lobby_id,
    ):
        owner, member = users["owner"], users["member"]
        failures = []
        for terms, text, blocked in CASES:
            await api.update(owner, lobby_id, blockedTerms=terms)
            body = await api.gql.execute(
                "mutation($l: ID!, $c: String!) { sendMessage(lobbyId: $l, content: $c) { id } }",
                {"l": lobby_id, "c": text},
                member.token,
            )
            code = body["errors"][0]["extensions"]["code"] if body.get("errors") else None
            if code != ("MESSAGE_BLOCKED" if blocked else None):
                failures.append((terms, text, code))
        assert failures == []


async def test_a_blocked_message_is_not_stored_and_names_no_term(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        member = users["member"]
        await api.update(users["moderator"], lobby_id, blockedTerms=["Spoiler"])
        kept = await api.send(member, lobby_id, "fine")
        error = await api.send(member, lobby_id, "big spoiler ahead", expect="MESSAGE_BLOCKED")
        assert error["extensions"] == {"code": "MESSAGE_BLOCKED"}
        assert "spoiler" not in error["message"].lower()
        await api.edit(member, kept["id"], "SPOILER: it was him", expect="MESSAGE_BLOCKED")
        assert await api.history_ids(member, lobby_id) == [kept["id"]]
        [node] = [edge["node"] for edge in (await api.history(member, lobby_id))["edges"]]
        assert node["content"] == "fine"
        # Owner, moderators and staff are exempt.
        await api.join(users["staff"], lobby_id)
        for name in ("owner", "moderator", "staff"):
            await api.send(users[name], lobby_id, f"{name}: no spoiler from me")


async def test_who_sets_and_who_sees_blocked_terms(database_url: str) -> None:
    async with cast_in_lobby(database_url) as (api, users, lobby_id):
        owner, moderator, member = users["owner"], users["moderator"], users["member"]
        updated = await api.update(moderator, lobby_id, blockedTerms=["  Alpha ", "beta", "ALPHA"])
        assert updated["id"] == lobby_id
        for viewer in ("owner", "moderator", "staff"):
            assert (await api.extras(users[viewer], lobby_id))["blockedTerms"] == ["Alpha", "beta"]
        assert (await api.extras(member, lobby_id))["blockedTerms"] == []
        # Moderators change this setting only; members none.
        await api.update(moderator, lobby_id, blockedTerms=["x"], name="Mine now", expect="FORBIDDEN")
        await api.update(moderator, lobby_id, slowModeSeconds=3, expect="FORBIDDEN")
        await api.update(member, lobby_id, blockedTerms=["x"], expect="FORBIDDEN")
        await api.update(users["staff"], lobby_id, blockedTerms=["gamma"])
        await api.update(owner, lobby_id, blockedTerms=["delta"], name="Renamed")
        assert (await api.extras(owner, lobby_id))["blockedTerms"] == ["delta"]
        await api.update(moderator, lobby_id, blockedTerms=[])
        assert (await api.extras(owner, lobby_id))["blockedTerms"] == []


@pytest.mark.parametrize(
    "terms",
    [[""], ["   "], ["x" * 65], ["ok", "bad\x00"], [f"t{i}" for i in range(101)]],
    ids=["empty", "blank", "too-long", "control", "too-many"],
)
async def test_invalid_terms(database_url: str, terms: list[str]) -> None:
    async with cast_in_lobby(database_url, names=["owner", "moderator", "member", "other"]) as (
        api,
        users,
        lobby_id,
    ):
        error = await api.update(users["owner"], lobby_id, blockedTerms=terms, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "blockedTerms"
        longest = ["x" * 64, *(f"t{i}" for i in range(99))]
        await api.update(users["owner"], lobby_id, blockedTerms=longest)
        assert len((await api.extras(users["owner"], lobby_id))["blockedTerms"]) == 100
