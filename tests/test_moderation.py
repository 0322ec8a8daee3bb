"""Moderation: who may do what (the permission matrix), kicks, bans and their expiry, moderators, the log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.graphql import GraphQLClient
from tests.lobbies import (
    ADD_MODERATOR,
    BAN_USER,
    CLOSE_LOBBY,
    END_GAME,
    JOIN_LOBBY,
    KICK_USER,
    LEAVE_LOBBY,
    LOBBY_BANS,
    LOBBY_LOG,
    REMOVE_MODERATOR,
    START_GAME,
    UNBAN_USER,
    UPDATE_LOBBY,
    Account,
    Api,
    Users,
    app_with,
    code_of,
    fresh_database,
    log_summary,
    make_users,
    parse_time,
)


@pytest.fixture
def api(gql: GraphQLClient) -> Api:
    return Api(gql)


CAST = ["owner", "moderator", "member", "target", "moderator2", "banned", "outsider", "staff"]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world_database_url(request: pytest.FixtureRequest) -> str:
    return fresh_database(request)


@pytest.fixture(scope="module")
async def world(world_database_url: str) -> AsyncIterator[tuple[Api, Users]]:
    """One app and one cast for the table-driven tests (registering is slow); each row makes its own lobby."""
    async with app_with(world_database_url, max_lobbies_per_owner=100_000) as (gql, _):
        users = await make_users(gql, world_database_url, CAST, premium=["owner"], staff=["staff"])
        yield Api(gql), users


async def build_lobby(
    api: Api,
    users: Users,
    *,
    public: bool = True,
    in_game: bool = False,
    closed: bool = False,
    extras: tuple[str, ...] = ("target", "moderator2", "banned"),
) -> str:
    """owner; moderator (a moderator); member; and as asked target (a member), moderator2 (a moderator),
    banned (banned, not a member)."""
    owner = users["owner"]
    lobby_id: str = (await api.create_lobby(owner, "Scene", isPublic=public))["id"]
    members = ["moderator", "member", *(name for name in ("target", "moderator2") if name in extras)]
    await api.join_all([users[name] for name in members], lobby_id)
    await api.add_moderator(owner, lobby_id, users["moderator"])
    if "moderator2" in extras:
        await api.add_moderator(owner, lobby_id, users["moderator2"])
    if "banned" in extras:
        await api.ban(owner, lobby_id, users["banned"], "keep out")
    if in_game:
        await api.start(owner, lobby_id)
    if closed:
        await api.close(owner, lobby_id)
    return lobby_id


# ---------------------------------------------------------------------------------------------
# The permission matrix: every operation × every kind of caller, each on a lobby of its own.

COLUMNS = [
    ("owner", "open"),
    ("moderator", "open"),
    ("member", "open"),
    ("outsider", "open"),
    ("staff", "open"),
    ("outsider", "private"),
    ("staff", "private"),
    ("owner", "closed"),
    ("moderator", "closed"),
    ("member", "closed"),
    ("outsider", "closed"),
    ("staff", "closed"),
]
CODES = {
    "ok": None,
    "F": "FORBIDDEN",
    "NF": "NOT_FOUND",
    "C": "CONFLICT",
    "NO": "LOBBY_NOT_OPEN",
    "null": "null",  # a read of a lobby the caller may not see: `lobby` is null, no error
}

Variables = Callable[[str, Users], dict[str, Any]]
Check = Callable[[dict[str, Any], Account, Users], None]


@dataclass(frozen=True)
class Operation:
    name: str
    query: str
    variables: Variables
    check: Check
    in_game: bool = False
    extras: tuple[str, ...] = ()


def lobby_only(lobby_id: str, _: Users) -> dict[str, Any]:
    return {"lobbyId": lobby_id}


def on(name: str) -> Variables:
    return lambda lobby_id, users: {"lobbyId": lobby_id, "userId": users[name].id}


def expect_status(field: str, status: str) -> Check:
    def check(data: dict[str, Any], _actor: Account, _users: Users) -> None:
        assert data[field]["status"] == status

    return check


def expect_true(field: str) -> Check:
    def check(data: dict[str, Any], _actor: Account, _users: Users) -> None:
        assert data[field] is True

    return check


def check_update(data: dict[str, Any], _actor: Account, _users: Users) -> None:
    assert data["updateLobby"]["name"] == "Renamed"


def check_join(data: dict[str, Any], _actor: Account, _users: Users) -> None:
    assert data["joinLobby"]["myRole"] == "MEMBER"
    assert data["joinLobby"]["participantCount"] == 4  # owner, moderator, member and the joiner


def check_ban(data: dict[str, Any], actor: Account, users: Users) -> None:
    assert data["banUser"]["user"]["id"] == users["target"].id
    assert data["banUser"]["bannedBy"]["id"] == actor.id


def expect_role(field: str, target: str, role: str) -> Check:
    def check(data: dict[str, Any], _actor: Account, users: Users) -> None:
        assert data[field]["user"]["id"] == users[target].id
        assert data[field]["role"] == role

    return check


def check_log(data: dict[str, Any], _actor: Account, _users: Users) -> None:
    assert data["lobbyLog"]["edges"][0]["node"]["kind"] == "CREATED"


def check_bans(data: dict[str, Any], _actor: Account, users: Users) -> None:
    assert [ban["user"]["id"] for ban in data["lobby"]["bans"]] == [users["banned"].id]


OPERATIONS = [
    Operation(
        "updateLobby",
        UPDATE_LOBBY,
        lambda lobby_id, _: {"lobbyId": lobby_id, "input": {"name": "Renamed"}},
        check_update,
    ),
    Operation("startGame", START_GAME, lobby_only, expect_status("startGame", "IN_GAME")),
    Operation("endGame", END_GAME, lobby_only, expect_status("endGame", "OPEN"), in_game=True),
    Operation("closeLobby", CLOSE_LOBBY, lobby_only, expect_status("closeLobby", "CLOSED")),
    Operation(
        "joinLobby", JOIN_LOBBY, lambda lobby_id, _: {"lobbyId": lobby_id, "password": None}, check_join
    ),
    Operation("leaveLobby", LEAVE_LOBBY, lobby_only, expect_true("leaveLobby")),
    Operation("kickUser", KICK_USER, on("target"), expect_true("kickUser"), extras=("target",)),
    Operation("banUser", BAN_USER, on("target"), check_ban, extras=("target",)),
    Operation("unbanUser", UNBAN_USER, on("banned"), expect_true("unbanUser"), extras=("banned",)),
    Operation(
        "addModerator",
        ADD_MODERATOR,
        on("target"),
        expect_role("addModerator", "target", "MODERATOR"),
        extras=("target",),
    ),
    Operation(
        "removeModerator",
        REMOVE_MODERATOR,
        on("moderator2"),
        expect_role("removeModerator", "moderator2", "MEMBER"),
        extras=("moderator2",),
    ),
    Operation("lobbyLog", LOBBY_LOG, lobby_only, check_log),
    Operation("Lobby.bans", LOBBY_BANS, lambda lobby_id, _: {"id": lobby_id}, check_bans, extras=("banned",)),
]

# The expected outcome of each operation for each caller, in COLUMNS order. Every caller gets a
# lobby of their own: kickUser/banUser act on "target" (a member), unbanUser on "banned",
# addModerator on "target", removeModerator on "moderator2"; endGame starts from IN_GAME.
# fmt: off
MATRIX = {
    #                  open public lobby              private lobby   closed public lobby
    #                  owner mod member out staff     out   staff     owner mod member out staff
    "updateLobby":     "ok   F   F      F   ok        NF    ok        NO    F   F      F   NO",
    "startGame":       "ok   F   F      F   ok        NF    ok        NO    F   F      F   NO",
    "endGame":         "ok   F   F      F   ok        NF    ok        NO    F   F      F   NO",
    "closeLobby":      "ok   F   F      F   ok        NF    ok        NO    F   F      F   NO",
    "joinLobby":       "C    C   C      ok  ok        ok    ok        NO    NO  NO     NO  NO",
    "leaveLobby":      "ok   ok  ok     F   F         NF    F         NO    NO  NO     F   F",
    "kickUser":        "ok   ok  F      F   ok        NF    ok        NO    NO  F      F   NO",
    "banUser":         "ok   ok  F      F   ok        NF    ok        NO    NO  F      F   NO",
    "unbanUser":       "ok   ok  F      F   ok        NF    ok        NO    NO  F      F   NO",
    "addModerator":    "ok   F   F      F   ok        NF    ok        NO    F   F      F   NO",
    "removeModerator": "ok   F   F      F   ok        NF    ok        NO    F   F      F   NO",
    "lobbyLog":        "ok   ok  F      F   ok        NF    ok        ok    ok  F      F   ok",
    "Lobby.bans":      "ok   ok  F      F   ok        null  ok        ok    ok  F      F   ok",
}
# fmt: on


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.name for operation in OPERATIONS])
async def test_permission_matrix(world: tuple[Api, Users], operation: Operation) -> None:
    api, users = world
    expected = [CODES[token] for token in MATRIX[operation.name].split()]
    assert len(expected) == len(COLUMNS)

    async def build(kind: str) -> str:
        return await build_lobby(
            api,
            users,
            public=kind != "private",
            in_game=operation.in_game,
            closed=kind == "closed",
            extras=operation.extras,
        )

    # A refusal changes nothing, so the refused callers of one kind of lobby share one lobby;
    # every success gets a fresh lobby.
    shared: dict[str, str] = {}
    mismatches = []
    for (actor_name, kind), want in zip(COLUMNS, expected, strict=True):
        if want is None:
            lobby_id = await build(kind)
        else:
            lobby_id = shared.get(kind) or await build(kind)
            shared[kind] = lobby_id
        actor = users[actor_name]
        body = await api.gql.execute(operation.query, operation.variables(lobby_id, users), actor.token)
        errors = body.get("errors") or []
        if errors:
            got: str | None = " ".join(code_of(error) for error in errors)
        elif body["data"].get("lobby", True) is None:
            got = "null"
        else:
            got = None
            shared.pop(kind, None)  # it may have changed the lobby
        column = f"{actor_name}@{kind}"
        if got != want:
            mismatches.append(f"{column}: expected {want or 'success'}, got {got or 'success'} {body}")
            continue
        if operation.name == "Lobby.bans" and errors:
            assert errors[0]["path"][-1] == "bans", column
        if got is None:
            try:
                operation.check(body["data"], actor, users)
            except AssertionError as failure:
                mismatches.append(f"{column}: wrong result {body['data']} ({failure})")
    assert not mismatches, f"{operation.name}:\n" + "\n".join(mismatches)


# ---------------------------------------------------------------------------------------------
# Who may act on whom.

QUERIES = {
    "kick": KICK_USER,
    "ban": BAN_USER,
    "unban": UNBAN_USER,
    "addModerator": ADD_MODERATOR,
    "removeModerator": REMOVE_MODERATOR,
}
UNKNOWN = "unknown"

TARGET_RULES = [
    # A moderator acts only on plain members.
    ("moderator", "kick", "member", None),
    ("moderator", "ban", "member", None),
    ("moderator", "kick", "moderator2", "FORBIDDEN"),
    ("moderator", "ban", "moderator2", "FORBIDDEN"),
    # Nobody acts on the owner, staff included.
    ("moderator", "kick", "owner", "FORBIDDEN"),
    ("moderator", "ban", "owner", "FORBIDDEN"),
    ("staff", "kick", "owner", "FORBIDDEN"),
    ("staff", "ban", "owner", "FORBIDDEN"),
    ("staff", "removeModerator", "owner", "FORBIDDEN"),
    ("staff", "addModerator", "owner", "FORBIDDEN"),
    # Nobody acts on themselves.
    ("owner", "kick", "owner", "FORBIDDEN"),
    ("owner", "ban", "owner", "FORBIDDEN"),
    ("owner", "addModerator", "owner", "FORBIDDEN"),
    ("owner", "removeModerator", "owner", "FORBIDDEN"),
    ("moderator", "kick", "moderator", "FORBIDDEN"),
    ("moderator", "ban", "moderator", "FORBIDDEN"),
    ("staff", "ban", "staff", "FORBIDDEN"),
    # Owner and staff act on moderators.
    ("owner", "kick", "moderator", None),
    ("owner", "ban", "moderator", None),
    ("staff", "kick", "moderator", None),
    ("staff", "ban", "moderator", None),
    ("staff", "addModerator", "member", None),
    ("staff", "removeModerator", "moderator", None),
    # Targets that are not there, or already are what they would become.
    ("owner", "ban", "outsider", None),
    ("owner", "kick", "outsider", "NOT_FOUND"),
    ("moderator", "kick", "outsider", "NOT_FOUND"),
    ("owner", "kick", UNKNOWN, "NOT_FOUND"),
    ("owner", "ban", UNKNOWN, "NOT_FOUND"),
    ("owner", "unban", UNKNOWN, "NOT_FOUND"),
    ("owner", "addModerator", UNKNOWN, "NOT_FOUND"),
    ("owner", "unban", "member", "NOT_FOUND"),
    ("owner", "unban", "outsider", "NOT_FOUND"),
    ("owner", "addModerator", "outsider", "NOT_FOUND"),
    ("owner", "addModerator", "moderator", "CONFLICT"),
    ("owner", "removeModerator", "member", "CONFLICT"),
]


async def test_who_may_act_on_whom(world: tuple[Api, Users]) -> None:
    api, users = world
    owner = users["owner"]
    shared: str | None = None  # refusals change nothing, so they share a lobby
    mismatches = []
    for actor, action, target, want in TARGET_RULES:
        lobby_id = (want and shared) or await build_lobby(api, users, extras=("moderator2",))
        before = await api.members(owner, lobby_id) if want else {}
        target_id = "999999" if target == UNKNOWN else users[target].id
        got = await api.outcome(QUERIES[action], {"lobbyId": lobby_id, "userId": target_id}, users[actor])
        row = f"{actor} {action} {target}"
        shared = lobby_id if want else shared
        if got != want:
            mismatches.append(f"{row}: expected {want or 'success'}, got {got or 'success'}")
            shared = None if want else shared
        elif want is not None and await api.members(owner, lobby_id) != before:
            mismatches.append(f"{row}: refused with {want} but the members changed")
            shared = None
    assert not mismatches, "\n".join(mismatches)


async def test_checks_run_in_order(world: tuple[Api, Users]) -> None:
    """Authentication, then existence, then permission, then state."""
    api, users = world
    lobby_id = await build_lobby(api, users)
    private_id = await build_lobby(api, users, public=False)
    member, outsider, moderator = users["member"], users["outsider"], users["moderator"]
    # Authentication before existence.
    await api.kick(None, "999999", users["target"], expect="UNAUTHENTICATED")
    await api.start(None, "999999", expect="UNAUTHENTICATED")
    # Existence before permission.
    await api.kick(member, "999999", users["target"], expect="NOT_FOUND")
    await api.start(member, "999999", expect="NOT_FOUND")
    await api.kick(outsider, lobby_id, "999999", expect="NOT_FOUND")
    await api.ban(outsider, private_id, users["target"], expect="NOT_FOUND")
    await api.unban(outsider, private_id, users["banned"], expect="NOT_FOUND")
    # Permission before state.
    await api.end(member, lobby_id, expect="FORBIDDEN")  # not IN_GAME would be CONFLICT
    await api.add_moderator(moderator, lobby_id, users["moderator2"], expect="FORBIDDEN")
    await api.remove_moderator(moderator, lobby_id, users["member"], expect="FORBIDDEN")
    await api.start(users["owner"], lobby_id)
    await api.start(member, lobby_id, expect="FORBIDDEN")  # already IN_GAME
    await api.start(users["owner"], lobby_id, expect="LOBBY_NOT_OPEN")


async def test_malformed_ids_are_bad_user_input(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["owner", "member"], premium=["owner"])
    owner, member = users["owner"], users["member"]
    lobby_id = (await api.create_lobby(owner, "Ids"))["id"]
    await api.join(member, lobby_id)
    for malformed in ("abc", "12abc", "1.0"):
        for query in (KICK_USER, BAN_USER, UNBAN_USER, ADD_MODERATOR, REMOVE_MODERATOR):
            error = await api.run(query, {"lobbyId": malformed, "userId": member.id}, owner, "BAD_USER_INPUT")
            assert error["extensions"]["field"] == "lobbyId"
            error = await api.run(query, {"lobbyId": lobby_id, "userId": malformed}, owner, "BAD_USER_INPUT")
            assert error["extensions"]["field"] == "userId"
        for query in (START_GAME, END_GAME, CLOSE_LOBBY, LEAVE_LOBBY):
            error = await api.run(query, {"lobbyId": malformed}, owner, "BAD_USER_INPUT")
            assert error["extensions"]["field"] == "lobbyId"
        error = await api.update(owner, malformed, name="x", expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "lobbyId"
        error = await api.log_page(owner, malformed, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "lobbyId"
    for query in (KICK_USER, BAN_USER, UNBAN_USER, ADD_MODERATOR, REMOVE_MODERATOR):
        await api.run(query, {"lobbyId": "999999", "userId": member.id}, owner, "NOT_FOUND")
    await api.log_page(owner, "999999", expect="NOT_FOUND")
    assert await api.members(owner, lobby_id) == {owner.id: "OWNER", member.id: "MEMBER"}


# ---------------------------------------------------------------------------------------------
# Kicks, bans, moderators.


async def test_kick_removes_the_member_who_may_join_again(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["owner", "mia"], premium=["owner"])
    owner, mia = users["owner"], users["mia"]
    lobby_id = (await api.create_lobby(owner, "Kicks"))["id"]
    await api.join(mia, lobby_id)
    assert await api.kick(owner, lobby_id, mia, "cool off") is True
    lobby = await api.lobby(mia, lobby_id)
    assert lobby["participantCount"] == 1
    assert lobby["myRole"] is None
    await api.kick(owner, lobby_id, mia, expect="NOT_FOUND")
    assert (await api.join(mia, lobby_id))["myRole"] == "MEMBER"
    entries = await api.log(owner, lobby_id)
    kicked = [entry for entry in entries if entry["kind"] == "KICKED"]
    assert [(e["actor"]["id"], e["target"]["id"], e["reason"]) for e in kicked] == [
        (owner.id, mia.id, "cool off")
    ]


async def test_ban_keeps_a_user_out_until_unbanned(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["owner", "mod", "mia", "stranger"], premium=["owner"])
    owner, mod, mia, stranger = users["owner"], users["mod"], users["mia"], users["stranger"]
    lobby_id = (await api.create_lobby(owner, "Bans"))["id"]
    await api.join_all([mod, mia], lobby_id)
    await api.add_moderator(owner, lobby_id, mod)

    before = datetime.now(UTC)
    ban = await api.ban(mod, lobby_id, mia, "rude")
    assert ban["user"] == {"id": mia.id, "username": "mia"}
    assert ban["bannedBy"] == {"id": mod.id, "username": "mod"}
    assert ban["reason"] == "rude"
    assert ban["expiresAt"] is None
    assert parse_time(ban["createdAt"]) >= before - timedelta(seconds=5)
    lobby = await api.lobby(owner, lobby_id)
    assert lobby["participantCount"] == 2
    assert mia.id not in {member["user"]["id"] for member in lobby["members"]}
    error = await api.join(mia, lobby_id, expect="BANNED")
    assert error["extensions"]["expiresAt"] is None

    # A user who is not a member can be banned to keep them out.
    await api.ban(owner, lobby_id, stranger)
    await api.join(stranger, lobby_id, expect="BANNED")
    assert {b["user"]["id"] for b in await api.bans(owner, lobby_id)} == {mia.id, stranger.id}

    # Banning again replaces the ban.
    replaced = await api.ban(owner, lobby_id, mia, "still rude", 3600)
    assert replaced["reason"] == "still rude"
    assert replaced["bannedBy"]["id"] == owner.id
    expires = parse_time(replaced["expiresAt"])
    assert timedelta(minutes=59) < expires - datetime.now(UTC) < timedelta(minutes=61)
    mia_bans = [b for b in await api.bans(owner, lobby_id) if b["user"]["id"] == mia.id]
    assert len(mia_bans) == 1
    assert mia_bans[0]["reason"] == "still rude"
    assert parse_time(mia_bans[0]["expiresAt"]) == expires
    error = await api.join(mia, lobby_id, expect="BANNED")
    assert parse_time(error["extensions"]["expiresAt"]) == expires

    assert await api.unban(mod, lobby_id, mia) is True
    await api.unban(mod, lobby_id, mia, expect="NOT_FOUND")
    assert [b["user"]["id"] for b in await api.bans(owner, lobby_id)] == [stranger.id]
    assert (await api.join(mia, lobby_id))["myRole"] == "MEMBER"

    entries = [e for e in await api.log(owner, lobby_id) if e["kind"] in ("BANNED", "UNBANNED")]
    assert [(e["kind"], e["actor"]["id"], e["target"]["id"], e["reason"]) for e in entries] == [
        ("BANNED", mod.id, mia.id, "rude"),
        ("BANNED", owner.id, stranger.id, None),
        ("BANNED", owner.id, mia.id, "still rude"),
        ("UNBANNED", mod.id, mia.id, None),
    ]


async def test_a_timed_ban_expires_by_itself(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["owner", "mia"], premium=["owner"])
    owner, mia = users["owner"], users["mia"]
    lobby_id = (await api.create_lobby(owner, "Timeout"))["id"]
    await api.join(mia, lobby_id)
    ban = await api.ban(owner, lobby_id, mia, "one second", 1)
    expires = parse_time(ban["expiresAt"])
    assert timedelta(0) < expires - parse_time(ban["createdAt"]) <= timedelta(seconds=1, milliseconds=50)
    error = await api.join(mia, lobby_id, expect="BANNED")
    assert parse_time(error["extensions"]["expiresAt"]) == expires
    assert len(await api.bans(owner, lobby_id)) == 1

    await asyncio.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 0.2)
    assert await api.bans(owner, lobby_id) == []  # only active bans are listed
    assert (await api.join(mia, lobby_id))["myRole"] == "MEMBER"
    await api.leave(mia, lobby_id)
    await api.unban(owner, lobby_id, mia, expect="NOT_FOUND")  # nothing active to lift


@pytest.mark.parametrize("duration", [0, -1, 2_592_001, 10**9])
async def test_ban_duration_must_be_within_thirty_days(
    api: Api, gql: GraphQLClient, database_url: str, duration: int
) -> None:
    users = await make_users(gql, database_url, ["owner", "mia"], premium=["owner"])
    lobby_id = (await api.create_lobby(users["owner"], "Durations"))["id"]
    await api.join(users["mia"], lobby_id)
    error = await api.ban(users["owner"], lobby_id, users["mia"], duration=duration, expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "durationSeconds"
    assert await api.bans(users["owner"], lobby_id) == []
    assert (await api.lobby(users["owner"], lobby_id))["participantCount"] == 2


async def test_the_longest_ban_is_thirty_days(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["owner", "mia"], premium=["owner"])
    lobby_id = (await api.create_lobby(users["owner"], "Durations"))["id"]
    ban = await api.ban(users["owner"], lobby_id, users["mia"], duration=2_592_000)
    left = parse_time(ban["expiresAt"]) - datetime.now(UTC)
    assert timedelta(days=30) - timedelta(minutes=1) < left <= timedelta(days=30)


async def test_moderators_are_appointed_and_removed(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["owner", "mod", "mia", "bob"], premium=["owner"])
    owner, mod, mia, bob = users["owner"], users["mod"], users["mia"], users["bob"]
    lobby_id = (await api.create_lobby(owner, "Mods"))["id"]
    await api.join_all([mod, mia, bob], lobby_id)

    await api.kick(mod, lobby_id, bob, expect="FORBIDDEN")
    added = await api.add_moderator(owner, lobby_id, mod)
    assert added["user"] == {"id": mod.id, "username": "mod"}
    assert added["role"] == "MODERATOR"
    joined_at = added["joinedAt"]
    assert (await api.lobby(mod, lobby_id))["myRole"] == "MODERATOR"
    await api.add_moderator(owner, lobby_id, mod, expect="CONFLICT")
    await api.add_moderator(mod, lobby_id, mia, expect="FORBIDDEN")
    await api.kick(mod, lobby_id, bob)

    removed = await api.remove_moderator(owner, lobby_id, mod)
    assert removed["user"]["id"] == mod.id
    assert removed["role"] == "MEMBER"
    assert removed["joinedAt"] == joined_at  # the membership stays, with its seniority
    await api.remove_moderator(owner, lobby_id, mod, expect="CONFLICT")
    await api.kick(mod, lobby_id, mia, expect="FORBIDDEN")
    assert await api.members(owner, lobby_id) == {owner.id: "OWNER", mod.id: "MEMBER", mia.id: "MEMBER"}
    assert log_summary(await api.log(owner, lobby_id))[-3:] == [
        ("MODERATOR_ADDED", owner.id, mod.id),
        ("KICKED", mod.id, bob.id),
        ("MODERATOR_REMOVED", owner.id, mod.id),
    ]


async def test_staff_moderate_without_being_members(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(
        gql, database_url, ["owner", "mia", "bob", "sam"], premium=["owner"], staff=["sam"]
    )
    owner, mia, bob, sam = users["owner"], users["mia"], users["bob"], users["sam"]
    lobby_id = (await api.create_lobby(owner, "Watched", isPublic=False))["id"]
    await api.join_all([mia, bob], lobby_id)
    await api.update(sam, lobby_id, name="Renamed by staff")
    await api.add_moderator(sam, lobby_id, mia)
    await api.kick(sam, lobby_id, bob, "staff says so")
    await api.ban(sam, lobby_id, bob)
    await api.unban(sam, lobby_id, bob)
    await api.remove_moderator(sam, lobby_id, mia)
    await api.start(sam, lobby_id)
    await api.end(sam, lobby_id)
    lobby = await api.lobby(sam, lobby_id)
    assert lobby["myRole"] is None
    assert sam.id not in {member["user"]["id"] for member in lobby["members"]}
    assert log_summary(await api.log(sam, lobby_id))[-8:] == [
        ("UPDATED", sam.id, None),
        ("MODERATOR_ADDED", sam.id, mia.id),
        ("KICKED", sam.id, bob.id),
        ("BANNED", sam.id, bob.id),
        ("UNBANNED", sam.id, bob.id),
        ("MODERATOR_REMOVED", sam.id, mia.id),
        ("GAME_STARTED", sam.id, None),
        ("GAME_ENDED", sam.id, None),
    ]


# ---------------------------------------------------------------------------------------------
# The log.


async def test_the_log_has_one_entry_per_action_oldest_first(
    api: Api, gql: GraphQLClient, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["owner", "mod", "mia", "bob", "sam"], premium=["owner"], staff=["sam"]
    )
    owner, mod, mia, bob, sam = (users[n] for n in ("owner", "mod", "mia", "bob", "sam"))
    lobby_id = (await api.create_lobby(owner, "Logged"))["id"]
    await api.join_all([mod, mia, bob], lobby_id)
    await api.add_moderator(owner, lobby_id, mod)
    await api.kick(mod, lobby_id, mia, "noise")
    await api.ban(mod, lobby_id, bob, "spam", 600)
    await api.unban(owner, lobby_id, bob)
    await api.remove_moderator(owner, lobby_id, mod)
    await api.update(owner, lobby_id, name="Logged still")
    await api.start(owner, lobby_id)
    await api.end(owner, lobby_id)
    await api.leave(mod, lobby_id)
    # Refused actions leave no trace.
    await api.kick(owner, lobby_id, owner, expect="FORBIDDEN")
    await api.end(owner, lobby_id, expect="CONFLICT")
    await api.close(sam, lobby_id)

    entries = await api.log(sam, lobby_id)
    assert [
        (e["kind"], e["actor"] and e["actor"]["id"], e["target"] and e["target"]["id"], e["reason"])
        for e in entries
    ] == [
        ("CREATED", owner.id, None, None),
        ("JOINED", mod.id, mod.id, None),
        ("JOINED", mia.id, mia.id, None),
        ("JOINED", bob.id, bob.id, None),
        ("MODERATOR_ADDED", owner.id, mod.id, None),
        ("KICKED", mod.id, mia.id, "noise"),
        ("BANNED", mod.id, bob.id, "spam"),
        ("UNBANNED", owner.id, bob.id, None),
        ("MODERATOR_REMOVED", owner.id, mod.id, None),
        ("UPDATED", owner.id, None, None),
        ("GAME_STARTED", owner.id, None, None),
        ("GAME_ENDED", owner.id, None, None),
        ("LEFT", mod.id, mod.id, None),
        ("CLOSED", sam.id, None, None),
    ]
    assert len({entry["id"] for entry in entries}) == len(entries)
    times = [parse_time(entry["createdAt"]) for entry in entries]
    assert times == sorted(times)


async def test_the_log_pages_oldest_first(api: Api, gql: GraphQLClient, database_url: str) -> None:
    users = await make_users(gql, database_url, ["owner", "ann", "ben", "cid", "dan"], premium=["owner"])
    owner = users["owner"]
    lobby_id = (await api.create_lobby(owner, "Pages"))["id"]
    await api.join_all([users[n] for n in ("ann", "ben", "cid", "dan")], lobby_id)  # 5 entries in all
    everything = await api.log(owner, lobby_id)
    assert len(everything) == 5

    first = await api.log_page(owner, lobby_id, first=2)
    assert [edge["node"] for edge in first["edges"]] == everything[:2]
    assert first["pageInfo"]["hasNextPage"] is True
    assert first["pageInfo"]["endCursor"] == first["edges"][-1]["cursor"]
    await api.leave(users["ann"], lobby_id)  # appended while paging: shows up at the end
    second = await api.log_page(owner, lobby_id, first=2, after=first["pageInfo"]["endCursor"])
    assert [edge["node"] for edge in second["edges"]] == everything[2:4]
    third = await api.log_page(owner, lobby_id, first=2, after=second["pageInfo"]["endCursor"])
    assert [edge["node"]["kind"] for edge in third["edges"]] == ["JOINED", "LEFT"]
    assert third["edges"][0]["node"] == everything[4]
    assert third["pageInfo"]["hasNextPage"] is False
    default = await api.log_page(owner, lobby_id)  # first: 50 by default
    assert len(default["edges"]) == 6

    for bad_first in (101, -1):
        error = await api.log_page(owner, lobby_id, first=bad_first, expect="BAD_USER_INPUT")
        assert error["extensions"]["field"] == "first"
    error = await api.log_page(owner, lobby_id, first=2, after="not-a-cursor", expect="BAD_USER_INPUT")
    assert error["extensions"]["field"] == "after"
    await api.log_page(None, lobby_id, expect="UNAUTHENTICATED")
