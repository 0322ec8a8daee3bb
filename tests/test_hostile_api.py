"""Hostile values through the GraphQL API: each ends in a contract code, never INTERNAL or a 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.extras import EDIT_MESSAGE, MUTE_USER, UNMUTE_USER
from tests.graphql import GraphQLClient
from tests.lobbies import CREATE_LOBBY, JOIN_LOBBY, KICK_USER, Account, make_users
from tests.lobby_extras import JOIN_BY_INVITE, REPORT_MESSAGE, REVOKE_INVITE
from tests.realtime import MESSAGES, SEND_MESSAGE
from tests.test_validators_property import EDGE_STRINGS

HOSTILE_STRINGS = [s for s in EDGE_STRINGS if len(s) < 100_000] + ["x" * 100_000, "\x00" * 1000]
HUGE = "9" * 100


async def post(
    gql: GraphQLClient, query: str, variables: dict[str, Any], token: str | None
) -> dict[str, Any]:
    # ensure_ascii: a lone surrogate travels as the JSON escape a hostile client would send.
    body = json.dumps({"query": query, "variables": variables}, ensure_ascii=True).encode()
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    response = await gql.http.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def codes(body: dict[str, Any]) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors", [])}


# What naming an arbitrary lobby may answer besides success: never INTERNAL.
ID_CODES = {"BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "WRONG_PASSWORD", "LOBBY_FULL", "LOBBY_NOT_OPEN"}


def refused_with(body: dict[str, Any], *allowed: str) -> None:
    assert body.get("errors"), body
    assert codes(body) <= set(allowed), body
    assert "Traceback" not in json.dumps(body)


@pytest.fixture
async def world(gql: GraphQLClient, database_url: str) -> dict[str, Any]:
    users = await make_users(gql, database_url, ["owner", "guest"], premium=["owner"])
    lobby = (await gql.data(CREATE_LOBBY, {"input": {"name": "room"}}, token=users["owner"].token))[
        "createLobby"
    ]
    await gql.data(JOIN_LOBBY, {"lobbyId": lobby["id"]}, token=users["guest"].token)
    sent = await gql.data(
        SEND_MESSAGE, {"lobbyId": lobby["id"], "content": "hello"}, token=users["guest"].token
    )
    return {"users": users, "lobby": lobby["id"], "message": sent["sendMessage"]["id"]}


REGISTER = "mutation($input: RegisterInput!) { register(input: $input) { accessToken } }"
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }"
REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken } }"
LOGOUT = "mutation($t: String!) { logout(refreshToken: $t) }"
SEARCH = (
    "query($s: String, $a: String) {"
    " lobbies(filter: {search: $s}, after: $a) { totalCount edges { cursor } } }"
)
LOBBY = "query($id: ID!) { lobby(id: $id) { id } }"
JOIN = "mutation($id: ID!, $p: String) { joinLobby(lobbyId: $id, password: $p) { id } }"
BAN = (
    "mutation($l: ID!, $u: ID!, $r: String, $d: Int) {"
    " banUser(lobbyId: $l, userId: $u, reason: $r, durationSeconds: $d) { expiresAt } }"
)
UPDATE = "mutation($l: ID!, $input: UpdateLobbyInput!) { updateLobby(lobbyId: $l, input: $input) { id } }"
TAGGED = "query($t: [String!]) { lobbies(filter: {tags: $t}) { totalCount } }"


async def hostile_round(gql: GraphQLClient, world: dict[str, Any], value: str) -> None:
    """Every string argument of the API, given `value`."""
    owner: Account = world["users"]["owner"]
    guest: Account = world["users"]["guest"]
    lobby = world["lobby"]
    for field in ("username", "email", "password", "passwordConfirm"):
        good = {"username": "fresh_name", "email": "fresh@example.com", "password": "testpass123"}
        good["passwordConfirm"] = good["password"]
        body = await post(gql, REGISTER, {"input": {**good, field: value}}, None)
        # A valid value registers "fresh_name" once; after that it is a CONFLICT.
        assert "errors" not in body or codes(body) <= {"BAD_USER_INPUT", "CONFLICT"}, body
    # The value may have just registered as a username: then the login succeeds.
    logged_in = await post(gql, LOGIN, {"u": value, "p": "testpass123"}, None)
    assert "errors" not in logged_in or codes(logged_in) <= {"UNAUTHENTICATED", "RATE_LIMITED"}, logged_in
    refused_with(await post(gql, LOGIN, {"u": "guest", "p": value}, None), "UNAUTHENTICATED", "RATE_LIMITED")
    refused_with(await post(gql, REFRESH, {"t": value}, None), "UNAUTHENTICATED")
    refused_with(await post(gql, LOGOUT, {"t": value}, None), "UNAUTHENTICATED")
    searched = await post(gql, SEARCH, {"s": value}, guest.token)
    assert "errors" not in searched or codes(searched) <= {"BAD_USER_INPUT"}, searched
    refused_with(await post(gql, SEARCH, {"a": value}, guest.token), "BAD_USER_INPUT")
    # A value such as "1" may name a lobby that exists (an earlier example created it): null or a lobby.
    shown = await post(gql, LOBBY, {"id": value}, guest.token)
    assert "errors" not in shown, shown
    # A value such as "" means no cursor at all: a page, or BAD_USER_INPUT.
    paged = await post(gql, MESSAGES, {"lobbyId": lobby, "before": value}, owner.token)
    assert "errors" not in paged or codes(paged) <= {"BAD_USER_INPUT"}, paged
    # As an id, a value such as "0" or "7" is well formed: it names no lobby, or one that exists.
    read = await post(gql, MESSAGES, {"lobbyId": value}, owner.token)
    assert "errors" not in read or codes(read) <= {"BAD_USER_INPUT", "NOT_FOUND"}, read
    join_any = await post(gql, JOIN, {"id": value}, guest.token)
    assert "errors" not in join_any or codes(join_any) <= ID_CODES, join_any
    joined = await post(gql, JOIN, {"id": lobby, "p": value}, guest.token)
    assert "errors" not in joined or codes(joined) <= {"CONFLICT", "BAD_USER_INPUT"}, joined
    created = await post(gql, CREATE_LOBBY, {"input": {"name": value}}, owner.token)
    assert "errors" not in created or codes(created) <= {"BAD_USER_INPUT", "CONFLICT"}, created
    updated = await post(gql, UPDATE, {"l": lobby, "input": {"password": value}}, owner.token)
    assert "errors" not in updated or codes(updated) <= {"BAD_USER_INPUT"}, updated
    banned = await post(gql, BAN, {"l": lobby, "u": "999999", "r": value}, owner.token)
    refused_with(banned, "BAD_USER_INPUT", "NOT_FOUND")
    sent = await post(
        gql, SEND_MESSAGE, {"lobbyId": lobby, "content": value, "clientMessageId": value}, owner.token
    )
    assert "errors" not in sent or codes(sent) <= {"BAD_USER_INPUT", "RATE_LIMITED"}, sent
    await extras_round(gql, world, value)


async def extras_round(gql: GraphQLClient, world: dict[str, Any], value: str) -> None:
    """The string arguments of the moderation tools and lobby extras, given `value`."""
    owner: Account = world["users"]["owner"]
    guest: Account = world["users"]["guest"]
    lobby = world["lobby"]
    for code_owner, query in ((owner, REVOKE_INVITE), (guest, JOIN_BY_INVITE)):
        refused_with(await post(gql, query, {"code": value}, code_owner.token), "NOT_FOUND")
    kicked = await post(gql, KICK_USER, {"lobbyId": lobby, "userId": "999999", "reason": value}, owner.token)
    refused_with(kicked, "BAD_USER_INPUT", "NOT_FOUND")
    muted = await post(gql, MUTE_USER, {"lobbyId": lobby, "userId": guest.id, "reason": value}, owner.token)
    assert "errors" not in muted or codes(muted) <= {"BAD_USER_INPUT"}, muted
    if "errors" not in muted:
        await gql.data(UNMUTE_USER, {"lobbyId": lobby, "userId": guest.id}, token=owner.token)
    edited = await post(gql, EDIT_MESSAGE, {"messageId": world["message"], "content": value}, guest.token)
    # Edits share the sender's rate limit.
    assert "errors" not in edited or codes(edited) <= {"BAD_USER_INPUT", "RATE_LIMITED"}, edited
    reported = await post(gql, REPORT_MESSAGE, {"messageId": world["message"], "reason": value}, owner.token)
    # The first valid reason opens the report; later ones meet the open report.
    assert "errors" not in reported or codes(reported) <= {"BAD_USER_INPUT", "CONFLICT"}, reported
    for field in ("tags", "blockedTerms"):
        updated = await post(gql, UPDATE, {"l": lobby, "input": {field: [value]}}, owner.token)
        assert "errors" not in updated or codes(updated) <= {"BAD_USER_INPUT"}, updated
    await post(gql, UPDATE, {"l": lobby, "input": {"blockedTerms": []}}, owner.token)
    tagged = await post(gql, TAGGED, {"t": [value]}, guest.token)
    assert "errors" not in tagged or codes(tagged) <= {"BAD_USER_INPUT"}, tagged


@pytest.mark.parametrize("value", HOSTILE_STRINGS, ids=[repr(s[:12]) + str(len(s)) for s in HOSTILE_STRINGS])
async def test_hostile_strings_get_contract_codes(
    gql: GraphQLClient, world: dict[str, Any], value: str
) -> None:
    await hostile_round(gql, world, value)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(value=st.text(st.characters(codec=None, exclude_categories=()), max_size=300))
async def test_generated_strings_get_contract_codes(
    gql: GraphQLClient, world: dict[str, Any], value: str
) -> None:
    # One database for every example: the rounds only ever fail or add rows, never depend on them.
    await hostile_round(gql, world, value)


@pytest.mark.parametrize(
    "query",
    [
        f"{{ lobbies(first: {HUGE}) {{ totalCount }} }}",
        f"{{ lobbies(first: -{HUGE}) {{ totalCount }} }}",
        "{ lobbies(first: 2147483648) { totalCount } }",
        "{ lobbies(first: 1.5) { totalCount } }",
        '{ lobbies(first: "10") { totalCount } }',
        f'mutation {{ createLobby(input: {{name: "n", maxParticipants: {HUGE}}}) {{ id }} }}',
        f'mutation {{ banUser(lobbyId: "1", userId: "2", durationSeconds: {HUGE}) {{ expiresAt }} }}',
        "{ lobbies(orderBy: NOT_AN_ORDER) { totalCount } }",
        '{ lobbies(filter: {status: "OPEN"}) { totalCount } }',
        '{ lobbies(filter: {search: "\\u0000"}) { totalCount } }',
        '{ lobbies(after: "\\ud800") { totalCount } }',
        "{ lobbies(" + "first: 1, " * 50 + ") { totalCount } }",
        "{ " + "lobbies { " * 30 + "}" * 30 + " }",
    ],
)
async def test_hostile_literals_get_contract_codes(
    gql: GraphQLClient, world: dict[str, Any], query: str
) -> None:
    owner: Account = world["users"]["owner"]
    body = await post(gql, query, {}, owner.token)
    refused_with(body, "BAD_USER_INPUT")


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 10**100}, None),
        ({"first": 2**31}, None),
        ({"first": 101}, "first"),
        ({"first": -1}, "first"),
        ({"last": 10**100}, None),
        ({"first": "ten"}, None),
        ({"first": 1.5}, None),
        ({"first": True}, None),
        ({"first": [1]}, None),
        ({"first": {"a": 1}}, None),
        ({"lobbyId": 10**100}, None),
    ],
)
async def test_hostile_variables_get_contract_codes(
    gql: GraphQLClient, world: dict[str, Any], variables: dict[str, Any], field: str | None
) -> None:
    owner: Account = world["users"]["owner"]
    body = await post(gql, MESSAGES, {"lobbyId": world["lobby"], **variables}, owner.token)
    refused_with(body, "BAD_USER_INPUT")
    if field:
        assert body["errors"][0]["extensions"]["field"] == field
