"""Execute a subscription event once per distinct (document, variables, visibility), not per subscriber.

When a lobby event fans out to its subscribers, each of them used to run
graphql-core's execution of its selection set on the same event object: the
same work, with the same result, once per socket. This executor keeps the
result of each event execution and hands it to the next subscriber whose
execution would be identical, which graphql-core's own execution then skips.

When are two executions identical? Same event object (the bus decodes each
message once per process, see schema/events.py), same operation node (the
document cache gives every request with the same text the same parsed
document), same coerced variables, and the same answers from the viewer's
context. The last is checked, not assumed: the first execution runs with a
watch on its context. Reading `is_viewer(user_id)` is recorded with its answer
(that is how a message's clientMessageId is shown to its sender only); reading
anything else on the context (the user, the loaders, the database) makes the
result private to that execution, and it is not kept. A later subscriber
reuses a kept result only if its own context gives the same recorded answers,
so a sender and everyone else get different results for the same message, and
everyone else shares one. Results with errors are never kept.

Only per-event executions on sockets take this path; everything else runs as
Strawberry runs it. tests/test_fast_path_equality.py compares both, result for
result, over every event type and a range of selections.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from typing import Any

import orjson
from graphql import ExecutionResult, GraphQLResolveInfoHelpers
from graphql.pyutils import gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from premiumchat.context import Context

# Each event reaches its subscribers within moments: a few thousand recent ones are plenty.
MAX_KEPT = 4096

_Read = tuple[str, tuple[Any, ...], Any]
_Key = tuple[int, int, int, bytes]


class _Variant:
    """One kept result, with the recorded context answers it fits, and its `payload` once encoded."""

    __slots__ = ("payload", "reads", "result")

    def __init__(self, reads: tuple[_Read, ...], result: ExecutionResult) -> None:
        self.reads = reads
        self.result = result
        self.payload: bytes | None = None

    def encoded(self) -> bytes:
        if self.payload is None:
            self.payload = compact(encode_payload(self.result))
        return self.payload


class _Kept:
    __slots__ = ("held", "variants")

    def __init__(self, held: tuple[object, ...]) -> None:
        # The schema, operation and event, held so that the ids in the key cannot be reused meanwhile.
        self.held = held
        self.variants: list[_Variant] = []


class _Results:
    def __init__(self, maxsize: int = MAX_KEPT) -> None:
        self.maxsize = maxsize
        self.entries: OrderedDict[_Key, _Kept] = OrderedDict()
        # Executions under way: the subscribers of an event all wake at once, and without
        # this they would all miss and all execute.
        self.running: dict[_Key, asyncio.Future[None]] = {}
        self.hits = 0
        self.misses = 0

    def find(self, key: _Key, context: Context) -> ExecutionResult | None:
        variant = self.find_variant(key, context)
        return None if variant is None else variant.result

    def find_variant(self, key: _Key, context: Context) -> _Variant | None:
        kept = self.entries.get(key)
        if kept is None:
            return None
        for variant in kept.variants:
            if all(getattr(context, name)(*args) == answer for name, args, answer in variant.reads):
                self.hits += 1
                return variant
        return None

    def keep(
        self, key: _Key, held: tuple[object, ...], reads: tuple[_Read, ...], result: ExecutionResult
    ) -> None:
        kept = self.entries.get(key)
        if kept is None:
            kept = self.entries[key] = _Kept(held)
            if len(self.entries) > self.maxsize:
                self.entries.popitem(last=False)
        else:
            self.entries.move_to_end(key)
            if any(variant.reads == reads for variant in kept.variants):
                return  # two subscribers executed it at the same time
        kept.variants.append(_Variant(reads, result))


RESULTS = _Results()


class _ContextWatch:
    """Stands in for the Context during one execution and notes what the resolvers read."""

    __slots__ = ("_context", "opaque", "reads")

    def __init__(self, context: Context) -> None:
        self._context = context
        self.reads: list[_Read] = []
        self.opaque = False

    def is_viewer(self, user_id: int) -> bool | None:
        answer = self._context.is_viewer(user_id)
        if answer is None:
            self.opaque = True
        else:
            self.reads.append(("is_viewer", (user_id,), answer))
        return answer

    def __getattr__(self, name: str) -> Any:
        self.opaque = True
        return getattr(self._context, name)


class _Reused:
    """In place of a per-event executor when the result is already known: no copy, no execution."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result

    def execute_operation(self, _serially: bool | None = None) -> ExecutionResult:
        return self.result


def _helpers_without_cycle(executor: SharedEventExecutor) -> GraphQLResolveInfoHelpers:
    """`info.async_helpers` as graphql-core builds them, but reaching the executor through a weak reference.

    graphql-core binds them to its executor (`gather_async_work`, `track_async_work`): executor ->
    helpers -> bound method -> executor, a reference cycle for every operation, which then only the
    cyclic collector frees, with everything the executor holds (about 40 objects, 5 KB). A send
    outlives the young collections while it waits for the database, so under load those cycles
    reach the oldest generation, which the server collects rarely (FULL_COLLECTION_EVERY): the
    soak's RSS grew by about 5 KB per message (docs/RELIABILITY.md, part 4). Without the cycle the
    executor is freed by reference counting as soon as its operation is done.
    """
    ref = weakref.ref(executor)

    def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
        live = ref()
        return live.gather_async_work(values) if live is not None else gather_with_cancel(*values)

    def track(values: Sequence[Any]) -> None:
        # Resolvers run while their executor runs them, so it is alive whenever they call this.
        live = ref()
        if live is not None:
            live.track_async_work(values)

    return GraphQLResolveInfoHelpers(gather=gather, track=track)


class Executed:
    """A subscription event already executed by `event_payload`, handed on to graphql-core as is."""

    __slots__ = ("result",)

    def __init__(self, result: ExecutionResult) -> None:
        self.result = result


def compact(encoded: bytes) -> bytes:
    """`encoded` in a block of its own size: what orjson returns keeps its whole 4 KiB write buffer.

    Right for what lives on (a subscription's key, a kept payload: 4 KiB each, per subscription
    and per kept result, was most of what a subscription cost); a frame sent at once needs no copy.
    """
    return bytes(memoryview(encoded))


def encode_payload(result: ExecutionResult) -> bytes:
    """`payload` of an error-free result as Strawberry's socket handlers build it, encoded as
    the view encodes frames (orjson): the frame is the same bytes with the payload spliced in."""
    return orjson.dumps({"data": result.data})


class SharedEventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, reusing identical subscription event results across subscribers."""

    _per_event = False
    # The subscription's part of the key: None until computed, b"" when it cannot be shared.
    _variables_key: bytes | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per-event copies share these, as they share the rest of the operation's state.
        self.async_helpers = _helpers_without_cycle(self)

    def _shared_variables(self) -> bytes:
        if self._variables_key is None:
            context = self.context_value
            key = b""
            if isinstance(context, Context) and context.is_websocket:
                try:
                    key = compact(orjson.dumps(self.variable_values.coerced, option=orjson.OPT_SORT_KEYS))
                except TypeError:
                    key = b""
            self._variables_key = key
        return self._variables_key

    def cancellable_iterable(self, iterable: Any) -> Any:
        # Called once, with the subscription's source stream: a stream that delivers frames
        # itself (schema/frames.py) needs the executor that executes its events.
        attach = getattr(iterable, "attach_executor", None)
        if attach is not None:
            attach(self)
        return super().cancellable_iterable(iterable)

    def build_per_event_executor(self, payload: Any) -> Any:
        if type(payload) is Executed:
            return _Reused(payload.result)
        variables = self._shared_variables()
        if variables:
            # Looked up before copying the executor: for most subscribers that copy was the
            # largest cost left of the event.
            key = (id(self.schema), id(self.operation), id(payload), variables)
            found = RESULTS.find(key, self.context_value)
            if found is not None:
                return _Reused(found)
        executor: SharedEventExecutor = super().build_per_event_executor(payload)  # type: ignore[assignment]
        executor._per_event = bool(variables)
        # graphql-core's copy shares the subscription's memo of collected subfields, keyed by the
        # identity of field lists that each event's execution builds anew and the memo keeps
        # alive: an entry per executed event for as long as the socket stays subscribed (the
        # soak's RSS grew by about 3 KB per message). One memo per event: it still serves the
        # items of a list within the event, which is what it is for.
        executor._relevant_sub_fields = {}
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        if not self._per_event:
            return super().execute_operation(serially)
        key = (id(self.schema), id(self.operation), id(self.root_value), self._shared_variables())
        return self._shared(key, self.context_value, serially)

    async def _shared(self, key: _Key, context: Context, serially: bool | None) -> ExecutionResult:
        running = RESULTS.running.get(key)
        if running is not None:
            # Wait for the subscriber executing it; its result fits unless it saw another
            # visibility or was private, and then this one executes for itself.
            await asyncio.shield(running)
        found = RESULTS.find(key, context)
        if found is not None:
            return found
        RESULTS.misses += 1
        mine = None
        if key not in RESULTS.running:
            mine = RESULTS.running[key] = asyncio.get_running_loop().create_future()
        watch = _ContextWatch(context)
        self.context_value = watch
        try:
            result = super().execute_operation(serially)
            if self.is_awaitable(result):
                result = await result
        finally:
            self.context_value = context
            if mine is not None:
                del RESULTS.running[key]
                mine.set_result(None)
        assert isinstance(result, ExecutionResult)
        if not watch.opaque and not result.errors:
            held = (self.schema, self.operation, self.root_value)
            RESULTS.keep(key, held, tuple(watch.reads), result)
        return result


async def event_payload(executor: SharedEventExecutor, event: Any) -> bytes | ExecutionResult:
    """The encoded `payload` of this subscriber's result for the event, or the result itself
    when it has errors (those go through Strawberry, which reports them).

    The payload is encoded once per kept result: every subscriber whose execution would be
    the same gets the same bytes.
    """
    variables = executor._shared_variables()
    key: _Key | None = None
    if variables:
        key = (id(executor.schema), id(executor.operation), id(event), variables)
        variant = RESULTS.find_variant(key, executor.context_value)
        if variant is not None:
            return variant.encoded()
    result = executor.build_per_event_executor(event).execute_operation(False)
    if executor.is_awaitable(result):
        result = await result
    assert isinstance(result, ExecutionResult)
    if result.errors:
        return result
    if key is not None:
        kept = RESULTS.entries.get(key)
        for variant in kept.variants if kept is not None else ():
            if variant.result is result:
                return variant.encoded()
    return encode_payload(result)
