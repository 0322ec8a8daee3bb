"""Cost and size limits against a real server: body size, batching, fan-out, query limits, socket floods."""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import ConnectionClosed

from premiumchat import view
from tests.graphql import GraphQLClient
from tests.servers import ServerProcess
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, RawSocket

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]
BODY_LIMIT = 262_144
WS_MESSAGE_TOO_BIG = 1009
WS_TOO_MANY_MESSAGES = 4429


@pytest.fixture
async def account(server_gql: GraphQLClient) -> dict[str, str]:
    account.counter = getattr(account, "counter", 0) + 1  # type: ignore[attr-defined]
    payload = await server_gql.register(f"limits_{account.counter}")  # type: ignore[attr-defined]
    return {"id": payload["user"]["id"], "access": payload["accessToken"]}


async def still_serves(gql: GraphQLClient) -> None:
    assert await gql.data("{ __typename }") == {"__typename": "Query"}


async def test_a_body_over_the_limit_gets_413_with_a_json_error(server_gql: GraphQLClient) -> None:
    padding = "x" * BODY_LIMIT
    response = await server_gql.http.post(
        "/graphql", json={"query": "{ __typename }", "variables": {"p": padding}}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert "larger than" in response.json()["errors"][0]["message"]
    await still_serves(server_gql)


async def test_a_chunked_body_over_the_limit_gets_413(server_gql: GraphQLClient) -> None:
    async def chunks() -> Any:
        yield b'{"query": "{ __typename }", "variables": {"p": "'
        for _ in range(40):
            yield b"y" * 10_000
        yield b'"}}'

    response = await server_gql.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["errors"][0]["message"]
    await still_serves(server_gql)


async def test_a_chunked_body_under_the_limit_is_served(server_gql: GraphQLClient) -> None:
    async def chunks() -> Any:
        yield b'{"query": '
        yield b'"{ __typename }"}'

    response = await server_gql.http.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_lying_content_length_does_not_hang_the_server(server: ServerProcess) -> None:
    # The client declares more than it sends, then hangs up: the server must not wait forever.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"query":'
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        await still_serves(GraphQLClient(client))


async def test_a_batch_of_operations_is_refused_with_400(server_gql: GraphQLClient) -> None:
    batch = [{"query": "{ __typename }"}] * 50
    response = await server_gql.http.post("/graphql", json=batch)
    assert response.status_code == 400
    assert "batching is not supported" in response.text


async def test_several_operations_in_one_document_run_at_most_one(server_gql: GraphQLClient) -> None:
    document = " ".join(f"query Q{i} {{ __typename }}" for i in range(200))
    error = await server_gql.error(document)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "operation name" in error["message"]
    body = await server_gql.http.post("/graphql", json={"query": document, "operationName": "Q7"})
    assert body.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("field", ["lobbies(first: 101)", "lobbies(first: -1)", "lobbies(first: 99999999)"])
async def test_list_fan_out_is_capped(server_gql: GraphQLClient, account: dict[str, str], field: str) -> None:
    error = await server_gql.error(f"{{ {field} {{ totalCount }} }}", token=account["access"])
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}


async def test_query_limits_hold_over_a_real_server(
    server_gql: GraphQLClient, account: dict[str, str]
) -> None:
    token = account["access"]
    # A fragment cycle (unbounded depth) is refused by validation.
    nested = "query { lobbies { edges { node { members { user { id } } owner { id } } } } }"
    assert "errors" not in await server_gql.execute(nested, token=token)
    cycle = "query { me { ...A } } fragment A on User { ...B } fragment B on User { ...A }"
    assert (await server_gql.error(cycle, token=token))["extensions"]["code"] == "BAD_USER_INPUT"
    aliases = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(101)) + " }"
    body = await server_gql.execute(aliases, token=token)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body.get("data") is None
    tokens = "{ " + " ".join("__typename" for _ in range(5001)) + " }"
    assert (await server_gql.error(tokens))["extensions"]["code"] == "BAD_USER_INPUT"
    await still_serves(server_gql)


async def test_depth_over_the_limit_is_refused(server_gql: GraphQLClient, account: dict[str, str]) -> None:
    # 13 levels through lobby -> messages -> lobby ... built from the schema's own cycle.
    inner = "id"
    for _ in range(7):
        inner = f"lobby {{ owner {{ id }} messages {{ edges {{ node {{ {inner} }} }} }} }}"
    query = f"{{ lobbies {{ edges {{ node {{ messages {{ edges {{ node {{ {inner} }} }} }} }} }} }} }}"
    error = (await server_gql.execute(query, token=account["access"]))["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "exceeds maximum operation depth" in error["message"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_message_over_the_size_limit_closes_with_1009(
    server: ServerProcess, account: dict[str, str], protocol: str
) -> None:
    socket_ = await RawSocket.open(server.ws_url, protocol)
    assert (await socket_.init({"authorization": f"Bearer {account['access']}"}))["type"] == "connection_ack"
    big = {
        "id": "1",
        "type": "subscribe",
        "payload": {"query": "{ __typename }", "variables": {"p": "z" * BODY_LIMIT}},
    }
    await socket_.send(big)
    assert await socket_.close_code() == WS_MESSAGE_TOO_BIG
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        await still_serves(GraphQLClient(client))


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_message_flood_closes_the_socket_with_4429(
    server: ServerProcess, account: dict[str, str], protocol: str
) -> None:
    socket_ = await RawSocket.open(server.ws_url, protocol)
    assert (await socket_.init({"authorization": f"Bearer {account['access']}"}))["type"] == "connection_ack"
    ping = {"type": "ping"} if protocol == TRANSPORT_WS else {"id": "x", "type": "stop"}
    # 100 messages per 10 s are allowed (connection_init was the first): 200 is a flood.
    for _ in range(200):
        try:
            await socket_.send(ping)
        except ConnectionClosed:
            break
    assert await socket_.close_code() == WS_TOO_MANY_MESSAGES
    # Other sockets of the same user are unaffected.
    other = await RawSocket.open(server.ws_url, protocol)
    try:
        assert (await other.init({"authorization": f"Bearer {account['access']}"}))[
            "type"
        ] == "connection_ack"
    finally:
        await other.close()
    # Messages still in flight after the close are dropped quietly, not logged as failures.
    assert "Traceback" not in server.log_path.read_text()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_socket_under_the_message_rate_goes_on(
    server: ServerProcess, account: dict[str, str], protocol: str
) -> None:
    socket_ = await RawSocket.open(server.ws_url, protocol)
    try:
        assert (await socket_.init({"authorization": f"Bearer {account['access']}"}))[
            "type"
        ] == "connection_ack"
        for i in range(20):
            messages = await socket_.run(str(i), "{ me { id } }")
            assert messages[-1]["type"] == "complete", messages
    finally:
        await socket_.close()


async def test_binary_and_garbage_frames_do_not_kill_the_server(server: ServerProcess) -> None:
    for protocol in PROTOCOLS:
        async with websockets.connect(server.ws_url, subprotocols=[protocol]) as connection:  # type: ignore[list-item]
            await connection.send(b"\x00\xff" * 100)
            # graphql-transport-ws: 4400; the legacy protocol: 1002 (protocol error).
            await asyncio.wait_for(connection.wait_closed(), 10)
            assert connection.close_code in (4400, 1002)
        # JSON that is no protocol message: 4400 on both subprotocols (the legacy one used to fail with 1011).
        for garbage in ("[]", "{}", '{"type": 5}', '"text"', "null"):
            async with websockets.connect(server.ws_url, subprotocols=[protocol]) as connection:  # type: ignore[list-item]
                await connection.send(garbage)
                await asyncio.wait_for(connection.wait_closed(), 10)
                assert connection.close_code == 4400, (protocol, garbage, connection.close_code)
    # A raw TCP peer that speaks no HTTP at all.
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01garbage\r\n\r\n")
        raw.recv(1024)
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        await still_serves(GraphQLClient(client))
    assert "Traceback" not in server.log_path.read_text()


def test_the_socket_message_window_admits_what_a_sliding_window_admits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The window as a ring of the last `limit` arrival times, checked against the plain
    # definition: a message is refused when `limit` admitted ones arrived less than
    # `window` seconds before it; refused ones do not count.
    limit, window = 5, 10.0
    rng = random.Random(11)
    now = 0.0
    monkeypatch.setattr(view.time, "monotonic", lambda: now)
    rate = view.SocketMessageRate(limit, window)
    admitted: list[float] = []
    for _ in range(2_000):
        now += rng.choice([0.0, 0.1, 0.5, 1.0, 3.0, 10.0])
        expected = len(admitted) < limit or now - admitted[-limit] >= window
        assert rate.allow() == expected, (now, admitted[-limit:])
        if expected:
            admitted.append(now)
    assert len(rate.times) == limit
