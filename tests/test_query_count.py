"""The lobby list costs a fixed number of SQL statements, whatever the page size (no N+1)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import event

from tests.graphql import GraphQLClient
from tests.lobbies import Account, Api, app_with, make_users

if TYPE_CHECKING:
    from premiumchat.resources import Resources

LIST_QUERY = """
query {
  lobbies(first: 50) {
    edges {
      node {
        owner { username } participantCount members { user { username } isReady } readyCount tags isLocked
      }
    }
  }
}
"""
MAX_STATEMENTS = 10
TRANSACTION_CONTROL = re.compile(r"\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


async def count_statements(
    gql: GraphQLClient, resources: Resources, viewer: Account, query: str = LIST_QUERY
) -> tuple[int, list[dict[str, Any]], list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statement: str = args[2]  # (connection, cursor, statement, parameters, context, executemany)
        # Transaction control is no query (and only SQLite sends it through the cursor).
        if not TRANSACTION_CONTROL.match(statement):
            statements.append(statement)

    engine = resources.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        data = await gql.data(query, token=viewer.token)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    nodes = [edge["node"] for edge in data["lobbies"]["edges"]]
    return len(statements), nodes, statements


async def create_lobbies(api: Api, owner: Account, members: list[Account], count: int, start: int) -> None:
    for i in range(start, start + count):
        lobby_id = (await api.create_lobby(owner, f"Lobby {i}"))["id"]
        await api.join_all(members, lobby_id)


async def test_listing_lobbies_does_not_grow_with_the_page(database_url: str) -> None:
    async with app_with(database_url, max_lobbies_per_owner=100) as (gql, resources):
        api = Api(gql)
        users = await make_users(
            gql, database_url, ["olive", "mia", "bob", "cat", "otto", "sam"], premium=["olive"], staff=["sam"]
        )
        owner, outsider, staff = users["olive"], users["otto"], users["sam"]
        members = [users["mia"], users["bob"], users["cat"]]
        viewers = {"owner": owner, "outsider": outsider, "staff": staff}

        await create_lobbies(api, owner, members, 5, 0)
        small = {}
        for name, viewer in viewers.items():
            await gql.data(LIST_QUERY, token=viewer.token)  # warm up whatever is cached per process
            count, nodes, statements = await count_statements(gql, resources, viewer)
            assert len(nodes) == 5
            small[name] = (count, statements)

        await create_lobbies(api, owner, members, 45, 5)
        for name, viewer in viewers.items():
            count, nodes, statements = await count_statements(gql, resources, viewer)
            assert len(nodes) == 50
            for node in nodes:
                assert node["owner"]["username"] == "olive"
                assert node["participantCount"] == 4
                assert (node["readyCount"], node["tags"], node["isLocked"]) == (0, [], False)
                usernames = sorted(member["user"]["username"] for member in node["members"])
                assert usernames == ([] if name == "outsider" else ["bob", "cat", "mia", "olive"])
            small_count, small_statements = small[name]
            assert count == small_count, (
                f"{name}: {small_count} statements for 5 lobbies but {count} for 50:\n"
                + "\n---\n".join(statements)
            )
            assert count <= MAX_STATEMENTS, f"{name}: {count} statements:\n" + "\n---\n".join(
                small_statements
            )


OWNERS_QUERY = "query { lobbies(first: 50) { edges { node { id name owner { id username } } } } }"


async def test_a_page_brings_its_owners_along(
    gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(gql, database_url, ["olive", "pat"], premium=["olive", "pat"])
    api = Api(gql)
    for name in ("olive", "pat"):
        await api.create_lobby(users[name], f"Lobby of {name}")
    await gql.data(OWNERS_QUERY, token=users["pat"].token)  # warm up whatever is cached per process
    count, nodes, statements = await count_statements(gql, resources, users["pat"], OWNERS_QUERY)
    assert sorted(node["owner"]["username"] for node in nodes) == ["olive", "pat"]
    # The caller's account, then the page with its owners joined: no batch of owners after it.
    assert count == 2, "\n---\n".join(statements)
