"""Live events over real sockets to a real server: lobbyEvents, presence, typing, replay, the room list."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.graphql import ME, GraphQLClient
from tests.lobbies import Account, Users, fresh_database, make_users, parse_time
from tests.realtime import (
    LOBBY_EVENTS,
    PROTOCOLS,
    SEND_MESSAGE,
    Chat,
    LiveClient,
    recent,
    seconds_between,
    unique_names,
    until_live,
)
from tests.servers import ServerProcess
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, RawSocket

REPLAY_MAX = 20
TYPING_TTL = 6


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def chat_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """One server per module and database, with a rate limit no test here reaches and a small replay cap."""
    process = ServerProcess(
        fresh_database(request),
        tmp_path_factory.mktemp("chat-server"),
        rate_limit_messages="10000",
        replay_max_messages=str(REPLAY_MAX),
        typing_ttl_seconds=str(TYPING_TTL),
    ).start()
    yield process
    process.stop()


@pytest.fixture
async def chat(chat_server: ServerProcess) -> AsyncIterator[Chat]:
    async with httpx.AsyncClient(base_url=chat_server.http_url, timeout=30) as client:
        yield Chat(GraphQLClient(client))


async def lobby_with(
    chat: Chat,
    server: ServerProcess,
    members: list[str],
    others: list[str] | None = None,
    staff: list[str] | None = None,
    *,
    public: bool = True,
) -> tuple[Users, str]:
    """Fresh accounts under short names: the first member owns a new lobby, the others joined it;
    `others` are outsiders, `staff` staff who are not members."""
    others, staff = others or [], staff or []
    everyone = members + others + staff
    real = dict(zip(everyone, unique_names(*everyone), strict=True))
    accounts = await make_users(
        chat.gql,
        server.env["DATABASE_URL"],
        list(real.values()),
        premium=[real[members[0]]],
        staff=[real[name] for name in staff],
    )
    users = {name: accounts[real[name]] for name in everyone}
    lobby_id = (await chat.create_lobby(users[members[0]], "Live", isPublic=public))["id"]
    for name in members[1:]:
        await chat.join(users[name], lobby_id)
    return users, lobby_id


def live(server: ServerProcess, account: Account, protocol: str = TRANSPORT_WS) -> LiveClient:
    return LiveClient(server.ws_url, account, protocol)


def message_ids(events: list[dict[str, Any]]) -> list[str]:
    return [event["message"]["id"] for event in events if event["__typename"] == "ChatMessageEvent"]


def usernames_in(events: list[dict[str, Any]], typename: str) -> list[str]:
    return [event["user"]["username"] for event in events if event["__typename"] == typename]


def error_code(errors: list[dict[str, Any]]) -> str:
    code: str = errors[0]["extensions"]["code"]
    return code


# --- messages -------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_messages_reach_every_subscriber_with_the_client_id_for_the_sender_only(
    chat: Chat, chat_server: ServerProcess, protocol: str
) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob", "cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    async with live(chat_server, ann, protocol) as a, live(chat_server, bob, protocol) as b:
        on_a = await a.joined(lobby_id)
        on_b = await b.joined(lobby_id)
        await on_a.until_presence(bob.username)

        # Sent over the socket itself, with a client id.
        before = datetime.now(UTC)
        variables = {"lobbyId": lobby_id, "content": " over the socket ", "clientMessageId": "c-1"}
        sent = (await b.execute(SEND_MESSAGE, variables))["sendMessage"]
        assert sent["clientMessageId"] == "c-1"
        for stream, client_id in ((on_b, "c-1"), (on_a, None)):
            event = await stream.until_message(sent["id"])
            assert event["lobbyId"] == lobby_id
            assert recent(event["occurredAt"], before, slack=10), event
            message = event["message"]
            assert message["content"] == "over the socket"
            assert message["sender"] == {"id": bob.id, "username": bob.username}
            assert message["deleted"] is False
            assert message["lobbyId"] == lobby_id
            assert message["createdAt"] == sent["createdAt"]
            assert message["clientMessageId"] == client_id

        # Over HTTP, from someone not subscribed.
        by_cat = await chat.send(cat, lobby_id, "from http", "cat-1")
        for stream in (on_a, on_b):
            event = await stream.until_message(by_cat["id"])
            assert event["message"]["clientMessageId"] is None

        # A retry is no new message and no new event.
        again = (await b.execute(SEND_MESSAGE, {**variables, "content": "retry"}))["sendMessage"]
        assert again["id"] == sent["id"]
        after = await chat.send(cat, lobby_id, "after the retry")
        for stream in (on_a, on_b):
            assert (await stream.until("ChatMessageEvent"))["message"]["id"] == after["id"]
            assert message_ids(stream.events) == [sent["id"], by_cat["id"], after["id"]]


async def test_an_event_comes_after_its_commit(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    async with live(chat_server, ann) as a:
        on_a = await a.joined(lobby_id)
        for i in range(3):
            sending = asyncio.create_task(chat.send(bob, lobby_id, f"committed {i}"))
            try:
                event = await on_a.until("ChatMessageEvent")
                # Read at once, maybe before the sender has its answer: the message is there.
                assert event["message"]["id"] in await chat.history_ids(ann, lobby_id)
            finally:
                sent = await sending
            assert sent["id"] == event["message"]["id"]


async def test_a_deletion_is_an_event_once(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    async with live(chat_server, ann) as a, live(chat_server, bob) as b:
        on_a = await a.joined(lobby_id)
        on_b = await b.joined(lobby_id)
        message = await chat.send(bob, lobby_id, "regrettable")
        await chat.delete(ann, message["id"])
        for stream in (on_a, on_b):
            event = await stream.until("MessageDeletedEvent")
            assert event["lobbyId"] == lobby_id
            assert event["messageId"] == message["id"]
            assert event["deletedBy"] == {"id": ann.id, "username": ann.username}
        # Deleting it again sends nothing.
        await chat.delete(bob, message["id"])
        await until_live(chat, ann, lobby_id, on_a, on_b)
        for stream in (on_a, on_b):
            assert len(stream.of_type("MessageDeletedEvent")) == 1


# --- refused subscriptions ------------------------------------------------------------------------


async def raw_socket(server: ServerProcess, account: Account, protocol: str) -> RawSocket:
    socket = await RawSocket.open(server.ws_url, protocol)
    assert (await socket.init({"authorization": f"Bearer {account.token}"}))["type"] == "connection_ack"
    return socket


def refusal(messages: list[dict[str, Any]], protocol: str, operation_id: str) -> dict[str, Any]:
    """The one GraphQL error of a refused subscription, checked against the protocol's shape."""
    if protocol == TRANSPORT_WS:
        [message] = messages
        assert message["type"] == "error", messages
        assert message["id"] == operation_id
        assert isinstance(message["payload"], list), message
        error: dict[str, Any] = message["payload"][0]
        return error
    assert [m["type"] for m in messages] == ["data", "complete"], messages
    assert all(m["id"] == operation_id for m in messages)
    assert messages[0]["payload"].get("data") is None, messages
    [error] = messages[0]["payload"]["errors"]
    return error


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_refused_subscriptions_end_with_their_code_and_the_socket_goes_on(
    chat: Chat, chat_server: ServerProcess, protocol: str
) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], others=["cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    private_id = (await chat.create_lobby(ann, "Private", isPublic=False))["id"]
    closed_id = (await chat.create_lobby(ann, "Closed"))["id"]
    await chat.close(ann, closed_id)
    elsewhere = (await chat.create_lobby(ann, "Elsewhere"))["id"]
    foreign = (await chat.send(ann, elsewhere, "not of this lobby"))["id"]

    cases: list[tuple[Account, str, str | None, str, str | None]] = [
        (cat, lobby_id, None, "FORBIDDEN", None),
        (cat, private_id, None, "NOT_FOUND", None),
        (bob, "999999", None, "NOT_FOUND", None),
        (bob, "abc", None, "BAD_USER_INPUT", "lobbyId"),
        (ann, closed_id, None, "LOBBY_NOT_OPEN", None),
        (bob, lobby_id, foreign, "BAD_USER_INPUT", "since"),
        (bob, lobby_id, "999999", "BAD_USER_INPUT", "since"),
        (bob, lobby_id, "not a cursor", "BAD_USER_INPUT", "since"),
    ]
    sockets: dict[str, RawSocket] = {}
    try:
        for number, (user, target, since, code, field) in enumerate(cases, start=1):
            if user.id not in sockets:
                sockets[user.id] = await raw_socket(chat_server, user, protocol)
            socket = sockets[user.id]
            operation_id = str(number)
            messages = await socket.run(operation_id, LOBBY_EVENTS, {"lobbyId": target, "since": since})
            error = refusal(messages, protocol, operation_id)
            assert error["extensions"]["code"] == code, (target, since, error)
            if field is not None:
                assert error["extensions"]["field"] == field, error
            # The socket goes on: it still answers.
            answer = await socket.run(f"{number}-me", ME)
            assert answer[0]["payload"]["data"]["me"]["id"] == user.id, answer
    finally:
        for socket in sockets.values():
            await socket.close()


# --- presence ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_presence_follows_the_first_and_the_last_subscription(
    chat: Chat, chat_server: ServerProcess, protocol: str
) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], others=["cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    assert await chat.online(ann, lobby_id) == set()
    async with AsyncExitStack() as stack, live(chat_server, ann, protocol) as a:
        on_a = await a.joined(lobby_id)
        assert await chat.online(ann, lobby_id) == {ann.username}

        first_tab = live(chat_server, bob, protocol)
        await stack.enter_async_context(first_tab)
        await first_tab.joined(lobby_id)
        joined = await on_a.until_presence(bob.username)
        assert joined["lobbyId"] == lobby_id
        for viewer in (ann, bob):
            assert await chat.online(viewer, lobby_id) == {ann.username, bob.username}
        assert await chat.online(cat, lobby_id) == set()  # not a member

        # A second tab is no news.
        async with live(chat_server, bob, protocol) as second_tab:
            on_second = second_tab.lobby_events(lobby_id)
            mark = len(on_a.events)
            await until_live(chat, ann, lobby_id, on_second, on_a)
            assert usernames_in(on_a.events[mark:], "PresenceJoinEvent") == []

            # Closing the first tab's socket is no news either: bob is still there.
            await first_tab.close()
            await asyncio.sleep(0.3)
            await until_live(chat, ann, lobby_id, on_a)
            assert usernames_in(on_a.events[mark:], "PresenceLeaveEvent") == []
            assert await chat.online(ann, lobby_id) == {ann.username, bob.username}

            # The last one ending (a client `complete`) is.
            await on_second.stop()
            left = await on_a.until_presence(bob.username, joined=False)
            assert left["lobbyId"] == lobby_id
            assert await chat.online(ann, lobby_id) == {ann.username}

        # Back again, then the socket closes: that ends it too.
        async with live(chat_server, bob, protocol) as again:
            await again.joined(lobby_id)
            await on_a.until_presence(bob.username)
        await on_a.until_presence(bob.username, joined=False)
        assert await chat.online(ann, lobby_id) == {ann.username}
        assert usernames_in(on_a.events, "PresenceJoinEvent") == [ann.username, bob.username, bob.username]
        assert usernames_in(on_a.events, "PresenceLeaveEvent") == [bob.username, bob.username]
    # Nobody left.
    for _ in range(50):
        if await chat.online(bob, lobby_id) == set():
            break
        await asyncio.sleep(0.1)
    assert await chat.online(bob, lobby_id) == set()


async def test_staff_watch_invisibly(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], staff=["sam"], public=False)
    ann, bob, sam = users["ann"], users["bob"], users["sam"]
    async with live(chat_server, ann) as a:
        on_a = await a.joined(lobby_id)
        async with live(chat_server, sam) as s:
            on_sam = s.lobby_events(lobby_id)
            await until_live(chat, ann, lobby_id, on_sam, on_a)
            message = await chat.send(bob, lobby_id, "hello, whoever reads this")
            await on_sam.until_message(message["id"])
            await on_a.until_message(message["id"])
            assert await chat.online(ann, lobby_id) == {ann.username}
            assert await chat.online(sam, lobby_id) == {ann.username}
            # Staff may type: that is visible.
            await chat.typing(sam, lobby_id, True)
            await on_a.until("TypingEvent", lambda e: e["user"]["id"] == sam.id)
        await asyncio.sleep(0.3)
        await until_live(chat, ann, lobby_id, on_a)
        assert sam.username not in usernames_in(on_a.events, "PresenceJoinEvent")
        assert usernames_in(on_a.events, "PresenceLeaveEvent") == []


# --- how subscriptions end --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("action", ["KICK", "BAN"])
async def test_a_kicked_or_banned_subscriber_gets_the_event_then_complete(
    chat: Chat, chat_server: ServerProcess, protocol: str, action: str
) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    async with live(chat_server, ann, protocol) as a, live(chat_server, bob, protocol) as b:
        on_a = await a.joined(lobby_id)
        on_b = await b.joined(lobby_id)
        await on_a.until_presence(bob.username)
        before = datetime.now(UTC)
        if action == "KICK":
            await chat.kick(ann, lobby_id, bob, "spam")
        else:
            await chat.ban(ann, lobby_id, bob, "spam", 600)

        rest = await on_b.completes()
        assert rest, "no ModerationEvent before complete"
        last = rest[-1]
        assert last["__typename"] == "ModerationEvent", rest
        assert last["action"] == action
        assert last["target"]["id"] == bob.id
        assert last["actor"]["id"] == ann.id
        assert last["reason"] == "spam"
        if action == "BAN":
            assert 590 < (parse_time(last["expiresAt"]) - before).total_seconds() < 660, last
        # The socket stays open.
        assert (await b.execute(ME))["me"]["id"] == bob.id

        event = await on_a.until("ModerationEvent")
        assert (event["action"], event["target"]["id"]) == (action, bob.id)
        await on_a.until_presence(bob.username, joined=False)
        assert await chat.online(ann, lobby_id) == {ann.username}

        # Out is out: subscribing again is refused.
        _, errors = await b.lobby_events(lobby_id).fails()
        assert error_code(errors) == "FORBIDDEN", errors


async def test_moderation_events_reach_every_subscriber(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], others=["cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    async with live(chat_server, ann) as a, live(chat_server, bob) as b:
        on_a = await a.joined(lobby_id)
        on_b = await b.joined(lobby_id)
        await chat.ban(ann, lobby_id, cat, "keep out")  # not a member: allowed, to keep them out
        await chat.unban(ann, lobby_id, cat)
        await chat.add_moderator(ann, lobby_id, bob)
        await chat.remove_moderator(ann, lobby_id, bob)
        expected = [
            ("BAN", cat.id, "keep out"),
            ("UNBAN", cat.id, None),
            ("MODERATOR_ADDED", bob.id, None),
            ("MODERATOR_REMOVED", bob.id, None),
        ]
        for stream in (on_a, on_b):
            seen = []
            for _ in expected:
                event = await stream.until("ModerationEvent")
                assert event["actor"]["id"] == ann.id
                assert event["lobbyId"] == lobby_id
                seen.append((event["action"], event["target"]["id"], event["reason"]))
            assert seen == expected
        # bob's stream goes on.
        message = await chat.send(ann, lobby_id, "still with us?")
        await on_b.until_message(message["id"])


async def test_joining_and_leaving_are_events_and_leaving_ends_the_leaver_s_stream(
    chat: Chat, chat_server: ServerProcess
) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], others=["cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    async with live(chat_server, ann) as a, live(chat_server, bob) as b:
        on_a = await a.joined(lobby_id)
        on_b = await b.joined(lobby_id)
        await chat.join(cat, lobby_id)
        for stream in (on_a, on_b):
            event = await stream.until("MemberJoinedEvent")
            assert event["member"]["user"]["id"] == cat.id
            assert event["member"]["role"] == "MEMBER"
            parse_time(event["member"]["joinedAt"])

        await chat.leave(bob, lobby_id)
        rest = await on_b.completes()
        assert rest, "no MemberLeftEvent before complete"
        assert rest[-1]["__typename"] == "MemberLeftEvent", rest
        assert rest[-1]["user"]["id"] == bob.id
        assert (await b.execute(ME))["me"]["id"] == bob.id  # the socket stays open

        left = await on_a.until("MemberLeftEvent")
        assert left["user"]["id"] == bob.id
        await on_a.until_presence(bob.username, joined=False)
        assert await chat.online(ann, lobby_id) == {ann.username}


async def test_lobby_changes_reach_subscribers(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    async with live(chat_server, bob) as b:
        on_b = await b.joined(lobby_id)
        await chat.start(ann, lobby_id)
        await chat.end(ann, lobby_id)
        await chat.update(ann, lobby_id, name="Renamed")
        seen = []
        for _ in range(3):
            event = await on_b.until("LobbyUpdatedEvent")
            assert event["lobbyId"] == lobby_id
            seen.append((event["lobby"]["status"], event["lobby"]["name"]))
        assert seen == [("IN_GAME", "Live"), ("OPEN", "Live"), ("OPEN", "Renamed")]


async def test_closing_the_lobby_completes_every_subscription(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], staff=["sam"])
    ann, bob, sam = users["ann"], users["bob"], users["sam"]
    async with live(chat_server, ann) as a, live(chat_server, bob) as b, live(chat_server, sam) as s:
        on_a = await a.joined(lobby_id)
        on_b = await b.joined(lobby_id)
        on_sam = s.lobby_events(lobby_id)
        await until_live(chat, ann, lobby_id, on_sam, on_a, on_b)
        await chat.close(ann, lobby_id)
        for stream in (on_a, on_b, on_sam):
            rest = await stream.completes()
            assert rest, "no LobbyUpdatedEvent before complete"
            last = rest[-1]
            assert last["__typename"] == "LobbyUpdatedEvent", rest
            assert last["lobby"]["id"] == lobby_id
            assert last["lobby"]["status"] == "CLOSED"
        # A closed lobby takes no new subscription; the sockets still work.
        _, errors = await a.lobby_events(lobby_id).fails()
        assert error_code(errors) == "LOBBY_NOT_OPEN", errors
        assert (await s.execute(ME))["me"]["id"] == sam.id


# --- typing ---------------------------------------------------------------------------------------


async def test_typing_events(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], staff=["sam"])
    ann, bob, sam = users["ann"], users["bob"], users["sam"]
    async with live(chat_server, ann) as a, live(chat_server, bob) as b:
        on_a = await a.joined(lobby_id)
        await b.joined(lobby_id)
        await on_a.until_presence(bob.username)

        await chat.typing(bob, lobby_id, True)
        typing = await on_a.next()
        assert typing["__typename"] == "TypingEvent", typing
        assert typing["lobbyId"] == lobby_id
        assert typing["user"]["id"] == bob.id
        assert typing["isTyping"] is True
        assert seconds_between(typing["occurredAt"], typing["expiresAt"]) == pytest.approx(TYPING_TTL, abs=1)

        # A renewal is an event too, and pushes expiresAt on.
        await asyncio.sleep(0.5)
        await chat.typing(bob, lobby_id, True)
        renewed = await on_a.next()
        assert renewed["__typename"] == "TypingEvent", renewed
        assert renewed["isTyping"] is True
        assert parse_time(renewed["expiresAt"]) > parse_time(typing["expiresAt"])
        assert seconds_between(renewed["occurredAt"], renewed["expiresAt"]) == pytest.approx(
            TYPING_TTL, abs=1
        )

        # Sending ends the typing: the message first, then isTyping false.
        message = await chat.send(bob, lobby_id, "done typing")
        chat_event, stopped = await on_a.take(2)
        assert chat_event["__typename"] == "ChatMessageEvent", chat_event
        assert chat_event["message"]["id"] == message["id"]
        assert stopped["__typename"] == "TypingEvent", stopped
        assert (stopped["user"]["id"], stopped["isTyping"], stopped["expiresAt"]) == (bob.id, False, None)

        # Not typing: a message alone.
        second = await chat.send(bob, lobby_id, "not typing")
        assert (await on_a.next())["message"]["id"] == second["id"]
        await on_a.quiet()

        # Every call is an event, false included; staff who are not members type too.
        await chat.typing(bob, lobby_id, False)
        explicit = await on_a.next()
        assert (explicit["__typename"], explicit["isTyping"], explicit["expiresAt"]) == (
            "TypingEvent",
            False,
            None,
        )
        await chat.typing(sam, lobby_id, True)
        by_staff = await on_a.next()
        assert (by_staff["__typename"], by_staff["user"]["id"], by_staff["isTyping"]) == (
            "TypingEvent",
            sam.id,
            True,
        )


# --- replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("anchor", ["id", "cursor"])
async def test_since_replays_what_was_missed_then_goes_live(
    chat: Chat, chat_server: ServerProcess, anchor: str
) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"], staff=["sam"])
    ann, bob, sam = users["ann"], users["bob"], users["sam"]
    sent = [await chat.send(bob, lobby_id, f"m{i}", f"c{i}") for i in range(1, 6)]
    await chat.delete(ann, sent[2]["id"])
    if anchor == "id":
        since = sent[1]["id"]
    else:
        edges = (await chat.history(bob, lobby_id))["edges"]
        [since] = [edge["cursor"] for edge in edges if edge["node"]["id"] == sent[1]["id"]]
    missed = [m["id"] for m in sent[2:]]

    async with live(chat_server, bob) as b, live(chat_server, ann) as a, live(chat_server, sam) as s:
        streams = {"bob": b.lobby_events(lobby_id, since), "ann": a.lobby_events(lobby_id, since)}
        streams["sam"] = s.lobby_events(lobby_id, since)  # staff, not a member
        for name, stream in streams.items():
            first = await stream.take(len(missed) + 1)
            replayed, completed = first[:-1], first[-1]
            assert [e["__typename"] for e in replayed] == ["ChatMessageEvent"] * len(missed), (name, first)
            assert message_ids(replayed) == missed, name
            assert [(e["message"]["deleted"], e["message"]["content"]) for e in replayed] == [
                (True, ""),
                (False, "m4"),
                (False, "m5"),
            ], name
            own = name == "bob"
            assert [e["message"]["clientMessageId"] for e in replayed] == (
                ["c3", "c4", "c5"] if own else [None, None, None]
            ), name
            assert all(e["lobbyId"] == lobby_id for e in replayed)
            assert completed["__typename"] == "ReplayCompletedEvent", (name, first)
            assert (completed["recovered"], completed["replayedCount"]) == (True, 3), name
            assert completed["lobbyId"] == lobby_id

        live_message = await chat.send(ann, lobby_id, "live")
        for name, stream in streams.items():
            await stream.until_message(live_message["id"])
            assert message_ids(stream.events) == [*missed, live_message["id"]], name
            assert len(stream.of_type("ReplayCompletedEvent")) == 1, name


async def test_nothing_missed_and_no_since(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    newest = await chat.send(ann, lobby_id, "newest")
    async with live(chat_server, bob) as b, live(chat_server, ann) as a:
        caught_up = b.lobby_events(lobby_id, newest["id"])
        first = await caught_up.next()
        assert first["__typename"] == "ReplayCompletedEvent", first
        assert (first["recovered"], first["replayedCount"]) == (True, 0)

        without = await a.joined(lobby_id)
        message = await chat.send(bob, lobby_id, "live")
        for stream in (caught_up, without):
            await stream.until_message(message["id"])
        assert without.of_type("ReplayCompletedEvent") == []
        assert len(caught_up.of_type("ReplayCompletedEvent")) == 1


async def test_replay_stops_beyond_replay_max_messages(chat: Chat, chat_server: ServerProcess) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    anchor = await chat.send(ann, lobby_id, "anchor")
    exactly = [m["id"] for m in await chat.send_many(ann, lobby_id, REPLAY_MAX)]
    async with live(chat_server, bob) as b:
        stream = b.lobby_events(lobby_id, anchor["id"])
        first = await stream.take(REPLAY_MAX + 1)
        assert message_ids(first[:-1]) == exactly
        assert first[-1]["__typename"] == "ReplayCompletedEvent", first[-1]
        assert (first[-1]["recovered"], first[-1]["replayedCount"]) == (True, REPLAY_MAX)
        await stream.stop()

        one_more = await chat.send(ann, lobby_id, "one too many")
        stream = b.lobby_events(lobby_id, anchor["id"])
        first_event = await stream.next()
        assert first_event["__typename"] == "ReplayCompletedEvent", first_event
        assert (first_event["recovered"], first_event["replayedCount"]) == (False, 0)
        # Live all the same.
        live_message = await chat.send(ann, lobby_id, "live")
        await stream.until_message(live_message["id"])
        assert one_more["id"] not in message_ids(stream.events)
        assert message_ids(stream.events) == [live_message["id"]]


async def send_continuously(chat: Chat, sender: Account, lobby_id: str, count: int, sent: list[str]) -> None:
    for i in range(count):
        sent.append((await chat.send(sender, lobby_id, f"{sender.username} #{i}"))["id"])
        await asyncio.sleep(0.005)


def gaps_and_duplicates(received: list[str], sent: list[str]) -> tuple[list[str], list[str]]:
    missing = sorted(set(sent) - set(received), key=int)
    duplicates = sorted({i for i in received if received.count(i) > 1}, key=int)
    return missing, duplicates


async def test_a_replay_while_messages_keep_coming_has_no_gap_and_no_duplicate(
    chat: Chat, chat_server: ServerProcess
) -> None:
    users, lobby_id = await lobby_with(chat, chat_server, ["ann", "bob", "cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    async with live(chat_server, bob) as b:
        for round_number in range(3):
            anchor = await chat.send(ann, lobby_id, f"anchor {round_number}")
            sent: list[str] = []
            # Two senders at once: the replay's end and the live start meet amid concurrent commits.
            senders = [
                asyncio.create_task(send_continuously(chat, u, lobby_id, 12, sent)) for u in (ann, cat)
            ]
            try:
                for _ in range(1000):
                    if len(sent) >= 3 or all(task.done() for task in senders):
                        break
                    await asyncio.sleep(0.005)
                stream = b.lobby_events(lobby_id, anchor["id"])
                await asyncio.wait_for(asyncio.gather(*senders), 30)
            finally:
                for task in senders:
                    task.cancel()
            received = await stream.message_ids(len(sent))
            missing, duplicates = gaps_and_duplicates(received, sent)
            assert (missing, duplicates) == ([], []), (round_number, received)
            assert received == sorted(sent, key=int), (round_number, "not in id order", received)
            [completed] = stream.of_type("ReplayCompletedEvent")
            position = stream.events.index(completed)
            assert completed["recovered"] is True
            assert completed["replayedCount"] == position
            assert {e["__typename"] for e in stream.events[:position]} <= {"ChatMessageEvent"}
            await stream.stop()


# --- order ----------------------------------------------------------------------------------------


async def test_every_subscriber_gets_every_message_in_id_order(
    chat: Chat, chat_server: ServerProcess
) -> None:
    names = ["ann", "bob", "cat", "dan"]
    users, lobby_id = await lobby_with(chat, chat_server, names)
    senders = [users[name] for name in names]
    per_sender = 25
    async with live(chat_server, users["ann"]) as a, live(chat_server, users["bob"]) as b:
        streams = [await a.joined(lobby_id), await b.joined(lobby_id)]

        async def send_all(sender: Account) -> list[str]:
            return [
                (await chat.send(sender, lobby_id, f"{sender.username} {i}"))["id"] for i in range(per_sender)
            ]

        sent = sorted((i for ids in await asyncio.gather(*map(send_all, senders)) for i in ids), key=int)
        assert len(set(sent)) == per_sender * len(senders)
        orders = [await stream.message_ids(len(sent)) for stream in streams]
        for received in orders:
            assert gaps_and_duplicates(received, sent) == ([], []), received
        assert orders[0] == orders[1], "subscribers saw different orders"
        assert orders[0] == sent, "events arrived out of id order"


# --- the room list ----------------------------------------------------------------------------------


async def test_the_room_list_follows_public_lobbies_only(chat: Chat, chat_server: ServerProcess) -> None:
    users, listed_id = await lobby_with(chat, chat_server, ["ann"], others=["bob", "cat"])
    ann, bob, cat = users["ann"], users["bob"], users["cat"]
    async with live(chat_server, cat) as c:
        updates = c.lobby_list()
        # Live once a change of a public lobby comes through.
        for attempt in range(10):
            await chat.update(ann, listed_id, name=f"Probe {attempt}")
            try:
                await updates.until("LobbyUpdatedEvent", lambda e: e["lobbyId"] == listed_id, wait=1)
                break
            except (TimeoutError, AssertionError):
                continue
        else:
            pytest.fail("lobbyListUpdates never went live")
        await chat.update(ann, listed_id, name="Listed")
        mark = len(updates.events)

        await chat.join(bob, listed_id)
        await chat.leave(bob, listed_id)
        await chat.start(ann, listed_id)
        await chat.end(ann, listed_id)
        hidden_id = (await chat.create_lobby(ann, "Hidden", isPublic=False))["id"]
        await chat.join(bob, hidden_id)
        await chat.update(ann, listed_id, isPublic=False)  # one last event, then silence
        await chat.start(ann, listed_id)
        await chat.update(ann, hidden_id, isPublic=True)
        new_id = (await chat.create_lobby(ann, "New"))["id"]
        await chat.close(ann, new_id)
        await updates.until("LobbyUpdatedEvent", lambda e: e["lobby"]["status"] == "CLOSED")

        seen = [
            (
                e["lobbyId"],
                e["lobby"]["name"],
                e["lobby"]["status"],
                e["lobby"]["isPublic"],
                e["lobby"]["participantCount"],
            )
            for e in updates.events[mark:]
        ]
        assert all(e["lobbyId"] == e["lobby"]["id"] for e in updates.events)
        assert seen == [
            (listed_id, "Listed", "OPEN", True, 2),
            (listed_id, "Listed", "OPEN", True, 1),
            (listed_id, "Listed", "IN_GAME", True, 1),
            (listed_id, "Listed", "OPEN", True, 1),
            (listed_id, "Listed", "OPEN", False, 1),
            (hidden_id, "Hidden", "OPEN", True, 2),
            (new_id, "New", "OPEN", True, 1),
            (new_id, "New", "CLOSED", True, 1),
        ]


# --- the protocol underneath ----------------------------------------------------------------------


async def raw_next(socket: RawSocket, operation_id: str | None = None) -> dict[str, Any]:
    """The next message (of that operation), keep-alives and pings skipped."""
    for _ in range(200):
        message = await socket.receive()
        if message.get("type") in ("ka", "ping", "pong"):
            continue
        if operation_id is None or message.get("id") == operation_id:
            return message
    raise AssertionError("too many messages")


def raw_event(message: dict[str, Any], protocol: str) -> dict[str, Any]:
    assert message["type"] == ("next" if protocol == TRANSPORT_WS else "data"), message
    assert "errors" not in message["payload"], message
    event: dict[str, Any] = message["payload"]["data"]["lobbyEvents"]
    return event


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_one_socket_many_subscriptions_on_the_wire(
    chat: Chat, chat_server: ServerProcess, protocol: str
) -> None:
    users, first_id = await lobby_with(chat, chat_server, ["ann", "bob"])
    ann, bob = users["ann"], users["bob"]
    second_id = (await chat.create_lobby(ann, "Second"))["id"]
    await chat.join(bob, second_id)
    start = "subscribe" if protocol == TRANSPORT_WS else "start"
    stop = "complete" if protocol == TRANSPORT_WS else "stop"
    socket = await raw_socket(chat_server, bob, protocol)
    try:
        for operation_id, lobby_id in (("first", first_id), ("second", second_id)):
            payload = {"query": LOBBY_EVENTS, "variables": {"lobbyId": lobby_id}}
            await socket.send({"id": operation_id, "type": start, "payload": payload})
            event = raw_event(await raw_next(socket), protocol)
            assert event["__typename"] == "PresenceJoinEvent", event
            assert (event["lobbyId"], event["user"]["id"]) == (lobby_id, bob.id)

        # Each lobby's events on its own operation only.
        for lobby_id, operation_id in ((second_id, "second"), (first_id, "first"), (second_id, "second")):
            message = await chat.send(ann, lobby_id, f"to {operation_id}")
            received = await raw_next(socket)
            assert received["id"] == operation_id, received
            assert raw_event(received, protocol)["message"]["id"] == message["id"]

        # The client ends one; the other goes on.
        await socket.send({"id": "first", "type": stop})
        await asyncio.sleep(0.3)
        await chat.send(ann, first_id, "nobody listens here")
        message = await chat.send(ann, second_id, "still listening")
        received = await raw_next(socket)
        if received["id"] == "first":  # a server may confirm the legacy `stop`
            assert (protocol, received["type"]) == (LEGACY_WS, "complete"), received
            received = await raw_next(socket)
        assert received["id"] == "second", received
        assert raw_event(received, protocol)["message"]["id"] == message["id"]

        # A kick ends the other with the event, then `complete`; the socket stays open.
        await chat.kick(ann, second_id, bob)
        kicked = raw_event(await raw_next(socket, "second"), protocol)
        assert (kicked["__typename"], kicked["action"]) == ("ModerationEvent", "KICK"), kicked
        assert (await raw_next(socket, "second"))["type"] == "complete"
        answer = await socket.run("me", ME)
        assert answer[0]["payload"]["data"]["me"]["id"] == bob.id
    finally:
        await socket.close()
