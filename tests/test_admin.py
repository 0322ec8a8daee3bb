"""The admin panel at /admin over real HTTP to a real server: who gets in, and that its changes
go through the services (rules, log entries and events, as for the API)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from premiumchat.admin.auth import LOGIN_ATTEMPTS
from tests.accounts import set_user_flags
from tests.graphql import LOGIN, ME, PASSWORD, REFRESH, GraphQLClient
from tests.lobbies import Account, make_users
from tests.realtime import Chat, LiveClient, unique_names
from tests.servers import ServerProcess
from tests.test_cli import premiumchat

LIST_PAGES = ["user", "lobby", "message", "lobby-ban", "lobby-log-entry"]


def admin_client(server: ServerProcess) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.http_url, follow_redirects=False, timeout=30)


async def log_in(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """The login form posted as a browser posts it."""
    return await http.post("/admin/login", data={"username": username, "password": password})


async def logged_in(http: httpx.AsyncClient, username: str) -> None:
    response = await log_in(http, username)
    assert response.status_code == 302, response.text
    assert response.headers["location"].endswith("/admin/")


def page_error(html: str) -> str:
    """The error sqladmin shows on a form page."""
    match = re.search(r'class="alert alert-danger[^"]*"[^>]*>\s*(.*?)\s*<', html, re.S)
    assert match, html
    return match.group(1)


@pytest.fixture
async def chat(server: ServerProcess) -> AsyncIterator[Chat]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        yield Chat(GraphQLClient(http))


def database_url(server: ServerProcess) -> str:
    return server.env["DATABASE_URL"]


async def test_only_active_staff_log_in(server: ServerProcess, chat: Chat) -> None:
    sam, pat, ivy = unique_names("sam", "pat", "ivy")
    users = await make_users(chat.gql, database_url(server), [sam, pat, ivy], staff=[sam, ivy], premium=[pat])
    await set_user_flags(database_url(server), users[ivy].id, is_active=False)
    async with admin_client(server) as http:
        # Not logged in: every page sends the browser to the login form.
        for page in ["/admin/", *(f"/admin/{name}/list" for name in LIST_PAGES)]:
            response = await http.get(page)
            assert response.status_code == 302, page
            assert response.headers["location"].endswith("/admin/login")

        refused = [
            (pat, PASSWORD),  # premium, not staff
            (ivy, PASSWORD),  # staff, deactivated
            (sam, "wrong-password"),
            ("nobody_at_all", PASSWORD),
            (sam, ""),
        ]
        for username, password in refused:
            response = await log_in(http, username, password)
            assert response.status_code == 400, username
            assert "Invalid credentials" in response.text
            assert "set-cookie" not in response.headers
            assert (await http.get("/admin/user/list")).status_code == 302

        response = await log_in(http, sam.upper())  # usernames ignore case, as for the API
        assert response.status_code == 302
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("premiumchat_admin=")
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        assert {"httponly", "samesite=lax", "path=/admin"} <= flags
        assert (await http.get("/admin/user/list")).status_code == 200

        # Staff status is read on every request: a demoted user is out at once.
        await set_user_flags(database_url(server), users[sam].id, is_staff=False)
        response = await http.get("/admin/user/list")
        assert response.status_code == 302
        assert response.headers["location"].endswith("/admin/login")
        await set_user_flags(database_url(server), users[sam].id, is_staff=True)
        assert (await http.get("/admin/user/list")).status_code == 302  # that session was ended

        # A new password ends the sessions opened with the old one (this one included).
        async with admin_client(server) as other:
            await logged_in(other, sam)
            response = await other.post(
                f"/admin/user/edit/{users[sam].id}",
                data={"is_premium": "", "is_active": "y", "new_password": "another-pass-1", "save": "Save"},
            )
            assert response.status_code == 302
            assert (await other.get("/admin/user/list")).status_code == 302
        assert (await log_in(http, sam)).status_code == 400
        assert (await log_in(http, sam, "another-pass-1")).status_code == 302

        # A forged or tampered cookie is no session.
        http.cookies.clear()
        http.cookies.set(
            "premiumchat_admin", cookie.split(";")[0].split("=", 1)[1][:-2] + "xx", path="/admin"
        )
        assert (await http.get("/admin/user/list")).status_code == 302


async def test_staff_toggle_premium_and_the_user_creates_a_lobby(server: ServerProcess, chat: Chat) -> None:
    sam, pat = unique_names("sam", "pat")
    users = await make_users(chat.gql, database_url(server), [sam, pat], staff=[sam])
    pat_account = users[pat]
    await chat.create_lobby(pat_account, "Not yet", expect="PREMIUM_REQUIRED")
    async with admin_client(server) as http:
        await logged_in(http, sam)
        edit = await http.get(f"/admin/user/edit/{pat_account.id}")
        assert edit.status_code == 200
        assert 'name="is_premium"' in edit.text
        assert 'name="new_password"' in edit.text
        assert "argon2" not in edit.text
        assert "password_hash" not in edit.text

        # A checked box is sent, an unchecked one is not: the form a browser posts.
        response = await http.post(
            f"/admin/user/edit/{pat_account.id}",
            data={"is_premium": "y", "is_active": "y", "new_password": "", "save": "Save"},
        )
        assert response.status_code == 302, response.text
        assert response.headers["location"].endswith("/admin/user/list")
        me = (await chat.gql.data(ME, token=pat_account.token))["me"]
        assert me["isPremium"] is True
        lobby = await chat.create_lobby(pat_account, "Premium at last")
        assert lobby["owner"]["username"] == pat

        # The service's rules hold in the panel: staff cannot deactivate themselves.
        response = await http.post(
            f"/admin/user/edit/{users[sam].id}", data={"is_premium": "", "new_password": "", "save": "Save"}
        )
        assert response.status_code == 400
        assert "your own account" in page_error(response.text)
        assert (await chat.gql.data(ME, token=users[sam].token))["me"]["isStaff"] is True

        # A new password is validated, then hashed; the old one stops working.
        response = await http.post(
            f"/admin/user/edit/{pat_account.id}",
            data={"is_premium": "y", "is_active": "y", "new_password": "short", "save": "Save"},
        )
        assert response.status_code == 400
        assert "at least 8 characters" in page_error(response.text)
        session = (await chat.gql.data(LOGIN, {"username": pat, "password": PASSWORD}))["login"]
        response = await http.post(
            f"/admin/user/edit/{pat_account.id}",
            data={"is_premium": "y", "is_active": "y", "new_password": "brand-new-pass", "save": "Save"},
        )
        assert response.status_code == 302
        # Every session of the old password ends: its refresh tokens are revoked.
        error = await chat.gql.error(REFRESH, {"token": session["refreshToken"]})
        assert error["extensions"]["code"] == "UNAUTHENTICATED"
    renewed = (await chat.gql.data(LOGIN, {"username": pat, "password": "brand-new-pass"}))["login"]
    assert renewed["user"]["id"] == pat_account.id
    error = await chat.gql.error(LOGIN, {"username": pat, "password": PASSWORD})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_closing_a_lobby_and_deleting_a_message_reach_subscribers(
    server: ServerProcess, chat: Chat
) -> None:
    sam, olive, bob = unique_names("sam", "olive", "bob")
    users = await make_users(chat.gql, database_url(server), [sam, olive, bob], staff=[sam], premium=[olive])
    lobby = await chat.create_lobby(users[olive], "Watched")
    await chat.join(users[bob], lobby["id"])
    message = await chat.send(users[bob], lobby["id"], "please delete me")
    async with LiveClient(server.ws_url, users[olive]) as live, admin_client(server) as http:
        stream = await live.joined(lobby["id"])
        await logged_in(http, sam)

        response = await http.delete(f"/admin/message/delete?pks={message['id']}")
        assert response.status_code == 200
        assert "error" not in response.text
        deleted = await stream.until("MessageDeletedEvent")
        assert deleted["messageId"] == message["id"]
        assert deleted["deletedBy"]["username"] == sam
        found = await http.get("/admin/message/list?search=please+delete")
        assert "please delete me" not in found.text  # nor found by what it said
        assert f"/admin/message/details/{message['id']}" not in found.text
        history = await chat.history(users[olive], lobby["id"])
        assert [(m["deleted"], m["content"]) for m in (e["node"] for e in history["edges"])] == [(True, "")]

        response = await http.get(f"/admin/lobby/action/close?pks={lobby['id']}")
        assert response.status_code == 302
        assert "error" not in response.headers["location"]
        closed = await stream.until("LobbyUpdatedEvent", lambda e: e["lobby"]["status"] == "CLOSED")
        assert closed["lobby"]["id"] == lobby["id"]
        await stream.completes()

        # Closing again is refused by the service, and the panel says why.
        response = await http.get(f"/admin/lobby/action/close?pks={lobby['id']}")
        assert "This+lobby+is+closed" in response.headers["location"]
        listed = await http.get(response.headers["location"])
        assert "This lobby is closed" in listed.text

    entries = [(e["kind"], (e["actor"] or {}).get("id")) for e in await chat.log(users[sam], lobby["id"])]
    assert ("MESSAGE_DELETED", users[sam].id) in entries
    assert ("CLOSED", users[sam].id) in entries


async def test_lifting_a_ban_goes_through_unban(server: ServerProcess, chat: Chat) -> None:
    sam, olive, bob = unique_names("sam", "olive", "bob")
    users = await make_users(chat.gql, database_url(server), [sam, olive, bob], staff=[sam], premium=[olive])
    lobby = await chat.create_lobby(users[olive], "Strict")
    await chat.ban(users[olive], lobby["id"], users[bob], "spam")
    await chat.join(users[bob], lobby["id"], expect="BANNED")
    async with LiveClient(server.ws_url, users[olive]) as live, admin_client(server) as http:
        stream = await live.joined(lobby["id"])
        await logged_in(http, sam)
        listed = await http.get(f"/admin/lobby-ban/list?lobby_id={lobby['id']}")
        assert listed.status_code == 200
        ban_ids = re.findall(r'/admin/lobby-ban/details/(\d+)"', listed.text)
        assert len(set(ban_ids)) == 1
        response = await http.get(f"/admin/lobby-ban/action/lift?pks={ban_ids[0]}")
        assert response.status_code == 302
        assert "error" not in response.headers["location"]
        event = await stream.until("ModerationEvent", lambda e: e["action"] == "UNBAN")
        assert (event["actor"]["username"], event["target"]["username"]) == (sam, bob)
    await chat.join(users[bob], lobby["id"])


async def test_cross_site_changes_are_refused(server: ServerProcess, chat: Chat) -> None:
    sam, olive = unique_names("sam", "olive")
    users = await make_users(chat.gql, database_url(server), [sam, olive], staff=[sam], premium=[olive])
    lobby = await chat.create_lobby(users[olive], "Targeted")
    async with admin_client(server) as http:
        await logged_in(http, sam)
        # A link on another site that the staff member follows (the browser sends the cookie).
        response = await http.get(
            f"/admin/lobby/action/close?pks={lobby['id']}", headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert response.status_code == 403
        response = await http.post(
            f"/admin/user/edit/{users[olive].id}",
            data={"is_active": "y", "save": "Save"},
            headers={"Origin": "https://evil.example"},
        )
        assert response.status_code == 403
        # Reading is fine from anywhere; the same action from the panel itself works.
        assert (
            await http.get("/admin/lobby/list", headers={"Sec-Fetch-Site": "cross-site"})
        ).status_code == 200
        response = await http.get(
            f"/admin/lobby/action/close?pks={lobby['id']}", headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert response.status_code == 302
    assert (await chat.lobby(users[olive], lobby["id"]))["status"] == "CLOSED"
    me = (await chat.gql.data(ME, token=users[olive].token))["me"]
    assert me["isPremium"] is True  # the cross-site edit changed nothing


async def test_every_list_page_renders_with_demo_data(
    server: ServerProcess, chat: Chat, tmp_path: Path
) -> None:
    seeded = premiumchat("seed-demo", cwd=tmp_path, database_url=database_url(server))
    assert seeded.returncode == 0, seeded.stderr
    (sam,) = unique_names("sam")
    await make_users(chat.gql, database_url(server), [sam], staff=[sam])
    async with admin_client(server) as http:
        await logged_in(http, sam)
        index = await http.get("/admin/")
        assert index.status_code == 200
        for name in LIST_PAGES:
            response = await http.get(f"/admin/{name}/list")
            assert response.status_code == 200, name
            assert "argon2" not in response.text
        users = (await http.get("/admin/user/list?search=premium_user")).text
        assert "premium_user_1" in users
        assert "premium_user_2" in users
        assert "user_3" not in users
        lobbies = (await http.get("/admin/lobby/list")).text
        for name, owner in [("Friday Night Trivia", "premium_user_1"), ("Chess Club", "premium_user_2")]:
            assert name in lobbies
            assert owner in lobbies
        by_owner = (await http.get("/admin/lobby/list?search=premium_user_2")).text
        assert "Chess Club" in by_owner
        assert "Friday Night Trivia" not in by_owner
        by_sender = (await http.get("/admin/message/list?search=user_4")).text
        assert "Count me in" in by_sender
        assert "Ready when you are" not in by_sender
        messages = (await http.get("/admin/message/list?search=dungeon")).text
        assert "skips the second dungeon" in messages
        assert "Count me in" not in messages
        log = (await http.get("/admin/lobby-log-entry/list?kind=MODERATOR_ADDED")).text
        assert "<td>MODERATOR_ADDED</td>" in log
        assert "<td>JOINED</td>" not in log
        for page in (
            "/admin/user/list?is_premium=true&is_staff=false&is_active=true",
            "/admin/lobby/list?status=OPEN&is_public=false",
            "/admin/message/list?lobby_id=not-a-number&deleted=false",
            "/admin/lobby-log-entry/list?actor_id=1&page=999",
            "/admin/lobby/details/1",
            "/admin/user/details/1",
        ):
            response = await http.get(page)
            assert response.status_code in (200, 302), page
            if response.status_code == 302:  # a page past the end goes to the last page
                assert (await http.get(response.headers["location"])).status_code == 200
        # The generic create, edit and delete that would bypass the services are not there.
        for page in (
            "/admin/user/create",
            "/admin/lobby/create",
            "/admin/lobby/edit/1",
            "/admin/message/edit/1",
        ):
            assert (await http.get(page)).status_code == 403, page
        assert (await http.delete("/admin/lobby/delete?pks=1")).status_code == 403
        assert (await http.delete("/admin/user/delete?pks=1")).status_code == 403


async def test_a_demo_account_signs_in_to_the_api(server: ServerProcess, chat: Chat, tmp_path: Path) -> None:
    seeded = premiumchat("seed-demo", cwd=tmp_path, database_url=database_url(server))
    assert seeded.returncode == 0, seeded.stderr
    login = (
        'mutation { login(username: "premium_user_1", password: "testpass123") '
        "{ accessToken user { id isPremium } } }"
    )
    payload = (await chat.gql.data(login))["login"]
    assert payload["user"]["isPremium"] is True
    account = Account(payload["user"]["id"], "premium_user_1", payload["accessToken"])
    listed = await chat.lobbies(account, first=100)
    assert {"Friday Night Trivia", "Chess Club", "Speedrun Strategy"} <= {
        edge["node"]["name"] for edge in listed["edges"]
    }


async def test_login_attempts_are_limited_per_address(tmp_path: Path, fresh_database_url: str) -> None:
    server = ServerProcess(fresh_database_url, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
            (sam,) = unique_names("sam")
            await make_users(GraphQLClient(http), fresh_database_url, [sam], staff=[sam])
        async with admin_client(server) as http:
            for _ in range(LOGIN_ATTEMPTS - 1):
                assert (await log_in(http, sam, "guessing")).status_code == 400
            await logged_in(http, sam)  # the last attempt of the window
            http.cookies.clear()
            # Over the limit even the right password is refused, without a hint of why.
            response = await log_in(http, sam)
            assert response.status_code == 400
            assert "Invalid credentials" in response.text
    finally:
        server.stop()
