"""The error model: contract codes, request errors, limits, and nothing internal leaking out."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text

from premiumchat.config import Settings
from premiumchat.db.engine import create_engine
from premiumchat.main import create_app
from tests.conftest import make_settings
from tests.graphql import LOGIN, ME, PASSWORD, GraphQLClient

LEAK_MARKERS = ("Traceback", "sqlalchemy", "SELECT", "INSERT", "refresh_tokens", 'File "')


async def test_forced_internal_error_is_generic_and_the_server_keeps_serving(
    fresh_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(fresh_database_url)
    async with LifespanManager(create_app(settings)) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            await check_internal_error(GraphQLClient(client), settings, caplog)


async def check_internal_error(
    gql: GraphQLClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await gql.register("alice")
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE refresh_tokens"))
    finally:
        await engine.dispose()
    body = await gql.execute(LOGIN, {"username": "alice", "password": PASSWORD})
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "INTERNAL"}
    assert error["message"] == "Internal server error."
    assert not any(marker in str(body) for marker in LEAK_MARKERS)
    # The details are in the server log, not in the response.
    assert any("refresh_tokens" in str(record.exc_info) for record in caplog.records)
    # Other operations still work.
    assert (await gql.error(ME))["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "query",
    [
        "{ me { id ",  # does not parse
        "{ nope }",  # unknown field
        "query A { me { id } } query B { me { id } }",  # several operations, no name
        "query($x: Int!) { me { id } }",  # unused/ missing variable
    ],
)
async def test_invalid_documents_get_standard_errors_with_status_200(gql: GraphQLClient, query: str) -> None:
    body = await gql.execute(query)
    assert body["data"] is None
    assert body["errors"][0]["message"]
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_named_operation_is_chosen_from_several(
    gql: GraphQLClient, app_client: httpx.AsyncClient
) -> None:
    response = await app_client.post(
        "/graphql",
        json={"query": "query A { __typename } query B { me { id } }", "operationName": "A"},
    )
    assert response.json() == {"data": {"__typename": "Query"}}
    assert gql  # same app


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'"a string"',
        b"42",
        b"{}",
        b'{"query": 5}',
        b'{"query": "{ __typename }", "variables": [1]}',
    ],
)
async def test_requests_that_are_not_graphql_get_400(app_client: httpx.AsyncClient, body: bytes) -> None:
    response = await app_client.post("/graphql", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "Traceback" not in response.text


async def test_query_depth_limit(database_url: str) -> None:
    # The schema is shallow so far; a lower limit exercises the same wiring as the default 12.
    app = create_app(make_settings(database_url, max_query_depth=1))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            gql = GraphQLClient(client)
            assert (await gql.error("{ me { id } }"))["extensions"]["code"] == "UNAUTHENTICATED"
            deep = 'mutation { login(username: "a", password: "b") { user { id } } }'
            error = await gql.error(deep)
            assert "exceeds maximum operation depth" in error["message"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_alias_limit(gql: GraphQLClient) -> None:
    ok = "{ " + " ".join(f"a{i}: __typename" for i in range(100)) + " }"
    assert "errors" not in await gql.execute(ok)
    over = "{ " + " ".join(f"a{i}: __typename" for i in range(101)) + " }"
    body = await gql.execute(over)
    assert "alias" in body["errors"][0]["message"].lower()


async def test_token_limit(gql: GraphQLClient) -> None:
    over = "{ " + " ".join("__typename" for _ in range(5001)) + " }"
    body = await gql.execute(over)
    assert "token" in body["errors"][0]["message"].lower()


async def test_the_standard_introspection_query_passes_every_limit(gql: GraphQLClient) -> None:
    from graphql import get_introspection_query

    data = await gql.data(get_introspection_query(descriptions=True))
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_is_served_on_get(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()
