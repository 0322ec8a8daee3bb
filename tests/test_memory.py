"""Memory per operation: what an operation allocates is freed when it is done, by reference counting.

Anything an operation leaves in a reference cycle waits for the cyclic garbage collector, and
under load it waits for a full collection, which the server runs rarely (FULL_COLLECTION_EVERY in
premiumchat/main.py): the soak's RSS grew with every message that way (docs/RELIABILITY.md,
part 4). So an operation's executor, and everything it holds, must not be part of a cycle.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from graphql import ExecutionResult, GraphQLResolveInfoHelpers, parse
from graphql.execution import Executor
from graphql.execution.collect_fields import FieldDetails
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from premiumchat.context import Context
from premiumchat.db.models import Message, User
from premiumchat.loaders import Loaders
from premiumchat.realtime.events import EventBatch
from premiumchat.resources import Resources
from premiumchat.schema.events import decode
from premiumchat.schema.root import build_schema
from premiumchat.schema.sharing import SharedEventExecutor, _Variant
from premiumchat.services.live import lobby_stream
from premiumchat.timeutil import utcnow
from tests.lobbies import app_with, make_users
from tests.realtime import Chat

OPERATIONS = 20
EVENTS = 200
LOBBY_EVENTS = """
subscription LobbyEvents($lobbyId: ID!) {
  lobbyEvents(lobbyId: $lobbyId) {
    __typename lobbyId occurredAt
    ... on ChatMessageEvent { message { id content createdAt clientMessageId sender { id username } } }
  }
}
"""


@pytest.fixture
def cycles_kept() -> Iterator[list[object]]:
    """Collection off until the test ends; `collect_cycles` then fills the list with what it finds."""
    garbage: list[object] = []
    gc.collect()
    gc.disable()
    try:
        yield garbage
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()


def collect_cycles(into: list[object]) -> None:
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.collect()
    into.extend(gc.garbage)
    gc.garbage.clear()
    gc.set_debug(0)


async def test_operations_leave_no_executor_in_a_reference_cycle(
    database_url: str, cycles_kept: list[object]
) -> None:
    async with app_with(database_url, rate_limit_messages=10_000) as (gql, _):
        chat = Chat(gql)
        users = await make_users(gql, database_url, ["ann", "bob"], premium=["ann"])
        lobby_id = (await chat.create_lobby(users["ann"], "Memory"))["id"]
        await chat.join(users["bob"], lobby_id)
        await chat.send(users["bob"], lobby_id, "warm-up")
        await chat.history(users["ann"], lobby_id, last=5)
        collect_cycles([])  # what set-up left, the app's caches filling included

        for i in range(OPERATIONS):
            await chat.send(users["bob"], lobby_id, f"message {i}")
            await chat.history(users["ann"], lobby_id, last=5)
        collect_cycles(cycles_kept)

    in_cycles = Counter(type(o).__qualname__ for o in cycles_kept)
    # Before: each of the 40 operations left its executor and the ~40 objects it holds in a cycle
    # (through graphql-core's async helpers, bound to the executor) ...
    executors = [o for o in cycles_kept if isinstance(o, Executor | GraphQLResolveInfoHelpers)]
    assert executors == [], in_cycles.most_common(20)
    # ... and each HTTP request its DataLoaders (each loader's function held the Loaders).
    loaders = [o for o in cycles_kept if isinstance(o, Loaders | DataLoader)]
    assert loaders == [], in_cycles.most_common(20)


def _socket_context(resources: Resources, user_id: int) -> Context:
    async def unused(*_: Any) -> Any:
        raise AssertionError("not used")

    scope = {"type": "websocket", "path": "/graphql", "headers": [], "query_string": b""}
    return Context(resources=resources, request=WebSocket(scope, unused, unused), socket_user_id=user_id)


def _chat_events(lobby_id: int, first: int, count: int) -> list[Any]:
    """`count` distinct message events, decoded as the bus decodes them."""
    sender = User(id=7, username="sender", is_premium=False, is_staff=False, created_at=utcnow())
    batch = EventBatch()
    for number in range(first, first + count):
        message = Message(
            id=number, lobby_id=lobby_id, sender_id=7, content=f"m {number}", created_at=utcnow()
        )
        batch.chat_message(message, sender)
    return [decode(item.message)[1] for item in batch.items]


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def _lobby_events_executor(resources: Resources) -> SharedEventExecutor:
    """One socket's lobbyEvents subscription executor, as the server builds it."""
    schema = build_schema(resources.settings)._schema
    subscription = SharedEventExecutor.build(
        schema,
        parse(LOBBY_EVENTS),
        context_value=_socket_context(resources, user_id=8),
        raw_variable_values={"lobbyId": "1"},
    )
    assert not isinstance(subscription, list), subscription
    return subscription


async def test_a_subscription_keeps_nothing_per_event_it_delivered(resources: Resources) -> None:
    # One socket's lobbyEvents subscription, as the server runs it: one executor for the
    # subscription, a per-event copy for each event that reaches it.
    subscription = _lobby_events_executor(resources)

    async def deliver(events: list[Any]) -> None:
        for event in events:  # distinct events: each is executed, none is a shared result
            result = subscription.build_per_event_executor(event).execute_operation(False)
            if subscription.is_awaitable(result):
                result = await result
            assert not result.errors, result
            assert result.data["lobbyEvents"]["message"]["id"] == str(event.message.id), result

    await deliver(_chat_events(1, 1, 10))
    before = _alive(FieldDetails)
    await deliver(_chat_events(1, 11, EVENTS))
    # Before: every executed event left its collected subfields (12 FieldDetails with this
    # document, and the lists and dicts around them) in the subscription's executor until the
    # socket closed.
    assert _alive(FieldDetails) - before < EVENTS // 10


def _traced(make: Callable[[], object]) -> tuple[object, int]:
    """What `make` returns, and the bytes it allocated that are still alive."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        value = make()
        return value, tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


async def test_what_a_subscription_keeps_encoded_holds_no_write_buffer(resources: Resources) -> None:
    # orjson hands back its whole 4 KiB write buffer with every result, however short: kept
    # for a subscription's life (its variables key) or with each kept result (its payload),
    # it was the largest single cost of an idle subscribed socket.
    subscription = _lobby_events_executor(resources)
    key, size = _traced(subscription._shared_variables)
    assert key == b'{"lobbyId":"1"}'
    assert size < 512, size

    [event] = _chat_events(1, 1, 1)
    result = subscription.build_per_event_executor(event).execute_operation(False)
    if subscription.is_awaitable(result):
        result = await result
    assert isinstance(result, ExecutionResult)
    assert not result.errors, result
    variant = _Variant((), result)
    payload, size = _traced(variant.encoded)
    assert payload == orjson.dumps({"data": result.data})
    assert size < 1024, size


async def test_an_idle_lobby_stream_keeps_no_database_session(database_url: str) -> None:
    # A session left bound in the stream's frame stayed there, closed, for the whole
    # subscription (about 2 KiB per subscribed socket).
    async with app_with(database_url) as (gql, resources):
        chat = Chat(gql)
        users = await make_users(gql, database_url, ["ann"], premium=["ann"])
        lobby_id = int((await chat.create_lobby(users["ann"], "Idle"))["id"])
        async with resources.sessions() as session:
            viewer = await session.get(User, int(users["ann"].id))
        assert viewer is not None
        gc.collect()
        sessions_before = _alive(AsyncSession)
        stream = await lobby_stream(resources, viewer, lobby_id, None)
        try:
            first = await asyncio.wait_for(stream.__anext__(), 10)  # its own presence: it is live
            assert type(first).__name__ == "PresenceJoinEvent"
            assert _alive(AsyncSession) == sessions_before
        finally:
            await stream.aclose()
