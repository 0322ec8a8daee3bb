"""Accounts and tokens through real HTTP requests to the app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from premiumchat.config import Settings
from tests.accounts import set_user_flags
from tests.conftest_settings import TEST_SECRET_KEY
from tests.graphql import LOGIN, LOGOUT, ME, PASSWORD, REFRESH, REGISTER, GraphQLClient


def register_input(**overrides: str) -> dict[str, dict[str, str]]:
    values = {
        "username": "alice",
        "email": "alice@example.com",
        "password": PASSWORD,
        "passwordConfirm": PASSWORD,
        **overrides,
    }
    return {"input": values}


async def test_register_returns_tokens_and_a_plain_user(gql: GraphQLClient) -> None:
    payload = await gql.register("Alice")
    assert payload["user"]["username"] == "Alice"
    assert payload["user"]["email"] == "Alice@example.com"
    assert payload["user"]["isPremium"] is False
    assert payload["user"]["isStaff"] is False
    me = (await gql.data(ME, token=payload["accessToken"]))["me"]
    assert me["id"] == payload["user"]["id"]
    assert me["createdAt"].endswith("Z")


async def test_tokens_carry_the_contract_claims(gql: GraphQLClient) -> None:
    payload = await gql.register("alice")
    for token, kind in ((payload["accessToken"], "access"), (payload["refreshToken"], "refresh")):
        assert jwt.get_unverified_header(token)["alg"] == "HS256"
        claims = jwt.decode(token, TEST_SECRET_KEY, algorithms=["HS256"])
        assert claims["type"] == kind
        assert claims["sub"] == payload["user"]["id"]
        assert {"exp", "iat", "jti"} <= claims.keys()
    access = jwt.decode(payload["accessToken"], TEST_SECRET_KEY, algorithms=["HS256"])
    assert access["exp"] - access["iat"] == 900


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "x" * 33}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "semi;colon"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"password": "short", "passwordConfirm": "short"}, "password"),
        ({"passwordConfirm": "different1"}, "passwordConfirm"),
        ({"username": "ab", "email": "bad"}, "username"),
    ],
)
async def test_register_validation(gql: GraphQLClient, overrides: dict[str, str], field: str) -> None:
    error = await gql.error(REGISTER, register_input(**overrides))
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": field}


async def test_usernames_and_emails_are_unique_regardless_of_case(gql: GraphQLClient) -> None:
    await gql.register("alice", "alice@example.com")
    error = await gql.error(REGISTER, register_input(username="ALICE", email="other@example.com"))
    assert error["extensions"]["code"] == "CONFLICT"
    error = await gql.error(REGISTER, register_input(username="bob", email="ALICE@Example.COM"))
    assert error["extensions"]["code"] == "CONFLICT"


async def test_login_ignores_case_and_gives_one_error_for_unknown_user_and_wrong_password(
    gql: GraphQLClient,
) -> None:
    await gql.register("Alice")
    data = await gql.data(LOGIN, {"username": "aLiCe", "password": PASSWORD})
    assert data["login"]["user"]["username"] == "Alice"
    wrong = await gql.error(LOGIN, {"username": "alice", "password": "wrong-password"})
    unknown = await gql.error(LOGIN, {"username": "nobody", "password": PASSWORD})
    assert wrong["extensions"] == unknown["extensions"] == {"code": "UNAUTHENTICATED"}
    assert wrong["message"] == unknown["message"]


async def test_me_needs_a_valid_access_token(gql: GraphQLClient) -> None:
    payload = await gql.register("alice")
    assert (await gql.error(ME))["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql.error(ME, token="garbage"))["extensions"]["code"] == "UNAUTHENTICATED"
    # A refresh token is not an access token.
    refused = await gql.error(ME, token=payload["refreshToken"])
    assert refused["extensions"]["code"] == "UNAUTHENTICATED"


async def test_introspection_and_typename_need_no_token(gql: GraphQLClient) -> None:
    data = await gql.data("{ __typename __schema { queryType { name } } }")
    assert data == {"__typename": "Query", "__schema": {"queryType": {"name": "Query"}}}


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": -60}, id="expired"),
        pytest.param({"nbf": 3600}, id="not-yet-valid"),
        pytest.param({"type": "refresh"}, id="wrong-type"),
        pytest.param({"type": None}, id="no-type"),
        pytest.param({"sub": "999999"}, id="unknown-user"),
    ],
)
async def test_forged_or_stale_access_tokens_are_refused(
    gql: GraphQLClient, claims: dict[str, object]
) -> None:
    payload = await gql.register("alice")
    now = datetime.now(UTC)
    body: dict[str, object] = {
        "sub": payload["user"]["id"],
        "type": "access",
        "jti": "j",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    for key, value in claims.items():
        if value is None:
            body.pop(key)
        elif key in ("exp", "nbf"):
            body[key] = now + timedelta(seconds=value)  # type: ignore[operator]
        else:
            body[key] = value
    token = jwt.encode(body, TEST_SECRET_KEY, algorithm="HS256")
    assert (await gql.error(ME, token=token))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_token_accepted_before_is_refused_once_expired(gql: GraphQLClient) -> None:
    # The server keeps verified tokens; their lifetime is checked again on every use.
    payload = await gql.register("alice")
    now = datetime.now(UTC)
    body = {"sub": payload["user"]["id"], "type": "access", "jti": "j", "iat": now, "nbf": now}
    token = jwt.encode({**body, "exp": now + timedelta(seconds=2)}, TEST_SECRET_KEY, algorithm="HS256")
    assert (await gql.data(ME, token=token))["me"]["username"] == "alice"
    assert (await gql.data(ME, token=token))["me"]["username"] == "alice"
    await asyncio.sleep((now + timedelta(seconds=2.1) - datetime.now(UTC)).total_seconds())
    assert (await gql.error(ME, token=token))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_unsigned_and_wrongly_signed_tokens_are_refused(gql: GraphQLClient) -> None:
    payload = await gql.register("alice")
    claims = jwt.decode(payload["accessToken"], TEST_SECRET_KEY, algorithms=["HS256"])
    unsigned = jwt.encode(claims, key=None, algorithm="none")  # type: ignore[arg-type]
    other_key = jwt.encode(claims, "another-key-of-sufficient-length-0123456789", algorithm="HS256")
    header, body, signature = payload["accessToken"].split(".")
    tampered = f"{header}.{body[:-2]}AA.{signature}"
    for token in (unsigned, other_key, tampered):
        assert (await gql.error(ME, token=token))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_refresh_rotates_and_reuse_revokes_every_refresh_token(gql: GraphQLClient) -> None:
    first = await gql.register("alice")
    second_login = (await gql.data(LOGIN, {"username": "alice", "password": PASSWORD}))["login"]

    rotated = (await gql.data(REFRESH, {"token": first["refreshToken"]}))["refreshToken"]
    assert rotated["user"]["id"] == first["user"]["id"]
    assert rotated["refreshToken"] != first["refreshToken"]
    assert (await gql.data(ME, token=rotated["accessToken"]))["me"]["username"] == "alice"

    # The spent token again: refused, and every refresh token of the user dies with it.
    reuse = await gql.error(REFRESH, {"token": first["refreshToken"]})
    assert reuse["extensions"]["code"] == "UNAUTHENTICATED"
    for token in (rotated["refreshToken"], second_login["refreshToken"]):
        assert (await gql.error(REFRESH, {"token": token}))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_an_access_token_is_not_a_refresh_token(gql: GraphQLClient) -> None:
    payload = await gql.register("alice")
    error = await gql.error(REFRESH, {"token": payload["accessToken"]})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql.data(REFRESH, {"token": payload["refreshToken"]}))["refreshToken"]


async def test_logout_spends_the_refresh_token(gql: GraphQLClient) -> None:
    payload = await gql.register("alice")
    assert (await gql.data(LOGOUT, {"token": payload["refreshToken"]})) == {"logout": True}
    error = await gql.error(REFRESH, {"token": payload["refreshToken"]})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await gql.error(LOGOUT, {"token": "nonsense"}))["extensions"]["code"] == "UNAUTHENTICATED"


async def test_deactivated_users_are_refused_at_once(gql: GraphQLClient, settings: Settings) -> None:
    payload = await gql.register("alice")
    assert (await gql.data(ME, token=payload["accessToken"]))["me"]["username"] == "alice"
    await set_user_flags(settings.database_url, payload["user"]["id"], is_active=False)
    assert (await gql.error(ME, token=payload["accessToken"]))["extensions"]["code"] == "UNAUTHENTICATED"
    login = await gql.error(LOGIN, {"username": "alice", "password": PASSWORD})
    assert login["extensions"]["code"] == "UNAUTHENTICATED"
    refresh = await gql.error(REFRESH, {"token": payload["refreshToken"]})
    assert refresh["extensions"]["code"] == "UNAUTHENTICATED"


async def test_status_is_read_on_every_request_not_from_the_token(
    gql: GraphQLClient, settings: Settings
) -> None:
    payload = await gql.register("alice")
    await set_user_flags(settings.database_url, payload["user"]["id"], is_premium=True, is_staff=True)
    me = (await gql.data(ME, token=payload["accessToken"]))["me"]
    assert me["isPremium"] is True
    assert me["isStaff"] is True
