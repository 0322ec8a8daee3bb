"""Invites: who creates, lists and revokes them, joining by code, and uses under concurrent joins."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.graphql import GraphQLClient
from tests.lobbies import log_summary, make_users, parse_time
from tests.lobby_extras import JOIN_BY_INVITE, Extras, set_invite_expiry
from tests.realtime import unique_names
from tests.servers import ServerProcess

CODE = re.compile(r"^[A-Za-z0-9_-]{16,}$")  # URL-safe, 96 random bits


@pytest.fixture
def api(gql: GraphQLClient) -> Extras:
    return Extras(gql)


async def test_owner_and_moderators_create_invites(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["olive", "mod", "mia", "out", "boss"], premium=["olive"], staff=["boss"]
    )
    olive, mod, mia, out, boss = (users[n] for n in ("olive", "mod", "mia", "out", "boss"))
    lobby_id = (await api.create_lobby(olive, "Secret", isPublic=False))["id"]
    await api.join_all([mod, mia], lobby_id)
    await api.add_moderator(olive, lobby_id, mod)

    before = datetime.now(UTC)
    first = await api.create_invite(olive, lobby_id)
    assert CODE.match(first["code"]), first["code"]
    assert first["lobby"] == {"id": lobby_id, "name": "Secret"}
    assert first["createdBy"]["id"] == olive.id
    assert first["maxUses"] is None
    assert first["uses"] == 0
    lifetime = parse_time(first["expiresAt"]) - parse_time(first["createdAt"])
    assert lifetime == timedelta(seconds=86400)
    assert parse_time(first["createdAt"]) >= before - timedelta(seconds=5)

    second = await api.create_invite(mod, lobby_id, maxUses=3, expiresInSeconds=None)
    assert (second["maxUses"], second["expiresAt"], second["createdBy"]["id"]) == (3, None, mod.id)
    third = await api.create_invite(boss, lobby_id, maxUses=1000, expiresInSeconds=2_592_000)
    assert len({first["code"], second["code"], third["code"]}) == 3

    await api.create_invite(mia, lobby_id, expect="FORBIDDEN")
    await api.create_invite(out, lobby_id, expect="NOT_FOUND")  # a private lobby does not exist for them
    await api.create_invite(olive, "999999", expect="NOT_FOUND")
    for arguments, field in [
        ({"maxUses": 0}, "maxUses"),
        ({"maxUses": 1001}, "maxUses"),
        ({"expiresInSeconds": 59}, "expiresInSeconds"),
        ({"expiresInSeconds": 2_592_001}, "expiresInSeconds"),
    ]:
        error = await api.create_invite(olive, lobby_id, expect="BAD_USER_INPUT", **arguments)
        assert error["extensions"]["field"] == field

    codes = [invite["code"] for invite in await api.invites(olive, lobby_id)]
    assert codes == [first["code"], second["code"], third["code"]]
    assert [i["code"] for i in await api.invites(mod, lobby_id)] == codes
    assert [i["code"] for i in await api.invites(boss, lobby_id)] == codes
    await api.invites(mia, lobby_id, expect="FORBIDDEN")
    created = [e for e in log_summary(await api.log(olive, lobby_id)) if e[0] == "INVITE_CREATED"]
    assert created == [("INVITE_CREATED", olive.id, None), ("INVITE_CREATED", mod.id, None)] + [
        ("INVITE_CREATED", boss.id, None)
    ]


async def test_join_by_invite_needs_no_password_but_every_other_rule(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    names = ["olive", "ann", "ben", "cat", "dan"]
    users = await make_users(gql, database_url, names, premium=["olive"])
    olive, ann, ben, cat, dan = (users[n] for n in names)
    lobby_id = (
        await api.create_lobby(olive, "Vault", isPublic=False, password="hunter2", maxParticipants=3)
    )["id"]
    code = (await api.create_invite(olive, lobby_id, maxUses=10))["code"]

    joined = await api.join_by_invite(ann, code)
    assert (joined["id"], joined["myRole"], joined["participantCount"]) == (lobby_id, "MEMBER", 2)
    await api.join_by_invite(ann, code, expect="CONFLICT")  # already a member
    await api.ban(olive, lobby_id, ben)
    banned = await api.join_by_invite(ben, code, expect="BANNED")
    assert banned["extensions"]["expiresAt"] is None
    await api.join_by_invite(cat, code)  # 3 of 3
    await api.join_by_invite(dan, code, expect="LOBBY_FULL")
    await api.leave(cat, lobby_id)
    await api.update(olive, lobby_id, isLocked=True)
    await api.join_by_invite(dan, code, expect="LOBBY_LOCKED")
    await api.update(olive, lobby_id, isLocked=False)
    await api.start(olive, lobby_id)
    await api.join_by_invite(dan, code, expect="LOBBY_NOT_OPEN")
    await api.end(olive, lobby_id)
    await api.join_by_invite(dan, "no-such-code", expect="NOT_FOUND")
    # Only the two joins that succeeded used the invite.
    [invite] = await api.invites(olive, lobby_id)
    assert invite["uses"] == 2
    await api.join_by_invite(dan, code)
    assert (await api.invites(olive, lobby_id))[0]["uses"] == 3


async def test_used_up_expired_and_revoked_invites_are_not_found(
    api: Extras, gql: GraphQLClient, database_url: str
) -> None:
    names = ["olive", "mod", "mia", "ann", "ben", "boss"]
    users = await make_users(gql, database_url, names, premium=["olive"], staff=["boss"])
    olive, mod, mia, ann, ben, boss = (users[n] for n in names)
    lobby_id = (await api.create_lobby(olive, "Club"))["id"]
    await api.join_all([mod, mia], lobby_id)
    await api.add_moderator(olive, lobby_id, mod)

    once = (await api.create_invite(olive, lobby_id, maxUses=1))["code"]
    await api.join_by_invite(ann, once)
    await api.join_by_invite(ben, once, expect="NOT_FOUND")
    assert await api.invites(olive, lobby_id) == []  # used up: no longer listed

    stale = (await api.create_invite(olive, lobby_id, expiresInSeconds=60))["code"]
    await set_invite_expiry(database_url, stale, datetime.now(UTC) - timedelta(seconds=1))
    await api.join_by_invite(ben, stale, expect="NOT_FOUND")
    await api.revoke_invite(olive, stale, expect="NOT_FOUND")
    assert await api.invites(olive, lobby_id) == []

    by_mod = (await api.create_invite(mod, lobby_id))["code"]
    by_owner = (await api.create_invite(olive, lobby_id))["code"]
    other = (await api.create_invite(olive, lobby_id))["code"]
    await api.revoke_invite(mia, by_owner, expect="FORBIDDEN")
    await api.remove_moderator(olive, lobby_id, mod)
    assert await api.revoke_invite(mod, by_mod) is True  # its creator, moderator or not
    await api.revoke_invite(mod, by_owner, expect="FORBIDDEN")
    assert await api.revoke_invite(olive, by_owner) is True
    assert await api.revoke_invite(boss, other) is True  # staff, not a member
    await api.revoke_invite(olive, by_owner, expect="NOT_FOUND")
    for code in (by_mod, by_owner, other):
        await api.join_by_invite(ben, code, expect="NOT_FOUND")
    assert await api.invites(olive, lobby_id) == []
    revoked = [e for e in log_summary(await api.log(olive, lobby_id)) if e[0] == "INVITE_REVOKED"]
    assert revoked == [
        ("INVITE_REVOKED", mod.id, None),
        ("INVITE_REVOKED", olive.id, None),
        ("INVITE_REVOKED", boss.id, None),
    ]
    await api.close(olive, lobby_id)
    await api.create_invite(olive, lobby_id, expect="LOBBY_NOT_OPEN")


async def _race(
    server: ServerProcess, lobby_places: int, invite_uses: int, racers: int
) -> tuple[int, list[str]]:
    """`racers` users join by one invite at once, over real HTTP: (uses afterwards, error codes)."""
    async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as http:
        gql = GraphQLClient(http)
        api = Extras(gql)
        names = unique_names("olive", *(f"racer{i:02d}" for i in range(racers)))
        users = await make_users(gql, server.env["DATABASE_URL"], names, premium=[names[0]])
        olive = users[names[0]]
        lobby_id = (await api.create_lobby(olive, "Race", maxParticipants=lobby_places))["id"]
        code = (await api.create_invite(olive, lobby_id, maxUses=invite_uses))["code"]

        async def join(token: str) -> dict[str, Any]:
            # A client of its own per racer: separate connections, truly concurrent requests.
            async with httpx.AsyncClient(base_url=server.http_url, timeout=60) as own:
                return await GraphQLClient(own).execute(JOIN_BY_INVITE, {"code": code}, token)

        bodies = await asyncio.gather(*(join(users[name].token) for name in names[1:]))
        codes = sorted(body["errors"][0]["extensions"]["code"] for body in bodies if body.get("errors"))
        lobby = await api.lobby(olive, lobby_id)
        admitted = racers - len(codes)
        assert lobby["participantCount"] == len(lobby["members"]) == 1 + admitted
        invites = await api.invites(olive, lobby_id)
        uses = invites[0]["uses"] if invites else invite_uses
        joined = [e for e in await api.log(olive, lobby_id) if e["kind"] == "JOINED"]
        assert len(joined) == admitted == uses
        return uses, codes


async def test_twenty_concurrent_joins_on_a_five_use_invite_admit_five(server: ServerProcess) -> None:
    uses, codes = await _race(server, lobby_places=64, invite_uses=5, racers=20)
    assert uses == 5
    assert codes == ["NOT_FOUND"] * 15


async def test_concurrent_joins_refused_for_capacity_use_nothing(server: ServerProcess) -> None:
    uses, codes = await _race(server, lobby_places=4, invite_uses=10, racers=12)
    assert uses == 3  # three free places: the nine refused joins used nothing
    assert codes == ["LOBBY_FULL"] * 9
