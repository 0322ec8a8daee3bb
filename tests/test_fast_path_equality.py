"""Shared event execution (schema/sharing.py) gives exactly what Strawberry's own execution gives.

Every event type, built as the services build them and decoded as the bus
decodes them, is executed for several viewers and documents (fragments,
aliases, __typename, directives, viewer-dependent fields) twice: with
Strawberry's executor, per subscriber, and with the shared executor. The
encoded results must be byte for byte the same, and sharing must really happen.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
import pytest
from graphql import ExecutionResult, parse
from starlette.websockets import WebSocket
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from premiumchat.context import Context
from premiumchat.db import lobbies as lobby_queries
from premiumchat.db.models import Lobby, LobbyMember, Message
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.schema import sharing
from premiumchat.schema.events import EVENT_TYPES, build, decode
from premiumchat.schema.root import build_schema
from premiumchat.timeutil import isoformat, utcnow
from tests.graphql import GraphQLClient
from tests.lobbies import Api, make_users

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
