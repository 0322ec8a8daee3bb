"""WebSocket authentication over real sockets to a real server, on both subprotocols."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import update

from premiumchat.db.engine import create_engine
from premiumchat.db.models import User
from tests.conftest_settings import TEST_SECRET_KEY
from tests.databases import SqliteDatabases
from tests.graphql import ME, GraphQLClient
from tests.servers import ServerProcess
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, RawSocket

PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]
WS_FORBIDDEN = 4403
WS_UNAUTHORIZED = 4401


@pytest.fixture
async def account(server_gql: GraphQLClient) -> dict[str, str]:
    # One server serves the whole module: fresh names keep the tests apart.
    account.counter = getattr(account, "counter", 0) + 1  # type: ignore[attr-defined]
    payload = await server_gql.register(f"ws_user_{account.counter}")  # type: ignore[attr-defined]
    return {"id": payload["user"]["id"], "access": payload["accessToken"], "refresh": payload["refreshToken"]}


def me_is(messages: list[dict[str, object]], user_id: str) -> None:
    kinds = [m["type"] for m in messages]
    assert kinds[-1] == "complete", messages
    data_type = kinds[0]
    assert data_type in ("next", "data"), messages
    assert messages[0]["payload"] == {"data": {"me": {"id": user_id}}}  # type: ignore[comparison-overlap]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "payload_of",
    [
        pytest.param(lambda t: {"authorization": f"Bearer {t}"}, id="authorization"),
        pytest.param(lambda t: {"Authorization": f"Bearer {t}"}, id="Authorization"),
        pytest.param(lambda t: {"token": t}, id="token"),
        pytest.param(lambda t: {"token": f"Bearer {t}"}, id="token-bearer"),
    ],
)
async def test_payload_token_is_accepted(
    server: ServerProcess, account: dict[str, str], protocol: str, payload_of: object
) -> None:
    socket = await RawSocket.open(server.ws_url, protocol)
    try:
        ack = await socket.init(payload_of(account["access"]))  # type: ignore[operator]
        assert ack["type"] == "connection_ack"
        me_is(await socket.run("1", "{ me { id } }"), account["id"])
    finally:
        await socket.close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_query_string_token_is_accepted(
    server: ServerProcess, account: dict[str, str], protocol: str
) -> None:
    socket = await RawSocket.open(f"{server.ws_url}?token={account['access']}", protocol)
    try:
        assert (await socket.init({}))["type"] == "connection_ack"
        me_is(await socket.run("1", "{ me { id } }"), account["id"])
    finally:
        await socket.close()


def expired_token(user_id: str) -> str:
    past = datetime.now(UTC) - timedelta(hours=1)
    claims = {"sub": user_id, "type": "access", "jti": "x", "iat": past, "exp": past + timedelta(minutes=15)}
    return jwt.encode(claims, TEST_SECRET_KEY, algorithm="HS256")


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("case", ["missing", "garbage", "expired", "refresh-token", "no-payload"])
async def test_bad_tokens_close_with_4403(
    server: ServerProcess, account: dict[str, str], protocol: str, case: str
) -> None:
    payloads = {
        "missing": {},
        "garbage": {"authorization": "Bearer not-a-jwt"},
        "expired": {"authorization": f"Bearer {expired_token(account['id'])}"},
        "refresh-token": {"authorization": f"Bearer {account['refresh']}"},
        "no-payload": None,
    }
    socket = await RawSocket.open(server.ws_url, protocol)
    await socket.send(
        {"type": "connection_init", **({} if payloads[case] is None else {"payload": payloads[case]})}
    )
    # An operation right behind connection_init must not run either.
    await socket.send(
        {"id": "1", "type": "start" if protocol == LEGACY_WS else "subscribe", "payload": {"query": ME}}
    )
    received: list[dict[str, object]] = []
    try:
        while True:
            received.append(await socket.receive())
    except Exception:
        pass
    assert await socket.close_code() == WS_FORBIDDEN
    assert all(m["type"] == "connection_error" for m in received), received


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_operation_before_connection_init_closes_with_4401(
    server: ServerProcess, account: dict[str, str], protocol: str
) -> None:
    socket = await RawSocket.open(f"{server.ws_url}?token={account['access']}", protocol)
    await socket.send(
        {"id": "1", "type": "start" if protocol == LEGACY_WS else "subscribe", "payload": {"query": ME}}
    )
    assert await socket.close_code() == WS_UNAUTHORIZED


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_deactivated_user_is_refused(
    server: ServerProcess, account: dict[str, str], protocol: str
) -> None:
    engine = create_engine(server.env["DATABASE_URL"])
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(User).where(User.id == int(account["id"])).values(is_active=False)
            )  # type: ignore[arg-type]
    finally:
        await engine.dispose()
    socket = await RawSocket.open(server.ws_url, protocol)
    await socket.send(
        {"type": "connection_init", "payload": {"authorization": f"Bearer {account['access']}"}}
    )
    assert await socket.close_code() == WS_FORBIDDEN


@pytest.mark.parametrize("subprotocol", PROTOCOLS)
async def test_a_real_graphql_client_runs_queries_and_mutations_over_the_socket(
    server: ServerProcess, account: dict[str, str], subprotocol: str
) -> None:
    transport = WebsocketsTransport(
        url=server.ws_url,
        init_payload={"authorization": f"Bearer {account['access']}"},
        subprotocols=[subprotocol],  # type: ignore[list-item]
    )
    async with Client(transport=transport) as session:
        result = await session.execute(gql("query { me { id username } }"))
        assert result["me"]["id"] == account["id"]
        request = GraphQLRequest(
            "mutation($t: String!) { logout(refreshToken: $t) }", variable_values={"t": account["refresh"]}
        )
        logout = await session.execute(request)
        assert logout == {"logout": True}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_deactivation_closes_an_open_socket_with_4403(
    server: ServerProcess, server_gql: GraphQLClient, account: dict[str, str], protocol: str
) -> None:
    from tests.accounts import set_user_flags

    admin = await server_gql.register(f"ws_admin_{protocol.replace('-', '_')}")
    await set_user_flags(server.env["DATABASE_URL"], admin["user"]["id"], is_staff=True)
    socket = await RawSocket.open(server.ws_url, protocol)
    assert (await socket.init({"authorization": f"Bearer {account['access']}"}))["type"] == "connection_ack"
    deactivate = "mutation($u: ID!) { setUserActive(userId: $u, isActive: false) { id } }"
    await server_gql.data(deactivate, {"u": account["id"]}, token=admin["accessToken"])
    assert await socket.close_code() == WS_FORBIDDEN


@pytest.fixture(scope="module")
def capped_server(
    sqlite_databases: SqliteDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    url = asyncio.run(sqlite_databases.create())
    process = ServerProcess(
        url,
        tmp_path_factory.mktemp("capped"),
        max_connections_per_user="2",
        max_subscriptions_per_connection="2",
    ).start()
    yield process
    process.stop()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_socket_over_the_per_user_limit_closes_with_4429(
    capped_server: ServerProcess, protocol: str
) -> None:
    async with httpx.AsyncClient(base_url=capped_server.http_url) as http:
        user = await GraphQLClient(http).register(f"capped_{protocol.replace('-', '_')}")
    payload = {"authorization": f"Bearer {user['accessToken']}"}
    sockets = [await RawSocket.open(capped_server.ws_url, protocol) for _ in range(2)]
    for socket in sockets:
        assert (await socket.init(payload))["type"] == "connection_ack"
    third = await RawSocket.open(capped_server.ws_url, protocol)
    await third.send({"type": "connection_init", "payload": payload})
    assert await third.close_code() == 4429
    # Closing one frees its place at once.
    await sockets[0].close()
    await asyncio.sleep(0.2)  # the server notices the close and releases the slot
    fourth = await RawSocket.open(capped_server.ws_url, protocol)
    assert (await fourth.init(payload))["type"] == "connection_ack"
    await fourth.close()
    await sockets[1].close()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_operations_over_the_per_socket_limit_get_an_error_and_the_socket_goes_on(
    capped_server: ServerProcess, protocol: str
) -> None:
    async with httpx.AsyncClient(base_url=capped_server.http_url) as http:
        user = await GraphQLClient(http).register(f"subs_{protocol.replace('-', '_')}")
    socket = await RawSocket.open(capped_server.ws_url, protocol)
    try:
        assert (await socket.init({"authorization": f"Bearer {user['accessToken']}"}))[
            "type"
        ] == "connection_ack"
        start = "start" if protocol == LEGACY_WS else "subscribe"
        watch = {"query": "subscription { lobbyListUpdates { lobbyId } }"}
        for operation_id in ("1", "2"):
            await socket.send({"id": operation_id, "type": start, "payload": watch})
        await asyncio.sleep(0.2)
        await socket.send({"id": "3", "type": start, "payload": watch})
        refused = await socket.receive()
        assert refused["type"] == "error"
        assert refused["id"] == "3"
        # The socket and its other operations go on: stop one, and a query runs again.
        await socket.send({"id": "1", "type": "stop" if protocol == LEGACY_WS else "complete"})
        if protocol == LEGACY_WS:  # the legacy protocol confirms a stop
            assert await socket.receive() == {"type": "complete", "id": "1"}
        await asyncio.sleep(0.2)
        messages = await socket.run("4", "{ me { id } }")
        assert messages[0]["payload"] == {"data": {"me": {"id": user["user"]["id"]}}}
    finally:
        await socket.close()
