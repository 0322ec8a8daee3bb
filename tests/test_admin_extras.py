"""The admin panel's Reports and Mutes views over real HTTP to a real server: what they list, and
that resolving a report and lifting a mute go through the services (rules, log entries, events)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote_plus

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.browser import screenshot_path
from tests.extras import Extras as MuteApi
from tests.graphql import PASSWORD, GraphQLClient
from tests.lobbies import log_summary, make_users
from tests.lobby_extras import Extras as ReportApi
from tests.realtime import Chat, LiveClient, unique_names
from tests.servers import ServerProcess
from tests.test_admin import admin_client, database_url, log_in, logged_in

REPORTS, MUTES = "/admin/message-report", "/admin/lobby-mute"


@pytest.fixture
async def gql(server: ServerProcess) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        yield GraphQLClient(http)


def row_ids(html: str, view: str) -> list[str]:
    """The ids of a list page's rows, in the order shown."""
    return list(dict.fromkeys(re.findall(rf'{view}/details/(\d+)"', html)))


def refusal(location: str) -> str:
    """The error a list page is sent back with after an action."""
    match = re.search(r"[?&]error=([^&]*)", location)
    assert match, location
    return unquote_plus(match.group(1))


async def test_the_reports_view_lists_filters_and_resolves(server: ServerProcess, gql: GraphQLClient) -> None:
    api, chat = ReportApi(gql), Chat(gql)
    sam, olive, pia, bob, ann = unique_names("sam", "olive", "pia", "bob", "ann")
    users = await make_users(
        gql, database_url(server), [sam, olive, pia, bob, ann], staff=[sam], premium=[olive, pia]
    )
    hall = (await api.create_lobby(users[olive], "Reported hall"))["id"]
    side = (await api.create_lobby(users[pia], "Side room"))["id"]
    await api.join_all([users[bob], users[ann]], hall)
    await api.join_all([users[bob], users[ann]], side)
    gold = await api.send(users[bob], hall, "buy cheap gold now")
    rude = await api.send(users[bob], hall, "you are all slow")
    elsewhere = await api.send(users[bob], side, "side remark")
    first = await api.report(users[ann], gold["id"], "spam link")
    second = await api.report(users[ann], rude["id"], "insulting")
    third = await api.report(users[ann], elsewhere["id"], "off topic")

    async with admin_client(server) as http:
        await logged_in(http, sam)
        listed = await http.get(f"{REPORTS}/list")
        assert listed.status_code == 200
        assert row_ids(listed.text, REPORTS) == [third["id"], second["id"], first["id"]]  # newest first
        for shown in ("buy cheap gold now", "spam link", "Reported hall", "Side room", bob, ann):
            assert shown in listed.text, shown
        assert "Search: reason or message" in listed.text  # the search box is there

        by_lobby = (await http.get(f"{REPORTS}/list?lobby_id={side}")).text
        assert row_ids(by_lobby, REPORTS) == [third["id"]]
        by_content = (await http.get(f"{REPORTS}/list?search=cheap+gold")).text
        assert row_ids(by_content, REPORTS) == [first["id"]]
        by_reason = (await http.get(f"{REPORTS}/list?search=insult")).text
        assert row_ids(by_reason, REPORTS) == [second["id"]]

        response = await http.get(f"{REPORTS}/action/resolve?pks={first['id']}")
        assert response.status_code == 302
        assert "error" not in response.headers["location"]
        open_reports = (await http.get(f"{REPORTS}/list?state=open")).text
        assert row_ids(open_reports, REPORTS) == [third["id"], second["id"]]
        resolved = (await http.get(f"{REPORTS}/list?state=resolved")).text
        assert row_ids(resolved, REPORTS) == [first["id"]]
        details = await http.get(f"{REPORTS}/details/{first['id']}")
        assert details.status_code == 200
        assert sam in details.text

        # The same service as resolveReport: staff as resolvedBy, REPORT_RESOLVED in the log.
        page = await api.reports(users[olive], lobbyId=hall, unresolvedOnly=False)
        [done] = [edge["node"] for edge in page["edges"] if edge["node"]["id"] == first["id"]]
        assert done["resolvedBy"] == {"id": users[sam].id, "username": sam}
        assert done["resolvedAt"] is not None
        entries = log_summary(await api.log(users[olive], hall))
        assert entries[-1] == ("REPORT_RESOLVED", users[sam].id, users[bob].id)

        # Its rules too: a resolved report is not resolved twice, and the panel says why.
        response = await http.get(f"{REPORTS}/action/resolve?pks={first['id']}")
        assert "already resolved" in refusal(response.headers["location"])
        assert "This report is already resolved" in (await http.get(response.headers["location"])).text

        # "Delete message" is deleteMessage's soft delete: subscribers are told; the report stays.
        async with LiveClient(server.ws_url, users[olive]) as live:
            stream = await live.joined(hall)
            response = await http.get(f"{REPORTS}/action/delete-message?pks={second['id']}")
            assert response.status_code == 302
            assert "error" not in response.headers["location"]
            deleted = await stream.until("MessageDeletedEvent")
            assert (deleted["messageId"], deleted["deletedBy"]["username"]) == (rude["id"], sam)
        listed = (await http.get(f"{REPORTS}/list?state=open")).text
        assert row_ids(listed, REPORTS) == [third["id"], second["id"]]
        assert "you are all slow" not in listed
        assert "(deleted)" in listed
        assert row_ids((await http.get(f"{REPORTS}/list?search=all+slow")).text, REPORTS) == []

        # A closed lobby takes no writes, from staff neither (LOBBY_NOT_OPEN in the API); its
        # reports stay open, and the panel shows the service's refusal.
        await chat.close(users[pia], side)
        await api.resolve(users[sam], third["id"], expect="LOBBY_NOT_OPEN")
        response = await http.get(f"{REPORTS}/action/resolve?pks={third['id']}")
        assert response.status_code == 302
        message = refusal(response.headers["location"])
        assert message == f"#{third['id']}: This lobby is closed: nothing can be changed in it."
        shown = (await http.get(response.headers["location"])).text
        assert "This lobby is closed: nothing can be changed in it." in shown
    still_open = await api.reports(users[sam], lobbyId=side)
    assert [edge["node"]["id"] for edge in still_open["edges"]] == [third["id"]]
    assert still_open["edges"][0]["node"]["resolvedAt"] is None


async def test_mutes_on_the_lobby_page_and_lifting_one_reaches_subscribers(
    server: ServerProcess, gql: GraphQLClient
) -> None:
    api = MuteApi(gql)
    sam, olive, bob, carl, dave = unique_names("sam", "olive", "bob", "carl", "dave")
    users = await make_users(
        gql, database_url(server), [sam, olive, bob, carl, dave], staff=[sam], premium=[olive]
    )
    lobby = (await api.create_lobby(users[olive], "Muted hall"))["id"]
    await api.join_all([users[bob], users[carl], users[dave]], lobby)
    await api.mute(users[olive], lobby, users[dave], "brief", duration=1)
    await api.mute(users[olive], lobby, users[bob], "flooding", duration=3600)
    await api.mute(users[olive], lobby, users[carl])
    await asyncio.sleep(1.2)  # dave's mute lapses
    await api.send(users[bob], lobby, "let me talk", expect="MUTED")

    async with admin_client(server) as http:
        await logged_in(http, sam)
        page = await http.get(f"/admin/lobby/details/{lobby}")
        assert page.status_code == 200
        assert "Active mutes" in page.text
        assert re.search(
            rf"{bob}: muted by {olive}, until \d{{4}}-\d\d-\d\d \d\d:\d\d UTC; flooding", page.text
        )
        assert f"{carl}: muted by {olive}, until lifted" in page.text
        assert f"{dave}:" not in page.text  # lapsed
        mute_links = row_ids(page.text, MUTES)
        assert len(mute_links) == 2

        every = (await http.get(f"{MUTES}/list?lobby_id={lobby}")).text
        assert len(row_ids(every, MUTES)) == 3
        active = row_ids((await http.get(f"{MUTES}/list?lobby_id={lobby}&state=active")).text, MUTES)
        assert sorted(active) == sorted(mute_links)
        [lapsed] = row_ids((await http.get(f"{MUTES}/list?lobby_id={lobby}&state=expired")).text, MUTES)
        [bob_mute] = row_ids(
            (await http.get(f"{MUTES}/list?lobby_id={lobby}&user_id={users[bob].id}")).text, MUTES
        )
        details = await http.get(f"{MUTES}/details/{bob_mute}")
        assert details.status_code == 200
        assert "flooding" in details.text
        assert "Lift mute" in details.text

        async with LiveClient(server.ws_url, users[olive]) as live:
            stream = await live.joined(lobby)
            # As a browser under a `no-referrer` policy follows the panel's own link: `Origin: null`,
            # and `Sec-Fetch-Site` says where the request is from.
            browser_headers = {"Sec-Fetch-Site": "same-origin", "Origin": "null"}
            response = await http.get(f"{MUTES}/action/lift?pks={bob_mute}", headers=browser_headers)
            assert response.status_code == 302
            assert "error" not in response.headers["location"]
            event = await stream.until("ModerationEvent", lambda e: e["action"] == "UNMUTE")
            assert (event["actor"]["username"], event["target"]["username"]) == (sam, bob)
        await api.send(users[bob], lobby, "free to talk")
        entries = log_summary(await api.log(users[olive], lobby))
        assert ("UNMUTED", users[sam].id, users[bob].id) in entries

        page = await http.get(f"/admin/lobby/details/{lobby}")
        assert f"{bob}: muted by" not in page.text
        assert f"{carl}: muted by {olive}, until lifted" in page.text

        # The service's rules hold: a lapsed mute is nothing to lift.
        response = await http.get(f"{MUTES}/action/lift?pks={lapsed}")
        assert refusal(response.headers["location"]) == f"#{lapsed}: That user is not muted in this lobby."
    assert [m["user"]["username"] for m in await api.mutes(users[olive], lobby)] == [carl]


async def test_only_staff_reach_the_new_views(server: ServerProcess, gql: GraphQLClient) -> None:
    api, reports = MuteApi(gql), ReportApi(gql)
    sam, olive, bob, ann = unique_names("sam", "olive", "bob", "ann")
    users = await make_users(gql, database_url(server), [sam, olive, bob, ann], staff=[sam], premium=[olive])
    lobby = (await api.create_lobby(users[olive], "Guarded"))["id"]
    await api.join_all([users[bob], users[ann]], lobby)
    await api.mute(users[olive], lobby, users[bob], "noise")
    report = await reports.report(users[ann], (await api.send(users[olive], lobby, "hello"))["id"], "meh")
    async with admin_client(server) as http:
        for page in (
            f"{REPORTS}/list",
            f"{REPORTS}/details/{report['id']}",
            f"{REPORTS}/action/resolve?pks={report['id']}",
            f"{MUTES}/list",
            f"{MUTES}/action/lift?pks=1",
            f"/admin/lobby/details/{lobby}",
        ):
            response = await http.get(page)
            assert response.status_code == 302, page
            assert response.headers["location"].endswith("/admin/login"), page
        # The lobby's owner, with the right password, is no staff member: no way in.
        assert (await log_in(http, olive)).status_code == 400
        assert (await http.get(f"{REPORTS}/list")).status_code == 302
        await logged_in(http, sam)
        [mute_id] = row_ids((await http.get(f"{MUTES}/list?lobby_id={lobby}")).text, MUTES)
        # A link on another site is refused, as for every action.
        for action in (f"{REPORTS}/action/resolve?pks={report['id']}", f"{MUTES}/action/lift?pks={mute_id}"):
            for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}):
                response = await http.get(action, headers=headers)
                assert response.status_code == 403, (action, headers)
        # Generic create, edit and delete are off: changes go through the actions only.
        for page in (f"{REPORTS}/create", f"{REPORTS}/edit/{report['id']}", f"{MUTES}/edit/{mute_id}"):
            assert (await http.get(page)).status_code == 403, page
        assert (await http.delete(f"{MUTES}/delete?pks={mute_id}")).status_code == 403
        assert (await http.delete(f"{REPORTS}/delete?pks={report['id']}")).status_code == 403
    assert await api.muted(users[olive], lobby, users[bob]) == (True, None)
    page = await reports.reports(users[olive], lobbyId=lobby)
    assert [edge["node"]["resolvedAt"] for edge in page["edges"]] == [None]


async def test_staff_resolve_a_report_and_see_a_lobbys_mutes_in_a_browser(
    browser: Browser, server: ServerProcess, gql: GraphQLClient
) -> None:
    api, reports = MuteApi(gql), ReportApi(gql)
    suffix = "sqlite" if database_url(server).startswith("sqlite") else "postgres"
    sam, olive, bob, ann = unique_names("sam", "olive", "bob", "ann")
    users = await make_users(gql, database_url(server), [sam, olive, bob, ann], staff=[sam], premium=[olive])
    lobby = (await api.create_lobby(users[olive], "Seen in a browser"))["id"]
    await api.join_all([users[bob], users[ann]], lobby)
    message = await api.send(users[bob], lobby, "report me")
    report = await reports.report(users[ann], message["id"], "rude words")
    await api.mute(users[olive], lobby, users[bob], "shouting")
    page = await browser.new_page()
    try:
        await page.goto(f"{server.http_url}/admin/login", wait_until="domcontentloaded")
        await page.fill('input[name="username"]', sam)
        await page.fill('input[name="password"]', PASSWORD)
        await page.click('button[type="submit"]')
        await page.wait_for_url(f"{server.http_url}/admin/")

        await page.goto(f"{server.http_url}/admin/lobby/details/{lobby}", wait_until="domcontentloaded")
        mutes = page.locator("tr", has_text="Active mutes")
        await expect(mutes).to_contain_text(f"{bob}: muted by {olive}, until lifted; shouting")
        await page.screenshot(path=screenshot_path(f"admin-lobby-mutes-{suffix}"), full_page=True)

        await page.goto(f"{server.http_url}{REPORTS}/list", wait_until="domcontentloaded")
        await expect(page.locator("table tbody tr", has_text="rude words")).to_have_count(1)
        await page.screenshot(path=screenshot_path(f"admin-reports-{suffix}"), full_page=True)
        await page.goto(f"{server.http_url}{REPORTS}/details/{report['id']}", wait_until="domcontentloaded")
        await page.get_by_role("link", name="Resolve", exact=True).click()
        await page.locator("#modal-confirmation-resolve").get_by_role("link", name="Yes").click()
        await page.wait_for_url(f"{server.http_url}{REPORTS}/list")
        await expect(page.locator(".alert-danger")).to_have_count(0)
    finally:
        await page.close()
    connection = await reports.reports(users[olive], lobbyId=lobby, unresolvedOnly=False)
    [node] = [edge["node"] for edge in connection["edges"]]
    assert node["resolvedBy"] == {"id": users[sam].id, "username": sam}
