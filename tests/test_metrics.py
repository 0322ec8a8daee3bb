"""Observability: /metrics over HTTP, the counters the services feed, and the access log."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.graphql import ME, PASSWORD, GraphQLClient
from tests.lobbies import Users, fresh_database, make_users
from tests.realtime import Chat, LiveClient, unique_names
from tests.servers import ServerProcess


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def logged_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real server that writes its INFO lines (the access log) to its log file."""
    process = ServerProcess(
        fresh_database(request), tmp_path_factory.mktemp("logged-server"), log_level="INFO"
    ).start()
    yield process
    process.stop()


async def scrape(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one series (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def room(chat: Chat, database_url: str, names: list[str] | None = None) -> tuple[Users, str]:
    """ann owns a lobby that bob joined."""
    ann, bob = names or ["ann", "bob"]
    users = await make_users(chat.gql, database_url, [ann, bob], premium=[ann])
    lobby_id = (await chat.create_lobby(users[ann], "Metrics"))["id"]
    await chat.join(users[bob], lobby_id)
    return {"ann": users[ann], "bob": users[bob]}, lobby_id


async def test_metrics_answer_without_authentication(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    for name in (
        "premiumchat_messages_sent_total",
        "premiumchat_websocket_connections",
        "premiumchat_subscriptions_active",
        "premiumchat_lobbies_with_subscribers",
    ):
        assert name in response.text


async def test_a_sent_message_is_counted_and_its_operation_timed(
    gql: GraphQLClient, app_client: httpx.AsyncClient, database_url: str
) -> None:
    chat = Chat(gql)
    users, lobby_id = await room(chat, database_url)
    before = await scrape(app_client)
    await chat.send(users["bob"], lobby_id, "hello")
    after = await scrape(app_client)

    sent = "premiumchat_messages_sent_total"
    assert sample(after, sent) - sample(before, sent) == 1
    labels = {"operation": "SendMessage", "type": "mutation"}
    assert sample(after, "premiumchat_graphql_operations_total", **labels, outcome="ok") == 1
    assert sample(after, "premiumchat_graphql_operation_duration_seconds_count", **labels) == 1
    assert sample(after, "premiumchat_graphql_operation_duration_seconds_sum", **labels) > 0
    # The registration, lobby and join operations were counted too, under their own names.
    assert sample(after, "premiumchat_graphql_operations_total", operation="JoinLobby", outcome="ok") == 1


async def test_a_rate_limited_attempt_is_counted(
    gql: GraphQLClient, app_client: httpx.AsyncClient, database_url: str
) -> None:
    chat = Chat(gql)
    users, lobby_id = await room(chat, database_url)
    for i in range(3):  # the default limit: 3 messages every 2 s
        await chat.send(users["bob"], lobby_id, f"m{i}")
    await chat.send(users["bob"], lobby_id, "one too many", expect="RATE_LIMITED")
    text = await scrape(app_client)
    assert sample(text, "premiumchat_rate_limited_total", limit="messages") == 1
    assert sample(text, "premiumchat_rate_limited_total", limit="typing") == 0
    assert sample(text, "premiumchat_messages_sent_total") == 3
    assert sample(text, "premiumchat_graphql_errors_total", code="RATE_LIMITED") == 1
    assert sample(text, "premiumchat_graphql_operations_total", operation="SendMessage", outcome="error") == 1


async def test_errors_are_counted_by_code(gql: GraphQLClient, app_client: httpx.AsyncClient) -> None:
    await gql.error(ME)  # no token
    await gql.error(ME)
    await gql.error("query Broken { nope }")  # validation
    text = await scrape(app_client)
    assert sample(text, "premiumchat_graphql_errors_total", code="UNAUTHENTICATED") == 2
    assert sample(text, "premiumchat_graphql_errors_total", code="BAD_USER_INPUT") == 1
    assert sample(text, "premiumchat_graphql_operations_total", operation="Me", outcome="error") == 2


async def test_operation_labels_stay_bounded(app_client: httpx.AsyncClient) -> None:
    long_name = "Q" * 65

    async def post(body: dict[str, Any]) -> None:
        response = await app_client.post("/graphql", json=body)
        assert response.status_code == 200

    await post({"query": "{ __typename }"})
    await post({"query": f"query {long_name} {{ __typename }}"})
    await post({"query": "query A { __typename } query B { __typename }", "operationName": "B"})
    text = await scrape(app_client)
    operations = "premiumchat_graphql_operations_total"
    assert sample(text, operations, operation="anonymous", type="query", outcome="ok") == 1
    assert sample(text, operations, operation="other", type="query", outcome="ok") == 1
    assert sample(text, operations, operation="B", type="query", outcome="ok") == 1
    assert long_name not in text


async def test_each_operation_logs_one_line_without_secrets(
    gql: GraphQLClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="premiumchat.access"):
        payload = await gql.register("logged")
        token, user_id = payload["accessToken"], payload["user"]["id"]
        await gql.data(ME, token=token)
        await gql.error(ME, token="not-a-token")
    records = [record for record in caplog.records if record.name == "premiumchat.access"]
    lines = [json.loads(record.getMessage()) for record in records]
    assert [(line["operation"], line["type"], line["transport"]) for line in lines] == [
        ("Register", "mutation", "http"),
        ("Me", "query", "http"),
        ("Me", "query", "http"),
    ]
    register, me, refused = lines
    assert register["user_id"] is None
    assert register["errors"] == []
    assert me["user_id"] == int(user_id)
    assert me["errors"] == []
    assert refused["user_id"] is None
    assert refused["errors"] == ["UNAUTHENTICATED"]
    for line in lines:
        assert isinstance(line["duration_ms"], float)
        assert line["duration_ms"] >= 0
    logged = "\n".join(record.getMessage() for record in records)
    assert token not in logged
    assert payload["refreshToken"] not in logged
    assert PASSWORD not in logged
    assert "not-a-token" not in logged


async def until_gauges(http: httpx.AsyncClient, expected: dict[str, float], wait: float = 10) -> str:
    """The scrape once the gauges read as expected (subscriptions end a little after the socket)."""
    async with asyncio.timeout(wait):
        while True:
            text = await scrape(http)
            if all(sample(text, name) == value for name, value in expected.items()):
                return text
            await asyncio.sleep(0.05)


async def test_events_delivered_to_subscribers_are_counted(logged_server: ServerProcess) -> None:
    server = logged_server
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        chat = Chat(GraphQLClient(http))
        users, lobby_id = await room(chat, server.env["DATABASE_URL"], unique_names("ann", "bob"))
        before = await scrape(http)
        delivered = "premiumchat_events_delivered_total"
        async with LiveClient(server.ws_url, users["ann"]) as live:
            stream = await live.joined(lobby_id)  # its own PresenceJoinEvent: one event
            message = await chat.send(users["bob"], lobby_id, "counted")
            await stream.until_message(message["id"])
            during = await scrape(http)
        assert sample(during, "premiumchat_websocket_connections") == 1
        assert sample(during, "premiumchat_subscriptions_active", stream="lobbyEvents") == 1
        assert sample(during, "premiumchat_lobbies_with_subscribers") == 1
        assert sample(during, delivered, stream="lobbyEvents") - sample(
            before, delivered, stream="lobbyEvents"
        ) == len(stream.events)
        assert len(stream.events) >= 2
        await until_gauges(
            http,
            {
                "premiumchat_websocket_connections": 0,
                "premiumchat_subscriptions_active": 0,
                "premiumchat_lobbies_with_subscribers": 0,
            },
        )
    # The subscription's access log line, written by the server once the stream ended.
    expected = {"operation": "LobbyEvents", "type": "subscription", "transport": "ws"}
    async with asyncio.timeout(10):
        while True:
            lines = [line for line in access_lines(server) if expected.items() <= line.items()]
            if any(line["user_id"] == int(users["ann"].id) for line in lines):
                break
            await asyncio.sleep(0.05)


def access_lines(server: ServerProcess) -> list[dict[str, Any]]:
    text = server.log_path.read_text(encoding="utf-8", errors="replace")
    marker = " premiumchat.access "
    return [json.loads(line.split(marker, 1)[1]) for line in text.splitlines() if marker in line]
