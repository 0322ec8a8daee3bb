"""`premiumchat seed-demo [--clear]`: the demo data, loaded twice the same, cleared without collateral."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from premiumchat.db.engine import create_engine
from tests.accounts import set_user_flags
from tests.extras import Extras as ModerationExtras
from tests.graphql import LOGIN, GraphQLClient
from tests.lobbies import JOIN_LOBBY, LOBBY, Account, Api
from tests.lobby_extras import Extras as LobbyExtras
from tests.realtime import Chat
from tests.servers import ServerProcess
from tests.test_cli import premiumchat

DEMO_USERS = ["premium_user_1", "premium_user_2", "user_1", "user_2", "user_3", "user_4", "user_5"]

# Everything the demo data is, by name rather than id (ids change when it is cleared and loaded again).
SNAPSHOT_QUERIES = {
    "users": "SELECT username, email, is_premium, is_staff, is_active FROM users ORDER BY username",
    "lobbies": """
        SELECT l.name, u.username, l.status, l.is_public, l.password_hash IS NOT NULL,
               l.max_participants, l.participant_count
        FROM lobbies l JOIN users u ON u.id = l.owner_id ORDER BY l.name""",
    "members": """
        SELECT l.name, u.username, m.role FROM lobby_members m
        JOIN lobbies l ON l.id = m.lobby_id JOIN users u ON u.id = m.user_id ORDER BY l.name, u.username""",
    "messages": """
        SELECT l.name, u.username, m.content, m.deleted, m.client_message_id FROM messages m
        JOIN lobbies l ON l.id = m.lobby_id JOIN users u ON u.id = m.sender_id ORDER BY m.id""",
    "log": """
        SELECT l.name, e.kind, a.username, t.username FROM lobby_log e JOIN lobbies l ON l.id = e.lobby_id
        LEFT JOIN users a ON a.id = e.actor_id LEFT JOIN users t ON t.id = e.target_id ORDER BY e.id""",
    "ids": """
        SELECT (SELECT count(*) FROM users), (SELECT max(id) FROM messages),
               (SELECT max(id) FROM lobbies), (SELECT count(*) FROM refresh_tokens)""",
}


async def snapshot(database_url: str, *, with_ids: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return {
                name: [tuple(row) for row in await connection.execute(text(query))]
                for name, query in SNAPSHOT_QUERIES.items()
                if with_ids or name != "ids"
            }
    finally:
        await engine.dispose()


def seed_demo(tmp_path: Path, database_url: str, *args: str) -> str:
    result = premiumchat("seed-demo", *args, cwd=tmp_path, database_url=database_url)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_seed_demo_loads_the_demo_data_once(tmp_path: Path, database_url: str) -> None:
    first = seed_demo(tmp_path, database_url)
    assert "7 users, 3 lobbies" in first
    loaded = await snapshot(database_url)

    assert [row[0] for row in loaded["users"]] == DEMO_USERS
    assert {row[0]: row[2] for row in loaded["users"]} == {
        name: name.startswith("premium") for name in DEMO_USERS
    }
    assert not any(row[3] for row in loaded["users"])  # nobody is staff
    lobbies = {row[0]: row for row in loaded["lobbies"]}
    assert len(lobbies) == 3
    members: dict[str, list[str]] = {}
    for lobby, username, _ in loaded["members"]:
        members.setdefault(lobby, []).append(username)
    for name, lobby in lobbies.items():
        assert lobby[2] == "OPEN"
        assert lobby[6] == len(members[name]) >= 3  # participant counts agree with the members
        assert {row[1] for row in loaded["messages"] if row[0] == name} <= set(members[name])
    assert sum(1 for row in loaded["members"] if row[2] == "MODERATOR") == 1
    assert any(not lobby[3] and lobby[4] for lobby in lobbies.values())  # a private lobby with a password
    assert len(loaded["messages"]) >= 9
    # The services wrote the log: a CREATED per lobby, a JOINED per member who joined.
    kinds = [row[1] for row in loaded["log"]]
    assert kinds.count("CREATED") == 3
    assert kinds.count("JOINED") == len(loaded["members"]) - 3
    assert kinds.count("MODERATOR_ADDED") == 1

    second = seed_demo(tmp_path, database_url)
    assert "0 users, 0 lobbies, 0 members and 0 messages" in second
    assert await snapshot(database_url) == loaded


async def test_seed_demo_clear_removes_only_the_demo_data(tmp_path: Path, database_url: str) -> None:
    seed_demo(tmp_path, database_url)
    demo = await snapshot(database_url, with_ids=False)
    server = ServerProcess(database_url, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            gql = GraphQLClient(http)
            chat = Chat(gql)
            payload = await gql.register("outsider")
            await set_user_flags(database_url, payload["user"]["id"], is_premium=True)
            outsider = Account(payload["user"]["id"], "outsider", payload["accessToken"])
            lobby = await chat.create_lobby(outsider, "Not a demo")
            staying = await chat.send(outsider, lobby["id"], "staying")
            login = (await gql.data(LOGIN, {"username": "user_1", "password": "testpass123"}))["login"]
            user_1 = Account(login["user"]["id"], "user_1", login["accessToken"])
            await chat.run(JOIN_LOBBY, {"lobbyId": lobby["id"]}, user_1)
            demo_message = await chat.send(user_1, lobby["id"], "a demo user was here")
            # Rows of the extras that tie the demo user to the outsider's lobby.
            extras, moderation = LobbyExtras(gql), ModerationExtras(gql)
            await extras.report(user_1, staying["id"])
            await extras.report(outsider, demo_message["id"])
            invite = await extras.create_invite(outsider, lobby["id"])
            await moderation.mute(outsider, lobby["id"], user_1)

            output = seed_demo(tmp_path, database_url, "--clear")
            assert "cleared: 7 users, 3 lobbies" in output

            after = await snapshot(database_url, with_ids=False)
            # The demo data came back as it was; the outsider's lobby lost only its demo member.
            for table in ("users", "lobbies", "members", "messages", "log"):
                rows = [row for row in after[table] if "outsider" not in row and "Not a demo" not in row]
                assert rows == demo[table], table
            assert [row for row in after["lobbies"] if row[0] == "Not a demo"] == [
                ("Not a demo", "outsider", "OPEN", True, False, 8, 1)
            ]
            assert [row[1:3] for row in after["messages"] if row[0] == "Not a demo"] == [
                ("outsider", "staying")
            ]
            # Entries naming a demo user (the mute, the reports) went with them.
            assert [row[1:] for row in after["log"] if row[0] == "Not a demo"] == [
                ("CREATED", "outsider", None),
                ("INVITE_CREATED", "outsider", None),
            ]
            # The outsider's lobby as the API shows it, and the new user_1 is someone else.
            shown = (await chat.run(LOBBY, {"id": lobby["id"]}, outsider))["lobby"]
            assert shown["participantCount"] == 1
            assert [member["user"]["username"] for member in shown["members"]] == ["outsider"]
            assert [row["code"] for row in await extras.invites(outsider, lobby["id"])] == [invite["code"]]
            assert await moderation.mutes(outsider, lobby["id"]) == []
            assert (await extras.reports(outsider, lobbyId=lobby["id"]))["edges"] == []
            again = (await gql.data(LOGIN, {"username": "user_1", "password": "testpass123"}))["login"]
            assert again["user"]["id"] != user_1.id
    finally:
        server.stop()


async def test_seed_demo_leaves_a_real_user_with_a_demo_name_alone(tmp_path: Path, database_url: str) -> None:
    server = ServerProcess(database_url, tmp_path).start()
    try:
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            gql = GraphQLClient(http)
            real = await gql.register("user_3", "someone.real@example.org")
            result = premiumchat("seed-demo", cwd=tmp_path, database_url=database_url)
            # user_3 is taken by a real account: the seed says so instead of taking it over.
            assert result.returncode != 0
            assert "'user_3' belongs to an account that is not demo data" in result.stderr
            assert "Traceback" not in result.stderr
            assert (await snapshot(database_url))["users"] == [
                ("user_3", "someone.real@example.org", False, False, True)
            ]
            premiumchat("seed-demo", "--clear", cwd=tmp_path, database_url=database_url)
            me = await Api(gql).run(
                "query { me { id username email } }",
                {},
                Account(real["user"]["id"], "user_3", real["accessToken"]),
            )
            assert me["me"] == {
                "id": real["user"]["id"],
                "username": "user_3",
                "email": "someone.real@example.org",
            }
    finally:
        server.stop()
