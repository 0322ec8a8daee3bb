"""DEBUG=false: introspection and GraphiQL off unless enabled, hosts and origins enforced, HTML headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import websockets
from asgi_lifespan import LifespanManager
from graphql import get_introspection_query
from playwright.async_api import Browser, Route
from starlette.middleware.trustedhost import TrustedHostMiddleware
from websockets.exceptions import InvalidStatus

from premiumchat.main import App, create_app, healthz
from premiumchat.security import CONTENT_SECURITY_POLICY
from tests.conftest import make_settings
from tests.databases import SqliteDatabases
from tests.graphql import GraphQLClient
from tests.servers import ServerProcess
from tests.wsclient import TRANSPORT_WS

ORIGIN = "https://chat.example.com"


def assert_introspection_refused(body: dict[str, Any]) -> None:
    # graphql-core's standard rule: one error per introspection field, nothing executed.
    assert body.get("data") is None, body
    assert body["errors"], body
    assert {error["extensions"]["code"] for error in body["errors"]} == {"BAD_USER_INPUT"}
    assert "introspection has been disabled" in body["errors"][0]["message"]


@asynccontextmanager
async def client_for(database_url: str, **overrides: object) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, **overrides))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client


async def test_production_defaults_turn_introspection_and_graphiql_off(database_url: str) -> None:
    async with client_for(database_url, debug=False) as client:
        gql = GraphQLClient(client)
        assert_introspection_refused(await gql.execute(get_introspection_query()))
        assert_introspection_refused(await gql.execute('{ __type(name: "Query") { name } }'))
        # __typename is not introspection of the schema: it still answers.
        assert await gql.data("{ __typename }") == {"__typename": "Query"}
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        assert "graphiql" not in page.text.lower()


async def test_production_can_enable_introspection_and_graphiql(database_url: str) -> None:
    async with client_for(database_url, debug=False, introspection=True, graphiql=True) as client:
        data = await GraphQLClient(client).data(get_introspection_query())
        assert data["__schema"]["queryType"]["name"] == "Query"
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()


async def test_debug_can_disable_introspection_and_graphiql(database_url: str) -> None:
    async with client_for(database_url, introspection=False, graphiql=False) as client:
        assert_introspection_refused(await GraphQLClient(client).execute(get_introspection_query()))
        assert (await client.get("/graphql", headers={"accept": "text/html"})).status_code == 404


async def test_allowed_hosts_are_enforced_in_production(database_url: str) -> None:
    async with client_for(database_url, debug=False, allowed_hosts=["chat.example.com"]) as client:
        bad = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"host": "evil.test"})
        assert bad.status_code == 400
        good = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"host": "chat.example.com"}
        )
        assert good.status_code == 200
        assert good.json() == {"data": {"__typename": "Query"}}


async def test_cors_answers_only_the_configured_origins(database_url: str) -> None:
    async with client_for(database_url, debug=False, cors_origins=[ORIGIN]) as client:
        preflight = {
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization",
        }
        allowed = await client.options("/graphql", headers={"origin": ORIGIN, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ORIGIN
        refused = await client.options("/graphql", headers={"origin": "https://evil.test", **preflight})
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers
        simple = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.test"}
        )
        assert "access-control-allow-origin" not in simple.headers
        simple = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"origin": ORIGIN})
        assert simple.headers["access-control-allow-origin"] == ORIGIN


async def test_without_cors_origins_no_origin_is_allowed(database_url: str) -> None:
    async with client_for(database_url, debug=False) as client:
        response = await client.post(
            "/graphql", json={"query": "{ __typename }"}, headers={"origin": "https://evil.test"}
        )
        assert "access-control-allow-origin" not in response.headers


@pytest.mark.parametrize("debug", [True, False])
async def test_html_pages_carry_security_headers(database_url: str, debug: bool) -> None:
    async with client_for(database_url, debug=debug, graphiql=True) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "same-origin"
        csp = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "object-src 'none'" in csp
        api = await client.post("/graphql", json={"query": "{ __typename }"})
        assert api.headers["x-content-type-options"] == "nosniff"


async def test_graphiql_loads_under_its_content_security_policy(
    browser: Browser, server: ServerProcess
) -> None:
    """Chromium reports no CSP violation for GraphiQL's inline script or its unpkg assets.

    The sandbox has no internet: unpkg requests are answered locally (empty bodies), which
    Chromium checks against the policy before the network, as it would the real ones.
    """
    page = await browser.new_page()
    violations: list[str] = []
    requested: list[str] = []

    async def fake_unpkg(route: Route) -> None:
        requested.append(route.request.url)
        await route.fulfill(status=200, body="", content_type="application/javascript")

    try:
        await page.route("https://unpkg.com/**", fake_unpkg)
        page.on(
            "console",
            lambda message: (
                violations.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        await page.add_init_script(
            "document.addEventListener('securitypolicyviolation',"
            " e => console.error('Content Security Policy violation: ' + e.violatedDirective))"
        )
        response = await page.goto(f"{server.http_url}/graphql", wait_until="load")
        assert response is not None
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        await page.wait_for_timeout(300)
        assert any("graphiql" in url for url in requested), requested
        assert violations == []
    finally:
        await page.close()


@pytest.mark.parametrize(("debug", "expected"), [("true", True), ("false", False)])
def test_empty_graphiql_and_introspection_settings_follow_debug(
    monkeypatch: pytest.MonkeyPatch, debug: str, expected: bool
) -> None:
    from premiumchat.config import Settings

    monkeypatch.setenv("DEBUG", debug)
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.setenv("GRAPHIQL", "")
    monkeypatch.setenv("INTROSPECTION", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.graphiql_enabled is expected
    assert settings.introspection_enabled is expected
    monkeypatch.setenv("GRAPHIQL", "true")
    monkeypatch.setenv("INTROSPECTION", "false")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.graphiql_enabled is True
    assert settings.introspection_enabled is False


@pytest.fixture(scope="module")
def production_server(
    sqlite_databases: SqliteDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    url = asyncio.run(sqlite_databases.create())
    process = ServerProcess(
        url, tmp_path_factory.mktemp("production"), debug="false", cors_origins=ORIGIN
    ).start()
    yield process
    process.stop()


async def test_a_production_server_checks_socket_origins_and_hosts(production_server: ServerProcess) -> None:
    url = production_server.ws_url
    # Cross-site WebSocket hijacking: a page elsewhere may not open a socket.
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(url, subprotocols=[TRANSPORT_WS], origin="https://evil.test")  # type: ignore[list-item, arg-type]
    assert refused.value.response.status_code == 403
    for origin in (ORIGIN, None):  # the allowed page, and a client that is no browser
        async with websockets.connect(url, subprotocols=[TRANSPORT_WS], origin=origin) as connection:  # type: ignore[list-item, arg-type]
            assert connection.subprotocol == TRANSPORT_WS
    # A handshake naming another Host (websockets always sends the URL's own, so by hand).
    reader, writer = await asyncio.open_connection("127.0.0.1", production_server.port)
    writer.write(
        b"GET /graphql HTTP/1.1\r\nHost: evil.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.split()[1] in (b"400", b"403"), status_line
    async with httpx.AsyncClient(base_url=production_server.http_url) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 404
        bad = await client.post("/graphql", json={"query": "{ __typename }"}, headers={"host": "evil.test"})
        assert bad.status_code == 400
        good = await client.post("/graphql", json={"query": "{ __typename }"})
        assert good.json() == {"data": {"__typename": "Query"}}


async def _socket_handshake(
    app: Any, state: dict[str, Any], host: bytes
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A graphql-transport-ws handshake on /graphql as uvicorn hands it to the app: the scope
    as the app left it, and the app's first answer (accept, or an HTTP refusal)."""
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "root_path": "",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "headers": [(b"host", host), (b"sec-websocket-protocol", TRANSPORT_WS.encode())],
        "subprotocols": [TRANSPORT_WS],
        "state": dict(state),
        "extensions": {"websocket.http.response": {}},
    }
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    incoming.put_nowait({"type": "websocket.connect"})
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(message: dict[str, Any]) -> None:
        answers.put_nowait(message)

    task = asyncio.create_task(app(scope, incoming.get, send))
    first = await asyncio.wait_for(answers.get(), 10)
    incoming.put_nowait({"type": "websocket.disconnect", "code": 1000})
    await asyncio.wait_for(task, 10)
    return scope, first


async def test_sockets_skip_the_http_middleware_but_not_the_host_check(database_url: str) -> None:
    app = create_app(make_settings(database_url, debug=False, allowed_hosts=["chat.example.com"]))
    async with LifespanManager(app) as manager:
        scope, first = await _socket_handshake(manager.app, manager._state, b"chat.example.com:443")
        assert first == {"type": "websocket.accept", "subprotocol": TRANSPORT_WS, "headers": []}
        # Straight to the view: the stack's exception middleware never saw the socket.
        assert "starlette.exception_handlers" not in scope
        scope, first = await _socket_handshake(manager.app, manager._state, b"evil.test")
        assert first["type"] == "websocket.http.response.start"
        assert first["status"] == 400


@pytest.mark.parametrize(
    "allowed_hosts",
    [["chat.example.com"], ["*.example.com"], ["www.example.com"], ["*"], ["Chat.Example.com", "[::1]"]],
)
async def test_a_socket_is_trusted_exactly_when_trusted_host_middleware_would_pass_it(
    allowed_hosts: list[str],
) -> None:
    app = App(socket_app=healthz, socket_path="/graphql", allowed_hosts=allowed_hosts)

    async def passed(_scope: Any, _receive: Any, _send: Any) -> None:
        raise _Passed

    async def ignore(_message: Any) -> None:
        pass

    middleware = TrustedHostMiddleware(passed, allowed_hosts=allowed_hosts)
    hosts = [
        None, "", "chat.example.com", "CHAT.example.com:8443", "example.com", "a.b.example.com",
        "evil.test", "chat.example.com.evil.test", "evilexample.com", "[::1]", "[::1]:8000", "::1", "a:b:c",
    ]  # fmt: skip
    for host in hosts:
        headers = [] if host is None else [(b"host", host.encode())]
        scope = {"type": "websocket", "path": "/graphql", "headers": headers, "query_string": b""}
        try:
            await middleware(dict(scope), ignore, ignore)  # type: ignore[arg-type]
            middleware_passes = False
        except _Passed:
            middleware_passes = True
        assert app._trusted_host(scope) == middleware_passes, (allowed_hosts, host)


class _Passed(Exception):
    pass
