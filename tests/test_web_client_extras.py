"""The web client's moderation tools and lobby extras, driven in a real browser by two users.

Against a real `premiumchat serve` process (SQLite): the owner creates an invite and the other user
joins by opening its link; both mark themselves ready and see the count change live, and endGame
resets it; the owner mutes the other user, who reads why and cannot send until unmuted; slow mode
shows on the room and a second message too soon shows the countdown from `retryAfter`; a locked
lobby and a revoked invite each refuse the link with their reason.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser import screenshot_path
from tests.databases import SqliteDatabases
from tests.graphql import PASSWORD, GraphQLClient
from tests.lobbies import Api, make_users
from tests.servers import ServerProcess
from tests.test_web_client import (
    PHONE,
    TIMEOUT_MS,
    log_in,
    message,
    moderation_panel,
    person,
    require_built_client,
    send,
)

expect.set_options(timeout=TIMEOUT_MS)
SLOW_MODE_SECONDS = 120
BLOCK_TERMS = """
mutation Block($lobbyId: ID!, $terms: [String!]!) {
  updateLobby(lobbyId: $lobbyId, input: {blockedTerms: $terms}) { id }
}
"""  # long enough that the countdown cannot run out while the test looks at it


@pytest.fixture(scope="module")
def extras_server(
    sqlite_databases: SqliteDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A global rate limit out of reach, so any refusal here is the lobby's slow mode."""
    require_built_client()
    url = asyncio.run(sqlite_databases.create())
    process = ServerProcess(url, tmp_path_factory.mktemp("web-extras"), rate_limit_messages="1000")
    process.start()
    yield process
    process.stop()


@pytest.fixture
async def pages(browser: Browser) -> AsyncIterator[tuple[Page, Page]]:
    desktop = await browser.new_context(viewport={"width": 1200, "height": 900})
    phone = await browser.new_context(viewport=PHONE)
    contexts: list[BrowserContext] = [desktop, phone]
    for context in contexts:
        context.set_default_timeout(TIMEOUT_MS)
    yield await desktop.new_page(), await phone.new_page()
    for context in contexts:
        await context.close()


async def test_invite_ready_mute_and_slow_mode(
    extras_server: ServerProcess, pages: tuple[Page, Page]
) -> None:
    base = extras_server.http_url
    async with httpx.AsyncClient(base_url=base) as http:
        users = await make_users(
            GraphQLClient(http),
            extras_server.env["DATABASE_URL"],
            ["extra_olga", "extra_pete"],
            premium=["extra_olga"],
        )
    olga_name, pete_name = users["extra_olga"].username, users["extra_pete"].username
    olga, pete = pages

    await log_in(olga, base, olga_name)
    await log_in(pete, base, pete_name)

    # Olga's lobby is private: Pete can only come in by invite.
    await olga.get_by_label("Name", exact=True).fill("Invite only")
    await olga.get_by_label("Listed publicly").uncheck()
    await olga.get_by_role("button", name="Create lobby").click()
    await expect(olga.get_by_role("heading", level=1, name="Invite only")).to_be_visible()

    # Olga creates an invite for two uses and sees it listed with its link.
    invites = olga.locator("section.invites-panel")
    await invites.get_by_label("Most uses (empty: unlimited)").fill("2")
    await invites.get_by_label("Expires after").select_option(label="1 hour")
    await invites.get_by_role("button", name="Create invite").click()
    invite = invites.locator("li.invite")
    await expect(invite).to_have_count(1)
    await expect(invite).to_contain_text("0 / 2 uses")
    link = await invite.get_by_label("Invite link").input_value()
    assert re.fullmatch(re.escape(base) + r"/#/invite/[A-Za-z0-9_-]{11,}", link), link
    await olga.screenshot(path=screenshot_path("web-extras-invite"), full_page=True)

    # Pete, logged in, opens the link: he joins and lands in the room; the use is counted.
    await pete.goto(link)
    await expect(pete.get_by_role("heading", level=1, name="Invite only")).to_be_visible()
    await expect(person(olga, pete_name)).to_be_visible()
    await expect(invite).to_contain_text("1 / 2 uses")

    # Ready check: both toggle, both see the count change live.
    facts_olga, facts_pete = olga.locator("main .facts").first, pete.locator("main .facts").first
    await expect(facts_olga).to_contain_text("Ready: 0 / 2")
    ready_pete = pete.get_by_role("button", name="Ready", exact=True)
    await expect(ready_pete).to_have_attribute("aria-pressed", "false")
    await ready_pete.click()
    await expect(ready_pete).to_have_attribute("aria-pressed", "true")
    await expect(facts_olga).to_contain_text("Ready: 1 / 2")
    await expect(person(olga, pete_name).locator(".badge.ready")).to_be_visible()
    await olga.get_by_role("button", name="Ready", exact=True).click()
    await expect(facts_pete).to_contain_text("Ready: 2 / 2")
    await expect(person(pete, olga_name).locator(".badge.ready")).to_be_visible()
    await ready_pete.click()
    await expect(facts_olga).to_contain_text("Ready: 1 / 2")
    await ready_pete.click()
    await expect(facts_olga).to_contain_text("Ready: 2 / 2")
    await pete.screenshot(path=screenshot_path("web-extras-ready"), full_page=True)
    # A game starts and ends: everyone is back to not ready.
    await olga.get_by_role("button", name="Start game").click()
    await expect(facts_pete).to_contain_text("In game")
    await expect(ready_pete).to_have_count(0)  # no ready check while in game
    await olga.get_by_role("button", name="End game").click()
    await expect(facts_pete).to_contain_text("Ready: 0 / 2")
    await expect(ready_pete).to_have_attribute("aria-pressed", "false")
    await expect(pete.locator(".badge.ready")).to_have_count(0)

    # Olga mutes Pete for an hour: he sees it and cannot send; she sees the badge.
    await send(pete, "before the mute")
    await expect(message(olga, "before the mute")).to_be_visible()
    panel = await moderation_panel(olga, pete_name)
    await panel.get_by_label("Reason (optional)").fill("cool down")
    await panel.get_by_label("Mute for").select_option(label="1 hour")
    await panel.get_by_role("button", name=f"Mute {pete_name}").click()
    mute_line = pete.locator(".mute-line")
    await expect(mute_line).to_contain_text("You are muted in this lobby until")
    await expect(pete.get_by_text(f"{olga_name} muted you until")).to_be_visible()
    await expect(pete.get_by_text("(reason: cool down)")).to_be_visible()
    await expect(pete.get_by_label("Message", exact=True)).to_be_disabled()
    await expect(pete.get_by_role("button", name="Send")).to_be_disabled()
    await expect(person(olga, pete_name).locator(".badge.muted")).to_contain_text("muted until")
    await pete.screenshot(path=screenshot_path("web-extras-muted"), full_page=True)

    # Unmuted: the composer comes back and a message goes through.
    await (await moderation_panel(olga, pete_name)).get_by_role("button", name=f"Unmute {pete_name}").click()
    await expect(pete.get_by_text(f"{olga_name} unmuted you.")).to_be_visible()
    await expect(mute_line).to_be_hidden()
    await expect(person(olga, pete_name).locator(".badge.muted")).to_have_count(0)
    await send(pete, "after the mute")
    await expect(message(olga, "after the mute")).to_be_visible()

    # Pete edits his message in place; Olga sees the new text marked as edited.
    await message(pete, "after the mute").get_by_role("button", name="Edit your message").click()
    editor = pete.get_by_label("Edit message")
    await expect(editor).to_be_focused()
    await editor.fill("after the mute, edited")
    await editor.press("Enter")
    edited = message(olga, "after the mute, edited")
    await expect(edited).to_be_visible()
    await expect(edited.locator(".edited")).to_have_text("(edited)")
    await expect(message(olga, "after the mute")).to_have_count(0)

    # A blocked term (set through the API: the client has no form for it) refuses the message.
    lobby_id = olga.url.rsplit("/", 1)[-1]
    async with httpx.AsyncClient(base_url=base) as http:
        await Api(GraphQLClient(http)).run(
            BLOCK_TERMS, {"lobbyId": lobby_id, "terms": ["spoiler"]}, users["extra_olga"]
        )
    await send(pete, "big Spoiler ahead")
    await expect(
        pete.get_by_role("alert").filter(has_text="contains a word that is not allowed")
    ).to_be_visible()
    await expect(pete.get_by_label("Message", exact=True)).to_have_value("big Spoiler ahead")
    await expect(pete.locator("li.message.pending")).to_have_count(0)
    await expect(message(olga, "big Spoiler ahead")).to_have_count(0)

    # Slow mode: shown in the room; Pete's second message too soon shows the countdown.
    await olga.get_by_label("Slow mode (seconds between messages, 0: off)").fill(str(SLOW_MODE_SECONDS))
    await olga.get_by_role("button", name="Set slow mode").click()
    await expect(facts_pete).to_contain_text(f"Slow mode: {SLOW_MODE_SECONDS} s")
    await expect(facts_olga).to_contain_text(f"Slow mode: {SLOW_MODE_SECONDS} s")
    await send(pete, "first in slow mode")
    await expect(message(olga, "first in slow mode")).to_be_visible()
    await send(pete, "second too soon")
    countdown = pete.get_by_role("alert").filter(
        has_text=re.compile(
            rf"Slow mode is on: one message every {SLOW_MODE_SECONDS} s\. You can send again in \d+ s"
        )
    )
    await expect(countdown).to_be_visible()
    await expect(pete.get_by_role("button", name="Send")).to_be_disabled()
    await expect(pete.get_by_label("Message", exact=True)).to_have_value("second too soon")  # kept to resend
    await expect(message(olga, "second too soon")).to_have_count(0)
    await pete.screenshot(path=screenshot_path("web-extras-slow-mode"), full_page=True)
    # The owner is exempt.
    await send(olga, "owner talks freely")
    await send(olga, "and again")
    await expect(message(pete, "and again")).to_be_visible()

    # Olga locks the lobby; Pete leaves, and the invite link now says the lobby is locked.
    await olga.get_by_role("button", name="Lock lobby").click()
    await expect(facts_pete).to_contain_text("Locked")
    await expect(olga.get_by_role("button", name="Unlock lobby")).to_be_visible()
    await pete.get_by_role("button", name="Leave lobby").click()
    await expect(pete.get_by_role("heading", level=1, name="Lobbies")).to_be_visible()
    await expect(person(olga, pete_name)).to_have_count(0)
    await pete.goto(link)
    await expect(pete.get_by_role("alert")).to_have_text(
        "You could not join: This lobby is locked: nobody can join right now."
    )
    await olga.get_by_role("button", name="Unlock lobby").click()
    await expect(olga.locator("main .facts").first).not_to_contain_text("Locked")

    # The refused join spent nothing: the second use takes Pete back in, and the invite is used up.
    await pete.get_by_role("link", name="Back to the lobby list").click()
    await expect(pete.get_by_role("heading", level=1, name="Lobbies")).to_be_visible()
    await pete.goto(link)
    await expect(pete.get_by_role("heading", level=1, name="Invite only")).to_be_visible()
    await expect(invites.get_by_text("No usable invites.")).to_be_visible()

    # A fresh unlimited invite, revoked: its link says why it does not work (as does a used-up one).
    await invites.get_by_label("Most uses (empty: unlimited)").fill("")
    await invites.get_by_role("button", name="Create invite").click()
    await expect(invite).to_contain_text("0 uses")
    revoked_link = await invite.get_by_label("Invite link").input_value()
    assert revoked_link != link
    await invite.get_by_role("button", name=re.compile("^Revoke invite")).click()
    await expect(invites.get_by_text("No usable invites.")).to_be_visible()
    await pete.get_by_role("button", name="Leave lobby").click()
    await expect(pete.get_by_role("heading", level=1, name="Lobbies")).to_be_visible()
    for refused in (revoked_link, link):
        await pete.goto(refused)
        await expect(pete.get_by_role("alert")).to_contain_text("This invite does not work any more")
        await pete.get_by_role("link", name="Back to the lobby list").click()
        await expect(pete.get_by_role("heading", level=1, name="Lobbies")).to_be_visible()
    await pete.goto(revoked_link)
    await expect(pete.get_by_role("alert")).to_contain_text("This invite does not work any more")
    await pete.screenshot(path=screenshot_path("web-extras-invite-revoked"), full_page=True)


CREATE_LOBBY = """
mutation Create($name: String!) {
  createLobby(input: {name: $name, isPublic: false}) { id }
}
"""
CREATE_INVITE = """
mutation Invite($lobbyId: ID!) { createInvite(lobbyId: $lobbyId, maxUses: 1) { code } }
"""


async def test_invite_link_opened_while_logged_out_is_used_after_logging_in(
    extras_server: ServerProcess, pages: tuple[Page, Page]
) -> None:
    base = extras_server.http_url
    async with httpx.AsyncClient(base_url=base) as http:
        api = Api(GraphQLClient(http))
        users = await make_users(
            api.gql, extras_server.env["DATABASE_URL"], ["extra_host", "extra_guest"], premium=["extra_host"]
        )
        host = users["extra_host"]
        lobby = (await api.run(CREATE_LOBBY, {"name": "Back room"}, host))["createLobby"]
        code = (await api.run(CREATE_INVITE, {"lobbyId": lobby["id"]}, host))["createInvite"]["code"]

    page = pages[1]
    await page.goto(f"{base}/#/invite/{code}")
    await expect(page.get_by_role("heading", level=2, name="Log in")).to_be_visible()
    await page.locator("#login-username").fill(users["extra_guest"].username)
    await page.locator("#login-password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1, name="Back room")).to_be_visible()
    await expect(person(page, host.username)).to_contain_text("owner")
    assert page.url.endswith(f"#/lobby/{lobby['id']}"), page.url
