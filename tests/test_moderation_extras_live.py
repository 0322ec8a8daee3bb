"""The moderation extras as live subscribers see them, over real sockets to a real server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.databases import PostgresDatabases, SqliteDatabases
from tests.extras import EXTRAS_EVENTS, Extras
from tests.graphql import GraphQLClient
from tests.lobbies import Users, make_users
from tests.realtime import LiveClient, Stream, unique_names, until_live
from tests.servers import ServerProcess


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def roomy_server(
    request: pytest.FixtureRequest,
    sqlite_databases: SqliteDatabases,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[ServerProcess]:
    """A real server whose rate limit no test here reaches."""
    if request.param == "sqlite":
        url = asyncio.run(sqlite_databases.create())
    else:
        postgres: PostgresDatabases = request.getfixturevalue("postgres_databases")
        url = asyncio.run(postgres.create())
    process = ServerProcess(url, tmp_path_factory.mktemp("extras"), rate_limit_messages="1000").start()
    yield process
    process.stop()


@pytest.fixture
async def api(roomy_server: ServerProcess) -> AsyncIterator[Extras]:
    async with httpx.AsyncClient(base_url=roomy_server.http_url, timeout=30) as client:
        yield Extras(GraphQLClient(client))


async def lobby(api: Extras, server: ServerProcess) -> tuple[Users, str]:
    names = ["owner", "moderator", "member", "outsider"]
    real = dict(zip(names, unique_names(*names), strict=True))
    accounts = await make_users(
        api.gql, server.env["DATABASE_URL"], list(real.values()), premium=[real["owner"]]
    )
    users = {name: accounts[real[name]] for name in names}
    lobby_id = (await api.create_lobby(users["owner"], "Live extras"))["id"]
    await api.join_all([users["moderator"], users["member"]], lobby_id)
    await api.add_moderator(users["owner"], lobby_id, users["moderator"])
    return users, lobby_id


async def subscribed(client: LiveClient, lobby_id: str) -> Stream:
    stream = client.subscribe(EXTRAS_EVENTS, {"lobbyId": lobby_id})
    await stream.until("PresenceJoinEvent", lambda e: e["user"]["id"] == client.account.id)
    return stream


async def test_mute_and_unmute_reach_subscribers_and_the_muted_keep_listening(
    api: Extras, roomy_server: ServerProcess
) -> None:
    users, lobby_id = await lobby(api, roomy_server)
    owner, member, outsider = users["owner"], users["member"], users["outsider"]
    async with (
        LiveClient(roomy_server.ws_url, owner) as owner_client,
        LiveClient(roomy_server.ws_url, member) as member_client,
    ):
        watching = await subscribed(owner_client, lobby_id)
        muted_stream = await subscribed(member_client, lobby_id)
        mute = await api.mute(users["moderator"], lobby_id, member, "flooding", 300)
        for stream in (watching, muted_stream):
            event = await stream.until("ModerationEvent")
            assert (event["action"], event["actor"]["id"], event["target"]["id"]) == (
                "MUTE",
                users["moderator"].id,
                member.id,
            )
            assert (event["reason"], event["expiresAt"]) == ("flooding", mute["expiresAt"])
        # Muted, still subscribed: a new subscription is allowed too, and both keep receiving.
        second = member_client.subscribe(EXTRAS_EVENTS, {"lobbyId": lobby_id})
        await until_live(api, owner, lobby_id, second)  # a second tab gets no presence event of its own
        said = await api.send(owner, lobby_id, "the muted still read this")
        for stream in (muted_stream, second):
            await stream.until("ChatMessageEvent", lambda e: e["message"]["id"] == said["id"])
        await api.unmute(owner, lobby_id, member)
        for stream in (watching, muted_stream):
            event = await stream.until("ModerationEvent")
            assert (event["action"], event["target"]["id"], event["expiresAt"]) == ("UNMUTE", member.id, None)
        # A user muted before joining shows as muted in their MemberJoinedEvent.
        await api.mute(owner, lobby_id, outsider)
        await api.join(outsider, lobby_id)
        joined = await watching.until("MemberJoinedEvent")
        assert (joined["member"]["user"]["id"], joined["member"]["isMuted"]) == (outsider.id, True)
        assert joined["member"]["mutedUntil"] is None


async def test_edits_purges_and_blocked_messages_as_subscribers_see_them(
    api: Extras, roomy_server: ServerProcess
) -> None:
    users, lobby_id = await lobby(api, roomy_server)
    owner, moderator, member = users["owner"], users["moderator"], users["member"]
    async with (
        LiveClient(roomy_server.ws_url, owner) as owner_client,
        LiveClient(roomy_server.ws_url, member) as member_client,
    ):
        watching = await subscribed(owner_client, lobby_id)
        own = await subscribed(member_client, lobby_id)
        sent = [await api.send(member, lobby_id, f"spam {i}", f"c{i}") for i in range(3)]

        edited = await api.edit(member, sent[0]["id"], "spam 0, edited")
        for stream, client_id in ((watching, None), (own, "c0")):
            event = await stream.until("MessageEditedEvent")
            message = event["message"]
            assert (message["id"], message["content"], message["editedAt"]) == (
                sent[0]["id"],
                "spam 0, edited",
                edited["editedAt"],
            )
            assert message["clientMessageId"] == client_id

        # The moderator's blockedTerms change: the owner's stream sees the terms, the member's [].
        await api.update(moderator, lobby_id, blockedTerms=["forbidden"])
        assert (await watching.until("LobbyUpdatedEvent"))["lobby"]["blockedTerms"] == ["forbidden"]
        assert (await own.until("LobbyUpdatedEvent"))["lobby"]["blockedTerms"] == []
        await api.send(member, lobby_id, "a FORBIDDEN word", expect="MESSAGE_BLOCKED")
        await api.edit(member, sent[1]["id"], "forbidden!", expect="MESSAGE_BLOCKED")
        probe = await api.send(member, lobby_id, "allowed")
        # Nothing went out for the refused send and edit: the next event is the probe's.
        for stream in (watching, own):
            event = await stream.next()
            assert (event["__typename"], event["message"]["id"]) == ("ChatMessageEvent", probe["id"])

        assert await api.purge(moderator, lobby_id, member) == 4
        purged = await watching.until("MessagesPurgedEvent")
        expected_ids = [message["id"] for message in sent] + [probe["id"]]
        assert sorted(purged["messageIds"], key=int) == expected_ids
        assert (purged["user"]["id"], purged["purgedBy"]["id"]) == (member.id, moderator.id)
        after = await watching.next()
        assert (after["__typename"], after["action"], after["target"]["id"]) == (
            "ModerationEvent",
            "PURGE",
            member.id,
        )
        # One event for all of them, never one per message; the member's stream goes on.
        marker = await api.send(owner, lobby_id, "after the purge")
        await own.until("ChatMessageEvent", lambda e: e["message"]["id"] == marker["id"])
        await watching.until("ChatMessageEvent", lambda e: e["message"]["id"] == marker["id"])
        assert len(watching.of_type("MessagesPurgedEvent")) == 1
        assert len(own.of_type("MessagesPurgedEvent")) == 1
        assert not watching.of_type("MessageDeletedEvent")
