"""Two server processes on one PostgreSQL database and one Redis: one chat, one rate limit, one presence;
and a Redis restart under live subscriptions.

Each module gets a private redis-server: Redis pub/sub channels ignore the logical database, and lobby ids
of a fresh database start at 1, so a shared Redis would mix these lobbies with other runs' lobbies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.cluster import (
    Cluster,
    assert_internal,
    http_chat,
    live,
    live_both_ways,
    lobby_with,
    make_cluster,
    send_outcome,
)
from tests.databases import PostgresDatabases
from tests.graphql import ME
from tests.lobbies import Account, make_users
from tests.realtime import (
    SEND_MESSAGE,
    Chat,
    unique_names,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

RECOVERY_SECONDS = 30


@pytest.fixture(scope="module")
def cluster(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """On the default rate limit (3 messages per 2 s): keep every user under it unless under test."""
    cluster = make_cluster(postgres_databases, tmp_path_factory.mktemp("scale-out"))
    yield cluster
    cluster.stop()


@pytest.fixture
async def chats(cluster: Cluster) -> AsyncIterator[tuple[Chat, Chat]]:
    async with http_chat(cluster.a) as on_a, http_chat(cluster.b) as on_b:
        yield on_a, on_b


async def test_events_cross_processes(cluster: Cluster, chats: tuple[Chat, Chat]) -> None:
    chat_a, chat_b = chats
    users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob", "cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    async with live(cluster.a, ann) as on_a_client:
        on_a = await on_a_client.joined(lobby_id)
        async with live(cluster.b, bob) as on_b_client:
            on_b = await on_b_client.joined(lobby_id)
            await on_a.until_presence(bob.username)  # bob's presence, published by B, on A

            # Sent on B, received on A (and on B).
            message = await chat_b.send(cat, lobby_id, "from B", "cat-1")
            for stream in (on_a, on_b):
                event = await stream.until_message(message["id"])
                assert event["message"]["content"] == "from B"
                assert event["message"]["clientMessageId"] is None
            # Deleted on A, seen on B; typing on A, seen on B.
            await chat_a.delete(cat, message["id"])
            deleted = await on_b.until("MessageDeletedEvent")
            assert (deleted["messageId"], deleted["deletedBy"]["id"]) == (message["id"], cat.id)
            await chat_a.typing(ann, lobby_id, True)
            typing = await on_b.until("TypingEvent")
            assert (typing["user"]["id"], typing["isTyping"]) == (ann.id, True)

            # Both processes know who is online.
            for chat in chats:
                for viewer in (ann, cat):
                    assert await chat.online(viewer, lobby_id) == {ann.username, bob.username}
        # bob's socket on B closed: A hears of it, and both agree.
        await on_a.until_presence(bob.username, joined=False)
        for chat in chats:
            assert await chat.online(cat, lobby_id) == {ann.username}


async def test_kicks_and_closing_end_streams_on_the_other_process(
    cluster: Cluster, chats: tuple[Chat, Chat]
) -> None:
    chat_a, chat_b = chats
    users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    async with live(cluster.a, ann) as on_a_client, live(cluster.b, bob) as on_b_client:
        on_a = await on_a_client.joined(lobby_id)
        on_b = await on_b_client.joined(lobby_id)
        await chat_a.kick(ann, lobby_id, bob)  # acted on A, bob listens on B
        rest = await on_b.completes()
        assert rest, "no ModerationEvent before complete"
        assert (rest[-1]["__typename"], rest[-1]["action"], rest[-1]["target"]["id"]) == (
            "ModerationEvent",
            "KICK",
            bob.id,
        )
        assert (await on_b_client.execute(ME))["me"]["id"] == bob.id
        await on_a.until_presence(bob.username, joined=False)

        await chat_b.close(ann, lobby_id)  # closed on B, ann listens on A
        rest = await on_a.completes()
        assert rest, "no LobbyUpdatedEvent before complete"
        assert (rest[-1]["__typename"], rest[-1]["lobby"]["status"]) == ("LobbyUpdatedEvent", "CLOSED")


async def test_the_rate_limit_is_shared(cluster: Cluster, chats: tuple[Chat, Chat]) -> None:
    chat_a, chat_b = chats
    users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob"])
    bob = users["bob"]
    await chat_a.send(bob, lobby_id, "1 on A")
    await chat_b.send(bob, lobby_id, "2 on B")
    await chat_a.send(bob, lobby_id, "3 on A")
    error = await chat_b.send(bob, lobby_id, "4 on B", expect="RATE_LIMITED")
    retry_after = error["extensions"]["retryAfter"]
    assert 0 < retry_after <= 2, error
    await chat_a.send(bob, lobby_id, "4 on A", expect="RATE_LIMITED")
    await asyncio.sleep(retry_after + 0.05)
    await chat_a.send(bob, lobby_id, "4, later, on A")


async def test_one_client_id_across_processes_is_one_message(
    cluster: Cluster, chats: tuple[Chat, Chat]
) -> None:
    chat_a, chat_b = chats
    users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob"])
    bob = users["bob"]
    variables = {"lobbyId": lobby_id, "content": "once", "clientMessageId": "across"}
    bodies = await asyncio.gather(
        *(chat.gql.execute(SEND_MESSAGE, variables, bob.token) for chat in chats * 5)
    )
    assert [body.get("errors") for body in bodies] == [None] * 10, bodies
    assert len({body["data"]["sendMessage"]["id"] for body in bodies}) == 1
    assert len(await chat_b.history_ids(bob, lobby_id)) == 1
    # It cost one message of the shared limit.
    await chat_a.send(bob, lobby_id, "two")
    await chat_b.send(bob, lobby_id, "three")
    await chat_a.send(bob, lobby_id, "four", expect="RATE_LIMITED")


async def test_the_room_list_crosses_processes(cluster: Cluster, chats: tuple[Chat, Chat]) -> None:
    chat_a, chat_b = chats
    users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann"], others=["bob"])
    ann, bob = users["ann"], users["bob"]
    async with live(cluster.a, bob) as client:
        updates = client.lobby_list()
        for attempt in range(10):
            await chat_b.update(ann, lobby_id, name=f"Probe {attempt}")
            try:
                await updates.until("LobbyUpdatedEvent", lambda e: e["lobbyId"] == lobby_id, wait=1)
                break
            except (TimeoutError, AssertionError):
                continue
        else:
            pytest.fail("lobbyListUpdates never went live")
        created = await chat_b.create_lobby(ann, "Made on B")
        event = await updates.until("LobbyUpdatedEvent", lambda e: e["lobbyId"] == created["id"])
        assert (event["lobby"]["name"], event["lobby"]["status"]) == ("Made on B", "OPEN")


@pytest.fixture(scope="module")
def roomy_cluster(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    """With a rate limit no test reaches, for tests that send many messages."""
    cluster = make_cluster(
        postgres_databases, tmp_path_factory.mktemp("scale-out-roomy"), rate_limit_messages="10000"
    )
    yield cluster
    cluster.stop()


async def test_messages_sent_on_both_processes_arrive_everywhere_in_id_order(roomy_cluster: Cluster) -> None:
    cluster = roomy_cluster
    async with http_chat(cluster.a) as chat_a, http_chat(cluster.b) as chat_b:
        names = ["ann", "bob", "cat", "dan"]
        users, lobby_id = await lobby_with(chat_a, cluster.database_url, names)
        async with live(cluster.a, users["ann"]) as on_a, live(cluster.b, users["bob"]) as on_b:
            streams = [await on_a.joined(lobby_id), await on_b.joined(lobby_id)]

            async def send_all(chat: Chat, sender: Account) -> list[str]:
                return [
                    (await chat.send(sender, lobby_id, f"{sender.username} {i}"))["id"] for i in range(25)
                ]

            batches = await asyncio.gather(
                send_all(chat_a, users["ann"]),
                send_all(chat_b, users["bob"]),
                send_all(chat_a, users["cat"]),
                send_all(chat_b, users["dan"]),
            )
            sent = sorted((i for batch in batches for i in batch), key=int)
            orders = [await stream.message_ids(len(sent), wait=20) for stream in streams]
            for received in orders:
                missing = sorted(set(sent) - set(received), key=int)
                assert (missing, len(received)) == ([], len(sent)), received
            assert orders[0] == orders[1], "the two processes delivered different orders"
            assert orders[0] == sent, "events arrived out of id order"


async def test_a_replay_while_both_processes_take_messages_has_no_gap_and_no_duplicate(
    roomy_cluster: Cluster,
) -> None:
    cluster = roomy_cluster
    async with http_chat(cluster.a) as chat_a, http_chat(cluster.b) as chat_b:
        users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob", "cat"])
        ann, bob, cat = users["ann"], users["bob"], users["cat"]
        async with live(cluster.a, bob) as client:
            for round_number in range(3):
                anchor = await chat_a.send(ann, lobby_id, f"anchor {round_number}")
                sent: list[str] = []

                async def send_continuously(chat: Chat, sender: Account, sent: list[str] = sent) -> None:
                    for i in range(12):
                        sent.append((await chat.send(sender, lobby_id, f"{sender.username} {i}"))["id"])
                        await asyncio.sleep(0.005)

                senders = [
                    asyncio.create_task(send_continuously(chat_a, ann)),
                    asyncio.create_task(send_continuously(chat_b, cat)),
                ]
                try:
                    for _ in range(1000):
                        if len(sent) >= 3 or all(task.done() for task in senders):
                            break
                        await asyncio.sleep(0.005)
                    stream = client.lobby_events(lobby_id, anchor["id"])
                    await asyncio.wait_for(asyncio.gather(*senders), 30)
                finally:
                    for task in senders:
                        task.cancel()
                received = await stream.message_ids(len(sent))
                missing = sorted(set(sent) - set(received), key=int)
                duplicates = sorted({i for i in received if received.count(i) > 1}, key=int)
                assert (missing, duplicates) == ([], []), (round_number, received)
                assert received == sorted(sent, key=int), (round_number, "not in id order", received)
                [completed] = stream.of_type("ReplayCompletedEvent")
                assert completed["replayedCount"] == stream.events.index(completed)
                await stream.stop()


# --- Redis restarts -------------------------------------------------------------------------------


@pytest.fixture
def restartable(postgres_databases: PostgresDatabases, tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of its own, on a Redis this test may kill, with a rate limit out of the way."""
    cluster = make_cluster(postgres_databases, tmp_path, rate_limit_messages="1000")
    yield cluster
    cluster.stop()


async def test_a_redis_restart_ends_live_streams_with_an_error_and_since_recovers_everything(
    restartable: Cluster,
) -> None:
    cluster = restartable
    async with http_chat(cluster.a) as chat_a, http_chat(cluster.b) as chat_b:
        chats = (chat_a, chat_b)
        users, lobby_id = await lobby_with(chat_a, cluster.database_url, ["ann", "bob"])
        ann, bob = users["ann"], users["bob"]
        probe_id = (await chat_a.create_lobby(ann, "Probe"))["id"]
        probe_anchor = (await chat_a.send(ann, probe_id, "anchor"))["id"]

        async with live(cluster.a, ann) as client:
            stream = await client.joined(lobby_id)
            first = await chat_b.send(bob, lobby_id, "before the outage")
            await stream.until_message(first["id"])
            last_seen = first["id"]

            cluster.redis.kill()
            # The live stream ends with an error that says how to catch up, not in silence.
            _, errors = await stream.fails(wait=20)
            assert "since" in errors[0]["message"], errors
            assert_internal(errors, cluster.redis)

            # During the outage: a send is stored or refused cleanly, never left hanging;
            # a new subscription is refused rather than left deaf.
            outcomes = [await send_outcome(chat_b, bob, lobby_id, f"during the outage {i}") for i in range(2)]
            stored = [body["data"]["sendMessage"]["id"] for body in outcomes if not body.get("errors")]
            try:
                _, errors = await client.lobby_events(lobby_id).fails(wait=15)
            except (TimeoutError, AssertionError) as failure:
                pytest.fail(f"a subscription during the outage was not refused: {failure!r}")
            assert_internal(errors, cluster.redis)

            await asyncio.to_thread(cluster.redis.start)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + RECOVERY_SECONDS
            while not await live_both_ways(cluster, chats, probe_id, probe_anchor, ann):
                assert loop.time() < deadline, f"not live again {RECOVERY_SECONDS} s after Redis came back"
                await asyncio.sleep(0.5)

            # Everything stored after the last message seen comes back, in order, then live again.
            history = await chat_a.history_ids(ann, lobby_id)
            missed = history[history.index(last_seen) + 1 :]
            assert all(message_id in missed for message_id in stored), (stored, missed)
            assert len(missed) == len(stored), ("a refused send was stored anyway", outcomes, missed)
            resumed = client.lobby_events(lobby_id, since=last_seen)
            completed = await resumed.until("ReplayCompletedEvent")
            assert (completed["recovered"], completed["replayedCount"]) == (True, len(missed))
            assert resumed.chat_message_ids() == missed
            after = await chat_b.send(bob, lobby_id, "after the outage")
            await resumed.until_message(after["id"])
            assert resumed.chat_message_ids() == [*missed, after["id"]]


async def test_deactivation_on_one_process_closes_the_socket_on_the_other(
    cluster: Cluster, chats: tuple[Chat, Chat]
) -> None:
    from tests.wsclient import TRANSPORT_WS, RawSocket

    on_a, _ = chats
    admin, user = unique_names("admin", "victim")
    users = await make_users(on_a.gql, cluster.database_url, [admin, user], staff=[admin])
    socket = await RawSocket.open(cluster.b.ws_url, TRANSPORT_WS)
    assert (await socket.init({"authorization": f"Bearer {users[user].token}"}))["type"] == "connection_ack"
    deactivate = "mutation($u: ID!) { setUserActive(userId: $u, isActive: false) { id } }"
    await on_a.gql.data(deactivate, {"u": users[user].id}, token=users[admin].token)
    assert await socket.close_code() == 4403


@pytest.fixture(scope="module")
def capped_cluster(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    cluster = make_cluster(
        postgres_databases, tmp_path_factory.mktemp("capped"), max_connections_per_user="2"
    )
    yield cluster
    cluster.stop()


async def test_the_per_user_socket_limit_holds_across_processes(capped_cluster: Cluster) -> None:
    from tests.wsclient import LEGACY_WS, TRANSPORT_WS, RawSocket

    async with http_chat(capped_cluster.a) as on_a:
        (name,) = unique_names("capped")
        users = await make_users(on_a.gql, capped_cluster.database_url, [name])
    payload = {"authorization": f"Bearer {users[name].token}"}
    on_a_socket = await RawSocket.open(capped_cluster.a.ws_url, TRANSPORT_WS)
    on_b_socket = await RawSocket.open(capped_cluster.b.ws_url, LEGACY_WS)
    for socket in (on_a_socket, on_b_socket):
        assert (await socket.init(payload))["type"] == "connection_ack"
    over = await RawSocket.open(capped_cluster.a.ws_url, TRANSPORT_WS)
    await over.send({"type": "connection_init", "payload": payload})
    assert await over.close_code() == 4429
    await on_b_socket.close()
    await asyncio.sleep(0.3)  # process B notices the close and releases its slot
    again = await RawSocket.open(capped_cluster.a.ws_url, TRANSPORT_WS)
    assert (await again.init(payload))["type"] == "connection_ack"
    await again.close()
    await on_a_socket.close()
