"""Schemathesis in its GraphQL mode against a real server: every generated operation gets a contract answer.

Operations come from schema.graphql (introspection may be off in production); each runs as a
normal user and as staff against a `premiumchat serve` process with a lobby, members and
messages in it. PREMIUMCHAT_FUZZ_EXAMPLES sets the examples per operation (10 here, more for
the long run in docs/RELIABILITY.md); each module run writes its counts to test-artifacts/.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from tests.graphql import GraphQLClient
from tests.lobbies import CREATE_LOBBY, JOIN_LOBBY, make_users
from tests.realtime import SEND_MESSAGE
from tests.servers import ServerProcess

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("PREMIUMCHAT_FUZZ_EXAMPLES", "10"))
CONTRACT_CODES = {
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "PREMIUM_REQUIRED",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "LOBBY_FULL",
    "LOBBY_NOT_OPEN",
    "BANNED",
    "WRONG_PASSWORD",
    "RATE_LIMITED",
    "MUTED",
    "LOBBY_LOCKED",
    "MESSAGE_BLOCKED",
}

# IDs: mostly ones that exist (the fixture's users, lobby and messages), so that generated
# operations get past "no such id" into the rules; the rest arbitrary text.
schemathesis.graphql.scalar(
    "ID",
    st.one_of(st.integers(min_value=1, max_value=6).map(str), st.text(max_size=30)).map(nodes.String),
)
schema = schemathesis.graphql.from_path(REPO / "schema.graphql")
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,  # nothing written to .hypothesis/: every run explores afresh
)

# What the module saw, per role: operations run, outcomes, error codes.
STATS: dict[str, Counter[str]] = {"user": Counter(), "staff": Counter()}


@pytest.fixture(scope="module")
async def tokens(server: ServerProcess) -> AsyncIterator[dict[str, str]]:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        gql = GraphQLClient(http)
        url = server.env["DATABASE_URL"]
        users = await make_users(gql, url, ["fuzz_user", "fuzz_staff", "fuzz_owner"], premium=["fuzz_owner"])
        from tests.accounts import set_user_flags

        await set_user_flags(url, users["fuzz_staff"].id, is_staff=True)
        # Something for generated ids to find: a lobby with members and messages.
        lobby = (await gql.data(CREATE_LOBBY, {"input": {"name": "fuzz"}}, token=users["fuzz_owner"].token))[
            "createLobby"
        ]["id"]
        await gql.data(JOIN_LOBBY, {"lobbyId": lobby}, token=users["fuzz_user"].token)
        for account in ("fuzz_owner", "fuzz_user"):
            await gql.data(SEND_MESSAGE, {"lobbyId": lobby, "content": "hi"}, token=users[account].token)
        yield {"user": users["fuzz_user"].token, "staff": users["fuzz_staff"].token}


@pytest.fixture(scope="module", autouse=True)
def report(server: ServerProcess) -> Iterator[None]:
    for counter in STATS.values():
        counter.clear()
    yield
    database = "postgres" if server.env["DATABASE_URL"].startswith("postgresql") else "sqlite"
    summary = {
        "examples_per_operation": EXAMPLES,
        "operations_in_schema": len(list(schema.get_all_operations())),
        **{role: dict(sorted(counter.items())) for role, counter in STATS.items()},
    }
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"schemathesis-{database}.json").write_text(json.dumps(summary, indent=2) + "\n")


def check(case: Any, server: ServerProcess, token: str, role: str) -> None:
    response = case.call(base_url=f"{server.http_url}/graphql", headers={"Authorization": f"Bearer {token}"})
    stats = STATS[role]
    stats["requests"] += 1
    body_text = response.text
    assert response.status_code == 200, (case.body, response.status_code, body_text)
    body: dict[str, Any] = response.json()
    assert set(body) <= {"data", "errors"}, body
    assert "Traceback" not in body_text
    errors = body.get("errors") or []
    for error in errors:
        code = (error.get("extensions") or {}).get("code")
        stats[f"code:{code}"] += 1
        assert code in CONTRACT_CODES, (case.body, error)
    stats["ok" if not errors else "refused"] += 1


@schema.parametrize()
@FUZZ_SETTINGS
def test_generated_operations_as_a_user(case: Any, server: ServerProcess, tokens: dict[str, str]) -> None:
    check(case, server, tokens["user"], "user")


@schema.parametrize()
@FUZZ_SETTINGS
def test_generated_operations_as_staff(case: Any, server: ServerProcess, tokens: dict[str, str]) -> None:
    check(case, server, tokens["staff"], "staff")
