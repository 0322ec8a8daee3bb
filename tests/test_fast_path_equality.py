"""Shared event execution (schema/sharing.py) gives exactly what Strawberry's own execution gives.

Every event type, built as the services build them and decoded as the bus
decodes them, is executed for several viewers and documents (fragments,
aliases, __typename, directives, viewer-dependent fields) twice: with
Strawberry's executor, per subscriber, and with the shared executor. The
encoded results must be byte for byte the same, and sharing must really happen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import suppress
from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from graphql import ExecutionResult, parse
from starlette.websockets import WebSocket
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from websockets.exceptions import ConnectionClosed

from premiumchat.context import Context
from premiumchat.db import lobbies as lobby_queries
from premiumchat.db.models import Lobby, LobbyMember, Message
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.schema import sharing
from premiumchat.schema.events import EVENT_TYPES, build, decode
from premiumchat.schema.root import build_schema
from premiumchat.timeutil import isoformat, utcnow
from tests.databases import PostgresDatabases
from tests.extras import Extras as ModerationExtras
from tests.graphql import GraphQLClient
from tests.lobbies import Account, Api, make_users
from tests.lobby_extras import Extras as LobbyExtras
from tests.realtime import LiveClient, unique_names
from tests.redis_server import RedisServer, start_private_redis
from tests.servers import ServerProcess
from tests.wsclient import LEGACY_WS, TRANSPORT_WS, RawSocket

USER = "id username isPremium isStaff createdAt email"
FULL = f"""
subscription LobbyEvents($lobbyId: ID!) {{
  lobbyEvents(lobbyId: $lobbyId) {{
    __typename lobbyId occurredAt
    ... on ChatMessageEvent {{ message {{ id lobbyId content createdAt deleted clientMessageId editedAt
      sender {{ {USER} }} }} }}
    ... on MessageEditedEvent {{ message {{ id content editedAt clientMessageId sender {{ {USER} }} }} }}
    ... on MessagesPurgedEvent {{ user {{ {USER} }} purgedBy {{ {USER} }} messageIds }}
    ... on MemberUpdatedEvent {{ member {{ role isReady user {{ {USER} }} }} }}
    ... on MessageDeletedEvent {{ messageId deletedBy {{ {USER} }} }}
    ... on PresenceJoinEvent {{ user {{ {USER} }} }}
    ... on PresenceLeaveEvent {{ user {{ {USER} }} }}
    ... on TypingEvent {{ user {{ {USER} }} isTyping expiresAt }}
    ... on MemberJoinedEvent {{ member {{ role joinedAt user {{ {USER} }} }} }}
    ... on MemberLeftEvent {{ user {{ {USER} }} }}
    ... on ModerationEvent {{ action actor {{ {USER} }} target {{ {USER} }} reason expiresAt }}
    ... on LobbyUpdatedEvent {{ lobby {{ id name isPublic hasPassword maxParticipants participantCount status
      createdAt startedAt closedAt owner {{ {USER} }} isLocked slowModeSeconds tags readyCount }} }}
    ... on ReplayCompletedEvent {{ recovered replayedCount }}
  }}
}}
"""
FRAGMENTS = """
subscription Aliased($lobbyId: ID!) {
  e: lobbyEvents(lobbyId: $lobbyId) {
    kind: __typename
    ...Common
    ... on ChatMessageEvent { msg: message { ...Msg again: content } }
    ... on TypingEvent { who: user { ...Person } typing: isTyping }
    ... on ModerationEvent { action by: actor { ...Person } on: target { ...Person } }
    ... on MemberJoinedEvent { member { role user { ...Person } } }
  }
}
fragment Common on LobbyEvent { __typename lobby: lobbyId at: occurredAt }
fragment Msg on Message { __typename id text: content mine: clientMessageId from: sender { ...Person } }
fragment Person on User { __typename name: username id }
"""
MINIMAL = "subscription M($lobbyId: ID!) { lobbyEvents(lobbyId: $lobbyId) { __typename } }"
DIRECTIVES = """
subscription D($lobbyId: ID!, $withUser: Boolean!, $skipText: Boolean!) {
  lobbyEvents(lobbyId: $lobbyId) {
    __typename
    ... on ChatMessageEvent {
      message { id content @skip(if: $skipText) sender @include(if: $withUser) { id } }
    }
    ... on PresenceJoinEvent { user @include(if: $withUser) { username } }
  }
}
"""
# Fields that read the viewer's memberships or the database: never shared, still equal.
VIEWER = f"""
subscription V($lobbyId: ID!) {{
  lobbyEvents(lobbyId: $lobbyId) {{
    __typename
    ... on LobbyUpdatedEvent {{ lobby {{ id myRole members {{ role isMuted user {{ username }} }}
      onlineUsers {{ id }} owner {{ {USER} }} blockedTerms }} }}
    ... on MemberUpdatedEvent {{ member {{ isMuted mutedUntil user {{ username }} }} }}
    ... on ChatMessageEvent {{ message {{ id clientMessageId sender {{ email }} }} }}
  }}
}}
"""


def _socket_context(resources: Resources, user_id: int) -> Context:
    async def receive() -> Any:
        raise AssertionError("not used")

    async def send(_: Any) -> None:
        raise AssertionError("not used")

    scope = {"type": "websocket", "path": "/graphql", "headers": [], "query_string": b""}
    return Context(resources=resources, request=WebSocket(scope, receive, send), socket_user_id=user_id)


async def _events(resources: Resources, lobby_id: int, ids: dict[str, int]) -> list[Any]:
    """One event of every type, encoded by EventBatch and decoded as the bus decodes them."""
    async with resources.sessions() as session:
        users = await lobby_queries.users_by_id(session, list(ids.values()))
        lobby = await session.get(Lobby, lobby_id)
        member = await lobby_queries.get_membership(session, lobby_id, ids["bob"])
    assert lobby is not None
    assert isinstance(member, LobbyMember)
    owner, alice, bob, staff = (users[ids[name]] for name in ("owner", "alice", "bob", "staff"))
    now = utcnow()

    def message(number: int, client_id: str | None, *, deleted: bool = False) -> Message:
        return Message(
            id=number,
            lobby_id=lobby_id,
            sender_id=alice.id,
            content=f'héllo {number} "quoted" ✓',
            created_at=now,
            deleted=deleted,
            deleted_at=now if deleted else None,
            client_message_id=client_id,
        )

    batch = EventBatch()
    batch.chat_message(message(101, "client-1"), alice)
    batch.chat_message(message(102, None), alice)
    batch.chat_message(message(103, "client-3", deleted=True), alice)
    batch.message_deleted(message(103, "client-3", deleted=True), owner)
    batch.typing(lobby_id, bob, is_typing=True, expires_at=now + timedelta(seconds=6))
    batch.typing(lobby_id, bob, is_typing=False, expires_at=None)
    batch.presence(lobby_id, bob, joined=True)
    batch.presence(lobby_id, bob, joined=False)
    batch.member_joined(member, bob)
    member.is_ready = True
    batch.member_updated(member, bob)
    edited = message(102, None)
    edited.content, edited.edited_at = "edited ✓", now
    batch.message_edited(edited, alice)
    batch.messages_purged(lobby_id, alice, owner, [101, 102], now)
    batch.member_left(lobby_id, bob)
    batch.moderation(lobby_id, "BAN", owner, bob, reason="spam", expires_at=now + timedelta(hours=1))
    batch.moderation(lobby_id, "MODERATOR_ADDED", owner, alice)
    batch.moderation(lobby_id, "MUTE", owner, bob, reason="caps", expires_at=now + timedelta(minutes=5))
    lobby.blocked_terms = ["spoiler"]  # shown to the owner, moderators and staff only
    batch.lobby_updated(lobby, owner)
    events = [decode(item.message)[1] for item in batch.items if item.channel == f"lobby:{lobby_id}"]
    replay = {"type": "ReplayCompletedEvent", "lobbyId": str(lobby_id), "occurredAt": isoformat(now)}
    events.append(build({**replay, "recovered": True, "replayedCount": 3}))
    assert staff.is_staff
    return events


def _encoded(result: ExecutionResult) -> bytes:
    errors = [error.formatted for error in result.errors or ()]
    return orjson.dumps({"data": result.data, "errors": errors})


@pytest.mark.parametrize("order", ["sender first", "sender last"])
async def test_shared_results_equal_strawberry_execution(
    gql: GraphQLClient, resources: Resources, database_url: str, order: str
) -> None:
    users = await make_users(
        gql, database_url, ["owner", "alice", "bob", "staff"], premium=["owner"], staff=["staff"]
    )
    api = Api(gql)
    lobby = await api.create_lobby(users["owner"], "Equal")
    await api.join_all([users["alice"], users["bob"]], lobby["id"])
    ids = {name: int(account.id) for name, account in users.items()}
    events = await _events(resources, int(lobby["id"]), ids)
    assert {type(event).__name__ for event in events} == {t.__name__ for t in EVENT_TYPES}

    schema = build_schema(resources.settings)._schema
    viewers = ["alice", "bob", "owner", "staff", "bob"]
    if order == "sender last":
        viewers.reverse()
    documents = [
        (FULL, {}),
        (FRAGMENTS, {}),
        (MINIMAL, {}),
        (DIRECTIVES, {"withUser": True, "skipText": False}),
        (DIRECTIVES, {"withUser": False, "skipText": True}),
        (VIEWER, {}),
    ]
    hits_before = sharing.RESULTS.hits

    async def run(
        executor_class: type[Any], document: Any, variables: dict[str, Any], viewer: str, event: Any
    ) -> bytes:
        executor = executor_class.build(
            schema,
            document,
            context_value=_socket_context(resources, ids[viewer]),
            raw_variable_values={"lobbyId": lobby["id"], **variables},
        )
        assert not isinstance(executor, list), executor
        result = executor.build_per_event_executor(event).execute_operation(False)
        if executor.is_awaitable(result):
            result = await result
        return _encoded(result)

    compared = 0
    for query, variables in documents:
        document = parse(query)  # one document object per text, as the document cache gives
        for event in events:
            for viewer in viewers:
                expected = await run(
                    StrawberryGraphQLCoreExecutionContext, document, variables, viewer, event
                )
                shared = await run(sharing.SharedEventExecutor, document, variables, viewer, event)
                assert shared == expected, (query, type(event).__name__, viewer)
                compared += 1
    assert compared == len(documents) * len(events) * len(viewers)

    # Subscribers wake together: executed concurrently, they still agree with Strawberry.
    fresh = await _events(resources, int(lobby["id"]), ids)
    for query, variables in documents:
        document = parse(query)
        for event in fresh:
            expected = [
                await run(StrawberryGraphQLCoreExecutionContext, document, variables, viewer, event)
                for viewer in viewers
            ]
            shared = await asyncio.gather(
                *(run(sharing.SharedEventExecutor, document, variables, viewer, event) for viewer in viewers)
            )
            assert shared == expected, (query, type(event).__name__)
    # Sharing happened: most executions of the viewer-independent documents were reused.
    assert sharing.RESULTS.hits - hits_before >= len(events) * 3 * (len(viewers) - 2)


async def test_the_sender_alone_sees_the_client_message_id_through_the_shared_path(
    gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    users = await make_users(
        gql, database_url, ["owner", "alice", "bob", "staff"], premium=["owner"], staff=["staff"]
    )
    api = Api(gql)
    lobby = await api.create_lobby(users["owner"], "Mine")
    await api.join_all([users["alice"], users["bob"]], lobby["id"])
    ids = {name: int(account.id) for name, account in users.items()}
    event = (await _events(resources, int(lobby["id"]), ids))[0]  # alice's message with a client id
    schema = build_schema(resources.settings)._schema
    document = parse(MINIMAL.replace("__typename", "... on ChatMessageEvent { message { clientMessageId } }"))
    seen = {}
    for viewer in ("bob", "alice", "owner", "alice"):
        executor = sharing.SharedEventExecutor.build(
            schema,
            document,
            context_value=_socket_context(resources, ids[viewer]),
            raw_variable_values={"lobbyId": lobby["id"]},
        )
        assert not isinstance(executor, list)
        result = executor.build_per_event_executor(event).execute_operation(False)
        if executor.is_awaitable(result):
            result = await result
        seen[viewer] = result.data["lobbyEvents"]["message"]["clientMessageId"]
    assert seen == {"bob": None, "alice": "client-1", "owner": None}


# --- On the wire: frames written by the stream itself (schema/frames.py) against Strawberry's path ---

REPLAY = FULL.replace("($lobbyId: ID!)", "($lobbyId: ID!, $since: String)").replace(
    "lobbyEvents(lobbyId: $lobbyId)", "lobbyEvents(lobbyId: $lobbyId, since: $since)"
)
# Operation id -> (document, variables); every socket runs them all.
WIRE_OPERATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "full": (FULL, {}),
    "fragments": (FRAGMENTS, {}),
    "minimal": (MINIMAL, {}),
    "directives-1": (DIRECTIVES, {"withUser": True, "skipText": False}),
    "directives-2": (DIRECTIVES, {"withUser": False, "skipText": True}),
    "mine": (MINIMAL.replace("__typename", "... on ChatMessageEvent { message { clientMessageId } }"), {}),
}
WIRE_VIEWERS = ["alice", "bob", "owner", "staff"]
QUIET_SECONDS = 0.6


class WireOps(ModerationExtras, LobbyExtras):
    """Every operation that publishes a lobby event."""


class WireServers:
    def __init__(self, framed: ServerProcess, strawberry: ServerProcess, redis: RedisServer) -> None:
        self.framed, self.strawberry, self.redis = framed, strawberry, redis

    def stop(self) -> None:
        self.framed.stop()
        self.strawberry.stop()
        self.redis.stop()


@pytest.fixture(scope="module")
def wire_servers(
    postgres_databases: PostgresDatabases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WireServers]:
    """Two processes on one database and one Redis: frames on one, Strawberry's own path on the other."""
    work_dir = tmp_path_factory.mktemp("frames")
    redis = start_private_redis(work_dir)
    url = asyncio.run(postgres_databases.create())
    common = {"redis_url": redis.url, "rate_limit_messages": "10000", "max_connections_per_user": "100"}
    servers = WireServers(
        ServerProcess(url, work_dir, **common),
        ServerProcess(url, work_dir, socket_frames="false", **common),
        redis,
    )
    try:
        servers.framed.start()
        servers.strawberry.start()
    except BaseException:
        servers.stop()
        raise
    yield servers
    servers.stop()


class WireSocket:
    """One subscribed socket; the raw text of every frame, by operation id, as received."""

    def __init__(self, raw: RawSocket) -> None:
        self.raw = raw
        self.frames: dict[str, list[str]] = {}
        self.last_frame_at = time.monotonic()
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, subprotocol: str, account: Account) -> WireSocket:
        raw = await RawSocket.open(url, subprotocol)
        ack = await raw.init({"token": account.token})
        assert ack["type"] == "connection_ack", ack
        return cls(raw)

    async def start(self, operation_id: str, query: str, variables: dict[str, Any]) -> None:
        kind = "start" if self.raw.connection.subprotocol == LEGACY_WS else "subscribe"
        self.frames[operation_id] = []
        await self.raw.send(
            {"id": operation_id, "type": kind, "payload": {"query": query, "variables": variables}}
        )

    def read(self) -> None:
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with suppress(ConnectionClosed):
            async for text in self.raw.connection:
                assert isinstance(text, str), "frames are text, never binary"
                operation_id = orjson.loads(text).get("id")
                if operation_id is not None:
                    self.frames[operation_id].append(text)
                    self.last_frame_at = time.monotonic()

    def types(self, operation_id: str) -> list[str]:
        return [orjson.loads(text)["type"] for text in self.frames[operation_id]]

    def live(self, operation_id: str) -> bool:
        """A live ChatMessageEvent arrived (a warm-up message, not the replay's)."""
        return any(
            ("ChatMessageEvent" in text or '"message"' in text) and "replayed" not in text
            for text in self.frames[operation_id]
        )

    def done(self) -> bool:
        return all(
            frames and orjson.loads(frames[-1])["type"] in ("complete", "error")
            for frames in self.frames.values()
        )

    async def close(self) -> None:
        await self.raw.close()
        if self.reader is not None:
            await asyncio.wait([self.reader])


async def _settle(sockets: list[WireSocket]) -> None:
    """Until no socket received anything for a while: both processes delivered what was published."""
    while True:
        await asyncio.sleep(QUIET_SECONDS / 3)
        if time.monotonic() - max(socket.last_frame_at for socket in sockets) > QUIET_SECONDS:
            return


def _replay_part(frames: list[str]) -> list[str]:
    """The frames up to ReplayCompletedEvent: what follows is live, and started at another moment."""
    ends = [index for index, text in enumerate(frames) if "ReplayCompletedEvent" in text]
    assert ends, frames
    return frames[: ends[0] + 1]


def _masked_replay_completion(text: str) -> str:
    """ReplayCompletedEvent.occurredAt is the moment each process replayed: the only field that differs."""
    message = orjson.loads(text)
    event = message.get("payload", {}).get("data", {}).get("lobbyEvents")
    if isinstance(event, dict) and event.get("__typename") == "ReplayCompletedEvent":
        event["occurredAt"] = "masked"
        return orjson.dumps(message).decode()
    return text


async def _metric(server: ServerProcess, name: str) -> float:
    async with httpx.AsyncClient(base_url=server.http_url) as client:
        text = (await client.get("/metrics")).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("subprotocol", [TRANSPORT_WS, LEGACY_WS])
async def test_frames_on_the_wire_equal_strawberrys(wire_servers: WireServers, subprotocol: str) -> None:
    framed, strawberry = wire_servers.framed, wire_servers.strawberry
    database_url = framed.env["DATABASE_URL"]
    names = dict(
        zip(
            ["owner", "alice", "bob", "carl", "staff"],
            unique_names("owner", "alice", "bob", "carl", "staff"),
            strict=True,
        )
    )
    async with httpx.AsyncClient(base_url=framed.http_url, timeout=30) as client:
        ops = WireOps(GraphQLClient(client))
        accounts = await make_users(
            ops.gql, database_url, list(names.values()), premium=[names["owner"]], staff=[names["staff"]]
        )
        users = {name: accounts[real] for name, real in names.items()}
        lobby_id = (await ops.create_lobby(users["owner"], "Wire"))["id"]
        await ops.join_all([users["alice"], users["bob"]], lobby_id)
        anchor = await ops.send(users["alice"], lobby_id, "anchor")
        await ops.send(users["bob"], lobby_id, 'replayed "bob" ✓', "bob-1")
        frames_before = await _metric(framed, "premiumchat_socket_frames_total")

        sockets: dict[tuple[str, str], WireSocket] = {}
        for server_name, server in (("framed", framed), ("strawberry", strawberry)):
            for viewer in WIRE_VIEWERS:
                socket = sockets[server_name, viewer] = await WireSocket.open(
                    server.ws_url, subprotocol, users[viewer]
                )
                socket.read()
                for operation_id, (query, variables) in WIRE_OPERATIONS.items():
                    await socket.start(operation_id, query, {"lobbyId": lobby_id, **variables})
                await socket.start("replay", REPLAY, {"lobbyId": lobby_id, "since": anchor["id"]})
        everyone = list(sockets.values())
        try:
            # The replays first, with nothing sent meanwhile: each then replays the same messages.
            for _ in range(100):
                if all(any("ReplayCompletedEvent" in t for t in s.frames["replay"]) for s in everyone):
                    break
                await asyncio.sleep(0.1)
            # Warm up until every operation on both processes is live, then start afresh.
            for attempt in range(50):
                await ops.send(users["owner"], lobby_id, f"warm {attempt}")
                await asyncio.sleep(0.1)
                if all(socket.live(op) for socket in everyone for op in socket.frames):
                    break
            else:
                late = [
                    (key, op)
                    for key, socket in sockets.items()
                    for op in socket.frames
                    if not socket.live(op)
                ]
                raise AssertionError(f"not live: {late} {sockets[late[0][0]].frames[late[0][1]][:3]}")
            await _settle(everyone)
            replays = {key: _replay_part(socket.frames["replay"]) for key, socket in sockets.items()}
            for socket in everyone:
                for frames in socket.frames.values():
                    frames.clear()

            # One event of every type (ReplayCompletedEvent above), with what differs per viewer.
            alice, bob, carl, owner = (users[name] for name in ("alice", "bob", "carl", "owner"))
            first = await ops.send(alice, lobby_id, 'héllo "quoted" ✓', "alice-1")
            second = await ops.send(bob, lobby_id, "second")
            await ops.edit(alice, first["id"], "edited ✓")
            await ops.typing(alice, lobby_id, True)
            await ops.typing(alice, lobby_id, False)
            await ops.join(carl, lobby_id)
            async with LiveClient(framed.ws_url, carl) as carl_live:  # presence join, then leave
                await carl_live.joined(lobby_id)
            await ops.set_ready(carl, lobby_id, True)
            await ops.mute(owner, lobby_id, carl, "caps", 300)
            await ops.add_moderator(owner, lobby_id, alice)
            await ops.delete(owner, second["id"])
            await ops.purge(owner, lobby_id, alice)
            await ops.update(owner, lobby_id, name="Wire renamed", maxParticipants=6)
            await ops.leave(carl, lobby_id)
            await ops.ban(owner, lobby_id, bob, "spam")  # bob's streams complete
            await ops.close(owner, lobby_id)  # everyone's complete
            for _ in range(100):
                if all(socket.done() for socket in everyone):
                    break
                await asyncio.sleep(0.1)
            await _settle(everyone)
        finally:
            for socket in everyone:
                await socket.close()

    seen_types: set[str] = set()
    for viewer in WIRE_VIEWERS:
        mine, theirs = sockets["framed", viewer], sockets["strawberry", viewer]
        assert [_masked_replay_completion(text) for text in replays["framed", viewer]] == [
            _masked_replay_completion(text) for text in replays["strawberry", viewer]
        ], viewer
        assert any("ReplayCompletedEvent" in text for text in replays["framed", viewer])
        for operation_id in [*WIRE_OPERATIONS, "replay"]:
            assert mine.frames[operation_id] == theirs.frames[operation_id], (viewer, operation_id)
            assert mine.types(operation_id)[-1] == "complete", (viewer, operation_id)
        for text in mine.frames["full"]:
            event = (orjson.loads(text).get("payload") or {}).get("data", {}).get("lobbyEvents")
            if event:
                seen_types.add(event["__typename"])
    assert seen_types | {"ReplayCompletedEvent"} == {t.__name__ for t in EVENT_TYPES}
    # The client message id went to its sender alone.
    assert any('"alice-1"' in text for text in sockets["framed", "alice"].frames["mine"])
    for viewer in ("bob", "owner", "staff"):
        assert not any('"alice-1"' in text for text in sockets["framed", viewer].frames["mine"])
    # The frames were the stream's own on one process, Strawberry's results on the other.
    assert await _metric(framed, "premiumchat_socket_frames_total") - frames_before > 100
    assert await _metric(strawberry, "premiumchat_socket_frames_total") == 0


async def test_chat_events_execute_synchronously_for_a_socket_viewer(
    gql: GraphQLClient, resources: Resources, database_url: str
) -> None:
    """An event carries its users and a socket knows its viewer: nothing to await, so graphql-core
    executes the event without coroutines (the cost of every delivery's execution)."""
    users = await make_users(
        gql, database_url, ["owner", "alice", "bob", "staff"], premium=["owner"], staff=["staff"]
    )
    api = Api(gql)
    lobby = await api.create_lobby(users["owner"], "Sync")
    await api.join_all([users["alice"], users["bob"]], lobby["id"])
    ids = {name: int(account.id) for name, account in users.items()}
    schema = build_schema(resources.settings)._schema
    document = parse(FULL)
    synchronous = set()
    for event in await _events(resources, int(lobby["id"]), ids):
        for viewer in ("alice", "bob"):
            executor = StrawberryGraphQLCoreExecutionContext.build(
                schema,
                document,
                context_value=_socket_context(resources, ids[viewer]),
                raw_variable_values={"lobbyId": lobby["id"]},
            )
            assert not isinstance(executor, list)
            result = executor.build_per_event_executor(event).execute_operation(False)
            if not executor.is_awaitable(result):
                synchronous.add(type(event).__name__)
            else:
                await result
    chat = {"ChatMessageEvent", "MessageEditedEvent", "MessageDeletedEvent", "TypingEvent"}
    assert chat | {"PresenceJoinEvent", "PresenceLeaveEvent", "ModerationEvent"} <= synchronous
