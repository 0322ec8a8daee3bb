"""Memory per operation: what an operation allocates is freed when it is done, by reference counting.

Anything an operation leaves in a reference cycle waits for the cyclic garbage collector, and
under load it waits for a full collection, which the server runs rarely (FULL_COLLECTION_EVERY in
premiumchat/main.py): the soak's RSS grew with every message that way (docs/RELIABILITY.md,
part 4). So an operation's executor, and everything it holds, must not be part of a cycle.
"""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Iterator

import pytest
from graphql import GraphQLResolveInfoHelpers
from graphql.execution import Executor
from strawberry.dataloader import DataLoader

from premiumchat.loaders import Loaders
from tests.lobbies import app_with, make_users
from tests.realtime import Chat

OPERATIONS = 20


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
