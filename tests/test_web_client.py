"""The reference web client at `/`: served by the app, and driven in a real browser by two users.

The browser test runs against a real `premiumchat serve` process (SQLite) and two browser contexts:
one user creates a lobby, the other sees it appear live, joins, and they chat with presence and
typing visible; the other user's socket is cut while messages are sent and none is missed after
it comes back; the rate limit shows its countdown; a kick reaches the kicked user; a ban keeps
them out with a clear message.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from playwright.async_api import Browser, BrowserContext, Locator, Page, WebSocketRoute, expect

from premiumchat.auth.tokens import TokenType, issue
from premiumchat.config import Settings
from premiumchat.main import create_app
from premiumchat.web import DEFAULT_DIST
from tests.browser import screenshot_path
from tests.conftest import make_settings
from tests.conftest_settings import TEST_SECRET_KEY
from tests.databases import SqliteDatabases
from tests.graphql import PASSWORD, REFRESH, GraphQLClient
from tests.lobbies import START_GAME, Account, make_users
from tests.realtime import Chat
from tests.servers import ServerProcess

# The machine running the suite is shared and slow at times: wait for state, generously
# (Playwright's own default for `expect` is 5 s).
TIMEOUT_MS = 30_000
expect.set_options(timeout=TIMEOUT_MS)
PHONE = {"width": 390, "height": 844}


def require_built_client() -> Path:
    index = DEFAULT_DIST / "index.html"
    if not index.is_file():
        pytest.fail("the web client is not built: run `make web` (make test does)", pytrace=False)
    return DEFAULT_DIST


# ---- Serving ---------------------------------------------------------------------------------


async def test_client_is_served_at_root_without_shadowing_the_api(app_client: httpx.AsyncClient) -> None:
    require_built_client()
    index = await app_client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert index.headers["x-content-type-options"] == "nosniff"
    assert '<div id="app">' in index.text
    assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', index.text)
    assert any(asset.endswith(".js") for asset in assets), index.text
    for asset in assets:
        response = await app_client.get(asset)
        assert response.status_code == 200, asset
        assert "immutable" in response.headers["cache-control"]

    assert (await app_client.get("/healthz")).json() == {"status": "ok"}
    assert (await app_client.get("/readyz")).status_code == 200
    assert (await app_client.get("/metrics")).status_code == 200
    admin_login = await app_client.get("/admin/login")
    assert admin_login.status_code == 200
    assert 'name="password"' in admin_login.text  # sqladmin's login form, not the client's page
    graphiql = await app_client.get("/graphql", headers={"Accept": "text/html"})
    assert "graphiql" in graphiql.text.lower()
    typename = await app_client.post("/graphql", json={"query": "{ __typename }"})
    assert typename.json() == {"data": {"__typename": "Query"}}
    assert (await app_client.get("/no-such-file.js")).status_code == 404


async def test_without_a_build_root_says_how_to_build(tmp_path: Path, database_url: str) -> None:
    app = create_app(make_settings(database_url, web_client_dir=tmp_path / "missing"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        response = await client.get("/")
        assert response.status_code == 503
        assert "make web" in response.text
        assert (await client.get("/healthz")).status_code == 200


# ---- In the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def web_server(
    sqlite_databases: SqliteDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One real server on SQLite; a rate limit the test can reach by typing, and not by accident."""
    require_built_client()
    url = asyncio.run(sqlite_databases.create())
    process = ServerProcess(
        url,
        tmp_path_factory.mktemp("web-server"),
        rate_limit_messages="4",
        rate_limit_window_seconds="30",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def contexts(browser: Browser) -> AsyncIterator[tuple[BrowserContext, BrowserContext]]:
    desktop = await browser.new_context(viewport={"width": 1200, "height": 900})
    phone = await browser.new_context(viewport=PHONE)  # the client works at phone width
    for context in (desktop, phone):
        context.set_default_timeout(TIMEOUT_MS)
    yield desktop, phone
    await desktop.close()
    await phone.close()


class SocketCutter:
    """Routes a page's WebSockets through Playwright, so a test can drop them and refuse new ones."""

    def __init__(self) -> None:
        self.refusing = False
        self.open: list[WebSocketRoute] = []
        self.refused = asyncio.Event()

    async def handle(self, route: WebSocketRoute) -> None:
        if self.refusing:
            self.refused.set()
            await route.close(code=1011, reason="network down")
            return
        route.connect_to_server()
        self.open.append(route)

    async def cut(self) -> None:
        self.refusing = True
        routes, self.open = self.open, []
        for route in routes:
            await route.close(code=1011, reason="network down")

    def restore(self) -> None:
        self.refusing = False


async def log_in(page: Page, base_url: str, username: str) -> None:
    await page.goto(base_url + "/")
    await page.locator("#login-username").fill(username)
    await page.locator("#login-password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1, name="Lobbies")).to_be_visible(timeout=TIMEOUT_MS)


def lobby_card(page: Page, name: str) -> Locator:
    return page.locator("li.lobby", has=page.get_by_role("heading", name=name, exact=True))


def message(page: Page, text: str) -> Locator:
    """A delivered message (not a pending one) whose whole text is `text`."""
    content = page.locator(".content", has_text=re.compile(f"^{re.escape(text)}$"))
    return page.locator("li.message[data-message-id]").filter(has=content)


def person(page: Page, username: str) -> Locator:
    return page.locator(f'li.person[data-user="{username}"]')


async def moderation_panel(page: Page, username: str) -> Locator:
    """The owner's tools for one member, opened (it stays open across live updates)."""
    panel = person(page, username).locator("details.moderate")
    await expect(panel).to_be_visible()
    if await panel.get_attribute("open") is None:
        await panel.locator("summary").click()
    await expect(panel).to_have_attribute("open", "")
    return panel


async def send(page: Page, text: str) -> None:
    await page.get_by_label("Message", exact=True).fill(text)
    await page.get_by_label("Message", exact=True).press("Enter")


async def test_two_users_chat_live_through_a_dropped_socket_and_a_kick(
    web_server: ServerProcess, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    base = web_server.http_url
    async with httpx.AsyncClient(base_url=base) as http:
        users = await make_users(
            GraphQLClient(http),
            web_server.env["DATABASE_URL"],
            ["web_alice", "web_bob"],
            premium=["web_alice"],
        )
    alice_name, bob_name = users["web_alice"].username, users["web_bob"].username
    context_a, context_b = contexts
    alice, bob = await context_a.new_page(), await context_b.new_page()
    cutter = SocketCutter()
    await bob.route_web_socket(re.compile(r".*/graphql$"), cutter.handle)

    await log_in(alice, base, alice_name)
    await log_in(bob, base, bob_name)
    # Bob is not premium: he sees why he cannot create a lobby.
    await expect(bob.get_by_text("Creating lobbies is a premium feature")).to_be_visible()
    await expect(bob.get_by_role("button", name="Create lobby")).to_have_count(0)
    await expect(bob.get_by_text("Live: the list updates by itself.")).to_be_attached()

    # Alice creates a lobby; Bob's list shows it without a reload.
    await alice.get_by_label("Name", exact=True).fill("Friday quiz")
    await alice.get_by_role("button", name="Create lobby").click()
    await expect(alice.get_by_role("heading", level=1, name="Friday quiz")).to_be_visible()
    card = lobby_card(bob, "Friday quiz")
    await expect(card).to_be_visible()
    await expect(card).to_contain_text("1 / 8 participants")
    await expect(card).to_contain_text("Open")
    await bob.screenshot(path=screenshot_path("web-lobby-list"), full_page=True)

    # Bob joins; both see each other online.
    await card.get_by_role("button", name="Join Friday quiz").click()
    await expect(bob.get_by_role("heading", level=1, name="Friday quiz")).to_be_visible()
    await expect(person(alice, bob_name)).to_contain_text("online")
    await expect(person(bob, alice_name)).to_contain_text("online")
    await expect(alice.get_by_text(f"{bob_name} joined the lobby.")).to_be_visible()

    # Typing, then messages both ways.
    await alice.get_by_label("Message", exact=True).press_sequentially("Hel")
    await expect(bob.get_by_text(f"{alice_name} is typing…")).to_be_visible()
    await send(alice, "Hello Bob")
    await expect(message(bob, "Hello Bob")).to_be_visible()
    await expect(bob.get_by_text(f"{alice_name} is typing…")).to_be_hidden()
    await send(bob, "Hi Alice")
    await expect(message(alice, "Hi Alice")).to_be_visible()
    await expect(message(alice, "Hello Bob")).to_contain_text(alice_name)
    await alice.screenshot(path=screenshot_path("web-room"), full_page=True)

    # Bob's network drops: Alice sees him go offline and keeps talking; nothing is lost for Bob.
    await cutter.cut()
    await expect(bob.get_by_text(re.compile("Connection lost|Reconnecting"))).to_be_visible()
    await expect(person(alice, bob_name)).to_contain_text("offline")
    missed = ["While you were away 1", "While you were away 2", "While you were away 3"]
    for text in missed:
        await send(alice, text)
        await expect(message(alice, text)).to_be_visible()
    await asyncio.wait_for(cutter.refused.wait(), TIMEOUT_MS / 1000)  # the client keeps trying by itself
    cutter.restore()
    await expect(bob.get_by_role("status").filter(has_text=re.compile("^Live$"))).to_be_visible()
    for text in missed:
        await expect(message(bob, text)).to_have_count(1)
    await expect(person(alice, bob_name)).to_contain_text("online")
    texts = await bob.locator("li.message[data-message-id] .content").all_inner_texts()
    assert texts == ["Hello Bob", "Hi Alice", *missed], texts
    await bob.screenshot(path=screenshot_path("web-room-after-reconnect"), full_page=True)

    # Too fast: the client shows the server's retryAfter as a countdown.
    rate_line = bob.get_by_text(re.compile(r"You can send again in \d+ s"))
    for number in range(1, 8):
        await send(bob, f"burst {number}")
        await expect(bob.locator("li.message.pending")).to_have_count(0)
        if await rate_line.is_visible():
            break
    await expect(rate_line).to_be_visible()
    await expect(bob.get_by_role("button", name="Send")).to_be_disabled()

    # The owner's tools: a game starts and ends for everyone; Bob becomes a moderator and stops being one.
    await alice.get_by_role("button", name="Start game").click()
    await expect(bob.locator("main .facts").first).to_contain_text("In game")
    await alice.get_by_role("button", name="End game").click()
    await expect(bob.locator("main .facts").first).to_contain_text("Open")
    await (
        (await moderation_panel(alice, bob_name))
        .get_by_role("button", name=f"Make {bob_name} a moderator")
        .click()
    )
    await expect(bob.get_by_text(f"{alice_name} made {bob_name} a moderator.")).to_be_visible()
    await expect(person(bob, bob_name)).to_contain_text("moderator")
    # A moderator may delete anyone's message, so Bob now has a delete button on Alice's.
    await expect(
        message(bob, "Hello Bob").get_by_role("button", name=f"Delete message from {alice_name}")
    ).to_be_visible()
    await alice.get_by_role("button", name=f"Remove {bob_name} as moderator").click()
    await expect(bob.get_by_text(f"{alice_name} removed {bob_name} as moderator.")).to_be_visible()
    await expect(message(bob, "Hello Bob").get_by_role("button")).to_have_count(0)

    # Alice kicks Bob; Bob is told, and his room stops.
    panel = await moderation_panel(alice, bob_name)
    await panel.get_by_label("Reason (optional)").fill("spam")
    await panel.get_by_role("button", name=f"Kick {bob_name}").click()
    await expect(
        bob.get_by_role("alert").filter(has_text=f"{alice_name} removed you from Friday quiz")
    ).to_be_visible()
    await expect(bob.get_by_label("Message", exact=True)).to_be_hidden()
    await expect(
        alice.get_by_text(f"{alice_name} removed {bob_name} from the lobby (reason: spam).")
    ).to_be_visible()
    await expect(person(alice, bob_name)).to_have_count(0)

    # Bob may join again; then a ban keeps him out, and the list says until when.
    await bob.get_by_role("link", name="Back to the lobby list").click()
    await lobby_card(bob, "Friday quiz").get_by_role("button", name="Join Friday quiz").click()
    await expect(person(alice, bob_name)).to_contain_text("online")
    panel = await moderation_panel(alice, bob_name)
    await panel.get_by_label("Ban for").select_option(label="1 hour")
    await panel.get_by_role("button", name=f"Ban {bob_name}").click()
    await expect(
        bob.get_by_role("alert").filter(has_text=f"{alice_name} banned you from Friday quiz until")
    ).to_be_visible()
    await bob.get_by_role("link", name="Back to the lobby list").click()
    card = lobby_card(bob, "Friday quiz")
    await card.get_by_role("button", name="Join Friday quiz").click()
    await expect(card.get_by_role("alert")).to_contain_text("You are banned from this lobby until")


@pytest.fixture(scope="module")
def short_token_server(
    sqlite_databases: SqliteDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """Access tokens that expire within seconds, so the client must refresh them as it goes."""
    require_built_client()
    url = asyncio.run(sqlite_databases.create())
    process = ServerProcess(
        url,
        tmp_path_factory.mktemp("web-short-tokens"),
        access_token_ttl_seconds=str(SHORT_TTL_SECONDS),
        rate_limit_messages="1000",
        replay_max_messages=str(REPLAY_MAX),
    )
    process.start()
    yield process
    process.stop()


SHORT_TTL_SECONDS = 4
REPLAY_MAX = 2


def long_lived(account: Account) -> Account:
    """The same user with an hour-long token from the server's own issuer (setup outlives 4 s)."""
    settings = Settings(_env_file=None, secret_key=TEST_SECRET_KEY, access_token_ttl_seconds=3600)  # type: ignore[call-arg]
    token = issue(settings, int(account.id), TokenType.ACCESS).token
    return Account(account.id, account.username, token)


async def stored_session(page: Page) -> dict[str, Any]:
    value = await page.evaluate("() => JSON.parse(localStorage.getItem('premiumchat.session'))")
    assert isinstance(value, dict), value
    return value


async def test_join_refusals_history_scroll_back_and_token_refresh(
    short_token_server: ServerProcess, contexts: tuple[BrowserContext, BrowserContext]
) -> None:
    server = short_token_server
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        chat = Chat(GraphQLClient(http))
        users = await make_users(
            chat.gql,
            server.env["DATABASE_URL"],
            ["web_owner", "web_dave", "web_carol"],
            premium=["web_owner"],
        )
        owner, dave = long_lived(users["web_owner"]), long_lived(users["web_dave"])
        archive = await chat.create_lobby(owner, "Archive")
        for number in range(1, 56):
            await chat.send(owner, archive["id"], f"archived {number}")
        await chat.create_lobby(owner, "Locked room", password="sesame")
        tiny = await chat.create_lobby(owner, "Tiny", maxParticipants=2)
        await chat.join(dave, tiny["id"])
        busy = await chat.create_lobby(owner, "Busy")
        await chat.run(START_GAME, {"lobbyId": busy["id"]}, owner)

    page = await contexts[1].new_page()
    cutter = SocketCutter()
    await page.route_web_socket(re.compile(r".*/graphql$"), cutter.handle)
    await log_in(page, server.http_url, users["web_carol"].username)
    first = await stored_session(page)

    # Clear reasons when a join is refused, from the error's extensions.code.
    await lobby_card(page, "Tiny").get_by_role("button", name="Join Tiny").click()
    await expect(lobby_card(page, "Tiny").get_by_role("alert")).to_have_text("Tiny: This lobby is full.")
    await expect(lobby_card(page, "Busy")).to_contain_text("In game")
    await lobby_card(page, "Busy").get_by_role("button", name="Join Busy").click()
    await expect(lobby_card(page, "Busy").get_by_role("alert")).to_contain_text("This lobby is not open")
    locked = lobby_card(page, "Locked room")
    await locked.get_by_role("button", name="Join Locked room").click()
    await locked.get_by_label("Password for Locked room").fill("nope")
    await locked.get_by_role("button", name="Join with password").click()
    await expect(locked.get_by_role("alert")).to_have_text("Locked room: Wrong password for this lobby.")
    await locked.get_by_label("Password for Locked room").fill("sesame")
    await locked.get_by_role("button", name="Join with password").click()
    await expect(page.get_by_role("heading", level=1, name="Locked room")).to_be_visible()

    # History: the 50 newest first, older ones on request, in order.
    await page.get_by_role("link", name="← All lobbies").click()
    await lobby_card(page, "Archive").get_by_role("button", name="Join Archive").click()
    await expect(message(page, "archived 55")).to_be_visible()
    await expect(page.locator("li.message[data-message-id]")).to_have_count(50)
    await expect(message(page, "archived 5")).to_have_count(0)
    await page.get_by_role("button", name="Load older messages").click()
    await expect(page.locator("li.message[data-message-id]")).to_have_count(55)
    await expect(page.get_by_role("button", name="Load older messages")).to_be_hidden()
    texts = await page.locator("li.message[data-message-id] .content").all_inner_texts()
    assert texts == [f"archived {number}" for number in range(1, 56)]

    # Once the first access token has expired, the client still works: it rotated the refresh token.
    expired_at = (await stored_session(page))["accessToken"]
    await asyncio.sleep(max(0.0, token_expiry(expired_at) - time.time()) + 0.5)  # let it expire
    await send(page, "still signed in")
    await expect(message(page, "still signed in")).to_be_visible()
    await expect(page.locator("li.message.pending, li.message.failed")).to_have_count(0)
    latest = await stored_session(page)
    assert latest["refreshToken"] != first["refreshToken"]
    assert token_expiry(latest["accessToken"]) > token_expiry(expired_at)
    await expect(page.get_by_role("heading", level=1, name="Archive")).to_be_visible()

    # More missed than the server replays: ReplayCompletedEvent says recovered false, history reloads.
    await expect(page.get_by_role("status").filter(has_text=re.compile("^Live$"))).to_be_visible()
    await cutter.cut()
    await expect(page.get_by_text(re.compile("Connection lost|Reconnecting"))).to_be_visible()
    missed = [f"too many to replay {number}" for number in range(1, REPLAY_MAX + 2)]
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for text in missed:
            await Chat(GraphQLClient(http)).send(owner, archive["id"], text)
    await asyncio.wait_for(cutter.refused.wait(), TIMEOUT_MS / 1000)
    cutter.restore()
    for text in missed:
        await expect(message(page, text)).to_have_count(1)
    texts = await page.locator("li.message[data-message-id] .content").all_inner_texts()
    assert texts[-len(missed) - 1 :] == ["still signed in", *missed], texts

    # Logging out spends the refresh token on the server and forgets the session here.
    refresh_token = (await stored_session(page))["refreshToken"]
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("heading", level=2, name="Log in")).to_be_visible()
    assert await page.evaluate("() => localStorage.getItem('premiumchat.session')") is None
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        error = await GraphQLClient(http).error(REFRESH, {"token": refresh_token})
    assert error["extensions"]["code"] == "UNAUTHENTICATED", error


def token_expiry(token: str) -> float:
    """A JWT's exp, read without checking it (the server checks it)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return float(claims["exp"])
